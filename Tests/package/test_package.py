#!/usr/bin/python3
"""The Debian package (scripts/package, docs/packaging.md), as a laptop without Swift meets it.

Builds the package twice from the debug build (to stay within CI's time; `scripts/package`
without --debug packages the release build the same way): this version, and the next one
(HALQA_UPGRADE_TEST=1: one version higher, with one more schema migration). Nothing is
installed into this machine: the package is unpacked into a temporary root (`dpkg-deb -x`),
or installed into one with `dpkg --root`, and run from there with the Swift toolchain hidden
(`unshare -m`, a tmpfs over the toolchain's folder).

Run by scripts/test after `swift build --build-tests` (the package relinks its halqa); by hand:
/usr/bin/python3 Tests/package/test_package.py
"""
import gzip
import hashlib
import json
import os
import pathlib
import pty
import queue
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Tests", "browser"))
from test_pages import banner, browser, free_port  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# The Swift toolchain's folder (…/usr/bin/swift → …), hidden from the program under test.
TOOLCHAIN = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(shutil.which("swift") or "/"))))
assert TOOLCHAIN not in ("/", "/usr"), "the Swift toolchain must be in a folder of its own (e.g. /opt/swift) to be hidden"
WORK = tempfile.mkdtemp(prefix="halqa-package-")


# HALQA_PACKAGE_CONFIG=release: the release build instead (as a package that leaves the team).
CONFIG = os.environ.get("HALQA_PACKAGE_CONFIG", "debug")


def package(out, env=None, options=()):
    """Runs scripts/package on the debug build (or CONFIG's); the .deb's path and what it printed."""
    done = subprocess.run([os.path.join(ROOT, "scripts/package"), "--out", out] + (["--debug"] if CONFIG == "debug" else [])
                          + list(options), cwd=ROOT,
                          capture_output=True, text=True, env=dict(os.environ, **(env or {})), timeout=1800)
    if done.returncode != 0:
        raise RuntimeError("scripts/package failed:\n" + done.stdout + done.stderr)
    return [line for line in done.stdout.splitlines() if line.endswith(".deb")][-1], done.stdout


def without_swift(argv):
    """argv in a mount namespace where the toolchain's folder is an empty tmpfs, and so is this
    repository's build folder (where a program built here would find its pages)."""
    hide = ('mount -t tmpfs -o size=1m none "$0" && mount -t tmpfs -o size=1m none "$1" && [ -z "$(ls -A "$0")" ] && [ -z "$(ls -A "$1")" ] '
            '&& shift && exec "$@"')
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", hide, TOOLCHAIN, os.path.join(ROOT, ".build")] + argv


def field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True, check=True).stdout.strip()


