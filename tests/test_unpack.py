"""amp-unpack: the real binary on real files.

Archives are built here, good and broken: with Python's zipfile where it
makes the archive a real tool would make, and with build_zip (struct, by
hand) where the test needs zip64 directories, data descriptors, patched
fields or the offsets to cut at.
"""
import gzip
import hashlib
import io
import json
import os
import random
import re
import select
import subprocess
import time
import zipfile
import zlib
import struct

import pytest

from conftest import check_sanitizers, prog, run

P = "amp-unpack"
EXAMPLES = "/work/shared/reference/examples/amplitude-export-lines.ndjson"


# ---------------------------------------------------------------- data

def ev(tag, i):
    """One Amplitude-like event line: unicode, escapes, big ints."""
    return (b'{"$insert_id":"%s-%d","amplitude_id":%d,"app":609539,'
            b'"event_properties":{"name":"caf\xc3\xa9 \\u00e9 \\"q\\" '
            b'\\\\ \\n \xf0\x9f\x98\x80","n":[1,{"a":null}]},'
            b'"event_time":"2024-01-01 05:0%d:00.000000",'
            b'"event_type":"ev %s %d","user_id":null}'
            % (tag.encode(), i, 1099511627776 + i, i % 10, tag.encode(), i))


def evs(tag, n=3):
    return [ev(tag, i) for i in range(n)]


def nd(lines, final=True):
    """Lines joined into NDJSON; final=False leaves off the last newline."""
    if not lines:
        return b""
    return b"\n".join(lines) + (b"\n" if final else b"")


def gz(data):
    return gzip.compress(data, mtime=0)


def mname(hour, part=0, day="2024-01-01", proj="609539"):
    return "%s/%s_%s_%d#%d.json.gz" % (proj, proj, day, hour, part)


def raw_deflate(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def gz_flushed(part1, part2):
    """A gzip stream with a full flush after part1; returns (stream,
    offset of the byte after the flush point)."""
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    a = c.compress(part1) + c.flush(zlib.Z_FULL_FLUSH)
    b = c.compress(part2) + c.flush()
    return a + b, len(a)


def build_zip(members, zip64=False, descriptor=False, comment=b""):
    """A zip written field by field.  members: dicts with name, data (the
    member's bytes) and optional method (0 or 8), comp (bytes stored in
    place of data's), flags, method_field and crc (what the headers
    say).  Returns the
    archive and the offsets of each member's local header, data and end,
    and of the central directory."""
    out, cd, info = bytearray(), bytearray(), []
    for m in members:
        name = m["name"].encode()
        data = m["data"]
        method = m.get("method", 0)
        comp = m.get("comp", data if method == 0 else raw_deflate(data))
        crc = m.get("crc", zlib.crc32(data))
        flags = m.get("flags", 0) | (8 if descriptor else 0)
        mf = m.get("method_field", method)
        ver = 45 if zip64 else 20
        off = len(out)
        if zip64:
            lx = struct.pack("<HHQQ", 1, 16, 0 if descriptor else len(data),
                             0 if descriptor else len(comp))
            lcrc, lcs, lus = 0 if descriptor else crc, 0xFFFFFFFF, 0xFFFFFFFF
        else:
            lx = b""
            lcrc, lcs, lus = ((0, 0, 0) if descriptor else
                              (crc, len(comp), len(data)))
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, ver, flags, mf, 0,
                           0x5821, lcrc, lcs, lus, len(name), len(lx))
        out += name + lx
        doff = len(out)
        out += comp
        if descriptor:
            out += struct.pack("<IIQQ" if zip64 else "<IIII", 0x08074b50,
                               crc, len(comp), len(data))
        if zip64:
            cx = struct.pack("<HHQQQ", 1, 24, len(data), len(comp), off)
            ccs = cus = coff = 0xFFFFFFFF
        else:
            cx = b""
            ccs, cus, coff = len(comp), len(data), off
        info.append({"local": off, "data": doff, "end": len(out),
                     "cd": len(cd)})
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, ver, ver, flags,
                          mf, 0, 0x5821, crc, ccs, cus, len(name), len(cx),
                          0, 0, 0, 0, coff) + name + cx
    cdoff = len(out)
    for i in info:
        i["cd"] += cdoff
    out += cd
    n = len(members)
    if zip64:
        e64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, n, n,
                           len(cd), cdoff)
        out += struct.pack("<IIQI", 0x07064b50, 0, e64, 1)
        out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xFFFF, 0xFFFF,
                           0xFFFFFFFF, 0xFFFFFFFF, len(comment)) + comment
    else:
        out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, n, n, len(cd),
                           cdoff, len(comment)) + comment
    return bytes(out), {"members": info, "cd": cdoff}


def three(method=0):
    """Three gzip members (hours 5, 6, 7) and their lines."""
    ls = [evs("m%d" % h, 4) for h in (5, 6, 7)]
    ms = [{"name": mname(h), "data": gz(nd(l)), "method": method}
          for h, l in zip((5, 6, 7), ls)]
    return ms, ls


class Unseekable(io.RawIOBase):
    """A write-only stream: zipfile writes data descriptors into it."""

    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += b
        return len(b)


def pyzip(path, members, stream=False, force_zip64=False, comment=b""):
    """A zip made by Python's zipfile: members are (name, data, method)."""
    sink = Unseekable() if stream else open(path, "wb")
    with zipfile.ZipFile(sink, "w") as z:
        z.comment = comment
        for name, data, method in members:
            zi = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            zi.compress_type = method
            with z.open(zi, "w", force_zip64=force_zip64) as f:
                f.write(data)
    if stream:
        with open(path, "wb") as f:
            f.write(sink.buf)
    else:
        sink.close()
    return path


