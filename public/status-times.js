// Shows every <time datetime> in the viewer's own time zone (the server renders the client's).
(function () {
  'use strict';
  var format = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
  window.localizeTimes = function (root) {
    var times = root.querySelectorAll('time[datetime]');
    for (var i = 0; i < times.length; i += 1) {
      var at = new Date(times[i].getAttribute('datetime'));
      if (!isNaN(at.getTime())) times[i].textContent = format.format(at);
    }
  };
  window.localizeTimes(document);
})();
