"""The C unit drivers of tests/unit/, as one pytest test.

tests/unit/run builds each driver against $AMP2PH_BUILD/libamp2ph.a
(build/, or build/san/ with ASan+UBSan) and runs it; this passes when every
check of every driver does.  The drivers' own "ok"/"not ok" lines are shown
on failure.
"""
import os
import subprocess

from conftest import BUILD, ROOT


def test_unit_drivers():
    env = dict(os.environ)
    env["AMP2PH_BUILD"] = os.path.relpath(BUILD, ROOT)
    p = subprocess.run(["sh", os.path.join(ROOT, "tests", "unit", "run")],
                       cwd=ROOT, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=600)
    out = p.stdout.decode(errors="replace")
    failures = [l for l in out.splitlines()
                if l.startswith(("not ok", "# ", "== ")) or "error" in l]
    last = out.strip().splitlines()[-1] if out.strip() else "(no output)"
    assert p.returncode == 0, "%s\n%s\n\n%s" % (
        last, "\n".join(failures), out[-6000:])
    assert last.endswith(" 0 failed"), last
