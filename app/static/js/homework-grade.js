// The grading page: j / ArrowRight goes to the next submission of the queue, k / ArrowLeft to the previous one
// (not while typing in a field).
(function () {
  "use strict";
  var page = document.querySelector("[data-testid='submission-page']");
  if (!page) { return; }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) { return; }
    var url = null;
    if (event.key === "j" || event.key === "ArrowRight") { url = page.getAttribute("data-next-url"); }
    if (event.key === "k" || event.key === "ArrowLeft") { url = page.getAttribute("data-prev-url"); }
    if (url) { event.preventDefault(); window.location.assign(url); }
  });
})();
