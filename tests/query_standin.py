#!/usr/bin/env python3
"""Local stand-in for PostHog's query API (POST /api/projects/ID/query/ with a
HogQLQuery) and project API (GET /api/projects/ID/), reading the events the
capture stand-in (tests/capture_standin.py) recorded: the two share one
store, so a test can send with ph-batch and verify with ph-verify.  For
testing ph-verify and ph-batch's token preflight.  Python 3 standard library
only.  What it imitates comes from PostHog/posthog: posthog/api/query.py
(refresh modes, 202, error mapping), posthog/schema.py (HogQLQueryResponse,
RefreshType), posthog/hogql/transforms/property_types.py and
printer/clickhouse.py (time zones), posthog/hogql/user_query_validator.py
(OFFSET), posthog/hogql/constants.py (row limits), posthog/rate_limit.py
(throttle), posthog/renderers.py (value formats); the UUID order from
ClickHouse's issues #51063 and #76923.

  query_standin.py --store FILE [--port N] [--port-file FILE]
                   [--project ID] [--token TOKEN] [--key KEY]
                   [--scopes LIST] [--name NAME] [--timezone TZ]
                   [--other-projects IDS] [--lag SECS]
                   [--lag-historical SECS] [--collapse] [--cache-ttl SECS]
                   [--rate N/PERIOD] [--faults SPEC] [--seed N] [--log FILE]
                   [--quiet | --verbose]

Listens on 127.0.0.1 (HTTP/1.1, keep-alive, one thread per connection).
The first stdout line is "listening 127.0.0.1:PORT"; --port-file gets the
port (written to a temporary name, then renamed).  SIGTERM/SIGINT: finish
the requests in progress, then exit 0.  stderr: at most 50 lines (errors)
unless --verbose (a line per request); nothing with --quiet.

---------------------------------------------------------------- the store
--store FILE is capture_standin.py's --record file: one line per accepted
event, {"req":N,"event":{...},"historical_migration":bool[,"t":T,
"token":"..."]}.  It is re-read on every request (only appended complete
lines are parsed), so events recorded while this server runs appear.  It may
not exist yet (an empty table).  An event is the project's when its token is
--token: the line's "token" (capture_standin --record-meta, implied by
--accept-any-token); else a token inside the event (token, $token, api_key,
properties.token); else it is assumed to be the project's (the default
capture stand-in records only events of its own --token).  Per event:
  uuid       the event's uuid, normalized to the dashed lowercase form; a
             random one if it has none (capture assigns one)
  timestamp  the event's "timestamp" (ISO 8601 / RFC 3339; zone-less is UTC;
             more than 6 fraction digits are cut); absent or unparsable: the
             time it was recorded (as ingestion uses "now")
  visible    from "t" + --lag seconds (--lag-historical for lines with
             historical_migration true; default: --lag).  A line without "t"
             counts as recorded when this server first read it.
Every stored copy is a row, as in ClickHouse before its parts merge:
count() counts re-sent copies, count(DISTINCT uuid) does not.  --collapse
imitates merged parts: rows with the same (uuid, event, distinct_id, UTC
date of timestamp) -- the ReplacingMergeTree key -- count once.

---------------------------------------------------------------- auth
Personal API key: "Authorization: Bearer KEY" (or ?personal_api_key=KEY).
  401 {"type":"authentication_error","code":"not_authenticated","detail":
      "Authentication credentials were not provided.","attr":null}  (none)
  401 {..,"code":"authentication_failed","detail":"Personal API key found in
      request Authorization header is invalid.",..}          (not --key)
Project id in the path: --project (default 1) or "@current".
  404 {"type":"invalid_request","code":"not_found","detail":"Project not
      found.","attr":null}                 (any other id, or not a number)
  403 {"type":"authentication_error","code":"permission_denied","detail":
      "You don't have access to the project.","attr":null}
                                 (an id listed in --other-projects)
  403 {..,"code":"permission_denied","detail":"API key missing required
      scope 'query:read'",..}    (the endpoint's scope is not in --scopes;
      a :write scope grants :read; "*" grants all; default
      "query:read,project:read")
Checked in that order: key, project, scope.

---------------------------------------------------------------- endpoints
GET /api/projects/ID/ and /api/environments/ID/   (scope project:read)
  200 {"id":ID,"uuid":..,"organization":..,"api_token":TOKEN,"name":NAME,
       "timezone":TZ,"project_id":ID,"created_at":..,..}

POST /api/projects/ID/query/  (also /api/environments/ID/query/; scope
query:read).  Body {"query":{"kind":"HogQLQuery","query":TEXT[,
"modifiers":{..}]}[,"refresh":R][,...]}.
  refresh: absent, "blocking", "force_cache", true, false, "force_blocking",
    "async", "force_async", "lazy_async", "async_except_on_cache_miss";
    anything else -> 400 (code invalid_input, attr "refresh").
    true and "force_blocking" always compute.  The others may answer from
    the cache: a result computed less than --cache-ttl seconds ago (default
    0: never) for the same TEXT, marked "is_cached":true -- stale if events
    arrived since.  The async modes, when not answered from the cache,
    answer 202 {"query_status":{"id":..,"complete":false,..}} and never
    complete (a verifier must not use them).
  Answer 200, HogQLQueryResponse as the API returns it (the cached-response
  form): {"results":[[..],..],"columns":[..],"types":[[name,type],..],
  "hasMore","limit","offset","hogql","query","clickhouse":null,
  "error":null,"explain":null,"metadata":null,"modifiers":{..},
  "timings":[],"is_cached","last_refresh","next_allowed_client_refresh",
  "cache_key","timezone":TZ,"query_status":null}.
  With no LIMIT in TEXT at most 100 rows come back and hasMore (more rows
  exist), limit (100) and offset (0) are set; with a LIMIT they are null.
  A LIMIT above 50000 is cut to 50000 without a sign.
  Values: dates "2024-03-01"; times ISO 8601 in the bucket's zone, "Z" for
  UTC ("2024-03-01T05:00:00Z"; "2024-03-01T00:00:00-05:00" in New York),
  fraction only when not zero; uuids dashed lowercase; counts integers.
  Errors 400 {"type":"validation_error","code":C,"detail":..,"attr":null}:
  C "hogql_syntax_error" (not SQL this grammar can read), "hogql_query_error"
  (readable but outside the subset; OFFSET, as PostHog refuses it for
  personal-key queries: "OFFSET is not supported on queries made with a
  personal API key. ..."), "cannot_parse_uuid" (uuid compared with a string
  that is not a UUID, e.g. '': ClickHouse cannot cast it).  Query kinds
  other than HogQLQuery: 400 code invalid_input.

---------------------------------------------------------------- grammar
The HogQL subset (keywords and function names any case, any whitespace
between tokens; strings in single quotes with backslash escapes;
identifiers may be `quoted` or "quoted"):

  query    := SELECT items FROM events [WHERE cond {AND cond}]
              [GROUP BY alias] [ORDER BY key [ASC|DESC]]
              [LIMIT n [OFFSET n] | LIMIT n, n | OFFSET n]
  items    := bucket AS alias ',' agg {',' agg}         (bucket queries)
            | uuid                                      (the uuid query)
  bucket   := toDate '(' ts ')' | toStartOfHour '(' ts ')'
            | toStartOfDay '(' ts ')'
  ts       := timestamp | toTimeZone '(' ts ',' 'ZONE' ')'
  agg      := count '(' ')' | count '(' '*' ')' | count '(' DISTINCT uuid ')'
            | uniq '(' uuid ')' | uniqExact '(' uuid ')'
  cond     := properties '.' NAME ('='|'==') 'STRING'
            | event ('='|'==') 'STRING'
            | timestamp ('>='|'>'|'<'|'<=') time
            | uuid ('>'|'>=') 'UUID'
  time     := toDateTime '(' 'YYYY-MM-DD[ HH:MM:SS]' [',' 'ZONE'] ')'
            | toDateTime64 '(' 'YYYY-MM-DD HH:MM:SS[.ffffff]' ',' n
                           [',' 'ZONE'] ')'
            | fromUnixTimestamp '(' n ')'
            | 'STRING'
  A bucket query needs GROUP BY its alias; ORDER BY is its alias, or uuid
  for the uuid query (without ORDER BY rows come in store order).

Time zones, as HogQL does them (the point of --timezone, default UTC):
a bare `timestamp` is the project's timezone (HogQL wraps it in
toTimeZone(timestamp, <project tz>)), so toDate(timestamp) is the
project's day (UTC's with "modifiers":{"convertToProjectTimezone":false}
in the HogQLQuery); toTimeZone(timestamp, 'UTC') is UTC.  toDateTime('...')
without a zone, and a bare string compared with timestamp, are read in the
project's timezone; toDateTime('...', 'UTC') is UTC.  The UTC-safe forms:

  Q1 per UTC day:
    select toDate(toTimeZone(timestamp, 'UTC')) as d, count(),
      count(distinct uuid) from events where properties.$lib = 'amp2ph'
      and timestamp >= toDateTime('2024-03-01 00:00:00', 'UTC')
      and timestamp < toDateTime('2024-04-01 00:00:00', 'UTC')
      group by d order by d limit 50000
    -> columns ["d","count()","count(DISTINCT uuid)"], types Date, UInt64,
       UInt64; rows ["2024-03-01", 120, 118]
  Q2 per UTC hour: the same with toStartOfHour(toTimeZone(timestamp,
    'UTC')) as h ... group by h order by h
    -> rows ["2024-03-01T05:00:00Z", 12, 12]; type "DateTime('UTC')"
  Q3 uuids:
    select uuid from events where properties.$lib = 'amp2ph'
      and timestamp >= toDateTime(..., 'UTC') and timestamp <
      toDateTime(..., 'UTC') [and uuid > '<last uuid of the previous page>']
      order by uuid limit 50000
    -> rows ["0190a6f2-1c2d-7e3f-8a9b-0c1d2e3f4a5b"]
  ORDER BY uuid and uuid > '...' use ClickHouse's UUID order, which is NOT
  the string order: by the second half (last 16 hex digits) first, then
  the first half.  Page with the last row's uuid as the next cursor; never
  compare uuids as strings.  Leave the uuid condition out on the first page
  (uuid > '' is an error, cannot_parse_uuid).

---------------------------------------------------------------- limits
--rate N/PERIOD (PERIOD second|minute|hour|day, e.g. 120/hour; default
none): query requests over the rate answer 429 {"type":"throttled_error",
"code":"throttled","detail":"Request was throttled. Expected available in
S seconds.","attr":null} with Retry-After: S (DRF's throttle).

---------------------------------------------------------------- faults
Query requests (POST .../query/) are numbered 1, 2, ... in arrival order;
nothing else is numbered or faulted.  --faults SPEC (also POST /_faults):
rules separated by ';' or newlines, each KIND[:ARG][@WHEN...] (several @WHEN
must all hold; none = every query).  The first rule that applies decides.
  status:CODE  answer CODE (also bare CODE, e.g. 503) with PostHog's body for
               it (503 ClickHouseAtCapacity, 504 timeout, 500 server_error,
               ...)
  429          429 throttled without Retry-After; 429:SECS with Retry-After
  slow:SECS    sleep SECS, then answer normally
  drop         read the request, close the connection without an answer
  WHEN: N | N-M | everyK (K, 2K, ...) | pF (probability F,
  random.Random(--seed), re-seeded when the SPEC is set)

--log FILE  one NDJSON line per numbered query, before its answer:
  {"req","t","kind","status","rows","refresh","query","fault","cached"};
  kind per_day | per_hour | uuids | null (not a supported query).

Control (not numbered, not logged, never faulted, no auth):
  GET /_stats   {"queries":n,"by_kind":{"per_day":n,..},"status_counts":
                 {"200":n,..},"project_requests":n,"rows":n (stored rows of
                 the project), "faults":SPEC}
  GET /_faults  current SPEC (text);  POST /_faults  body = SPEC (replaces
  the set, empty clears, re-seeds the RNG);  DELETE /_faults  clears.
"""

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid as uuidlib
import zoneinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import faults

