"""Resume in proportion to what remains (settle.h): amp-unpack -j writes a
marker after each zip member, ph-batch -j settles a member in the journal
once its events are all delivered, amp-convert -j keeps its state beside
the journal, and a re-run's amp-unpack -j skips the settled members up to
the last state, unread.  What the re-run sends must be what one whole run
would have sent: every event once, byte for byte the same, and no identity
event that one run would not have made."""
import collections
import gzip
import io
import json
import os
import signal
import sqlite3
import subprocess
import time
import zipfile

import pytest

from conftest import BUILD, check_sanitizers, make_sample, prog

TOKEN = "phc_test"
SAN = os.environ.get("AMP2PH_BUILD", "build") != "build"
EVENTS = 4000 if SAN else 12000


def env(**kw):
    e = dict(os.environ, POSTHOG_API_KEY=TOKEN, AMP2PH_STATE_EVERY="0")
    e.update(kw)
    return e


def sh(cmd, e=None, timeout=300):
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e or env(), timeout=timeout)
    check_sanitizers(p.stderr)
    return p


def pipeline(d, zips, url, convert="", alias="", extra=""):
    b = BUILD
    return ("{b}/amp-unpack -j {d}/j.db {zips} "
            "| {b}/amp-convert -q -j {d}/j.db {convert} "
            "| {b}/ph-alias -q -j {d}/j.db {alias} "
            "| {b}/ph-batch -j {d}/j.db --host {url} --batch-size 100 "
            "--parallel 2 --retry-for 60s {extra} >> {d}/receipts.ndjson"
            ).format(b=b, d=d, zips=" ".join(str(z) for z in zips),
                     url=url, convert=convert, alias=alias, extra=extra)


def one_run(zips, convert="", alias=""):
    """What one whole run writes into ph-batch, by uuid: the reference."""
    p = sh("%s %s | %s -q %s | %s -q %s" % (
        prog("amp-unpack"), " ".join(str(z) for z in zips),
        prog("amp-convert"), convert, prog("ph-alias"), alias))
    assert p.returncode == 0, p.stderr
    evs = [json.loads(l) for l in p.stdout.splitlines()]
    return {e["uuid"]: e for e in evs}


def arrived(capture):
    """The stand-in's record so far: a line being written is not yet."""
    if not os.path.exists(capture.record):
        return 0
    with open(capture.record, "rb") as f:
        return f.read().count(b"\n")


def settled(d):
    db = sqlite3.connect(str(d / "j.db"))
    n = db.execute("SELECT count(*) FROM settled").fetchone()[0]
    db.close()
    return n


def make_zip(path, members):
    """A zip like the Export API's: one .json.gz member per hour."""
    with zipfile.ZipFile(path, "w") as z:
        for name, rows in members:
            z.writestr(name, gzip.compress(
                b"".join(json.dumps(r).encode() + b"\n" for r in rows),
                mtime=0))
    return path


def row(n, user, device, hour, **kw):
    r = {"event_type": "Search", "user_id": user, "device_id": device,
         "event_time": "2024-01-01 %02d:%02d:00.000000" % (hour, n % 60),
         "uuid": "00000000-0000-4000-8000-%012d" % n,
         "session_id": -1, "platform": "Web"}
    r.update(kw)
    return r


def member(hour):
    return "100/100_2024-01-01_%d#0.json.gz" % hour


def test_kill9_then_resume_sends_what_one_run_sends(tmp_path, capture):
    """Killed with SIGKILL once members have settled, then the same
    command: the re-run skips the settled members without reading them,
    and PostHog ends up with every event of one whole run, each with the
    same bytes (sessions, persons and identity merges carried across the
    skipped part), none that one run would not send."""
    src = make_sample(tmp_path / "src.zip", EVENTS, 5, "--start",
                      "2024-02-01T00", "--hours", "48")
    want = one_run([src])
    assert any(e["event"] == "$identify" for e in want.values())
    capture.faults("slow:0.15")
    cmd = pipeline(tmp_path, [src], capture.url)
    proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", cmd],
                            env=env(), start_new_session=True,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
        if arrived(capture) > len(want) // 3 and settled(tmp_path) > 2:
            break
    assert proc.poll() is None, "the first run ended before the kill"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # every stage gone, ph-batch's lock on the journal with it
    while True:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    first = len(capture.events())
    done = settled(tmp_path)
    assert 0 < done and first < len(want)

    capture.faults("")
    p = sh(cmd)
    assert p.returncode == 0, p.stderr
    err = p.stderr.decode()
    assert ("amp-unpack: %d archive members" % done) in err, err
    # ph-batch read only what was not skipped, not the whole export
    read = int(err.split("ph-batch: ")[1].split(" read")[0])
    assert read < len(want) - first // 2, (read, len(want), first)

    got = capture.events()
    count = collections.Counter(e["uuid"] for e in got)
    assert set(count) == set(want), (
        "missing %d, unexpected %d" % (len(set(want) - set(count)),
                                       len(set(count) - set(want))))
    # a second copy only of what was in flight at the kill
    assert sum(n - 1 for n in count.values()) <= 2 * 100
    for e in got:
        assert e == want[e["uuid"]], e["uuid"]

    # done: a third run reads nothing and sends nothing
    p = sh(cmd)
    assert p.returncode == 0, p.stderr
    assert len(capture.events()) == len(got)
    assert b"ph-batch: 0 read" in p.stderr


