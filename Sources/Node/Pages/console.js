// The facilitator's console: the deck, the open prompt with a timer and a count of waiting
// reflections (never their text), and the buttons that run the meeting. Every button is a
// signed facilitator event made by the node. Every word is in the facilitator's language
// (i18n.js, i18n-console.js); what the deck says is shown in it too, falling back as on phones.
"use strict";
(function () {
  var $ = Halqa.$;
  var secret = Halqa.takeFromHash("key") || sessionStorage.getItem("halqa.key");
  var state = null, clockOffset = 0, wiped = false;
  var lang = Halqa.startingLanguage(localStorage.getItem("halqa.console.lang"));
  function t(key, values) { return Halqa.t(lang, key, values); }

  function say(r) {
    var code = r.body && r.body.error ? r.body.error.code : null;
    if (/^no-such-/.test(code || "")) code = "gone";
    var key = "console.error." + code, participantKey = "error." + code;
    if (code && HALQA_TEXT.en[key] !== undefined) return t(key);
    if (code && HALQA_TEXT.en[participantKey] !== undefined) return t(participantKey);
    return r.body && r.body.error ? r.body.error.message : t("console.answered", { status: String(r.status) });
  }

  function post(action, body) {
    $("error").textContent = "";
    return Halqa.api("POST", "/api/console/" + action, secret, body).then(function (r) {
      if (r.status === 200) render(r.body);
      else $("error").textContent = say(r);
      return r;
    }, function () { $("error").textContent = t("console.unreachable"); });
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) { e.textContent = text; e.dir = "auto"; }
    return e;
  }

  function button(label, onClick, className) {
    var b = el("button", className, label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  var clear = Halqa.clear;

  // A prompt's text in the facilitator's language (or the nearest the deck has), then the
  // others it has, smaller: he may read the room's language aloud.
  function texts(prompt) {
    var first = Halqa.pick(prompt.text, lang).lang;
    return [first].concat(["en", "ur", "ps"].filter(function (l) { return l !== first && prompt.text[l]; })).map(function (l, i) {
      var p = el("p", i === 0 ? "prompt-text" : "prompt-text small quiet");
      Halqa.setText(p, prompt.text[l], l);
      return p;
    });
  }

  function note(prompt) {
    if (!prompt.facilitatorNote) return null;
    var picked = Halqa.pick(prompt.facilitatorNote, lang);
    var p = el("p", "facilitator-note");
    Halqa.setText(p, t("console.note", { text: picked.text }), picked.lang === lang ? null : picked.lang);
    return p;
  }

  function shownCount(p) { return p.revealed.filter(function (r) { return !r.hiddenReason; }).length; }

  function render(next) {
    if (wiped) return;
    state = next;
    clockOffset = state.now - Date.now();
    $("console").hidden = false;
    var title = Halqa.title(state, lang);
    Halqa.setText($("title"), title.text, title.lang);
    drawProgramme(state.programme);
    $("audience").hidden = !state.audience;
    $("audience").textContent = state.audience ? t("console.audience." + state.audience) : "";
    $("unsealable").hidden = !state.unsealablePhones;
    $("unsealable").textContent = state.unsealablePhones ? t("console.unsealable", { n: state.unsealablePhones }) : "";
    $("session-state").textContent = (state.closed ? t("console.closed") : t("console.batches", { n: state.minimumToReveal })) +
      " " + t("console.digest", { digest: state.digest });
    $("participant-url").textContent = state.participantURL;
    $("join-code").textContent = state.joinCode;
    screenLink();
    Halqa.drawQR($("qr"), state.qr);
    $("qr").setAttribute("aria-label", t("screen.qr"));
    drawCurrent();
    drawDeck();
    drawNotes();
    drawNodes();
    $("close-session").disabled = state.closed;
    $("note-form").hidden = state.closed;
  }

  // The projector's link (its own key: it can only watch), with the second language the
  // facilitator chose; a projector already open in this browser follows the choice at once.
  function screenLink() {
    if (!state) return;
    var also = $("also").value;
    $("screen-link").href = state.screenURL + (also ? "&also=" + also : "");
  }

  function role(name) { return t("console.role." + name); }

  // A sentence whose values (codes to compare by eye) stand out, wherever the language puts them.
  function emphasised(key, values) {
    var marks = {}, names = Object.keys(values);
    names.forEach(function (name, i) { marks[name] = "\u0001" + i + "\u0001"; });
    var p = el("p");
    t(key, marks).split("\u0001").forEach(function (part, i) {
      if (i % 2 === 0) { if (part) p.appendChild(document.createTextNode(part)); return; }
      var strong = el("strong", "pair-code", values[names[+part]]);
      strong.dir = "ltr";
      p.appendChild(strong);
    });
    return p;
  }

  // Other nodes: those asking to join (admitted only if the code on their screen is the
  // same), those admitted, and whether this node is the meeting's only copy.
  function drawNodes() {
    var n = state.nodes;
    $("nodes").hidden = !n;
    if (!n) return;
    $("single-copy").hidden = !n.singleCopy;
    $("node-key").textContent = t("console.node-key", { key: n.fingerprint, role: role(state.role) });
    var waiting = $("waiting-nodes");
    clear(waiting);
    n.waiting.forEach(function (w) {
      var li = el("li", "waiting-node");
      li.appendChild(el("span", null, t("console.asks", { name: w.name, key: w.fingerprint }) + " "));
      li.appendChild(el("strong", "pair-code", w.code));
      li.appendChild(el("p", null, t("console.admit-only")));
      li.appendChild(button(t("console.admit-co"), function () { post("admit", { node: w.id, role: "co-facilitator" }); }));
      li.appendChild(button(t("console.admit-archivist"), function () { post("admit", { node: w.id, role: "archivist" }); }));
      li.appendChild(button(t("console.turn-away"), function () { post("turn-away", { node: w.id }); }));
      waiting.appendChild(li);
    });
    var admitted = $("admitted-nodes");
    clear(admitted);
    n.admitted.forEach(function (a) {
      var li = el("li", a.connected ? "node-on" : "node-off", t("console.admitted", {
        name: a.name, role: role(a.role), key: a.fingerprint, state: t(a.connected ? "console.connected" : "console.not-connected") }));
      // Admitted, but the person at that laptop has not yet confirmed what this shows.
      if (a.code) li.appendChild(emphasised("console.awaiting-yes", { code: a.code, digest: a.digest }));
      admitted.appendChild(li);
    });
    var warnings = $("node-warning-list");
    clear(warnings);
    n.warnings.forEach(function (w) { warnings.appendChild(el("li", null, w)); });
    $("node-warnings").hidden = n.warnings.length === 0;
  }

  function drawCurrent() {
    var open = state.openPrompt;
    $("current").hidden = open === null || open === undefined;
    if ($("current").hidden) return;
    var p = state.prompts[open];
    $("current-heading").textContent = t("console.open-now", { n: p.number });
    var box = $("current-text");
    clear(box);
    texts(p).forEach(function (n) { box.appendChild(n); });
    var noteBox = $("current-note"), written = note(p);
    noteBox.textContent = written ? written.textContent : "";
    noteBox.lang = written ? written.lang : ""; noteBox.dir = written ? written.dir : "";
    var waiting = p.pending, shown = shownCount(p);
    var line = t("console.pending", { n: waiting });
    if (waiting < state.minimumToReveal) line += " " + t("console.needed", { n: state.minimumToReveal });
    if (shown > 0) line += " · " + t("console.shown", { n: shown });
    $("pending").textContent = line;
    $("reveal").disabled = waiting < state.minimumToReveal;
    drawShown($("current-shown"), p);
    tick();
  }

  // The session's week of a programme, and what the group said at last week's check-ins:
  // counts only, each option's picture and word beside its number.
  function drawProgramme(programme) {
    $("programme").hidden = !programme;
    if (!programme) return;
    var title = Halqa.pick(programme.title, lang);
    Halqa.setText($("programme-week"), t("console.week", { n: programme.week, of: programme.weeks, programme: title.text, group: programme.group }));
    $("last-week").hidden = !programme.lastWeek.length;
    var box = $("last-week-list");
    clear(box);
    programme.lastWeek.forEach(function (checkIn) {
      var text = Halqa.pick(checkIn.text, lang);
      var heading = el("p", "quiet");
      Halqa.setText(heading, text.text, text.lang);
      box.appendChild(heading);
      var list = el("ul", "checkin-counts");
      drawShown(list, { scale: checkIn.scale, counts: checkIn.counts, revealed: [] });
      box.appendChild(list);
    });
  }

  function drawShown(list, p) {
    clear(list);
    // A check-in: its revealed answers as counts, each option's picture and word beside its number.
    if (p.scale && p.counts) {
      Halqa.checkInOptions(p.scale, lang).forEach(function (option, i) {
        var item = el("li", "checkin-count");
        item.appendChild(option.picture);
        item.appendChild(option.word);
        item.appendChild(el("strong", "", String(p.counts[i] || 0)));
        list.appendChild(item);
      });
      return;
    }
    p.revealed.forEach(function (r) {
      var item = el("li", r.hiddenReason ? "hidden-reflection" : "");
      item.appendChild(el("p", "reflection-text", r.text));
      var row = el("div", "row");
      if (r.hiddenReason) {
        row.appendChild(el("span", "quiet", t("console.hidden", { reason: r.hiddenReason })));
      } else {
        row.appendChild(el("span", "quiet", t("shown.count", { n: r.resonance })));
        if (!state.closed) row.appendChild(button(t("console.hide"), function () { askHide(item, r); }));
      }
      item.appendChild(row);
      list.appendChild(item);
    });
  }

  function askHide(item, r) {
    if (item.querySelector("form")) return;
    var form = el("form", "hide-form");
    var input = el("input");
    input.placeholder = t("console.hide-why");
    input.setAttribute("aria-label", t("console.hide-why"));
    input.dir = "auto";
    form.appendChild(input);
    var confirm = el("button", "", t("console.hide-it"));
    confirm.type = "submit";
    form.appendChild(confirm);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      post("hide", { reflection: r.id, reason: input.value });
    });
    item.appendChild(form);
    input.focus();
  }

  function drawDeck() {
    var list = $("deck");
    clear(list);
    state.prompts.forEach(function (p) {
      var item = el("li", "deck-item " + p.status);
      var head = el("div", "row");
      var label = t("console.prompt", { n: p.number }) + " · " + t("console.status." + p.status);
      if (p.timeBoxSeconds) label += " · " + t("console.minutes", { n: Math.round(p.timeBoxSeconds / 60) });
      if (p.status !== "waiting") label += " · " + t("console.shown", { n: shownCount(p) });
      head.appendChild(el("span", "quiet", label));
      if (p.status === "waiting" && !state.closed) {
        var busy = state.openPrompt !== null && state.openPrompt !== undefined;
        head.appendChild(button(t(busy ? "console.open-instead" : "console.open"), function () { post("open", { prompt: p.index }); }, "primary"));
      }
      item.appendChild(head);
      texts(p).forEach(function (n) { item.appendChild(n); });
      var written = note(p);
      if (written) item.appendChild(written);
      if (p.status === "closed" && p.revealed.length) {
        var shown = el("ol", "reflections");
        drawShown(shown, p);
        item.appendChild(shown);
      }
      list.appendChild(item);
    });
  }

  function drawNotes() {
    var list = $("notes");
    clear(list);
    state.prompts.forEach(function (p) {
      p.notes.forEach(function (n) { list.appendChild(el("li", "", t("console.note-on-prompt", { n: p.number, text: n }))); });
    });
    state.sessionNotes.forEach(function (n) { list.appendChild(el("li", "", t("console.note-on-session", { text: n }))); });
  }

  function clock(seconds) { return Halqa.digits(lang, Math.floor(seconds / 60) + ":" + ("0" + (seconds % 60)).slice(-2)); }

  function tick() {
    if (!state || state.openPrompt === null || state.openPrompt === undefined) { $("timer").textContent = ""; return; }
    var p = state.prompts[state.openPrompt];
    if (!p.openedAt) return;
    var elapsed = Math.max(0, Math.floor((Date.now() + clockOffset - p.openedAt) / 1000));
    var text = t("console.open-for", { time: clock(elapsed) });
    if (p.timeBoxSeconds) {
      var left = p.timeBoxSeconds - elapsed;
      text += " · " + (left >= 0 ? t("console.left", { time: clock(left) }) : t("console.passed"));
      $("timer").className = left < 0 ? "over" : "";
    }
    $("timer").textContent = text;
  }

  // Asks before anything that cannot be undone, in the facilitator's language; `typed`, a
  // word he must type first. Calls `yes` only on his yes.
  function ask(question, yesLabel, typed, yes) {
    $("ask-text").textContent = question;
    $("ask-yes").textContent = yesLabel;
    $("ask-typed").value = "";
    $("ask-typed").hidden = $("ask-typed-label").hidden = !typed;
    $("ask").hidden = false;
    (typed ? $("ask-typed") : $("ask-no")).focus();
    $("ask-form").onsubmit = function (event) {
      event.preventDefault();
      if (typed && $("ask-typed").value.trim() !== typed) { $("ask-typed").focus(); return; }
      $("ask").hidden = true;
      yes();
    };
  }

  function setLanguage(next) {
    lang = HALQA_TEXT[next] ? next : "en";
    localStorage.setItem("halqa.console.lang", lang);
    Halqa.applyLanguage(lang);
    document.title = t("console.brand");
    if (state) render(state);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("[data-lang]");
    for (var i = 0; i < buttons.length; i++)
      buttons[i].addEventListener("click", function (event) { setLanguage(event.currentTarget.getAttribute("data-lang")); });
    setLanguage(lang);
    if (!secret) { $("locked").hidden = false; return; }
    sessionStorage.setItem("halqa.key", secret);
    $("also").value = localStorage.getItem("halqa.projector.also") || "";
    $("also").addEventListener("change", function () {
      localStorage.setItem("halqa.projector.also", $("also").value);
      screenLink();
    });
    $("reveal").addEventListener("click", function () { post("reveal", { prompt: state.openPrompt }); });
    $("close-prompt").addEventListener("click", function () {
      var p = state.prompts[state.openPrompt], open = state.openPrompt;
      var question = t("console.ask-close-prompt", { n: p.number }) + (p.pending > 0 ? " " + t("console.lost", { n: p.pending }) : "");
      ask(question, t("console.yes-close-prompt"), null, function () { post("close-prompt", { prompt: open }); });
    });
    $("close-session").addEventListener("click", function () {
      ask(t("console.ask-close-session"), t("console.yes-close-session"), null, function () { post("close", {}); });
    });
    $("wipe-session").addEventListener("click", function () {
      ask(t("console.ask-wipe"), t("console.yes-wipe"), "WIPE", function () {
        Halqa.api("POST", "/api/console/wipe", secret, { confirm: "WIPE" }).then(function (r) {
          if (r.status !== 200) { $("error").textContent = say(r); return; }
          wiped = true;
          $("console").hidden = true;
          $("wiped").hidden = false;
        }, function () { $("error").textContent = t("console.unreachable"); });
      });
    });
    $("ask-no").addEventListener("click", function () { $("ask").hidden = true; });
    document.addEventListener("keydown", function (event) { if (event.key === "Escape") $("ask").hidden = true; });
    $("note-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var body = { text: $("note").value };
      if (state.openPrompt !== null && state.openPrompt !== undefined) body.prompt = state.openPrompt;
      post("note", body).then(function (r) { if (r && r.status === 200) $("note").value = ""; });
    });
    Halqa.api("GET", "/api/console", secret).then(function (r) {
      if (r.status !== 200) { $("locked").hidden = false; $("console").hidden = true; return; }
      render(r.body);
      Halqa.live(function () { return { type: "hello", facilitator: secret, view: "console" }; }, function (message) {
        if (message.type === "console") render(message.data);
      }, function (status) {
        $("connection").textContent = status === "live" ? "" : t("console.connection-lost");
      });
    }, function () { $("error").textContent = t("console.unreachable"); });
    setInterval(tick, 1000);
  });
})();
