"""ph-alias: the real binary on PostHog event lines.

Inputs are built here line by line (compact JSON, as amp-convert writes),
and the identity events expected are built here too, uuid included, so
the tests pin the exact bytes ph-alias promises: key order, the v5 name,
placement just before a pair's first event.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import uuid

import pytest

from conftest import BUILD, TOOLS, check_sanitizers, prog, run, sample_lines

P = "ph-alias"
NS = uuid.UUID("8c3e53a1-3f4b-4b9e-9a52-6d0f6c1e2a77")   # AMP2PH_UUID_NS
SAN = os.path.basename(BUILD.rstrip("/")) == "san"


# ---------------------------------------------------------------- data

def js(v):
    """JSON text as jsonw writes it: only what RFC 8259 requires escaped."""
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def ev(name, did, dev=None, ts="2024-01-01T00:00:00.000000Z", n=[0],
       **props):
    """One event line (bytes, no newline), amp-convert's key order."""
    n[0] += 1
    p = dict(props)
    if dev is not None:
        p["$device_id"] = dev
    p["$set"] = {}
    p["$set_once"] = {}
    e = {"event": name, "distinct_id": did}
    if ts is not None:
        e["timestamp"] = ts
    e["uuid"] = str(uuid.UUID(int=n[0]))
    e["properties"] = p
    return js(e).encode()


def T(i):
    """An ISO 8601 timestamp, i seconds into 2024."""
    return "2024-01-01T00:00:%02dZ" % i


def nd(lines):
    return b"".join(l + b"\n" for l in lines)


def version():
    out = run([P, "--version"]).stdout.decode().split()
    return out[-1]


def pair_uuid(dev, user, mode="identify"):
    """The v5 uuid ph-alias gives a pair's identity event."""
    d, u = dev.encode(), user.encode()
    kind = b"$create_alias" if mode == "alias" else b"$identify"
    name = b"ph-alias\x1f" + kind + b"\x1f" + b"%d:" % len(d) + d + u
    h = hashlib.sha1(NS.bytes + name).digest()
    return str(uuid.UUID(bytes=h[:16], version=5))


def identity(dev, user, ts="2024-01-01T00:00:00.000000Z", mode="identify"):
    """The exact identity line (no newline) for a pair."""
    u = pair_uuid(dev, user, mode)
    tail = ('"$lib":"amp2ph","$lib_version":%s,"$geoip_disable":true}}'
            % js(version()))
    t = ',"timestamp":%s' % js(ts) if ts is not None else ""
    if mode == "alias":
        s = ('{"event":"$create_alias","distinct_id":%s%s,"uuid":"%s",'
             '"properties":{"distinct_id":%s,"alias":%s,' %
             (js(dev), t, u, js(dev), js(user))) + tail
    else:
        s = ('{"event":"$identify","distinct_id":%s%s,"uuid":"%s",'
             '"properties":{"$anon_distinct_id":%s,' %
             (js(user), t, u, js(dev))) + tail
    return s.encode()


def alias(args, data, **kw):
    p = run([P] + list(args), input=data, **kw)
    return p


def ok(args, data):
    p = alias(args, data)
    assert p.returncode == 0, p.stderr.decode()
    return p


def summary(p):
    """The counts of the stderr summary line."""
    line = [l for l in p.stderr.decode().splitlines()
            if l.startswith("ph-alias: ") and " lines: " in l][-1]
    words = line.replace(";", " ").replace(",", " ").replace(":", " ")
    words = words.split()
    def before(*w):
        for i in range(len(words) - len(w)):
            if tuple(words[i + 1:i + 1 + len(w)]) == w:
                return int(words[i])
        raise KeyError(w)
    return {
        "lines": before("lines"),
        "events": before("events"),
        "notevents": before("not", "events"),
        "pairs": before("pairs"),
        "written": before("identity", "events", "written"),
        "journal": before("already", "delivered"),
        "shared": before("shared", "device"),
        "unmergeable": before("unmergeable", "id"),
        "given": before("already", "in", "input"),
        "devices": int(line.rsplit("shared devices:", 1)[1]),
    }


def without(out, inserted):
    """Output lines with the inserted identity lines taken out once each."""
    lines = out.split(b"\n")
    for l in inserted:
        lines.remove(l)
    return b"\n".join(lines)


def journal_add(path, uuids):
    db = sqlite3.connect(str(path))
    db.executemany("INSERT OR IGNORE INTO delivered (uuid) VALUES (?)",
                   [(uuid.UUID(u).bytes,) for u in uuids])
    db.commit()
    db.close()


