#!/usr/bin/env python3
"""Local stand-in for PostHog's capture endpoint (the Rust `capture` service),
with fault injection, for testing ph-batch.  Python 3 standard library only.

  capture_standin.py --record FILE [--port N] [--port-file FILE]
                     [--token TOKEN] [--accept-any-token] [--record-meta]
                     [--faults SPEC] [--seed N]
                     [--max-body BYTES] [--log FILE] [--workers N]
                     [--quiet | --verbose]

Listens on 127.0.0.1 (HTTP/1.1, keep-alive, one thread per connection).
The first stdout line is "listening 127.0.0.1:PORT"; --port-file gets the
port (written to a temporary name, then renamed).  SIGTERM/SIGINT: finish
the requests in progress, then exit 0.  stderr: at most 50 lines (errors)
unless --verbose (a line per request); nothing with --quiet.

Decoding and validation are CPU-bound (~20k events/s per core), so they run
in --workers N worker processes (default: the CPU count, at most 4; 0 = in
this process).  Workers start in the background (requests are handled in
this process until one is ready) and exit when the server exits or dies.
One request uses one worker: more throughput needs parallel connections.

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
      --token (default phc_test).  With --accept-any-token any token of the
      right shape is accepted, as real capture does (rust/capture token.rs
      checks only the shape; "We don't validate these against team lookup
      at the edge"): events of a token that is no project are answered 200
      and recorded with their token, and the query stand-in
      (tests/query_standin.py) stores only those of its project.
  400 an event with an empty name, or no distinct_id (distinct_id,
      $distinct_id or properties.distinct_id; null and "" count as missing)
  200 {"status":"Ok"}: accepted ($performance_event events are dropped, as
      capture does)
Error bodies: {"type":..,"code":..,"detail":msg,"status":n,"error":msg}
(type validation_error or authentication_error; code as Rust capture's, e.g.
missing_distinct_id; 401s have code invalid_api_key or missing_api_key and a
"reason": empty, too_long, not_ascii, personal_api_key, null_byte,
unknown_token, no_token, multiple_tokens).

--record FILE  one NDJSON line per accepted event, appended and flushed before
  the 200 is sent: {"req":N,"event":<the event's JSON text as received>,
  "historical_migration":bool}.  (An event's text is re-serialized only if it
  holds a raw newline or a U+0085/U+2028/U+2029 character.)
  Lines of concurrent requests may interleave by request, never within one.
  With --record-meta (implied by --accept-any-token) each line also ends
  with "t" (unix time, float, when recorded: before the 200) and "token"
  (the request's token, trimmed):
  {"req":N,"event":..,"historical_migration":bool,"t":1700000000.123456,
   "token":"phc_.."}.  They are opt-in because tests parse the default
  line's bytes (it must end with ,"historical_migration":true}).
--log FILE  one NDJSON line per numbered request, written just before its
  answer: {"req","t","path","status","events","bytes","gzip","fault",
  "recorded","dur"} (plus "lost" when a lose: rule applied); events is null
  if the body did not decode; status is
  null when the connection was closed without an answer (drop, drop-after,
  or a slow: whose client hung up); fault is the rule's text or null.

Feature flags (/flags, /flags/, /decide, /decide/; not numbered, not logged,
never faulted; counted in /_stats "flags"), as rust/feature-flags answers:
  POST body JSON (or gzip of it) {"token"|"api_key": T, "distinct_id": D}:
    400 text/plain "Failed to parse request: ..." (not a JSON object)
    401 text/plain "No API token provided. Please include a valid API token
        in your request."                                   (no token)
    401 text/plain "The provided API key is invalid or has expired. Please
        check your API key and try again."   (T is not --token: even with
        --accept-any-token, since /flags knows the projects)
    400 text/plain "The distinct_id field is missing from the request.
        Please include a valid identifier."
    200 application/json, no flags defined:  /flags?v=2 (and v>=2, and
        neither v nor config given): {"errorsWhileComputingFlags":false,
        "flags":{},"requestId":UUID}; /flags?v=1: {"errorsWhileComputingFlags":
        false,"featureFlags":{},"featureFlagPayloads":{},"requestId":UUID};
        /decide: v=1/none {"featureFlags":[],..}, v=2 {"featureFlags":{},..},
        v=3 the v=1 flags shape, v>=4 the v=2 shape; config=true (and
        /decide, and the no-v-no-config default) add supportedCompression,
        config, toolbarParams, isAuthenticated, sessionRecording.
  GET/HEAD: 200 minimal flags answer WITHOUT any token check (as the real
  service: only a POST proves a token);  OPTIONS 204;  others 405.

Control (not numbered, not logged, never faulted):
  GET /_stats   {"requests","accepted_events","status_counts":{"200":n,..},
                 "no_answer","faults","lost_events",
                 "flags":{"requests":n,"status_counts":{..}}}
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
  slow:SECS    sleep SECS, then answer normally (if the client hung up
               meanwhile, nothing is recorded, as a cancelled request)
  html200      200 text/html page (a misconfigured proxy); nothing recorded
  reject-event:NAME  400 if the request holds an event named NAME
  413:BYTES    413 if the raw body is larger than BYTES
  lose:F       a quota / silent loss: answer 200 as usual but do not record
               the events chosen: an event is chosen when a hash of (--seed,
               its uuid, normalized; its JSON text if it has none) is below
               F (0..1), and it was never lost before: each uuid is lost at
               most once in the server's life, so a re-send of a lost event
               is recorded.  Deterministic; runs in this process (not in
               the workers).  /_stats "lost_events" counts them.
  WHEN: N | N-M | everyK (K, 2K, ...) | pF (probability F, random.Random(seed))
Requests are numbered 1, 2, ... in arrival order since start-up (every
request except the control paths above; also 404s), and are not renumbered
when the SPEC changes.  Only POSTs to capture paths are faulted.
"""

