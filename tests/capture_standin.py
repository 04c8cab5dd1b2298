#!/usr/bin/env python3
"""Local stand-in for PostHog's capture endpoint (the Rust `capture` service),
with fault injection, for testing ph-batch.  Python 3 standard library only.

  capture_standin.py --record FILE [--port N] [--port-file FILE]
                     [--token TOKEN] [--faults SPEC] [--seed N]
                     [--max-body BYTES] [--log FILE] [--quiet | --verbose]

Listens on 127.0.0.1 (HTTP/1.1, keep-alive, one thread per connection).
The first stdout line is "listening 127.0.0.1:PORT"; --port-file gets the
port (written to a temporary name, then renamed).

Capture paths (POST): /batch /e /i/v0/e /capture /track, each with or without
a trailing slash.  Body: gzip (detected by the bytes 1f 8b, or
?compression=gzip|gzip-js, or Content-Encoding: gzip) or plain UTF-8 JSON;
Content-Length or chunked.  JSON forms, as capture's untagged RawRequest:
  {"api_key"|"token": T, "batch": [EVENT...], "historical_migration": bool,
   "sent_at": str}                          (a batch)
  EVENT                                     (one event, token inside it)
  [EVENT, ...]                              (array, token inside events)
Answers (validation order as capture's; any bad event refuses the WHOLE
request, nothing recorded):
  413 body or decompressed body over --max-body
  400 bad gzip / bad UTF-8 / bad JSON / wrong types (event not a string, uuid
      not a UUID, properties not an object, ...) / empty batch / a batch
      without api_key
  401 no token, token empty, > 64 bytes, non-ASCII, NUL, phx_ prefix, or not
      --token (default phc_test)
  400 an event with an empty name, or no distinct_id (distinct_id,
      $distinct_id or properties.distinct_id; null and "" count as missing)
  200 {"status":"Ok"}: accepted ($performance_event events are dropped, as
      capture does)
Error bodies: {"type":..,"code":..,"detail":msg,"status":n,"error":msg}.

--record FILE  one NDJSON line per accepted event, appended and flushed before
  the 200 is sent: {"req":N,"event":<the event's JSON text as received>,
  "historical_migration":bool}.  (An event's text is re-serialized only if it
  holds a raw newline or a U+0085/U+2028/U+2029 character.)
--log FILE  one NDJSON line per numbered request: {"req","t","path","status",
  "events","bytes","gzip","fault","recorded","dur"}; status is null when the
  connection was closed without an answer (drop, drop-after).

Control (not numbered, not logged, never faulted):
  GET /_stats   {"requests","accepted_events","status_counts":{"200":n,..},
                 "no_answer","faults"}
  GET /_faults  current SPEC (text);  POST /_faults  body = SPEC (replaces
  the set, empty clears, re-seeds the RNG);  DELETE /_faults  clears.

Fault SPEC: rules separated by ';' or newlines, each KIND[:ARG][@WHEN...]
(several @WHEN on one rule must all hold; none = every request).  Rules are
tried in order; the first that applies decides.
  status:CODE  answer CODE with a small JSON body (also bare CODE, e.g. 503)
  429          429 without Retry-After;  429:SECS  with Retry-After: SECS
  drop         read the request, close the connection without an answer
  drop-after   process normally (record the events if valid), then close
               without an answer: a lost 200
  slow:SECS    sleep SECS, then answer normally
  html200      200 text/html page (a misconfigured proxy); nothing recorded
  reject-event:NAME  400 if the request holds an event named NAME
  413:BYTES    413 if the raw body is larger than BYTES
  WHEN: N | N-M | everyK (K, 2K, ...) | pF (probability F, random.Random(seed))
Requests are numbered 1, 2, ... in arrival order since start-up (every
request except the control paths above).
"""

import argparse
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import traceback
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CAPTURE_PATHS = frozenset(
    p + s for p in ("/batch", "/e", "/i/v0/e", "/capture", "/track")
    for s in ("", "/"))
DEFAULT_MAX_BODY = 20 * 1024 * 1024
DRAIN_CAP = 512 * 1024 * 1024   # bodies beyond this are not read: 413 + close
MAX_STDERR_LINES = 50           # the test harness never reads our stderr

HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Welcome</title></head>"
             b"<body><h1>It works!</h1><p>This is not the PostHog API.</p>"
             b"</body></html>\n")

UUID_RE = re.compile(
    r"[0-9a-fA-F]{32}"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}"
    r"|urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
WS = re.compile(r"[ \t\n\r]*").match
BATCH_FIELDS = frozenset(("batch", "api_key", "token", "historical_migration",
                          "sent_at"))
EVENT_FIELDS = frozenset(("event", "token", "$token", "api_key", "distinct_id",
                          "$distinct_id", "uuid", "properties", "timestamp",
                          "offset", "$set", "$set_once"))
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
MISSING = object()


# ---------------------------------------------------------------- output

class Say:
    """stderr, capped: a parent that never reads our pipe must not block us."""

    def __init__(self, quiet, verbose):
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.left = MAX_STDERR_LINES
        self.lock = threading.Lock()

    def __call__(self, msg, always=False):
        if self.quiet:
            return
        with self.lock:
            if not (self.verbose or always or self.left > 0):
                return
            if not self.verbose:
                self.left -= 1
            try:
                sys.stderr.write("capture_standin: %s\n" % msg)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass


# ---------------------------------------------------------------- faults

WHEN_RE = re.compile(
    r"(?:(\d+)(?:-(\d+))?|every(\d+)|p(\d*\.?\d+(?:[eE]-?\d+)?))$")


class Rule:
    __slots__ = ("kind", "arg", "whens", "text")

    def __init__(self, kind, arg, whens, text):
        self.kind, self.arg, self.whens, self.text = kind, arg, whens, text


def parse_when(w):
    m = WHEN_RE.match(w)
    if not m:
        raise ValueError("bad WHEN %r" % w)
    a, b, every, p = m.groups()
    if a is not None:
        lo = int(a)
        hi = int(b) if b is not None else lo
        if lo < 1 or hi < lo:
            raise ValueError("bad request range %r" % w)
        return ("n", lo, hi)
    if every is not None:
        k = int(every)
        if k < 1:
            raise ValueError("bad every%d" % k)
        return ("every", k)
    x = float(p)
    if not 0.0 <= x <= 1.0:
        raise ValueError("probability %r not in [0,1]" % p)
    return ("p", x)


def parse_rule(text):
    parts = text.split("@")
    head = parts[0]
    whens = []
    # reject-event:NAME may contain '@': only trailing parts that parse as
    # WHEN are WHENs.
    while len(parts) > 1 and WHEN_RE.match(parts[-1].strip()):
        whens.insert(0, parse_when(parts.pop().strip()))
    head = "@".join(parts).strip()
    kind, sep, arg = head.partition(":")
    kind = kind.strip().lower()
    arg = arg.strip() if sep else None
    if re.fullmatch(r"\d{3}", kind) and not (kind in ("429", "413") and arg):
        if arg:
            raise ValueError("%s takes no argument" % kind)
        if kind == "429":
            arg = None
        else:
            arg, kind = kind, "status"
    if kind == "status":
        if not arg or not re.fullmatch(r"\d{3}", arg) or not \
                200 <= int(arg) <= 599:
            raise ValueError("status needs a code 200-599: %r" % text)
        arg = int(arg)
    elif kind == "429":
        if arg is not None:
            if not re.fullmatch(r"\d+", arg):
                raise ValueError("429:SECS needs whole seconds: %r" % text)
    elif kind == "slow":
        try:
            arg = float(arg)
        except (TypeError, ValueError):
            raise ValueError("slow needs seconds: %r" % text) from None
        if not 0 <= arg <= 3600:
            raise ValueError("slow seconds out of range: %r" % text)
    elif kind == "413":
        if not arg or not re.fullmatch(r"\d+", arg):
            raise ValueError("413 needs BYTES: %r" % text)
        arg = int(arg)
    elif kind == "reject-event":
        if not arg:
            raise ValueError("reject-event needs an event name: %r" % text)
    elif kind in ("drop", "drop-after", "html200"):
        if arg is not None:
            raise ValueError("%s takes no argument" % kind)
    else:
        raise ValueError("unknown fault kind %r" % kind)
    return Rule(kind, arg, tuple(whens), text.strip())


