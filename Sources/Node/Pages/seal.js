// Seals what a participant's page says to the node's key, and opens the node's answer
// (docs/threat-model.md, "Sealed requests"). NaCl's box from Debian's tweetnacl
// (nacl-fast.min.js, served by the node): a fresh X25519 key pair for every request, so the
// answer opens only here; random nonces from crypto.getRandomValues, which Chrome has over
// plain http (WebCrypto's subtle does not). Every request is the same size, whatever it says,
// and so is every answer. Plain ES2017, as the other pages.
"use strict";
var Sealed = (function () {
  var KEY = 32, NONCE = 24, REQUEST_PLAIN = 8192, REPLY_PLAIN = 1024;

  // Whether this browser can seal; a page that cannot says so and sends nothing plain.
  function can() {
    try {
      return !!(window.nacl && window.crypto && crypto.getRandomValues && window.TextEncoder && window.TextDecoder &&
        nacl.randomBytes(1).length === 1);
    } catch (e) { return false; }
  }

  // base64 or base64url to bytes; null if it is not base64.
  function bytesOf(text) {
    var s = String(text || "").replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    try {
      var raw = atob(s), out = new Uint8Array(raw.length);
      for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
      return out;
    } catch (e) { return null; }
  }

  // base64url to bytes; null unless it is `size` bytes (a key: 32).
  function fromText(text, size) {
    var out = bytesOf(text);
    return out && out.length === (size || KEY) ? out : null;
  }

  // A node's key to seal to, if the room signed it (`roomKey`, from the QR link); the node
  // makes a new one each time it starts, and every facilitator's laptop has its own.
  function trusted(keyText, signatureText, roomKey) {
    var key = fromText(keyText), signature = fromText(signatureText, 64);
    if (!key || !signature || !roomKey) return null;
    var label = new TextEncoder().encode("halqa seal key v1 "), message = new Uint8Array(label.length + KEY);
    message.set(label, 0); message.set(key, label.length);
    return nacl.sign.detached.verify(message, signature, roomKey) ? key : null;
  }

  // Length (2 bytes) · bytes · zeros, to `size`; null if it does not fit.
  function pad(bytes, size) {
    if (bytes.length > size - 2) return null;
    var out = new Uint8Array(size);
    out[0] = bytes.length >> 8; out[1] = bytes.length & 255;
    out.set(bytes, 2);
    return out;
  }

  function unpad(bytes) {
    var n = bytes[0] << 8 | bytes[1];
    return n <= bytes.length - 2 ? bytes.subarray(2, 2 + n) : null;
  }

  // The key pair of the next request and its shared key, made ahead (the X25519 work is
  // most of sealing, and on a slow phone the first time is slower still), so that when he
  // taps Send only the XSalsa20-Poly1305 of 8 KB is left to do.
  var ready = null;

  function sameKey(a, b) {
    if (a === b) return true;
    if (!a || !b || a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function prepare(nodeKey) {
    var pair = nacl.box.keyPair();
    ready = { nodeKey: nodeKey, pair: pair, shared: nacl.box.before(nodeKey, pair.secretKey) };
  }

  // Seals `message` (an object) to `nodeKey` (32 bytes): the request's body, and the shared
  // key its answer opens with. Each key pair is used once.
  function seal(message, nodeKey) {
    var padded = pad(new TextEncoder().encode(JSON.stringify(message)), REQUEST_PLAIN);
    if (!padded) return null;
    var made = ready && sameKey(ready.nodeKey, nodeKey) ? ready : null;
    ready = null;
    var pair = made ? made.pair : nacl.box.keyPair(), nonce = nacl.randomBytes(NONCE);
    var shared = made ? made.shared : nacl.box.before(nodeKey, pair.secretKey);
    setTimeout(function () { prepare(nodeKey); }, 0);
    var box = nacl.box.after(padded, nonce, shared);
    var body = new Uint8Array(KEY + NONCE + box.length);
    body.set(pair.publicKey, 0); body.set(nonce, KEY); body.set(box, KEY + NONCE);
    return { body: body, shared: shared };
  }

  function open(bytes, shared) {
    if (bytes.length !== NONCE + 16 + REPLY_PLAIN) return null;
    var opened = nacl.box.open.after(bytes.subarray(NONCE), bytes.subarray(0, NONCE), shared);
    var json = opened && unpad(opened);
    return json ? JSON.parse(new TextDecoder().decode(json)) : null;
  }

  // Sends a sealed request; resolves {status, body} as the plain API answers (the status
  // and body inside the sealed answer), rejects when the node cannot be reached.
  // Without an answer within `ms` (default 6 s: a reflection may wait up to 2 s for its
  // second copy), it rejects as an unreachable node does.
  function send(nodeKey, message, ms) {
    var sealed = seal(message, nodeKey);
    if (!sealed) return Promise.resolve({ status: 413, body: { error: { code: "too-large" } } });
    return Halqa.within("/api/sealed", {
      method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: sealed.body, cache: "no-store"
    }, ms || 6000).then(function (response) {
      if (response.status !== 200) {
        return response.json().then(function (json) { return { status: response.status, body: json }; },
          function () { return { status: response.status, body: null }; });
      }
      return response.arrayBuffer().then(function (buffer) {
        var reply = open(new Uint8Array(buffer), sealed.shared);
        if (!reply) return { status: 502, body: { error: { code: "sealed-unopenable" } } };
        return { status: reply.status, body: reply.body === undefined ? null : reply.body };
      });
    });
  }

  // Whether this page can take the room's view deflated (Debian's pako, served by the node).
  function inflates() { return !!(window.pako && pako.Inflate); }

  // The bytes `packed` (zlib's format) inflate to; null if they do not, or come to more than
  // 8 MiB (a forged frame must not take the phone's memory). The node deflates no view larger
  // than that (ViewDeflation.limit in RoomFeed.swift).
  var VIEW_LIMIT = 8 << 20;
  function inflated(packed) {
    var inflator = new pako.Inflate({ chunkSize: 65536 }), size = 0, keep = inflator.onData;
    inflator.onData = function (chunk) {
      size += chunk.length;
      if (size > VIEW_LIMIT) throw new Error("too large");
      keep.call(inflator, chunk);
    };
    inflator.push(packed, true);
    return inflator.err || !inflator.ended ? null : inflator.result;
  }

  // Opens the room's view or what changed in it, sealed with the view key of this page's join
  // (nonce · box, as bytes or base64); null if it does not open. Deflated (zlib's format,
  // first byte 0x78) when the page asked for it and that was smaller; JSON (`{`) otherwise.
  function openView(sealed, viewKey) {
    try {
      var bytes = typeof sealed === "string" ? bytesOf(sealed) : sealed;
      var opened = bytes && nacl.secretbox.open(bytes.subarray(NONCE), bytes.subarray(0, NONCE), viewKey);
      if (opened && opened.length && opened[0] !== 0x7b) opened = inflates() ? inflated(opened) : null;
      return opened ? JSON.parse(new TextDecoder().decode(opened)) : null;
    } catch (e) { return null; }
  }

  // What a page draws for one reflection or tap (16 random bytes, base64url), so that sending
  // it again, here or on another laptop of the session, is taken once.
  function once() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  return { can: can, fromText: fromText, once: once, trusted: trusted, prepare: prepare, seal: seal, open: open, send: send, openView: openView, inflates: inflates,
           requestPlain: REQUEST_PLAIN };
})();