import argparse
import hashlib
import json
import os
import pickle
import queue
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import faults

CAPTURE_PATHS = frozenset(
    p + s for p in ("/batch", "/e", "/i/v0/e", "/capture", "/track")
    for s in ("", "/"))
FLAGS_PATHS = frozenset(("/flags", "/flags/", "/decide", "/decide/"))
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
UUID_FULL = UUID_RE.fullmatch
WS = re.compile(r"[ \t\n\r]*").match
_WS_CHARS = frozenset(" \t\n\r")
HEX_RE = re.compile(rb"[0-9a-fA-F]{1,16}")
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

def check_fault(kind, arg, text):
    """capture_standin's fault kinds and their ARG (tests/faults.py)."""
    if re.fullmatch(r"\d{3}", kind) and not (kind in ("429", "413") and arg):
        if arg:
            raise ValueError("%s takes no argument" % kind)
        if kind == "429":
            arg = None
        else:
            arg, kind = kind, "status"
    if kind == "status":
        arg = faults.status_code(arg, text)
    elif kind == "429":
        if arg is not None and not re.fullmatch(r"\d+", arg):
            raise ValueError("429:SECS needs whole seconds: %r" % text)
    elif kind == "slow":
        arg = faults.seconds(arg, text)
    elif kind == "lose":
        try:
            arg = float(arg)
        except (TypeError, ValueError):
            raise ValueError("lose needs a fraction: %r" % text) from None
        if not 0.0 <= arg <= 1.0:
            raise ValueError("lose fraction not in [0,1]: %r" % text)
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
    return kind, arg


def parse_spec(spec):
    return faults.parse_spec(spec, check_fault)


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
    scan = _SCAN
    append = out.append
    while True:
        try:
            obj, end = scan(text, i)
        except StopIteration:
            _scan(text, i)                  # raises the right Reject
        except (ValueError, RecursionError):
            _scan(text, i)
        append((obj, i, end))
        c = text[end:end + 1]
        if c != "," and c != "]":
            end = WS(text, end).end()
            c = text[end:end + 1]
        if c == ",":
            i = end + 1
            if text[i:i + 1] in _WS_CHARS:
                i = WS(text, i).end()
        elif c == "]":
            return end + 1
        else:
            raise bad_request("request_parsing_error",
                              "failed to parse request: expected ',' or ']' "
                              "at character %d" % end)


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


