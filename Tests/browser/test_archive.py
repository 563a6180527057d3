#!/usr/bin/python3
"""The organiser's archive (`halqa archive`) in a real browser, its printed pages and its reports.

A synthetic quarter of three groups (halqa-dev synthetic-year) and one session written with
Arabic look-alike letters are collected from a "USB stick" folder; the page lists, filters,
reads, searches (Urdu and Pashto typed both ways) and charts them at 1280x800 and 360x640 in
English, Urdu and Pashto; a session and a group print to A4 PDF (pdftoppm makes the pages into
pictures to look at); the CSV reports open in Python's csv module and in LibreOffice with Urdu
intact, and their columns are the ones docs/archive.md lists. Screenshots and pages go to
.build/screenshots/archive: look at them.

Run by scripts/test; by hand: /usr/bin/python3 Tests/browser/test_archive.py PATH/TO/halqa
"""
import base64
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.request
import zipfile

from selenium.webdriver.common.by import By
from selenium.webdriver.common.print_page_options import PrintOptions

import test_pages
from test_pages import ROOT, BrowserCase, browser, free_port

SHOTS = os.path.join(test_pages.SHOTS, "archive")

# A session whose Urdu and Pashto were typed on a keyboard that gives Arabic letters (ي ك ه)
# where Urdu and Pashto have their own (ی ک ہ), with a vowel mark, a tatweel and a zero-width
# non-joiner: search typed the usual way must still find it, and the other way round.
ODD_DECK = """title: Anger and the body
language: ur

[prompt]
en: Where in your body do you feel anger first?
ur: غصہ سب سے پہلے جسم میں کہاں محسوس ہوتا ہے؟
"""
ODD_REFLECTIONS = [
    "مىں نے سىکھا كه طاقت خاموشي ميں ہے",          # Arabic yeh and kaf and heh: "طاقت خاموشی میں ہے"
    "زه په كلي كې كمزوري نه يم",                     # Pashto with Arabic kaf and yeh: "کلي", "کمزوري"
    "غـــصہ آتا ہے تو مَیں چپ رہتا ہوں",              # tatweel and a zabar
]


def run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)