def parse_spec(spec):
    rules = []
    for part in re.split(r"[;\n]", spec or ""):
        if part.strip():
            rules.append(parse_rule(part))
    return tuple(rules)


# ---------------------------------------------------------------- payload

class Reject(Exception):
    """A refusal, with capture's status and code."""

    def __init__(self, status, code, msg, kind="validation_error",
                 reason=None):
        super().__init__(msg)
        self.status, self.code, self.msg, self.kind = status, code, msg, kind
        self.reason = reason

    def body(self):
        b = {"type": self.kind, "code": self.code, "detail": self.msg,
             "status": self.status, "error": self.msg}
        if self.reason:
            b["reason"] = self.reason
        return b


def bad_request(code, msg):
    return Reject(400, code, msg)


def _no_constant(name):
    raise ValueError("invalid number %s" % name)


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_SCAN = _DECODER.scan_once
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def _scan(text, i):
    try:
        return _SCAN(text, i)
    except StopIteration as e:
        raise bad_request("request_parsing_error",
                          "failed to parse request: expected value at "
                          "character %d" % e.value) from None
    except (ValueError, RecursionError) as e:
        raise bad_request("request_parsing_error",
                          "failed to parse request: %s" % e) from None


def _scan_array(text, i, out):
    """text[i] == '['; append (obj, start, end) per element; return end."""
    n = len(text)
    i = WS(text, i + 1).end()
    if i < n and text[i] == "]":
        return i + 1
    while True:
        obj, end = _scan(text, i)
        out.append((obj, i, end))
        i = WS(text, end).end()
        c = text[i] if i < n else ""
        if c == ",":
            i = WS(text, i + 1).end()
        elif c == "]":
            return i + 1
        else:
            raise bad_request("request_parsing_error",
                              "failed to parse request: expected ',' or ']' "
                              "at character %d" % i)


def _parse_top(text):
    """Parse the JSON body.  Returns (form, top, items): form 'array' |
    'batch' | 'one'; top the top-level dict (or None); items a list of
    (event_obj, start, end) with offsets of each event's text."""
    n = len(text)
    i = WS(text, 0).end()
    if i >= n:
        raise bad_request("request_parsing_error",
                          "failed to parse request: EOF while parsing a value")
    items = []
    c = text[i]
    if c == "[":
        end = _scan_array(text, i, items)
        form, top = "array", None
    elif c == "{":
        start = i
        top = {}
        dups = set()
        batch_seen = False
        i = WS(text, i + 1).end()
        if i < n and text[i] == "}":
            end = i + 1
        else:
            while True:
                if i >= n or text[i] != '"':
                    raise bad_request("request_parsing_error",
                                      "failed to parse request: key must be "
                                      "a string at character %d" % i)
                key, i = _scan(text, i)
                i = WS(text, i).end()
                if i >= n or text[i] != ":":
                    raise bad_request("request_parsing_error",
                                      "failed to parse request: expected ':' "
                                      "at character %d" % i)
                i = WS(text, i + 1).end()
                if key in top:
                    dups.add(key)
                if key == "batch" and i < n and text[i] == "[":
                    del items[:]
                    i = _scan_array(text, i, items)
                    top[key] = [it[0] for it in items]
                    batch_seen = True
                else:
                    top[key], i = _scan(text, i)
                    if key == "batch":
                        batch_seen = False
                i = WS(text, i).end()
                c = text[i] if i < n else ""
                if c == ",":
                    i = WS(text, i + 1).end()
                elif c == "}":
                    end = i + 1
                    break
                else:
                    raise bad_request("request_parsing_error",
                                      "failed to parse request: expected ',' "
                                      "or '}' at character %d" % i)
        dups &= BATCH_FIELDS if "batch" in top else EVENT_FIELDS
        if dups:
            raise bad_request("request_parsing_error",
                              "failed to parse request: duplicate field `%s`"
                              % sorted(dups)[0])
        if "batch" in top:
            form = "batch"
            if not batch_seen:
                raise bad_request("request_parsing_error",
                                  "failed to parse request: invalid type: "
                                  "`batch` must be an array")
        else:
            form = "one"
            items = [(top, start, end)]
    else:
        raise bad_request("request_parsing_error",
                          "failed to parse request: data did not match any "
                          "variant of untagged enum RawRequest")
    if WS(text, end).end() != n:
        raise bad_request("request_parsing_error",
                          "failed to parse request: trailing characters at "
                          "character %d" % end)
    return form, top, items