SIMPLE_KEYS = frozenset(("event", "distinct_id", "uuid", "timestamp",
                         "properties"))


def _shape_error(ev):
    """serde-level checks of one RawEvent (a dict with a str "event"); a
    message, or None if fine."""
    if ev.keys() <= SIMPLE_KEYS:        # the common case, checked quickly
        u = ev.get("uuid")
        if u is not None and (type(u) is not str or (
                u and not UUID_FULL(u))):
            return "invalid uuid %r" % (u[:80] if type(u) is str else u,)
        p = ev.get("properties", MISSING)
        if p is not MISSING and type(p) is not dict:
            return "invalid type: `properties` must be an object"
        t = ev.get("timestamp")
        if t is not None and type(t) is not str:
            return "invalid type: `timestamp` must be a string"
        return None
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
        if u and not UUID_FULL(u):
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


def _semantic_error(ev):
    """capture's per-event checks after the token (process_single_event)."""
    if ev["event"] == "":
        return bad_request("missing_event_name",
                           "event submitted with an empty event name")
    did = ev["distinct_id"] if "distinct_id" in ev else ev.get("$distinct_id")
    props = ev.get("properties")
    if did is None and props:
        did = props.get("distinct_id")
    if did is None or did == "":
        return bad_request("missing_distinct_id",
                           "event submitted without a distinct_id")
    if props and "$cookieless_mode" in props and \
            type(props["$cookieless_mode"]) is not bool:
        return bad_request("invalid_cookieless_mode",
                           "event submitted with invalid cookieless mode")
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
    if want is not None and t != want:
        raise Reject(401, "invalid_api_key", "Project API key invalid. You "
                     "can find your project API key in PostHog project "
                     "settings.", "authentication_error", "unknown_token")
    return t


class Parsed:
    """The decoded request: form, text, items, historical flag."""
    __slots__ = ("form", "text", "top", "items", "historical", "token")


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
    p.token = None
    return p


def validate(p, want_token):
    """capture's checks after decoding, in capture's order; raises Reject, or
    returns the list of (obj, start, end) to record (and sets p.token, the
    request's trimmed token).  want_token None: any well-formed token."""
    keep = []
    sem = None
    for it in p.items:
        ev = it[0]
        if type(ev) is not dict:
            raise bad_request("request_parsing_error", "failed to parse "
                              "request: invalid type: expected struct "
                              "RawEvent (an object)")
        name = ev.get("event", MISSING)
        if type(name) is not str:
            raise bad_request("request_parsing_error", "failed to parse "
                              "request: " + ("missing field `event`"
                                             if name is MISSING else
                                             "`event` must be a string"))
        msg = _shape_error(ev)
        if msg:
            raise bad_request("request_parsing_error",
                              "failed to parse request: " + msg)
        if name == "$performance_event":
            continue
        keep.append(it)
        if sem is None:
            sem = _semantic_error(ev)
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
    if not p.items:
        raise bad_request("empty_batch", "request holds no event")
    if not keep:
        raise bad_request("empty_payload_filtered",
                          "payload empty after filtering invalid event types")
    if p.form == "batch":
        token = tok
    elif len(keep) == 1:
        token = _event_token(keep[0][0])
    else:
        toks = {_event_token(it[0]) for it in keep} - {None}
        if len(toks) > 1:
            raise Reject(401, "invalid_api_key", "batch submitted with "
                         "inconsistent api_key values",
                         "authentication_error", "multiple_tokens")
        token = toks.pop() if toks else None
    p.token = _check_token(token, want_token)
    if sem is not None:
        raise sem
    return keep


def record_text(req, p, keep, meta=False):
    """The record lines of one request, as one str.  meta: add "t" (now) and
    "token" after historical_migration."""
    text = p.text
    if meta:
        tail = ',"historical_migration":%s,"t":%.6f,"token":%s}\n' % (
            "true" if p.historical else "false", time.time(),
            _ENCODE(p.token))
    else:
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


# ---------------------------------------------------------------- engine

OK_BODY = {"status": "Ok"}


