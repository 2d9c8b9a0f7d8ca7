/* The learner's answer page: files over the threshold go up resumably (static/js/resumable.js) before the form.

   Each big file becomes a file of the learner's draft when its last byte arrives (the server checks its content
   then); the form is then sent with the text and the small files only. Without JavaScript, or in a browser
   without tus support, the form sends every file itself as before.
*/
(function () {
  'use strict';

  var form = document.getElementById('answer-form');
  var box = document.getElementById('hw-upload');
  var input = document.getElementById('answer-files');
  if (!form || !box || !input || !window.XueshiResumable || !window.XueshiResumable.supported() ||
      typeof window.DataTransfer !== 'function') { return; }
  var progress = document.getElementById('hw-progress');
  var statusLine = document.getElementById('hw-upload-status');
  var messages = JSON.parse(document.getElementById('hw-upload-messages').textContent);
  var csrf = (form.querySelector('input[name="csrf_token"]') || {}).value ||
    (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  var threshold = parseInt(box.dataset.resumableFrom, 10) || 0;
  var chunkBytes = parseInt(box.dataset.chunkBytes, 10) || Infinity;
  var buttons = form.querySelectorAll('button[type="submit"]');
  var busy = false;
  var hint = document.getElementById('hw-upload-hint');
  if (hint) { hint.hidden = false; }

  var fmt = window.XueshiResumable.fmt;
  var size = window.XueshiResumable.size;

  function setProgress(fraction) { window.XueshiResumable.setProgress(progress, fraction); }

  function say(text, isError) { window.XueshiResumable.say(statusLine, text, isError); }

  function setBusy(value) {
    busy = value;
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = value; });
  }

  function sendForm(action, smallFiles) {
    var keep = new window.DataTransfer();
    smallFiles.forEach(function (f) { keep.items.add(f); });
    input.files = keep.files;
    var field = document.createElement('input');
    field.type = 'hidden';
    field.name = 'action';
    field.value = action;
    form.appendChild(field);
    say(messages.saving);
    form.submit();
  }

  form.addEventListener('submit', function (event) {
    var files = Array.prototype.slice.call(input.files || []);
    var big = files.filter(function (f) { return f.size > threshold; });
    if (!big.length) { return; }  // small files only: the form sends them as without JavaScript
    event.preventDefault();
    if (busy) { return; }
    var small = files.filter(function (f) { return f.size <= threshold; });
    var action = (event.submitter && event.submitter.value) || 'draft';
    var total = big.reduce(function (sum, f) { return sum + f.size; }, 0);
    var before = 0;
    box.hidden = false;
    setProgress(0);
    setBusy(true);

    function next(index) {
      if (index >= big.length) {
        setProgress(1);
        sendForm(action, small);
        return;
      }
      var file = big[index];
      window.XueshiResumable.start(file, {
        endpoint: box.dataset.endpoint,
        chunkSize: chunkBytes,
        metadata: {filename: file.name, filetype: file.type || ''},
        csrf: csrf,
        onProgress: function (sent) {
          setProgress(total ? (before + sent) / total : 0);
          say(fmt(messages.uploading, {name: file.name, percent: Math.floor(sent / file.size * 100) + '%',
                                       size: size(file.size)}));
        },
        onRetry: function () { say(messages.retrying); },
        onResume: function () { say(messages.resuming); },
        onError: function (reason) {
          say(fmt(messages.failed, {name: file.name, reason: reason}), true);
          setBusy(false);
        },
        onSuccess: function () {
          before += file.size;
          next(index + 1);
        }
      });
    }
    next(0);
  });
}());
