// The devices page (templates/presence/devices.html): "Notify me on this
// device" subscribes this browser to Web Push with the site's VAPID public key
// and posts the subscription to the server; removing this device's row also
// unsubscribes the browser. The page says so when the browser cannot receive
// pushes or the member blocked notifications.
(function () {
  "use strict";
  var box = document.getElementById("push-settings");
  var form = document.getElementById("push-subscribe-form");
  if (!box || !form) return;
  var button = document.getElementById("push-subscribe");
  var key = box.dataset.vapidPublicKey;

  function show(id) {
    ["push-unsupported", "push-denied", "push-failed"].forEach(function (name) {
      var node = document.getElementById(name);
      if (node) node.hidden = name !== id;
    });
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  var supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  if (!supported) {
    button.disabled = true;
    show("push-unsupported");
    return;
  }
  if (Notification.permission === "denied") show("push-denied");

  // Mark this browser's row, and unsubscribe it too when it is removed.
  navigator.serviceWorker.ready.then(function (registration) {
    return registration.pushManager.getSubscription();
  }).then(function (subscription) {
    if (!subscription || !window.crypto || !crypto.subtle) return;
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(subscription.endpoint)).then(function (digest) {
      var row = document.querySelector('[data-device-key="' + hex(digest) + '"]');
      if (!row) return;
      row.querySelector(".this-device").hidden = false;
      document.getElementById("push-this-device").hidden = false;
      var remove = row.querySelector(".push-remove-form");
      remove.addEventListener("submit", function (event) {
        event.preventDefault();
        subscription.unsubscribe().catch(function () {}).then(function () { remove.submit(); });
      }, { once: true });
    });
  }).catch(function () {});

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        show("push-denied");
        throw null;
      }
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      return registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(key),
      });
    }).then(function (subscription) {
      return fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
        },
        body: JSON.stringify(subscription.toJSON()),
      });
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      window.location.reload();
    }).catch(function (error) {
      if (error !== null) show("push-failed");
      button.disabled = false;
    });
  });
})();
