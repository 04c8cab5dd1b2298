"""ph-report: the real binary on generated exports, hand-made journals
and rejects files, and on the journal, rejects and receipts of a real
amp-convert | ph-alias | ph-batch run into the capture stand-in.

The expected figures are computed here from the lines and from
amp-convert's own output (its uuids, its rejects), never from ph-report:
the journal is built with sqlite3 from a known subset of amp-convert's
uuids, so which events are pending is known exactly.  The page is checked
for tag balance and escaping, and (plain build only) rendered by headless
Chromium: a screenshot decoded here must not be blank, and the DOM
Chromium dumps must hold the headline.

Budget: well under a minute per build (Chromium's one-time install aside).
"""
import collections
import html
import html.parser
import json
import os
import random
import re
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time
import uuid
import zlib

import pytest

from conftest import (BUILD, TOOLS, check_sanitizers, make_sample, prog, run,
                      sample_lines)

P = "ph-report"
PLAIN = os.environ.get("AMP2PH_BUILD", "build") == "build"
CHROMIUM = "/usr/bin/chromium"
BATCH_REASON = "PostHog refused the event (400): invalid_event"
JQ_REASON = "jq: error (at <stdin>:0): boom"
COUNTS = ("export", "dropped", "delivered", "rejected", "pending")


# ---------------------------------------------------------------- helpers

