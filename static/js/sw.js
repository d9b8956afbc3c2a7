// Enishi's service worker, served at /sw.js (presence/push_views.py) so that
// it controls every page of the site. That view puts one line before this
// file: self.ENISHI = {version, offlineUrl, precache}, the offline page and
// the files it shows with (their URLs carry content hashes in production).
//
// It does three things and no more:
// 1. Keeps the offline page in a cache, and shows it when a page cannot be
//    reached. No other page is cached: pages hold what only their member may
//    see, and a shared phone must not keep them.
// 2. Shows a Web Push (presence/push.py) as a notification. A push says only
//    that something new is waiting and where; it never holds what.
// 3. Opens (or focuses) that page when the notification is tapped.
"use strict";

var CONFIG = self.ENISHI || { version: "0", offlineUrl: "/offline/", precache: ["/offline/"] };
var CACHE = "enishi-offline-" + CONFIG.version;
var ICON = CONFIG.precache.filter(function (url) { return /icon-192/.test(url); })[0];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      // Fetched without the member's cookies: the offline page is the same
      // for everyone and must hold nothing of anyone.
      return cache.addAll(CONFIG.precache.map(function (url) {
        return new Request(url, { credentials: "omit" });
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.map(function (name) {
        if (name.indexOf("enishi-offline-") === 0 && name !== CACHE) {
          return caches.delete(name);
        }
        return null;
      }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    // The network always; the offline page only when it cannot be reached
    // (an error page from the server is still the server's answer).
    event.respondWith(
      fetch(request).catch(function () {
        return caches.open(CACHE).then(function (cache) {
          return cache.match(CONFIG.offlineUrl);
        }).then(function (page) {
          return page || Response.error();
        });
      })
    );
    return;
  }
  if (CONFIG.precache.indexOf(url.pathname) !== -1) {
    // What the offline page shows with: the network first, the kept copy
    // when offline.
    event.respondWith(
      fetch(request).catch(function () {
        return caches.open(CACHE).then(function (cache) {
          return cache.match(url.pathname);
        }).then(function (kept) {
          return kept || Response.error();
        });
      })
    );
  }
});

function sameOrigin(path) {
  try {
    var url = new URL(path || "/", self.location.origin);
    return url.origin === self.location.origin ? url.href : self.location.origin + "/";
  } catch (error) {
    return self.location.origin + "/";
  }
}

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {};
  }
  var options = {
    body: data.body || "",
    data: { url: sameOrigin(data.url) },
    // One notification for all that waits: a new push replaces the last.
    tag: "enishi-new",
    renotify: true,
  };
  if (ICON) options.icon = ICON;
  event.waitUntil(self.registration.showNotification(data.title || "Enishi", options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = sameOrigin(event.notification.data && event.notification.data.url);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        if (windows[i].url === target && "focus" in windows[i]) return windows[i].focus();
      }
      return self.clients.openWindow(target);
    })
  );
});
