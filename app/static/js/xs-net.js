/*
 * Helpers the lesson player and the document reader share: numbers from
 * data-* attributes, clock texts, the CSRF token and one JSON request.
 *
 * Plain ES2017, no build step. Exposes window.XueshiNet.
 */
(function () {
  'use strict';

  /* A number from a data-* attribute or an answer, or the fallback. */
  function num(value, fallback) {
    var n = parseFloat(value);
    return isFinite(n) ? n : fallback;
  }

  /* 75 → "1:15", 3725 → "1:02:05". */
  function clockText(seconds) {
    var s = Math.max(0, Math.floor(seconds || 0));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var r = s % 60;
    var mm = (h > 0 && m < 10 ? '0' : '') + m;
    return (h > 0 ? h + ':' : '') + mm + ':' + (r < 10 ? '0' : '') + r;
  }

  /* The JSON in a <script type="application/json" id=...>, or {}. */
  function readJSON(id) {
    var el = document.getElementById(id);
    if (!el) { return {}; }
    try { return JSON.parse(el.textContent || '{}'); } catch (e) { return {}; }
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  /* One JSON request. Resolves {status, data}; status 0 is a network error
   * or a timeout (timeoutMs). It never rejects, so callers only look at the status. */
  function requestJSON(method, url, body, timeoutMs) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url, true);
      xhr.timeout = timeoutMs || 8000;
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.setRequestHeader('X-CSRFToken', csrfToken());
      if (body !== undefined) {
        xhr.setRequestHeader('Content-Type', 'application/json');
      }
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        resolve({ status: xhr.status, data: data });
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () {
        resolve({ status: 0, data: null });
      };
      xhr.send(body === undefined ? null : JSON.stringify(body));
    });
  }

  window.XueshiNet = { num: num, clockText: clockText, readJSON: readJSON, csrfToken: csrfToken,
                       requestJSON: requestJSON };
}());
