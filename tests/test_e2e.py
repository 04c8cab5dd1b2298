"""End to end: a generated Amplitude project, served by the Export API
stand-in with faults, downloaded by amp-export, then
amp-unpack | amp-convert | ph-alias | ph-batch into the capture stand-in
with faults.  Every source event that the mapping keeps must arrive exactly
once with the right uuid, distinct_id and timestamp, together with the
identity events that merge devices into users; and the same must hold when
the pipeline is killed with SIGKILL at random points and re-run.
"""
import collections
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import BUILD, check_sanitizers, make_sample, prog

SAN = os.environ.get("AMP2PH_BUILD", "build") != "build"
EVENTS = 3000 if SAN else 8000


def expected(tmp_path, src):
    """What PostHog must end up holding: converted events and identities."""
    amp = subprocess.run([prog("amp-unpack"), src], check=True,
                         stdout=subprocess.PIPE).stdout
    ph = subprocess.run([prog("amp-convert"), "-q"], input=amp, check=True,
                        stdout=subprocess.PIPE).stdout
    out = subprocess.run([prog("ph-alias"), "-q"], input=ph, check=True,
                         stdout=subprocess.PIPE).stdout
    evs = [json.loads(l) for l in out.splitlines()]
    return {e["uuid"]: e for e in evs}, len(amp.splitlines())


def pipeline_cmd(d, capture_url, extra=""):
    b = BUILD
    return ("{b}/amp-unpack {d}/exports | {b}/amp-convert -q "
            "--rejects {d}/convert.rejects | {b}/ph-alias -q -j {d}/m.journal "
            "| {b}/ph-batch -q -j {d}/m.journal --host {url} --batch-size 200 "
            "--parallel 2 --retry-for 60s {extra} > {d}/receipts.ndjson"
            ).format(b=b, d=d, url=capture_url, extra=extra)


def received(capture):
    return capture.events()


def check_exactly_once(capture, want, allowed_dups):
    got = received(capture)
    count = collections.Counter(e["uuid"] for e in got)
    assert set(count) == set(want), (
        "missing %d, unexpected %d" % (len(set(want) - set(count)),
                                       len(set(count) - set(want))))
    dups = {u for u, n in count.items() if n > 1}
    assert dups <= allowed_dups, "%d duplicates not explained" % len(
        dups - allowed_dups)
    for e in got:
        w = want[e["uuid"]]
        assert (e["event"], e["distinct_id"], e["timestamp"]) == (
            w["event"], w["distinct_id"], w["timestamp"])
    return count


