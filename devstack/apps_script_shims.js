// In-memory stand-ins for the Apps Script services apps_script/Code.gs uses
// (SpreadsheetApp, LockService, CacheService, Utilities, ContentService,
// PropertiesService), and a `Script` that loads the real Code.gs against them, one
// request at a time or several at once (devstack/apps_script_execution.js). Required by
// tests/apps_script_harness.js (the script's tests, over stdin/stdout) and by
// devstack/apps_script_server.js (the script over HTTP, for tests and `make dev`).
//
// The sheet models what matters for safety: a string written to a cell that is not
// formatted as plain text ('@') is read as typed input, so "=..." becomes a formula
// and a leading ' is swallowed; a plain-text cell keeps the string exactly.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const { MessageChannel, Worker } = require('worker_threads');

const CODE = path.join(__dirname, '..', 'apps_script', 'Code.gs');
const EXECUTION = path.join(__dirname, 'apps_script_execution.js');
const FORMULA = '<formula evaluated>';
const WIDTH = 8; // the CRM's columns, as Code.gs's COLUMNS

class Sheet {
  constructor(name, maxRows) {
    this.name = name;
    this.cells = []; // rows of {value, format}
    this.maxRows = maxRows;
    this.width = 26;
    this.deletions = []; // [start, howMany] per deleteRows call, in call order
  }

  getName() {
    return this.name;
  }

  getMaxRows() {
    return this.maxRows;
  }

  getLastRow() {
    for (let r = this.cells.length; r > 0; r -= 1) {
      if (this.cells[r - 1].some((c) => c.value !== '')) return r;
    }
    return 0;
  }

  cell(r, c) {
    if (r < 1 || c < 1 || r > this.maxRows || c > this.width) {
      throw new Error('The coordinates of the range are outside the dimensions of the sheet.');
    }
    while (this.cells.length < r) this.cells.push([]);
    const row = this.cells[r - 1];
    while (row.length < c) row.push({ value: '', format: '' });
    return row[c - 1];
  }

  getRange(row, column, numRows, numColumns) {
    if (numRows === undefined) numRows = 1;
    if (numColumns === undefined) numColumns = 1;
    if (numRows < 1 || numColumns < 1) throw new Error('The number of rows in the range must be at least 1.');
    const sheet = this;
    const each = (fn) => {
      for (let i = 0; i < numRows; i += 1) {
        for (let j = 0; j < numColumns; j += 1) fn(sheet.cell(row + i, column + j), i, j);
      }
    };
    const grid = (key) => {
      const out = Array.from({ length: numRows }, () => new Array(numColumns));
      each((cell, i, j) => {
        out[i][j] = cell[key];
      });
      return out;
    };
    const range = {
      getValues: () => grid('value'),
      getNumberFormats: () => grid('format'),
      setNumberFormat(format) {
        each((cell) => {
          cell.format = format;
        });
        return range;
      },
      setValues(values) {
        if (values.length !== numRows || values.some((v) => v.length !== numColumns)) {
          throw new Error('The number of rows or columns in the data does not match the range.');
        }
        each((cell, i, j) => {
          cell.value = typed(values[i][j], cell.format);
        });
        return range;
      },
    };
    return range;
  }

  appendRow(values) {
    const r = this.getLastRow() + 1;
    if (r > this.maxRows) this.maxRows = r;
    values.forEach((v, j) => {
      const cell = this.cell(r, j + 1);
      cell.value = typed(v, cell.format);
    });
    return this;
  }

  insertRowsAfter(after, howMany) {
    if (after < 1 || after > this.maxRows) throw new Error('Those rows are out of bounds.');
    const blank = Array.from({ length: howMany }, () => []);
    this.cells.splice(Math.min(after, this.cells.length), 0, ...blank);
    this.maxRows += howMany;
    return this;
  }

  deleteRows(start, howMany) {
    if (start < 1 || howMany < 1 || start + howMany - 1 > this.maxRows) {
      throw new Error('Those rows are out of bounds.');
    }
    if (howMany >= this.maxRows) throw new Error('You can\'t delete all the rows on the sheet.');
    this.cells.splice(start - 1, howMany);
    this.maxRows -= howMany;
    this.deletions.push([start, howMany]);
  }

