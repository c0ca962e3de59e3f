// Copy buttons for the commands a person types (views/partials/command.hbs). The buttons are
// hidden in the HTML and shown here, so a page without scripts offers no button that does nothing.
(function () {
  "use strict";

  /** Copies with the Clipboard API, or by selecting the text where that is unavailable (plain http). */
  function copy(text, code) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var copied = document.execCommand("copy");
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  var blocks = document.querySelectorAll("[data-command]");
  Array.prototype.forEach.call(blocks, function (block) {
    var button = block.querySelector("[data-copy]");
    var code = block.querySelector("code");
    var status = block.querySelector("[data-copy-status]");
    if (!button || !code || !status) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(code.textContent, code).then(
        function () {
          button.firstChild.textContent = "Copied";
          status.textContent = "Command copied";
        },
        function () {
          status.textContent = "Copying failed: select the command and copy it yourself";
        },
      );
    });
  });
})();