def identities(out):
    """(event, distinct_id, properties) of the identity events in out."""
    r = []
    for l in out.splitlines():
        e = json.loads(l)
        if e["event"] in ("$identify", "$create_alias") and \
                e["properties"].get("$lib") == "amp2ph":
            r.append(e)
    return r


# ---------------------------------------------------------------- shape

def test_identify_exact_bytes_and_placement():
    a = ev("$pageview", "dev1", dev="dev1", ts="2024-01-01T00:00:01Z")
    b = ev("login", "alice", dev="dev1", ts="2024-01-01T00:00:02.5Z")
    c = ev("click", "alice", dev="dev1", ts="2024-01-01T00:00:03Z")
    p = ok([], nd([a, b, c]))
    assert p.stdout == nd([a, identity("dev1", "alice",
                                       "2024-01-01T00:00:02.5Z"), b, c])
    s = summary(p)
    assert (s["lines"], s["events"], s["pairs"], s["written"]) == \
        (3, 3, 1, 1)


def test_alias_mode_exact_bytes():
    b = ev("login", "alice", dev="dev1", ts="2024-03-04T05:06:07Z")
    p = ok(["--mode", "alias"], nd([b]))
    line = identity("dev1", "alice", "2024-03-04T05:06:07Z", mode="alias")
    assert p.stdout == nd([line, b])
    e = json.loads(line)
    # posthog-python's alias(previous_id=device, distinct_id=user)
    assert list(e) == ["event", "distinct_id", "timestamp", "uuid",
                       "properties"]
    assert e["distinct_id"] == e["properties"]["distinct_id"] == "dev1"
    assert e["properties"]["alias"] == "alice"
    assert pair_uuid("dev1", "alice", "alias") != pair_uuid("dev1", "alice")


def test_identify_keys_and_types():
    p = ok([], nd([ev("x", "u", dev="d")]))
    e = json.loads(p.stdout.splitlines()[0])
    assert list(e) == ["event", "distinct_id", "timestamp", "uuid",
                       "properties"]
    assert list(e["properties"]) == ["$anon_distinct_id", "$lib",
                                     "$lib_version", "$geoip_disable"]
    assert e["properties"]["$geoip_disable"] is True
    assert e["properties"]["$lib_version"] == version()
    assert uuid.UUID(e["uuid"]).version == 5


def test_timestamp_copied_verbatim_or_left_out():
    ts = "2023-12-31 23:59:59.123456"          # zone-less, as it was
    a = ev("x", "u1", dev="d1", ts=ts)
    b = ev("x", "u2", dev="d2", ts=None)
    num = (b'{"event":"x","distinct_id":"u3","timestamp":1704067200000,'
           b'"properties":{"$device_id":"d3"}}')
    p = ok([], nd([a, b, num]))
    out = p.stdout.splitlines()
    assert out[0] == identity("d1", "u1", ts)
    assert out[2] == identity("d2", "u2", None)
    assert json.loads(out[4])["timestamp"] == 1704067200000
    assert b'"timestamp":1704067200000,' in out[4]


def test_unicode_and_escaped_ids():
    dev = 'dév "1"\\\n\u2028😀'
    user = "ünïcode\tuser"
    line = ev("x", user, dev=dev)
    p = ok([], nd([line]))
    assert p.stdout == nd([identity(dev, user), line])
    e = json.loads(p.stdout.splitlines()[0])
    assert e["properties"]["$anon_distinct_id"] == dev
    assert e["distinct_id"] == user


def test_uuid_name_is_unambiguous():
    # ("ab", "c") and ("a", "bc") concatenate alike: the uuids must differ.
    lines = [ev("x", "c", dev="ab"), ev("x", "bc", dev="a")]
    p = ok([], nd(lines))
    ids = identities(p.stdout)
    assert len(ids) == 2
    assert ids[0]["uuid"] != ids[1]["uuid"]
    assert ids[0]["uuid"] == pair_uuid("ab", "c")
    assert ids[1]["uuid"] == pair_uuid("a", "bc")


def test_numeric_distinct_id_counts_as_text():
    line = (b'{"event":"x","distinct_id":1099511627776,"timestamp":"t",'
            b'"properties":{"$device_id":"d"}}')
    same = (b'{"event":"x","distinct_id":"1099511627776","timestamp":"t",'
            b'"properties":{"$device_id":"d"}}')
    p = ok([], nd([line, same]))
    assert p.stdout == nd([identity("d", "1099511627776", "t"), line, same])
    # A numeric distinct_id equal to the device id's text is no pair.
    p = ok([], nd([b'{"event":"x","distinct_id":42,'
                   b'"properties":{"$device_id":"42"}}']))
    assert identities(p.stdout) == []


