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
import functools
import gzip
import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import (BUILD, ROOT, TOOLS, check_sanitizers, ndjson, prog,
                      run, sample_lines)

P = "ph-batch"
TOKEN = "phc_test"
SAN = os.path.basename(BUILD.rstrip("/")) == "san"
NS = uuid.UUID("0d6bd2bb-5f0e-4d3c-9d55-3c1bf4b0a6e1")
RECEIPT_KEYS = ["status", "outcome", "events", "bytes", "attempts", "ms",
                "first_uuid", "last_uuid"]
OUTCOMES = {"delivered", "retry", "split", "rejected", "fatal", "gave-up"}


# ---------------------------------------------------------------- data

@functools.lru_cache(maxsize=None)
def converted(n, seed):
    """At least n PostHog event lines (bytes, no newline) made by
    amp-convert from amp-sample's Amplitude lines; their uuids are all
    different."""
    amp = sample_lines(n + n // 4 + 50, seed)
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
    out = []
    if not os.path.exists(cap.record):
        return out
    with open(cap.record, "rb") as f:
        for l in f:
            l = l.rstrip(b"\n")
            if not l:
                continue
            head, rest = l.split(b',"event":', 1)
            assert head.startswith(b'{"req":')
            text, tail = rest.rsplit(b',"historical_migration":', 1)
            out.append((int(head[7:]), text, tail == b"true}"))
    return out


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
    db.executemany("INSERT OR IGNORE INTO delivered VALUES (?)",
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
        if len(cap.requests()) >= n:
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
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                outer.reqs.append({"path": self.path,
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


# ---------------------------------------------------------------- happy path

def test_happy_path_every_event_once_exact_bytes(capture):
    lines = events(300)
    p = ok(capture, [], nd(lines))
    assert_once(capture, lines)
    # One request (default --batch-size 1000), events in input order.
    recs = records(capture)
    assert [t for _, t, _ in recs] == lines
    log = capture.requests()
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


def test_gzip_level_and_no_gzip(capture_factory, wire):
    lines = events(200)
    c = capture_factory()
    ok(c, ["--no-gzip"], nd(lines))
    assert_once(c, lines)
    assert [r["gzip"] for r in c.requests()] == [False]
    plain = c.requests()[0]["bytes"]
    c = capture_factory()
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


def test_receipts_format(capture):
    lines = events(25)
    p = ok(capture, ["--batch-size", "10"], nd(lines))
    r = receipts(p)
    log = answered(capture)
    assert len(r) == len(log) == 3
    first = {}
    for req, text, _ in records(capture):
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
    # stdout is receipts only, one line each, compact.
    assert p.stdout.count(b"\n") == 3
    assert b" " not in p.stdout


def test_receipt_bytes_are_the_bytes_sent_for_every_outcome(capture):
    lines = events(8)
    lines[5] = ev("BadEvent")
    capture.faults("status:503@1;reject-event:BadEvent")
    p = batch(capture, ["--parallel", "2"], nd(lines))
    assert p.returncode == 65, p.stderr.decode()
    r = receipts(p)
    log = capture.requests()
    assert {x["outcome"] for x in r} == {"retry", "split", "delivered",
                                         "rejected"}
    # "bytes" means one thing in every receipt: the body as sent, as the
    # stand-in counted it.
    assert sorted((x["status"], x["events"], x["bytes"]) for x in r) == \
        sorted((x["status"] or 0, x["events"], x["bytes"]) for x in log)


# ---------------------------------------------------------------- limits

def test_batch_size_limit(capture):
    lines = events(250)
    ok(capture, ["--batch-size", "60"], nd(lines))
    assert_once(capture, lines)
    assert sorted(r["events"] for r in capture.requests()) == \
        [10, 60, 60, 60, 60]


def test_batch_bytes_bounds_the_request_body(capture):
    # Events of exactly 100 bytes: --batch-bytes 1024 fits ten events'
    # bytes, but not the body that carries them (envelope and commas).
    lines = []
    for i in range(40):
        e = ev("e", "u%d" % i, ts=None)
        e = e[:-1] + b',"pad":"' + b"x" * (100 - len(e) - 9) + b'"}'
        assert len(e) == 100
        json.loads(e)
        lines.append(e)
    ok(capture, ["--no-gzip", "--batch-bytes", "1024"], nd(lines))
    assert_once(capture, lines)
    log = capture.requests()
    assert all(r["bytes"] <= 1024 for r in log), \
        [r["bytes"] for r in log]
    # ... and not needlessly small either.
    assert len(log) <= 6


def test_batch_bytes_with_real_events(capture):
    lines = events(120)
    ok(capture, ["--no-gzip", "--batch-bytes", "50000"], nd(lines))
    assert_once(capture, lines)
    log = capture.requests()
    assert len(log) >= sum(map(len, lines)) // 50000
    assert all(r["bytes"] <= 50000 for r in log)


def test_event_larger_than_batch_bytes_goes_alone(capture):
    lines = events(6)
    big = ev("big", blob="y" * 5000)
    lines.insert(3, big)
    ok(capture, ["--no-gzip", "--batch-bytes", "4096"], nd(lines))
    assert_once(capture, lines)
    alone = [r for r in capture.requests() if r["bytes"] > 5000]
    assert len(alone) == 1 and alone[0]["events"] == 1


# ---------------------------------------------------------------- faults

def test_503_retried_with_exponential_backoff(capture):
    lines = events(30)
    capture.faults("status:503@1-3")
    p = ok(capture, ["--retry-for", "1m"], nd(lines))
    assert_once(capture, lines)
    log = capture.requests()
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


def test_429_without_retry_after(capture):
    lines = events(40)
    capture.faults("429@1-2")
    p = ok(capture, ["--batch-size", "20"], nd(lines))
    assert_once(capture, lines)
    st = [r["status"] for r in capture.requests()]
    assert st.count(429) == 2 and st.count(200) == 2
    assert [x["outcome"] for x in receipts(p)].count("retry") == 2


def test_429_retry_after_is_honoured(capture):
    lines = events(20)
    capture.faults("429:1@1")
    p = ok(capture, [], nd(lines))
    assert_once(capture, lines)
    log = capture.requests()
    assert [r["status"] for r in log] == [429, 200]
    gap = log[1]["t"] - (log[0]["t"] + log[0]["dur"])
    assert 0.95 <= gap <= 1.6, gap       # exactly Retry-After, no jitter
    r = receipts(p)
    assert r[0]["outcome"] == "retry" and r[0]["status"] == 429


def test_dropped_connection_retried(capture):
    lines = events(60)
    capture.faults("drop@2")
    p = ok(capture, ["--batch-size", "20"], nd(lines))
    assert_once(capture, lines)
    log = answered(capture)
    assert log[2]["status"] is None and log[2]["recorded"] == 0
    r = [x for x in receipts(p) if x["outcome"] == "retry"]
    assert len(r) == 1 and r[0]["status"] == 0 and r[0]["error"]


def test_lost_200_duplicates_only_that_request(capture, tmp_path):
    lines = events(60)
    capture.faults("drop-after@2")
    j = tmp_path / "j.db"
    ok(capture, ["--batch-size", "20", "-j", j], nd(lines))
    c = copies(capture)
    assert set(c) == {uuid_of(l) for l in lines}
    dup = {u for u, v in c.items() if len(v) > 1}
    req2 = {uuid_of(t) for q, t, _ in records(capture) if q == 2}
    # The accepted-but-unanswered request was sent again whole, with the
    # same bytes; nothing else was doubled.
    assert len(req2) == 20
    assert dup == req2
    assert all(len(c[u]) == 2 and c[u][0][1] == c[u][1][1] for u in dup)
    assert journal_uuids(j) == set(c)


def test_slow_answer_times_out_and_is_retried(capture):
    lines = events(20)
    capture.faults("slow:3@1")
    t0 = time.time()
    p = ok(capture, ["--timeout", "1s"], nd(lines))
    assert time.time() - t0 < 3.5
    assert_once(capture, lines)
    r = receipts(p)
    assert [x["outcome"] for x in r] == ["retry", "delivered"]
    assert r[0]["status"] == 0 and 900 <= r[0]["ms"] <= 2000
    assert "timed out" in r[0]["error"].lower() or \
        "timeout" in r[0]["error"].lower()


def test_html_200_is_not_a_delivery(capture, tmp_path):
    lines = events(20)
    capture.faults("html200@1")
    j = tmp_path / "j.db"
    p = ok(capture, ["-j", j], nd(lines))
    assert_once(capture, lines)
    r = receipts(p)
    assert [x["outcome"] for x in r] == ["retry", "delivered"]
    assert r[0]["status"] == 0 and "JSON" in r[0]["error"]
    assert r[1]["attempts"] == 2
    assert len(journal_uuids(j)) == 20


def test_413_split_until_it_fits(capture, tmp_path):
    lines = events(120)
    # Random hex does not compress below 20000 bytes: refused alone too.
    huge = ev("huge", blob=os.urandom(24000).hex())
    lines.insert(77, huge)
    capture.faults("413:20000")
    rej = tmp_path / "rejects.ndjson"
    p = batch(capture, ["--rejects", rej], nd(lines))
    assert p.returncode == 65, p.stderr.decode()
    assert_once(capture, [l for l in lines if l is not huge])
    log = capture.requests()
    assert all(r["bytes"] <= 20000 for r in log if r["status"] == 200)
    assert any(x["outcome"] == "split" for x in receipts(p))
    rj = rejects(rej)
    assert len(rj) == 1
    assert rj[0]["status"] == 413 and rj[0]["line"] == 78
    assert rj[0]["input"].encode() == huge
    assert "413" in rj[0]["reason"]


def test_400_bisected_only_the_culprit_rejected(capture, tmp_path):
    lines = events(24)
    bad = ev("BadEvent", "someone")
    lines.insert(13, bad)
    capture.faults("reject-event:BadEvent")
    rej = tmp_path / "rejects.ndjson"
    j = tmp_path / "j.db"
    p = batch(capture, ["--rejects", rej, "-j", j], nd(lines))
    assert p.returncode == 65, p.stderr.decode()
    good = [l for l in lines if l is not bad]
    assert_once(capture, good)
    rj = rejects(rej)
    assert len(rj) == 1
    assert rj[0]["file"] == "<stdin>" and rj[0]["line"] == 14
    assert rj[0]["status"] == 400
    assert rj[0]["input"].encode() == bad
    assert "injected reject-event" in rj[0]["reason"]   # server's words
    # Bisection, not one request per event.
    assert len(capture.requests()) <= 2 * 5 + 1
    out = [x["outcome"] for x in receipts(p)]
    assert out.count("rejected") == 1 and "split" in out
    assert journal_uuids(j) == {uuid_of(l) for l in good}
    assert "1 rejected" in summary(p)
    # The rejected event is not journaled: a re-run offers it again.
    capture.faults("")
    n = len(capture.requests())
    p = batch(capture, ["-j", j], nd(lines))
    assert p.returncode == 0
    assert len(capture.requests()) == n + 1
    assert records(capture)[-1][1] == bad


def test_retry_for_expires(capture, tmp_path):
    lines = events(50)
    capture.faults("status:503")
    j = tmp_path / "j.db"
    t0 = time.time()
    p = batch(capture, ["--retry-for", "1s", "--batch-size", "20", "-j", j],
              nd(lines))
    took = time.time() - t0
    assert p.returncode == 1, p.stderr.decode()
    # The last wait before giving up is at most 2 s (third attempt).
    assert took < 1 + 2 + 2, took
    assert "giving up" in p.stderr.decode()
    assert "gave-up" in [x["outcome"] for x in receipts(p)]
    assert "undelivered" in summary(p)
    assert records(capture) == []
    assert journal_uuids(j) == set()
    assert journal_runs(j) == ["incomplete"]
    # Faults gone: the same command sends everything.
    capture.faults("")
    ok(capture, ["--batch-size", "20", "-j", j], nd(lines))
    assert_once(capture, lines)


def test_wrong_token_stops_at_once(capture, tmp_path):
    lines = events(100)
    j = tmp_path / "j.db"
    t0 = time.time()
    p = batch(capture, ["--batch-size", "10", "-j", j], nd(lines),
              token="phc_wrongtoken")
    assert time.time() - t0 < 5
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "token" in err and "region" in err
    assert "phc_wrongtoken" not in err + p.stdout.decode()
    r = receipts(p)
    assert r and all(x["outcome"] == "fatal" and x["status"] == 401
                     for x in r)
    # No retries of a 401: at most the requests already in flight.
    assert len(capture.requests()) <= 4
    assert records(capture) == []
    assert journal_uuids(j) == set()


@pytest.mark.parametrize("how", ["env", "file"])
def test_personal_api_key_refused(capture, tmp_path, how):
    secret = "phx_s3cr3tPersonalKey0123456789"
    args = []
    token = secret
    if how == "file":
        f = tmp_path / "key"
        f.write_text(secret + "\n")
        args = ["--token-file", f]
        token = "phc_test"
    p = batch(capture, args, nd(events(3)), token=token)
    assert p.returncode == 2
    out = p.stdout + p.stderr
    assert b"personal API key" in out and b"phc_" in out
    assert secret.encode() not in out
    assert secret[4:].encode() not in out
    assert capture.requests() == []


def test_other_bad_tokens_refused_before_sending(capture):
    for t in ("phc_" + "a" * 70, "phc_\u00e9t\u00e9", "   "):
        p = batch(capture, [], nd(events(3)), token=t)
        assert p.returncode == 2, t
        assert t.strip().encode() not in p.stderr or not t.strip()
    assert capture.requests() == []


def test_token_file_and_posthog_host(capture, tmp_path):
    f = tmp_path / "key"
    f.write_text("  phc_test  \n")
    lines = events(10)
    p = run([P, "--token-file", f], input=nd(lines),
            env={"POSTHOG_API_KEY": "phc_other",
                 "POSTHOG_HOST": capture.url + "/"})
    assert p.returncode == 0, p.stderr.decode()
    assert_once(capture, lines)
    assert capture.requests()[0]["path"] == "/batch/"


# ---------------------------------------------------------------- validation

def test_local_validation_rejects_rest_delivered(capture, tmp_path):
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
    p = batch(capture, ["--rejects", rej, "-j", j, f])
    assert p.returncode == 65, p.stderr.decode()
    assert_once(capture, good)
    # The stand-in never saw a bad event: no 400 at all.
    assert [r["status"] for r in capture.requests()] == [200]
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


def test_invalid_utf8_rejected_as_base64(capture, tmp_path):
    good = events(3)
    badb = b'{"event":"x","distinct_id":"\xff\xfe"}'
    rej = tmp_path / "r.ndjson"
    p = batch(capture, ["--rejects", rej], nd([good[0], badb] + good[1:]))
    assert p.returncode == 65
    assert_once(capture, good)
    r = rejects(rej)
    assert len(r) == 1 and r[0]["line"] == 2
    assert "input" not in r[0]
    import base64
    assert base64.b64decode(r[0]["input_base64"]) == badb


def test_max_event_bytes(capture, tmp_path):
    lines = events(5)
    small = min(len(l) for l in lines)
    rej = tmp_path / "r.ndjson"
    p = batch(capture, ["--max-event-bytes", small, "--rejects", rej],
              nd(lines))
    assert p.returncode == 65
    kept = [l for l in lines if len(l) <= small]
    assert_once(capture, kept)
    assert len(rejects(rej)) == len(lines) - len(kept)


def test_events_without_uuid_ok_without_journal(capture):
    lines = [ev("x", uid=None), ev("y", uid=None)]
    ok(capture, [], nd(lines))
    assert_once(capture, lines)


def test_recent_events_warned_once_with_count(capture):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = events(5) + [ev("new", ts=now) for _ in range(3)]
    p = ok(capture, [], nd(lines))
    assert_once(capture, lines)
    err = p.stderr.decode()
    assert err.count("48 hours") == 1
    assert "3 events are less than 48 hours old" in err


# ---------------------------------------------------------------- journal

def test_journal_rerun_sends_nothing(capture, tmp_path):
    lines = events(120)
    j = tmp_path / "j.db"
    ok(capture, ["-j", j, "--batch-size", "50"], nd(lines))
    assert_once(capture, lines)
    n = len(capture.requests())
    assert journal_uuids(j) == {uuid_of(l) for l in lines}
    p = ok(capture, ["-j", j, "--batch-size", "50"], nd(lines))
    assert len(capture.requests()) == n          # 0 new requests
    assert receipts(p) == []
    assert "0 delivered, 120 already delivered" in summary(p)
    assert journal_runs(j) == ["complete", "complete"]
    db = sqlite3.connect(str(j))
    cols = [r[1] for r in db.execute("PRAGMA table_info(delivered)")]
    db.close()
    assert cols == ["uuid"]


def test_journal_skips_what_an_earlier_run_delivered(capture, tmp_path):
    lines = events(100)
    j = tmp_path / "j.db"
    journal_add(j, [uuid_of(l) for l in lines[::2]])
    p = ok(capture, ["-j", j], nd(lines))
    assert_once(capture, lines[1::2])
    assert "50 delivered, 50 already delivered" in summary(p)
    assert len(journal_uuids(j)) == 100


def test_file_given_twice_with_journal(capture, tmp_path):
    lines = events(300)
    f = tmp_path / "a.ndjson"
    f.write_bytes(nd(lines))
    j = tmp_path / "j.db"
    p = ok(capture, ["-j", j, "--batch-size", "20", f, f], b"")
    assert_once(capture, lines)
    assert "300 delivered" in summary(p)


def test_duplicated_lines_sent_once(capture, tmp_path):
    lines = events(40)
    # Each line twice in a row, and the same uuid written in capitals.
    doubled = []
    for l in lines:
        doubled += [l, l]
    first = json.loads(lines[0])
    caps = ev(first["event"], first["distinct_id"],
              uid=first["uuid"].upper())
    p = ok(capture, [], nd(doubled + [caps]))
    assert_once(capture, lines)
    assert "41 events had a uuid seen earlier" in p.stderr.decode()


def test_file_given_twice_without_journal(capture, tmp_path):
    # Small: all of it is read before anything is answered.
    lines = events(30)
    f = tmp_path / "a.ndjson"
    f.write_bytes(nd(lines))
    ok(capture, [f, f], b"")
    assert_once(capture, lines)


def test_duplicates_far_apart_without_journal_sent_once(capture, tmp_path):
    # "Duplicate uuids within one input are sent once": also when the
    # first copy was delivered before the second is read.
    lines = events(400)
    f = tmp_path / "a.ndjson"
    f.write_bytes(nd(lines))
    p = batch(capture, ["--batch-size", "20", f, f])
    assert p.returncode == 0
    assert_once(capture, lines)


def test_journal_unusable_is_runtime_error(capture, tmp_path):
    p = batch(capture, ["-j", tmp_path], nd(events(3)))    # a directory
    assert p.returncode == 1
    assert b"journal" in p.stderr
    assert capture.requests() == []


# ---------------------------------------------------------------- pacing

def test_rate_cap(capture):
    lines = events(300)
    t0 = time.time()
    ok(capture, ["--rate", "100/s", "--batch-size", "1000"], nd(lines))
    took = time.time() - t0
    assert_once(capture, lines)
    log = capture.requests()
    # Smooth: a batch is at most a second's worth.
    assert all(r["events"] <= 100 for r in log)
    ts = sorted((r["t"], r["events"]) for r in log)
    for t, _ in ts:
        window = sum(n for u, n in ts if t <= u < t + 1.0)
        assert window <= 100 + 100, ts
    assert ts[-1][0] - ts[0][0] >= 1.9
    assert took >= 1.9


def test_rate_per_minute(capture):
    lines = events(5)
    t0 = time.time()
    ok(capture, ["--rate", "180/min", "--batch-size", "1000"], nd(lines))
    assert_once(capture, lines)
    # 3 events a second, three per batch: the second batch a second later.
    assert [r["events"] for r in capture.requests()] == [3, 2]
    assert time.time() - t0 >= 0.6


def test_parallel_requests_overlap(capture):
    lines = events(80)
    capture.faults("slow:0.5")
    t0 = time.time()
    ok(capture, ["--parallel", "4", "--batch-size", "10"], nd(lines))
    took = time.time() - t0
    assert_once(capture, lines)
    log = capture.requests()
    assert len(log) == 8
    spans = [(r["t"], r["t"] + r["dur"]) for r in log]
    most = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert most == 4
    assert took < 8 * 0.5 * 0.6, took


def test_parallel_one_is_sequential_without_idling(capture):
    lines = events(50)
    capture.faults("slow:0.1")
    t0 = time.time()
    ok(capture, ["--parallel", "1", "--batch-size", "10"], nd(lines))
    took = time.time() - t0
    assert_once(capture, lines)
    spans = sorted((r["t"], r["t"] + r["dur"]) for r in capture.requests())
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
def test_signal_stops_cleanly_rerun_completes_once(capture, tmp_path, sig):
    lines = events(300)
    f = tmp_path / "in.ndjson"
    f.write_bytes(nd(lines))
    j = tmp_path / "j.db"
    args = ["-j", j, "--rate", "100/s", f]
    errf = open(tmp_path / "err", "wb")
    outf = open(tmp_path / "out", "wb")
    proc = spawn(capture, args, stdout=outf, stderr=errf)
    assert wait_for_requests(capture, 1, proc)
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
    assert set(copies(capture)) == done
    assert journal_runs(j) == ["incomplete"]
    p = ok(capture, args)
    assert_once(capture, lines)                   # no duplicate at all
    assert journal_runs(j) == ["incomplete", "complete"]
    assert "%d already delivered" % len(done) in summary(p)


def test_stdin_pipe_that_pauses(capture):
    # A producer that stops for longer than the linger: the partial batch
    # goes out meanwhile, and the rest later.
    lines = events(30)
    proc = spawn(capture, ["--batch-size", "100"], stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(nd(lines[:10]))
    proc.stdin.flush()
    assert wait_for_requests(capture, 1, proc, timeout=10)
    proc.stdin.write(nd(lines[10:]))
    proc.stdin.close()
    out = proc.stdout.read()
    err = proc.stderr.read()
    assert proc.wait(10) == 0, err
    check_sanitizers(err)
    assert_once(capture, lines)
    assert [r["events"] for r in capture.requests()] == [10, 20]


# ---------------------------------------------------------------- kill -9

@pytest.fixture(scope="module")
def big(tmp_path_factory):
    n = 20000 if SAN else 100000
    lines = converted(n, 5)[:n]
    path = tmp_path_factory.mktemp("big") / "events.ndjson"
    path.write_bytes(nd(lines))
    return path, lines


def test_kill9_at_random_moments_then_rerun(big, capture, tmp_path):
    path, lines = big
    parallel, size = 4, 500
    j = tmp_path / "j.db"
    args = ["-q", "-j", j, "--parallel", parallel, "--batch-size", size,
            path]
    rng = random.Random(7)
    kills = []                       # wall-clock time of each kill -9
    for _ in range(3):
        n = len(capture.requests())
        proc = spawn(capture, args)
        # Kill once this run has sent a random number of requests (so the
        # kills fall early, midway and late), at a random moment after.
        if not wait_for_requests(capture, n + rng.randint(1, 50), proc,
                                 timeout=60):
            break
        time.sleep(rng.uniform(0, 0.5))
        if proc.poll() is not None:
            break
        kills.append(time.time())
        proc.kill()
        proc.wait()
    assert len(kills) >= 2
    for _ in range(3):
        p = batch(capture, args, timeout=120)
        if p.returncode != 1:
            break
    assert p.returncode == 0, p.stderr.decode()

    want = {uuid_of(l) for l in lines}
    c = copies(capture)
    assert set(c) == want                         # every event, at least once
    assert journal_uuids(j) == want
    dup = {u: v for u, v in c.items() if len(v) > 1}
    # A re-sent copy is identical.
    assert all(len({t for _, t in v}) == 1 for v in dup.values())
    # Every copy but the last came from a request in flight at a kill:
    # sent before it, answered (just) before or after it.
    log = answered(capture)
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
