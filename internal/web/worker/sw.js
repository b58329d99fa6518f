// Roster's service worker: it shows browser push notifications and makes
// the web app installable. It is served at /sw.js (scope "/") with the
// icon's URL filled in; it caches nothing, so pages are always fresh.
"use strict";

const ICON = "{{ICON}}";
const BADGE = "{{BADGE}}";

// A push carries the notification as Roster rendered it, in the person's
// language: {title, body, url, tag, lang}.
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {};
  }
  if (!data.title) {
    return;
  }
  const options = {
    body: data.body || "",
    icon: ICON,
    badge: BADGE,
    lang: data.lang || "",
    data: { url: data.url || "/notifications" },
  };
  if (data.tag) {
    // The same notification again (a retry) replaces the first.
    options.tag = data.tag;
  }
  event.waitUntil(self.registration.showNotification(data.title, options));
});

// A click opens the notification's link: a Roster tab already on it is
// focused, anything else opens in a new window.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/notifications", self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((list) => {
      for (const c of list) {
        if (c.url === url && "focus" in c) {
          return c.focus();
        }
      }
      return self.clients.openWindow(url);
    }),
  );
});

// The push service replaced the subscription (it expired or keys
// rotated): register the new one, as the page's button would. The old one
// answers 410 on its next use and is removed then.
self.addEventListener("pushsubscriptionchange", (event) => {
  const old = event.oldSubscription;
  const key = old && old.options ? old.options.applicationServerKey : null;
  const renew = event.newSubscription
    ? Promise.resolve(event.newSubscription)
    : key
      ? self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key })
      : Promise.reject(new Error("no key to subscribe again with"));
  event.waitUntil(
    renew.then((sub) =>
      fetch("/api/v1/me/push-subscriptions", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(sub.toJSON()),
      }),
    ),
  );
});

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