  deleteRow(row) {
    this.deleteRows(row, 1);
    return this;
  }

  /** The first WIDTH columns of every row up to the last one that holds a value. */
  dump(key) {
    return this.cells.slice(0, this.getLastRow()).map((row) => {
      const cells = row.slice(0, WIDTH).map((c) => c[key]);
      while (cells.length < WIDTH) cells.push('');
      return cells;
    });
  }
}

function typed(value, format) {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return value;
  if (format === '@') return value;
  if (value.startsWith('=')) return FORMULA;
  if (value.startsWith("'")) return value.slice(1);
  return value;
}

// Utilities as Apps Script documents it: computeHmacSha256Signature(value, key) for two
// Byte[] or two Strings, (value, key, charset) for Strings; the result is a Byte[] of
// Java's signed bytes, -128..127. The charset of the two-String form is not documented,
// so here it takes ASCII only and throws on anything else rather than guess.
const CHARSETS = { US_ASCII: 'US_ASCII', UTF_8: 'UTF_8' };

function utilities() {
  const signed = (buffer) => Array.from(buffer, (b) => (b > 127 ? b - 256 : b));
  const isBytes = (v) => Array.isArray(v) && v.every((b) => Number.isInteger(b) && b >= -128 && b <= 127);
  const encode = (text, charset) => {
    if (charset === CHARSETS.UTF_8) return Buffer.from(text, 'utf8');
    // Java's US-ASCII encoder writes '?' for each character it cannot map.
    if (charset === CHARSETS.US_ASCII) return Buffer.from(text.replace(/[^\x00-\x7f]/gu, '?'), 'latin1');
    if (charset === undefined) {
      if (/[^\x00-\x7f]/u.test(text)) {
        throw new Error('the two-String computeHmacSha256Signature has no documented charset');
      }
      return Buffer.from(text, 'latin1');
    }
    throw new Error('Invalid argument: charset');
  };
  return {
    Charset: CHARSETS,
    computeHmacSha256Signature(value, key, charset) {
      let data;
      let secret;
      if (arguments.length === 2 && isBytes(value) && isBytes(key)) {
        data = Buffer.from(value.map((b) => b & 0xff));
        secret = Buffer.from(key.map((b) => b & 0xff));
      } else if (
        (arguments.length === 2 || arguments.length === 3) &&
        typeof value === 'string' &&
        typeof key === 'string'
      ) {
        data = encode(value, charset);
        secret = encode(key, charset);
      } else {
        throw new Error("The parameters don't match the method signature for Utilities.computeHmacSha256Signature.");
      }
      return signed(crypto.createHmac('sha256', secret).update(data).digest());
    },
  };
}

const MIME_TYPES = { JSON: 'application/json', TEXT: 'text/plain' };

function contentService() {
  return {
    MimeType: { JSON: 'JSON', TEXT: 'TEXT' },
    createTextOutput: (text) => {
      const output = {
        text: text === undefined ? '' : String(text),
        mimeType: 'TEXT',
        setMimeType(type) {
          if (!(type in MIME_TYPES)) throw new Error('Invalid argument: mimeType');
          output.mimeType = type;
          return output;
        },
        getContent: () => output.text,
        getMimeType: () => output.mimeType,
      };
      return output;
    },
  };
}

/**
 * The event object a web app's doPost receives, as Apps Script builds it: `parameter`
 * holds each query (and, for a form post, body) parameter's first value, `parameters`
 * all of them; the body is in `postData` alone.
 */
