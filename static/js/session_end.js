// Logging out leaves nothing typed behind for whoever uses this browser
// next (a shared computer): every "enishi:" key of localStorage (drafts and
// messages waiting to be sent, static/js/composer.js) goes when a logout
// form is submitted. Meant for every page (base.html); loading it twice is
// harmless.
(function () {
  "use strict";
  if (window.EnishiSessionEnd) return;
  window.EnishiSessionEnd = true;
  var PREFIX = "enishi:";

  function isLogout(form) {
    if (form.hasAttribute("data-logout")) return true;
    try {
      return new URL(form.action, location.href).pathname === "/accounts/logout/";
    } catch (error) {
      return false;
    }
  }
  function clearKept() {
    try {
      var keys = [];
      for (var i = 0; i < localStorage.length; i++) {
        var key = localStorage.key(i);
        if (key && key.indexOf(PREFIX) === 0) keys.push(key);
      }
      keys.forEach(function (key) { localStorage.removeItem(key); });
    } catch (error) { /* no storage: nothing kept */ }
  }
  document.addEventListener("submit", function (event) {
    if (event.target instanceof HTMLFormElement && isLogout(event.target)) clearKept();
  }, true);
})();
