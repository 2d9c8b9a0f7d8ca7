/* Forms with data-confirm="question" ask it before they are sent (a static script: the CSP allows no inline handlers). */
(function () {
  'use strict';
  document.addEventListener('submit', function (event) {
    var question = event.target.getAttribute('data-confirm');
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
}());
