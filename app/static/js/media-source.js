/*
 * Xueshi media source: picks, switches and renews the signed URL of a <video>.
 *
 * API (stable; the lesson player and the projector page use it):
 *
 *   XueshiMedia.attach(video, options) -> Promise<controller>
 *     options.lessonId         required
 *     options.projectId        the project the lesson is watched in (sent as ?project_id=)
 *     options.mode             "normal" (default): chosen by screen size and measured
 *                              bandwidth, "Auto" in the switch; "projector": locked to the
 *                              highest rendition (the switch still lets staff step down)
 *     options.switchContainer  element to render the quality <select> into (optional)
 *     options.compactSwitch    true: no visible "Quality" text (an aria-label instead), labels "360p"
 *     options.apiBase          default "/api/v1"
 *     options.bandwidth        bits/s already known (e.g. measured on the previous lesson): no probe
 *     options.strings          {quality, auto, audioOnly, original} translated labels; else
 *                              read from <script type="application/json" id="xs-media-strings">
 *     options.onState          function (state, detail) called with "ready", "renewed",
 *                              "recovering", "failed" (optional)
 *   The promise rejects (error.code "missing" | "processing" | "forbidden" | "http_<n>")
 *   when there is nothing to play; the caller may fall back to a plain URL.
 *
 *   controller.renditions   [{height, width, bitrate, label, url}] lowest first
 *   controller.current      the rendition playing
 *   controller.media        the last GET /api/v1/lessons/<id>/media answer
 *   controller.select(i)    switch to renditions[i] ("auto" for the automatic choice)
 *   controller.refresh()    fetch fresh signed URLs now and reload at the same position
 *   controller.destroy()    stop timers and listeners
 *
 * On every reload (switch, renewal, recovery) it dispatches on the video
 *   "xueshi:sourcechange" before changing src and "xueshi:sourceready" once the
 *   position (and playing state) is restored; not for the first load.
 *
 * How it chooses ("Auto"): Save-Data, a 2G connection, a link the browser
 * reports (navigator.connection.downlink) or we measure at or below 1 Mbit/s ->
 * the lowest. Otherwise the lowest rendition whose height covers the player's
 * CSS width x devicePixelRatio (as a height, by the video's aspect ratio),
 * at most 360p on a screen narrower than 480 CSS px, and never one whose
 * bitrate exceeds 70 % of the measured bandwidth. The bandwidth is measured by
 * timing the first range request (up to 256 KiB of the lowest rendition, at
 * most 4 s; stopped after 0.6 s if it reads as a slow link by then). A choice
 * the learner makes in the menu is remembered
 * (localStorage) and wins over all this. Repeated stalls step one rendition down.
 * Signed URLs expire (MEDIA_URL_TTL_S): fresh ones are fetched before that and
 * the source reloaded at the same position; a 403/410 (or any network error)
 * on the media fetches fresh URLs and seeks back.
 *
 * Read-ahead: where the browser has Media Source and the rendition is a
 * fragmented MP4 with a sidx index (what the transcoder makes), the element
 * plays a MediaSource fed by HTTP Range requests for the fragments it is about
 * to play, at most about 60 s ahead of currentTime (see MseLoader below);
 * else (older faststart renditions, WeChat on iOS, any Media Source error)
 * it plays the signed URL as plain src. The element's data-delivery says
 * "mse" or "progressive"; data-source is the signed URL playing.
 *
 * Plain ES2017, no library, no build step.
 */
