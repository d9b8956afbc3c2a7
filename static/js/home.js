// The home page: a friend's new diary entry shows a "New entries" link that
// reloads the feed, rather than moving the feed under the reader's eyes; a
// comment or a like on one's own diary shows a link to the entry. The socket
// brings bare notices (<template id="live-...">, kept out of the page by
// live.js): they carry ids and a URL, the words are this page's own.
(function () {
  "use strict";
  var newEntries = document.getElementById("home-new-entries");
  var activity = document.getElementById("home-diary-activity");

  function notice(message) {
    var template = document.createElement("template");
    template.innerHTML = message;
    return template.content.firstElementChild;
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (typeof message !== "string") return;
    if (message.indexOf('<template id="live-new-entry"') === 0) {
      if (newEntries) newEntries.hidden = false;
    } else if (
      message.indexOf('<template id="live-diary-comment"') === 0 ||
      message.indexOf('<template id="live-diary-like"') === 0
    ) {
      var found = notice(message);
      var link = activity && activity.querySelector("[data-activity-link]");
      if (!found || !link) return;
      var url = found.getAttribute("data-url") || "";
      if (url.charAt(0) !== "/" || url.charAt(1) === "/") return;  // ours only
      link.setAttribute("href", url);
      activity.hidden = false;
    }
  });
})();
