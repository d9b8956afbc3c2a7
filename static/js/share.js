// "Share" buttons (a topic's link, an invitation link): the system's share
// sheet where the browser has the Web Share API (phones), else the link goes
// to the clipboard and the page says so in the button's status
// ([data-share-status] nearby, read by screen readers).
(function () {
  "use strict";
  function statusFor(button) {
    var scope = button.closest("[data-share-scope], header, section, main") || document;
    return scope.querySelector("[data-share-status]");
  }
  function say(button, text) {
    var status = statusFor(button);
    if (!status) return;
    status.textContent = "";
    // A new text each time, so it is announced again.
    setTimeout(function () { status.textContent = text; }, 50);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-share-url]");
    if (!button) return;
    var url = button.dataset.shareUrl;
    var data = { title: button.dataset.shareTitle || document.title, url: url };
    if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
      navigator.share(data).catch(function () { /* closed by the member */ });
      return;
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(
        function () { say(button, button.dataset.copied); },
        function () { say(button, button.dataset.copyFailed); }
      );
    } else {
      say(button, button.dataset.copyFailed);
    }
  });
})();
