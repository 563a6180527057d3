// The projector view: the open prompt, the way in, and the revealed reflections in large type.
// It speaks the room's language (`halqa host --language`); when the facilitator chooses a
// second language on the console, each text stands in both, side by side.
"use strict";
(function () {
  var $ = Halqa.$;
  var hashAlso = /[#&]also=(en|ur|ps)\b/.exec(location.hash);
  var secret = Halqa.takeFromHash("key") || sessionStorage.getItem("halqa.key");
  var lang = Halqa.roomLanguage();
  var also = hashAlso ? hashAlso[1] : (localStorage.getItem("halqa.projector.also") || "");
  var view = null;

  function languages() { return also && also !== lang && HALQA_TEXT[also] ? [lang, also] : [lang]; }

  var clear = Halqa.clear;

  // One text per language shown, each in its own direction; a text the deck lacks in the
  // second language is left out rather than shown twice.
  function sideBySide(box, className, textIn) {
    clear(box);
    var shown = {};
    languages().forEach(function (l) {
      var picked = textIn(l);
      if (!picked.text || shown[picked.lang + picked.text]) return;
      shown[picked.lang + picked.text] = true;
      var e = document.createElement("p");
      e.className = className;
      Halqa.setText(e, picked.text, picked.lang);
      box.appendChild(e);
    });
    box.className = box.children.length > 1 ? "side-by-side" : "";
  }

  function render() {
    if (!view) return;
    var state = view.state;
    $("screen").hidden = false;
    sideBySide($("title"), "title-text", function (l) { return Halqa.title(state.session, l); });
    $("participant-url").textContent = view.participantURL;
    $("join-code").textContent = view.joinCode;
    Halqa.drawQR($("qr"), view.qr);
    var p = state.prompt;
    $("waiting").hidden = !!p && !state.session.closed;
    sideBySide($("waiting"), "waiting-text", function (l) {
      return { lang: l, text: Halqa.t(l, state.session.closed ? "screen.ended" : "screen.waiting") };
    });
    $("waiting").className += " waiting";
    if (p) sideBySide($("prompt-texts"), "prompt-text", function (l) { return Halqa.pick(p.text, l); });
    else clear($("prompt-texts"));
    var results = state.checkIn && p && p.scale;
    $("results").hidden = !results;
    if (results) Halqa.drawChart($("chart"), state.checkIn, p.scale, lang);
    var list = $("reflections");
    clear(list);
    state.revealed.forEach(function (r) {
      var item = document.createElement("li");
      item.dir = "auto";
      item.textContent = r.text;
      list.appendChild(item);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Halqa.applyLanguage(lang);
    $("qr").setAttribute("aria-label", Halqa.t(lang, "screen.qr"));
    if (!secret) { $("locked").hidden = false; return; }
    sessionStorage.setItem("halqa.key", secret);
    // The console, open in this browser, says when the facilitator picks another language.
    window.addEventListener("storage", function (event) {
      if (event.key !== "halqa.projector.also") return;
      also = event.newValue || "";
      render();
    });
    Halqa.api("GET", "/api/screen", secret).then(function (r) {
      if (r.status !== 200) { $("locked").hidden = false; return; }
      view = r.body;
      render();
      Halqa.live(function () { return { type: "hello", screen: secret }; }, function (message) {
        if (message.type === "screen") { view = message.data; render(); }
      }, function (status) { $("connection").textContent = status === "live" ? "" : Halqa.t(lang, "screen.reconnecting"); });
    });
  });
})();
