/*
 * The id of this browser for the tracking API (window.xsDeviceId()).
 *
 * A random id kept in localStorage (sessionStorage when localStorage is
 * blocked, e.g. some private modes; "" when neither works). The player and the
 * reader send it when they open a playback session, so the audit can say that
 * a reload or a second open on the same device "reopened" the lesson instead
 * of "another window or device took over". It changes nothing in crediting.
 */
(function () {
  'use strict';
  var KEY = 'xs-device-id';

  function newId() {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    var out = '';
    for (var i = 0; i < bytes.length; i++) { out += (bytes[i] + 256).toString(16).slice(1); }
    return out;
  }

  function kept(storage) {
    try {
      var id = storage.getItem(KEY);
      if (!id || !/^[0-9a-f]{32}$/.test(id)) { id = newId(); storage.setItem(KEY, id); }
      return id;
    } catch (e) { return ''; }
  }

  window.xsDeviceId = function () {
    return kept(window.localStorage) || kept(window.sessionStorage) || '';
  };
}());
