/*
 * console.js: the team console's page. No dependencies, no build step; the team_console
 * function serves it with a strict Content-Security-Policy, so there is no inline code
 * or style anywhere.
 *
 * Sign-in: Google Identity Services (or, on the local stack, the local sign-in stand-in)
 * hands over a Google ID token, which lives in this script's memory only, never in a
 * cookie or storage (the one thing stored is the optional sound preference). This script
 * sets no cookie; Google's sets one on this origin, `g_state`, where signing out
 * (`disableAutoSelect`) and a dismissed One Tap are remembered, with no token or address.
 * Every API call sends the token as `Authorization: Bearer`; a 401 forgets it and asks
 * to sign in again, a 403 says the account may not use the console. A returning member
 * is signed in without a click: Google's One Tap with auto_select, or on the local stack
 * the stand-in's /signin/auto, which remembers the browser with a cookie of its own
 * origin, as Google does. Signing out tells either to forget.
 *
 * Views, by URL hash: #/chats, #/chats/<lead id> (the team's nudge email links there),
 * #/spam, #/grants, #/grants/<grant id> (the note that a lead opened their link links
 * there), #/deliveries, #/privacy, #/audit, #/status. While the page is visible an open
 * chat polls for new messages every few seconds, and on every view the chat list's
 * changes come every few seconds more: they keep the list, the count of chats awaiting a
 * reply (in the navigation and the tab's title) and an optional sound up to date. The
 * count beside "Spam" is asked on signing in and follows the Spam view's list.
 *
 * A field an answer lacks (a chat with no contact form has no person, an older chat no
 * preview) is simply left out.
 *
 * Whatever a visitor or a lead wrote reaches the page through textContent only.
 */