def js(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def report(args, input=None, timeout=120):
    return run([P] + [str(a) for a in args], input=input, timeout=timeout)


def report_json(args, input=None):
    p = report(list(args) + ["--json"], input=input)
    return p, json.loads(p.stdout)


def make_journal(path, uuids=(), extra=0, seed=7):
    """A journal as ph-batch leaves it: the delivered table, uuids as
    16-byte blobs; extra random rows stand for ph-alias's identities."""
    db = sqlite3.connect(str(path))
    db.execute("CREATE TABLE IF NOT EXISTS delivered (uuid BLOB PRIMARY "
               "KEY) WITHOUT ROWID")
    rnd = random.Random(seed)
    rows = [uuid.UUID(u).bytes for u in uuids]
    rows += [uuid.UUID(int=rnd.getrandbits(128)).bytes for _ in range(extra)]
    db.executemany("INSERT OR IGNORE INTO delivered (uuid) VALUES (?)",
                   [(r,) for r in rows])
    db.commit()
    db.close()
    return path


def convert(files, args=(), rejects=None):
    """amp-convert (the fast build) over files: (events, rejects list)."""
    argv = [os.path.join(TOOLS, "amp-convert")] + list(args)
    if rejects is not None:
        argv += ["--rejects", str(rejects)]
    p = subprocess.run(argv + [str(f) for f in files], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    assert p.returncode in (0, 65), p.stderr
    evs = [json.loads(l) for l in p.stdout.splitlines()]
    rej = []
    if rejects is not None and os.path.exists(rejects):
        with open(rejects, "rb") as f:
            rej = [json.loads(l) for l in f if l.strip()]
    return evs, rej, p.stderr.decode()


def day_of(obj):
    """UTC day of the first time field present, as amp-convert picks it;
    None when that field is unusable (the sample's times are zone-less
    UTC or end in Z)."""
    for k in ("event_time", "client_event_time", "server_received_time"):
        v = obj.get(k)
        if v is None:
            continue
        if isinstance(v, str) and re.fullmatch(
                r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?", v):
            return v[:10]
        return None
    return None


def parse(line):
    try:
        return json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def type_of(obj):
    if not isinstance(obj, dict):
        return "(unreadable line)"
    t = obj.get("event_type")
    if isinstance(t, str) and t:
        return t
    return "(no event_type)"


def norm_reason(r):
    return re.sub(r" \(near byte \d+\)$", "", r)


# Hand-made lines: uuid forms, fallbacks, duplicate keys, numbers, and
# lines amp-convert refuses.  Times are in 2024-01-01 .. 2024-01-03.
GOOD_EXTRA = [
    {"event_type": "Edge", "user_id": "u1", "event_time":
     "2024-01-02 10:00:00.5", "uuid": "6F9619FF-8B86-D011-B42D-00CF4FC964FF"},
    {"event_type": "Edge", "user_id": "u1", "event_time":
     "2024-01-02 10:00:01", "uuid": "{6f9619ff-8b86-d011-b42d-00cf4fc964aa}"},
    {"event_type": "Edge", "user_id": "u1", "event_time":
     "2024-01-02 10:00:02", "uuid": "urn:uuid:6f9619ff-8b86-d011-b42d-"
     "00cf4fc964bb"},
    {"event_type": "Edge", "user_id": "u1", "event_time":
     "2024-01-02 10:00:03", "uuid": "6f9619ff8b86d011b42d00cf4fc964cc"},
    {"event_type": "Edge", "user_id": "u2", "event_time":
     "2024-01-02 10:00:04", "uuid": "not-a-uuid", "$insert_id": "i-1"},
    {"event_type": "Edge", "device_id": "d9", "event_time": None,
     "client_event_time": "2024-01-03T01:02:03Z", "uuid": None},
    {"event_type": "Edge", "amplitude_id": 123456789012345678901234,
     "server_received_time": "2024-01-03 23:59:59.999999",
     "session_id": 1704067200000, "event_id": 7},
    {"event_type": "Edge", "user_id": 42, "event_time":
     "2024-01-01 00:00:00"},
    {"event_type": "<script>alert('x')</script> & \"q\"", "user_id": "u3",
     "event_time": "2024-01-01 08:00:00"},
    {"event_type": "Caf\u00e9 \u6771\u4eac \U0001f389", "user_id": "u3",
     "event_time": "2024-01-01 09:00:00"},
    {"event_type": "session_start", "user_id": "u3",
     "event_time": "2024-01-01 09:00:00"},
]
RAW_EXTRA = [
    # the same row twice: duplicate keys, last one wins
    b'{"event_type":"Edge","uuid":"00000000-0000-4000-8000-000000000001",'
    b'"user_id":"u4","event_time":"2024-01-02 00:00:00",'
    b'"uuid":"00000000-0000-4000-8000-000000000002"}',
    # a key that is "uuid" up to a NUL: not the uuid field (length counts)
    b'{"event_type":"Edge","user_id":"u5","event_time":"2024-01-02 00:00:00",'
    b'"uuid\\u0000x":"00000000-0000-4000-8000-000000000003"}',
    b"",
    b" \t ",
    b"not json",
    b"[1,2]",
    b'{"event_type":"","user_id":"u","event_time":"2024-01-01 00:00:00"}',
    b'{"user_id":"u","event_time":"2024-01-01 00:00:00"}',
    b'{"event_type":"Bad","user_id":"u","event_time":"yesterday"}',
    b'{"event_type":"Bad","event_time":"2024-01-02 00:00:00"}',
    b'{"event_type":"Bad","user_id":"u"}',
    b'{"event_type":"Bad","user_id":{"a":1},"event_time":'
    b'"2024-01-02 00:00:00"}',
    b'{"event_type":"Bad","user_id":"u","event_time":"2024-01-02 00:00:00",'
    b'"event_properties":"<b>x</b>"}',
    b'{"event_type":"Bad \xff","user_id":"u"}',
    b'{"event_type":"Bad",',
]


def extra_lines():
    return [js(o).encode() for o in GOOD_EXTRA] + RAW_EXTRA


# ---------------------------------------------------------------- data

@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A generated export (zip, unpacked by amp-unpack) plus hand-made
    lines, as two files, and amp-convert's view of them."""
    d = tmp_path_factory.mktemp("export")
    make_sample(d / "ex.zip", 2500, 5)
    unpacked = subprocess.run([prog("amp-unpack"), str(d / "ex.zip")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=True)
    check_sanitizers(unpacked.stderr)
    src = d / "src.ndjson"
    src.write_bytes(unpacked.stdout)
    extra = d / "extra.ndjson"
    extra.write_bytes(b"\n".join(extra_lines()) + b"\n")
    files = [src, extra]
    evs, rej, _ = convert(files, rejects=d / "conv.rejects")

    # Every non-blank line: where it is, and what amp-convert made of it.
    refused = {(r["file"], r["line"]): r["reason"] for r in rej}
    lines, k = [], 0
    for f in files:
        for n, raw in enumerate(f.read_bytes().split(b"\n")[:-1], 1):
            if not raw.strip(b" \t\r"):
                continue
            obj = parse(raw)
            e = {"file": str(f), "line": n, "raw": raw, "obj": obj,
                 "type": type_of(obj), "day": day_of(obj)
                 if isinstance(obj, dict) else None}
            if (str(f), n) in refused:
                e["conv"] = "rejected"
                e["reason"] = norm_reason(refused[(str(f), n)])
            elif obj["event_type"] in ("session_start", "session_end"):
                e["conv"] = "dropped"
            else:
                e["conv"] = "event"
                e["uuid"] = evs[k]["uuid"]
                k += 1
            lines.append(e)
    assert k == len(evs)
    assert sum(e["conv"] == "rejected" for e in lines) >= 11
    return {"dir": d, "files": files, "events": evs, "rejects": rej,
            "lines": lines, "conv_rejects": d / "conv.rejects"}


def expected(lines):
    """Totals, per day and per type, from lines with a "status"."""
    tot = collections.Counter()
    days = collections.defaultdict(collections.Counter)
    types = collections.defaultdict(collections.Counter)
    for e in lines:
        for c in (tot, days[e["day"]], types[e["type"]]):
            c["export"] += 1
            c[e["status"]] += 1
    return tot, days, types


def counts(o):
    return {k: o[k] for k in COUNTS}


def cnt(c):
    return {k: c.get(k, 0) for k in COUNTS}


# ---------------------------------------------------------------- uuids

def test_uuid_of_every_line_is_amp_converts(export, tmp_path):
    """--list: each line's uuid, status and reason against amp-convert's
    output and rejects, line by line, on the sample and the odd lines."""
    j = make_journal(tmp_path / "empty.journal")
    p = report(["-j", j, "--list", tmp_path / "list.ndjson", "-o",
                tmp_path / "r.html"] + export["files"])
    assert p.returncode == 1, p.stderr       # all pending
    listed = [json.loads(l) for l in
              (tmp_path / "list.ndjson").read_text().splitlines()]
    assert len(listed) == len(export["lines"])
    for got, want in zip(listed, export["lines"]):
        assert (got["file"], got["line"]) == (want["file"], want["line"])
        if want["conv"] == "event":
            assert got["status"] == "pending", got
            assert got["uuid"] == want["uuid"], (got, want["raw"])
        elif want["conv"] == "dropped":
            assert got["status"] == "dropped"
        else:
            assert got["status"] == "rejected"
            assert norm_reason(got["reason"]) == want["reason"]
        assert got["day"] == want["day"], (got, want["raw"])
    # The canonical forms and the derived fallback are really exercised.
    odd = {l["uuid"] for l in listed if l["file"].endswith("extra.ndjson")}
    assert {"6f9619ff-8b86-d011-b42d-00cf4fc964ff",
            "6f9619ff-8b86-d011-b42d-00cf4fc964aa",
            "00000000-0000-4000-8000-000000000002"} <= odd
    # "uuid\u0000x" is not the uuid field: that row gets a derived uuid.
    assert "00000000-0000-4000-8000-000000000003" not in odd


@pytest.mark.parametrize("rules", [
    ["--keep", "session_start"],
    ["--rename", "Search=search_done", "--drop", "search_done",
     "--drop", "Video Played"],
    ["--rename", "[Amplitude] Page Viewed=page", "--drop", "$pageview",
     "--keep", "page"],
])
def test_rules_as_amp_convert(export, tmp_path, rules):
    """--drop/--keep/--rename: the same events dropped, the same uuids."""
    j = make_journal(tmp_path / "empty.journal")
    evs, _, err = convert(export["files"], rules)
    dropped = int(re.search(r"(\d+) dropped by rule", err).group(1))
    p = report(["-j", j, "--list", "-", "-o", tmp_path / "r.json",
                "--json"] + rules + export["files"])
    listed = [json.loads(l) for l in p.stdout.splitlines()]
    assert [l["uuid"] for l in listed if l["status"] == "pending"] == \
        [e["uuid"] for e in evs]
    assert sum(l["status"] == "dropped" for l in listed) == dropped
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["totals"]["dropped"] == dropped
    names = {t["event_type"]: t["event"] for t in r["types"]}
    if "--rename" in rules:
        old, new = rules[1].split("=")
        assert names[old] == new


# ---------------------------------------------------------------- figures

@pytest.fixture(scope="module")
def figures(export):
    """A migration part done: a known subset delivered, some rejected by
    ph-batch and by a --jq program, some pending, identities in the
    journal; report as JSON and as HTML."""
    d = export["dir"] / "figures"
    d.mkdir()
    lines = [dict(e) for e in export["lines"]]
    evs = [e for e in lines if e["conv"] == "event"]
    jq = [e for i, e in enumerate(evs) if i % 50 == 7][:3]
    batch = [e for i, e in enumerate(evs) if i % 97 == 5 and e not in jq]
    for i, e in enumerate(evs):
        e["status"] = "rejected" if e in jq or e in batch else \
            "pending" if i % 9 == 4 else "delivered"
    for e in lines:
        if e["conv"] == "rejected":
            e["status"] = "rejected"
        elif e["conv"] == "dropped":
            e["status"] = "dropped"
    delivered = [e for e in evs if e["status"] == "delivered"]
    j = make_journal(d / "m.journal", [e["uuid"] for e in delivered], extra=5)

    by_uuid = {e["uuid"]: e for e in export["events"]}
    batch_rej = d / "batch.rejects"
    with open(batch_rej, "w") as f:
        for e in batch + [delivered[3]]:     # the last was delivered since
            f.write(js({"file": "<stdin>", "line": 1, "reason": BATCH_REASON,
                        "status": 400, "input": js(by_uuid[e["uuid"]])})
                    + "\n")
        ident = {"event": "$identify", "distinct_id": "u", "uuid":
                 str(uuid.UUID(int=99)), "properties": {}}
        f.write(js({"file": "<stdin>", "line": 9, "reason": BATCH_REASON,
                    "status": 400, "input": js(ident)}) + "\n")
    jq_rej = d / "jq.rejects"
    with open(jq_rej, "w") as f:
        for e in jq:
            f.write(js({"file": e["file"], "line": e["line"],
                        "reason": JQ_REASON, "input": e["raw"].decode()})
                    + "\n")
    args = ["-j", j, "--rejects", export["conv_rejects"], "--rejects",
            export["conv_rejects"], "--rejects", batch_rej, "--rejects",
            jq_rej] + export["files"]
    pj, rj = report_json(args)
    ph = report(args + ["-o", d / "report.html"])
    return {"lines": lines, "json": rj, "pj": pj, "ph": ph,
            "html": d / "report.html", "batch": batch, "jq": jq,
            "dir": d, "args": args}


def test_figures_totals(figures):
    r, lines = figures["json"], figures["lines"]
    tot, _, _ = expected(lines)
    assert figures["pj"].returncode == 1        # pending wins over rejected
    assert figures["ph"].returncode == 1
    assert r["complete"] is False
    assert counts(r["totals"]) == cnt(tot)
    assert r["totals"]["lines"] == r["totals"]["export"] + 2   # 2 blank
    assert r["totals"]["identity_merges"] == 5
    assert r["totals"]["rejected_outside_export"] == 1   # the $identify
    assert r["totals"]["rejects_since_delivered"] == 1
    assert r["totals"]["dropped_but_delivered"] == 0
    err = figures["pj"].stderr.decode()
    assert "%d pending" % tot["pending"] in err
    assert "NOT complete" in err


def test_figures_per_day_and_type(figures):
    r, lines = figures["json"], figures["lines"]
    _, days, types = expected(lines)
    got_days = {d["day"]: counts(d) for d in r["days"]}
    want_days = {k: cnt(v) for k, v in days.items() if k is not None}
    assert got_days == want_days
    assert counts(r["no_day"]) == cnt(days.get(None, {}))
    got_types = {t["event_type"]: counts(t) for t in r["types"]}
    assert got_types == {k: cnt(v) for k, v in types.items()}
    # The chart's bars add up to the days.
    assert r["period"] == "day"
    per = collections.Counter()
    for p in r["periods"]:
        for k in COUNTS:
            per[k] += p[k]
    assert cnt(per) == {k: sum(d[k] for d in r["days"]) for k in COUNTS}


def test_figures_reasons(figures):
    r, lines = figures["json"], figures["lines"]
    want = collections.Counter(e["reason"] for e in lines
                               if e["conv"] == "rejected")
    want[BATCH_REASON] = len(figures["batch"])
    want[JQ_REASON] = len(figures["jq"])
    got = {x["reason"]: x["events"] for x in r["reasons"]}
    assert got == dict(want)
    b = [x for x in r["reasons"] if x["reason"] == BATCH_REASON][0]
    assert b["outside_export"] == 1 and b["from"] == "ph-batch"
    assert b["examples"] and '"uuid"' in b["examples"][0]["input"]
    # amp-convert's rejects file given twice: entries twice, events once.
    inv = [x for x in r["reasons"] if x["reason"] == "invalid UTF-8"][0]
    assert inv["events"] == 1 and inv["entries"] == 2
    assert inv["from"] == "amp-convert"


class Balance(html.parser.HTMLParser):
    """Strict: every element closed, in order, except the void ones;
    self-closing only for void elements and inside <svg>."""
    VOID = {"meta", "br", "hr", "img", "link", "input", "wbr", "col"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.text, self.attrs = [], [], [], []
        self.doctype = False

    def handle_decl(self, decl):
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        self.attrs.extend((tag, k, v) for k, v in attrs)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.attrs.extend((tag, k, v) for k, v in attrs)
        if tag not in self.VOID and "svg" not in self.stack:
            self.errors.append("self-closed <%s>" % tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            self.errors.append("</%s>" % tag)
        elif not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %s at %s" % (
                tag, self.stack[-1:] or "nothing", self.getpos()))
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_html(text):
    """Balanced, and nothing loaded from anywhere: no script, no external
    reference in any attribute or in the style sheet."""
    b = Balance()
    b.feed(text)
    b.close()
    assert b.doctype
    assert not b.errors, b.errors[:5]
    assert not b.stack, b.stack
    for tag, k, v in b.attrs:
        assert tag not in ("script", "link", "img", "iframe", "object",
                           "embed", "image", "use"), tag
        assert not k.startswith("on"), (tag, k)
        assert k not in ("src", "srcset", "xlink:href"), (tag, k)
        if k == "href":
            assert v.startswith("#"), (tag, v)
        assert "//" not in (v or "") and "url(" not in (v or ""), (tag, v)
    style = re.search(r"<style>(.*?)</style>", text, re.S).group(1)
    assert "url(" not in style and "@import" not in style
    assert "<script" not in text.lower()
    return "".join(b.text)


def test_html_valid_escaped_self_contained(figures):
    text = figures["html"].read_text(encoding="utf-8")
    shown = check_html(text)
    # Hand-made names and inputs are shown as text, never as markup.
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; " \
        "&quot;q&quot;" in text
    assert "<script>alert('x')</script> & \"q\"" in shown
    assert "Caf\u00e9 \u6771\u4eac \U0001f389" in shown
    assert "event_properties is not an object" in shown
    assert '"event_properties":"<b>x</b>"' in shown    # an example, as text
    assert "Migration not complete" in shown
    assert "@media print" in text
    tot, _, _ = expected(figures["lines"])
    assert "%s pending" % format(tot["pending"], ",") in shown
    assert shown.count("\ufffd") >= 1          # the bad byte, replaced


# ---------------------------------------------------------------- exits

def test_complete_and_exit_codes(export, tmp_path):
    src = export["files"][:1]
    evs, _, _ = convert(src)
    all_ = [e["uuid"] for e in evs]
    j = make_journal(tmp_path / "all.journal", all_, extra=3)
    p, r = report_json(["-j", j] + src)
    assert p.returncode == 0, p.stderr
    assert r["complete"] is True and r["totals"]["pending"] == 0
    assert r["totals"]["identity_merges"] == 3
    # Acknowledged is not stored: without --verified it says so.
    assert b"acknowledged, not verified" in p.stderr
    assert b"complete: every event" not in p.stderr
    assert r["acknowledged"] is True and r["verified"] is None
    assert "in_posthog" not in r["days"][0]
    q = report(["-q", "-j", j, "-o", tmp_path / "ok.html"] + src)
    assert q.returncode == 0 and q.stderr == b""
    shown = check_html((tmp_path / "ok.html").read_text())
    assert "All events acknowledged, not verified as stored" in shown
    assert "Migration complete" not in shown
    assert "ph-verify" in shown and "--verified" in shown

    # All delivered but one, which ph-batch rejected: 65.
    j2 = make_journal(tmp_path / "most.journal", all_[1:])
    rej = tmp_path / "b.rejects"
    rej.write_text(js({"file": "<stdin>", "line": 1, "reason": "too big",
                       "status": 413, "input": js(evs[0])}) + "\n")
    p = report(["-j", j2, "--rejects", rej, "-o", tmp_path / "x.html"] + src)
    assert p.returncode == 65, p.stderr
    # Without the rejects file the same event is pending: 1.
    p = report(["-j", j2, "-o", tmp_path / "x.html"] + src)
    assert p.returncode == 1

    # Usage and run-time errors.
    for args in ([], ["-j", j, "--by", "hour"], ["-j", j, "--rename", "x"],
                 ["-j", j, "--list", "-"], ["-j", j, "--max-line", "5"],
                 ["-j", j, "--nope"]):
        p = report(args, input=b"")
        assert p.returncode == 2, args
    p = report(["-j", tmp_path / "missing.journal"], input=b"")
    assert p.returncode == 1 and b"missing.journal" in p.stderr
    p = report(["-j", j, tmp_path / "missing.ndjson"])
    assert p.returncode == 1
    assert report(["--version"]).stdout.startswith(b"ph-report ")


def test_dropped_but_delivered_is_delivered(export, tmp_path):
    """amp-convert kept session_start; ph-report not told: those count as
    delivered, with a warning."""
    src = export["files"][:1]
    evs, _, _ = convert(src, ["--keep", "session_start", "--keep",
                              "session_end"])
    j = make_journal(tmp_path / "j", [e["uuid"] for e in evs])
    p, r = report_json(["-j", j] + src)
    n = sum(e["event"] in ("session_start", "session_end") for e in evs)
    assert n > 0
    assert r["totals"]["dropped_but_delivered"] == n
    assert r["totals"]["dropped"] == 0 and r["totals"]["pending"] == 0
    assert p.returncode == 0
    assert b"--keep" in p.stderr


# ---------------------------------------------------------------- scale

def test_three_years_by_month_or_week(tmp_path):
    lines = sample_lines(3000, 9, "--hours", 24 * 365 * 3)
    j = make_journal(tmp_path / "j")
    p, r = report_json(["-j", j], input=lines)
    assert p.returncode == 1
    assert r["period"] in ("week", "month")
    assert 12 <= len(r["periods"]) <= 120
    assert sum(x["export"] for x in r["periods"]) == \
        r["totals"]["export"] - r["no_day"]["export"]
    assert len(r["days"]) > 120
    p = report(["-j", j, "-o", tmp_path / "r.html"], input=lines)
    text = (tmp_path / "r.html").read_text()
    check_html(text)
    assert text.count("<g><title>") == len(r["periods"])
    # Forced units.
    _, r = report_json(["-j", j, "--by", "year"], input=lines)
    assert r["period"] == "year" and 3 <= len(r["periods"]) <= 5
    _, r = report_json(["-j", j, "--by", "day"], input=lines)
    assert r["period"] == "day" and len(r["periods"]) > 1000


def test_one_day(tmp_path):
    lines = b"".join(js({"event_type": "E%d" % (i % 3), "user_id": "u",
                         "event_time": "2024-05-06 0%d:00:00" % i}).encode()
                     + b"\n" for i in range(8))
    j = make_journal(tmp_path / "j")
    p, r = report_json(["-j", j], input=lines)
    assert r["period"] == "day"
    assert r["periods"] == [dict(start="2024-05-06", export=8, dropped=0,
                                 delivered=0, rejected=0, pending=8)]
    report(["-j", j, "-o", tmp_path / "r.html"], input=lines)
    check_html((tmp_path / "r.html").read_text())


def test_event_types_capped(tmp_path):
    lines = b"".join(js({"event_type": "T%04d" % i, "user_id": "u",
                         "event_time": "2024-05-06 00:00:00"}).encode()
                     + b"\n" for i in range(620))
    j = make_journal(tmp_path / "j")
    p, r = report_json(["-j", j], input=lines)
    names = [t["event_type"] for t in r["types"]]
    assert len(names) == 501 and "(other)" in names
    other = [t for t in r["types"] if t["event_type"] == "(other)"][0]
    assert other["export"] == 120 and other["special"] is True


# ---------------------------------------------------------------- receipts

def test_receipts_totals(tmp_path):
    rnd = random.Random(3)
    recs, want = [], collections.Counter()
    for i in range(1000):
        o = rnd.choice(["delivered"] * 8 + ["retry", "split"])
        st = {"delivered": 200, "retry": rnd.choice([503, 0]),
              "split": 400}[o]
        ms = rnd.randrange(5, 900)
        recs.append({"status": st, "outcome": o, "events": 100,
                     "bytes": 5000, "attempts": 2 if o == "retry" else 1,
                     "ms": ms, "first_uuid": None, "last_uuid": None})
        want[o] += 1
        want["ms"] += ms
    f = tmp_path / "receipts.ndjson"
    f.write_text("".join(js(r) + "\n" for r in recs) + "garbage\n")
    j = make_journal(tmp_path / "j")
    p, r = report_json(["-j", j, "--receipts", f], input=b"")
    rc = r["receipts"]
    assert rc["requests"] == 1000 and rc["unreadable"] == 1
    assert rc["retries"] == want["retry"]
    assert rc["events_delivered"] == 100 * want["delivered"]
    assert rc["ms_total"] == want["ms"]
    assert rc["ms_max"] == max(x["ms"] for x in recs)
    assert rc["outcomes"] == {k: want[k] for k in ("delivered", "retry",
                                                     "split")}
    assert sum(rc["statuses"].values()) == 1000
    assert len(rc["buckets"]) <= 120
    assert sum(b["requests"] for b in rc["buckets"]) == 1000
    assert sum(b["retries"] for b in rc["buckets"]) == want["retry"]
    assert rc["ms_p50"] <= rc["ms_p95"] <= rc["ms_max"]
    assert r["complete"] is True and p.returncode == 0


def test_receipts_contract(tmp_path):
    """A receipt is what common/receipt says ph-batch writes: an outcome
    it does not know, or a field of the wrong type, makes the line
    unreadable (named on stderr), never a request counted as "other"."""
    good = {"status": 200, "outcome": "delivered", "events": 3,
            "bytes": 10, "attempts": 1, "ms": 5,
            "first_uuid": "0b7e1a3c-5d2f-4a8b-9c6d-1e2f3a4b5c6d",
            "last_uuid": None}
    recs = [good,
            dict(good, outcome="gave-up", status=0, error="timeout"),
            dict(good, outcome="exploded"),
            dict(good, events="3"),
            dict(good, first_uuid="not-a-uuid"),
            {k: v for k, v in good.items() if k != "ms"}]
    f = tmp_path / "receipts.ndjson"
    f.write_text("".join(js(r) + "\n" for r in recs))
    j = make_journal(tmp_path / "j")
    p, r = report_json(["-j", j, "--receipts", f], input=b"")
    rc = r["receipts"]
    assert rc["requests"] == 2 and rc["unreadable"] == 4
    assert rc["outcomes"] == {"delivered": 1, "gave-up": 1}
    assert rc["events_delivered"] == 3
    assert b'unknown outcome "exploded"' in p.stderr
    assert p.stderr.count(b"not a receipt") == 4


def test_rejects_line_without_reason(export, tmp_path):
    """A rejects line with no reason is named with what is wrong, and
    counted as unreadable; the good lines around it still count."""
    src = export["files"][:1]
    evs, _, _ = convert(src)
    all_ = [e["uuid"] for e in evs]
    j = make_journal(tmp_path / "most.journal", all_[1:])
    rej = tmp_path / "b.rejects"
    rej.write_text(js({"file": "<stdin>", "line": 1}) + "\n" +
                   js({"file": "<stdin>", "line": 1, "reason": "too big",
                       "status": 413, "input": js(evs[0])}) + "\n")
    p, r = report_json(["-j", j, "--rejects", rej] + src)
    assert b'b.rejects:1: not a line of a rejects file: no "reason"' \
        in p.stderr
    assert r["totals"]["rejects_unreadable"] == 1
    assert r["totals"]["rejected"] == 1 and r["totals"]["pending"] == 0


def test_runs_from_snapshot(tmp_path):
    """The runs table is read through common/journal, as stored: the
    latest runs, their text fields as written, NULL as empty."""
    j = make_journal(tmp_path / "j")
    db = sqlite3.connect(str(j))
    db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, started TEXT, "
               "updated TEXT, host TEXT, status TEXT, read INTEGER, "
               "delivered INTEGER, skipped INTEGER, rejected INTEGER, "
               "undelivered INTEGER, requests INTEGER, retries INTEGER, "
               "bytes INTEGER)")
    db.executemany("INSERT INTO runs (started, updated, host, status, read, "
                   "delivered, requests) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [("2024-01-0%dT00:00:00.000000Z" % (i % 9 + 1),
                     "2024-01-0%dT00:10:00.000000Z" % (i % 9 + 1),
                     None if i == 249 else "https://h%d" % i, "done", i,
                     i, 1) for i in range(250)])
    db.commit()
    db.close()
    p, r = report_json(["-j", j], input=b"")
    runs = r["runs"]
    assert len(runs) == 200
    assert runs[0]["read"] == 50 and runs[-1]["read"] == 249
    assert runs[0]["host"] == "https://h50" and runs[-1]["host"] == ""
    assert runs[0]["status"] == "done" and runs[0]["requests"] == 1


def test_real_pipeline(tmp_path, capture):
    """amp-convert | ph-alias | ph-batch into the stand-in, with a retry
    and one event type refused: ph-report agrees with the stand-in."""
    src = tmp_path / "src.ndjson"
    src.write_bytes(sample_lines(1200, 21))
    rules = ["--rename", "Invoice Paid=invoice_paid"]
    conv = tmp_path / "conv.ndjson"
    convert_args = [os.path.join(TOOLS, "amp-convert"), "-q"] + rules + \
        ["--rejects", str(tmp_path / "conv.rejects"), str(src)]
    with open(conv, "wb") as out:
        subprocess.run(convert_args, stdout=out, check=True)
    j = tmp_path / "m.journal"
    al = run(["ph-alias", "-q", "-j", j, conv])
    assert al.returncode == 0
    identities = sum(json.loads(l)["event"] == "$identify"
                     for l in al.stdout.splitlines())
    capture.faults("status:503@2;reject-event:invoice_paid")
    b = run(["ph-batch", "-q", "-j", j, "--host", capture.url,
             "--batch-size", "100", "--rejects", tmp_path / "batch.rejects"],
            input=al.stdout, env={"POSTHOG_API_KEY": "phc_test",
                                  "POSTHOG_HOST": ""})
    assert b.returncode == 65, b.stderr
    receipts = tmp_path / "receipts.ndjson"
    receipts.write_bytes(b.stdout)
    invoices = sum(json.loads(l)["event"] == "invoice_paid"
                   for l in al.stdout.splitlines())
    assert invoices > 0
    accepted = capture.events()

    args = ["-j", j, "--rejects", tmp_path / "conv.rejects", "--rejects",
            tmp_path / "batch.rejects", "--receipts", receipts] + rules + \
        [src]
    p, r = report_json(args)
    assert p.returncode == 65, p.stderr
    t = r["totals"]
    assert t["pending"] == 0
    assert t["rejected"] == invoices
    assert t["delivered"] + identities == len(accepted)
    assert t["identity_merges"] == identities
    assert {x["event_type"]: x["rejected"] for x in r["types"]
            if x["rejected"]} == {"Invoice Paid": invoices}
    assert r["receipts"]["retries"] >= 1
    assert r["receipts"]["events_delivered"] == len(accepted)
    assert r["receipts"]["statuses"]["503"] >= 1
    assert len(r["runs"]) == 1 and r["runs"][0]["delivered"] == len(accepted)
    h = report(args + ["-o", tmp_path / "r.html"])
    shown = check_html((tmp_path / "r.html").read_text())
    assert "Sending (ph-batch receipts)" in shown
    assert "Runs of ph-batch" in shown


# ---------------------------------------------------------------- --verified

def sh(cmd, env=None, input=None):
    """A shell pipeline of the real binaries (bash -o pipefail)."""
    e = dict(os.environ, POSTHOG_API_KEY="phc_test",
             POSTHOG_PERSONAL_API_KEY="phx_test", POSTHOG_HOST="")
    e.update(env or {})
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e,
                       timeout=300)
    check_sanitizers(p.stderr)
    return p


