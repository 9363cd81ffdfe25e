/*
 * factoryops.js: the site script of factoryopsai.com. No dependencies, no
 * build step. Include it once per page:
 *
 *   <script src="/factoryops.js" defer
 *           data-contact-url="https://REGION-PROJECT.cloudfunctions.net/contact_submit"
 *           data-chat-url="https://REGION-PROJECT.cloudfunctions.net/chat_message"
 *           data-access-url="https://REGION-PROJECT.cloudfunctions.net/access_grant"
 *           data-ga-id="G-XXXXXXXXXX"></script>
 *
 * or set `window.FactoryOpsConfig = {contactUrl, chatUrl, accessUrl, gaId}` before it
 * (data attributes win). retention_sweep is never called from a browser: it takes a
 * Google-signed token from Cloud Scheduler.
 *
 * What it does:
 * - consent: GA4 Consent Mode v2, everything denied by default; Google's tag is
 *   requested only after the visitor accepts analytics (Accept all, or the Analytics
 *   switch turned on). Withdrawing (Reject, or the switch turned off) also sets Google's
 *   opt-out flag, so a tag already on the page sends nothing more. Any
 *   `[data-consent-open]` control re-opens the choice.
 * - contact: every `form[data-factoryops="contact"]` posts JSON with an Idempotency-Key.
 * - proof of work: a contact post and a chat start carry a solved challenge of the
 *   function's own (`altcha`), fetched when the visitor starts on the form and solved
 *   while they type, in a Web Worker loaded from factoryops-pow.js beside this script.
 * - chat: a widget that asks for the email first, says when to expect a reply (the
 *   answers' `team`), and polls for the team's replies; folded away it only peeks for
 *   unseen ones (a badge), so that the server can still email what nobody read.
 * - contact: the thanks says when to expect a reply, from the answer's `team`.
 * - keyboard and screen reader: the open chat is a modal dialog (Escape closes it, Tab
 *   stays in it); a reply to the folded chat is announced; forms say their own errors;
 *   the banner gives the focus back, and sets --fo-consent-space so the page keeps clear.
 * - unlock: `#access=<token>` (or `?access=` from older links) is removed from the
 *   address bar at once and redeemed (one use of the grant, answered with a receipt);
 *   later visits, the link opened again included, re-check it with the receipt, which
 *   records nothing (once per 30 minutes, `data-access-recheck-minutes`);
 *   `[data-gated="section"]` elements show when unlocked, `[data-gated-teaser="section"]`
 *   ones while locked. Gating a static page hides, it does not protect: keep what must
 *   stay private off the public page.
 *
 * Browser storage: localStorage only, three keys (see KEYS), never cookies. Server data
 * reaches the page through textContent only. Requests go to the function URLs and, after
 * consent, to Google's tag; the solver comes from the site itself (a strict CSP needs
 * `worker-src 'self'` for it).
 */
