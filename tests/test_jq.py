"""amp-convert --jq through common/jqprog: libjq 1.6 holds numbers as
doubles, so integers past 2^53 would come back rounded and in exponent
form without a word; they must come back digit for digit."""
import json
import subprocess

from conftest import check_sanitizers, prog

ROW = {"event_type": "Order", "user_id": "u1",
       "event_time": "2024-01-01 00:00:00.000000",
       "uuid": "9b3c6f2e-1d2a-4c5b-8e7f-0a1b2c3d4e5f"}


def convert(props, program):
    row = dict(ROW, event_properties="@@")
    text = json.dumps(row).replace('"@@"', props).encode() + b"\n"
    p = subprocess.run([prog("amp-convert"), "-q", "--jq", program],
                       input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check_sanitizers(p.stderr)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_big_integers_pass_jq_exactly():
    out = convert('{"order":1850000000000000001,"neg":-9007199254740993,'
                  '"edge":9007199254740992,"small":42,"f":0.5,'
                  '"text":"1850000000000000001","nested":[{"id":'
                  '123456789012345678901234567890}]}', ".")
    for raw in (b'"order":1850000000000000001',
                b'"neg":-9007199254740993', b'"edge":9007199254740992',
                b'"small":42', b'"f":0.5', b'"text":"1850000000000000001"',
                b'"id":123456789012345678901234567890'):
        assert raw in out, (raw, out)
    assert b"e+" not in out and b"amp2ph-bigint" not in out


def test_program_sees_them_as_strings_not_changed_numbers():
    out = json.loads(convert('{"order":1850000000000000001}',
                             '.properties.t = (.properties.order|type)'))
    assert out["properties"]["t"] == "string"
    # what the program makes of them is its own: a copy comes back exact
    out = convert('{"order":1850000000000000001}',
                  '.properties.copy = .properties.order')
    assert b'"copy":1850000000000000001' in out