def test_no_pair_cases():
    lines = [
        ev("x", "same", dev="same"),               # anonymous event
        ev("x", "u1"),                             # no device
        ev("x", "u2", dev=""),                     # empty device
        ev("x", "u3", dev=123),                    # not a string
        ev("x", "u4", dev=None, other="d"),
        b'{"event":"x","distinct_id":"u5","properties":"d"}',
        b'{"event":"x","distinct_id":"u6"}',
        ev("$groupidentify", "$company_acme", dev="d7"),
    ]
    p = ok([], nd(lines))
    assert p.stdout == nd(lines)
    s = summary(p)
    assert s["pairs"] == 0 and s["written"] == 0
    assert s["events"] == len(lines)


# ---------------------------------------------------------------- pairs

def test_multi_device_user_gets_one_identify_per_device():
    lines = [
        ev("a", "alice", dev="phone", ts=T(1)),
        ev("b", "alice", dev="phone", ts=T(2)),
        ev("c", "alice", dev="laptop", ts=T(3)),
        ev("d", "alice", dev="phone", ts=T(4)),
        ev("e", "alice", dev="tablet", ts=T(5)),
        ev("f", "alice", dev="laptop", ts=T(6)),
    ]
    p = ok([], nd(lines))
    assert p.stdout == nd([
        identity("phone", "alice", T(1)), lines[0], lines[1],
        identity("laptop", "alice", T(3)), lines[2], lines[3],
        identity("tablet", "alice", T(5)), lines[4], lines[5]])
    s = summary(p)
    assert (s["pairs"], s["written"], s["shared"], s["devices"]) == \
        (3, 3, 0, 0)


def test_once_per_pair_among_many_interleaved():
    lines = []
    for i in range(300):
        for u in range(20):
            lines.append(ev("x", "user%d" % u, dev="dev%d" % u,
                            ts="t%d" % i))
    p = ok([], nd(lines))
    ids = identities(p.stdout)
    assert len(ids) == 20
    assert [i["distinct_id"] for i in ids] == ["user%d" % u
                                               for u in range(20)]
    assert all(i["timestamp"] == "t0" for i in ids)
    assert without(p.stdout, [l.encode() for l in
                              map(js, ids)]) == nd(lines)


SHARED = [
    ev("a", "kiosk", dev="kiosk", ts=T(0)),        # anonymous
    ev("b", "alice", dev="kiosk", ts=T(1)),
    ev("c", "alice", dev="aphone", ts=T(2)),
    ev("d", "bob", dev="kiosk", ts=T(3)),
    ev("e", "carol", dev="kiosk", ts=T(4)),
    ev("f", "bob", dev="bphone", ts=T(5)),
    ev("g", "alice", dev="kiosk", ts=T(6)),
    ev("h", "bob", dev="kiosk", ts=T(7)),
]


def test_shared_device_first_is_default():
    want = nd([SHARED[0], identity("kiosk", "alice", T(1)), SHARED[1],
               identity("aphone", "alice", T(2)), SHARED[2], SHARED[3],
               SHARED[4], identity("bphone", "bob", T(5)), SHARED[5],
               SHARED[6], SHARED[7]])
    p = ok([], nd(SHARED))
    assert p.stdout == want
    assert ok(["--shared-device", "first"], nd(SHARED)).stdout == want
    s = summary(p)
    assert (s["pairs"], s["written"], s["shared"], s["devices"]) == \
        (5, 3, 2, 1)


def test_shared_device_all():
    p = ok(["--shared-device", "all"], nd(SHARED))
    assert p.stdout == nd([
        SHARED[0], identity("kiosk", "alice", T(1)), SHARED[1],
        identity("aphone", "alice", T(2)), SHARED[2],
        identity("kiosk", "bob", T(3)), SHARED[3],
        identity("kiosk", "carol", T(4)), SHARED[4],
        identity("bphone", "bob", T(5)), SHARED[5], SHARED[6], SHARED[7]])
    s = summary(p)
    assert (s["pairs"], s["written"], s["shared"], s["devices"]) == \
        (5, 5, 0, 1)


