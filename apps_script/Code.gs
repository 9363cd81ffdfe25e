/**
 * The CRM web app: one POST endpoint that appends, lists, deletes and changes lead rows
 * of the sheet named by the script property CRM_SHEET_NAME (default "Leads") in the
 * spreadsheet this script is bound to.
 *
 * Wire format (lib/factoryops/crm.py is the client; devstack/apps_script_server.js serves
 * this file locally, for the tests and `make dev`):
 *   {"action": "append", "row": {column: cell, ...}}     -> {"ok": true, "appended": bool}
 *   {"action": "rows"}                                   -> {"ok": true, "rows": [[...], ...]}
 *   {"action": "delete", "match": M}                     -> {"ok": true, "deleted": n}
 *   {"action": "update", "match": M, "set": {col: cell}} -> {"ok": true, "updated": n}
 * M = {"record_ids": [...], "email_keys": [...], "received_before": RFC 3339 | null};
 * a row matches if it meets any one of the conditions.
 *
 * Every request is signed: the query parameters `ts` (Unix seconds), `nonce` (32 lowercase
 * hex digits, fresh for each request) and `sig`, the hex HMAC-SHA256 keyed by the script
 * property CRM_APPS_SCRIPT_KEY over ts + "\n" + nonce + "\n" + the body. The URL is
 * reachable without sign-in, so a request without a valid signature, or with a ts more
 * than 60 seconds from this script's clock, is refused before the lock is taken or the
 * spreadsheet opened; and a request whose nonce the script has seen before (a copy of a
 * request it received) is refused under the lock, before the spreadsheet is opened. These
 * refusals carry a `code`:
 *   {"ok": false, "error": ..., "code": "no_key" | "unsigned" | "bad_signature" | "stale" | "replayed"}
 * The client retries a stale refusal (its clock may have drifted), signing it anew, and
 * no other.
 *
 * A request the script can never carry out is answered {"ok": false, "error": ...}, which
 * the client takes as final. Anything that may pass (the lock not free within 30 s, a
 * Sheets service failure) is thrown instead: the web app then answers an error page
 * that is not JSON, which the client retries. No answer or error carries cell contents.
 */

var COLUMNS = ['received_at', 'source', 'record_id', 'name', 'email', 'company', 'message', 'page'];
var FORMULA_START = ['=', '+', '-', '@', '\t', '\r', '\n'];
var LOCK_WAIT_MS = 30000;
var DEFAULT_SHEET = 'Leads';
var KEY_PROPERTY = 'CRM_APPS_SCRIPT_KEY';
// The functions sign each request the moment they send it, and they and this script run
// on Google's servers, whose clocks agree to well under a second: a request reaches this
// check within seconds of its ts (the web app's start takes one or two). 60 s leaves room
// for a slow start, and bounds what a copy is worth should the cache drop its nonce
// early; a request that arrives later is refused as stale and the client, retrying,
// signs it anew, so the narrow window costs no more than a retry.
var SIGNATURE_WINDOW_S = 60;
var NONCE_PATTERN = /^[0-9a-f]{32}$/;
// How long a nonce is remembered: as long as a copy of its request could still pass the
// ts check and reach the cache. Its ts is accepted from ts - 60 s to ts + 60 s, and a copy
// accepted last may then wait up to LOCK_WAIT_MS for the lock; 10 s more for the
// execution's own steps. Far below the cache's limit of 21600 s.
var NONCE_MEMORY_S = 2 * SIGNATURE_WINDOW_S + LOCK_WAIT_MS / 1000 + 10;
var NONCE_PREFIX = 'nonce:';

