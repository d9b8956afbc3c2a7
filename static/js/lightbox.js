// Topic page: a message's photos full size, in one <dialog> for the page
// (templates/chat/_lightbox.html). Clicks are delegated from the document, so
// messages that arrive live, by catch-up or as older pages open it too.
// Escape (the dialog's own cancel) or the Close button closes it, the arrow
// keys and the Previous/Next buttons move between the photos of the same
// message, and focus goes back to the thumbnail it was opened from.
(function () {
  "use strict";
  var dialog = document.getElementById("photo-lightbox");
  if (!dialog || typeof dialog.showModal !== "function") return;
  var figure = dialog.querySelector(".lightbox-figure");
  var caption = dialog.querySelector("[data-lightbox-caption]");
  var prev = dialog.querySelector("[data-lightbox-prev]");
  var next = dialog.querySelector("[data-lightbox-next]");
  var links = [];
  var index = 0;
  var opener = null;
  var image = null;

  function show(at) {
    index = (at + links.length) % links.length;
    var link = links[index];
    var thumb = link.querySelector("img");
    // A new <img> each time: the previous photo never shows under the next
    // one's caption while it loads. Sized from the link (no layout shift).
    var img = document.createElement("img");
    img.className = "lightbox-image";
    img.alt = thumb ? thumb.alt : "";
    var width = parseInt(link.dataset.width, 10);
    var height = parseInt(link.dataset.height, 10);
    if (width > 0 && height > 0) {
      img.width = width;
      img.height = height;
    }
    img.src = link.getAttribute("href");
    if (image) image.replaceWith(img);
    else figure.prepend(img);
    image = img;
    caption.textContent = img.alt;
    var several = links.length > 1;
    prev.hidden = !several;
    next.hidden = !several;
  }

  function open(link) {
    var group = link.closest("[data-photos]");
    links = group ? Array.prototype.slice.call(group.querySelectorAll("a[data-lightbox]")) : [link];
    opener = link;
    show(Math.max(0, links.indexOf(link)));
    if (!dialog.open) dialog.showModal();
    dialog.querySelector("[data-lightbox-close]").focus();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-lightbox]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    open(link);
  });

  dialog.querySelector("[data-lightbox-close]").addEventListener("click", function () { dialog.close(); });
  prev.addEventListener("click", function () { show(index - 1); });
  next.addEventListener("click", function () { show(index + 1); });
  dialog.addEventListener("keydown", function (event) {
    if (links.length < 2) return;
    if (event.key === "ArrowLeft") { event.preventDefault(); show(index - 1); }
    else if (event.key === "ArrowRight") { event.preventDefault(); show(index + 1); }
  });
  // A click on the backdrop (outside the figure and the buttons) closes too.
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener("close", function () {
    if (image) { image.remove(); image = null; }
    caption.textContent = "";
    var back = opener;
    opener = null;
    // The thumbnail may have been replaced meanwhile (an edit, a delete):
    // back to its message then, or nowhere.
    if (back && back.isConnected) back.focus();
  });
})();
