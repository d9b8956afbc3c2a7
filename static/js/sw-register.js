// Registers the service worker (static/js/sw.js, served at /sw.js so it
// controls the whole site): the offline page, and Web Push on the devices a
// member turned on (templates/presence/devices.html).
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function (error) {
      // Not fatal: the site works without it, only offline and push do not.
      console.warn("Service worker not registered:", error);
    });
  });
})();
