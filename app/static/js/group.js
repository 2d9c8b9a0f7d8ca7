/*
 * Xueshi group viewing (集中学习) on the projector.
 *
 * projector.js plays the lesson; this script reports what the projector's
 * <video> does to the tracking API exactly like the learner's player does
 * (TRACKING.md): a tick every heartbeat_interval_s while playing, an event
 * heartbeat at once on play, pause, seek (with from_position_s), ended,
 * hidden and shown, retries every few seconds after a failure while the panel
 * says time is not being counted. The server credits every checked-in
 * attendee for their presence. Presence checks are answered on the projector.
 *
 * It also polls the group session (GET /api/v1/group-sessions/<gid>) every
 * few seconds: the check-in code and its QR code (an SVG drawn by the server)
 * change every minute, and the list of who is present. The class manager can
 * tick the roster for a teacher without a phone, check someone out, and end
 * the group viewing. Plain ES2017, no library.
 */
(function () {
  'use strict';

  var POLL_MS = 5000;
  var RETRY_MS = 3000;

  var readJSON = window.XueshiNet.readJSON;  // xs-net.js, loaded before this file
  var csrfToken = window.XueshiNet.csrfToken;

  function api(method, url, body) {
    var init = {method: method, credentials: 'same-origin', cache: 'no-store',
                headers: {'X-CSRFToken': csrfToken(), 'Accept': 'application/json'}};
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (rv) {
      return rv.json().catch(function () { return {}; }).then(function (data) {
        return {status: rv.status, ok: rv.ok, data: data};
      });
    });
  }

  function Group(root) {
    this.root = root;
    this.strings = readJSON('xs-group-strings');
    this.video = root.querySelector('video');
    this.groupId = root.getAttribute('data-group-id');
    this.sessionId = root.getAttribute('data-session-id');
    this.intervalMs = Math.max(1, +root.getAttribute('data-interval-s') || 15) * 1000;
    this.durationS = +root.getAttribute('data-duration-s') || 0;
    this.seq = 0;
    this.lastPosition = 0;
    this.seekFrom = null;
    this.pending = null;    // an event waiting to be sent (kept through retries)
    this.sending = false;
    this.failing = false;
    this.stopped = false;
    this.tickTimer = null;
    this.code = null;
    this.ui = {};
    var names = ['qr', 'code', 'status', 'count', 'present', 'presence', 'presence-prompt', 'presence-options', 'end'];
    for (var i = 0; i < names.length; i++) {
      this.ui[names[i]] = root.querySelector('[data-gp="' + names[i] + '"]');
    }
  }

  Group.prototype.url = function (tail) { return '/api/v1/group-sessions/' + encodeURIComponent(this.groupId) + (tail || ''); };
  Group.prototype.hbUrl = function (tail) { return '/api/v1/playback/sessions/' + encodeURIComponent(this.sessionId) + tail; };

  Group.prototype.position = function () {
    var p = this.video.currentTime || 0;
    if (this.durationS) { p = Math.min(p, this.durationS); }
    return Math.max(0, p);
  };

  Group.prototype.state = function (event) {
    var v = this.video;
    var body = {
      seq: ++this.seq,
      position_s: this.position(),
      playing: !v.paused && !v.ended,
      visible: document.visibilityState !== 'hidden',
      rate: Math.max(0.0625, Math.min(16, v.playbackRate || 1)),
      event: event
    };
    if (event === 'seek') {
      body.from_position_s = Math.max(0, Math.min(this.seekFrom === null ? body.position_s : this.seekFrom,
                                                  this.durationS || Infinity));
    }
    return body;
  };

  Group.prototype.send = function (event) {
    var self = this;
    if (this.stopped || !this.sessionId) { return Promise.resolve(); }
    // A newer event replaces one not yet sent; a seek keeps its from-position.
    if (!this.pending || event !== 'tick') { this.pending = event; }
    if (this.sending) { return Promise.resolve(); }
    this.sending = true;
    var ev = this.pending;
    this.pending = null;
    var body = this.state(ev);
    if (ev === 'seek') { this.seekFrom = null; }
    return api('POST', this.hbUrl('/heartbeats'), body).then(function (res) {
      self.sending = false;
      if (res.status === 409 || res.status === 410) {
        self.stop(res.status === 410 ? self.strings.ended : self.strings.superseded);
        return;
      }
      if (!res.ok) { throw new Error(String(res.status)); }
      self.setFailing(false);
      if (res.data && res.data.presence_check) { self.showPresence(res.data.presence_check); }
      if (self.pending) { self.send(self.pending); }
    }).catch(function () {
      self.sending = false;
      self.setFailing(true);
      if (!self.pending) { self.pending = ev === 'seek' ? 'tick' : ev; }
      setTimeout(function () { if (self.pending) { self.send(self.pending); } }, RETRY_MS);
    });
  };

  Group.prototype.setFailing = function (failing) {
    this.failing = failing;
    this.ui.status.textContent = failing ? this.strings.notSaved : this.strings.saved;
    this.ui.status.setAttribute('data-state', failing ? 'failing' : 'ok');
  };

  Group.prototype.stop = function (message) {
    this.stopped = true;
    if (this.tickTimer) { clearInterval(this.tickTimer); }
    this.ui.status.textContent = message || '';
    this.ui.status.setAttribute('data-state', 'failing');
  };

  Group.prototype.schedule = function () {
    var self = this;
    if (this.tickTimer) { clearInterval(this.tickTimer); this.tickTimer = null; }
    if (!this.video.paused && !this.video.ended) {
      this.tickTimer = setInterval(function () { self.send('tick'); }, this.intervalMs);
    }
  };

  Group.prototype.bind = function () {
    var self = this;
    var v = this.video;
    v.addEventListener('play', function () { self.send('play'); self.schedule(); });
    v.addEventListener('pause', function () { if (!v.ended) { self.send('pause'); } self.schedule(); });
    v.addEventListener('ended', function () { self.send('ended'); self.schedule(); });
    v.addEventListener('ratechange', function () { self.send('tick'); });
    v.addEventListener('timeupdate', function () { if (!v.seeking) { self.lastPosition = v.currentTime; } });
    v.addEventListener('seeking', function () { if (self.seekFrom === null) { self.seekFrom = self.lastPosition; } });
    v.addEventListener('seeked', function () { self.send('seek'); self.lastPosition = v.currentTime; });
    document.addEventListener('visibilitychange', function () {
      self.send(document.visibilityState === 'hidden' ? 'hidden' : 'shown');
    });
    window.addEventListener('pagehide', function () {
      if (navigator.sendBeacon && self.sessionId && !self.stopped) {
        var body = self.state(v.paused ? 'pause' : 'tick');
        try {
          navigator.sendBeacon(self.hbUrl('/heartbeats'), new Blob([JSON.stringify(body)], {type: 'application/json'}));
        } catch (e) { /* the next load opens a fresh state */ }
      }
    });
    this.root.addEventListener('click', function (e) {
      var tick = e.target.closest('[data-gp-tick]');
      if (tick) {
        tick.disabled = true;
        api('POST', self.url('/attendees'), {user_id: +tick.getAttribute('data-gp-tick')}).then(function () {
          tick.disabled = false;
          self.poll();
        });
      }
      var out = e.target.closest('[data-gp-out]');
      if (out) {
        out.disabled = true;
        api('DELETE', self.url('/attendees/' + encodeURIComponent(out.getAttribute('data-gp-out')))).then(function () {
          self.poll();
        });
      }
    });
    this.ui.end.addEventListener('click', function () {
      if (!window.confirm(self.strings.confirmEnd)) { return; }
      v.pause();
      var finish = function () {
        api('POST', self.url('/end'), {}).then(function () {
          self.stopped = true;
          window.location.href = self.root.getAttribute('data-attendance-url');
        });
      };
      // the last stretch played is reported before the end
      setTimeout(function () { (self.sending ? Promise.resolve() : self.send('pause')).then(finish, finish); }, 50);
    });
  };

  Group.prototype.showPresence = function (check) {
    var self = this;
    var box = this.ui.presence;
    if (!box.hidden && box.getAttribute('data-check-id') === check.id) { return; }
    box.setAttribute('data-check-id', check.id);
    this.ui['presence-prompt'].textContent = check.prompt;
    var options = this.ui['presence-options'];
    options.textContent = '';
    (check.options || []).forEach(function (option) {
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = String(option);
      b.addEventListener('click', function () {
        api('POST', self.hbUrl('/presence'), {check_id: check.id, answer: String(option)}).then(function (res) {
          if (res.ok || (res.data && res.data.error && res.data.error.code === 'stale_check')) { box.hidden = true; }
        });
      });
      options.appendChild(b);
    });
    box.hidden = false;
  };

  Group.prototype.render = function (data) {
    var self = this;
    if (data.status !== 'open') { this.stop(this.strings.ended); }
    if (data.checkin && data.checkin.code !== this.code) {
      this.code = data.checkin.code;
      this.ui.code.textContent = this.code;
      this.ui.qr.src = this.root.getAttribute('data-qr-url') + '?c=' + encodeURIComponent(this.code);
    }
    if (data.session_id && !this.sessionId) { this.sessionId = String(data.session_id); }
    var present = (data.attendees || []).filter(function (a) { return !a.checked_out_at; });
    var inIds = {};
    this.ui.count.textContent = String(present.length);
    var list = this.ui.present;
    list.textContent = '';
    present.forEach(function (a) {
      inIds[a.user_id] = true;
      var li = document.createElement('li');
      li.setAttribute('data-testid', 'attendee');
      li.setAttribute('data-user-id', String(a.user_id));
      var name = document.createElement('span');
      name.textContent = a.display_name + (a.method === 'manager' ? ' (' + self.strings.manager + ')' : '');
      var out = document.createElement('button');
      out.type = 'button';
      out.className = 'xs-gp-btn';
      out.setAttribute('data-gp-out', String(a.user_id));
      out.textContent = self.strings.checkOut;
      li.appendChild(name);
      li.appendChild(out);
      list.appendChild(li);
    });
    var ticks = this.root.querySelectorAll('[data-gp-tick]');
    Array.prototype.forEach.call(ticks, function (b) {
      b.hidden = !!inIds[b.getAttribute('data-gp-tick')];
    });
  };

  Group.prototype.poll = function () {
    var self = this;
    return api('GET', this.url()).then(function (res) {
      if (res.ok) { self.render(res.data); }
    }).catch(function () { /* next poll */ });
  };

  Group.prototype.start = function () {
    var self = this;
    this.bind();
    this.setFailing(false);
    this.poll();
    setInterval(function () { if (!self.stopped) { self.poll(); } }, POLL_MS);
  };

  var root = document.getElementById('xs-projector');
  if (root && root.getAttribute('data-group-id')) {
    var group = new Group(root);
    window.XueshiGroup = group;
    group.start();
  }
})();