def _shape_error(ev):
    """serde-level checks of one RawEvent; a message, or None if fine."""
    if type(ev) is not dict:
        return "invalid type: expected struct RawEvent (an object)"
    name = ev.get("event", MISSING)
    if name is MISSING:
        return "missing field `event`"
    if type(name) is not str:
        return "invalid type: `event` must be a string"
    ntok = ("token" in ev) + ("$token" in ev) + ("api_key" in ev)
    if ntok:
        if ntok > 1:
            return "duplicate field `token` (token/$token/api_key)"
        t = ev.get("token", ev.get("$token", ev.get("api_key")))
        if t is not None and type(t) is not str:
            return "invalid type: `token` must be a string"
    if "$distinct_id" in ev and "distinct_id" in ev:
        return "duplicate field `distinct_id` (distinct_id/$distinct_id)"
    u = ev.get("uuid")
    if u is not None:
        if type(u) is not str:
            return "invalid type: `uuid` must be a string"
        if u and not UUID_RE.fullmatch(u):
            return "invalid uuid %r" % u[:80]
    p = ev.get("properties", MISSING)
    if p is not MISSING and type(p) is not dict:
        return "invalid type: `properties` must be an object"
    t = ev.get("timestamp")
    if t is not None and type(t) is not str:
        return "invalid type: `timestamp` must be a string"
    o = ev.get("offset")
    if o is not None and (type(o) is not int or not I64_MIN <= o <= I64_MAX):
        return "invalid type: `offset` must be an i64"
    for k in ("$set", "$set_once"):
        s = ev.get(k)
        if s is not None and type(s) is not dict:
            return "invalid type: `%s` must be an object" % k
    return None


def _event_token(ev):
    for k in ("token", "$token", "api_key"):
        if k in ev:
            t = ev[k]
            if t is not None:
                return t
            break
    p = ev.get("properties")
    if p:
        t = p.get("token")
        if type(t) is str:
            return t
    return None


def _check_token(token, want):
    """capture's token.rs validate_token, then the project check."""
    if token is None:
        raise Reject(401, "missing_api_key", "event submitted without an "
                     "api_key", "authentication_error", "no_token")
    t = token.strip()
    reason = None
    if not t:
        reason = "empty"
    elif len(t.encode("utf-8", "surrogatepass")) > 64:
        reason = "too_long"
    elif not t.isascii():
        reason = "not_ascii"
    elif t.startswith("phx_"):
        reason = "personal_api_key"
    elif "\0" in t:
        reason = "null_byte"
    if reason:
        raise Reject(401, "missing_api_key" if reason == "empty" else
                     "invalid_api_key", "API key is not valid: " + reason,
                     "authentication_error", reason)
    if t != want:
        raise Reject(401, "invalid_api_key", "Project API key invalid. You "
                     "can find your project API key in PostHog project "
                     "settings.", "authentication_error", "unknown_token")


class Parsed:
    """The decoded request: form, text, items, historical flag."""
    __slots__ = ("form", "text", "top", "items", "historical")


def decode_request(raw, gzip_hint, max_body):
    """raw body -> Parsed (shape only: no token or event semantics)."""
    if raw[:2] == b"\x1f\x8b" or gzip_hint:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = d.decompress(raw, max_body + 1)
            if len(data) > max_body or d.unconsumed_tail:
                raise Reject(413, "payload_too_large", "maximum event size "
                             "exceeded: decompressed payload exceeds %d bytes"
                             % max_body)
            if not d.eof:
                raise zlib.error("truncated gzip stream")
        except zlib.error:
            raise bad_request("request_decoding_error",
                              "failed to decode request: invalid GZIP data") \
                from None
    else:
        data = raw
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("request_decoding_error",
                          "failed to decode request: invalid UTF8 in request "
                          "payload") from None
    form, top, items = _parse_top(text)
    p = Parsed()
    p.form, p.text, p.top, p.items, p.historical = form, text, top, items, False
    return p


