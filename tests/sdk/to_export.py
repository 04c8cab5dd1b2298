#!/usr/bin/env python3
"""Turn the Amplitude HTTP API events of a recorded fixture into Amplitude
EXPORT rows, the lines amp-unpack hands to amp-convert.

    python3 to_export.py [FIXTURE_DIR] > export.ndjson

FIXTURE_DIR (default: fixture/ beside this file) holds amplitude.ndjson (each
event as @amplitude/analytics-browser posted it to /2/httpapi), requests.ndjson
(when and from where each request arrived) and meta.json, as record.mjs writes
them. The output has one row per recorded event, in the order the SDK sent
them, with every key of a real export row (see
shared/reference/amplitude-export.md and examples/amplitude-export-lines.ndjson),
keys sorted as Amplitude writes them. The output is deterministic: the same
fixture always gives the same bytes.

What the SDK sent is only part of an export row: Amplitude's servers add the
rest. Each field is one of:

MEASURED (copied from what the SDK or its request carried)
    $insert_id           <- insert_id
    device_id, user_id, session_id, event_id, event_type, platform, library,
    partner_id           <- the same names (null where the SDK sent none:
                            user_id before setUserId)
    version_name         <- app_version
    event_properties     <- event_properties ({} when absent, e.g. $identify)
    groups               <- groups, on the events that carried it (setGroup's
                            $identify, $groupidentify)
    user_properties      <- on $identify rows: the identify operations as sent
                            ($set, $setOnce, $add, $unset, ...), which is what
                            an export is taken to hold for an $identify row
                            (an assumption amp-convert's man page shares: the
                            reference examples hold no exported $identify row)
    group_properties     <- on $groupidentify rows: the operations as sent
    event_time, client_event_time
                         <- time (ms since the epoch), as "YYYY-MM-DD
                            HH:MM:SS.ffffff" UTC (Amplitude corrects event_time
                            for client clock skew: none here, client and server
                            are one machine)
    client_upload_time   <- the request's client_upload_time
    server_received_time, server_upload_time
                         <- when the collector received the request
    ip_address           <- the address the request came from (the SDK sends
                            ip "$remote": "use the sender's address")

DERIVED (what Amplitude's servers add; how this script makes it)
    os_name, os_version  <- the browser name and major version parsed from
                            user_agent (Amplitude's web rows put the BROWSER in
                            os_name/os_version: "Chrome", "156")
    device_type, device_family
                         <- the operating system from user_agent, in
                            Amplitude's words ("Mac" / "Mac OS X", "Windows" /
                            "Windows", "Linux" / "Linux", "Apple iPhone" / "iOS",
                            "Android" / "Android"), as the real export line in
                            shared/reference/examples shows for a Mac
    device_brand, device_manufacturer, device_model, device_carrier
                         <- null (web rows have none)
    language             <- the language NAME of the SDK's locale ("en-US" ->
                            "English"), as the real export line shows
    country, city, region, dma, location_lat, location_lng
                         <- GeoIP of ip_address: null, a loopback address has
                            no location
    user_properties      <- on other rows: the user's properties at the time of
                            the event, accumulated from the user's earlier
                            $identify rows as Amplitude applies them: $set,
                            $setOnce (only unset keys), $add (numeric add),
                            $append/$prepend (to lists), $preInsert/$postInsert
                            (when not present), $remove, $unset, $clearAll, in
                            send order ("EMPTY" values kept, as exports have them)
    groups               <- on the user's later rows: the groups setGroup gave
                            (Amplitude keeps them on the user and stamps them on
                            each later event)
    group_properties     <- on the user's later rows: {type: {key: properties}}
                            accumulated from $groupidentify (amp-convert reads
                            group_properties of $groupidentify rows only)
    uuid                 <- name-based UUID (v5) of the insert_id, in a fixed
                            namespace: Amplitude gives each stored row a
                            unique UUID; this one is stable across runs
    amplitude_id         <- a number Amplitude assigns per user: here one per
                            device_id (setUserId merges the device's anonymous
                            events into the same user), from a hash
    user_creation_time   <- the time of the user's first event
    processed_time       <- server_received_time + 3 ms
    app                  <- a fixed project id, 100000001
    data                 <- {"path": "/2/httpapi", "group_first_event": {},
                            "group_ids": {}}, plus "user_properties_updated": true
                            on rows after a user property change
    data_type "event"; $insert_key, $schema, adid, idfa, amplitude_attribution_ids,
    amplitude_event_type, global_user_properties, is_attribution_event, paying,
    sample_rate, source_id, start_version: null; plan: {} (the SDK sent none)
"""
import copy
import datetime
import hashlib
import json
import os
import re
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
UUID_NS = uuid.UUID("3f0c6c0e-5b1e-4d7a-9a0e-2a6d1f3c9b11")  # this harness's namespace
APP_ID = 100000001
LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish",
             "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "ja": "Japanese",
             "zh": "Chinese", "ko": "Korean", "ru": "Russian", "pl": "Polish",
             "sv": "Swedish"}


