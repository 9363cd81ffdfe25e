// Runs apps_script/Code.gs under Node.js against the in-memory Apps Script services of
// devstack/apps_script_shims.js, so tests/test_apps_script.py can drive the real script
// request by request and look at the sheet afterwards.
//
// stdin:  {"requests": [{"contents": body, "query": query string, "type": ...}, ...],
//          "sheet_name": "Leads", "properties": {...}, "max_rows": n, "lock_held": bool,
//          "now": Unix seconds of the script's clock (default: the real clock)}
// stdout: {"answers": [answer, ...], "touched": [{"spreadsheet": n, "lock": n}, ...],
//          "rows": [[cell, ...], ...], "formats": [[...], ...], "deletions": [...], "max_rows": n}
// Or stdin {"utilities": [[value, key, charset?], ...]}: the stand-in of
// Utilities.computeHmacSha256Signature alone, stdout {"utilities": [result, ...]}.
// An answer is the JSON the script returned, or {"thrown": message} when doPost threw
// (the web app then serves an error page, not JSON). `touched` counts, per request, the
// calls into SpreadsheetApp and LockService: every way to the sheet passes through them.
'use strict';

const fs = require('fs');
const path = require('path');
const { Script, event, utilities } = require(path.join(__dirname, '..', 'devstack', 'apps_script_shims.js'));

function main() {
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
  const script = new Script({
    sheetName: input.sheet_name === undefined ? 'Leads' : input.sheet_name,
    properties: input.properties || {},
    maxRows: input.max_rows || 1000,
    lockHeld: input.lock_held,
    now: input.now,
  });
  const touched = [];
  const answers = input.requests.map((request) => {
    const ran = script.post(event(request));
    touched.push(Object.assign({}, script.touched));
    if (ran.thrown !== undefined) return { thrown: ran.thrown };
    if (ran.output.mimeType !== 'application/json') return { thrown: 'the answer is not JSON' };
    return JSON.parse(ran.output.content);
  });
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

main();