def posthog_rows(text):
    """The rows of the page's "In PostHog" table: day -> cells as shown."""
    m = re.search(r'<section id="posthog">(.*?)</section>', text, re.S)
    assert m, "no In PostHog section"
    rows = {}
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(1), re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in
                 re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def ph_cell(d):
    """The "in PostHog" cell ph-report should show for a summary day."""
    parts = [format(d["present"], ",")]
    for k, what in (("missing", "missing"), ("not_visible",
                    "not yet visible"), ("unverified", "unverified")):
        if d[k]:
            parts.append("%s %s" % (format(d[k], ","), what))
    return " \u00b7 ".join(parts)


def headline(text):
    m = re.search(r'<section id="headline"[^>]*>(.*?)</section>', text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(1)))


def check_against_summary(r, text, summ):
    """--json and the page show the summary's figures, day by day."""
    sdays = {d["day"]: d for d in summ["days"]}
    assert r["verified"]["totals"] == summ["totals"]
    assert r["verified"]["project"] == summ["project"]
    assert r["verified"]["checked_at"] == summ["checked_at"]
    seen = 0
    for d in r["days"]:
        # the old keys first, in their order, then the new one
        assert list(d)[:len(COUNTS) + 1] == ["day"] + list(COUNTS)
        assert list(d)[-1] == "in_posthog"
        want = sdays.get(d["day"])
        if want is None:
            assert d["in_posthog"] is None
            continue
        seen += 1
        assert d["in_posthog"] == {k: v for k, v in want.items()
                                   if k != "day"}
    assert seen == len(sdays) - len(r["verified"]["days_not_in_export"])
    rows = posthog_rows(text)
    assert rows
    byday = {d["day"]: d for d in r["days"]}
    for day, cells in rows.items():
        exp, deliv, checked, inph = cells
        assert exp == format(byday[day]["export"], ",")
        assert deliv == format(byday[day]["delivered"], ",")
        assert checked == format(sdays[day]["expected"], ",")
        assert inph == ph_cell(sdays[day])


