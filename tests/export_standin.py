#!/usr/bin/env python3
"""Local stand-in for Amplitude's Export API (GET /api/2/export), with fault
injection, for testing amp-export.  Python 3 standard library only.

  export_standin.py --source ZIP [--source ZIP ...] [--port N] [--port-file F]
                    [--api-key K] [--secret-key S] [--max-bytes N]
                    [--faults SPEC] [--log FILE] [--seed N]

Endpoints
  GET  /api/2/export?start=YYYYMMDDTHH&end=YYYYMMDDTHH   (both hours inclusive, UTC)
       Basic auth api-key:secret-key.  No/malformed auth -> 401, wrong -> 403.
       Bad/missing start/end, end < start, span > 365 days -> 400.
       200 zip (members deflated; member bytes = source .json.gz bytes),
       404 no member in range, 400 "export too large" over --max-bytes.
  GET  /_stats    {"requests":n,"ranges_served":[[start,end,status],...]}
  GET  /_faults   current SPEC (text)
  POST /_faults   body = SPEC (empty clears); resets WHEN counter and RNG.
  DELETE /_faults clears.

Fault SPEC: rules separated by ';' (or newlines), each KIND[:ARG][@WHEN[@WHEN..]]
  (several @WHEN on one rule must all hold).  First matching rule decides.
  KIND: status:CODE | CODE (bare 3 digits) | 429:SECS (Retry-After) | truncate |
        truncate-short | empty200 | corrupt | slow:SECS | toolarge |
        drop (close the connection without any response)
  WHEN: N | N-M | everyK | pF | range=YYYYMMDDTHH-YYYYMMDDTHH | (none = always)
  N counts export requests (all GET /api/2/export, from 1) since the SPEC was
  installed (start-up or last POST /_faults).  Faults are evaluated only for
  requests that passed auth and start/end validation.
"""

import argparse
import base64
import binascii
import datetime as dt
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CHUNK = 1 << 20
MAX_SPAN_HOURS = 365 * 24

MEMBER_RE = re.compile(
    r"^(?:[^/]*/)*[^/]+_(\d{4})-(\d{2})-(\d{2})_(\d{1,2})#(\d+)\.json\.gz$")
HOUR_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})$")


def parse_hour(s):
    """'YYYYMMDDTHH' -> absolute hour number, or None."""
    if s is None:
        return None
    m = HOUR_RE.match(s)
    if not m:
        return None
    y, mo, d, h = (int(x) for x in m.groups())
    if h > 23:
        return None
    try:
        return dt.date(y, mo, d).toordinal() * 24 + h
    except ValueError:
        return None


# ---------------------------------------------------------------- sources

class Member:
    __slots__ = ("src", "info", "hour", "size")

    def __init__(self, src, info, hour):
        self.src = src
        self.info = info
        self.hour = hour
        self.size = info.file_size


class Sources:
    def __init__(self, paths):
        self.zips = []
        self.members = []
        seen = set()
        for si, path in enumerate(paths):
            zf = zipfile.ZipFile(path, "r")
            self.zips.append(zf)
            for info in zf.infolist():
                if info.is_dir():
                    continue
                m = MEMBER_RE.match(info.filename)
                hour = None
                if m:
                    y, mo, d, h, _n = (int(x) for x in m.groups())
                    if h <= 23:
                        try:
                            hour = dt.date(y, mo, d).toordinal() * 24 + h
                        except ValueError:
                            hour = None
                if hour is None:
                    print("export_standin: ignoring member %r in %s (name not "
                          "<p>/<p>_<YYYY-MM-DD>_<H>#<N>.json.gz)"
                          % (info.filename, path), file=sys.stderr)
                    continue
                if info.filename in seen:
                    print("export_standin: ignoring duplicate member %r in %s"
                          % (info.filename, path), file=sys.stderr)
                    continue
                seen.add(info.filename)
                self.members.append(Member(si, info, hour))

    def select(self, a, b):
        return [m for m in self.members if a <= m.hour <= b]


# ---------------------------------------------------------------- faults

class Rule:
    def __init__(self, text, kind, arg, conds):
        self.text = text
        self.kind = kind      # status truncate truncate-short empty200
        self.arg = arg        # corrupt slow toolarge drop
        self.conds = conds
        self.name = text.split("@", 1)[0].strip()   # logged as "fault"


