// Loaded on every dashboard page. The Content-Security-Policy allows no inline handlers, so a form that wants
// a confirmation says so with data-confirm="Question?" and this asks it before the form is sent.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
})();
