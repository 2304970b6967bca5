// Ticket list and ticket page helpers: "select all on this page" for bulk actions,
// and the canned-response picker. Both forms also work without this script: the
// rows are ticked one by one, and "Insert" reloads the page with the text filled in.
(function () {
  "use strict";

  function setUpSelectAll() {
    var toggle = document.querySelector("[data-select-all]");
    if (!toggle) {
      return;
    }
    var boxes = Array.prototype.slice.call(
      document.querySelectorAll("[data-ticket-select]")
    );
    function refresh() {
      var ticked = boxes.filter(function (box) { return box.checked; }).length;
      toggle.checked = ticked > 0 && ticked === boxes.length;
      toggle.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    toggle.hidden = false;
    toggle.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = toggle.checked; });
      refresh();
    });
    boxes.forEach(function (box) { box.addEventListener("change", refresh); });
    refresh();
  }

  function setUpCannedPicker() {
    var button = document.querySelector("[data-canned-insert]");
    var picker = document.getElementById("canned-select");
    var reply = document.getElementById("reply-body");
    if (!button || !picker || !reply) {
      return;
    }
    // Until the agent has placed the cursor in the reply box, text goes at its end.
    var cursorPlaced = false;
    reply.addEventListener("focus", function () { cursorPlaced = true; });
    button.addEventListener("click", function (event) {
      var option = picker.options[picker.selectedIndex];
      if (!option) {
        return;
      }
      event.preventDefault();
      // The server filled in the placeholders, and the value is inserted as plain text.
      var text = option.getAttribute("data-text") || "";
      var start = cursorPlaced ? reply.selectionStart : reply.value.length;
      var end = cursorPlaced ? reply.selectionEnd : reply.value.length;
      var before = reply.value.slice(0, start);
      var after = reply.value.slice(end);
      if (start === end && start === reply.value.length && before.trim() !== "") {
        before = before.replace(/\s*$/, "") + "\n\n";
      }
      reply.value = before + text + after;
      var caret = before.length + text.length;
      reply.focus();
      reply.setSelectionRange(caret, caret);
      reply.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpSelectAll();
    setUpCannedPicker();
  });
})();
