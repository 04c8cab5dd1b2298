"""ph-batch: the real binary against the capture stand-in on 127.0.0.1.

Events come from amp-convert over amp-sample's lines (unique uuids, about
1.4 KB each) or are built here by hand.  The stand-in's record says which
event texts capture accepted, from which request; its log says when each
numbered request came, how long it took and what it was answered.  Every
test checks the stand-in's view, not only what ph-batch says about itself.

Budget: the whole file runs in well under two minutes per build.  The
kill -9 test uses 100k events (20k under build/san).
"""
import collections
import datetime
import functools
import gzip
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import (BUILD, TOOLS, Capture, check_sanitizers, make_sample,
                      ndjson, prog, run, sample_lines)

P = "ph-batch"
TOKEN = "phc_test"
SAN = os.path.basename(BUILD.rstrip("/")) == "san"
NS = uuid.UUID("0d6bd2bb-5f0e-4d3c-9d55-3c1bf4b0a6e1")
RECEIPT_KEYS = ["status", "outcome", "events", "bytes", "attempts", "ms",
                "first_uuid", "last_uuid", "at"]
OUTCOMES = {"delivered", "retry", "split", "rejected", "fatal", "gave-up"}


# ---------------------------------------------------------------- data

@functools.lru_cache(maxsize=None)
def converted(n, seed):
    """At least n PostHog event lines (bytes, no newline) made by
    amp-convert from amp-sample's Amplitude lines; their uuids are all
    different."""
    amp = sample_lines(n + n // 20 + 300, seed)
    p = subprocess.run([os.path.join(TOOLS, "amp-convert"), "-q"], input=amp,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       check=True)
    lines = tuple(p.stdout.splitlines())
    assert len(lines) >= n
    assert len({uuid_of(l) for l in lines}) == len(lines)
    return lines


def events(n):
    """The first n of a fixed pool of converted events."""
    assert n <= 1000
    return list(converted(1000, 11)[:n])


def uuid_of(text):
    """The event's uuid, canonical.  amp-convert and ev() write it before
    the properties, so the first "uuid" key is the event's own."""
    i = text.find(b',"uuid":"')
    if i < 0:
        return str(uuid.UUID(json.loads(text)["uuid"]))
    return text[i + 9:i + 45].decode().lower()


def ev(name="click", did="user1", ts="2024-01-01T00:00:00Z", uid=True,
       n=[0], **props):
    """One hand-made event line (bytes, no newline), amp-convert's shape."""
    n[0] += 1
    e = {"event": name, "distinct_id": did}
    if ts is not None:
        e["timestamp"] = ts
    if uid is True:
        e["uuid"] = str(uuid.uuid5(NS, "ev%d" % n[0]))
    elif uid is not None:
        e["uuid"] = uid
    p = dict(props)
    p["$set"] = {}
    p["$set_once"] = {}
    e["properties"] = p
    return json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode()


def nd(lines):
    return b"".join(l + b"\n" for l in lines)


# ---------------------------------------------------------------- running

def env_for(token=TOKEN):
    return {"POSTHOG_API_KEY": token, "POSTHOG_HOST": ""}


def batch(cap, args=(), input=b"", token=TOKEN, timeout=60):
    """Run ph-batch against the stand-in cap."""
    return run([P, "--host", cap.url] + list(args), input=input,
               env=env_for(token), timeout=timeout)


def ok(cap, args=(), input=b""):
    p = batch(cap, args, input)
    assert p.returncode == 0, p.stderr.decode()
    return p


def receipts(p):
    return ndjson(p.stdout)


def records(cap):
    """(req, event text as received, historical_migration) per recorded
    event, in record order."""
    return cap.records()


def assert_once(cap, lines):
    """Every line recorded exactly once, byte for byte, as a historical
    migration; nothing else recorded."""
    recs = records(cap)
    got = collections.Counter(t for _, t, _ in recs)
    want = collections.Counter(lines)
    missing = want - got
    extra = got - want
    assert not missing and not extra, (
        "%d missing, %d extra/duplicated" % (sum(missing.values()),
                                             sum(extra.values())))
    assert all(h for _, _, h in recs)


def copies(cap):
    """uuid -> [(req, text)] of every recorded copy."""
    c = collections.defaultdict(list)
    for req, text, _ in records(cap):
        c[uuid_of(text)].append((req, text))
    return c


def journal_uuids(path):
    db = sqlite3.connect(str(path))
    try:
        return {str(uuid.UUID(bytes=r[0]))
                for r in db.execute("SELECT uuid FROM delivered")}
    finally:
        db.close()


def journal_runs(path):
    db = sqlite3.connect(str(path))
    try:
        return [r[0] for r in db.execute("SELECT status FROM runs "
                                         "ORDER BY id")]
    finally:
        db.close()


def journal_add(path, uuids):
    """Mark uuids delivered, as an earlier run would have (creates the
    journal with ph-batch's schema first)."""
    db = sqlite3.connect(str(path))
    db.execute("CREATE TABLE IF NOT EXISTS delivered (uuid BLOB PRIMARY "
               "KEY) WITHOUT ROWID")
    db.executemany("INSERT OR IGNORE INTO delivered (uuid) VALUES (?)",
                   [(uuid.UUID(u).bytes,) for u in uuids])
    db.commit()
    db.close()


def rejects(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [json.loads(l) for l in f if l.strip()]


def answered(cap):
    """The stand-in's log entries that got an answer, by request number."""
    return {r["req"]: r for r in cap.requests()}


def summary(p):
    return [l for l in p.stderr.decode().splitlines()
            if " read, " in l and " delivered, " in l][-1]


def spawn(cap, args, stdin=None, stdout=None, stderr=None, token=TOKEN):
    e = dict(os.environ)
    e.update(env_for(token))
    return subprocess.Popen([prog(P), "--host", cap.url] +
                            [str(a) for a in args], stdin=stdin,
                            stdout=stdout or subprocess.DEVNULL,
                            stderr=stderr or subprocess.DEVNULL, env=e)


def wait_for_requests(cap, n, proc=None, timeout=30):
    """Until the stand-in has answered n requests (or proc exited)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cap.count() >= n:
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.01)
    raise AssertionError("stand-in saw %d requests, wanted %d" % (
        len(cap.requests()), n))


# ---------------------------------------------------------------- wire

class Wire:
    """A bare HTTP server that keeps every request's headers, body and
    client port, and answers capture's 200: to look at the bytes on the
    wire, which the stand-in does not record."""

    def __init__(self):
        self.reqs = []
        self.flags = []         # ph-batch's token preflight, kept apart
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                to = outer.flags if self.path.startswith("/flags") else \
                    outer.reqs
                to.append({"path": self.path,
                                   "headers": dict(self.headers.items()),
                                   "body": body,
                                   "port": self.client_address[1]})
                out = b'{"status":"Ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever,
                                  kwargs={"poll_interval": 0.05},
                                  daemon=True)
        self.t.start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def wire():
    w = Wire()
    yield w
    w.stop()


# ---------------------------------------------------------------- stand-in

class View:
    """One test's view of a stand-in shared by the module: its faults are
    cleared at the start, its requests are numbered from 1 (a fault's
    @N is translated), and only its own requests and records are shown.
    Starting a stand-in per test would cost more than most tests."""

    WHEN = re.compile(r"@(\d+)(?:-(\d+))?")

    def __init__(self, server):
        self.s = server
        self.url = server.url
        server.faults("")
        self.base = server.get_json("/_stats")["requests"]
        self.rec_off = os.path.getsize(server.record) \
            if os.path.exists(server.record) else 0
        self.log_off = os.path.getsize(server.log) \
            if os.path.exists(server.log) else 0

    def faults(self, spec):
        def shift(m):
            a = int(m.group(1)) + self.base
            if m.group(2) is None:
                return "@%d" % a
            return "@%d-%d" % (a, int(m.group(2)) + self.base)
        self.s.faults(self.WHEN.sub(shift, spec))

    def _read(self, path, off):
        if not os.path.exists(path):
            return []
        with open(path, "rb") as f:
            f.seek(off)
            return f.read().splitlines()

    def count(self):
        """How many requests the stand-in answered (or closed) since the
        view began: cheap enough to poll."""
        return sum(1 for l in self._read(self.s.log, self.log_off)
                   if int(l[7:l.index(b",")]) > self.base)

    def requests(self):
        """The stand-in's log entries of this test's requests."""
        out = []
        for l in self._read(self.s.log, self.log_off):
            r = json.loads(l)
            if r["req"] > self.base:
                r["req"] -= self.base
                out.append(r)
        return out

    def records(self):
        out = []
        for l in self._read(self.s.record, self.rec_off):
            head, rest = l.split(b',"event":', 1)
            assert head.startswith(b'{"req":')
            text, tail = rest.rsplit(b',"historical_migration":', 1)
            req = int(head[7:]) - self.base
            if req > 0:
                out.append((req, text, tail == b"true}"))
        return out


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    s = Capture(str(tmp_path_factory.mktemp("capture")))
    yield s
    s.stop()


@pytest.fixture
def cap(standin):
    return View(standin)


@pytest.fixture
def fresh(tmp_path):
    """A stand-in of the test's own (for long or heavy tests)."""
    s = Capture(str(tmp_path))
    yield View(s)
    s.stop()


# ---------------------------------------------------------------- happy path

def test_happy_path_every_event_once_exact_bytes(cap):
    lines = events(300)
    p = ok(cap, [], nd(lines))
    assert_once(cap, lines)
    # One request (default --batch-size 1000), events in input order.
    recs = records(cap)
    assert [t for _, t, _ in recs] == lines
    log = cap.requests()
    assert len(log) == 1
    assert log[0]["path"] == "/batch/"
    assert log[0]["status"] == 200 and log[0]["gzip"] is True
    assert log[0]["events"] == 300
    r = receipts(p)
    assert len(r) == 1 and r[0]["outcome"] == "delivered"
    assert "300 read, 300 delivered" in summary(p)


def test_wire_body_gzip_token_no_sent_at_keepalive(wire):
    lines = events(60)
    p = run([P, "--host", wire.url + "/", "--batch-size", "10",
             "--parallel", "2"], input=nd(lines), env=env_for())
    assert p.returncode == 0, p.stderr.decode()
    assert len(wire.reqs) == 6
    chunks = {lines[i]: lines[i:i + 10] for i in range(0, 60, 10)}
    for r in wire.reqs:
        assert r["path"] == "/batch/"                 # one slash
        h = {k.lower(): v for k, v in r["headers"].items()}
        assert h["content-encoding"] == "gzip"
        assert h["content-type"] == "application/json"
        assert h["user-agent"].startswith("amp2ph-ph-batch/")
        assert r["body"][:2] == b"\x1f\x8b"
        body = gzip.decompress(r["body"])
        first = json.loads(body)["batch"][0]
        chunk = [c for l, c in chunks.items()
                 if json.loads(l)["uuid"] == first["uuid"]][0]
        # The exact body: api_key, historical_migration, the events' own
        # bytes; no sent_at (it would shift every historical timestamp).
        assert body == (b'{"api_key":"phc_test","historical_migration":true,'
                        b'"batch":[' + b",".join(chunk) + b"]}")
    # Keep-alive: six requests over at most two connections.
    assert len({r["port"] for r in wire.reqs}) <= 2
    # Before them, one token preflight: POST /flags/?v=2 (a GET would be
    # answered without looking at the token).
    assert len(wire.flags) == 1
    assert wire.flags[0]["path"] == "/flags/?v=2"
    assert json.loads(wire.flags[0]["body"]) == {
        "token": "phc_test", "distinct_id": "amp2ph-preflight"}


def test_gzip_level_and_no_gzip(standin, wire):
    lines = events(200)
    c = View(standin)
    ok(c, ["--no-gzip"], nd(lines))
    assert_once(c, lines)
    assert [r["gzip"] for r in c.requests()] == [False]
    plain = c.requests()[0]["bytes"]
    c = View(standin)
    ok(c, ["--gzip-level", "9"], nd(lines))
    assert_once(c, lines)
    assert [r["gzip"] for r in c.requests()] == [True]
    assert c.requests()[0]["bytes"] < plain / 3
    p = run([P, "--host", wire.url, "--no-gzip"], input=nd(lines),
            env=env_for())
    assert p.returncode == 0
    h = {k.lower(): v for k, v in wire.reqs[0]["headers"].items()}
    assert "content-encoding" not in h
    assert wire.reqs[0]["body"].startswith(b'{"api_key":"phc_test",')


def test_receipts_format(cap):
    lines = events(25)
    p = ok(cap, ["--batch-size", "10"], nd(lines))
    r = receipts(p)
    log = answered(cap)
    assert len(r) == len(log) == 3
    first = {}
    for req, text, _ in records(cap):
        first.setdefault(uuid_of(text), req)
    chunks = [lines[i:i + 10] for i in range(0, 25, 10)]
    for rc in r:
        assert list(rc) == RECEIPT_KEYS             # no error when none
        chunk = [c for c in chunks if uuid_of(c[0]) == rc["first_uuid"]][0]
        lg = log[first[rc["first_uuid"]]]
        assert rc["status"] == 200
        assert rc["outcome"] == "delivered"
        assert rc["events"] == len(chunk) == lg["events"]
        assert rc["bytes"] == lg["bytes"]          # bytes on the wire
        assert rc["attempts"] == 1
        assert isinstance(rc["ms"], int) and 0 <= rc["ms"] < 10000
        assert rc["last_uuid"] == uuid_of(chunk[-1])
        # when the answer came, UTC, to the microsecond
        at = datetime.datetime.strptime(rc["at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        assert abs(at.replace(tzinfo=datetime.timezone.utc).timestamp()
                   - time.time()) < 300
    # stdout is receipts only, one line each, compact.
    assert p.stdout.count(b"\n") == 3
    assert b" " not in p.stdout


def test_receipt_bytes_are_the_bytes_sent_for_every_outcome(cap):
    lines = events(8)
    lines[5] = ev("BadEvent", pad="a" * 3000)    # gzip makes it small
    cap.faults("status:503@1;reject-event:BadEvent")
    p = batch(cap, ["--parallel", "2"], nd(lines))
    assert p.returncode == 65, p.stderr.decode()
    r = receipts(p)
    log = cap.requests()
    assert {x["outcome"] for x in r} == {"retry", "split", "delivered",
                                         "rejected"}
    for x in r:
        assert x["outcome"] in OUTCOMES
        want = RECEIPT_KEYS + (["error"] if x["outcome"] == "retry" else [])
        assert list(x) == want
    # "bytes" means one thing in every receipt: the body as sent, as the
    # stand-in counted it.
    assert sorted((x["status"], x["events"], x["bytes"]) for x in r) == \
        sorted((x["status"] or 0, x["events"], x["bytes"]) for x in log)


# ---------------------------------------------------------------- limits

def test_batch_size_limit(cap):
    lines = events(250)
    ok(cap, ["--batch-size", "60"], nd(lines))
    assert_once(cap, lines)
    assert sorted(r["events"] for r in cap.requests()) == \
        [10, 60, 60, 60, 60]


def test_batch_bytes_bounds_the_request_body(cap):
    # Events of exactly 200 bytes: --batch-bytes 2048 fits ten events'
    # bytes, but not the body that carries them (envelope and commas).
    lines = []
    for i in range(40):
        e = ev("e", "u%d" % i, ts=None)
        e = e[:-1] + b',"pad":"' + b"x" * (200 - len(e) - 9) + b'"}'
        assert len(e) == 200
        json.loads(e)
        lines.append(e)
    ok(cap, ["--no-gzip", "--batch-bytes", "2048"], nd(lines))
    assert_once(cap, lines)
    log = cap.requests()
    assert all(r["bytes"] <= 2048 for r in log), \
        [r["bytes"] for r in log]
    # ... and not needlessly small either.
    assert len(log) <= 6


def test_batch_bytes_with_real_events(cap):
    lines = events(120)
    ok(cap, ["--no-gzip", "--batch-bytes", "50000"], nd(lines))
    assert_once(cap, lines)
    log = cap.requests()
    assert len(log) >= sum(map(len, lines)) // 50000
    # The events of each request come to at most 50000 bytes.
    size = collections.Counter()
    for req, text, _ in records(cap):
        size[req] += len(text)
    assert max(size.values()) <= 50000


def test_event_larger_than_batch_bytes_goes_alone(cap):
    lines = events(6)
    big = ev("big", blob="y" * 5000)
    lines.insert(3, big)
    ok(cap, ["--no-gzip", "--batch-bytes", "4096"], nd(lines))
    assert_once(cap, lines)
    alone = [r for r in cap.requests() if r["bytes"] > 5000]
    assert len(alone) == 1 and alone[0]["events"] == 1


# ---------------------------------------------------------------- faults

def test_503_retried_with_exponential_backoff(cap):
    lines = events(30)
    cap.faults("status:503@1-3")
    p = ok(cap, ["--retry-for", "1m"], nd(lines))
    assert_once(cap, lines)
    log = cap.requests()
    assert [r["status"] for r in log] == [503, 503, 503, 200]
    r = receipts(p)
    assert [x["outcome"] for x in r] == ["retry"] * 3 + ["delivered"]
    assert [x["attempts"] for x in r] == [1, 2, 3, 4]
    assert all(x["error"] == "HTTP 503" for x in r[:3])
    # Waits: half fixed, half random, doubling from 1 s.
    gaps = [log[i + 1]["t"] - (log[i]["t"] + log[i]["dur"])
            for i in range(3)]
    for g, base in zip(gaps, (1, 2, 4)):
        assert base / 2 - 0.05 <= g <= base + 0.5, gaps
    assert "3 retries" in summary(p)


def test_429_without_retry_after(cap):
    lines = events(40)
    cap.faults("429@1-2")
    p = ok(cap, ["--batch-size", "20"], nd(lines))
    assert_once(cap, lines)
    st = [r["status"] for r in cap.requests()]
    assert st.count(429) == 2 and st.count(200) == 2
    assert [x["outcome"] for x in receipts(p)].count("retry") == 2


def test_429_retry_after_is_honoured(cap):
    lines = events(20)
    cap.faults("429:1@1")
    p = ok(cap, [], nd(lines))
    assert_once(cap, lines)
    log = cap.requests()
    assert [r["status"] for r in log] == [429, 200]
    gap = log[1]["t"] - (log[0]["t"] + log[0]["dur"])
    assert 0.95 <= gap <= 1.6, gap       # exactly Retry-After, no jitter
    r = receipts(p)
    assert r[0]["outcome"] == "retry" and r[0]["status"] == 429


def test_dropped_connection_retried(cap):
    lines = events(60)
    cap.faults("drop@2")
    p = ok(cap, ["--batch-size", "20"], nd(lines))
    assert_once(cap, lines)
    log = answered(cap)
    assert log[2]["status"] is None and log[2]["recorded"] == 0
    r = [x for x in receipts(p) if x["outcome"] == "retry"]
    assert len(r) == 1 and r[0]["status"] == 0 and r[0]["error"]


def test_lost_200_duplicates_only_that_request(cap, tmp_path):
    lines = events(60)
    cap.faults("drop-after@2")
    j = tmp_path / "j.db"
    ok(cap, ["--batch-size", "20", "-j", j], nd(lines))
    c = copies(cap)
    assert set(c) == {uuid_of(l) for l in lines}
    dup = {u for u, v in c.items() if len(v) > 1}
    req2 = {uuid_of(t) for q, t, _ in records(cap) if q == 2}
    # The accepted-but-unanswered request was sent again whole, with the
    # same bytes; nothing else was doubled.
    assert len(req2) == 20
    assert dup == req2
    assert all(len(c[u]) == 2 and c[u][0][1] == c[u][1][1] for u in dup)
    assert journal_uuids(j) == set(c)


def test_slow_answer_times_out_and_is_retried(cap):
    lines = events(20)
    cap.faults("slow:3@1")
    t0 = time.time()
    p = ok(cap, ["--timeout", "1s"], nd(lines))
    assert time.time() - t0 < 3.5
    assert_once(cap, lines)
    r = receipts(p)
    assert [x["outcome"] for x in r] == ["retry", "delivered"]
    assert r[0]["status"] == 0 and 900 <= r[0]["ms"] <= 2000
    assert "timed out" in r[0]["error"].lower() or \
        "timeout" in r[0]["error"].lower()


def test_html_200_is_not_a_delivery(cap, tmp_path):
    lines = events(20)
    cap.faults("html200@1")
    j = tmp_path / "j.db"
    p = ok(cap, ["-j", j], nd(lines))
    assert_once(cap, lines)
    r = receipts(p)
    assert [x["outcome"] for x in r] == ["retry", "delivered"]
    assert r[0]["status"] == 0 and "JSON" in r[0]["error"]
    assert r[1]["attempts"] == 2
    assert len(journal_uuids(j)) == 20


def test_413_split_until_it_fits(cap, tmp_path):
    lines = events(120)
    # Random hex does not compress below 20000 bytes: refused alone too.
    huge = ev("huge", blob=os.urandom(24000).hex())
    lines.insert(77, huge)
    cap.faults("413:20000")
    rej = tmp_path / "rejects.ndjson"
    p = batch(cap, ["--rejects", rej], nd(lines))
    assert p.returncode == 65, p.stderr.decode()
    assert_once(cap, [l for l in lines if l is not huge])
    log = cap.requests()
    assert all(r["bytes"] <= 20000 for r in log if r["status"] == 200)
    assert any(x["outcome"] == "split" for x in receipts(p))
    rj = rejects(rej)
    assert len(rj) == 1
    assert rj[0]["status"] == 413 and rj[0]["line"] == 78
    assert rj[0]["input"].encode() == huge
    assert "413" in rj[0]["reason"]


def test_400_bisected_only_the_culprit_rejected(cap, tmp_path):
    lines = events(24)
    bad = ev("BadEvent", "someone")
    lines.insert(13, bad)
    cap.faults("reject-event:BadEvent")
    rej = tmp_path / "rejects.ndjson"
    j = tmp_path / "j.db"
    p = batch(cap, ["--rejects", rej, "-j", j], nd(lines))
    assert p.returncode == 65, p.stderr.decode()
    good = [l for l in lines if l is not bad]
    assert_once(cap, good)
    rj = rejects(rej)
    assert len(rj) == 1
    assert rj[0]["file"] == "<stdin>" and rj[0]["line"] == 14
    assert rj[0]["status"] == 400
    assert rj[0]["input"].encode() == bad
    assert "injected reject-event" in rj[0]["reason"]   # server's words
    # Bisection, not one request per event.
    assert len(cap.requests()) <= 2 * 5 + 1
    out = [x["outcome"] for x in receipts(p)]
    assert out.count("rejected") == 1 and "split" in out
    assert journal_uuids(j) == {uuid_of(l) for l in good}
    assert "1 rejected" in summary(p)
    # The rejected event is not journaled: a re-run offers it again.
    cap.faults("")
    n = len(cap.requests())
    p = batch(cap, ["-j", j], nd(lines))
    assert p.returncode == 0
    assert len(cap.requests()) == n + 1
    assert records(cap)[-1][1] == bad


def test_retry_for_expires(cap, tmp_path):
    lines = events(50)
    cap.faults("status:503")
    j = tmp_path / "j.db"
    t0 = time.time()
    p = batch(cap, ["--retry-for", "1s", "--batch-size", "20", "-j", j],
              nd(lines))
    took = time.time() - t0
    assert p.returncode == 1, p.stderr.decode()
    # --retry-for is a bound: no wait runs past it (1 s, and the
    # requests themselves).
    assert took < 1 + 1.5, took
    assert "giving up" in p.stderr.decode()
    assert "gave-up" in [x["outcome"] for x in receipts(p)]
    assert "undelivered" in summary(p)
    assert records(cap) == []
    assert journal_uuids(j) == set()
    assert journal_runs(j) == ["incomplete"]
    # Faults gone: the same command sends everything.
    cap.faults("")
    ok(cap, ["--batch-size", "20", "-j", j], nd(lines))
    assert_once(cap, lines)


def test_wrong_token_stops_at_once(cap, tmp_path):
    lines = events(100)
    j = tmp_path / "j.db"
    t0 = time.time()
    p = batch(cap, ["--batch-size", "10", "-j", j], nd(lines),
              token="phc_wrongtoken")
    assert time.time() - t0 < 5
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "token" in err and "region" in err
    assert "Nothing was sent" in err
    assert "phc_wrongtoken" not in err + p.stdout.decode()
    # The preflight (/flags) caught it: not one batch went out.
    assert receipts(p) == []
    assert cap.requests() == []
    assert records(cap) == []
    assert journal_uuids(j) == set()


def test_token_refused_by_capture_stops_at_once(tmp_path):
    """A capture that refuses the token (older capture: 401) although
    /flags knew it: no retries of a 401, at most what was in flight."""
    cap = Capture(str(tmp_path), ["--faults", "status:401"])
    try:
        v = View(cap)
        v.faults("status:401")
        p = batch(v, ["--batch-size", "10"], nd(events(100)))
        assert p.returncode == 1
        r = receipts(p)
        assert r and all(x["outcome"] == "fatal" and x["status"] == 401
                         for x in r)
        assert len(v.requests()) <= 4
        assert records(v) == []
    finally:
        cap.stop()


@pytest.mark.parametrize("how", ["env", "file"])
def test_personal_api_key_refused(cap, tmp_path, how):
    secret = "phx_s3cr3tPersonalKey0123456789"
    args = []
    token = secret
    if how == "file":
        f = tmp_path / "key"
        f.write_text(secret + "\n")
        args = ["--token-file", f]
        token = "phc_test"
    p = batch(cap, args, nd(events(3)), token=token)
    assert p.returncode == 2
    out = p.stdout + p.stderr
    assert b"personal API key" in out and b"phc_" in out
    assert secret.encode() not in out
    assert secret[4:].encode() not in out
    assert cap.requests() == []


def test_other_bad_tokens_refused_before_sending(cap):
    for t in ("phc_" + "a" * 70, "phc_\u00e9t\u00e9", "   "):
        p = batch(cap, [], nd(events(3)), token=t)
        assert p.returncode == 2, t
        assert t.strip().encode() not in p.stderr or not t.strip()
    assert cap.requests() == []


def test_token_file_and_posthog_host(cap, tmp_path):
    f = tmp_path / "key"
    f.write_text("  phc_test  \n")
    lines = events(10)
    p = run([P, "--token-file", f], input=nd(lines),
            env={"POSTHOG_API_KEY": "phc_other",
                 "POSTHOG_HOST": cap.url + "/"})
    assert p.returncode == 0, p.stderr.decode()
    assert_once(cap, lines)
    assert cap.requests()[0]["path"] == "/batch/"


# ---------------------------------------------------------------- validation

def test_local_validation_rejects_rest_delivered(cap, tmp_path):
    good = events(10)
    bad = [
        (ev("x", uid="not-a-uuid"), "uuid"),
        (ev(""), "event name"),
        (b'{"event":"x","timestamp":"2024-01-01T00:00:00Z","uuid":"'
         + str(uuid.uuid5(NS, "nodid")).encode() + b'","properties":{}}',
         "distinct_id"),
        (ev("x", did=""), "distinct_id"),
        (b'[1,2,3]', "object"),
        (b'"just a string"', "object"),
        (ev("x", ts="yesterday"), "timestamp"),
        (ev("x", ts="2024-02-30T00:00:00Z"), "timestamp"),
        (ev("x", blob="z" * 1000001), "limit"),
        (b'{"event":"x","distinct_id":', ""),
        (b'{"event":"x","distinct_id":"u","uuid":"'
         + str(uuid.uuid5(NS, "props")).encode() + b'","properties":[1]}',
         "properties"),
        (ev("x", uid=None), "uuid"),
        # what capture's serde types refuse (RawEvent, rust/common/types)
        (b'{"event":"x","distinct_id":"u","uuid":"'
         + str(uuid.uuid5(NS, "pnull")).encode() + b'","properties":null}',
         "properties is null"),
        (b'{"event":"x","distinct_id":"u","uuid":"'
         + str(uuid.uuid5(NS, "set")).encode() + b'","$set":"a"}',
         "$set"),
        (b'{"event":"x","distinct_id":"u","uuid":"'
         + str(uuid.uuid5(NS, "big")).encode()
         + b'","properties":{"n":[1,{"m":1e999}]}}', "too large"),
        (b'{"event":"x","distinct_id":"u","uuid":"'
         + str(uuid.uuid5(NS, "off")).encode() + b'","offset":1.5}',
         "offset"),
        (b'{"event":"x","distinct_id":"u","uuid":"'
         + str(uuid.uuid5(NS, "tok")).encode() + b'","token":7}', "token"),
    ]
    lines = []
    for i, g in enumerate(good):
        lines.append(g)
        if i < len(bad):
            lines.append(bad[i][0])
    lines += [b for b, _ in bad[len(good):]]
    f = tmp_path / "in.ndjson"
    f.write_bytes(nd(lines))
    rej = tmp_path / "rejects.ndjson"
    j = tmp_path / "j.db"
    p = batch(cap, ["--rejects", rej, "-j", j, f])
    assert p.returncode == 65, p.stderr.decode()
    assert_once(cap, good)
    # The stand-in never saw a bad event: no 400 at all.
    assert [r["status"] for r in cap.requests()] == [200]
    rj = rejects(rej)
    assert len(rj) == len(bad)
    by_line = {r["line"]: r for r in rj}
    for (b, word) in bad:
        n = lines.index(b) + 1
        r = by_line[n]
        assert r["file"] == str(f)
        assert word in r["reason"], (word, r["reason"])
        assert r["input"].encode() == b
        assert r.get("status") in (None, 0)
    assert "%d rejected" % len(bad) in summary(p)
    err = p.stderr.decode()
    assert "%s:%d: rejected:" % (f, lines.index(bad[0][0]) + 1) in err


def test_invalid_utf8_rejected_as_base64(cap, tmp_path):
    good = events(3)
    badb = b'{"event":"x","distinct_id":"\xff\xfe"}'
    rej = tmp_path / "r.ndjson"
    p = batch(cap, ["--rejects", rej], nd([good[0], badb] + good[1:]))
    assert p.returncode == 65
    assert_once(cap, good)
    r = rejects(rej)
    assert len(r) == 1 and r[0]["line"] == 2
    assert "input" not in r[0]
    import base64
    assert base64.b64decode(r[0]["input_base64"]) == badb


def test_max_event_bytes(cap, tmp_path):
    lines = events(5)
    small = min(len(l) for l in lines)
    rej = tmp_path / "r.ndjson"
    p = batch(cap, ["--max-event-bytes", small, "--rejects", rej],
              nd(lines))
    assert p.returncode == 65
    kept = [l for l in lines if len(l) <= small]
    assert_once(cap, kept)
    assert len(rejects(rej)) == len(lines) - len(kept)


def test_events_without_uuid_ok_without_journal(cap):
    lines = [ev("x", uid=None), ev("y", uid=None)]
    ok(cap, [], nd(lines))
    assert_once(cap, lines)


def test_recent_events_warned_once_with_count(cap):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = events(5) + [ev("new", ts=now) for _ in range(3)]
    p = ok(cap, [], nd(lines))
    assert_once(cap, lines)
    err = p.stderr.decode()
    assert err.count("48 hours") == 1
    assert "3 events are less than 48 hours old" in err


# ---------------------------------------------------------------- journal

def test_journal_rerun_sends_nothing(cap, tmp_path):
    lines = events(120)
    j = tmp_path / "j.db"
    ok(cap, ["-j", j, "--batch-size", "50"], nd(lines))
    assert_once(cap, lines)
    n = len(cap.requests())
    assert journal_uuids(j) == {uuid_of(l) for l in lines}
    p = ok(cap, ["-j", j, "--batch-size", "50"], nd(lines))
    assert len(cap.requests()) == n          # 0 new requests
    assert receipts(p) == []
    assert "0 delivered, 120 already delivered" in summary(p)
    assert journal_runs(j) == ["complete", "complete"]
    db = sqlite3.connect(str(j))
    cols = [r[1] for r in db.execute("PRAGMA table_info(delivered)")]
    ats = [r[0] for r in db.execute("SELECT at FROM delivered")]
    db.close()
    # uuid, and when PostHog acknowledged it (ph-verify's settle time)
    assert cols == ["uuid", "at"]
    assert all(isinstance(a, int) and abs(a - time.time()) < 600
               for a in ats)


def test_journal_of_schema_1_is_upgraded(cap, tmp_path):
    """A journal made before acknowledgement times keeps its rows: they
    get no time (NULL), new ones do, and nothing is sent twice."""
    lines = events(30)
    j = tmp_path / "old.db"
    db = sqlite3.connect(str(j))
    db.executescript(
        "CREATE TABLE delivered (uuid BLOB PRIMARY KEY) WITHOUT ROWID;"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
        "INSERT INTO meta VALUES ('schema', '1');")
    for l in lines[:10]:
        db.execute("INSERT INTO delivered VALUES (?)",
                   (uuid.UUID(uuid_of(l)).bytes,))
    db.commit()
    db.close()
    ok(cap, ["-j", j], nd(lines))
    assert_once(cap, lines[10:])
    db = sqlite3.connect(str(j))
    rows = dict(db.execute("SELECT uuid, at FROM delivered"))
    schema = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    db.close()
    assert len(rows) == 30
    assert sum(1 for a in rows.values() if a is None) == 10
    assert schema == ("2",)


def test_journal_skips_what_an_earlier_run_delivered(cap, tmp_path):
    lines = events(100)
    j = tmp_path / "j.db"
    journal_add(j, [uuid_of(l) for l in lines[::2]])
    p = ok(cap, ["-j", j], nd(lines))
    assert_once(cap, lines[1::2])
    assert "50 delivered, 50 already delivered" in summary(p)
    assert len(journal_uuids(j)) == 100


def test_file_given_twice_with_journal(cap, tmp_path):
    lines = events(300)
    f = tmp_path / "a.ndjson"
    f.write_bytes(nd(lines))
    j = tmp_path / "j.db"
    p = ok(cap, ["-j", j, "--batch-size", "20", f, f], b"")
    assert_once(cap, lines)
    assert "300 delivered" in summary(p)


def test_duplicated_lines_sent_once(cap, tmp_path):
    lines = events(40)
    # Each line twice in a row, and the same uuid written in capitals.
    doubled = []
    for l in lines:
        doubled += [l, l]
    first = json.loads(lines[0])
    caps = ev(first["event"], first["distinct_id"],
              uid=first["uuid"].upper())
    p = ok(cap, [], nd(doubled + [caps]))
    assert_once(cap, lines)
    assert "41 events had a uuid seen earlier" in p.stderr.decode()


def test_file_given_twice_without_journal(cap, tmp_path):
    # Small: all of it is read before anything is answered.
    lines = events(30)
    f = tmp_path / "a.ndjson"
    f.write_bytes(nd(lines))
    ok(cap, [f, f], b"")
    assert_once(cap, lines)


def test_duplicates_far_apart_without_journal_sent_once(cap, tmp_path):
    # "Duplicate uuids within one input are sent once": also when the
    # first copy was delivered before the second is read.
    lines = events(400)
    f = tmp_path / "a.ndjson"
    f.write_bytes(nd(lines))
    p = batch(cap, ["--batch-size", "20", f, f])
    assert p.returncode == 0
    assert_once(cap, lines)


def test_missing_input_file_abandons_nothing(cap, tmp_path):
    # A file that cannot be opened, reached while requests are out: like
    # SIGTERM, stop reading, finish the requests in flight (or send
    # nothing at all), say so, exit 1.  Never leave PostHog holding
    # events the journal does not.
    lines = events(120)
    a = tmp_path / "a.ndjson"
    a.write_bytes(nd(lines))
    j = tmp_path / "j.db"
    cap.faults("slow:0.3")
    p = batch(cap, ["-j", j, "--batch-size", "10", a,
                    tmp_path / "missing.ndjson"])
    assert p.returncode == 1
    assert b"missing.ndjson" in p.stderr
    time.sleep(0.5)                   # the stand-in finishes its sleeps
    assert all(r["status"] is not None for r in cap.requests()), \
        "requests abandoned in flight"
    assert set(copies(cap)) == journal_uuids(j)
    assert summary(p)
    cap.faults("")
    ok(cap, ["-j", j, a])
    assert_once(cap, lines)


def test_journal_unusable_is_runtime_error(cap, tmp_path):
    p = batch(cap, ["-j", tmp_path], nd(events(3)))    # a directory
    assert p.returncode == 1
    assert b"journal" in p.stderr
    assert cap.requests() == []


# ---------------------------------------------------------------- pacing

def test_rate_cap(cap):
    lines = events(300)
    t0 = time.time()
    ok(cap, ["--rate", "100/s", "--batch-size", "1000"], nd(lines))
    took = time.time() - t0
    assert_once(cap, lines)
    log = cap.requests()
    # Smooth: a batch is at most a second's worth.
    assert all(r["events"] <= 100 for r in log)
    ts = sorted((r["t"], r["events"]) for r in log)
    for t, _ in ts:
        window = sum(n for u, n in ts if t <= u < t + 1.0)
        assert window <= 100 + 100, ts
    assert ts[-1][0] - ts[0][0] >= 1.9
    assert took >= 1.9


def test_rate_per_minute(cap):
    lines = events(5)
    t0 = time.time()
    ok(cap, ["--rate", "180/min", "--batch-size", "1000"], nd(lines))
    assert_once(cap, lines)
    # 3 events a second, three per batch: the second batch a second later.
    assert [r["events"] for r in cap.requests()] == [3, 2]
    assert time.time() - t0 >= 0.6


def test_parallel_requests_overlap(cap):
    lines = events(80)
    cap.faults("slow:0.5")
    t0 = time.time()
    ok(cap, ["--parallel", "4", "--batch-size", "10"], nd(lines))
    took = time.time() - t0
    assert_once(cap, lines)
    log = cap.requests()
    assert len(log) == 8
    spans = [(r["t"], r["t"] + r["dur"]) for r in log]
    most = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert most == 4
    assert took < 8 * 0.5 * 0.6, took


def test_parallel_one_is_sequential_without_idling(cap):
    lines = events(50)
    cap.faults("slow:0.1")
    t0 = time.time()
    ok(cap, ["--parallel", "1", "--batch-size", "10"], nd(lines))
    took = time.time() - t0
    assert_once(cap, lines)
    spans = sorted((r["t"], r["t"] + r["dur"]) for r in cap.requests())
    assert len(spans) == 5
    assert all(spans[i][1] <= spans[i + 1][0] + 0.01
               for i in range(len(spans) - 1))
    # Five requests of 0.1 s one after the other: no pause between them.
    gaps = [spans[i + 1][0] - spans[i][1] for i in range(4)]
    assert took < 1.5, (took, gaps)


# ---------------------------------------------------------------- dry run

def test_dry_run_prints_exact_bodies_no_network():
    lines = events(25)
    p = run([P, "-n", "--batch-size", "10"], input=nd(lines),
            env={"POSTHOG_API_KEY": "phc_secrettoken", "POSTHOG_HOST":
                 "http://127.0.0.1:9"})
    assert p.returncode == 0, p.stderr.decode()
    want = b"".join(
        b'{"api_key":"<POSTHOG_API_KEY>","historical_migration":true,'
        b'"batch":[' + b",".join(lines[i:i + 10]) + b"]}\n"
        for i in range(0, 25, 10))
    assert p.stdout == want
    assert b"phc_secrettoken" not in p.stdout + p.stderr
    # No token and no host needed.
    p = run([P, "--dry-run"], input=nd(lines),
            env={"POSTHOG_API_KEY": "", "POSTHOG_HOST": ""})
    assert p.returncode == 0
    assert len(ndjson(p.stdout)) == 1
    assert [json.dumps(e, separators=(",", ":"), ensure_ascii=False)
            for e in ndjson(p.stdout)[0]["batch"]] == \
        [json.dumps(json.loads(l), separators=(",", ":"),
                    ensure_ascii=False) for l in lines]


def test_dry_run_rejects_and_dedups(tmp_path):
    lines = events(5)
    rej = tmp_path / "r.ndjson"
    p = run([P, "-n", "--rejects", rej], input=nd(lines + [b"{", lines[0]]))
    assert p.returncode == 65
    assert ndjson(p.stdout)[0]["batch"] == [json.loads(l) for l in lines]
    assert rejects(rej)[0]["line"] == 6


def test_dry_run_with_journal_shows_what_would_be_sent(tmp_path):
    lines = events(10)
    j = tmp_path / "j.db"
    journal_add(j, [uuid_of(l) for l in lines[:4]])
    p = run([P, "-n", "-j", j], input=nd(lines + [ev("x", uid=None)]))
    # The bodies a real run would send: the journaled events are skipped,
    # and an event without a uuid is rejected, as with a real run.
    body = ndjson(p.stdout)
    assert [json.loads(l) for l in lines[4:]] == \
        [e for b in body for e in b["batch"]]
    assert p.returncode == 65


# ---------------------------------------------------------------- signals

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_rerun_completes_once(cap, tmp_path, sig):
    lines = events(300)
    f = tmp_path / "in.ndjson"
    f.write_bytes(nd(lines))
    j = tmp_path / "j.db"
    args = ["-j", j, "--rate", "100/s", f]
    errf = open(tmp_path / "err", "wb")
    outf = open(tmp_path / "out", "wb")
    proc = spawn(cap, args, stdout=outf, stderr=errf)
    assert wait_for_requests(cap, 1, proc)
    time.sleep(0.3)
    proc.send_signal(sig)
    rc = proc.wait(10)
    errf.close()
    outf.close()
    err = (tmp_path / "err").read_bytes()
    check_sanitizers(err)
    assert rc == 1
    assert b"stopped by signal %d" % sig in err
    assert b"some undelivered" in err
    done = journal_uuids(j)
    assert 0 < len(done) < 300
    # Requests in flight were finished and recorded: nothing was sent that
    # the journal does not hold.
    assert set(copies(cap)) == done
    assert journal_runs(j) == ["incomplete"]
    p = ok(cap, args)
    assert_once(cap, lines)                   # no duplicate at all
    assert journal_runs(j) == ["incomplete", "complete"]
    assert "%d already delivered" % len(done) in summary(p)


def test_stdin_pipe_that_pauses(cap):
    # A producer that stops for longer than the linger: the partial batch
    # goes out meanwhile, and the rest later.
    lines = events(30)
    proc = spawn(cap, ["--batch-size", "100"], stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(nd(lines[:10]))
    proc.stdin.flush()
    assert wait_for_requests(cap, 1, proc, timeout=10)
    proc.stdin.write(nd(lines[10:]))
    proc.stdin.close()
    out = proc.stdout.read()
    err = proc.stderr.read()
    assert proc.wait(10) == 0, err
    check_sanitizers(err)
    assert_once(cap, lines)
    assert [r["events"] for r in cap.requests()] == [10, 20]
    assert [r["events"] for r in ndjson(out)] == [10, 20]


# ---------------------------------------------------------------- kill -9

@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A file of about 100k events (20k under build/san), made by
    amp-sample | amp-convert straight into the file."""
    n = 20000 if SAN else 100000
    path = tmp_path_factory.mktemp("big") / "events.ndjson"
    with open(path, "wb") as out:
        a = subprocess.Popen([os.path.join(TOOLS, "amp-sample"), "-n",
                              str(n + n // 10 + 300), "-s", "5", "--ndjson"],
                             stdout=subprocess.PIPE)
        subprocess.run([os.path.join(TOOLS, "amp-convert"), "-q"],
                       stdin=a.stdout, stdout=out, check=True)
        a.stdout.close()
        assert a.wait() == 0
    lines = path.read_bytes().splitlines()
    assert len(lines) >= n
    assert len({uuid_of(l) for l in lines}) == len(lines)
    return path, lines


def test_kill9_at_random_moments_then_rerun(big, fresh, tmp_path):
    cap = fresh
    path, lines = big
    parallel, size = 4, 500
    j = tmp_path / "j.db"
    args = ["-q", "-j", j, "--parallel", parallel, "--batch-size", size,
            path]
    total = -(-len(lines) // size)          # requests without faults
    rng = random.Random(7)
    kills = []                       # wall-clock time of each kill -9
    # Slow answers, so that a run lasts long enough for three kills
    # however fast ph-batch gets.
    cap.faults("slow:0.25")
    for _ in range(3):
        n = cap.count()
        proc = spawn(cap, args)
        # Kill once this run has sent a random number of requests (so the
        # kills fall early, midway and late), at a random moment after.
        if not wait_for_requests(cap, n + rng.randint(1, total // 6), proc,
                                 timeout=60):
            break
        time.sleep(rng.uniform(0, 0.3))
        if proc.poll() is not None:
            break
        kills.append(time.time())
        proc.kill()
        proc.wait()
    assert len(kills) == 3
    cap.faults("")
    for _ in range(3):
        p = batch(cap, args, timeout=120)
        if p.returncode != 1:
            break
    assert p.returncode == 0, p.stderr.decode()

    want = {uuid_of(l) for l in lines}
    c = copies(cap)
    assert set(c) == want                         # every event, at least once
    assert journal_uuids(j) == want
    dup = {u: v for u, v in c.items() if len(v) > 1}
    # A re-sent copy is identical.
    assert all(len({t for _, t in v}) == 1 for v in dup.values())
    # Every copy but the last came from a request in flight at a kill:
    # sent before it, answered (just) before or after it.
    log = answered(cap)
    resent = collections.Counter()
    for v in dup.values():
        for req, _ in sorted(v)[:-1]:
            resent[req] += 1
    per_kill = collections.defaultdict(set)
    for req in resent:
        e = log[req]
        k = [k for k in kills if e["t"] <= k and e["t"] + e["dur"] >= k - 1]
        assert k, ("request %d (t=%.3f..%.3f) re-sent but not in flight at "
                   "a kill %s" % (req, e["t"], e["t"] + e["dur"], kills))
        per_kill[k[0]].add(req)
        # The whole request was re-sent, not part of it.
        assert resent[req] == e["recorded"]
    for k, reqs in per_kill.items():
        assert len(reqs) <= parallel, (k, reqs)
    assert len(dup) <= len(kills) * parallel * size


# ---------------------------------------------------------------- cli

def test_usage_errors_exit_2(cap):
    for args in (["--rate", "10"], ["--rate", "0/s"], ["--rate", "5/day"],
                 ["--parallel", "0"], ["--parallel", "65"],
                 ["--batch-size", "0"], ["--batch-bytes", "100"],
                 ["--gzip-level", "0"], ["--retry-for", "soon"],
                 ["--timeout", "0"], ["--region", "ap"], ["--bogus"],
                 ["--project", "x"], ["-j", "a", "-j", "b"]):
        p = batch(cap, args, nd(events(2)))
        assert p.returncode == 2, args
    p = run([P, "--host", "ftp://x"], input=b"", env=env_for())
    assert p.returncode == 2 and b"http" in p.stderr
    e = {k: v for k, v in os.environ.items() if k != "POSTHOG_HOST"}
    e["POSTHOG_API_KEY"] = TOKEN
    p = subprocess.run([prog(P)], input=b"", env=e,             # no host
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check_sanitizers(p.stderr)
    assert p.returncode == 2 and b"POSTHOG_HOST" in p.stderr
    p = run([P, "--host", cap.url], input=b"",
            env={"POSTHOG_API_KEY": "", "POSTHOG_HOST": ""})
    assert p.returncode == 2 and b"POSTHOG_API_KEY" in p.stderr
    p = run([P, "--version"])
    assert p.returncode == 0 and p.stdout.startswith(b"ph-batch (amp2ph) ")
    assert cap.requests() == []


def test_quiet_and_progress(cap):
    lines = events(20)
    p = ok(cap, ["-q"], nd(lines))
    assert p.stderr == b""
    p = batch(cap, ["-q", "--rejects", os.devnull], nd(lines + [b"{"]))
    assert p.returncode == 65 and summary(p)
    p = ok(cap, ["-p"], nd(events(30)[20:]))
    assert b"events/s" in p.stderr


def test_usage_matches_man_page_synopsis():
    man = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "man", "ph-batch.1")
    try:
        out = subprocess.run(["mandoc", "-Tascii", man],
                             stdout=subprocess.PIPE, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("mandoc is not installed")
    text = re.sub(r".\x08", "", out.decode())
    syn = text.split("SYNOPSIS", 1)[1].split("DESCRIPTION", 1)[0]
    usage = run([P, "-h"]).stdout.decode()
    assert usage.startswith("usage: ")
    assert " ".join(syn.split()) == " ".join(usage[7:].split())


# ---------------------------------------------------------------- one sender

def test_one_sender_per_journal(cap, tmp_path):
    """A second ph-batch on a journal in use stops at once, naming the
    holder; ph-alias may still read it; a killed holder blocks no one."""
    lines = events(200)
    j = tmp_path / "j.db"
    src = tmp_path / "in.ndjson"
    src.write_bytes(nd(lines))
    cap.faults("slow:2")
    a = spawn(cap, ["-j", j, "--batch-size", "10", "--parallel", "1", src])
    try:
        assert wait_for_requests(cap, 1, a)
        n = cap.count()
        t0 = time.time()
        p = batch(cap, ["-j", j], nd(lines))
        assert time.time() - t0 < 5
        assert p.returncode == 1
        err = p.stderr.decode()
        assert "in use by another sender" in err
        assert "pid %d" % a.pid in err and str(j) in err
        assert cap.count() <= n + 1          # the holder's, not ours
        r = run(["ph-alias", "-q", "-j", j], input=nd(lines[:5]))
        assert r.returncode == 0, r.stderr
    finally:
        a.kill()
        a.wait()
    cap.faults("")
    p = batch(cap, ["-j", j], nd(lines))
    assert p.returncode == 0, p.stderr
    assert journal_uuids(j) == {uuid_of(l) for l in lines}


def test_new_journal_is_announced_once(cap, tmp_path):
    j = tmp_path / "j.db"
    lines = events(20)
    p = batch(cap, ["-j", j], nd(lines))
    assert p.returncode == 0
    assert b"new journal: every event will be sent" in p.stderr
    p = batch(cap, ["-j", j], nd(lines))
    assert b"new journal" not in p.stderr
    # deleted: announced again, and everything is sent again
    for suffix in ("", "-wal", "-shm", "-sender"):
        f = tmp_path / ("j.db" + suffix)
        if f.exists():
            f.unlink()
    p = batch(cap, ["-j", j], nd(lines))
    assert b"new journal: every event will be sent" in p.stderr


def test_receipt_write_failure_stops_with_its_errno(cap, tmp_path):
    """Receipts into a full disk: the real reason, and no more sending."""
    lines = events(300)
    with open("/dev/full", "wb") as full:
        e = dict(os.environ)
        e.update(env_for())
        p = subprocess.run([prog(P), "--host", cap.url, "--batch-size",
                            "10", "--parallel", "1"], input=nd(lines),
                           stdout=full, stderr=subprocess.PIPE, env=e,
                           timeout=60)
    check_sanitizers(p.stderr)
    assert p.returncode == 1
    assert b"No space left on device" in p.stderr
    assert b"Inappropriate ioctl" not in p.stderr
    assert len(cap.requests()) < 30


def test_big_numbers_that_fit_a_double_pass(cap):
    """1e300 and a 400-digit fraction are numbers capture reads: sent."""
    line = (b'{"event":"x","distinct_id":"u","uuid":"'
            + str(uuid.uuid5(NS, "fits")).encode()
            + b'","properties":{"a":1e300,"b":0.' + b"0" * 400 + b'1}}')
    p = ok(cap, [], nd([line]))
    assert_once(cap, [line])


def test_token_in_an_answer_is_masked(tmp_path):
    """A 403 whose body echoes the token: the token is never printed."""
    class Echo(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(n)
            if self.path.startswith("/flags"):
                code, out = 200, b'{"flags":{}}'
            else:
                code = 403
                out = b'{"detail":"token ' + TOKEN.encode() + b' refused"}'
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        p = run([P, "--host", "http://127.0.0.1:%d" % srv.server_address[1]],
                input=nd(events(3)), env=env_for())
    finally:
        srv.shutdown()
        srv.server_close()
    assert p.returncode == 1
    assert b"refused" in p.stderr and b"*" * len(TOKEN) in p.stderr
    assert TOKEN.encode() not in p.stderr + p.stdout


def test_libcurl_silent_resend_is_counted(tmp_path):
    """A reused connection that dies after capture took the request
    (drop-after: stored, then closed without an answer): libcurl sends
    it again on its own.  The receipt and the summary say so."""
    cap = Capture(str(tmp_path), ["--workers", "0"])
    try:
        v = View(cap)
        v.faults("drop-after@2")
        lines = events(30)
        p = batch(v, ["--batch-size", "10", "--parallel", "1"], nd(lines))
        assert p.returncode == 0, p.stderr
        r = receipts(p)
        assert [x.get("resent", 0) for x in r] == [0, 1, 0]
        assert "1 requests sent again by libcurl" in p.stderr.decode()
        # and indeed the second batch is in the stand-in twice
        got = collections.Counter(t for _, t, _ in records(v))
        assert sorted(got.values()) == [1] * 20 + [2] * 10
    finally:
        cap.stop()


def test_tls_certificate_failure_is_permanent(tmp_path):
    """A certificate that does not verify (self-signed) stops at once
    with the reason, instead of being retried for --retry-for."""
    import ssl
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = []

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            seen.append(self.path)
            n = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(n)
            out = b'{"status":"Ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(key))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    url = "https://127.0.0.1:%d" % srv.server_address[1]
    try:
        t0 = time.time()
        p = run([P, "--host", url, "--retry-for", "1h"],
                input=nd(events(5)), env=env_for())
        assert time.time() - t0 < 20
        assert p.returncode == 1
        err = p.stderr.decode()
        assert "certificate" in err.lower() and "retrying" not in err
        assert seen == []
        # --insecure: the same server is accepted
        p = run([P, "--host", url, "--insecure"], input=nd(events(5)),
                env=env_for())
        assert p.returncode == 0, p.stderr.decode()
        assert "/batch/" in seen
    finally:
        srv.shutdown()
        srv.server_close()


def test_journal_commit_failure_is_not_delivered(cap, tmp_path):
    """The journal on a full disk: what PostHog took but the journal could
    not record is neither counted nor receipted as delivered, and the run
    stops (a re-run sends those again: they are not in the journal)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs",
                       str(mnt)], stderr=subprocess.DEVNULL).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        j = mnt / "j.db"
        lines = events(1000)
        p = batch(cap, ["-j", j, "--batch-size", "50", "--parallel", "1"],
                  nd(lines))
        assert p.returncode == 1, p.stderr.decode()
        err = p.stderr.decode()
        assert "not recorded in the journal" in err
        r = receipts(p)
        bad = [x for x in r if x["outcome"] == "fatal"]
        assert bad and "not recorded" in bad[0]["error"]
        delivered = sum(x["events"] for x in r if x["outcome"] ==
                        "delivered")
        recorded = journal_uuids(j)
        assert len(recorded) == delivered      # receipts = the journal
        assert "%d delivered" % delivered in summary(p)
        sent = {uuid_of(t) for _, t, _ in records(cap)}
        assert recorded < sent                 # some sent, unrecorded
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_input_for_another_stage_is_one_message(cap, tmp_path):
    """A zip, gzip bytes or Amplitude rows given to ph-batch: one message
    naming the stage that was skipped, exit 65, no rejects, nothing sent."""
    arch = make_sample(tmp_path / "x.zip", 50)
    amp = sample_lines(5)
    gz = gzip.compress(amp)
    rej = tmp_path / "rej"
    for data, word in ((arch.read_bytes(), b"amp-unpack"),
                       (gz, b"amp-unpack"), (amp, b"amp-convert was skipped")):
        p = batch(cap, ["--rejects", rej], data)
        assert p.returncode == 65, p.stderr
        assert word in p.stderr
        assert len(p.stderr.splitlines()) == 1, p.stderr
        assert not rej.exists() or rej.read_bytes() == b""
    assert cap.requests() == []


def test_bom_is_named_and_skipped(cap):
    lines = events(3)
    p = batch(cap, [], b"\xef\xbb\xbf" + nd(lines))
    assert p.returncode == 0, p.stderr
    assert b"byte order mark" in p.stderr
    assert_once(cap, lines)


def test_cut_last_line_is_exit_1_not_a_reject(cap, tmp_path):
    """The stage before was killed mid-line: the cut line is not sent and
    not rejected, and the run says it is incomplete (exit 1)."""
    lines = events(5)
    rej = tmp_path / "rej"
    p = batch(cap, ["--rejects", rej], nd(lines) + lines[0][:50])
    assert p.returncode == 1, p.stderr
    assert b"cut line" in p.stderr
    assert not rej.exists() or rej.read_bytes() == b""
    assert_once(cap, lines)
    # a whole last line without its newline is just a line
    p = batch(cap, [], nd(events(7)[5:6]) + events(7)[6])
    assert p.returncode == 0, p.stderr
