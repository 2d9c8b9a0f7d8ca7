/* Course staff's media page: resumable upload (static/js/resumable.js), then the job's state. */
(function () {
  'use strict';

  var box = document.getElementById('media-upload');
  if (!box || !window.tus || !window.XueshiResumable) { return; }
  var form = document.getElementById('media-upload-form');
  var fileInput = document.getElementById('media-file');
  var lessonSelect = document.getElementById('media-lesson');
  var startBtn = document.getElementById('media-start');
  var pauseBtn = document.getElementById('media-pause');
  var resumeBtn = document.getElementById('media-resume');
  var progressBox = document.getElementById('media-progress-box');
  var progress = document.getElementById('media-progress');
  var statusLine = document.getElementById('media-status');
  var table = document.getElementById('media-table').querySelector('tbody');
  var messages = JSON.parse(document.getElementById('media-messages').textContent);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  var maxBytes = parseInt(box.dataset.maxBytes, 10) || 0;
  var current = null;

  var fmt = window.XueshiResumable.fmt;
  var size = window.XueshiResumable.size;

  function setProgress(fraction) { window.XueshiResumable.setProgress(progress, fraction); }

  function say(text, isError) { window.XueshiResumable.say(statusLine, text, isError); }

  function urlFor(template, id) { return template.replace(/0(\/[a-z]*)?$/, id + '$1'); }

  function apiFetch(url, options) {
    options = options || {};
    options.credentials = 'same-origin';
    options.headers = Object.assign({'Accept': 'application/json', 'X-CSRFToken': csrf}, options.headers || {});
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          var message = (body.error && body.error.message) || response.statusText;
          throw new Error(message);
        }
        return body;
      });
    });
  }

  // ---------------------------------------------------------------- the table of assets
  function stateLabel(state) {
    return messages[state === 'failed' ? 'failed_state' : state] || state;
  }

  function renderRow(status) {
    var row = table.querySelector('tr[data-media-id="' + status.media_id + '"]');
    if (!row) {
      var none = document.getElementById('media-none');
      if (none) { none.remove(); }
      row = document.createElement('tr');
      row.dataset.mediaId = status.media_id;
      row.innerHTML = '<td class="text-break"></td><td></td><td data-field="kind"></td><td data-field="state"></td>' +
        '<td data-field="duration"></td><td data-field="renditions"></td><td data-field="actions"></td>';
      row.children[0].textContent = status.filename || '';
      row.children[1].textContent = lessonSelect.options[lessonSelect.selectedIndex].text;
      table.insertBefore(row, table.firstChild);
    }
    row.dataset.state = status.state;
    row.querySelector('[data-field="kind"]').textContent = messages['kind_' + status.kind] || status.kind;
    var stateCell = row.querySelector('[data-field="state"]');
    stateCell.textContent = '';
    var badge = document.createElement('span');
    badge.className = 'badge text-bg-' + ({done: 'success', failed: 'danger', running: 'info'}[status.state] || 'secondary');
    badge.textContent = stateLabel(status.state);
    stateCell.appendChild(badge);
    if (status.state === 'running') {
      stateCell.appendChild(document.createTextNode(' ' + Math.round(status.progress * 100) + '%'));
    }
    if (status.state === 'failed' && status.error) {
      var reason = document.createElement('div');
      reason.className = 'small text-danger';
      reason.textContent = status.error;
      stateCell.appendChild(reason);
    }
    var duration = row.querySelector('[data-field="duration"]');
    duration.textContent = status.duration_s ? Math.round(status.duration_s) + ' s' : '—';
    var renditions = row.querySelector('[data-field="renditions"]');
    renditions.textContent = status.renditions.map(function (r) { return r.label; }).join(' ');
    var actions = row.lastElementChild;
    actions.textContent = '';
    if (status.state === 'failed') {
      var retry = document.createElement('button');
      retry.type = 'button';
      retry.className = 'btn btn-sm btn-outline-primary';
      retry.dataset.retry = status.media_id;
      retry.textContent = messages.retry;
      actions.appendChild(retry);
    }
  }

  function watch(mediaId) {
    apiFetch(urlFor(box.dataset.statusUrl, mediaId)).then(function (status) {
      renderRow(status);
      if (status.state === 'queued' || status.state === 'running') {
        setTimeout(function () { watch(mediaId); }, 2000);
      }
    }).catch(function () { setTimeout(function () { watch(mediaId); }, 5000); });
  }

  table.addEventListener('click', function (event) {
    var id = event.target.dataset && event.target.dataset.retry;
    if (!id) { return; }
    event.target.disabled = true;
    apiFetch(urlFor(box.dataset.retryUrl, id), {method: 'POST'})
      .then(function () { watch(id); })
      .catch(function (error) { event.target.disabled = false; say(error.message, true); });
  });

  Array.prototype.forEach.call(table.querySelectorAll('tr[data-media-id]'), function (row) {
    if (row.dataset.state === 'queued' || row.dataset.state === 'running') { watch(row.dataset.mediaId); }
  });

  // ---------------------------------------------------------------- the upload
  function finished(upload) {
    // The server names the media it made in a header of the last PATCH; ask it again to be sure.
    apiFetch(upload.url).then(function (info) {
      if (info.media_id) { watch(info.media_id); }
    });
  }

  function start(file) {
    var metadata = {filename: file.name, filetype: file.type || '', course_id: box.dataset.courseId};
    if (lessonSelect.value) { metadata.lesson_id = lessonSelect.value; }
    function stopped() {
      startBtn.disabled = false;
      pauseBtn.hidden = true;
      resumeBtn.hidden = true;
    }
    current = window.XueshiResumable.start(file, {
      endpoint: box.dataset.endpoint,
      chunkSize: parseInt(box.dataset.chunkBytes, 10) || Infinity,
      metadata: metadata,
      csrf: csrf,
      onProgress: function (sent, total) {
        setProgress(total ? sent / total : 0);
        say(fmt(messages.uploading, {percent: Math.floor(sent / total * 100) + '%', size: size(total)}));
      },
      onRetry: function () { say(messages.retrying); },
      onResume: function () { say(messages.resuming); },
      onError: function (reason) {
        say(fmt(messages.failed, {reason: reason}), true);
        stopped();
      },
      onSuccess: function (upload) {
        setProgress(1);
        say(messages.uploaded);
        stopped();
        form.reset();
        finished(upload);
      }
    });
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var file = fileInput.files && fileInput.files[0];
    if (!file) { say(messages.choose, true); progressBox.hidden = false; return; }
    if (maxBytes && file.size > maxBytes) { say(messages.too_large, true); progressBox.hidden = false; return; }
    progressBox.hidden = false;
    setProgress(0);
    startBtn.disabled = true;
    pauseBtn.hidden = false;
    resumeBtn.hidden = true;
    start(file);
  });

  pauseBtn.addEventListener('click', function () {
    if (!current) { return; }
    current.abort();
    pauseBtn.hidden = true;
    resumeBtn.hidden = false;
    say(messages.paused);
  });

  resumeBtn.addEventListener('click', function () {
    if (!current) { return; }
    resumeBtn.hidden = true;
    pauseBtn.hidden = false;
    current.start();
  });
}());
