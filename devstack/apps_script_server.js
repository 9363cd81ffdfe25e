// apps_script/Code.gs served over HTTP as its web app serves it, with an in-memory sheet
// (devstack/apps_script_shims.js), for the tests and `make dev`. Node's own `http` only.
//
//   node devstack/apps_script_server.js [--port N] [--host H]
//
// The script property CRM_APPS_SCRIPT_KEY comes from the environment variable of that
// name (unset: the script refuses every request, as the real one does until the team
// adds the key). The first line on stdout is `listening on <the web app's URL>`.
// devstack/apps_script.py starts it (`python -m devstack.apps_script`, and the
// `AppsScript` class the tests, `make dev` and bench/ use).
//
// The web app:
//   POST /macros/s/local/exec?ts=..&nonce=..&sig=..   doPost(e), with e.postData.contents
//        the body and e.parameter the query, as Apps Script builds them. What the script
//        returned is answered as the real web app answers it: a 302 to a one-time URL,
//        GET /macros/echo?user_content_key=K, that serves it once (200) and runs no
//        script; a client follows it with a GET, as `requests` does. When doPost throws:
//        200 with an HTML error page (not JSON). Any other path: 404.
// Control routes (not the script's; nothing here is authenticated: loopback only):
//   GET  /_rows                  {"rows": [[cell, ...], ...]}: the sheet as it holds it,
//                                a header row first when there is one, 8 columns wide
//   POST /_rows {"rows": [[...]]}  add rows below the last as plain-text cells, as a
//                                person or an earlier version may have left them
//   POST /_fail {"mode": M, "seconds": S}  every later request to the web app fails:
//                                M "500" | "503" | "429" answers that status (Google's
//                                front end, not the script); "timeout" answers 504 after
//                                S seconds (default 6); null stops failing
//   POST /_delay {"seconds": S}  each request to the web app waits S seconds before the
//                                script runs (the real one takes about 1.5 s); 0: none
//   POST /_lock {"held": bool}   another execution holds the script lock: doPost's
//                                waitLock throws, and the web app answers its error page
//   POST /_properties {NAME: value | null, ...}  set or remove script properties
//   GET  /_stats                 {"requests": n}: requests that reached the web app (its
//                                POSTs; a GET of an answer's one-time URL is none)
//   POST /_reset                 an empty sheet, the launch properties, no failure, delay
//                                or held lock
'use strict';

const crypto = require('crypto');
const http = require('http');
const path = require('path');
const { Script, event } = require(path.join(__dirname, 'apps_script_shims.js'));

const SCRIPT_PATH = '/macros/s/local/exec';
const ECHO_PATH = '/macros/echo';
const KEY_PROPERTY = 'CRM_APPS_SCRIPT_KEY';
const DEFAULT_TIMEOUT_S = 6;
const FAILURES = ['500', '503', '429', 'timeout'];

function launchProperties() {
  const key = process.env[KEY_PROPERTY];
  return key ? { [KEY_PROPERTY]: key } : {};
}

const state = {
  script: new Script({ properties: launchProperties() }),
  fail: null,
  failSeconds: DEFAULT_TIMEOUT_S,
  delaySeconds: 0,
  requests: 0,
  echoes: new Map(), // user_content_key -> what the script returned, until it is fetched
};

function reset() {
  state.script = new Script({ properties: launchProperties() });
  state.fail = null;
  state.failSeconds = DEFAULT_TIMEOUT_S;
  state.delaySeconds = 0;
  state.requests = 0;
  state.echoes.clear();
}

function send(response, status, body, type) {
  const data = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  response.writeHead(status, {
    'Content-Type': `${type || 'application/json'}; charset=utf-8`,
    'Content-Length': data.length,
  });
  response.end(data);
}

