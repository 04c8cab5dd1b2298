"""amp-export: the real binary against the Export API stand-in
(tests/export_standin.py), with its fault injection.

What is checked: the files of a run, read back with amp-unpack, hold
exactly the source archive's lines; the ranges asked of the stand-in
never overlap and leave no hour out; splits, empty hours, retries, bad
bodies, refused keys, resume after kill -9, and the command line.
"""
import datetime as dt
import json
import os
import signal
import subprocess
import time
import zipfile

import pytest

from conftest import check_sanitizers, make_sample, ndjson, prog, run

P = "amp-export"
KEYS = {"AMPLITUDE_API_KEY": "test-api-key",
        "AMPLITUDE_SECRET_KEY": "test-secret-key"}
DAY1, DAY2, DAY3 = "2024-01-01", "2024-01-02", "2024-01-03"


# ---------------------------------------------------------------- helpers

def env_without_keys(extra=None):
    e = {k: v for k, v in os.environ.items()
         if k not in ("AMPLITUDE_API_KEY", "AMPLITUDE_SECRET_KEY")}
    e.update(extra or {})
    return e


def ax(args, keys=KEYS, timeout=120):
    """Run amp-export with exactly the keys given in its environment."""
    p = subprocess.run([prog(P)] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env_without_keys(keys), timeout=timeout)
    check_sanitizers(p.stderr)
    return p


def export(api, out, *args, keys=KEYS):
    return ax(["--host", api.url, "-o", out] + list(args), keys=keys)


def hour(s):
    """'YYYYMMDDTHH' -> hours since the epoch."""
    t = dt.datetime.strptime(s, "%Y%m%dT%H").replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp()) // 3600


def api_hour(h):
    return dt.datetime.fromtimestamp(h * 3600, dt.timezone.utc) \
        .strftime("%Y%m%dT%H")


def tiles(ranges, first, last):
    """The (lo, hi) hour ranges are disjoint and cover first..last."""
    rs = sorted(ranges)
    assert rs, "no ranges"
    assert rs[0][0] == first, rs
    assert rs[-1][1] == last, rs
    for (a, b), (c, _) in zip(rs, rs[1:]):
        assert c == b + 1, "gap or overlap between %s and %s" % (
            api_hour(b), api_hour(c))
    for a, b in rs:
        assert a <= b


def windows(lines):
    out = []
    for l in lines:
        a, b = l["window"].split("-")
        out.append((hour(a), hour(b)))
    return out


def reqs(api):
    """The stand-in's log, once every request it took is in it (a request
    is logged after its answer, which the client may have seen first)."""
    deadline = time.time() + 10
    while True:
        st = api.get_json("/_stats")
        if len(st["ranges_served"]) == st["requests"] or \
                time.time() > deadline:
            return api.requests()
        time.sleep(0.01)


def leaves(api):
    """Ranges the stand-in answered with data (200) or with none (404)."""
    return [(hour(r["start"]), hour(r["end"])) for r in reqs(api)
            if r["status"] in (200, 404)]


def unpack(*args):
    p = run(["amp-unpack"] + list(args))
    assert p.returncode == 0, p.stderr
    return p.stdout


def files(out, suffix=None):
    names = sorted(os.listdir(out)) if os.path.isdir(out) else []
    return [n for n in names if suffix is None or n.endswith(suffix)]


def span(a, b):
    """Hours of --start a --end b, both dates (YYYY-MM-DD)."""
    return hour(a.replace("-", "") + "T00"), hour(b.replace("-", "") + "T23")


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    """Three days of events, 2024-01-01 to 2024-01-03, about 40 a member."""
    d = tmp_path_factory.mktemp("src")
    return str(make_sample(d / "src.zip", 3000, 7, "--start",
                           "2024-01-01T00", "--hours", "72",
                           "--part-events", "40"))


@pytest.fixture(scope="module")
def src_lines(src):
    return unpack(src)


