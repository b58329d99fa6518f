// Roster pages work without this script; it only adds comforts.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Ask before destructive actions: forms with data-confirm.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        e.preventDefault();
      }
    });
  });
  // Copy buttons: data-copy names the element whose text is copied.
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
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
  });
  // Time zone selects marked data-browser-timezone hold a default, not a
  // choice: select the browser's zone when the list has it. Without
  // script the default stays (the workspace's zone, or UTC at setup).
  document.querySelectorAll("select[data-browser-timezone]").forEach(function (select) {
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
  });
  // Profile photo: the avatar is a label for the file input, so clicking
  // it opens the file picker; picking a file uploads it at once.
  document.querySelectorAll("input[type=file][data-autosubmit]").forEach(function (input) {
    var form = input.form;
    if (!form) {
      return;
    }
    form.querySelectorAll("[data-js-hide]").forEach(function (el) { el.hidden = true; });
    input.addEventListener("change", function () {
      if (input.files && input.files.length > 0) {
        form.submit();
      }
    });
  });
});