function event({ contents = '', query = '', type = 'application/json' }) {
  const parameters = {};
  const add = (text) => {
    for (const [name, value] of new URLSearchParams(text)) {
      (parameters[name] = parameters[name] || []).push(value);
    }
  };
  add(query);
  if (type.split(';')[0].trim().toLowerCase() === 'application/x-www-form-urlencoded') add(contents);
  const parameter = {};
  Object.keys(parameters).forEach((name) => {
    parameter[name] = parameters[name][0];
  });
  return {
    queryString: query,
    parameter,
    parameters,
    contextPath: '',
    contentLength: Buffer.byteLength(contents, 'utf8'),
    postData: { contents, length: Buffer.byteLength(contents, 'utf8'), type, name: 'postData' },
  };
}

// CacheService's script cache as Google documents it: a key of at most 250 characters, a
// string value of at most 100 KB, kept for `expirationInSeconds` (1 to 21600; 600 when
// not given) by the script's clock and no longer; and at most 1,000 items: a put that
// makes more keeps the 900 farthest from expiration.
const CACHE = {
  keyChars: 250,
  valueBytes: 100 * 1024,
  minSeconds: 1,
  maxSeconds: 21600,
  defaultSeconds: 600,
  items: 1000,
  kept: 900,
};

class ScriptCache {
  /** `clock` gives the script's time in milliseconds. */
  constructor(clock) {
    this.clock = clock;
    this.items = new Map(); // key -> {value, expires: ms}
  }

  /** The items not yet expired. */
  live() {
    const now = this.clock();
    for (const [key, item] of this.items) {
      if (item.expires <= now) this.items.delete(key);
    }
    return this.items;
  }

  get(key) {
    checkKey(key);
    const item = this.live().get(key);
    return item === undefined ? null : item.value;
  }

  put(key, value, expirationInSeconds) {
    checkKey(key);
    if (typeof value !== 'string') throw new Error('Invalid argument: value');
    if (Buffer.byteLength(value, 'utf8') > CACHE.valueBytes) throw new Error('Argument too large: value');
    const seconds = expirationInSeconds === undefined ? CACHE.defaultSeconds : expirationInSeconds;
    if (!Number.isInteger(seconds) || seconds < CACHE.minSeconds || seconds > CACHE.maxSeconds) {
      throw new Error('Invalid argument: expirationInSeconds');
    }
    const items = this.live();
    items.delete(key);
    items.set(key, { value, expires: this.clock() + seconds * 1000 });
    if (items.size > CACHE.items) {
      const soonest = [...items].sort((a, b) => a[1].expires - b[1].expires);
      soonest.slice(0, items.size - CACHE.kept).forEach(([k]) => items.delete(k));
    }
  }

  remove(key) {
    checkKey(key);
    this.items.delete(key);
  }
}

function checkKey(key) {
  if (typeof key !== 'string') throw new Error('Invalid argument: key');
  if (key.length > CACHE.keyChars) throw new Error('Argument too large: key');
}

const LOCK_TIMEOUT = 'Lock timeout: another process was holding the lock.';
/** Who holds the lock when `lockHeld`: it keeps it for longer than any waitLock waits. */
const OUTSIDE = 'an execution outside this run';

// The script lock, one for all the executions of the script. An execution waiting for it
// while another of this run holds it gets a promise (see `together`), settled when the
// lock is handed over or the wait times out; a lock held from outside is never released
// within the wait, so that wait ends at once in the timeout the real one would reach.
class ScriptLock {
  constructor(heldOutside) {
    this.holder = heldOutside ? OUTSIDE : null;
    this.waiters = [];
  }

  /** The Lock that LockService.getScriptLock() returns to the execution `owner`. */
  lockFor(owner) {
    const lock = this;
    return {
      waitLock(timeoutInMillis) {
        if (typeof timeoutInMillis !== 'number' || timeoutInMillis <= 0) throw new Error('waitLock needs a timeout');
        if (lock.holder === null || lock.holder === owner) {
          lock.holder = owner;
          return undefined;
        }
        if (lock.holder === OUTSIDE) throw new Error(LOCK_TIMEOUT);
        return new Promise((resolve, reject) => {
          const waiter = { owner, resolve };
          waiter.timer = setTimeout(() => {
            lock.waiters.splice(lock.waiters.indexOf(waiter), 1);
            reject(new Error(LOCK_TIMEOUT));
          }, timeoutInMillis);
          lock.waiters.push(waiter);
        });
      },
      hasLock: () => lock.holder === owner,
      releaseLock() {
        if (lock.holder !== owner) return;
        const next = lock.waiters.shift();
        lock.holder = next ? next.owner : null;
        if (next) {
          clearTimeout(next.timer);
          next.resolve();
        }
      },
    };
  }
}