def hourly_sizes(path):
    """Bytes of the members of each hour, as the stand-in counts them."""
    sizes = {}
    with zipfile.ZipFile(path) as z:
        for i in z.infolist():
            base = i.filename.rsplit("/", 1)[-1]
            _, day, rest = base.split("_")
            h = int(rest.split("#")[0])
            k = hour(day.replace("-", "") + "T%02d" % h)
            sizes[k] = sizes.get(k, 0) + i.file_size
    return sizes


# ---------------------------------------------------------------- ranges

def test_three_days_by_day(tmp_path, export_factory, src, src_lines):
    api = export_factory([src])
    out = tmp_path / "out"
    p = export(api, out, "--start", DAY1, "--end", DAY3, "--window", "1d",
               "-p")
    assert p.returncode == 0, p.stderr
    names = ["amp-20240101T00-20240101T23.zip",
             "amp-20240102T00-20240102T23.zip",
             "amp-20240103T00-20240103T23.zip"]
    assert files(out) == names
    lines = ndjson(p.stdout)
    assert [l["window"] for l in lines] == [n[4:-4] for n in names]
    for l, n in zip(lines, names):
        assert l["status"] == "downloaded"
        assert l["file"] == "%s/%s" % (out, n)
        assert l["bytes"] == os.path.getsize(l["file"])
        assert l["http"] == 200 and l["attempts"] == 1
    assert unpack(str(out)) == src_lines
    rq = reqs(api)
    assert len(rq) == 3 and all(r["status"] == 200 for r in rq)
    tiles(leaves(api), *span(DAY1, DAY3))
    assert b"3/3 windows" in p.stderr
    assert b"3 downloaded" in p.stderr


def test_window_not_dividing_range(tmp_path, export_factory, src, src_lines):
    api = export_factory([src])
    out = tmp_path / "out"
    p = export(api, out, "--start", "2024-01-01T00", "--end",
               "2024-01-03T23", "--window", "10h")
    assert p.returncode == 0, p.stderr
    assert len(files(out, ".zip")) == 8
    tiles(leaves(api), *span(DAY1, DAY3))
    tiles(windows(ndjson(p.stdout)), *span(DAY1, DAY3))
    assert files(out)[-1] == "amp-20240103T22-20240103T23.zip"
    assert unpack(str(out)) == src_lines


def test_hours_inside_days(tmp_path, export_factory, src):
    api = export_factory([src])
    out = tmp_path / "out"
    p = export(api, out, "--start", "2024-01-01T05", "--end", DAY2,
               "--window", "6h")
    assert p.returncode == 0, p.stderr
    tiles(leaves(api), hour("20240101T05"), hour("20240102T23"))
    assert files(out)[0] == "amp-20240101T05-20240101T10.zip"
    assert unpack(str(out)) == unpack("--since", "2024-01-01T05", "--until",
                                      DAY2, src)


def test_empty_hours_marked_and_skipped(tmp_path, export_factory, src,
                                        src_lines):
    api = export_factory([src])
    out = tmp_path / "out"
    args = ["--start", "2023-12-31", "--end", "2024-01-04", "--window", "1d"]
    p = export(api, out, *args)
    assert p.returncode == 0, p.stderr
    lines = ndjson(p.stdout)
    assert [l["status"] for l in lines] == \
        ["empty", "downloaded", "downloaded", "downloaded", "empty"]
    assert lines[0] == {"window": "20231231T00-20231231T23", "file": None,
                        "bytes": 0, "status": "empty", "http": 404,
                        "attempts": 1}
    assert "amp-20231231T00-20231231T23.empty" in files(out)
    assert "amp-20240104T00-20240104T23.empty" in files(out)
    assert not files(out, ".part")
    n = len(reqs(api))
    assert n == 5
    # A re-run asks for nothing and says so.
    p = export(api, out, *args)
    assert p.returncode == 0, p.stderr
    assert [l["status"] for l in ndjson(p.stdout)] == ["skipped"] * 5
    assert len(reqs(api)) == n
    assert unpack(str(out)) == src_lines


