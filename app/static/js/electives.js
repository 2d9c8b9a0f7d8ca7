/* Elective confirmation: "select all" ticks every choice awaiting confirmation on the page (a static script: the CSP allows no inline handlers). */
(function () {
  'use strict';
  document.addEventListener('change', function (event) {
    var name = event.target.getAttribute('data-select-all');
    if (!name) {
      return;
    }
    var boxes = document.querySelectorAll('input[type=checkbox][name="' + name + '"]');
    for (var i = 0; i < boxes.length; i += 1) {
      boxes[i].checked = event.target.checked;
    }
  });
}());
