// The error summary takes focus, so a screen reader announces it and a keyboard starts there;
// its links move focus to the field the message belongs to. Without this script the summary
// still shows and its links still scroll to each message.
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (!summary) return;
  summary.focus();

  /** The control a message describes, or else the last form control before the message. */
  function controlFor(message) {
    var described = document.querySelector('[aria-describedby~="' + message.id + '"]');
    if (described) return described;
    var scope = message.closest("fieldset, form");
    if (!scope) return null;
    var controls = scope.querySelectorAll("input:not([type=hidden]), textarea, select");
    var found = null;
    for (var i = 0; i < controls.length; i += 1) {
      if (controls[i].compareDocumentPosition(message) & Node.DOCUMENT_POSITION_FOLLOWING) found = controls[i];
    }
    return found;
  }

  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) return;
    var message = document.getElementById(link.getAttribute("href").slice(1));
    var control = message && controlFor(message);
    if (!control) return;
    event.preventDefault();
    var label = control.id ? document.querySelector('label[for="' + control.id + '"]') : null;
    (label || control).scrollIntoView({ block: "start" });
    control.focus({ preventScroll: true });
  });
})();