(function () {
  'use strict';

  var KEYS = {
    consent: 'factoryops.consent', // "granted" | "denied"
    chat: 'factoryops.chat', // the opaque chat session id
    access: 'factoryops.access' // {"token", "receipt", "sections", "expires_at", "checked_at"}
  };
  var REQUEST_TIMEOUT_MS = 30000;
  // The privacy notice promises GA4 cookies a 24-month expiry, whatever the property's default
  // (Chromium stores a cookie for at most 400 days, whatever is asked: docs/privacy.md).
  var GA_COOKIE_EXPIRES_S = 63072000;
  var CONTACT_EMAIL = 'info@factoryopsai.com';

  var script = document.currentScript;
  var config = readConfig();

  // -- Consent Mode defaults: before anything else can queue a tag command ----------

  window.dataLayer = window.dataLayer || [];
  if (typeof window.gtag !== 'function') {
    window.gtag = function gtag() {
      window.dataLayer.push(arguments);
    };
  }
  window.gtag('consent', 'default', {
    analytics_storage: 'denied',
    ad_storage: 'denied',
    ad_user_data: 'denied',
    ad_personalization: 'denied'
  });

  // -- The access token leaves the address bar before anything else reads it --------

  var pendingToken = takeAccessToken();

  // == configuration, storage, HTTP ===================================================

  function readConfig() {
    var base = window.FactoryOpsConfig || {};
    var data = (script && script.dataset) || {};
    var poll = Number(data.chatPollMs || base.chatPollMs);
    var recheck = Number(
      data.accessRecheckMinutes !== undefined ? data.accessRecheckMinutes : base.accessRecheckMinutes
    );
    return {
      contactUrl: data.contactUrl || base.contactUrl || '',
      chatUrl: data.chatUrl || base.chatUrl || '',
      accessUrl: data.accessUrl || base.accessUrl || '',
      gaId: data.gaId || base.gaId || '',
      privacyUrl: data.privacyUrl || base.privacyUrl || '/privacy',
      chatPollMs: poll > 0 ? poll : 4000,
      // A "visit" in the analytics sense: 30 minutes without a check.
      accessRecheckMs: (isFinite(recheck) && recheck >= 0 ? recheck : 30) * 60000
    };
  }

  function ready(fn) {
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', fn);
    } else {
      fn();
    }
  }

  // localStorage can throw (storage disabled, quota): the site then works without memory.
  var storage = {
    get: function (key) {
      try {
        return window.localStorage.getItem(key);
      } catch (error) {
        return null;
      }
    },
    set: function (key, value) {
      try {
        window.localStorage.setItem(key, value);
      } catch (error) {
        /* not remembered */
      }
    },
    remove: function (key) {
      try {
        window.localStorage.removeItem(key);
      } catch (error) {
        /* nothing to forget */
      }
    }
  };

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return (b < 16 ? '0' : '') + b.toString(16);
      })
      .join('');
  }

  function sleep(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }

  /*
   * One JSON request to a function. Resolves (never rejects) to
   * {ok, status, body, error, retryAfter, network}. A network failure is retried once
   * with the same Idempotency-Key, so a response lost on the way back cannot turn into
   * a second submission.
   */
  function send(url, options) {
    var retries = options.retries === undefined ? 1 : options.retries;
    function attempt(left) {
      return sendOnce(url, options).then(function (result) {
        if (!result.network || left <= 0) return result;
        return sleep(800).then(function () {
          return attempt(left - 1);
        });
      });
    }
    return attempt(retries);
  }

  function sendOnce(url, options) {
    var headers = { Accept: 'application/json' };
    var init = {
      method: options.method || 'GET',
      headers: headers,
      mode: 'cors',
      credentials: 'omit',
      cache: 'no-store'
    };
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    if (options.key) headers['Idempotency-Key'] = options.key;
    if (options.session) headers['X-Chat-Session'] = options.session;
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = null;
    if (controller) {
      init.signal = controller.signal;
      timer = setTimeout(function () {
        controller.abort();
      }, REQUEST_TIMEOUT_MS);
    }
    return fetch(url, init)
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (body) {
            return {
              ok: response.ok,
              status: response.status,
              body: body,
              error: (body && body.error) || null,
              retryAfter: parseRetryAfter(response.headers.get('Retry-After')),
              network: false
            };
          });
      })
      .catch(function () {
        return { ok: false, status: 0, body: null, error: null, retryAfter: null, network: true };
      })
      .then(function (result) {
        if (timer) clearTimeout(timer);
        return result;
      });
  }

  function parseRetryAfter(value) {
    if (!value) return null;
    if (/^\d+$/.test(value.trim())) return parseInt(value, 10);
    var when = Date.parse(value);
    return isNaN(when) ? null : Math.max(1, Math.round((when - Date.now()) / 1000));
  }

  function describeWait(seconds) {
    if (!seconds || seconds < 1) return 'a moment';
    if (seconds < 90) return seconds + (seconds === 1 ? ' second' : ' seconds');
    var minutes = Math.ceil(seconds / 60);
    return minutes + ' minutes';
  }

  /* The sentence a visitor sees for a failed request (field errors are shown apart). */
  function failureMessage(result, what) {
    if (result.network) {
      return (
        'We could not reach our server. Check your connection and try again; ' +
        what +
        ' will not be sent twice.'
      );
    }
    var code = result.error && result.error.code;
    switch (result.status) {
      case 400:
        // A proof of work refused even after a fresh one: nothing the visitor can correct.
        if (result.error && result.error.challenge) break;
        return 'Please correct the highlighted fields.';
      case 409:
        if (code === 'session_closed') return 'This chat has been closed.';
        // One live chat per address: the server's words say where to go on.
        if (code === 'chat_already_open') return result.error.message;
        return 'Your earlier attempt is still being processed. Please wait a moment and try again.';
      case 413:
        return 'That is longer than we can accept. Please shorten it and try again.';
      case 429:
        return (
          'Too many requests from your network just now. Please try again in ' +
          describeWait(result.retryAfter) +
          '.'
        );
      case 503:
        return (
          'Our service is briefly unavailable and ' +
          what +
          ' was not sent. Please try again in ' +
          describeWait(result.retryAfter) +
          '.'
        );
    }
    return 'Something went wrong on our side. Please try again, or email us at ' + CONTACT_EMAIL + '.';
  }

  // == small DOM helpers ==============================================================

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === false || value === null || value === undefined) return;
      if (name === 'text') node.textContent = value;
      else if (name === 'className') node.className = value;
      else node.setAttribute(name, value === true ? '' : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(child);
    });
    return node;
  }

  function say(node, text, tone) {
    if (!node) return;
    node.textContent = text || '';
    node.setAttribute('data-tone', tone || 'info');
    node.hidden = !text;
  }

  /* An error with the one thing the visitor can do about it as a button after it. */
  function sayWithAction(node, text, label, action) {
    if (!node) return;
    var button = el('button', { type: 'button', className: 'fo-button fo-button--quiet', text: label });
    button.addEventListener('click', action);
    say(node, text + ' ', 'error');
    node.appendChild(button);
  }

  function statusLine() {
    return el('p', { className: 'fo-status', role: 'status', 'aria-live': 'polite', hidden: true });
  }

  /* A paragraph that points to the privacy notice, built from text nodes only. */
  function withPrivacyLink(className, before, linkText, after) {
    return el('p', { className: className }, [
      document.createTextNode(before),
      el('a', { href: config.privacyUrl, text: linkText }),
      after ? document.createTextNode(after) : null
    ]);
  }

  var uid = 0;
  function ensureId(node, prefix) {
    if (!node.id) node.id = prefix + '-' + ++uid;
    return node.id;
  }

  function fieldLabel(form, input) {
    if (input.getAttribute('data-label')) return input.getAttribute('data-label');
    var label = input.id && form.querySelector('label[for="' + input.id + '"]');
    if (!label) label = input.closest('label');
    var text = label ? label.textContent.replace(/\(.*?\)/g, '').trim() : '';
    return text || input.name.charAt(0).toUpperCase() + input.name.slice(1);
  }

  /* Shows each problem of a 400 `fields` map beside its field; returns the leftovers. */
  function showFieldErrors(form, fields) {
    var unplaced = [];
    Object.keys(fields || {}).forEach(function (name) {
      var input = form.elements.namedItem(name);
      if (!input || !input.name || input.closest('[data-honeypot]')) {
        unplaced.push(name + ' ' + fields[name]);
        return;
      }
      var errorId = ensureId(input, 'fo-field') + '-error';
      var message = document.getElementById(errorId);
      if (!message) {
        message = el('p', { id: errorId, className: 'fo-field-error' });
        input.insertAdjacentElement('afterend', message);
      }
      message.textContent = sentence(fieldLabel(form, input) + ' ' + fields[name]);
      message.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      var described = (input.getAttribute('aria-describedby') || '').split(/\s+/);
      if (described.indexOf(errorId) < 0) {
        input.setAttribute('aria-describedby', described.concat(errorId).join(' ').trim());
      }
    });
    var first = form.querySelector('[aria-invalid="true"]');
    if (first) first.focus();
    return unplaced;
  }

  function sentence(text) {
    return /[.!?]$/.test(text) ? text : text + '.';
  }

  function clearFieldError(input) {
    if (!input || !input.id) return;
    var message = document.getElementById(input.id + '-error');
    if (message) {
      message.textContent = '';
      message.hidden = true;
    }
    input.removeAttribute('aria-invalid');
  }

  function clearFieldErrors(form) {
    Array.prototype.forEach.call(form.elements, clearFieldError);
  }

  function readFields(form, names) {
    var body = {};
    names.forEach(function (name) {
      var input = form.elements.namedItem(name);
      if (input && typeof input.value === 'string') body[name] = input.value;
    });
    return body;
  }

  /*
   * The Idempotency-Key of one submission: kept while the visitor retries the same
   * content, replaced as soon as the content changes (a changed body under an old key
   * would be refused as a conflict).
   */
  function keyKeeper() {
    var current = null;
    var signature = null;
    return {
      keyFor: function (body) {
        var next = JSON.stringify(body);
        if (next !== signature) {
          current = newKey();
          signature = next;
        }
        return current;
      },
      forget: function () {
        current = null;
        signature = null;
      }
    };
  }

  function setBusy(form, busy) {
    form.setAttribute('aria-busy', busy ? 'true' : 'false');
    Array.prototype.forEach.call(form.querySelectorAll('button[type="submit"], button:not([type])'), function (b) {
      b.disabled = busy;
    });
  }

  /* Typing clears a field's error; submitting calls `submit`, once at a time, in place. The
     browser's own checks are said the script's way, beside the fields and in `status`: its
     bubble is neither announced nor kept on screen. */
  function onSubmit(form, submit, status) {
    form.noValidate = true;
    form.addEventListener('input', function (event) {
      clearFieldError(event.target);
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (form.getAttribute('aria-busy') === 'true' || !fieldsValid(form, status)) return;
      submit();
    });
  }

  function fieldsValid(form, status) {
    var fields = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      var validity = input.validity;
      if (!input.name || !validity || validity.valid || input.closest('[data-honeypot]')) return;
      fields[input.name] = validity.valueMissing ? 'is required' : validity.typeMismatch ? 'is not a valid email address' : 'is not valid';
    });
    if (!Object.keys(fields).length) return true;
    clearFieldErrors(form);
    showFieldErrors(form, fields);
    say(status, 'Please correct the highlighted fields.', 'error');
    return false;
  }

  /* Keeps the form busy, with `pending` said, until `sending` (a request's result) settles. */
  function submitForm(form, status, pending, sending) {
    clearFieldErrors(form);
    setBusy(form, true);
    say(status, pending, 'info');
    return sending.then(function (result) {
      setBusy(form, false);
      return result;
    });
  }

  /*
   * Says in `status` why a request failed. A 400's field problems go beside the form's
   * fields; those it has no field for are added to the sentence.
   */
  function showFailure(status, result, form) {
    var message = failureMessage(result, 'your message');
    // A refused proof of work names no field and its words are not for the visitor.
    var invalid = result.status === 400 && result.error && !result.error.challenge ? result.error : null;
    if (invalid && invalid.fields) {
      var leftovers = showFieldErrors(form, invalid.fields);
      if (leftovers.length) message += ' ' + sentence(leftovers.join('; '));
    } else if (invalid && invalid.message) {
      message = invalid.message; // no field to point at: the server's own words
    }
    say(status, message, 'error');
  }

  // == proof of work ==================================================================

  /*
   * A contact post and a chat start carry a solved challenge of the function's own
   * (`GET <function>/challenge`, an ALTCHA proof of work): a moment of hashing for a
   * visitor, a cost for a bot that posts by the thousand. The challenge is fetched when
   * the visitor starts on the form and solved while they type, so the submit rarely waits
   * for it; the server issues challenges for 10 minutes, and one held longer than
   * PROOF_FRESH_MS is replaced at the submit rather than refused after it.
   */
  var PROOF_FRESH_MS = 9 * 60000;
  var hereSolver = null;

  /* The solver, beside this script wherever the site serves it: no request elsewhere. */
  function solverUrl() {
    return new URL('factoryops-pow.js', (script && script.src) || document.baseURI).href;
  }

  /* Resolves to the challenge's `altcha` field, or null when it could not be solved. */
  function solveChallenge(challenge) {
    return solution(challenge)
      .then(function (found) {
        if (!found) return null;
        return window.btoa(JSON.stringify({ challenge: challenge, solution: found }));
      })
      .catch(function () {
        return null;
      });
  }

  /* In a worker, so that typing stays smooth; on this thread where workers are missing or
     refused (the same code, in steps that leave the page responsive). */
  function solution(challenge) {
    if (typeof window.Worker !== 'function') return solveHere(challenge);
    return new Promise(function (resolve) {
      var worker = new Worker(solverUrl());
      worker.onmessage = function (event) {
        worker.terminate();
        resolve(event.data);
      };
      worker.onerror = function () {
        worker.terminate();
        resolve(solveHere(challenge));
      };
      worker.postMessage(challenge);
    }).catch(function () {
      return solveHere(challenge); // a browser that throws for a worker its CSP refuses
    });
  }

  function solveHere(challenge) {
    if (!hereSolver) {
      hereSolver = new Promise(function (resolve) {
        var tag = el('script', { src: solverUrl(), async: true });
        tag.onload = function () {
          resolve(window.FactoryOpsPow || null);
        };
        tag.onerror = function () {
          resolve(null);
        };
        document.head.appendChild(tag);
      });
    }
    return hereSolver.then(function (solver) {
      return solver ? solver.solve(challenge) : null;
    });
  }

  /*
   * The proofs of one form's posts to `url`. `warm` starts on a challenge ahead of the
   * submit; `post` sends the form's fields with a proof and resolves as `send` does.
   */
  function proofs(url) {
    var challengeUrl = url.replace(/\/+$/, '') + '/challenge';
    var held = null; // the next post's: {at, altcha: a promise}
    var sent = null; // the last post's, while unanswered or refused: {content, at, altcha}

    function fresh(proof) {
      return !!proof && Date.now() - proof.at < PROOF_FRESH_MS;
    }

    function fetchAndSolve() {
      return {
        at: Date.now(),
        altcha: send(challengeUrl, { method: 'GET' }).then(function (result) {
          var challenge = result.ok && result.body;
          return challenge && challenge.parameters ? solveChallenge(challenge) : null;
        })
      };
    }

    /* Each proof is given once: a solution is good for one post. */
    function take() {
      var warmed = fresh(held);
      var next = warmed ? held : fetchAndSolve();
      held = null;
      return next.altcha.then(function (altcha) {
        // Warmed long before (the visitor offline then, say): ask once more now.
        if (!altcha && warmed) return take();
        return { at: next.at, altcha: altcha };
      });
    }

    /*
     * The same content sent again keeps its proof, and so its body and Idempotency-Key: a
     * post stored whose answer was lost is answered again, not stored twice. A proof the
     * server refuses (used, expired, missing) is replaced, once and without a word to the
     * visitor, by the solution of the challenge the refusal carries: a new body, so
     * `keys` gives it a new key.
     */
    function post(keys, fields) {
      var content = JSON.stringify(fields);
      var again = sent && sent.altcha && sent.content === content && fresh(sent);
      var ready = again ? Promise.resolve(sent) : take();

      function attempt(proof, retried) {
        sent = { content: content, at: proof.at, altcha: proof.altcha };
        var body = {};
        Object.keys(fields).forEach(function (name) {
          body[name] = fields[name];
        });
        if (proof.altcha) body.altcha = proof.altcha;
        return send(url, { method: 'POST', body: body, key: keys.keyFor(body) }).then(function (result) {
          var refusal = result.status === 400 && result.error;
          var refused = refusal && /^challenge_(failed|required)$/.test(refusal.code) && refusal.challenge;
          if (result.ok) sent = null;
          if (retried || !refused) return result;
          var at = Date.now();
          return solveChallenge(refusal.challenge).then(function (altcha) {
            return altcha ? attempt({ at: at, altcha: altcha }, true) : result;
          });
        });
      }

      return ready.then(function (proof) {
        return attempt(proof, false);
      });
    }

    return {
      warm: function () {
        if (!fresh(held)) held = fetchAndSolve();
      },
      post: post
    };
  }

  // == consent ========================================================================

  var gaRequested = false;

  function consentChoice() {
    var value = storage.get(KEYS.consent);
    return value === 'granted' || value === 'denied' ? value : null;
  }

  function initConsent() {
    var banner = buildConsentBanner();
    document.body.appendChild(banner.root);
    var choice = consentChoice();
    document.documentElement.setAttribute('data-consent', choice || 'unset');
    if (choice) applyChoice(choice, null);
    else banner.show(false);

    banner.onChoice = function (next) {
      var previous = consentChoice();
      storage.set(KEYS.consent, next);
      document.documentElement.setAttribute('data-consent', next);
      applyChoice(next, previous);
    };

    document.addEventListener('click', function (event) {
      var opener = event.target.closest && event.target.closest('[data-consent-open]');
      if (!opener) return;
      event.preventDefault();
      banner.show(true);
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-consent-open]'), function (opener) {
      opener.setAttribute('aria-controls', banner.root.id);
    });
  }

  /*
   * Google's documented opt-out, `window['ga-disable-<ID>']`, is checked by gtag.js before
   * it sets a cookie or sends a hit: set on every page while analytics is refused, so a
   * tag loaded before the withdrawal goes quiet at once; cleared when the visitor consents.
   */
  function applyChoice(choice, previous) {
    if (config.gaId) window['ga-disable-' + config.gaId] = choice !== 'granted';
    if (choice === 'granted') {
      grantAnalytics();
    } else if (previous === 'granted' || gaRequested) {
      window.gtag('consent', 'update', { analytics_storage: 'denied' });
      removeAnalyticsCookies();
    }
  }

  function grantAnalytics() {
    window.gtag('consent', 'update', { analytics_storage: 'granted' });
    if (gaRequested || !config.gaId) return;
    gaRequested = true;
    window.gtag('js', new Date());
    // No IP setting: GA4 neither logs nor stores IP addresses (analytics.js's anonymize_ip
    // does not exist in GA4).
    window.gtag('config', config.gaId, { cookie_expires: GA_COOKIE_EXPIRES_S });
    var tag = document.createElement('script');
    tag.async = true;
    tag.src = 'https://www.googletagmanager.com/gtag/js?id=' + encodeURIComponent(config.gaId);
    document.head.appendChild(tag);
  }

  /* GA4 sets its cookies on the widest domain it can; expire them on every candidate. */
  function removeAnalyticsCookies() {
    var names = document.cookie
      .split(';')
      .map(function (pair) {
        return pair.split('=')[0].trim();
      })
      .filter(function (name) {
        return name === '_ga' || name.indexOf('_ga_') === 0 || name === '_gid';
      });
    var parts = window.location.hostname.split('.');
    var domains = [''];
    for (var i = 0; i < parts.length - 1; i++) domains.push('; domain=.' + parts.slice(i).join('.'));
    names.forEach(function (name) {
      domains.forEach(function (domain) {
        document.cookie = name + '=; Max-Age=0; path=/' + domain;
      });
    });
  }

  /*
   * The notice's three controls: Reject, Accept all and an Analytics switch. The buttons
   * decide and close the banner; the switch decides at once and stays, showing the choice.
   * A close button keeps the current choice once there is one.
   */
  function buildConsentBanner() {
    var reject = el('button', { type: 'button', className: 'fo-button', 'data-choice': 'denied', text: 'Reject' });
    var accept = el('button', { type: 'button', className: 'fo-button', 'data-choice': 'granted', text: 'Accept all' });
    var toggle = el('button', { type: 'button', className: 'fo-switch', role: 'switch', 'aria-checked': 'false' }, [
      el('span', { text: 'Analytics' }),
      el('span', { className: 'fo-switch__track', 'aria-hidden': 'true' })
    ]);
    var close = el('button', { type: 'button', className: 'fo-consent__close', 'aria-label': 'Keep my current choice', text: '×', hidden: true });
    var text = withPrivacyLink(
      'fo-consent__text',
      'We would like to use Google Analytics to learn which pages are useful. It stays off, and sets no cookies, unless you accept. You can change your mind at any time. ',
      'Privacy notice'
    );
    var title = el('h2', { className: 'fo-consent__title', text: 'Analytics choice' });
    var root = el(
      'section',
      { id: 'fo-consent', className: 'fo-consent', 'aria-labelledby': ensureId(title, 'fo-consent-title'), hidden: true },
      [close, title, text, toggle, el('div', { className: 'fo-consent__actions' }, [reject, accept])]
    );
    function choose(choice) {
      toggle.setAttribute('aria-checked', String(choice === 'granted'));
      close.hidden = false;
      if (banner.onChoice) banner.onChoice(choice);
    }
    // Where the focus was before the banner had it: it goes back there when the banner goes.
    var returnTo = null;
    var banner = {
      root: root,
      onChoice: null,
      show: function (reopened) {
        var choice = consentChoice();
        toggle.setAttribute('aria-checked', String(choice === 'granted'));
        close.hidden = !choice;
        root.hidden = false;
        reserve(root);
        // On a first visit the banner waits to be noticed rather than taking the focus.
        if (reopened) toggle.focus();
      },
      hide: function () {
        var inside = root.contains(document.activeElement);
        root.hidden = true;
        reserve(root);
        if (inside) focusBack(returnTo);
      }
    };
    document.addEventListener('focusin', function (event) {
      if (!root.contains(event.target)) returnTo = event.target;
    });
    // The banner is not modal: the page keeps clear of it (factoryops.css) by its height.
    if (typeof window.ResizeObserver === 'function') {
      new window.ResizeObserver(function () {
        reserve(root);
      }).observe(root);
    }
    [reject, accept].forEach(function (button) {
      button.addEventListener('click', function () {
        choose(button.getAttribute('data-choice'));
        banner.hide();
      });
    });
    toggle.addEventListener('click', function () {
      choose(toggle.getAttribute('aria-checked') === 'true' ? 'denied' : 'granted');
    });
    close.addEventListener('click', banner.hide);
    root.addEventListener('keydown', function (event) {
      // Escape keeps the current choice, as the close button does; a first visit has none.
      if (event.key === 'Escape' && !close.hidden) {
        event.stopPropagation();
        banner.hide();
      }
    });
    return banner;
  }

  /* The room the banner takes at the bottom of the window, for factoryops.css: the page's
     end, a control taking the focus and the chat button keep clear of it. */
  function reserve(root) {
    var space = root.hidden ? 0 : Math.ceil(window.innerHeight - root.getBoundingClientRect().top);
    document.documentElement.style.setProperty('--fo-consent-space', Math.max(space, 0) + 'px');
  }

  /* The focus back where it was, or on the page's heading: never lost to the body. */
  function focusBack(target) {
    var heading = document.querySelector('main h1') || document.querySelector('h1') || document.querySelector('main');
    var next = target && document.contains(target) && target.getClientRects().length ? target : heading;
    if (!next) return;
    if (next === heading && !next.hasAttribute('tabindex')) next.setAttribute('tabindex', '-1');
    next.focus();
  }

  // == contact form ===================================================================

  var CONTACT_FIELDS = ['name', 'email', 'company', 'message', 'website'];

  function initContactForms() {
    var forms = document.querySelectorAll('form[data-factoryops="contact"]');
    if (!forms.length) return;
    if (!config.contactUrl) throw new Error('contact form without a contact URL');
    Array.prototype.forEach.call(forms, initContactForm);
  }

  function initContactForm(form) {
    var keys = keyKeeper();
    var proof = proofs(config.contactUrl);
    var status = form.querySelector('[data-status]');
    if (!status) {
      status = statusLine();
      form.appendChild(status);
    }
    form.addEventListener('focusin', proof.warm);
    onSubmit(form, function () {
      var fields = readFields(form, CONTACT_FIELDS);
      submitForm(form, status, 'Sending…', proof.post(keys, fields)).then(function (result) {
        if (!result.ok) {
          showFailure(status, result, form);
          return;
        }
        keys.forget();
        form.reset();
        say(status, contactThanks(result.body && result.body.team), 'success');
      });
    }, status);
  }

  // == when the team answers ==========================================================

  /*
   * The answers' `team`: {available, back_at, hours, timezone}. `back_at` is said in the
   * team's own zone, with the zone's abbreviation (IST) where the browser knows one.
   */
  function teamKnown(team) {
    return !!team && typeof team === 'object' && typeof team.available === 'boolean';
  }

  function zoneParts(locale, zone, when) {
    try {
      var parts = {};
      new Intl.DateTimeFormat(locale, {
        timeZone: zone,
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
        timeZoneName: 'short'
      })
        .formatToParts(when)
        .forEach(function (part) {
          parts[part.type] = part.value;
        });
      return parts;
    } catch (error) {
      return null; // a zone this browser does not know
    }
  }

  function backAt(team) {
    var when = new Date(team.back_at || '');
    if (isNaN(when)) return '';
    var zone = zoneParts('en-US', team.timezone, when) ? team.timezone : 'UTC';
    var said = '';
    // "GMT+5:30" is an offset, not a name: another English locale may know "IST".
    ['en-US', 'en-GB', 'en-IN', 'en-AU'].some(function (locale) {
      var p = zoneParts(locale, zone, when);
      var text = p.weekday + ' ' + p.hour + ':' + p.minute + ' ' + p.timeZoneName;
      if (!said) said = text;
      if (/^(GMT|UTC)[+-]/.test(p.timeZoneName)) return false;
      said = text;
      return true;
    });
    return said;
  }

  function contactThanks(team) {
    var thanks = 'Thank you. We have your message';
    if (!teamKnown(team)) return thanks + ' and will reply by email.';
    if (team.available) return thanks + ' and will reply by email within the working day.';
    var back = backAt(team);
    return thanks + (back ? '. We\'re back ' + back + ' and will reply by email then.' : ' and will reply by email when we\'re back.');
  }

  /* The chat's promise: when to expect a reply, and where it goes if the visitor leaves. */
  function chatExpectation(team, email) {
    if (!teamKnown(team)) return '';
    var where = email ? ' at ' + email : ' at the address you gave us';
    if (team.available) {
      return 'Thanks, we\'re in. We usually reply within minutes; if you\'ve left by then, we\'ll email you our reply' + where + '.';
    }
    var back = backAt(team);
    return (back ? 'Thanks. We\'re back ' + back : 'Thanks. We\'re away just now') + '; we\'ll email you our reply' + where + '.';
  }

  // == chat ===========================================================================

  var CHAT_GONE = 'Your previous chat is no longer available. Start a new one any time.';

  function initChat() {
    if (!config.chatUrl) return;
    var session = storage.get(KEYS.chat);
    // Everything the widget remembers between events; the functions below share it.
    var chat = {
      ui: buildChat(),
      session: session, // the opaque id; null until the email step is done
      after: null, // the newest message id taken from a poll or the start: polls ask for what follows
      seen: {}, // message ids on screen, so a message shown twice appears once
      closed: false,
      timer: null,
      failures: 0, // failed polls in a row, for the back-off
      notBefore: 0, // no poll before this time (ms since the epoch): the server's Retry-After
      polling: false, // one poll at a time, so `after` only moves forward
      peek: true, // whether the folded widget asks for the unseen count (not an older server's)
      email: null, // the address typed into the start form: in memory only, never stored
      restored: !session, // a reloaded thread is not news: no badge for it
      unseen: session ? null : 0, // the replies the badge counts (a thread kept from an earlier page: not known yet, not news)
      startKeys: keyKeeper(),
      startProofs: proofs(config.chatUrl),
      sendKeys: keyKeeper()
    };
    document.body.appendChild(chat.ui.root);
    bindChat(chat);
    showStep(chat);
    if (chat.session) schedule(chat, 0);
  }

  function bindChat(chat) {
    var ui = chat.ui;
    ui.launcher.addEventListener('click', function () {
      setOpen(chat, ui.panel.hidden);
    });
    ui.close.addEventListener('click', function () {
      setOpen(chat, false);
      ui.launcher.focus();
    });
    ui.restart.addEventListener('click', function () {
      startOver(chat);
    });
    ui.email.addEventListener('focus', chat.startProofs.warm);
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) schedule(chat, 0);
    });
    onSubmit(ui.start, function () {
      startChat(chat);
    }, ui.startStatus);
    onSubmit(ui.compose, function () {
      sendMessage(chat);
    }, ui.composeStatus);
    document.addEventListener('keydown', function (event) {
      if (ui.panel.hidden || event.defaultPrevented || event.isComposing || event.keyCode === 229) return;
      // Keys pressed elsewhere on the page are the page's; focus lost to the body comes back.
      if (ui.root.contains(event.target) || event.target === document.body) keepFocusIn(chat, event);
    });
  }

  /* The open chat is a modal dialog: Escape closes it, and Tab goes round its controls. */
  function keepFocusIn(chat, event) {
    var ui = chat.ui;
    if (event.key === 'Escape') {
      setOpen(chat, false);
      ui.launcher.focus();
      return;
    }
    if (event.key !== 'Tab') return;
    var controls = Array.prototype.filter.call(ui.panel.querySelectorAll('a[href], button, input, textarea'), function (node) {
      return !node.disabled && node.getClientRects().length > 0;
    });
    var first = controls[0];
    var last = controls[controls.length - 1];
    if (!controls.length) return;
    var active = document.activeElement;
    var outside = controls.indexOf(active) < 0 && !ui.panel.contains(active);
    if (event.shiftKey ? outside || active === first : outside || active === last) {
      event.preventDefault();
      (event.shiftKey ? last : first).focus();
    }
  }

  function setOpen(chat, open) {
    var ui = chat.ui;
    ui.news.textContent = '';
    ui.panel.hidden = !open;
    ui.launcher.setAttribute('aria-expanded', open ? 'true' : 'false');
    ui.root.setAttribute('data-open', open ? 'true' : 'false');
    if (open) {
      showUnseen(chat, 0);
      firstField(chat).focus();
      schedule(chat, 0);
    }
  }

  function showStep(chat) {
    var ui = chat.ui;
    ui.start.hidden = !!chat.session;
    ui.thread.hidden = !chat.session;
    ui.root.setAttribute('data-chat', chat.session ? (chat.closed ? 'closed' : 'open') : 'new');
    ui.closedNote.hidden = !chat.closed;
    ui.compose.hidden = chat.closed;
    // What had the focus went with its step (the team closed the chat as the visitor typed).
    var active = document.activeElement;
    if (!ui.panel.hidden && (!active || active === document.body || !active.getClientRects().length)) {
      firstField(chat).focus();
    }
  }

  /* Where the open chat puts the focus: the email, the message, or "start a new chat". */
  function firstField(chat) {
    var ui = chat.ui;
    if (!chat.session) return ui.email;
    return chat.closed ? ui.restart : ui.composeText;
  }

  /* Appends the messages not on screen yet; true when there was one. */
  function render(chat, messages) {
    var fresh = false;
    (messages || []).forEach(function (message) {
      if (!message || !message.id || chat.seen[message.id]) return;
      chat.seen[message.id] = true;
      fresh = true;
      var mine = message.author === 'visitor';
      var who = mine ? 'You' : message.name ? message.name + ', FactoryOps AI' : 'FactoryOps AI';
      var when = new Date(message.created_at);
      var time = el('time', {
        datetime: message.created_at,
        text: isNaN(when) ? '' : when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      });
      chat.ui.messages.appendChild(
        el('li', { className: 'fo-msg fo-msg--' + (mine ? 'visitor' : 'team'), 'data-author': mine ? 'visitor' : 'team' }, [
          el('span', { className: 'fo-msg__who', text: who }),
          el('p', { className: 'fo-msg__text', text: String(message.text || '') }),
          time
        ])
      );
    });
    if (fresh) chat.ui.messages.scrollTop = chat.ui.messages.scrollHeight;
    return fresh;
  }

  /* Drops the session: the email step comes back, with `note` above it. */
  function forget(chat, note) {
    storage.remove(KEYS.chat);
    chat.session = null;
    chat.after = null;
    chat.seen = {};
    chat.restored = true;
    chat.closed = false;
    chat.peek = true;
    chat.email = null;
    chat.ui.messages.textContent = '';
    say(chat.ui.expect, '', 'info');
    showUnseen(chat, 0);
    showStep(chat);
    say(chat.ui.startStatus, note || '', 'info');
    // What was said about the old session (its cap, say) must not greet the next one.
    say(chat.ui.composeStatus, '', 'info');
    if (chat.timer) clearTimeout(chat.timer);
    chat.timer = null;
  }

  function startOver(chat) {
    forget(chat, '');
    chat.ui.email.focus();
  }

  /* The next poll: after `delay` ms, or the usual interval stretched by failures. */
  function schedule(chat, delay) {
    if (chat.timer) clearTimeout(chat.timer);
    chat.timer = null;
    // A closed chat folded away asks nothing: opening the panel reads it again.
    if (!chat.session || (chat.closed && chat.ui.panel.hidden)) return;
    if (delay === undefined) {
      // Folded away, the widget only peeks for replies, and less often; a closed chat in
      // sight is read as rarely, for a late reply or the team reopening it.
      var base = chat.ui.panel.hidden || chat.closed ? config.chatPollMs * 8 : config.chatPollMs;
      delay = Math.min(base * Math.pow(2, chat.failures), 60000);
    }
    // Nothing brings a poll forward past the server's Retry-After, not even opening the panel.
    delay = Math.max(delay, chat.notBefore - Date.now());
    chat.timer = setTimeout(function () {
      poll(chat);
    }, delay);
  }

  /*
   * The next poll. With the panel open it reads the thread, which the server records as
   * seen (and, for an open chat, that the visitor is in it); folded away it only peeks
   * (`?peek=1`): how many team replies are unseen, for the badge, recording nothing, so
   * a reply nobody has read still goes out by email.
   */
  function poll(chat) {
    chat.timer = null;
    if (!chat.session || chat.polling) return;
    if (document.hidden) return; // resumed by visibilitychange
    var url = config.chatUrl;
    var join = url.indexOf('?') < 0 ? '?' : '&';
    if (chat.ui.panel.hidden) {
      if (chat.peek && !chat.closed) ask(chat, url + join + 'peek=1', peeked);
      return;
    }
    if (chat.after) url += join + 'after=' + encodeURIComponent(chat.after);
    ask(chat, url, read);
  }

  /* One GET of the session; `done(chat, body)` for a good answer. Failures are silent. */
  function ask(chat, url, done) {
    var asked = chat.session;
    chat.polling = true;
    send(url, { method: 'GET', session: asked, retries: 0 }).then(function (result) {
      chat.polling = false;
      if (asked !== chat.session) {
        schedule(chat); // the visitor started over meanwhile
        return;
      }
      if (result.status === 404) {
        forget(chat, CHAT_GONE);
        return;
      }
      if (!result.ok || !result.body) {
        // A failed poll is not the visitor's concern: the thread simply waits. A rate limit
        // says how long; polling sooner would only be refused again.
        chat.failures = Math.min(chat.failures + 1, 4);
        if (result.status === 400 && done === peeked) chat.peek = false; // an older server
        if (result.status === 429 && result.retryAfter) {
          chat.notBefore = Date.now() + result.retryAfter * 1000;
        }
        schedule(chat);
        return;
      }
      chat.failures = 0;
      noteTeam(chat, result.body.team);
      done(chat, result.body);
    });
  }

  function peeked(chat, body) {
    // An older server answers a peek with the thread: the widget then waits for the panel.
    if (typeof body.unseen !== 'number') chat.peek = false;
    else if (chat.ui.panel.hidden) showUnseen(chat, body.unseen);
    noteStatus(chat, body.status);
    // Opened meanwhile: read the thread now.
    schedule(chat, chat.ui.panel.hidden ? undefined : 0);
  }

  function read(chat, body) {
    var messages = body.messages || [];
    if (messages.length) chat.after = messages[messages.length - 1].id;
    var replies = messages.filter(function (m) {
      return m && m.author === 'team' && !chat.seen[m.id];
    }).length;
    render(chat, messages);
    // Folded away while this poll was under way: its replies are news.
    if (replies && chat.restored && chat.ui.panel.hidden) showUnseen(chat, replies);
    // A reloaded thread is restored once its last page is in; only what follows is news.
    if (!body.more) chat.restored = true;
    noteStatus(chat, body.status);
    // More waiting after this page: a reloaded long thread arrives at once.
    schedule(chat, body.more ? 0 : undefined);
  }

  /* Closed by the team, or reopened: the compose box goes or comes back. A closed chat is
     still polled, as rarely as a folded one, for a late reply or a reopening. */
  function noteStatus(chat, status) {
    var closed = status === 'closed';
    if (closed === chat.closed) return;
    chat.closed = closed;
    showStep(chat);
  }

  /* The badge on the chat button: replies waiting, in words and in its accessible name. */
  function showUnseen(chat, count) {
    var ui = chat.ui;
    var text = count > 0 ? count + (count === 1 ? ' new reply' : ' new replies') : '';
    ui.badge.textContent = text;
    ui.badge.hidden = !text;
    // More replies than the badge said: news, once per batch, in a live region outside the
    // folded panel (the panel's own is not in the page while it is folded).
    if (chat.unseen !== null && count > chat.unseen) {
      ui.news.textContent = '';
      setTimeout(function () {
        if (ui.panel.hidden) ui.news.textContent = 'New reply from FactoryOps AI';
      }, 100);
    }
    chat.unseen = count;
  }

  /* Says when to expect a reply, from an answer's `team` (an older server sends none). */
  function noteTeam(chat, team) {
    if (!teamKnown(team)) return;
    var text = chatExpectation(team, chat.email);
    if (chat.ui.expect.textContent !== text) say(chat.ui.expect, text, 'info');
  }

  /* The email-first form: starts a session, with the visitor's question if there is one. */
  function startChat(chat) {
    var ui = chat.ui;
    // The site's path only: the server knows its own origin, and a query string may carry
    // campaign tags that are none of the chat's business.
    var body = { email: ui.email.value, page: window.location.pathname };
    if (ui.startText.value.trim()) body.text = ui.startText.value;
    var sending = chat.startProofs.post(chat.startKeys, body);
    submitForm(ui.start, ui.startStatus, 'Starting your chat…', sending).then(function (result) {
      if (!result.ok || !result.body || !result.body.session_id) {
        showFailure(ui.startStatus, result, ui.start);
        return;
      }
      chat.startKeys.forget();
      ui.start.reset();
      say(ui.startStatus, '', 'info');
      chat.session = result.body.session_id;
      storage.set(KEYS.chat, chat.session);
      chat.closed = false;
      chat.peek = true;
      chat.email = body.email.trim(); // for the promise below; never stored
      noteTeam(chat, result.body.team);
      var messages = result.body.messages || [];
      render(chat, messages);
      if (messages.length) chat.after = messages[messages.length - 1].id;
      showStep(chat);
      ui.composeText.focus();
      schedule(chat);
    });
  }

  /* The compose form: one message into the open session. */
  function sendMessage(chat) {
    var ui = chat.ui;
    if (!chat.session || !ui.composeText.value.trim()) return;
    var body = { text: ui.composeText.value };
    var asked = chat.session;
    var request = { method: 'POST', body: body, key: chat.sendKeys.keyFor(body), session: asked };
    submitForm(ui.compose, ui.composeStatus, '', send(config.chatUrl, request)).then(function (result) {
      if (asked !== chat.session) return;
      var code = result.error && result.error.code;
      if (result.ok && result.body && result.body.message) {
        chat.sendKeys.forget();
        ui.compose.reset();
        // `after` stays: a team reply written before this message may not be polled yet.
        render(chat, [result.body.message]);
        ui.composeText.focus();
        schedule(chat);
      } else if (result.status === 404) {
        forget(chat, CHAT_GONE);
      } else if (result.status === 409 && code === 'session_closed') {
        chat.closed = true;
        showStep(chat);
      } else if (code === 'chat_limit_reached') {
        // The session's message cap, which time does not lift (its Retry-After is only
        // long): offer a new chat. Polls go on, so the team's replies still arrive.
        sayWithAction(ui.composeStatus, result.error.message, 'Start a new chat', function () {
          startOver(chat);
        });
      } else {
        showFailure(ui.composeStatus, result, ui.compose);
      }
    });
  }

  function buildChat() {
    var ui = {};
    ui.badge = el('span', { className: 'fo-chat__badge', hidden: true });
    // Named by what it shows ("Chat with us 2 new replies"), as speech input users say it.
    ui.launcher = el('button', { type: 'button', className: 'fo-chat__launcher', 'aria-expanded': 'false', 'aria-controls': 'fo-chat-panel' }, [
      el('span', { text: 'Chat with us' }),
      document.createTextNode(' '),
      ui.badge
    ]);
    ui.news = el('p', { className: 'fo-visually-hidden', role: 'status', 'aria-live': 'polite' });
    ui.close = el('button', { type: 'button', className: 'fo-chat__close', 'aria-label': 'Close the chat', text: '×' });

    ui.email = el('input', { type: 'email', name: 'email', required: true, maxlength: '254', autocomplete: 'email', id: 'fo-chat-email' });
    ui.startText = el('textarea', { name: 'text', rows: '3', maxlength: '4000', id: 'fo-chat-first' });
    ui.startStatus = statusLine();
    var note = withPrivacyLink(
      'fo-chat__note',
      'We ask for your email first so we can reply even after you leave. This browser keeps only an id for this chat; see our ',
      'privacy notice',
      '.'
    );
    ui.start = el('form', { className: 'fo-chat__start' }, [
      note,
      el('label', { for: 'fo-chat-email', text: 'Work email' }),
      ui.email,
      el('label', { for: 'fo-chat-first', text: 'Your question (optional)' }),
      ui.startText,
      el('button', { type: 'submit', className: 'fo-button', text: 'Start chat' }),
      ui.startStatus
    ]);

    ui.messages = el('ol', { className: 'fo-chat__messages', 'aria-live': 'polite', 'aria-label': 'Messages' });
    ui.restart = el('button', { type: 'button', className: 'fo-button fo-button--quiet', text: 'Start a new chat' });
    ui.closedNote = el('div', { className: 'fo-chat__closed', role: 'status', hidden: true }, [
      el('p', { text: 'This chat has been closed by our team. Thank you for writing.' }),
      ui.restart
    ]);
    ui.composeText = el('textarea', { name: 'text', rows: '2', maxlength: '4000', required: true, id: 'fo-chat-text', 'data-label': 'Message' });
    ui.composeStatus = statusLine();
    ui.compose = el('form', { className: 'fo-chat__compose' }, [
      el('label', { for: 'fo-chat-text', className: 'fo-visually-hidden', text: 'Your message' }),
      ui.composeText,
      el('button', { type: 'submit', className: 'fo-button', text: 'Send' }),
      ui.composeStatus
    ]);
    ui.expect = el('p', { className: 'fo-chat__expect', role: 'status', hidden: true });
    ui.thread = el('div', { className: 'fo-chat__thread', hidden: true }, [ui.expect, ui.messages, ui.closedNote, ui.compose]);

    var title = el('h2', { className: 'fo-chat__title', text: 'Chat with FactoryOps AI', id: 'fo-chat-title' });
    ui.panel = el('div', { id: 'fo-chat-panel', className: 'fo-chat__panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'fo-chat-title', hidden: true }, [
      el('header', { className: 'fo-chat__header' }, [title, ui.close]),
      ui.start,
      ui.thread
    ]);
    ui.root = el('div', { className: 'fo-chat', 'data-open': 'false' }, [ui.panel, ui.launcher, ui.news]);
    return ui;
  }

  // == per-lead unlock ================================================================

  /* The token of a per-lead link, taken out of the address at once: `#access=<token>`,
     which no browser sends to any server, or `?access=<token>` from links made before
     the fragment (the site's host has seen that one; a Referer will not see it again). */
  function takeAccessToken() {
    var url;
    try {
      url = new URL(window.location.href);
    } catch (error) {
      return null;
    }
    var token = null;
    var fragment = new URLSearchParams(url.hash.replace(/^#/, ''));
    if (fragment.has('access')) {
      token = fragment.get('access');
      fragment.delete('access');
      var rest = fragment.toString();
      url.hash = rest ? '#' + rest : '';
    }
    if (url.searchParams.has('access')) {
      if (token === null) token = url.searchParams.get('access');
      url.searchParams.delete('access');
    }
    if (token === null) return null;
    try {
      window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
    } catch (error) {
      /* an old browser keeps the address as it was */
    }
    return token.trim() || null;
  }

  function readAccessFlag() {
    var raw = storage.get(KEYS.access);
    if (!raw) return null;
    try {
      var flag = JSON.parse(raw);
      if (!flag || typeof flag.token !== 'string' || !Array.isArray(flag.sections)) throw new Error('bad flag');
      if (flag.expires_at && Date.parse(flag.expires_at) <= Date.now()) throw new Error('expired');
      return flag;
    } catch (error) {
      storage.remove(KEYS.access);
      return null;
    }
  }

  function applySections(sections) {
    var open = {};
    (sections || []).forEach(function (name) {
      open[name] = true;
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-gated]'), function (node) {
      node.hidden = !open[node.getAttribute('data-gated')];
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-gated-teaser]'), function (node) {
      node.hidden = !!open[node.getAttribute('data-gated-teaser')];
    });
  }

  function setAccessState(state) {
    document.documentElement.setAttribute('data-access', state);
  }

  /* Whether the stored flag was confirmed by the server within this visit's window. */
  function checkedLately(flag) {
    var at = Date.parse(flag.checked_at || '');
    var now = Date.now();
    return !isNaN(at) && at <= now && now - at < config.accessRecheckMs;
  }

  function initUnlock() {
    var status = document.querySelector('[data-access-status]');
    var flag = readAccessFlag();
    applySections(flag ? flag.sections : []);
    var fromLink = !!pendingToken;
    var token = pendingToken || (flag && flag.token);
    pendingToken = null;
    if (!token || !config.accessUrl) {
      setAccessState(flag ? 'unlocked' : 'locked');
      return;
    }
    // This browser holds a use of this very link: opening it again is a return visit.
    var held = !!flag && flag.token === token && typeof flag.receipt === 'string' && !!flag.receipt;
    // A re-check records nothing on the grant; a visit still checks once, not on every page.
    if ((!fromLink || held) && checkedLately(flag)) {
      setAccessState('unlocked');
      return;
    }
    // A stored flag shows its sections at once; the check below confirms or revokes them.
    setAccessState(flag ? 'unlocked' : 'checking');
    var replacing = fromLink && flag && flag.token !== token;

    // A link's first opening in this browser counts one use of the grant; every later
    // visit, through the link or not, re-checks with the receipt, which records nothing.
    var body = { token: token };
    if (held) body.receipt = flag.receipt;

    function redeem() {
      send(config.accessUrl, { method: 'POST', body: body }).then(function (result) {
        if (result.ok && result.body && result.body.unlocked) {
          var sections = Array.isArray(result.body.sections) ? result.body.sections : [];
          storage.set(
            KEYS.access,
            JSON.stringify({
              token: token,
              receipt: result.body.receipt || body.receipt || null,
              sections: sections,
              expires_at: result.body.expires_at || null,
              checked_at: new Date().toISOString()
            })
          );
          applySections(sections);
          setAccessState('unlocked');
          if (fromLink) say(status, 'Welcome. The sections prepared for you are now open.', 'success');
          return;
        }
        var refused = result.status === 403 || result.status === 400;
        if (refused && replacing) {
          // A bad new link leaves an earlier, still valid unlock alone.
          setAccessState('unlocked');
          say(status, 'This access link is not valid any more. Please ask us for a new one.', 'error');
          return;
        }
        if (refused) {
          storage.remove(KEYS.access);
          applySections([]);
          setAccessState('locked');
          say(
            status,
            fromLink
              ? 'This access link is not valid any more. Please ask us for a new one.'
              : 'Your access to the private sections has ended. Please ask us for a new link.',
            'error'
          );
          return;
        }
        // An outage or a rate limit is not a revocation: keep what the visitor had.
        if (flag) {
          setAccessState('unlocked');
          return;
        }
        setAccessState('locked');
        sayWithAction(status, 'We could not check your access link just now.', 'Try again', function () {
          say(status, '', 'info');
          setAccessState('checking');
          redeem();
        });
      });
    }
    redeem();
  }

  // Last, so that every declaration above has run (a deferred script finds the page ready).
  ready(function () {
    [initConsent, initUnlock, initContactForms, initChat].forEach(function (init) {
      try {
        init();
      } catch (error) {
        // One broken part must not take the others down with it.
        if (window.console) window.console.error('factoryops:', error);
      }
    });
    // A link opened on a page already showing its path changes only the fragment, and
    // the browser does not load the page again.
    window.addEventListener('hashchange', function () {
      var token = takeAccessToken();
      if (!token) return;
      pendingToken = token;
      initUnlock();
    });
  });
})();