def test_max_bytes_splits_down_to_hours(tmp_path, export_factory, src):
    sizes = hourly_sizes(src)
    limit = max(sizes.values())
    assert sum(sizes.values()) / 3 > 4 * limit    # a day is well over
    api = export_factory([src], ["--max-bytes", str(limit)])
    out = tmp_path / "out"
    p = export(api, out, "--start", DAY1, "--end", DAY1, "--window", "1d")
    assert p.returncode == 0, p.stderr
    rq = reqs(api)
    assert any(r["status"] == 400 for r in rq)
    assert all(r["status"] in (200, 400) for r in rq)
    for r in rq:
        if r["status"] == 200:
            got = sum(sizes.get(h, 0) for h in
                      range(hour(r["start"]), hour(r["end"]) + 1))
            assert got <= limit
    tiles(leaves(api), *span(DAY1, DAY1))
    lines = ndjson(p.stdout)
    assert all(l["status"] == "downloaded" for l in lines)
    tiles(windows(lines), *span(DAY1, DAY1))
    assert len(files(out, ".zip")) == len(lines) > 4
    assert any(a == b for a, b in windows(lines))     # down to one hour
    assert unpack(str(out)) == unpack("--until", DAY1, src)
    # Resume: nothing is asked again, not even the windows that split.
    n = len(rq)
    p = export(api, out, "--start", DAY1, "--end", DAY1, "--window", "1d")
    assert p.returncode == 0, p.stderr
    assert len(reqs(api)) == n
    assert [l["status"] for l in ndjson(p.stdout)] == \
        ["skipped"] * len(lines)


def test_one_hour_too_large(tmp_path, export_factory, src):
    api = export_factory([src], ["--faults",
                                 "toolarge@range=20240102T05-20240102T05"])
    out = tmp_path / "out"
    p = export(api, out, "--start", DAY1, "--end", DAY3)
    assert p.returncode == 1, p.stderr
    lines = ndjson(p.stdout)
    big = [l for l in lines if l["status"] != "downloaded"]
    assert big == [{"window": "20240102T05-20240102T05", "file": None,
                    "bytes": 0, "status": "too-large", "http": 400,
                    "attempts": 1, "error": "HTTP 400: export too large"}]
    tiles(windows(lines), *span(DAY1, DAY3))
    assert b"S3" in p.stderr and b"20240102T05" in p.stderr
    assert b"1 too large" in p.stderr
    want = unpack("--until", "2024-01-02T04", src) + \
        unpack("--since", "2024-01-02T06", src)
    assert unpack(str(out)) == want
    done = [r for r in reqs(api) if r["status"] == 200]
    assert not any(hour(r["start"]) <= hour("20240102T05") <=
                   hour(r["end"]) for r in done)


def test_504_splits(tmp_path, export_factory, src, src_lines):
    api = export_factory([src], ["--faults", "504@1"])
    out = tmp_path / "out"
    p = export(api, out, "--start", DAY1, "--end", DAY2)
    assert p.returncode == 0, p.stderr
    rq = [(r["start"], r["end"], r["status"]) for r in reqs(api)]
    assert rq[:3] == [("20240101T00", "20240101T23", 504),
                        ("20240101T00", "20240101T11", 200),
                        ("20240101T12", "20240101T23", 200)]
    assert files(out) == ["amp-20240101T00-20240101T11.zip",
                          "amp-20240101T12-20240101T23.zip",
                          "amp-20240102T00-20240102T23.zip"]
    assert unpack(str(out)) == unpack("--until", DAY2, src)


# ---------------------------------------------------------------- faults

