// A diary entry's page: its comments and like count come live over the one
// socket (base.html's #live, stream ?entry=<id>), and the page catches up on
// every socket open (what was said while it was closed or connecting).
(function () {
  "use strict";
  var page = document.querySelector(".diary[data-entry]");
  if (!page) return;
  var entryId = page.dataset.entry;
  var log = document.getElementById("entry-" + entryId + "-comments");
  var empty = document.getElementById("entry-" + entryId + "-no-comments");
  var form = document.getElementById("comment-form");
  var textarea = form.querySelector("textarea");
  var errorBox = document.getElementById("comment-error");

  // The comment's author, and the entry's author, see Delete on a comment.
  // Built through the CSSOM: the Content-Security-Policy allows no <style>.
  (function () {
    var rule = page.hasAttribute("data-entry-author")
      ? ".comment .own-or-mod"
      : '.comment[data-author="' + parseInt(page.dataset.member, 10) + '"] .own-or-mod';
    var sheet = new CSSStyleSheet();
    sheet.insertRule(rule + " { display: revert; }");
    document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
  })();

  function idOf(el) { return parseInt(el.dataset.id, 10) || 0; }
  function showEmpty() {
    if (empty) empty.hidden = !!log.querySelector("article.comment");
  }

  // Comments go in once each, in id order: the socket, the catch-up and the
  // answer to one's own post may all bring the same one.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (event.detail.target !== log) return;
    event.detail.shouldSwap = false;
    var nodes = Array.prototype.slice.call(event.detail.fragment.children || []);
    nodes.forEach(function (node) {
      if (!node.matches || !node.matches("article.comment[data-id]")) return;
      if (document.getElementById(node.id)) return;
      var id = idOf(node);
      var items = log.querySelectorAll("article.comment[data-id]");
      var anchor = null;
      for (var i = items.length - 1; i >= 0; i--) {
        if (idOf(items[i]) < id) { anchor = items[i]; break; }
      }
      if (anchor) anchor.after(node);
      else log.prepend(node);
      htmx.process(node);
    });
    showEmpty();
  });
  document.addEventListener("htmx:oobAfterSwap", showEmpty);

  // A fragment about something this page does not show (a comment deleted
  // that never reached it) has nothing to swap; htmx would log an error.
  function targetShown(el) {
    var value = el.getAttribute("hx-swap-oob");
    var colon = value.indexOf(":");
    var selector = colon > 0 ? value.slice(colon + 1) : el.id ? "#" + CSS.escape(el.id) : "";
    return !selector || !!document.querySelector(selector);
  }
  function withoutAbsentTargets(html) {
    if (html.indexOf("hx-swap-oob") === -1) return html;
    var template = document.createElement("template");
    template.innerHTML = html;
    var dropped = false;
    template.content.querySelectorAll("[hx-swap-oob]").forEach(function (el) {
      if (!targetShown(el)) { el.remove(); dropped = true; }
    });
    return dropped ? template.innerHTML : html;
  }
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (typeof message !== "string" || message.indexOf('<template id="live-') === 0) return;
    var kept = withoutAbsentTargets(message);
    if (kept === message) return;
    event.preventDefault();
    if (kept.trim()) htmx.swap(document.body, kept, { swapStyle: "none" });
  });
  page.addEventListener("htmx:beforeSwap", function (event) {
    if (typeof event.detail.serverResponse === "string") {
      event.detail.serverResponse = withoutAbsentTargets(event.detail.serverResponse);
    }
  });

  // Catch-up: every time the socket opens, the comments after the cursor and
  // the like count as it is now. The cursor (docs/live-protocol.md, "The
  // cursor") starts at the newest comment the page was rendered with and
  // moves only to the X-Cursor of a catch-up answer: a comment that came live
  // or as the answer to one's own post never moves it, so a gap before it is
  // still fetched.
  var cursor = parseInt(log.dataset.cursor, 10) || 0;
  document.addEventListener("htmx:wsOpen", function () {
    htmx.ajax("GET", log.dataset.catchupUrl + "?after=" + cursor, { source: log, swap: "none" });
  });
  log.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (event.detail.elt !== log || !event.detail.successful || !xhr) return;
    var next = parseInt(xhr.getResponseHeader("X-Cursor"), 10);
    if (next > cursor) cursor = next;
  });

  // Why a request of this page did not go through, or null when it did
  // (refusals answer 200 with X-Refused: project/refusals.py).
  function refusalOf(event) {
    var xhr = event.detail.xhr;
    if (!xhr || !xhr.status) return textarea.dataset.offline;
    if (event.detail.successful && !xhr.getResponseHeader("X-Refused")) return null;
    return (xhr.responseText || "").slice(0, 300) || textarea.dataset.offline;
  }
  page.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt === log) return;
    var reason = refusalOf(event);
    errorBox.textContent = reason || "";
    if (reason === null && event.detail.elt === form) form.reset();
  });
})();