def validate(p, want_token):
    """capture's checks after decoding; raises Reject, or returns the list of
    (obj, start, end) to record."""
    items = p.items
    for ev, _, _ in items:
        msg = _shape_error(ev)
        if msg:
            raise bad_request("request_parsing_error",
                              "failed to parse request: " + msg)
    top = p.top
    if p.form == "batch":
        ntok = ("api_key" in top) + ("token" in top)
        tok = top.get("api_key", top.get("token"))
        if ntok != 1 or type(tok) is not str:
            raise bad_request("request_hydration_error",
                              "failed to parse request: a batch needs a "
                              "string api_key (or token)")
        hm = top.get("historical_migration")
        if hm is not None and type(hm) is not bool:
            raise bad_request("request_parsing_error",
                              "failed to parse request: invalid type: "
                              "`historical_migration` must be a boolean")
        sa = top.get("sent_at")
        if sa is not None and type(sa) is not str:
            raise bad_request("request_parsing_error",
                              "failed to parse request: invalid type: "
                              "`sent_at` must be a string")
        p.historical = bool(hm)
    if not items:
        raise bad_request("empty_batch", "request holds no event")
    keep = [it for it in items if it[0]["event"] != "$performance_event"]
    if not keep:
        raise bad_request("empty_payload_filtered",
                          "payload empty after filtering invalid event types")
    if p.form == "batch":
        token = top.get("api_key", top.get("token"))
    elif len(keep) == 1:
        token = _event_token(keep[0][0])
    else:
        toks = {_event_token(it[0]) for it in keep} - {None}
        if len(toks) > 1:
            raise Reject(401, "invalid_api_key", "batch submitted with "
                         "inconsistent api_key values",
                         "authentication_error", "multiple_tokens")
        token = toks.pop() if toks else None
    _check_token(token, want_token)
    for ev, _, _ in keep:
        if ev["event"] == "":
            raise bad_request("missing_event_name",
                              "event submitted with an empty event name")
        did = ev["distinct_id"] if "distinct_id" in ev else \
            ev.get("$distinct_id")
        props = ev.get("properties")
        if did is None and props:
            did = props.get("distinct_id")
        if did is None or did == "":
            raise bad_request("missing_distinct_id",
                              "event submitted without a distinct_id")
        if props and "$cookieless_mode" in props and \
                type(props["$cookieless_mode"]) is not bool:
            raise bad_request("invalid_cookieless_mode",
                              "event submitted with invalid cookieless mode")
    return keep


def record_text(req, p, keep):
    """The record lines of one request, as one str."""
    text = p.text
    tail = ',"historical_migration":%s}\n' % ("true" if p.historical
                                               else "false")
    head = '{"req":%d,"event":' % req
    out = []
    for obj, s, e in keep:
        ev = text[s:e]
        if "\n" in ev or "\r" in ev or (not ev.isascii() and (
                "\x85" in ev or "\u2028" in ev or "\u2029" in ev)):
            ev = _ENCODE(obj)
        out.append(head + ev + tail)
    return "".join(out)


# ---------------------------------------------------------------- state

class App:
    def __init__(self, args, say):
        self.args = args
        self.say = say
        self.num_lock = threading.Lock()
        self.io_lock = threading.Lock()
        self.n = 0
        self.rules = parse_spec(args.faults)
        self.rng = random.Random(args.seed)
        self.accepted = 0
        self.status_counts = {}
        self.no_answer = 0
        self.closed = False
        self.rec = open(args.record, "ab")
        self.log = open(args.log, "ab") if args.log else None

    def set_faults(self, spec):
        rules = parse_spec(spec)
        with self.num_lock:
            self.rules = rules
            self.rng = random.Random(self.args.seed)
        return rules

    def next_request(self):
        """Number a request; snapshot the rules and draw its random picks."""
        with self.num_lock:
            self.n += 1
            rules = self.rules
            draws = {}
            for idx, r in enumerate(rules):
                for w in r.whens:
                    if w[0] == "p":
                        draws[(idx, w)] = self.rng.random() < w[1]
            return self.n, rules, draws

    def record(self, data):
        """Append record lines; False if shut down."""
        with self.io_lock:
            if self.closed:
                return False
            self.rec.write(data)
            self.rec.flush()
            return True

    def finish(self, entry, accepted):
        st = entry["status"]
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode() \
            if self.log else None
        with self.io_lock:
            self.accepted += accepted
            if st is None:
                self.no_answer += 1
            else:
                k = str(st)
                self.status_counts[k] = self.status_counts.get(k, 0) + 1
            if line and not self.closed:
                self.log.write(line)
                self.log.flush()

    def stats(self):
        with self.num_lock:
            n = self.n
            spec = ";".join(r.text for r in self.rules)
        with self.io_lock:
            return {"requests": n, "accepted_events": self.accepted,
                    "status_counts": dict(self.status_counts),
                    "no_answer": self.no_answer, "faults": spec}

    def close(self):
        with self.io_lock:
            if self.closed:
                return
            self.closed = True
            for f in (self.rec, self.log):
                if f:
                    try:
                        f.flush()
                        f.close()
                    except OSError:
                        pass


