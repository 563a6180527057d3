#!/usr/bin/python3
"""A participant's phone on a virtual-hall host: Chromium with its own user agent joins a node,
writes one reflection, waits for the reveal and resonates. Run inside a hall host by
test_pages.py (NoIdentityAtRest); prints one JSON line per step with everything that could
identify this phone to the node: its token, cookies, and the TCP ports it used.

  hall_phone.py JOIN_LINK USER_AGENT TEXT
"""
import json
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

link, agent, text = sys.argv[1:4]
node_host = link.split("//")[1].split(":")[0]
ports = set()


def note_ports():
    """The local ports of this host's connections to the node, as the node saw them."""
    out = subprocess.run(["ss", "-tnH", "dst", node_host], capture_output=True, text=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            ports.add(int(fields[3].rsplit(":", 1)[1]))


def say(event, driver):
    note_ports()
    print(json.dumps({"event": event, "token": driver.execute_script("return sessionStorage.getItem('t')"),
                      "cookies": [c["value"] for c in driver.get_cookies()], "ports": sorted(ports)}), flush=True)


def wait(driver, condition, what, timeout=60):
    sys.stderr.write(f"{time.time():.1f} waiting for {what}\n")
    deadline = time.time() + timeout
    while True:
        note_ports()
        try:
            return WebDriverWait(driver, 1, ignored_exceptions=[StaleElementReferenceException]).until(lambda d: condition(d))
        except Exception:
            if time.time() > deadline:
                body = driver.find_element(By.TAG_NAME, "body").text
                logs = [entry["message"] for entry in driver.get_log("browser")]
                logs.append(driver.execute_async_script(
                    "var done = arguments[0]; fetch('/api/room').then(function (r) { return r.text(); })"
                    ".then(function (t) { done(t.length + ' bytes of sealed view'); }, function (e) { done(String(e)); });"))
                raise RuntimeError(f"timed out waiting for {what}; the page shows:\n{body}\nconsole: {logs}")


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=en-US", "--window-size=360,740",
             "--user-agent=" + agent):
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
try:
    driver.get(link)
    wait(driver, lambda d: d.find_element(By.ID, "write").is_displayed(), "the writing box")
    box = driver.find_element(By.ID, "text")
    if text.isascii():
        box.send_keys(text)
    else:
        # ChromeDriver types other scripts a character a second; a phone's keyboard (an IME)
        # commits the text at once, as this does.
        driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))", box, text)
    driver.find_element(By.ID, "send").click()
    wait(driver, lambda d: d.find_element(By.ID, "received").is_displayed(), "received")
    say("received", driver)
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#reflections li")) >= 2, "the reveal")
    driver.find_elements(By.CSS_SELECTOR, "#reflections button.resonate")[0].click()
    wait(driver, lambda d: "Resonates with you" in d.find_element(By.ID, "reflections").text, "the resonance")
    say("revealed", driver)
except Exception as error:
    print(json.dumps({"event": "error", "error": f"{type(error).__name__}: {error}"}), flush=True)
    sys.exit(1)
finally:
    driver.quit()
