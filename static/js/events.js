// An event's page (docs/events.md, "Live"): its counts, attendee lists and
// summary come live over the one socket (base.html's #live, stream
// ?event=<id>); what is the viewer's own (their answer, their place in the
// waitlist, a place shown only to members going) comes from the page's own
// request for its panel (GET events:rsvp): each time the socket opens (its
// catch-up), after a notice to its member (<template id="live-event-rsvp">),
// and as the answer to its own answer.
//
// Every part carries the version it was read at (data-version). The page keeps
// the newest it has shown of each id and ignores an older one, so a fragment
// that arrives twice or late (the socket and an answer may both bring it)
// does no harm. An attendee's <li> names the list it belongs in (data-list:
// going, maybe, waitlist, or none when they are not coming) and moves there;
// the waitlist is in data-seq order, the others in the order of their answers.
(function () {
  "use strict";
  var page = document.querySelector(".event[data-event]");
  if (!page) return;
  var fragments = window.EnishiFragments;
  var prefix = page.id;
  var panelUrl = page.dataset.rsvpUrl;
  var errorBox = document.getElementById(prefix + "-rsvp-error");
  var mineId = prefix + "-mine";
  var seen = {};  // id -> the newest version shown (or told gone) of that part

  function version(el) { return parseInt(el.dataset.version, 10) || 0; }
  function number(value) { return parseInt(value, 10) || 0; }

  page.querySelectorAll("[id][data-version]").forEach(function (el) {
    seen[el.id] = version(el);
  });

  // --- Attendees --------------------------------------------------------------

  function orderKey(li) {
    return li.dataset.list === "waitlist"
      ? [number(li.dataset.seq), 0]
      : [version(li), number(li.dataset.member)];
  }

  function comesBefore(a, b) {
    var x = orderKey(a), y = orderKey(b);
    return x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
  }

  function placeAttendee(li) {
    var old = document.getElementById(li.id);
    if (old) old.remove();
    var list = li.dataset.list && li.dataset.list !== "none"
      ? document.getElementById(prefix + "-" + li.dataset.list)
      : null;
    if (!list) return;
    var anchor = null;
    for (var i = 0; i < list.children.length; i++) {
      if (comesBefore(li, list.children[i])) { anchor = list.children[i]; break; }
    }
    list.insertBefore(li, anchor);
  }

  // --- Parts by id ------------------------------------------------------------

  // The control the member was on inside a part about to be replaced, found
  // again in its new copy (an answer's buttons are drawn anew).
  function keepFocus(old, replacement) {
    var active = document.activeElement;
    if (!active || !old.contains(active) || !active.name) return function () {};
    var selector = '[name="' + CSS.escape(active.name) + '"]' +
      (active.value && active.tagName === "BUTTON" ? '[value="' + CSS.escape(active.value) + '"]' : "");
    return function () {
      var again = replacement.querySelector(selector);
      if (again && !again.disabled) again.focus();
    };
  }

  // Show `el` unless the page already showed a newer one (or, from the
  // socket, the same one). `own`: from the page's own request, which reads
  // everything at one version and may repeat it.
  function apply(el, own) {
    var known = seen[el.id];
    var v = version(el);
    if (known !== undefined && (own ? v < known : v <= known)) return;
    if (el.tagName === "LI") {
      seen[el.id] = v;
      placeAttendee(el);
      return;
    }
    var old = document.getElementById(el.id);
    if (!old) return;
    seen[el.id] = v;
    var restoreFocus = keepFocus(old, el);
    old.replaceWith(el);
    htmx.process(el);
    restoreFocus();
  }

  // After a summary: a closed event's buttons go off at once for everyone;
  // a page shown in another time zone than the summary's asks for its own.
  function afterSummary(summary) {
    if (summary.dataset.rsvpsOpen === "false") {
      page.querySelectorAll("#" + CSS.escape(mineId) + " button, #" + CSS.escape(mineId) + " select")
        .forEach(function (control) { control.disabled = true; });
    }
    if (summary.dataset.timeZone !== page.dataset.timeZone) {
      setTimeout(refresh, Math.random() * 1000);
    }
  }

  // --- From the socket ----------------------------------------------------------

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (event.detail.target !== page) return;
    event.detail.shouldSwap = false;
    Array.prototype.slice.call(event.detail.fragment.children || []).forEach(function (el) {
      if (!el.id || !el.dataset.version) return;
      var known = seen[el.id];
      apply(el, false);
      if (el.id === prefix + "-summary" && seen[el.id] !== known) afterSummary(el);
    });
  });

  // A notice that this member's own part of the page changed.
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (typeof message !== "string" || message.indexOf('<template id="live-event-rsvp"') !== 0) return;
    var template = document.createElement("template");
    template.innerHTML = message;
    var notice = template.content.firstElementChild;
    if (!notice || notice.dataset.event !== page.dataset.event) return;
    if (version(notice) > (seen[mineId] || 0)) refresh();
  });

  // --- The page's own panel -----------------------------------------------------

  // Everything as it was at one version: each part as above, and an attendee
  // shown but not in it has gone since, unless the socket told of them since.
  function applyOwn(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var root = template.content.querySelector(".event-own");
    if (!root) return;
    var at = version(root);
    var attendees = Array.prototype.slice.call(root.querySelectorAll("li[id]"));
    var named = {};
    attendees.forEach(function (li) { named[li.id] = true; });
    page.querySelectorAll(".rsvp-list > li[id]").forEach(function (li) {
      if (!named[li.id] && (seen[li.id] || 0) <= at) {
        li.remove();
        seen[li.id] = at;
      }
    });
    attendees.forEach(function (li) { apply(li, true); });
    Array.prototype.slice.call(root.querySelectorAll(":scope > [id][data-version]"))
      .forEach(function (el) { apply(el, true); });
  }

  var fetching = false;
  var again = false;
  function refresh() {
    if (fetching) { again = true; return; }
    fetching = true;
    again = false;
    fetch(panelUrl, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) { if (html) applyOwn(html); })
      .catch(function () {})  // offline: the next socket open catches up
      .then(function () {
        fetching = false;
        if (again) refresh();
      });
  }

  // Catch-up: every time the socket opens, the panel as it is now.
  document.addEventListener("htmx:wsOpen", refresh);

  // The answer to the member's own answer (the panel's buttons), or why not.
  page.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.elt.closest || !event.detail.elt.closest("#" + CSS.escape(mineId))) return;
    var reason = fragments.refusalOf(event, errorBox.dataset.offline);
    errorBox.textContent = reason || "";
    if (reason === null) applyOwn(event.detail.xhr.responseText);
  });
})();
