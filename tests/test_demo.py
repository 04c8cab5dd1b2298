"""scripts/demo (make demo): the whole job on a small sample, and nothing of
it left running afterwards, whether it ends well, fails half-way or is
interrupted.

Every process the demo starts (stand-ins, their workers, the pipeline's
stages) inherits a marker in its environment, so the test finds them all
by it, and no others: tests running beside this one are not counted.
"""
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import BUILD, ROOT, SANITIZER_MARKS

DEMO = os.path.join(ROOT, "scripts", "demo")
EVENTS = "2000"


def marked(mark):
    """Pids of the live processes with mark in their environment."""
    found = []
    needle = b"AMP2PH_DEMO_MARK=" + mark.encode() + b"\0"
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read()
            with open("/proc/%s/stat" % pid, "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env + b"\0" and state != b"Z":
            found.append(int(pid))
    return found


def describe(pids):
    out = []
    for p in pids:
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                out.append("%d %s" % (p, f.read().replace(b"\0", b" ")
                                      .decode(errors="replace")))
        except OSError:
            pass
    return "\n".join(out)


MARKS = []


@pytest.fixture(autouse=True)
def kill_leftovers():
    """Whatever a failed test left running is stopped, not left behind."""
    yield
    while MARKS:
        for p in marked(MARKS.pop()):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


def demo_env(tmp_path, build=BUILD, **extra):
    mark = uuid.uuid4().hex
    MARKS.append(mark)
    env = dict(os.environ)
    env.update({"AMP2PH_BUILD": str(build), "DEMO_EVENTS": EVENTS,
                "DEMO_DIR": str(tmp_path / "demo-out"),
                "AMP2PH_DEMO_MARK": mark})
    env.update(extra)
    return env, mark


def assert_nothing_left(mark):
    left = marked(mark)
    if left:
        desc = describe(left)
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        pytest.fail("left running after the demo:\n" + desc)


def run_demo(env, timeout=240):
    return subprocess.run([DEMO], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=timeout,
                          cwd=ROOT)


def no_sanitizer_reports(d):
    for name in os.listdir(d):
        if name.endswith(".log"):
            with open(os.path.join(d, name), "rb") as f:
                text = f.read()
            for m in SANITIZER_MARKS:
                assert m not in text, (name, text[-3000:])


def test_demo_end_to_end_then_nothing_running(tmp_path):
    env, mark = demo_env(tmp_path)
    p = run_demo(env)
    out = p.stdout.decode()
    assert p.returncode == 0, out + p.stderr.decode()
    assert_nothing_left(mark)
    d = tmp_path / "demo-out"
    no_sanitizer_reports(d)
    assert "0 duplicates" in out
    # The verify step: PostHog (the stand-in) has every event sent.
    lines = [l.strip() for l in out.splitlines()
             if l.strip().startswith("ph-verify: ")]
    assert len(lines) == 1, out
    n = int(lines[0].split()[1])
    assert n > int(EVENTS) // 2
    assert lines[0].startswith("ph-verify: %d events read: %d in PostHog, "
                               "0 missing" % (n, n)), lines[0]
    assert (d / "verify.json").exists()
    assert "complete: every event of the export is in PostHog" in out

    # Again: nothing new to send, nothing left running either.
    env2 = dict(env, AMP2PH_DEMO_MARK=uuid.uuid4().hex)
    MARKS.append(env2["AMP2PH_DEMO_MARK"])
    p = run_demo(env2)
    out = p.stdout.decode()
    assert p.returncode == 0, out + p.stderr.decode()
    assert "Nothing new to send" in out
    assert_nothing_left(env2["AMP2PH_DEMO_MARK"])


def test_demo_failing_half_way_stops_its_stand_ins(tmp_path):
    # The stand-ins are up when amp-export fails.
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name in os.listdir(BUILD):
        src = os.path.join(BUILD, name)
        if os.path.isfile(src) and os.access(src, os.X_OK):
            os.symlink(src, bin_ / name)
    (bin_ / "amp-export").unlink()
    (bin_ / "amp-export").write_text("#!/bin/sh\necho failing >&2\n"
                                     "exit 1\n")
    (bin_ / "amp-export").chmod(0o755)
    env, mark = demo_env(tmp_path, build=bin_)
    p = run_demo(env)
    assert_nothing_left(mark)
    assert p.returncode == 1, p.stdout.decode() + p.stderr.decode()
    assert b"failing" in p.stderr
    assert os.path.exists(tmp_path / "demo-out" / "query.port")


@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130),
                                        (signal.SIGTERM, 143)])
def test_demo_interrupted_stops_everything(tmp_path, sig, status):
    # Interrupted while the pipeline sends: a slow capture would keep it
    # going, so the events are many and the signal comes once ph-batch
    # has started.
    env, mark = demo_env(tmp_path, DEMO_EVENTS="20000")
    d = tmp_path / "demo-out"
    p = subprocess.Popen([DEMO], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            if (d / "batch.log").exists():
                break
            time.sleep(0.02)
        assert p.poll() is None, "the demo ended before the signal"
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == status, (out + err).decode()
    assert_nothing_left(mark)