class Engine:
    """Decodes, validates and records requests: in worker processes, or in
    this one with --workers 0.  Records are appended with one os.write per
    request to an O_APPEND descriptor, so workers never interleave lines."""

    def __init__(self, record_path, max_body, token, meta=False):
        self.fd = os.open(record_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                          0o644)
        self.max_body = max_body
        self.token = token          # None: any well-formed token
        self.meta = meta
        self.lock = threading.Lock()

    def analyze(self, n, raw, hint, names, mode, lose=None):
        """mode 'count': decode only; 'hold'/'commit': validate too.
        Returns (result, data): result = (status, body, nevents, present,
        nkeep, nlost) with present[i] = whether an event is named names[i];
        data = the record bytes if valid (written already under 'commit').
        lose: None, or a function(event dict) -> True to accept the event
        without recording it (only in this process: it holds shared state)."""
        try:
            p = decode_request(raw, hint, self.max_body)
        except Reject as e:
            return (e.status, e.body(), None, (), 0, 0), None
        nevents = len(p.items)
        present = ()
        if names:
            seen = set()
            for it in p.items:
                ev = it[0]
                if type(ev) is dict:
                    nm = ev.get("event")
                    if type(nm) is str:
                        seen.add(nm)
            present = tuple(nm in seen for nm in names)
        if mode == "count":
            return (None, None, nevents, present, 0, 0), None
        try:
            keep = validate(p, self.token)
        except Reject as e:
            return (e.status, e.body(), nevents, present, 0, 0), None
        nlost = 0
        if lose is not None:
            kept = [it for it in keep if not lose(it[0])]
            nlost = len(keep) - len(kept)
            keep = kept
        data = record_text(n, p, keep, self.meta).encode("utf-8")
        if mode == "commit":
            self.write(data)
        return (200, OK_BODY, nevents, present, len(keep), nlost), data

    def write(self, data):
        with self.lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]

    def close(self):
        try:
            os.close(self.fd)
        except OSError:
            pass


