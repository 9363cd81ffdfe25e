// Runs apps_script/Code.gs under Node.js against the in-memory Apps Script services of
// devstack/apps_script_shims.js, so tests/test_apps_script.py can drive the real script
// request by request and look at the sheet afterwards.
//
// stdin:  {"requests": [request | {"together": [request, ...]}, ...],
//          "sheet_name": "Leads", "properties": {...}, "max_rows": n, "lock_held": bool,
//          "now": Unix seconds of the script's clock (default: the real clock)}
//         request: {"contents": body, "query": query string, "type": ..., "now": seconds}
//         ("now", when given, sets the script's clock from that request on)
// stdout: {"answers": [answer, ...], "touched": [{"spreadsheet": n, "lock": n, "cache": n}, ...],
//          "rows": [[cell, ...], ...], "formats": [[...], ...], "deletions": [...], "max_rows": n}
// The requests of a {"together": [...]} run at once, each in an execution of its own
// (Script.together); their answers and touches take their places in the lists in order.
// Or stdin {"utilities": [[value, key, charset?], ...]}: the stand-in of
// Utilities.computeHmacSha256Signature alone, stdout {"utilities": [result, ...]}.
// Or stdin {"cache": [{"now": seconds, "call": "get" | "put" | "remove", "args": [...]}, ...]}:
// the script cache's stand-in alone, its clock set before each call, stdout
// {"cache": [result, ...]} (null for none, {"thrown": message} when the call threw).
// An answer is the JSON the script returned, or {"thrown": message} when doPost threw
// (the web app then serves an error page, not JSON). `touched` counts, per request, the
// calls into SpreadsheetApp, LockService and CacheService: every way to the sheet, and
// to the nonces the script remembers, passes through them.
'use strict';

const fs = require('fs');
const path = require('path');
const { Script, event, utilities } = require(path.join(__dirname, '..', 'devstack', 'apps_script_shims.js'));

function answer(ran) {
  if (ran.thrown !== undefined) return { thrown: ran.thrown };
  if (ran.output.mimeType !== 'application/json') return { thrown: 'the answer is not JSON' };
  return JSON.parse(ran.output.content);
}

async function main() {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  if (input.utilities) {
    const u = utilities();
    const results = input.utilities.map((args) => {
      try {
        return u.computeHmacSha256Signature(...args);
      } catch (err) {
        return { thrown: String(err && err.message) };
      }
    });
    process.stdout.write(JSON.stringify({ utilities: results }));
    return;
  }
  if (input.cache) {
    const script = new Script({});
    const results = input.cache.map(({ now, call, args }) => {
      script.clock(now);
      try {
        const result = script.cache[call](...args);
        return result === undefined ? null : result;
      } catch (err) {
        return { thrown: String(err && err.message) };
      }
    });
    process.stdout.write(JSON.stringify({ cache: results }));
    return;
  }
  const script = new Script({
    sheetName: input.sheet_name === undefined ? 'Leads' : input.sheet_name,
    properties: input.properties || {},
    maxRows: input.max_rows || 1000,
    lockHeld: input.lock_held,
    now: input.now,
  });
  const answers = [];
  const touched = [];
  for (const request of input.requests) {
    const group = request.together || [request];
    group.forEach((one) => {
      if (one.now !== undefined) script.clock(one.now);
    });
    if (request.together) {
      const ran = await script.together(group.map(event));
      ran.forEach((one) => {
        answers.push(answer(one));
        touched.push(one.touched);
      });
    } else {
      answers.push(answer(script.post(event(request))));
      touched.push(Object.assign({}, script.touched));
    }
  }
  process.stdout.write(
    JSON.stringify({
      answers,
      touched,
      rows: script.rows(),
      formats: script.formats(),
      deletions: script.sheet.deletions,
      max_rows: script.sheet.getMaxRows(),
    })
  );
}

main().catch((err) => {
  process.stderr.write(String((err && err.stack) || err));
  process.exitCode = 1;
});