MAX_ROWS = 50000            # posthog/hogql/constants.py MAX_SELECT_RETURNED_ROWS
DEFAULT_ROWS = 100          # DEFAULT_RETURNED_ROWS
MAX_STDERR_LINES = 50
UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
REFRESH = {None: "blocking", False: "blocking", True: "force_blocking",
           "blocking": "blocking", "force_cache": "blocking",
           "force_blocking": "force_blocking", "async": "async",
           "force_async": "force_async", "lazy_async": "async",
           "async_except_on_cache_miss": "async"}
OFFSET_MSG = (
    "OFFSET is not supported on queries made with a personal API key. "
    "For pagination, use keyset pagination on the `timestamp` column, e.g. "
    "`WHERE timestamp > :last_seen_timestamp ORDER BY timestamp LIMIT N`. "
    "For bulk data extraction, use batch exports: "
    "https://posthog.com/docs/cdp/batch-exports")
STATUS_BODIES = {
    400: ("validation_error", "invalid", "Bad request."),
    401: ("authentication_error", "authentication_failed",
          "Incorrect authentication credentials."),
    403: ("authentication_error", "permission_denied",
          "You do not have permission to perform this action."),
    404: ("invalid_request", "not_found", "Not found."),
    500: ("server_error", "error", "A server error occurred."),
    502: ("server_error", "error", "Bad gateway."),
    503: ("server_error", "error", "Queries are a little too busy right "
          "now. We're working to free up resources. Please try again "
          "later."),
    504: ("server_error", "error", "Query has hit the max execution time "
          "before completing. See our docs for how to improve your query "
          "performance. You may need to materialize."),
}