(function () {
  'use strict';

  var POLL_MS = 3000; // the open thread
  var PULSE_MS = 4000; // the chat list's changes and the awaiting count, on every view
  var STATUS_EVERY_MS = 20000;
  var SEARCH_DELAY_MS = 300;
  var REQUEST_TIMEOUT_MS = 30000;
  var CHANGES_LIMIT = 100; // the most changes one answer holds: at that, reload instead
  var SPAM_PAGE = 50; // posts in a page of Spam; the count beside "Spam" is the first page's
  var SPAM_LINES = 3; // of a held post's message, the lines shown before "Show all of it"
  var SPAM_CHARACTERS = 280;
  var GOOGLE_SCRIPT = 'https://accounts.google.com/gsi/client';
  var VIEWS = ['chats', 'spam', 'grants', 'deliveries', 'privacy', 'audit', 'status'];
  var LEAD_ID = /^[0-9a-f]{16}$/;
  var GRANT_ID = /^[0-9a-f]{64}$/;
  var IN_PAGE_LINK = /^#\/(chats\/[0-9a-f]{16}|grants\/[0-9a-f]{8,64})$/;
  var SOUND_KEY = 'factoryops.console.sound'; // "on" when the member wants the sound
  var TITLE = document.title;

  var state = {
    grant: '', // the grant a #/grants/<id> link names, shown once the list is there
    config: null,
    token: null, // the ID token: memory only
    email: '',
    name: '', // the member's display name, when the API gives one
    view: '',
    chat: null, // the open thread: {leadId, lastId, timer, busy, again, closed, ...}
    list: freshList(),
    spam: freshSpam(0),
    asOf: null, // the server's time of the last chat listing: changes are asked after it
    awaiting: null, // chats awaiting a reply, as last counted
    pulseTimer: null,
    pulsing: false,
    pulseAgain: false,
    exported: null, // the privacy export shown, for its download
    statusTimer: null,
    audio: null,
    keys: {}, // Idempotency-Keys of actions not yet answered, by action
    googleReady: false,
    googleLoading: false
  };

  /* The chat list as shown: the view and search it answers, its chats in order. */
  function freshList() {
    return { view: 'open', q: '', searched: '', chats: [], next: null, loaded: false, loading: false, ticket: 0, nodes: {} };
  }

  /* The Spam view as shown: the posts held, in the server's order, and the next page's
   * cursor; `ticket` tells a listing's answer from that of a listing since replaced. */
  function freshSpam(ticket) {
    return { posts: [], next: null, days: 0, ticket: ticket };
  }

  // == small helpers ==================================================================

  function find(selector, root) {
    return (root || document).querySelector(selector);
  }

  /* An element with a class and text; children are appended in order, nulls skipped. */
  function make(tag, className, text, children) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (var i = 0; children && i < children.length; i++) {
      if (children[i]) node.appendChild(children[i]);
    }
    return node;
  }

  function textNode(text) {
    return document.createTextNode(text);
  }

  /* A link within the page, only to a chat or a grant: never a URL from elsewhere. */
  function pageLink(href, className, text) {
    if (!IN_PAGE_LINK.test(href || '')) return make('strong', className, text);
    var link = make('a', className, text);
    link.href = href;
    return link;
  }

  function button(label, className, onClick) {
    var node = make('button', className || 'button', label);
    node.type = 'button';
    node.addEventListener('click', onClick);
    return node;
  }

  /* Focus on a heading, which a screen reader then reads out: how a view chosen (or the
   * first after signing in) and a thread opened are announced, and where the keyboard
   * goes on from. */
  function focusHeading(heading) {
    if (!heading) return;
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }

  /* The h1 of a view as laid out now: the chats view has one for the list, and one for
   * a phone's thread shown alone. */
  function viewHeading(view) {
    var headings = document.querySelectorAll('[data-section=' + view + '] h1');
    for (var i = 0; i < headings.length; i++) if (headings[i].getClientRects().length) return headings[i];
    return null;
  }

  /* Whether the member's focus is still where it was, or on nothing they can see (an
   * element hidden since), so that a late answer may move it without taking it from
   * where they went meanwhile. */
  function focusStayed(was) {
    var focused = document.activeElement;
    return !focused || focused === was || focused === document.body || !focused.getClientRects().length;
  }

  function tell(node, text, tone) {
    node.textContent = text || '';
    node.setAttribute('data-tone', tone || 'info');
    node.hidden = !text;
  }

  function notice(text) {
    tell(find('[data-notice]'), text, 'error');
  }

  function parsed(iso) {
    var date = iso ? new Date(iso) : null;
    return date && !isNaN(date.getTime()) ? date : null;
  }

  function millis(iso) {
    var date = parsed(iso);
    return date ? date.getTime() : 0;
  }

  /* A time in full, or (`brief`) the clock alone today and the day alone before. */
  function stamp(iso, brief) {
    if (!iso) return '—';
    var date = parsed(iso);
    if (!date) return String(iso);
    var today = new Date();
    if (brief && date.toDateString() === today.toDateString()) {
      return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    }
    if (brief) {
      var day = { month: 'short', day: 'numeric' };
      if (date.getFullYear() !== today.getFullYear()) day.year = 'numeric';
      return date.toLocaleDateString(undefined, day);
    }
    return date.toLocaleString(undefined, {
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit'
    });
  }

  function timeNode(iso, className, brief) {
    var node = make('time', className, stamp(iso, brief));
    if (iso) {
      node.setAttribute('datetime', iso);
      if (brief) node.title = stamp(iso);
    }
    return node;
  }

  /* How long ago `iso` was, roughly: "3 min", "2 h", "4 d". */
  function waited(iso) {
    var seconds = Math.max(0, (Date.now() - millis(iso)) / 1000);
    if (seconds < 60) return 'under a minute';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min';
    if (seconds < 172800) return Math.floor(seconds / 3600) + ' h';
    return Math.floor(seconds / 86400) + ' d';
  }

  function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : many);
  }

  /* The first `lines` lines of a text, at most `most` characters. */
  function opening(text, lines, most) {
    var kept = String(text || '').trim().split(/\r?\n/).slice(0, lines || 1).join(' ');
    return kept.length > most ? kept.slice(0, most - 1) + '…' : kept;
  }

  function randomKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var hex = '';
    for (var i = 0; i < bytes.length; i++) hex += (bytes[i] + 256).toString(16).slice(1);
    return hex;
  }

  function copyText(text, status, input) {
    var copied = navigator.clipboard && navigator.clipboard.writeText
      ? navigator.clipboard.writeText(text)
      : Promise.reject(new Error('no clipboard'));
    return copied.then(
      function () {
        tell(status, 'Copied.', 'ok');
      },
      function () {
        if (input) input.select();
        tell(status, 'The browser refused to copy: select it and copy it by hand.', 'error');
      }
    );
  }

  // == the API ========================================================================

  /*
   * One call to the console's API. Resolves (never rejects) to
   * {ok, status, body, error, network, handled}: `handled` when the answer was a 401 or
   * 403, which this function has dealt with already (sign in again, not allowed).
   */
  function api(method, path, body, key) {
    var headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    if (key) headers['Idempotency-Key'] = key;
    var init = { method: method, headers: headers, credentials: 'omit', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    var abort = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = abort && setTimeout(function () { abort.abort(); }, REQUEST_TIMEOUT_MS);
    if (abort) init.signal = abort.signal;
    var sentWith = state.token;
    return fetch(path, init)
      .then(
        function (response) {
          return response.text().then(function (text) {
            return answer(response.status, text);
          });
        },
        function () {
          return answer(0, '');
        }
      )
      .then(function (result) {
        if (timer) clearTimeout(timer);
        // An answer to a token since replaced (a sign-in meanwhile) says nothing of the new one.
        if (sentWith !== state.token) {
          result.handled = true;
        } else if (result.status === 401) {
          result.handled = true;
          signOut('Your sign-in has expired or was not accepted. Please sign in again.');
        } else if (result.status === 403 && result.error && result.error.code === 'access_denied') {
          result.handled = true;
          signOut(result.error.message || 'This account may not use the team console.');
        }
        return result;
      });
  }

  /* What `api` resolves to; status 0 is no answer at all. */
  function answer(status, text) {
    var data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (error) {
      data = null; // not JSON: a proxy's error page, say; the status still tells
    }
    return {
      ok: status >= 200 && status < 300,
      status: status,
      body: data,
      error: (data && data.error) || null,
      network: status === 0,
      handled: false
    };
  }

  /* A POST whose Idempotency-Key is kept until the server has settled it, so a double
   * click or a retry after a lost answer acts once. */
  function post(action, path, body) {
    var payload = JSON.stringify([path, body]);
    var kept = state.keys[action];
    if (!kept || kept.payload !== payload) {
      kept = state.keys[action] = { payload: payload, key: randomKey() };
    }
    return api('POST', path, body, kept.key).then(function (result) {
      // A 5xx released the key on the server and a 409 is still running: keep it for
      // the retry; any other answer is final.
      var settled = result.ok || (result.status >= 400 && result.status < 500 && result.status !== 409);
      if (settled && state.keys[action] === kept) delete state.keys[action];
      return result;
    });
  }

  function problem(result) {
    if (result.network) {
      return 'The console could not reach its server. Check the connection and try again.';
    }
    if (result.error && result.error.message) return result.error.message;
    return 'Something went wrong (HTTP ' + result.status + '). Please try again.';
  }

  // == forms ==========================================================================

  /* A field's error gone: the mark, the note and the reference to it. */
  function clearFieldError(input) {
    var note = document.getElementById(input.id + '-error');
    input.removeAttribute('aria-invalid');
    if (input.getAttribute('aria-describedby') === input.id + '-error') input.removeAttribute('aria-describedby');
    if (note) note.parentNode.removeChild(note);
  }

  function clearFieldErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll('[aria-invalid]'), clearFieldError);
    Array.prototype.forEach.call(form.querySelectorAll('.field-error'), function (node) {
      node.parentNode.removeChild(node);
    });
  }

  /* A 400's `fields` beside their inputs; what has no input goes to the status line. */
  function showFieldErrors(form, fields, status) {
    var unplaced = [];
    Object.keys(fields || {}).forEach(function (name) {
      var input = form.elements.namedItem(name);
      var text = name.replace(/_/g, ' ') + ' ' + fields[name];
      if (!input || !input.parentNode) {
        unplaced.push(text);
        return;
      }
      input.setAttribute('aria-invalid', 'true');
      var note = make('p', 'field-error', text);
      note.id = input.id + '-error';
      input.setAttribute('aria-describedby', note.id);
      input.parentNode.appendChild(note);
    });
    tell(status, unplaced.length ? unplaced.join('; ') : 'Please correct the marked fields.', 'error');
    // The keyboard goes to the first field to mend, where a screen reader reads its error.
    var first = Array.prototype.filter.call(form.elements, function (input) {
      return input.getAttribute('aria-invalid') === 'true';
    })[0];
    if (first) first.focus();
  }

  function value(form, name) {
    var input = form.elements.namedItem(name);
    return input ? input.value.trim() : '';
  }

  /* Runs `submit(form, status)` on submit, once at a time; it returns a promise. */
  function onSubmit(form, submit) {
    var status = find('.status', form);
    form.addEventListener('input', function (event) {
      if (event.target.getAttribute('aria-invalid')) clearFieldError(event.target);
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var send = find('button[type=submit]', form);
      if (send.disabled) return;
      clearFieldErrors(form);
      send.disabled = true;
      Promise.resolve(submit(form, status)).then(function () {
        send.disabled = false;
      });
    });
  }

  /* The outcome of a form's POST: true when it succeeded; otherwise says why. */
  function failed(form, status, result) {
    if (result.ok) return false;
    if (result.handled) {
      tell(status, '');
    } else if (result.status === 400 && result.error && result.error.fields) {
      showFieldErrors(form, result.error.fields, status);
    } else {
      tell(status, problem(result), 'error');
    }
    return true;
  }

  /* A button in `holder` that asks before it acts: `ask` holds its label, the question
   * and the two answers; `run(restore)` acts, and `restore()` puts the button back. */
  function askFirst(holder, ask, run) {
    function restore() {
      holder.textContent = '';
      holder.appendChild(
        button(ask.label, 'button button--quiet', function () {
          holder.textContent = '';
          holder.appendChild(make('span', 'confirm__question', ask.question));
          holder.appendChild(
            button(ask.yes, 'button button--danger', function () {
              run(restore);
            })
          );
          holder.appendChild(button(ask.no, 'button button--quiet', restore));
          holder.querySelector('button').focus();
        })
      );
    }
    restore();
  }

  // == sign-in ========================================================================

  function showOnly(section) {
    Array.prototype.forEach.call(document.querySelectorAll('[data-section]'), function (node) {
      node.hidden = node.getAttribute('data-section') !== section;
    });
    find('[data-loading]').hidden = true;
  }

  function signOut(message) {
    state.token = null;
    state.email = '';
    state.name = '';
    stopChat();
    stopStatusRefresh();
    stopPulse();
    state.view = '';
    state.list = freshList();
    state.asOf = null;
    clearSpam();
    clearGrantLink();
    clearPrivacy();
    showAwaiting(null);
    find('.nav').hidden = true;
    find('.who').hidden = true;
    notice('');
    showOnly('signin');
    tell(find('[data-signin-status]'), message || '', message ? 'error' : 'info');
    if (state.config && state.config.signin === 'local') {
      find('[data-local-signin]').hidden = false;
      find('#local-email').focus();
    } else if (state.config) {
      loadGoogle();
    }
  }

  /* The member chose to sign out: the sign-in forgets this browser too, so that the
   * next visit asks again. */
  function forgetSignIn() {
    if (!state.config) return;
    if (state.config.signin === 'local') {
      // keepalive: a reload right after still reaches it.
      var init = { method: 'POST', credentials: 'include', cache: 'no-store', keepalive: true };
      fetch(state.config.url + '/signin/forget', init)
        .catch(function () {
          // The stand-in is gone: there is nothing left to forget.
        });
    } else if (window.google && window.google.accounts && window.google.accounts.id) {
      window.google.accounts.id.disableAutoSelect();
    }
  }

  /* On load: a member the sign-in remembers is let in without a click; anyone else
   * gets the sign-in form, with nothing shown meanwhile. */
  function resume() {
    if (state.config.signin !== 'local') {
      signOut(''); // Google's script signs a returning member in (`prompt`, below)
      return;
    }
    fetch(state.config.url + '/signin/auto', { method: 'POST', credentials: 'include', cache: 'no-store' })
      .then(function (response) {
        return response.status === 200 ? response.json() : null;
      })
      .then(
        function (data) {
          return data && data.credential ? signIn(data.credential) : null;
        },
        function () {
          return null; // no stand-in, or no answer: sign in by hand
        }
      )
      .then(function () {
        if (!state.token && find('[data-section=signin]').hidden) signOut('');
      });
  }

  function loadGoogle() {
    if (window.google && window.google.accounts && window.google.accounts.id) {
      renderGoogleButton();
      return;
    }
    if (state.googleLoading) return;
    state.googleLoading = true;
    var script = document.createElement('script');
    script.src = GOOGLE_SCRIPT;
    script.async = true;
    script.addEventListener('load', renderGoogleButton);
    script.addEventListener('error', function () {
      state.googleLoading = false;
      tell(find('[data-signin-status]'), 'Google sign-in could not be loaded. Reload the page to try again.', 'error');
    });
    document.head.appendChild(script);
  }

  function renderGoogleButton() {
    var id = window.google.accounts.id;
    if (!state.googleReady) {
      id.initialize({
        client_id: state.config.client_id,
        callback: function (response) {
          signIn(response.credential);
        },
        // A member still signed in to Google, who has not signed out here, gets a
        // credential without a click; after a sign-out `disableAutoSelect` stops that.
        auto_select: true,
        cancel_on_tap_outside: true
      });
      state.googleReady = true;
      id.prompt(); // once, on load: One Tap, or nothing when Google has no one to offer
    }
    var holder = find('[data-google-button]');
    holder.textContent = '';
    holder.hidden = false;
    id.renderButton(holder, { type: 'standard', theme: 'outline', size: 'large', text: 'signin_with' });
  }

  function initLocalSignIn() {
    onSubmit(find('[data-local-signin]'), function (form, status) {
      var email = value(form, 'email');
      var message = find('[data-signin-status]');
      if (!email) {
        tell(message, 'Type the address to sign in as.', 'error');
        return null;
      }
      tell(message, 'Signing in…');
      return fetch(state.config.url + '/signin/token', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: email }),
        // The stand-in's cookie (its origin's, not this page's) remembers the browser.
        credentials: 'include',
        cache: 'no-store'
      })
        .then(function (response) {
          return response.json().then(function (data) {
            if (!response.ok || !data.credential) throw new Error(data.error || 'refused');
            return signIn(data.credential);
          });
        })
        .catch(function () {
          tell(message, 'The local sign-in did not answer. Is `make dev` running?', 'error');
        });
    });
  }

  /* A fresh ID token: ask the API who it names; in, or told why not. */
  function signIn(credential) {
    state.token = credential;
    tell(find('[data-signin-status]'), 'Signing in…');
    return api('GET', '/api/me').then(function (result) {
      if (result.handled) return;
      if (!result.ok) {
        signOut(problem(result));
        return;
      }
      state.email = result.body.email;
      state.name = result.body.name || '';
      tell(find('[data-signin-status]'), '');
      var name = find('[data-who-name]');
      name.textContent = state.name;
      name.hidden = !state.name;
      find('[data-who]').textContent = state.email;
      find('.who').hidden = false;
      find('.nav').hidden = false;
      find('[data-local-signin]').hidden = true;
      find('[data-google-button]').hidden = true;
      route();
      // The counts at once on any view; the chats and spam views have just asked.
      if (state.view === 'chats') schedulePulse();
      else pulse();
      if (state.view !== 'spam') countSpam();
    });
  }

  // == the router =====================================================================

  function where() {
    var parts = (window.location.hash || '').replace(/^#\/?/, '').split('/');
    var view = VIEWS.indexOf(parts[0]) >= 0 ? parts[0] : 'chats';
    return {
      view: view,
      lead: view === 'chats' && LEAD_ID.test(parts[1] || '') ? parts[1] : '',
      grant: view === 'grants' && GRANT_ID.test(parts[1] || '') ? parts[1] : ''
    };
  }

  function route() {
    if (!state.token) return;
    var target = where();
    var entered = target.view !== state.view;
    state.grant = target.grant;
    if (entered) {
      stopStatusRefresh();
      if (state.view === 'chats') stopChat();
      if (state.view === 'grants') clearGrantLink();
      if (state.view === 'privacy') clearPrivacy();
      state.view = target.view;
      showOnly(target.view);
      notice('');
      Array.prototype.forEach.call(document.querySelectorAll('.nav a'), function (link) {
        if (link.getAttribute('data-view') === target.view) link.setAttribute('aria-current', 'page');
        else link.removeAttribute('aria-current');
      });
      ENTER[target.view]();
    }
    if (target.view === 'chats') showChat(target.lead);
    if (target.view === 'grants') showGrant(target.grant);
    // A thread opened says itself once it is there (showChat).
    if (entered && !target.lead) focusHeading(viewHeading(target.view));
  }

  var ENTER = {
    chats: function () {
      state.list.loaded = false;
      loadChats();
    },
    spam: function () {
      loadSpam();
    },
    grants: function () {
      loadGrants();
    },
    deliveries: function () {
      loadDeliveries();
    },
    privacy: function () {},
    audit: function () {
      loadAudit();
    },
    status: function () {
      loadStatus();
      keepRefreshing(loadStatus);
    }
  };

  /* Reloads the view's content now and then while the page is visible. */
  function keepRefreshing(load) {
    stopStatusRefresh();
    function next() {
      state.statusTimer = setTimeout(function () {
        if (!document.hidden) load();
        next();
      }, STATUS_EVERY_MS);
    }
    next();
  }

  function stopStatusRefresh() {
    if (state.statusTimer) clearTimeout(state.statusTimer);
    state.statusTimer = null;
  }

  /* GET `path` for `view`; `render` gets the body only while that view is still shown. */
  function fetchFor(view, path, render) {
    return api('GET', path).then(function (result) {
      if (result.handled || state.view !== view) return;
      if (!result.ok) {
        notice(problem(result));
        return;
      }
      render(result.body);
    });
  }

  /* One item per entry in the list `name`, or its empty note. */
  function fill(name, entries, item) {
    var list = find('[data-' + name + '-items]');
    list.textContent = '';
    entries.forEach(function (entry) {
      list.appendChild(item(entry));
    });
    var empty = find('[data-' + name + '-empty]');
    if (empty) empty.hidden = entries.length > 0;
  }

  // == the chat list ==================================================================

  /* GET /api/chats with `params` (those empty are left out). */
  function listGet(params) {
    var query = [];
    Object.keys(params).forEach(function (name) {
      var given = params[name];
      if (given === undefined || given === null || given === '') return;
      query.push(encodeURIComponent(name) + '=' + encodeURIComponent(given));
    });
    return api('GET', '/api/chats' + (query.length ? '?' + query.join('&') : ''));
  }

  /* The chats in the server's order: in the open view and in a search, those awaiting
   * a reply first, longest-waiting first; then (and in the other views, all) by last
   * activity, newest first. */
  function sortChats(chats, awaitingFirst) {
    chats.sort(function (a, b) {
      if (awaitingFirst && !!a.awaiting_reply !== !!b.awaiting_reply) return a.awaiting_reply ? -1 : 1;
      if (awaitingFirst && a.awaiting_reply) {
        var waiting = millis(a.awaiting_since) - millis(b.awaiting_since);
        if (a.awaiting_since && b.awaiting_since && waiting) return waiting;
      }
      return millis(b.last_activity_at) - millis(a.last_activity_at);
    });
  }

  function leadIndex(chats, leadId) {
    for (var i = 0; i < chats.length; i++) if (chats[i].lead_id === leadId) return i;
    return -1;
  }

  /* The list for the view and search asked for, from its first page. */
  function loadChats() {
    var list = state.list;
    var view = find('[data-chat-filter]').value;
    var q = list.q;
    var ticket = ++list.ticket;
    list.loading = true;
    return listGet({ view: view, q: q }).then(function (result) {
      if (ticket === list.ticket) list.loading = false;
      if (result.handled || state.view !== 'chats' || ticket !== list.ticket) return;
      if (!result.ok) {
        notice(problem(result));
        return;
      }
      var body = result.body || {};
      list.view = view;
      list.searched = q || '';
      list.chats = (body.chats || []).slice();
      list.next = body.next || null;
      list.loaded = true;
      takeListing(body, view === 'open' && !list.searched && !list.next);
      renderChatList();
      sayWhatIsShown(q);
    });
  }

  function sayWhatIsShown(q) {
    var status = find('[data-chat-status]');
    var n = state.list.chats.length;
    if (!q) tell(status, '');
    else if (!n) tell(status, 'No chat matches “' + q + '”.');
    else tell(status, plural(n, 'chat matches', 'chats match') + ' “' + q + '”, open or closed.');
  }

  function loadMore() {
    var list = state.list;
    var more = find('[data-chat-more]');
    if (!list.next || more.disabled) return;
    var ticket = list.ticket;
    var shown = list.chats.length;
    more.disabled = true;
    listGet({ view: list.view, q: list.searched, cursor: list.next }).then(function (result) {
      more.disabled = false;
      if (result.handled || state.view !== 'chats' || ticket !== list.ticket) return;
      if (!result.ok) {
        notice(problem(result));
        return;
      }
      var body = result.body || {};
      (body.chats || []).forEach(function (chat) {
        if (leadIndex(list.chats, chat.lead_id) < 0) list.chats.push(chat);
      });
      list.next = body.next || null;
      takeListing(body, false);
      renderChatList();
      // Focus stays on the button while there is more; else on the first chat it brought.
      var first = find('[data-chat-items]').children[shown];
      if (!list.next && first) find('a', first).focus();
    });
  }

  /* What any listing says beyond its chats: the server's time and the counts. An older
   * server counts nothing: then the awaiting chats are counted in a `complete` listing
   * of the open view. */
  function takeListing(body, complete) {
    if (body.as_of) state.asOf = body.as_of;
    if (body.counts && typeof body.counts.awaiting_reply === 'number') {
      showAwaiting(body.counts.awaiting_reply);
    } else if (complete) {
      showAwaiting(
        (body.chats || []).filter(function (chat) {
          return chat.awaiting_reply && chat.status !== 'closed';
        }).length
      );
    }
  }

  /* Chats changed since the last listing: each takes its place in the list shown, or
   * leaves it when it no longer belongs to the view (a chat closed leaves "Open"). A
   * search's results are updated, never added to: the server alone knows what matches. */
  function mergeChats(changed) {
    var list = state.list;
    changed.forEach(function (chat) {
      var at = leadIndex(list.chats, chat.lead_id);
      var belongs = list.view === 'all' || chat.status === list.view;
      if (at >= 0 && belongs) list.chats[at] = chat;
      else if (at >= 0) list.chats.splice(at, 1);
      else if (belongs && !list.searched) list.chats.push(chat);
    });
    renderChatList();
  }

  /* The list on the page, changed in place: an item is rebuilt only when its chat
   * changed and moved only when out of place, so that focus and scrolling hold. */
  function renderChatList() {
    var list = state.list;
    sortChats(list.chats, list.view === 'open' || !!list.searched);
    var holder = find('[data-chat-items]');
    var focused = document.activeElement;
    var open = state.chat && state.chat.leadId;
    var nodes = {};
    list.chats.forEach(function (chat, i) {
      var key = JSON.stringify(chat);
      var kept = list.nodes[chat.lead_id];
      var item = kept && kept.key === key ? kept.node : chatItem(chat);
      nodes[chat.lead_id] = { key: key, node: item };
      if (holder.children[i] !== item) holder.insertBefore(item, holder.children[i] || null);
      var link = find('.chat-item__link', item);
      if (chat.lead_id === open) link.setAttribute('aria-current', 'true');
      else link.removeAttribute('aria-current');
    });
    while (holder.children.length > list.chats.length) holder.removeChild(holder.lastChild);
    list.nodes = nodes;
    Array.prototype.forEach.call(holder.querySelectorAll('[data-since]'), function (age) {
      age.textContent = ' · ' + waited(age.getAttribute('data-since'));
    });
    if (focused && focused !== document.activeElement && holder.contains(focused)) focused.focus();
    find('[data-chat-empty]').hidden = list.chats.length > 0 || !!list.searched;
    find('[data-chat-more]').hidden = !list.next;
  }

  function chatItem(chat) {
    var person = chat.person || {};
    var who = [person.name, person.company].filter(Boolean).join(' · ');
    var preview = chat.preview && chat.preview.text ? chat.preview : null;
    var author = preview ? previewAuthor(preview) : '';
    var link = make('a', 'chat-item__link', null, [
      make('span', 'chat-item__head', null, [
        make('strong', 'chat-item__title', who || chat.email),
        chat.awaiting_reply ? awaitingBadge(chat.awaiting_since) : null,
        chat.status === 'closed' ? make('span', 'badge badge--closed', 'Closed') : null
      ]),
      who ? make('span', 'chat-item__email', chat.email) : null,
      preview
        ? make('span', 'chat-item__preview', null, [
            author ? make('span', 'chat-item__author', author + ': ') : null,
            textNode(preview.text)
          ])
        : null,
      make('span', 'chat-item__meta', null, [
        make('span', 'chat-item__page', chat.page || '/'),
        textNode(' · '),
        timeNode((preview && preview.at) || chat.last_activity_at, null, true)
      ])
    ]);
    link.href = '#/chats/' + chat.lead_id;
    var item = make('li', 'item chat-item' + (chat.awaiting_reply ? ' chat-item--awaiting' : ''), null, [link]);
    item.setAttribute('data-lead', chat.lead_id);
    return item;
  }

  /* Who wrote the latest message, for its preview: nobody named for the visitor. */
  function previewAuthor(preview) {
    if (preview.author !== 'team') return '';
    if (preview.name && preview.name === state.name) return 'You';
    return preview.name || 'Team';
  }

  function awaitingBadge(since) {
    var badge = make('span', 'badge badge--awaiting', 'Awaiting reply');
    if (parsed(since)) {
      var age = make('span', 'badge__age', ' · ' + waited(since));
      age.setAttribute('data-since', since);
      badge.appendChild(age);
      badge.title = 'Waiting since ' + stamp(since);
    }
    return badge;
  }

  function initChatList() {
    find('[data-chat-filter]').addEventListener('change', loadChats);
    find('[data-chat-more]').addEventListener('click', loadMore);
    var form = find('[data-chat-search]');
    var input = form.elements.namedItem('q');
    var timer = null;
    function search() {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q === state.list.q) return;
      state.list.q = q;
      loadChats();
    }
    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(search, SEARCH_DELAY_MS);
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      search();
    });
  }

  // == live: the list's changes and the awaiting count, on every view ================

  /*
   * Every PULSE_MS while the page is visible: the chats changed since the last listing
   * (a cheap query), merged into the list when it is shown, and the count of chats
   * awaiting a reply. Before the list is there (no `as_of` yet), the chats view loads
   * its list and the other views ask one chat's worth.
   */
  function pulse() {
    if (state.pulseTimer) clearTimeout(state.pulseTimer);
    state.pulseTimer = null;
    if (!state.token) return;
    if (state.pulsing) {
      state.pulseAgain = true;
      return;
    }
    state.pulsing = true;
    state.pulseAgain = false;
    var asked;
    if (state.view === 'chats' && (!state.asOf || !state.list.loaded)) {
      // No changes to merge into: the whole list (again, if the last try failed).
      asked = state.list.loading ? Promise.resolve() : loadChats();
    } else if (state.asOf) {
      asked = listGet({ view: 'all', changed_after: state.asOf }).then(takeChanges);
    } else {
      asked = listGet({ view: 'open', limit: 1 }).then(function (result) {
        if (result.ok && !result.handled) takeListing(result.body || {}, !(result.body || {}).next);
      });
    }
    asked.then(function () {
      state.pulsing = false;
      if (state.pulseAgain) pulse();
      else schedulePulse();
    });
  }

  function takeChanges(result) {
    if (result.handled || !result.ok) return; // the next pulse asks again
    var body = result.body || {};
    var changed = body.chats || [];
    takeListing(body, false);
    if (state.view !== 'chats' || !state.list.loaded) return;
    if (changed.length >= CHANGES_LIMIT) loadChats();
    else mergeChats(changed);
  }

  function schedulePulse() {
    if (state.pulseTimer) clearTimeout(state.pulseTimer);
    state.pulseTimer = null;
    if (!state.token || document.hidden) return; // a hidden page asks nothing
    state.pulseTimer = setTimeout(pulse, PULSE_MS);
  }

  function stopPulse() {
    if (state.pulseTimer) clearTimeout(state.pulseTimer);
    state.pulseTimer = null;
    state.pulseAgain = false;
  }

  /* The count of chats awaiting a reply: beside "Chats", in the tab's title, said to
   * screen readers when it changes, and a sound when it rises (if wanted). */
  function showAwaiting(n) {
    var before = state.awaiting;
    state.awaiting = n;
    var count = find('[data-awaiting]');
    var waiting = n || 0;
    var said = plural(waiting, 'chat awaits', 'chats await') + ' a reply';
    count.textContent = String(waiting);
    count.hidden = !waiting;
    count.setAttribute('aria-label', said);
    document.title = waiting ? '(' + waiting + ') ' + TITLE : TITLE;
    if (n === null || n === before) return;
    find('[data-awaiting-status]').textContent = said + '.';
    if (before !== null && n > before) chime();
  }

  // == sound ==========================================================================

  function soundWanted() {
    try {
      return window.localStorage.getItem(SOUND_KEY) === 'on';
    } catch (error) {
      return false; // storage refused: no sound unless switched on
    }
  }

  function initSound() {
    var toggle = find('[data-sound]');
    toggle.checked = soundWanted();
    toggle.addEventListener('change', function () {
      try {
        if (toggle.checked) window.localStorage.setItem(SOUND_KEY, 'on');
        else window.localStorage.removeItem(SOUND_KEY);
      } catch (error) {
        // Not kept: it holds for this visit.
      }
      if (toggle.checked) chime(true); // what it sounds like, and a gesture to allow it
    });
    // A browser lets a page play sound only after the member has used it.
    ['pointerdown', 'keydown'].forEach(function (kind) {
      document.addEventListener(kind, function () {
        if (toggle.checked) audio();
      });
    });
  }

  function audio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!state.audio) state.audio = new Context();
    if (state.audio.state === 'suspended') state.audio.resume();
    return state.audio;
  }

  /* A short soft beep, made here rather than fetched (no audio file, nothing to allow). */
  function chime(always) {
    if (!always && !find('[data-sound]').checked) return;
    var context = audio();
    if (!context) return;
    var now = context.currentTime;
    var tone = context.createOscillator();
    var volume = context.createGain();
    tone.type = 'sine';
    tone.frequency.setValueAtTime(880, now);
    volume.gain.setValueAtTime(0.0001, now);
    volume.gain.exponentialRampToValueAtTime(0.2, now + 0.02);
    volume.gain.exponentialRampToValueAtTime(0.0001, now + 0.4);
    tone.connect(volume);
    volume.connect(context.destination);
    tone.start(now);
    tone.stop(now + 0.45);
  }

  // == the open chat ==================================================================

  function markSelected(leadId) {
    Array.prototype.forEach.call(document.querySelectorAll('.chat-item__link'), function (link) {
      if (link.parentNode.getAttribute('data-lead') === leadId) link.setAttribute('aria-current', 'true');
      else link.removeAttribute('aria-current');
    });
  }

  function showChat(leadId) {
    var section = find('[data-section=chats]');
    if (!leadId) {
      var closed = state.chat && state.chat.leadId;
      // On a phone the list takes the thread's place: from its top, not the thread's end.
      if (state.chat && !scrollsAlone(find('[data-messages]'))) window.scrollTo(0, 0);
      stopChat();
      section.classList.remove('chats--thread');
      find('[data-thread]').hidden = true;
      find('[data-person]').hidden = true;
      find('[data-pick]').hidden = false;
      markSelected('');
      // Back from a thread, the keyboard is where it left the list: on that chat.
      if (closed) {
        var item = find('[data-chat-items] [data-lead="' + closed + '"] a');
        if (item) item.focus();
        else focusHeading(viewHeading('chats'));
      }
      return;
    }
    if (state.chat && state.chat.leadId === leadId) return;
    stopChat();
    state.chat = {
      leadId: leadId,
      lastId: '',
      timer: null,
      busy: false,
      again: false,
      closed: false,
      opener: document.activeElement || document.body // where focus was, until the thread is there to take it
    };
    section.classList.add('chats--thread');
    find('[data-thread]').hidden = false;
    find('[data-pick]').hidden = true;
    find('[data-messages]').textContent = '';
    find('[data-thread-title]').textContent = 'Loading…';
    find('[data-thread-meta]').textContent = '';
    var actions = find('[data-thread-actions]');
    actions.textContent = '';
    actions.removeAttribute('data-for');
    var reply = find('[data-reply]');
    reply.reset();
    reply.hidden = true;
    tell(find('.status', reply), '');
    find('[data-closed-note]').hidden = true;
    resetPerson();
    markSelected(leadId);
    fetchThread(state.chat);
  }

  function stopChat() {
    if (state.chat && state.chat.timer) clearTimeout(state.chat.timer);
    state.chat = null;
  }

  /* Fetch now, or right after the fetch under way (never two at once). */
  function refreshThread(chat) {
    if (chat !== state.chat) return;
    if (chat.busy) {
      chat.again = true;
      return;
    }
    if (chat.timer) clearTimeout(chat.timer);
    fetchThread(chat);
  }

  function fetchThread(chat) {
    chat.busy = true;
    chat.again = false;
    var path = '/api/chats/' + chat.leadId + (chat.lastId ? '?after=' + chat.lastId : '');
    api('GET', path).then(function (result) {
      chat.busy = false;
      if (chat !== state.chat || result.handled) return;
      if (result.status === 404) {
        find('[data-thread-title]').textContent = 'No such chat';
        find('[data-thread-meta]').textContent = 'It may have been deleted by a privacy request.';
        find('[data-person]').hidden = true;
        announceThread(chat);
        return;
      }
      if (!result.ok) {
        notice(problem(result));
        schedulePoll(chat);
        return;
      }
      notice('');
      var info = result.body.chat || {};
      renderThreadHead(chat, info);
      announceThread(chat);
      // The person once the thread is there: the thread first, and no ask for a chat gone.
      if (!chat.personAsked) {
        chat.personAsked = true;
        loadPerson(chat);
      }
      appendMessages(chat, result.body.messages || []);
      if ('seen_through' in info) markSeen(info.seen_through);
      if (result.body.more || chat.again) fetchThread(chat);
      else schedulePoll(chat);
    });
  }

  /* The thread's heading takes focus once it names the chat, so a screen reader says
   * whose chat opened; not if the member has gone elsewhere meanwhile. */
  function announceThread(chat) {
    if (!chat.opener) return;
    var opener = chat.opener;
    chat.opener = null;
    if (focusStayed(opener)) focusHeading(find('[data-thread-title]'));
  }

  function schedulePoll(chat) {
    if (chat.timer) clearTimeout(chat.timer);
    chat.timer = null;
    // None from a hidden page. A closed chat changes rarely (another member reopens it,
    // or replies from siteadmin), so it is asked less often.
    if (chat !== state.chat || document.hidden) return;
    chat.timer = setTimeout(function () {
      chat.timer = null;
      fetchThread(chat);
    }, chat.closed ? POLL_MS * 4 : POLL_MS);
  }

  function renderThreadHead(chat, info) {
    chat.closed = info.status === 'closed';
    chat.email = info.email;
    find('[data-thread-title]').textContent = info.email;
    var meta = find('[data-thread-meta]');
    meta.textContent = 'From ' + (info.page || '/') + ', started ';
    meta.appendChild(timeNode(info.created_at));
    if (typeof info.visitor_messages === 'number') {
      meta.appendChild(textNode(' · ' + plural(info.visitor_messages, 'visitor message', 'visitor messages')));
    }
    if (info.awaiting_reply) meta.appendChild(awaitingBadge(info.awaiting_since));
    if (chat.closed) meta.appendChild(make('span', 'badge badge--closed', 'Closed'));
    if (info.online && !chat.closed) meta.appendChild(make('span', 'badge badge--online', 'On the page now'));
    find('[data-reply]').hidden = chat.closed;
    find('[data-closed-note]').hidden = !chat.closed;
    var actions = find('[data-thread-actions]');
    var wanted = chat.closed ? 'closed' : 'open';
    if (actions.getAttribute('data-for') !== wanted) {
      actions.setAttribute('data-for', wanted);
      if (chat.closed) reopenButton(chat, actions);
      else closeButton(chat, actions);
    }
    if (!chat.closed && chat.reopened) {
      chat.reopened = false;
      find('#reply-text').focus();
    }
    if (!chat.personShown) renderPerson(chat);
  }

  function closeButton(chat, actions) {
    var ask = {
      label: 'Close chat',
      question: 'Close this chat? The visitor can no longer write in it.',
      yes: 'Close chat',
      no: 'Keep open'
    };
    askFirst(actions, ask, function (restore) {
      actions.textContent = 'Closing…';
      post('close:' + chat.leadId, '/api/chats/' + chat.leadId + '/close', {}).then(function (result) {
        if (chat !== state.chat || result.handled) return;
        if (!result.ok) {
          restore();
          notice(problem(result));
          return;
        }
        refreshThread(chat);
        pulse();
      });
    });
  }

  /* A closed chat opens again: the visitor may write in it, the reply box is back. */
  function reopenButton(chat, actions) {
    actions.textContent = '';
    actions.appendChild(
      button('Reopen chat', 'button', function () {
        actions.textContent = 'Reopening…';
        post('reopen:' + chat.leadId, '/api/chats/' + chat.leadId + '/reopen', {}).then(function (result) {
          if (chat !== state.chat || result.handled) return;
          if (!result.ok) {
            reopenButton(chat, actions);
            notice(problem(result));
            return;
          }
          chat.reopened = true;
          refreshThread(chat);
          pulse();
        });
      })
    );
  }

  function appendMessages(chat, messages) {
    var list = find('[data-messages]');
    var first = !list.firstChild;
    var atEnd = atNewest(list);
    var added = false;
    messages.forEach(function (message) {
      // Ids are zero-padded numbers: they compare as strings in the messages' order.
      if (chat.lastId && message.id <= chat.lastId) return;
      chat.lastId = message.id;
      var team = message.author === 'team';
      var item = make('li', 'msg msg--' + (team ? 'team' : 'visitor'), null, [
        make('div', 'msg__head', null, [
          make('span', 'msg__author', team ? message.name || 'Team' : 'Visitor'),
          timeNode(message.created_at, 'msg__time')
        ]),
        make('p', 'msg__text', message.text)
      ]);
      item.setAttribute('data-author', team ? 'team' : 'visitor');
      item.setAttribute('data-id', message.id);
      list.appendChild(item);
      added = true;
    });
    if (added && (atEnd || first)) showNewest(list);
  }

  /* The thread scrolls in its own box on a wide screen, with the page on a phone. */
  function scrollsAlone(list) {
    return window.getComputedStyle(list).overflowY !== 'visible';
  }

  function atNewest(list) {
    if (scrollsAlone(list)) return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    return list.getBoundingClientRect().bottom <= window.innerHeight + 40;
  }

  function showNewest(list) {
    if (scrollsAlone(list)) list.scrollTop = list.scrollHeight;
    else if (list.lastElementChild) list.lastElementChild.scrollIntoView({ block: 'end' });
  }

  /* "Seen" under the newest team message the visitor's widget has shown them. */
  function markSeen(through) {
    var list = find('[data-messages]');
    var seen = parseInt(through || '', 10);
    var last = null;
    Array.prototype.forEach.call(list.querySelectorAll('.msg--team'), function (item) {
      if (parseInt(item.getAttribute('data-id'), 10) <= seen) last = item;
    });
    var mark = find('.msg__seen', list);
    if (mark && mark.parentNode === last) return;
    if (mark) mark.parentNode.removeChild(mark);
    if (last) last.appendChild(make('p', 'msg__seen', 'Seen'));
  }

  function initThread() {
    onSubmit(find('[data-reply]'), function (form, status) {
      var chat = state.chat;
      var text = value(form, 'text');
      if (!chat) return null;
      if (!text) {
        tell(status, 'Write a reply first.', 'error');
        return null;
      }
      tell(status, 'Sending…');
      return post('reply:' + chat.leadId, '/api/chats/' + chat.leadId + '/reply', { text: text }).then(
        function (result) {
          if (chat !== state.chat || failed(form, status, result)) return;
          form.reset();
          tell(status, '');
          // The thread shows the reply from the next fetch, in its place among any
          // visitor message that came meanwhile.
          refreshThread(chat);
          pulse();
        }
      );
    });
    var toggle = find('[data-person-toggle]');
    toggle.addEventListener('click', function () {
      showPersonBody(toggle.getAttribute('aria-expanded') !== 'true');
    });
  }

  // == the person beside the thread ===================================================

  function resetPerson() {
    find('[data-person]').hidden = true;
    find('[data-person-body]').textContent = '';
    find('[data-person-toggle]').textContent = 'About this person';
    showPersonBody(false);
  }

  /* On a phone the panel is folded above the thread until asked for; a wide screen
   * shows it beside the thread whatever this says. */
  function showPersonBody(open) {
    find('[data-person-toggle]').setAttribute('aria-expanded', open ? 'true' : 'false');
    var panel = find('[data-person]');
    if (open) panel.classList.add('person--open');
    else panel.classList.remove('person--open');
  }

  function loadPerson(chat) {
    api('GET', '/api/chats/' + chat.leadId + '/person').then(function (result) {
      if (chat !== state.chat || result.handled) return;
      // No panel for a chat gone meanwhile: the thread says the rest, and the panel
      // keeps the address alone.
      if (!result.ok || !result.body) return;
      chat.person = result.body;
      renderPerson(chat);
    });
  }

  /* What the page knows of the person: the address from the thread at first, then all
   * that GET .../person gives. */
  function renderPerson(chat) {
    var about = chat.person || {};
    var person = about.person || {};
    var email = person.email || chat.email;
    if (!email) return;
    chat.personShown = true;
    var body = find('[data-person-body]');
    body.textContent = '';
    body.appendChild(make('h2', 'person__name', person.name || email));
    if (person.company) body.appendChild(make('p', 'person__company', person.company));
    if (person.name) body.appendChild(make('p', 'person__email', email));
    // A chat's address is typed, never verified: anyone can give another's.
    body.appendChild(make('p', 'person__note', 'Found by the address the visitor typed, which is not verified: check before you quote these records back.'));
    var items = 'items person__items';
    headedList(body, 'Contact form', 'data-person-submissions', items, about.submissions, function (form) {
      return make('li', 'person__item', null, [
        timeNode(form.created_at, 'item__time', true),
        make('span', 'person__quote', opening(form.message, 2, 200))
      ]);
    });
    headedList(body, 'Other chats', 'data-person-chats', items, about.chats, function (other) {
      var said = other.preview && other.preview.text ? other.preview.text : 'Chat from ' + (other.page || '/');
      return make('li', 'person__item', null, [
        pageLink('#/chats/' + other.lead_id, 'person__link', opening(said, 1, 120)),
        make('span', 'person__meta', null, [
          textNode(other.status === 'closed' ? 'closed · ' : 'open · '),
          timeNode(other.last_activity_at, null, true)
        ])
      ]);
    });
    headedList(body, 'Access links', 'data-person-grants', items, about.grants, function (grant) {
      var status = String(grant.status || '');
      return make('li', 'person__item', null, [
        pageLink('#/grants/' + grant.id, 'person__link', (grant.sections || []).join(', ') || 'Access link'),
        status ? make('span', 'badge badge--' + status.replace(/\W+/g, '-'), status) : null,
        make('span', 'person__meta', null, [textNode('created '), timeNode(grant.created_at, null, true)])
      ]);
    });
    find('[data-person-toggle]').textContent = 'About ' + (person.name || email);
    find('[data-person]').hidden = false;
  }

  /* A heading, and under it a list with an item per entry; nothing for no entries. */
  function headedList(holder, title, attribute, className, entries, item) {
    if (!entries || !entries.length) return;
    var list = make('ul', className);
    list.setAttribute(attribute, '');
    entries.forEach(function (entry) {
      list.appendChild(item(entry));
    });
    holder.appendChild(make('h3', null, title));
    holder.appendChild(list);
  }

  // == spam ===========================================================================

  function spamPath(cursor) {
    return '/api/spam?limit=' + SPAM_PAGE + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
  }

  /* The posts held, from the first page; the lines that decisions left in the list go. */
  function loadSpam() {
    var spam = state.spam;
    var ticket = ++spam.ticket;
    return fetchFor('spam', spamPath(''), function (body) {
      if (ticket !== spam.ticket) return;
      spam.posts = [];
      find('[data-spam-items]').textContent = '';
      takeSpam(body);
    });
  }

  function loadMoreSpam() {
    var spam = state.spam;
    var more = find('[data-spam-more]');
    if (!spam.next || more.disabled) return;
    var ticket = spam.ticket;
    var shown = find('[data-spam-items]').children.length;
    more.disabled = true;
    fetchFor('spam', spamPath(spam.next), function (body) {
      if (ticket !== spam.ticket) return;
      takeSpam(body);
      // Focus stays on the button while there is more; else on the first post it brought.
      var first = find('[data-spam-items]').children[shown];
      if (!spam.next && first) first.focus();
    }).then(function () {
      more.disabled = false;
    });
  }

  /* A page of posts, added below those shown. */
  function takeSpam(body) {
    var spam = state.spam;
    var list = find('[data-spam-items]');
    (body.posts || []).forEach(function (held) {
      if (spamIndex(held.id) >= 0) return;
      spam.posts.push(held);
      list.appendChild(spamItem(held));
    });
    spam.next = body.next || null;
    if (body.days) spam.days = body.days;
    showSpamState();
  }

  function spamIndex(id) {
    for (var i = 0; i < state.spam.posts.length; i++) if (state.spam.posts[i].id === id) return i;
    return -1;
  }

  /* What the view says around its posts: the hint or the empty note, Load more, and the
   * count beside "Spam". */
  function showSpamState() {
    var spam = state.spam;
    var held = spam.posts.length;
    Array.prototype.forEach.call(document.querySelectorAll('[data-spam-days]'), function (node) {
      node.textContent = spam.days ? plural(spam.days, 'day', 'days') : 'a while';
    });
    find('[data-spam-hint]').hidden = !held;
    find('[data-spam-empty]').hidden = held > 0;
    find('[data-spam-more]').hidden = !spam.next;
    showSpamCount(held, !!spam.next);
  }

  /* The count beside "Spam", from a first page of the list: "50+" when there are more. */
  function showSpamCount(n, more) {
    var count = find('[data-spam-count]');
    count.textContent = n + (more ? '+' : '');
    count.hidden = !n;
    count.setAttribute('aria-label', (more ? 'more than ' : '') + plural(n, 'post', 'posts') + ' held as spam');
  }

  /* The count on a view other than Spam: the list's first page, asked for it alone. */
  function countSpam() {
    api('GET', spamPath('')).then(function (result) {
      if (result.handled || !result.ok || state.view === 'spam') return;
      var body = result.body || {};
      showSpamCount((body.posts || []).length, !!body.next);
    });
  }

  /* Signed out: the posts shown go, and so does their count. */
  function clearSpam() {
    state.spam = freshSpam(state.spam.ticket + 1);
    find('[data-spam-items]').textContent = '';
    find('[data-spam-hint]').hidden = true;
    find('[data-spam-empty]').hidden = true;
    find('[data-spam-more]').hidden = true;
    showSpamCount(0, false);
  }

  function sender(held) {
    return [held.name, held.company].filter(Boolean).join(' · ') || held.email;
  }

  /* A post held: who sent it and when, why it is held, its message, when it goes by
   * itself, and the two decisions. */
  function spamItem(held) {
    var who = make('h2', 'item__title spam-item__who', sender(held));
    who.id = 'spam-who-' + held.id;
    var actions = make('div', 'item__actions');
    // Each post's buttons are named by whose post it is, for a screen reader's list of them.
    actions.setAttribute('role', 'group');
    actions.setAttribute('aria-labelledby', who.id);
    var status = make('p', 'status');
    status.setAttribute('role', 'status');
    status.hidden = true;
    var item = make('li', 'item spam-item', null, [
      make('div', 'item__head', null, [who, timeNode(held.received_at, 'item__time')]),
      held.name || held.company ? make('p', 'item__line', held.email) : null,
      make('p', 'item__line spam-item__reason', null, [
        make('strong', null, 'Held because: '),
        textNode(held.reason || 'it reads as spam')
      ]),
      spamMessage(held),
      make('p', 'item__line', null, [textNode(deletedOn(held.expires_at)), timeNode(held.expires_at, null, true)]),
      actions,
      status
    ]);
    item.setAttribute('data-spam', held.id);
    item.setAttribute('tabindex', '-1');
    spamActions(held, item, actions, status);
    return item;
  }

  function deletedOn(iso) {
    var date = parsed(iso);
    var today = date && date.toDateString() === new Date().toDateString();
    return today ? 'Deleted by itself today at ' : 'Deleted by itself on ';
  }

  /* The message's first lines, and a button that shows all of it when there is more. */
  function spamMessage(held) {
    var whole = String(held.message || '').trim();
    var brief = opening(whole, SPAM_LINES, SPAM_CHARACTERS);
    var text = make('p', 'spam-item__message', whole);
    text.id = 'spam-message-' + held.id;
    if (whole.split(/\r?\n/).length <= SPAM_LINES && whole.length <= SPAM_CHARACTERS) return text;
    text.textContent = brief;
    var toggle = button('Show all of it', 'button button--quiet spam-item__toggle', function () {
      var open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
      toggle.textContent = open ? 'Show less' : 'Show all of it';
      text.textContent = open ? whole : brief;
    });
    toggle.setAttribute('aria-expanded', 'false');
    toggle.setAttribute('aria-controls', text.id);
    return make('div', 'spam-item__body', null, [text, toggle]);
  }

  /* "Not spam" at once; "Delete" asks first, as every action that cannot be undone. */
  function spamActions(held, item, actions, status) {
    var release = button('Not spam', 'button', function () {
      release.disabled = true;
      tell(status, 'Sending to the inbox…');
      post('spam-release:' + held.id, '/api/spam/' + held.id + '/release', {}).then(function (result) {
        settleSpam(held, item, status, result, 'Sent to the inbox', function () {
          release.disabled = false;
          release.focus();
        });
      });
    });
    var removal = make('span', 'spam-item__delete');
    actions.appendChild(release);
    actions.appendChild(removal);
    var ask = { label: 'Delete', question: 'Delete this post for good?', yes: 'Delete', no: 'Keep' };
    askFirst(removal, ask, function (restore) {
      release.disabled = true;
      removal.textContent = 'Deleting…';
      post('spam-delete:' + held.id, '/api/spam/' + held.id + '/delete', {}).then(function (result) {
        settleSpam(held, item, status, result, 'Deleted', function () {
          release.disabled = false;
          restore();
          find('button', removal).focus();
        });
      });
    });
  }

  /* An action's answer: done, or another member was first (404), and the post leaves the
   * list, a line saying so in its place; otherwise it stays, and says why. */
  function settleSpam(held, item, status, result, done, restore) {
    if (result.handled) return;
    if (!result.ok && result.status !== 404) {
      restore();
      tell(status, problem(result), 'error');
      return;
    }
    var at = spamIndex(held.id);
    if (at >= 0) state.spam.posts.splice(at, 1);
    showSpamState();
    if (!item.parentNode) return; // the list was loaded again meanwhile
    var said = result.ok ? done : 'Already handled by someone else';
    var note = make('li', 'item spam-note' + (result.ok ? '' : ' spam-note--late'), null, [
      make('strong', null, said),
      textNode(': the post from ' + sender(held) + '.')
    ]);
    note.setAttribute('tabindex', '-1');
    var focused = item.contains(document.activeElement) || document.activeElement === document.body;
    item.parentNode.replaceChild(note, item);
    if (focused) note.focus();
  }

  // == grants =========================================================================

  function loadGrants() {
    return fetchFor('grants', '/api/grants', function (body) {
      fill('grant', body.grants || [], grantItem);
      showGrant(state.grant);
    });
  }

  /* The grant a link named (#/grants/<id>): brought into view and given focus. */
  function showGrant(id) {
    if (!id) return;
    var item = document.querySelector('[data-grant="' + id + '"]');
    if (!item) return;
    item.classList.add('is-target');
    item.setAttribute('tabindex', '-1');
    item.scrollIntoView({ block: 'center' });
    item.focus();
  }

  function grantItem(grant) {
    var uses = grant.max_uses
      ? grant.redemptions + ' of ' + grant.max_uses + ' uses'
      : plural(grant.redemptions, 'use', 'uses') + ', no limit';
    var actions = make('div', 'item__actions');
    var item = make('li', 'item grant-item', null, [
      make('div', 'item__head', null, [
        make('strong', 'item__title', grant.lead),
        make('span', 'badge badge--' + grant.status.replace(/\W+/g, '-'), grant.status)
      ]),
      make('p', 'item__line', [grant.email || 'no email', grant.company].filter(Boolean).join(' · ')),
      make('p', 'item__line', 'Sections: ' + (grant.sections || []).join(', ')),
      make('p', 'item__line', null, [
        textNode(uses + (grant.expires_at ? ' · expires ' : ' · no end date')),
        grant.expires_at ? timeNode(grant.expires_at) : null
      ]),
      actions
    ]);
    item.setAttribute('data-grant', grant.id);
    if (!grant.revoked) revokeButton(grant, actions);
    return item;
  }

  function revokeButton(grant, actions) {
    var ask = { label: 'Revoke', question: 'Revoke this link? It stops working at once.', yes: 'Revoke', no: 'Keep' };
    askFirst(actions, ask, function (restore) {
      actions.textContent = 'Revoking…';
      post('revoke:' + grant.id, '/api/grants/' + grant.id + '/revoke', {}).then(function (result) {
        if (result.handled) return;
        if (!result.ok) {
          restore();
          notice(problem(result));
          return;
        }
        loadGrants();
      });
    });
  }

  function grantBody(form) {
    var body = { lead: value(form, 'lead'), sections: value(form, 'sections') };
    if (form.elements.namedItem('no_email').checked) body.no_email = true;
    else body.email = value(form, 'email');
    if (value(form, 'company')) body.company = value(form, 'company');
    ['days', 'max_uses'].forEach(function (name) {
      var raw = value(form, name);
      // A number the server then bounds; anything else is passed on for it to explain.
      if (raw) body[name] = /^\d+$/.test(raw) ? parseInt(raw, 10) : raw;
    });
    return body;
  }

  /* The link is shown once: gone on Done, on leaving the view, on signing out. */
  function clearGrantLink() {
    find('[data-grant-url]').value = '';
    tell(find('[data-copy-status]'), '');
    find('[data-grant-link]').hidden = true;
  }

  function initGrants() {
    var form = find('[data-grant-form]');
    var noEmail = form.elements.namedItem('no_email');
    noEmail.addEventListener('change', function () {
      var email = form.elements.namedItem('email');
      email.disabled = noEmail.checked;
      if (noEmail.checked) email.value = '';
    });
    onSubmit(form, function (form, status) {
      tell(status, 'Creating…');
      var body = grantBody(form);
      return post('grant', '/api/grants', body).then(function (result) {
        if (failed(form, status, result)) return;
        form.reset();
        form.elements.namedItem('email').disabled = false;
        loadGrants();
        if (!result.body.url) {
          // A repeat of a creation whose first answer was lost: only that answer held the
          // link, and the server keeps just its hash.
          clearGrantLink();
          tell(status, 'The link for ' + result.body.grant.lead + ' was created, but the answer that ' +
            'showed it was lost on the way. Revoke that grant and create another.', 'error');
          return;
        }
        tell(status, 'Created the link for ' + result.body.grant.lead + '.', 'ok');
        var box = find('[data-grant-link]');
        find('[data-grant-url]').value = result.body.url;
        tell(find('[data-copy-status]'), '');
        box.hidden = false;
        find('[data-copy-link]').focus();
      });
    });
    find('[data-copy-link]').addEventListener('click', function () {
      var input = find('[data-grant-url]');
      copyText(input.value, find('[data-copy-status]'), input);
    });
    find('[data-grant-done]').addEventListener('click', clearGrantLink);
  }

  // == deliveries =====================================================================

  function loadDeliveries() {
    var filter = find('[data-delivery-filter]').value;
    return fetchFor('deliveries', '/api/deliveries?state=' + encodeURIComponent(filter), function (body) {
      fill('delivery', body.deliveries || [], deliveryItem);
    });
  }

  function deliveryItem(line) {
    var actions = make('div', 'item__actions');
    var item = make('li', 'item delivery-item', null, [
      make('div', 'item__head', null, [
        make('strong', 'item__title', line.kind + ' ' + line.id),
        make('span', 'badge badge--' + line.state, line.state)
      ]),
      make('p', 'item__line', 'Channel: ' + line.channel + ' · ' + plural(line.attempts, 'attempt', 'attempts')),
      line.last_error ? make('p', 'item__line item__error', 'Last error: ' + line.last_error) : null,
      line.next_attempt_at
        ? make('p', 'item__line', null, [textNode('Next attempt '), timeNode(line.next_attempt_at)])
        : null,
      actions
    ]);
    item.setAttribute('data-delivery', line.kind + ':' + line.id + ':' + line.channel);
    // A chat's and a nudge's id is the chat's lead id.
    if (LEAD_ID.test(line.id) && line.kind !== 'contact') {
      var open = make('a', 'item__link', 'Open the chat');
      open.href = '#/chats/' + line.id;
      actions.appendChild(open);
    }
    if (line.state === 'failed') {
      actions.appendChild(
        button('Retry', 'button', function (event) {
          retryDelivery(line, event.target);
        })
      );
    }
    return item;
  }

  function retryDelivery(line, control) {
    var status = find('[data-delivery-status]');
    control.disabled = true;
    post('retry:' + line.kind + ':' + line.id, '/api/deliveries/retry', { kind: line.kind, id: line.id }).then(
      function (result) {
        control.disabled = false;
        if (result.handled) return;
        if (!result.ok) {
          tell(status, problem(result), 'error');
          return;
        }
        tell(
          status,
          'Put back in the queue: ' +
            plural(result.body.retried, 'delivery', 'deliveries') +
            ' of ' + line.kind + ' ' + line.id + '; the next sweep sends ' +
            (result.body.retried === 1 ? 'it.' : 'them.'),
          'ok'
        );
        loadDeliveries();
      }
    );
  }

  // == privacy ========================================================================

  /* What a request changed or erased, per store (the server's names, made readable). */
  function countsList(counts) {
    var list = make('ul', 'counts');
    Object.keys(counts || {}).forEach(function (name) {
      list.appendChild(make('li', null, name.replace(/_/g, ' ') + ': ' + counts[name]));
    });
    return list;
  }

  /* A correction's or an erasure's answer: the records changed, then what the team still
   * does by hand outside this system, with the mailbox search to do it. */
  function showOutcome(result, outcome, advice, heading) {
    result.textContent = '';
    if (heading) result.appendChild(make('h2', null, heading));
    result.appendChild(countsList(outcome.counts));
    result.appendChild(make('p', 'hint', advice));
    showSearch(result, outcome.mailbox_search);
    result.hidden = false;
  }

  /* The mailbox search, or the searches a line each for someone with many records. */
  function showSearch(holder, search) {
    if (String(search).indexOf('\n') >= 0) {
      holder.appendChild(make('p', 'hint', 'Each line is a search of its own: run them one by one.'));
    }
    holder.appendChild(make('pre', 'json', search));
  }

  /* An export, readable: how many records of each kind, each one in a line, and what
   * lies outside this system. The JSON itself is only downloaded. */
  function renderExport(holder, data) {
    var contacts = data.contact_submissions || [];
    var sessions = data.chat_sessions || [];
    var grants = data.access_grants || [];
    var rows = data.crm_rows || [];
    var actions = data.team_actions || [];
    var requests = data.privacy_requests || [];
    holder.textContent = '';
    holder.appendChild(
      countsList({
        contact_submissions: contacts.length,
        chat_sessions: sessions.length,
        chat_messages: sessions.reduce(function (n, session) {
          return n + (session.messages || []).length;
        }, 0),
        access_grants: grants.length,
        crm_rows: rows.length,
        team_actions: actions.length,
        privacy_requests: requests.length
      })
    );
    exportList(holder, 'Contact form submissions', 'contacts', contacts, function (form) {
      return [
        stamp(form.created_at),
        [form.name, form.company].filter(Boolean).join(', '),
        opening(form.message, 2, 200),
        sentTo(form.deliveries)
      ];
    });
    exportList(holder, 'Chats', 'chats', sessions, function (session) {
      var messages = session.messages || [];
      return [
        stamp(session.created_at),
        'from ' + (session.page || '/'),
        session.status,
        plural(messages.length, 'message', 'messages'),
        messages.length ? opening(messages[0].text, 1, 140) : '',
        sentTo(session.deliveries)
      ];
    });
    exportList(holder, 'Access links', 'grants', grants, function (grant) {
      return [
        grant.lead,
        'sections: ' + (grant.sections || []).join(', '),
        'created ' + stamp(grant.created_at),
        grant.revoked_at ? 'revoked' : grant.expires_at ? 'expires ' + stamp(grant.expires_at) : 'no end date'
      ];
    });
    exportList(holder, 'CRM rows', 'crm', rows, function (row) {
      return [row.received_at, row.source, row.record_id];
    });
    exportList(holder, 'What the team did', 'actions', actions, function (action) {
      return [action.words];
    });
    exportList(holder, 'Earlier privacy requests', 'requests', requests, function (request) {
      return [stamp(request.at), request.kind, request.outcome];
    });
    var outside = data.outside_this_system;
    if (outside) {
      holder.appendChild(make('h3', null, 'Outside this system'));
      var list = make('ul', 'export__items');
      if (outside.mailbox) list.appendChild(make('li', null, outside.mailbox));
      if (outside.emailjs) list.appendChild(make('li', null, outside.emailjs));
      if (outside.sheet_history) list.appendChild(make('li', null, outside.sheet_history));
      holder.appendChild(list);
      if (outside.mailbox_search) {
        holder.appendChild(make('p', 'hint', 'Search the mailbox for:'));
        showSearch(holder, outside.mailbox_search);
      }
    }
  }

  /* Where a record went on to, as its export says: "email sent, crm sent". */
  function sentTo(deliveries) {
    return Object.keys(deliveries || {})
      .map(function (channel) {
        return channel + ' ' + deliveries[channel].state;
      })
      .join(', ');
  }

  /* One line per record: its parts, those empty left out. */
  function exportList(holder, title, name, entries, parts) {
    headedList(holder, title, 'data-export-' + name, 'export__items', entries, function (entry) {
      return make('li', null, parts(entry).filter(Boolean).join(' · '));
    });
  }


  /* The export as a file: a Blob behind a link made for the click. */
  function downloadExport() {
    var data = state.exported;
    if (!data) return;
    var blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
    var url = URL.createObjectURL(blob);
    var link = make('a', 'visually-hidden', 'Download');
    link.href = url;
    link.download = 'privacy-export-' + String(data.email || 'person').replace(/[^\w.@-]+/g, '_') + '.json';
    document.body.appendChild(link);
    link.click();
    document.body.removeChild(link);
    setTimeout(function () {
      URL.revokeObjectURL(url);
    }, 60000);
  }

  /* What the privacy view showed about someone, gone: on leaving it, on signing out. */
  function clearExport() {
    var form = find('[data-privacy=export]');
    state.exported = null;
    find('[data-export-summary]', form).textContent = '';
    find('[data-result]', form).hidden = true;
    tell(find('.status', form), '');
  }

  function clearPrivacy() {
    clearExport();
    var outcome = find('[data-privacy-outcome]');
    outcome.textContent = '';
    outcome.hidden = true;
    Array.prototype.forEach.call(document.querySelectorAll('[data-privacy] [data-result]'), function (node) {
      node.hidden = true;
    });
  }

  /* An erasure runs in calls: each erases for a few seconds and answers what it has done
   * so far, `done: false` until the last, naming the erasure (`continues`), which the
   * next call sends back. The page calls again at once, saying how far it has got, and
   * answers with the last call's answer; a failure after the first call keeps the
   * progress in its message: the member knows something was deleted, and to send it
   * again to finish. */
  function erase(body, status, deleted) {
    return post('delete', '/api/privacy/delete', body).then(function (answer) {
      var going = answer.ok && answer.body && answer.body.done === false;
      if (!answer.ok && deleted) {
        answer.error = {
          message:
            plural(deleted, 'record was', 'records were') + ' deleted before the erasure stopped. ' +
            problem(answer) + ' Press Delete again to finish it.'
        };
        answer.network = false; // said above, with the progress
      }
      if (!going) return answer;
      var counts = answer.body.counts || {};
      var total = Object.keys(counts).reduce(function (sum, name) {
        return sum + counts[name];
      }, 0);
      tell(status, 'Deleting… ' + plural(total, 'record', 'records') + ' deleted so far.');
      var next = { email: body.email, confirm: body.confirm, continues: answer.body.continues };
      return erase(next, status, total);
    });
  }

  function initPrivacy() {
    onSubmit(find('[data-privacy=export]'), function (form, status) {
      clearExport();
      tell(status, 'Exporting…');
      return post('export', '/api/privacy/export', { email: value(form, 'email') }).then(function (answer) {
        if (failed(form, status, answer)) return;
        var data = answer.body.export || {};
        state.exported = data;
        tell(status, 'What we hold about ' + data.email + ':', 'ok');
        renderExport(find('[data-export-summary]', form), data);
        find('[data-result]', form).hidden = false;
      });
    });
    find('[data-download-export]').addEventListener('click', downloadExport);

    onSubmit(find('[data-privacy=correct]'), function (form, status) {
      var result = find('[data-result]', form);
      var body = { email: value(form, 'email') };
      ['name', 'company', 'new_email'].forEach(function (name) {
        if (value(form, name)) body[name] = value(form, name);
      });
      result.hidden = true;
      if (Object.keys(body).length === 1) {
        tell(status, 'Give at least one new value: name, company or email.', 'error');
        return null;
      }
      tell(status, 'Correcting…');
      return post('correct', '/api/privacy/correct', body).then(function (answer) {
        if (failed(form, status, answer)) return;
        tell(status, 'Corrected. Records changed:', 'ok');
        showOutcome(
          result,
          answer.body,
          "Outside this system: the team's mailbox and EmailJS's send history keep the old " +
            'values as they were sent; the search below finds them, to delete if the person asks. ' +
            "The CRM sheet's version history keeps them too: replacing the sheet by a copy purges " +
            'it (operating.md, "A privacy request, end to end").'
        );
        form.reset();
      });
    });

    onSubmit(find('[data-privacy=delete]'), function (form, status) {
      var outcome = find('[data-privacy-outcome]');
      var email = value(form, 'email');
      var confirm = value(form, 'confirm');
      // The server checks this too; asking here spares a round trip for a typo.
      if (!email || confirm.toLowerCase() !== email.toLowerCase()) {
        showFieldErrors(form, { confirm: 'must repeat the address, to confirm' }, status);
        return null;
      }
      tell(status, 'Deleting…');
      return erase({ email: email, confirm: confirm }, status).then(function (answer) {
        if (failed(form, status, answer)) return;
        tell(status, '');
        // Whatever an export showed is gone now: so is the export, and the outcome
        // takes the top of the view.
        clearExport();
        showOutcome(
          outcome,
          answer.body,
          "Outside this system: search the team's mailbox for the text below, delete what " +
            "it finds and empty the trash; delete these sends from EmailJS's send history too. " +
            "The CRM sheet's version history still shows the deleted rows, and no version can be " +
            'deleted: replace the sheet by a copy (File → Make a copy; a copy has no history), ' +
            'as operating.md says ("A privacy request, end to end").',
          'Deleted everything about ' + email + ' held here:'
        );
        outcome.focus();
        form.reset();
      });
    });
  }

  // == audit and status ===============================================================

  function loadAudit() {
    return fetchFor('audit', '/api/audit', function (body) {
      fill('audit', body.audit || [], auditItem);
    });
  }

  /* The server's sentence, linked to what it names, and the action's code beneath. */
  function auditItem(record) {
    var said = record.words;
    return make('li', 'item audit-item', null, [
      make('div', 'item__head', null, [
        pageLink(record.link, 'item__title', said),
        timeNode(record.at, 'item__time')
      ]),
      make('p', 'item__line', null, [make('code', 'audit-item__action', record.action)])
    ]);
  }

  function card(label, number, tone) {
    return make('div', 'card' + (tone ? ' card--' + tone : ''), null, [
      make('span', 'card__number', number),
      make('span', 'card__label', label)
    ]);
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return '';
    if (seconds < 120) return ', oldest ' + seconds + ' s';
    if (seconds < 7200) return ', oldest ' + Math.round(seconds / 60) + ' min';
    return ', oldest ' + Math.round(seconds / 3600) + ' h';
  }

  function channelItem(entry) {
    var line = ['pending', 'retrying', 'held', 'failed']
      .map(function (bucket) {
        var counted = entry.status[bucket] || { count: 0 };
        return counted.count + ' ' + bucket + age(counted.oldest_age_seconds);
      })
      .join(' · ');
    return make('li', 'item', null, [make('strong', 'item__title', entry.name), make('p', 'item__line', line)]);
  }

  function runItem(entry) {
    var run = entry.run;
    var counts = Object.keys((run && run.counts) || {})
      .map(function (name) {
        return name.replace(/_/g, ' ') + ' ' + run.counts[name];
      })
      .join(', ');
    var finished = run
      ? make('p', 'item__line', null, [
          textNode('Finished '),
          timeNode(run.finished_at),
          textNode(counts ? ' · ' + counts : '')
        ])
      : null;
    return make('li', 'item', null, [
      make('div', 'item__head', null, [
        make('strong', 'item__title', entry.name),
        make('span', 'badge' + (run ? ' badge--' + run.outcome : ''), run ? run.outcome : 'not run yet')
      ]),
      finished
    ]);
  }

  /* The numbers as /api/status gives them: the server counts. */
  function loadStatus() {
    return fetchFor('status', '/api/status', function (overview) {
      var channels = overview.deliveries || {};
      var runs = overview.runs || {};
      var chats = overview.chats || {};
      var grants = overview.grants || {};
      // This hour's emails against FORWARD_BUDGET; past it, emails wait for later hours.
      var emails = overview.budget || { sent: 0, budget: 0, held_now: 0 };
      var held = emails.held_now || 0;
      var failedCount = 0;
      Object.keys(channels).forEach(function (name) {
        failedCount += (channels[name].failed || { count: 0 }).count;
      });
      var waiting = chats.awaiting_reply || 0;
      var cards = find('[data-status-cards]');
      cards.textContent = '';
      [
        card(chats.open === 1 ? 'open chat' : 'open chats', chats.open || 0),
        card('awaiting a reply', waiting, waiting ? 'attention' : ''),
        card(grants.active === 1 ? 'active grant' : 'active grants', grants.active || 0),
        card(failedCount === 1 ? 'failed delivery' : 'failed deliveries', failedCount, failedCount ? 'attention' : ''),
        card(
          'emails sent this hour, of ' + emails.budget,
          emails.sent,
          emails.budget && emails.sent >= emails.budget ? 'attention' : ''
        ),
        card(held === 1 ? 'email held for a later hour' : 'emails held for a later hour', held, held ? 'attention' : '')
      ].forEach(function (node) {
        cards.appendChild(node);
      });
      fill(
        'channel',
        Object.keys(channels).map(function (name) {
          return { name: name, status: channels[name] };
        }),
        channelItem
      );
      fill(
        'run',
        Object.keys(runs).map(function (name) {
          return { name: name, run: runs[name] };
        }),
        runItem
      );
      fill('quarantine', overview.quarantine || [], heldRow);
    });
  }

  /* A day's count of the posts still held as spam; the day is the server's, in UTC. */
  function heldRow(entry) {
    var date = parsed(entry.day + 'T00:00:00Z');
    var day = make(
      'time',
      null,
      date
        ? date.toLocaleDateString(undefined, { weekday: 'short', month: 'short', day: 'numeric', timeZone: 'UTC' })
        : entry.day
    );
    day.setAttribute('datetime', entry.day);
    return make('tr', entry.quarantined ? 'days__held' : null, null, [
      make('td', null, null, [day]),
      make('td', 'days__count', entry.quarantined)
    ]);
  }

  // == start ==========================================================================

  function start() {
    initLocalSignIn();
    initChatList();
    initThread();
    initSound();
    initGrants();
    initPrivacy();
    find('[data-delivery-filter]').addEventListener('change', loadDeliveries);
    find('[data-spam-more]').addEventListener('click', loadMoreSpam);
    find('[data-signout]').addEventListener('click', function () {
      forgetSignIn();
      signOut('');
    });
    window.addEventListener('hashchange', route);
    document.addEventListener('visibilitychange', function () {
      // Back in sight: catch up at once (the timers stopped while hidden).
      if (document.hidden || !state.token) return;
      if (state.chat && !state.chat.timer) refreshThread(state.chat);
      pulse();
    });
    api('GET', '/api/config').then(function (result) {
      if (!result.ok || !result.body) {
        showOnly('signin');
        tell(find('[data-signin-status]'), 'The console could not load its settings. Reload the page to try again.', 'error');
        return;
      }
      state.config = result.body;
      resume();
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