@pytest.mark.parametrize("spec,attempts", [
    ("429:0@1", 2),
    ("503@1", 2),
    ("drop@1", 2),
    ("truncate@1", 2),
    ("truncate-short@1", 2),
    ("empty200@1", 2),
    ("corrupt@1", 2),
])
def test_transient_fault_retried(tmp_path, export_factory, src, spec,
                                 attempts):
    api = export_factory([src], ["--faults", spec])
    out = tmp_path / "out"
    p = export(api, out, "--start", DAY1, "--end", DAY1, "--retry-for",
               "60s")
    assert p.returncode == 0, p.stderr
    (l,) = ndjson(p.stdout)
    assert l["status"] == "downloaded" and l["attempts"] == attempts
    assert b"retrying" in p.stderr
    assert files(out) == ["amp-20240101T00-20240101T23.zip"]
    assert unpack(str(out)) == unpack("--until", DAY1, src)
    assert [r["status"] for r in reqs(api)][-1] == 200


def test_retry_after_honoured(tmp_path, export_factory, src):
    api = export_factory([src], ["--faults", "429:2@1"])
    out = tmp_path / "out"
    p = export(api, out, "--start", DAY1, "--end", DAY1)
    assert p.returncode == 0, p.stderr
    r1, r2 = reqs(api)
    assert r1["status"] == 429 and r2["status"] == 200
    assert r2["t"] - r1["t"] >= 1.9


@pytest.mark.parametrize("kind", ["corrupt", "truncate-short", "empty200"])
def test_bad_body_for_good(tmp_path, export_factory, src, kind):
    api = export_factory([src], ["--faults",
                                 "%s@range=20240101T00-20240101T23" % kind])
    out = tmp_path / "out"
    p = export(api, out, "--start", DAY1, "--end", DAY2, "--retry-for", "2s")
    assert p.returncode == 1, p.stderr
    l1, l2 = ndjson(p.stdout)
    assert l1["status"] == "failed" and l1["file"] is None
    assert l1["http"] == 200 and l1["attempts"] >= 2 and l1["error"]
    assert l2["status"] == "downloaded"
    assert files(out) == ["amp-20240102T00-20240102T23.zip"]
    assert b"giving up" in p.stderr and b"1 failed" in p.stderr


def test_server_down_stops_run(tmp_path, export_factory, src):
    api = export_factory([src], ["--faults", "503"])
    out = tmp_path / "out"
    p = export(api, out, "--start", DAY1, "--end", DAY3, "--retry-for", "2s")
    assert p.returncode == 1, p.stderr
    (l,) = ndjson(p.stdout)
    assert l["status"] == "failed" and l["http"] == 503
    assert {r["start"] for r in reqs(api)} == {"20240101T00"}
    assert b"giving up" in p.stderr and b"48 of 72 hours not fetched" in \
        p.stderr
    assert files(out) == []


@pytest.mark.parametrize("how", ["403", "401"])
def test_refused_keys_stop_at_once(tmp_path, export_factory, src, how):
    keys = dict(KEYS)
    if how == "403":
        keys = {"AMPLITUDE_API_KEY": "k3y-api-0123456789abcdef",
                "AMPLITUDE_SECRET_KEY": "k3y-secret-fedcba9876543210"}
        api = export_factory([src])
    else:
        api = export_factory([src], ["--faults", "status:401"])
    out = tmp_path / "out"
    p = export(api, out, "--start", DAY1, "--end", DAY3, keys=keys)
    assert p.returncode == 1, p.stderr
    assert len(reqs(api)) == 1
    (l,) = ndjson(p.stdout)
    assert l["status"] == "failed" and l["http"] == int(how)
    err = p.stderr.decode()
    assert "AMPLITUDE_API_KEY" in err and "AMPLITUDE_SECRET_KEY" in err
    assert "region" in err
    for v in keys.values():
        assert v.encode() not in p.stdout + p.stderr
    assert files(out) == []


