#!/usr/bin/python3
"""A participant's phone on a virtual-hall host, driven one step at a time: Chromium at a
phone's size, run inside the host's network namespace by a test (test_vanish.py), which sends
one JSON command per line on stdin and reads one JSON answer per line on stdout.

  {"do": "get", "url": ...}                         opens an address
  {"do": "wait", "until": JS, "timeout": S}         waits until the expression is true: {"ok", "waited"}
  {"do": "type", "id": ..., "text": ...}            types into a field, as a phone's keyboard commits
  {"do": "click", "id": ...}                        taps a button
  {"do": "js", "script": ...}                       runs a script, answers {"value"}
  {"do": "shot", "path": ...}                       keeps a screenshot
  {"do": "peers"}                                   the addresses this host has open TCP connections to
  {"do": "quit"}
"""
import json
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def answer(value):
    print(json.dumps(value), flush=True)


def peers():
    """Established TCP connections of this host, as "address:port" of the other end."""
    out = subprocess.run(["ss", "-tnH", "state", "established"], capture_output=True, text=True).stdout
    return sorted({line.split()[-1] for line in out.splitlines() if line.split()})


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=en-US", "--window-size=360,740"):
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
try:
    for line in sys.stdin:
        command = json.loads(line)
        try:
            do = command["do"]
            if do == "get":
                driver.get(command["url"])
                answer({"ok": True})
            elif do == "wait":
                started = time.time()
                deadline = started + command.get("timeout", 30)
                ok = False
                while time.time() < deadline:
                    try:
                        if driver.execute_script("return !!(" + command["until"] + ")"):
                            ok = True
                            break
                    except Exception:
                        pass  # the page is between two documents
                    time.sleep(0.1)
                answer({"ok": ok, "waited": round(time.time() - started, 2), "page": "" if ok else
                        driver.find_element(By.TAG_NAME, "body").text[-500:],
                        "console": [] if ok else [e["message"] for e in driver.get_log("browser")][-10:]})
            elif do == "type":
                box = driver.find_element(By.ID, command["id"])
                driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))",
                                      box, command["text"])
                answer({"ok": True})
            elif do == "click":
                driver.find_element(By.ID, command["id"]).click()
                answer({"ok": True, "at": time.time()})
            elif do == "js":
                answer({"ok": True, "value": driver.execute_script(command["script"])})
            elif do == "shot":
                driver.save_screenshot(command["path"])
                answer({"ok": True})
            elif do == "peers":
                answer({"ok": True, "value": peers()})
            elif do == "quit":
                answer({"ok": True})
                break
        except Exception as error:
            answer({"ok": False, "error": f"{type(error).__name__}: {error}"})
finally:
    driver.quit()