function sleep(seconds) {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function errorPage(message) {
  const text = String(message).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return (
    '<!DOCTYPE html><html><head><title>Error</title></head><body>' +
    `<div>${text}</div></body></html>`
  );
}

async function webApp(request, response, url, raw) {
  state.requests += 1;
  if (state.delaySeconds > 0) await sleep(state.delaySeconds);
  if (state.fail === 'timeout') {
    await sleep(state.failSeconds);
    send(response, 504, 'Gateway Timeout', 'text/plain');
    return;
  }
  if (state.fail) {
    send(response, Number(state.fail), `<!DOCTYPE html><title>Error ${state.fail}</title>`, 'text/html');
    return;
  }
  const e = event({
    contents: raw.toString('utf8'),
    query: url.search.replace(/^\?/, ''),
    type: request.headers['content-type'] || '',
  });
  const ran = state.script.post(e);
  if (ran.thrown !== undefined) {
    send(response, 200, errorPage(ran.thrown), 'text/html');
    return;
  }
  const key = crypto.randomBytes(24).toString('base64url');
  state.echoes.set(key, ran.output);
  response.writeHead(302, { Location: `${ECHO_PATH}?user_content_key=${key}`, 'Content-Length': 0 });
  response.end();
}

/** The one-time URL of an answer: served once, then gone. */
function echo(response, url) {
  const key = url.searchParams.get('user_content_key') || '';
  const output = state.echoes.get(key);
  if (output === undefined) {
    send(response, 404, '<!DOCTYPE html><title>Not Found</title>', 'text/html');
    return;
  }
  state.echoes.delete(key);
  send(response, 200, output.content, output.mimeType);
}

function parseJson(raw) {
  if (raw.length === 0) return {};
  return JSON.parse(raw.toString('utf8'));
}

function control(request, response, route, raw) {
  const key = `${request.method} ${route}`;
  if (key === 'GET /_rows') return send(response, 200, { rows: state.script.rows() });
  if (key === 'GET /_stats') return send(response, 200, { requests: state.requests });
  let body;
  try {
    body = parseJson(raw);
  } catch (err) {
    return send(response, 400, { error: 'the body is not JSON' });
  }
  if (key === 'POST /_reset') {
    reset();
    return send(response, 200, {});
  }
  if (key === 'POST /_rows') {
    const rows = body.rows;
    if (!Array.isArray(rows) || !rows.every((r) => Array.isArray(r))) {
      return send(response, 400, { error: 'give {"rows": [[cell, ...], ...]}' });
    }
    const sheet = state.script.sheet;
    rows.forEach((cells) => {
      const number = sheet.getLastRow() + 1;
      if (number > sheet.getMaxRows()) sheet.insertRowsAfter(sheet.getMaxRows(), 1);
      cells.forEach((value, j) => {
        const cell = sheet.cell(number, j + 1);
        cell.format = '@';
        cell.value = value === null || value === undefined ? '' : String(value);
      });
    });
    return send(response, 200, { rows: sheet.getLastRow() });
  }
  if (key === 'POST /_fail') {
    const mode = body.mode === undefined || body.mode === null ? null : String(body.mode);
    if (mode !== null && FAILURES.indexOf(mode) < 0) {
      return send(response, 400, { error: `mode is one of null, ${FAILURES.join(', ')}` });
    }
    state.fail = mode;
    state.failSeconds = body.seconds === undefined ? DEFAULT_TIMEOUT_S : Number(body.seconds);
    return send(response, 200, { mode: state.fail, seconds: state.failSeconds });
  }
  if (key === 'POST /_delay') {
    const seconds = Number(body.seconds);
    if (!(seconds >= 0)) return send(response, 400, { error: 'give {"seconds": S}, S >= 0' });
    state.delaySeconds = seconds;
    return send(response, 200, { seconds });
  }
  if (key === 'POST /_lock') {
    state.script.holdLock(body.held);
    return send(response, 200, { held: Boolean(body.held) });
  }
  if (key === 'POST /_properties') {
    Object.keys(body).forEach((name) => {
      if (body[name] === null) delete state.script.properties[name];
      else state.script.properties[name] = String(body[name]);
    });
    return send(response, 200, { properties: Object.keys(state.script.properties).sort() });
  }
  return send(response, 404, { error: 'no such control route' });
}

async function handle(request, response) {
  const url = new URL(request.url, 'http://localhost');
  const raw = await readBody(request);
  if (url.pathname.startsWith('/_')) {
    control(request, response, url.pathname, raw);
  } else if (url.pathname === SCRIPT_PATH && request.method === 'POST') {
    await webApp(request, response, url, raw);
  } else if (url.pathname === ECHO_PATH && request.method === 'GET') {
    echo(response, url);
  } else {
    send(response, 404, '<!DOCTYPE html><title>Not Found</title>', 'text/html');
  }
}

function option(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

function main() {
  const host = option('--host', '127.0.0.1');
  const port = Number(option('--port', '0'));
  const server = http.createServer((request, response) => {
    handle(request, response).catch((err) => {
      if (!response.headersSent) send(response, 500, { error: String(err && err.message) });
    });
  });
  server.listen(port, host, () => {
    const address = server.address();
    process.stdout.write(`listening on http://${host}:${address.port}${SCRIPT_PATH}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
