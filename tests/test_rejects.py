"""The rejects file (common/rejects) through the real amp-convert: what a
kill -9 leaves, appending after it, and replaying it with jq.

A migration is killed and run again with the same --rejects file, so a
kill may cost one line at most: each line goes out in one write(2) on an
O_APPEND descriptor, and a file whose last line was torn gets a newline
before anything is added.
"""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import check_sanitizers, prog, run, sample_lines


def bad_lines(n, tag):
    """Lines amp-convert rejects: not JSON, some of them not UTF-8."""
    out = []
    for i in range(n):
        pad = b"x" * (150 + i % 97)
        if i % 3 == 0:
            out.append(b"{not json %s %d caf\xe9 \xff %s" % (tag, i, pad))
        else:
            out.append(b"{not json %s %d %s" % (tag, i, pad))
    return out


def nd(lines):
    return b"".join(l + b"\n" for l in lines)


def convert_rejects(path, lines):
    p = run(["amp-convert", "-q", "--rejects", path], input=nd(lines))
    assert p.returncode == 65, p.stderr.decode(errors="replace")
    return p


def parses(line):
    try:
        o = json.loads(line)
    except ValueError:
        return False
    return isinstance(o, dict) and "reason" in o


def test_torn_last_line_is_ended_before_appending(tmp_path):
    f, fresh = tmp_path / "convert.rejects", tmp_path / "fresh.rejects"
    torn = b'{"file":"<stdin>","line":7,"reason":"not JSON","inp'
    f.write_bytes(torn)
    lines = bad_lines(5, b"b")
    convert_rejects(f, lines)
    convert_rejects(fresh, lines)
    # The torn line stays one bad line of its own; the new ones are the
    # same bytes a fresh file gets.
    assert f.read_bytes() == torn + b"\n" + fresh.read_bytes()
    # A whole last line is left as it is.
    convert_rejects(f, lines)
    assert f.read_bytes() == torn + b"\n" + fresh.read_bytes() * 2


def test_kill_9_while_writing_rejects_then_append(tmp_path):
    f, fresh = tmp_path / "convert.rejects", tmp_path / "fresh.rejects"
    chunk = nd(bad_lines(2000, b"a"))
    p = subprocess.Popen([prog("amp-convert"), "-q", "--rejects", str(f)],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        # Keep it busy writing rejects, and kill it in the middle.
        while time.monotonic() < deadline:
            p.stdin.write(chunk)
            p.stdin.flush()
            if f.exists() and f.stat().st_size > (1 << 20):
                break
        os.kill(p.pid, signal.SIGKILL)
    finally:
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
        err = p.stderr.read()
        p.wait()
    assert p.returncode == -signal.SIGKILL
    check_sanitizers(err)
    first = f.read_bytes().split(b"\n")
    if first[-1] == b"":
        first.pop()
    assert len(first) > 1000
    # What the kill left: whole lines, but for the last one at most.
    assert all(parses(l) for l in first[:-1])

    # The re-run appends to the same file.
    lines = bad_lines(300, b"c")
    convert_rejects(f, lines)
    convert_rejects(fresh, lines)
    after = f.read_bytes()
    assert after.endswith(b"\n")
    every = after[:-1].split(b"\n")
    bad = [i for i, l in enumerate(every) if not parses(l)]
    # At most one torn line, alone on its line: the last of the killed
    # run, never glued to a line of the re-run.
    assert len(bad) <= 1
    assert bad in ([], [len(first) - 1])
    new = fresh.read_bytes()[:-1].split(b"\n")
    assert len(new) == 300
    assert every[len(first):] == new
    if bad:
        assert every[bad[0]] == first[-1]


# The replay recipes, as the report to the lead gives them for the README.
REPLAY_TEXT = ("jq -r 'if has(\"input\") then .input "
               "else (.input_base64 | @base64d) end' convert.rejects")
REPLAY_EXACT = ("jq -r 'if has(\"input\") then (.input | @base64) "
                "else .input_base64 end' convert.rejects | "
                "while read -r b; do printf %s \"$b\" | base64 -d; echo; done")


def u_fffd(b):
    """The bytes with each one that is not UTF-8 as U+FFFD, as jq does."""
    out = bytearray()
    i = 0
    while i < len(b):
        for k in (4, 3, 2, 1):
            try:
                b[i:i + k].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if k <= len(b) - i:
                out += b[i:i + k]
                i += k
                break
        else:
            out += "\ufffd".encode()
            i += 1
    return bytes(out)


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_replay_recipes_with_input_base64(tmp_path):
    good = sample_lines(6, 3).splitlines()
    # Events whose only fault is a byte that is not UTF-8 (input_base64
    # in the rejects file), next to lines that are no JSON ("input").
    broken = [l.replace(b'"city":"', b'"city":"caf\xe9 ', 1) for l in good]
    assert all(b"caf\xe9" in l for l in broken)
    notjson = [b"{not json %d" % i for i in range(3)]
    lines = [x for pair in zip(broken, notjson + [b"{oops"] * 3)
             for x in pair]
    f = tmp_path / "convert.rejects"
    convert_rejects(f, lines)
    recs = [json.loads(l) for l in f.read_bytes().splitlines()]
    assert len(recs) == 12
    assert sum("input_base64" in r for r in recs) == 6
    assert sum("input" in r for r in recs) == 6

    sh = lambda cmd: subprocess.run(["sh", "-c", cmd], cwd=tmp_path,
                                    stdout=subprocess.PIPE, check=True).stdout
    # Exact bytes back, in order.
    assert sh(REPLAY_EXACT) == nd(lines)
    # As text: each bad byte becomes U+FFFD, which mends those events.
    text = sh(REPLAY_TEXT)
    assert text == nd([u_fffd(l) for l in lines])
    fixed = [l for l in text.splitlines() if not l.startswith(b"{not") and
             l != b"{oops"]
    # None rejected again (some are dropped by rule: session_start).
    p = run(["amp-convert", "-q"], input=nd(fixed))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert p.stdout
