// Invitations page: copy the new link, or hand it to the phone's share sheet
// (Web Share API) where the browser has one. A phone cannot easily select a
// long URL by hand, which is why these buttons exist at all.
(function () {
  "use strict";
  var box = document.querySelector("[data-invitation-link]");
  if (!box) return;
  var link = box.dataset.invitationLink;
  var copyButton = box.querySelector("[data-copy-link]");
  var shareButton = box.querySelector("[data-share-link]");
  var status = box.querySelector("[data-copy-status]");
  var url = document.getElementById("new-link");

  function announce(text) {
    // Cleared first, so saying "Copied" twice is announced twice.
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  // Without the clipboard (a plain-HTTP address other than localhost), select
  // the link so the system's own copy works on it.
  function selectLink() {
    var range = document.createRange();
    range.selectNodeContents(url);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  copyButton.addEventListener("click", function () {
    var failed = function () {
      selectLink();
      announce(copyButton.dataset.copyFailed);
    };
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      failed();
      return;
    }
    navigator.clipboard.writeText(link).then(function () {
      announce(copyButton.dataset.copied);
    }, failed);
  });

  if (navigator.share) {
    shareButton.hidden = false;
    shareButton.addEventListener("click", function () {
      // Closing the share sheet rejects the promise: nothing to report.
      navigator.share({ title: box.dataset.shareTitle, url: link }).catch(function () {});
    });
  }
})();
