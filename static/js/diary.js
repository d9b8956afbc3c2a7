// A diary entry's page: its comments and like count come live over the one
// socket (base.html's #live, stream ?entry=<id>), and the page catches up on
// every socket open (what was said while it was closed or connecting).
(function () {
  "use strict";
  var page = document.querySelector(".diary[data-entry]");
  if (!page) return;
  var fragments = window.EnishiFragments;
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

  function showEmpty() {
    if (empty) empty.hidden = !!log.querySelector("article.comment");
  }

  // Comments go in once each, in id order: the socket, the catch-up and the
  // answer to one's own post may all bring the same one.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (event.detail.target !== log) return;
    event.detail.shouldSwap = false;
    Array.prototype.slice.call(event.detail.fragment.children || []).forEach(function (node) {
      if (node.matches && node.matches("article.comment[data-id]")) {
        fragments.insertById(log, node, "article.comment[data-id]");
      }
    });
    showEmpty();
  });
  document.addEventListener("htmx:oobAfterSwap", showEmpty);

  // A fragment about something this page does not show (a comment deleted
  // that never reached it) has nothing to swap; htmx would log an error.
  fragments.keepToShown(page);

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

  // Why a request of this page did not go through, or null when it did.
  function refusalOf(event) {
    return fragments.refusalOf(event, textarea.dataset.offline);
  }
  page.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt === log) return;
    var reason = refusalOf(event);
    errorBox.textContent = reason || "";
    if (reason === null && event.detail.elt === form) form.reset();
  });
})();