def amp_time(ms):
    """Epoch milliseconds (or an ISO string) -> 'YYYY-MM-DD HH:MM:SS.ffffff' UTC."""
    if isinstance(ms, str):
        t = datetime.datetime.fromisoformat(ms.replace("Z", "+00:00"))
    else:
        t = datetime.datetime.fromtimestamp(ms / 1000.0, tz=datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def parse_ua(ua):
    """(browser, browser major version, device_type, device_family) as
    Amplitude's servers write them for a web row."""
    ua = ua or ""
    browser = version = None
    for name, rx in (("Edge", r"Edg/(\d+)"), ("Opera", r"OPR/(\d+)"),
                     ("Samsung Internet", r"SamsungBrowser/(\d+)"),
                     ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
                     ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
                     ("Safari", r"Version/(\d+)[.\d]* .*Safari/")):
        m = re.search(rx, ua)
        if m:
            browser, version = name, m.group(1)
            if name == "Safari" and "Mobile" in ua:
                browser = "Mobile Safari"
            break
    if "iPhone" in ua:
        dev = ("Apple iPhone", "iOS")
    elif "iPad" in ua:
        dev = ("Apple iPad", "iOS")
    elif "Android" in ua:
        dev = ("Android", "Android")
    elif "Macintosh" in ua or "Mac OS X" in ua:
        dev = ("Mac", "Mac OS X")
    elif "Windows" in ua:
        dev = ("Windows", "Windows")
    elif "CrOS" in ua:
        dev = ("Chromebook", "Chrome OS")
    elif "Linux" in ua:
        dev = ("Linux", "Linux")
    else:
        dev = (None, None)
    return browser, version, dev[0], dev[1]


def language_name(locale):
    if not locale:
        return None
    return LANGUAGES.get(locale.split("-")[0].lower(), locale)


def apply_ops(props, ops):
    """Apply Amplitude identify operations to a user-property dict, as
    Amplitude does. Returns True when something changed."""
    before = json.dumps(props, sort_keys=True)
    if "$clearAll" in ops:
        props.clear()
    for op in ("$setOnce", "$set", "$add", "$append", "$prepend", "$preInsert",
               "$postInsert", "$remove", "$unset"):
        for k, v in (ops.get(op) or {}).items():
            cur = props.get(k)
            if op == "$set":
                props[k] = v
            elif op == "$setOnce":
                if k not in props:
                    props[k] = v
            elif op == "$add":
                try:
                    props[k] = (cur if isinstance(cur, (int, float)) else 0) + v
                except TypeError:
                    pass
            elif op in ("$append", "$postInsert", "$prepend", "$preInsert"):
                lst = cur if isinstance(cur, list) else ([] if cur is None else [cur])
                vals = v if isinstance(v, list) else [v]
                if op in ("$preInsert", "$postInsert"):
                    vals = [x for x in vals if x not in lst]
                props[k] = vals + lst if op in ("$prepend", "$preInsert") else lst + vals
            elif op == "$remove":
                if isinstance(cur, list):
                    vals = v if isinstance(v, list) else [v]
                    props[k] = [x for x in cur if x not in vals]
            elif op == "$unset":
                props.pop(k, None)
    return json.dumps(props, sort_keys=True) != before


def load(fixture):
    with open(os.path.join(fixture, "amplitude.ndjson")) as f:
        events = [json.loads(l) for l in f if l.strip()]
    reqs = []
    with open(os.path.join(fixture, "requests.ndjson")) as f:
        for l in f:
            r = json.loads(l)
            if r.get("sdk") == "amplitude" and r.get("path") == "/2/httpapi" and r.get("events"):
                reqs.append(r)
    req_of = [None] * len(events)
    for r in reqs:
        for i in range(r["first"], r["first"] + r["events"]):
            req_of[i] = r
    return events, req_of


def rows(fixture):
    events, req_of = load(fixture)
    users = {}  # amplitude_id -> state
    out = []
    for i, e in enumerate(events):
        req = req_of[i] or {}
        device_id = e.get("device_id")
        amp_id = int(hashlib.sha256(("amplitude-id:" + str(device_id)).encode()).hexdigest()[:10], 16)
        st = users.setdefault(amp_id, {"props": {}, "groups": {}, "gprops": {},
                                       "created": e.get("time"), "updated": False})
        et = e.get("event_type")
        if et == "$identify":
            st["updated"] = apply_ops(st["props"], e.get("user_properties") or {}) or st["updated"]
            user_properties = copy.deepcopy(e.get("user_properties") or {})
        else:
            user_properties = copy.deepcopy(st["props"])
        if e.get("groups") and et != "$groupidentify":
            st["groups"].update(e["groups"])
        groups = copy.deepcopy(e["groups"]) if e.get("groups") else copy.deepcopy(st["groups"])
        if et == "$groupidentify":
            group_properties = copy.deepcopy(e.get("group_properties") or {})
            for gt, gk in (e.get("groups") or {}).items():
                for k in (gk if isinstance(gk, list) else [gk]):
                    d = st["gprops"].setdefault(gt, {}).setdefault(str(k), {})
                    apply_ops(d, e.get("group_properties") or {})
        else:
            group_properties = copy.deepcopy(st["gprops"])
        browser, bversion, device_type, device_family = parse_ua(e.get("user_agent"))
        received = req.get("received")
        recv_ms = (datetime.datetime.fromisoformat(received.replace("Z", "+00:00")).timestamp() * 1000
                   if received else e.get("time"))
        data = {"path": "/2/httpapi", "group_first_event": {}, "group_ids": {}}
        if st["updated"]:
            data["user_properties_updated"] = True
        row = {
            "$insert_id": e.get("insert_id"),
            "$insert_key": None,
            "$schema": None,
            "adid": None,
            "amplitude_attribution_ids": None,
            "amplitude_event_type": None,
            "amplitude_id": amp_id,
            "app": APP_ID,
            "city": None,
            "client_event_time": amp_time(e["time"]),
            "client_upload_time": amp_time(req.get("client_upload_time") or recv_ms),
            "country": None,
            "data": data,
            "data_type": "event",
            "device_brand": None,
            "device_carrier": None,
            "device_family": device_family,
            "device_id": device_id,
            "device_manufacturer": None,
            "device_model": None,
            "device_type": device_type,
            "dma": None,
            "event_id": e.get("event_id"),
            "event_properties": copy.deepcopy(e.get("event_properties") or {}),
            "event_time": amp_time(e["time"]),
            "event_type": et,
            "global_user_properties": None,
            "group_properties": group_properties,
            "groups": groups,
            "idfa": None,
            "ip_address": req.get("remote") if e.get("ip") in (None, "$remote") else e.get("ip"),
            "is_attribution_event": None,
            "language": language_name(e.get("language")),
            "library": e.get("library"),
            "location_lat": None,
            "location_lng": None,
            "os_name": browser,
            "os_version": bversion,
            "partner_id": e.get("partner_id"),
            "paying": None,
            "plan": e.get("plan") or {},
            "platform": e.get("platform"),
            "processed_time": amp_time(recv_ms + 3),
            "region": None,
            "sample_rate": None,
            "server_received_time": amp_time(recv_ms),
            "server_upload_time": amp_time(recv_ms),
            "session_id": e.get("session_id", -1),
            "source_id": None,
            "start_version": None,
            "user_creation_time": amp_time(st["created"]),
            "user_id": e.get("user_id"),
            "user_properties": user_properties,
            "uuid": str(uuid.uuid5(UUID_NS, str(e.get("insert_id")))),
            "version_name": e.get("app_version"),
        }
        out.append(row)
    return out


def main(argv):
    fixture = argv[1] if len(argv) > 1 else os.path.join(HERE, "fixture")
    w = sys.stdout
    for r in rows(fixture):
        w.write(json.dumps(r, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