function doPost(e) {
  var refused = refusal_(e);
  if (refused) {
    return answer_(refused);
  }
  var request;
  try {
    request = JSON.parse(e && e.postData ? e.postData.contents : '');
  } catch (err) {
    return answer_({ ok: false, error: 'the body is not JSON' });
  }
  if (!request || typeof request !== 'object' || Array.isArray(request)) {
    return answer_({ ok: false, error: 'the body is not a JSON object' });
  }
  var action = ACTIONS_[request.action];
  if (!action) {
    return answer_({ ok: false, error: 'unsupported action' });
  }
  var lock = LockService.getScriptLock();
  lock.waitLock(LOCK_WAIT_MS);
  try {
    // Under the lock, so that of two copies of one request arriving together only the
    // first finds its nonce unseen: the check and the put are one step.
    if (!firstUse_(e.parameter.nonce)) {
      return answer_({
        ok: false,
        code: 'replayed',
        error: "the request's nonce was used before: it is a copy",
      });
    }
    var sheet = sheet_();
    if (!sheet) {
      return answer_({ ok: false, error: 'the CRM sheet named by CRM_SHEET_NAME does not exist' });
    }
    return answer_(action(sheet, request));
  } catch (err) {
    if (err instanceof Refusal_) {
      return answer_({ ok: false, error: err.message });
    }
    throw err;
  } finally {
    lock.releaseLock();
  }
}

/**
 * Whether this nonce is new, remembering it if so; the caller holds the script lock.
 * The script cache is shared by every execution of the script. It keeps at most 1,000
 * items: one per request, and the functions send far fewer within NONCE_MEMORY_S.
 */
function firstUse_(nonce) {
  var cache = CacheService.getScriptCache();
  var key = NONCE_PREFIX + nonce;
  if (cache.get(key) !== null) {
    return false;
  }
  cache.put(key, '1', NONCE_MEMORY_S);
  return true;
}

/**
 * Why the request is not the functions' own, or null when it is. Reads only the script
 * properties: nothing of the sheet is touched for a request that is refused here.
 */
function refusal_(e) {
  var key = PropertiesService.getScriptProperties().getProperty(KEY_PROPERTY);
  if (!key) {
    return {
      ok: false,
      code: 'no_key',
      error: 'the script property CRM_APPS_SCRIPT_KEY is not set, so no request is accepted',
    };
  }
  var parameter = (e && e.parameter) || {};
  var ts = typeof parameter.ts === 'string' ? parameter.ts : '';
  var nonce = typeof parameter.nonce === 'string' ? parameter.nonce : '';
  var sig = typeof parameter.sig === 'string' ? parameter.sig : '';
  if (!ts || !sig || !NONCE_PATTERN.test(nonce)) {
    return {
      ok: false,
      code: 'unsigned',
      error: 'the request is not signed (ts, sig and a nonce of 32 hex digits)',
    };
  }
  var body = e.postData ? String(e.postData.contents) : '';
  // UTF-8 named explicitly: the two-argument form's charset is not documented, and the
  // client signs UTF-8 (ASCII, in fact) bytes.
  var message = ts + '\n' + nonce + '\n' + body;
  var expected = hex_(Utilities.computeHmacSha256Signature(message, key, Utilities.Charset.UTF_8));
  if (!sameText_(expected, sig.toLowerCase())) {
    return { ok: false, code: 'bad_signature', error: 'the signature does not match the request' };
  }
  var seconds = /^[0-9]{1,15}$/.test(ts) ? Number(ts) : NaN;
  if (!(Math.abs(Date.now() / 1000 - seconds) <= SIGNATURE_WINDOW_S)) {
    return {
      ok: false,
      code: 'stale',
      error: "the request's ts is more than 60 seconds from the script's clock",
    };
  }
  return null;
}

/** Signed bytes (-128..127), as Utilities returns them, in lowercase hex. */
function hex_(bytes) {
  return bytes
    .map(function (b) {
      var v = (b + 256) % 256;
      return (v < 16 ? '0' : '') + v.toString(16);
    })
    .join('');
}

/** Equality that takes as long wherever the first difference is: a signature must not
 * be guessable a character at a time from the time a refusal takes. */
function sameText_(a, b) {
  if (a.length !== b.length) return false;
  var diff = 0;
  for (var i = 0; i < a.length; i += 1) {
    diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  }
  return diff === 0;
}

