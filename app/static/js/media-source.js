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
 * reports (navigator.connection.downlink) or we measure below 1 Mbit/s ->
 * the lowest. Otherwise the lowest rendition whose height covers the player's
 * CSS width x devicePixelRatio (as a height, by the video's aspect ratio),
 * at most 360p on a screen narrower than 480 CSS px, and never one whose
 * bitrate exceeds 70 % of the measured bandwidth. The bandwidth is measured by
 * timing the first range request (up to 256 KiB of the lowest rendition, at
 * most 4 s). A choice the learner makes in the menu is remembered
 * (localStorage) and wins over all this. Repeated stalls step one rendition down.
 * Signed URLs expire (MEDIA_URL_TTL_S): fresh ones are fetched before that and
 * the source reloaded at the same position; a 403/410 (or any network error)
 * on the media fetches fresh URLs and seeks back.
 *
 * Plain ES2017, no library, no build step.
 */
(function () {
  'use strict';

  var PROBE_BYTES = 256 * 1024;
  var PROBE_MAX_MS = 4000;
  var BANDWIDTH_SHARE = 0.7;
  var SLOW_LINK_BPS = 1e6;          // below this: the lowest rendition
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
    if (controller) {
      timer = setTimeout(function () { controller.abort(); }, PROBE_MAX_MS);
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
    if (opts.saveData || (opts.bandwidth && opts.bandwidth < SLOW_LINK_BPS)) { return 0; }
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
    this.on(v, 'error', function () { self.onError(); });
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
    } else if (this.options.bandwidth > 0 || (reportedDownlink() && reportedDownlink() < SLOW_LINK_BPS)) {
      // Known already, or a slow link the browser reports: no probe bytes spent.
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
      v.src = self.current.url;
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
      v.src = url;
      v.load();
    });
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
      self.index = i;
      self.current = self.renditions[i];
      self.renderSwitch();
      self.scheduleRenewal();
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