# ---------------------------------------------------------------- output

class Say:
    def __init__(self, quiet, verbose):
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.left = MAX_STDERR_LINES
        self.lock = threading.Lock()

    def __call__(self, msg):
        if self.quiet:
            return
        with self.lock:
            if not self.verbose:
                if self.left <= 0:
                    return
                self.left -= 1
            try:
                sys.stderr.write("query_standin: %s\n" % msg)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass


def err_body(kind, code, detail, attr=None):
    return {"type": kind, "code": code, "detail": detail, "attr": attr}


class ApiError(Exception):
    def __init__(self, status, kind, code, detail, attr=None, headers=()):
        super().__init__(detail)
        self.status = status
        self.body = err_body(kind, code, detail, attr)
        self.headers = list(headers)


def syntax_error(msg):
    return ApiError(400, "validation_error", "hogql_syntax_error", msg)


def query_error(msg):
    return ApiError(400, "validation_error", "hogql_query_error", msg)


# ---------------------------------------------------------------- faults

def check_fault(kind, arg, text):
    """query_standin's fault kinds and their ARG (tests/faults.py)."""
    if re.fullmatch(r"\d{3}", kind) and kind != "429":
        if arg:
            raise ValueError("%s takes no argument" % kind)
        kind, arg = "status", kind
    if kind == "status":
        arg = faults.status_code(arg, text)
    elif kind == "429":
        if arg is not None and not re.fullmatch(r"\d+", arg):
            raise ValueError("429:SECS needs whole seconds: %r" % text)
    elif kind == "slow":
        arg = faults.seconds(arg, text)
    elif kind == "drop":
        if arg is not None:
            raise ValueError("drop takes no argument")
    else:
        raise ValueError("unknown fault kind %r" % kind)
    return kind, arg


def parse_spec(spec):
    return faults.parse_spec(spec, check_fault)


# ---------------------------------------------------------------- times

TS_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$")


def parse_time(s, zone):
    """An ISO-ish time string -> aware datetime; zone-less ones in zone.
    None if it does not parse."""
    m = TS_RE.match(s.strip())
    if not m:
        return None
    day, hh, mm, ss, frac, off = m.groups()
    try:
        y, mo, d = (int(x) for x in day.split("-"))
        us = int((frac or "0")[:6].ljust(6, "0"))
        t = dt.datetime(y, mo, d, int(hh or 0), int(mm or 0), int(ss or 0),
                        us)
    except ValueError:
        return None
    if off is None:
        return t.replace(tzinfo=zone)
    if off in ("Z", "z"):
        return t.replace(tzinfo=UTC)
    sign = -1 if off[0] == "-" else 1
    digits = off[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return t.replace(tzinfo=dt.timezone(sign * delta))


def to_us(t):
    """aware datetime -> microseconds since the epoch."""
    d = t - EPOCH
    return (d.days * 86400 + d.seconds) * 1000000 + d.microseconds


def from_us(us, zone):
    return (EPOCH + dt.timedelta(microseconds=us)).astimezone(zone)


def fmt_time(t):
    """As orjson with OPT_UTC_Z prints an aware datetime."""
    s = t.isoformat()
    if s.endswith("+00:00"):
        s = s[:-6] + "Z"
    return s


def ch_uuid_key(u):
    """ClickHouse's UUID order: the second half first, then the first."""
    h = u.hex
    return (int(h[16:], 16), int(h[:16], 16))


# ---------------------------------------------------------------- store

class Row:
    __slots__ = ("uuid", "key", "ts", "event", "distinct_id", "props",
                 "token", "visible")


def _event_token(ev):
    for k in ("token", "$token", "api_key"):
        if type(ev.get(k)) is str:
            return ev[k].strip()
    p = ev.get("properties")
    if type(p) is dict and type(p.get("token")) is str:
        return p["token"].strip()
    return None


class Store:
    """The capture stand-in's record file, read incrementally."""

    def __init__(self, path, token, lag, lag_hist, say):
        self.path = path
        self.token = token
        self.lag = lag
        self.lag_hist = lag_hist
        self.say = say
        self.off = 0
        self.rows = []
        self.lock = threading.Lock()
        self.last_new = 0.0        # when rows were last added (cache age)

    def refresh(self):
        """Parse the lines appended since the last call."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n")
        if end < 0:
            return
        chunk = data[:end + 1]
        self.off += len(chunk)
        now = time.time()
        added = 0
        for line in chunk.split(b"\n"):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                row = self._row(rec, now)
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                self.say("store: bad line skipped: %s" % e)
                continue
            if row is not None:
                self.rows.append(row)
                added += 1
        if added:
            self.last_new = now

    def _row(self, rec, now):
        ev = rec["event"]
        if type(ev) is not dict:
            return None
        tok = rec.get("token")
        if tok is None:
            tok = _event_token(ev)
        if tok is None:
            tok = self.token
        if tok != self.token:
            return None
        t = rec.get("t")
        if type(t) not in (int, float):
            t = now
        r = Row()
        u = ev.get("uuid")
        try:
            r.uuid = uuidlib.UUID(u) if type(u) is str and u else \
                uuidlib.uuid4()
        except ValueError:
            r.uuid = uuidlib.uuid4()
        r.key = ch_uuid_key(r.uuid)
        ts = ev.get("timestamp")
        when = parse_time(ts, UTC) if type(ts) is str else None
        r.ts = to_us(when) if when is not None else int(t * 1e6)
        r.event = ev.get("event")
        did = ev.get("distinct_id", ev.get("$distinct_id"))
        p = ev.get("properties")
        r.props = p if type(p) is dict else {}
        if did is None:
            did = r.props.get("distinct_id")
        r.distinct_id = did if type(did) is str else json.dumps(did)
        r.token = tok
        lag = self.lag_hist if rec.get("historical_migration") else self.lag
        r.visible = t + lag
        return r

    def visible(self, now):
        return [r for r in self.rows if r.visible <= now]


# ---------------------------------------------------------------- HogQL

TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^'\\]|\\.|'')*')
  | (?P<qid>`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*")
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<id>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>==|!=|>=|<=|<>|[(),.=<>*;+-])
""", re.X | re.S)

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b",
           "f": "\f", "\\": "\\", "'": "'", '"': '"', "`": "`"}