def test_shared_device_none_holds_back_to_the_end():
    p = ok(["--shared-device", "none"], nd(SHARED))
    # Events are not delayed; the identity events of devices that stayed
    # with one user follow them, in first-seen order, each with its
    # pair's first timestamp.  The kiosk gets none at all.
    assert p.stdout == nd(SHARED + [identity("aphone", "alice", T(2)),
                                    identity("bphone", "bob", T(5))])
    s = summary(p)
    assert (s["pairs"], s["written"], s["shared"], s["devices"]) == \
        (5, 2, 3, 1)


def test_shared_device_none_last_line_without_newline():
    data = nd(SHARED[:3])[:-1]
    p = ok(["--shared-device", "none"], data)
    assert p.stdout == nd(SHARED[:3] + [identity("kiosk", "alice", T(1)),
                                        identity("aphone", "alice", T(2))])


def test_shared_device_none_unreadable_input_writes_no_held_events(
        tmp_path):
    f = tmp_path / "a.ndjson"
    f.write_bytes(nd(SHARED[:3]))
    p = alias(["--shared-device", "none", f, tmp_path / "missing"], b"")
    assert p.returncode == 1
    assert p.stdout == nd(SHARED[:3])
    assert b"missing" in p.stderr and b"not written" in p.stderr


def test_unmergeable_ids_never_used():
    bad = ["anonymous", "GUEST", "distinctId", "distinct_id", "ID",
           "not_authenticated", "Email", "undefined", "TRUE", "false",
           "[object Object]", "NaN", "None", "none", "null", "0", " ",
           "\t"]
    lines = []
    for i, b in enumerate(bad):
        lines.append(ev("x", "user%d" % i, dev=b))        # bad device
        lines.append(ev("x", b, dev="dev%d" % i))         # bad user
    lines.append(ev("x", "good", dev="gooddev"))
    p = ok([], nd(lines))
    assert p.stdout == nd(lines[:-1] + [identity("gooddev", "good"),
                                        lines[-1]])
    s = summary(p)
    assert s["unmergeable"] == 2 * len(bad)
    assert s["written"] == 1
    # Case matters for these: "Null" and "nan" are ordinary ids.
    p = ok([], nd([ev("x", "Null", dev="nan")]))
    assert identities(p.stdout)[0]["distinct_id"] == "Null"


def test_unmergeable_user_does_not_make_a_device_shared():
    lines = [ev("x", "anonymous", dev="d"), ev("x", "alice", dev="d")]
    p = ok(["--shared-device", "none"], nd(lines))
    assert p.stdout == nd(lines + [identity("d", "alice")])
    assert summary(p)["devices"] == 0


def test_identity_events_in_input_count():
    given = ev("$identify", "alice", ts=T(0), **{"$anon_distinct_id": "d1"})
    given_alias = (b'{"event":"$create_alias","distinct_id":"d2",'
                   b'"timestamp":"2024-01-01T00:00:00Z","properties":'
                   b'{"distinct_id":"d2","alias":"bob"}}')
    lines = [given, given_alias, ev("x", "alice", dev="d1"),
             ev("x", "bob", dev="d2"), ev("x", "carl", dev="d3")]
    p = ok([], nd(lines))
    assert p.stdout == nd(lines[:4] + [identity("d3", "carl"), lines[4]])
    assert summary(p)["given"] == 2


def test_idempotent_on_its_own_output():
    lines = SHARED + [ev("x", "zed", dev="zdev")]
    for mode in ("identify", "alias"):
        once = ok(["--mode", mode], nd(lines)).stdout
        p = ok(["--mode", mode], once)
        assert p.stdout == once
        assert summary(p)["written"] == 0


# ---------------------------------------------------------------- passthrough

ODD = [
    b'  {"event":"x" ,  "distinct_id" : "u1","properties":{"$device_id":'
    b'"d1"}}   ',
    b'\t{"distinct_id":"u2","event":"y","properties":{"$device_id":"d2",'
    b'"n":1.50e+3,"big":123456789012345678901234567890}}\r',
    b'{"event":"caf\xc3\xa9 \\u00e9 \\"q\\" \\\\ \\n \xf0\x9f\x98\x80",'
    b'"distinct_id":"u3","properties":{"$device_id":"\\u0064\\u0033"}}',
    b'',
    b'   ',
    b'\r',
    b'not json at all',
    b'{"event":"x","distinct_id":"u4"',
    b'[{"distinct_id":"u5"}]',
    b'"a string"',
    b'{"event":"x","properties":{"$device_id":"d6"}}',
    b'{"event":"x","distinct_id":null,"properties":{"$device_id":"d7"}}',
    b'{"event":"x","distinct_id":"","properties":{"$device_id":"d8"}}',
    b'{"event":"x","distinct_id":{"a":1},"properties":{"$device_id":"d9"}}',
    b'{"event":"\xff\xfe bad utf-8","distinct_id":"u10"}',
    b'{"event":"x","distinct_id":"dup","distinct_id":"u11",'
    b'"properties":{"$device_id":"d11"}}',
    b'{} {}',
]


