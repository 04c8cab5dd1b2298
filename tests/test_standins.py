"""The PostHog stand-ins tested against themselves over HTTP: the query API
stand-in (tests/query_standin.py) reading what the capture stand-in
(tests/capture_standin.py) recorded, and the capture stand-in's lose:F,
--accept-any-token and /flags.  No program of ours runs here."""
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest

DAY = ("select toDate(toTimeZone(timestamp, 'UTC')) as d, count(), "
       "count(distinct uuid) from events where properties.$lib = 'amp2ph' "
       "and timestamp >= toDateTime('%s', 'UTC') "
       "and timestamp < toDateTime('%s', 'UTC') group by d order by d")
HOUR = ("select toStartOfHour(toTimeZone(timestamp, 'UTC')) as h, count(), "
        "count(distinct uuid) from events where properties.$lib = 'amp2ph' "
        "and timestamp >= toDateTime('%s', 'UTC') "
        "and timestamp < toDateTime('%s', 'UTC') group by h order by h")
UUIDS = ("select uuid from events where properties.$lib = 'amp2ph' "
         "and timestamp >= toDateTime('%s', 'UTC') "
         "and timestamp < toDateTime('%s', 'UTC')%s order by uuid limit %d")
LO, HI = "2024-03-01 00:00:00", "2024-03-03 00:00:00"


def uid(i):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "standin-test-%d" % i))


def ev(i, ts, lib="amp2ph", name="click"):
    return {"event": name, "distinct_id": "user%d" % (i % 7), "uuid": uid(i),
            "timestamp": ts, "properties": {"$lib": lib}}