def test_a_skipped_member_keeps_its_device_claim(tmp_path, capture):
    """A device's first user was in a member the re-run skips: its later
    user still gets no identity event (--shared-device first), as in one
    run, because ph-batch recorded the claim with the delivery."""
    m0 = [row(1, "alice", "dev-1", 0), row(2, "alice", "dev-1", 0)]
    m1 = [row(3, "bob", "dev-1", 1), row(4, "bob", "dev-1", 1)]
    a = make_zip(tmp_path / "a.zip", [(member(0), m0)])
    ab = make_zip(tmp_path / "ab.zip", [(member(0), m0), (member(1), m1)])
    want = one_run([ab])
    ids = [e for e in want.values() if e["event"] == "$identify"]
    assert [e["distinct_id"] for e in ids] == ["alice"]

    p = sh(pipeline(tmp_path, [a], capture.url))
    assert p.returncode == 0, p.stderr
    assert settled(tmp_path) == 1
    p = sh(pipeline(tmp_path, [ab], capture.url))
    assert p.returncode == 0, p.stderr
    assert b"amp-unpack: 1 archive members" in p.stderr
    got = capture.events()
    assert sorted(e["uuid"] for e in got) == sorted(want)
    assert [e["distinct_id"] for e in got if e["event"] == "$identify"] == [
        "alice"]


def test_sessions_carry_across_the_skipped_member(tmp_path, capture):
    """A session that starts in a skipped member: its later events get
    the entry referrer and campaign of its first, from the state file."""
    url = "https://shop.example/?utm_source=news&utm_campaign=spring"
    ref = "https://news.example/article"
    m0 = [row(1, "carol", "dev-2", 0, session_id=1704067200000,
              event_type="[Amplitude] Page Viewed",
              event_properties={"[Amplitude] Page URL": url,
                                "referrer": ref})]
    m1 = [row(2, "carol", "dev-2", 1, session_id=1704067200000,
              event_type="[Amplitude] Page Viewed",
              event_properties={"[Amplitude] Page URL":
                                "https://shop.example/cart"})]
    a = make_zip(tmp_path / "a.zip", [(member(0), m0)])
    ab = make_zip(tmp_path / "ab.zip", [(member(0), m0), (member(1), m1)])
    want = one_run([ab])
    later = [e for e in want.values() if e["uuid"].endswith("000000000002")]
    assert later and later[0]["properties"].get("utm_source") == "news"
    assert sh(pipeline(tmp_path, [a], capture.url)).returncode == 0
    p = sh(pipeline(tmp_path, [ab], capture.url))
    assert p.returncode == 0, p.stderr
    got = {e["uuid"]: e for e in capture.events()}
    assert got == want


def test_resume_with_other_options_is_refused(tmp_path, capture):
    m0 = [row(1, "dan", "dev-3", 0)]
    ab = make_zip(tmp_path / "ab.zip", [(member(0), m0)])
    assert sh(pipeline(tmp_path, [ab], capture.url)).returncode == 0
    p = sh(pipeline(tmp_path, [ab], capture.url, convert="--pageleave"))
    assert p.returncode != 0
    err = p.stderr.decode()
    assert "written by amp-convert" in err, err
    assert "with other options" in err and "without -j" in err


def test_convert_without_journal_is_told(tmp_path, capture):
    m0 = [row(1, "erin", "dev-4", 0)]
    ab = make_zip(tmp_path / "ab.zip", [(member(0), m0)])
    assert sh(pipeline(tmp_path, [ab], capture.url)).returncode == 0
    p = sh("%s -j %s %s | %s -q" % (prog("amp-unpack"), tmp_path / "j.db",
                                    ab, prog("amp-convert")))
    assert p.returncode == 2
    assert b"<stdin>:1: amp-unpack -j skipped the settled members" in \
        p.stderr
    assert b"give amp-convert the same -j journal" in p.stderr


