/*
 * Xueshi lesson player: reports what the <video> does to the tracking API.
 *
 * The server decides every credited second (TRACKING.md); this script only
 * tells it, honestly and promptly, what the player is doing:
 *   - opens a playback session, resumes at resume_position_s;
 *   - a "tick" heartbeat every heartbeat_interval_s while playing;
 *   - event heartbeats at once on play, pause, seek (with from_position_s),
 *     ended, hidden and shown; navigator.sendBeacon on pagehide;
 *   - a failed heartbeat is retried every few seconds (next seq, the event
 *     kept, the player's state at the time of the retry) until one gets
 *     through, while a notice says progress is not being saved; the video
 *     keeps playing meanwhile;
 *   - presence checks, 409 (superseded) and 410 (ended) answers.
 *
 * Plain ES2017, no library, no build step: it has to run on an old school PC
 * and in WeChat's in-app browser. Configuration comes from data-* attributes
 * of #xs-player and translated strings from #xs-player-strings (JSON).
 */
(function () {
  'use strict';

  var RETRY_MS = 3000;          // spacing of retries after a failed heartbeat
  var REQUEST_TIMEOUT_MS = 10000;
  var SEEK_SETTLE_MS = 300;     // rapid seeks (a held arrow key) become one
  var SEEK_TOLERANCE_S = 1.5;   // a forward step this small is not a skip
  var NATURAL_STEP_S = 3;       // largest timeupdate step counted as playing on

  var DEFAULT_STRINGS = {
    starting: 'Preparing the lesson…',
    saved: 'Progress saved',
    notSaved: 'Progress is not being saved: the server cannot be reached. Keep watching; we keep trying and your time will be counted once the connection is back.',
    superseded: 'This lesson is now playing on another device or in another tab, so progress here is not being saved.',
    resumeHere: 'Resume here',
    endedSession: 'This viewing session has ended.',
    reopen: 'Continue',
    signedOut: 'You have been signed out. Sign in again to keep your progress.',
    forbidden: 'This lesson cannot be credited for you now.',
    openFailed: 'The lesson could not be started. We keep trying…',
    seekLimited: 'You cannot skip ahead of what you have watched in this lesson.',
    presenceTitle: 'Are you still there?',
    presenceHint: 'Answer to keep your learning time counted.',
    presenceWrong: 'That was not the right answer. Please try again.',
    presenceFailed: 'Your answer could not be sent. Please try again.',
    complete: 'Complete',
    noVideo: 'This video cannot be played here.'
  };

  function $(root, sel) { return root.querySelector(sel); }

  function readJSON(id) {
    var el = document.getElementById(id);
    if (!el) { return {}; }
    try { return JSON.parse(el.textContent || '{}'); } catch (e) { return {}; }
  }

  function num(value, fallback) {
    var n = parseFloat(value);
    return isFinite(n) ? n : fallback;
  }

  function formatDuration(seconds) {
    var s = Math.max(0, Math.floor(seconds || 0));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var r = s % 60;
    var mm = (h > 0 && m < 10 ? '0' : '') + m;
    return (h > 0 ? h + ':' : '') + mm + ':' + (r < 10 ? '0' : '') + r;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  /* One JSON request. Resolves {status, data}; status 0 is a network error
   * or a timeout. It never rejects, so callers only look at the status. */
  function requestJSON(method, url, body) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url, true);
      xhr.timeout = REQUEST_TIMEOUT_MS;
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

  function Player(root) {
    this.root = root;
    this.video = $(root, 'video');
    this.strings = Object.assign({}, DEFAULT_STRINGS, readJSON('xs-player-strings'));
    var d = root.dataset;
    this.apiBase = d.apiBase || '/api/v1';
    this.projectId = parseInt(d.projectId, 10);
    this.lessonId = parseInt(d.lessonId, 10);
    this.forbidSeekAhead = d.forbidSeekAhead === '1' || d.forbidSeekAhead === 'true';
    this.completionRatio = num(d.completionRatio, 0.9);
    this.mode = d.mode || 'normal';

    this.ui = {
      status: $(root, '[data-xs="status"]'),
      alert: $(root, '[data-xs="alert"]'),
      credited: $(root, '[data-xs="credited"]'),
      sessionCredited: $(root, '[data-xs="session-credited"]'),
      coverageBar: $(root, '[data-xs="coverage-bar"]'),
      coverageText: $(root, '[data-xs="coverage-text"]'),
      complete: $(root, '[data-xs="complete"]'),
      notice: $(root, '[data-xs="notice"]'),
      overlay: $(root, '[data-xs="overlay"]'),
      presence: $(root, '[data-xs="presence"]'),
      presencePrompt: $(root, '[data-xs="presence-prompt"]'),
      presenceOptions: $(root, '[data-xs="presence-options"]'),
      presenceError: $(root, '[data-xs="presence-error"]'),
      blocked: $(root, '[data-xs="blocked"]'),
      blockedText: $(root, '[data-xs="blocked-text"]'),
      blockedButton: $(root, '[data-xs="blocked-button"]'),
      playButton: $(root, '[data-xs="toggle"]'),
      back: $(root, '[data-xs="back"]'),
      forward: $(root, '[data-xs="forward"]'),
      switchContainer: $(root, '[data-xs="renditions"]')
    };

    // Session and protocol state.
    this.session = null;          // answer of POST /playback/sessions
    this.opening = null;          // promise while a session is being opened
    this.seq = 0;                 // last seq used in this session
    this.inflight = null;         // heartbeat being sent
    this.pending = null;          // {event, fromPositionS} waiting to be sent
    this.failing = false;         // the last attempt failed: retrying
    this.lastSentAt = 0;          // Date.now() of the last attempt
    this.blocked = null;          // 'superseded' | 'ended' | 'signed-out' | 'forbidden'
    this.timer = 0;
    this.seekTimer = 0;
    this.presenceCheck = null;
    this.lesson = {
      credited_s: num(d.creditedS, 0),
      covered_s: num(d.coveredS, 0),
      complete: d.complete === '1' || d.complete === 'true'
    };
    this.sessionCreditedS = 0;
    this.endedReopenedAt = 0;
    this.noticeTimer = 0;

    // Player position bookkeeping.
    this.lastKnownS = 0;          // position at the last timeupdate (not while seeking)
    this.seekOriginS = null;      // where the current seek started
    this.allowedMaxS = 0;         // furthest position one may seek to (forbid-seek-ahead)
    this.resumeApplied = false;
    this.internalSeek = false;    // seeks the player makes itself are not reported
    this.sourceChanging = false;  // a rendition switch reloads the source
    this.explicitSource = false;  // media-source.js sends xueshi:sourcechange/sourceready
    this.sourceOriginS = null;
  }

  Player.prototype.t = function (key) { return this.strings[key] || DEFAULT_STRINGS[key] || key; };

  Player.prototype.start = function () {
    var self = this;
    var v = this.video;
    if (!v) { return; }
    // Keep mobile in-app browsers (WeChat/X5, iOS) from taking the video
    // over full screen with their own player; the template sets them too.
    v.setAttribute('playsinline', '');
    v.setAttribute('webkit-playsinline', '');
    v.setAttribute('x5-playsinline', '');
    v.setAttribute('x5-video-player-type', 'h5');
    v.setAttribute('x5-video-player-fullscreen', 'false');
    v.playsInline = true;

    v.addEventListener('play', function () { self.onPlay(); });
    v.addEventListener('pause', function () { if (!v.ended) { self.enqueue('pause'); } });
    v.addEventListener('ended', function () { self.enqueue('ended'); });
    v.addEventListener('seeking', function () { self.onSeeking(); });
    v.addEventListener('timeupdate', function () { self.onTimeUpdate(); });
    v.addEventListener('ratechange', function () { if (!v.paused) { self.enqueue('tick'); } });
    v.addEventListener('loadedmetadata', function () {
      self.applyResume();
      if (!self.explicitSource) { self.onSourceReady(1000); }
    });
    v.addEventListener('loadstart', function () { if (!self.explicitSource) { self.onSourceChange(); } });
    v.addEventListener('error', function () { self.showNotice(self.t('noVideo')); });  // media-source.js may recover
    // media-source.js announces its reloads (rendition switch, URL renewal,
    // recovery): from the first such event on, those events alone are trusted.
    v.addEventListener('xueshi:sourcechange', function () { self.explicitSource = true; self.onSourceChange(); });
    v.addEventListener('xueshi:sourceready', function () { self.onSourceReady(0); });

    document.addEventListener('visibilitychange', function () {
      self.enqueue(document.visibilityState === 'visible' ? 'shown' : 'hidden');
    });
    window.addEventListener('pagehide', function () { self.sendBeacon(); });
    window.addEventListener('pageshow', function (e) {
      if (e.persisted && self.session) { self.enqueue('shown'); }
    });
    document.addEventListener('keydown', function (e) { self.onKey(e); });

    this.bindControls();
    this.attachMedia();
    this.render();
    this.setStatus(this.t('starting'));
    this.openSession();
  };

  /* ---------------------------------------------------------------- media */

  Player.prototype.attachMedia = function () {
    var v = this.video;
    var fallback = this.root.dataset.src;
    var media = window.XueshiMedia;
    if (media && typeof media.attach === 'function') {
      try {
        var result = media.attach(v, {
          lessonId: this.lessonId,
          projectId: this.projectId,
          mode: this.mode,
          switchContainer: this.ui.switchContainer
        });
        var self = this;
        if (result && typeof result.then === 'function') {
          result.then(null, function () {
            if (v.currentSrc) { return; }
            if (fallback) { v.src = fallback; } else { self.showNotice(self.t('noVideo'), true); }
          });
        }
        return;
      } catch (e) {
        // fall through to the plain URL
      }
    }
    if (fallback) { v.src = fallback; }
  };

  Player.prototype.onSourceChange = function () {
    // A new source (first load or a rendition switch) resets currentTime to
    // 0 before media-source.js seeks back: none of that is the learner seeking.
    if (!this.resumeApplied) { return; }
    if (!this.sourceChanging) {
      this.sourceChanging = true;
      this.sourceOriginS = this.lastKnownS;
    }
  };

  Player.prototype.onSourceReady = function (settleMs) {
    var self = this;
    if (!this.sourceChanging) { return; }
    // Without explicit events, give the page a moment to restore the
    // position; then report a seek only if the position really moved.
    setTimeout(function () {
      if (!self.sourceChanging) { return; }
      self.sourceChanging = false;
      var now = self.video.currentTime;
      var origin = self.sourceOriginS;
      self.sourceOriginS = null;
      if (origin !== null && Math.abs(now - origin) > SEEK_TOLERANCE_S) {
        self.enqueue('seek', origin);
      }
      self.lastKnownS = now;
    }, settleMs);
  };

  Player.prototype.applyResume = function () {
    if (this.resumeApplied || !this.session || !isFinite(this.video.duration)) { return; }
    this.resumeApplied = true;
    var resume = num(this.session.resume_position_s, 0);
    var duration = this.video.duration;
    // Resuming in the last seconds would only show the end: start over.
    if (resume > 1 && resume < duration - 3 && this.video.currentTime < 0.5) {
      this.internalSeek = true;
      this.video.currentTime = resume;
      this.lastKnownS = resume;
    }
  };

  /* ------------------------------------------------------ player events */

  Player.prototype.onPlay = function () {
    if (this.blocked === 'superseded' || this.blocked === 'ended') {
      // Progress is not saved here; do not let it look as if it were.
      this.video.pause();
      this.showBlocked(this.blocked);
      return;
    }
    this.enqueue('play');
  };

  Player.prototype.onTimeUpdate = function () {
    var v = this.video;
    if (v.seeking || this.sourceChanging) { return; }
    var now = v.currentTime;
    var step = now - this.lastKnownS;
    if (step >= 0 && step <= NATURAL_STEP_S * Math.max(1, v.playbackRate)) {
      this.allowedMaxS = Math.max(this.allowedMaxS, now);
    }
    this.lastKnownS = now;
  };

  Player.prototype.onSeeking = function () {
    var self = this;
    var v = this.video;
    if (this.sourceChanging) { return; }
    if (this.internalSeek) {
      this.internalSeek = false;
      return;
    }
    if (this.seekOriginS === null) { this.seekOriginS = this.lastKnownS; }
    if (this.forbidSeekAhead && v.currentTime > this.allowedMaxS + SEEK_TOLERANCE_S) {
      this.showNotice(this.t('seekLimited'));
      v.currentTime = this.allowedMaxS;  // fires another seeking event
      return;
    }
    clearTimeout(this.seekTimer);
    this.seekTimer = setTimeout(function () {
      var origin = self.seekOriginS;
      self.seekOriginS = null;
      if (origin === null) { return; }
      self.lastKnownS = v.currentTime;
      if (Math.abs(v.currentTime - origin) < 0.25) { return; }  // went nowhere
      self.enqueue('seek', origin);
    }, SEEK_SETTLE_MS);
  };

  Player.prototype.state = function () {
    var v = this.video;
    var duration = this.session ? num(this.session.duration_s, 0) : 0;
    var pos = v.currentTime || 0;
    // The server accepts positions within [0, duration + 2]; a rendition can
    // be a fraction of a second longer than the probed source.
    if (duration > 0) { pos = Math.min(pos, duration); }
    var rate = v.playbackRate || 1;
    return {
      position_s: Math.round(pos * 1000) / 1000,
      playing: !v.paused && !v.ended,
      visible: document.visibilityState === 'visible',
      rate: Math.min(16, Math.max(0.0625, rate))
    };
  };

  /* --------------------------------------------------------- heartbeats */

  /* Merge an event into what is waiting to be sent. A seek stays a seek
   * (its origin decides what the server credits); otherwise the latest event
   * wins, since playing/visible are always sent as they are now. */
  Player.prototype.merge = function (a, b) {
    if (!a) { return b; }
    if (!b) { return a; }
    if (a.event === 'seek') { return a; }
    if (b.event === 'seek') { return b; }
    if (b.event === 'tick') { return a; }
    return b;
  };

  Player.prototype.enqueue = function (event, fromPositionS) {
    // While blocked (superseded, signed out...) nothing is sent; the pause
    // that block() itself causes must not leak into the next session.
    if (this.blocked) { return; }
    var item = { event: event };
    if (event === 'seek') { item.fromPositionS = Math.max(0, fromPositionS || 0); }
    this.pending = this.merge(this.pending, item);
    if (!this.failing) { this.flushSoon(0); }
  };

  Player.prototype.flushSoon = function (delayMs) {
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.flush(); }, delayMs);
  };

  /* Decide when to wake up next: a retry, the next tick, or nothing. */
  Player.prototype.schedule = function () {
    if (this.inflight || this.blocked) { return; }
    var now = Date.now();
    if (this.pending) {
      this.flushSoon(this.failing ? Math.max(0, this.lastSentAt + RETRY_MS - now) : 0);
      return;
    }
    if (this.session && !this.video.paused && !this.video.ended) {
      var intervalMs = num(this.session.heartbeat_interval_s, 15) * 1000;
      var self = this;
      clearTimeout(this.timer);
      this.timer = setTimeout(function () {
        self.pending = self.merge(self.pending, { event: 'tick' });
        self.flush();
      }, Math.max(0, this.lastSentAt + intervalMs - now));
    }
  };

  Player.prototype.payload = function (item) {
    var body = this.state();
    body.seq = ++this.seq;
    body.event = item.event;
    if (item.event === 'seek') {
      var from = item.fromPositionS;
      var duration = num(this.session.duration_s, 0);
      body.from_position_s = Math.round((duration > 0 ? Math.min(from, duration) : from) * 1000) / 1000;
    }
    return body;
  };

  Player.prototype.heartbeatUrl = function () {
    return this.apiBase + '/playback/sessions/' + encodeURIComponent(this.session.session_id) + '/heartbeats';
  };

  Player.prototype.flush = function () {
    var self = this;
    clearTimeout(this.timer);
    if (this.inflight || this.blocked) { return; }
    if (!this.session) {
      // Events before the session exists wait for it.
      if (!this.opening) { this.openSession(); }
      return;
    }
    if (!this.pending) { this.schedule(); return; }
    var item = this.pending;
    this.pending = null;
    var body = this.payload(item);
    var session = this.session;
    this.inflight = item;
    this.lastSentAt = Date.now();
    requestJSON('POST', this.heartbeatUrl(), body).then(function (res) {
      self.inflight = null;
      if (session !== self.session) { self.schedule(); return; }  // a newer session took over
      self.onHeartbeatAnswer(item, res);
      self.schedule();
    });
  };

  Player.prototype.onHeartbeatAnswer = function (item, res) {
    var status = res.status;
    if (status === 200 && res.data) {
      this.setFailing(false);
      this.applyAnswer(res.data);
      return;
    }
    if (status === 409) { this.block('superseded'); return; }
    if (status === 410) { this.block('ended'); return; }
    if (status === 401) { this.block('signed-out'); return; }
    if (status === 403 || status === 404) { this.block('forbidden'); return; }
    if (status === 400 || status === 413 || status === 422) {
      // The server refused this body; sending it again cannot help. Say so,
      // and carry on with the next heartbeat.
      this.showNotice(this.t('notSaved'));
      return;
    }
    // Network error, timeout, 429 or 5xx: retry the same event, next seq.
    this.pending = this.merge(item, this.pending);
    this.setFailing(true);
  };

  Player.prototype.applyAnswer = function (data) {
    if (typeof data.credited_s_session === 'number') { this.sessionCreditedS = data.credited_s_session; }
    if (data.lesson) {
      this.lesson.credited_s = num(data.lesson.credited_s, this.lesson.credited_s);
      this.lesson.covered_s = num(data.lesson.covered_s, this.lesson.covered_s);
      this.lesson.complete = !!data.lesson.complete || this.lesson.complete;
    }
    this.showPresence(data.presence_check || null);
    this.render();
  };

  Player.prototype.setFailing = function (failing) {
    this.failing = failing;
    var alert = this.ui.alert;
    if (alert) {
      if (failing) {
        alert.textContent = this.t('notSaved');
        alert.hidden = false;
      } else {
        alert.hidden = true;
      }
    }
    this.root.classList.toggle('xs-not-saved', failing);
    if (!failing) { this.setStatus(this.t('saved')); }
  };

  /* Last words when the page goes away: fetch may be cancelled on unload,
   * a beacon is not. sendBeacon cannot set headers, so the CSRF token goes in
   * the query string and the body is sent as text/plain JSON (no preflight). */
  Player.prototype.sendBeacon = function () {
    if (!this.session || this.blocked) { return; }
    var body = this.payload({ event: 'pause' });
    body.playing = false;
    body.visible = false;
    var json = JSON.stringify(body);
    var url = this.heartbeatUrl() + '?beacon=1&csrf_token=' + encodeURIComponent(csrfToken());
    var sent = false;
    if (navigator.sendBeacon) {
      try {
        sent = navigator.sendBeacon(url, new Blob([json], { type: 'text/plain;charset=UTF-8' }));
      } catch (e) { sent = false; }
    }
    if (!sent && window.fetch) {
      try {
        fetch(url, {
          method: 'POST', body: json, keepalive: true, credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() }
        }).catch(function () {});
      } catch (e) { /* nothing more can be done while the page unloads */ }
    }
  };

  /* ------------------------------------------------------------ session */

  Player.prototype.openSession = function () {
    var self = this;
    if (this.opening) { return this.opening; }
    this.opening = requestJSON('POST', this.apiBase + '/playback/sessions', {
      lesson_id: this.lessonId, project_id: this.projectId,
      device_id: window.xsDeviceId ? window.xsDeviceId() : ''  // device.js: same device = "reopened" in the audit
    }).then(function (res) {
      self.opening = null;
      if (res.status === 201 && res.data) {
        self.session = res.data;
        self.seq = 0;
        self.blocked = null;
        self.hideBlocked();
        self.allowedMaxS = Math.max(self.allowedMaxS, num(res.data.max_position_s, 0));
        if (typeof res.data.is_seek_ahead_forbidden === 'boolean') {
          self.forbidSeekAhead = res.data.is_seek_ahead_forbidden;
        }
        self.applyResume();
        self.sessionCreditedS = 0;
        self.applyAnswer(res.data);  // lesson figures and a pending presence check, when given
        self.setFailing(false);
        if (!self.video.paused && !self.video.ended) {
          self.pending = self.merge(self.pending, { event: 'play' });
        }
        self.schedule();
        return true;
      }
      if (res.status === 401) { self.block('signed-out'); return false; }
      if (res.status === 403 || res.status === 404 || res.status === 409 || res.status === 400) {
        // Not enrolled, outside the project's dates, lesson not ready: the
        // server's message says which; retrying would not change it.
        self.block('forbidden', res.data && res.data.error && res.data.error.message);
        return false;
      }
      // Network trouble: try again in a few seconds, the notice says why.
      self.setStatus(self.t('openFailed'));
      self.setFailing(true);
      setTimeout(function () { if (!self.session) { self.openSession(); } }, RETRY_MS);
      return false;
    });
    return this.opening;
  };

  Player.prototype.block = function (reason, message) {
    this.blocked = reason;
    this.blockedMessage = message || '';
    this.pending = null;
    clearTimeout(this.timer);
    this.setFailing(false);
    if (reason === 'superseded' || reason === 'signed-out' || reason === 'forbidden') {
      this.video.pause();
    }
    if (reason === 'ended' && !this.video.paused && Date.now() - this.endedReopenedAt > 60000) {
      // The server ended this session (a long sleep, an expiry) while the
      // learner is still watching: carry on in a fresh session (at most once
      // a minute, so a server that keeps ending it cannot make us loop).
      this.endedReopenedAt = Date.now();
      this.reopen();
      return;
    }
    this.showBlocked(reason);
  };

  Player.prototype.reopen = function () {
    var self = this;
    this.session = null;
    this.blocked = null;
    this.hideBlocked();
    this.openSession().then(function (ok) {
      if (ok && self.video.paused) { self.playSafely(); }
    });
  };

  Player.prototype.showBlocked = function (reason) {
    var ui = this.ui;
    var text = {
      superseded: this.t('superseded'),
      ended: this.t('endedSession'),
      'signed-out': this.t('signedOut'),
      forbidden: this.blockedMessage || this.t('forbidden')
    }[reason];
    if (ui.blockedText) { ui.blockedText.textContent = text; }
    if (ui.blockedButton) {
      var canResume = reason === 'superseded' || reason === 'ended';
      ui.blockedButton.hidden = !canResume;
      ui.blockedButton.textContent = reason === 'superseded' ? this.t('resumeHere') : this.t('reopen');
    }
    if (ui.blocked) { ui.blocked.hidden = false; }
    if (ui.blockedButton && !ui.blockedButton.hidden) { ui.blockedButton.focus(); }
    this.setStatus(text);
  };

  Player.prototype.hideBlocked = function () {
    if (this.ui.blocked) { this.ui.blocked.hidden = true; }
  };

  /* ----------------------------------------------------------- presence */

  /* The server's prompt is {text, options} or a plain string with the
   * options beside it; either way the learner picks one big button. */
  Player.prototype.showPresence = function (check) {
    var ui = this.ui;
    if (!ui.presence) { return; }
    if (!check) {
      this.presenceCheck = null;
      ui.presence.hidden = true;
      return;
    }
    if (this.presenceCheck && this.presenceCheck.id === check.id) { return; }
    this.presenceCheck = check;
    var prompt = check.prompt;
    var text = typeof prompt === 'string' ? prompt : (prompt && (prompt.text || prompt.question)) || '';
    var options = check.options || (prompt && prompt.options) || [];
    ui.presencePrompt.textContent = text;
    ui.presenceError.textContent = '';
    while (ui.presenceOptions.firstChild) { ui.presenceOptions.removeChild(ui.presenceOptions.firstChild); }
    var self = this;
    options.forEach(function (option) {
      var value = (option && typeof option === 'object') ? option.value : option;
      var label = (option && typeof option === 'object') ? (option.label || option.value) : option;
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'btn btn-outline-primary btn-lg xs-presence-option';
      button.textContent = String(label);
      button.addEventListener('click', function () { self.answerPresence(check, value, button); });
      ui.presenceOptions.appendChild(button);
    });
    ui.presence.hidden = false;
    var first = ui.presenceOptions.querySelector('button');
    if (first) { first.focus(); }
  };

  Player.prototype.answerPresence = function (check, answer, button) {
    var self = this;
    if (!this.session) { return; }
    var buttons = this.ui.presenceOptions.querySelectorAll('button');
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    var url = this.apiBase + '/playback/sessions/' + encodeURIComponent(this.session.session_id) + '/presence';
    requestJSON('POST', url, { check_id: check.id, answer: answer }).then(function (res) {
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      if (res.status === 200 && res.data && res.data.ok !== false) {
        self.presenceCheck = null;
        self.ui.presence.hidden = true;
        return;
      }
      if (res.status === 409 || res.status === 400 || (res.data && res.data.ok === false)) {
        self.ui.presenceError.textContent = self.t('presenceWrong');
      } else {
        self.ui.presenceError.textContent = self.t('presenceFailed');
      }
      if (button) { button.disabled = true; }
    });
  };

  /* ---------------------------------------------------------- interface */

  Player.prototype.bindControls = function () {
    var self = this;
    var ui = this.ui;
    if (ui.playButton) { ui.playButton.addEventListener('click', function () { self.toggle(); }); }
    if (ui.back) { ui.back.addEventListener('click', function () { self.step(-10); }); }
    if (ui.forward) { ui.forward.addEventListener('click', function () { self.step(10); }); }
    if (ui.blockedButton) { ui.blockedButton.addEventListener('click', function () { self.reopen(); }); }
    var v = this.video;
    var sync = function () {
      if (!ui.playButton) { return; }
      var playing = !v.paused && !v.ended;
      ui.playButton.setAttribute('aria-pressed', playing ? 'true' : 'false');
      ui.playButton.classList.toggle('xs-is-playing', playing);
    };
    v.addEventListener('play', sync);
    v.addEventListener('pause', sync);
    v.addEventListener('ended', sync);
  };

  Player.prototype.playSafely = function () {
    var p = this.video.play();
    if (p && typeof p.catch === 'function') { p.catch(function () {}); }
  };

  Player.prototype.toggle = function () {
    var v = this.video;
    if (v.paused || v.ended) {
      if (this.blocked === 'superseded' || this.blocked === 'ended') { this.reopen(); return; }
      this.playSafely();
    } else {
      v.pause();
    }
  };

  Player.prototype.step = function (deltaS) {
    var v = this.video;
    if (!isFinite(v.duration)) { return; }
    v.currentTime = Math.max(0, Math.min(v.duration - 0.1, v.currentTime + deltaS));
  };

  Player.prototype.onKey = function (e) {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) { return; }
    var target = e.target;
    var tag = target && target.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (target && target.isContentEditable)) { return; }
    if (this.ui.presence && !this.ui.presence.hidden) { return; }  // keys go to the prompt's buttons
    var key = e.key;
    var v = this.video;
    var handled = true;
    if ((key === ' ' || key === 'Spacebar') && tag !== 'BUTTON' && tag !== 'A') {
      this.toggle();
    } else if (key === 'k' || key === 'K') {
      this.toggle();
    } else if (key === 'ArrowLeft' || key === 'Left') {
      this.step(-5);
    } else if (key === 'ArrowRight' || key === 'Right') {
      this.step(5);
    } else if (key === 'j' || key === 'J') {
      this.step(-10);
    } else if (key === 'l' || key === 'L') {
      this.step(10);
    } else if (key === 'ArrowUp' || key === 'Up') {
      v.volume = Math.min(1, v.volume + 0.1);
    } else if (key === 'ArrowDown' || key === 'Down') {
      v.volume = Math.max(0, v.volume - 0.1);
    } else if (key === 'm' || key === 'M') {
      v.muted = !v.muted;
    } else if (key === 'f' || key === 'F') {
      this.fullscreen();
    } else {
      handled = false;
    }
    if (handled) { e.preventDefault(); }
  };

  Player.prototype.fullscreen = function () {
    var el = this.root.querySelector('.xs-video-wrap') || this.video;
    if (document.fullscreenElement || document.webkitFullscreenElement) {
      (document.exitFullscreen || document.webkitExitFullscreen).call(document);
    } else if (el.requestFullscreen) {
      el.requestFullscreen();
    } else if (el.webkitRequestFullscreen) {
      el.webkitRequestFullscreen();
    } else if (this.video.webkitEnterFullscreen) {
      this.video.webkitEnterFullscreen();
    }
  };

  Player.prototype.setStatus = function (text) {
    if (this.ui.status) { this.ui.status.textContent = text; }
  };

  Player.prototype.showNotice = function (text, sticky) {
    var n = this.ui.notice;
    if (!n) { return; }
    n.textContent = text;
    n.hidden = false;
    clearTimeout(this.noticeTimer);
    if (!sticky) { this.noticeTimer = setTimeout(function () { n.hidden = true; }, 4000); }
  };

  Player.prototype.render = function () {
    var ui = this.ui;
    var duration = this.session ? num(this.session.duration_s, 0) : num(this.root.dataset.durationS, 0);
    var lesson = this.lesson;
    if (ui.credited) {
      ui.credited.textContent = formatDuration(lesson.credited_s);
      ui.credited.setAttribute('data-seconds', String(Math.floor(lesson.credited_s)));
    }
    if (ui.sessionCredited) {
      ui.sessionCredited.textContent = formatDuration(this.sessionCreditedS);
      ui.sessionCredited.setAttribute('data-seconds', String(Math.floor(this.sessionCreditedS)));
    }
    var ratio = duration > 0 ? Math.min(1, lesson.covered_s / duration) : 0;
    var percent = Math.floor(ratio * 100);
    if (ui.coverageBar) {
      ui.coverageBar.style.width = percent + '%';
      ui.coverageBar.setAttribute('aria-valuenow', String(percent));
    }
    if (ui.coverageText) { ui.coverageText.textContent = percent + '%'; }
    if (ui.complete) { ui.complete.hidden = !lesson.complete; }
  };

  function boot() {
    var root = document.getElementById('xs-player');
    if (!root || root.xsPlayer) { return; }
    root.xsPlayer = new Player(root);
    root.xsPlayer.start();
  }

  window.XueshiPlayer = { Player: Player, boot: boot, formatDuration: formatDuration };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', boot);
  } else {
    boot();
  }
}());