def test_key_file(tmp_path, export_factory, src):
    api = export_factory([src])
    kf = tmp_path / "keys"
    kf.write_text("test-api-key\ntest-secret-key\n")
    kf.chmod(0o600)
    out = tmp_path / "out"
    p = export(api, out, "--start", DAY1, "--end", DAY1, "--key-file", kf,
               keys={})
    assert p.returncode == 0, p.stderr
    assert p.stderr.count(b"\n") == 1     # the summary and nothing else
    assert ndjson(p.stdout)[0]["status"] == "downloaded"
    # The file wins over the environment.
    p = export(api, tmp_path / "o2", "--start", DAY1, "--end", DAY1,
               "--key-file", kf, keys={"AMPLITUDE_API_KEY": "x",
                                       "AMPLITUDE_SECRET_KEY": "y"})
    assert p.returncode == 0, p.stderr
    # Wrong keys in the file: the message names the file.
    kf.write_text("nope-api\nnope-secret\n")
    p = export(api, tmp_path / "o3", "--start", DAY1, "--end", DAY1,
               "--key-file", kf, keys={})
    assert p.returncode == 1
    assert str(kf).encode() in p.stderr
    assert b"nope-" not in p.stderr + p.stdout


@pytest.mark.parametrize("content", ["", "only-one-line\n", "\nsekrit\n"])
def test_key_file_malformed(tmp_path, content):
    kf = tmp_path / "keys"
    kf.write_text(content)
    kf.chmod(0o600)
    p = ax(["--start", DAY1, "--end", DAY1, "-o", tmp_path / "o",
            "--host", "http://127.0.0.1:9", "--key-file", kf], keys={})
    assert p.returncode == 2
    assert b"two non-empty lines" in p.stderr
    assert b"sekrit" not in p.stderr and b"only-one" not in p.stderr


@pytest.mark.parametrize("keys,missing", [
    ({}, b"AMPLITUDE_API_KEY"),
    ({"AMPLITUDE_API_KEY": "a"}, b"AMPLITUDE_SECRET_KEY"),
    ({"AMPLITUDE_API_KEY": "a", "AMPLITUDE_SECRET_KEY": " "},
     b"AMPLITUDE_SECRET_KEY"),
])
def test_keys_missing(tmp_path, keys, missing):
    p = ax(["--start", DAY1, "--end", DAY1, "-o", tmp_path / "o",
            "--host", "http://127.0.0.1:9"], keys=keys)
    assert p.returncode == 2
    assert missing in p.stderr
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- resume

def test_resume_after_kill9(tmp_path, export_factory, src, src_lines):
    api = export_factory([src], ["--faults", "slow:0.4"])
    out = tmp_path / "out"
    args = [prog(P), "--host", api.url, "-o", str(out), "--start", DAY1,
            "--end", DAY3, "--window", "12h"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env_without_keys(KEYS))
    deadline = time.time() + 30
    while len(files(out, ".zip")) < 2:
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.02)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = set(files(out, ".zip"))
    assert 2 <= len(before) < 6
    n1 = len(reqs(api))
    # A stale .part, as a download cut by the kill would leave.
    (out / "amp-20240103T12-20240103T23.zip.part").write_bytes(b"PK\3\4junk")

    api.faults("")
    p = export(api, out, "--start", DAY1, "--end", DAY3, "--window", "12h")
    assert p.returncode == 0, p.stderr
    assert files(out) == sorted(files(out, ".zip")) and \
        len(files(out)) == 6
    assert unpack(str(out)) == src_lines
    again = reqs(api)[n1:]
    asked = {"amp-%s-%s.zip" % (r["start"], r["end"]) for r in again}
    assert not asked & before, "a finished window was fetched again"
    statuses = [l["status"] for l in ndjson(p.stdout)]
    assert statuses.count("skipped") == len(before)
    assert statuses.count("downloaded") == 6 - len(before)
    # Over both runs each window was served whole at most twice (the one
    # cut by the kill) and only one at all.
    served = {}
    for r in reqs(api):
        if r["status"] == 200:
            served[(r["start"], r["end"])] = \
                served.get((r["start"], r["end"]), 0) + 1
    assert len(served) == 6
    assert sum(1 for v in served.values() if v > 1) <= 1


