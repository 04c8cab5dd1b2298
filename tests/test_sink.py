"""scripts/sink.c, the bench's capture sink: it answers like capture and
counts what ph-batch sent (events, bytes as sent and as JSON), for plain
and gzip bodies (whole, in several members), and refuses bad gzip."""
import gzip
import http.client
import json
import os
import subprocess
import time

import pytest

from conftest import TOOLS


@pytest.fixture
def sink(tmp_path):
    path = os.path.join(TOOLS, "sink")
    if not os.path.exists(path):
        pytest.skip("sink not built")
    pf = tmp_path / "port"
    p = subprocess.Popen([path, "--port", "0", "--port-file", str(pf),
                          "--quiet"], stdout=subprocess.DEVNULL)
    for _ in range(200):
        if pf.exists() and pf.read_text().strip():
            break
        time.sleep(0.02)
    yield int(pf.read_text())
    p.terminate()
    p.wait(timeout=10)


def post(port, body, path="/batch/"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", path, body=body,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.status, r.read()
    c.close()
    return out


def stats(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/_stats")
    d = json.loads(c.getresponse().read())
    c.close()
    return d


def batch(n, pad=""):
    return json.dumps({"api_key": "phc_x", "batch": [
        {"event": "e", "distinct_id": "d%d" % i, "properties":
         {"s": "a \"quoted\" [x] {y} %s" % pad}} for i in range(n)]}).encode()


def test_counts_plain_gzip_and_members(sink):
    body = batch(3)
    assert post(sink, body)[0] == 200
    gz = gzip.compress(batch(500, "p" * 300))
    assert post(sink, gz)[0] == 200
    # two gzip members, one body: as gzip readers take it
    two = batch(7)
    half = len(two) // 2
    assert post(sink, gzip.compress(two[:half]) +
                gzip.compress(two[half:]))[0] == 200
    s = stats(sink)
    assert s["requests"] == 3
    assert s["events"] == 3 + 500 + 7
    assert s["bytes"] == len(body) + len(gz) + len(gzip.compress(
        two[:half])) + len(gzip.compress(two[half:]))
    assert s["json_bytes"] == len(body) + len(batch(500, "p" * 300)) + \
        len(two)


def test_bad_gzip_is_400_and_not_counted(sink):
    gz = gzip.compress(batch(10))
    status, answer = post(sink, gz[:-9])     # cut short
    assert status == 400 and b"bad gzip" in answer
    bad = bytearray(gz)
    bad[len(bad) // 2] ^= 0xff
    assert post(sink, bytes(bad))[0] == 400
    assert stats(sink)["events"] == 0