def write(path, data):
    os.makedirs(os.path.dirname(str(path)) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def run_fd(args, stdin=None, stdout=subprocess.PIPE, cwd=None):
    """Like run(), with stdin/stdout given as files (redirections)."""
    argv = [prog(P)] + [str(a) for a in args]
    p = subprocess.run(argv, stdin=stdin, stdout=stdout,
                       stderr=subprocess.PIPE, timeout=60, cwd=cwd)
    check_sanitizers(p.stderr)
    return p


def errs(p):
    return p.stderr.decode(errors="replace").splitlines()


NONE = "; none of its lines were written"


def none_written(p, where):
    """The message that names where (e.g. "a.zip: member") says that none
    of its lines were written; returns that message."""
    for l in errs(p):
        if l.startswith("amp-unpack: %s: " % where):
            assert l.endswith(NONE), l
            return l
    raise AssertionError("no message for %s in %r" % (where, p.stderr))


# ------------------------------------------------------ each input kind

def kind_files(tmp, kind):
    """An input of each kind holding three members' worth of lines;
    returns (argument, expected output)."""
    ms, ls = three()
    want = b"".join(nd(l) for l in ls)
    pm = [(m["name"], m["data"], zipfile.ZIP_STORED) for m in ms]
    a = tmp / "a.zip"
    if kind == "stored":
        pyzip(a, pm)
    elif kind == "deflated":
        pyzip(a, [(n, d, zipfile.ZIP_DEFLATED) for n, d, _ in pm])
    elif kind == "mixed-methods-comment":
        pyzip(a, [(n, d, zipfile.ZIP_DEFLATED if i % 2 else m)
                  for i, (n, d, m) in enumerate(pm)], comment=b"exported")
    elif kind == "pyzip64-local":
        pyzip(a, [(n, d, zipfile.ZIP_DEFLATED) for n, d, _ in pm],
              force_zip64=True)
    elif kind == "pystream-descriptor":
        pyzip(a, [(n, d, zipfile.ZIP_DEFLATED) for n, d, _ in pm],
              stream=True)
    elif kind == "pystream-descriptor-stored":
        pyzip(a, pm, stream=True)
    elif kind == "pystream-zip64-descriptor":
        pyzip(a, [(n, d, zipfile.ZIP_DEFLATED) for n, d, _ in pm],
              stream=True, force_zip64=True)
    elif kind.startswith("hand"):
        for m in ms:
            m["method"] = 8 if "deflate" in kind else 0
        data, _ = build_zip(ms, zip64="zip64" in kind,
                            descriptor="descriptor" in kind)
        write(a, data)
    elif kind == "gz":
        return write(tmp / "x.json.gz", gz(want)), want
    elif kind == "gz-multimember":
        return write(tmp / "x.json.gz",
                     b"".join(gz(nd(l)) for l in ls)), want
    elif kind == "gz-zero-padded":
        return write(tmp / "x.gz", gz(want) + b"\0" * 512), want
    elif kind == "json":
        return write(tmp / "x.json", want), want
    elif kind == "ndjson":
        return write(tmp / "x.ndjson", want), want
    else:
        raise ValueError(kind)
    with zipfile.ZipFile(a) as z:       # the fixture is a valid archive
        assert z.testzip() is None
    return a, want


KINDS = ["stored", "deflated", "mixed-methods-comment", "pyzip64-local",
         "pystream-descriptor", "pystream-descriptor-stored",
         "pystream-zip64-descriptor", "hand-stored", "hand-deflate",
         "hand-zip64-stored", "hand-zip64-deflate",
         "hand-descriptor-deflate", "hand-zip64-descriptor-deflate",
         "gz", "gz-multimember", "gz-zero-padded", "json", "ndjson"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_byte_identical(tmp_path, kind):
    path, want = kind_files(tmp_path, kind)
    p = run([P, path])
    assert p.stdout == want
    assert p.stderr == b""
    assert p.returncode == 0


def test_real_example_lines(tmp_path):
    with open(EXAMPLES, "rb") as f:
        src = f.read()
    want = src if src.endswith(b"\n") else src + b"\n"
    a = pyzip(tmp_path / "a.zip", [("1/1_2023-01-01_19#0.json.gz", gz(src),
                                    zipfile.ZIP_DEFLATED)])
    p = run([P, a])
    assert (p.returncode, p.stdout, p.stderr) == (0, want, b"")


def test_odd_bytes_pass_through(tmp_path):
    """CRLF, lone CR, NUL, invalid UTF-8, blank lines: unchanged."""
    odd = [b'{"a":"crlf"}\r', b'{"a":"cr\rin"}', b'{"b":"\xff\xfe\xc3("}',
           b'{"nul":"\x00"}', b"", b"   ", b"not json at all \x80",
           b'{"t":"\t"}']
    data = nd(odd)
    a = pyzip(tmp_path / "a.zip", [("m#0.json.gz", gz(data), 8),
                                   ("m#1.json", data, 0)])
    write(tmp_path / "b.json", data)
    write(tmp_path / "c.json.gz", gz(data))
    p = run([P, a, tmp_path / "b.json", tmp_path / "c.json.gz"])
    assert (p.returncode, p.stderr) == (0, b"")
    assert p.stdout == data * 4


def test_missing_final_newline(tmp_path):
    """Each member/file without a final newline still ends its line."""
    l1, l2, l3 = evs("a", 2), evs("b", 3), evs("c", 1)
    want = nd(l1) + nd(l2) + nd(l3)
    a = pyzip(tmp_path / "a.zip", [
        (mname(1), gz(nd(l1, final=False)), 8),
        (mname(2), nd(l2, final=False), 0),
        (mname(3), gz(nd(l3, final=False)), 0)])
    p = run([P, a])
    assert (p.returncode, p.stdout, p.stderr) == (0, want, b"")
    write(tmp_path / "x.json", nd(l1, final=False))
    write(tmp_path / "y.json.gz", gz(nd(l2, final=False)))
    # multi-member gzip: the first member's cut line joins the next one's
    # bytes, as zcat would give them
    write(tmp_path / "z.gz", gz(b"x") + gz(b"y"))
    p = run([P, tmp_path / "x.json", tmp_path / "y.json.gz",
             tmp_path / "z.gz"])
    assert (p.returncode, p.stderr) == (0, b"")
    assert p.stdout == nd(l1) + nd(l2) + b"xy\n"


def test_huge_line(tmp_path):
    big = b'{"big":"' + b"0123456789abcdef" * (5 * 1024 * 1024 // 16) + b'"}'
    data = nd([ev("h", 0), big, ev("h", 1)])
    write(tmp_path / "x.json.gz", gz(data))
    a = pyzip(tmp_path / "a.zip", [("m#0.json", big, 0)])
    p = run([P, tmp_path / "x.json.gz", a])
    assert (p.returncode, p.stderr) == (0, b"")
    assert p.stdout == data + big + b"\n"
    p = run([P], input=data)
    assert (p.returncode, p.stdout, p.stderr) == (0, data, b"")


# -------------------------------------------------------------- stdin

def test_stdin_pipe_gzip_and_plain(tmp_path):
    data = nd(evs("s", 5))
    for inp in (gz(data), gz(data[:100]) + gz(data[100:]), data):
        p = run([P], input=inp)
        assert (p.returncode, p.stdout, p.stderr) == (0, data, b"")
        p = run([P, "-"], input=inp)
        assert (p.returncode, p.stdout, p.stderr) == (0, data, b"")


def test_stdin_pipe_empty():
    p = run([P], input=b"")
    assert (p.returncode, p.stdout) == (0, b"")


def test_stdin_zip_pipe_refused(tmp_path):
    path, _ = kind_files(tmp_path, "deflated")
    with open(path, "rb") as f:
        p = run([P], input=f.read())
    assert p.returncode == 65
    assert p.stdout == b""
    assert errs(p) == [
        "amp-unpack: <stdin>: a zip archive cannot be read from a pipe: "
        "pass it as a file (amp-unpack FILE.zip), or redirect it "
        "(amp-unpack < FILE.zip)"]


@pytest.mark.parametrize("kind", ["deflated", "hand-zip64-deflate", "gz",
                                  "json"])
def test_stdin_redirected_file(tmp_path, kind):
    path, want = kind_files(tmp_path, kind)
    with open(path, "rb") as f:
        p = run_fd([], stdin=f)
    assert (p.returncode, p.stdout, p.stderr) == (0, want, b"")
    with open(path, "rb") as f:
        f.read(7)       # a moved offset: the whole file is still read
        p = run_fd(["-"], stdin=f)
    assert (p.returncode, p.stdout, p.stderr) == (0, want, b"")


def test_argument_order_kept(tmp_path):
    a, b, c = evs("a", 2), evs("b", 2), evs("c", 2)
    write(tmp_path / "b_10.json", nd(b))
    write(tmp_path / "a_9.json.gz", gz(nd(a)))
    p = run([P, "b_10.json", "-", "a_9.json.gz"], input=gz(nd(c)),
            cwd=tmp_path)
    assert (p.returncode, p.stderr) == (0, b"")
    assert p.stdout == nd(b) + nd(c) + nd(a)


# ------------------------------------------------------------- order

def test_member_natural_order(tmp_path):
    hours = [(10, 0), (9, 1), (2, 0), (9, 0), (10, 10), (10, 2), (23, 0)]
    names = {(h, n): mname(h, n) for h, n in hours}
    pm = [(names[k], gz(nd([ev("h%d-p%d" % k, 0)])), 8) for k in hours]
    pm.append(("609539/609539_2024-01-02_0#0.json.gz",
               gz(nd([ev("day2", 0)])), 0))
    a = pyzip(tmp_path / "a.zip", pm)
    p = run([P, a])
    want = [ev(t, 0) for t in ("h2-p0", "h9-p0", "h9-p1", "h10-p0",
                               "h10-p2", "h10-p10", "h23-p0", "day2")]
    assert (p.returncode, p.stdout, p.stderr) == (0, nd(want), b"")


def test_directory_tree(tmp_path):
    """S3-export layout: nested directories, natural order in each,
    markers, merged-id files, other files and hidden files."""
    e = tmp_path / "exports"
    proj = e / "609539"
    L = {k: nd(evs(k, 2)) for k in ("n0", "h9p0", "h9p1", "h10p0",
                                   "z1", "z2", "d9", "d10")}
    write(proj / "2024/01/02/609539_2024-01-02_0#0.json.gz", gz(L["n0"]))
    write(proj / "609539_2024-01-01_10#0.json.gz", gz(L["h10p0"]))
    write(proj / "609539_2024-01-01_9#1.json.gz", gz(L["h9p1"]))
    write(proj / "609539_2024-01-01_9#0.json.gz", gz(L["h9p0"]))
    write(proj / "609539_2024-01-01_9_complete", b"")
    write(e / "12_2024-01-01_3.json.gz",
          gz(b'{"scope":"x","amplitude_id":1,"merged_amplitude_id":2}\n'))
    pyzip(e / "a.zip", [("a_10.json", L["z2"], 0), ("a_9.json", L["z1"], 8)])
    write(e / "dir10/x.json", L["d10"])
    write(e / "dir9/y.ndjson", L["d9"])
    write(e / "notes.txt", b"not events\n")
    write(e / ".DS_Store", b"junk\n")
    write(e / "dir9/.hidden.json", b"hidden\n")
    p = run([P, "exports"], cwd=tmp_path)
    want = b"".join(L[k] for k in ("n0", "h9p0", "h9p1", "h10p0", "z1", "z2",
                                   "d9", "d10"))
    assert p.stdout == want
    assert errs(p) == [
        "amp-unpack: exports/12_2024-01-01_3.json.gz: skipped: merged "
        "amplitude_id file, not events",
        "amp-unpack: exports/609539/609539_2024-01-01_9_complete: skipped: "
        "export completion marker",
        "amp-unpack: exports/notes.txt: skipped: not a .zip, .gz, .json or "
        ".ndjson file"]
    assert p.returncode == 0


def test_skips_in_zip(tmp_path):
    l1, l2 = evs("a", 2), evs("b", 2)
    a = pyzip(tmp_path / "a.zip", [
        ("609539/", b"", 0),
        (mname(5), gz(nd(l1)), 8),
        ("609539/609539_2024-01-01_5_complete", b"", 0),
        ("609539/609539_2024-01-01_5.json.gz",
         gz(b'{"scope":"x","amplitude_id":1,"merged_amplitude_id":2}\n'), 8),
        (mname(6), gz(nd(l2)), 0)])
    p = run([P, "a.zip"], cwd=tmp_path)
    assert p.stdout == nd(l1) + nd(l2)
    assert errs(p) == [
        "amp-unpack: a.zip: 609539/609539_2024-01-01_5.json.gz: skipped: "
        "merged amplitude_id file, not events",
        "amp-unpack: a.zip: 609539/609539_2024-01-01_5_complete: skipped: "
        "export completion marker"]
    assert p.returncode == 0


def test_named_merged_id_file_skipped(tmp_path):
    """A merged-id file named on the command line (as a shell glob over an
    S3 export names it) is not events either: skipped with a note."""
    ev1 = nd(evs("a", 2))
    write(tmp_path / "609539_2024-01-01_3#0.json.gz", gz(ev1))
    write(tmp_path / "12_2024-01-01_3.json.gz",
          gz(b'{"scope":"x","amplitude_id":1,"merged_amplitude_id":2}\n'))
    p = run([P, "12_2024-01-01_3.json.gz", "609539_2024-01-01_3#0.json.gz"],
            cwd=tmp_path)
    assert p.stdout == ev1
    assert errs(p) == ["amp-unpack: 12_2024-01-01_3.json.gz: skipped: "
                       "merged amplitude_id file, not events"]
    assert p.returncode == 0


# --------------------------------------------------------- since/until

HOURS = [("2024-01-01", 22), ("2024-01-01", 23), ("2024-01-02", 0),
         ("2024-01-02", 1), ("2024-01-02", 23), ("2024-01-03", 0)]


@pytest.mark.parametrize("opts,picked", [
    ([], [0, 1, 2, 3, 4, 5]),
    (["--since", "2024-01-02"], [2, 3, 4, 5]),
    (["--until", "2024-01-02"], [0, 1, 2, 3, 4]),
    (["--since", "2024-01-02", "--until", "2024-01-02"], [2, 3, 4]),
    (["--since", "2024-01-01T23", "--until", "2024-01-02T01"], [1, 2, 3]),
    (["--since", "20240102T01", "--until", "20240102"], [3, 4]),
    (["--since=2024-01-02 23", "--until=2024-01-02T23"], [4]),
    (["--since", "2024-01-04"], []),
])
def test_since_until(tmp_path, opts, picked):
    lines = [nd([ev("%s-%d" % dh, 0)]) for dh in HOURS]
    a = pyzip(tmp_path / "a.zip",
              [(mname(h, 0, d), gz(l), 8) for (d, h), l in zip(HOURS, lines)])
    d = tmp_path / "dir"
    for (day, h), l in zip(HOURS, lines):
        write(d / ("609539_%s_%d#0.json.gz" % (day, h)), gz(l))
    want = b"".join(lines[i] for i in picked)
    for arg in (a, d):
        p = run([P] + opts + [arg])
        assert (p.returncode, p.stdout, p.stderr) == (0, want, b"")


@pytest.mark.parametrize("opts", [
    ["--since", "2024-13-01"], ["--until", "2024-01-01T24"],
    ["--since", "yesterday"], ["--since", "2023-02-29"],
    ["--since", "2024-01-02", "--until", "2024-01-01T23"],
    ["--bogus"], ["-x"], ["--since"]])
def test_usage_errors(tmp_path, opts):
    write(tmp_path / "x.json", b"{}\n")
    p = run([P] + opts + [tmp_path / "x.json"])
    assert p.returncode == 2
    assert p.stdout == b""
    assert p.stderr.startswith(b"amp-unpack: ") or \
        b"usage: amp-unpack [-lp] [-j journal] [--strict]" in p.stderr


# ---------------------------------------------------------------- list

def test_list(tmp_path):
    a = pyzip(tmp_path / "a.zip", [
        ("609539/", b"", 0),
        (mname(10), gz(nd(evs("x", 50))), 8),
        (mname(9), gz(nd(evs("y", 3))), 0),
        ("609539/609539_2024-01-01_9_complete", b"", 0),
        ("other.json", b"{}\n", 8)])
    write(tmp_path / "609539_2024-01-02_3#1.json.gz", gz(b"{}\n"))
    info = {zi.filename: zi for zi in zipfile.ZipFile(a).infolist()}
    p = run([P, "--list", "a.zip", "609539_2024-01-02_3#1.json.gz"],
            cwd=tmp_path)
    got = [json.loads(l) for l in p.stdout.splitlines()]

    def z(name, hour):
        zi = info[name]
        return {"archive": "a.zip", "member": name,
                "compressed": zi.compress_size,
                "uncompressed": zi.file_size, "hour": hour}
    assert got == [
        z(mname(9), "2024-01-01T09"), z(mname(10), "2024-01-01T10"),
        z("other.json", None),
        {"archive": None, "member": "609539_2024-01-02_3#1.json.gz",
         "compressed": len(gz(b"{}\n")), "uncompressed": None,
         "hour": "2024-01-02T03"}]
    assert p.returncode == 0
    assert errs(p) == ["amp-unpack: a.zip: 609539/609539_2024-01-01_9_"
                       "complete: skipped: export completion marker"]
    # with -l and --since: only the selected members
    p = run([P, "-l", "--since", "2024-01-01T10", "a.zip"], cwd=tmp_path)
    assert [json.loads(l)["member"] for l in p.stdout.splitlines()] == \
        [mname(10), "other.json"]


# ------------------------------------------------------------ progress

@pytest.mark.parametrize("kind", ["gz", "json", "deflated", "stored"])
def test_progress(tmp_path, kind):
    path, want = kind_files(tmp_path, kind)
    p = run([P, "-p", path])
    assert (p.returncode, p.stdout) == (0, want)
    size = os.path.getsize(path)
    # stderr is not a terminal: one final line, 100% of the input size
    assert errs(p) == [l for l in errs(p) if l.startswith("amp-unpack: ")]
    last = errs(p)[-1]
    m = re.match(r"amp-unpack: (\S+ \S*B) of (\S+ \S*B) \( *(\d+)%\) ", last)
    assert m, last
    assert (m.group(1), m.group(3)) == (m.group(2), "100"), last
    if size < 1000:
        assert m.group(2) == "%d B" % size
    p = run([P, "--progress", path])
    assert p.stderr.decode().startswith("amp-unpack: ")
    p = run([P, path])
    assert p.stderr == b""


# ------------------------------------------------------ bad zip members

def bad_member(kind):
    """Three members, the middle one made bad; returns (archive, lines of
    members 1 and 3, what the message says, whether member 2's whole
    lines before the damage may come out)."""
    ms, ls = three()
    two = ms[1]
    msg = None
    if kind == "encrypted":
        two["flags"] = 1
        msg = "encrypted member: not supported"
    elif kind == "method-bzip2":
        two["method_field"] = 12
        msg = "unsupported compression method 12 (only stored and deflate)"
    elif kind == "method-lzma-deflated":
        two["method"], two["method_field"] = 8, 14
        msg = "unsupported compression method 14"
    elif kind == "bad-crc-plain":
        two["data"] = nd(ls[1])
        two["crc"] = zlib.crc32(two["data"]) ^ 1
        msg = "bad CRC-32"
    elif kind == "bad-crc-deflate":
        two["method"] = 8
        two["crc"] = zlib.crc32(two["data"]) ^ 0x80000000
        msg = "bad CRC-32"
    elif kind == "zip-in-zip":
        inner, _ = build_zip([dict(ms[0])])
        two["data"] = inner
        msg = "a zip inside a zip is not read"
    elif kind == "bad-local-offset":
        pass
    else:
        raise ValueError(kind)
    data, info = build_zip(ms)
    data = bytearray(data)
    if kind == "bad-local-offset":
        struct.pack_into("<I", data, info["members"][1]["cd"] + 42,
                         info["members"][1]["local"] + 3)
        msg = "bad local header offset (corrupt archive)"
    if kind == "encrypted":
        struct.pack_into("<H", data, info["members"][1]["local"] + 6, 1)
    if kind.startswith("method"):
        struct.pack_into("<H", data, info["members"][1]["local"] + 8,
                         two["method_field"])
    return bytes(data), ls, msg


@pytest.mark.parametrize("kind", [
    "encrypted", "method-bzip2", "method-lzma-deflated", "bad-crc-plain",
    "bad-crc-deflate", "zip-in-zip", "bad-local-offset"])
def test_bad_member_others_read(tmp_path, kind):
    data, ls, msg = bad_member(kind)
    write(tmp_path / "a.zip", data)
    p = run([P, "a.zip"], cwd=tmp_path)
    where = "a.zip: %s" % mname(6)
    lines = errs(p)
    assert len(lines) == 1, lines
    assert lines[0].startswith("amp-unpack: %s: %s" % (where, msg)), lines
    if kind.startswith("bad-crc"):
        # a CRC is known bad only at the member's end: its lines were
        # held until then, and are dropped, stored or deflated alike
        none_written(p, where)
    assert p.stdout == nd(ls[0]) + nd(ls[2])
    assert p.returncode == 65


def test_bad_crc_flipped_byte_stored(tmp_path):
    """A flipped byte in a stored member's data: CRC error, named; the
    gzip inside still decodes (the byte is in the gzip header's MTIME)."""
    ms, ls = three()
    data, info = build_zip(ms)
    data = bytearray(data)
    data[info["members"][1]["data"] + 5] ^= 0x40
    write(tmp_path / "a.zip", data)
    p = run([P, "a.zip"], cwd=tmp_path)
    where = "a.zip: " + mname(6)
    assert len(errs(p)) == 1
    assert errs(p)[0].startswith("amp-unpack: %s: bad CRC-32 (expected " %
                                 where), errs(p)
    none_written(p, where)
    assert p.stdout == nd(ls[0]) + nd(ls[2])
    assert p.returncode == 65


def test_zero_length_members(tmp_path):
    l1, l3 = evs("a", 2), evs("c", 2)
    ms = [{"name": mname(1), "data": gz(nd(l1))},
          {"name": mname(2), "data": b""},
          {"name": mname(3), "data": gz(b""), "method": 8},
          {"name": "x_2024-01-01_3#1.json", "data": b"", "method": 8},
          {"name": mname(4), "data": gz(nd(l3))}]
    data, _ = build_zip(ms)
    write(tmp_path / "a.zip", data)
    p = run([P, tmp_path / "a.zip"])
    assert (p.returncode, p.stdout, p.stderr) == (0, nd(l1) + nd(l3), b"")


def test_empty_zip(tmp_path):
    a = tmp_path / "a.zip"
    zipfile.ZipFile(a, "w").close()
    write(tmp_path / "b.json", b"{}\n")
    p = run([P, a, tmp_path / "b.json"])
    assert (p.returncode, p.stdout, p.stderr) == (0, b"{}\n", b"")


@pytest.mark.parametrize("name", ["e.json", "e.json.gz"])
def test_empty_file(tmp_path, name):
    write(tmp_path / name, b"")
    write(tmp_path / "b.json", b"{}\n")
    p = run([P, name, "b.json"], cwd=tmp_path)
    assert p.stdout == b"{}\n"
    assert errs(p) == ["amp-unpack: %s: empty file" % name]
    assert p.returncode == 0
    with open(tmp_path / name, "rb") as f:
        p = run_fd([], stdin=f)
    assert (p.returncode, p.stdout) == (0, b"")
    assert errs(p) == ["amp-unpack: <stdin>: empty file"]


@pytest.mark.parametrize("data,why", [
    (b"", "empty file, not a zip archive"),
    (b"PK", "not a zip archive (damaged, or not a zip)"),
    (b"<html>502 Bad Gateway</html>\n",
     "not a zip archive (damaged, or not a zip)"),
])
def test_zip_name_that_is_not_a_zip(tmp_path, data, why):
    # A failed download must not pass for event lines.
    write(tmp_path / "a.zip", data)
    write(tmp_path / "b.json", b"{}\n")
    p = run([P, "a.zip", "b.json"], cwd=tmp_path)
    assert (p.returncode, p.stdout) == (65, b"{}\n")
    assert errs(p) == ["amp-unpack: a.zip: " + why]


# -------------------------------------------------- damaged gzip streams

def damaged_gzip(kind):
    """A gzip stream that goes bad after part1, which ends mid-line.
    Returns (stream, the lines that must come out of it as a file, how
    many, the error).  A gzip file gives the lines of its members that
    checked out, up to the last whole line; a zip member gives nothing."""
    ls = evs("g", 8)
    text = nd(ls)
    cut = len(nd(ls[:5])) + 9           # 5 whole lines, then 9 bytes
    part1, part2 = text[:cut], text[cut:]
    stream, flush = gz_flushed(part1, part2)
    if kind == "truncated":
        return (stream[:flush], b"", 0,
                "truncated gzip stream (member 1 ends early)")
    if kind == "truncated-trailer":
        return (stream[:-3], b"", 0,
                "truncated gzip stream (member 1 ends early)")
    if kind == "truncated-second-member":
        s = gz(nd(ls[:2])) + stream[:flush]
        return (s, nd(ls[:2]), 2,
                "truncated gzip stream (member 2 ends early)")
    if kind == "corrupt-deflate":
        # the block after the flush point: BFINAL=1, BTYPE=11 (invalid)
        s = stream[:flush] + b"\x07" + stream[flush + 1:]
        return (s, b"", 0, "corrupt gzip data: invalid block type")
    if kind == "bad-gzip-crc":
        s = bytearray(stream)
        s[-8] ^= 1
        return (bytes(s), b"", 0, "corrupt gzip data: incorrect data check")
    if kind == "bad-gzip-isize":
        s = bytearray(stream)
        s[-1] ^= 1
        return (bytes(s), b"", 0,
                "corrupt gzip data: incorrect length check")
    if kind == "bad-second-crc":
        s = bytearray(gz(nd(ls[:3])) + stream)
        s[-6] ^= 0x10
        return (bytes(s), nd(ls[:3]), 3,
                "corrupt gzip data: incorrect data check")
    if kind == "trailing-garbage":
        return (stream + b"garbage\n", text, 8,
                "trailing garbage after gzip member 1")
    if kind == "bad-second-header":
        return (stream + b"\x1f\x00junkjunkjunk", text, 8,
                "corrupt gzip data: incorrect header check")
    raise ValueError(kind)


def file_msg(n, error):
    if n == 0:
        return error + NONE
    return error + ("; only the %d whole lines of the gzip members before "
                    "it were written" % n)


GZ_DAMAGE = ["truncated", "truncated-trailer", "truncated-second-member",
             "corrupt-deflate", "bad-gzip-crc", "bad-gzip-isize",
             "bad-second-crc", "trailing-garbage", "bad-second-header"]


@pytest.mark.parametrize("kind", GZ_DAMAGE)
def test_damaged_gzip_file(tmp_path, kind):
    stream, want, n, error = damaged_gzip(kind)
    good = nd(evs("after", 2))
    write(tmp_path / "x.json.gz", stream)
    write(tmp_path / "y.json.gz", gz(good))
    p = run([P, "x.json.gz", "y.json.gz"], cwd=tmp_path)
    assert errs(p) == ["amp-unpack: x.json.gz: " + file_msg(n, error)]
    assert p.stdout == want + good
    assert p.returncode == 65
    p = run([P], input=stream)
    assert errs(p) == ["amp-unpack: <stdin>: " + file_msg(n, error)]
    assert (p.returncode, p.stdout) == (65, want)


@pytest.mark.parametrize("method", [0, 8])
@pytest.mark.parametrize("kind", GZ_DAMAGE)
def test_damaged_gzip_in_member(tmp_path, kind, method):
    """A zip member is one unit: whatever goes wrong in it, none of its
    lines come out, even those of a gzip member that checked out."""
    stream, _, _, error = damaged_gzip(kind)
    ms, ls = three(method)
    ms[1]["data"] = stream
    data, _ = build_zip(ms)
    write(tmp_path / "a.zip", data)
    p = run([P, "a.zip"], cwd=tmp_path)
    assert errs(p) == ["amp-unpack: a.zip: %s: %s" % (mname(6), error + NONE)]
    assert p.stdout == nd(ls[0]) + nd(ls[2])
    assert p.returncode == 65


def test_gzip_member_cut_line_not_finished(tmp_path):
    """A good gzip member whose last line goes on in the next, damaged,
    one: the line is not all checked, so it is not written (nor ended
    with a newline of ours)."""
    one = gz(b'{"a":1}\n{"b":')
    two = bytearray(gz(b'2}\n{"c":3}\n'))
    two[-8] ^= 1
    write(tmp_path / "x.json.gz", one + bytes(two))
    p = run([P, "x.json.gz"], cwd=tmp_path)
    assert (p.returncode, p.stdout) == (65, b'{"a":1}\n')
    assert errs(p) == ["amp-unpack: x.json.gz: " + file_msg(
        1, "corrupt gzip data: incorrect data check")]


@pytest.mark.parametrize("kind", ["truncated", "corrupt"])
def test_damaged_deflate_member(tmp_path, kind):
    """The zip's own deflate stream (a plain .json member) breaks off
    after 5 whole lines and part of a sixth."""
    ms, ls = three()
    lines = evs("d", 8)
    text = nd(lines)
    cut = len(nd(lines[:5])) + 9
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    a = c.compress(text[:cut]) + c.flush(zlib.Z_FULL_FLUSH)
    b = c.compress(text[cut:]) + c.flush()
    name = "609539/609539_2024-01-01_6#0.json"
    if kind == "truncated":
        comp = a
        msg = "deflate data ends early (truncated member)"
    else:
        comp = a + b"\x07" + b[1:]
        msg = "corrupt deflate data: invalid block type"
    ms[1] = {"name": name, "data": text, "comp": comp, "method": 8}
    data, _ = build_zip(ms)
    write(tmp_path / "a.zip", data)
    p = run([P, "a.zip"], cwd=tmp_path)
    assert errs(p) == ["amp-unpack: a.zip: %s: %s" % (name, msg + NONE)]
    assert p.stdout == nd(ls[0]) + nd(ls[2])
    assert p.returncode == 65


# ----------------------------------------------- damaged archive structure

def test_corrupt_central_directory(tmp_path):
    """A central directory entry with a bad signature: the archive is
    read through its local headers, with an error."""
    ms, ls = three(8)
    data, info = build_zip(ms)
    data = bytearray(data)
    data[info["members"][1]["cd"]:info["members"][1]["cd"] + 4] = b"XXXX"
    write(tmp_path / "a.zip", data)
    p = run([P, "a.zip"], cwd=tmp_path)
    assert p.stdout == b"".join(nd(l) for l in ls)
    assert len(errs(p)) == 1
    assert errs(p)[0].startswith("amp-unpack: a.zip: "), errs(p)
    assert p.returncode == 65


def test_central_directory_entry_count_corrupt(tmp_path):
    ms, ls = three()
    data, info = build_zip(ms)
    data = bytearray(data)
    struct.pack_into("<HH", data, len(data) - 22 + 8, 9999, 9999)
    write(tmp_path / "a.zip", data)
    p = run([P, "a.zip"], cwd=tmp_path)
    assert p.stdout == b"".join(nd(l) for l in ls)
    assert len(errs(p)) == 1 and errs(p)[0].startswith("amp-unpack: a.zip: ")
    assert p.returncode == 65


def truncation_points(info, size):
    m = info["members"]
    return {
        "in-first-local-header": (m[0]["local"] + 10, 0),
        "in-second-local-header": (m[1]["local"] + 10, 1),
        "in-second-name": (m[1]["local"] + 33, 1),
        "in-second-data": (m[1]["data"] + 20, 1),
        "in-third-data": (m[2]["data"] + 20, 2),
        "at-central-directory": (info["cd"], 3),
        "in-central-directory": (info["cd"] + 50, 3),
        "in-end-record": (size - 5, 3),
    }


CUTS = ["in-first-local-header", "in-second-local-header", "in-second-name",
        "in-second-data", "in-third-data", "at-central-directory",
        "in-central-directory", "in-end-record"]


@pytest.mark.parametrize("layout", ["stored", "deflate", "descriptor",
                                    "zip64-descriptor"])
@pytest.mark.parametrize("cut", CUTS)
def test_truncated_zip(tmp_path, cut, layout):
    ms, ls = three(0 if layout == "stored" else 8)
    data, info = build_zip(ms, zip64=layout.startswith("zip64"),
                           descriptor="descriptor" in layout)
    at, complete = truncation_points(info, len(data))[cut]
    write(tmp_path / "a.zip", data[:at])
    write(tmp_path / "b.json", b'{"after":1}\n')
    p = run([P, "a.zip", "b.json"], cwd=tmp_path)
    # the complete members, nothing of the cut one
    want = b"".join(nd(l) for l in ls[:complete])
    assert p.stdout == want + b'{"after":1}\n'
    assert p.stderr.startswith(b"amp-unpack: a.zip: ")
    if cut != "in-first-local-header":
        assert b"no central directory" in p.stderr
    if cut in ("in-second-name", "in-second-data", "in-third-data"):
        # the cut member is named
        assert ("amp-unpack: a.zip: %s: " % mname(5 + complete)).encode() \
            in p.stderr or b"a.zip: (name cut off): " in p.stderr, p.stderr
    assert p.returncode == 65


def test_truncated_zip_cut_member_nothing(tmp_path):
    """The member a truncated download cuts in two: it cannot be checked,
    so none of its lines are written, not even the whole ones before the
    cut; the members before it are."""
    ls = [evs("a", 3), evs("b", 8)]
    text = nd(ls[1])
    cut = len(nd(ls[1][:5])) + 9
    stream, flush = gz_flushed(text[:cut], text[cut:])
    ms = [{"name": mname(1), "data": gz(nd(ls[0]))},
          {"name": mname(2), "data": stream}]
    data, info = build_zip(ms)
    write(tmp_path / "a.zip", data[:info["members"][1]["data"] + flush])
    p = run([P, "a.zip"], cwd=tmp_path)
    assert p.returncode == 65
    assert p.stdout == nd(ls[0])
    assert none_written(p, "a.zip: " + mname(2))


def test_not_a_zip_beyond_recovery(tmp_path):
    write(tmp_path / "a.zip", b"PK\x03\x04" + b"\x00" * 10)
    write(tmp_path / "b.json", b"{}\n")
    p = run([P, "a.zip", "b.json"], cwd=tmp_path)
    assert p.stdout == b"{}\n"
    assert errs(p) == ["amp-unpack: a.zip: not a zip archive, or damaged "
                       "beyond recovery (no central directory and no local "
                       "headers)"]
    assert p.returncode == 65


# ------------------------------------------------------ strict, runtime

def test_strict_stops_at_first_error(tmp_path):
    ms, ls = three()
    ms[1]["crc"] = 1234
    ms[1]["data"] = b"short\n"
    data, _ = build_zip(ms)
    write(tmp_path / "a.zip", data)
    write(tmp_path / "b.json", b"{}\n")
    p = run([P, "a.zip", "b.json"], cwd=tmp_path)
    assert p.returncode == 65
    assert p.stdout.endswith(nd(ls[2]) + b"{}\n")
    p = run([P, "--strict", "a.zip", "b.json"], cwd=tmp_path)
    assert p.returncode == 65
    # member 2 is stored: held until its CRC is checked, then dropped
    assert p.stdout == nd(ls[0])
    assert errs(p)[0].startswith("amp-unpack: a.zip: %s: bad CRC-32" %
                                 mname(6))
    assert errs(p)[-1] == \
        "amp-unpack: stopping at the first error (--strict)"
    stream, want, _, _ = damaged_gzip("truncated")
    write(tmp_path / "x.json.gz", stream)
    p = run([P, "--strict", "x.json.gz", "b.json"], cwd=tmp_path)
    assert (p.returncode, p.stdout) == (65, want)
    assert len(errs(p)) == 2


def test_missing_file(tmp_path):
    write(tmp_path / "a.json", b'{"a":1}\n')
    write(tmp_path / "b.json.gz", gz(b'{"b":1}\n'))
    p = run([P, "a.json", "nope.json", "b.json.gz"], cwd=tmp_path)
    assert p.stdout == b'{"a":1}\n{"b":1}\n'
    assert errs(p) == ["amp-unpack: nope.json: No such file or directory"]
    assert p.returncode == 1
    p = run([P, "--strict", "a.json", "nope.json", "b.json.gz"],
            cwd=tmp_path)
    assert p.returncode == 1
    assert b'{"b":1}' not in p.stdout
    assert errs(p)[0] == "amp-unpack: nope.json: No such file or directory"


def test_dangling_symlink_in_directory(tmp_path):
    d = tmp_path / "d"
    write(d / "a_1.json", b'{"a":1}\n')
    write(d / "a_3.json", b'{"a":3}\n')
    os.symlink("gone.json", d / "a_2.json")
    p = run([P, "d"], cwd=tmp_path)
    assert p.stdout == b'{"a":1}\n{"a":3}\n'
    assert errs(p) == ["amp-unpack: d/a_2.json: No such file or directory"]
    assert p.returncode == 1


def test_io_error_on_read(tmp_path):
    """/proc/self/mem is a regular file whose read at 0 fails (EIO)."""
    write(tmp_path / "a.json", b'{"a":1}\n')
    p = run([P, "/proc/self/mem", "a.json"], cwd=tmp_path)
    assert p.stdout == b'{"a":1}\n'
    assert errs(p) == ["amp-unpack: /proc/self/mem: Input/output error"]
    assert p.returncode == 1


def test_runtime_error_wins_over_data_error(tmp_path):
    write(tmp_path / "x.json.gz", damaged_gzip("truncated")[0])
    p = run([P, "x.json.gz", "nope.json"], cwd=tmp_path)
    assert p.returncode == 1
    assert len(errs(p)) == 2


@pytest.mark.parametrize("n", [1, 20000])
def test_write_error_dev_full(tmp_path, n):
    write(tmp_path / "x.json.gz", gz(nd(evs("f", n))))
    with open("/dev/full", "wb") as out:
        p = run_fd([tmp_path / "x.json.gz"], stdout=out)
    assert p.returncode == 1
    assert errs(p) == ["amp-unpack: stdout: No space left on device"]
    path, _ = kind_files(tmp_path, "deflated")
    with open("/dev/full", "wb") as out:
        p = run_fd(["--list", path], stdout=out)
    assert p.returncode == 1
    assert b"No space left on device" in p.stderr


def test_sigpipe_quiet(tmp_path):
    write(tmp_path / "x.json.gz", gz(nd(evs("s", 50000))))
    argv = [prog(P), str(tmp_path / "x.json.gz")]
    a = subprocess.Popen(argv, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = a.stdout.read(100)
    a.stdout.close()
    err = a.stderr.read()
    a.wait(30)
    check_sanitizers(err)
    assert first == ev("s", 0)[:100]
    assert err == b""
    assert a.returncode != 0


def test_list_names_not_utf8_still_json(tmp_path):
    # Zip names are bytes; --list must still write valid JSON (U+FFFD).
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr(zipfile.ZipInfo("x_caf\u00e9.json.gz"), gzip.compress(b"{}\n"))
    data = z.read_bytes().replace(b"caf\xc3\xa9", b"caf\xff\xa9")
    z.write_bytes(data)
    p = run([P, "--list", z])
    assert p.returncode == 0, p.stderr
    line = json.loads(p.stdout.decode("utf-8"))
    assert line["member"] == "x_caf\ufffd\ufffd.json.gz"
    p = run([P, z])
    assert (p.returncode, p.stdout) == (0, b"{}\n")


# ------------------------------------- nothing unchecked goes out (#14)

def body_flips(body, decode, seed, count=4):
    """Bit positions in body whose flip still decodes (decode returns the
    output, or raises) to something else: only the CRC can tell.  Walks
    the positions in a seeded order, so the same cases come every run."""
    want = decode(body)
    order = list(range(len(body) * 8))
    random.Random(seed).shuffle(order)
    found = []
    for bit in order:
        b = bytearray(body)
        b[bit // 8] ^= 1 << (bit % 8)
        try:
            got = decode(bytes(b))
        except (zlib.error, EOFError):
            continue
        if got is not None and got != want:
            found.append(bytes(b))
            if len(found) == count:
                break
    assert len(found) == count
    return found


def inflate_raw(comp):
    """The output of a raw deflate stream that ends exactly where comp
    does, or None."""
    d = zlib.decompressobj(-15)
    out = d.decompress(comp)
    return out if d.eof and not d.unused_data else None


def gz_flips(g, seed, count=4):
    """Copies of gzip member g, each with one bit of its deflate data
    flipped so that it still decodes: only its trailer can tell."""
    return [g[:10] + b + g[-8:]
            for b in body_flips(g[10:-8], inflate_raw, seed, count)]


def event_text(tag, n):
    return nd([ev("%s%d" % (tag, i // 10), i) for i in range(n)])


@pytest.mark.parametrize("layout", ["deflate-json", "stored-gz",
                                    "deflate-gz"])
def test_flipped_bit_in_member(tmp_path, layout):
    """One flipped bit in a member's compressed data, where the deflate
    stream still decodes (to other bytes, maybe still valid JSON): none
    of that member's lines, all of the others', the member named."""
    texts = [event_text("m%d" % h, 40) for h in (5, 6, 7)]
    names = [mname(5), "609539/609539_2024-01-01_6#0.json", mname(7)]
    if layout == "deflate-json":
        comp = raw_deflate(texts[1])
        bad = body_flips(comp, inflate_raw, 1401)
        data = texts[1]
    else:
        names[1] = mname(6)
        data = gz(texts[1])
        if layout == "stored-gz":
            bad, comp = gz_flips(data, 1402), data
        else:
            comp = raw_deflate(data)
            bad = body_flips(comp, inflate_raw, 1403)
    method = 0 if layout == "stored-gz" else 8
    for flipped in bad:
        ms = [{"name": names[0], "data": gz(texts[0])},
              {"name": names[1], "data": data, "comp": flipped,
               "method": method},
              {"name": names[2], "data": gz(texts[2]), "method": 8}]
        archive, _ = build_zip(ms)
        write(tmp_path / "a.zip", archive)
        p = run([P, "a.zip"], cwd=tmp_path)
        assert p.stdout == texts[0] + texts[2]
        assert p.returncode == 65
        assert len(errs(p)) == 1, errs(p)
        none_written(p, "a.zip: " + names[1])


def test_flipped_bit_in_gzip_file(tmp_path):
    """A .json.gz file whose deflate data decodes to other bytes: its
    trailer CRC-32 (or length) is wrong, and none of it comes out."""
    text = event_text("f", 60)
    after = nd(evs("after", 2))
    write(tmp_path / "y.json.gz", gz(after))
    for g in gz_flips(gz(text), 1404):
        write(tmp_path / "x.json.gz", g)
        p = run([P, "x.json.gz", "y.json.gz"], cwd=tmp_path)
        assert (p.returncode, p.stdout) == (65, after)
        assert len(errs(p)) == 1
        assert re.match(r"amp-unpack: x\.json\.gz: corrupt gzip data: "
                        r"incorrect (data|length) check; none of its lines "
                        r"were written$", errs(p)[0]), errs(p)
        p = run([P], input=g)
        assert (p.returncode, p.stdout) == (65, b"")
        assert errs(p)[0].startswith("amp-unpack: <stdin>: corrupt gzip")


def test_corrupt_byte_in_stored_member(tmp_path):
    """A stored (method 0) plain member with one byte changed: the text
    is still JSON with another value; the CRC-32 is bad; nothing of it."""
    ms, ls = three()
    text = nd(evs("s", 6))
    i = text.index(b'"amplitude_id":') + 20
    changed = text[:i] + bytes([text[i] ^ 1]) + text[i + 1:]
    assert json.loads(changed.splitlines()[0]) != \
        json.loads(text.splitlines()[0])
    ms[1] = {"name": "609539/609539_2024-01-01_6#0.json", "data": text,
             "comp": changed, "method": 0}
    data, _ = build_zip(ms)
    write(tmp_path / "a.zip", data)
    p = run([P, "a.zip"], cwd=tmp_path)
    assert (p.returncode, p.stdout) == (65, nd(ls[0]) + nd(ls[2]))
    msg = none_written(p, "a.zip: 609539/609539_2024-01-01_6#0.json")
    assert "bad CRC-32 (expected " in msg


# The in-memory bound, set low so that members go through the spool.
HOLDS = ["1", "4096", "100000"]


def zcat(data):
    return subprocess.run(["zcat"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def spool_run(tmp_path, hold, args, **kw):
    t = tmp_path / "tmp"
    t.mkdir(exist_ok=True)
    p = run([P] + args, env={"AMP2PH_UNPACK_HOLD": hold, "TMPDIR": str(t)},
            cwd=tmp_path, **kw)
    assert os.listdir(t) == []          # the spool is unlinked at once
    return p


@pytest.mark.parametrize("hold", HOLDS)
def test_spooled_zip_member(tmp_path, hold):
    """Members past the bound: byte-identical to zcat of the same
    members when good, nothing of a bad one."""
    big = gz(event_text("big", 3000))          # about 1 MB of lines
    small = gz(nd(evs("small", 3)))
    ms = [{"name": mname(5), "data": big},
          {"name": mname(6), "data": small, "method": 8},
          {"name": "609539/609539_2024-01-01_7#0.json",
           "data": event_text("plain", 2000), "method": 8}]
    data, _ = build_zip(ms)
    write(tmp_path / "a.zip", data)
    p = spool_run(tmp_path, hold, ["a.zip"])
    assert (p.returncode, p.stderr) == (0, b"")
    assert p.stdout == zcat(big + small) + ms[2]["data"]
    for i, flipped in enumerate(gz_flips(big, 1405, 2)):
        ms[0]["data"] = flipped
        ms[0]["crc"] = zlib.crc32(big)  # the zip says it is good
        data, _ = build_zip(ms)
        write(tmp_path / "a.zip", data)
        p = spool_run(tmp_path, hold, ["a.zip"])
        assert p.returncode == 65
        assert p.stdout == zcat(small) + ms[2]["data"]
        none_written(p, "a.zip: " + mname(5))
    ms[0]["data"] = big
    del ms[0]["crc"]
    ms[2]["comp"] = body_flips(raw_deflate(ms[2]["data"]), inflate_raw,
                               1406, 1)[0]
    data, _ = build_zip(ms)
    write(tmp_path / "a.zip", data)
    p = spool_run(tmp_path, hold, ["a.zip"])
    assert p.returncode == 65
    assert p.stdout == zcat(big + small)
    none_written(p, "a.zip: 609539/609539_2024-01-01_7#0.json")


@pytest.mark.parametrize("hold", HOLDS)
def test_spooled_gzip_file(tmp_path, hold):
    text = event_text("g", 3000)
    g = gz(text)
    write(tmp_path / "x.json.gz", g)
    p = spool_run(tmp_path, hold, ["x.json.gz"])
    assert (p.returncode, p.stdout, p.stderr) == (0, zcat(g), b"")
    p = spool_run(tmp_path, hold, [], input=g)
    assert (p.returncode, p.stdout, p.stderr) == (0, text, b"")
    bad = bytearray(g)
    bad[-7] ^= 4                        # the trailer's CRC-32
    write(tmp_path / "x.json.gz", bad)
    p = spool_run(tmp_path, hold, ["x.json.gz"])
    assert (p.returncode, p.stdout) == (65, b"")
    assert errs(p) == ["amp-unpack: x.json.gz: corrupt gzip data: "
                       "incorrect data check" + NONE]


@pytest.mark.parametrize("hold", HOLDS)
def test_spooled_multi_member_gzip(tmp_path, hold):
    """gzip members cut at arbitrary bytes, lines running across them:
    the good ones as zcat gives them; from a bad one on, nothing, and of
    the line it would have ended, nothing either."""
    text = event_text("mm", 3000)
    cuts = [0, 7, 200000, 200001, 650000, len(text) - 3, len(text)]
    parts = [text[a:b] for a, b in zip(cuts, cuts[1:])]
    members = [gz(x) for x in parts]
    write(tmp_path / "x.gz", b"".join(members))
    p = spool_run(tmp_path, hold, ["x.gz"])
    assert (p.returncode, p.stderr) == (0, b"")
    assert p.stdout == zcat(b"".join(members)) == text
    for k in range(len(members)):
        bad = list(members)
        b = bytearray(bad[k])
        b[-8] ^= 0x20
        bad[k] = bytes(b)
        write(tmp_path / "x.gz", b"".join(bad))
        p = spool_run(tmp_path, hold, ["x.gz"])
        before = text[:cuts[k]]
        want = before[:before.rfind(b"\n") + 1]
        assert p.returncode == 65
        assert p.stdout == want, k
        assert errs(p) == ["amp-unpack: x.gz: " + file_msg(
            want.count(b"\n"), "corrupt gzip data: incorrect data check")]


@pytest.mark.parametrize("hold", HOLDS)
def test_spooled_huge_lines(tmp_path, hold):
    """Lines longer than the bound wait in the spool for their end, in a
    zip member and in plain NDJSON alike."""
    huge = b'{"big":"' + b"0123456789abcdef" * 20000 + b'"}'
    data = nd([ev("h", 0), huge, huge + b"x", ev("h", 1)], final=False)
    want = data + b"\n"
    ms = [{"name": "609539/609539_2024-01-01_5#0.json", "data": data,
           "method": 8}, {"name": mname(6), "data": gz(data)}]
    archive, _ = build_zip(ms)
    write(tmp_path / "a.zip", archive)
    write(tmp_path / "x.json", data)
    p = spool_run(tmp_path, hold, ["a.zip", "x.json"])
    assert (p.returncode, p.stderr) == (0, b"")
    assert p.stdout == want * 3
    p = spool_run(tmp_path, hold, [], input=data)
    assert (p.returncode, p.stdout, p.stderr) == (0, want, b"")
    ms[0]["crc"] = zlib.crc32(data) ^ 1
    archive, _ = build_zip(ms)
    write(tmp_path / "a.zip", archive)
    p = spool_run(tmp_path, hold, ["a.zip", "x.json"])
    assert p.returncode == 65
    assert p.stdout == want * 2
    none_written(p, "a.zip: 609539/609539_2024-01-01_5#0.json")


def test_spool_progress_and_list(tmp_path):
    big = gz(event_text("p", 3000))
    a = pyzip(tmp_path / "a.zip", [(mname(5), big, 0)])
    p = spool_run(tmp_path, "4096", ["-p", "a.zip"])
    assert (p.returncode, p.stdout) == (0, zcat(big))
    assert re.match(r"amp-unpack: .* \(100%\) ", errs(p)[-1]), errs(p)
    p = spool_run(tmp_path, "4096", ["--list", "a.zip"])
    assert p.returncode == 0
    assert json.loads(p.stdout)["uncompressed"] == len(big)


def test_spool_cannot_be_made(tmp_path):
    a = pyzip(tmp_path / "a.zip", [(mname(5), gz(event_text("t", 50)), 0)])
    p = run([P, "a.zip"], env={"AMP2PH_UNPACK_HOLD": "100",
                               "TMPDIR": str(tmp_path / "nope")},
            cwd=tmp_path)
    assert (p.returncode, p.stdout) == (1, b"")
    assert errs(p) == ["amp-unpack: temporary file in %s: No such file or "
                       "directory" % (tmp_path / "nope")]
    # small members never need it
    p = run([P, "a.zip"], env={"TMPDIR": str(tmp_path / "nope")},
            cwd=tmp_path)
    assert (p.returncode, p.stdout) == (0, event_text("t", 50))


@pytest.mark.parametrize("hold", ["0", "-1", "12k", "67108865", "x"])
def test_hold_bad_value(tmp_path, hold):
    write(tmp_path / "x.json", b"{}\n")
    p = run([P, tmp_path / "x.json"], env={"AMP2PH_UNPACK_HOLD": hold})
    assert (p.returncode, p.stdout) == (2, b"")
    assert errs(p) == ["amp-unpack: AMP2PH_UNPACK_HOLD: not a size from 1 "
                       "to 67108864 bytes: " + hold]


def read_within(f, n, seconds=20):
    """n bytes from pipe f, failing if they take longer than seconds."""
    got = b""
    end = time.time() + seconds
    while len(got) < n:
        r, _, _ = select.select([f], [], [], max(end - time.time(), 0))
        assert r, "no output within %ds: %r" % (seconds, got)
        chunk = os.read(f.fileno(), n - len(got))
        assert chunk, got
        got += chunk
    return got


@pytest.mark.parametrize("kind", ["ndjson", "gzip-members"])
def test_stdin_streams_checked_lines(kind):
    """Plain NDJSON (nothing to check) streams as it comes, and a gzip
    stream member by member: lines come out before the input ends (at
    least half of each 200 KB written: stdio keeps the rest)."""
    a = proc = None
    rest = b""
    try:
        proc = subprocess.Popen([prog(P)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        for i in range(3):
            chunk = event_text("live%d-" % i, 700)
            proc.stdin.write(gz(chunk) if kind == "gzip-members" else chunk)
            proc.stdin.flush()
            half = len(rest) + len(chunk) // 2
            got = read_within(proc.stdout, half)
            assert got == (rest + chunk)[:half]
            rest = (rest + chunk)[half:]
        proc.stdin.close()
        assert proc.stdout.read() == rest
        a = proc.wait(30)
    finally:
        if a is None and proc is not None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    check_sanitizers(err)
    assert (a, err) == (0, b"")


def test_member_past_default_hold(tmp_path):
    """A member of 100 MiB decompressed, past the default 64 MiB bound:
    the spool takes the rest, so memory stays near the bound; the output
    is zcat's, and a bad trailer gives nothing of it."""
    block = b"".join(b'{"$insert_id":"big-%d","n":%d,"pad":"%s"}\n' %
                     (i, i * 7, b"x" * (i % 200)) for i in range(20000))
    data = block * (100 * 1024 * 1024 // len(block) + 1)
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    g = c.compress(data) + c.flush()
    want = hashlib.sha256(data).hexdigest()
    del data
    write(tmp_path / "x.json.gz", g)
    pyzip(tmp_path / "a.zip", [(mname(5), g, 0)])
    t = tmp_path / "tmp"
    t.mkdir()
    env = dict(os.environ, TMPDIR=str(t))
    env.pop("AMP2PH_UNPACK_HOLD", None)
    # Peak RSS by time(1): a child forked from pytest would count
    # pytest's own pages in its peak.
    timer = ["/usr/bin/time", "-f", "%M", "-o", str(tmp_path / "rss")]
    if not os.access(timer[0], os.X_OK):
        timer = []
    for arg in ("x.json.gz", "a.zip"):
        with open(tmp_path / "out", "wb") as out:
            p = subprocess.run(timer + [prog(P), arg], stdout=out,
                               stderr=subprocess.PIPE, cwd=tmp_path,
                               env=env, timeout=120)
        check_sanitizers(p.stderr)
        assert (p.returncode, p.stderr) == (0, b"")
        with open(tmp_path / "out", "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == want
        assert os.listdir(t) == []
        if timer and "san" not in os.environ.get("AMP2PH_BUILD", ""):
            with open(tmp_path / "rss") as f:
                rss = int(f.read().split()[-1])
            assert rss < 96 * 1024, rss         # KB; the bound is 64 MiB
    bad = bytearray(g)
    bad[-8] ^= 1
    write(tmp_path / "x.json.gz", bad)
    p = run([P, "x.json.gz"], cwd=tmp_path, env={"TMPDIR": str(t)})
    assert (p.returncode, p.stdout) == (65, b"")
    assert errs(p) == ["amp-unpack: x.json.gz: corrupt gzip data: "
                       "incorrect data check" + NONE]
    assert os.listdir(t) == []