def test_verified_full_path_and_repair(tmp_path, capture_factory,
                                       query_factory):
    """amp-sample's archive -> amp-unpack | amp-convert | ph-alias |
    ph-batch into a capture that answers 200 and drops 5%; ph-verify
    --summary; ph-report --verified says what is missing, with the
    summary's figures per day; the repair pipeline and a second ph-verify
    make it complete."""
    cap = capture_factory(["--record-meta", "--faults", "lose:0.05",
                           "--seed", "11"])
    q = query_factory(cap)
    arc = make_sample(tmp_path / "export.zip", 2500, 5, "--hours", "80")
    j = tmp_path / "m.journal"
    B = BUILD
    stream = ("%s/amp-unpack %s | %s/amp-convert -q | %s/ph-alias -q -j %s"
              % (B, arc, B, B, j))
    verify = ("%s/ph-verify -j %s --project 1 --app-host %s --settle 0"
              % (B, j, q.url))
    batch = "%s/ph-batch -q -j %s --host %s" % (B, j, cap.url)
    p = sh(stream + " | " + batch + " > /dev/null")
    assert p.returncode == 0, p.stderr
    sent = {e["uuid"] for e in cap.events()}
    p = sh(stream)
    assert p.returncode == 0, p.stderr
    all_uuids = {json.loads(l)["uuid"] for l in p.stdout.splitlines()}
    lost = all_uuids - sent
    assert 40 < len(lost) < 300

    s1 = tmp_path / "s1.json"
    p = sh(stream + " | " + verify + " --summary %s > /dev/null" % s1)
    assert p.returncode == 1, p.stderr          # ph-verify: missing
    summ = json.loads(s1.read_text())
    assert summ["totals"]["missing"] == len(lost)
    assert len(summ["days"]) >= 3

    rep = "%s/amp-unpack %s | %s/ph-report -j %s --verified %s" % (
        B, arc, B, j, s1)
    p = sh(rep + " -o %s" % (tmp_path / "r1.html"))
    assert p.returncode == 1, p.stderr
    assert b"not all in PostHog" in p.stderr
    assert b"ph-verify" in p.stderr and b"ph-batch" in p.stderr
    text = (tmp_path / "r1.html").read_text()
    shown = check_html(text)
    head = headline(text)
    assert "Migration not complete" in head
    assert "not in PostHog" in head
    assert "In PostHog: %s of %s events" % (
        format(summ["totals"]["present"], ","),
        format(summ["totals"]["expected"], ",")) in head
    assert "%s missing" % format(len(lost), ",") in head
    assert "ph-verify -j %s --project 1" % j in head and "ph-batch" in head
    assert "Migration complete" not in shown
    p = sh(rep + " --json")
    assert p.returncode == 1
    r = json.loads(p.stdout)
    assert r["complete"] is False and r["verified"]["complete"] is False
    assert r["verified"]["not_in_posthog"] == len(lost)
    check_against_summary(r, text, summ)
    # the missing ones were forgotten in the journal: pending (or, for
    # identity events, not from the export)
    assert 0 < r["totals"]["pending"] <= len(lost)

    # The repair: the same pipeline with ph-verify before ph-batch.
    time.sleep(1.1)     # the repair's run is after the check's second
    cap.faults("")
    p = sh(stream + " | " + verify + " | " + batch + " > /dev/null")
    assert p.returncode == 1, p.stderr          # ph-verify: none missing
    assert {e["uuid"] for e in cap.events()} == all_uuids
    # the first summary is now out of date
    p = sh(rep + " --json")
    assert p.returncode == 1
    r = json.loads(p.stdout)
    assert r["verified"]["stale"] is True and r["complete"] is False
    assert b"after this check" in p.stderr

    s2 = tmp_path / "s2.json"
    p = sh(stream + " | " + verify + " --summary %s" % s2)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b""
    summ2 = json.loads(s2.read_text())
    assert summ2["totals"]["present"] == summ2["totals"]["expected"] == \
        len(all_uuids)
    rep2 = "%s/amp-unpack %s | %s/ph-report -j %s --verified %s" % (
        B, arc, B, j, s2)
    p = sh(rep2 + " -o %s" % (tmp_path / "r2.html"))
    assert p.returncode == 0, p.stderr
    assert b"complete: every event of the export is in PostHog" in p.stderr
    text = (tmp_path / "r2.html").read_text()
    check_html(text)
    head = headline(text)
    assert "Migration complete" in head
    assert "In PostHog: all %s events (checked " % format(
        len(all_uuids), ",") in head
    assert "against project 1 at %s" % q.url in head
    assert "<title>Migration report: complete</title>" in text
    p = sh(rep2 + " --json")
    assert p.returncode == 0
    r = json.loads(p.stdout)
    assert r["complete"] is True and r["acknowledged"] is True
    assert r["verified"]["complete"] is True
    assert r["verified"]["stale"] is False
    check_against_summary(r, text, summ2)
    assert all(d["in_posthog"]["missing"] == 0 for d in r["days"]
               if d["in_posthog"] is not None)
    q2 = sh(rep2 + " -q -o %s" % (tmp_path / "r3.html"))
    assert q2.returncode == 0 and q2.stderr == b""


