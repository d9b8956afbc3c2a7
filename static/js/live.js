// The live socket: htmx's ws extension opens /ws/live/ and swaps what arrives.
// The extension reconnects only after abnormal closes (1006, 1011-1013); a
// normal close (Daphne's websocket_timeout sends 1000) would leave the tab
// deaf. Reconnect after any close while the page is visible; after a close
// that means "you are logged out" (4401), reload so the login page shows.
// After 4429 (this member has too many tabs open) say so, and try again when
// the tab is shown again or a minute later.
(function () {
  "use strict";
  var SESSION_ENDED = 4401;
  var TOO_MANY_SOCKETS = 4429;
  var TOO_MANY_RETRY_MS = 60000;
  var REFUSED = [4400, 4403];
  var EXTENSION_RETRIES = [1006, 1011, 1012, 1013];
  var pending = null;
  var delay = 500;

  function status(text) {
    var live = document.getElementById("live");
    var banner = document.getElementById("live-status");
    var limited = document.getElementById("live-limited");
    if (live) live.dataset.liveStatus = text;
    if (banner) banner.hidden = text !== "reconnecting";
    if (limited) limited.hidden = text !== "limited";
  }

  function retryWhenShownAgainOrLater(wrapper) {
    if (pending) return;
    var done = false;
    var retry = function () {
      if (done || document.visibilityState !== "visible") return;
      done = true;
      clearTimeout(pending);
      pending = null;
      document.removeEventListener("visibilitychange", retry);
      wrapper.reconnect();
    };
    document.addEventListener("visibilitychange", retry);
    pending = setTimeout(function () {
      pending = null;
      if (document.visibilityState === "visible") retry();
    }, TOO_MANY_RETRY_MS);
  }

  function reconnectWhenVisible(wrapper) {
    if (pending) return;
    var attempt = function () {
      if (document.visibilityState !== "visible") {
        document.addEventListener("visibilitychange", attempt, { once: true });
        return;
      }
      pending = setTimeout(function () {
        pending = null;
        wrapper.reconnect();
      }, delay);
      delay = Math.min(delay * 2, 15000);
    };
    attempt();
  }

  // Control frames are not swapped: the pong answers a ping.
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (typeof message !== "string" || message.indexOf('<template id="live-') !== 0) return;
    event.preventDefault();
  });

  document.addEventListener("htmx:wsOpen", function () {
    delay = 500;
    status("open");
  });

  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail.event.code;
    if (code === SESSION_ENDED) {
      status("closed");
      window.location.reload();
      return;
    }
    if (code === TOO_MANY_SOCKETS) {
      status("limited");
      retryWhenShownAgainOrLater(event.detail.socketWrapper);
      return;
    }
    if (REFUSED.indexOf(code) !== -1) {
      // This page may no longer watch its stream (e.g. left or removed).
      status("refused");
      return;
    }
    status("reconnecting");
    if (EXTENSION_RETRIES.indexOf(code) === -1) {
      reconnectWhenVisible(event.detail.socketWrapper);
    }
  });
})();
