"""Shared test fixtures: the programs under test, sample exports, and the
local PostHog capture and query API and Amplitude Export API stand-ins.

Tests run the real binaries from $AMP2PH_BUILD (build/ or build/san/) and
talk to real HTTP servers on 127.0.0.1.  Every run checks stderr for
sanitizer reports, so the ASan+UBSan pass fails on any memory error.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("AMP2PH_BUILD", "build"))
TOOLS = os.path.join(ROOT, "build")  # amp-sample: always the fast build
SANITIZER_MARKS = (b"AddressSanitizer", b"LeakSanitizer", b"runtime error:",
                   b"UndefinedBehaviorSanitizer")


def prog(name):
    return os.path.join(BUILD, name)


def check_sanitizers(stderr):
    for mark in SANITIZER_MARKS:
        assert mark not in stderr, stderr.decode(errors="replace")[-4000:]


def run(args, input=None, env=None, timeout=300, cwd=None):
    """Run a program of ours; argv[0] is a bare program name."""
    argv = [prog(args[0])] + [str(a) for a in args[1:]]
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=full_env, timeout=timeout,
                       cwd=cwd)
    check_sanitizers(p.stderr)
    return p


def ndjson(data):
    return [json.loads(l) for l in data.decode().splitlines() if l.strip()]


def make_sample(path, events=1000, seed=1, *args):
    """A generated Amplitude export archive (scripts/amp-sample.c)."""
    argv = [os.path.join(TOOLS, "amp-sample"), "-n", str(events), "-s",
            str(seed), "-o", str(path)] + [str(a) for a in args]
    subprocess.run(argv, check=True)
    return path


def sample_lines(events=1000, seed=1, *args):
    """The event lines that make_sample's archive holds, in order."""
    argv = [os.path.join(TOOLS, "amp-sample"), "-n", str(events), "-s",
            str(seed), "--ndjson"] + [str(a) for a in args]
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE).stdout


class Server:
    """A stand-in started on a free port; stopped at teardown."""

    def __init__(self, script, args, tmp):
        self.port_file = os.path.join(tmp, script + ".port")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests", script),
             "--port", "0", "--port-file", self.port_file] + args,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("stand-in %s did not start: %s" % (
                    script, self.proc.stderr.read().decode()))
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        self.url = "http://127.0.0.1:%d" % self.port

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=body.encode(),
                                     method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def get_json(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Capture(Server):
    """tests/capture_standin.py: a PostHog capture endpoint."""

    def __init__(self, tmp, args=()):
        self.record = os.path.join(tmp, "capture.record.ndjson")
        self.log = os.path.join(tmp, "capture.log.ndjson")
        super().__init__("capture_standin.py",
                         ["--record", self.record, "--log", self.log,
                          "--token", "phc_test"] + list(args), tmp)

    def faults(self, spec):
        self.post("/_faults", spec)

    def events(self):
        if not os.path.exists(self.record):
            return []
        with open(self.record) as f:
            return [json.loads(l)["event"] for l in f if l.strip()]

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(l) for l in f if l.strip()]


class ExportAPI(Server):
    """tests/export_standin.py: Amplitude's Export API."""

    def __init__(self, tmp, sources, args=()):
        self.log = os.path.join(tmp, "export.log.ndjson")
        a = []
        for s in sources:
            a += ["--source", str(s)]
        super().__init__("export_standin.py",
                         a + ["--log", self.log] + list(args), tmp)

    def faults(self, spec):
        self.post("/_faults", spec)

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(l) for l in f if l.strip()]


class Query(Server):
    """tests/query_standin.py: PostHog's query and project API over a
    capture stand-in's record (pass the Capture, or a record path)."""

    KEY = "phx_test"

    def __init__(self, tmp, store, args=()):
        self.store = store.record if isinstance(store, Capture) else store
        self.log = os.path.join(tmp, "query.log.ndjson")
        a = list(args)
        if "--token" not in a:
            a += ["--token", "phc_test"]
        if "--key" not in a:
            a += ["--key", self.KEY]
        super().__init__("query_standin.py",
                         ["--store", self.store, "--log", self.log] + a, tmp)

    def request(self, method, path, body=None, key=KEY, headers=None):
        """(status, headers, parsed JSON body or text) without raising on
        HTTP errors; key None sends no Authorization."""
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = "Bearer " + key
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else \
                json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data, headers=h,
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, hdrs, raw = r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, raw = e.code, dict(e.headers), e.read()
        try:
            return status, hdrs, json.loads(raw)
        except ValueError:
            return status, hdrs, raw.decode(errors="replace")

    def query(self, text, refresh="force_blocking", project=1, key=KEY,
              **extra):
        body = {"query": {"kind": "HogQLQuery", "query": text}}
        if refresh is not None:
            body["refresh"] = refresh
        body.update(extra)
        return self.request("POST", "/api/projects/%s/query/" % project,
                            body, key)

    def project(self, project=1, key=KEY):
        return self.request("GET", "/api/projects/%s/" % project, key=key)

    def faults(self, spec):
        self.post("/_faults", spec)

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(l) for l in f if l.strip()]


@pytest.fixture
def query_factory(tmp_path):
    """query_factory(capture_or_record_path, args=()) -> a running Query."""
    made = []

    def make(store, args=()):
        d = tmp_path / ("query%d" % len(made))
        d.mkdir()
        s = Query(str(d), store, args)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


@pytest.fixture
def capture(tmp_path):
    s = Capture(str(tmp_path))
    yield s
    s.stop()


@pytest.fixture
def capture_factory(tmp_path):
    made = []

    def make(args=()):
        d = tmp_path / ("cap%d" % len(made))
        d.mkdir()
        s = Capture(str(d), args)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


@pytest.fixture
def export_factory(tmp_path):
    made = []

    def make(sources, args=()):
        d = tmp_path / ("exp%d" % len(made))
        d.mkdir()
        s = ExportAPI(str(d), sources, args)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


def pytest_terminal_summary(terminalreporter):
    """Leave the counts where tests/run can add them up."""
    out = os.environ.get("AMP2PH_COUNTS")
    if not out:
        return
    st = terminalreporter.stats
    passed = len(st.get("passed", []))
    failed = len(st.get("failed", [])) + len(st.get("error", []))
    with open(out, "w") as f:
        f.write("%d %d\n" % (passed, failed))
