/*
 * factoryops-pow.js: the proof of work of the site script (factoryops.js), which loads
 * it from beside itself: as a Web Worker, so that the page stays responsive while it
 * runs, or, in a browser without workers, as a plain script that solves on the page's
 * own thread with the same code. Either way it comes from the site's own origin: a
 * strict Content-Security-Policy needs `worker-src 'self'`, and no `blob:`.
 *
 * It solves an ALTCHA v2 challenge of the SHA family, as the functions' `GET
 * /challenge` issues them: find the counter (0, 1, 2, ...) for which the key, SHA of
 * salt + nonce + the counter as 4 bytes big-endian, hashed `cost` times in all and cut
 * to `keyLength` bytes, starts with `keyPrefix` (hex). The answer is the ALTCHA widget's
 * solution, {counter, derivedKey, time}, or null when there is none to be had.
 */
(function (scope) {
  'use strict';

  // Digests asked for at once: each crypto.subtle.digest is a round trip to the browser's
  // crypto thread, and a batch in flight together pays for that wait once, not per hash.
  var BATCH = 256;
  var DIGESTS = { 'SHA-256': 1, 'SHA-384': 1, 'SHA-512': 1 };
  var LAST_COUNTER = 0xffffffff;

  function bytes(hex) {
    if (typeof hex !== 'string' || !/^([0-9a-f]{2})*$/i.test(hex)) throw new Error('not hex');
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  function hex(data) {
    var out = '';
    for (var i = 0; i < data.length; i++) out += (data[i] < 16 ? '0' : '') + data[i].toString(16);
    return out;
  }

  /* Whether `key` starts with the hex `prefix`, read as `whole` bytes and, for an odd
     length, one more half byte. */
  function startsWith(key, whole, prefix) {
    for (var i = 0; i < whole.length; i++) if (key[i] !== whole[i]) return false;
    if (prefix.length % 2 === 0) return true;
    return key.length > whole.length && key[whole.length] >> 4 === parseInt(prefix.charAt(prefix.length - 1), 16);
  }

  /* The key of one counter: the digest of `data` (whose last 4 bytes are the counter),
     then of each digest before it, `rounds` times in all. */
  function derive(subtle, algorithm, data, rounds) {
    var next = subtle.digest(algorithm, data); // the data is copied before this returns
    for (var i = 1; i < rounds; i++) {
      next = next.then(function (digest) {
        return subtle.digest(algorithm, digest);
      });
    }
    return next;
  }

  function solve(challenge) {
    var started = Date.now();
    var subtle = scope.crypto && scope.crypto.subtle;
    var p = (challenge && challenge.parameters) || {};
    var algorithm = String(p.algorithm || '').toUpperCase();
    if (!subtle || !DIGESTS[algorithm]) return Promise.resolve(null);
    var prefix = String(p.keyPrefix || '00').toLowerCase();
    var keyLength = p.keyLength || 32;
    var rounds = Math.max(1, p.cost || 1);
    // Past its expiry a challenge is refused: give up rather than hash for nothing.
    var until = typeof p.expiresAt === 'number' ? p.expiresAt * 1000 : Infinity;
    var salt, nonce, whole;
    try {
      salt = bytes(p.salt);
      nonce = bytes(p.nonce);
      whole = bytes(prefix.slice(0, prefix.length - (prefix.length % 2)));
    } catch (error) {
      return Promise.resolve(null);
    }
    var data = new Uint8Array(salt.length + nonce.length + 4);
    data.set(salt, 0);
    data.set(nonce, salt.length);
    var counterAt = new DataView(data.buffer, salt.length + nonce.length, 4);

    return new Promise(function (resolve) {
      function step(first) {
        if (first > LAST_COUNTER || Date.now() > until) {
          resolve(null);
          return;
        }
        var last = Math.min(first + BATCH, LAST_COUNTER + 1);
        var keys = [];
        for (var counter = first; counter < last; counter++) {
          counterAt.setUint32(0, counter);
          keys.push(derive(subtle, algorithm, data, rounds));
        }
        Promise.all(keys).then(function (found) {
          for (var i = 0; i < found.length; i++) {
            var key = new Uint8Array(found[i], 0, Math.min(keyLength, found[i].byteLength));
            if (startsWith(key, whole, prefix)) {
              resolve({ counter: first + i, derivedKey: hex(key), time: Date.now() - started });
              return;
            }
          }
          step(last);
        }, function () {
          resolve(null);
        });
      }
      step(0);
    });
  }

  if (typeof scope.WorkerGlobalScope === 'function' && scope instanceof scope.WorkerGlobalScope) {
    scope.onmessage = function (event) {
      solve(event.data).then(function (solution) {
        scope.postMessage(solution);
      });
    };
  } else {
    scope.FactoryOpsPow = { solve: solve };
  }
})(self);
