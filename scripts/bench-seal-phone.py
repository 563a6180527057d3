#!/usr/bin/python3
"""A cheap phone sealing a reflection: the participant's page in Chromium at 360x740 with the
CPU slowed ×6 (Emulation.setCPUThrottlingRate, as DevTools' "low-end mobile"), sealing a
1,000-letter Urdu reflection with the page's own tweetnacl, 30 times; and opening a room view
of 40 revealed reflections, and deflated ones of 40 and 200 (pako's inflate). Prints figures (scripts/bench-seal runs it)."""
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import zlib

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

halqa = sys.argv[1]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
data = tempfile.mkdtemp(prefix="halqa-bench-seal-")
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
node = subprocess.Popen([halqa, "host", "--deck", os.path.join(root, "seeds/decks/real-man.deck"), "--port", str(port),
                         "--bind", "127.0.0.1", "--data", data, "--no-discovery"], stdout=subprocess.PIPE, text=True)
driver = None
try:
    banner = ""
    while "Press Ctrl-C" not in banner:
        banner += node.stdout.readline()
    link = re.search(r"the QR code opens  (\S+)", banner).group(1)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=360,740"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
    driver.get(f"http://127.0.0.1:{port}/")
    driver.execute_cdp_cmd("Emulation.setCPUThrottlingRate", {"rate": 6})
    import json, urllib.request
    key = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/seal-key").read())["key"]
    times = driver.execute_script("""
        var key = Sealed.fromText(arguments[0]), text = new Array(34).join('میرے والد غصے میں چیختے تھے۔ '), out = [];
        // The page's first seal (its join, as the page loads): nothing made ahead.
        var c0 = performance.now();
        Sealed.seal({op: 'join', body: {code: 'x'.repeat(40)}}, key);
        var cold = performance.now() - c0;
        // Then as he writes: the key pair made ahead while he read (Sealed.prepare), as the page does.
        for (var i = 0; i < 30; i++) {
          Sealed.prepare(key);
          var t0 = performance.now();
          Sealed.seal({op: 'reflect', token: 'x'.repeat(43), body: {prompt: 0, text: text}}, key);
          out.push(performance.now() - t0);
        }
        var w0 = performance.now();
        var pair = nacl.box.keyPair(); nacl.box.before(key, pair.secretKey);
        var keyWork = performance.now() - w0;
        var viewKey = nacl.randomBytes(32), view = {revealed: []};
        for (var j = 0; j < 40; j++) view.revealed.push({id: 'a'.repeat(64), text: text.slice(0, 300), resonance: j});
        var plain = new TextEncoder().encode(JSON.stringify(view)), nonce = nacl.randomBytes(24);
        var box = nacl.secretbox(plain, nonce, viewKey), both = new Uint8Array(24 + box.length);
        both.set(nonce, 0); both.set(box, 24);
        var b64 = btoa(String.fromCharCode.apply(null, both));
        var t1 = performance.now(); Sealed.openView(b64, viewKey); var viewTime = performance.now() - t1;
        return {seal: out, cold: cold, keyWork: keyWork, view: viewTime, viewBytes: plain.length};
        """, key)
    # The room's view as the node sends it to pages that ask: deflated (zlib, level 6), then
    # sealed; opening it inflates it with the page's pako. 40 and 200 reflections.
    # Each text its own: 300 letters of Urdu words drawn from the decks' prompts.
    words = sorted({w for name in os.listdir(os.path.join(root, "seeds/decks"))
                    for line in open(os.path.join(root, "seeds/decks", name), encoding="utf-8") if line.startswith("ur:")
                    for w in line[3:].split()})
    draw = random.Random(7)
    def reflection():
        out = ""
        while len(out) < 290:
            out += draw.choice(words) + " "
        return out[:300]
    packed = {}
    for n in (40, 200):
        view = json.dumps({"revealed": [{"id": "%064x" % draw.getrandbits(256), "text": reflection(), "resonance": j}
                                        for j in range(n)]}, ensure_ascii=False, separators=(",", ":")).encode()
        packed[str(n)] = {"size": len(view), "hex": zlib.compress(view, 6).hex()}
    inflating = driver.execute_script("""
        var packed = arguments[0], viewKey = nacl.randomBytes(32), out = {};
        function bytes(hex) { var out = new Uint8Array(hex.length / 2); for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16); return out; }
        Object.keys(packed).forEach(function (n) {
          var plain = bytes(packed[n].hex), nonce = nacl.randomBytes(24), box = nacl.secretbox(plain, nonce, viewKey);
          var both = new Uint8Array(24 + box.length); both.set(nonce, 0); both.set(box, 24);
          // The first, as the page's first view (its code not yet optimised), then ten more.
          var t0 = performance.now(), first = Sealed.openView(both, viewKey), cold = performance.now() - t0, runs = [], ok = true;
          for (var i = 0; i < 11; i++) {
            var t = performance.now(), view = Sealed.openView(both, viewKey);
            runs.push(performance.now() - t);
            ok = ok && !!view && view.revealed.length === Number(n);
          }
          runs.sort(function (a, b) { return a - b; });
          out[n] = {cold: cold, median: runs[5], bytes: plain.length, ok: ok && !!first && first.revealed.length === Number(n)};
        });
        return out;
        """, packed)
    seal = sorted(times["seal"])
    print(f"phone (Chromium, CPU ×6): the page's first seal (its join, nothing made ahead, code not yet optimised): {times['cold']:.1f} ms")
    print(f"phone (Chromium, CPU ×6): sealing a 1,000-letter Urdu reflection when he taps Send (key pair made while he read): "
          f"median {seal[len(seal) // 2]:.1f} ms, max {seal[-1]:.1f} ms (30 runs)")
    print(f"phone (Chromium, CPU ×6): making one key pair and its shared key ahead (warm): {times['keyWork']:.1f} ms")
    print(f"phone (Chromium, CPU ×6): opening a room view of 40 reflections ({times['viewBytes']} bytes): {times['view']:.1f} ms")
    for n in ("40", "200"):
        got = inflating[n]
        if not got["ok"]:
            sys.exit(f"the page did not open the deflated view of {n} reflections")
        print(f"phone (Chromium, CPU ×6): opening a deflated room view of {n} reflections ({packed[n]['size']} bytes, "
              f"{got['bytes']} deflated): first {got['cold']:.1f} ms, then median {got['median']:.1f} ms (11 runs)")
finally:
    if driver:
        driver.quit()
    node.terminate()
    node.wait(timeout=10)
    shutil.rmtree(data, ignore_errors=True)