def test_passthrough_byte_identical():
    data = nd(ODD)
    p = ok([], data)
    inserted = [identity("d1", "u1", None), identity("d2", "u2", None),
                identity("d3", "u3", None), identity("d11", "u11", None)]
    assert without(p.stdout, inserted) == data
    out = p.stdout.split(b"\n")
    for line in inserted:
        i = out.index(line)
        assert json.loads(out[i + 1])["distinct_id"] == \
            json.loads(line)["distinct_id"]
    s = summary(p)
    assert s["lines"] == len(ODD)
    assert s["events"] == 4
    assert s["notevents"] == len(ODD) - 4
    # Named on stderr, but the blank lines are not.
    assert p.stderr.count(b"passed on") == len(ODD) - 4 - 3 + 1


def test_passthrough_without_pairs_is_cat(tmp_path):
    data = nd(ODD[3:15] + ODD[16:]) + nd([ev("x", "u", dev="u"),
                                           ev("y", "v")])
    assert ok([], data).stdout == data
    assert ok(["-q"], data).stderr == b""
    f = tmp_path / "f.ndjson"
    f.write_bytes(data)
    assert ok([f], b"").stdout == data
    assert ok(["-"], data).stdout == data


def test_not_event_warnings_are_limited():
    p = ok([], b"bad\n" * 50)
    assert p.stdout == b"bad\n" * 50
    assert p.stderr.count(b"passed on") <= 11
    assert summary(p)["notevents"] == 50


def test_last_line_without_newline(tmp_path):
    a = ev("x", "u1", dev="d1")
    b = ev("x", "u2", dev="d2")
    p = ok([], a)
    assert p.stdout == identity("d1", "u1") + b"\n" + a
    # Between files the missing newline is supplied, else two objects
    # would share a line.
    f1, f2 = tmp_path / "1", tmp_path / "2"
    f1.write_bytes(a)
    f2.write_bytes(b)
    p = ok([f1, f2], b"")
    assert p.stdout == nd([identity("d1", "u1"), a, identity("d2", "u2")]) + b
    # A long line (bigger than any read block) is never cut or dropped.
    big = ev("x", "u3", dev="d3", blob="y" * (3 << 20))
    p = ok([], nd([big, big]))
    assert p.stdout == nd([identity("d3", "u3"), big, big])


def test_determinism_and_files_equal_stdin(tmp_path):
    lines = []
    for i in range(2000):
        lines.append(ev("e%d" % (i % 7), "user%d" % (i % 97),
                        dev="dev%d" % (i % 131), ts="t%05d" % i))
    data = nd(lines)
    f = tmp_path / "in.ndjson"
    f.write_bytes(data)
    for args in ([], ["--mode", "alias"], ["--shared-device", "all"],
                 ["--shared-device", "none"]):
        a = ok(args, data).stdout
        b = ok(args, data).stdout
        c = ok(args + [f], b"").stdout
        assert a == b == c


# ---------------------------------------------------------------- journal

def journal_lines():
    return [ev("a", "alice", dev="d1", ts=T(1)),
            ev("b", "bob", dev="d2", ts=T(2)),
            ev("c", "alice", dev="d3", ts=T(3)),
            ev("d", "carol", dev="d4", ts=T(4))]


def test_journal_created_and_read_only(tmp_path):
    j = tmp_path / "m.journal"
    lines = journal_lines()
    p = ok(["-j", j], nd(lines))
    assert j.exists()
    assert len(identities(p.stdout)) == 4
    db = sqlite3.connect(str(j))
    assert db.execute("SELECT count(*) FROM delivered").fetchone() == (0,)
    db.close()


def test_journal_skips_delivered_reemits_undelivered(tmp_path):
    j = tmp_path / "m.journal"
    lines = journal_lines()
    first = ok(["-j", j], nd(lines)).stdout
    ids = identities(first)
    # ph-batch delivered the first two identity events, then the run
    # crashed: the other two were written but never delivered.
    journal_add(j, [ids[0]["uuid"], ids[1]["uuid"]])
    # The output does not depend on the journal: delivered identity
    # events are written too (ph-batch skips them by uuid; ph-verify
    # after it must see every event the migration sent).
    p = ok(["-j", j], nd(lines))
    assert p.stdout == first
    s = summary(p)
    assert (s["pairs"], s["written"], s["journal"]) == (4, 4, 2)
    journal_add(j, [i["uuid"] for i in ids])
    p = ok(["-j", j], nd(lines))
    assert p.stdout == first
    assert summary(p)["journal"] == 4
    # The journal holds identify uuids: alias mode's are other events.
    p = ok(["-j", j, "--mode", "alias"], nd(lines))
    assert len(identities(p.stdout)) == 4