def download(tmp_path, export, faults=""):
    if faults:
        export.faults(faults)
    env = dict(os.environ, AMPLITUDE_API_KEY="test-api-key",
               AMPLITUDE_SECRET_KEY="test-secret-key")
    p = subprocess.run([prog("amp-export"), "--host", export.url,
                        "--start", "2024-02-01", "--end", "2024-02-02",
                        "--window", "12h", "--retry-for", "60s",
                        "-o", tmp_path / "exports"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    assert p.returncode == 0, p.stderr.decode()
    return p


@pytest.fixture
def project(tmp_path, export_factory):
    if not os.path.exists(prog("amp-export")):
        pytest.skip("amp-export not built")
    src = make_sample(tmp_path / "src.zip", EVENTS, 11, "--start",
                      "2024-02-01T00", "--hours", "48", "--part-events",
                      "700")
    export = export_factory([src])
    return src, export


def test_faults_on_both_sides_exactly_once(tmp_path, project, capture):
    src, export = project
    download(tmp_path, export, "503@2;429@4;truncate@5;corrupt@6")
    want, lines = expected(tmp_path, src)
    # What was downloaded is what the source holds.
    got = subprocess.run([prog("amp-unpack"), tmp_path / "exports"],
                         check=True, stdout=subprocess.PIPE).stdout
    src_lines = subprocess.run([prog("amp-unpack"), src], check=True,
                               stdout=subprocess.PIPE).stdout
    assert sorted(got.splitlines()) == sorted(src_lines.splitlines())

    capture.faults("503@2;429:1@4;drop@6;drop-after@8;slow:2@10;"
                   "html200@12;status:500@p0.05")
    env = dict(os.environ, POSTHOG_API_KEY="phc_test")
    p = subprocess.run(pipeline_cmd(tmp_path, capture.url, "--timeout 1s"),
                       shell=True, env=env, stderr=subprocess.PIPE,
                       timeout=600)
    assert p.returncode == 0, p.stderr.decode()[-3000:]
    # Only the request whose answer was dropped after acceptance may repeat.
    log = capture.requests()
    lost_answers = {r["req"] for r in log if (r.get("fault") or "")
                    .startswith(("drop-after", "slow:"))}
    with open(capture.record) as f:
        allowed = {json.loads(l)["event"]["uuid"] for l in f
                   if json.loads(l)["req"] in lost_answers}
    count = check_exactly_once(capture, want, allowed)
    identities = [u for u, e in want.items() if e["event"] == "$identify"]
    assert identities, "the sample should have devices that log in"
    assert all(count[u] >= 1 for u in identities)

    # Running it again sends nothing new.
    before = len(received(capture))
    capture.faults("")
    p = subprocess.run(pipeline_cmd(tmp_path, capture.url), shell=True,
                       env=env, stderr=subprocess.PIPE, timeout=300)
    assert p.returncode == 0, p.stderr.decode()
    assert len(received(capture)) == before


def test_kill9_pipeline_then_rerun(tmp_path, project, capture):
    src, export = project
    download(tmp_path, export)
    want, _ = expected(tmp_path, src)
    env = dict(os.environ, POSTHOG_API_KEY="phc_test")
    # Slow answers so that the run lasts long enough to be killed.
    capture.faults("slow:0.3")
    rng = random.Random(5)
    kills = 0
    for attempt in range(30):
        proc = subprocess.Popen(pipeline_cmd(tmp_path, capture.url),
                                shell=True, env=env, start_new_session=True,
                                stderr=subprocess.DEVNULL)
        if kills < 3:
            time.sleep(rng.uniform(0.1, 0.8))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        rc = proc.wait(timeout=600)
        if rc == 0:
            break
    else:
        pytest.fail("pipeline never finished")
    assert kills >= 1
    got = received(capture)
    count = collections.Counter(e["uuid"] for e in got)
    assert set(count) == set(want)
    dups = sum(n - 1 for n in count.values())
    # At most the requests in flight at each kill: parallel x batch size.
    assert dups <= kills * 2 * 200, dups
    assert max(count.values()) <= 1 + kills
    for e in got:
        w = want[e["uuid"]]
        assert (e["event"], e["distinct_id"], e["timestamp"]) == (
            w["event"], w["distinct_id"], w["timestamp"])


def test_progress_one_line_for_the_pipeline(tmp_path, capture):
    """amp-unpack -p | ... | ph-batch -p on one terminal: ph-batch draws
    the pipeline's line (share of the export, delivered, ETA, errors),
    amp-unpack stops drawing once it has, and nothing is left in TMPDIR."""
    import pty
    import select
    arch = make_sample(tmp_path / "x.zip", 3000)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    sh = ("%s -p %s | %s | %s -p --host %s --rate 1500/s --batch-size 100"
          " > /dev/null") % (prog("amp-unpack"), arch, prog("amp-convert"),
                             prog("ph-batch"), capture.url)
    master, slave = pty.openpty()
    env = dict(os.environ, POSTHOG_API_KEY="phc_test", TMPDIR=str(tmpdir))
    p = subprocess.Popen(["sh", "-c", sh], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait(60)
    os.close(master)
    assert p.returncode == 0, out.decode(errors="replace")
    check_sanitizers(out)
    text = out.decode(errors="replace")
    assert "% of the export read" in text
    # after ph-batch's first pipeline line, amp-unpack draws no more
    first = text.index("% of the export read")
    assert "amp-unpack: " not in text[first:].replace(
        "amp-unpack: 3000", "")  # its own summary line is not a meter
    assert list(tmpdir.iterdir()) == []


def test_shards_deliver_what_one_run_delivers(tmp_path, capture_factory):
    """--shard K/N by device: 4 shards, each its own pipeline and journal,
    run by GNU parallel as the README's recipe does, deliver exactly the
    events one pipeline delivers, the same $identify events included."""
    if not shutil.which("parallel"):
        pytest.skip("GNU parallel is not installed")
    arch = make_sample(tmp_path / "x.zip", 3000)
    one = capture_factory()
    four = capture_factory()
    env = dict(os.environ, POSTHOG_API_KEY="phc_test")
    b = os.path.dirname(prog("amp-unpack"))
    single = ("set -o pipefail; {b}/amp-unpack {a} | {b}/amp-convert -q "
              "| {b}/ph-alias -q -j {t}/one.journal | {b}/ph-batch -q "
              "-j {t}/one.journal --host {u} > /dev/null").format(
                  b=b, a=arch, t=tmp_path, u=one.url)
    p = subprocess.run(["bash", "-c", single], env=env,
                       stderr=subprocess.PIPE, timeout=300)
    assert p.returncode == 0, p.stderr.decode()
    check_sanitizers(p.stderr)
    recipe = ("set -o pipefail; parallel --halt now,fail=1 -j4 "
              "'{b}/amp-unpack {a} | {b}/amp-convert -q --shard {{}}/4 "
              "| {b}/ph-alias -q -j {t}/s{{}}.journal | {b}/ph-batch -q "
              "-j {t}/s{{}}.journal --host {u} > /dev/null' ::: 1 2 3 4"
              ).format(b=b, a=arch, t=tmp_path, u=four.url)
    p = subprocess.run(["bash", "-c", recipe], env=env,
                       stderr=subprocess.PIPE, timeout=600)
    assert p.returncode == 0, p.stderr.decode()
    check_sanitizers(p.stderr)
    a = collections.Counter(json.dumps(e, sort_keys=True)
                            for e in one.events())
    s = collections.Counter(json.dumps(e, sort_keys=True)
                            for e in four.events())
    assert a == s
    ids = [e for e in one.events() if e["event"] == "$identify"]
    assert ids, "the sample should give identity events"
    # ph-report over the four journals: all delivered
    js = []
    for k in range(1, 5):
        js += ["-j", str(tmp_path / ("s%d.journal" % k))]
    p = subprocess.run("%s %s | %s %s --json" % (
        prog("amp-unpack"), arch, prog("ph-report"), " ".join(js)),
        shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        timeout=300)
    check_sanitizers(p.stderr)
    r = json.loads(p.stdout)
    assert r["totals"]["pending"] == 0 and r["totals"]["delivered"] > 0
    assert p.returncode == 0, p.stderr.decode()
    # one shard's journal alone leaves the others' events pending
    p = subprocess.run("%s %s | %s -j %s --json" % (
        prog("amp-unpack"), arch, prog("ph-report"), js[1]), shell=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    assert p.returncode == 1
    assert json.loads(p.stdout)["totals"]["pending"] > 0
    # every shard had some of the work
    for k in range(1, 5):
        db = sqlite3.connect(str(tmp_path / ("s%d.journal" % k)))
        n = db.execute("SELECT count(*) FROM delivered").fetchone()[0]
        db.close()
        assert 0 < n < sum(a.values())
