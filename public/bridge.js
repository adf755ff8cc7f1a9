// The live side of the major-incident bridge (views/bridge.hbs). Plain browser JavaScript,
// no build step. Everything people typed is put on the page with textContent, never as HTML.
(function () {
  'use strict';
  var root = document.getElementById('bridge');
  if (!root || typeof io !== 'function') return;
  var incidentId = root.dataset.incident;
  var csrf = root.dataset.csrf;
  // Timeline entries already on the page, and the newest one (asked for on reconnect).
  var state = { version: Number(root.dataset.version), lastEventId: '0', seen: new Set(), tasks: {} };
  var status = document.getElementById('b-status');

  document.querySelectorAll('#b-timeline li[data-event]').forEach(function (li) {
    state.seen.add(li.dataset.event);
    if (BigInt(li.dataset.event) > BigInt(state.lastEventId)) state.lastEventId = li.dataset.event;
  });

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    return node;
  }
  function setText(id, text) {
    var node = document.getElementById(id);
    if (node) node.textContent = text === null || text === undefined ? '' : String(text);
  }
  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? 'error' : 'muted';
  }

  function renderHeader(s) {
    var incident = s.incident;
    state.version = incident.version;
    setText('b-title', incident.title);
    setText('b-severity', incident.severity);
    setText('b-priority', incident.priority);
    setText('b-state', incident.state);
    setText('b-services', (incident.serviceIds || []).join(', '));
    var conference = document.getElementById('b-conference');
    conference.textContent = incident.conferenceUrl || '';
    if (incident.conferenceUrl) conference.setAttribute('href', incident.conferenceUrl); else conference.removeAttribute('href');
    var clocks = document.getElementById('b-sla');
    var next = clocks.lastElementChild;
    while (clocks.firstElementChild && clocks.firstElementChild !== next) clocks.removeChild(clocks.firstElementChild);
    (s.sla || []).forEach(function (clock) {
      var li = el('li', 'SLA ' + clock.kind + ' (' + clock.target + '): ', { 'data-kind': clock.kind });
      li.appendChild(el('span', '', { class: 'countdown', 'data-due': clock.dueAt || '', 'data-outcome': clock.outcome || '', 'data-state': clock.state }));
      clocks.insertBefore(li, next);
    });
    var communication = s.communication || {};
    document.getElementById('b-next-update').dataset.due = communication.nextUpdateDueAt || '';
    setText('b-updates-sent', communication.updatesSent || 0);
    var messages = document.getElementById('b-messages');
    messages.replaceChildren();
    (communication.messages || []).forEach(function (message) {
      messages.appendChild(el('li', message.createdAt + ' ' + message.kind + ' to ' + message.recipient + ': ' + message.status + (message.sentAt ? ' ' + message.sentAt : '')));
    });
    tick();
  }

  function renderRoles(s) {
    var list = document.getElementById('b-roles');
    list.replaceChildren();
    s.roles.forEach(function (role) {
      var li = el('li', null, { 'data-role': role.role });
      li.appendChild(el('strong', role.role));
      li.appendChild(document.createTextNode(': ' + role.name + ' <' + role.email + '>'));
      list.appendChild(li);
    });
  }

  function renderTasks(s) {
    var body = document.querySelector('#b-tasks tbody');
    body.replaceChildren();
    s.tasks.forEach(function (task) {
      state.tasks[task.id] = task;
      var row = el('tr', null, { 'data-task': String(task.id) });
      row.appendChild(el('td', task.title));
      row.appendChild(el('td', task.owner || ''));
      row.appendChild(el('td', task.dueAt || ''));
      var cell = el('td');
      var select = el('select', null, { 'aria-label': 'Status of ' + task.title, 'data-task': String(task.id) });
      ['open', 'in_progress', 'done', 'cancelled'].forEach(function (value) {
        var option = el('option', value.replace('_', ' '), { value: value });
        if (value === task.status) option.selected = true;
        select.appendChild(option);
      });
      cell.appendChild(select);
      row.appendChild(cell);
      body.appendChild(row);
    });
  }

  // Each entry once, in id order (an entry committed a moment late still lands in its place).
  function appendEvents(events) {
    var list = document.getElementById('b-timeline');
    events.forEach(function (event) {
      if (state.seen.has(event.id)) return;
      state.seen.add(event.id);
      var li = el('li', null, { 'data-event': event.id, class: event.visibility });
      li.appendChild(el('time', event.at));
      li.appendChild(document.createTextNode(' '));
      li.appendChild(el('span', event.actor.name, { class: 'muted' }));
      li.appendChild(document.createTextNode(' ' + event.message));
      var later = Array.prototype.find.call(list.children, function (other) { return BigInt(other.dataset.event) > BigInt(event.id); });
      list.insertBefore(li, later || null);
      if (BigInt(event.id) > BigInt(state.lastEventId)) state.lastEventId = event.id;
    });
  }

  // Suspect changes (change correlation): best first, each with why; confirm or dismiss in place.
  // The outcomes a confirmation may record: the button's words and the title's.
  var OUTCOME_WORDS = { failed: ['the change failed', 'failed'], successful_with_issues: ['it worked, with issues', 'successful with issues'] };
  function renderSuspects(s) {
    var expected = document.getElementById('b-expected');
    if (expected) expected.hidden = !s.expectedDuringChange;
    var list = document.getElementById('b-suspects');
    list.replaceChildren();
    var suspects = s.suspectChanges || [];
    if (suspects.length === 0) list.appendChild(el('li', 'No change in the look-back is linked to this incident.', { class: 'muted' }));
    suspects.forEach(function (suspect) {
      var li = el('li', null, { 'data-change': suspect.changeId });
      li.appendChild(el('strong', suspect.changeId));
      li.appendChild(document.createTextNode(' (' + suspect.score + ', ' + suspect.status + '): ' + suspect.reason));
      if (suspect.backoutPlan) li.appendChild(el('div', 'Backout plan: ' + suspect.backoutPlan, { class: 'muted' }));
      if (suspect.status === 'suspect') {
        // A change recorded as successful gets the outcome chosen here: one button each, so
        // nobody records "with issues" by default for a change that failed (IMP-04).
        var choices = suspect.outcomeChoices || [];
        if (choices.length === 0) li.appendChild(el('button', 'Caused it', { type: 'button', 'data-confirm': suspect.changeId }));
        choices.forEach(function (outcome) {
          var words = OUTCOME_WORDS[outcome] || [outcome, outcome];
          li.appendChild(el('button', 'Caused it: ' + words[0], { type: 'button', 'data-confirm': suspect.changeId, 'data-outcome': outcome, title: 'Confirm ' + suspect.changeId + ' as the cause and record its outcome as ' + words[1] }));
        });
        li.appendChild(el('button', 'Not it', { type: 'button', 'data-dismiss': suspect.changeId }));
      }
      list.appendChild(li);
    });
  }
  document.getElementById('b-suspects').addEventListener('click', function (event) {
    var target = event.target;
    if (target.dataset.confirm) {
      // One decision per suspect: its buttons wait for the answer (the next update redraws them).
      var buttons = target.parentNode.querySelectorAll('button');
      buttons.forEach(function (button) { button.disabled = true; });
      var body = target.dataset.outcome ? { outcome: target.dataset.outcome } : {};
      api('POST', '/suspects/' + encodeURIComponent(target.dataset.confirm) + '/confirm', body).then(function () { say('Saved.', false); }, function () {
        buttons.forEach(function (button) { button.disabled = false; });
      });
    }
    if (target.dataset.dismiss) {
      var reason = window.prompt('Why is ' + target.dataset.dismiss + ' not the cause?');
      if (reason) api('POST', '/suspects/' + encodeURIComponent(target.dataset.dismiss) + '/dismiss', { reason: reason }).then(function () { say('Saved.', false); }, function () {});
    }
  });

  function render(s) {
    renderHeader(s);
    renderRoles(s);
    renderTasks(s);
    renderSuspects(s);
    appendEvents(s.events || []);
  }

  function renderPresence(people) {
    var list = document.getElementById('b-presence');
    list.replaceChildren();
    people.forEach(function (person) { list.appendChild(el('li', person.name + ' <' + person.email + '>', { 'data-email': person.email })); });
  }

  // Countdowns: SLA clocks and the next client update, every second.
  function tick() {
    document.querySelectorAll('.countdown').forEach(function (node) {
      if (node.dataset.outcome) { node.textContent = node.dataset.outcome; return; }
      if (!node.dataset.due) { node.textContent = node.dataset.state === 'paused' ? 'paused' : 'none due'; return; }
      var left = Math.round((new Date(node.dataset.due).getTime() - Date.now()) / 1000);
      var abs = Math.abs(left);
      var text = Math.floor(abs / 60) + ':' + String(abs % 60).padStart(2, '0');
      node.textContent = left >= 0 ? 'in ' + text : 'overdue by ' + text;
      node.classList.toggle('overdue', left < 0);
    });
  }
  setInterval(tick, 1000);

  var socket = io('/bridge', { transports: ['websocket'] });
  function join() {
    socket.emit('bridge:join', { incident: incidentId, sinceEventId: state.lastEventId }, function (reply) {
      if (!reply || !reply.ok) return say('Cannot follow this incident live: ' + (reply && reply.error), true);
      render(reply.state);
      say('Live.', false);
    });
  }
  socket.on('connect', join); // also after a reconnect: catches up on what was missed, in order
  socket.on('disconnect', function () { say('Connection lost; reconnecting…', true); });
  socket.on('connect_error', function (error) { say('Cannot connect: ' + error.message, true); });
  socket.on('bridge:update', render);
  socket.on('bridge:presence', function (message) { renderPresence(message.people); });
  socket.on('bridge:closed', function (message) { say(message.reason, true); socket.disconnect(); });

  function api(method, path, body) {
    return fetch('/api/v1/incidents/' + encodeURIComponent(incidentId) + path, {
      method: method,
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var message = (data.error && data.error.message) || response.statusText;
          // A stale write: someone else was faster. Show it and catch up with the fresh state.
          if (response.status === 409) { say('Not saved: ' + message, true); join(); }
          else say('Not saved: ' + message, true);
          throw new Error(message);
        }
        return data;
      });
    });
  }

  function onSubmit(id, handler) {
    var form = document.getElementById(id);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var data = Object.fromEntries(new FormData(form).entries());
      handler(data).then(function () { form.reset(); say('Saved.', false); }, function () {});
    });
  }

  onSubmit('f-note', function (data) { return api('POST', '/notes', { text: data.text, visibility: 'internal' }); });
  onSubmit('f-update', function (data) { return api('POST', '/updates', { message: data.message, status: data.status }); });
  onSubmit('f-role', function (data) { return api('POST', '/roles', { role: data.role, email: data.email }); });
  onSubmit('f-task', function (data) { return api('POST', '/tasks', data.owner ? { title: data.title, owner: data.owner } : { title: data.title }); });
  onSubmit('f-severity', function (data) { return api('POST', '/severity', { severity: Number(data.severity), reason: data.reason, expectedVersion: state.version }); });
  onSubmit('f-resolve', function (data) { return api('POST', '/transition', { to: 'resolved', resolutionSummary: data.resolutionSummary, expectedVersion: state.version }); });
  onSubmit('f-conference', function (data) { return api('POST', '/conference', { url: data.url || null }); });

  var templates = document.getElementById('u-template');
  templates.addEventListener('change', function () {
    var option = templates.options[templates.selectedIndex];
    if (!templates.value) return;
    document.getElementById('u-message').value = option.textContent;
    document.getElementById('u-status').value = templates.value;
  });

  document.querySelectorAll('[data-action]').forEach(function (button) {
    button.addEventListener('click', function () {
      var action = button.dataset.action;
      var done = function () { say('Saved.', false); };
      if (action === 'acknowledge') api('POST', '/acknowledge', { expectedVersion: state.version }).then(done, function () {});
      if (action === 'mitigate') api('POST', '/transition', { to: 'mitigated', expectedVersion: state.version }).then(done, function () {});
      if (action === 'escalate-technical' || action === 'escalate-managerial') {
        var reason = window.prompt('Reason for the escalation');
        if (reason) api('POST', '/escalate', { type: action === 'escalate-technical' ? 'technical' : 'managerial', reason: reason }).then(done, function () {});
      }
    });
  });

  // Task status changes carry the version the page shows: a stale one is refused.
  document.querySelector('#b-tasks tbody').addEventListener('change', function (event) {
    var select = event.target;
    if (!select.dataset || !select.dataset.task) return;
    var task = state.tasks[select.dataset.task];
    api('PATCH', '/tasks/' + task.id, { status: select.value, expectedVersion: task.version }).then(function () { say('Saved.', false); }, function () {});
  });
})();