var ACTIONS_ = {
  append: appendRow_,
  rows: listRows_,
  delete: deleteRows_,
  update: updateRows_,
};

/** A request that can never succeed; its message names no personal data. */
function Refusal_(message) {
  this.message = message;
}

function answer_(body) {
  return ContentService.createTextOutput(JSON.stringify(body)).setMimeType(
    ContentService.MimeType.JSON
  );
}

function sheet_() {
  var name = PropertiesService.getScriptProperties().getProperty('CRM_SHEET_NAME');
  return SpreadsheetApp.getActiveSpreadsheet().getSheetByName(name || DEFAULT_SHEET);
}

function appendRow_(sheet, request) {
  var row = request.row;
  if (!row || typeof row !== 'object' || Array.isArray(row)) {
    throw new Refusal_('append needs a row object');
  }
  Object.keys(row).forEach(function (column) {
    if (COLUMNS.indexOf(column) < 0) throw new Refusal_('append names an unknown column');
  });
  var cells = COLUMNS.map(function (column) {
    return neutralise_(text_(row[column]));
  });
  // Idempotent by record_id: a retry whose first attempt landed (its answer lost on the
  // way back) finds its row and adds no second one. The lock makes look-then-append one step.
  var recordId = cells[COLUMNS.indexOf('record_id')];
  if (recordId && hasRecord_(sheet, recordId)) {
    return { ok: true, appended: false };
  }
  // Not sheet.appendRow: it reads its strings as typed input, so "'=x" would lose its
  // quote and "=x" would become a formula, a date-like string a date. The row is
  // formatted as plain text first and then written, so every cell keeps its exact text.
  var number = sheet.getLastRow() + 1;
  if (number > sheet.getMaxRows()) {
    sheet.insertRowsAfter(sheet.getMaxRows(), 1);
  }
  writeText_(sheet.getRange(number, 1, 1, COLUMNS.length), [cells]);
  return { ok: true, appended: true };
}

function hasRecord_(sheet, recordId) {
  var last = sheet.getLastRow();
  if (last < 1) return false;
  var column = COLUMNS.indexOf('record_id') + 1;
  var ids = sheet.getRange(1, column, last, 1).getValues();
  for (var i = 0; i < ids.length; i++) {
    if (String(ids[i][0]) === recordId) return true;
  }
  return false;
}

function listRows_(sheet) {
  return { ok: true, rows: values_(sheet) };
}

function deleteRows_(sheet, request) {
  var match = matcher_(request.match);
  var rows = values_(sheet);
  var numbers = [];
  rows.forEach(function (cells, index) {
    if (match(cells)) numbers.push(index + 1);
  });
  if (numbers.length === 0) {
    return { ok: true, deleted: 0 };
  }
  // A sheet must keep at least one row: keep a blank one below the data.
  if (sheet.getMaxRows() <= rows.length) {
    sheet.insertRowsAfter(sheet.getMaxRows(), 1);
  }
  // Bottom-up, one call per run of adjacent rows: each deletion leaves the positions of
  // the rows still to delete unchanged, and a sweep of many rows stays few calls.
  var i = numbers.length - 1;
  while (i >= 0) {
    var last = numbers[i];
    var first = last;
    while (i > 0 && numbers[i - 1] === first - 1) {
      i -= 1;
      first = numbers[i];
    }
    sheet.deleteRows(first, last - first + 1);
    i -= 1;
  }
  return { ok: true, deleted: numbers.length };
}

function updateRows_(sheet, request) {
  var match = matcher_(request.match);
  var changes = request.set;
  if (!changes || typeof changes !== 'object' || Array.isArray(changes)) {
    throw new Refusal_('update needs a set object');
  }
  var columns = Object.keys(changes);
  columns.forEach(function (column) {
    if (COLUMNS.indexOf(column) < 0) throw new Refusal_('update names an unknown column');
  });
  var updated = 0;
  values_(sheet).forEach(function (cells, index) {
    if (!match(cells)) return;
    columns.forEach(function (column) {
      var range = sheet.getRange(index + 1, COLUMNS.indexOf(column) + 1, 1, 1);
      writeText_(range, [[neutralise_(text_(changes[column]))]]);
    });
    updated += 1;
  });
  return { ok: true, updated: updated };
}