def when_holds(w, n, idx, draws):
    k = w[0]
    if k == "n":
        return w[1] <= n <= w[2]
    if k == "every":
        return n % w[1] == 0
    return draws.get((idx, w), False)


# ---------------------------------------------------------------- HTTP

class BodyTooBig(Exception):
    def __init__(self, drained, size=None):
        super().__init__()
        self.drained = drained   # False: unread bytes remain, must close
        self.size = size         # the body's length, when known


class BadFraming(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PostHogCaptureStandin/1"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300

    def log_message(self, fmt, *a):
        self.server.app.say("%s %s" % (self.address_string(), fmt % a))

    # ------------------------------------------------------------ body
    def _drain(self, n):
        while n > 0:
            got = self.rfile.read(min(n, 1 << 20))
            if not got:
                raise ConnectionResetError("client went away")
            n -= len(got)

    def read_body(self, limit):
        """The body, or BodyTooBig (over limit), BadFraming, ConnectionError."""
        te = self.headers.get("Transfer-Encoding")
        if te is not None and "chunked" in te.lower():
            return self._read_chunked(limit)
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        cl = cl.strip()
        if not cl.isdigit():
            raise BadFraming("bad Content-Length")
        n = int(cl)
        if n > limit:
            if n > DRAIN_CAP:
                raise BodyTooBig(False, n)
            self._drain(n)
            raise BodyTooBig(True, n)
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionResetError("client went away")
        return data

    def _read_chunked(self, limit):
        parts = []
        total = 0
        over = False
        while True:
            line = self.rfile.readline(1026)
            if not line:
                raise ConnectionResetError("client went away")
            if not line.endswith(b"\n"):
                raise BadFraming("chunk size line too long")
            size = line.split(b";", 1)[0].strip()
            try:
                size = int(size, 16)
            except ValueError:
                raise BadFraming("bad chunk size") from None
            if size < 0:
                raise BadFraming("bad chunk size")
            if size == 0:
                break
            total += size
            if total > limit:
                over = True
                if total > DRAIN_CAP:
                    raise BodyTooBig(False)
                self._drain(size)
            else:
                data = self.rfile.read(size)
                if len(data) != size:
                    raise ConnectionResetError("client went away")
                parts.append(data)
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BadFraming("chunk not followed by CRLF")
        while True:     # trailers
            line = self.rfile.readline(65537)
            if not line:
                raise ConnectionResetError("client went away")
            if line in (b"\r\n", b"\n"):
                break
        if over:
            raise BodyTooBig(True, total)
        return b"".join(parts)

    # ------------------------------------------------------------ answer
    def respond(self, code, body=b"", ctype="application/json",
                headers=(), close=False):
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        if close:
            self.close_connection = True
        reason = self.responses.get(code, ("Unknown",))[0]
        h = ["HTTP/1.1 %d %s" % (code, reason),
             "Server: " + self.server_version,
             "Date: " + self.date_time_string()]
        if code == 204:
            body = b""
        else:
            h.append("Content-Type: " + ctype)
            h.append("Content-Length: %d" % len(body))
        h.extend("%s: %s" % kv for kv in headers)
        if self.close_connection:
            h.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            h.append("Connection: keep-alive")
        if self.command == "HEAD":
            body = b""
        self.wfile.write(("\r\n".join(h) + "\r\n\r\n").encode("latin-1")
                         + body)

    def no_answer(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ------------------------------------------------------------ dispatch
    def do_POST(self):
        self.dispatch()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_POST

    def dispatch(self):
        app = self.server.app
        try:
            u = urlsplit(self.path)
        except ValueError:
            u = urlsplit("/")
        path = u.path
        if path in ("/_stats", "/_faults"):
            return self.control(app, path)
        t0 = time.time()
        n, rules, draws = app.next_request()
        entry = {"req": n, "t": round(t0, 6), "path": path, "status": None,
                 "events": None, "bytes": 0, "gzip": False, "fault": None,
                 "recorded": 0, "dur": None}
        accepted = 0
        try:
            accepted = self.capture(app, u, n, rules, draws, entry)
        except (ConnectionError, TimeoutError, OSError) as e:
            self.close_connection = True
            entry["error"] = type(e).__name__
        except Exception as e:     # never let one request take us down
            app.say("request %d: internal error: %s" % (
                n, traceback.format_exc().rstrip()))
            entry["error"] = repr(e)[:200]
            try:
                self.respond(500, {"type": "server_error", "code":
                                   "internal_error", "detail": "internal "
                                   "server error", "status": 500,
                                   "error": "internal server error"},
                             close=True)
                entry["status"] = 500
            except OSError:
                pass
        finally:
            entry["dur"] = round(time.time() - t0, 6)
            entry["recorded"] = accepted
            app.finish(entry, accepted)
            if app.say.verbose:
                app.say("#%d %s %s -> %s events=%s bytes=%d fault=%s" % (
                    n, self.command, path, entry["status"], entry["events"],
                    entry["bytes"], entry["fault"]))

    def control(self, app, path):
        try:
            body = self.read_body(1 << 20)
        except BodyTooBig as e:
            return self.respond(413, {"error": "too large"},
                                close=not e.drained)
        except BadFraming as e:
            return self.respond(400, {"error": str(e)}, close=True)
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
            app.say("faults set: %r" % ";".join(r.text for r in rules))
            return self.respond(200, {"status": "Ok", "faults":
                                      [r.text for r in rules]})
        return self.respond(405, {"error": "method not allowed"},
                            headers=[("Allow", "GET, POST, DELETE")])

    def capture(self, app, u, n, rules, draws, entry):
        """Handle one numbered request; return the number of events
        recorded."""
        args = app.args
        try:
            raw = self.read_body(args.max_body)
        except BodyTooBig as e:
            entry["status"] = 413
            entry["bytes"] = e.size
            self.respond(413, Reject(413, "payload_too_large", "maximum event "
                                     "size exceeded: request body exceeds "
                                     "%d bytes" % args.max_body).body(),
                         close=not e.drained)
            return 0
        except BadFraming as e:
            entry["status"] = 400
            self.respond(400, bad_request("request_decoding_error",
                                          str(e)).body(), close=True)
            return 0
        entry["bytes"] = len(raw)
        path = u.path
        if path not in CAPTURE_PATHS:
            entry["status"] = 404
            self.respond(404, {"type": "invalid_request", "code": "not_found",
                               "detail": "no route for %s" % path,
                               "status": 404, "error": "not found"})
            return 0
        if self.command != "POST":
            entry["status"] = 405
            self.respond(405, {"type": "invalid_request",
                               "code": "method_not_allowed",
                               "detail": "use POST", "status": 405,
                               "error": "method not allowed"},
                         headers=[("Allow", "POST")])
            return 0

        q = parse_qs(u.query)
        comp = (q.get("compression") or [""])[-1].lower()
        if comp:
            hint = comp in ("gzip", "gzip-js")
        else:
            hint = (self.headers.get("Content-Encoding") or "").strip() \
                .lower() in ("gzip", "gzip-js")
        entry["gzip"] = hint or raw[:2] == b"\x1f\x8b"

        cache = []

        def parsed():
            """(Parsed or None, Reject or None), decoded once."""
            if not cache:
                try:
                    p = decode_request(raw, hint, args.max_body)
                    entry["events"] = len(p.items)
                    cache.append((p, None))
                except Reject as e:
                    cache.append((None, e))
            return cache[0]

        # ---- faults: the first rule that applies decides
        act = None
        for idx, r in enumerate(rules):
            if not all(when_holds(w, n, idx, draws) for w in r.whens):
                continue
            if r.kind == "413" and len(raw) <= r.arg:
                continue
            if r.kind == "reject-event":
                p = parsed()[0]
                if p is None or not any(
                        type(it[0]) is dict and it[0].get("event") == r.arg
                        for it in p.items):
                    continue
            act = r
            break
        if act is not None:
            entry["fault"] = act.text
            k = act.kind
            if k == "status":
                parsed()
                entry["status"] = act.arg
                self.respond(act.arg, {"status": act.arg,
                                       "code": "injected_fault",
                                       "error": "injected status %d" %
                                       act.arg} if act.arg != 200 else
                             {"status": "Ok"})
                return 0
            if k == "429":
                parsed()
                entry["status"] = 429
                self.respond(429, {"type": "throttled", "code": "rate_limited",
                                   "detail": "rate limited", "status": 429,
                                   "error": "rate limited"},
                             headers=[("Retry-After", act.arg)]
                             if act.arg is not None else ())
                return 0
            if k == "drop":
                parsed()
                self.no_answer()
                return 0
            if k == "html200":
                parsed()
                entry["status"] = 200
                self.respond(200, HTML_PAGE, "text/html; charset=utf-8")
                return 0
            if k == "reject-event":
                entry["status"] = 400
                self.respond(400, bad_request(
                    "invalid_event", "event %r refused (injected "
                    "reject-event)" % act.arg).body())
                return 0
            if k == "413":
                parsed()
                entry["status"] = 413
                self.respond(413, Reject(413, "payload_too_large",
                                         "maximum event size exceeded: body "
                                         "over %d bytes (injected)" % act.arg)
                             .body())
                return 0
            if k == "slow":
                time.sleep(act.arg)
            # slow and drop-after fall through to normal processing

        # ---- normal processing
        p, err = parsed()
        recorded = 0
        if err is None:
            try:
                keep = validate(p, args.token)
            except Reject as e:
                err = e
        if err is None:
            data = record_text(n, p, keep).encode("utf-8")
            if app.record(data):
                recorded = len(keep)
                status, body = 200, {"status": "Ok"}
            else:
                status, body = 503, {"type": "server_error",
                                     "code": "service_unavailable",
                                     "detail": "shutting down",
                                     "status": 503, "error": "shutting down"}
        else:
            status, body = err.status, err.body()
        if act is not None and act.kind == "drop-after":
            self.no_answer()
            return recorded
        entry["status"] = status
        self.respond(status, body)
        return recorded


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

def main():
    ap = argparse.ArgumentParser(
        description="PostHog capture stand-in with fault injection",
        epilog="See the module docstring for the SPEC grammar.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--record", required=True, metavar="FILE")
    ap.add_argument("--token", default="phc_test")
    ap.add_argument("--faults", default="", metavar="SPEC")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY,
                    metavar="BYTES")
    ap.add_argument("--log", metavar="FILE")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quiet", action="store_true",
                   help="nothing on stderr")
    g.add_argument("--verbose", "-v", action="store_true",
                   help="one stderr line per request")
    args = ap.parse_args()
    if args.max_body < 0:
        ap.error("--max-body must be >= 0")
    try:
        parse_spec(args.faults)
    except ValueError as e:
        ap.error("--faults: %s" % e)

    say = Say(args.quiet, args.verbose)
    try:
        app = App(args, say)
    except OSError as e:
        print("capture_standin: %s" % e, file=sys.stderr)
        return 2
    try:
        srv = Server(("127.0.0.1", args.port), Handler)
    except OSError as e:
        print("capture_standin: cannot listen on 127.0.0.1:%d: %s" % (
            args.port, e), file=sys.stderr)
        return 2
    srv.app = app
    port = srv.server_address[1]

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t = threading.Thread(target=srv.serve_forever, kwargs={
        "poll_interval": 0.1}, daemon=True)
    t.start()
    if args.port_file:
        tmpname = "%s.tmp.%d" % (args.port_file, os.getpid())
        with open(tmpname, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmpname, args.port_file)
    sys.stdout.write("listening 127.0.0.1:%d\n" % port)
    sys.stdout.flush()

    while not stop.wait(0.5):
        pass
    srv.shutdown()
    srv.server_close()
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
