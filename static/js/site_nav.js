// The phone's tab bar (templates/base.html): "More" shows the rest of the
// main navigation above the tabs. Escape, a second press or a click
// elsewhere closes it; on a wider screen every link is shown and the button
// is not.
(function () {
  "use strict";
  var nav = document.getElementById("site-nav");
  var button = nav && nav.querySelector("[data-nav-more]");
  if (!button) return;
  function setOpen(open, returnFocus) {
    nav.classList.toggle("nav-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      var first = nav.querySelector(".nav-secondary");
      if (first) first.focus();
    } else if (returnFocus) {
      button.focus();
    }
  }
  button.addEventListener("click", function () {
    setOpen(!nav.classList.contains("nav-open"), false);
  });
  nav.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && nav.classList.contains("nav-open")) {
      event.preventDefault();
      setOpen(false, true);
    }
  });
  document.addEventListener("click", function (event) {
    if (nav.classList.contains("nav-open") && !nav.contains(event.target)) setOpen(false, false);
  });
})();