def _unquote(s):
    body = s[1:-1]
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        elif c == s[0] and i + 1 < len(body) and body[i + 1] == s[0]:
            out.append(c)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def tokenize(text):
    toks = []
    i = 0
    n = len(text)
    while i < n:
        m = TOKEN_RE.match(text, i)
        if not m:
            raise syntax_error("Syntax error at line 1, column %d: token "
                               "recognition error at: '%s'"
                               % (i, text[i:i + 10]))
        i = m.end()
        k = m.lastgroup
        v = m.group()
        if k == "ws":
            continue
        if k == "str":
            toks.append(("str", _unquote(v)))
        elif k == "qid":
            toks.append(("id", _unquote(v)))
        elif k == "num":
            toks.append(("num", v))
        elif k == "id":
            toks.append(("id", v))
        else:
            toks.append(("op", v))
    if toks and toks[-1] == ("op", ";"):
        toks.pop()
    return toks


KEYWORDS = {"select", "from", "where", "and", "group", "by", "order",
            "limit", "offset", "as", "asc", "desc", "distinct", "or", "not",
            "having", "join", "union"}


class Parser:
    """Recursive descent over the subset in the module docstring."""

    def __init__(self, text, zone, field_zone=None):
        self.toks = tokenize(text)
        self.i = 0
        self.zone = zone            # the project's timezone
        # the zone a bare timestamp is shown in: the project's, or UTC with
        # modifiers.convertToProjectTimezone false
        self.field_zone = zone if field_zone is None else field_zone

    # ---- token helpers
    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("eof", "")

    def kw(self, word):
        t = self.peek()
        return t[0] == "id" and t[1].lower() == word

    def op(self, o):
        return self.peek() == ("op", o)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def expect_kw(self, word):
        if not self.kw(word):
            self.fail("expected %s" % word.upper())
        self.take()

    def expect_op(self, o):
        if not self.op(o):
            self.fail("expected '%s'" % o)
        self.take()

    def expect_str(self):
        t = self.take()
        if t[0] != "str":
            self.i -= 1
            self.fail("expected a string")
        return t[1]

    def expect_num(self):
        t = self.take()
        if t[0] != "num":
            self.i -= 1
            self.fail("expected a number")
        return t[1]

    def ident(self):
        t = self.take()
        if t[0] != "id":
            self.i -= 1
            self.fail("expected an identifier")
        return t[1]

    def fail(self, what, unsupported=False):
        t = self.peek()
        near = t[1] if t[0] != "eof" else "<EOF>"
        if unsupported:
            raise query_error("query_standin supports only the documented "
                              "HogQL subset: %s (near %r)" % (what, near))
        raise syntax_error("Syntax error: %s, got %r" % (what, near))

    # ---- grammar
    def parse(self):
        q = {"bucket": None, "aggs": [], "alias": None, "conds": [],
             "group": None, "order": None, "desc": False, "limit": None,
             "offset": None}
        if not self.kw("select"):
            self.fail("expected SELECT")
        self.take()
        self.items(q)
        self.expect_kw("from")
        t = self.ident()
        if t.lower() != "events" and t != "events":
            self.i -= 1
            self.fail("only the events table", True)
        if self.kw("where"):
            self.take()
            q["conds"].append(self.cond())
            while self.kw("and"):
                self.take()
                q["conds"].append(self.cond())
            if self.kw("or"):
                self.fail("OR", True)
        if self.kw("group"):
            self.take()
            self.expect_kw("by")
            q["group"] = self.ident()
        if self.kw("order"):
            self.take()
            self.expect_kw("by")
            q["order"] = self.ident()
            if self.kw("asc"):
                self.take()
            elif self.kw("desc"):
                self.take()
                q["desc"] = True
        if self.kw("limit"):
            self.take()
            n = int(self.expect_num())
            if self.op(","):          # LIMIT offset, count
                self.take()
                q["offset"] = n
                n = int(self.expect_num())
            q["limit"] = n
        if self.kw("offset"):
            self.take()
            q["offset"] = int(self.expect_num())
        if self.peek()[0] != "eof":
            t = self.peek()
            if t[0] == "id" and t[1].lower() in KEYWORDS:
                self.fail("clause %s" % t[1].upper(), True)
            self.fail("expected the end of the query")
        return self.check(q)

    def items(self, q):
        if self.kw("uuid") and not self.peek(1) == ("op", "("):
            self.take()
            q["kind"] = "uuids"
            if self.op(","):
                self.fail("only uuid can be selected with uuid", True)
            return
        q["bucket"], q["zone"] = self.bucket()
        if not self.kw("as"):
            self.fail("the bucket needs AS alias", True)
        self.take()
        q["alias"] = self.ident()
        q["kind"] = "per_hour" if q["bucket"] == "hour" else "per_day"
        if not self.op(","):
            self.fail("at least one aggregate after the bucket", True)
        while self.op(","):
            self.take()
            q["aggs"].append(self.agg())

    def bucket(self):
        name = self.ident()
        low = name.lower()
        kinds = {"todate": "date", "tostartofhour": "hour",
                 "tostartofday": "day"}
        if low not in kinds:
            self.i -= 1
            self.fail("a bucket toDate/toStartOfHour/toStartOfDay(...)",
                      True)
        self.expect_op("(")
        zone = self.ts()
        self.expect_op(")")
        return kinds[low], zone

    def ts(self):
        """timestamp | toTimeZone(ts, 'ZONE') -> the zone it is shown in."""
        if self.kw("timestamp"):
            self.take()
            return self.field_zone
        if self.kw("totimezone"):
            self.take()
            self.expect_op("(")
            self.ts()
            self.expect_op(",")
            z = self.zone_of(self.expect_str())
            self.expect_op(")")
            return z
        self.fail("timestamp or toTimeZone(timestamp, 'ZONE')", True)

    def zone_of(self, name):
        try:
            return UTC if name == "UTC" else zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise query_error("Unknown time zone %r" % name) from None

    def agg(self):
        name = self.ident()
        low = name.lower()
        self.expect_op("(")
        if low == "count":
            if self.op(")"):
                self.take()
                return ("count", "count()")
            if self.op("*"):
                self.take()
                self.expect_op(")")
                return ("count", "count(*)")
            if self.kw("distinct"):
                self.take()
                self.uuid_field()
                self.expect_op(")")
                return ("distinct", "count(DISTINCT uuid)")
        elif low in ("uniq", "uniqexact"):
            self.uuid_field()
            self.expect_op(")")
            return ("distinct", "%s(uuid)" % name)
        self.fail("an aggregate count(), count(DISTINCT uuid), uniq(uuid)",
                  True)

    def uuid_field(self):
        if not self.kw("uuid"):
            self.fail("uuid", True)
        self.take()

    def cond(self):
        if self.op("("):
            self.fail("parentheses in WHERE", True)
        name = self.ident()
        low = name.lower()
        if low == "properties":
            self.expect_op(".")
            key = self.ident()
            self.eq()
            return ("prop", key, self.expect_str())
        if low == "event":
            self.eq()
            return ("event", self.expect_str())
        if low == "timestamp":
            o = self.take()
            if o[0] != "op" or o[1] not in (">=", ">", "<", "<="):
                self.i -= 1
                self.fail("timestamp >=, >, < or <= a time", True)
            return ("ts", o[1], self.time())
        if low == "uuid":
            o = self.take()
            if o[0] != "op" or o[1] not in (">", ">="):
                self.i -= 1
                self.fail("uuid > or >= a string", True)
            s = self.expect_str()
            try:
                u = uuidlib.UUID(s)
            except ValueError:
                raise ApiError(400, "validation_error", "cannot_parse_uuid",
                               "Cannot parse a UUID. Check the format of "
                               "the values converted to UUIDs.") from None
            return ("uuid", o[1], ch_uuid_key(u))
        self.i -= 1
        self.fail("a condition on properties.NAME, event, timestamp or uuid",
                  True)

    def eq(self):
        if self.op("=") or self.op("=="):
            self.take()
            return
        self.fail("'='", True)

    def time(self):
        """-> microseconds since the epoch, or None (NULL: matches none)."""
        t = self.peek()
        if t[0] == "str":
            self.take()
            v = parse_time(t[1], self.zone)
            return None if v is None else to_us(v)
        name = self.ident().lower()
        self.expect_op("(")
        if name == "fromunixtimestamp":
            n = self.expect_num()
            self.expect_op(")")
            return int(float(n)) * 1000000
        if name not in ("todatetime", "todatetime64"):
            self.i -= 2
            self.fail("a time toDateTime('...'[, 'ZONE'])", True)
        s = self.expect_str()
        if name == "todatetime64":
            self.expect_op(",")
            self.expect_num()
        zone = self.zone
        if self.op(","):
            self.take()
            zone = self.zone_of(self.expect_str())
        self.expect_op(")")
        v = parse_time(s, zone)
        if v is not None and name == "todatetime":
            v = v.replace(microsecond=0)
        return None if v is None else to_us(v)

    def check(self, q):
        if q["offset"] is not None:
            raise query_error(OFFSET_MSG)
        if q["kind"] == "uuids":
            if q["group"] is not None:
                self.fail("GROUP BY in the uuid query", True)
            if q["order"] is not None and q["order"].lower() != "uuid":
                self.fail("ORDER BY uuid in the uuid query", True)
        else:
            if q["group"] != q["alias"]:
                raise query_error("query_standin: a bucket query needs "
                                  "GROUP BY %s" % q["alias"])
            if q["order"] is not None and q["order"] != q["alias"]:
                raise query_error("query_standin: ORDER BY must be %s"
                                  % q["alias"])
        return q


