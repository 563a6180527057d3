#!/usr/bin/env node
// Writes Tests/fixtures/sealing-vector.json: fixed keys, nonces and messages sealed by the
// tweetnacl that phones run (Debian's node-tweetnacl), for the node's libsodium to open and
// match (NodeTests/SealingTests) and the page's copy to match again (browser test).
//   node scripts/sealing-vector.js > Tests/fixtures/sealing-vector.json
"use strict";
const nacl = require("/usr/share/nodejs/tweetnacl/nacl-fast.js");
const hex = (b) => Buffer.from(b).toString("hex");
const bytes = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
const nodeSecret = bytes(32, 7), ephemeralSecret = bytes(32, 101), nonce = bytes(24, 55), replyNonce = bytes(24, 77);
const message = JSON.stringify({ op: "reflect", token: "t0k3n", body: { prompt: 0, text: "میرے والد کہتے تھے کہ مرد روتا نہیں۔" } });
const json = new TextEncoder().encode(message);
const padded = new Uint8Array(8192);
padded[0] = json.length >> 8; padded[1] = json.length & 255; padded.set(json, 2);
const nodePublic = nacl.scalarMult.base(nodeSecret), ephemeralPublic = nacl.scalarMult.base(ephemeralSecret);
const box = nacl.box(padded, nonce, nodePublic, ephemeralSecret);
const reply = new TextEncoder().encode(JSON.stringify({ status: 201, body: { received: true } }));
const replyPadded = new Uint8Array(1024);
replyPadded[0] = reply.length >> 8; replyPadded[1] = reply.length & 255; replyPadded.set(reply, 2);
const replyBox = nacl.box(replyPadded, replyNonce, ephemeralPublic, nodeSecret);
const viewKey = bytes(32, 13), viewNonce = bytes(24, 3), view = new TextEncoder().encode('{"version":7}');
process.stdout.write(JSON.stringify({
  nodeSecret: hex(nodeSecret), nodePublic: hex(nodePublic), ephemeralSecret: hex(ephemeralSecret),
  ephemeralPublic: hex(ephemeralPublic), nonce: hex(nonce), message: message,
  request: hex(ephemeralPublic) + hex(nonce) + hex(box),
  replyNonce: hex(replyNonce), reply: hex(replyNonce) + hex(replyBox), replyMessage: new TextDecoder().decode(reply),
  viewKey: hex(viewKey), view: hex(viewNonce) + hex(nacl.secretbox(view, viewNonce, viewKey)), viewMessage: '{"version":7}',
}, null, 1) + "\n");