def test_journal_delivered_pair_still_claims_its_device(tmp_path):
    j = tmp_path / "m.journal"
    lines = [ev("a", "alice", dev="kiosk"), ev("b", "bob", dev="kiosk")]
    ok(["-j", j], b"")
    journal_add(j, [pair_uuid("kiosk", "alice")])
    p = ok(["-j", j], nd(lines))
    # alice's (delivered) pair is written again; bob, a later user of
    # the device alice claimed, gets none
    assert [i["uuid"] for i in identities(p.stdout)] == \
        [pair_uuid("kiosk", "alice")]
    assert [l for l in p.stdout.splitlines() if b'"$identify"' not in l] \
        == lines
    s = summary(p)
    assert (s["journal"], s["shared"], s["written"]) == (1, 1, 1)


def test_journal_with_shared_device_none(tmp_path):
    j = tmp_path / "m.journal"
    ok(["-j", j], b"")
    journal_add(j, [pair_uuid("aphone", "alice")])
    p = ok(["-j", j, "--shared-device", "none"], nd(SHARED))
    assert p.stdout == ok(["--shared-device", "none"], nd(SHARED)).stdout
    assert summary(p)["journal"] == 1


def test_journal_cannot_be_opened(tmp_path):
    j = tmp_path / "no" / "such" / "dir" / "j"
    p = alias(["-j", j], nd(SHARED))
    assert p.returncode == 1
    # What is wrong and what to do, and nothing written.
    assert p.stderr == (b"ph-alias: journal %s: no such directory: create "
                        b"it, or give -j a path in an existing one\n"
                        % str(j).encode())
    assert p.stdout == b""
    assert not j.parent.exists()
    p = alias(["-j", tmp_path], nd(SHARED))        # a directory
    assert p.returncode == 1
    assert b"is a directory" in p.stderr
    bad = tmp_path / "not.journal"
    bad.write_bytes(b"not a database\n" * 100)
    p = alias(["-j", bad], nd(SHARED))
    assert p.returncode == 1
    assert b"journal %s: " % str(bad).encode() in p.stderr
    assert bad.read_bytes() == b"not a database\n" * 100


def ro_run(d, args, data):
    """ph-alias with directory d mounted read-only (a private mount
    namespace: needs root or user namespaces), or None."""
    if not shutil.which("unshare"):
        return None
    argv = [prog(P)] + [str(a) for a in args]
    script = ('mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && '
              'touch "$1/.w" 2>/dev/null && exit 99; shift; exec "$@"')
    p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(d)] +
                       argv, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if p.returncode == 99 or (p.returncode != 0 and (
            b"unshare" in p.stderr or b"mount" in p.stderr)):
        return None
    check_sanitizers(p.stderr)
    return p


