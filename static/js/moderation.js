// The muted member's composer (templates/moderation/_composer_mute.html).
// A moderator's mute or unmute reaches every open socket of the member as a
// bare notice (moderation/members.py):
//   <template id="live-mute" data-community data-until data-reason>
//   <template id="live-unmute" data-community>
// (data-until: an ISO time, empty for "until lifted"). The notice carries no
// words; #composer-mute holds them in the page's language (data-text,
// data-text-no-reason, data-until-lifted). While muted the composer's send
// button is disabled; the server refuses the post anyway (a stale page).
(function () {
  "use strict";
  var MAX_TIMER_MS = 2147483647;  // setTimeout's largest delay
  var expiry = null;

  function notice() {
    return document.getElementById("composer-mute");
  }

  function sendButtons() {
    return document.querySelectorAll("[data-composer] button[type=submit]");
  }

  function formatTime(date) {
    var lang = document.documentElement.lang || undefined;
    try {
      return date.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
    } catch (e) {
      return date.toLocaleString();
    }
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_match, name) {
      return values[name] !== undefined ? values[name] : "";
    });
  }

  function clear() {
    var el = notice();
    if (expiry) { clearTimeout(expiry); expiry = null; }
    if (!el) return;
    el.hidden = true;
    el.textContent = "";
    delete el.dataset.muted;
    sendButtons().forEach(function (button) { button.disabled = false; });
  }

  // Lift the notice by itself when a timed mute ends.
  function expireAt(until) {
    if (expiry) { clearTimeout(expiry); expiry = null; }
    if (!until) return;
    var delay = until.getTime() - Date.now();
    if (delay <= 0) { clear(); return; }
    if (delay <= MAX_TIMER_MS) expiry = setTimeout(clear, delay);
  }

  function parseUntil(value) {
    if (!value) return null;
    var date = new Date(value);
    if (isNaN(date.getTime()) || date.getFullYear() >= 9999) return null;
    return date;
  }

  function show(untilValue, reason) {
    var el = notice();
    if (!el) return;
    var until = parseUntil(untilValue);
    var untilText = until ? formatTime(until) : el.dataset.untilLifted;
    var template = reason ? el.dataset.text : el.dataset.textNoReason;
    el.textContent = fill(template || "", { until: untilText, reason: reason || "" });
    el.hidden = false;
    el.dataset.muted = "";
    sendButtons().forEach(function (button) { button.disabled = true; });
    expireAt(until);
  }

  function init() {
    var el = notice();
    if (!el || !("muted" in el.dataset)) return;
    sendButtons().forEach(function (button) { button.disabled = true; });
    expireAt(parseUntil(el.dataset.until));
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (typeof message !== "string") return;
    var muted = message.indexOf('<template id="live-mute"') === 0;
    if (!muted && message.indexOf('<template id="live-unmute"') !== 0) return;
    var holder = document.createElement("template");
    holder.innerHTML = message;
    var frame = holder.content.firstElementChild;
    var el = notice();
    if (!frame || !el || frame.dataset.community !== el.dataset.community) return;
    if (muted) show(frame.dataset.until, frame.dataset.reason);
    else clear();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
