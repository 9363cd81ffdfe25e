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
 *   requested only after the visitor accepts analytics. Any `[data-consent-open]`
 *   control re-opens the choice.
 * - contact: every `form[data-factoryops="contact"]` posts JSON with an Idempotency-Key.
 * - chat: a widget that asks for the email first and polls for the team's replies.
 * - unlock: `?access=<token>` is removed from the address bar at once, redeemed, and
 *   re-checked on later visits (once per 30 minutes, `data-access-recheck-minutes`);
 *   `[data-gated="section"]` elements show when unlocked, `[data-gated-teaser="section"]`
 *   ones while locked. Gating a static page hides, it does not protect: keep what must
 *   stay private off the public page.
 *
 * Browser storage: localStorage only, three keys (see KEYS), never cookies. Server data
 * reaches the page through textContent only.
 */
(function () {
  'use strict';

  var KEYS = {
    consent: 'factoryops.consent', // "granted" | "denied"
    chat: 'factoryops.chat', // the opaque chat session id
    access: 'factoryops.access' // {"token", "sections", "expires_at", "checked_at"}
  };
  var REQUEST_TIMEOUT_MS = 30000;
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
        return 'Please correct the highlighted fields.';
      case 409:
        if (code === 'session_closed') return 'This chat has been closed.';
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
      default:
        return (
          'Something went wrong on our side. Please try again, or email us at ' +
          CONTACT_EMAIL +
          '.'
        );
    }
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
    if (choice === 'granted') grantAnalytics();
    if (!choice) banner.show(false);

    banner.onChoice = function (next) {
      var previous = consentChoice();
      storage.set(KEYS.consent, next);
      document.documentElement.setAttribute('data-consent', next);
      if (next === 'granted') {
        grantAnalytics();
      } else if (previous === 'granted' || gaRequested) {
        window.gtag('consent', 'update', { analytics_storage: 'denied' });
        removeAnalyticsCookies();
      }
      banner.hide();
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

  function grantAnalytics() {
    window.gtag('consent', 'update', { analytics_storage: 'granted' });
    if (gaRequested || !config.gaId) return;
    gaRequested = true;
    window.gtag('js', new Date());
    window.gtag('config', config.gaId);
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

  function buildConsentBanner() {
    var current = el('p', { className: 'fo-consent__current', hidden: true });
    var reject = el('button', { type: 'button', className: 'fo-button', 'data-choice': 'denied', text: 'Reject' });
    var accept = el('button', { type: 'button', className: 'fo-button', 'data-choice': 'granted', text: 'Accept all' });
    var close = el('button', { type: 'button', className: 'fo-consent__close', 'aria-label': 'Keep my current choice', text: '×', hidden: true });
    var privacy = el('a', { href: config.privacyUrl, text: 'Privacy notice' });
    var text = el('p', { className: 'fo-consent__text' });
    text.appendChild(
      document.createTextNode(
        'We would like to use Google Analytics to learn which pages are useful. It stays off, and sets no cookies, unless you accept. You can change your mind at any time. '
      )
    );
    text.appendChild(privacy);
    var title = el('h2', { className: 'fo-consent__title', text: 'Analytics' });
    var root = el(
      'section',
      { id: 'fo-consent', className: 'fo-consent', 'aria-labelledby': ensureId(title, 'fo-consent-title'), hidden: true },
      [close, title, text, current, el('div', { className: 'fo-consent__actions' }, [reject, accept])]
    );
    var banner = {
      root: root,
      onChoice: null,
      show: function (reopened) {
        var choice = consentChoice();
        current.hidden = !reopened || !choice;
        current.textContent =
          choice === 'granted' ? 'Analytics is currently on.' : 'Analytics is currently off.';
        close.hidden = !choice;
        root.hidden = false;
        // On a first visit the banner waits to be noticed rather than taking the focus.
        if (reopened) (choice === 'granted' ? reject : accept).focus();
      },
      hide: function () {
        root.hidden = true;
      }
    };
    [reject, accept].forEach(function (button) {
      button.addEventListener('click', function () {
        if (banner.onChoice) banner.onChoice(button.getAttribute('data-choice'));
      });
    });
    close.addEventListener('click', banner.hide);
    return banner;
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
    var status = form.querySelector('[data-status]');
    if (!status) {
      status = el('p', { className: 'fo-status', role: 'status', 'aria-live': 'polite', hidden: true });
      form.appendChild(status);
    }
    form.addEventListener('input', function (event) {
      clearFieldError(event.target);
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (form.getAttribute('aria-busy') === 'true') return;
      var body = readFields(form, CONTACT_FIELDS);
      var key = keys.keyFor(body);
      clearFieldErrors(form);
      setBusy(form, true);
      say(status, 'Sending…', 'info');
      send(config.contactUrl, { method: 'POST', body: body, key: key }).then(function (result) {
        setBusy(form, false);
        if (result.ok) {
          keys.forget();
          form.reset();
          say(status, 'Thank you. We have your message and will reply by email.', 'success');
          return;
        }
        var message = failureMessage(result, 'your message');
        if (result.status === 400 && result.error && result.error.fields) {
          var leftovers = showFieldErrors(form, result.error.fields);
          if (leftovers.length) message += ' ' + sentence(leftovers.join('; '));
        } else if (result.status === 400 && result.error) {
          message = result.error.message;
        }
        say(status, message, 'error');
      });
    });
  }

  // == chat ===========================================================================

  function initChat() {
    if (!config.chatUrl) return;
    var ui = buildChat();
    document.body.appendChild(ui.root);

    var session = storage.get(KEYS.chat);
    var after = null;
    var seen = {};
    var closed = false;
    var timer = null;
    var failures = 0;
    var polling = false; // one poll at a time, so `after` only moves forward
    var restored = !session; // a reloaded thread is not news: no badge for it
    var startKeys = keyKeeper();
    var sendKeys = keyKeeper();

    function setOpen(open) {
      ui.panel.hidden = !open;
      ui.launcher.setAttribute('aria-expanded', open ? 'true' : 'false');
      ui.root.setAttribute('data-open', open ? 'true' : 'false');
      if (open) {
        ui.badge.hidden = true;
        (session ? ui.composeText : ui.email).focus();
        schedule(0);
      }
    }

    function showStep() {
      ui.start.hidden = !!session;
      ui.thread.hidden = !session;
      ui.root.setAttribute('data-chat', session ? (closed ? 'closed' : 'open') : 'new');
      ui.closedNote.hidden = !closed;
      ui.compose.hidden = closed;
    }

    function render(messages) {
      var fresh = false;
      (messages || []).forEach(function (message) {
        if (!message || !message.id || seen[message.id]) return;
        seen[message.id] = true;
        fresh = true;
        var mine = message.author === 'visitor';
        var when = new Date(message.created_at);
        var time = el('time', {
          datetime: message.created_at,
          text: isNaN(when) ? '' : when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
        });
        ui.messages.appendChild(
          el('li', { className: 'fo-msg fo-msg--' + (mine ? 'visitor' : 'team'), 'data-author': mine ? 'visitor' : 'team' }, [
            el('span', { className: 'fo-msg__who', text: mine ? 'You' : 'FactoryOps AI' }),
            el('p', { className: 'fo-msg__text', text: String(message.text || '') }),
            time
          ])
        );
      });
      if (fresh) ui.messages.scrollTop = ui.messages.scrollHeight;
      return fresh;
    }

    function forget(note) {
      storage.remove(KEYS.chat);
      session = null;
      after = null;
      seen = {};
      restored = true;
      closed = false;
      ui.messages.textContent = '';
      showStep();
      say(ui.startStatus, note || '', 'info');
      if (timer) clearTimeout(timer);
      timer = null;
    }

    function schedule(delay) {
      if (timer) clearTimeout(timer);
      timer = null;
      if (!session || closed) return;
      if (delay === undefined) {
        var base = ui.panel.hidden ? config.chatPollMs * 4 : config.chatPollMs;
        delay = Math.min(base * Math.pow(2, failures), 60000);
      }
      timer = setTimeout(poll, delay);
    }

    function poll() {
      timer = null;
      if (!session || closed || polling) return;
      if (document.hidden) return; // resumed by visibilitychange
      var url = config.chatUrl;
      if (after) url += (url.indexOf('?') < 0 ? '?' : '&') + 'after=' + encodeURIComponent(after);
      var asked = session;
      polling = true;
      send(url, { method: 'GET', session: session, retries: 0 }).then(function (result) {
        polling = false;
        if (asked !== session) {
          schedule(); // the visitor started over meanwhile
          return;
        }
        if (result.status === 404) {
          forget('Your previous chat is no longer available. Start a new one any time.');
          return;
        }
        if (!result.ok || !result.body) {
          failures = Math.min(failures + 1, 4);
          schedule();
          return;
        }
        failures = 0;
        var messages = result.body.messages || [];
        if (messages.length) after = messages[messages.length - 1].id;
        var replied = messages.some(function (m) {
          return m && m.author === 'team' && !seen[m.id];
        });
        render(messages);
        if (replied && restored && ui.panel.hidden) ui.badge.hidden = false;
        restored = true;
        if (result.body.status === 'closed') {
          closed = true;
          showStep();
          return;
        }
        // More waiting after this page: a reloaded long thread arrives at once.
        schedule(result.body.more ? 0 : undefined);
      });
    }

    ui.launcher.addEventListener('click', function () {
      setOpen(ui.panel.hidden);
    });
    ui.close.addEventListener('click', function () {
      setOpen(false);
      ui.launcher.focus();
    });
    ui.restart.addEventListener('click', function () {
      forget('');
      ui.email.focus();
    });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) schedule(0);
    });
    [ui.start, ui.compose].forEach(function (form) {
      form.addEventListener('input', function (event) {
        clearFieldError(event.target);
      });
    });

    ui.start.addEventListener('submit', function (event) {
      event.preventDefault();
      if (ui.start.getAttribute('aria-busy') === 'true') return;
      var body = {
        email: ui.email.value,
        page: window.location.origin + window.location.pathname
      };
      if (ui.startText.value.trim()) body.text = ui.startText.value;
      var key = startKeys.keyFor(body);
      clearFieldErrors(ui.start);
      setBusy(ui.start, true);
      say(ui.startStatus, 'Starting your chat…', 'info');
      send(config.chatUrl, { method: 'POST', body: body, key: key }).then(function (result) {
        setBusy(ui.start, false);
        if (result.ok && result.body && result.body.session_id) {
          startKeys.forget();
          ui.start.reset();
          say(ui.startStatus, '', 'info');
          session = result.body.session_id;
          storage.set(KEYS.chat, session);
          closed = false;
          var messages = result.body.messages || [];
          render(messages);
          if (messages.length) after = messages[messages.length - 1].id;
          showStep();
          ui.composeText.focus();
          schedule();
          return;
        }
        var message = failureMessage(result, 'your message');
        if (result.status === 400 && result.error && result.error.fields) {
          var leftovers = showFieldErrors(ui.start, result.error.fields);
          if (leftovers.length) message += ' ' + sentence(leftovers.join('; '));
        }
        say(ui.startStatus, message, 'error');
      });
    });

    ui.compose.addEventListener('submit', function (event) {
      event.preventDefault();
      if (!session || ui.compose.getAttribute('aria-busy') === 'true') return;
      if (!ui.composeText.value.trim()) return;
      var body = { text: ui.composeText.value };
      var key = sendKeys.keyFor(body);
      var asked = session;
      clearFieldErrors(ui.compose);
      setBusy(ui.compose, true);
      say(ui.composeStatus, '', 'info');
      send(config.chatUrl, { method: 'POST', body: body, key: key, session: session }).then(function (result) {
        setBusy(ui.compose, false);
        if (asked !== session) return;
        if (result.ok && result.body && result.body.message) {
          sendKeys.forget();
          ui.compose.reset();
          render([result.body.message]);
          ui.composeText.focus();
          schedule();
          return;
        }
        if (result.status === 404) {
          forget('Your previous chat is no longer available. Start a new one any time.');
          return;
        }
        if (result.status === 409 && result.error && result.error.code === 'session_closed') {
          closed = true;
          showStep();
          return;
        }
        if (result.error && result.error.code === 'chat_limit_reached') {
          // The session's message cap, which time does not lift: offer a new chat.
          var restart = el('button', { type: 'button', className: 'fo-button fo-button--quiet', text: 'Start a new chat' });
          restart.addEventListener('click', function () {
            forget('');
            ui.email.focus();
          });
          say(ui.composeStatus, result.error.message + ' ', 'error');
          ui.composeStatus.appendChild(restart);
          return;
        }
        var message = failureMessage(result, 'your message');
        if (result.status === 400 && result.error && result.error.fields) {
          var leftovers = showFieldErrors(ui.compose, result.error.fields);
          if (leftovers.length) message += ' ' + sentence(leftovers.join('; '));
        }
        say(ui.composeStatus, message, 'error');
      });
    });

    showStep();
    if (session) schedule(0);
  }

  function buildChat() {
    var ui = {};
    ui.badge = el('span', { className: 'fo-chat__badge', text: 'New reply', hidden: true });
    ui.launcher = el('button', { type: 'button', className: 'fo-chat__launcher', 'aria-expanded': 'false', 'aria-controls': 'fo-chat-panel' }, [
      el('span', { text: 'Chat with us' }),
      ui.badge
    ]);
    ui.close = el('button', { type: 'button', className: 'fo-chat__close', 'aria-label': 'Close the chat', text: '×' });

    ui.email = el('input', { type: 'email', name: 'email', required: true, maxlength: '254', autocomplete: 'email', id: 'fo-chat-email' });
    ui.startText = el('textarea', { name: 'text', rows: '3', maxlength: '4000', id: 'fo-chat-first' });
    ui.startStatus = el('p', { className: 'fo-status', role: 'status', 'aria-live': 'polite', hidden: true });
    var privacy = el('a', { href: config.privacyUrl, text: 'privacy notice' });
    var note = el('p', { className: 'fo-chat__note' });
    note.appendChild(
      document.createTextNode(
        'We ask for your email first so we can reply even after you leave. This browser keeps only an id for this chat; see our '
      )
    );
    note.appendChild(privacy);
    note.appendChild(document.createTextNode('.'));
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
    ui.composeStatus = el('p', { className: 'fo-status', role: 'status', 'aria-live': 'polite', hidden: true });
    ui.compose = el('form', { className: 'fo-chat__compose' }, [
      el('label', { for: 'fo-chat-text', className: 'fo-visually-hidden', text: 'Your message' }),
      ui.composeText,
      el('button', { type: 'submit', className: 'fo-button', text: 'Send' }),
      ui.composeStatus
    ]);
    ui.thread = el('div', { className: 'fo-chat__thread', hidden: true }, [ui.messages, ui.closedNote, ui.compose]);

    var title = el('h2', { className: 'fo-chat__title', text: 'Chat with FactoryOps AI', id: 'fo-chat-title' });
    ui.panel = el('section', { id: 'fo-chat-panel', className: 'fo-chat__panel', 'aria-labelledby': 'fo-chat-title', hidden: true }, [
      el('header', { className: 'fo-chat__header' }, [title, ui.close]),
      ui.start,
      ui.thread
    ]);
    ui.root = el('div', { className: 'fo-chat', 'data-open': 'false' }, [ui.panel, ui.launcher]);
    return ui;
  }

  // == per-lead unlock ================================================================

  function takeAccessToken() {
    var url;
    try {
      url = new URL(window.location.href);
    } catch (error) {
      return null;
    }
    if (!url.searchParams.has('access')) return null;
    var token = (url.searchParams.get('access') || '').trim();
    url.searchParams.delete('access');
    try {
      window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
    } catch (error) {
      /* an old browser keeps the address as it was */
    }
    return token || null;
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
    // Every check counts as a use of the grant, so a visit checks once, not every page.
    if (!fromLink && checkedLately(flag)) {
      setAccessState('unlocked');
      return;
    }
    // A stored flag shows its sections at once; the check below confirms or revokes them.
    setAccessState(flag ? 'unlocked' : 'checking');
    var replacing = fromLink && flag && flag.token !== token;

    function redeem() {
      send(config.accessUrl, { method: 'POST', body: { token: token } }).then(function (result) {
        if (result.ok && result.body && result.body.unlocked) {
          var sections = Array.isArray(result.body.sections) ? result.body.sections : [];
          storage.set(
            KEYS.access,
            JSON.stringify({
              token: token,
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
        var retry = el('button', { type: 'button', className: 'fo-button fo-button--quiet', text: 'Try again' });
        retry.addEventListener('click', function () {
          say(status, '', 'info');
          setAccessState('checking');
          redeem();
        });
        if (status) {
          say(status, 'We could not check your access link just now. ', 'error');
          status.appendChild(retry);
        }
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
  });
})();
