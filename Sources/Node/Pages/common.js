// Helpers shared by Halqa's pages. Plain ES2017 (Chrome 70 and later): no optional
// chaining, no nullish coalescing. Text always goes in with textContent, never as HTML.
"use strict";
var Halqa = (function () {
  var RTL = { ur: true, ps: true };

  function $(id) { return document.getElementById(id); }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key] === undefined ? "" : String(values[key]); });
  }

  function t(lang, key, values) {
    var table = HALQA_TEXT[lang] || HALQA_TEXT.en;
    var text = table[key] !== undefined ? table[key] : HALQA_TEXT.en[key];
    return fill(text === undefined ? key : text, values || {});
  }

  // Sets the page's language and direction, and every element marked data-t.
  function applyLanguage(lang) {
    document.documentElement.lang = lang;
    document.documentElement.dir = RTL[lang] ? "rtl" : "ltr";
    var marked = document.querySelectorAll("[data-t]");
    for (var i = 0; i < marked.length; i++) marked[i].textContent = t(lang, marked[i].getAttribute("data-t"));
  }

  // The prompt in the chosen language, else the first it has; with its language tag.
  function pick(texts, lang) {
    if (texts[lang]) return { lang: lang, text: texts[lang] };
    var order = ["en", "ur", "ps"];
    for (var i = 0; i < order.length; i++) if (texts[order[i]]) return { lang: order[i], text: texts[order[i]] };
    return { lang: "en", text: "" };
  }

  function setText(element, text, lang) {
    element.textContent = text;
    if (lang) { element.lang = lang; element.dir = RTL[lang] ? "rtl" : "ltr"; }
  }

  // fetch with JSON in and out; resolves {status, body}, rejects only when the node is unreachable.
  function api(method, path, token, body) {
    var headers = { "Accept": "application/json" };
    if (token) headers["Authorization"] = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" })
      .then(function (response) {
        if (response.status === 204) return { status: 204, body: null };
        return response.json().then(
          function (json) { return { status: response.status, body: json }; },
          function () { return { status: response.status, body: null }; });
      });
  }

  // A live socket that reconnects by itself. onMessage gets each {type, data}; onState
  // gets "live", "down" as the connection comes and goes.
  function live(hello, onMessage, onState) {
    var socket = null, delay = 1000, stopped = false;
    function connect() {
      if (stopped) return;
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      try { socket = new WebSocket(scheme + location.host + "/api/live"); } catch (e) { retry(); return; }
      socket.onopen = function () { socket.send(JSON.stringify(hello())); };
      socket.onmessage = function (event) {
        delay = 1000;
        onState("live");
        try { onMessage(JSON.parse(event.data)); } catch (e) { /* a malformed message is skipped */ }
      };
      socket.onclose = function () { onState("down"); retry(); };
      socket.onerror = function () { /* onclose follows */ };
    }
    function retry() {
      if (stopped) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    }
    connect();
    return { stop: function () { stopped = true; if (socket) socket.close(); } };
  }

  // Draws a QR matrix {size, rows} on a canvas, with a quiet zone.
  function drawQR(canvas, qr) {
    var context = canvas.getContext("2d");
    var quiet = 4, cells = qr.size + 2 * quiet, scale = Math.floor(canvas.width / cells);
    context.fillStyle = "#fff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.fillStyle = "#000";
    for (var y = 0; y < qr.size; y++)
      for (var x = 0; x < qr.size; x++)
        if (qr.rows[y].charAt(x) === "1") context.fillRect((x + quiet) * scale, (y + quiet) * scale, scale, scale);
  }

  // Reads "#key=..." or "#code=..." from the address, then removes it from the address bar.
  function takeFromHash(name) {
    var match = new RegExp("[#&]" + name + "=([^&]+)").exec(location.hash);
    if (!match) return null;
    history.replaceState(null, "", location.pathname);
    return decodeURIComponent(match[1]);
  }

  return { $: $, t: t, applyLanguage: applyLanguage, pick: pick, setText: setText, api: api, live: live, drawQR: drawQR,
           takeFromHash: takeFromHash, RTL: RTL };
})();
