// Helpers shared by Halqa's pages. Plain ES2017 (Chrome 70 and later): no optional
// chaining, no nullish coalescing. Text always goes in with textContent, never as HTML.
"use strict";
var Halqa = (function () {
  var RTL = { ur: true, ps: true };

  function $(id) { return document.getElementById(id); }

  // Digits as each language's readers expect. In Khyber Pakhtunkhwa that is Latin 0–9 in
  // Urdu and in Pashto alike: phones, prices and bus numbers there show them, schooling is
  // in Urdu and English, and a man with little schooling may read only those (a native
  // reader's advice). Eastern Arabic digits (۰–۹, in their Persian shapes) are what Afghan
  // Pashto prints: for a group of Afghan refugees, set DIGITS.ps = "۰۱۲۳۴۵۶۷۸۹".
  var DIGITS = {};

  function digits(lang, text) {
    var set = DIGITS[lang];
    return set ? String(text).replace(/[0-9]/g, function (d) { return set.charAt(+d); }) : String(text);
  }

  // Fills {key} with values; a number is written in the language's digits (a code or a key,
  // passed as a string, is left as it is typed).
  function fill(template, values, lang) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      var value = values[key];
      if (value === undefined) return "";
      return typeof value === "number" ? digits(lang, value) : String(value);
    });
  }

  function t(lang, key, values) {
    var table = HALQA_TEXT[lang] || HALQA_TEXT.en;
    // One of a thing has its own words ("1 person", not "1 people").
    if (values && values.n === 1 && table[key + ".one"] !== undefined) key = key + ".one";
    var text = table[key] !== undefined ? table[key] : HALQA_TEXT.en[key];
    return fill(text === undefined ? key : text, values || {}, lang);
  }

  // Sets the page's language and direction, every element marked data-t, and which of the
  // language buttons (data-lang) is pressed.
  function applyLanguage(lang) {
    document.documentElement.lang = lang;
    document.documentElement.dir = RTL[lang] ? "rtl" : "ltr";
    var marked = document.querySelectorAll("[data-t]");
    for (var i = 0; i < marked.length; i++) marked[i].textContent = t(lang, marked[i].getAttribute("data-t"));
    var buttons = document.querySelectorAll("[data-lang]");
    for (var j = 0; j < buttons.length; j++) buttons[j].setAttribute("aria-pressed", buttons[j].getAttribute("data-lang") === lang);
  }

  // Where a text missing in a language is looked for next: a Pashto reader reads Urdu
  // before English, an Urdu reader Pashto before English.
  var FALLBACK = { ps: ["ps", "ur", "en"], ur: ["ur", "ps", "en"], en: ["en", "ur", "ps"] };

  // The room's language, as the node set it on the page (`halqa host --language`).
  function roomLanguage() {
    var room = document.documentElement.getAttribute("data-room");
    return HALQA_TEXT[room] ? room : "en";
  }

  // The language a page starts in: the one its person chose on this page before; else the
  // phone's own, if it is set to Urdu or Pashto (a deliberate choice; most phones here say
  // English because that is how they came); else the room's.
  function startingLanguage(chosen) {
    if (chosen && HALQA_TEXT[chosen]) return chosen;
    var own = (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""]);
    for (var i = 0; i < own.length; i++) {
      var primary = String(own[i]).toLowerCase().split("-")[0];
      if (primary === "ur" || primary === "ps") return primary;
    }
    return roomLanguage();
  }

  // The session's title for a reader of `lang`: the deck's, in the nearest language it has;
  // else the one the facilitator typed, as typed.
  function title(session, lang) {
    var titles = session.titles || {};
    return Object.keys(titles).length ? pick(titles, lang) : { lang: null, text: session.title };
  }

  // The text in the chosen language, else in the next its readers read; with its language tag.
  function pick(texts, lang) {
    if (texts[lang]) return { lang: lang, text: texts[lang] };
    var order = FALLBACK[lang] || FALLBACK.en;
    for (var i = 0; i < order.length; i++) if (texts[order[i]]) return { lang: order[i], text: texts[order[i]] };
    return { lang: "en", text: "" };
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function setText(element, text, lang) {
    element.textContent = text;
    if (lang) { element.lang = lang; element.dir = RTL[lang] ? "rtl" : "ltr"; }
  }

  // The laptop this page talks to: "" for the one that served it; another laptop of the same
  // session (its origin, "http://host:port") once a participant's page moved there without
  // leaving (docs/replication.md, "Failure modes").
  var node = "";
  function setNode(origin) { node = origin || ""; }
  function home() { return location.protocol + "//" + location.host; }
  function nodeOrigin() { return node || home(); }

  // fetch with a deadline (ms; 30 s if not given, for the console's slow actions): a laptop
  // that vanished (its battery, its lid, its Wi-Fi) answers nothing and resets nothing, so no
  // request waits for ever. Rejects as an unreachable node.
  function within(path, options, ms) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = null;
    if (controller) {
      options.signal = controller.signal;
      timer = setTimeout(function () { controller.abort(); }, ms || 30000);
    }
    return fetch(node + path, options).then(function (response) {
      clearTimeout(timer);
      return response;
    }, function (error) { clearTimeout(timer); throw error; });
  }

  // "?key=value&…" for the values given (none empty, undefined or null), or "".
  function query(values) {
    var parts = [];
    Object.keys(values).forEach(function (key) {
      if (values[key] !== undefined && values[key] !== null && values[key] !== "") {
        parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(values[key]));
      }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  // fetch with JSON in and out; resolves {status, body}, rejects only when the node is
  // unreachable or silent past the deadline (ms, as for `within`).
  function api(method, path, token, body, ms) {
    var headers = { "Accept": "application/json" };
    if (token) headers["Authorization"] = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return within(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" }, ms)
      .then(function (response) {
        if (response.status === 204) return { status: 204, body: null };
        return response.json().then(
          function (json) { return { status: response.status, body: json }; },
          function () { return { status: response.status, body: null }; });
      });
  }

  // How long a live socket may stay silent: the node beats every 2 s, so 6 s of nothing
  // means it is gone (a laptop that vanished closes nothing). Laptops notice each other
  // sooner (3.5 s), so the one a page moves to already takes reflections.
  var SILENCE = 6000;

  // A live socket that reconnects by itself. onMessage gets each {type, data} (not the
  // node's beats); onState gets "live", "down" as the connection comes and goes, and
  // "silent" when the node stopped beating.
  function live(hello, onMessage, onState) {
    var socket = null, delay = 1000, stopped = false, watchdog = null;
    function quiet() {
      clearTimeout(watchdog);
      watchdog = setTimeout(function () {
        if (stopped || !socket) return;
        var dead = socket;
        socket = null;
        dead.onclose = null;
        dead.close();
        onState("silent");
        retry();
      }, SILENCE);
    }
    function connect() {
      if (stopped) return;
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var host = node ? node.replace(/^[a-z]+:\/\//, "") : location.host;
      try { socket = new WebSocket(scheme + host + "/api/live"); } catch (e) { retry(); return; }
      var mine = socket;
      quiet();
      socket.binaryType = "arraybuffer";
      socket.onopen = function () { mine.send(JSON.stringify(hello())); };
      socket.onmessage = function (event) {
        if (mine !== socket) return;
        delay = 1000;
        quiet();
        onState("live");
        // A binary message is sealed bytes (the room's view, or what changed in it).
        if (typeof event.data !== "string") { onMessage({ type: "sealed", data: new Uint8Array(event.data) }); return; }
        try {
          var message = JSON.parse(event.data);
          if (message.type !== "beat") onMessage(message);
        } catch (e) { /* a malformed message is skipped */ }
      };
      socket.onclose = function () {
        if (mine !== socket) return;
        clearTimeout(watchdog);
        socket = null;
        onState("down");
        retry();
      };
      socket.onerror = function () { /* onclose follows */ };
    }
    function retry() {
      if (stopped) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    }
    // A phone whose screen was off ran no timers: count the silence from when it wakes.
    function woke() { if (!document.hidden && socket) quiet(); }
    document.addEventListener("visibilitychange", woke);
    connect();
    return {
      stop: function () {
        stopped = true;
        clearTimeout(watchdog);
        document.removeEventListener("visibilitychange", woke);
        if (socket) { socket.onclose = null; socket.close(); }
      }
    };
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

  // A check-in's options: for each, its picture (served by the node; a phone that cannot show
  // it still shows the word) and its word in `lang`.
  var PICTURES = {
    faces: ["checkin-face-0", "checkin-face-1", "checkin-face-2", "checkin-face-3", "checkin-face-4"],
    agree: ["checkin-agree", "checkin-partly", "checkin-disagree"]
  };
  function checkInOptions(scale, lang) {
    return (PICTURES[scale] || []).map(function (name, i) {
      var picture = document.createElement("img");
      picture.src = "/assets/" + name + ".svg";
      picture.alt = "";
      picture.className = "option-picture";
      var word = document.createElement("span");
      word.className = "option-word";
      setText(word, t(lang, "checkin." + scale + "." + i), lang);
      return { picture: picture, word: word };
    });
  }

  // A check-in's chart as the node drew it (bars and counts, no words), with each option's
  // picture and word under its bar.
  function drawChart(box, checkIn, scale, lang) {
    clear(box);
    var svg = new DOMParser().parseFromString(checkIn.chart, "image/svg+xml").documentElement;
    if (svg && svg.nodeName === "svg") box.appendChild(document.importNode(svg, true));
    var labels = document.createElement("div");
    labels.className = "chart-labels";
    labels.dir = "ltr";  // under the bars, in the bars' order, whatever the language
    checkInOptions(scale, lang).forEach(function (option) {
      var label = document.createElement("span");
      label.className = "chart-label";
      label.appendChild(option.picture);
      label.appendChild(option.word);
      labels.appendChild(label);
    });
    box.appendChild(labels);
  }

  // Reads "#key=..." or "#code=..." from the address, then removes it from the address bar.
  function takeFromHash(name) {
    var match = new RegExp("[#&]" + name + "=([^&]+)").exec(location.hash);
    if (!match) return null;
    history.replaceState(null, "", location.pathname);
    return decodeURIComponent(match[1]);
  }

  return { $: $, t: t, digits: digits, clear: clear, applyLanguage: applyLanguage, pick: pick, roomLanguage: roomLanguage, startingLanguage: startingLanguage, title: title, setText: setText, api: api, within: within, query: query, setNode: setNode, home: home, nodeOrigin: nodeOrigin, live: live, drawQR: drawQR,
           takeFromHash: takeFromHash, RTL: RTL, checkInOptions: checkInOptions, drawChart: drawChart };
})();