def send(cap, events, token="phc_test"):
    """POST one /batch/; the status."""
    body = json.dumps({"api_key": token, "historical_migration": True,
                       "batch": events}).encode()
    req = urllib.request.Request(cap.url + "/batch/", data=body,
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def http(method, url, body=None):
    data = body if body is None or isinstance(body, bytes) else \
        json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def spread():
    """30 events: 20 on 2024-03-01 (hours 05 and 23), 10 on 03-02 00h;
    plus 3 of another $lib and 2 outside the window."""
    out = []
    for i in range(10):
        out.append(ev(i, "2024-03-01T05:%02d:00.250Z" % i))
    for i in range(10, 20):
        out.append(ev(i, "2024-03-01T23:%02d:00Z" % i))
    for i in range(20, 30):
        out.append(ev(i, "2024-03-02 00:%02d:00" % i))     # zone-less: UTC
    for i in range(30, 33):
        out.append(ev(i, "2024-03-01T06:00:00Z", lib="posthog-js"))
    out.append(ev(33, "2024-02-29T23:59:59.999Z"))
    out.append(ev(34, "2024-03-03T00:00:00Z"))
    return out


@pytest.fixture
def pair(capture_factory, query_factory):
    """A capture stand-in with --record-meta and a query stand-in on it."""
    def make(cap_args=(), query_args=()):
        cap = capture_factory(["--record-meta", "--workers", "0"]
                              + list(cap_args))
        q = query_factory(cap, list(query_args))
        return cap, q
    return make


def ok(resp):
    status, _, body = resp
    assert status == 200, body
    return body


# ---------------------------------------------------------------- shapes

def test_per_day_and_per_hour(pair):
    cap, q = pair()
    assert send(cap, spread()) == 200
    day = ok(q.query(DAY % (LO, HI)))
    assert day["results"] == [["2024-03-01", 20, 20], ["2024-03-02", 10, 10]]
    assert day["columns"] == ["d", "count()", "count(DISTINCT uuid)"]
    assert day["types"] == [["d", "Date"], ["count()", "UInt64"],
                            ["count(DISTINCT uuid)", "UInt64"]]
    # No LIMIT: PostHog's default 100 rows, with hasMore/limit/offset set.
    assert day["hasMore"] is False and day["limit"] == 100 \
        and day["offset"] == 0
    assert day["is_cached"] is False and day["timezone"] == "UTC"
    hour = ok(q.query(HOUR % (LO, HI) + " limit 50000"))
    assert hour["results"] == [["2024-03-01T05:00:00Z", 10, 10],
                               ["2024-03-01T23:00:00Z", 10, 10],
                               ["2024-03-02T00:00:00Z", 10, 10]]
    assert hour["types"][0] == ["h", "DateTime('UTC')"]
    # With a LIMIT: hasMore, limit, offset are null.
    assert hour["hasMore"] is None and hour["limit"] is None
    # Keywords in any case, any whitespace.
    text = ("SELECT\n toStartOfHour( toTimeZone(timestamp,'UTC') )  AS h ,"
            "COUNT(),Count( DISTINCT uuid )\tFROM events WHERE "
            "properties.$lib='amp2ph' AND timestamp>=toDateTime('%s','UTC')"
            " AND timestamp<toDateTime('%s','UTC') GROUP BY h ORDER BY h "
            "LIMIT 10" % (LO, HI))
    assert ok(q.query(text))["results"] == hour["results"]
    st = q.get_json("/_stats")
    assert st["queries"] == 3 and st["by_kind"] == {"per_day": 1,
                                                    "per_hour": 2}
    assert st["status_counts"] == {"200": 3} and st["rows"] == 35


def test_bounds_are_half_open_to_the_microsecond(pair):
    cap, q = pair()
    send(cap, spread())
    r = ok(q.query(DAY % ("2024-02-29 23:59:59", "2024-03-03 00:00:00")))
    assert r["results"][0] == ["2024-02-29", 1, 1]
    r = ok(q.query(DAY % ("2024-03-01 00:00:00", "2024-03-03 00:00:01")))
    assert r["results"][-1] == ["2024-03-03", 1, 1]


def test_project_timezone_matters_without_utc(pair):
    """In a New York project, toDate(timestamp) and a zone-less toDateTime
    are New York's; the toTimeZone(.., 'UTC') / toDateTime(.., 'UTC') forms
    are not."""
    cap, q = pair(query_args=["--timezone", "America/New_York"])
    send(cap, spread())
    utc = ok(q.query(DAY % (LO, HI)))
    assert utc["results"] == [["2024-03-01", 20, 20], ["2024-03-02", 10, 10]]
    assert utc["timezone"] == "America/New_York"
    local = ok(q.query(
        "select toDate(timestamp) as d, count() from events where "
        "properties.$lib = 'amp2ph' and timestamp >= toDateTime('%s', 'UTC')"
        " and timestamp < toDateTime('%s', 'UTC') group by d order by d"
        % (LO, HI)))
    # 05:xx UTC is 00:xx in New York (EST, -5); 23:xx and 00:xx UTC are the
    # evening of 03-01 there.
    assert local["results"] == [["2024-03-01", 30]]
    hours = ok(q.query(
        "select toStartOfHour(timestamp) as h, count() from events where "
        "properties.$lib = 'amp2ph' group by h order by h"))
    assert hours["results"][0] == ["2024-02-29T18:00:00-05:00", 1]
    assert hours["types"][0] == ["h", "DateTime('America/New_York')"]
    st, _, plain = q.request("POST", "/api/projects/1/query/", {
        "refresh": "force_blocking", "query": {
            "kind": "HogQLQuery", "modifiers": {
                "convertToProjectTimezone": False},
            "query": "select toDate(timestamp) as d, count() from events "
                     "where properties.$lib = 'amp2ph' and timestamp >= "
                     "toDateTime('%s', 'UTC') and timestamp < "
                     "toDateTime('%s', 'UTC') group by d order by d"
                     % (LO, HI)}})
    assert st == 200 and plain["results"] == [["2024-03-01", 20],
                                               ["2024-03-02", 10]]
    # toDateTime without a zone reads the bound in New York time: 03-01
    # 00:00 there is 05:00 UTC, so the window is 03-01 05:00 .. 03-02 05:00
    # UTC, and the 23:59:59.999 event of 02-29 UTC stays out.
    shifted = ok(q.query(
        "select toDate(toTimeZone(timestamp, 'UTC')) as d, count() from "
        "events where properties.$lib = 'amp2ph' and timestamp >= "
        "toDateTime('2024-03-01 00:00:00') and timestamp < "
        "toDateTime('2024-03-02 00:00:00') group by d order by d"))
    assert shifted["results"] == [["2024-03-01", 20], ["2024-03-02", 10]]
    bare = ok(q.query(
        "select toDate(toTimeZone(timestamp, 'UTC')) as d, count() from "
        "events where properties.$lib = 'amp2ph' and timestamp >= "
        "'2024-03-01 05:05:00' group by d order by d"))
    # 05:05 New York = 10:05 UTC: the 23:xx, 00:xx and 03-03 events.
    assert bare["results"] == [["2024-03-01", 10], ["2024-03-02", 10],
                               ["2024-03-03", 1]]


# ---------------------------------------------------------------- uuids

def ch_key(u):
    h = uuid.UUID(u).hex
    return (int(h[16:], 16), int(h[:16], 16))


def test_uuid_pages_in_clickhouse_order(pair):
    cap, q = pair()
    evs = [ev(i, "2024-03-01T12:00:%02d.%03dZ" % (i % 60, i))
           for i in range(250)]
    for k in range(0, 250, 100):
        assert send(cap, evs[k:k + 100]) == 200
    pages = []
    cursor = ""
    while True:
        cond = " and uuid > '%s'" % cursor if cursor else ""
        r = ok(q.query(UUIDS % (LO, HI, cond, 100)))
        rows = [row[0] for row in r["results"]]
        assert r["columns"] == ["uuid"] and r["types"] == [["uuid", "UUID"]]
        pages.append(rows)
        if len(rows) < 100:
            break
        cursor = rows[-1]
    assert [len(p) for p in pages] == [100, 100, 50]
    got = [u for p in pages for u in p]
    assert sorted(got) == sorted(uid(i) for i in range(250))
    # ClickHouse's order: second half first.  Not the string order.
    assert got == sorted(got, key=ch_key)
    assert got != sorted(got)
    # '' is no UUID: ClickHouse cannot cast it.
    st, _, b = q.query(UUIDS % (LO, HI, " and uuid > ''", 10))
    assert st == 400 and b["code"] == "cannot_parse_uuid" \
        and b["type"] == "validation_error"


def test_limit_cap_and_offset_refused(pair):
    cap, q = pair()
    send(cap, spread())
    r = ok(q.query(UUIDS % (LO, HI, "", 60000)))
    assert len(r["results"]) == 30 and r["hasMore"] is None
    for tail in (" offset 0", " offset 100"):
        st, _, b = q.query(UUIDS % (LO, HI, "", 10) + tail)
        assert st == 400, b
        assert b["code"] == "hogql_query_error"
        assert b["detail"].startswith("OFFSET is not supported on queries "
                                      "made with a personal API key.")
    st, _, b = q.query("select uuid from events limit 10, 20")
    assert st == 400 and b["code"] == "hogql_query_error"


def test_unsupported_text(pair):
    cap, q = pair()
    st, _, b = q.query("selec uuid from events")
    assert st == 400 and b["code"] == "hogql_syntax_error", b
    assert set(b) == {"type", "code", "detail", "attr"}
    st, _, b = q.query("select event, count() from events group by event")
    assert st == 400 and b["code"] == "hogql_query_error", b
    st, _, b = q.query("select uuid from events where uuid = 'x' or 1")
    assert st == 400 and b["code"] in ("hogql_query_error",
                                       "hogql_syntax_error"), b
    st, _, b = q.request("POST", "/api/projects/1/query/",
                         {"query": {"kind": "EventsQuery", "select": ["*"]}})
    assert st == 400 and b["code"] == "invalid_input"
    st, _, b = q.query(DAY % (LO, HI), refresh="sometimes")
    assert st == 400 and b["attr"] == "refresh"


def test_duplicates_count_until_merged(pair):
    cap, q = pair()
    e = [ev(1, "2024-03-01T05:00:00Z")]
    send(cap, e)
    send(cap, e)
    r = ok(q.query(DAY % (LO, HI)))
    assert r["results"] == [["2024-03-01", 2, 1]]
    assert ok(q.query(UUIDS % (LO, HI, "", 10)))["results"] == \
        [[uid(1)], [uid(1)]]


def test_collapse(capture_factory, query_factory):
    cap = capture_factory(["--record-meta"])
    q = query_factory(cap, ["--collapse"])
    e = [ev(1, "2024-03-01T05:00:00Z")]
    send(cap, e)
    send(cap, e)
    send(cap, [ev(1, "2024-03-02T05:00:00Z")])   # another date: not merged
    r = ok(q.query(DAY % (LO, HI)))
    assert r["results"] == [["2024-03-01", 1, 1], ["2024-03-02", 1, 1]]


# ---------------------------------------------------------------- lag etc.

def test_lag(pair):
    cap, q = pair(query_args=["--lag", "1.5"])
    send(cap, spread())
    t0 = time.time()
    r = ok(q.query(DAY % (LO, HI)))
    if time.time() - t0 < 1.4:
        assert r["results"] == []
    time.sleep(max(0, 1.7 - (time.time() - t0)))
    r = ok(q.query(DAY % (LO, HI)))
    assert r["results"] == [["2024-03-01", 20, 20], ["2024-03-02", 10, 10]]


def test_lag_without_record_times(capture_factory, query_factory):
    """A record without "t": visible --lag after the query stand-in first
    read it."""
    cap = capture_factory()
    q = query_factory(cap, ["--lag", "1"])
    send(cap, spread())
    assert ok(q.query(DAY % (LO, HI)))["results"] == []
    time.sleep(1.2)
    assert len(ok(q.query(DAY % (LO, HI)))["results"]) == 2


def test_429_every_third(pair):
    cap, q = pair(query_args=["--faults", "429:1@every3"])
    send(cap, spread())
    got = []
    for _ in range(7):
        st, h, b = q.query(DAY % (LO, HI))
        got.append(st)
        if st == 429:
            assert h.get("Retry-After") == "1"
            assert b == {"type": "throttled_error", "code": "throttled",
                         "detail": "Request was throttled. Expected "
                         "available in 1 second.", "attr": None}
    assert got == [200, 200, 429, 200, 200, 429, 200]
    log = q.requests()
    assert [e["status"] for e in log] == got
    assert q.get_json("/_stats")["status_counts"] == {"200": 5, "429": 2}
    q.faults("503@1-100")
    assert q.query(DAY % (LO, HI))[0] == 503
    q.faults("")
    assert q.query(DAY % (LO, HI))[0] == 200


def test_rate_limit(pair):
    cap, q = pair(query_args=["--rate", "2/hour"])
    assert q.query(DAY % (LO, HI))[0] == 200
    assert q.query(DAY % (LO, HI))[0] == 200
    st, h, b = q.query(DAY % (LO, HI))
    assert st == 429 and b["code"] == "throttled"
    assert 3590 <= int(h["Retry-After"]) <= 3600


def test_cache_unless_force_blocking(pair):
    cap, q = pair(query_args=["--cache-ttl", "60"])
    send(cap, spread()[:10])
    a = ok(q.query(DAY % (LO, HI), refresh=None))
    assert a["results"] == [["2024-03-01", 10, 10]]
    send(cap, spread()[10:30])
    b = ok(q.query(DAY % (LO, HI), refresh="blocking"))
    assert b["is_cached"] is True and b["results"] == a["results"]
    c = ok(q.query(DAY % (LO, HI), refresh="force_blocking"))
    assert c["is_cached"] is False
    assert c["results"] == [["2024-03-01", 20, 20], ["2024-03-02", 10, 10]]
    st, _, d = q.query(DAY % (LO, HI) + " limit 5", refresh="force_async")
    assert st == 202 and d["query_status"]["complete"] is False


# ---------------------------------------------------------------- auth

def test_auth_and_project(capture_factory, query_factory):
    # --record-meta: the record says each event's token (else every
    # recorded event is taken to be the project's)
    cap = capture_factory(["--record-meta"])
    q = query_factory(cap, ["--project", "42", "--token", "phc_proj",
                            "--other-projects", "7", "--name", "Prod",
                            "--timezone", "Europe/Berlin"])
    st, _, b = q.project(42)
    assert st == 200 and b["id"] == 42 and b["api_token"] == "phc_proj"
    assert b["name"] == "Prod" and b["timezone"] == "Europe/Berlin"
    assert q.project("@current")[2]["api_token"] == "phc_proj"
    assert q.request("GET", "/api/environments/42/")[0] == 200
    st, _, b = q.project(42, key=None)
    assert st == 401 and b == {"type": "authentication_error",
                               "code": "not_authenticated", "detail":
                               "Authentication credentials were not "
                               "provided.", "attr": None}
    st, _, b = q.query("select uuid from events limit 1", project=42,
                       key="phx_wrong")
    assert st == 401 and b["code"] == "authentication_failed"
    st, _, b = q.project(7)
    assert st == 403 and b["code"] == "permission_denied" and \
        b["detail"] == "You don't have access to the project."
    st, _, b = q.project(8)
    assert st == 404 and b["detail"] == "Project not found."
    assert q.query("select uuid from events limit 1", project=8)[0] == 404
    assert ok(q.query("select uuid from events limit 1", project=42))[
        "results"] == []
    # The project's events only: the capture stand-in's token is phc_test.
    send(cap, spread())
    assert ok(q.query("select uuid from events limit 1", project=42))[
        "results"] == []


def test_missing_scope(capture_factory, query_factory):
    cap = capture_factory()
    q = query_factory(cap, ["--scopes", "project:read"])
    st, _, b = q.query(DAY % (LO, HI))
    assert st == 403 and b == {"type": "authentication_error",
                               "code": "permission_denied", "detail":
                               "API key missing required scope "
                               "'query:read'", "attr": None}
    assert q.project()[0] == 200
    q2 = query_factory(cap, ["--scopes", "query:write"])
    assert q2.query(DAY % (LO, HI))[0] == 200       # :write grants :read
    st, _, b = q2.project()
    assert st == 403 and "'project:read'" in b["detail"]


# ---------------------------------------------------------------- capture

def test_lose_once_then_resend_is_kept(pair):
    cap, q = pair(cap_args=["--faults", "lose:0.3", "--seed", "5"])
    evs = [ev(i, "2024-03-01T05:00:%02dZ" % (i % 60)) for i in range(200)]
    for k in range(0, 200, 50):
        assert send(cap, evs[k:k + 50]) == 200      # 200 all the same
    kept = {json.loads(l)["event"]["uuid"] for l in open(cap.record)}
    lost = [e for e in evs if e["uuid"] not in kept]
    assert 30 <= len(lost) <= 90, len(lost)
    st = cap.get_json("/_stats")
    assert st["lost_events"] == len(lost)
    assert st["accepted_events"] == 200 - len(lost)
    assert sum(r.get("lost", 0) for r in cap.requests()) == len(lost)
    r = ok(q.query(DAY % (LO, HI)))
    assert r["results"] == [["2024-03-01", 200 - len(lost), 200 - len(lost)]]
    # The same selection on another run with the same seed.
    again = {e["uuid"] for e in lost}
    # A re-send of the lost events: each uuid is lost at most once.
    assert send(cap, lost) == 200
    r = ok(q.query(DAY % (LO, HI)))
    assert r["results"] == [["2024-03-01", 200, 200]]
    assert cap.get_json("/_stats")["lost_events"] == len(again)


def test_lose_is_deterministic(capture_factory):
    picks = []
    for _ in range(2):
        cap = capture_factory(["--faults", "lose:0.5@2"])
        evs = [ev(i, "2024-03-01T05:00:00Z") for i in range(40)]
        send(cap, evs[:20])
        send(cap, evs[20:])                          # only request 2 loses
        kept = {json.loads(l)["event"]["uuid"] for l in open(cap.record)}
        assert {uid(i) for i in range(20)} <= kept
        picks.append(sorted({uid(i) for i in range(20, 40)} - kept))
    assert picks[0] == picks[1] and 0 < len(picks[0]) < 20


def test_accept_any_token(capture_factory, query_factory):
    strict = capture_factory()
    assert send(strict, [ev(1, "2024-03-01T05:00:00Z")], "phc_other") == 401
    cap = capture_factory(["--accept-any-token"])
    q = query_factory(cap)
    mine = [ev(i, "2024-03-01T05:00:00Z") for i in range(5)]
    other = [ev(i, "2024-03-01T05:00:00Z") for i in range(5, 12)]
    assert send(cap, mine, "phc_test") == 200
    assert send(cap, other, " phc_elsewhere\n") == 200
    assert send(cap, other, "phx_personal") == 401        # shape still checked
    recs = [json.loads(l) for l in open(cap.record)]
    assert [r["token"] for r in recs] == ["phc_test"] * 5 + \
        ["phc_elsewhere"] * 7
    assert all(isinstance(r["t"], float) for r in recs)
    r = ok(q.query(DAY % (LO, HI)))
    assert r["results"] == [["2024-03-01", 5, 5]]
    assert q.get_json("/_stats")["rows"] == 5


def test_default_record_lines_unchanged(capture_factory):
    """Without --record-meta the line ends with historical_migration, as
    tests/test_batch.py parses it."""
    cap = capture_factory()
    send(cap, [ev(1, "2024-03-01T05:00:00Z")])
    line = open(cap.record, "rb").read()
    assert line.startswith(b'{"req":1,"event":{')
    assert line.endswith(b',"historical_migration":true}\n')


def test_flags(capture_factory):
    cap = capture_factory(["--accept-any-token"])
    u = cap.url
    st, ct, b = http("POST", u + "/flags/?v=2",
                     {"token": "phc_nope", "distinct_id": "x"})
    assert st == 401 and ct.startswith("text/plain")
    assert b == (b"The provided API key is invalid or has expired. Please "
                 b"check your API key and try again.")
    st, ct, b = http("POST", u + "/flags/?v=2",
                     {"token": "phc_test", "distinct_id": "x"})
    assert st == 200 and ct == "application/json"
    b = json.loads(b)
    assert b["errorsWhileComputingFlags"] is False and b["flags"] == {}
    uuid.UUID(b["requestId"])
    st, _, b = http("POST", u + "/flags?v=1",
                    {"api_key": "phc_test", "distinct_id": "x"})
    assert st == 200 and json.loads(b)["featureFlags"] == {}
    st, _, b = http("POST", u + "/flags/?v=2", {"distinct_id": "x"})
    assert st == 401 and b.startswith(b"No API token provided.")
    st, _, b = http("POST", u + "/flags/?v=2", {"token": "phc_test"})
    assert st == 400 and b.startswith(b"The distinct_id field is missing")
    st, _, b = http("POST", u + "/flags/?v=2", b"{not json")
    assert st == 400 and b.startswith(b"Failed to parse request")
    # GET proves nothing: 200 whatever the token.
    st, _, b = http("GET", u + "/flags/?v=2&token=phc_nope")
    assert st == 200 and json.loads(b)["flags"] == {}
    st, _, b = http("POST", u + "/decide/?v=3",
                    {"token": "phc_test", "distinct_id": "x"})
    assert st == 200 and "featureFlags" in json.loads(b)
    st = cap.get_json("/_stats")
    assert st["requests"] == 0                   # /flags is not numbered
    assert st["flags"]["requests"] == 8
    assert st["flags"]["status_counts"] == {"401": 2, "200": 4, "400": 2}
