// The organiser's archive (docs/archive.md): sessions of many groups listed a page at a time
// and filtered, read as the room saw them, searched, charted per group, collected from
// exports and reported as CSV. Every word is in the organiser's language (i18n-archive.js);
// text always goes in with textContent, never as HTML.
"use strict";
(function () {
  var $ = Halqa.$;
  var secret = Halqa.takeFromHash("key") || sessionStorage.getItem("halqa.archive.key");
  var lang = Halqa.startingLanguage(localStorage.getItem("halqa.archive.lang"));
  var filter = {}, shown = 0, total = 0, choices = null, lastView = "sessions", openGroupName = null, openSessionId = null;
  var COLOURS = { faces: ["#8c4a3c", "#b7794f", "#9a9a86", "#5f8f7a", "#2f6f73"], agree: ["#2f6f73", "#9a9a86", "#8c4a3c"] };
  var LANGUAGES = { en: "English", ur: "اردو", ps: "پښتو" };

  function t(key, values) { return Halqa.t(lang, key, values); }
  function n(value) { return Halqa.digits(lang, value); }
  function get(path) { return Halqa.api("GET", path, secret); }

  function el(tag, className, text, textLang) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    if (textLang) { node.lang = textLang; node.dir = Halqa.RTL[textLang] ? "rtl" : "ltr"; }
    return node;
  }

  var query = Halqa.query;

  function failed(r) {
    if (!r) { $("error").textContent = t("archive.unreachable"); return true; }
    if (r.status === 401 || r.status === 403) { $("locked").hidden = false; $("tabs").hidden = true; return true; }
    if (r.status !== 200) { $("error").textContent = r.body && r.body.error ? r.body.error.message : t("archive.failed"); return true; }
    $("error").textContent = "";
    return false;
  }
  function unreachable() { $("error").textContent = t("archive.unreachable"); }

  function day(ms) { return n(new Date(ms).toISOString().slice(0, 10)); }

  // A line of facts joined by " · ", each isolated so that a date, a group's label or a
  // language's name in another script keeps its own direction; a date always reads 2026-03-21.
  function metaLine(parts) {
    var line = el("p", "meta");
    parts.forEach(function (part, i) {
      if (i) line.appendChild(document.createTextNode(" · "));
      var span = el("span", "part", part.text, part.lang);
      if (part.date) span.dir = "ltr";
      line.appendChild(span);
    });
    return line;
  }
  function dayPart(ms) { return { text: day(ms), date: true }; }
  function languagePart(code) { return { text: LANGUAGES[code] || code, lang: LANGUAGES[code] ? code : null }; }

  function show(view) {
    var sections = document.querySelectorAll("[data-section]");
    for (var i = 0; i < sections.length; i++) sections[i].hidden = sections[i].id !== view;
    var tabs = document.querySelectorAll("[data-view]");
    var tab = view === "session" ? lastView : view;
    for (var j = 0; j < tabs.length; j++) tabs[j].setAttribute("aria-current", tabs[j].getAttribute("data-view") === tab);
    if (view !== "session") lastView = view;
  }

  // "Week 4 of 12 · group Tuesday men", or nothing for a session outside a programme.
  function placeText(entry) {
    if (!entry.week) return "";
    return t("archive.week", { n: entry.week, of: entry.weeks, group: entry.group });
  }

  function programmeTitle(entry) { return entry.programme ? Halqa.pick(entry.programme, lang) : null; }

  // One session in the list: its title, when and where it stands, and counts (never who).
  function card(entry) {
    var item = el("li", "session-card");
    item.tabIndex = 0;
    item.setAttribute("role", "link");
    item.appendChild(el("h3", null, entry.title));
    var meta = [dayPart(entry.createdAt), languagePart(entry.language)];
    if (entry.week) meta.splice(1, 0, { text: placeText(entry) });
    var programme = programmeTitle(entry);
    item.appendChild(metaLine(meta));
    if (programme) item.appendChild(el("p", "meta", programme.text, programme.lang));
    item.appendChild(counts(entry));
    function open() { openSession(entry.id); }
    item.addEventListener("click", open);
    item.addEventListener("keydown", function (e) { if (e.key === "Enter") open(); });
    return item;
  }

  function counts(entry) {
    var list = el("ul", "counts");
    [["archive.count.prompts", { n: entry.promptsHeld, of: entry.prompts }],
     ["archive.count.reflections", { n: entry.reflections }],
     ["archive.count.answers", { n: entry.answers }],
     ["archive.count.phones", { n: entry.phones }]].forEach(function (pair) {
      list.appendChild(el("li", null, t(pair[0], pair[1])));
    });
    return list;
  }

  // ---- The list ----
  function fillSelect(select, values, allKey, label) {
    var keep = select.value;
    Halqa.clear(select);
    var all = el("option", null, t(allKey));
    all.value = "";
    select.appendChild(all);
    values.forEach(function (value) {
      var option = el("option", null, label ? label(value) : value);
      option.value = value;
      select.appendChild(option);
    });
    select.value = keep;
  }

  function loadChoices() {
    return get("/api/archive/choices").then(function (r) {
      if (failed(r)) return;
      choices = r.body;
      drawChoices();
    }, unreachable);
  }

  function drawChoices() {
    if (!choices) return;
    fillSelect($("f-group"), choices.groups, "archive.filter.all-groups");
    fillSelect($("f-programme"), choices.programmes, "archive.filter.all-programmes");
    fillSelect($("f-language"), choices.languages, "archive.filter.all-languages", function (l) { return LANGUAGES[l] || l; });
    fillSelect($("g-group"), choices.groups, "archive.group.none");
    $("keep-now").textContent = choices.keepDays ? t("archive.keep.now", { n: choices.keepDays }) : t("archive.keep.forever");
  }

  function loadList(more) {
    var offset = more ? shown : 0;
    return get("/api/archive/sessions" + query(Object.assign({ offset: offset, limit: 50 }, filter))).then(function (r) {
      if (failed(r)) return;
      if (!more) { Halqa.clear($("list")); shown = 0; }
      total = r.body.total;
      r.body.entries.forEach(function (entry) { $("list").appendChild(card(entry)); });
      shown += r.body.entries.length;
      drawCount();
    }, unreachable);
  }

  function drawCount() {
    $("count").textContent = total === 0 ? t("archive.none") : t("archive.count", { n: total, shown: shown });
    $("more").hidden = shown >= total;
  }

  $("filters").addEventListener("submit", function (e) {
    e.preventDefault();
    filter = {
      group: $("f-group").value, programme: $("f-programme").value, week: $("f-week").value,
      from: $("f-from").value, to: $("f-to").value, language: $("f-language").value
    };
    loadList(false);
  });
  $("f-clear").addEventListener("click", function () {
    ["f-group", "f-programme", "f-week", "f-from", "f-to", "f-language"].forEach(function (id) { $(id).value = ""; });
    filter = {};
    loadList(false);
  });
  $("more").addEventListener("click", function () { loadList(true); });

  // ---- One session, as the room saw it ----
  function openSession(id) {
    return get("/api/archive/sessions/" + encodeURIComponent(id)).then(function (r) {
      if (failed(r)) return;
      openSessionId = id;
      drawSession(r.body);
      show("session");
      window.scrollTo(0, 0);
    }, unreachable);
  }

  function drawSession(page) {
    var box = $("transcript"), s = page.transcript.session, entry = page.entry;
    Halqa.clear(box);
    box.appendChild(el("h1", null, s.title));
    var meta = [dayPart(entry.createdAt), languagePart(entry.language)];
    if (entry.closedAt) meta.push({ text: t("archive.minutes", { n: Math.floor((entry.closedAt - entry.createdAt) / 60000) }) });
    box.appendChild(metaLine(meta));
    if (entry.week) {
      var programme = programmeTitle(entry);
      box.appendChild(el("p", "meta", placeText(entry)));
      if (programme) box.appendChild(el("p", "meta", programme.text, programme.lang));
    }
    box.appendChild(counts(entry));
    page.transcript.prompts.forEach(function (prompt) {
      var part = el("section", "transcript-prompt");
      var text = Halqa.pick(prompt.text, lang);
      part.appendChild(el("p", "prompt-number", t("archive.prompt", { n: prompt.number })));
      part.appendChild(el("p", "prompt-text small", text.text, text.lang));
      if (prompt.status === "waiting") part.appendChild(el("p", "quiet", t("archive.not-held")));
      if (prompt.checkIn) {
        var chart = el("div", "chart-box");
        Halqa.drawChart(chart, { chart: page.charts[String(prompt.number)] }, prompt.checkIn.scale, lang);
        part.appendChild(chart);
        var answered = prompt.checkIn.counts.reduce(function (a, c) { return a + c.count; }, 0);
        part.appendChild(el("p", "quiet", t("archive.answered", { n: answered })));
      } else if (prompt.reflections.length) {
        var list = el("ul", "reflections");
        prompt.reflections.forEach(function (reflection) {
          var item = el("li");
          item.appendChild(el("p", "reflection-text", reflection.text));
          if (reflection.resonance) item.appendChild(el("p", "resonance", t("archive.resonance", { n: reflection.resonance })));
          list.appendChild(item);
        });
        part.appendChild(list);
      } else if (prompt.status !== "waiting") {
        part.appendChild(el("p", "quiet", t("archive.no-reflections")));
      }
      prompt.notes.forEach(function (note) { part.appendChild(el("p", "notes", t("archive.note", { text: note.text }))); });
      box.appendChild(part);
    });
    if (page.transcript.notes.length) {
      box.appendChild(el("h2", null, t("archive.session-notes")));
      page.transcript.notes.forEach(function (note) { box.appendChild(el("p", "notes", note.text)); });
    }
  }

  $("back").addEventListener("click", function () { show(lastView); });

  // ---- Search ----
  // A snippet with the words found between « and », as marks.
  function snippet(text) {
    var p = el("p", "passage");
    text.split(/([«»])/).reduce(function (inside, part) {
      if (part === "«") return true;
      if (part === "»") return false;
      if (part) p.appendChild(inside ? el("mark", null, part) : document.createTextNode(part));
      return inside;
    }, false);
    return p;
  }

  $("search-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var words = $("q").value.trim();
    if (!words) return;
    Halqa.clear($("results"));
    $("found").textContent = "";
    get("/api/archive/search" + query({ q: words })).then(function (r) {
      if (failed(r)) return;
      Halqa.clear($("results"));
      var passages = r.body.reduce(function (a, g) { return a + g.passages.length; }, 0);
      $("found").textContent = passages ? t("archive.found", { n: passages, sessions: r.body.length }) : t("archive.found-none");
      r.body.forEach(function (group) {
        var item = el("li", "result");
        var title = el("h3", null, group.entry ? group.entry.title : group.session.slice(0, 12));
        title.tabIndex = 0;
        title.addEventListener("click", function () { openSession(group.session); });
        title.addEventListener("keydown", function (e) { if (e.key === "Enter") openSession(group.session); });
        item.appendChild(title);
        if (group.entry) {
          var meta = [dayPart(group.entry.createdAt)];
          if (group.entry.week) meta.push({ text: placeText(group.entry) });
          item.appendChild(metaLine(meta));
        }
        group.passages.forEach(function (passage) {
          var kind = passage.prompt ? t("archive.kind." + passage.kind + ".n", { n: passage.prompt }) : t("archive.kind." + passage.kind);
          item.appendChild(el("span", "passage-kind", kind));
          // In the session's language, the nearest guess of the passage's own script and font.
          var found = snippet(passage.snippet);
          if (group.entry) found.lang = group.entry.language;
          item.appendChild(found);
        });
        $("results").appendChild(item);
      });
    }, unreachable);
  });

  // ---- A group: weeks held and check-ins week by week ----
  function openGroup(name) {
    openGroupName = name;
    if (!name) { Halqa.clear($("group")); return; }
    get("/api/archive/group" + query({ name: name })).then(function (r) {
      if (failed(r)) return;
      drawGroup(name, r.body);
    }, unreachable);
  }

  // A stacked bar: each option's share of a check-in's answers, its count written inside.
  function bar(counts, scale) {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
    var sum = counts.reduce(function (a, c) { return a + c; }, 0) || 1, x = 0;
    svg.setAttribute("viewBox", "0 0 1000 40");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    counts.forEach(function (count, i) {
      var width = 1000 * count / sum;
      var rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", x); rect.setAttribute("y", 0); rect.setAttribute("width", width); rect.setAttribute("height", 40);
      rect.setAttribute("fill", COLOURS[scale][i]);
      svg.appendChild(rect);
      x += width;
    });
    var label = counts.map(function (c, i) { return t("checkin." + scale + "." + i) + " " + n(c); }).join(", ");
    svg.setAttribute("aria-label", label);
    var title = document.createElementNS(ns, "title");
    title.textContent = label;
    svg.appendChild(title);
    return svg;
  }

  function legend(scale) {
    var list = el("ul", "legend");
    Halqa.checkInOptions(scale, lang).forEach(function (option, i) {
      var item = el("li");
      var swatch = el("span", "swatch");
      swatch.style.background = COLOURS[scale][i];
      item.appendChild(swatch);
      item.appendChild(option.picture);
      item.appendChild(option.word);
      list.appendChild(item);
    });
    return list;
  }

  function drawGroup(name, entries) {
    var box = $("group");
    Halqa.clear(box);
    var row = el("div", "row no-print");
    var print = el("button", "print", t("archive.print"));
    print.type = "button";
    print.addEventListener("click", function () { window.print(); });
    row.appendChild(print);
    box.appendChild(row);
    box.appendChild(el("h1", null, t("archive.group.title", { group: name })));
    var weeks = entries.reduce(function (m, e) { return Math.max(m, e.weeks || 0); }, 0);
    var programme = entries.filter(function (e) { return e.programme; })[0];
    if (programme) {
      var title = programmeTitle(programme);
      box.appendChild(el("p", "meta", title.text, title.lang));
    }
    box.appendChild(el("p", "meta", t("archive.group.sessions", { n: entries.length })));
    if (weeks) {
      var held = {};
      entries.forEach(function (e) { if (e.week) held[e.week] = e; });
      box.appendChild(el("h2", null, t("archive.group.weeks", { n: Object.keys(held).length, of: weeks })));
      var list = el("ul", "weeks");
      for (var w = 1; w <= weeks; w++) {
        var item = el("li", held[w] ? "held" : "", n(w));
        item.title = held[w] ? t("archive.group.held", { n: w, day: day(held[w].createdAt) }) : t("archive.group.not-held", { n: w });
        item.setAttribute("aria-label", item.title);
        list.appendChild(item);
      }
      box.appendChild(list);
    }
    var scales = {};
    var rows = [];
    entries.forEach(function (e) {
      e.perPrompt.forEach(function (p) {
        if (!p.scale || !p.counts) return;
        scales[p.scale] = true;
        rows.push({ entry: e, prompt: p });
      });
    });
    box.appendChild(el("h2", null, t("archive.group.checkins")));
    if (!rows.length) { box.appendChild(el("p", "quiet", t("archive.group.no-checkins"))); return; }
    Object.keys(scales).sort().forEach(function (scale) {
      box.appendChild(legend(scale));
      var chart = el("div", "week-chart");
      rows.filter(function (r) { return r.prompt.scale === scale; }).forEach(function (r) {
        var line = el("div", "week-row");
        var label = r.entry.week ? t("archive.group.row", { n: r.entry.week, prompt: r.prompt.number }) : day(r.entry.createdAt);
        var text = Halqa.pick(r.prompt.text, lang);
        var cell = el("span", "week-label", label);
        cell.title = text.text;
        line.appendChild(cell);
        var barBox = el("span", "week-bar");
        barBox.appendChild(bar(r.prompt.counts, scale));
        line.appendChild(barBox);
        line.appendChild(el("span", "week-total", n(r.prompt.counts.reduce(function (a, c) { return a + c; }, 0))));
        chart.appendChild(line);
      });
      box.appendChild(chart);
    });
  }

  $("g-group").addEventListener("change", function () { openGroup($("g-group").value); });

  // ---- Collecting exports ----
  function utf8base64(text) {
    var bytes = new TextEncoder().encode(text), binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary);
  }

  $("import").addEventListener("click", function () {
    var files = Array.prototype.slice.call($("files").files || []);
    if (!files.length) { $("import-summary").textContent = t("archive.collect.choose"); return; }
    var passphrase = $("passphrase").value, tally = {};
    Halqa.clear($("imported"));
    $("import").disabled = true;
    files.reduce(function (previous, file) {
      return previous.then(function () {
        var headers = { "Authorization": "Bearer " + secret, "Content-Type": "application/octet-stream" };
        if (passphrase) headers["X-Halqa-Passphrase"] = utf8base64(passphrase);
        return fetch("/api/archive/import" + query({ name: file.name }), { method: "POST", headers: headers, body: file })
          .then(function (response) { return response.json(); })
          .then(function (outcome) {
            var kind = outcome.kind || "refused";
            tally[kind] = (tally[kind] || 0) + 1;
            var item = el("li", "outcome-" + kind);
            item.appendChild(el("span", "file-name", file.name));
            // The outcome in the reader's words; the session's title, or why a file was refused
            // (the node's words, in English: they name what went wrong for whoever fixes it).
            var message = outcome.error ? outcome.error.message : kind === "refused" ? outcome.message : outcome.title || "";
            item.appendChild(document.createTextNode(" — " + t("archive.outcome." + kind) + (message ? ": " + message : "")));
            $("imported").appendChild(item);
          }, function () { tally.refused = (tally.refused || 0) + 1; });
      });
    }, Promise.resolve()).then(function () {
      $("import").disabled = false;
      $("import-summary").textContent = t("archive.collect.done", {
        n: files.length, added: tally.added || 0, merged: tally.merged || 0, here: tally["already-here"] || 0,
        refused: tally.refused || 0, skipped: tally.skipped || 0
      });
      loadChoices();
      loadList(false);
    });
  });

  // ---- Reports: the list's filter, fetched with the secret and saved as a file ----
  var reportButtons = document.querySelectorAll("[data-report]");
  for (var i = 0; i < reportButtons.length; i++) {
    reportButtons[i].addEventListener("click", function (e) {
      var name = e.currentTarget.getAttribute("data-report");
      Halqa.within("/api/archive/report/" + name + query(filter), { headers: { "Authorization": "Bearer " + secret } }, 600000)
        .then(function (response) {
          // An error is said on the page, never saved as if it were the table.
          if (!response.ok) {
            return response.json().then(function (body) {
              $("error").textContent = body && body.error ? body.error.message : t("archive.failed");
              return null;
            }, function () { $("error").textContent = t("archive.failed"); return null; });
          }
          return response.blob();
        })
        .then(function (blob) {
          if (!blob) return;
          var link = el("a");
          link.href = URL.createObjectURL(blob);
          link.download = name;
          document.body.appendChild(link);
          link.click();
          setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
        }, unreachable);
    });
  }

  // ---- Retention ----
  var older = null;
  $("keep-check").addEventListener("click", function () {
    var days = parseInt($("keep-days").value, 10);
    if (isNaN(days) || days < 0) { $("keep-result").textContent = t("archive.keep.number"); return; }
    Halqa.api("POST", "/api/archive/retention", secret, { keepDays: days }).then(function (r) {
      if (failed(r)) return;
      older = r.body;
      Halqa.clear($("keep-list"));
      if (!r.body.keepDays) {
        $("keep-result").textContent = t("archive.keep.forever");
        $("keep-wipe").hidden = true;
        loadChoices();
        return;
      }
      $("keep-result").textContent = r.body.older.length ? t("archive.keep.older", { n: r.body.older.length, days: days }) : t("archive.keep.none-older", { days: days });
      r.body.older.slice(0, 50).forEach(function (entry) {
        var parts = [dayPart(entry.createdAt), { text: entry.title }];
        if (entry.week) parts.push({ text: placeText(entry) });
        var line = metaLine(parts);
        var item = el("li");
        item.appendChild(line);
        $("keep-list").appendChild(item);
      });
      $("keep-wipe").hidden = false;
      $("keep-wipe").textContent = r.body.older.length ? t("archive.keep.wipe", { n: r.body.older.length, days: days }) : t("archive.keep.save", { days: days });
    }, unreachable);
  });
  $("keep-wipe").addEventListener("click", function () {
    if (!older) return;
    Halqa.api("POST", "/api/archive/retention", secret,
              { keepDays: older.keepDays, before: older.before, count: older.older.length, confirm: "WIPE" }, 600000).then(function (r) {
      if (failed(r)) return;
      $("keep-result").textContent = t("archive.keep.wiped", { n: r.body.wiped || 0, days: r.body.keepDays });
      $("keep-wipe").hidden = true;
      Halqa.clear($("keep-list"));
      older = null;
      loadChoices();
      loadList(false);
    }, unreachable);
  });

  // ---- Language, tabs, printing ----
  function setLanguage(chosen) {
    lang = chosen;
    localStorage.setItem("halqa.archive.lang", lang);
    Halqa.applyLanguage(lang);
    drawChoices();
    if (!secret) return;
    loadList(false);
    if (openGroupName) openGroup(openGroupName);
    if (!$("session").hidden && openSessionId) openSession(openSessionId);
  }
  var languageButtons = document.querySelectorAll("[data-lang]");
  for (var j = 0; j < languageButtons.length; j++) {
    languageButtons[j].addEventListener("click", function (e) { setLanguage(e.currentTarget.getAttribute("data-lang")); });
  }
  var tabs = document.querySelectorAll("[data-view]");
  for (var k = 0; k < tabs.length; k++) {
    tabs[k].addEventListener("click", function (e) { show(e.currentTarget.getAttribute("data-view")); });
  }
  var prints = document.querySelectorAll("button.print");
  for (var p = 0; p < prints.length; p++) prints[p].addEventListener("click", function () { window.print(); });

  Halqa.applyLanguage(lang);
  if (!secret) {
    $("locked").hidden = false;
  } else {
    sessionStorage.setItem("halqa.archive.key", secret);
    $("tabs").hidden = false;
    show("sessions");
    loadChoices();
    loadList(false);
  }
})();
