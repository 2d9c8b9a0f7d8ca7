/* Resumable upload of one file with tus-js-client (static/vendor/tus/), shared by the media and homework pages.

   XueshiResumable.start(file, options) starts (or resumes, when this browser began the same file before) an
   upload and returns the tus.Upload (abort() pauses, start() goes on). It retries after a dropped connection
   (HEAD tells where the server stands, then PATCH from there) and reads the server's JSON error message.
   options: endpoint, chunkSize, metadata, csrf, and the callbacks onProgress(sent, total), onRetry(),
   onResume(), onError(reason, status), onSuccess(upload).
   Helpers for the pages: fmt('{a} of {b}', {a: 1, b: 2}), size(bytes) ("8.0 MB"), setProgress(progressElement,
   fraction) for a Bootstrap progress bar, say(statusElement, text, isError).
*/
(function () {
  'use strict';

  function supported() {
    return !!(window.tus && window.tus.isSupported);
  }

  function start(file, options) {
    var noop = function () {};
    var upload = new window.tus.Upload(file, {
      endpoint: options.endpoint,
      chunkSize: options.chunkSize || Infinity,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000],
      metadata: options.metadata || {filename: file.name},
      headers: {'X-CSRFToken': options.csrf || ''},
      removeFingerprintOnSuccess: true,
      onProgress: options.onProgress || noop,
      onShouldRetry: function (err) {
        var status = err.originalResponse ? err.originalResponse.getStatus() : 0;
        if (status >= 400 && status < 500 && status !== 409 && status !== 423) { return false; }
        (options.onRetry || noop)();
        return true;
      },
      onError: function (error) {
        var reason = error.message;
        var response = error.originalResponse;
        var status = response ? response.getStatus() : 0;
        if (response) {
          try { reason = JSON.parse(response.getBody()).error.message; } catch (e) { /* keep tus's words */ }
        }
        (options.onError || noop)(reason, status);
      },
      onSuccess: function () { (options.onSuccess || noop)(upload); }
    });
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) {
        (options.onResume || noop)();
        upload.resumeFromPreviousUpload(previous[0]);
      }
      upload.start();
    });
    return upload;
  }

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, key) { return values[key]; });
  }

  function size(bytes) {
    var units = ['B', 'KB', 'MB', 'GB'];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return (i ? bytes.toFixed(1) : bytes) + ' ' + units[i];
  }

  function setProgress(progress, fraction) {
    var percent = Math.min(100, Math.floor(fraction * 100));
    var bar = progress.querySelector('.progress-bar');
    bar.style.width = percent + '%';
    bar.textContent = percent + '%';
    progress.setAttribute('aria-valuenow', String(percent));
  }

  function say(statusLine, text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle('text-danger', !!isError);
  }

  window.XueshiResumable = {supported: supported, start: start, fmt: fmt, size: size, setProgress: setProgress,
                            say: say};
}());