def _send(f, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(struct.pack("<Q", len(data)))
    f.write(data)
    f.flush()


def _recv(f):
    """The next message, or None at EOF."""
    head = f.read(8)
    if len(head) < 8:
        return None
    n, = struct.unpack("<Q", head)
    data = f.read(n)
    if len(data) < n:
        return None
    return pickle.loads(data)


def worker_main():
    """A worker process (capture_standin.py --worker-process): serves
    init/analyze/commit/discard calls on stdin/stdout until stdin closes,
    which happens when the server exits or dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr     # nothing else may write to the reply pipe
    eng = None
    pending = None
    while True:
        try:
            msg = _recv(inp)
        except (OSError, EOFError):
            return 0
        if msg is None:
            return 0
        try:
            op = msg[0]
            if op == "init":
                eng = Engine(*msg[1:])
                reply = os.getpid()
            elif op == "analyze":
                reply, data = eng.analyze(*msg[1:])
                pending = data if msg[5] == "hold" else None
            elif op == "commit":
                if pending is not None:
                    eng.write(pending)
                pending = None
                reply = None
            else:                       # discard
                pending = None
                reply = None
            msg = ("ok", reply)
        except Exception:
            pending = None
            msg = ("exc", traceback.format_exc())
        try:
            _send(out, msg)
        except OSError:
            return 0


class WorkerError(Exception):
    pass


class ProcWorker:
    """The server's end of one worker process."""

    def __init__(self, args):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker-process"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        self.dead = False
        _send(self.proc.stdin, ("init", args.record, args.max_body,
                                args.want_token, args.record_meta))

    def reply(self):
        try:
            msg = _recv(self.proc.stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            msg = None
        if msg is None:
            self.dead = True
            raise WorkerError("worker process %d died" % self.proc.pid)
        tag, val = msg
        if tag != "ok":
            raise WorkerError(val)
        return val

    def call(self, *msg):
        try:
            _send(self.proc.stdin, msg)
        except OSError as e:
            self.dead = True
            raise WorkerError("worker process %d gone: %s" % (
                self.proc.pid, e)) from None
        return self.reply()

    def analyze(self, n, raw, hint, names, mode):
        return self.call("analyze", n, raw, hint, names, mode)

    def commit(self):
        self.call("commit")

    def discard(self):
        self.call("discard")

    def close(self, timeout=10):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        try:
            self.proc.stdout.close()
        except OSError:
            pass


class LocalWorker:
    def __init__(self, engine):
        self.engine = engine
        self.pending = None

    def analyze(self, n, raw, hint, names, mode):
        try:
            res, data = self.engine.analyze(n, raw, hint, names, mode)
        except OSError as e:
            raise WorkerError("cannot write the record file: %s" % e) \
                from None
        self.pending = data if mode == "hold" else None
        return res

    def commit(self):
        if self.pending is not None:
            try:
                self.engine.write(self.pending)
            except OSError as e:
                raise WorkerError("cannot write the record file: %s" % e) \
                    from None
        self.pending = None

    def discard(self):
        self.pending = None


class Pool:
    """Worker processes, each serving one request at a time.  They start in
    the background; until the first is ready, requests are handled in this
    process (as with --workers 0)."""

    def __init__(self, args, say):
        self.args = args
        self.say = say
        self.engine = Engine(args.record, args.max_body, args.want_token,
                             args.record_meta)
        self.lock = threading.Lock()
        self.all = []
        self.idle = queue.Queue()
        self.ready = 0
        self.closed = False
        if args.workers:
            threading.Thread(target=self._start, args=(args.workers,),
                             daemon=True).start()

    def _start(self, k):
        for _ in range(k):
            self._spawn()

    def _spawn(self):
        """Start one worker; make it available once it answers."""
        w = None
        try:
            w = ProcWorker(self.args)
            with self.lock:
                if self.closed:
                    w.close(1)
                    return
                self.all.append(w)
            w.reply()
        except (OSError, WorkerError) as e:
            self.say("worker start failed: %s" % e)
            if w is not None:
                with self.lock:
                    if w in self.all:
                        self.all.remove(w)
                w.close(1)
            return
        with self.lock:
            self.ready += 1
        self.idle.put(w)

    def checkout(self):
        if self.ready == 0:
            return LocalWorker(self.engine)
        return self.idle.get()

    def checkin(self, w):
        if isinstance(w, LocalWorker):
            return
        if w.dead or w.proc.poll() is not None:
            with self.lock:
                self.ready -= 1
                if w in self.all:
                    self.all.remove(w)
            w.close(1)
            self.say("worker process %d died; starting another" % w.proc.pid)
            threading.Thread(target=self._spawn, daemon=True).start()
            return
        self.idle.put(w)

    def close(self):
        with self.lock:
            self.closed = True
            ws = list(self.all)
        for w in ws:
            w.close()
        self.engine.close()


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
        self.lost = set()               # keys of events lost by lose:F
        self.lost_events = 0
        self.lose_lock = threading.Lock()
        self.flags_requests = 0
        self.flags_status = {}
        self.active = 0
        self.closed = False
        os.close(os.open(args.record, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                         0o644))
        self.log = open(args.log, "ab") if args.log else None
        self.pool = Pool(args, say)

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

    def lose_picker(self, frac):
        """lose:F's choice: an event is lost if the hash of (seed, its uuid)
        falls below F and it was never lost before."""
        seed = self.args.seed

        def pick(ev):
            key = event_key(ev)
            h = hashlib.sha256(("%d:%s" % (seed, key)).encode(
                "utf-8", "surrogatepass")).digest()
            if int.from_bytes(h[:8], "big") >= frac * 2.0 ** 64:
                return False
            with self.lose_lock:
                if key in self.lost:
                    return False
                self.lost.add(key)
                self.lost_events += 1
            return True
        return pick

    def count_flags(self, status):
        with self.io_lock:
            self.flags_requests += 1
            k = str(status)
            self.flags_status[k] = self.flags_status.get(k, 0) + 1

    def begin(self):
        with self.io_lock:
            if self.closed:
                return False
            self.active += 1
            return True

    def log_request(self, entry):
        """Count a numbered request and log it: just before its answer."""
        st = entry["status"]
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode() \
            if self.log else None
        with self.io_lock:
            self.accepted += entry["recorded"]
            if st is None:
                self.no_answer += 1
            else:
                k = str(st)
                self.status_counts[k] = self.status_counts.get(k, 0) + 1
            if line and self.log:
                self.log.write(line)
                self.log.flush()

    def end(self):
        with self.io_lock:
            self.active -= 1

    def stats(self):
        with self.num_lock:
            n = self.n
            spec = ";".join(r.text for r in self.rules)
        with self.lose_lock:
            lost = self.lost_events
        with self.io_lock:
            return {"requests": n, "accepted_events": self.accepted,
                    "status_counts": dict(self.status_counts),
                    "no_answer": self.no_answer, "faults": spec,
                    "lost_events": lost,
                    "flags": {"requests": self.flags_requests,
                              "status_counts": dict(self.flags_status)}}

    def close(self, grace=10.0):
        """Refuse new work, let requests in progress finish, stop the
        workers, close the files."""
        with self.io_lock:
            if self.closed:
                return
            self.closed = True
        deadline = time.time() + grace
        while time.time() < deadline:
            with self.io_lock:
                if self.active == 0:
                    break
            time.sleep(0.02)
        self.pool.close()
        with self.io_lock:
            if self.log:
                try:
                    self.log.close()
                except OSError:
                    pass
                self.log = None


def event_key(ev):
    """The identity lose:F remembers: the uuid, normalized; else the text."""
    u = ev.get("uuid")
    if type(u) is str and u:
        try:
            return str(uuid.UUID(u))
        except ValueError:
            pass
    return "text:" + _ENCODE(ev)


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
            if not HEX_RE.fullmatch(size):
                raise BadFraming("bad chunk size")
            size = int(size, 16)
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
    entry = None

    def log_entry(self):
        """Log the numbered request being answered (once)."""
        e = self.entry
        if e is not None and e["dur"] is None:
            e["dur"] = round(time.time() - self.t0, 6)
            self.server.app.log_request(e)

    def respond(self, code, body=b"", ctype="application/json",
                headers=(), close=False):
        if self.entry is not None:
            self.entry["status"] = code
            self.log_entry()
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
        self.log_entry()
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
        if path in FLAGS_PATHS:
            return self.flags(app, u)
        t0 = time.time()
        n, rules, draws = app.next_request()
        entry = self.entry = {
            "req": n, "t": round(t0, 6), "path": path, "status": None,
            "events": None, "bytes": 0, "gzip": False, "fault": None,
            "recorded": 0, "dur": None}
        self.t0 = t0
        accepted = 0
        self.began = False
        try:
            accepted = self.capture(app, u, n, rules, draws, entry)
        except (ConnectionError, TimeoutError, OSError) as e:
            self.close_connection = True
            entry["error"] = type(e).__name__
        except Exception as e:     # never let one request take us down
            app.say("request %d: internal error: %s" % (
                n, e if isinstance(e, WorkerError) else
                traceback.format_exc().rstrip()))
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
            entry["recorded"] = accepted
            self.log_entry()
            if self.began:
                app.end()
            self.entry = None
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
            if app.say.verbose:
                app.say("faults set: %r" % ";".join(r.text for r in rules))
            return self.respond(200, {"status": "Ok", "faults":
                                      [r.text for r in rules]})
        return self.respond(405, {"error": "method not allowed"},
                            headers=[("Allow", "GET, POST, DELETE")])

    def flags(self, app, u):
        """/flags and /decide as rust/feature-flags answers them: POST
        checks the token against the project (--token) even when capture
        accepts any token; GET answers without looking at a token."""
        status = self._flags(app, u)
        app.count_flags(status)

    def _flags(self, app, u):
        text = "text/plain; charset=utf-8"
        try:
            raw = self.read_body(1 << 20)
        except BodyTooBig as e:
            self.respond(413, "Payload too large", text, close=not e.drained)
            return 413
        except BadFraming as e:
            self.respond(400, str(e), text, close=True)
            return 400
        q = parse_qs(u.query)
        v = (q.get("v") or [None])[-1]
        try:
            version = int(v) if v not in (None, "") else None
        except ValueError:
            version = 1
        decide = u.path.startswith("/decide")
        if self.command in ("GET", "HEAD"):
            body = flags_body(False, version or 1, True, minimal=True)
            self.respond(200, body)
            return 200
        if self.command == "OPTIONS":
            self.respond(204, headers=[("Allow", "GET, POST, OPTIONS, HEAD")])
            return 204
        if self.command != "POST":
            self.respond(405, b"", text,
                         headers=[("Allow", "GET, POST, OPTIONS, HEAD")])
            return 405
        try:
            if raw[:2] == b"\x1f\x8b":
                raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
            req = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (zlib.error, UnicodeDecodeError, ValueError) as e:
            self.respond(400, "Failed to parse request: %s. Please ensure "
                         "your request is properly formatted and all "
                         "required fields are present." % e, text)
            return 400
        if type(req) is not dict:
            self.respond(400, "Failed to parse request: expected a JSON "
                         "object. Please ensure your request is properly "
                         "formatted and all required fields are present.",
                         text)
            return 400
        tok = None
        for k in ("token", "api_key", "$token"):
            if type(req.get(k)) is str and req[k].strip():
                tok = req[k].strip()
                break
        if tok is None:
            self.respond(401, "No API token provided. Please include a "
                         "valid API token in your request.", text)
            return 401
        if tok != app.args.token:
            self.respond(401, "The provided API key is invalid or has "
                         "expired. Please check your API key and try "
                         "again.", text)
            return 401
        did = req.get("distinct_id")
        if did is None or did == "":
            self.respond(400, "The distinct_id field is missing from the "
                         "request. Please include a valid identifier.", text)
            return 400
        cfg = (q.get("config") or [""])[-1] == "true" or decide
        if version is None and "config" not in q and not decide:
            version, cfg = 2, True      # newer feature-flags' default
        self.respond(200, flags_body(decide, version or 1, cfg))
        return 200

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

        if not app.begin():
            entry["status"] = 503
            self.respond(503, {"type": "server_error",
                               "code": "service_unavailable",
                               "detail": "shutting down", "status": 503,
                               "error": "shutting down"}, close=True)
            return 0
        self.began = True

        # ---- faults: the first rule that applies decides.  reject-event
        # rules need the body decoded first; the others do not.
        pre = []
        act = None
        for idx, r in enumerate(rules):
            if not all(faults.when_holds(w, n, idx, draws) for w in r.whens):
                continue
            if r.kind == "413" and len(raw) <= r.arg:
                continue
            if r.kind == "reject-event":
                pre.append(r)
                continue
            act = r
            break
        res = None
        recorded = 0
        pool = app.pool
        if pre:
            w = pool.checkout()
            try:
                res = w.analyze(n, raw, hint, tuple(r.arg for r in pre),
                                "hold")
                for r, hit in zip(pre, res[3]):
                    if hit:
                        act = r
                        break
                if res[0] == 200 and (act is None or
                                      act.kind == "drop-after"):
                    w.commit()
                    recorded = res[4]
                else:
                    w.discard()
                    if act is None or act.kind == "drop-after":
                        pass            # invalid: res says why
                    elif act.kind in ("slow", "lose"):
                        res = None      # analyze again (after the sleep)
            finally:
                pool.checkin(w)
        if act is not None:
            entry["fault"] = act.text
            if act.kind == "slow":
                time.sleep(act.arg)
                if self.peer_gone():
                    entry["error"] = "client gone"
                    self.no_answer()
                    return 0
        if res is None and act is not None and act.kind == "lose":
            try:
                res, _ = pool.engine.analyze(n, raw, hint, (), "commit",
                                             app.lose_picker(act.arg))
            except OSError as e:
                raise WorkerError("cannot write the record file: %s" % e) \
                    from None
            if res[0] == 200:
                recorded = res[4]
                entry["lost"] = res[5]
        if res is None:
            mode = "commit" if act is None or act.kind in (
                "slow", "drop-after") else "count"
            w = pool.checkout()
            try:
                res = w.analyze(n, raw, hint, (), mode)
            finally:
                pool.checkin(w)
            if mode == "commit" and res[0] == 200:
                recorded = res[4]
        entry["events"] = res[2]
        entry["recorded"] = recorded

        k = act.kind if act is not None else None
        if k is None or k == "slow" or k == "lose":
            entry["status"] = res[0]
            self.respond(res[0], res[1])
        elif k == "drop-after" or k == "drop":
            self.no_answer()
        elif k == "status":
            entry["status"] = act.arg
            self.respond(act.arg, OK_BODY if act.arg == 200 else {
                "status": act.arg, "code": "injected_fault",
                "error": "injected status %d" % act.arg})
        elif k == "429":
            entry["status"] = 429
            self.respond(429, {"type": "throttled", "code": "rate_limited",
                               "detail": "rate limited", "status": 429,
                               "error": "rate limited"},
                         headers=[("Retry-After", act.arg)]
                         if act.arg is not None else ())
        elif k == "html200":
            entry["status"] = 200
            self.respond(200, HTML_PAGE, "text/html; charset=utf-8")
        elif k == "reject-event":
            entry["status"] = 400
            self.respond(400, bad_request(
                "invalid_event", "event %r refused (injected reject-event)"
                % act.arg).body())
        elif k == "413":
            entry["status"] = 413
            self.respond(413, Reject(413, "payload_too_large",
                                     "maximum event size exceeded: body over "
                                     "%d bytes (injected)" % act.arg).body())
        return recorded

    def peer_gone(self):
        """True if the client has closed its end (it gave up waiting)."""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


def flags_body(decide, version, config, minimal=False):
    """A successful flags answer (no flags defined) in the shape the
    version asks for (rust/feature-flags get_versioned_response)."""
    rid = str(uuid.uuid4())
    if decide:
        if version == 2:
            b = {"featureFlags": {}, "requestId": rid}
        elif version == 3:
            b = {"errorsWhileComputingFlags": False, "featureFlags": {},
                 "featureFlagPayloads": {}, "requestId": rid}
        elif version >= 4:
            b = {"errorsWhileComputingFlags": False, "flags": {},
                 "requestId": rid}
        else:
            b = {"featureFlags": [], "requestId": rid}
    elif version >= 2:
        b = {"errorsWhileComputingFlags": False, "flags": {},
             "requestId": rid}
    else:
        b = {"errorsWhileComputingFlags": False, "featureFlags": {},
             "featureFlagPayloads": {}, "requestId": rid}
    if config:
        b.update({"supportedCompression": ["gzip", "gzip-js"],
                  "config": {"enable_collect_everything": True},
                  "toolbarParams": {}, "isAuthenticated": False,
                  "sessionRecording": False})
    return b


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
    if sys.argv[1:] == ["--worker-process"]:
        return worker_main()
    ap = argparse.ArgumentParser(
        description="PostHog capture stand-in with fault injection",
        epilog="See the module docstring for the SPEC grammar.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--record", required=True, metavar="FILE")
    ap.add_argument("--token", default="phc_test")
    ap.add_argument("--accept-any-token", action="store_true",
                    help="answer 200 for any well-formed token (as real "
                    "capture does); implies --record-meta")
    ap.add_argument("--record-meta", action="store_true",
                    help='add "t" and "token" to each record line')
    ap.add_argument("--faults", default="", metavar="SPEC")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY,
                    metavar="BYTES")
    ap.add_argument("--log", metavar="FILE")
    ap.add_argument("--workers", type=int, default=None, metavar="N",
                    help="worker processes that decode and record (default: "
                    "the CPU count, at most 4; 0 = all in this process)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quiet", action="store_true",
                   help="nothing on stderr")
    g.add_argument("--verbose", "-v", action="store_true",
                   help="one stderr line per request")
    args = ap.parse_args()
    if args.max_body < 0:
        ap.error("--max-body must be >= 0")
    if args.accept_any_token:
        args.record_meta = True
    args.want_token = None if args.accept_any_token else args.token
    if args.workers is None:
        cpus = os.cpu_count() or 1
        args.workers = min(cpus, 4) if cpus > 1 else 0
    if args.workers < 0:
        ap.error("--workers must be >= 0")
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
    app.close()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