/**
 * apps_script/Code.gs and the state its executions share: one in-memory sheet, the script
 * properties, the script cache and the script lock.
 *   sheetName   the sheet the spreadsheet holds (Code.gs looks for CRM_SHEET_NAME or "Leads")
 *   properties  the script properties (CRM_APPS_SCRIPT_KEY, CRM_SHEET_NAME)
 *   maxRows     the sheet's rows, blank ones included
 *   lockHeld    another execution holds the script lock for longer than waitLock waits
 *   now         Unix seconds of the script's clock (default: the real clock); `clock`
 *               changes it between requests
 * `post` runs one execution at a time in this thread; `together` runs several at once.
 */
class Script {
  constructor({ sheetName = 'Leads', properties = {}, maxRows = 1000, lockHeld = false, now } = {}) {
    this.sheet = new Sheet(sheetName, maxRows);
    this.properties = Object.assign({}, properties);
    this.now = now;
    this.cache = new ScriptCache(() => this.millis());
    this.lock = new ScriptLock(lockHeld);
    this.touched = { spreadsheet: 0, lock: 0, cache: 0 };
    this.context = vm.createContext({
      ...this.services(this.touched, 'post'),
      Utilities: utilities(),
      ContentService: contentService(),
    });
    vm.runInContext('Date', this.context).now = () => this.millis();
    vm.runInContext(fs.readFileSync(CODE, 'utf8'), this.context, { filename: 'Code.gs' });
  }

  /** The script's clock in milliseconds, as Date.now() gives it to Code.gs. */
  millis() {
    return this.now === undefined ? Date.now() : Number(this.now) * 1000;
  }

  /** Set the script's clock to Unix seconds `now` (undefined: the real clock). */
  clock(now) {
    this.now = now;
  }

  /**
   * The services that reach the state executions share, for the execution `owner`;
   * `touched` counts its calls into SpreadsheetApp, LockService and CacheService.
   * (Utilities and ContentService hold no state: each execution has its own.)
   */
  services(touched, owner) {
    const { sheet, properties, lock, cache } = this;
    return {
      SpreadsheetApp: {
        getActiveSpreadsheet: () => {
          touched.spreadsheet += 1;
          return { getSheetByName: (n) => (n === sheet.getName() ? sheet : null) };
        },
      },
      LockService: {
        getScriptLock: () => {
          touched.lock += 1;
          return lock.lockFor(owner);
        },
      },
      CacheService: {
        getScriptCache: () => {
          touched.cache += 1;
          return {
            get: (key) => cache.get(key),
            put: (key, value, expirationInSeconds) => cache.put(key, value, expirationInSeconds),
            remove: (key) => cache.remove(key),
          };
        },
      },
      PropertiesService: {
        getScriptProperties: () => ({
          getProperty: (key) => (Object.prototype.hasOwnProperty.call(properties, key) ? properties[key] : null),
        }),
      },
    };
  }

  /**
   * Runs doPost(e): {output: {mimeType, content}} as the script returned it, or
   * {thrown: message} when it threw (the web app then serves an error page, not JSON).
   * `touched` counts this request's calls into SpreadsheetApp, LockService and CacheService.
   */
  post(e) {
    Object.keys(this.touched).forEach((name) => {
      this.touched[name] = 0;
    });
    let output;
    try {
      output = this.context.doPost(e);
    } catch (err) {
      return this.leftHeld('post') || { thrown: String(err && err.message) };
    }
    return this.leftHeld('post') || ran(output);
  }