def parse_spec(spec):
    rules = []
    for raw in re.split(r"[;\n]", spec or ""):
        text = raw.strip()
        if not text:
            continue
        parts = [p.strip() for p in text.split("@")]
        head, whens = parts[0], parts[1:]
        kind, _, arg = head.partition(":")
        kind = kind.strip().lower()
        arg = arg.strip()
        if kind == "status":
            if not re.fullmatch(r"\d{3}", arg) or not 100 <= int(arg) <= 599:
                raise ValueError("status needs a 3-digit code: %r" % text)
            k, a = "status", (int(arg), None)
        elif re.fullmatch(r"\d{3}", kind):
            code = int(kind)
            if not 100 <= code <= 599:
                raise ValueError("bad status code: %r" % text)
            ra = None
            if arg:
                if code != 429 or not re.fullmatch(r"\d+", arg):
                    raise ValueError("only 429:SECS (integer) takes an "
                                     "argument: %r" % text)
                ra = arg
            k, a = "status", (code, ra)
        elif kind in ("truncate", "truncate-short", "empty200", "corrupt",
                      "toolarge", "drop"):
            if arg:
                raise ValueError("%s takes no argument: %r" % (kind, text))
            k, a = kind, None
        elif kind == "slow":
            try:
                secs = float(arg)
            except ValueError:
                raise ValueError("slow needs seconds: %r" % text) from None
            if secs < 0:
                raise ValueError("slow needs seconds >= 0: %r" % text)
            k, a = "slow", secs
        else:
            raise ValueError("unknown fault kind: %r" % text)
        conds = []
        for w in whens:
            m = re.fullmatch(r"range=(\d{8}T\d{2})-(\d{8}T\d{2})", w)
            if m:
                lo, hi = parse_hour(m.group(1)), parse_hour(m.group(2))
                if lo is None or hi is None or hi < lo:
                    raise ValueError("bad @range: %r" % text)
                conds.append(("range", lo, hi))
                continue
            m = re.fullmatch(r"(\d+)", w)
            if m:
                conds.append(("between", int(w), int(w)))
                continue
            m = re.fullmatch(r"(\d+)-(\d+)", w)
            if m:
                lo, hi = int(m.group(1)), int(m.group(2))
                if hi < lo:
                    raise ValueError("bad @N-M: %r" % text)
                conds.append(("between", lo, hi))
                continue
            m = re.fullmatch(r"every(\d+)", w)
            if m and int(m.group(1)) >= 1:
                conds.append(("every", int(m.group(1))))
                continue
            m = re.fullmatch(r"p(\d*\.?\d+)", w)
            if m and 0.0 <= float(m.group(1)) <= 1.0:
                conds.append(("p", float(m.group(1))))
                continue
            raise ValueError("bad WHEN %r in %r" % (w, text))
        rules.append(Rule(text, k, a, conds))
    return rules


# ---------------------------------------------------------------- state

class State:
    def __init__(self, args, sources):
        self.args = args
        self.sources = sources
        self.lock = threading.Lock()
        self.requests = 0
        self.ranges = []
        self.seed = args.seed
        self.spec = args.faults or ""
        self.rules = parse_spec(self.spec)
        self.fault_n = 0
        self.rng = random.Random(self.seed)
        self.logf = open(args.log, "a", buffering=1) if args.log else None

    def set_faults(self, spec):
        rules = parse_spec(spec)          # raises ValueError before changing
        with self.lock:
            self.spec = spec.strip()
            self.rules = rules
            self.fault_n = 0
            self.rng = random.Random(self.seed)
        return rules

    def next_request(self):
        with self.lock:
            self.requests += 1
            self.fault_n += 1
            return self.requests, self.fault_n, self.rules, self.rng

    def pick_fault(self, n, rules, rng, lo, hi):
        with self.lock:
            for r in rules:
                ok = True
                for c in r.conds:
                    if c[0] == "between":
                        ok = c[1] <= n <= c[2]
                    elif c[0] == "every":
                        ok = n % c[1] == 0
                    elif c[0] == "range":
                        ok = lo <= c[2] and hi >= c[1]
                    elif c[0] == "p":
                        ok = rng.random() < c[1]
                    if not ok:
                        break
                if ok:
                    return r
        return None

    def record(self, n, t, start, end, status, nbytes, fault):
        with self.lock:
            self.ranges.append([start, end, status])
            if self.logf:
                self.logf.write(json.dumps(
                    {"req": n, "t": round(t, 3), "start": start, "end": end,
                     "status": status, "bytes": nbytes, "fault": fault}) + "\n")

    def stats(self):
        with self.lock:
            return {"requests": self.requests,
                    "ranges_served": [list(r) for r in self.ranges]}


