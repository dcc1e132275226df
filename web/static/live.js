// Live updates (everything else works without JavaScript): the jackpot
// estimate every 2 seconds while sales are open, the countdown to the close
// every second, and the console's status panel every 5 seconds.
(function () {
  "use strict";
  var jackpot = document.querySelector("[data-jackpot-url]");
  if (jackpot) {
    var refresh = function () {
      fetch(jackpot.getAttribute("data-jackpot-url"), { headers: { "accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (v) {
          if (!v) { return; }
          if (jackpot.textContent !== v.text) { jackpot.textContent = v.text; }
          if (v.open) { setTimeout(refresh, 2000); }
        })
        .catch(function () { setTimeout(refresh, 2000); });
    };
    setTimeout(refresh, 2000);
  }
  var panel = document.querySelector("[data-refresh-url]");
  if (panel) {
    var reload = function () {
      fetch(panel.getAttribute("data-refresh-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          // Server-rendered markup (escaped by the server); scripts in it never run.
          if (html !== null) { panel.innerHTML = html; }
          setTimeout(reload, 5000);
        })
        .catch(function () { setTimeout(reload, 5000); });
    };
    setTimeout(reload, 5000);
  }
  var countdown = document.querySelector("[data-closes-at]");
  if (countdown) {
    var end = Date.parse(countdown.getAttribute("data-closes-at"));
    var dayUnit = countdown.getAttribute("data-day-unit") || "d";
    var tick = function () {
      var left = Math.max(0, Math.floor((end - Date.now()) / 1000));
      var d = Math.floor(left / 86400), h = Math.floor(left / 3600) % 24;
      var m = Math.floor(left / 60) % 60, s = left % 60;
      var pad = function (n) { return (n < 10 ? "0" : "") + n; };
      countdown.textContent = (d > 0 ? d + " " + dayUnit + " " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
      if (left > 0) { setTimeout(tick, 1000); }
    };
    tick();
  }
})();
