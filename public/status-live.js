// Live status page: the server pushes the live part of the page as HTML (rendered and
// escaped by the server's templates) whenever it changes, and once on every (re)connect,
// so a page that was offline catches up. Without JavaScript the page is simply static.
(function () {
  'use strict';
  var live = document.getElementById('live');
  var uptime = document.getElementById('uptime');
  var state = document.getElementById('live-state');
  if (!live || typeof io !== 'function') return;

  // `data-live` on <html> says whether updates flow (for styling, and for browser tests).
  function show(text, connected) {
    document.documentElement.setAttribute('data-live', connected ? 'connected' : 'disconnected');
    state.hidden = !text;
    state.textContent = text || '';
  }

  // On every (re)connection the server sends only what differs from the versions shown.
  var socket = io('/status', {
    auth: function (send) {
      send({ client: live.getAttribute('data-client'), version: live.getAttribute('data-version'), uptime: uptime && uptime.getAttribute('data-version') });
    },
  });
  // Pushes can cross a reconnection's resync: never show an older state over a newer one.
  // (Sequences count per daemon process, so they start again with every connection.)
  var shown = 0;
  function isNewer(update) {
    if (update.sequence < shown) return false;
    shown = update.sequence;
    return true;
  }

  // Usually one push brings the live part with the statuses in it. Ahead of a large live part
  // the statuses come first on their own: patch the banner and each component in place.
  socket.on('status', function (update) {
    if (!isNewer(update)) return;
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
  // The live part and the uptime bars (also on every connect, to resync), rendered and
  // escaped by the server.
  function replace(container, update) {
    if (!container || !isNewer(update) || update.version === container.getAttribute('data-version')) return;
    container.innerHTML = update.html;
    container.setAttribute('data-version', update.version);
    if (window.localizeTimes) window.localizeTimes(container);
  }
  socket.on('page', function (update) { replace(live, update); });
  socket.on('uptime', function (update) { replace(uptime, update); });
  // Sequences count per daemon: after a reconnection (maybe to another replica), the resync
  // that follows is the reference again.
  socket.on('connect', function () {
    shown = 0;
    show('', true);
  });
  socket.on('disconnect', function (reason) {
    show('Connection lost, reconnecting… (the page updates again once back)', false);
    // The client reconnects by itself after a network failure or a server restart. The server
    // closes the connection itself ('io server disconnect') only when this page may no longer
    // be watched (made private, session ended): try once more, so that the refusal (or, if
    // the page was opened again meanwhile, the resync) shows.
    if (reason === 'io server disconnect') socket.connect();
  });
  socket.on('connect_error', function () { show('Live updates unavailable, retrying…', false); });
})();