def test_signal_stops_cleanly(tmp_path, export_factory, src):
    api = export_factory([src], ["--faults", "slow:1"])
    out = tmp_path / "out"
    proc = subprocess.Popen([prog(P), "--host", api.url, "-o", str(out),
                             "--start", DAY1, "--end", DAY3],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env_without_keys(KEYS))
    time.sleep(0.4)
    t = time.time()
    proc.send_signal(signal.SIGTERM)
    so, se = proc.communicate(timeout=20)
    check_sanitizers(se)
    assert time.time() - t < 3
    assert proc.returncode == 1
    assert b"run the same command again" in se
    assert files(out) == []


def test_one_run_per_directory(tmp_path, export_factory, src):
    api = export_factory([src], ["--faults", "slow:1"])
    out = tmp_path / "out"
    proc = subprocess.Popen([prog(P), "--host", api.url, "-o", str(out),
                             "--start", DAY1, "--end", DAY1],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env_without_keys(KEYS))
    deadline = time.time() + 10
    while not os.path.exists(out):
        assert time.time() < deadline
        time.sleep(0.02)
    time.sleep(0.2)
    p = export(api, out, "--start", DAY1, "--end", DAY1)
    assert p.returncode == 1
    assert b"another amp-export" in p.stderr
    so, se = proc.communicate(timeout=20)
    check_sanitizers(se)
    assert proc.returncode == 0, se
    assert files(out) == ["amp-20240101T00-20240101T23.zip"]


# ---------------------------------------------------------------- recent

def now_hour():
    t = time.time()
    if t % 3600 > 3590:          # do not straddle an hour boundary
        time.sleep(3600 - t % 3600 + 1)
        t = time.time()
    return int(t) // 3600


def hh(h):
    return dt.datetime.fromtimestamp(h * 3600, dt.timezone.utc) \
        .strftime("%Y-%m-%dT%H")


def test_recent_hours_refused(tmp_path, export_factory, src):
    now = now_hour()
    for end in (now, now - 2):
        p = ax(["--start", hh(now - 6), "--end", hh(end), "-o",
                tmp_path / "o", "--host", "http://127.0.0.1:9"])
        assert p.returncode == 2
        assert b"--allow-recent" in p.stderr and b"2 hours" in p.stderr
        assert hh(now - 3).encode() in p.stderr   # the last complete hour
    p = ax(["--start", hh(now - 6), "--end", hh(now + 1), "-o",
            tmp_path / "o", "--host", "http://127.0.0.1:9",
            "--allow-recent"])
    assert p.returncode == 2 and b"future" in p.stderr
    assert not (tmp_path / "o").exists()
    # Up to three hours ago is fine.
    api = export_factory([src])
    p = export(api, tmp_path / "o", "--start", hh(now - 4), "--end",
               hh(now - 3), "--window", "1h")
    assert p.returncode == 0, p.stderr


def test_allow_recent(tmp_path, export_factory, src):
    now = now_hour()
    api = export_factory([src])
    out = tmp_path / "out"
    p = export(api, out, "--start", hh(now - 5), "--end", hh(now),
               "--window", "1h", "--allow-recent")
    assert p.returncode == 0, p.stderr
    lines = ndjson(p.stdout)
    assert [l["status"] for l in lines] == ["empty"] * 6
    # Markers only for hours Amplitude has finished: later runs ask again.
    assert files(out) == ["amp-%s-%s.empty" % (api_hour(h), api_hour(h))
                          for h in (now - 5, now - 4, now - 3)]


# ---------------------------------------------------------------- cli

