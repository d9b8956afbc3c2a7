// The notification badge after the live socket (re)opens: a badge pushed
// while the socket was down (a restart, a lost Redis connection) never
// arrived, so each open asks the server for the current one
// (presence:notification-badge) and puts it in place of the old. The socket
// joins the member's group before it opens: nothing falls between the two.
(function () {
  "use strict";
  document.addEventListener("htmx:wsOpen", function () {
    var badge = document.getElementById("notification-count");
    if (!badge || !badge.dataset.url) return;
    htmx.ajax("GET", badge.dataset.url, { target: "#notification-count", swap: "outerHTML" });
  });
})();
