// The projector view: the open prompt, the way in, and the revealed reflections in large type.
"use strict";
(function () {
  var $ = Halqa.$;
  var secret = Halqa.takeFromHash("key") || sessionStorage.getItem("halqa.key");
  // The projector speaks the room's language (`halqa host --language`).
  var lang = Halqa.roomLanguage();
  function t(key) { return Halqa.t(lang, key); }

  function render(view) {
    var state = view.state;
    $("screen").hidden = false;
    var title = Halqa.title(state.session, lang);
    Halqa.setText($("title"), title.text, title.lang);
    $("participant-url").textContent = view.participantURL;
    $("join-code").textContent = view.joinCode;
    Halqa.drawQR($("qr"), view.qr);
    var p = state.prompt;
    $("waiting").hidden = !!p && !state.session.closed;
    $("waiting").textContent = t(state.session.closed ? "screen.ended" : "screen.waiting");
    var box = $("prompt-texts");
    while (box.firstChild) box.removeChild(box.firstChild);
    if (p) {
      ["en", "ur", "ps"].forEach(function (l) {
        if (!p.text[l]) return;
        var e = document.createElement("p");
        e.className = "prompt-text";
        Halqa.setText(e, p.text[l], l);
        box.appendChild(e);
      });
    }
    var list = $("reflections");
    while (list.firstChild) list.removeChild(list.firstChild);
    state.revealed.forEach(function (r) {
      var item = document.createElement("li");
      item.dir = "auto";
      item.textContent = r.text;
      list.appendChild(item);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!secret) { $("locked").hidden = false; return; }
    sessionStorage.setItem("halqa.key", secret);
    Halqa.api("GET", "/api/screen", secret).then(function (r) {
      if (r.status !== 200) { $("locked").hidden = false; return; }
      render(r.body);
      Halqa.live(function () { return { type: "hello", screen: secret }; }, function (message) {
        if (message.type === "screen") render(message.data);
      }, function (status) { $("connection").textContent = status === "live" ? "" : t("screen.reconnecting"); });
    });
  });
})();