def test_dry_run(tmp_path, export_factory, src):
    api = export_factory([src])
    out = tmp_path / "out"
    args = ["--host", api.url, "-o", out, "--start", DAY1, "--end",
            "2024-01-02T05", "--window", "12h", "-n"]
    p = ax(args, keys={})
    assert p.returncode == 0, p.stderr
    lines = ndjson(p.stdout)
    assert [l["window"] for l in lines] == [
        "20240101T00-20240101T11", "20240101T12-20240101T23",
        "20240102T00-20240102T05"]
    assert [l["status"] for l in lines] == ["pending"] * 3
    assert lines[0]["file"] == "%s/amp-20240101T00-20240101T11.zip" % out
    assert [l["hours"] for l in lines] == [12, 12, 6]
    assert reqs(api) == [] and not out.exists()
    p = export(api, out, "--start", DAY1, "--end", "2024-01-01T11")
    assert p.returncode == 0, p.stderr
    p = ax(args, keys={})
    assert [l["status"] for l in ndjson(p.stdout)] == \
        ["skipped", "pending", "pending"]


def test_trailing_slash_and_nested_dir(tmp_path, export_factory, src):
    api = export_factory([src])
    out = tmp_path / "a" / "b"
    p = export(api, str(out) + "/", "--start", DAY1, "--end", DAY1)
    assert p.returncode == 0, p.stderr
    assert ndjson(p.stdout)[0]["file"] == \
        "%s/amp-20240101T00-20240101T23.zip" % out


@pytest.mark.parametrize("args", [
    [],
    ["--start", DAY1, "--end", DAY1],
    ["--start", DAY1, "-o", "d"],
    ["--end", DAY1, "-o", "d"],
    ["--start", "2024-13-01", "--end", DAY1, "-o", "d"],
    ["--start", DAY3, "--end", DAY1, "-o", "d"],
    ["--start", DAY1, "--end", DAY1, "-o", "d", "--window", "90m"],
    ["--start", DAY1, "--end", DAY1, "-o", "d", "--window", "0h"],
    ["--start", DAY1, "--end", DAY1, "-o", "d", "--window", "400d"],
    ["--start", DAY1, "--end", DAY1, "-o", "d", "--window", "24"],
    ["--start", DAY1, "--end", DAY1, "-o", "d", "--region", "mars"],
    ["--start", DAY1, "--end", DAY1, "-o", "d", "--host", "ftp://x"],
    ["--start", DAY1, "--end", DAY1, "-o", "d", "--retry-for", "soon"],
    ["--start", DAY1, "--end", DAY1, "-o", "d", "--timeout", "0"],
    ["--start", DAY1, "--end", DAY1, "-o", "d", "extra"],
    ["--start", DAY1, "--end", DAY1, "-o", "d", "--bogus"],
])
def test_usage_errors(tmp_path, args):
    p = subprocess.run([prog(P)] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, cwd=tmp_path,
                       env=env_without_keys(KEYS))
    check_sanitizers(p.stderr)
    assert p.returncode == 2, p.stderr
    assert p.stdout == b""
    assert b"amp-export" in p.stderr.split(b"\n")[0]
    assert not (tmp_path / "d").exists()


def test_usage_matches_man_page():
    p = subprocess.run([prog(P), "-h"], stdout=subprocess.PIPE)
    assert p.returncode == 0
    usage = p.stdout.decode()
    for opt in ("--start", "--end", "--window", "--region", "--host",
                "--key-file", "--retry-for", "--timeout", "--allow-recent",
                "--insecure", "-o dir", "-np"):
        assert opt in usage
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    man = open(os.path.join(root, "man", "amp-export.1")).read()
    for opt in ("start", "end", "window", "region", "host", "key-file",
                "retry-for", "timeout", "allow-recent", "insecure"):
        assert "Fl \\-%s" % opt in man


def test_version():
    p = run([P, "--version"])
    assert p.returncode == 0
    assert p.stdout.startswith(b"amp-export (amp2ph) ")