class Archive:
    """A `halqa archive` process on loopback, with its secret link."""

    def __init__(self, data):
        self.data = data
        self.port = free_port()
        self.process = subprocess.Popen([test_pages.HALQA, "archive", "--data", data, "--port", str(self.port)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        said = test_pages.banner(self.process, "halqa archive")
        self.link = re.search(r"(http://127\.0\.0\.1:\d+/#key=\w+)", said).group(1)
        self.key = self.link.split("#key=")[1]
        self.base = "http://127.0.0.1:%d/" % self.port

    def get(self, path):
        request = urllib.request.Request(self.base + path.lstrip("/"), headers={"Authorization": "Bearer " + self.key})
        with urllib.request.urlopen(request) as response:
            return response.read()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        self.process.stdout.close()


def odd_session(folder):
    """Hosts a session of ODD_DECK, writes ODD_REFLECTIONS, reveals, closes and exports it."""
    data = tempfile.mkdtemp(prefix="halqa-odd-")
    deck = os.path.join(data, "odd.deck")
    with open(deck, "w") as f:
        f.write(ODD_DECK)
    node = test_pages.Node.__new__(test_pages.Node)
    node.data, node.port = data, free_port()
    node.start(["--deck", deck, "--title", "Typed the other way"])
    try:
        secret = node.console.split("#key=")[1]
        node.post("/api/console/open", {"prompt": 0}, secret)
        for text in ODD_REFLECTIONS:
            token = node.post("/api/join", {"code": node.code})["token"]
            node.post("/api/reflections", {"prompt": 0, "text": text}, token)
        node.post("/api/console/reveal", {"prompt": 0}, secret)
        node.post("/api/console/close", {}, secret)
        node.process.send_signal(signal.SIGTERM)
        node.process.wait(timeout=10)
        node.process.stdout.close()
        out = run(test_pages.HALQA, "export", node.session, "--format", "json", "--data", data,
                  "--output", os.path.join(folder, "odd.json"))
        assert out.returncode == 0, out.stdout + out.stderr
    finally:
        shutil.rmtree(data, ignore_errors=True)


class TheOrganisersArchive(BrowserCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="halqa-archive-")
        cls.usb = os.path.join(cls.work, "usb")
        cls.data = os.path.join(cls.work, "data")
        dev = os.path.join(os.path.dirname(test_pages.HALQA), "halqa-dev")
        made = run(dev, "synthetic-year", "--out", cls.usb, "--groups", "3", "--sessions", "14", "--men", "6", cwd=ROOT)
        assert made.returncode == 0, made.stdout + made.stderr
        odd_session(cls.usb)
        imported = run(test_pages.HALQA, "archive", "import", "--data", cls.data, cls.usb)
        assert imported.returncode == 0, imported.stdout + imported.stderr
        assert "43 added" in imported.stdout, imported.stdout
        cls.archive = Archive(cls.data)
        os.makedirs(SHOTS, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.archive.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def shot(self, driver, name):
        driver.save_screenshot(os.path.join(SHOTS, name + ".png"))

    def open(self, lang, size):
        driver = browser(phone=size[0] < 600, lang=lang, size=size)
        if size[0] >= 600:
            driver.set_window_size(*size)
        driver.get(self.archive.link)
        self.wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#list .session-card"), "the list appears")
        # A language asks for the list again and draws it anew: wait for the new cards, so that
        # what the test then clicks or reads is not replaced under it.
        driver.execute_script("window.listBefore = document.querySelector('#list .session-card');")
        driver.find_element(By.CSS_SELECTOR, "[data-lang='%s']" % lang).click()
        self.wait(driver, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang, "the language changes")
        self.wait(driver, lambda d: d.execute_script("var c = document.querySelector('#list .session-card');"
                                                     "return c !== null && !window.listBefore.isConnected;"), "the list is drawn again")
        return driver

    def tab(self, driver, view):
        driver.find_element(By.CSS_SELECTOR, "[data-view='%s']" % view).click()

    def test_list_filter_read_search_and_chart_in_every_language_and_size(self):
        for lang in ("en", "ur", "ps"):
            for size in ((1280, 800), (360, 640)):
                name = "%s-%dx%d" % (lang, size[0], size[1])
                driver = self.open(lang, size)
                try:
                    self.check_page(driver, lang, name)
                finally:
                    driver.quit()

    def check_page(self, driver, lang, name):
        # The list: 43 sessions, 50 a page; nothing on the page says who.
        self.wait(driver, lambda d: "43" in d.find_element(By.ID, "count").text, "the count of sessions")
        self.assertEqual(len(driver.find_elements(By.CSS_SELECTOR, "#list .session-card")), 43)
        self.assertTrue(driver.find_element(By.ID, "more").get_attribute("hidden"))
        self.fits(driver, name + " list")
        self.shot(driver, "list-" + name)
        # Filtered by group and week: the two sessions of week 2 of G-002.
        from selenium.webdriver.support.ui import Select
        Select(driver.find_element(By.ID, "f-group")).select_by_value("G-002")
        driver.find_element(By.ID, "f-week").send_keys("2")
        driver.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        self.wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#list .session-card")) == 2, "two sessions of week 2")
        cards = driver.find_elements(By.CSS_SELECTOR, "#list .session-card")
        self.assertTrue(all("G-002" in c.text for c in cards))
        self.shot(driver, "filtered-" + name)
        # Read one: its prompts, its revealed reflections, its check-in charts with pictures.
        cards[0].click()
        self.wait(driver, lambda d: d.find_element(By.ID, "session").is_displayed(), "the session opens")
        self.assertGreater(len(driver.find_elements(By.CSS_SELECTOR, "#transcript .reflections li")), 5)
        self.assertGreater(len(driver.find_elements(By.CSS_SELECTOR, "#transcript .chart-box svg")), 0)
        self.fits(driver, name + " session")
        self.shot(driver, "session-" + name)
        driver.find_element(By.ID, "back").click()
        # Search, typed with Urdu letters, finds the session typed with Arabic ones, and the
        # other way round; the words found are marked.
        self.tab(driver, "search")
        for words, expect in (("طاقت خاموشی", "Typed the other way"), ("کمزوري کلي", "Typed the other way"),
                              ("كمزور", None), ("غصہ", None)):
            box = driver.find_element(By.ID, "q")
            box.clear()
            box.send_keys(words)
            driver.find_element(By.CSS_SELECTOR, "#search-form button").click()
            self.wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#results .result mark"), "marked results for " + words)
            titles = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#results .result h3")]
            if expect:
                self.assertIn(expect, titles, words)
        self.fits(driver, name + " search")
        self.shot(driver, "search-" + name)
        # A group: its weeks held, and its check-ins week by week.
        self.tab(driver, "groups")
        Select(driver.find_element(By.ID, "g-group")).select_by_value("G-001")
        self.wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".week-row svg"), "the group's chart")
        self.assertEqual(len(driver.find_elements(By.CSS_SELECTOR, ".weeks li.held")), 12)
        self.fits(driver, name + " group")
        self.shot(driver, "group-" + name)

    def fits(self, driver, where):
        wide = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        self.assertLessEqual(wide, 1, where + ": the page is wider than the screen")

    def test_every_language_has_every_text_the_archive_asks_for(self):
        driver = self.open("en", (1280, 800))
        try:
            tables = driver.execute_script("return HALQA_TEXT;")
            for lang in ("ur", "ps"):
                self.assertEqual(sorted(set(tables["en"]) - set(tables[lang])), [], f"missing in {lang}")
                self.assertEqual(sorted(set(tables[lang]) - set(tables["en"])), [], f"only in {lang}")
                left = [k for k, v in tables[lang].items() if k.startswith("archive.") and v == tables["en"][k]
                        and not re.fullmatch(r"[^A-Za-z]*(CSV|DHIS2)?[^A-Za-z]*", v)]
                self.assertEqual(left, [], f"left in English in {lang}")
            marked = driver.execute_script("return Array.prototype.map.call(document.querySelectorAll('[data-t]'), function (e) { return e.getAttribute('data-t'); });")
            self.assertEqual(sorted(set(marked) - set(tables["en"])), [], "texts the page asks for that no table has")
            with open(os.path.join(ROOT, "Sources", "Node", "Pages", "archive.js")) as f:
                named = set(re.findall(r'\bt\("([a-z][a-z.-]*[a-z])"', f.read()))
            named |= {"archive.outcome." + k for k in ("added", "merged", "already-here", "refused", "skipped")}
            named |= {"archive.kind." + k for k in ("title", "note", "prompt.n", "reflection.n", "note.n")}
            self.assertGreater(len(named), 40)
            self.assertEqual(sorted(named - set(tables["en"])), [], "texts the script asks for that no table has")
            for lang in ("en", "ur", "ps"):
                one = driver.execute_script("return Halqa.t(arguments[0], 'archive.count.phones', {n: 1});", lang)
                many = driver.execute_script("return Halqa.t(arguments[0], 'archive.count.phones', {n: 7});", lang)
                self.assertNotIn("{", one + many)
                self.assertNotEqual(one, many.replace("7", "1"), f"{lang}: one has its own words")
        finally:
            driver.quit()

    def test_collecting_from_the_page_and_keeping_days_in_every_language(self):
        """Files chosen on the page (plain, encrypted with its passphrase, altered, a photo)
        each get their line; the days kept are previewed before anything is wiped."""
        work = tempfile.mkdtemp(prefix="halqa-page-collect-")
        try:
            picked = sorted(os.path.join(self.usb, "G-001", f) for f in os.listdir(os.path.join(self.usb, "G-001")))[:2]
            with open(os.path.join(work, "pass"), "w") as f:
                f.write("ghee tandoor kite river\n")
            sealed = os.path.join(work, "sealed.halqa")
            out = run(test_pages.HALQA, "archive", "import", "--data", os.path.join(work, "src"), picked[1])
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            session = json.load(open(picked[1]))["session"]["id"]
            out = run(test_pages.HALQA, "export", session, "--format", "json", "--encrypt", "--passphrase-file",
                      os.path.join(work, "pass"), "--output", sealed, "--data", os.path.join(work, "src"))
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            altered = os.path.join(work, "altered.json")
            with open(picked[0]) as f:
                text = f.read()
            with open(altered, "w") as f:
                f.write(text.replace('"title" : "', '"title" : "X', 1) if '"title" : "' in text else text.replace('"title":"', '"title":"X', 1))
            photo = os.path.join(work, "photo.jpg")
            with open(photo, "wb") as f:
                f.write(b"\xff\xd8\xff\xe0")
            for lang, size in (("ur", (360, 640)), ("ps", (360, 640)), ("en", (1280, 800))):
                data = os.path.join(work, "data-" + lang)
                os.makedirs(data)
                archive = Archive(data)
                driver = browser(phone=size[0] < 600, lang=lang, size=size)
                if size[0] >= 600:
                    driver.set_window_size(*size)
                try:
                    driver.get(archive.link)
                    self.wait(driver, lambda d: d.find_element(By.ID, "tabs").is_displayed(), "the page opens")
                    driver.find_element(By.CSS_SELECTOR, "[data-lang='%s']" % lang).click()
                    self.tab(driver, "collect")
                    driver.find_element(By.ID, "files").send_keys("\n".join([picked[0], sealed, altered, photo]))
                    driver.find_element(By.ID, "passphrase").send_keys("ghee tandoor kite river")
                    driver.find_element(By.ID, "import").click()
                    self.wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#imported li")) == 4, "a line per file", 60)
                    kinds = [e.get_attribute("class") for e in driver.find_elements(By.CSS_SELECTOR, "#imported li")]
                    self.assertEqual(sorted(kinds), sorted(["outcome-added", "outcome-added", "outcome-refused", "outcome-skipped"]), lang)
                    days = driver.find_element(By.ID, "keep-days")
                    days.clear()
                    days.send_keys("30")
                    driver.find_element(By.ID, "keep-check").click()
                    self.wait(driver, lambda d: d.find_element(By.ID, "keep-wipe").is_displayed(), "the preview")
                    self.assertEqual(len(driver.find_elements(By.CSS_SELECTOR, "#keep-list li")), 2, "both synthetic sessions are old")
                    self.fits(driver, lang + " collect")
                    self.shot(driver, "collect-%s-%dx%d" % (lang, size[0], size[1]))
                    driver.find_element(By.ID, "keep-wipe").click()
                    self.wait(driver, lambda d: d.find_element(By.ID, "keep-wipe").get_attribute("hidden"), "the wipe")
                    self.assertIn("2", driver.find_element(By.ID, "keep-result").text)
                    days.clear()
                    days.send_keys("0")
                    driver.find_element(By.ID, "keep-check").click()
                    self.wait(driver, lambda d: "30" not in d.find_element(By.ID, "keep-now").text, "every session kept again")
                finally:
                    driver.quit()
                    archive.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def test_a_session_and_a_group_print_to_a4(self):
        driver = self.open("ur", (1280, 800))
        try:
            options = PrintOptions()
            options.page_width, options.page_height = 21.0, 29.7
            driver.find_element(By.CSS_SELECTOR, "#list .session-card").click()
            self.wait(driver, lambda d: d.find_element(By.ID, "session").is_displayed(), "the session opens")
            self.print_and_look(driver, options, "session-ur")
            self.tab(driver, "groups")
            from selenium.webdriver.support.ui import Select
            Select(driver.find_element(By.ID, "g-group")).select_by_value("G-003")
            self.wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".week-row svg"), "the group's chart")
            self.print_and_look(driver, options, "group-ur")
        finally:
            driver.quit()

    def print_and_look(self, driver, options, name):
        pdf = os.path.join(SHOTS, name + ".pdf")
        with open(pdf, "wb") as f:
            f.write(base64.b64decode(driver.print_page(options)))
        info = run("pdfinfo", pdf).stdout
        self.assertRegex(info, r"Page size:\s+595\.\d+ x 841\.\d+ pts", "A4")
        pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
        self.assertGreaterEqual(pages, 1)
        text = run("pdftotext", "-layout", pdf, "-").stdout
        # No buttons, tabs or filters on paper: their words are not printed.
        for hidden in ("Back to the list", "فہرست پر واپس", "پرنٹ کریں", "جمع کریں اور رپورٹ", "تمام گروپ"):
            self.assertNotIn(hidden, text, name)
        for old in os.listdir(SHOTS):
            if old.startswith(name + "-page"):
                os.remove(os.path.join(SHOTS, old))
        run("pdftoppm", "-r", "60", "-png", pdf, os.path.join(SHOTS, name + "-page"))
        self.assertEqual(len([f for f in os.listdir(SHOTS) if f.startswith(name + "-page")]), pages)

    def test_reports_open_in_python_and_libreoffice_with_urdu_intact(self):
        with open(os.path.join(ROOT, "docs", "archive.md")) as f:
            docs = f.read()
        folder = os.path.join(self.work, "report")
        out = run(test_pages.HALQA, "archive", "report", "--format", "csv", "--data", self.data, "--out", folder)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        for name in ("sessions", "checkins", "reflections"):
            path = os.path.join(folder, name + ".csv")
            with open(path, "rb") as f:
                raw = f.read()
            self.assertTrue(raw.startswith(b"\xef\xbb\xbf"), name + ": a byte-order mark for Excel")
            rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
            header, body = rows[0], rows[1:]
            documented = re.search(r"### %s\.csv\n(.*?)(\n### |\Z)" % name, docs, re.S).group(1)
            self.assertEqual(header, re.findall(r"^\| `(\w+)` \|", documented, re.M), name + ": columns match docs/archive.md")
            self.assertTrue(all(len(r) == len(header) for r in body), name)
            # The page's button gives the same table.
            self.assertEqual(self.archive.get("/api/archive/report/%s.csv" % name), raw, name)
            if name == "sessions":
                self.assertEqual(len(body), 43)
            if name == "reflections":
                texts = [r[header.index("text")] for r in body]
                self.assertIn(ODD_REFLECTIONS[0], texts)
                self.assertTrue(any("زما پلار" in t for t in texts))
                reflection_ids = [r[0] for r in body]
                self.assertEqual(len(set(reflection_ids)), len(reflection_ids), "stable, distinct ids")
            # LibreOffice reads it as a spreadsheet with the Urdu intact.
            converted = run("soffice", "--headless", "--infilter=CSV:44,34,76", "--convert-to", "xlsx", "--outdir", folder, path)
            self.assertEqual(converted.returncode, 0, converted.stdout + converted.stderr)
            with zipfile.ZipFile(os.path.join(folder, name + ".xlsx")) as book:
                strings = book.read("xl/sharedStrings.xml").decode("utf-8")
            self.assertIn(header[1], strings)
            if name == "reflections":
                self.assertIn(ODD_REFLECTIONS[0], strings)


if __name__ == "__main__":
    test_pages.HALQA = sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "halqa")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import time_limit
    time_limit.limit_each_test(600)
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"archive browser: {max(0, result.testsRun - failed)} passed, {failed} failed")
    sys.exit(1 if failed else 0)
