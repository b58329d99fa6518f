// Roster pages work without this script; it only adds comforts. Every form
// still posts as it would without it:
//   - form[data-confirm] asks in the page's <dialog> first;
//   - form[data-enhance] is sent with fetch, and the page that comes back
//     replaces this one's content in place (scroll kept, flash as a toast);
//   - the profile photo form shows a preview of a chosen or dropped file
//     and uploads it with a progress bar;
//   - copy buttons, and time zone selects defaulting to the browser's zone;
//   - the bell opens a panel of the newest notifications, and one
//     Server-Sent Events stream keeps the bell, the centre page and pop-ups
//     of new notifications up to date in every open tab;
//   - the service worker (/sw.js) is registered, for browser push and to
//     make the web app installable, and the notifications page's
//     "Enable browser notifications" subscribes this browser.
// init(root) wires what lies inside root; it runs at load and again on
// content that replaced the page's. Submits are handled once, on document.
(function () {
  "use strict";

  var wired = new WeakSet();

  // each calls fn once per element matching selector inside root.
  function each(root, selector, fn) {
    root.querySelectorAll(selector).forEach(function (el) {
      if (!wired.has(el)) {
        wired.add(el);
        fn(el);
      }
    });
  }

  function init(root) {
    each(root, "[data-js-hide]", function (el) { el.hidden = true; });
    each(root, "[data-js-show]", function (el) { el.hidden = false; });
    each(root, "button[data-copy]", wireCopy);
    each(root, "select[data-browser-timezone]", wireZone);
    each(root, "form[data-photo-form]", wirePhoto);
    each(root, "[data-bell-toggle]", wireBell);
    each(root, "[data-push-key]", wirePush);
  }

  // Browser push. The page's control carries the server's VAPID public
  // key and its translated messages; it stays hidden without script, where
  // a <noscript> note says why.
  function pushSupported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  // keyBytes decodes a base64url key for applicationServerKey.
  function keyBytes(b64) {
    var s = (b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(s);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      out[i] = raw.charCodeAt(i);
    }
    return out;
  }

  function sameKey(a, b) {
    if (!a || a.byteLength !== b.byteLength) {
      return false;
    }
    var x = new Uint8Array(a);
    for (var i = 0; i < x.length; i++) {
      if (x[i] !== b[i]) {
        return false;
      }
    }
    return true;
  }

  // saveSubscription records sub for the signed-in person; the same
  // browser again updates its one record. It resolves to the record's id.
  function saveSubscription(sub) {
    return fetch("/api/v1/me/push-subscriptions", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(sub.toJSON())
    }).then(function (res) {
      if (!res.ok) {
        throw new Error("push subscription refused: " + res.status);
      }
      return res.json();
    }).then(function (rec) { return rec.id; });
  }

  // findSubscription resolves to the signed-in person's record id of sub,
  // or null when they have none.
  function findSubscription(sub) {
    return fetch("/api/v1/me/push-subscriptions:find", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ endpoint: sub.endpoint })
    }).then(function (res) {
      if (res.status === 404) {
        return null;
      }
      if (!res.ok) {
        throw new Error("push subscription lookup: " + res.status);
      }
      return res.json().then(function (rec) { return rec.id; });
    });
  }

  function wirePush(box) {
    var key = keyBytes(box.getAttribute("data-push-key"));
    var enable = box.querySelector("[data-push-enable]");
    var disable = box.querySelector("[data-push-disable]");
    var status = box.querySelector("[data-push-status]");
    var say = function (attr) { status.textContent = attr ? box.getAttribute(attr) : ""; };
    box.hidden = false;
    if (!pushSupported()) {
      enable.hidden = true;
      say("data-unsupported");
      return;
    }
    var show = function (on) {
      enable.hidden = on;
      disable.hidden = !on;
      say(on ? "data-enabled" : (Notification.permission === "denied" ? "data-denied" : ""));
    };
    // On in this browser only when the browser has a subscription for
    // the server's key and the server has it for the person signed in
    // (it may have been removed from the list, or be someone else's).
    var mine = null;
    navigator.serviceWorker.getRegistration("/").then(function (reg) {
      return reg ? reg.pushManager.getSubscription() : null;
    }).then(function (sub) {
      if (!sub || Notification.permission !== "granted" || !sameKey(sub.options.applicationServerKey, key)) {
        return null;
      }
      return findSubscription(sub);
    }).then(function (id) {
      mine = id;
      show(id !== null);
    }).catch(function () { show(false); });

    enable.addEventListener("click", function () {
      enable.disabled = true;
      say("data-working");
      Notification.requestPermission().then(function (perm) {
        if (perm !== "granted") {
          throw { say: "data-denied" };
        }
        return navigator.serviceWorker.register("/sw.js", { scope: "/" });
      }).then(function () {
        return navigator.serviceWorker.ready;
      }).then(function (reg) {
        return reg.pushManager.getSubscription().then(function (old) {
          // A subscription made for another key (the server's keys were
          // made again) cannot be used: replace it.
          if (old && !sameKey(old.options.applicationServerKey, key)) {
            return old.unsubscribe().then(function () { return null; });
          }
          return old;
        }).then(function (old) {
          return old || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        });
      }).then(saveSubscription).then(function () {
        window.location.reload();
      }).catch(function (err) {
        enable.disabled = false;
        say(err && err.say ? err.say : "data-failed");
      });
    });

    disable.addEventListener("click", function () {
      disable.disabled = true;
      say("data-working");
      navigator.serviceWorker.getRegistration("/").then(function (reg) {
        return reg ? reg.pushManager.getSubscription() : null;
      }).then(function (sub) {
        var gone = mine === null ? Promise.resolve() :
          fetch("/api/v1/me/push-subscriptions/" + mine, { method: "DELETE", credentials: "same-origin" });
        return gone.then(function () { return sub ? sub.unsubscribe() : null; });
      }).then(function () {
        window.location.reload();
      }).catch(function () {
        disable.disabled = false;
        say("data-failed");
      });
    });
  }

  // The service worker shows push notifications and makes the app
  // installable; registering it again is a no-op for the browser.
  function registerWorker() {
    if ("serviceWorker" in navigator && document.body.classList.contains("app")) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
    }
  }

  // Copy buttons: data-copy names the element whose text is copied.
  function wireCopy(btn) {
    var target = document.getElementById(btn.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) {
      return;
    }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        var label = btn.textContent;
        btn.textContent = btn.getAttribute("data-copied") || label;
        setTimeout(function () { btn.textContent = label; }, 2000);
      });
    });
  }

  // Time zone selects marked data-browser-timezone hold a default, not a
  // choice: select the browser's zone when the list has it. Without
  // script the default stays (the workspace's zone, or UTC at setup).
  function wireZone(select) {
    var zone = "";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      return;
    }
    // Some browsers still report a zone's older name.
    var renamed = {
      "Asia/Calcutta": "Asia/Kolkata", "Asia/Saigon": "Asia/Ho_Chi_Minh", "Asia/Katmandu": "Asia/Kathmandu",
      "Asia/Rangoon": "Asia/Yangon", "Europe/Kiev": "Europe/Kyiv", "America/Buenos_Aires": "America/Argentina/Buenos_Aires"
    };
    zone = renamed[zone] || zone;
    var current = select.options[select.selectedIndex];
    if (!zone || (current && !current.defaultSelected)) {
      return; // no zone known, or one already picked (a restored form)
    }
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === zone) {
        select.selectedIndex = i;
        return;
      }
    }
  }

  // ---- Toasts -----------------------------------------------------------

  // toast shows text in the page's live region for about five seconds,
  // with a button to dismiss it sooner.
  function toast(text, kind) {
    var region = document.getElementById("toasts");
    var tpl = document.getElementById("toast-template");
    if (!region || !tpl || !text) {
      return;
    }
    var el = tpl.content.firstElementChild.cloneNode(true);
    el.classList.add(kind === "error" ? "toast-error" : "toast-success");
    el.querySelector(".toast-text").textContent = text;
    var timer;
    var close = function () {
      clearTimeout(timer);
      el.remove();
    };
    el.querySelector(".toast-close").addEventListener("click", close);
    // Hovering or focusing a toast keeps it until the pointer or focus leaves.
    var arm = function () { clearTimeout(timer); timer = setTimeout(close, 5000); };
    el.addEventListener("mouseenter", function () { clearTimeout(timer); });
    el.addEventListener("mouseleave", arm);
    el.addEventListener("focusin", function () { clearTimeout(timer); });
    el.addEventListener("focusout", arm);
    region.appendChild(el);
    arm();
  }

  // ---- Replacing the page with a response -------------------------------

  function text(el) {
    return el ? el.textContent.replace(/\s+/g, " ").trim() : "";
  }

  // swap puts the page in html (the response to a form) in place of this
  // one: main#main and, around it, the top bar and navigation (a new name,
  // photo or language shows everywhere). It returns the new main, or null
  // when the response is no page of ours. An error is toasted with the text
  // of errorFrom (a selector) when the new page has it, else of its alert.
  function swap(html, url, redirected, errorFrom) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("main");
    var main = document.getElementById("main");
    if (!fresh || !main) {
      return null;
    }
    var y = window.scrollY;
    document.title = doc.title;
    if (doc.documentElement.lang !== document.documentElement.lang || doc.body.className !== document.body.className) {
      // Another language or layout: take the whole body.
      document.documentElement.lang = doc.documentElement.lang;
      document.body.className = doc.body.className;
      document.body.replaceChildren.apply(document.body, Array.prototype.slice.call(doc.body.childNodes).map(function (n) {
        return document.adoptNode(n);
      }));
    } else {
      ["header.topbar", "nav.sidenav"].forEach(function (sel) {
        var old = document.querySelector(sel);
        var neu = doc.querySelector(sel);
        if (old && neu) {
          old.replaceWith(document.adoptNode(neu));
        }
      });
      main.replaceWith(document.adoptNode(fresh));
    }
    fresh = document.getElementById("main");
    // Only a redirect's target can be loaded again with GET.
    if (redirected && url && url !== location.href) {
      history.replaceState(null, "", url);
    }
    init(document.body);
    window.scrollTo(0, y);
    // The flash becomes a toast; an error stays in the page too.
    var ok = fresh.querySelector(".alert-success");
    if (ok) {
      toast(text(ok), "success");
      ok.remove();
    }
    var bad = (errorFrom && fresh.querySelector(errorFrom)) || fresh.querySelector(".alert-error");
    if (bad) {
      toast(text(bad), "error");
    }
    return fresh;
  }

  // refocus puts the focus back near where it was: on the first invalid
  // field, else on the new page's button of the form that was sent.
  function refocus(main, form, submitter) {
    var target = main.querySelector("[aria-invalid=true]");
    if (!target && form) {
      var action = form.getAttribute("action");
      main.querySelectorAll("form").forEach(function (f) {
        if (!target && f.getAttribute("action") === action) {
          target = f.querySelector("button[type=submit], button:not([type])");
        }
      });
    }
    if (!target && submitter && submitter.id) {
      target = document.getElementById(submitter.id);
    }
    if (!target) {
      target = main;
      main.setAttribute("tabindex", "-1");
    }
    target.focus({ preventScroll: true });
  }

  // ---- Forms sent in the background ---------------------------------------

  function setBusy(form, busy) {
    form.setAttribute("aria-busy", busy ? "true" : "false");
    form.querySelectorAll("button").forEach(function (b) { b.disabled = busy; });
  }

  function sendEnhanced(form, submitter) {
    var data = new FormData(form);
    if (submitter && submitter.name) {
      data.append(submitter.name, submitter.value);
    }
    // The server reads url-encoded forms unless the form says multipart.
    var body = form.enctype === "multipart/form-data" ? data : new URLSearchParams(data);
    setBusy(form, true);
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin", redirect: "follow", headers: { "Accept": "text/html" } })
      .then(function (res) {
        return res.text().then(function (html) {
          var main = swap(html, res.url, res.redirected);
          if (!main) {
            // Not one of our pages (a plain error): show it as it came.
            document.open();
            document.write(html);
            document.close();
            return;
          }
          refocus(main, form, submitter);
        });
      })
      .catch(function () {
        // No answer (offline, a dropped connection): send it the old way.
        setBusy(form, false);
        HTMLFormElement.prototype.submit.call(form);
      });
  }

  // send submits a form that passed its confirmation, if it had one.
  function send(form, submitter) {
    if (form.hasAttribute("data-enhance") && window.fetch) {
      sendEnhanced(form, submitter);
    } else {
      HTMLFormElement.prototype.submit.call(form);
    }
  }

  // ---- Confirmation dialog ----------------------------------------------

  function confirmThen(form, submitter, proceed) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(form.getAttribute("data-confirm"))) {
        proceed();
      }
      return;
    }
    var ok = document.getElementById("confirm-ok");
    var trigger = submitter || document.activeElement;
    dialog.querySelector(".dialog-text").textContent = form.getAttribute("data-confirm");
    ok.textContent = form.getAttribute("data-confirm-button") || ok.getAttribute("data-label");
    // A destructive action (its button is a danger one) gets a danger button.
    var danger = !!(submitter ? submitter.classList.contains("btn-danger") : form.querySelector(".btn-danger"));
    ok.classList.toggle("btn-danger", danger);
    ok.classList.toggle("btn-primary", !danger);
    dialog.returnValue = "";
    pendingConfirm = { proceed: proceed, trigger: trigger };
    if (!dialog.rosterConfirmWired) {
      dialog.rosterConfirmWired = true;
      dialog.addEventListener("close", answerConfirm);
    }
    dialog.showModal();
  }

  // The question the dialog asks now, answered when it closes.
  var pendingConfirm = null;

  // answerConfirm acts on the dialog's answer. "close" is fired in a task
  // of its own after the dialog closed: a quick hand (or a loaded machine)
  // can open the dialog again before it comes. Such a close is the earlier
  // question's, which was cancelled; it must not take the open one's
  // answer (Confirm would then close the dialog and do nothing).
  function answerConfirm(e) {
    var dialog = e.currentTarget;
    if (dialog.open || !pendingConfirm) {
      return;
    }
    var asked = pendingConfirm;
    pendingConfirm = null;
    if (dialog.returnValue === "confirm") {
      asked.proceed();
    } else if (asked.trigger && asked.trigger.isConnected) {
      asked.trigger.focus();
    }
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || !(form instanceof HTMLFormElement) || form.method === "dialog") {
      return;
    }
    var submitter = e.submitter || null;
    var post = form.method.toLowerCase() === "post";
    if (form.hasAttribute("data-confirm")) {
      e.preventDefault();
      confirmThen(form, submitter, function () { send(form, submitter); });
      return;
    }
    if (post && form.hasAttribute("data-enhance") && window.fetch && window.DOMParser) {
      e.preventDefault();
      sendEnhanced(form, submitter);
    }
  });

  // ---- Profile photo ----------------------------------------------------

  // The file input stays in the form (label "Choose photo…", the avatar is
  // a label too). A chosen or dropped file shows in the preview, cropped as
  // the server crops it (the centre square, object-fit: cover in a round
  // frame); Save uploads it with XMLHttpRequest for the progress bar.
  function wirePhoto(form) {
    var input = form.querySelector("input[type=file]");
    var card = form.closest("[data-photo-drop]") || form;
    var preview = card.querySelector("[data-photo-preview]");
    var img = card.querySelector("[data-photo-preview-img]");
    var progress = card.querySelector("[data-photo-progress]");
    var save = card.querySelector("[data-photo-save]");
    var cancel = card.querySelector("[data-photo-cancel]");
    if (!input || !preview || !img || !save || !cancel) {
      return;
    }
    var file = null;
    var objectURL = "";

    function show(f) {
      file = f;
      if (objectURL) {
        URL.revokeObjectURL(objectURL);
      }
      objectURL = URL.createObjectURL(f);
      img.src = objectURL;
      progress.hidden = true;
      progress.value = 0;
      save.disabled = false;
      cancel.disabled = false;
      preview.hidden = false;
      save.focus();
    }
    function reset() {
      file = null;
      input.value = "";
      preview.hidden = true;
      img.removeAttribute("src");
      if (objectURL) {
        URL.revokeObjectURL(objectURL);
        objectURL = "";
      }
    }
    input.addEventListener("change", function () {
      if (input.files && input.files.length > 0) {
        show(input.files[0]);
      }
    });
    cancel.addEventListener("click", function () {
      reset();
      input.focus();
    });

    var depth = 0;
    card.addEventListener("dragenter", function (e) {
      if (hasFiles(e)) {
        e.preventDefault();
        depth++;
        card.classList.add("is-dragover");
      }
    });
    card.addEventListener("dragover", function (e) {
      if (hasFiles(e)) {
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
        card.classList.add("is-dragover");
      }
    });
    card.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (depth === 0) {
        card.classList.remove("is-dragover");
      }
    });
    card.addEventListener("drop", function (e) {
      depth = 0;
      card.classList.remove("is-dragover");
      if (!hasFiles(e)) {
        return;
      }
      e.preventDefault();
      var f = e.dataTransfer.files[0];
      try {
        input.files = e.dataTransfer.files; // so a fallback submit carries it
      } catch (err) { /* older browsers: the upload below still sends f */ }
      show(f);
    });

    save.addEventListener("click", function () {
      if (!file) {
        return;
      }
      var data = new FormData(form);
      data.set(input.name, file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "text/html");
      progress.hidden = false;
      progress.removeAttribute("value"); // indeterminate until the first event
      save.disabled = true;
      cancel.disabled = true;
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          progress.value = Math.round(100 * e.loaded / e.total);
        }
      });
      xhr.addEventListener("load", function () {
        var redirected = xhr.responseURL !== "" && xhr.responseURL !== form.action;
        // A refused photo: the toast says why (the field's message).
        var main = swap(xhr.responseText, xhr.responseURL, redirected, ".photo-forms .field-error");
        if (!main) {
          document.open();
          document.write(xhr.responseText);
          document.close();
          return;
        }
        var again = main.querySelector("input[type=file]");
        if (again) {
          again.focus({ preventScroll: true });
        }
      });
      xhr.addEventListener("error", function () {
        progress.hidden = true;
        save.disabled = false;
        cancel.disabled = false;
        toast(form.getAttribute("data-failed"), "error");
      });
      xhr.send(data);
    });
  }

  function hasFiles(e) {
    var dt = e.dataTransfer;
    return !!dt && Array.prototype.indexOf.call(dt.types || [], "Files") >= 0;
  }

  // Dropping a file anywhere else would open it in place of the page.
  ["dragover", "drop"].forEach(function (type) {
    window.addEventListener(type, function (e) {
      if (hasFiles(e) && document.querySelector("[data-photo-drop]")) {
        e.preventDefault();
      }
    });
  });

  // ---- Notifications ------------------------------------------------------

  // The bell is server-rendered with the count (a link to the centre
  // without script). Here it opens a panel, and the stream below keeps
  // its badge, the centre page and pop-ups current.

  function bellEl() { return document.querySelector("[data-bell]"); }

  // pluralText picks the form of el's data-label-forms (JSON, "#" for the
  // count) that the page language's CLDR rules give n; data-label-none at 0.
  function pluralText(el, n) {
    if (n <= 0 && el.hasAttribute("data-label-none")) {
      return el.getAttribute("data-label-none");
    }
    var forms = {};
    try {
      forms = JSON.parse(el.getAttribute("data-label-forms") || "{}");
    } catch (e) { /* keep the text as it is */ }
    var cat = "other";
    try {
      cat = new Intl.PluralRules(document.documentElement.lang).select(n);
    } catch (e) { /* "other" */ }
    var f = forms[cat] || forms.other;
    return f ? f.split("#").join(String(n)) : null;
  }

  function setUnread(n) {
    var bell = bellEl();
    if (bell) {
      var count = bell.querySelector("[data-bell-count]");
      count.textContent = n > 99 ? "99+" : String(n);
      count.hidden = n <= 0;
      var label = pluralText(bell, n);
      if (label) {
        bell.querySelector("[data-bell-toggle]").setAttribute("aria-label", label);
      }
    }
    var centre = document.querySelector("[data-centre-count]");
    if (centre) {
      var t = pluralText(centre, n);
      if (t) {
        centre.textContent = t;
      }
    }
  }

  // icon returns an <svg> of the page's sprite, as {{icon}} draws it.
  function icon(name) {
    var ns = "http://www.w3.org/2000/svg";
    var ref = document.querySelector("[data-bell] use");
    var sprite = ref ? ref.getAttribute("href").split("#")[0] : "";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var use = document.createElementNS(ns, "use");
    use.setAttribute("href", sprite + "#" + name);
    svg.appendChild(use);
    return svg;
  }

  function categoryIcon(category) {
    var bell = bellEl();
    try {
      return JSON.parse(bell.getAttribute("data-icons"))[category] || "bell";
    } catch (e) {
      return "bell";
    }
  }

  function when(iso) {
    try {
      return new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
    } catch (e) {
      return iso;
    }
  }

  // The panel: a popover under the bell listing the ten newest.
  function wireBell(link) {
    var bell = link.closest("[data-bell]");
    var panel = bell.querySelector(".bell-panel");
    link.setAttribute("role", "button");
    link.setAttribute("aria-expanded", "false");
    link.addEventListener("click", function (e) {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || !window.fetch) {
        return; // a new tab: the centre page
      }
      e.preventDefault();
      if (panel.hidden) {
        openPanel(bell);
      } else {
        closePanel(false);
      }
    });
    link.addEventListener("keydown", function (e) {
      if (e.key === " ") {
        e.preventDefault();
        link.click();
      }
    });
    bell.querySelector("[data-bell-read-all]").addEventListener("click", function () {
      fetch("/api/v1/me/notifications/read-all", { method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function () { setUnread(0); loadPanel(bell); });
    });
  }

  function openPanel(bell) {
    var panel = bell.querySelector(".bell-panel");
    panel.hidden = false;
    bell.querySelector("[data-bell-toggle]").setAttribute("aria-expanded", "true");
    loadPanel(bell);
    panel.focus();
  }

  function closePanel(refocus) {
    var bell = bellEl();
    if (!bell) {
      return;
    }
    var panel = bell.querySelector(".bell-panel");
    if (panel.hidden) {
      return;
    }
    panel.hidden = true;
    var link = bell.querySelector("[data-bell-toggle]");
    link.setAttribute("aria-expanded", "false");
    if (refocus) {
      link.focus();
    }
  }

  function loadPanel(bell) {
    var list = bell.querySelector("[data-bell-list]");
    var empty = bell.querySelector("[data-bell-empty]");
    var failed = bell.querySelector("[data-bell-failed]");
    fetch("/api/v1/me/notifications?limit=10", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) {
        if (!res.ok) {
          throw new Error(res.status);
        }
        return res.json();
      })
      .then(function (page) {
        failed.hidden = true;
        list.replaceChildren.apply(list, page.items.map(panelItem));
        empty.hidden = page.items.length > 0;
        setUnread(page.unread);
      })
      .catch(function () {
        failed.hidden = false;
        empty.hidden = true;
      });
  }

  function panelItem(n) {
    var li = document.createElement("li");
    li.setAttribute("data-notice-id", n.id);
    li.className = n.read_at ? "" : "is-unread";
    var title = document.createElement("p");
    title.className = "notice-title";
    var a = document.createElement("a");
    a.className = "notice-link";
    a.href = n.url || "/notifications";
    if (n.url) {
      a.rel = "noopener";
    }
    a.textContent = n.title;
    title.appendChild(a);
    var body = document.createElement("p");
    body.className = "notice-body";
    body.textContent = n.body;
    var time = document.createElement("p");
    time.className = "notice-body";
    time.textContent = when(n.created_at);
    li.append(title, body, time);
    return li;
  }

  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      var bell = bellEl();
      if (bell && !bell.querySelector(".bell-panel").hidden) {
        e.preventDefault();
        closePanel(true);
      }
    }
  });
  document.addEventListener("click", function (e) {
    var bell = bellEl();
    if (bell && !bell.contains(e.target)) {
      closePanel(false);
    }
  });

  // Pop-ups of new notifications, at the right, for about eight seconds
  // (kept while hovered or focused).
  function popup(n) {
    var region = document.getElementById("popups");
    var tpl = document.getElementById("popup-template");
    if (!region || !tpl) {
      return;
    }
    var el = tpl.content.firstElementChild.cloneNode(true);
    el.setAttribute("data-popup-id", n.id);
    el.querySelector(".popup-icon").appendChild(icon(categoryIcon(n.category)));
    el.querySelector(".popup-title").textContent = n.title;
    el.querySelector(".popup-text").textContent = n.body;
    var open = el.querySelector(".popup-open");
    if (n.url) {
      open.href = n.url;
      open.rel = "noopener";
    } else {
      open.remove();
    }
    var timer;
    var close = function () {
      clearTimeout(timer);
      el.remove();
    };
    var arm = function () { clearTimeout(timer); timer = setTimeout(close, 8000); };
    el.querySelector(".popup-close").addEventListener("click", close);
    el.addEventListener("mouseenter", function () { clearTimeout(timer); });
    el.addEventListener("mouseleave", arm);
    el.addEventListener("focusin", function () { clearTimeout(timer); });
    el.addEventListener("focusout", arm);
    region.appendChild(el);
    while (region.children.length > 3) {
      region.firstElementChild.remove();
    }
    arm();
  }

  // The centre page: new items at the top of its first page (when they
  // match its filter), read states as they change in any tab.
  function centreInsert(n) {
    var centre = document.querySelector("[data-centre]");
    var tpl = document.getElementById("notice-template");
    if (!centre || !tpl || centre.getAttribute("data-first-page") !== "true") {
      return;
    }
    var category = centre.getAttribute("data-category");
    var list = centre.querySelector("[data-centre-list]");
    if ((category && category !== n.category) || list.querySelector('[data-notice-id="' + n.id + '"]')) {
      return;
    }
    var li = tpl.content.firstElementChild.cloneNode(true);
    li.setAttribute("data-notice-id", n.id);
    li.classList.toggle("is-unread", !n.read_at);
    li.querySelector(".notice-icon").replaceChildren(icon(categoryIcon(n.category)));
    var span = li.querySelector(".notice-link");
    if (n.url) {
      var a = document.createElement("a");
      a.className = "notice-link";
      a.href = n.url;
      a.rel = "noopener";
      span.replaceWith(a);
      span = a;
    }
    span.textContent = n.title;
    li.querySelector(".notice-body").textContent = n.body;
    var time = li.querySelector("time");
    time.setAttribute("datetime", n.created_at);
    time.textContent = when(n.created_at);
    li.querySelectorAll("form").forEach(function (f) {
      f.setAttribute("action", f.getAttribute("action").replace("/0/", "/" + n.id + "/"));
    });
    list.prepend(li);
    var empty = centre.querySelector("[data-centre-empty]");
    if (empty) {
      empty.hidden = true;
    }
  }

  function markItems(id, unread) {
    document.querySelectorAll(id ? '[data-notice-id="' + id + '"]' : "[data-notice-id]").forEach(function (el) {
      el.classList.toggle("is-unread", unread);
    });
  }

  function onEvent(kind, d) {
    if (typeof d.unread === "number") {
      setUnread(d.unread);
    }
    switch (kind) {
    case "hello":
      // The stream is open (the browser tests wait for this).
      document.documentElement.setAttribute("data-live", "on");
      break;
    case "new":
      if (d.notification) {
        if (d.notification.popup === true) {
          popup(d.notification);
        }
        centreInsert(d.notification);
        var bell = bellEl();
        if (bell && !bell.querySelector(".bell-panel").hidden) {
          loadPanel(bell);
        }
      }
      break;
    case "read":
    case "unread":
      markItems(d.id, kind === "unread");
      break;
    case "read_all":
      markItems(0, false);
      break;
    case "reset":
      // The stream could not resume exactly: the list may miss items.
      if (document.querySelector("[data-centre]")) {
        location.reload();
      }
      break;
    }
  }

  // One stream per page; EventSource reconnects by itself, sending
  // Last-Event-ID, and the server resumes after it.
  var stream = null;
  function startStream() {
    var bell = bellEl();
    if (!bell || stream || !window.EventSource) {
      return;
    }
    stream = new EventSource(bell.getAttribute("data-stream"));
    ["hello", "new", "read", "unread", "read_all", "reset"].forEach(function (kind) {
      stream.addEventListener(kind, function (e) {
        var d;
        try {
          d = JSON.parse(e.data);
        } catch (err) {
          return;
        }
        onEvent(kind, d);
      });
    });
  }
  window.addEventListener("pagehide", function () {
    if (stream) {
      stream.close();
      stream = null;
    }
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) {
      startStream();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    init(document.body);
    startStream();
    registerWorker();
  });
}());