def test_no_state_reads_everything_again(tmp_path, capture):
    """Members settled but amp-convert ran without -j: nothing to resume
    from, so every member is read (and ph-batch skips their events)."""
    m0 = [row(1, "fay", "dev-5", 0)]
    ab = make_zip(tmp_path / "ab.zip", [(member(0), m0), (member(1), m0)])
    b = BUILD
    cmd = ("{b}/amp-unpack -j {d}/j.db {z} | {b}/amp-convert -q | "
           "{b}/ph-batch -q -j {d}/j.db --host {u}").format(
               b=b, d=tmp_path, z=ab, u=capture.url)
    assert sh(cmd).returncode == 0
    assert settled(tmp_path) == 2
    p = sh(cmd)
    assert p.returncode == 0, p.stderr
    assert b"2 members are settled, but no state of amp-convert" in p.stderr
    assert len(capture.events()) == 1


def test_markers_are_passed_on_and_dropped_by_verify(tmp_path):
    m0 = [row(1, "gil", "dev-6", 0), row(2, "gil", "dev-6", 0)]
    ab = make_zip(tmp_path / "ab.zip", [(member(0), m0), (member(1), m0)])
    p = sh("%s -j %s %s | %s -q -j %s | %s -q -j %s" % (
        prog("amp-unpack"), tmp_path / "j.db", ab, prog("amp-convert"),
        tmp_path / "j.db", prog("ph-alias"), tmp_path / "j.db"))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    marks = [json.loads(l) for l in lines if l.startswith(b'{"$amp2ph_')]
    assert [m["$amp2ph_member"] for m in marks] == [member(0), member(1)]
    assert set(marks[0]) == {"$amp2ph_member", "crc32", "compressed",
                             "uncompressed", "seq"}
    assert [m["seq"] for m in marks] == [1, 2]
    # after its member's events, in place
    assert lines[-1].startswith(b'{"$amp2ph_member"')
    assert not p.stderr, p.stderr
    # ph-batch --dry-run without a journal: markers are not events
    q = subprocess.run([prog("ph-batch"), "-n"], input=p.stdout,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env())
    assert q.returncode == 0, q.stderr
    assert b"5 read" in q.stderr and b" 0 rejected" in q.stderr
    assert b"$amp2ph" not in q.stdout


def test_verify_refuses_a_resumed_stream(tmp_path, capture):
    m0 = [row(1, "hal", "dev-7", 0)]
    ab = make_zip(tmp_path / "ab.zip", [(member(0), m0)])
    assert sh(pipeline(tmp_path, [ab], capture.url)).returncode == 0
    p = sh("%s -j %s %s | %s -q -j %s | %s -j %s --project 1 --app-host "
           "http://127.0.0.1:9 --settle 0" % (
               prog("amp-unpack"), tmp_path / "j.db", ab,
               prog("amp-convert"), tmp_path / "j.db", prog("ph-verify"),
               tmp_path / "j.db"), e=env(POSTHOG_PERSONAL_API_KEY="phx_k"))
    assert p.returncode == 65, p.stderr
    assert b"ph-verify must see every event: run amp-unpack without -j" in \
        p.stderr


def test_damaged_state_file_is_named(tmp_path, capture):
    m0 = [row(1, "ivy", "dev-8", 0)]
    ab = make_zip(tmp_path / "ab.zip", [(member(0), m0)])
    assert sh(pipeline(tmp_path, [ab], capture.url)).returncode == 0
    states = sorted(tmp_path.glob("j.db-convert.*"))
    assert states
    for st in states:
        st.write_bytes(st.read_bytes()[:-3])
    p = sh(pipeline(tmp_path, [ab], capture.url))
    assert p.returncode != 0
    assert b": cut short or damaged" in p.stderr