def test_not_verified_says_so(export, tmp_path):
    """Without --verified, "delivered" is acknowledged, and the page says
    it is not verified as stored, naming ph-verify, whether complete or
    not."""
    src = export["files"][:1]
    evs, _, _ = convert(src)
    u = [e["uuid"] for e in evs]
    for name, have, rc in (("all", u, 0), ("some", u[10:], 1)):
        j = make_journal(tmp_path / (name + ".journal"), have)
        out = tmp_path / (name + ".html")
        p = report(["-j", j, "-o", out] + src)
        assert p.returncode == rc, p.stderr
        text = out.read_text()
        check_html(text)
        head = headline(text)
        assert "not verified as stored" in head.lower(), head
        assert "ph-verify" in head and "--verified" in head
        assert "Migration complete" not in head
        assert 'id="posthog"' not in text
        p, r = report_json(["-j", j] + src)
        assert r["verified"] is None
        assert r["acknowledged"] is (rc == 0)
        assert r["complete"] is (rc == 0)
        assert list(r)[:4] == ["complete", "journal", "inputs", "totals"]
        assert list(r)[-2:] == ["acknowledged", "verified"]
    assert b"acknowledged, not verified" in report(
        ["-j", tmp_path / "all.journal"] + src).stderr


GOOD_SUMMARY = {
    "days": [{"day": "2024-01-01", "expected": 3, "present": 3,
              "missing": 0, "not_visible": 0, "unverified": 0,
              "duplicates": 0}],
    "totals": {"read": 3, "expected": 3, "present": 3, "missing": 0,
               "not_visible": 0, "unverified": 0, "never_delivered": 0,
               "duplicates": 0, "bad": 0, "other_lib": 0},
    "queries": 1, "throttled": 0, "project": "1",
    "host": "http://127.0.0.1:1", "checked_at": 1700000000}


