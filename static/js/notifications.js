// Nav badges after the live socket (re)opens: a badge pushed while the
// socket was down (a restart, a lost Redis connection) never arrived, so
// each open asks the server for the current one and puts it in place of the
// old. The socket joins the member's group before it opens: nothing falls
// between the two. `Enishi.refetchBadge(id)` fetches the element with that id
// from its own data-url (the notifications badge here; the Reports badge in
// static/js/reports.js).
//
// A plain fetch, not htmx.ajax: a phone that loses its network while asking
// keeps the badge it has and asks again at the next open, with no error
// logged and no promise left rejected.
(function () {
  "use strict";
  function refetchBadge(id) {
    var badge = document.getElementById(id);
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
        var current = document.getElementById(id);
        if (!html || !current) return;
        var holder = document.createElement("template");
        holder.innerHTML = html.trim();
        var fresh = holder.content.firstElementChild;
        if (!fresh || fresh.id !== id) return;
        current.replaceWith(fresh);
        htmx.process(fresh);
      })
      .catch(function () {});
  }

  window.Enishi = window.Enishi || {};
  window.Enishi.refetchBadge = refetchBadge;

  document.addEventListener("htmx:wsOpen", function () {
    refetchBadge("notification-count");
  });
})();