# ---------------------------------------------------------------- zip

def build_zip(sources, members, corrupt=False):
    """Write the export zip into an anonymous temp file; return (file, size)."""
    tmp = tempfile.TemporaryFile(prefix="export-standin-")
    try:
        ci = len(members) // 2 if corrupt else -1
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED,
                             allowZip64=True) as zout:
            for i, m in enumerate(members):
                zi = zipfile.ZipInfo(m.info.filename,
                                     date_time=m.info.date_time)
                zi.compress_type = zipfile.ZIP_DEFLATED
                zi.external_attr = 0o644 << 16
                zi.file_size = m.size      # lets zipfile decide on zip64
                try:
                    zi._compresslevel = 1  # gz data barely deflates; be fast
                except AttributeError:
                    pass
                if i == ci:   # damage 8 bytes in the middle of the gz stream
                    mid = m.size // 2
                    flo, fhi = max(0, mid - 4), min(m.size, mid + 4)
                else:
                    flo = fhi = -1
                off = 0
                with sources.zips[m.src].open(m.info) as fin, \
                        zout.open(zi, "w") as fout:
                    while True:
                        chunk = fin.read(CHUNK)
                        if not chunk:
                            break
                        end = off + len(chunk)
                        if flo < end and fhi > off:
                            chunk = bytearray(chunk)
                            for j in range(max(flo, off), min(fhi, end)):
                                chunk[j - off] ^= 0xFF
                        fout.write(chunk)
                        off = end
        size = tmp.seek(0, os.SEEK_END)
        tmp.seek(0)
        return tmp, size
    except BaseException:
        tmp.close()
        raise


