"""The libFuzzer targets (fuzz/), briefly: each runs for a few seconds
through scripts/fuzz, which first replays fuzz/regressions/<target>/.

Long runs are for people (`scripts/fuzz 600`); this keeps the targets
building and catches shallow crashes.  Only under the plain build: the
fuzzers carry their own sanitizers, so the build/san pass adds nothing.
"""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

SECONDS = 8
TARGETS = ["fuzz_zip", "fuzz_gunzip", "fuzz_convert", "fuzz_batch_input"]

pytestmark = [
    pytest.mark.skipif(shutil.which("clang") is None,
                       reason="clang (libFuzzer) is not installed"),
    pytest.mark.skipif(os.environ.get("AMP2PH_BUILD", "build") != "build",
                       reason="fuzz targets run once, with the plain build"),
]


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz(target):
    env = dict(os.environ)
    # scripts/fuzz's sanitizer settings, and clang whatever CC says.
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "CC"):
        env.pop(k, None)
    p = subprocess.run([os.path.join(ROOT, "scripts", "fuzz"), str(SECONDS),
                        target], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=600)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err[-6000:]
    assert "Done " in err, err[-2000:]
