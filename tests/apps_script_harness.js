// Runs apps_script/Code.gs under Node.js against in-memory stand-ins for the Apps Script
// services it uses, so tests/test_apps_script.py can drive the real script.
//
// stdin:  {"requests": [{"contents": body, "parameter": {name: value}, "type": ...}, ...],
//          "sheet_name": "Leads", "properties": {...}, "max_rows": n, "lock_held": bool,
//          "now": Unix seconds of the script's clock (default: the real clock)}
// stdout: {"answers": [answer, ...], "touched": [{"spreadsheet": n, "lock": n}, ...],
//          "rows": [[cell, ...], ...], "formats": [[...], ...], ...}
// Or stdin {"utilities": [[value, key, charset?], ...]}: the stand-in of
// Utilities.computeHmacSha256Signature alone, stdout {"utilities": [result, ...]}.
// An answer is the JSON the script returned, or {"thrown": message} when doPost threw
// (the web app then serves an error page, not JSON). `touched` counts, per request, the
// calls into SpreadsheetApp and LockService: every way to the sheet passes through them.
//
// The sheet models what matters for safety: a string written to a cell that is not
// formatted as plain text ('@') is read as typed input, so "=..." becomes a formula
// and a leading ' is swallowed; a plain-text cell keeps the string exactly.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const FORMULA = '<formula evaluated>';

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
    const range = {
      getValues() {
        const out = Array.from({ length: numRows }, () => new Array(numColumns));
        each((cell, i, j) => {
          out[i][j] = cell.value;
        });
        return out;
      },
      getNumberFormats() {
        const out = Array.from({ length: numRows }, () => new Array(numColumns));
        each((cell, i, j) => {
          out[i][j] = cell.format;
        });
        return out;
      },
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

function main() {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  if (input.utilities) {
    // {"utilities": [[value, key, charset?], ...]}: the stand-in of Utilities alone.
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
  const name = input.sheet_name === undefined ? 'Leads' : input.sheet_name;
  const sheet = new Sheet(name, input.max_rows || 1000);
  const properties = Object.assign({}, input.properties || {});
  // lock_held: another execution holds the script lock for longer than waitLock waits.
  const lock = { held: Boolean(input.lock_held) };

  const touched = { spreadsheet: 0, lock: 0 };

  const context = {
    SpreadsheetApp: {
      getActiveSpreadsheet: () => {
        touched.spreadsheet += 1;
        return {
          getSheetByName: (n) => (n === sheet.getName() ? sheet : null),
        };
      },
    },
    Utilities: utilities(),
    LockService: {
      getScriptLock: () => {
        touched.lock += 1;
        return {
          waitLock(ms) {
            if (typeof ms !== 'number' || ms <= 0) throw new Error('waitLock needs a timeout');
            if (lock.held) throw new Error('Lock timeout: another process was holding the lock.');
            lock.held = true;
          },
          releaseLock() {
            lock.held = false;
          },
        };
      },
    },
    PropertiesService: {
      getScriptProperties: () => ({
        getProperty: (key) => (key in properties ? properties[key] : null),
      }),
    },
    ContentService: {
      MimeType: { JSON: 'JSON', TEXT: 'TEXT' },
      createTextOutput: (text) => {
        const output = {
          text,
          mimeType: 'TEXT',
          setMimeType(type) {
            output.mimeType = type;
            return output;
          },
          getContent: () => output.text,
          getMimeType: () => output.mimeType,
        };
        return output;
      },
    },
  };
  vm.createContext(context);
  if (input.now !== undefined) {
    vm.runInContext(`Date.now = function () { return ${Number(input.now) * 1000}; };`, context);
  }
  const source = path.join(__dirname, '..', 'apps_script', 'Code.gs');
  vm.runInContext(fs.readFileSync(source, 'utf8'), context, { filename: 'Code.gs' });

  const counts = [];
  const answers = input.requests.map((request) => {
    touched.spreadsheet = 0;
    touched.lock = 0;
    // As the web app builds it: e.parameter holds the query's first values, and the
    // body of a JSON post is in postData alone.
    const e = {
      parameter: Object.assign({}, request.parameter || {}),
      postData: { contents: request.contents, type: request.type || 'application/json' },
    };
    const answer = (() => {
      let output;
      try {
        output = context.doPost(e);
      } catch (err) {
        return { thrown: String(err && err.message) };
      }
      if (lock.held && !input.lock_held) return { thrown: 'the script lock was left held' };
      if (output.getMimeType() !== 'JSON') return { thrown: 'the answer is not JSON' };
      return JSON.parse(output.getContent());
    })();
    counts.push({ spreadsheet: touched.spreadsheet, lock: touched.lock });
    return answer;
  });

  const last = sheet.getLastRow();
  const dump = (key) =>
    sheet.cells.slice(0, last).map((row) => {
      const cells = row.slice(0, 8).map((c) => c[key]);
      while (cells.length < 8) cells.push('');
      return cells;
    });
  process.stdout.write(
    JSON.stringify({
      answers,
      touched: counts,
      rows: dump('value'),
      formats: dump('format'),
      deletions: sheet.deletions,
      max_rows: sheet.getMaxRows(),
    })
  );
}

main();
