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
 * It also drives the player's own controls (no native controls: the same
 * look and keys everywhere, inline SVG icons): a timeline with elapsed and
 * total time and the covered segments the server reports in every answer,
 * seeking held to max_position_s when the project forbids skipping ahead,
 * volume and mute, full screen, speed within the project's allowed range,
 * and the "saved" / "not saved" state: "saved" only after an answer that
 * credited time, "not saved" as soon as a heartbeat is late (no answer within
 * REQUEST_TIMEOUT_MS, a failed request, the browser offline, or a tick overdue).
 *
 * Plain ES2017, no library, no build step: it has to run on an old school PC
 * and in WeChat's in-app browser. Configuration comes from data-* attributes
 * of #xs-player and translated strings from #xs-player-strings (JSON).
 */
(function () {
  'use strict';

  var RETRY_MS = 3000;          // spacing of retries after a failed heartbeat
  var REQUEST_TIMEOUT_MS = 4000;   // a heartbeat not answered by then is late: "not saved"
  var WATCH_MS = 1000;             // how often the late-heartbeat watchdog looks
  var STEP_S = 10;                 // arrows and the -10/+10 buttons
  var SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
  var VOLUME_KEY = 'xueshi.player.volume';
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
    noVideo: 'This video cannot be played here.',
    play: 'Play', pause: 'Pause', mute: 'Mute', unmute: 'Unmute',
    fullscreen: 'Full screen', exitFullscreen: 'Exit full screen', normalSpeed: 'Normal'
  };

  function $(root, sel) { return root.querySelector(sel); }

  var net = window.XueshiNet;   // xs-net.js, loaded before this script
  var readJSON = net.readJSON;
  var num = net.num;
  var csrfToken = net.csrfToken;
  var formatDuration = net.clockText;

  function requestJSON(method, url, body) {
    return net.requestJSON(method, url, body, REQUEST_TIMEOUT_MS);
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
    this.minRate = num(d.minRate, 0.5);
    this.maxRate = num(d.maxRate, 2);
    this.mediaState = d.mediaState || 'ready';
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
      switchContainer: $(root, '[data-xs="renditions"]'),
      frame: $(root, '[data-xs="frame"]'),
      bar: $(root, '[data-xs="bar"]'),
      waiting: $(root, '[data-xs="waiting"]'),
      timeline: $(root, '[data-xs="timeline"]'),
      covered: $(root, '[data-xs="covered"]'),
      locked: $(root, '[data-xs="locked"]'),
      played: $(root, '[data-xs="played"]'),
      thumb: $(root, '[data-xs="thumb"]'),
      elapsed: $(root, '[data-xs="elapsed"]'),
      total: $(root, '[data-xs="total"]'),
      mute: $(root, '[data-xs="mute"]'),
      volume: $(root, '[data-xs="volume"]'),
      speed: $(root, '[data-xs="speed"]'),
      fullscreen: $(root, '[data-xs="fullscreen"]'),
      saveState: $(root, '[data-xs="save-state"]')
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
      complete: d.complete === '1' || d.complete === 'true',
      segments: []
    };
    this.segmentsDrawn = '';
    this.lastAnswerAt = 0;        // Date.now() of the last 200 answer
    this.inflightSince = 0;       // Date.now() the heartbeat in flight was sent
    this.dragging = false;
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
    if (this.mediaState !== 'ready') {
      // Still transcoding (or no video yet): one clear message over the
      // player, no controls, no session; look again every half minute.
      this.showWaiting();
      return;
    }
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
    v.addEventListener('ratechange', function () {
      // Only the project's allowed speeds: whatever set another one is undone.
      var rate = Math.min(self.maxRate, Math.max(self.minRate, v.playbackRate));
      if (rate !== v.playbackRate) { v.playbackRate = rate; return; }
      self.renderSpeed();
      if (!v.paused) { self.enqueue('tick'); }
    });
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
    this.root.addEventListener('keydown', function (e) { self.onKey(e); });
    window.addEventListener('offline', function () { self.onLate(); });
    window.addEventListener('online', function () { if (self.failing) { self.flushSoon(0); } });
    setInterval(function () { self.watch(); }, WATCH_MS);

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
          switchContainer: this.ui.switchContainer,
          compactSwitch: true
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
    if (this.forbidSeekAhead && v.currentTime > this.seekLimit() + SEEK_TOLERANCE_S) {
      this.showNotice(this.t('seekLimited'));
      v.currentTime = this.seekLimit();  // fires another seeking event
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
    this.inflightSince = this.lastSentAt;
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
      if (data.lesson.segments) { this.lesson.segments = data.lesson.segments; }
      this.allowedMaxS = Math.max(this.allowedMaxS, num(data.lesson.max_position_s, 0));
    }
    this.lastAnswerAt = Date.now();
    this.showPresence(data.presence_check || null);
    this.render();
  };

  /* "Saved" only once an answer credited time in this session; nothing before. */
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
    var state = failing ? 'not-saved' : (this.session && this.sessionCreditedS > 0 ? 'saved' : '');
    if (this.ui.saveState) { this.ui.saveState.setAttribute('data-state', state); }
  };

  /* A heartbeat is late (offline, no answer in time, a tick overdue). */
  Player.prototype.onLate = function () {
    if (!this.session || this.blocked) { return; }
    if (this.video.paused && !this.inflight && !this.pending) { return; }  // nothing to save right now
    if (!this.failing) { this.setFailing(true); }
  };

  /* Once a second: a heartbeat in flight too long, or a tick that should have
   * left (timers sleep, a frozen tab) but did not, turns the state to "not saved". */
  Player.prototype.watch = function () {
    if (!this.session || this.blocked || this.failing) { return; }
    var now = Date.now();
    if (this.inflight && now - this.inflightSince > REQUEST_TIMEOUT_MS) { this.onLate(); return; }
    if (navigator.onLine === false) { this.onLate(); return; }
    var playing = !this.video.paused && !this.video.ended;
    var intervalMs = num(this.session.heartbeat_interval_s, 15) * 1000;
    if (playing && !this.inflight && this.lastSentAt && now - this.lastSentAt > intervalMs + REQUEST_TIMEOUT_MS) {
      this.onLate();
    }
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
        self.setStatus('');
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
    var v = this.video;
    if (ui.playButton) { ui.playButton.addEventListener('click', function () { self.toggle(); }); }
    if (ui.back) { ui.back.addEventListener('click', function () { self.step(-STEP_S); }); }
    if (ui.forward) { ui.forward.addEventListener('click', function () { self.step(STEP_S); }); }
    if (ui.blockedButton) { ui.blockedButton.addEventListener('click', function () { self.reopen(); }); }
    v.addEventListener('click', function () {
      self.toggle();
      if (ui.frame) { ui.frame.focus(); }
    });
    v.addEventListener('dblclick', function () { self.fullscreen(); });
    if (ui.mute) {
      ui.mute.addEventListener('click', function () {
        v.muted = !v.muted;
        if (!v.muted && v.volume === 0) { v.volume = 0.5; }
      });
    }
    if (ui.volume) {
      ui.volume.addEventListener('input', function () {
        v.volume = Math.max(0, Math.min(1, num(ui.volume.value, 1)));
        v.muted = v.volume === 0;
      });
    }
    var stored = null;
    try { stored = window.localStorage && localStorage.getItem(VOLUME_KEY); } catch (e) { stored = null; }
    if (stored !== null && isFinite(parseFloat(stored))) { v.volume = Math.max(0, Math.min(1, parseFloat(stored))); }
    v.addEventListener('volumechange', function () {
      try { localStorage.setItem(VOLUME_KEY, String(v.volume)); } catch (e) { /* private mode */ }
      self.renderVolume();
    });
    this.buildSpeeds();
    if (ui.fullscreen) { ui.fullscreen.addEventListener('click', function () { self.fullscreen(); }); }
    var onFullscreen = function () { self.renderFullscreen(); };
    document.addEventListener('fullscreenchange', onFullscreen);
    document.addEventListener('webkitfullscreenchange', onFullscreen);
    this.bindTimeline();

    var sync = function () {
      var playing = !v.paused && !v.ended;
      if (ui.playButton) {
        ui.playButton.classList.toggle('xs-is-playing', playing);
        ui.playButton.setAttribute('aria-label', playing ? self.t('pause') : self.t('play'));
      }
      self.root.classList.toggle('xs-playing', playing);
    };
    v.addEventListener('play', sync);
    v.addEventListener('pause', sync);
    v.addEventListener('ended', sync);
    var time = function () { if (!self.dragging) { self.renderTime(v.currentTime); } };
    v.addEventListener('timeupdate', time);
    v.addEventListener('durationchange', time);
    v.addEventListener('loadedmetadata', time);
    v.addEventListener('seeked', time);
    sync();
    this.renderVolume();
    this.renderFullscreen();
  };

  /* The speeds offered: the usual steps within the project's allowed range. */
  Player.prototype.buildSpeeds = function () {
    var self = this;
    var sel = this.ui.speed;
    if (!sel) { return; }
    var speeds = SPEEDS.filter(function (r) { return r >= self.minRate - 1e-9 && r <= self.maxRate + 1e-9; });
    if (speeds.indexOf(1) < 0) { speeds.push(1); speeds.sort(function (a, b) { return a - b; }); }
    speeds.forEach(function (r) {
      var opt = document.createElement('option');
      opt.value = String(r);
      opt.textContent = r === 1 ? self.t('normalSpeed') + ' 1×' : r + '×';
      sel.appendChild(opt);
    });
    sel.value = '1';
    if (speeds.length <= 1) { sel.parentNode.hidden = true; }
    sel.addEventListener('change', function () { self.video.playbackRate = num(sel.value, 1); });
  };

  Player.prototype.renderSpeed = function () {
    if (this.ui.speed) { this.ui.speed.value = String(this.video.playbackRate); }
  };

  Player.prototype.renderVolume = function () {
    var v = this.video;
    var ui = this.ui;
    var silent = v.muted || v.volume === 0;
    this.root.classList.toggle('xs-muted', silent);
    if (ui.mute) {
      ui.mute.setAttribute('aria-pressed', silent ? 'true' : 'false');
      ui.mute.setAttribute('aria-label', silent ? this.t('unmute') : this.t('mute'));
    }
    if (ui.volume) { ui.volume.value = String(v.muted ? 0 : v.volume); }
  };

  Player.prototype.isFullscreen = function () {
    return !!(document.fullscreenElement || document.webkitFullscreenElement);
  };

  Player.prototype.renderFullscreen = function () {
    var full = this.isFullscreen();
    this.root.classList.toggle('xs-full', full);
    if (this.ui.fullscreen) {
      this.ui.fullscreen.setAttribute('aria-label', full ? this.t('exitFullscreen') : this.t('fullscreen'));
    }
  };

  /* The timeline: a slider that seeks on click or drag (mouse, touch, pen). */
  Player.prototype.bindTimeline = function () {
    var self = this;
    var tl = this.ui.timeline;
    if (!tl) { return; }
    var at = function (e) {
      var box = tl.getBoundingClientRect();
      var x = e.clientX !== undefined ? e.clientX : (e.touches && e.touches[0] ? e.touches[0].clientX : box.left);
      return Math.max(0, Math.min(1, (x - box.left) / Math.max(1, box.width))) * self.duration();
    };
    var move = function (e) {
      if (!self.dragging) { return; }
      self.renderTime(self.limited(at(e)));
    };
    var up = function (e) {
      if (!self.dragging) { return; }
      self.dragging = false;
      self.seekTo(at(e));
    };
    if (window.PointerEvent) {
      tl.addEventListener('pointerdown', function (e) {
        if (e.button !== undefined && e.button !== 0) { return; }
        self.dragging = true;
        try { tl.setPointerCapture(e.pointerId); } catch (err) { /* old browser */ }
        self.renderTime(self.limited(at(e)));
        e.preventDefault();
      });
      tl.addEventListener('pointermove', move);
      tl.addEventListener('pointerup', up);
      tl.addEventListener('pointercancel', function () { self.dragging = false; });
    } else {
      tl.addEventListener('mousedown', function (e) { self.dragging = true; move(e); e.preventDefault(); });
      document.addEventListener('mousemove', move);
      document.addEventListener('mouseup', up);
      tl.addEventListener('touchstart', function (e) { self.dragging = true; move(e); }, { passive: true });
      tl.addEventListener('touchend', function (e) { up(e.changedTouches ? e.changedTouches[0] : e); });
    }
  };

  Player.prototype.duration = function () {
    var d = this.video.duration;
    if (isFinite(d) && d > 0) { return d; }
    return this.session ? num(this.session.duration_s, 0) : num(this.root.dataset.durationS, 0);
  };

  /* Furthest position one may seek to when skipping ahead is forbidden. */
  Player.prototype.seekLimit = function () {
    return Math.max(this.allowedMaxS, this.lastKnownS);
  };

  Player.prototype.limited = function (t) {
    if (this.forbidSeekAhead) { t = Math.min(t, this.seekLimit()); }
    return Math.max(0, Math.min(this.duration() - 0.1, t));
  };

  Player.prototype.seekTo = function (t) {
    var v = this.video;
    if (!isFinite(v.duration)) { return; }
    if (this.forbidSeekAhead && t > this.seekLimit() + SEEK_TOLERANCE_S) { this.showNotice(this.t('seekLimited')); }
    v.currentTime = this.limited(t);
    this.renderTime(v.currentTime);
  };

  Player.prototype.playSafely = function () {
    var p = this.video.play();
    if (p && typeof p.catch === 'function') { p.catch(function () {}); }
  };

  Player.prototype.toggle = function () {
    var v = this.video;
    if (this.mediaState !== 'ready') { return; }
    if (v.paused || v.ended) {
      if (this.blocked === 'superseded' || this.blocked === 'ended') { this.reopen(); return; }
      this.playSafely();
    } else {
      v.pause();
    }
  };

  Player.prototype.step = function (deltaS) {
    this.seekTo(this.video.currentTime + deltaS);
  };

  /* Keys work while the focus is in the player (click it first), never in a field. */
  Player.prototype.onKey = function (e) {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) { return; }
    var target = e.target;
    var tag = target && target.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (target && target.isContentEditable)) { return; }
    if (this.ui.presence && !this.ui.presence.hidden) { return; }  // keys go to the prompt's buttons
    if (this.ui.blocked && !this.ui.blocked.hidden) { return; }
    if (this.mediaState !== 'ready') { return; }
    var key = e.key;
    var v = this.video;
    var handled = true;
    if ((key === ' ' || key === 'Spacebar') && tag !== 'BUTTON' && tag !== 'A' && tag !== 'SUMMARY') {
      this.toggle();
    } else if (key === 'k' || key === 'K') {
      this.toggle();
    } else if (key === 'ArrowLeft' || key === 'Left' || key === 'j' || key === 'J') {
      this.step(-STEP_S);
    } else if (key === 'ArrowRight' || key === 'Right' || key === 'l' || key === 'L') {
      this.step(STEP_S);
    } else if (key === 'ArrowUp' || key === 'Up') {
      v.muted = false;
      v.volume = Math.min(1, Math.round((v.volume + 0.1) * 10) / 10);
    } else if (key === 'ArrowDown' || key === 'Down') {
      v.volume = Math.max(0, Math.round((v.volume - 0.1) * 10) / 10);
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
    var el = this.ui.frame || this.video;
    var done = null;
    try {
      if (this.isFullscreen()) {
        done = (document.exitFullscreen || document.webkitExitFullscreen).call(document);
      } else if (el.requestFullscreen) {
        done = el.requestFullscreen();
      } else if (el.webkitRequestFullscreen) {
        done = el.webkitRequestFullscreen();
      } else if (this.video.webkitEnterFullscreen) {
        this.video.webkitEnterFullscreen();  // iPhone: only the video element itself
      }
    } catch (e) { done = null; }
    if (done && typeof done.catch === 'function') { done.catch(function () { /* refused: stay in the page */ }); }
  };

  /* Still transcoding or no video: say so once, and reload when it is ready. */
  Player.prototype.showWaiting = function () {
    var self = this;
    if (this.ui.waiting) { this.ui.waiting.hidden = false; }
    if (this.ui.bar) { this.ui.bar.hidden = true; }
    if (this.mediaState !== 'processing' || !window.fetch) { return; }
    var url = this.apiBase + '/lessons/' + encodeURIComponent(this.lessonId) + '/media?project_id=' +
      encodeURIComponent(this.projectId);
    setInterval(function () {
      fetch(url, { credentials: 'same-origin', cache: 'no-store' }).then(function (rv) {
        return rv.ok ? rv.json() : null;
      }).then(function (media) {
        if (media && media.renditions && media.renditions.length) { window.location.reload(); }
      }).catch(function () { /* try again next time */ });
    }, 30000);
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
    this.renderSegments();
    if (!this.dragging) { this.renderTime(this.video.currentTime); }
  };

  /* The covered segments (from the server) drawn on the timeline. */
  Player.prototype.renderSegments = function () {
    var box = this.ui.covered;
    var duration = this.duration();
    if (!box || !(duration > 0)) { return; }
    var key = JSON.stringify(this.lesson.segments) + '/' + duration;
    if (key === this.segmentsDrawn) { return; }
    this.segmentsDrawn = key;
    while (box.firstChild) { box.removeChild(box.firstChild); }
    (this.lesson.segments || []).forEach(function (seg) {
      var a = Math.max(0, Math.min(1, num(seg[0], 0) / duration));
      var b = Math.max(a, Math.min(1, num(seg[1], 0) / duration));
      var el = document.createElement('div');
      el.className = 'xs-tl-seg';
      el.style.left = (a * 100).toFixed(3) + '%';
      el.style.width = ((b - a) * 100).toFixed(3) + '%';
      el.setAttribute('data-start', String(seg[0]));
      el.setAttribute('data-end', String(seg[1]));
      box.appendChild(el);
    });
  };

  Player.prototype.renderTime = function (position) {
    var ui = this.ui;
    var duration = this.duration();
    var t = Math.max(0, Math.min(duration || 0, position || 0));
    var f = duration > 0 ? t / duration : 0;
    if (ui.played) { ui.played.style.width = (f * 100).toFixed(3) + '%'; }
    if (ui.thumb) { ui.thumb.style.left = (f * 100).toFixed(3) + '%'; }
    if (ui.elapsed) { ui.elapsed.textContent = formatDuration(t); }
    if (ui.total) { ui.total.textContent = formatDuration(duration); }
    if (ui.timeline) {
      ui.timeline.setAttribute('aria-valuemax', String(Math.floor(duration)));
      ui.timeline.setAttribute('aria-valuenow', String(Math.floor(t)));
      ui.timeline.setAttribute('aria-valuetext', formatDuration(t) + ' / ' + formatDuration(duration));
    }
    if (ui.locked) {
      var limit = this.seekLimit();
      var lockedFrom = duration > 0 ? Math.min(1, limit / duration) : 1;
      ui.locked.hidden = !this.forbidSeekAhead || lockedFrom >= 1;
      ui.locked.style.left = (lockedFrom * 100).toFixed(3) + '%';
      ui.locked.setAttribute('data-from', String(Math.round(limit * 10) / 10));
    }
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
