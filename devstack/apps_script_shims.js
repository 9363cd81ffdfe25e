// In-memory stand-ins for the Apps Script services apps_script/Code.gs uses
// (SpreadsheetApp, LockService, Utilities, ContentService, PropertiesService), and a
// `Script` that loads the real Code.gs against them. Required by
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

const CODE = path.join(__dirname, '..', 'apps_script', 'Code.gs');
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

/**
 * apps_script/Code.gs loaded in its own context, bound to one in-memory sheet.
 *   sheetName   the sheet the spreadsheet holds (Code.gs looks for CRM_SHEET_NAME or "Leads")
 *   properties  the script properties (CRM_APPS_SCRIPT_KEY, CRM_SHEET_NAME)
 *   maxRows     the sheet's rows, blank ones included
 *   lockHeld    another execution holds the script lock for longer than waitLock waits
 *   now         Unix seconds of the script's clock (default: the real clock)
 */
class Script {
  constructor({ sheetName = 'Leads', properties = {}, maxRows = 1000, lockHeld = false, now } = {}) {
    this.sheet = new Sheet(sheetName, maxRows);
    this.properties = Object.assign({}, properties);
    this.lockHeld = Boolean(lockHeld);
    this.lock = { held: this.lockHeld };
    this.touched = { spreadsheet: 0, lock: 0 };
    this.context = vm.createContext(this.services());
    if (now !== undefined) {
      vm.runInContext(`Date.now = function () { return ${Number(now) * 1000}; };`, this.context);
    }
    vm.runInContext(fs.readFileSync(CODE, 'utf8'), this.context, { filename: 'Code.gs' });
  }

  services() {
    const { sheet, properties, lock, touched } = this;
    return {
      SpreadsheetApp: {
        getActiveSpreadsheet: () => {
          touched.spreadsheet += 1;
          return { getSheetByName: (n) => (n === sheet.getName() ? sheet : null) };
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
          getProperty: (key) => (Object.prototype.hasOwnProperty.call(properties, key) ? properties[key] : null),
        }),
      },
      ContentService: contentService(),
    };
  }

  /**
   * Runs doPost(e): {output: {mimeType, content}} as the script returned it, or
   * {thrown: message} when it threw (the web app then serves an error page, not JSON).
   * `touched` counts this request's calls into SpreadsheetApp and LockService.
   */
  post(e) {
    this.touched.spreadsheet = 0;
    this.touched.lock = 0;
    let output;
    try {
      output = this.context.doPost(e);
    } catch (err) {
      return { thrown: String(err && err.message) };
    }
    if (this.lock.held && !this.lockHeld) {
      this.lock.held = false;
      return { thrown: 'the script lock was left held' };
    }
    if (!output || typeof output.getContent !== 'function') {
      return { thrown: 'doPost returned no ContentService output' };
    }
    return { output: { mimeType: MIME_TYPES[output.getMimeType()], content: output.getContent() } };
  }

  /** Whether another execution holds the script lock (for longer than waitLock waits). */
  holdLock(held) {
    this.lockHeld = Boolean(held);
    this.lock.held = this.lockHeld;
  }

  rows() {
    return this.sheet.dump('value');
  }

  formats() {
    return this.sheet.dump('format');
  }
}

module.exports = { CODE, FORMULA, Script, Sheet, event, utilities };