def contents(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def run(argv):
    return subprocess.run(without_swift(argv), capture_output=True, text=True, timeout=120)


class ThePackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.next = None
        try:
            cls.deb, cls.packaged = package(os.path.join(WORK, "this"), options=["--with-dependencies"])
        except BaseException:
            cls.tearDownClass()
            raise
        cls.root = os.path.join(WORK, "unpacked")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True)
        cls.halqa = os.path.join(cls.root, "usr/bin/halqa")
        cls.version = field(cls.deb, "Version")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(WORK, ignore_errors=True)
        if cls.next:
            # The next version's build is only this test's: no halqa with its extra migration
            # is left in .build to meet a real data folder (the next build makes this one again).
            bin_path = subprocess.run(["swift", "build", "-c", CONFIG, "--show-bin-path"], cwd=ROOT, capture_output=True,
                                      text=True).stdout.strip()
            for program in ["halqa", "halqa-dev"]:
                if os.path.exists(os.path.join(bin_path, program)):
                    os.remove(os.path.join(bin_path, program))

    @classmethod
    def next_version(cls):
        """The package of a Halqa one version higher, with one more schema migration."""
        if not cls.next:
            cls.next, _ = package(os.path.join(WORK, "next"), {"HALQA_UPGRADE_TEST": "1", "HALQA_PACKAGE_TEST": "1"})
        return cls.next

    def field(self, name):
        return field(self.deb, name)

    def test_contents_depends_and_lintian(self):
        listed = subprocess.run(["dpkg-deb", "-c", self.deb], capture_output=True, text=True, check=True).stdout
        paths = {line.split()[-1].lstrip(".") for line in listed.splitlines()}
        for path in ["/usr/bin/halqa", "/usr/share/halqa/decks/real-man.deck", "/usr/share/halqa/decks/knowing-myself.deck",
                     "/usr/share/halqa/programmes/move.programme", "/usr/share/halqa/programmes/move/01-seeing-myself.deck",
                     "/usr/share/halqa/pages/participant.html", "/usr/share/halqa/pages/console.js",
                     "/usr/share/halqa/pages/archive.html", "/usr/share/man/man1/halqa.1.gz",
                     "/usr/share/bash-completion/completions/halqa", "/usr/share/applications/halqa.desktop",
                     "/usr/share/icons/hicolor/scalable/apps/halqa.svg", "/usr/libexec/halqa/host-a-circle",
                     "/usr/share/doc/halqa/copyright",
                     "/usr/share/doc/halqa/changelog.gz", "/usr/share/doc/halqa/README.md"] + [
                     "/usr/share/doc/halqa/docs/" + page for page in os.listdir(os.path.join(ROOT, "docs"))] + [
                     "/usr/share/halqa/decks/" + deck for deck in os.listdir(os.path.join(ROOT, "seeds/decks"))]:
            self.assertIn(path, paths)
        # The README's links to docs/ work where it is installed.
        for link in re.findall(r"\]\((docs/[^)#]+)", contents(os.path.join(ROOT, "README.md"))):
            self.assertIn("/usr/share/doc/halqa/" + link, paths)
        self.assertEqual([p for p in paths if "sample" in p or p.endswith((".sqlite", ".swift", "~"))], [], "nothing else")
        self.assertEqual([p for p in paths if p.rstrip("/") and not p.startswith("/usr")], [], "everything is under /usr")
        self.assertTrue(re.match(r"^\d+\.\d+\.\d+$", self.version), self.version)
        self.assertTrue(os.path.basename(self.deb) == f"halqa_{self.version}_amd64.deb", self.deb)

        depends = self.field("Depends")
        # node-tweetnacl and node-pako: phones seal what they send and unpack the room with them (the node serves them).
        for library in ["libavahi-client3", "libsqlite3-0", "libqrencode4", "libsodium23", "libc6", "node-tweetnacl", "node-pako"]:
            self.assertIn(library, depends)
        self.assertNotIn("swift", depends.lower())
        self.assertIn("avahi-daemon", self.field("Recommends"))

        # scripts/package runs lintian and fails on an error; what else it said is printed here
        # (lintian's tags: "W: halqa: ...", in what scripts/package printed).
        linted = "\n".join(line for line in self.packaged.splitlines() if re.match(r"[EWIPXNO]: ", line))
        self.assertNotRegex(linted, r"(?m)^E: ", linted)
        print("\nlintian:", linted or "nothing to say", file=sys.stderr)
        entry = contents(os.path.join(self.root, "usr/share/applications/halqa.desktop"))
        self.assertIn("Exec=/usr/libexec/halqa/host-a-circle", entry)
        self.assertIn("Terminal=true", entry)

        # The man page reads as one, and bash completes halqa's commands.
        page = subprocess.run(["man", "-l", os.path.join(self.root, "usr/share/man/man1/halqa.1.gz")], capture_output=True,
                              text=True, env=dict(os.environ, MANWIDTH="100", MANPAGER="cat", PAGER="cat"))
        self.assertIn("halqa host", page.stdout)
        self.assertIn("--deck", page.stdout)
        completion = os.path.join(self.root, "usr/share/bash-completion/completions/halqa")
        words = subprocess.run(["bash", "-c", f'source "{completion}"; COMP_WORDS=(halqa ho); COMP_CWORD=1; '
                                "_halqa; printf '%s\\n' \"${COMPREPLY[@]}\""], capture_output=True, text=True).stdout
        self.assertIn("host", words.split())

    def test_the_offline_folder_installs_it_on_a_laptop_with_nothing(self):
        # apt, reading only the folder --with-dependencies gathered, on a laptop where nothing
        # is installed: every package halqa needs (and avahi-daemon) is there.
        folder = os.path.join(os.path.dirname(self.deb), f"halqa-{self.version}-offline")
        self.assertTrue(os.path.exists(os.path.join(folder, os.path.basename(self.deb))))
        apt = os.path.join(WORK, "apt")
        for sub in ["lists/partial", "cache/archives/partial"]:
            os.makedirs(os.path.join(apt, sub))
        with open(os.path.join(apt, "sources.list"), "w") as f:
            f.write(f"deb [trusted=yes] file:{folder} ./\n")
        open(os.path.join(apt, "status"), "w").close()
        options = [f"-oDir::Etc::SourceList={apt}/sources.list", "-oDir::Etc::SourceParts=/nonexistent",
                   f"-oDir::State::Lists={apt}/lists", f"-oDir::State::Status={apt}/status", f"-oDir::Cache={apt}/cache",
                   "-oDebug::NoLocking=1"]
        updated = subprocess.run(["apt-get"] + options + ["update"], capture_output=True, text=True)
        self.assertEqual(updated.returncode, 0, updated.stdout + updated.stderr)
        planned = subprocess.run(["apt-get"] + options + ["--simulate", "install", "halqa", "avahi-daemon"],
                                 capture_output=True, text=True)
        self.assertEqual(planned.returncode, 0, planned.stdout + planned.stderr)
        for name in ["halqa", "node-tweetnacl", "node-pako", "libavahi-client3", "libsodium23", "avahi-daemon", "libc6"]:
            self.assertRegex(planned.stdout, rf"(?m)^Conf {name} ")

    def test_it_runs_with_the_swift_toolchain_hidden(self):
        hidden = run(["ls", "-A", TOOLCHAIN, os.path.join(ROOT, ".build")])
        self.assertEqual(hidden.returncode, 0, hidden.stderr)
        self.assertNotIn("usr", hidden.stdout, "the toolchain is hidden")
        self.assertNotIn("debug", hidden.stdout, "the build folder is hidden")
        version = run([self.halqa, "--version"])
        self.assertEqual((version.returncode, version.stdout.strip()), (0, self.version), version.stderr)

        decks = sorted(os.path.join(self.root, "usr/share/halqa/decks", d)
                       for d in os.listdir(os.path.join(self.root, "usr/share/halqa/decks")))
        checked = run([self.halqa, "deck", "check"] + decks)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        self.assertEqual(checked.stdout.count(": ok"), len(decks), checked.stdout)

        listed = run([self.halqa, "decks"])
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn("Decks in " + os.path.join(self.root, "usr/share/halqa/decks"), listed.stdout)
        self.assertIn("real-man", listed.stdout)
        self.assertIn("move  programme, 12 weeks", listed.stdout)
        self.assertIn("اصل مرد", listed.stdout, "titles in Urdu")
        self.assertRegex(listed.stdout, r"(?m)^ +ps  ", "titles in Pashto")

        unknown = run([self.halqa, "host", "--deck", "no-such-deck", "--data", os.path.join(WORK, "unknown")])
        self.assertEqual(unknown.returncode, 1)
        self.assertIn('There is no deck "no-such-deck"', unknown.stderr)
        self.assertIn("real-man", unknown.stderr)

    def host(self, argv, data, env=None, terminal=False, program=None, port=None):
        """`halqa host` from the unpacked package (or `program`), toolchain hidden, on loopback; with its banner.
        With `terminal`, as the desktop entry starts it (its Exec, in a terminal); its process and terminal."""
        port = port or free_port()
        # The page halqa writes for the browser (it holds the console's key) goes in this test's
        # folder, which is removed at the end, as halqa is stopped before it deletes the page.
        runtime = os.path.join(WORK, "runtime")
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        env = dict({"XDG_RUNTIME_DIR": runtime}, **(env or {}))
        command = [os.path.join(self.root, "usr/libexec/halqa/host-a-circle")] if terminal else [program or self.halqa, "host"]
        argv = without_swift(command + argv + ["--port", str(port), "--bind", "127.0.0.1", "--data", data, "--no-discovery"])
        if terminal:
            # A terminal, as the desktop entry gives it: halqa asks which deck.
            pid, fd = pty.fork()
            if pid == 0:
                try:
                    os.environ.update(env or {})
                    os.execvp(argv[0], argv)
                finally:
                    os._exit(127)
            return pid, fd, port
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env=dict(os.environ, **(env or {})))
        self.addCleanup(self.stop, process)
        return process, banner(process, "halqa host"), port

    def stop(self, process):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()

    def test_a_hosted_session_that_a_chromium_phone_joins(self):
        process, said, port = self.host(["--deck", "real-man"], os.path.join(WORK, "hosted"))
        self.assertIn("What makes a real man", said)
        code = re.search(r"type  (\S+)", said).group(1)
        console = re.search(r"(http://\S+/facilitate#key=(\S+))", said)
        base = f"http://127.0.0.1:{port}/"
        request = urllib.request.Request(base + "api/console/open", data=b'{"prompt": 0}', method="POST",
                                         headers={"Authorization": "Bearer " + console.group(2),
                                                  "Content-Type": "application/json"})
        urllib.request.urlopen(request).read()
        phone = browser(lang="ps")
        try:
            phone.get(base)
            wait = WebDriverWait(phone, 15)
            wait.until(lambda d: d.find_element(By.ID, "join").is_displayed())
            phone.find_element(By.ID, "code").send_keys(code)
            phone.find_element(By.CSS_SELECTOR, "#join-form button").click()
            wait.until(lambda d: d.find_element(By.ID, "write").is_displayed())
            self.assertEqual(phone.find_element(By.TAG_NAME, "html").get_attribute("dir"), "rtl", "the phone's Pashto")
            phone.find_element(By.ID, "text").send_keys("زه غواړم چې ښه پلار شم.")
            phone.find_element(By.ID, "send").click()
            wait.until(lambda d: d.find_element(By.ID, "received").is_displayed())
            shots = os.environ.get("HALQA_SCREENSHOTS", os.path.join(ROOT, ".build", "screenshots"))
            os.makedirs(shots, exist_ok=True)
            phone.save_screenshot(os.path.join(shots, "package-phone-received-ps.png"))
        finally:
            phone.quit()

    def test_with_no_deck_it_asks_and_opens_the_console(self):
        # xdg-open follows $BROWSER where no desktop is running: this one only notes what it was
        # given, and Chromium (through WebDriver, which waits as a person would) opens that.
        # (A Chromium started by the opener with --dump-dom and a virtual-time budget was left
        # with nothing dumped after a minute, twice, on CI's busy machine.)
        given = os.path.join(WORK, "given")
        opener = os.path.join(WORK, "note-what-is-opened")
        with open(opener, "w") as f:
            f.write(f'#!/bin/sh\necho "$@" > "{given}.part" && mv "{given}.part" "{given}"\n')
        os.chmod(opener, 0o755)
        pid, fd, port = self.host([], os.path.join(WORK, "asked"), env={"BROWSER": opener}, terminal=True)
        said = ""
        try:
            said = self.read_until(fd, "Type its number")
            self.assertIn("What makes a real man", said)
            self.assertIn("programme, 12 weeks", said)
            number = re.search(r"(\d+)  What makes a real man", said).group(1)
            os.write(fd, b"99\n")
            said = self.read_until(fd, "not one of the numbers above")
            os.write(fd, number.encode() + b"\n")
            said = self.read_until(fd, "Press Ctrl-C")
            self.assertIn("Halqa is hosting \"What makes a real man?", said)
            deadline = time.time() + 30
            while time.time() < deadline and not os.path.exists(given):
                time.sleep(0.2)
            self.assertTrue(os.path.exists(given), "halqa ran xdg-open, which ran $BROWSER")
            page = contents(given).strip()
            self.assertTrue(page.startswith(os.path.join(WORK, "runtime") + "/"), page)
            opened = browser(phone=False)
            try:
                opened.get(pathlib.Path(page).as_uri())
                # The console shows itself only once the node took the key the page passed on.
                def shown(d):
                    return d.find_element(By.ID, "console").is_displayed() and "What makes a real man" in d.find_element(By.ID, "title").text
                try:
                    WebDriverWait(opened, 30).until(shown)
                except TimeoutException:
                    self.fail("the console did not open with its key from the page halqa gave xdg-open: at "
                              + opened.current_url + ", the page says it is locked: "
                              + str(opened.find_element(By.ID, "locked").is_displayed()))
                self.assertFalse(opened.find_element(By.ID, "locked").is_displayed())
                self.assertTrue(opened.current_url.startswith(f"http://127.0.0.1:{port}/facilitate"), opened.current_url)
            finally:
                opened.quit()
            # Every account on the laptop can read a program's arguments: the browser's hold no secret.
            self.assertNotIn("key=", contents(given))
            self.assertNotIn(re.search(r"facilitate#key=(\S+)", said).group(1), contents(given))
        finally:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(fd)

    def test_the_desktop_entrys_window_stays_to_say_why_halqa_stopped(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        pid, fd, _ = self.host(["--deck", "real-man"], os.path.join(WORK, "taken"), terminal=True, port=port)
        try:
            said = self.read_until(fd, "Press Enter to close this window.")
            self.assertIn(f"Port {port} is already in use", said)
            self.assertEqual(os.waitpid(pid, os.WNOHANG)[0], 0, "the window waits")
            os.write(fd, b"\n")
            for _ in range(100):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.1)
            self.assertTrue(done, "Enter closes it")
            self.assertEqual(os.waitstatus_to_exitcode(status), 1)
        finally:
            taken.close()
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            os.close(fd)

    def test_without_a_browser_it_says_where_to_go(self):
        env = {"BROWSER": "", "DISPLAY": "", "WAYLAND_DISPLAY": "", "PATH": "/usr/bin:/bin"}
        process, said, port = self.host(["--deck", "real-man", "--open"], os.path.join(WORK, "nobrowser"), env=env)
        console = re.search(r"(http://\S+/facilitate#key=\S+)", said).group(1)
        lines = queue.Queue()
        def follow():
            try:
                for line in process.stdout:
                    lines.put(line)
            except ValueError:  # closed by the cleanup
                pass
        threading.Thread(target=follow, daemon=True).start()
        after = ""
        deadline = time.time() + 20
        while console not in after and time.time() < deadline:
            try:
                after += lines.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                break
        self.assertIn("Could not open a browser on this laptop", after)
        self.assertIn(console, after)

    def read_until(self, fd, text, timeout=20):
        said = ""
        deadline = time.time() + timeout
        while text not in said:
            if time.time() > deadline:
                raise AssertionError(f"waited for {text!r}; halqa said:\n{said}")
            if not select.select([fd], [], [], max(0, deadline - time.time()))[0]:
                continue
            try:
                said += os.read(fd, 4096).decode(errors="replace")
            except OSError:
                raise AssertionError(f"halqa stopped before {text!r}:\n{said}")
        return said

    def dpkg(self, root, *args):
        return subprocess.run(["dpkg", "--root=" + root, "--force-depends", "--force-script-chrootless", "--force-not-root",
                               "--log=/dev/null"] + list(args), capture_output=True, text=True)

    def test_an_upgrade_keeps_every_session_and_removing_keeps_the_data(self):
        # A laptop of its own: dpkg's database in a temporary root.
        laptop = os.path.join(WORK, "laptop")
        for folder in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"]:
            os.makedirs(os.path.join(laptop, folder))
        open(os.path.join(laptop, "var/lib/dpkg/status"), "w").close()
        installed = self.dpkg(laptop, "-i", self.deb)
        self.assertEqual(installed.returncode, 0, installed.stdout + installed.stderr)
        halqa = os.path.join(laptop, "usr/bin/halqa")
        data = os.path.join(WORK, "week-after-week")

        # Version N hosts a session where three men write and the room sees it.
        process, said, port = self.host(["--deck", "real-man"], data, program=halqa)
        session = re.search(r"\(session (\w+)\)", said).group(1)
        secret = re.search(r"facilitate#key=(\S+)", said).group(1)
        base = f"http://127.0.0.1:{port}/"

        def post(path, body, token):
            request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                             headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
            return json.loads(urllib.request.urlopen(request).read() or b"null")
        code = re.search(r"type  (\S+)", said).group(1)
        post("api/console/open", {"prompt": 0}, secret)
        for text in ["میرے والد کہتے تھے کہ مرد روتا نہیں۔", "زه غواړم چې ښه پلار شم.", "To listen before I answer."]:
            token = json.loads(urllib.request.urlopen(urllib.request.Request(
                base + "api/join", data=json.dumps({"code": code}).encode(), method="POST",
                headers={"Content-Type": "application/json"})).read())["token"]
            post("api/reflections", {"prompt": 0, "text": text}, token)
        post("api/console/reveal", {"prompt": 0}, secret)
        post("api/console/close", {}, secret)
        self.stop(process)
        before = run([halqa, "export", session, "--format", "json", "--data", data])
        self.assertEqual(before.returncode, 0, before.stderr)
        first = run([halqa, "sessions", "--data", data]).stdout

        # Version N+1 installed over it: the session is there, the data folder is updated and
        # says so once, and the export is the same bytes.
        upgraded = self.dpkg(laptop, "-i", self.next_version())
        self.assertEqual(upgraded.returncode, 0, upgraded.stdout + upgraded.stderr)
        self.assertEqual(run([halqa, "--version"]).stdout.strip(), field(self.next_version(), "Version"))
        self.assertNotEqual(field(self.next_version(), "Version"), self.version)
        listed = run([halqa, "sessions", "--data", data])
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertRegex(listed.stderr, r"is now updated for this one \(schema v\d+: [^→]+ → upgrade test\)")
        self.assertIn("Every session is kept", listed.stderr)
        self.assertEqual(listed.stdout, first)
        self.assertEqual(run([halqa, "sessions", "--data", data]).stderr, "", "said once")
        after = run([halqa, "export", session, "--format", "json", "--data", data])
        self.assertEqual(after.returncode, 0, after.stderr)
        self.assertEqual(after.stdout, before.stdout, "the same bytes")
        searched = run([halqa, "search", "listen", "--data", data])
        self.assertIn("To «listen» before I answer", searched.stdout)

        # The older version refuses the newer folder and changes nothing.
        database = os.path.join(data, "halqa.sqlite")
        digest = hashlib.sha256(contents(database, "rb")).hexdigest()
        older = run([self.halqa, "sessions", "--data", data])
        self.assertEqual(older.returncode, 1)
        self.assertIn("written by a newer version of Halqa", older.stderr)
        self.assertEqual(hashlib.sha256(contents(database, "rb")).hexdigest(), digest)

        # Removing keeps the data folder; purging says how to wipe it.
        removed = self.dpkg(laptop, "-r", "halqa")
        self.assertEqual(removed.returncode, 0, removed.stderr)
        self.assertFalse(os.path.exists(halqa))
        self.assertIn("the sessions it kept are not", removed.stdout)
        self.assertTrue(os.path.exists(database))
        purged = self.dpkg(laptop, "-P", "halqa")
        self.assertEqual(purged.returncode, 0, purged.stderr)
        self.assertIn("halqa wipe --all", purged.stdout)
        self.assertTrue(os.path.exists(database))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import time_limit
    time_limit.limit_each_test(900)
    unittest.main(verbosity=2)