def test_journal_on_read_only_media(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    j = d / "m.journal"
    lines = journal_lines()
    first = ok(["-j", j], nd(lines)).stdout
    ids = identities(first)
    journal_add(j, [ids[0]["uuid"], ids[2]["uuid"]])
    # A cleanly closed WAL journal: no -wal, no -shm beside it.
    assert sorted(os.listdir(d)) == ["m.journal"]
    before = j.read_bytes()
    p = ro_run(d, ["-j", j], nd(lines))
    if p is None:
        pytest.skip("cannot mount a read-only directory here")
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout == first
    assert summary(p)["journal"] == 2
    assert j.read_bytes() == before
    # Missing there: it cannot be created, and ph-alias says so.
    p = ro_run(d, ["-j", d / "other.journal"], nd(lines))
    assert p.returncode == 1
    assert b"journal %s" % str(d / "other.journal").encode() in p.stderr


def test_existing_journal_is_only_read(tmp_path):
    # A journal of schema 1 (no acknowledgement times): a read-write open
    # would upgrade it; ph-alias only reads it, and ph-batch upgrades it.
    j = tmp_path / "m.journal"
    ok(["-j", j], b"")
    db = sqlite3.connect(str(j))
    db.executescript("DROP TABLE delivered; CREATE TABLE delivered "
                     "(uuid BLOB PRIMARY KEY) WITHOUT ROWID;"
                     "UPDATE meta SET value = '1' WHERE key = 'schema';")
    db.close()
    journal_add(j, [pair_uuid("d1", "alice")])
    p = ok(["-j", j], nd(journal_lines()))
    assert summary(p)["journal"] == 1
    db = sqlite3.connect(str(j))
    cols = [r[1] for r in db.execute("PRAGMA table_info(delivered)")]
    db.close()
    assert cols == ["uuid"]


def test_over_long_line_is_refused(tmp_path):
    # Lines are capped at 16 MiB, as ph-batch's: a longer one cannot be
    # passed on without holding it, so it is told and the exit is 65.
    cap = 16 << 20
    a = ev("a", "u1", dev="d1")
    head = b'{"event":"big","distinct_id":"u2","properties":{"x":"'
    tail = b'"}}'
    at_cap = head + b"y" * (cap - len(head) - len(tail)) + tail
    over = head + b"y" * (cap + 1 - len(head) - len(tail)) + tail
    b = ev("b", "u3", dev="d3")
    f = tmp_path / "in.ndjson"
    f.write_bytes(nd([a, at_cap, over, b]))
    p = alias(["-q", f], b"")
    assert p.returncode == 65, p.stderr.decode()[-2000:]
    assert p.stdout == nd([identity("d1", "u1"), a, at_cap,
                           identity("d3", "u3"), b])
    assert p.stderr == (b"ph-alias: %s:3: line of %d bytes is longer than "
                        b"16 MiB: not written\n"
                        b"ph-alias: 1 over-long lines not written\n"
                        % (str(f).encode(), len(over)))
    # A last line without its newline, over the cap.
    p = alias([], nd([a]) + over)
    assert p.returncode == 65
    assert p.stdout == nd([identity("d1", "u1"), a])


@pytest.mark.skipif(SAN or not os.path.exists("/usr/bin/time"),
                    reason="peak memory: plain build, GNU time")
def test_memory_does_not_follow_the_longest_line(tmp_path):
    # A 256 MiB line once took twice that; now memory stays near the cap.
    f = tmp_path / "huge.ndjson"
    with open(f, "wb") as o:
        o.write(ev("a", "u1", dev="d1") + b"\n")
        o.write(b'{"event":"x","distinct_id":"u","properties":{"x":"')
        blk = b"z" * (1 << 20)
        for _ in range(256):
            o.write(blk)
        o.write(b'"}}\n')
    rss = tmp_path / "rss"
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss),
                        prog(P), "-q", str(f)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 65, p.stderr.decode()
    kb = int(rss.read_text().split()[-1])
    assert kb < 80 * 1024, "peak RSS %d KiB" % kb


def test_end_to_end_with_ph_batch(tmp_path, capture):
    if not os.path.exists(prog("ph-batch")):
        pytest.skip("ph-batch is not built")
    j = tmp_path / "m.journal"
    lines = journal_lines() + SHARED
    env = {"POSTHOG_API_KEY": "phc_test"}
    out = ok(["-j", j], nd(lines)).stdout
    b = run(["ph-batch", "-q", "-j", j, "--host", capture.url],
            input=out, env=env)
    assert b.returncode == 0, b.stderr.decode()
    assert len(identities(out)) == 7
    # Every identity event is now recorded as delivered: written again,
    # and ph-batch sends none of them.
    p = ok(["-j", j], nd(lines))
    assert p.stdout == out
    assert summary(p)["journal"] == 7
    n = len(capture.events())
    b = run(["ph-batch", "-q", "-j", j, "--host", capture.url],
            input=p.stdout, env=env)
    assert b.returncode == 0, b.stderr.decode()
    assert len(capture.events()) == n


# ---------------------------------------------------------------- cli

def test_usage_and_version():
    for args in (["--mode", "merge"], ["--shared-device", "some"],
                 ["--bogus"], ["-x"], ["-j"]):
        p = alias(args, b"")
        assert p.returncode == 2, args
        assert b"usage: ph-alias" in p.stderr
    p = alias(["--version"], b"")
    assert p.returncode == 0
    assert p.stdout.startswith(b"ph-alias (amp2ph) ")


def test_usage_matches_man_page_synopsis():
    man = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "man", "ph-alias.1")
    text = open(man).read()
    for flag in ("Fl q", "Fl j Ar journal", "Fl \\-mode Cm identify | alias",
                 "Fl \\-shared-device Cm first | all | none"):
        assert flag in text
    u = alias(["-h"], b"").stdout.decode()
    for part in ("[-q]", "[-j journal]", "[--mode identify | alias]",
                 "[--shared-device first | all | none]", "[file ...]"):
        assert part in u


