/*
 * Xueshi document reader: shows a PDF with pdf.js and reports reading to the tracking API (TRACKING.md R14).
 *
 * The reading clock (position_s of the heartbeats) advances with wall time
 * only while the page is visible and the reader acted (turned or scrolled a
 * page, pressed a key, touched, clicked) within the last 60 s; otherwise it
 * stops. It sends heartbeats like the player: "play" when the clock starts,
 * "pause" when it stops, "hidden"/"shown", a "tick" every heartbeat_interval_s
 * while it runs and soon after each page turn, each with `page`; rate is 1.
 * When the clock reaches the credited duration before the lesson is complete,
 * it starts again from 0 (a "seek"), so pages read past a gap still cover it.
 * A failed heartbeat is retried every few seconds; meanwhile an alert says
 * progress is not being saved.
 *
 * Plain ES2017 with the legacy (UMD) build of pdf.js: it runs on old PCs and
 * in WeChat's browser. Configuration: data-* of #xs-reader; translated
 * strings: #xs-reader-strings (JSON).
 */
(function () {
  'use strict';

  var IDLE_MS = 60000;          // R14: the clock stops this long after the last action
  var RETRY_MS = 3000;
  var REQUEST_TIMEOUT_MS = 8000;
  var TURN_REPORT_MS = 800;     // a page turn is reported this soon (rapid turns become one report)
  var CLOCK_STEP_MS = 1000;
  var MAX_STEP_S = 5;           // a stalled timer (a sleeping laptop) never adds more than this at once
  var ZOOM_STEP = 1.25;

  function $(root, sel) { return root.querySelector(sel); }

  var net = window.XueshiNet;   // xs-net.js, loaded before this script
  var num = net.num;
  var csrfToken = net.csrfToken;
  var clockText = net.clockText;

  function send(method, url, body) {
    return net.requestJSON(method, url, body, REQUEST_TIMEOUT_MS);
  }

  function Reader(root) {
    var d = root.dataset;
    this.root = root;
    this.api = d.apiBase || '/api/v1';
    this.projectId = parseInt(d.projectId, 10);
    this.lessonId = parseInt(d.lessonId, 10);
    this.durationS = num(d.durationS, 0);
    this.pageCount = parseInt(d.pageCount, 10) || 1;
    this.strings = net.readJSON('xs-reader-strings');  // English fallbacks below
    this.lesson = { credited_s: num(d.creditedS, 0), covered_s: num(d.coveredS, 0), complete: d.complete === '1' };
    this.ui = {};
    var names = ['prev', 'next', 'page', 'zoom-out', 'zoom-in', 'fit', 'view', 'canvas', 'presence', 'presence-prompt',
                 'presence-options', 'presence-error', 'blocked', 'blocked-text', 'blocked-button', 'alert', 'credited',
                 'clock', 'coverage', 'complete', 'status'];
    for (var i = 0; i < names.length; i++) { this.ui[names[i]] = $(root, '[data-xr="' + names[i] + '"]'); }

    this.pdf = null;
    this.page = 1;
    this.zoom = 1;             // times the fit-width scale
    this.renderTask = null;
    this.session = null;
    this.seq = 0;
    this.positionS = 0;        // the reading clock
    this.running = false;
    this.visible = !document.hidden;
    this.lastActionAt = Date.now();
    this.lastStepAt = Date.now();
    this.pending = null;       // the event waiting to be sent
    this.inflight = false;
    this.failing = false;
    this.blocked = null;
    this.tickTimer = null;
    this.turnTimer = null;
  }

  Reader.prototype.t = function (key, fallback) { return this.strings[key] || fallback || key; };

  Reader.prototype.start = function () {
    var self = this;
    var d = this.root.dataset;
    var lib = window.pdfjsLib;
    this.setStatus(this.t('starting'));
    this.bind();
    if (!lib) { this.setStatus(this.t('loadFailed')); return; }
    lib.GlobalWorkerOptions.workerSrc = d.workerSrc;
    lib.getDocument({
      url: d.pdfUrl, cMapUrl: d.cmapUrl, cMapPacked: true, standardFontDataUrl: d.fontUrl,
      isEvalSupported: false, disableAutoFetch: true
    }).promise.then(function (pdf) {
      self.pdf = pdf;
      self.pageCount = pdf.numPages;
      return self.openSession();
    }).then(function () {
      return self.show(self.page);
    }).catch(function () {
      self.setStatus(self.t('loadFailed'));
    });
    setInterval(function () { self.step(); }, CLOCK_STEP_MS);
  };

  /* ------------------------------------------------------------ pages */

  Reader.prototype.show = function (number) {
    var self = this;
    if (!this.pdf) { return Promise.resolve(); }
    number = Math.max(1, Math.min(this.pageCount, number));
    var turned = number !== this.page;
    this.page = number;
    this.ui.page.textContent = String(number);
    this.ui.prev.disabled = number <= 1;
    this.ui.next.disabled = number >= this.pageCount;
    if (turned) { this.reportTurn(); }
    return this.pdf.getPage(number).then(function (pdfPage) {
      if (self.page !== number) { return; }  // turned again meanwhile
      var base = pdfPage.getViewport({ scale: 1 });
      var room = Math.max(200, self.ui.view.clientWidth - 16);
      var viewport = pdfPage.getViewport({ scale: (room / base.width) * self.zoom });
      var ratio = window.devicePixelRatio || 1;
      var canvas = self.ui.canvas;
      canvas.width = Math.floor(viewport.width * ratio);
      canvas.height = Math.floor(viewport.height * ratio);
      canvas.style.width = Math.floor(viewport.width) + 'px';
      canvas.style.height = Math.floor(viewport.height) + 'px';
      if (self.renderTask) { self.renderTask.cancel(); }
      self.renderTask = pdfPage.render({
        canvasContext: canvas.getContext('2d'), viewport: viewport,
        transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null
      });
      return self.renderTask.promise.then(function () {
        self.renderTask = null;
        self.root.setAttribute('data-rendered-page', String(number));
      }, function () { /* cancelled by a newer render */ });
    });
  };

  Reader.prototype.turn = function (delta) {
    this.act();
    this.show(this.page + delta);
    this.ui.view.scrollTop = 0;
  };

  Reader.prototype.setZoom = function (zoom) {
    this.act();
    this.zoom = Math.max(0.5, Math.min(4, zoom));
    this.show(this.page);
  };

  Reader.prototype.bind = function () {
    var self = this;
    var ui = this.ui;
    ui.prev.addEventListener('click', function () { self.turn(-1); });
    ui.next.addEventListener('click', function () { self.turn(1); });
    ui['zoom-in'].addEventListener('click', function () { self.setZoom(self.zoom * ZOOM_STEP); });
    ui['zoom-out'].addEventListener('click', function () { self.setZoom(self.zoom / ZOOM_STEP); });
    ui.fit.addEventListener('click', function () { self.setZoom(1); });
    ui['blocked-button'].addEventListener('click', function () { self.reopen(); });
    var acted = function () { self.act(); };
    ['touchstart', 'mousedown', 'wheel'].forEach(function (name) {
      document.addEventListener(name, acted, { passive: true });
    });
    ui.view.addEventListener('scroll', acted, { passive: true });
    window.addEventListener('scroll', acted, { passive: true });
    document.addEventListener('keydown', function (e) {
      self.act();
      var tag = (e.target && e.target.tagName) || '';
      if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag) || e.ctrlKey || e.metaKey || e.altKey) { return; }
      if (e.key === 'ArrowRight' || e.key === 'PageDown') { e.preventDefault(); self.turn(1); }
      if (e.key === 'ArrowLeft' || e.key === 'PageUp') { e.preventDefault(); self.turn(-1); }
      if (e.key === '+' || e.key === '=') { self.setZoom(self.zoom * ZOOM_STEP); }
      if (e.key === '-') { self.setZoom(self.zoom / ZOOM_STEP); }
    });
    var startX = null;
    var startY = null;
    ui.view.addEventListener('touchstart', function (e) {
      startX = e.touches[0].clientX; startY = e.touches[0].clientY;
    }, { passive: true });
    ui.view.addEventListener('touchend', function (e) {
      if (startX === null || self.zoom > 1) { return; }
      var dx = e.changedTouches[0].clientX - startX;
      var dy = e.changedTouches[0].clientY - startY;
      startX = null;
      if (Math.abs(dx) > 60 && Math.abs(dy) < 40) { self.turn(dx < 0 ? 1 : -1); }
    }, { passive: true });
    var resized = null;
    window.addEventListener('resize', function () {
      clearTimeout(resized);
      resized = setTimeout(function () { self.show(self.page); }, 200);
    });
    document.addEventListener('visibilitychange', function () {
      self.visible = !document.hidden;
      if (self.visible) { self.lastActionAt = Date.now(); }  // coming back to the tab is an action
      self.step(self.visible ? 'shown' : 'hidden');
    });
    window.addEventListener('pagehide', function () { self.beacon(); });
  };

  /* ------------------------------------------------------------ the reading clock */

  Reader.prototype.act = function () {
    this.lastActionAt = Date.now();
    if (!this.running) { this.step(); }
  };

  Reader.prototype.canRun = function (now) {
    return !!(this.session && !this.blocked && this.pdf && this.visible && now - this.lastActionAt < IDLE_MS);
  };

  /* Advance the clock by the wall time that passed while it ran; start or stop it; report a change at once. */
  Reader.prototype.step = function (visibilityEvent) {
    var now = Date.now();
    if (this.running) {
      var stopAt = Math.min(now, this.lastActionAt + IDLE_MS);
      this.positionS += Math.min(MAX_STEP_S, Math.max(0, stopAt - this.lastStepAt) / 1000);
    }
    this.lastStepAt = now;
    if (this.positionS >= this.durationS && this.running) {
      this.positionS = this.durationS;
      if (!this.lesson.complete) {
        // Read on from the start: what earlier gaps left uncovered gets covered.
        this.queue({ event: 'seek', from: this.durationS });
        this.positionS = 0;
      }
    }
    var run = this.canRun(now) && (this.positionS < this.durationS || !this.lesson.complete);
    if (visibilityEvent) {
      this.running = run;
      this.queue({ event: visibilityEvent });
    } else if (run !== this.running) {
      this.running = run;
      this.queue({ event: run ? 'play' : 'pause' });
      if (!run && this.session && !this.blocked) { this.setStatus(this.t('idle')); }
    }
    this.render();
  };

  Reader.prototype.render = function () {
    var ui = this.ui;
    ui.clock.textContent = clockText(this.positionS);
    ui.credited.textContent = clockText(this.lesson.credited_s);
    ui.credited.setAttribute('data-seconds', String(Math.floor(this.lesson.credited_s)));
    var ratio = this.durationS ? Math.min(1, this.lesson.covered_s / this.durationS) : 0;
    ui.coverage.textContent = Math.floor(ratio * 100) + '%';
    ui.complete.hidden = !this.lesson.complete;
    this.root.setAttribute('data-running', this.running ? '1' : '0');
  };

  Reader.prototype.setStatus = function (text) {
    if (this.ui.status) { this.ui.status.textContent = text || ''; }
  };

  /* ------------------------------------------------------------ heartbeats */

  Reader.prototype.state = function (event) {
    return {
      seq: ++this.seq,
      position_s: Math.round(Math.min(this.positionS, this.durationS) * 1000) / 1000,
      playing: this.running,
      visible: this.visible,
      rate: 1,
      event: event,
      page: this.page
    };
  };

  /* Send `item` soon; an event outranks a tick, a seek keeps where it jumped from. */
  Reader.prototype.queue = function (item) {
    if (!this.session || this.blocked) { return; }
    if (!this.pending || this.pending.event === 'tick' || item.event === 'seek') { this.pending = item; }
    this.flush();
  };

  Reader.prototype.reportTurn = function () {
    var self = this;
    clearTimeout(this.turnTimer);
    this.turnTimer = setTimeout(function () { self.queue({ event: 'tick' }); }, TURN_REPORT_MS);
  };

  /* The next tick while the clock runs; while failing, the retry of what is pending. */
  Reader.prototype.schedule = function () {
    var self = this;
    clearTimeout(this.tickTimer);
    if (!this.session || this.blocked) { return; }
    if (this.failing) {
      this.tickTimer = setTimeout(function () { self.queue(self.pending || { event: 'tick' }); }, RETRY_MS);
    } else if (this.running) {
      var wait = num(this.session.heartbeat_interval_s, 15) * 1000;
      this.tickTimer = setTimeout(function () { self.queue({ event: 'tick' }); }, wait);
    }
  };

  Reader.prototype.url = function (what) {
    return this.api + '/playback/sessions/' + encodeURIComponent(this.session.session_id) + '/' + what;
  };

  Reader.prototype.flush = function () {
    var self = this;
    if (this.inflight || !this.pending || !this.session || this.blocked) { return; }
    var item = this.pending;
    this.pending = null;
    this.inflight = true;
    this.step();  // the clock as of now (an event it raises waits for this request)
    var body = this.state(item.event);
    if (item.event === 'seek') { body.from_position_s = item.from; }
    var session = this.session;
    send('POST', this.url('heartbeats'), body).then(function (res) {
      self.inflight = false;
      if (session !== self.session) { return; }
      self.answer(item, res);
      if (self.pending && !self.failing) { self.flush(); } else { self.schedule(); }
    });
  };

  Reader.prototype.answer = function (item, res) {
    if (res.status === 200 && res.data) {
      this.setFailing(false);
      this.apply(res.data);
      if (res.data.credited_s_session > 0) { this.setStatus(this.running ? this.t('saved') : this.t('idle')); }
      return;
    }
    if (res.status === 409) { this.block('superseded'); return; }
    if (res.status === 410) { this.block('ended'); return; }
    if (res.status >= 400 && res.status < 500 && res.status !== 429) {
      this.block('forbidden', res.data && res.data.error && res.data.error.message);
      return;
    }
    if (!this.pending) { this.pending = item.event === 'seek' ? { event: 'tick' } : item; }  // retried, next seq
    this.setFailing(true);
  };

  Reader.prototype.apply = function (data) {
    if (data.lesson) {
      this.lesson.credited_s = num(data.lesson.credited_s, this.lesson.credited_s);
      this.lesson.covered_s = num(data.lesson.covered_s, this.lesson.covered_s);
      this.lesson.complete = !!data.lesson.complete || this.lesson.complete;
    }
    this.showPresence(data.presence_check || null);
    this.render();
  };

  Reader.prototype.setFailing = function (failing) {
    this.failing = failing;
    this.ui.alert.textContent = failing ? this.t('notSaved') : '';
    this.ui.alert.hidden = !failing;
  };

  Reader.prototype.beacon = function () {
    if (!this.session || this.blocked) { return; }
    this.running = false;
    var body = this.state('pause');
    body.visible = false;
    var url = this.url('heartbeats') + '?beacon=1&csrf_token=' + encodeURIComponent(csrfToken());
    if (navigator.sendBeacon) {
      try { navigator.sendBeacon(url, new Blob([JSON.stringify(body)], { type: 'text/plain;charset=UTF-8' })); } catch (e) { /* unloading */ }
    }
  };

  /* ------------------------------------------------------------ the session */

  Reader.prototype.openSession = function () {
    var self = this;
    var deviceId = window.xsDeviceId ? window.xsDeviceId() : '';
    return send('POST', this.api + '/playback/sessions', {
      lesson_id: this.lessonId, project_id: this.projectId, device_id: deviceId
    }).then(function (res) {
      if (res.status === 201 && res.data) {
        self.session = res.data;
        self.seq = 0;
        self.blocked = null;
        self.ui.blocked.hidden = true;
        self.durationS = num(res.data.duration_s, self.durationS);
        self.positionS = num(res.data.resume_position_s, 0);
        if (res.data.page) { self.page = Math.min(self.pageCount, res.data.page); }
        self.lastActionAt = Date.now();
        self.running = false;
        self.apply(res.data);
        self.step();
        return;
      }
      if (res.status === 0 || res.status >= 500 || res.status === 429) {
        self.setFailing(true);
        return new Promise(function (resolve) { setTimeout(resolve, RETRY_MS); }).then(function () {
          return self.openSession();
        });
      }
      self.block('forbidden', res.data && res.data.error && res.data.error.message);
    });
  };

  Reader.prototype.block = function (reason, message) {
    this.blocked = reason;
    this.pending = null;
    this.running = false;
    clearTimeout(this.tickTimer);
    this.setFailing(false);
    var text = { superseded: this.t('superseded'), ended: this.t('ended') }[reason] || message || this.t('forbidden');
    this.ui['blocked-text'].textContent = text;
    this.ui['blocked-button'].hidden = !(reason === 'superseded' || reason === 'ended');
    this.ui.blocked.hidden = false;
    this.setStatus(text);
    this.render();
  };

  Reader.prototype.reopen = function () {
    var self = this;
    this.session = null;
    this.blocked = null;
    this.ui.blocked.hidden = true;
    this.openSession().then(function () { self.show(self.page); });
  };

  /* ------------------------------------------------------------ presence checks (R8) */

  Reader.prototype.showPresence = function (check) {
    var self = this;
    var ui = this.ui;
    if (!check) { ui.presence.hidden = true; this.check = null; return; }
    if (this.check && this.check.id === check.id) { return; }
    this.check = check;
    ui['presence-prompt'].textContent = check.prompt || '';
    ui['presence-error'].textContent = '';
    var box = ui['presence-options'];
    while (box.firstChild) { box.removeChild(box.firstChild); }
    (check.options || []).forEach(function (option) {
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'btn btn-light btn-lg';
      button.textContent = String(option);
      button.addEventListener('click', function () { self.answerPresence(check, option); });
      box.appendChild(button);
    });
    ui.presence.hidden = false;
  };

  Reader.prototype.answerPresence = function (check, option) {
    var self = this;
    this.act();
    send('POST', this.url('presence'), { check_id: check.id, answer: String(option) }).then(function (res) {
      if (res.status === 200 && res.data) {
        self.check = null;
        self.ui.presence.hidden = true;
        self.apply({ lesson: res.data.lesson });
      } else {
        self.ui['presence-error'].textContent = self.t('presenceWrong');
      }
    });
  };

  var root = document.getElementById('xs-reader');
  if (root) { new Reader(root).start(); }
}());
