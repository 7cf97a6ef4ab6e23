// Loaded on every dashboard page. The Content-Security-Policy allows no inline handlers, so pages declare what they
// want with data attributes and this file does it:
//   data-confirm="Question?" on a form   asks the question before the form is sent;
//   data-copy="element-id" on a button   copies that element's text (a key, a secret, an id) and says "Copied";
//   <time datetime="…Z" data-local>      the UTC time the server wrote, shown in the browser's time zone, named.
// Announcements go to the page's polite live region (#announcer in base.html), so screen readers hear them.
(function () {
  "use strict";

  function announce(message) {
    var region = document.getElementById("announcer");
    if (!region) return;
    // Clearing first makes a repeated message ("Copied" twice) a change that is announced again.
    region.textContent = "";
    window.setTimeout(function () { region.textContent = message; }, 50);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // Copy buttons. navigator.clipboard needs a secure context (HTTPS or localhost); elsewhere the text is selected
  // so the user can press Ctrl+C / Cmd+C themselves, and told so.
  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function confirmCopied(button, message) {
    if (!button.dataset.label) button.dataset.label = button.textContent;
    button.textContent = message;
    announce(message);
    window.clearTimeout(button._copyTimer);
    button._copyTimer = window.setTimeout(function () { button.textContent = button.dataset.label; }, 2500);
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
    if (!button) return;
    var source = document.getElementById(button.dataset.copy);
    if (!source) return;
    var text = source.textContent.trim();
    var fallback = function () {
      selectText(source);
      confirmCopied(button, "Selected: press Ctrl+C to copy");
    };
    if (!navigator.clipboard || !window.isSecureContext) return fallback();
    navigator.clipboard.writeText(text).then(function () { confirmCopied(button, "Copied"); }, fallback);
  });

  // Times. The server writes UTC ("2026-12-01 10:20 UTC", readable without JavaScript); here it becomes the
  // browser's local time with the zone's short name ("2026-12-01 11:20 GMT+1"); the title keeps the UTC time.
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function zoneName(date) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(date);
      for (var i = 0; i < parts.length; i++) if (parts[i].type === "timeZoneName") return parts[i].value;
    } catch (e) { /* very old browser: fall through */ }
    var offset = -date.getTimezoneOffset();
    return "UTC" + (offset >= 0 ? "+" : "-") + pad(Math.floor(Math.abs(offset) / 60)) + ":" + pad(Math.abs(offset) % 60);
  }

  function localize(element) {
    if (element.dataset.localized) return;
    var date = new Date(element.getAttribute("datetime"));
    if (isNaN(date.getTime())) return;
    var precision = element.dataset.local;
    var text = date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate());
    if (precision !== "date") {
      text += " " + pad(date.getHours()) + ":" + pad(date.getMinutes());
      if (precision === "seconds") text += ":" + pad(date.getSeconds());
      text += " " + zoneName(date);
    }
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* no Intl */ }
    element.title = element.textContent.trim() + (zone ? " · your time zone: " + zone : "");
    element.textContent = text;
    element.dataset.localized = "true";
  }

  function localizeWithin(root) {
    if (root.matches && root.matches("time[data-local]")) localize(root);
    if (root.querySelectorAll) root.querySelectorAll("time[data-local]").forEach(localize);
  }

  localizeWithin(document);
  // Rows that scripts add later (live job updates, new voices) are localized as they arrive.
  new MutationObserver(function (records) {
    records.forEach(function (record) { record.addedNodes.forEach(localizeWithin); });
  }).observe(document.body, { childList: true, subtree: true });

  window.odiadev = window.odiadev || {};
  window.odiadev.announce = announce;
})();
