// The room on a phone when the on-screen keyboard opens. The page asks the
// browser to shrink the layout for it (interactive-widget=resizes-content in
// the viewport meta); where a browser only shrinks the visual viewport
// (Safari), the page's height follows window.visualViewport instead
// (--app-height, read by the CSS). Either way the log gets shorter, and what
// the reader was looking at stays where it was: the bottom edge of the log is
// kept still, so the newest message stays in view above the composer.
(function () {
  "use strict";
  var scroller = document.querySelector(".chat-scroller");
  if (!scroller) return;
  var root = document.documentElement;
  var viewport = window.visualViewport;
  if (viewport) {
    var follow = function () {
      // Not while the page is pinch-zoomed: that viewport is a magnifier.
      if (Math.abs(viewport.scale - 1) > 0.01) return;
      root.style.setProperty("--app-height", Math.round(viewport.height) + "px");
    };
    viewport.addEventListener("resize", follow);
    follow();
  }
  // Where the reader was as of their last scroll (a resize that the browser
  // clamps is not one): at the newest message, or reading further up.
  var height = scroller.clientHeight;
  var top = scroller.scrollTop;
  var atBottom = true;
  function note() {
    top = scroller.scrollTop;
    atBottom = scroller.scrollHeight - top - scroller.clientHeight < 4;
  }
  note();
  scroller.addEventListener("scroll", function () {
    if (scroller.clientHeight === height) note();
  }, { passive: true });
  if (!window.ResizeObserver) return;
  new ResizeObserver(function () {
    var now = scroller.clientHeight;
    if (now === height) return;
    // At the newest message: still there. Further up: the line at the
    // bottom edge stays at the bottom edge.
    scroller.scrollTop = atBottom ? scroller.scrollHeight : top + (height - now);
    height = now;
    note();
  }).observe(scroller);
})();