def test_bad_summary_file(tmp_path):
    lines = sample_lines(20, 4)
    j = make_journal(tmp_path / "j.journal")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD_SUMMARY) + "\n")
    p = report(["-j", j, "--verified", good, "-o", tmp_path / "x.html"],
               input=lines)
    assert p.returncode == 1            # read, but nothing is delivered
    assert b"--verified" not in p.stderr

    def variant(**kw):
        d = json.loads(json.dumps(GOOD_SUMMARY))
        for k, v in kw.items():
            path = k.split("__")
            o = d
            for x in path[:-1]:
                o = o[int(x)] if x.isdigit() else o[x]
            if v is KeyError:
                del o[path[-1]]
            else:
                o[path[-1]] = v
        return json.dumps(d)

    second = dict(GOOD_SUMMARY["days"][0], day="2023-12-31")
    cases = [
        ("empty.json", "", "empty"),
        ("text.json", "not json at all\n", "not JSON"),
        ("array.json", "[1,2]", "not a summary of ph-verify --summary"),
        ("nodays.json", variant(days=KeyError), "no \"days\""),
        ("daysobj.json", variant(days={}), "\"days\" is not an array"),
        ("nototal.json", variant(totals__missing=KeyError),
         "\"totals\" has no \"missing\""),
        ("neg.json", variant(days__0__present=-1),
         "day 2024-01-01: \"present\" is not a count"),
        ("frac.json", variant(totals__present=2.5),
         "\"totals\": \"present\" is not a count"),
        ("str.json", variant(queries="1"), "\"queries\" is not a count"),
        ("date.json", variant(days__0__day="2024-02-30"),
         "day 1 of \"days\": \"day\" is not a date"),
        ("order.json", json.dumps(dict(GOOD_SUMMARY, days=[
            GOOD_SUMMARY["days"][0], second])), "not in order"),
        ("proj.json", variant(project=1), "\"project\" (a string)"),
        ("noat.json", variant(checked_at=KeyError), "no \"checked_at\""),
    ]
    for name, body, why in cases:
        f = tmp_path / name
        f.write_text(body)
        p = report(["-j", j, "--verified", f], input=lines)
        err = p.stderr.decode()
        assert p.returncode == 1, (name, err)
        assert p.stdout == b"", name
        assert ("ph-report: --verified %s: " % f) in err, (name, err)
        assert why in err, (name, err)
    for f, why in ((tmp_path / "none.json", "No such file"),
                   (tmp_path, "Is a directory")):
        p = report(["-j", j, "--verified", f], input=lines)
        assert p.returncode == 1 and p.stdout == b""
        assert ("--verified %s: %s" % (f, why)).encode() in p.stderr, \
            p.stderr
    # One summary only: a usage error.
    p = report(["-j", j, "--verified", good, "--verified", good], input=b"")
    assert p.returncode == 2 and b"--verified given twice" in p.stderr
    # A check of another project than the journal's.
    db = sqlite3.connect(str(j))
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('project', '7')")
    db.commit()
    db.close()
    p = report(["-j", j, "--verified", good], input=lines)
    assert p.returncode == 1
    assert b"a check of project 1, but journal" in p.stderr
    assert b"belongs to project 7" in p.stderr