# ---------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmplitudeExportStandin/1"
    sys_version = ""

    def log_message(self, fmt, *a):
        pass

    @property
    def st(self):
        return self.server.state

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send_body(self, ctx, code, body, ctype="text/plain; charset=utf-8",
                  headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if ctx is not None:
            ctx["status"] = code
        self.wfile.write(body)
        if ctx is not None:
            ctx["bytes"] += len(body)

    # ------------------------------------------------------------ control
    def do_GET(self):
        self.read_body()
        u = urlsplit(self.path)
        if u.path == "/api/2/export":
            return self.export(u)
        if u.path == "/_stats":
            return self.send_body(None, 200, json.dumps(self.st.stats()),
                                  "application/json")
        if u.path == "/_faults":
            return self.send_body(None, 200, self.st.spec + "\n")
        self.send_body(None, 404, "not found\n")

    def do_POST(self):
        body = self.read_body()
        u = urlsplit(self.path)
        if u.path == "/_faults":
            try:
                rules = self.st.set_faults(body.decode("utf-8", "replace"))
            except ValueError as e:
                return self.send_body(None, 400, "bad fault spec: %s\n" % e)
            return self.send_body(None, 200, "ok %d rule(s)\n" % len(rules))
        if u.path == "/api/2/export":
            return self.send_body(None, 405, "method not allowed\n",
                                  headers=[("Allow", "GET")])
        self.send_body(None, 404, "not found\n")

    def do_DELETE(self):
        self.read_body()
        if urlsplit(self.path).path == "/_faults":
            self.st.set_faults("")
            return self.send_body(None, 200, "ok 0 rule(s)\n")
        self.send_body(None, 404, "not found\n")

    # ------------------------------------------------------------ export
    def export(self, u):
        t0 = time.time()
        n, fn, rules, rng = self.st.next_request()
        qs = parse_qs(u.query, keep_blank_values=True)
        start = qs.get("start", [None])[0]
        end = qs.get("end", [None])[0]
        ctx = {"status": None, "bytes": 0, "fault": None}
        try:
            self.export_inner(ctx, fn, rules, rng, start, end)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        finally:
            self.st.record(n, t0, start, end, ctx["status"], ctx["bytes"],
                           ctx["fault"])

    def check_auth(self):
        """None if ok, else (code, message)."""
        h = self.headers.get("Authorization")
        if not h:
            return 401, "missing credentials"
        scheme, _, val = h.strip().partition(" ")
        if scheme.lower() != "basic":
            return 401, "basic auth required"
        try:
            user, sep, pw = base64.b64decode(val.strip(), validate=True) \
                .decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return 401, "malformed basic auth"
        if not sep:
            return 401, "malformed basic auth"
        a = self.st.args
        if user != a.api_key or pw != a.secret_key:
            return 403, "invalid api key or secret key"
        return None

    def export_inner(self, ctx, fn, rules, rng, start, end):
        st = self.st
        bad = self.check_auth()
        if bad:
            hdr = [("WWW-Authenticate", 'Basic realm="Amplitude"')] \
                if bad[0] == 401 else []
            return self.send_body(ctx, bad[0], bad[1] + "\n", headers=hdr)
        if start is None or end is None:
            return self.send_body(ctx, 400, "missing start or end parameter "
                                  "(format YYYYMMDDTHH)\n")
        lo, hi = parse_hour(start), parse_hour(end)
        if lo is None:
            return self.send_body(ctx, 400, "invalid start %r: expected "
                                  "YYYYMMDDTHH\n" % start)
        if hi is None:
            return self.send_body(ctx, 400, "invalid end %r: expected "
                                  "YYYYMMDDTHH\n" % end)
        if hi < lo:
            return self.send_body(ctx, 400, "end is before start\n")
        if hi - lo + 1 > MAX_SPAN_HOURS:
            return self.send_body(ctx, 400, "time range exceeds 365 days\n")

        rule = st.pick_fault(fn, rules, rng, lo, hi)
        kind = rule.kind if rule else None
        if rule:
            ctx["fault"] = rule.name
        if kind == "slow":
            time.sleep(rule.arg)
        elif kind == "status":
            code, ra = rule.arg
            hdr = [("Retry-After", ra)] if ra is not None else []
            return self.send_body(ctx, code, "injected fault: status %d\n"
                                  % code, headers=hdr)
        elif kind == "toolarge":
            return self.send_body(ctx, 400, "export too large\n")
        elif kind == "drop":
            self.close_connection = True
            ctx["status"] = 0
            return
        elif kind == "empty200":
            return self.send_body(ctx, 200, b"", "application/zip")

        members = st.sources.select(lo, hi)
        if not members:
            return self.send_body(ctx, 404, "no data for the requested "
                                  "time range\n")
        if kind not in ("truncate", "truncate-short", "corrupt") and \
                st.args.max_bytes is not None and \
                sum(m.size for m in members) > st.args.max_bytes:
            return self.send_body(ctx, 400, "export too large\n")

        tmp, size = build_zip(st.sources, members, corrupt=(kind == "corrupt"))
        with tmp:
            send = size
            clen = size
            if kind == "truncate":
                send = size // 2
            elif kind == "truncate-short":
                send = clen = size // 2
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(clen))
            self.send_header("Content-Disposition",
                             'attachment; filename="export.zip"')
            self.end_headers()
            ctx["status"] = 200
            left = send
            while left > 0:
                chunk = tmp.read(min(CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                ctx["bytes"] += len(chunk)
                left -= len(chunk)
            if kind == "truncate":
                self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError,
                            ConnectionAbortedError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description="Amplitude Export API stand-in")
    ap.add_argument("--source", action="append", required=True, metavar="ZIP")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--api-key", default="test-api-key")
    ap.add_argument("--secret-key", default="test-secret-key")
    ap.add_argument("--max-bytes", type=int, default=None)
    ap.add_argument("--faults", default="")
    ap.add_argument("--log")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    try:
        parse_spec(args.faults)
    except ValueError as e:
        ap.error("--faults: %s" % e)
    try:
        sources = Sources(args.source)
    except (OSError, zipfile.BadZipFile) as e:
        print("export_standin: %s" % e, file=sys.stderr)
        return 2

    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = State(args, sources)
    port = srv.server_address[1]
    if args.port_file:
        tmpname = "%s.tmp.%d" % (args.port_file, os.getpid())
        with open(tmpname, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmpname, args.port_file)
    sys.stdout.write("listening 127.0.0.1:%d\n" % port)
    sys.stdout.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
