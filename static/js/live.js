// The live socket: htmx's ws extension opens /ws/live/ and swaps what arrives.
// The extension reconnects only after abnormal closes (1006, 1011-1013); a
// normal close (Daphne's websocket_timeout sends 1000) would leave the tab
// deaf. Reconnect after any close while the page is visible; after a close
// that means "you are logged out" (4401), reload so the login page shows.
// After 4429 (this member has too many tabs open) say so, and try again when
// the tab is shown again or a minute later.
//
// Every reconnect waits a random part of a window (full jitter): when a
// server restarts, or its Redis connection comes back and it closes every
// socket to authorize them again (4503), all its tabs would
// otherwise come back in the same instant. The window for those is the
// server's own figure, sized to the sockets it holds (#live
// data-reconnect-spread, in ms); a repeated failure doubles it, up to 30 s.
(function () {
  "use strict";
  var SESSION_ENDED = 4401;
  var RECHECK = 4408;
  var RESYNC = 4503;
  var TOO_MANY_SOCKETS = 4429;
  var TOO_MANY_RETRY_MS = 60000;
  var REFUSED = [4400, 4403];
  var EXTENSION_RETRIES = [1006, 1011, 1012, 1013];
  var RETRY_BASE_MS = 1000;
  var RETRY_CAP_MS = 30000;
  var RECHECK_SPREAD_MS = 250;  // one member's sockets, after a revocation
  var pending = null;
  var attempts = 0;

  function spread() {
    var live = document.getElementById("live");
    var value = live ? parseInt(live.dataset.reconnectSpread, 10) : NaN;
    return value > 0 ? value : RETRY_BASE_MS;
  }

  // After a failure (the server gone, a close while still failing): a random
  // delay in a window that doubles with each attempt, never below the spread.
  function failureDelay(attempt) {
    var exponent = Math.min(attempt, 10);
    return Math.random() * Math.min(RETRY_CAP_MS, Math.max(spread(), RETRY_BASE_MS * Math.pow(2, exponent)));
  }
  // The ws extension asks this for its own reconnects (1006, 1011-1013).
  htmx.config.wsReconnectDelay = failureDelay;

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

  function reconnectWhenVisible(wrapper, delay) {
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
    attempts = 0;
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
    if (EXTENSION_RETRIES.indexOf(code) !== -1) return;  // the extension's own
    var delay;
    if (code === RESYNC) {
      delay = Math.random() * spread();
    } else if (code === RECHECK) {
      delay = Math.random() * RECHECK_SPREAD_MS;
    } else {
      delay = failureDelay(attempts);
      attempts += 1;
    }
    reconnectWhenVisible(event.detail.socketWrapper, delay);
  });
})();
