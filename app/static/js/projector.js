/*
 * Xueshi projector mode: one lesson full screen for a learning center's room.
 *
 * Large controls and text readable from the back of the room, the highest
 * rendition (XueshiMedia.attach with mode "projector"), controls that fade
 * while the video plays and come back on any mouse move or key, keys for
 * presenter remotes (Space/K, arrows, PageUp/PageDown, F, M), and the screen
 * kept awake:
 *   1. the Screen Wake Lock API where the browser has it (it needs HTTPS or
 *      localhost), taken again whenever the page becomes visible;
 *   2. otherwise (a classroom server on plain HTTP, an old browser) a tiny
 *      silent looping video (2 s, 16x16, embedded below: no outside host),
 *      the way browsers keep the screen on for a playing video, plus a
 *      periodic no-op touch of the page so kiosk-style idle timers see activity.
 * Configuration: data-* attributes of #xs-projector; strings from
 * #xs-projector-strings (JSON). Plain ES2017, no library.
 */
(function () {
  'use strict';

  var IDLE_HIDE_MS = 3000;
  var NOOP_EVERY_MS = 20000;
  var TINY_VIDEO = 'data:video/mp4;base64,AAAAIGZ0eXBpc29tAAACAGlzb21pc28yYXZjMW1wNDEAAAXAbW9vdgAAAGxtdmhkAAAAAAAAAAAAAAAAAAAD6AAAB9AAAQAAAQAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwAAAll0cmFrAAAAXHRraGQAAAADAAAAAAAAAAAAAAABAAAAAAAAB9AAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAABAAAAAABAAAAAQAAAAAAAkZWR0cwAAABxlbHN0AAAAAAAAAAEAAAfQAAAAAAABAAAAAAHRbWRpYQAAACBtZGhkAAAAAAAAAAAAAAAAAABAAAAAgABVxAAAAAAALWhkbHIAAAAAAAAAAHZpZGUAAAAAAAAAAAAAAABWaWRlb0hhbmRsZXIAAAABfG1pbmYAAAAUdm1oZAAAAAEAAAAAAAAAAAAAACRkaW5mAAAAHGRyZWYAAAAAAAAAAQAAAAx1cmwgAAAAAQAAATxzdGJsAAAAuHN0c2QAAAAAAAAAAQAAAKhhdmMxAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAABAAEABIAAAASAAAAAAAAAABFUxhdmM1OS4zNy4xMDAgbGlieDI2NAAAAAAAAAAAAAAAGP//AAAALmF2Y0MBQsAK/+EAFmdCwArZHsBEAAADAAQAAAMACDxImSABAAVoy4PLIAAAABBwYXNwAAAAAQAAAAEAAAAUYnRydAAAAAAAAAo0AAAKNAAAABhzdHRzAAAAAAAAAAEAAAACAABAAAAAABRzdHNzAAAAAAAAAAEAAAABAAAAHHN0c2MAAAAAAAAAAQAAAAEAAAABAAAAAQAAABxzdHN6AAAAAAAAAAAAAAACAAACgwAAAAoAAAAYc3RjbwAAAAAAAAACAAAGBQAACKgAAAKRdHJhawAAAFx0a2hkAAAAAwAAAAAAAAAAAAAAAgAAAAAAAAfQAAAAAAAAAAAAAAABAQAAAAABAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAJGVkdHMAAAAcZWxzdAAAAAAAAAABAAAH0AAABAAAAQAAAAACCW1kaWEAAAAgbWRoZAAAAAAAAAAAAAAAAAAAH0AAAEKAVcQAAAAAAC1oZGxyAAAAAAAAAABzb3VuAAAAAAAAAAAAAAAAU291bmRIYW5kbGVyAAAAAbRtaW5mAAAAEHNtaGQAAAAAAAAAAAAAACRkaW5mAAAAHGRyZWYAAAAAAAAAAQAAAAx1cmwgAAAAAQAAAXhzdGJsAAAAfnN0c2QAAAAAAAAAAQAAAG5tcDRhAAAAAAAAAAEAAAAAAAAAAAACABAAAAAAH0AAAAAAADZlc2RzAAAAAAOAgIAlAAIABICAgBdAFQAAAAAAH0AAAAE/BYCAgAUViFblAAaAgIABAgAAABRidHJ0AAAAAAAAH0AAAAE/AAAAIHN0dHMAAAAAAAAAAgAAABAAAAQAAAAAAQAAAoAAAAAoc3RzYwAAAAAAAAACAAAAAQAAAAEAAAABAAAAAgAAAAgAAAABAAAAWHN0c3oAAAAAAAAAAAAAABEAAAAVAAAABAAAAAQAAAAEAAAABAAAAAQAAAAEAAAABAAAAAQAAAAEAAAABAAAAAQAAAAEAAAABAAAAAQAAAAEAAAABAAAABxzdGNvAAAAAAAAAAMAAAXwAAAIiAAACLIAAAAac2dwZAEAAAByb2xsAAAAAgAAAAH//wAAABxzYmdwAAAAAHJvbGwAAAABAAAAEQAAAAEAAABidWR0YQAAAFptZXRhAAAAAAAAACFoZGxyAAAAAAAAAABtZGlyYXBwbAAAAAAAAAAAAAAAAC1pbHN0AAAAJal0b28AAAAdZGF0YQAAAAEAAAAATGF2ZjU5LjI3LjEwMAAAAAhmcmVlAAAC6m1kYXTeAgBMYXZjNTkuMzcuMTAwAAIwQA4AAAJtBgX//2ncRem95tlIt5Ys2CDZI+7veDI2NCAtIGNvcmUgMTY0IHIzMDk1IGJhZWU0MDAgLSBILjI2NC9NUEVHLTQgQVZDIGNvZGVjIC0gQ29weWxlZnQgMjAwMy0yMDIyIC0gaHR0cDovL3d3dy52aWRlb2xhbi5vcmcveDI2NC5odG1sIC0gb3B0aW9uczogY2FiYWM9MCByZWY9MyBkZWJsb2NrPTE6MDowIGFuYWx5c2U9MHgxOjB4MTExIG1lPWhleCBzdWJtZT03IHBzeT0xIHBzeV9yZD0xLjAwOjAuMDAgbWl4ZWRfcmVmPTEgbWVfcmFuZ2U9MTYgY2hyb21hX21lPTEgdHJlbGxpcz0xIDh4OGRjdD0wIGNxbT0wIGRlYWR6b25lPTIxLDExIGZhc3RfcHNraXA9MSBjaHJvbWFfcXBfb2Zmc2V0PS0yIHRocmVhZHM9MSBsb29rYWhlYWRfdGhyZWFkcz0xIHNsaWNlZF90aHJlYWRzPTAgbnI9MCBkZWNpbWF0ZT0xIGludGVybGFjZWQ9MCBibHVyYXlfY29tcGF0PTAgY29uc3RyYWluZWRfaW50cmE9MCBiZnJhbWVzPTAgd2VpZ2h0cD0wIGtleWludD0yIGtleWludF9taW49MSBzY2VuZWN1dD00MCBpbnRyYV9yZWZyZXNoPTAgcmNfbG9va2FoZWFkPTIgcmM9Y3JmIG1idHJlZT0xIGNyZj0yMy4wIHFjb21wPTAuNjAgcXBtaW49MCBxcG1heD02OSBxcHN0ZXA9NCBpcF9yYXRpbz0xLjQwIGFxPTE6MS4wMACAAAAADmWIhAW///8PRQABT3+AARggBwEYIAcBGCAHARggBwEYIAcBGCAHARggBwEYIAcAAAAGQZo4CvqAARggBwEYIAcBGCAHARggBwEYIAcBGCAHARggBwEYIAc=';

  function readJSON(id) {
    var el = document.getElementById(id);
    if (!el) { return {}; }
    try { return JSON.parse(el.textContent || '{}'); } catch (e) { return {}; }
  }

  function clock(seconds) {
    if (!isFinite(seconds) || seconds < 0) { seconds = 0; }
    seconds = Math.floor(seconds);
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var mm = h ? (m < 10 ? '0' + m : String(m)) : String(m);
    return (h ? h + ':' : '') + mm + ':' + (s < 10 ? '0' + s : s);
  }

  /* Keep the screen on: Wake Lock, else a silent looping video. */
  function Awake(statusEl, strings) {
    this.statusEl = statusEl;
    this.strings = strings;
    this.lock = null;
    this.video = null;
    this.noopTimer = null;
    this.method = 'none';
  }

  Awake.prototype.show = function () {
    var text = {lock: this.strings.awakeLock, fallback: this.strings.awakeFallback, none: this.strings.awakeNone};
    this.statusEl.textContent = text[this.method] || '';
    this.statusEl.setAttribute('data-method', this.method);
    document.documentElement.setAttribute('data-awake', this.method);
  };

  Awake.prototype.start = function () {
    var self = this;
    if (navigator.wakeLock && window.isSecureContext) {
      return navigator.wakeLock.request('screen').then(function (lock) {
        self.lock = lock;
        self.method = 'lock';
        lock.addEventListener('release', function () {
          if (self.lock === lock) { self.lock = null; }
        });
        self.show();
      }).catch(function () {
        return self.fallback();
      });
    }
    return this.fallback();
  };

  Awake.prototype.fallback = function () {
    var self = this;
    if (!this.video) {
      var v = document.createElement('video');
      v.setAttribute('playsinline', '');
      v.setAttribute('webkit-playsinline', '');
      v.setAttribute('aria-hidden', 'true');
      v.setAttribute('data-testid', 'keep-awake-video');
      v.muted = true;
      v.loop = true;
      v.className = 'xs-pj-keepawake';
      v.src = TINY_VIDEO;
      document.body.appendChild(v);
      this.video = v;
    }
    if (!this.noopTimer) {
      this.noopTimer = setInterval(function () {
        // A harmless write the page's idle detectors notice; the video does the real work.
        document.documentElement.setAttribute('data-awake-tick', String(Date.now()));
      }, NOOP_EVERY_MS);
    }
    var played = this.video.play();
    var ok = function () { self.method = 'fallback'; self.show(); };
    if (played && played.then) {
      return played.then(ok, function () { self.method = 'none'; self.show(); });
    }
    ok();
    return Promise.resolve();
  };

  /* After the tab was hidden the lock is gone: take it again. */
  Awake.prototype.renew = function () {
    if (document.visibilityState !== 'visible') { return; }
    if (this.method === 'lock' && !this.lock) { this.start(); }
    if (this.method === 'fallback' && this.video && this.video.paused) { this.video.play(); }
  };

  function Projector(root) {
    this.root = root;
    this.strings = readJSON('xs-projector-strings');
    this.video = root.querySelector('video');
    this.ui = {};
    var names = ['top', 'stage', 'document', 'start', 'message', 'bar', 'time', 'seek', 'duration', 'back',
                 'toggle', 'forward', 'quieter', 'louder', 'mute', 'fullscreen', 'quality', 'awake'];
    for (var i = 0; i < names.length; i++) {
      this.ui[names[i]] = root.querySelector('[data-pj="' + names[i] + '"]');
    }
    this.awake = new Awake(this.ui.awake, this.strings);
    this.idleTimer = null;
    this.seeking = false;
  }

  Projector.prototype.message = function (text) {
    this.ui.message.textContent = text || '';
    this.ui.message.hidden = !text;
  };

  Projector.prototype.init = function () {
    var self = this;
    var v = this.video;
    var d = this.root.dataset;
    this.message(this.strings.loading);
    this.bind();
    if (d.lessonKind === 'document') {
      return this.showDocument();
    }
    if (!window.XueshiMedia) { this.message(this.strings.failed); return; }
    return window.XueshiMedia.attach(v, {
      lessonId: d.lessonId,
      projectId: d.projectId,
      mode: 'projector',
      switchContainer: this.ui.quality,
      onState: function (state) {
        if (state === 'recovering') { self.message(self.strings.recovering); }
        else if (state === 'failed') { self.message(self.strings.failed); }
        else { self.message(''); }
      }
    }).then(function (controller) {
      self.controller = controller;
      self.root.setAttribute('data-rendition', controller.current.label || '');
      self.message('');
    }, function (err) {
      var code = err && err.code;
      if (code === 'processing' || code === 'missing') { self.message(self.strings[code]); }
      else if (err && err.status === 403) { self.message(self.strings.forbidden); }
      else { self.message(self.strings.failed); }
      self.root.setAttribute('data-error', code || 'failed');
    });
  };

  Projector.prototype.showDocument = function () {
    var self = this;
    var d = this.root.dataset;
    var url = '/api/v1/lessons/' + encodeURIComponent(d.lessonId) + '/media?project_id=' + encodeURIComponent(d.projectId);
    return fetch(url, {credentials: 'same-origin', cache: 'no-store'}).then(function (rv) {
      if (!rv.ok) { throw new Error(String(rv.status)); }
      return rv.json();
    }).then(function (media) {
      if (!media.document_url) { self.message(self.strings.missing); return; }
      self.video.hidden = true;
      self.ui.bar.hidden = true;
      self.ui.document.hidden = false;
      var u = new URL(media.document_url, window.location.href);
      // Same host: keep the page's scheme (the API may not know it is behind TLS).
      self.ui.document.src = u.host === window.location.host ? u.pathname + u.search : u.href;
      self.message('');
    }).catch(function () { self.message(self.strings.failed); });
  };

  Projector.prototype.bind = function () {
    var self = this;
    var v = this.video;
    var ui = this.ui;
    ui.start.addEventListener('click', function () {
      ui.start.hidden = true;
      self.enterFullscreen();
      self.awake.start();
      self.play();
    });
    ui.toggle.addEventListener('click', function () { self.toggle(); });
    ui.back.addEventListener('click', function () { self.skip(-30); });
    ui.forward.addEventListener('click', function () { self.skip(30); });
    ui.quieter.addEventListener('click', function () { self.volume(-0.1); });
    ui.louder.addEventListener('click', function () { self.volume(0.1); });
    ui.mute.addEventListener('click', function () {
      v.muted = !v.muted;
      ui.mute.setAttribute('aria-pressed', v.muted ? 'true' : 'false');
    });
    ui.fullscreen.addEventListener('click', function () { self.toggleFullscreen(); });
    v.addEventListener('click', function () { self.toggle(); });
    ui.seek.addEventListener('input', function () { self.seeking = true; ui.time.textContent = clock(+ui.seek.value); });
    ui.seek.addEventListener('change', function () { self.seeking = false; v.currentTime = +ui.seek.value; });

    ['play', 'pause', 'ended'].forEach(function (type) {
      v.addEventListener(type, function () { self.render(); });
    });
    v.addEventListener('play', function () { ui.start.hidden = true; self.awake.start(); });
    v.addEventListener('timeupdate', function () { self.renderTime(); });
    v.addEventListener('durationchange', function () { self.renderTime(); });
    v.addEventListener('loadedmetadata', function () { self.renderTime(); });

    document.addEventListener('keydown', function (e) { self.onKey(e); });
    document.addEventListener('visibilitychange', function () { self.awake.renew(); });
    ['mousemove', 'touchstart', 'keydown'].forEach(function (type) {
      document.addEventListener(type, function () { self.wake(); }, {passive: true});
    });
    this.render();
  };

  Projector.prototype.play = function () {
    var played = this.video.play();
    if (played && played.catch) { played.catch(function () { /* needs a click: the start button stays */ }); }
  };

  Projector.prototype.toggle = function () {
    if (this.video.paused || this.video.ended) { this.play(); } else { this.video.pause(); }
  };

  Projector.prototype.skip = function (seconds) {
    var v = this.video;
    var end = isFinite(v.duration) ? v.duration : Infinity;
    v.currentTime = Math.max(0, Math.min(end, v.currentTime + seconds));
  };

  Projector.prototype.volume = function (delta) {
    var v = this.video;
    v.muted = false;
    v.volume = Math.max(0, Math.min(1, Math.round((v.volume + delta) * 10) / 10));
    this.ui.mute.setAttribute('aria-pressed', 'false');
  };

  Projector.prototype.enterFullscreen = function () {
    var el = document.documentElement;
    var request = el.requestFullscreen || el.webkitRequestFullscreen;
    if (request && !(document.fullscreenElement || document.webkitFullscreenElement)) {
      try {
        var done = request.call(el);
        if (done && done.catch) { done.catch(function () { /* refused: the page still fills the window */ }); }
      } catch (e) { /* old browser */ }
    }
  };

  Projector.prototype.toggleFullscreen = function () {
    if (document.fullscreenElement || document.webkitFullscreenElement) {
      var exit = document.exitFullscreen || document.webkitExitFullscreen;
      if (exit) { exit.call(document); }
    } else {
      this.enterFullscreen();
    }
  };

  Projector.prototype.onKey = function (e) {
    if (e.target && (e.target.tagName === 'INPUT' && e.target.type !== 'range' || e.target.tagName === 'SELECT')) { return; }
    var key = e.key;
    if (key === ' ' || key === 'k' || key === 'K' || key === 'Enter' && e.target === document.body) {
      this.toggle();
    } else if (key === 'ArrowLeft' || key === 'PageUp') {
      this.skip(-10);
    } else if (key === 'ArrowRight' || key === 'PageDown') {
      this.skip(10);
    } else if (key === 'ArrowUp') {
      this.volume(0.1);
    } else if (key === 'ArrowDown') {
      this.volume(-0.1);
    } else if (key === 'f' || key === 'F') {
      this.toggleFullscreen();
    } else if (key === 'm' || key === 'M') {
      this.ui.mute.click();
    } else {
      return;
    }
    e.preventDefault();
  };

  /* Show the controls and the cursor; hide them again while playing. */
  Projector.prototype.wake = function () {
    var self = this;
    this.root.classList.remove('xs-pj-idle');
    if (this.idleTimer) { clearTimeout(this.idleTimer); }
    this.idleTimer = setTimeout(function () {
      if (!self.video.paused) { self.root.classList.add('xs-pj-idle'); }
    }, IDLE_HIDE_MS);
  };

  Projector.prototype.render = function () {
    var playing = !this.video.paused && !this.video.ended;
    this.root.classList.toggle('xs-pj-playing', playing);
    this.ui.toggle.setAttribute('aria-pressed', playing ? 'true' : 'false');
    if (!playing) { this.root.classList.remove('xs-pj-idle'); } else { this.wake(); }
  };

  Projector.prototype.renderTime = function () {
    var v = this.video;
    var duration = isFinite(v.duration) ? v.duration : 0;
    this.ui.duration.textContent = clock(duration);
    this.ui.seek.max = String(Math.floor(duration));
    if (!this.seeking) {
      this.ui.seek.value = String(Math.floor(v.currentTime));
      this.ui.time.textContent = clock(v.currentTime);
    }
  };

  var root = document.getElementById('xs-projector');
  if (root) {
    var projector = new Projector(root);
    window.XueshiProjector = projector;
    projector.init();
  }
})();
