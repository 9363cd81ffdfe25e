/*
 * console.js: the team console's page. No dependencies, no build step; the team_console
 * function serves it with a strict Content-Security-Policy, so there is no inline code
 * or style anywhere.
 *
 * Sign-in: Google Identity Services (or, on the local stack, the local sign-in stand-in)
 * hands over a Google ID token, which lives in this script's memory only: no cookie, no
 * storage. Every API call sends it as `Authorization: Bearer`; a 401 forgets it and asks
 * to sign in again, a 403 says the account may not use the console.
 *
 * Views, by URL hash: #/chats, #/chats/<lead id> (the team's nudge email links there),
 * #/grants, #/grants/<grant id> (the note that a lead opened their link links there),
 * #/deliveries, #/privacy, #/audit, #/status. An open chat polls for new
 * messages every few seconds while the page is visible.
 *
 * Whatever a visitor or a lead wrote reaches the page through textContent only.
 */
(function () {
  'use strict';

  var POLL_MS = 3000;
  var LIST_EVERY_MS = 20000;
  var REQUEST_TIMEOUT_MS = 30000;
  var GOOGLE_SCRIPT = 'https://accounts.google.com/gsi/client';
  var VIEWS = ['chats', 'grants', 'deliveries', 'privacy', 'audit', 'status'];
  var LEAD_ID = /^[0-9a-f]{16}$/;
  var GRANT_ID = /^[0-9a-f]{64}$/;

  var state = {
    grant: '', // the grant a #/grants/<id> link names, shown once the list is there
    config: null,
    token: null, // the ID token: memory only
    email: '',
    view: '',
    chat: null, // the open thread: {leadId, lastId, timer, busy, again, closed}
    listTimer: null,
    keys: {}, // Idempotency-Keys of actions not yet answered, by action
    googleReady: false,
    googleLoading: false
  };

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

  function button(label, className, onClick) {
    var node = make('button', className || 'button', label);
    node.type = 'button';
    node.addEventListener('click', onClick);
    return node;
  }

  function tell(node, text, tone) {
    node.textContent = text || '';
    node.setAttribute('data-tone', tone || 'info');
    node.hidden = !text;
  }

  function notice(text) {
    tell(find('[data-notice]'), text, 'error');
  }

  function stamp(iso) {
    if (!iso) return '—';
    var date = new Date(iso);
    if (isNaN(date.getTime())) return String(iso);
    return date.toLocaleString(undefined, {
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit'
    });
  }

  function timeNode(iso, className) {
    var node = make('time', className, stamp(iso));
    if (iso) node.setAttribute('datetime', iso);
    return node;
  }

  function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : many);
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

  function clearFieldErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll('.field-error'), function (node) {
      node.parentNode.removeChild(node);
    });
    Array.prototype.forEach.call(form.querySelectorAll('[aria-invalid]'), function (input) {
      input.removeAttribute('aria-invalid');
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
  }

  function value(form, name) {
    var input = form.elements.namedItem(name);
    return input ? input.value.trim() : '';
  }

  /* Runs `submit(form, status)` on submit, once at a time; it returns a promise. */
  function onSubmit(form, submit) {
    var status = find('.status', form);
    form.addEventListener('input', function (event) {
      var input = event.target;
      if (input.getAttribute('aria-invalid')) {
        input.removeAttribute('aria-invalid');
        var note = input.parentNode.querySelector('.field-error');
        if (note) note.parentNode.removeChild(note);
      }
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
    stopChat();
    stopListRefresh();
    state.view = '';
    clearGrantLink();
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
        auto_select: false,
        cancel_on_tap_outside: true
      });
      state.googleReady = true;
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
        credentials: 'omit',
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
    var message = find('[data-signin-status]');
    tell(message, 'Signing in…');
    return api('GET', '/api/me').then(function (result) {
      if (result.handled) return;
      if (!result.ok) {
        state.token = null;
        tell(message, problem(result), 'error');
        return;
      }
      state.email = result.body.email;
      tell(message, '');
      find('[data-who]').textContent = state.email;
      find('.who').hidden = false;
      find('.nav').hidden = false;
      find('[data-local-signin]').hidden = true;
      find('[data-google-button]').hidden = true;
      route();
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
    state.grant = target.grant;
    if (target.view !== state.view) {
      stopListRefresh();
      if (state.view === 'chats') stopChat();
      if (state.view === 'grants') clearGrantLink();
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
  }

  var ENTER = {
    chats: function () {
      loadChats();
      keepRefreshing(loadChats);
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

  /* Reloads the view's list now and then while the page is visible. */
  function keepRefreshing(load) {
    stopListRefresh();
    function next() {
      state.listTimer = setTimeout(function () {
        if (!document.hidden) load();
        next();
      }, LIST_EVERY_MS);
    }
    next();
  }

  function stopListRefresh() {
    if (state.listTimer) clearTimeout(state.listTimer);
    state.listTimer = null;
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

  // == chats ==========================================================================

  function loadChats() {
    var filter = find('[data-chat-filter]').value;
    return fetchFor('chats', '/api/chats?status=' + encodeURIComponent(filter), function (body) {
      renderChatList(body.chats || [], filter);
    });
  }

  function renderChatList(chats, filter) {
    var open = state.chat && state.chat.leadId;
    fill('chat', chats, function (chat) {
      var link = make('a', 'chat-item__link', null, [
        make('span', 'chat-item__email', chat.email),
        chat.awaiting_reply ? make('span', 'badge badge--awaiting', 'Awaiting reply') : null,
        chat.status === 'closed' ? make('span', 'badge badge--closed', 'Closed') : null,
        make('span', 'chat-item__meta', null, [
          make('span', 'chat-item__page', chat.page || '/'),
          document.createTextNode(' · '),
          timeNode(chat.last_activity_at)
        ])
      ]);
      link.href = '#/chats/' + chat.lead_id;
      if (chat.lead_id === open) link.setAttribute('aria-current', 'true');
      var item = make('li', 'item chat-item' + (chat.awaiting_reply ? ' chat-item--awaiting' : ''), null, [link]);
      item.setAttribute('data-lead', chat.lead_id);
      return item;
    });
    if (filter !== 'closed') {
      var waiting = chats.filter(function (chat) {
        return chat.awaiting_reply;
      }).length;
      var count = find('[data-awaiting]');
      count.textContent = String(waiting);
      count.hidden = waiting === 0;
      count.setAttribute('aria-label', plural(waiting, 'chat awaits', 'chats await') + ' a reply');
    }
  }

  function markSelected(leadId) {
    Array.prototype.forEach.call(document.querySelectorAll('.chat-item__link'), function (link) {
      if (link.parentNode.getAttribute('data-lead') === leadId) link.setAttribute('aria-current', 'true');
      else link.removeAttribute('aria-current');
    });
  }

  function showChat(leadId) {
    var section = find('[data-section=chats]');
    if (!leadId) {
      stopChat();
      section.classList.remove('chats--thread');
      find('[data-thread]').hidden = true;
      find('[data-pick]').hidden = false;
      markSelected('');
      return;
    }
    if (state.chat && state.chat.leadId === leadId) return;
    stopChat();
    state.chat = { leadId: leadId, lastId: '', timer: null, busy: false, again: false, closed: false };
    section.classList.add('chats--thread');
    find('[data-thread]').hidden = false;
    find('[data-pick]').hidden = true;
    find('[data-messages]').textContent = '';
    find('[data-thread-title]').textContent = 'Loading…';
    find('[data-thread-meta]').textContent = '';
    find('[data-thread-actions]').textContent = '';
    var reply = find('[data-reply]');
    reply.reset();
    reply.hidden = true;
    tell(find('.status', reply), '');
    find('[data-closed-note]').hidden = true;
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
        return;
      }
      if (!result.ok) {
        notice(problem(result));
        schedulePoll(chat);
        return;
      }
      notice('');
      renderThreadHead(chat, result.body.chat);
      appendMessages(chat, result.body.messages || []);
      if (result.body.more || chat.again) fetchThread(chat);
      else schedulePoll(chat);
    });
  }

  function schedulePoll(chat) {
    if (chat.timer) clearTimeout(chat.timer);
    chat.timer = null;
    // No polling of a closed chat (nothing more can arrive) or from a hidden page.
    if (chat !== state.chat || chat.closed || document.hidden) return;
    chat.timer = setTimeout(function () {
      chat.timer = null;
      fetchThread(chat);
    }, POLL_MS);
  }

  function renderThreadHead(chat, info) {
    chat.closed = info.status === 'closed';
    find('[data-thread-title]').textContent = info.email;
    var meta = find('[data-thread-meta]');
    meta.textContent = 'From ' + (info.page || '/') + ', started ';
    meta.appendChild(timeNode(info.created_at));
    meta.appendChild(document.createTextNode(' · ' + plural(info.visitor_messages, 'visitor message', 'visitor messages')));
    if (info.awaiting_reply) meta.appendChild(make('span', 'badge badge--awaiting', 'Awaiting reply'));
    if (chat.closed) meta.appendChild(make('span', 'badge badge--closed', 'Closed'));
    find('[data-reply]').hidden = chat.closed;
    find('[data-closed-note]').hidden = !chat.closed;
    var actions = find('[data-thread-actions]');
    if (chat.closed) {
      actions.textContent = '';
    } else if (!actions.firstChild) {
      closeButton(chat, actions);
    }
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
        actions.textContent = '';
        refreshThread(chat);
        loadChats();
      });
    });
  }

  function appendMessages(chat, messages) {
    var list = find('[data-messages]');
    var atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    var added = false;
    messages.forEach(function (message) {
      // Ids are zero-padded numbers: they compare as strings in the messages' order.
      if (chat.lastId && message.id <= chat.lastId) return;
      chat.lastId = message.id;
      var team = message.author === 'team';
      var item = make('li', 'msg msg--' + (team ? 'team' : 'visitor'), null, [
        make('div', 'msg__head', null, [
          make('span', 'msg__author', team ? 'Team' : 'Visitor'),
          timeNode(message.created_at, 'msg__time')
        ]),
        make('p', 'msg__text', message.text)
      ]);
      item.setAttribute('data-author', team ? 'team' : 'visitor');
      item.setAttribute('data-id', message.id);
      list.appendChild(item);
      added = true;
    });
    if (added && (atEnd || messages.length === list.children.length)) list.scrollTop = list.scrollHeight;
  }

  function initChats() {
    find('[data-chat-filter]').addEventListener('change', loadChats);
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
          loadChats();
        }
      );
    });
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
        document.createTextNode(uses + (grant.expires_at ? ' · expires ' : ' · no end date')),
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
        ? make('p', 'item__line', null, [document.createTextNode('Next attempt '), timeNode(line.next_attempt_at)])
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

  /* A correction's or an erasure's answer: the records changed, then what the team still
   * does by hand outside this system, with the mailbox search to do it. */
  function showOutcome(result, outcome, advice) {
    result.textContent = '';
    result.appendChild(countsList(outcome.counts));
    result.appendChild(make('p', 'hint', advice));
    result.appendChild(make('pre', 'json', outcome.mailbox_search));
    result.hidden = false;
  }

  function countsList(counts) {
    var list = make('ul', 'counts');
    Object.keys(counts || {}).forEach(function (name) {
      list.appendChild(make('li', null, name.replace(/_/g, ' ') + ': ' + counts[name]));
    });
    return list;
  }

  function initPrivacy() {
    onSubmit(find('[data-privacy=export]'), function (form, status) {
      var result = find('[data-result]', form);
      result.hidden = true;
      tell(status, 'Exporting…');
      return post('export', '/api/privacy/export', { email: value(form, 'email') }).then(function (answer) {
        if (failed(form, status, answer)) return;
        tell(status, 'What we hold about ' + answer.body.export.email + ':', 'ok');
        find('[data-export-json]', form).textContent = JSON.stringify(answer.body.export, null, 2);
        result.hidden = false;
      });
    });
    find('[data-copy-export]').addEventListener('click', function () {
      var form = find('[data-privacy=export]');
      copyText(find('[data-export-json]', form).textContent, find('.status', form));
    });

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
            'values as they were sent; the search below finds them, to delete if the person asks.'
        );
        form.reset();
      });
    });

    onSubmit(find('[data-privacy=delete]'), function (form, status) {
      var result = find('[data-result]', form);
      var email = value(form, 'email');
      var confirm = value(form, 'confirm');
      result.hidden = true;
      // The server checks this too; asking here spares a round trip for a typo.
      if (!email || confirm.toLowerCase() !== email.toLowerCase()) {
        showFieldErrors(form, { confirm: 'must repeat the address, to confirm' }, status);
        return null;
      }
      tell(status, 'Deleting…');
      return post('delete', '/api/privacy/delete', { email: email, confirm: confirm }).then(function (answer) {
        if (failed(form, status, answer)) return;
        tell(status, 'Deleted everything about ' + email + ' held here:', 'ok');
        showOutcome(
          result,
          answer.body,
          "Outside this system: search the team's mailbox for the text below, delete what " +
            "it finds and empty the trash; delete these sends from EmailJS's send history too."
        );
        form.reset();
      });
    });
  }

  // == audit and status ===============================================================

  function loadAudit() {
    return fetchFor('audit', '/api/audit', function (body) {
      fill('audit', body.audit || [], function (record) {
        return make('li', 'item audit-item', null, [
          make('div', 'item__head', null, [
            make('strong', 'item__title', record.action),
            timeNode(record.at, 'item__time')
          ]),
          make('p', 'item__line', record.member + ' · ' + record.target)
        ]);
      });
    });
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
    var line = ['pending', 'retrying', 'failed']
      .map(function (bucket) {
        var counted = entry.status[bucket];
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
          document.createTextNode('Finished '),
          timeNode(run.finished_at),
          document.createTextNode(counts ? ' · ' + counts : '')
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

  function loadStatus() {
    return fetchFor('status', '/api/status', function (overview) {
      var channels = overview.deliveries || {};
      var runs = overview.runs || {};
      var failedCount = 0;
      Object.keys(channels).forEach(function (name) {
        failedCount += channels[name].failed.count;
      });
      var waiting = overview.chats.awaiting_reply;
      var cards = find('[data-status-cards]');
      cards.textContent = '';
      [
        card(overview.chats.open === 1 ? 'open chat' : 'open chats', overview.chats.open),
        card('awaiting a reply', waiting, waiting ? 'attention' : ''),
        card(overview.grants.active === 1 ? 'active grant' : 'active grants', overview.grants.active),
        card(failedCount === 1 ? 'failed delivery' : 'failed deliveries', failedCount, failedCount ? 'attention' : '')
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
    });
  }

  // == start ==========================================================================

  function start() {
    initLocalSignIn();
    initChats();
    initGrants();
    initPrivacy();
    find('[data-delivery-filter]').addEventListener('change', loadDeliveries);
    find('[data-signout]').addEventListener('click', function () {
      if (state.config && state.config.signin === 'google' && window.google && window.google.accounts) {
        window.google.accounts.id.disableAutoSelect();
      }
      signOut('');
    });
    window.addEventListener('hashchange', route);
    document.addEventListener('visibilitychange', function () {
      // Back in sight: catch up at once (the timers stopped while hidden).
      if (!document.hidden && state.chat && !state.chat.timer) refreshThread(state.chat);
      if (!document.hidden && state.view === 'chats') loadChats();
    });
    api('GET', '/api/config').then(function (result) {
      if (!result.ok || !result.body) {
        showOnly('signin');
        tell(find('[data-signin-status]'), 'The console could not load its settings. Reload the page to try again.', 'error');
        return;
      }
      state.config = result.body;
      signOut('');
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