def test_summary_figures_not_all_there(export, tmp_path):
    """Every event acknowledged, but the summary says some are not yet
    visible or unverified, or it checked fewer events than the export
    delivered: not complete, exit 1, and the page says what to do."""
    src = export["files"][:1]
    evs, _, _ = convert(src)
    u = [e["uuid"] for e in evs]
    j = make_journal(tmp_path / "all.journal", u)
    p, r = report_json(["-j", j] + src)
    days = [d for d in r["days"] if d["delivered"]]
    n = sum(d["delivered"] for d in days)

    def summary(name, notvis=0, unver=0, short=0):
        sd = []
        big = max(range(len(days)), key=lambda i: days[i]["delivered"])
        assert days[big]["delivered"] > 20
        for i, d in enumerate(days):
            e = d["delivered"] - (short if i == big else 0)
            nv = notvis if i == big else 0
            uv = unver if i == big else 0
            sd.append({"day": d["day"], "expected": e,
                       "present": e - nv - uv, "missing": 0,
                       "not_visible": nv, "unverified": uv,
                       "duplicates": 0})
        tot = dict(GOOD_SUMMARY["totals"], read=n - short,
                   expected=n - short, present=n - short - notvis - unver,
                   not_visible=notvis, unverified=unver)
        f = tmp_path / name
        f.write_text(json.dumps(dict(GOOD_SUMMARY, days=sd, totals=tot)))
        return f

    ok = summary("ok.json")
    p = report(["-j", j, "--verified", ok, "-o", tmp_path / "ok.html"] +
               src)
    assert p.returncode == 0, p.stderr
    assert "Migration complete" in headline((tmp_path / "ok.html")
                                            .read_text())
    for name, kw, says in (
            ("nv.json", {"notvis": 5}, "5 not yet visible"),
            ("uv.json", {"unver": 4}, "4 unverified"),
            ("short.json", {"short": 6}, "more than ph-verify checked")):
        f = summary(name, **kw)
        out = tmp_path / (name + ".html")
        p = report(["-j", j, "--verified", f, "-o", out] + src)
        assert p.returncode == 1, (name, p.stderr)
        text = out.read_text()
        check_html(text)
        head = headline(text)
        assert "Migration not complete:" in head and "not in PostHog" in \
            head, head
        assert says in head, (name, head)
        p, r = report_json(["-j", j, "--verified", f] + src)
        assert r["complete"] is False and r["acknowledged"] is True
        assert r["verified"]["complete"] is False
        check_against_summary(r, text, json.loads(f.read_text()))

    # ph-batch delivered after the check: out of date, not complete.
    db = sqlite3.connect(str(j))
    db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, started TEXT, "
               "updated TEXT, host TEXT, status TEXT, read INTEGER, "
               "delivered INTEGER, skipped INTEGER, rejected INTEGER, "
               "undelivered INTEGER, requests INTEGER, retries INTEGER, "
               "bytes INTEGER)")
    db.execute("INSERT INTO runs VALUES (1, '2023-11-14T22:00:00.000000Z', "
               "'2023-11-14T22:20:00.000000Z', 'h', 'done', 9, 0, 9, 0, 0, "
               "1, 0, 10)")     # after the check, but delivered nothing
    db.commit()
    p = report(["-j", j, "--verified", ok, "-o", tmp_path / "ok.html"] +
               src)
    assert p.returncode == 0, p.stderr
    db.execute("INSERT INTO runs VALUES (2, '2023-11-14T22:30:00.000000Z', "
               "'2023-11-14T22:40:00.000000Z', 'h', 'done', 9, 3, 6, 0, 0, "
               "1, 0, 10)")
    db.commit()
    db.close()
    out = tmp_path / "stale.html"
    p = report(["-j", j, "--verified", ok, "-o", out] + src)
    assert p.returncode == 1, p.stderr
    assert b"after this check" in p.stderr
    head = headline(out.read_text())
    assert "Migration not complete: ph-verify's check is out of date" in \
        head, head
    assert "ph-batch delivered events after this check" in head