def test_verify_forgetting_unsettles_every_member(tmp_path, capture_factory,
                                                 query_factory):
    """PostHog lost some events (200, then dropped): ph-verify forgets
    them, and with them every settled member, so the next resumable run
    reads the members again and sends what was lost."""
    cap = capture_factory(["--record-meta", "--faults", "lose:0.3",
                           "--seed", "4"])
    q = query_factory(cap)
    rows = [row(i, "kim", "dev-9", i // 10) for i in range(1, 41)]
    z = make_zip(tmp_path / "z.zip", [(member(h), rows[h * 10:h * 10 + 10])
                                      for h in range(4)])
    cmd = pipeline(tmp_path, [z], cap.url)
    assert sh(cmd).returncode == 0
    assert settled(tmp_path) == 4
    e = env(POSTHOG_PERSONAL_API_KEY=q.KEY)
    p = sh("%s %s | %s -q | %s -q | %s -j %s --project 1 --app-host %s "
           "--settle 0 > %s/missing.ndjson" % (
               prog("amp-unpack"), z, prog("amp-convert"), prog("ph-alias"),
               prog("ph-verify"), tmp_path / "j.db", q.url, tmp_path), e=e)
    assert p.returncode == 1, p.stderr
    assert settled(tmp_path) == 0
    cap.faults("")
    p = sh(cmd)
    assert p.returncode == 0, p.stderr
    assert b"skipped" not in p.stderr
    assert set(e["uuid"] for e in cap.events()) == set(one_run([z]))


def test_report_ignores_markers_and_refuses_a_resumed_stream(tmp_path,
                                                            capture):
    m0 = [row(1, "joe", "dev-10", 0)]
    ab = make_zip(tmp_path / "ab.zip", [(member(0), m0), (member(1), m0)])
    j = tmp_path / "j.db"
    assert sh(pipeline(tmp_path, [ab], capture.url)).returncode == 0
    plain = sh("%s %s | %s -j %s --json" % (
        prog("amp-unpack"), ab, prog("ph-report"), j))
    # the first run wrote markers and settled both members
    marked = sh("%s -j %s.none %s | %s -j %s --json" % (
        prog("amp-unpack"), j, ab, prog("ph-report"), j))
    assert plain.returncode == marked.returncode == 0, marked.stderr
    assert json.loads(plain.stdout) == json.loads(marked.stdout)
    p = sh("%s -j %s %s | %s -j %s" % (prog("amp-unpack"), j, ab,
                                       prog("ph-report"), j))
    assert p.returncode == 65
    assert b"the report must read every row: run amp-unpack without -j" in \
        p.stderr


def test_shared_device_none_holds_markers_back(tmp_path):
    """--shared-device none writes its identity events after all input:
    the markers wait for them, so no member settles before they go."""
    m0 = [row(1, "lea", "dev-11", 0)]
    m1 = [row(2, "lea", "dev-11", 1), row(3, "max", "dev-12", 1)]
    ab = make_zip(tmp_path / "ab.zip", [(member(0), m0), (member(1), m1)])
    p = sh("%s -j %s %s | %s -q | %s -q --shared-device none" % (
        prog("amp-unpack"), tmp_path / "j.db", ab, prog("amp-convert"),
        prog("ph-alias")))
    assert p.returncode == 0, p.stderr
    kinds = [b"marker" if l.startswith(b'{"$amp2ph_member"') else
             json.loads(l)["event"].encode() for l in p.stdout.splitlines()]
    assert kinds == [b"Search", b"Search", b"Search", b"$identify",
                     b"$identify", b"marker", b"marker"], kinds


def test_a_member_exported_twice_resumes_from_its_own_place(tmp_path,
                                                           capture):
    """Overlapping windows: hour 1 is in both archives, settled once.  A
    state saved after its first place is not the state after its second,
    so the re-run starts where a state was saved, not where the key is."""
    h = [[row(10 * k + i, "nia", "dev-13", k) for i in range(1, 3)]
         for k in range(3)]
    a = make_zip(tmp_path / "a.zip", [(member(0), h[0]), (member(1), h[1])])
    b = make_zip(tmp_path / "b.zip", [(member(1), h[1]), (member(2), h[2])])
    assert sh(pipeline(tmp_path, [a], capture.url)).returncode == 0
    p = sh(pipeline(tmp_path, [a, b], capture.url))
    assert p.returncode == 0, p.stderr
    assert b"amp-unpack: 2 archive members" in p.stderr, p.stderr
    got = {e["uuid"]: e for e in capture.events()}
    assert got == one_run([a, b])


def test_unpack_journal_path_checks(tmp_path):
    """amp-unpack -j shares ph-alias's checks of the path (journal.c)."""
    z = make_zip(tmp_path / "z.zip", [(member(0), [row(1, "o", "d", 0)])])
    p = sh("%s -j %s %s" % (prog("amp-unpack"), tmp_path, z))
    assert p.returncode == 1
    assert b"is a directory: give -j the journal's file" in p.stderr
    p = sh("%s -j %s/no/j.db %s" % (prog("amp-unpack"), tmp_path, z))
    assert p.returncode == 1
    assert b"no such directory: create it" in p.stderr
    # none yet: a first run, every member marked
    p = sh("%s -j %s/j.db %s" % (prog("amp-unpack"), tmp_path, z))
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1].startswith(b'{"$amp2ph_member"')
    assert not (tmp_path / "j.db").exists()
