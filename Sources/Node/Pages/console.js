// The facilitator's console: the deck, the open prompt with a timer and a count of waiting
// reflections (never their text), and the buttons that run the meeting. Every button is a
// signed facilitator event made by the node.
"use strict";
(function () {
  var $ = Halqa.$;
  var secret = Halqa.takeFromHash("key") || sessionStorage.getItem("halqa.key");
  var state = null, clockOffset = 0;

  function post(action, body) {
    $("error").textContent = "";
    return Halqa.api("POST", "/api/console/" + action, secret, body).then(function (r) {
      if (r.status === 200) render(r.body);
      else $("error").textContent = (r.body && r.body.error) ? r.body.error.message : "The node answered " + r.status + ".";
      return r;
    }, function () { $("error").textContent = "Cannot reach the node. Check that Halqa is still running."; });
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

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function texts(prompt) {
    return ["en", "ur", "ps"].filter(function (l) { return prompt.text[l]; }).map(function (l) {
      var p = el("p", "prompt-text small", prompt.text[l]);
      p.lang = l; p.dir = Halqa.RTL[l] ? "rtl" : "ltr";
      return p;
    });
  }

  function render(next) {
    state = next;
    clockOffset = state.now - Date.now();
    $("console").hidden = false;
    Halqa.setText($("title"), state.title);
    $("session-state").textContent = (state.closed ? "This session is closed." :
      "Reflections are shown only in batches of at least " + state.minimumToReveal + ".") +
      " Digest " + state.digest + " (the same on every node that holds this meeting).";
    $("participant-url").textContent = state.participantURL;
    $("join-code").textContent = state.joinCode;
    $("screen-link").href = state.screenURL;  // the projector's own key: it can only watch
    Halqa.drawQR($("qr"), state.qr);
    drawCurrent();
    drawDeck();
    drawNotes();
    drawNodes();
    $("close-session").disabled = state.closed;
    $("note-form").hidden = state.closed;
  }

  // Other nodes: those asking to join (admitted only if the code on their screen is the
  // same), those admitted, and whether this node is the meeting's only copy.
  function drawNodes() {
    var n = state.nodes;
    $("nodes").hidden = !n;
    if (!n) return;
    $("single-copy").hidden = !n.singleCopy;
    $("node-key").textContent = "This laptop's key: " + n.fingerprint + ". Role: " + state.role + ".";
    var waiting = $("waiting-nodes");
    clear(waiting);
    n.waiting.forEach(function (w) {
      var li = el("li", "waiting-node");
      li.appendChild(el("span", null, w.name + " asks to join. Key " + w.fingerprint + ". Its code: "));
      li.appendChild(el("strong", "pair-code", w.code));
      li.appendChild(el("span", null, " — admit it only if its screen shows the same code. "));
      li.appendChild(button("Admit as co-facilitator", function () { post("admit", { node: w.id, role: "co-facilitator" }); }));
      li.appendChild(button("Admit as archivist", function () { post("admit", { node: w.id, role: "archivist" }); }));
      li.appendChild(button("Turn away", function () { post("turn-away", { node: w.id }); }));
      waiting.appendChild(li);
    });
    var admitted = $("admitted-nodes");
    clear(admitted);
    n.admitted.forEach(function (a) {
      var li = el("li", a.connected ? "node-on" : "node-off",
        a.name + " (" + a.role + ", key " + a.fingerprint + "): " + (a.connected ? "connected" : "not connected"));
      if (a.code) {
        // Admitted, but the person at that laptop has not yet confirmed what this shows.
        li.appendChild(el("span", null, " — waiting for its yes. Its screen should show code "));
        li.appendChild(el("strong", "pair-code", a.code));
        li.appendChild(el("span", null, " and digest "));
        li.appendChild(el("strong", null, a.digest));
      }
      admitted.appendChild(li);
    });
    var warnings = $("node-warnings");
    clear(warnings);
    n.warnings.forEach(function (w) { warnings.appendChild(el("li", null, w)); });
    warnings.hidden = n.warnings.length === 0;
  }

  function drawCurrent() {
    var open = state.openPrompt;
    $("current").hidden = open === null || open === undefined;
    if ($("current").hidden) return;
    var p = state.prompts[open];
    $("current-heading").textContent = "Open now: prompt " + p.number;
    var box = $("current-text");
    clear(box);
    texts(p).forEach(function (n) { box.appendChild(n); });
    $("current-note").textContent = p.facilitatorNote ? "Note: " + p.facilitatorNote : "";
    var waiting = p.pending, shownCount = p.revealed.filter(function (r) { return !r.hiddenReason; }).length;
    var line = waiting + (waiting === 1 ? " reflection waits" : " reflections wait") + " to be revealed";
    if (waiting < state.minimumToReveal) line += " (" + state.minimumToReveal + " are needed for a reveal)";
    if (shownCount > 0) line += " · " + shownCount + " shown";
    $("pending").textContent = line + ".";
    $("reveal").disabled = waiting < state.minimumToReveal;
    drawShown($("current-shown"), p);
    tick();
  }

  function drawShown(list, p) {
    clear(list);
    p.revealed.forEach(function (r) {
      var item = el("li", r.hiddenReason ? "hidden-reflection" : "");
      item.appendChild(el("p", "reflection-text", r.text));
      var row = el("div", "row");
      if (r.hiddenReason) {
        row.appendChild(el("span", "quiet", "Hidden: " + r.hiddenReason));
      } else {
        row.appendChild(el("span", "quiet", "Resonates with " + r.resonance));
        if (!state.closed) row.appendChild(button("Hide…", function () { askHide(item, r); }));
      }
      item.appendChild(row);
      list.appendChild(item);
    });
  }

  function askHide(item, r) {
    if (item.querySelector("form")) return;
    var form = el("form", "hide-form");
    var input = el("input");
    input.placeholder = "Why hide it? (kept for facilitators only)";
    input.setAttribute("aria-label", "Reason for hiding");
    form.appendChild(input);
    var confirm = el("button", "", "Hide it");
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
      var label = "Prompt " + p.number + " · " + ({ waiting: "not opened", open: "open", closed: "closed" })[p.status];
      if (p.timeBoxSeconds) label += " · " + Math.round(p.timeBoxSeconds / 60) + " min";
      if (p.status !== "waiting") label += " · " + p.revealed.filter(function (r) { return !r.hiddenReason; }).length + " shown";
      head.appendChild(el("span", "quiet", label));
      if (p.status === "waiting" && !state.closed) {
        head.appendChild(button(state.openPrompt === null || state.openPrompt === undefined ? "Open" : "Open (closes the current one)",
          function () { post("open", { prompt: p.index }); }, "primary"));
      }
      item.appendChild(head);
      texts(p).forEach(function (n) { item.appendChild(n); });
      if (p.facilitatorNote) item.appendChild(el("p", "facilitator-note", "Note: " + p.facilitatorNote));
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
      p.notes.forEach(function (n) { list.appendChild(el("li", "", "Prompt " + p.number + ": " + n)); });
    });
    state.sessionNotes.forEach(function (n) { list.appendChild(el("li", "", "Session: " + n)); });
  }

  function tick() {
    if (!state || state.openPrompt === null || state.openPrompt === undefined) { $("timer").textContent = ""; return; }
    var p = state.prompts[state.openPrompt];
    if (!p.openedAt) return;
    var elapsed = Math.max(0, Math.floor((Date.now() + clockOffset - p.openedAt) / 1000));
    var text = "Open for " + Math.floor(elapsed / 60) + ":" + ("0" + (elapsed % 60)).slice(-2);
    if (p.timeBoxSeconds) {
      var left = p.timeBoxSeconds - elapsed;
      text += left >= 0 ? " · " + Math.floor(left / 60) + ":" + ("0" + (left % 60)).slice(-2) + " left" : " · time box passed";
      $("timer").className = left < 0 ? "over" : "";
    }
    $("timer").textContent = text;
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!secret) { $("locked").hidden = false; return; }
    sessionStorage.setItem("halqa.key", secret);
    $("reveal").addEventListener("click", function () { post("reveal", { prompt: state.openPrompt }); });
    $("close-prompt").addEventListener("click", function () {
      var p = state.prompts[state.openPrompt];
      var lost = p.pending > 0 ? " Its " + p.pending + " unrevealed reflection(s) will be destroyed." : "";
      if (window.confirm("Close prompt " + p.number + "?" + lost)) post("close-prompt", { prompt: state.openPrompt });
    });
    $("close-session").addEventListener("click", function () {
      if (window.confirm("Close the session? Nothing more can be added afterwards, and unrevealed reflections are destroyed.")) post("close", {});
    });
    $("wipe-session").addEventListener("click", function () {
      var typed = window.prompt("Wipe this session from this laptop? Its reflections, notes and transcript are removed for good " +
        "and Halqa stops here (other laptops keep their copies). Type WIPE to confirm.");
      if (typed !== "WIPE") return;
      Halqa.api("POST", "/api/console/wipe", secret, { confirm: "WIPE" }).then(function (r) {
        if (r.status !== 200) { $("error").textContent = (r.body && r.body.error) ? r.body.error.message : "The node answered " + r.status + "."; return; }
        $("console").hidden = true;
        $("wiped").hidden = false;
      }, function () { $("error").textContent = "Cannot reach the node. Check that Halqa is still running."; });
    });
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
        $("connection").textContent = status === "live" ? "" : "Connection to the node lost; reconnecting…";
      });
    }, function () { $("error").textContent = "Cannot reach the node."; });
    setInterval(tick, 1000);
  });
})();
