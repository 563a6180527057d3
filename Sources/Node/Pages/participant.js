// The participant's page: join with the code, read the open prompt, write one anonymous
// reflection, see the circle's reflections when they are revealed, resonate with some.
// Nothing is kept on the phone after the tab closes (sessionStorage only), and nothing it
// keeps names Halqa or holds the join code: the page keeps the join link's ticket instead,
// under plain keys (docs/threat-model.md, "A phone that is taken"). Everything it says (the
// join, its reflection, its taps, what it asks about itself) is sealed to the node's key
// (seal.js); the room's view, the same for every phone, comes sealed with the view key its
// sealed join was given.
"use strict";
(function () {
  var $ = Halqa.$;
  var LIMIT = 1000;
  var store = window.sessionStorage;
  var lang = Halqa.startingLanguage(store.getItem("l"));
  var token = store.getItem("t");
  var code = store.getItem("k");  // the join link's ticket, once joined
  var viewKey = Sealed.fromText(store.getItem("v"));  // opens the room's view: the same for every phone
  var sealKey = null;         // the node's key to seal to, as the room signed it (in memory only)
  var state = null;          // the shared state from the node
  var wroteFor = {};         // prompt index -> true, this page's own record
  var resonated = {};        // reflection id -> true
  var socket = null, polling = null;
  // A reflection or taps sent and not yet answered, each with the `once` it was sent with, so
  // that sending again (after no answer, here or on another laptop) is taken once. In memory
  // only, and forgotten when answered.
  var inFlight = null;       // {prompt, text, once}
  var tapOnces = {};         // reflection id -> once
  // Laptops of the session found silent (origin -> true): a move skips them.
  var silent = {}, moving = false, movedAt = 0;
  var wroteBeforeView = false;  // the node said this page wrote for the open prompt before a view came

  function t(key, values) { return Halqa.t(lang, key, values); }

  function show(id, visible) { $(id).hidden = !visible; }

  function errorText(body, fallbackKey) {
    var code = body && body.error && body.error.code;
    var known = code && HALQA_TEXT.en["error." + code] !== undefined;
    if (known) return t("error." + code);
    if (body && body.error && body.error.message) return body.error.message;
    return t(fallbackKey || "error.network");
  }

  function graphemes(text) {
    // Counted as a person counts letters, where the browser can (Chrome 87+); else code points.
    if (window.Intl && Intl.Segmenter) {
      var n = 0, it = new Intl.Segmenter().segment(text)[Symbol.iterator]();
      while (!it.next().done) n++;
      return n;
    }
    return Array.from(text).length;
  }

  // MARK: sealing

  // The node's key to seal to: asked of the node, and taken only if the room's key (from
  // the QR link, kept for this tab) signed it. A page opened from a typed address has no
  // room key, and takes the node's word (docs/threat-model.md).
  function key() {
    if (sealKey) return Promise.resolve(sealKey);
    return Halqa.api("GET", "/api/seal-key", null, undefined, 4000).then(function (r) {
      if (r.status !== 200 || !r.body) throw new Error("network");
      var room = Sealed.fromText(store.getItem("r"));
      var got = room ? Sealed.trusted(r.body.key, r.body.signature, room) : Sealed.fromText(r.body.key);
      if (!got) throw new Error("not-the-meeting");
      sealKey = got;
      return got;
    });
  }

  function sealed(op, body, again) {
    return key().then(function (k) {
      var message = { op: op };
      if (token) message.token = token;
      if (body) message.body = body;
      return Sealed.send(k, message);
    }).then(function (r) {
      // The node started again since (it makes a new key each time): ask for it, send again.
      if (r.status === 403 && r.body && r.body.error && r.body.error.code === "sealed-unopenable" && !again) {
        sealKey = null;
        return sealed(op, body, true);
      }
      return r;
    });
  }

  // What to say when sealing could not start: not the meeting's laptop, or no network.
  function failure(error) { return t(error && error.message === "not-the-meeting" ? "error.not-the-meeting" : "error.network"); }

  // A browser that cannot seal is told so, and sends nothing in the clear; the node counts
  // it for the facilitator, without anything of what it would have said.
  function cannotSeal() {
    showJoin();
    $("join-form").hidden = true;
    $("join").querySelector("[data-t='join.help']").hidden = true;
    $("join-error").textContent = t("error.cannot-seal");
    fetch("/api/cannot-seal", { method: "POST", cache: "no-store" }).then(function () {}, function () {});
  }

  // MARK: joining

  function join(typed) {
    $("join-error").textContent = "";
    return sealed("join", { code: typed }).then(function (r) {
      if (r.status === 201) {
        token = r.body.token; code = r.body.ticket; viewKey = Sealed.fromText(r.body.view);
        store.setItem("t", token);
        store.setItem("k", code);
        store.setItem("v", r.body.view);
        follow();
        return true;
      } else if (moving) {
        return false;
      } else {
        token = null; store.removeItem("t");
        showJoin();
        $("join-error").textContent = errorText(r.body, "error.wrong-code");
      }
    }, function (error) {
      if (moving) return false;
      showJoin(); $("join-error").textContent = failure(error);
    });
  }

  function showJoin() {
    show("join", true); show("room", false);
  }

  // When the node forgot this page (it restarted), join again quietly with the same code.
  function rejoin() {
    token = null; store.removeItem("t");
    if (code) return join(code);
    showJoin();
  }

  // MARK: following the meeting

  function follow() {
    if (socket) return;
    socket = Halqa.live(function () { return { type: "hello", sealed: true, since: held(), deflate: Sealed.inflates() }; }, function (message) {
      if (message.type === "sealed") show_(message.data);
    }, function (status) {
      if (status === "live") { stopPolling(); $("connection").textContent = ""; }
      // The node stopped beating: one quick check, and if it does not answer, move on.
      else if (status === "silent") { var from = Halqa.nodeOrigin(); refresh(2000, function () { failedHere(from); }); }
      else { startPolling(); }
    });
  }

  function startPolling() {
    if (polling) return;
    $("connection").textContent = t("connection.polling");
    polling = setInterval(refresh, 3000);
    refresh();
  }

  function stopPolling() { if (polling) { clearInterval(polling); polling = null; } }

  // The version of the room's view this page holds ("EPOCH.VERSION"): the node sends only
  // what changed since (docs/hosting.md, "Airtime").
  function held() { return state && state.epoch ? state.epoch + "." + state.version : undefined; }

  // Opens and draws the room's view, or what changed in it since the version this page holds;
  // a view this page cannot open (a key from another session) means joining again.
  function show_(sealedView) {
    var view = viewKey && Sealed.openView(sealedView, viewKey);
    if (!view) { rejoin(); return; }
    if (view.from === undefined) {
      // A whole view older than the one held (a late answer) is not drawn.
      if (!(state && state.epoch === view.epoch && view.version < state.version)) render(view);
      return;
    }
    if (state && state.epoch === view.epoch && state.version === view.from) render(changed(state, view));
    // Not from what this page holds (an answer that crossed another): ask for what it lacks.
    else if (!state || state.epoch !== view.epoch || state.version < view.version) refresh();
  }

  // The view `view` with the change `d` made (RoomDelta): a new object, so that render can
  // tell what changed.
  function changed(view, d) {
    var next = JSON.parse(JSON.stringify(view));
    next.version = d.version;
    if (d.session) next.session = d.session;
    if (d.prompt) next.prompt = d.prompt;
    if (d.prompt || d.checkIn) next.checkIn = d.checkIn || null;
    if (d.nodes) next.nodes = d.nodes;
    if (d.revealed) next.revealed = d.revealed;
    if (d.drop) next.revealed = next.revealed.filter(function (r) { return d.drop.indexOf(r.id) < 0; });
    if (d.add) next.revealed = next.revealed.concat(d.add);
    if (d.counts) for (var i = 0; i < d.counts.length && i < next.revealed.length; i++) next.revealed[i].resonance = d.counts[i];
    return next;
  }

  // The room's view, the same for every phone, or what changed since the version this page
  // holds; within `ms`, else `onFail` (a failed poll).
  function refresh(ms, onFail) {
    if (!viewKey) return;
    var asks = Halqa.query({ since: held(), deflate: Sealed.inflates() ? 1 : "" });
    Halqa.api("GET", "/api/room" + asks, null, undefined, ms || 4000).then(function (r) {
      failures = 0;
      if (r.status === 200 && r.body) $("connection").textContent = polling ? t("connection.polling") : "";
      if (r.status === 200 && r.body && r.body.sealed) show_(r.body.sealed);
    }, function () { $("connection").textContent = t("connection.offline"); (onFail || failed)(); });
  }

  // What this page did for the open prompt (after a reload), asked sealed.
  function mine() {
    return sealed("mine").then(function (r) {
      if (r.status === 401) { rejoin(); return; }
      if (r.status !== 200) return;
      // The view may not have come yet (the socket sends it): then the first one takes it.
      if (r.body.wrote && state && state.prompt) wroteFor[state.prompt.index] = true;
      else if (r.body.wrote) wroteBeforeView = true;
      for (var i = 0; i < r.body.resonated.length; i++) resonated[r.body.resonated[i]] = true;
      if (state) render(state);
    }, function () {});
  }

  // When this node stops answering, move to another node of the same session (the page
  // learned them from the node), with the join link's ticket: the participant keeps going.
  var failures = 0;
  function failed() {
    failures += 1;
    if (failures >= 2) moveOn();
  }

  // The page moves without leaving: it joins the next laptop with the ticket, follows the
  // room there, and sends again what had no answer (with its `once`, so it is kept once). What
  // it did for the open prompt stays in its memory, so it does not offer the form or a tap
  // again. It goes to that laptop's own address (so a reload finds it) only once it has
  // nothing to remember: when the prompt changes.
  function moveOn() {
    if (moving || !code) return;
    var here = Halqa.nodeOrigin();
    silent[here] = true;
    var next = ((state && state.nodes) || []).map(function (u) { return u.replace(/\/$/, ""); })
      .filter(function (u) { return u !== here && !silent[u]; })[0];
    if (!next) {
      silent = {};
      // A move whose join failed left this page with no laptop: try again shortly.
      if (!token) setTimeout(moveOn, 2000);
      return;
    }
    moving = true;
    movedAt = Date.now();
    if (socket) { socket.stop(); socket = null; }
    stopPolling();
    Halqa.setNode(next);
    sealKey = null; token = null;
    join(code).then(function (joined) {
      moving = false;
      if (!joined) { moveOn(); return; }
      failures = 0;
      silent = {};  // the one left may come back: a later move may go there again
      if (inFlight) send(null, false, inFlight);
      if (answerInFlight) answer(answerInFlight.prompt, answerInFlight.option);
      for (var id in tapOnces) resonate(id, null);
    }, function () { moving = false; setTimeout(moveOn, 2000); });
  }

  // A failure that came from the laptop this page talks to now, not from one it left.
  function failedHere(from) { if (from === Halqa.nodeOrigin()) moveOn(); }

  // After a move: to the new laptop's own address, when nothing is lost by reloading.
  function settleThere() {
    if (!moved() || inFlight || answerInFlight || moving || Object.keys(tapOnces).length) return;
    var origin = Halqa.nodeOrigin();
    var carried = store.getItem("r") ? "&r=" + store.getItem("r") : "";
    location.replace(origin + "/#k=" + encodeURIComponent(code) + carried);
  }

  // MARK: drawing

  function render(next) {
    if (wroteBeforeView && next.prompt) { wroteFor[next.prompt.index] = true; wroteBeforeView = false; }
    var promptChanged = !state || !next.prompt || !state.prompt || state.prompt.index !== next.prompt.index;
    if (state && promptChanged) {
      // What was in flight for the prompt that closed can no longer be kept: let it go.
      tapOnces = {};
      if (inFlight && (!next.prompt || inFlight.prompt !== next.prompt.index)) { inFlight = null; $("text").readOnly = false; }
      if (answerInFlight && (!next.prompt || answerInFlight.prompt !== next.prompt.index)) answerInFlight = null;
      settleThere();
    }
    state = next;
    show("join", false); show("room", true);
    var title = Halqa.title(state.session, lang);
    Halqa.setText($("title"), title.text, title.lang);
    var p = state.prompt, open = p && p.status === "open" && !state.session.closed;
    show("ended", state.session.closed);
    show("waiting", !state.session.closed && !open);
    show("prompt", !!p);
    if (p) {
      var picked = Halqa.pick(p.text, lang);
      $("prompt").querySelector(".prompt-number").textContent =
        t("prompt.number", { n: p.number }) + (open ? "" : " · " + t("prompt.closed"));
      Halqa.setText($("prompt-text"), picked.text, picked.lang);
    }
    var wrote = p && wroteFor[p.index];
    var checkIn = !!(p && p.scale);
    show("write", open && !wrote && !checkIn);
    show("answer", open && !wrote && checkIn);
    if (checkIn && promptChanged) drawOptions(p);
    if (promptChanged) { show("received", false); $("write-error").textContent = ""; }
    if (open && wrote) show("received", true);
    drawReflections();
  }

  // A check-in: one large button per option, its picture and its word in this page's language.
  function drawOptions(p) {
    var box = $("options");
    Halqa.clear(box);
    Halqa.checkInOptions(p.scale, lang).forEach(function (option, i) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "option";
      button.appendChild(option.picture);
      button.appendChild(option.word);
      button.addEventListener("click", function () { answer(p.index, i); });
      box.appendChild(button);
    });
  }

  function drawReflections() {
    var results = state.checkIn && state.prompt && state.prompt.scale;
    show("results", !!results);
    if (results) Halqa.drawChart($("chart"), state.checkIn, state.prompt.scale, lang);
    var list = $("reflections");
    Halqa.clear(list);
    var shown = state.revealed || [];
    show("shown", shown.length > 0);
    var canResonate = state.prompt && state.prompt.status === "open" && !state.session.closed;
    shown.forEach(function (r) {
      var item = document.createElement("li");
      var text = document.createElement("p");
      text.className = "reflection-text";
      text.dir = "auto";
      text.textContent = r.text;
      item.appendChild(text);
      var row = document.createElement("div");
      row.className = "row";
      var count = document.createElement("span");
      count.className = "quiet";
      count.textContent = r.resonance > 0 ? t("shown.count", { n: r.resonance }) : "";
      row.appendChild(count);
      if (canResonate) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "resonate";
        var done = !!resonated[r.id];
        button.textContent = done ? t("shown.resonated") : t("shown.resonate");
        button.disabled = done;
        button.addEventListener("click", function () { resonate(r.id, button); });
        row.appendChild(button);
      }
      item.appendChild(row);
      list.appendChild(item);
    });
  }

  // MARK: acting

  function sendButton(sending) {
    $("send").disabled = sending;
    $("send").textContent = t(sending ? "write.sending" : "write.send");
  }

  // Sends the reflection in the box, or `again`: one that had no answer, after a move.
  // Whether an answer ends a send for good: kept, or refused for what it is (a written
  // rule, a closed prompt, bad words). A laptop that stands by, is busy or failed leaves it
  // in flight, to be sent again with the same `once`.
  function final(r) { return r.status < 500 && r.status !== 401 && r.status !== 429; }

  // Sends the reflection in the box, or `again`: one that had no answer, after a move. While
  // it is in flight the box cannot be changed: changed words would be another reflection,
  // and the first may have arrived.
  function send(event, retried, again, standingBy) {
    if (event && event.preventDefault) event.preventDefault();
    var p = state && state.prompt;
    if (!again && !inFlight && !p) return;
    if (!again && !inFlight) inFlight = { prompt: p.index, text: $("text").value, once: Sealed.once() };
    var sending = again || inFlight, from = Halqa.nodeOrigin();
    if (sending === inFlight) $("text").readOnly = true;
    $("write-error").textContent = "";
    sendButton(true);
    sealed("reflect", { prompt: sending.prompt, text: sending.text, once: sending.once }).then(function (r) {
      var refusal = r.body && r.body.error && r.body.error.code;
      if (refusal === "standing-by" && Date.now() - movedAt < 6000 && (standingBy || 0) < 3) {
        // The laptop this page just moved to has not yet noticed the silent one: it will soon.
        setTimeout(function () { send(null, retried, sending, (standingBy || 0) + 1); }, 1500);
        return;
      }
      sendButton(false);
      if (final(r) && inFlight === sending) { inFlight = null; $("text").readOnly = false; }
      // An answer about a prompt that is no longer open changes nothing on the page.
      var current = state && state.prompt && state.prompt.index === sending.prompt;
      if (r.status === 201) {
        wroteFor[sending.prompt] = true;
        if (current) {
          $("text").value = "";  // the words are no longer kept on this phone
          updateCount();
          show("write", false);
          show("received", true);
        }
      } else if (r.status === 401 && !retried) {
        // The node restarted and forgot this page: join again with the ticket, send again.
        var joining = rejoin();
        if (joining) joining.then(function () { if (token) send(null, true, sending); });
        else $("write-error").textContent = t("error.join-again");
      } else {
        if (refusal === "already-wrote") { wroteFor[sending.prompt] = true; if (current) show("write", false); }
        if (current) $("write-error").textContent = errorText(r.body);
        // This laptop stands by while the host's runs: go there, and send it again there.
        if (refusal === "standing-by") failedHere(from);
      }
    }, function (error) {
      sendButton(false);
      if (error && error.message === "not-the-meeting") {
        inFlight = null; $("text").readOnly = false;
        $("write-error").textContent = failure(error);
        return;
      }
      // No answer in time: the laptop may have vanished. The words stay in the box and in
      // flight; the page moves to another laptop of the session and sends them again there
      // (or Send sends them again, the same).
      $("write-error").textContent = failure(error);
      failedHere(from);
    });
  }

  // Answers a check-in with option `option`: one tap. Until it is answered for good, the
  // same picture is what is sent (again, after no answer, here or on another laptop of the
  // session), with the same `once`: a tap on another picture meanwhile changes nothing, so
  // no laptop is ever sent two answers of this phone.
  var answerInFlight = null;
  function answer(prompt, option) {
    if (answerInFlight && answerInFlight.prompt === prompt) option = answerInFlight.option;
    else answerInFlight = { prompt: prompt, option: option, once: Sealed.once() };
    var sending = answerInFlight, from = Halqa.nodeOrigin();
    var buttons = $("options").querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = true;
      buttons[i].classList.toggle("chosen", i === option);
    }
    $("write-error").textContent = "";
    sealed("answer", { prompt: prompt, option: option, once: sending.once }).then(function (r) {
      var refusal = r.body && r.body.error && r.body.error.code;
      var current = state && state.prompt && state.prompt.index === prompt;
      if (final(r) && answerInFlight === sending) answerInFlight = null;
      if (r.status === 201 || refusal === "already-wrote") {
        wroteFor[prompt] = true;
        if (current) { show("answer", false); show("received", true); }
        return;
      }
      // Refused for good: another picture may be chosen. Else the same one is sent again.
      if (final(r)) for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = false; buttons[i].classList.remove("chosen"); }
      else buttons[option].disabled = false;
      if (current) $("write-error").textContent = errorText(r.body);
      if (refusal === "standing-by") failedHere(from);
    }, function (error) {
      // No answer in time: tapping again sends the same picture; the page may move first.
      var chosen = $("options").querySelectorAll("button")[option];
      if (chosen) chosen.disabled = false;
      $("write-error").textContent = failure(error);
      failedHere(from);
    });
  }

  // Whether this page moved to another laptop than the one that served it.
  function moved() { return Halqa.nodeOrigin() !== Halqa.home(); }

  function resonate(id, button, retried) {
    if (button) button.disabled = true;
    tapOnces[id] = tapOnces[id] || Sealed.once();
    var from = Halqa.nodeOrigin();
    sealed("resonate", { reflection: id, once: tapOnces[id] }).then(function (r) {
      if (r.status === 401 && !retried) {
        var joining = rejoin();
        if (joining) joining.then(function () { if (token) resonate(id, button, true); });
        return;
      }
      if (final(r)) delete tapOnces[id];
      if (r.status === 204 || (r.body && r.body.error && r.body.error.code === "already-resonated")) {
        resonated[id] = true;
        drawReflections();  // the live update may already have redrawn the list
      } else {
        if (button) button.disabled = false;
        $("write-error").textContent = errorText(r.body);
      }
    }, function () {
      if (button) button.disabled = false;
      failedHere(from);
    });
  }

  function updateCount() {
    var n = graphemes($("text").value);
    $("count").textContent = t("write.count", { n: n, max: LIMIT });
    $("count").className = n > LIMIT ? "error" : "quiet";
  }

  function setLanguage(next) {
    lang = HALQA_TEXT[next] ? next : "en";
    store.setItem("l", lang);
    Halqa.applyLanguage(lang);
    updateCount();
    if (state) render(state);
  }

  // MARK: start

  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("[data-lang]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (event) { setLanguage(event.currentTarget.getAttribute("data-lang")); });
    }
    $("join-form").addEventListener("submit", function (event) { event.preventDefault(); join($("code").value); });
    $("write").addEventListener("submit", send);
    $("text").addEventListener("input", updateCount);
    setLanguage(lang);
    var roomKey = /[#&]r=([A-Za-z0-9_-]{43})/.exec(location.hash);
    if (roomKey) store.setItem("r", roomKey[1]);
    var fromLink = Halqa.takeFromHash("k");
    if (!Sealed.can()) { cannotSeal(); return; }
    if (fromLink) { join(fromLink); return; }
    // While he reads, the first key pair is made, so Send does not wait for it.
    key().then(function (k) { setTimeout(function () { Sealed.prepare(k); }, 0); }, function () {});
    if (token && viewKey) { mine(); follow(); return; }
    showJoin();
  });
})();
