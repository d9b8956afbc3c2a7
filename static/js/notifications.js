// The notification badge after the live socket (re)opens: a badge pushed
// while the socket was down (a restart, a lost Redis connection) never
// arrived, so each open asks the server for the current one
// (presence:notification-badge) and puts it in place of the old. The socket
// joins the member's group before it opens: nothing falls between the two.
//
// A plain fetch, not htmx.ajax: a phone that loses its network while asking
// keeps the badge it has and asks again at the next open, with no error
// logged and no promise left rejected.
(function () {
  "use strict";
  document.addEventListener("htmx:wsOpen", function () {
    var badge = document.getElementById("notification-count");
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
        var current = document.getElementById("notification-count");
        if (!html || !current) return;
        var holder = document.createElement("template");
        holder.innerHTML = html.trim();
        var fresh = holder.content.firstElementChild;
        if (!fresh || fresh.id !== "notification-count") return;
        current.replaceWith(fresh);
        htmx.process(fresh);
      })
      .catch(function () {});
  });
})();