def run_query(q, rows, collapse):
    """-> (columns, types, result rows, more rows beyond the limit)."""
    conds = q["conds"]

    def keep(r):
        for c in conds:
            k = c[0]
            if k == "prop":
                v = r.props.get(c[1])
                if v is None:
                    return False
                if type(v) is not str:
                    v = json.dumps(v, separators=(",", ":"))
                if v != c[2]:
                    return False
            elif k == "event":
                if r.event != c[1]:
                    return False
            elif k == "ts":
                b = c[2]
                if b is None:
                    return False
                o = c[1]
                if o == ">=" and not r.ts >= b or o == ">" and \
                        not r.ts > b or o == "<" and not r.ts < b or \
                        o == "<=" and not r.ts <= b:
                    return False
            else:
                if c[1] == ">" and not r.key > c[2] or \
                        c[1] == ">=" and not r.key >= c[2]:
                    return False
        return True

    sel = [r for r in rows if keep(r)]
    if collapse:
        seen = set()
        uniq = []
        for r in sel:
            k = (r.uuid, r.event, r.distinct_id, r.ts // 86400000000)
            if k not in seen:
                seen.add(k)
                uniq.append(r)
        sel = uniq
    if q["kind"] == "uuids":
        if q["order"] is not None:
            sel.sort(key=lambda r: r.key, reverse=q["desc"])
        out = [[str(r.uuid)] for r in sel]
        return ["uuid"], [["uuid", "UUID"]], out
    zone = q["zone"]
    groups = {}
    order = []
    for r in sel:
        t = from_us(r.ts, zone)
        if q["bucket"] == "date":
            b = t.date()
        elif q["bucket"] == "hour":
            b = t.replace(minute=0, second=0, microsecond=0)
        else:
            b = t.replace(hour=0, minute=0, second=0, microsecond=0)
        g = groups.get(b)
        if g is None:
            g = groups[b] = [0, set()]
            order.append(b)
        g[0] += 1
        g[1].add(r.uuid)
    if q["order"] is not None:
        order.sort(reverse=q["desc"])
    zname = "UTC" if zone is UTC else str(zone)
    btype = "Date" if q["bucket"] == "date" else "DateTime('%s')" % zname
    cols = [q["alias"]] + [a[1] for a in q["aggs"]]
    types = [[q["alias"], btype]] + [[a[1], "UInt64"] for a in q["aggs"]]
    out = []
    for b in order:
        g = groups[b]
        row = [b.isoformat() if q["bucket"] == "date" else fmt_time(b)]
        for a in q["aggs"]:
            row.append(g[0] if a[0] == "count" else len(g[1]))
        out.append(row)
    return cols, types, out


# ---------------------------------------------------------------- state

class App:
    def __init__(self, args, say):
        self.args = args
        self.say = say
        self.zone = UTC if args.timezone == "UTC" else \
            zoneinfo.ZoneInfo(args.timezone)
        self.store = Store(args.store, args.token, args.lag,
                           args.lag_historical, say)
        self.lock = threading.Lock()
        self.n = 0
        self.rules = parse_spec(args.faults)
        self.rng = random.Random(args.seed)
        self.by_kind = {}
        self.status_counts = {}
        self.project_requests = 0
        self.active = 0
        self.cache = {}
        self.throttle = []          # times of recent query requests
        self.log = open(args.log, "ab") if args.log else None
        self.uuid = str(uuidlib.UUID(hashlib.md5(
            ("project:%s" % args.project).encode()).hexdigest()))
        self.created = dt.datetime.now(UTC).replace(microsecond=0)

    def set_faults(self, spec):
        rules = parse_spec(spec)
        with self.lock:
            self.rules = rules
            self.rng = random.Random(self.args.seed)
        return rules

    def next_query(self):
        with self.lock:
            self.n += 1
            draws = {}
            for idx, r in enumerate(self.rules):
                for w in r.whens:
                    if w[0] == "p":
                        draws[(idx, w)] = self.rng.random() < w[1]
            return self.n, self.rules, draws

    def throttled(self):
        """--rate: seconds until a query is allowed, or 0 (and count it)."""
        if not self.args.rate:
            return 0
        num, period = self.args.rate
        now = time.time()
        with self.lock:
            h = self.throttle
            while h and h[0] <= now - period:
                h.pop(0)
            if len(h) >= num:
                return max(1, math.ceil(h[0] + period - now))
            h.append(now)
            return 0

    def count(self, kind, status):
        with self.lock:
            if kind is not None:
                self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            k = str(status)
            self.status_counts[k] = self.status_counts.get(k, 0) + 1

    def write_log(self, entry):
        if not self.log:
            return
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with self.lock:
            if self.log:
                self.log.write(line)
                self.log.flush()

    def stats(self):
        with self.store.lock:
            self.store.refresh()
            rows = len(self.store.rows)
        with self.lock:
            return {"queries": self.n, "by_kind": dict(self.by_kind),
                    "status_counts": dict(self.status_counts),
                    "project_requests": self.project_requests,
                    "rows": rows,
                    "faults": ";".join(r.text for r in self.rules)}

    def project(self):
        a = self.args
        return {"id": a.project, "uuid": self.uuid, "project_id": a.project,
                "organization": "0190a000-0000-7000-8000-000000000001",
                "api_token": a.token, "name": a.name,
                "timezone": a.timezone,
                "created_at": fmt_time(self.created),
                "updated_at": fmt_time(self.created),
                "anonymize_ips": False, "completed_snapshot_onboarding": True,
                "ingested_event": True, "test_account_filters": [],
                "is_demo": False, "access_control": False,
                "week_start_day": None, "primary_dashboard": None,
                "live_events_columns": None, "recording_domains": None,
                "person_on_events_querying_enabled": True,
                "data_attributes": ["data-attr"]}

    def close(self):
        with self.lock:
            if self.log:
                try:
                    self.log.close()
                except OSError:
                    pass
                self.log = None


# ---------------------------------------------------------------- HTTP

PATH_RE = re.compile(r"^/api/(projects|environments)/([^/]+)/(query/?)?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PostHogQueryStandin/1"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300

    def log_message(self, fmt, *a):
        if self.server.app.say.verbose:
            self.server.app.say("%s %s" % (self.address_string(), fmt % a))

    def read_body(self):
        cl = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        if not cl:
            return b""
        n = int(cl)
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionResetError("client went away")
        return data

    def respond(self, code, body, ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":")).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        if code != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if code != 204 and self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self):
        app = self.server.app
        with app.lock:
            app.active += 1
        try:
            self.dispatch()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:
            self.server.app.say("internal error: %s"
                                % traceback.format_exc().rstrip())
            try:
                self.respond(500, err_body("server_error", "error",
                                           "A server error occurred."))
            except OSError:
                pass
            self.close_connection = True
        finally:
            with app.lock:
                app.active -= 1

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_POST

    def dispatch(self):
        app = self.server.app
        u = urlsplit(self.path)
        body = self.read_body()
        if u.path in ("/_stats", "/_faults"):
            return self.control(app, u.path, body)
        m = PATH_RE.match(u.path)
        if not m:
            return self.respond(404, err_body("invalid_request", "not_found",
                                              "Not found."))
        is_query = m.group(3) is not None
        if not is_query:
            with app.lock:
                app.project_requests += 1
            return self.api(app, u, m, body, None)
        if self.command != "POST":
            return self.respond(405, err_body(
                "invalid_request", "method_not_allowed",
                'Method "%s" not allowed.' % self.command),
                headers=[("Allow", "POST")])
        n, rules, draws = app.next_query()
        entry = {"req": n, "t": round(time.time(), 6), "kind": None,
                 "status": None, "rows": None, "refresh": None,
                 "query": None, "fault": None, "cached": False}
        act = None
        for idx, r in enumerate(rules):
            if all(faults.when_holds(w, n, idx, draws) for w in r.whens):
                act = r
                break
        if act is not None:
            entry["fault"] = act.text
            if act.kind == "slow":
                time.sleep(act.arg)
            elif act.kind == "drop":
                app.write_log(entry)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            elif act.kind == "429":
                hdr = [("Retry-After", act.arg)] if act.arg else []
                wait = act.arg or "1"
                return self.finish_query(app, entry, 429, err_body(
                    "throttled_error", "throttled", "Request was throttled. "
                    "Expected available in %s second%s." % (
                        wait, "" if wait == "1" else "s")), hdr)
            elif act.kind == "status":
                c = act.arg
                if 200 <= c < 300:
                    b = {"results": [], "columns": [], "types": []}
                else:
                    k, code, d = STATUS_BODIES.get(c, (
                        "server_error", "error", "Injected status %d." % c))
                    b = err_body(k, code, d)
                return self.finish_query(app, entry, c, b)
        return self.api(app, u, m, body, entry)

    def finish_query(self, app, entry, status, body, headers=()):
        entry["status"] = status
        app.count(entry["kind"], status)
        app.write_log(entry)
        if app.say.verbose:
            app.say("#%d query -> %d kind=%s rows=%s fault=%s" % (
                entry["req"], status, entry["kind"], entry["rows"],
                entry["fault"]))
        self.respond(status, body, headers=headers)

    def api(self, app, u, m, body, entry):
        try:
            self.auth(app, u)
            self.check_project(app, m.group(2))
            scope = "query:read" if entry is not None else "project:read"
            self.check_scope(app, scope)
            if entry is None:
                if self.command not in ("GET", "HEAD"):
                    raise ApiError(405, "invalid_request",
                                   "method_not_allowed",
                                   'Method "%s" not allowed.' % self.command)
                return self.respond(200, app.project())
            wait = app.throttled()
            if wait:
                raise ApiError(429, "throttled_error", "throttled",
                               "Request was throttled. Expected available "
                               "in %d second%s." % (wait, "" if wait == 1
                                                    else "s"),
                               headers=[("Retry-After", str(wait))])
            status, res = self.query(app, body, entry)
        except ApiError as e:
            if entry is None:
                return self.respond(e.status, e.body, headers=e.headers)
            return self.finish_query(app, entry, e.status, e.body, e.headers)
        return self.finish_query(app, entry, status, res)

    def auth(self, app, u):
        h = self.headers.get("Authorization")
        key = None
        source = "Authorization header"
        if h is not None:
            parts = h.split(None, 1)
            if len(parts) == 2 and parts[0].lower() == "bearer":
                key = parts[1].strip()
        if key is None:
            q = parse_qs(u.query)
            if q.get("personal_api_key"):
                key = q["personal_api_key"][-1]
                source = "query string"
        if key is None:
            raise ApiError(401, "authentication_error", "not_authenticated",
                           "Authentication credentials were not provided.")
        if key != app.args.key:
            raise ApiError(401, "authentication_error",
                           "authentication_failed", "Personal API key found "
                           "in request %s is invalid." % source)

    def check_project(self, app, pid):
        if pid == "@current" or pid == str(app.args.project):
            return
        if pid.isdigit() and int(pid) in app.args.other_projects:
            raise ApiError(403, "authentication_error", "permission_denied",
                           "You don't have access to the project.")
        raise ApiError(404, "invalid_request", "not_found",
                       "Project not found.")

    def check_scope(self, app, scope):
        have = app.args.scopes
        if "*" in have or scope in have or \
                scope.replace(":read", ":write") in have:
            return
        raise ApiError(403, "authentication_error", "permission_denied",
                       "API key missing required scope '%s'" % scope)

    def query(self, app, body, entry):
        try:
            req = json.loads(body.decode("utf-8")) if body.strip() else None
        except (UnicodeDecodeError, ValueError) as e:
            raise ApiError(400, "validation_error", "parse_error",
                           "JSON parse error - %s" % e)
        if type(req) is not dict or type(req.get("query")) is not dict:
            raise ApiError(400, "validation_error", "invalid_input",
                           "Field required", "query")
        qn = req["query"]
        if qn.get("kind") != "HogQLQuery":
            raise ApiError(400, "validation_error", "invalid_input",
                           "query_standin answers only HogQLQuery, not %r"
                           % qn.get("kind"), "query")
        text = qn.get("query")
        if type(text) is not str:
            raise ApiError(400, "validation_error", "invalid_input",
                           "Input should be a valid string", "query")
        entry["query"] = text
        refresh = req.get("refresh")
        entry["refresh"] = refresh
        if type(refresh) not in (bool, str, type(None)) or \
                refresh not in REFRESH:
            raise ApiError(400, "validation_error", "invalid_input",
                           "Input should be 'async', "
                           "'async_except_on_cache_miss', 'blocking', "
                           "'force_async', 'force_blocking', 'force_cache' "
                           "or 'lazy_async'", "refresh")
        mode = REFRESH[refresh]
        mods = qn.get("modifiers")
        conv = mods.get("convertToProjectTimezone") \
            if type(mods) is dict else None
        q = Parser(text, app.zone, UTC if conv is False else None).parse()
        entry["kind"] = q["kind"]
        with app.store.lock:
            app.store.refresh()
            # after the refresh: rows first read by it get t = now
            now = time.time()
            if mode not in ("force_blocking", "force_async"):
                hit = app.cache.get(text)
                if hit is not None and now - hit[0] < app.args.cache_ttl:
                    entry["cached"] = True
                    res = dict(hit[1])
                    res["is_cached"] = True
                    entry["rows"] = len(res["results"])
                    return 200, res
            if mode in ("async", "force_async"):
                return 202, {"query_status": {
                    "id": uuidlib.uuid4().hex, "team_id": app.args.project,
                    "complete": False, "error": False, "error_message": None,
                    "query_async": True, "results": None,
                    "start_time": fmt_time(dt.datetime.now(UTC)),
                    "end_time": None, "expiration_time": None,
                    "task_id": None, "pickup_time": None,
                    "query_progress": None, "labels": None}}
            rows = app.store.visible(now)
        cols, types, out = run_query(q, rows, app.args.collapse)
        limit = q["limit"]
        has_more = None
        lim_f = off_f = None
        if limit is None:
            has_more = len(out) > DEFAULT_ROWS
            out = out[:DEFAULT_ROWS]
            lim_f, off_f = DEFAULT_ROWS, 0
            hogql = text.rstrip().rstrip(";") + " LIMIT %d" % DEFAULT_ROWS
        else:
            out = out[:min(limit, MAX_ROWS)]
            hogql = text
        stamp = dt.datetime.now(UTC)
        res = {"cache_key": "cache_" + hashlib.sha256(
                   text.encode()).hexdigest()[:32],
               "cache_target_age": None, "calculation_trigger": None,
               "clickhouse": None, "columns": cols, "error": None,
               "explain": None, "hasMore": has_more, "hogql": hogql,
               "is_cached": False, "last_refresh": fmt_time(stamp),
               "limit": lim_f, "metadata": None,
               "modifiers": dict(qn.get("modifiers") or {}),
               "next_allowed_client_refresh": fmt_time(
                   stamp + dt.timedelta(minutes=3)),
               "offset": off_f, "query": text, "query_status": None,
               "results": out, "timezone": app.args.timezone,
               "timings": [], "types": types}
        entry["rows"] = len(out)
        with app.store.lock:
            app.cache[text] = (now, res)
        return 200, res

    def control(self, app, path, body):
        if path == "/_stats":
            if self.command in ("GET", "HEAD"):
                return self.respond(200, app.stats())
            return self.respond(405, {"error": "method not allowed"},
                                headers=[("Allow", "GET")])
        if self.command in ("GET", "HEAD"):
            spec = ";".join(r.text for r in app.rules)
            return self.respond(200, spec + "\n", "text/plain; charset=utf-8")
        if self.command in ("POST", "PUT", "DELETE"):
            spec = "" if self.command == "DELETE" else \
                body.decode("utf-8", "replace")
            try:
                rules = app.set_faults(spec)
            except ValueError as e:
                return self.respond(400, {"status": 400, "error":
                                          "bad fault spec: %s" % e})
            return self.respond(200, {"status": "Ok", "faults":
                                      [r.text for r in rules]})
        return self.respond(405, {"error": "method not allowed"},
                            headers=[("Allow", "GET, POST, DELETE")])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        self.app.say("connection error: %s" % traceback.format_exc().rstrip())