def test_missing_input_file_is_runtime_error(tmp_path):
    f = tmp_path / "a"
    f.write_bytes(nd(SHARED[:2]))
    p = alias([tmp_path / "nope", f], b"")
    assert p.returncode == 1
    assert p.stdout == nd([SHARED[0], identity("kiosk", "alice", T(1)),
                           SHARED[1]])


def test_write_error_is_failure():
    # A pipe nobody reads, with SIGPIPE ignored: every write fails (EPIPE).
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([prog(P)], input=nd(SHARED), stdout=w,
                           stderr=subprocess.PIPE, restore_signals=False)
    finally:
        os.close(w)
    check_sanitizers(p.stderr)
    assert p.returncode == 1
    assert b"stdout" in p.stderr


# ---------------------------------------------------------------- real data

def mergeable(s):
    """common/distinct.c's rule."""
    if not s.strip():
        return False
    if s.lower() in ("anonymous", "guest", "distinctid", "distinct_id", "id",
                     "not_authenticated", "email", "undefined", "true",
                     "false"):
        return False
    return s not in ("[object Object]", "NaN", "None", "none", "null", "0")


def test_on_amp_convert_output():
    amp = subprocess.run(
        [os.path.join(TOOLS, "amp-sample"), "-n", "3000", "-s", "7",
         "--ndjson"], check=True, stdout=subprocess.PIPE).stdout
    ph = run(["amp-convert", "-q"], input=amp)
    assert ph.returncode == 0, ph.stderr.decode()
    events = [json.loads(l) for l in ph.stdout.splitlines()]
    seen, devs, want = set(), {}, []
    for e in events:
        d, u = e["properties"].get("$device_id"), e["distinct_id"]
        if e["event"] == "$groupidentify" or not isinstance(d, str) or \
                not d or str(u) == d:
            continue
        if (d, str(u)) in seen:
            continue
        seen.add((d, str(u)))
        if not mergeable(d) or not mergeable(str(u)) or d in devs:
            continue
        devs[d] = str(u)
        want.append((d, str(u), e["timestamp"]))
    p = ok([], ph.stdout)
    got = identities(p.stdout)
    assert [(g["properties"]["$anon_distinct_id"], g["distinct_id"],
             g["timestamp"]) for g in got] == want
    assert without(p.stdout, [js(g).encode() for g in got]) == ph.stdout
    s = summary(p)
    assert s["pairs"] == len(seen) and s["written"] == len(want)


# ---------------------------------------------------------------- memory

@pytest.mark.skipif(not os.access("/usr/bin/time", os.X_OK),
                    reason="needs /usr/bin/time")
def test_million_pairs_memory(tmp_path):
    """1M distinct pairs, each of its own device: the worst case.  Under
    ASan (shadow memory, slow) 100k pairs and no memory bound."""
    n = 100000 if SAN else 1000000
    f = tmp_path / "pairs.ndjson"
    with open(f, "wb") as out:
        for k in range(0, n, 100000):
            out.write(b"".join(
                b'{"distinct_id":"user-%d","properties":{"$device_id":'
                b'"device-%d"}}\n' % (i, i) for i in range(k, k + 100000)))
    # /usr/bin/time measures ph-alias alone: a child's ru_maxrss starts
    # from its parent's at fork, and pytest's own is large.
    rss = tmp_path / "rss"
    err = tmp_path / "err"
    with open(f, "rb") as stdin, open(err, "wb") as stderr:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss),
                            prog(P), "--shared-device", "first"],
                           stdin=stdin, stdout=subprocess.DEVNULL,
                           stderr=stderr)
    e = err.read_bytes()
    check_sanitizers(e)
    assert p.returncode == 0, e.decode()
    assert b"%d pairs: %d identity events written" % (n, n) in e
    rss_mb = int(rss.read_text().split()[-1]) / 1024
    if not SAN:
        assert rss_mb < 120, "peak RSS %.1f MB for 1M pairs" % rss_mb


def test_amplitude_rows_are_one_message(tmp_path):
    """Amplitude export rows into ph-alias: amp-convert was skipped, told
    once, exit 65, nothing written."""
    rows = sample_lines(5)
    p = alias([], rows)
    assert p.returncode == 65, p.stderr
    assert b"amp-convert was skipped" in p.stderr
    assert len(p.stderr.splitlines()) == 1 and p.stdout == b""
