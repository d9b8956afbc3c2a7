// Reports, live (moderation/reports.py): each new or resolved report sends
// every moderator concerned a bare notice of their open count,
// <template id="live-reports" data-count="N">, which live.js keeps from being
// swapped. On it, and whenever the socket (re)opens (a notice sent while it
// was down never arrived), the nav's badge is fetched again in the page's
// language, and an open queue (#report-queue) refetches its list.
(function () {
  "use strict";

  function refreshBadge() {
    var badge = document.getElementById("report-count");
    if (!badge || !badge.dataset.url || navigator.onLine === false) return;
    fetch(badge.dataset.url, {
      credentials: "same-origin",
      headers: { "HX-Request": "true" },
      cache: "no-store",
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        var current = document.getElementById("report-count");
        if (!html || !current) return;
        var holder = document.createElement("template");
        holder.innerHTML = html.trim();
        var fresh = holder.content.firstElementChild;
        if (!fresh || fresh.id !== "report-count") return;
        current.replaceWith(fresh);
      })
      .catch(function () {});
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (typeof message !== "string" || message.indexOf('<template id="live-reports"') !== 0) return;
    refreshBadge();
    if (document.getElementById("report-queue")) htmx.trigger(document.body, "reports-changed");
  });

  document.addEventListener("htmx:wsOpen", refreshBadge);
})();
