/* report.js - the report's audio player: a click on anything with data-start (a transcript
 * line, an objection, a pain point, an action item) seeks the recording there and plays; the
 * line being spoken is marked while it plays. Inlined into report.html, allowed by its hash. */
(function () {
  var player = document.getElementById('player');
  if (!player) return;
  var lines = document.querySelectorAll('.u[data-start]');
  document.addEventListener('click', function (e) {
    var el = e.target.closest ? e.target.closest('[data-start]') : null;
    var t = el ? parseFloat(el.getAttribute('data-start')) : NaN;
    if (isNaN(t)) return;
    player.currentTime = t;
    player.play();
  });
  player.addEventListener('timeupdate', function () {
    for (var i = 0; i < lines.length; i++) {
      var s = parseFloat(lines[i].getAttribute('data-start'));
      var next = i + 1 < lines.length ? parseFloat(lines[i + 1].getAttribute('data-start')) : Infinity;
      lines[i].classList.toggle('now', player.currentTime >= s && player.currentTime < next);
    }
  });
})();