function writeText_(range, values) {
  range.setNumberFormat('@');
  range.setValues(values);
}

/** Every row of the sheet as strings, COLUMNS wide; the header row included. */
function values_(sheet) {
  var last = sheet.getLastRow();
  if (last < 1) return [];
  return sheet
    .getRange(1, 1, last, COLUMNS.length)
    .getValues()
    .map(function (row) {
      return row.map(text_);
    });
}

/** Rows written before the sheet was plain text may hold dates or numbers. */
function text_(value) {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

function isFormulaStart_(cell) {
  return cell.length > 0 && FORMULA_START.indexOf(cell.charAt(0)) >= 0;
}

/** As crm.neutralise: a cell a spreadsheet could read as a formula gets a leading '. */
function neutralise_(cell) {
  return isFormulaStart_(cell) ? "'" + cell : cell;
}

/** As crm.plain: a cell as it was before neutralise_. */
function plain_(cell) {
  return cell.charAt(0) === "'" && isFormulaStart_(cell.slice(1)) ? cell.slice(1) : cell;
}

/** The test for Match.payload(): any row that meets one condition. */
function matcher_(match) {
  if (!match || typeof match !== 'object' || Array.isArray(match)) {
    throw new Refusal_('the action needs a match object');
  }
  var recordIds = stringList_(match.record_ids);
  var emailKeys = stringList_(match.email_keys);
  var before = null;
  if (match.received_before !== null && match.received_before !== undefined) {
    before = typeof match.received_before === 'string' ? micros_(match.received_before) : null;
    if (before === null) throw new Refusal_('received_before is not an RFC 3339 time');
  }
  var recordColumn = COLUMNS.indexOf('record_id');
  var emailColumn = COLUMNS.indexOf('email');
  var receivedColumn = COLUMNS.indexOf('received_at');
  return function (cells) {
    if (recordIds.indexOf(plain_(cells[recordColumn])) >= 0) return true;
    if (emailKeys.indexOf(plain_(cells[emailColumn]).trim().toLowerCase()) >= 0) return true;
    if (before !== null) {
      var received = micros_(plain_(cells[receivedColumn]));
      return received !== null && received < before;
    }
    return false;
  };
}

function stringList_(value) {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new Refusal_('record_ids and email_keys must be lists');
  return value.map(text_);
}

var TIMESTAMP_ =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?)?(Z|[+-]\d{2}:?\d{2}(?::?\d{2})?)?$/i;

/**
 * Microseconds since the epoch, or null: the ISO 8601 forms Python's
 * datetime.fromisoformat reads (which is how crm.py compares), a time
 * without offset taken as UTC. Date.parse would round to milliseconds and reads
 * offset-less times as local time.
 */
function micros_(value) {
  var m = TIMESTAMP_.exec(String(value).trim());
  if (!m) return null;
  var year = +m[1];
  var month = +m[2];
  var day = +m[3];
  var hour = m[4] === undefined ? 0 : +m[4];
  var minute = m[5] === undefined ? 0 : +m[5];
  var second = m[6] === undefined ? 0 : +m[6];
  var date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year);
  if (
    month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 ||
    date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day
  ) {
    return null;
  }
  var fraction = m[7] === undefined ? 0 : +(m[7] + '000000').slice(0, 6);
  var offset = 0;
  if (m[8] !== undefined && m[8].toUpperCase() !== 'Z') {
    var digits = m[8].slice(1).replace(/:/g, '');
    var sign = m[8].charAt(0) === '-' ? -1 : 1;
    offset = sign * (+digits.slice(0, 2) * 3600 + +digits.slice(2, 4) * 60 + +(digits.slice(4, 6) || 0));
    if (Math.abs(offset) >= 86400) return null;
  }
  return (date.getTime() / 1000 - offset) * 1000000 + fraction;
}
