// Live status page: the server pushes the live part of the page as HTML (rendered and
// escaped by the server's templates) whenever it changes, and once on every (re)connect,
// so a page that was offline catches up. Without JavaScript the page is simply static.
(function () {
  'use strict';
  var live = document.getElementById('live');
  var state = document.getElementById('live-state');
  if (!live || typeof io !== 'function') return;

  // `data-live` on <html> says whether updates flow (for styling, and for browser tests).
  function show(text, connected) {
    document.documentElement.setAttribute('data-live', connected ? 'connected' : 'disconnected');
    state.hidden = !text;
    state.textContent = text || '';
  }

  var socket = io('/status', { auth: { client: live.getAttribute('data-client') } });
  // The statuses arrive first: patch the banner and each component in place.
  socket.on('status', function (update) {
    var banner = live.querySelector('.banner');
    if (banner) {
      banner.className = 'banner indicator-' + update.indicator;
      banner.querySelector('h1').textContent = update.description;
    }
    update.components.forEach(function (component) {
      var item = live.querySelector('[data-component="' + component.id + '"]');
      if (!item) return;
      item.setAttribute('data-status', component.status);
      var label = item.querySelector('.component-status');
      label.className = 'component-status status-' + component.status;
      label.textContent = component.label;
    });
  });
  // Then (and on every connect, to resync) the whole live part, rendered and escaped by the server.
  socket.on('page', function (update) {
    if (update.version === live.getAttribute('data-version')) return;
    live.innerHTML = update.html;
    live.setAttribute('data-version', update.version);
    if (window.localizeTimes) window.localizeTimes(live);
  });
  socket.on('connect', function () { show('', true); });
  socket.on('disconnect', function (reason) {
    show('Connection lost, reconnecting… (the page updates again once back)', false);
    // The client reconnects by itself, except when the server closed the connection (e.g. a restart).
    if (reason === 'io server disconnect') socket.connect();
  });
  socket.on('connect_error', function () { show('Live updates unavailable, retrying…', false); });
})();