# ---------------------------------------------------------------- main

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60,
           "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(s):
    m = re.fullmatch(r"\s*(\d+)\s*/\s*([a-z]+)\s*", s or "")
    if not m or m.group(2) not in PERIODS or int(m.group(1)) < 1:
        raise ValueError("--rate wants N/second|minute|hour|day: %r" % s)
    return int(m.group(1)), PERIODS[m.group(2)]


def main():
    ap = argparse.ArgumentParser(
        description="PostHog query API stand-in over the capture stand-in's "
        "record", epilog="See the module docstring for the grammar.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--store", required=True, metavar="FILE")
    ap.add_argument("--project", type=int, default=1, metavar="ID")
    ap.add_argument("--token", default="phc_test")
    ap.add_argument("--key", default="phx_test")
    ap.add_argument("--scopes", default="query:read,project:read")
    ap.add_argument("--name", default="Default project")
    ap.add_argument("--timezone", default="UTC")
    ap.add_argument("--other-projects", default="", metavar="IDS",
                    help="ids of projects that exist but the key cannot see")
    ap.add_argument("--lag", type=float, default=0.0, metavar="SECS")
    ap.add_argument("--lag-historical", type=float, default=None,
                    metavar="SECS")
    ap.add_argument("--collapse", action="store_true")
    ap.add_argument("--cache-ttl", type=float, default=0.0, metavar="SECS")
    ap.add_argument("--rate", default=None, metavar="N/PERIOD")
    ap.add_argument("--faults", default="", metavar="SPEC")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log", metavar="FILE")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quiet", action="store_true")
    g.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()
    args.scopes = {s.strip() for s in args.scopes.split(",") if s.strip()}
    try:
        args.other_projects = {int(x) for x in args.other_projects.split(",")
                               if x.strip()}
    except ValueError:
        ap.error("--other-projects wants ids separated by commas")
    if args.lag_historical is None:
        args.lag_historical = args.lag
    try:
        if args.timezone != "UTC":
            zoneinfo.ZoneInfo(args.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        ap.error("--timezone: unknown zone %r" % args.timezone)
    try:
        args.rate = parse_rate(args.rate) if args.rate else None
        parse_spec(args.faults)
    except ValueError as e:
        ap.error(str(e))

    say = Say(args.quiet, args.verbose)
    try:
        app = App(args, say)
        srv = Server(("127.0.0.1", args.port), Handler)
    except OSError as e:
        print("query_standin: %s" % e, file=sys.stderr)
        return 2
    srv.app = app
    port = srv.server_address[1]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda s, f: stop.set())
    signal.signal(signal.SIGINT, lambda s, f: stop.set())
    t = threading.Thread(target=srv.serve_forever,
                         kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    if args.port_file:
        tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    sys.stdout.write("listening 127.0.0.1:%d\n" % port)
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    srv.shutdown()
    deadline = time.time() + 10
    while time.time() < deadline:
        with app.lock:
            if app.active == 0:
                break
        time.sleep(0.02)
    srv.server_close()
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
