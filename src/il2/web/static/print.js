// A "Print" button: any element with data-print opens the browser's print dialog.
// A file, not inline script, so the Content-Security-Policy (script-src 'self') allows it.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
});
