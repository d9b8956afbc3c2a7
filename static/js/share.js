// Sharing a link (an invitation link, a topic's link): "Copy link" puts it
// on the clipboard, "Share" hands it to the system's share sheet (Web Share
// API) and shows only where the browser has one. A phone cannot easily
// select a long URL by hand, which is why these buttons exist at all.
//
// Markup: an element with data-share-box="<url>" (and data-share-title)
// holding a [data-copy-link] button (data-copied, data-copy-failed), a
// [data-share-link] button (hidden), a [data-copy-status] status, and
// optionally [data-copy-target], the link's text, selected when the
// clipboard is out of reach. data-share-compact: where the share sheet
// exists, it replaces the copy button (one button in a tight header).
(function () {
  "use strict";
  var canShare = typeof navigator.share === "function";

  function announce(box, text) {
    var status = box.querySelector("[data-copy-status]");
    if (!status) return;
    // Cleared first, so saying "Copied" twice is announced twice.
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  // Without the clipboard (a plain-HTTP address other than localhost), select
  // the link so the system's own copy works on it.
  function selectLink(box) {
    var target = box.querySelector("[data-copy-target]");
    if (!target) return;
    var range = document.createRange();
    range.selectNodeContents(target);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.querySelectorAll("[data-share-box]").forEach(function (box) {
    var share = box.querySelector("[data-share-link]");
    var copy = box.querySelector("[data-copy-link]");
    if (canShare && share) {
      share.hidden = false;
      if (copy && box.hasAttribute("data-share-compact")) copy.hidden = true;
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-link], [data-share-link]");
    var box = button && button.closest("[data-share-box]");
    if (!box) return;
    var link = box.dataset.shareBox;
    if (button.hasAttribute("data-share-link")) {
      // Closing the share sheet rejects the promise: nothing to report.
      navigator.share({ title: box.dataset.shareTitle, url: link }).catch(function () {});
      return;
    }
    var failed = function () {
      selectLink(box);
      announce(box, button.dataset.copyFailed);
    };
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      failed();
      return;
    }
    navigator.clipboard.writeText(link).then(function () {
      announce(box, button.dataset.copied);
    }, failed);
  });
})();