(function () {
  'use strict';

  var PROBE_BYTES = 256 * 1024;
  var PROBE_MAX_MS = 4000;
  var PROBE_VERDICT_MS = 600;       // a link this slow by then is slow: no need to wait for all the probe
  var BANDWIDTH_SHARE = 0.7;
  var SLOW_LINK_BPS = 1e6;          // at or below this: the lowest rendition
  var NARROW_SCREEN_PX = 480;       // narrower screens: at most NARROW_CAP_HEIGHT
  var NARROW_CAP_HEIGHT = 360;
  var RENEW_MARGIN_MAX_S = 300;     // renew this long before expiry at most
  var STALLS_TO_STEP_DOWN = 3;      // "waiting" events within STALL_WINDOW_MS
  var STALL_WINDOW_MS = 30000;
  var MAX_RECOVERIES = 4;           // within RECOVERY_WINDOW_MS, then give up
  var RECOVERY_WINDOW_MS = 120000;
  var STORAGE_KEY = 'xueshi.media.quality';

  var DEFAULT_STRINGS = {
    quality: 'Quality',
    auto: 'Auto',
    audioOnly: 'Audio',
    original: 'Original'
  };

  function readStrings(given) {
    var fromPage = {};
    var el = document.getElementById('xs-media-strings');
    if (el) {
      try { fromPage = JSON.parse(el.textContent || '{}'); } catch (e) { fromPage = {}; }
    }
    var out = {};
    Object.keys(DEFAULT_STRINGS).forEach(function (k) {
      out[k] = (given && given[k]) || fromPage[k] || DEFAULT_STRINGS[k];
    });
    return out;
  }

  function now() { return Date.now(); }

  /* Same-host absolute URLs become relative so they use the page's scheme. */
  function localUrl(url) {
    if (!url) { return url; }
    try {
      var u = new URL(url, window.location.href);
      if (u.host === window.location.host) { return u.pathname + u.search; }
      return u.href;
    } catch (e) {
      return url;
    }
  }

  function httpError(status, code) {
    var err = new Error('media request failed: ' + (code || status));
    err.status = status;
    err.code = code || ('http_' + status);
    return err;
  }

  function fetchMedia(apiBase, lessonId, projectId) {
    var url = apiBase + '/lessons/' + encodeURIComponent(lessonId) + '/media';
    if (projectId !== undefined && projectId !== null && projectId !== '') {
      url += '?project_id=' + encodeURIComponent(projectId);
    }
    return fetch(url, {credentials: 'same-origin', cache: 'no-store', headers: {'Accept': 'application/json'}})
      .then(function (rv) {
        if (!rv.ok) {
          return rv.json().then(function (body) {
            throw httpError(rv.status, body && body.error && body.error.code);
          }, function () { throw httpError(rv.status); });
        }
        return rv.json();
      })
      .then(function (media) {
        media.receivedAt = now();
        (media.renditions || []).forEach(function (r) { r.url = localUrl(r.url); });
        media.poster_url = localUrl(media.poster_url);
        media.document_url = localUrl(media.document_url);
        return media;
      });
  }

  /* Milliseconds until the URLs of `media` expire, by the server's TTL (the
     client's clock may be wrong; the time since the answer is not). */
  function msToExpiry(media) {
    if (typeof media.ttl_s === 'number') {
      return media.ttl_s * 1000 - (now() - media.receivedAt);
    }
    var at = Date.parse(media.expires_at);
    return isFinite(at) ? at - now() : 60000;
  }

  /* Time the first range request; resolves bits per second (or null). */
  function measureBandwidth(url) {
    if (!url || !window.fetch) { return Promise.resolve(null); }
    var controller = window.AbortController ? new AbortController() : null;
    var started = (window.performance && performance.now) ? performance.now() : now();
    var clockNow = function () { return (window.performance && performance.now) ? performance.now() : now(); };
    var received = 0;
    var timer = null;
    var finish = function () {
      var seconds = Math.max(0.001, (clockNow() - started) / 1000);
      return received > 0 ? (received * 8) / seconds : null;
    };
    var verdict = null;
    if (controller) {
      timer = setTimeout(function () { controller.abort(); }, PROBE_MAX_MS);
      // On a slow link the whole probe costs seconds before the first frame (2 s at 1 Mbit/s):
      // if what arrived so far already reads as a slow link, that is the answer.
      verdict = setTimeout(function () {
        var bps = finish();
        if (bps !== null && bps <= SLOW_LINK_BPS) { controller.abort(); }
      }, PROBE_VERDICT_MS);
    }
    return fetch(url, {
      credentials: 'same-origin', cache: 'no-store',
      headers: {'Range': 'bytes=0-' + (PROBE_BYTES - 1)},
      signal: controller ? controller.signal : undefined
    }).then(function (rv) {
      if (!rv.ok) { return null; }
      if (rv.body && rv.body.getReader) {
        var reader = rv.body.getReader();
        var pump = function () {
          return reader.read().then(function (step) {
            if (step.done) { return finish(); }
            received += step.value.byteLength;
            if (received >= PROBE_BYTES) { try { reader.cancel(); } catch (e) { /* done anyway */ } return finish(); }
            return pump();
          });
        };
        return pump();
      }
      return rv.arrayBuffer().then(function (buf) { received = buf.byteLength; return finish(); });
    }).catch(function () {
      return finish();  // aborted at the deadline: what arrived by then tells the speed
    }).then(function (bps) {
      if (timer) { clearTimeout(timer); }
      if (verdict) { clearTimeout(verdict); }
      return bps;
    });
  }

  function connection() {
    return navigator.connection || navigator.mozConnection || navigator.webkitConnection || null;
  }

  function savesData() {
    var c = connection();
    if (!c) { return false; }
    return !!c.saveData || c.effectiveType === 'slow-2g' || c.effectiveType === '2g';
  }

  /* The link speed the browser reports (bits/s), or null. */
  function reportedDownlink() {
    var c = connection();
    return c && typeof c.downlink === 'number' && c.downlink > 0 ? c.downlink * 1e6 : null;
  }

  /* What the automatic choice needs to know about the player and the screen. */
  function viewOf(video) {
    var box = video.getBoundingClientRect ? video.getBoundingClientRect() : null;
    var cssWidth = (box && box.width) || video.clientWidth || (video.parentNode && video.parentNode.clientWidth) ||
      window.innerWidth || 640;
    var screenWidth = Math.min(window.innerWidth || 1280, (window.screen && window.screen.width) || 1280);
    return {playerWidth: cssWidth * (window.devicePixelRatio || 1), isNarrow: screenWidth < NARROW_SCREEN_PX};
  }

  /* Index of the rendition to play automatically. Pure: tested through the page.
     opts: {mode, saveData, bandwidth (bits/s or null), playerWidth (device px), isNarrow} */
  function chooseIndex(renditions, opts) {
    var n = renditions.length;
    if (n <= 1) { return 0; }
    if (opts.mode === 'projector') { return n - 1; }
    if (opts.saveData || (opts.bandwidth && opts.bandwidth <= SLOW_LINK_BPS)) { return 0; }
    var widest = renditions[n - 1];
    var aspect = widest.width && widest.height ? widest.width / widest.height : 16 / 9;
    var wanted = opts.playerWidth ? opts.playerWidth / aspect : Infinity;
    var best = -1;
    for (var i = 0; i < n; i++) {
      var r = renditions[i];
      var h = r.height || 0;
      if (opts.isNarrow && h > NARROW_CAP_HEIGHT) { break; }
      if (r.bitrate && opts.bandwidth && r.bitrate > opts.bandwidth * BANDWIDTH_SHARE && best >= 0) { break; }
      best = i;
      if (h >= wanted * 0.95) { break; }  // the lowest rung that fills the player
    }
    return Math.max(0, best);
  }

  function label(r, strings, compact) {
    if (r.height === 0) { return strings.audioOnly; }
    if (!r.height) { return r.label && r.label !== 'source' ? r.label : strings.original; }
    var text = r.height + 'p';
    if (r.bitrate && !compact) { text += ' · ' + (r.bitrate / 1e6).toFixed(1) + ' Mbps'; }
    return text;
  }

  /* ------------------------------------------------------------ Media Source
     Renditions are fragmented MP4 (ftyp, moov without samples, a sidx per
     track, then a moof+mdat fragment per keyframe, every 2 s). The loader
     reads the head of the file (one small range request), appends the init
     segment (ftyp+moov) to a SourceBuffer and then fetches fragments by HTTP
     Range, so that at most AHEAD_S seconds are buffered ahead of currentTime.
     Any other file (an older faststart rendition), a browser without Media
     Source, or a codec it refuses plays through plain `video.src`. */

  var AHEAD_S = 60;                 // buffered ahead of currentTime, at most (plus one request)
  var BEHIND_S = 30;                // buffer kept behind currentTime; older is removed
  var REQUEST_S = 8;                // one range request covers about this much once playback runs
  var HEAD_BYTES = 16384;           // first request: ftyp + moov + sidx of a short lesson
  var HEAD_MAX_BYTES = 1 << 20;     // a head this large is not a fragmented rendition of ours
  var INIT_MAX_BYTES = 65536;       // nor is a moov this large (a faststart file's sample tables)
  var FETCH_RETRIES = 2;

  function mseAvailable() {
    return !!(window.MediaSource && typeof window.MediaSource.isTypeSupported === 'function' && window.URL &&
              URL.createObjectURL);
  }

  function u32(b, o) { return b[o] * 16777216 + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3]; }
  function fourcc(b, o) { return String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]); }
  function hex2(n) { return (n < 16 ? '0' : '') + n.toString(16); }

  /* The boxes in b[from, to): [{type, start, body, end}]; the last may end past the data. */
  function boxesIn(b, from, to) {
    var out = [];
    var o = from;
    while (o + 8 <= to) {
      var size = u32(b, o);
      var header = 8;
      if (size === 1) {
        if (o + 16 > to) { break; }
        size = u32(b, o + 8) * 4294967296 + u32(b, o + 12);
        header = 16;
      }
      if (size < header) { break; }
      out.push({type: fourcc(b, o + 4), start: o, body: o + header, end: o + size});
      o += size;
    }
    return out;
  }

  function childOf(b, box, type, skip) {
    var list = boxesIn(b, box.body + (skip || 0), Math.min(box.end, b.length));
    for (var i = 0; i < list.length; i++) { if (list[i].type === type) { return list[i]; } }
    return null;
  }

  function pathOf(b, box, types) {
    for (var i = 0; box && i < types.length; i++) { box = childOf(b, box, types[i]); }
    return box;
  }

  /* The RFC 6381 codec string of each track of the moov (null: one we do not know). */
  function codecsOf(b, moov) {
    var codecs = [];
    var video = false;
    boxesIn(b, moov.body, moov.end).forEach(function (trak) {
      if (trak.type !== 'trak') { return; }
      var stsd = pathOf(b, trak, ['mdia', 'minf', 'stbl', 'stsd']);
      var entry = stsd && boxesIn(b, stsd.body + 8, stsd.end)[0];
      if (!entry) { codecs.push(null); return; }
      if (entry.type === 'avc1' || entry.type === 'avc3') {
        var avcC = childOf(b, entry, 'avcC', 78);  // after the visual sample entry's fields
        if (!avcC) { codecs.push(null); return; }
        video = true;
        codecs.push(entry.type + '.' + hex2(b[avcC.body + 1]) + hex2(b[avcC.body + 2]) + hex2(b[avcC.body + 3]));
      } else if (entry.type === 'mp4a') {
        codecs.push('mp4a.40.2');  // AAC-LC: ffmpeg's encoder makes nothing else
      } else {
        codecs.push(null);
      }
    });
    if (!codecs.length || codecs.indexOf(null) >= 0) { return null; }
    return (video ? 'video' : 'audio') + '/mp4; codecs="' + codecs.join(',') + '"';
  }

  /* The fragments a sidx lists: [{start, end (exclusive), t0, t1}] in bytes and seconds. */
  function fragmentsOf(b, sidx) {
    var v = b[sidx.body];
    var o = sidx.body + 8;  // version+flags, reference_ID
    var timescale = u32(b, o);
    var ept, first;
    if (v === 0) {
      ept = u32(b, o + 4); first = u32(b, o + 8); o += 12;
    } else {
      ept = u32(b, o + 4) * 4294967296 + u32(b, o + 8);
      first = u32(b, o + 12) * 4294967296 + u32(b, o + 16);
      o += 20;
    }
    var count = (b[o + 2] << 8) + b[o + 3];
    o += 4;
    if (!timescale || !count) { return null; }
    var pos = sidx.end + first;
    var t = ept;
    var out = [];
    for (var i = 0; i < count; i++, o += 12) {
      var ref = u32(b, o);
      if (ref >= 2147483648) { return null; }  // a sidx of sidxes: not what we make
      var size = ref;
      var dur = u32(b, o + 4);
      out.push({start: pos, end: pos + size, t0: t / timescale, t1: (t + dur) / timescale});
      pos += size;
      t += dur;
    }
    return out;
  }

  function rangeFetch(url, from, to, signal) {
    return fetch(url, {credentials: 'same-origin', cache: 'no-store', signal: signal,
                       headers: {'Range': 'bytes=' + from + '-' + (to - 1)}})
      .then(function (rv) {
        if (rv.status !== 206) { throw httpError(rv.status, rv.status === 200 ? 'no_range' : undefined); }
        return rv.arrayBuffer();
      });
  }

  /* Read the head of a rendition; resolves {init, fragments, mime, duration} for a
     fragmented MP4 with an index, null for anything else. */
  function readHead(url) {
    var attempt = function (bytes, tries) {
      return rangeFetch(url, 0, bytes).then(function (buf) {
        var b = new Uint8Array(buf);
        var top = boxesIn(b, 0, b.length);
        if (!top.length || top[0].type !== 'ftyp' || !top[1] || top[1].type !== 'moov') { return null; }
        var moov = top[1];
        // A fragmented rendition's moov holds no samples (~2 KB); a large one is a faststart file's.
        if (moov.end > INIT_MAX_BYTES) { return null; }
        if (top[2] && top[2].type !== 'sidx') { return null; }
        var need = top[2] ? top[2].end : moov.end + 4096;
        if (need > b.length && buf.byteLength >= bytes - 1) {
          // The moov or the sidx goes on: ask once more for all of it (a long lesson's index).
          if (tries > 0 || need > HEAD_MAX_BYTES) { return null; }
          return attempt(need, tries + 1);
        }
        if (!childOf(b, moov, 'mvex') || !top[2] || top[2].type !== 'sidx' || top[2].end > b.length) { return null; }
        var mime = codecsOf(b, moov);
        var fragments = fragmentsOf(b, top[2]);
        if (!mime || !fragments) { return null; }
        return {init: b.slice(0, moov.end), fragments: fragments, mime: mime,
                duration: fragments[fragments.length - 1].t1};
      });
    };
    return attempt(HEAD_BYTES, 0);
  }

  /* Plays one fragmented rendition through a MediaSource. hooks.url() gives the
     current signed URL (renewal swaps it without a reload); hooks.expired(err)
     when the server refuses it (403/410) or the network keeps failing;
     hooks.broken(err) when Media Source cannot go on (then: plain src). */
  function MseLoader(video, head, hooks) {
    this.video = video;
    this.head = head;
    this.hooks = hooks;
    this.appended = {};
    this.busy = false;
    this.closed = false;
    this.failures = 0;
    this.inflight = null;
    this.listeners = [];
    this.bytes = 0;
  }

  MseLoader.prototype.start = function () {
    var self = this;
    var ms = new MediaSource();
    this.ms = ms;
    this.objectUrl = URL.createObjectURL(ms);
    ms.addEventListener('sourceopen', function () {
      if (self.closed || self.sb) { return; }
      try {
        ms.duration = self.head.duration;
        self.sb = ms.addSourceBuffer(self.head.mime);
      } catch (e) { self.fail(e); return; }
      self.sb.addEventListener('error', function () { self.fail(new Error('SourceBuffer error')); });
      self.append(self.head.init).then(function () { self.pump(); }, function (e) { self.fail(e); });
    });
    var pump = function () { self.pump(); };
    ['timeupdate', 'seeking', 'playing', 'play'].forEach(function (type) {
      self.video.addEventListener(type, pump);
      self.listeners.push([type, pump]);
    });
    this.video.src = this.objectUrl;
  };

  MseLoader.prototype.close = function () {
    var self = this;
    this.closed = true;
    if (this.inflight && this.inflight.controller) { this.inflight.controller.abort(); }
    this.listeners.forEach(function (l) { self.video.removeEventListener(l[0], l[1]); });
    this.listeners = [];
    if (this.objectUrl) { URL.revokeObjectURL(this.objectUrl); }
  };

  MseLoader.prototype.fail = function (err) {
    if (this.closed) { return; }
    this.close();
    this.hooks.broken(err);
  };

  MseLoader.prototype.wait = function () {
    var sb = this.sb;
    return new Promise(function (resolve, reject) {
      var done = function () { sb.removeEventListener('updateend', done); sb.removeEventListener('error', bad); resolve(); };
      var bad = function () { sb.removeEventListener('updateend', done); sb.removeEventListener('error', bad); reject(new Error('append failed')); };
      sb.addEventListener('updateend', done);
      sb.addEventListener('error', bad);
    });
  };

  MseLoader.prototype.append = function (data) {
    var self = this;
    if (this.closed) { return Promise.resolve(); }
    var done = this.wait();
    try {
      this.sb.appendBuffer(data);
    } catch (e) {
      if (e && e.name === 'QuotaExceededError' && !this.retried) {
        // The browser's buffer is full: drop what is behind and try once more.
        this.retried = true;
        return this.trim(true).then(function () { return self.append(data); });
      }
      return Promise.reject(e);
    }
    this.retried = false;
    return done;
  };

  /* Remove buffer far behind (and far ahead, after a seek back) of currentTime. */
  MseLoader.prototype.trim = function (hard) {
    var sb = this.sb;
    if (this.closed || !sb || sb.updating) { return Promise.resolve(); }
    var t = this.video.currentTime;
    var b = sb.buffered;
    if (!b.length) { return Promise.resolve(); }
    var behind = t - (hard ? 5 : BEHIND_S);
    var ahead = t + AHEAD_S + REQUEST_S + 4;
    var self = this;
    var forget = function (from, to) {
      self.head.fragments.forEach(function (f, i) { if (f.t0 >= from && f.t1 <= to) { delete self.appended[i]; } });
    };
    if (b.start(0) < behind - (hard ? 0 : 10)) {
      forget(0, behind);
      sb.remove(0, behind);
      return this.wait();
    }
    if (b.end(b.length - 1) > ahead + 10) {
      forget(ahead, Infinity);
      sb.remove(ahead, Infinity);
      return this.wait();
    }
    return Promise.resolve();
  };

  MseLoader.prototype.isBuffered = function (i) {
    if (!this.appended[i]) { return false; }
    var f = this.head.fragments[i];
    var mid = (f.t0 + f.t1) / 2;
    var b = this.sb.buffered;
    for (var k = 0; k < b.length; k++) { if (b.start(k) <= mid && mid <= b.end(k)) { return true; } }
    return false;
  };

  /* Index of the fragment that holds time t. */
  MseLoader.prototype.indexAt = function (t) {
    var list = this.head.fragments;
    for (var i = 0; i < list.length; i++) { if (t < list[i].t1) { return i; } }
    return list.length - 1;
  };

  /* Fetch what is missing of the next AHEAD_S seconds, one range request at a time. */
  MseLoader.prototype.pump = function () {
    if (this.closed || !this.sb) { return; }
    var self = this;
    var v = this.video;
    var t = v.currentTime;
    var list = this.head.fragments;
    var first = this.indexAt(t);
    var i = first;
    while (i < list.length && this.isBuffered(i)) { i++; }
    if (this.inflight && v.seeking && (first < this.inflight.from || first > this.inflight.to) && !this.isBuffered(first)) {
      // A seek away from the bytes on their way: fetch the fragment that holds the target instead.
      if (this.inflight.controller) { this.inflight.controller.abort(); }
      this.inflight = null;
      this.busy = false;
    }
    if (this.busy || this.sb.updating) { return; }
    if (i >= list.length) {
      if (this.ms.readyState === 'open' && v.duration - t < AHEAD_S + REQUEST_S) {
        try { this.ms.endOfStream(); } catch (e) { /* already ended */ }
      }
      this.trim(false);
      return;
    }
    if (list[i].t0 - t >= AHEAD_S) { this.trim(false); return; }
    // Right after a start or a seek one fragment (fast first frame); then about REQUEST_S at a time.
    var span = list[i].t0 - t < 4 ? 0 : REQUEST_S;
    var j = i;
    while (j + 1 < list.length && !this.appended[j + 1] && list[j + 1].t1 - list[i].t0 <= span &&
           list[j + 1].t0 - t < AHEAD_S) { j++; }
    var controller = window.AbortController ? new AbortController() : null;
    var job = {from: i, to: j, controller: controller};
    this.inflight = job;
    this.busy = true;
    rangeFetch(this.hooks.url(), list[i].start, list[j].end, controller ? controller.signal : undefined)
      .then(function (buf) {
        if (self.inflight !== job || self.closed) { return null; }
        self.bytes += buf.byteLength;
        return self.append(buf).then(function () {
          for (var k = job.from; k <= job.to; k++) { self.appended[k] = true; }
          self.failures = 0;
        });
      })
      .then(function () {
        if (self.inflight !== job) { return; }
        self.inflight = null;
        self.busy = false;
        return self.trim(false).then(function () { self.pump(); });
      }, function (err) {
        if (self.inflight !== job || self.closed) { return; }
        self.inflight = null;
        self.busy = false;
        if (err && (err.status === 403 || err.status === 410)) { self.close(); self.hooks.expired(err); return; }
        if (err && err.code === 'no_range') { self.fail(err); return; }
        if (err && err.name && err.name !== 'TypeError' && err.name !== 'AbortError' && !err.status) {
          self.fail(err);  // the SourceBuffer refused the bytes
          return;
        }
        self.failures += 1;
        if (self.failures > FETCH_RETRIES) { self.close(); self.hooks.expired(err); return; }
        setTimeout(function () { self.pump(); }, 1000 * self.failures);
      });
  };

  function Source(video, options, media) {
    this.video = video;
    this.options = options;
    this.mode = options.mode === 'projector' ? 'projector' : 'normal';
    this.strings = readStrings(options.strings);
    this.apiBase = (options.apiBase || '/api/v1').replace(/\/$/, '');
    this.media = media;
    this.renditions = media.renditions;
    this.auto = true;
    this.index = 0;
    this.current = null;
    this.bandwidth = null;
    this.lastPosition = 0;
    this.stalls = [];
    this.recoveries = [];
    this.renewTimer = null;
    this.reloading = false;
    this.select_ = null;
    this.listeners = [];
  }

  Source.prototype.emit = function (state, detail) {
    if (typeof this.options.onState === 'function') {
      try { this.options.onState(state, detail); } catch (e) { /* the page's problem */ }
    }
  };

  Source.prototype.on = function (target, type, fn) {
    target.addEventListener(type, fn);
    this.listeners.push([target, type, fn]);
  };

  Source.prototype.start = function () {
    var self = this;
    var v = this.video;
    if (this.media.poster_url && !v.getAttribute('poster')) { v.poster = this.media.poster_url; }
    this.on(v, 'timeupdate', function () {
      if (!self.reloading && v.currentTime > 0) { self.lastPosition = v.currentTime; }
    });
    this.on(v, 'error', function () {
      // An error of the element while Media Source plays: go on with plain src.
      if (self.loader) { self.closeLoader(); self.mseBroken = true; }
      self.onError();
    });
    this.on(v, 'waiting', function () { self.onStall(); });
    this.on(document, 'visibilitychange', function () {
      // Timers sleep in background tabs: renew at once if time ran out meanwhile.
      if (document.visibilityState === 'visible') { self.renewIfDue(); }
    });
    this.on(v, 'play', function () { self.renewIfDue(); });

    var stored = null;
    try { stored = window.localStorage && localStorage.getItem(STORAGE_KEY); } catch (e) { stored = null; }
    var manual = -1;
    if (stored && this.mode !== 'projector') {
      this.renditions.forEach(function (r, i) { if (r.label === stored) { manual = i; } });
    }
    var pick;
    if (manual >= 0) {
      this.auto = false;
      pick = Promise.resolve(manual);
    } else if (this.mode === 'projector' || this.renditions.length <= 1 || savesData()) {
      pick = Promise.resolve(chooseIndex(this.renditions, {mode: this.mode, saveData: savesData()}));
    } else if (this.options.bandwidth > 0 || (reportedDownlink() && reportedDownlink() <= SLOW_LINK_BPS)) {
      // Known already, or a slow link the browser reports (Chromium rounds its estimate: a 1 Mbit/s
      // link reads as exactly 1): no probe bytes spent, and no probe's seconds before the first frame.
      this.bandwidth = this.options.bandwidth > 0 ? this.options.bandwidth : reportedDownlink();
      pick = Promise.resolve(this.autoIndex());
    } else {
      pick = measureBandwidth(this.renditions[0].url).then(function (bps) {
        self.bandwidth = bps;
        return self.autoIndex();
      });
    }
    return pick.then(function (index) {
      self.index = index;
      self.current = self.renditions[index];
      v.setAttribute('data-rendition', self.current.label || '');
      return self.setSource(self.current.url);
    }).then(function () {
      self.renderSwitch();
      self.scheduleRenewal();
      self.emit('ready', {rendition: self.current, bandwidth: self.bandwidth});
      return self.controller();
    });
  };

  Source.prototype.autoIndex = function () {
    var view = viewOf(this.video);
    return chooseIndex(this.renditions, {mode: this.mode, saveData: savesData(), bandwidth: this.bandwidth,
                                         playerWidth: view.playerWidth, isNarrow: view.isNarrow});
  };

  Source.prototype.controller = function () {
    var self = this;
    return {
      get renditions() { return self.renditions; },
      get current() { return self.current; },
      get media() { return self.media; },
      get bandwidth() { return self.bandwidth; },
      select: function (i) { return self.select(i); },
      refresh: function () { return self.refresh('renewed'); },
      destroy: function () { self.destroy(); }
    };
  };

  /* Reload the video at `url`, keeping position, playing state and rate. A
     newer reload (or a recovery) supersedes an unfinished one. */
  Source.prototype.reload = function (url, position) {
    var v = this.video;
    var self = this;
    var generation = (this.generation || 0) + 1;
    this.generation = generation;
    if (this.pendingCleanup) { this.pendingCleanup(); }
    var wasPlaying = this.reloading ? this.wasPlaying : (!v.paused && !v.ended);
    var rate = v.playbackRate;
    var at = typeof position === 'number' ? position : (v.currentTime || this.lastPosition);
    this.wasPlaying = wasPlaying;
    this.reloading = true;
    v.dispatchEvent(new Event('xueshi:sourcechange'));
    return new Promise(function (resolve) {
      var cleanup = function () {
        v.removeEventListener('loadedmetadata', onMeta);
        v.removeEventListener('seeked', onSeeked);
        self.pendingCleanup = null;
      };
      var onSeeked = function () {
        if (generation !== self.generation) { return; }
        cleanup();
        v.playbackRate = rate;
        if (wasPlaying) {
          var played = v.play();
          if (played && played.catch) { played.catch(function () { /* autoplay refused: stay paused */ }); }
        }
        self.reloading = false;
        self.lastPosition = v.currentTime;
        v.dispatchEvent(new Event('xueshi:sourceready'));
        resolve();
      };
      var onMeta = function () {
        if (generation !== self.generation) { return; }
        v.removeEventListener('loadedmetadata', onMeta);
        if (at > 0.1) {
          v.currentTime = Math.min(at, (v.duration || at + 1) - 0.1);
        } else {
          onSeeked();
        }
      };
      self.pendingCleanup = function () { cleanup(); resolve(); };
      v.addEventListener('loadedmetadata', onMeta);
      v.addEventListener('seeked', onSeeked);
      self.setSource(url);
    });
  };

  /* Play `url`: through Media Source when the browser has it and the file is a
     fragmented rendition with an index, else as plain src (older renditions,
     WeChat on iOS, after a Media Source failure). The element's data-source is
     the signed URL playing (its currentSrc is a blob: URL with Media Source);
     data-delivery says "mse" or "progressive". Resolves once the element has its source. */
  Source.prototype.setSource = function (url) {
    var v = this.video;
    var self = this;
    var token = (this.sourceToken || 0) + 1;
    this.sourceToken = token;
    this.closeLoader();
    this.sourceUrl = url;
    v.setAttribute('data-source', url);
    var progressive = function () {
      if (token !== self.sourceToken) { return; }
      v.setAttribute('data-delivery', 'progressive');
      v.src = url;
      v.load();
    };
    var key = url.split('?')[0];
    this.heads = this.heads || {};
    if (!mseAvailable() || this.mseBroken || this.heads[key] === null) { progressive(); return Promise.resolve(); }
    var known = this.heads[key];
    return (known ? Promise.resolve(known) : readHead(url)).then(function (head) {
      self.heads[key] = head;
      if (token !== self.sourceToken) { return; }
      if (!head || !MediaSource.isTypeSupported(head.mime)) { progressive(); return; }
      var loader = new MseLoader(v, head, {
        url: function () { return self.sourceUrl; },
        expired: function () { if (self.loader === loader) { self.loader = null; self.onError(false); } },
        broken: function () {
          if (self.loader !== loader) { return; }
          self.loader = null;
          self.mseBroken = true;
          self.reload(self.sourceUrl, self.video.currentTime || self.lastPosition);
        }
      });
      self.loader = loader;
      v.setAttribute('data-delivery', 'mse');
      loader.start();
    }, progressive);
  };

  Source.prototype.closeLoader = function () {
    if (this.loader) {
      this.loader.close();
      this.loader = null;
    }
  };

  Source.prototype.select = function (which) {
    if (which === 'auto') {
      this.auto = true;
      try { localStorage.removeItem(STORAGE_KEY); } catch (e) { /* private mode */ }
      which = this.autoIndex();
    } else {
      this.auto = false;
      which = Math.max(0, Math.min(this.renditions.length - 1, parseInt(which, 10) || 0));
      if (this.mode !== 'projector') {
        try { localStorage.setItem(STORAGE_KEY, this.renditions[which].label || ''); } catch (e) { /* private */ }
      }
    }
    this.renderSwitch();
    if (which === this.index && this.current) { return Promise.resolve(); }
    this.index = which;
    this.current = this.renditions[which];
    this.video.setAttribute('data-rendition', this.current.label || '');
    return this.reload(this.current.url);
  };

  Source.prototype.renderSwitch = function () {
    var box = this.options.switchContainer;
    if (!box || this.renditions.length <= 1) { return; }
    var self = this;
    if (!this.select_) {
      var wrap = document.createElement('label');
      wrap.className = 'xs-quality';
      var text = document.createElement('span');
      text.className = this.options.compactSwitch ? 'visually-hidden' : 'xs-quality-label';
      text.textContent = this.strings.quality + ' ';
      var sel = document.createElement('select');
      sel.className = this.options.compactSwitch ? 'xs-quality-select' : 'form-select form-select-sm d-inline-block w-auto';
      sel.setAttribute('aria-label', this.strings.quality);
      sel.setAttribute('data-testid', 'quality');
      sel.addEventListener('change', function () { self.select(sel.value); });
      wrap.appendChild(text);
      wrap.appendChild(sel);
      box.appendChild(wrap);
      this.select_ = sel;
    }
    var sel2 = this.select_;
    while (sel2.firstChild) { sel2.removeChild(sel2.firstChild); }
    if (this.mode !== 'projector') {
      var auto = document.createElement('option');
      auto.value = 'auto';
      auto.textContent = this.strings.auto + (this.auto && this.current ?
        ' (' + label(this.current, this.strings, true) + ')' : '');
      sel2.appendChild(auto);
    }
    this.renditions.forEach(function (r, i) {
      var opt = document.createElement('option');
      opt.value = String(i);
      opt.textContent = label(r, self.strings, self.options.compactSwitch);
      sel2.appendChild(opt);
    });
    sel2.value = (this.auto && this.mode !== 'projector') ? 'auto' : String(this.index);
  };

  /* Fetch fresh signed URLs and reload the same rendition at the same position. */
  Source.prototype.refresh = function (state) {
    var self = this;
    var position = this.video.currentTime || this.lastPosition;
    return fetchMedia(this.apiBase, this.options.lessonId, this.options.projectId).then(function (media) {
      var label_ = self.current && self.current.label;
      var height = self.current && self.current.height;
      self.media = media;
      self.renditions = media.renditions;
      if (!self.renditions.length) { throw httpError(404, media.state || 'missing'); }
      var i = -1;
      self.renditions.forEach(function (r, k) { if (r.label === label_ && r.height === height) { i = k; } });
      if (i < 0) { i = self.autoIndex(); }
      var same = self.loader && self.renditions[i].label === label_ && self.renditions[i].height === height;
      self.index = i;
      self.current = self.renditions[i];
      self.renderSwitch();
      self.scheduleRenewal();
      if (same) {
        // Media Source: the next range requests use the fresh URL; nothing buffered is fetched again.
        self.sourceUrl = self.current.url;
        self.video.setAttribute('data-source', self.current.url);
        self.emit(state, {rendition: self.current});
        return undefined;
      }
      return self.reload(self.current.url, position).then(function () { self.emit(state, {rendition: self.current}); });
    });
  };

  Source.prototype.scheduleRenewal = function () {
    var self = this;
    if (this.renewTimer) { clearTimeout(this.renewTimer); }
    var ttlMs = (typeof this.media.ttl_s === 'number' ? this.media.ttl_s * 1000 : msToExpiry(this.media));
    var margin = Math.min(RENEW_MARGIN_MAX_S * 1000, ttlMs / 4);
    var wait = Math.max(1000, msToExpiry(this.media) - margin);
    this.renewDueAt = now() + wait;
    this.renewTimer = setTimeout(function () { self.renew(); }, wait);
  };

  Source.prototype.renewIfDue = function () {
    if (this.renewDueAt && now() >= this.renewDueAt) { this.renew(); }
  };

  Source.prototype.renew = function () {
    var self = this;
    if (this.renewing) { return this.renewing; }
    this.renewDueAt = null;
    this.renewing = this.refresh('renewed').catch(function (err) {
      // Keep the current URL until it fails; try again soon.
      self.renewDueAt = now() + 15000;
      self.renewTimer = setTimeout(function () { self.renew(); }, 15000);
      self.emit('failed', {error: err, during: 'renewal'});
    }).then(function () { self.renewing = null; });
    return this.renewing;
  };

  Source.prototype.onStall = function () {
    if (!this.auto || this.mode === 'projector' || this.reloading || this.index === 0 || this.video.seeking) { return; }
    var t = now();
    this.stalls = this.stalls.filter(function (s) { return t - s < STALL_WINDOW_MS; });
    this.stalls.push(t);
    if (this.stalls.length >= STALLS_TO_STEP_DOWN) {
      this.stalls = [];
      this.bandwidth = this.current.bitrate ? this.current.bitrate * 0.9 : this.bandwidth;
      this.index -= 1;
      this.current = this.renditions[this.index];
      this.renderSwitch();
      this.reload(this.current.url, this.lastPosition);
    }
  };

  /* A media error: expired (410) or refused (403) URL, or the network. Fetch
     fresh URLs and go back to where the video was. */
  Source.prototype.onError = function () {
    var self = this;
    var t = now();
    this.recoveries = this.recoveries.filter(function (r) { return t - r < RECOVERY_WINDOW_MS; });
    if (this.recoveries.length >= MAX_RECOVERIES) {
      this.emit('failed', {error: this.video.error});
      return;
    }
    this.recoveries.push(t);
    var position = this.lastPosition;
    this.emit('recovering', {error: this.video.error, position: position});
    var delay = 500 * this.recoveries.length;
    setTimeout(function () {
      fetchMedia(self.apiBase, self.options.lessonId, self.options.projectId).then(function (media) {
        self.media = media;
        self.renditions = media.renditions;
        if (!self.renditions.length) { throw httpError(404, media.state || 'missing'); }
        var i = Math.min(self.index, self.renditions.length - 1);
        self.index = i;
        self.current = self.renditions[i];
        self.renderSwitch();
        self.scheduleRenewal();
        return self.reload(self.current.url, position);
      }).then(function () {
        self.emit('renewed', {rendition: self.current, recovered: true});
      }, function (err) {
        self.emit('failed', {error: err});
      });
    }, delay);
  };

  Source.prototype.destroy = function () {
    if (this.renewTimer) { clearTimeout(this.renewTimer); }
    this.closeLoader();
    this.listeners.forEach(function (l) { l[0].removeEventListener(l[1], l[2]); });
    this.listeners = [];
  };

  function attach(video, options) {
    if (!video || !options || options.lessonId === undefined) {
      return Promise.reject(new Error('XueshiMedia.attach(video, {lessonId, ...})'));
    }
    if (!window.fetch || !window.Promise) {
      throw new Error('this browser lacks fetch/Promise');
    }
    var apiBase = (options.apiBase || '/api/v1').replace(/\/$/, '');
    return fetchMedia(apiBase, options.lessonId, options.projectId).then(function (media) {
      if (!media.renditions || !media.renditions.length) {
        throw httpError(404, media.state || 'missing');
      }
      return new Source(video, options, media).start();
    });
  }

  window.XueshiMedia = {
    attach: attach,
    // exposed for tests and for pages that want the same choice
    chooseIndex: chooseIndex,
    measureBandwidth: measureBandwidth
  };
})();
