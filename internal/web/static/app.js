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
