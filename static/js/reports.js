// Reports, live (moderation/reports.py): each new or resolved report sends
// every moderator concerned a bare notice of their open count,
// <template id="live-reports" data-count="N">, which live.js keeps from being
// swapped. On it, and whenever the socket (re)opens (a notice sent while it
// was down never arrived), the nav's badge is fetched again in the page's
// language, and whatever lists reports (the queue) refetches itself.
(function () {
  "use strict";

  function refreshBadge() {
    // static/js/notifications.js (loaded first, by base.html).
    if (window.Enishi && window.Enishi.refetchBadge) window.Enishi.refetchBadge("report-count");
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (typeof message !== "string" || message.indexOf('<template id="live-reports"') !== 0) return;
    refreshBadge();
    // What lists reports listens for this (the queue: hx-trigger="reports-changed from:body").
    htmx.trigger(document.body, "reports-changed");
  });

  document.addEventListener("htmx:wsOpen", refreshBadge);

  // A resolve the server refused (project/refusals.py: 200 with X-Refused and
  // its reason, nothing swapped) says why above the queue.
  document.addEventListener("htmx:afterRequest", function (event) {
    var path = event.detail.pathInfo && event.detail.pathInfo.requestPath;
    var box = document.getElementById("report-refusal");
    if (!box || !/\/reports\/\d+\/resolve\//.test(path || "")) return;
    var xhr = event.detail.xhr;
    var refused = xhr && (!xhr.status || xhr.getResponseHeader("X-Refused"));
    box.textContent = refused ? (xhr.responseText || "").slice(0, 300) : "";
  });
})();
