// One execution of apps_script/Code.gs in a worker thread, for Script.together
// (devstack/apps_script_shims.js): its own copy of the script, whose calls into the
// services the executions share (SpreadsheetApp, LockService, CacheService,
// PropertiesService) go to the main thread and wait there for their turn, as a real
// execution's calls go to Google's services. Utilities and ContentService hold no state
// and run here.
//
// workerData: {port, flag, services, event, now}: the port to the main thread, an
// Int32Array on shared memory that the main thread sets when it has answered a call, the
// names of the shared services (handles 0, 1, ... in that order), doPost's event object,
// and the script's clock in Unix seconds (undefined: the real clock).
// A call is {handle, method, args}; its answer {value}, {handle} (an object a service
// returned, e.g. a Range, named by a number) or {error}. Last: {done: {output} | {thrown}}.
'use strict';

const fs = require('fs');
const vm = require('vm');
const { receiveMessageOnPort, workerData } = require('worker_threads');
const { CODE, contentService, ran, utilities } = require('./apps_script_shims.js');

const { port, flag, services, event, now } = workerData;

function call(handle, method, args) {
  Atomics.store(flag, 0, 0);
  port.postMessage({ handle, method, args });
  Atomics.wait(flag, 0, 0);
  const answer = receiveMessageOnPort(port).message;
  if (answer.error !== undefined) throw new Error(answer.error);
  return answer.handle === undefined ? answer.value : remote(answer.handle);
}

/** An object that lives in the main thread: each of its methods a call. */
function remote(handle) {
  return new Proxy(
    {},
    {
      get: (_, name) => (typeof name === 'string' ? (...args) => call(handle, name, args) : undefined),
    }
  );
}

function main() {
  const globals = { Utilities: utilities(), ContentService: contentService() };
  services.forEach((name, handle) => {
    globals[name] = remote(handle);
  });
  const context = vm.createContext(globals);
  vm.runInContext('Date', context).now = () => (now === undefined ? Date.now() : Number(now) * 1000);
  vm.runInContext(fs.readFileSync(CODE, 'utf8'), context, { filename: 'Code.gs' });
  let done;
  try {
    done = ran(context.doPost(event));
  } catch (err) {
    done = { thrown: String(err && err.message) };
  }
  port.postMessage({ done });
}

main();
