// The topic page's header (templates/chat/topic_detail.html): on a phone it
// is one line, and "Topic details" shows the rest of it (notifications, who
// is here, the moderator's tools); Escape closes it again.
(function () {
  "use strict";
  var button = document.querySelector("[data-chat-details]");
  if (!button) return;
  var head = document.getElementById(button.getAttribute("aria-controls"));
  function setOpen(open) {
    head.classList.toggle("chat-head-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }
  button.addEventListener("click", function () {
    setOpen(button.getAttribute("aria-expanded") !== "true");
  });
  head.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      button.focus();
    }
  });
})();