  /**
   * Runs doPost for each event at once, each in an execution of its own (a worker thread
   * with its own copy of Code.gs, as Apps Script runs each request in its own process),
   * all sharing this sheet, cache, lock and properties. Resolves to what `post` returns
   * for each, with its `touched`.
   *
   * Where they interleave is not left to chance: every call into a shared service is one
   * step, and a step is taken only while every execution is stopped at one (or waits for
   * the lock, or has finished); the executions then take their steps in turn. So two
   * executions of the same code go through it side by side, each step of one followed by
   * the same step of the other: every check one makes is followed by the other's before
   * either acts on it, unless something (the lock) keeps the second waiting.
   */
  together(events) {
    return new Promise((resolve, reject) => {
      const runs = events.map((e, index) => this.execution(e, index, step, reject));
      let turn = -1;
      function step() {
        if (runs.some((run) => run.state === 'running')) return;
        if (runs.every((run) => run.state === 'done')) {
          runs.forEach((run) => run.close());
          resolve(runs.map((run) => Object.assign({ touched: run.touched }, run.result)));
          return;
        }
        for (let k = 1; k <= runs.length; k += 1) {
          const run = runs[(turn + k) % runs.length];
          if (run.state === 'parked') {
            turn = run.index;
            run.serve();
            return;
          }
        }
        // Every execution left waits for the lock: a hand-over or a timeout ends the wait.
      }
    });
  }

  /** One execution of `together`, in a worker, its calls into the services served here. */
  execution(e, index, step, fail) {
    const owner = `execution ${index}`;
    const touched = { spreadsheet: 0, lock: 0, cache: 0 };
    const services = this.services(touched, owner);
    const handles = Object.values(services);
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const script = this;
    const run = {
      index,
      touched,
      state: 'running',
      call: null,
      result: null,
      worker: new Worker(EXECUTION, {
        workerData: { port: port2, flag, services: Object.keys(services), event: e, now: this.now },
        transferList: [port2],
      }),
      reply(answer) {
        run.state = 'running';
        port1.postMessage(answer);
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
      },
      answer(value) {
        const isService = value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
        if (!isService) return { value };
        handles.push(value);
        return { handle: handles.length - 1 };
      },
      serve() {
        const { handle, method, args } = run.call;
        run.call = null;
        let result;
        try {
          const target = handles[handle];
          if (typeof target[method] !== 'function') throw new TypeError(`${method} is not a function`);
          result = target[method](...args);
        } catch (err) {
          run.reply({ error: String(err && err.message) });
          return;
        }
        if (!(result instanceof Promise)) {
          run.reply(run.answer(result));
          return;
        }
        run.state = 'waiting';
        result.then(
          (value) => run.reply(run.answer(value)),
          (err) => run.reply({ error: String(err && err.message) })
        );
        step();
      },
      close() {
        port1.close();
        run.worker.terminate();
      },
    };
    port1.on('message', (message) => {
      if (message.done) {
        run.state = 'done';
        run.result = script.leftHeld(owner) || message.done;
      } else {
        run.state = 'parked';
        run.call = message;
      }
      step();
    });
    run.worker.on('error', fail);
    return run;
  }

  /** A thrown result when the execution `owner` finished holding the lock, else null. */
  leftHeld(owner) {
    if (this.lock.holder !== owner) return null;
    this.lock.lockFor(owner).releaseLock();
    return { thrown: 'the script lock was left held' };
  }

  /** Whether another execution holds the script lock (for longer than waitLock waits). */
  holdLock(held) {
    if (held) {
      this.lock.holder = OUTSIDE;
    } else if (this.lock.holder === OUTSIDE) {
      this.lock.holder = null;
    }
  }

  rows() {
    return this.sheet.dump('value');
  }

  formats() {
    return this.sheet.dump('format');
  }
}

/** What an execution's doPost returned, as `post` reports it. */
function ran(output) {
  if (!output || typeof output.getContent !== 'function') {
    return { thrown: 'doPost returned no ContentService output' };
  }
  return { output: { mimeType: MIME_TYPES[output.getMimeType()], content: output.getContent() } };
}

module.exports = { CODE, FORMULA, Script, Sheet, contentService, event, ran, utilities };
