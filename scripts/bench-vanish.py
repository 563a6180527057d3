#!/usr/bin/python3
"""A laptop that vanishes, measured (run by scripts/bench-replication; needs root): in a virtual
hall, A hosts and B is admitted as co-facilitator; N simulated phones (Tests/browser/
hall_crowd.py, each its own address, following the page's rules) join on A. A is cut off the
LAN and every phone presses Send at once; A's process is killed 2 s later. Prints the time from
the cut until B notices (its console flags the single copy), until the last phone has moved,
and until the last phone's reflection is acknowledged by B. Asserts nothing.

  scripts/bench-vanish.py PATH/TO/halqa [--phones N]
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests", "browser"))
import test_vanish as hall  # noqa: E402

hall.HALQA = sys.argv[1]
phones = int(sys.argv[sys.argv.index("--phones") + 1]) if "--phones" in sys.argv else 200
case = hall.ALaptopThatVanishes("test_the_host_vanishes_and_the_meeting_goes_on")
case.setUp()
try:
    started = time.time()
    a, b, _, crowd = case.meeting(browsers=(), crowd_size=phones)
    print(f"{phones} phones joined on A and follow the room ({time.time() - started:.0f} s to set up)", flush=True)
    cut = time.time()
    case.hall_cmd("cut", case.hall, "1")
    crowd.send({"do": "write", "prompt": 0, "prefix": "crowd-", "spread": 0})
    noticed = None
    while time.time() - cut < 30 and noticed is None:
        nodes = case.console(hall.B, case.secret_b, "api/console").get("nodes") or {}
        if nodes.get("singleCopy"):
            noticed = time.time() - cut
        if time.time() - cut > 2 and a.process.poll() is None:
            a.stop(signal.SIGKILL)
        time.sleep(0.1)
    a.stop(signal.SIGKILL)
    acked = crowd.count('"event": "acked"', phones, timeout=120)
    events = [json.loads(line) for line in crowd.lines if line.startswith("{")]
    acks = [e for e in events if e.get("event") == "acked"]
    moves = [e for e in events if e.get("event") == "moved"]
    refused = [e for e in events if e.get("event") == "refused"]
    on_b = [e for e in acks if e["node"] == hall.URL[hall.B]]
    print(f"B noticed A was gone:            {noticed:.1f} s after the cut" if noticed else "B did not notice within 30 s")
    if moves:
        print(f"phones moved to B:               {len(moves)}, the last {max(m['at'] for m in moves) - cut:.1f} s after the cut")
    if on_b:
        print(f"reflections acknowledged by B:   {len(on_b)} of {phones}, the last {max(e['at'] for e in on_b) - cut:.1f} s after the cut"
              f" (median {sorted(e['at'] for e in on_b)[len(on_b) // 2] - cut:.1f} s)")
    print(f"acknowledged by A before the cut: {len(acks) - len(on_b)}; refused: {len(refused)}; all acknowledged: {acked}")
finally:
    case.doCleanups()