# ---------------------------------------------------------------- browser

@pytest.fixture(scope="session")
def chromium():
    if not PLAIN:
        pytest.skip("Chromium only runs against the plain build")
    if not os.path.exists(CHROMIUM) and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        p = subprocess.run(["apt-get", "install", "-y", "-q", "chromium"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=env)
        if p.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            subprocess.run(["apt-get", "install", "-y", "-q", "chromium"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env)
    if not os.path.exists(CHROMIUM):
        pytest.skip("no Chromium (apt-get install chromium failed)")
    return CHROMIUM


def chromium_run(binary, extra, url, tmp):
    ud = tempfile.mkdtemp(dir=str(tmp))
    argv = [binary, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--user-data-dir=" + ud] + extra + [url]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    shutil.rmtree(ud, ignore_errors=True)
    return p


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    i, idat = 8, []
    while i < len(data):
        n, kind = struct.unpack(">I4s", data[i:i + 8])
        body = data[i + 8:i + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB",
                                                                body)
        elif kind == b"IDAT":
            idat.append(body)
        i += 12 + n
    assert depth == 8 and ctype in (2, 6) and interlace == 0
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 255
        elif f == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b, c = prev[x], prev[x - bpp] if x >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def test_page_in_chromium(figures, chromium, tmp_path):
    url = "file://" + str(figures["html"])
    shot = tmp_path / "report.png"
    p = chromium_run(chromium, ["--screenshot=" + str(shot),
                                "--window-size=1280,1600"], url, tmp_path)
    assert shot.exists(), p.stderr.decode()[-2000:]
    w, h, bpp, rows = png_pixels(shot)
    assert (w, h) == (1280, 1600)
    colored = dark = 0
    for line in rows:
        for x in range(0, len(line), bpp):
            r, g, b = line[x], line[x + 1], line[x + 2]
            if (r, g, b) != (255, 255, 255):
                colored += 1
                if r + g + b < 200:
                    dark += 1
    total = w * h
    assert colored > total * 0.03, colored      # text, boxes and bars
    assert dark > 2000                          # text is drawn
    assert colored < total * 0.9                # not a blank dark page
    shutil.copy(shot, figures["dir"] / "report.png")

    p = chromium_run(chromium, ["--dump-dom"], url, tmp_path)
    dom = p.stdout.decode()
    tot, _, _ = expected(figures["lines"])
    assert "Migration not complete: %s pending" % format(
        tot["pending"], ",") in dom
    assert "By event type" in dom and "<svg" in dom


def test_cut_line_rejects_do_not_keep_it_incomplete(export, tmp_path):
    """A rejects file holding the cut end of a line (a stage before was
    killed mid-line): once every event is delivered, the report is not
    held "not complete" by it; a real bad line still is."""
    src = export["files"][:1]
    evs, _, _ = convert(src)
    j = make_journal(tmp_path / "j", [e["uuid"] for e in evs])
    whole = open(src[0], "rb").read().split(b"\n")[3]
    rej = tmp_path / "conv.rejects"
    rej.write_text(json.dumps({"file": "<stdin>", "line": 4,
                               "reason": "parse error: premature EOF",
                               "input": whole[:37].decode()}) + "\n")
    p, r = report_json(["-j", j, "--rejects", rej] + src)
    assert p.returncode == 0, p.stderr
    assert r["totals"]["rejects_cut_lines"] == 1
    assert r["totals"]["rejected_outside_export"] == 0
    # a line that is JSON but no event of the export still counts
    with open(rej, "a") as f:
        f.write(json.dumps({"file": "x", "line": 1, "reason": "bad",
                            "input": '{"event_type":"zzz"}'}) + "\n")
    p, r = report_json(["-j", j, "--rejects", rej] + src)
    assert p.returncode == 65
    assert r["totals"]["rejected_outside_export"] == 1
