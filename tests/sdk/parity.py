#!/usr/bin/env python3
"""How close does amp2ph get to what posthog-js itself sends?

    python3 parity.py [--json] [--fixture DIR] [--show-pairs]

Reads a recorded fixture (record.mjs: the same browser session seen by the
real Amplitude Browser SDK and the real posthog-js), turns the Amplitude side
into export rows (to_export.py), runs them through the real binaries

    amp-convert | ph-alias          (from $AMP2PH_BUILD, default build/)

and compares, event pair by event pair, every property PostHog's products read
(web analytics, sessions, actions, persons, groups) with what posthog-js sent
for the same user action.

Pairs: the k-th $pageview with the k-th converted [Amplitude] Page Viewed; the
$pageleave of the k-th $pageview with amp-convert --pageleave's $pageleave of
the k-th converted page view (each found by its $prev_pageview_id; posthog-js's
leaves of pages no later page view of the same tab follows cannot be made from
an export and are listed as not paired by nature, with that reason); the
k-th autocapture click / change / submit of posthog-js with the k-th converted
Element Clicked / Element Changed / Form Submitted (whatever amp-convert names
it); $identify with ph-alias's $identify; $groupidentify; custom events by name.
Person properties are compared once, on the person each stream leaves behind
after PostHog's ingestion rules (person-property lifting of $initial_* keys,
$set, $set_once, $process_person_profile), see person_state().

A comparison is counted for a pair and a property when at least one side has a
non-null value: agree (equal; numbers by value), missing (posthog-js has it,
the converted event does not), differs (both have it and they differ, or only
the converted event has it). score = agree / all counted comparisons.

A difference is NOT counted, but shown as "cannot agree" with its reason, only
when explain() proves it is one of the differences no converter can remove
from an Amplitude export (EXPLAINED: what the Amplitude SDK did not record, or
recorded otherwise); for the element chain that means posthog-js's chain, with
only those known changes made, equals the converted one exactly. Everything
else, including what amp-convert could only fix by reading later rows, counts.

Exit 0 when it ran; 1 when the binaries fail or amp-convert rejects a row.
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import to_export  # noqa: E402

CAMPAIGN = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
            "gad_source", "mc_cid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid",
            "fbclid", "msclkid", "twclid", "li_fat_id", "igshid", "ttclid", "rdt_cid",
            "epik", "qclid", "sccid", "irclid", "_kx"]
PAGE = ["$current_url", "$host", "$pathname", "$referrer", "$referring_domain"]
DEVICE = ["$browser", "$browser_version", "$os", "$os_version", "$device_type",
          "$viewport_width", "$viewport_height"]
COMMON = ["event", "distinct_id"] + PAGE + CAMPAIGN + DEVICE + ["$session_id", "$groups"]
PAGEVIEW = COMMON + ["title", "$prev_pageview_pathname"]
PAGELEAVE = COMMON + ["$prev_pageview_pathname", "$prev_pageview_duration"]
# $prev_pageview_duration agrees within this many seconds: posthog-js stamps
# the leave at pagehide, amp-convert at the next page's Amplitude page view,
# which the browser sends once the next page has loaded.
DURATION_SLACK_S = 1.0
AUTOCAPTURE = COMMON + ["$event_type", "$el_text", "$external_click_url", "$elements_chain",
                        "chain:target", "chain:tags", "chain:texts", "chain:hrefs", "chain:ids"]
IDENTIFY = ["event", "distinct_id", "$anon_distinct_id"]
GROUPIDENTIFY = ["event", "distinct_id", "$group_type", "$group_key", "$group_set"]

# Person properties PostHog lifts from event properties ($set key and
# $set_once $initial_key), nodejs/src/common/persons/person-property-utils.ts
LIFTED = ["$app_build", "$app_name", "$app_namespace", "$app_version", "$browser",
          "$browser_version", "$device_type", "$current_url", "$pathname", "$os", "$os_name",
          "$os_version", "$referring_domain", "$referrer", "$screen_height", "$screen_width",
          "$viewport_height", "$viewport_width", "$raw_user_agent"] + CAMPAIGN + ["utm_name"]

CANNOT_AGREE = [
    ("uuid, $insert_id, $window_id, $pageview_id, $device_id",
     "random ids each SDK draws for itself; amp-convert keeps Amplitude's own (uuid from the "
     "export row, $insert_id, $device_id = Amplitude device_id)"),
    ("distinct_id / $anon_distinct_id values",
     "each SDK draws its own anonymous id; compared here by role (the device's anonymous id "
     "before login, the user id after) instead of by value"),
    ("$session_id value", "random UUIDv7 in posthog-js; amp-convert builds a UUIDv7 from Amplitude's "
     "session_id; compared as: both UUIDv7 and the same session grouping"),
    ("timestamp, $time, $initialization_time",
     "the two SDKs stamp the same action a few ms apart"),
    ("$screen_height, $screen_width, $raw_user_agent, $timezone, $timezone_offset, "
     "$browser_language(_prefix)",
     "Amplitude's export has no screen size, user agent or timezone; language only as a name"),
    ("the $pageleave of a page no later page view of its tab follows (left for another "
     "site, or the tab closed), and scroll/content depth ($prev_pageview_*scroll*, "
     "*content*)",
     "Amplitude records no page leave or scroll depth: amp-convert --pageleave makes the "
     "leave of a page from the next page view of the same tab; the last page's leave time "
     "is in no row"),
    ("$session_entry_*", "posthog-js keeps them per session; PostHog's sessions table computes "
     "entry values from the session's events itself"),
    ("$lib, $lib_version, token, $is_identified, $process_person_profile, $config_defaults, "
     "$sdk_*, $lib_custom_api_host, $recording_status, $configured_session_timeout_ms, "
     "$lib_rate_limit_remaining_tokens, $ce_version",
     "describe the SDK instance, not the user action"),
]


# Differences that cannot agree from an export, each proved per comparison by
# explain(); the vendor sources are those amp-convert(1) CAVEATS cite.
EXPLAINED = {
    "os_version":
        "a web export row has no OS version: os_name/os_version hold the BROWSER "
        "(\"Chrome\", \"156\"), the OS only as device_type/device_family (\"Mac\", "
        "\"Mac OS X\"); see shared/reference/examples (a real amplitude-ts row) and "
        "amplitude-export.md. posthog-js reads 10.15.7 from the user agent, which the "
        "export does not keep",
    "child":
        "the click landed on a child (<span>) of a link or button: posthog-js names "
        "the element clicked (autocapture.ts, the chain starts at the event target, "
        "posthog-js 9b2a1b18db64), Amplitude the closest element of its allowlist "
        "(a, button, input, ...: data-extractor.ts getClosestElement, "
        "Amplitude-TypeScript 6deb0623b3d4) and records nothing below it",
    "name":
        "attr__name of a form field: Amplitude's Element Hierarchy keeps only the "
        "type attribute of input/select/textarea (hierarchy.ts "
        "SENSITIVE_ELEMENT_ATTRIBUTE_ALLOWLIST); posthog-js keeps name, id, class, "
        "aria-label (autocapture.ts getPropertiesFromElement)",
    "innertext":
        "text of a link or button with markup inside: posthog-js takes its direct text "
        "and that of its <span> children only (getDirectAndNestedSpanText: \"Choose\" "
        "of <span>Choose <b>Pro</b></span>), Amplitude innerText (\"Choose Pro\", "
        "data-extractor.ts getText); the export has no markup to tell them apart",
    "login_race":
        "Amplitude builds Element Clicked / Form Submitted asynchronously and stamped "
        "the submit click and the submit with the user id the app's submit handler "
        "had just set (setUserId), a few ms before its login $identify; posthog-js, "
        "running first, still had the anonymous id. The export row says user-42 and "
        "nothing in it says the login came after the click",
}
AMP_TRACKED = ("a", "button", "input", "select", "textarea", "label", "video", "audio")
LOGIN_RACE_MS = 1000


def build_dir():
    b = os.environ.get("AMP2PH_BUILD", "build")
    return b if os.path.isabs(b) else os.path.join(ROOT, b)


def ndjson(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def convert(rows):
    """rows -> amp-convert | ph-alias -> events; raises on failure or rejects."""
    bd = build_dir()
    data = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"
                   for r in rows).encode()
    c = subprocess.run([os.path.join(bd, "amp-convert"), "--pageleave"], input=data,
                       stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    if c.returncode != 0:
        raise RuntimeError("amp-convert exited %d: %s" % (c.returncode, c.stderr.decode(errors="replace")))
    a = subprocess.run([os.path.join(bd, "ph-alias")], input=c.stdout, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    if a.returncode != 0:
        raise RuntimeError("ph-alias exited %d: %s" % (a.returncode, a.stderr.decode(errors="replace")))
    return ndjson(a.stdout.decode()), c.stderr.decode(errors="replace").strip(), \
        a.stderr.decode(errors="replace").strip()


# ------------------------------------------------------------ elements chain
def chain_from_elements(elements):
    """The elements chain string PostHog builds from an $elements array (the
    algorithm of posthog-js autocapture-utils elementsToString/extractElements,
    which ingestion's elements-chain.ts mirrors), reimplemented."""
    out = []
    for el in elements or []:
        if not isinstance(el, dict):
            continue
        s = el.get("tag_name") or ""
        classes = el.get("attr__class")
        if isinstance(classes, str):
            classes = [c for c in classes.split(" ") if c]
        for c in sorted(classes or []):
            s += "." + c.replace('"', "")
        attrs = {}
        text = el.get("$el_text")
        if text:
            attrs["text"] = str(text)[:400]
        attrs["nth-child"] = el.get("nth_child") if el.get("nth_child") is not None else 0
        attrs["nth-of-type"] = el.get("nth_of_type") if el.get("nth_of_type") is not None else 0
        if el.get("attr__href"):
            attrs["href"] = str(el["attr__href"])[:2048]
        if el.get("attr__id"):
            attrs["attr_id"] = el["attr__id"]
        for k, v in el.items():
            if k.startswith("attr__"):
                attrs[k] = v
        esc = lambda x: re.sub(r'"|\\"', '\\\\"', x)  # noqa: E731
        s += ":" + "".join('%s="%s"' % (esc(str(k)), esc(jsstr(v))) for k, v in sorted(attrs.items()))
        out.append(s)
    return ";".join(out)


def jsstr(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(jsstr(x) for x in v)
    if v is None:
        return "null"
    return str(v)


CHAIN_EL = re.compile(r'(?:^|;)([^;:]*?):((?:[^;"]*="(?:[^"\\]|\\.)*")*)')


def parse_chain(chain):
    """elements chain -> list of (tag, {key: value})."""
    if not chain:
        return []
    els = []
    for part in split_chain(chain):
        head, _, rest = part.partition(":")
        tag = head.split(".")[0]
        attrs = dict(re.findall(r'([^="]+)="((?:[^"\\]|\\.)*)"', rest))
        els.append((tag, attrs))
    return els


def split_chain(chain):
    parts, cur, inq, i = [], "", False, 0
    while i < len(chain):
        ch = chain[i]
        if ch == "\\" and i + 1 < len(chain):
            cur += chain[i:i + 2]
            i += 2
            continue
        if ch == '"':
            inq = not inq
        if ch == ";" and not inq:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    if cur:
        parts.append(cur)
    return parts


def event_chain(props):
    c = props.get("$elements_chain")
    if c:
        return c
    if props.get("$elements"):
        return chain_from_elements(props["$elements"])
    return None


def chain_facets(chain):
    """What PostHog's materialized columns and action matching read."""
    els = parse_chain(chain)
    if not els:
        return {}
    return {
        "chain:target": els[0][0] + ("#" + els[0][1]["attr_id"] if els[0][1].get("attr_id") else "")
        + ("[text=%s]" % els[0][1]["text"] if els[0][1].get("text") else ""),
        "chain:tags": ">".join(t for t, _ in els),
        "chain:texts": sorted({a["text"] for _, a in els if a.get("text")}),
        "chain:hrefs": sorted({a["href"] for _, a in els if a.get("href")}),
        "chain:ids": sorted({a["attr_id"] for _, a in els if a.get("attr_id")}),
    }


def chain_parts(chain):
    """elements chain -> list of [head, [(key, raw value), ...]], order kept."""
    out = []
    for part in split_chain(chain or ""):
        head, _, rest = part.partition(":")
        out.append([head, re.findall(r'([^="]+)="((?:[^"\\]|\\.)*)"', rest)])
    return out


def chain_join(parts):
    return ";".join(h + ":" + "".join('%s="%s"' % kv for kv in a) for h, a in parts)


def subsequence(short_words, long_words):
    it = iter(long_words)
    return all(w in it for w in short_words)


def explain_chain(ph_chain, cv_chain, steps=("child", "name", "innertext")):
    """posthog-js's chain with only the changes EXPLAINED names (a clicked child
    of a tracked element dropped, attr__name of form fields dropped, innerText for
    the text of a link/button whose posthog-js text is a part of it), and which
    of them were needed; (None, set()) when there is nothing to explain."""
    P, C = chain_parts(ph_chain), chain_parts(cv_chain)
    if not P or not C:
        return None, set()
    why = set()
    tag = lambda e: e[0].split(".")[0]  # noqa: E731
    if "child" in steps and tag(P[0]) != tag(C[0]) and tag(P[0]) not in AMP_TRACKED:
        k = next((i for i, e in enumerate(P) if tag(e) == tag(C[0])), None)
        if k is not None and tag(C[0]) in AMP_TRACKED and \
                all(tag(e) not in AMP_TRACKED for e in P[:k]):
            P = P[k:]
            why.add("child")
    for e in P:
        if "name" in steps and tag(e) in ("input", "select", "textarea") and \
                any(k == "attr__name" for k, _ in e[1]):
            e[1] = [(k, v) for k, v in e[1] if k != "attr__name"]
            why.add("name")
    for e, c in zip(P, C):
        if "innertext" not in steps or tag(e) != tag(c) or tag(e) not in ("a", "button"):
            continue
        pt, ct = dict(e[1]).get("text"), dict(c[1]).get("text")
        if pt and ct and pt != ct and subsequence(pt.split(), ct.split()):
            e[1] = [(k, ct if k == "text" else v) for k, v in e[1]]
            why.add("innertext")
    return chain_join(P), why


def explain(key, pv, cv, a, b, ctx_ph, ctx_cv):
    """The EXPLAINED reasons that make this difference one no converter can
    remove, or None (then it counts)."""
    if key in ("$os_version", "person.$os_version", "person.$initial_os_version"):
        return ["os_version"] if empty(cv) else None
    if a is None:
        return None
    pa, pb = a.get("properties") or {}, b.get("properties") or {}
    if key == "$elements_chain" or key.startswith("chain:") or key == "$el_text":
        def agrees(steps):
            norm, why = explain_chain(event_chain(pa), event_chain(pb), steps)
            if not why:
                return False, why
            if key == "$elements_chain":
                return norm == cv, why
            if key == "$el_text":
                t = parse_chain(norm)[0][1].get("text") if norm else None
                return bool(why & {"child", "innertext"}) and t == cv, why
            return same(chain_facets(norm).get(key), cv), why
        ok, why = agrees(("child", "name", "innertext"))
        if not ok:
            return None
        # the reasons this difference needs: those without which it stays
        need = sorted(r for r in why if not agrees(tuple(why - {r}))[0])
        return need or sorted(why)
    if key == "distinct_id":
        anon, user = ctx_cv["identity"]
        if pv != "<the device's anonymous id>" or user is None or cv != user:
            return None
        t = to_ms(b.get("timestamp"))
        logins = [to_ms(e.get("timestamp")) for e in ctx_cv["events"]
                  if e.get("event") == "$identify" and e.get("distinct_id") == user]
        if t is not None and any(l is not None and abs(t - l) <= LOGIN_RACE_MS for l in logins):
            return ["login_race"]
    return None


def to_ms(ts):
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$", ts or "")
    if not m:
        return None
    import calendar
    secs = calendar.timegm(tuple(int(x) for x in m.groups()[:6]))
    frac = (m.group(7) or "0")[:3].ljust(3, "0")
    return secs * 1000 + int(frac)


# ------------------------------------------------------------ streams
def top(e, key):
    v = e.get(key)
    if v is None:
        v = (e.get("properties") or {}).get(key)
    return v


def category(e):
    name = e.get("event")
    p = e.get("properties") or {}
    if name == "$pageview":
        return "pageview"
    if name == "$pageleave":
        return "pageleave"
    if name == "$autocapture":
        return "autocapture:%s" % p.get("$event_type")
    if name == "[Amplitude] Element Clicked":
        return "autocapture:click"
    if name == "[Amplitude] Element Changed":
        return "autocapture:change"
    if name == "[Amplitude] Form Submitted":
        return "autocapture:submit"
    if name == "$identify":
        return "identify"
    if name == "$groupidentify":
        return "groupidentify"
    if name and not name.startswith("$") and not name.startswith("[Amplitude]"):
        return "custom:" + name
    return None


def props_for(cat):
    if cat == "pageview":
        return PAGEVIEW
    if cat == "pageleave":
        return PAGELEAVE
    if cat.startswith("autocapture"):
        return AUTOCAPTURE
    if cat == "identify":
        return IDENTIFY
    if cat == "groupidentify":
        return GROUPIDENTIFY
    return COMMON


def identity(events):
    """(anonymous id, user id) of a stream, from its $identify."""
    for e in events:
        if e.get("event") == "$identify":
            return (e.get("properties") or {}).get("$anon_distinct_id"), e.get("distinct_id")
    return None, None


def session_ordinals(events):
    seen = {}
    for e in events:
        s = (e.get("properties") or {}).get("$session_id")
        if s is not None and s not in seen:
            seen[s] = len(seen)
    return seen


UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def value(e, key, ctx):
    p = e.get("properties") or {}
    if key == "event":
        return e.get("event")
    if key in ("distinct_id", "$anon_distinct_id"):
        v = e.get("distinct_id") if key == "distinct_id" else p.get(key)
        if v is None:
            v = p.get("distinct_id") if key == "distinct_id" else None
        anon, _ = ctx["identity"]
        if v is not None and v == anon:
            return "<the device's anonymous id>"
        return v
    if key == "$session_id":
        s = p.get("$session_id")
        if s is None:
            return None
        if not UUID7.match(str(s)):
            return "not a UUIDv7: %s" % s
        return "UUIDv7, session #%d" % ctx["sessions"][s]
    if key.startswith("chain:") or key == "$elements_chain":
        c = event_chain(p)
        if key == "$elements_chain":
            return c
        return chain_facets(c).get(key) if c else None
    if key in ("$set", "$set_once"):
        return top(e, key)
    return p.get(key)


def same(a, b, key=None):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if key == "$prev_pageview_duration" and isinstance(a, (int, float)) and \
            isinstance(b, (int, float)):
        return abs(float(a) - float(b)) <= DURATION_SLACK_S
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def empty(v):
    return v is None or v == [] or v == ""


# ------------------------------------------------------------ persons
def person_state(events):
    """The person properties PostHog's ingestion leaves, all of a stream's
    events being one person (the anonymous person is merged into the user on
    $identify): events with $process_person_profile false are skipped; each
    other event's lifted keys become $set key / $set_once $initial_key (unless
    the event sets them), then $set_once fills absent keys and $set overwrites
    (utils/db/utils.ts personInitialAndUTMProperties)."""
    person = {}
    for e in events:
        p = e.get("properties") or {}
        if p.get("$process_person_profile") is False or e.get("event") == "$groupidentify":
            continue
        s = dict(top(e, "$set") or {})
        so = dict(top(e, "$set_once") or {})
        for k in LIFTED:
            v = p.get(k)
            if v is None:
                continue
            if k not in s:
                s[k] = v
            ik = "$initial_" + k.lstrip("$")
            if ik not in so:
                so[ik] = v
        for k, v in so.items():
            if k not in person:
                person[k] = v
        person.update(s)
    return person


UNRECORDED = ("screen_height", "screen_width", "raw_user_agent")


# ------------------------------------------------------------ compare
def compare(fixture):
    ph = ndjson(open(os.path.join(fixture, "posthog.ndjson")).read())
    rows = to_export.rows(fixture)
    conv, conv_err, alias_err = convert(rows)
    ctx_ph = {"identity": identity(ph), "sessions": session_ordinals(ph), "events": ph}
    ctx_cv = {"identity": identity(conv), "sessions": session_ordinals(conv), "events": conv}

    def groups(events):
        g = {}
        for e in events:
            c = category(e)
            if c:
                g.setdefault(c, []).append(e)
        return g
    gph, gcv = groups(ph), groups(conv)
    pairs, unmatched = [], []
    leaves_by_nature = []
    # $pageleave: by the page view it leaves ($prev_pageview_id), the k-th
    # page view of each stream being a pair
    lph, lcv = gph.pop("pageleave", []), gcv.pop("pageleave", [])

    def leave_index(leaves, pageviews):
        ids = {top(e, "uuid"): i for i, e in enumerate(pageviews)}
        out = {}
        for e in leaves:
            k = ids.get((e.get("properties") or {}).get("$prev_pageview_id"))
            if k is not None and k not in out:
                out[k] = e
            else:
                out[("unknown", len(out))] = e
        return out
    iph = leave_index(lph, gph.get("pageview", []))
    icv = leave_index(lcv, gcv.get("pageview", []))
    for k in sorted(set(iph) | set(icv), key=str):
        if k in iph and k in icv:
            pairs.append(("pageleave", k, iph[k], icv[k]))
        elif k in iph and not isinstance(k, tuple):
            leaves_by_nature.append(k + 1)
        else:
            unmatched.append({"category": "pageleave", "index": k if not isinstance(k, tuple)
                              else -1, "only_in": "posthog-js" if k in iph else "amp2ph"})
    for cat in sorted(set(gph) | set(gcv)):
        a, b = gph.get(cat, []), gcv.get(cat, [])
        for i in range(max(len(a), len(b))):
            if i < len(a) and i < len(b):
                pairs.append((cat, i, a[i], b[i]))
            else:
                unmatched.append({"category": cat, "index": i,
                                  "only_in": "posthog-js" if i < len(a) else "amp2ph"})
    table = {}
    details = []
    cannot = []

    def count(prop, status, pair_name, pv, cv, a=None, b=None):
        t = table.setdefault(prop, {"agree": 0, "missing": 0, "differs": 0, "extra": 0,
                                    "cannot": 0})
        if status != "agree":
            why = explain(prop, pv, cv, a, b, ctx_ph, ctx_cv)
            if why:
                t["cannot"] += 1
                cannot.append({"pair": pair_name, "property": prop, "status": status,
                               "reasons": why, "posthog_js": pv, "amp2ph": cv})
                return
        t[status] += 1
        if status != "agree":
            if status == "extra":
                t["differs"] += 1
            details.append({"pair": pair_name, "property": prop, "status": status,
                            "posthog_js": pv, "amp2ph": cv})

    for cat, i, a, b in pairs:
        name = "%s #%d" % (cat, i + 1)
        props = list(props_for(cat))
        if cat.startswith("custom:"):
            props += sorted(k for k in (a.get("properties") or {}) if not k.startswith("$")
                            and k not in CAMPAIGN and k not in ("token", "distinct_id", "title"))
        for k in props:
            pv, cv = value(a, k, ctx_ph), value(b, k, ctx_cv)
            if empty(pv) and empty(cv):
                continue
            if empty(cv):
                count(k, "missing", name, pv, cv, a, b)
            elif empty(pv):
                count(k, "extra", name, pv, cv, a, b)
            elif same(pv, cv, k):
                count(k, "agree", name, pv, cv, a, b)
            else:
                count(k, "differs", name, pv, cv, a, b)

    # persons
    pp, cp = person_state(ph), person_state(conv)
    person_extra = sorted(k for k in cp if k not in pp)
    person_unrecorded = []
    for k in sorted(pp):
        if any(u in k for u in UNRECORDED):
            person_unrecorded.append(k)
            continue
        if empty(pp[k]) and empty(cp.get(k)):
            continue
        prop = "person." + k
        if empty(cp.get(k)):
            count(prop, "missing", "person", pp[k], cp.get(k))
        elif same(pp[k], cp[k]):
            count(prop, "agree", "person", pp[k], cp[k])
        else:
            count(prop, "differs", "person", pp[k], cp[k])

    agree = sum(t["agree"] for t in table.values())
    total = sum(t["agree"] + t["missing"] + t["differs"] for t in table.values())
    only_ph = sorted({e["event"] for e in ph if category(e) is None})
    only_cv = sorted({e["event"] for e in conv if category(e) is None})
    return {
        "fixture": os.path.relpath(fixture, ROOT),
        "build": os.path.relpath(build_dir(), ROOT),
        "events": {"posthog_js": len(ph), "amplitude_sent": len(rows), "amp2ph": len(conv)},
        "pairs": len(pairs),
        "pairs_by_category": dict(
            {c: min(len(gph.get(c, [])), len(gcv.get(c, []))) for c in sorted(set(gph) | set(gcv))},
            pageleave=sum(1 for p in pairs if p[0] == "pageleave")),
        "unmatched": unmatched,
        "not_paired_by_nature": {
            "posthog_js_only": {n: sum(1 for e in ph if e["event"] == n) for n in only_ph},
            "amp2ph_only": {n: sum(1 for e in conv if e["event"] == n) for n in only_cv},
            # posthog-js's leave of the k-th page view (from 1) that no later
            # page view of the same tab follows: no export row says its time
            "posthog_js_pageleave_of_pageview": leaves_by_nature,
        },
        "comparisons": total,
        "agree": agree,
        "score": (agree / total) if total else 0.0,
        "table": table,
        "differences": details,
        "cannot_agree_differences": cannot,
        "cannot_agree_count": len(cannot),
        "person_extra_keys_in_amp2ph": person_extra,
        "person_keys_not_recorded_by_amplitude": person_unrecorded,
        "cannot_agree": [{"properties": a, "why": b} for a, b in CANNOT_AGREE],
        "cannot_agree_reasons": EXPLAINED,
        "amp_convert_stderr": conv_err,
        "ph_alias_stderr": alias_err,
    }


def short(v, n=70):
    s = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    return s if len(s) <= n else s[:n - 3] + "..."


def report(r, show_pairs=False):
    w = sys.stdout.write
    w("SDK parity: %s through %s/amp-convert | ph-alias\n" % (r["fixture"], r["build"]))
    w("events: posthog-js %(posthog_js)d, Amplitude SDK %(amplitude_sent)d, amp2ph %(amp2ph)d\n" % r["events"])
    w("pairs: %d  (%s)\n" % (r["pairs"], ", ".join("%s %d" % kv for kv in r["pairs_by_category"].items())))
    if r["unmatched"]:
        w("UNMATCHED: %s\n" % ", ".join("%(category)s #%(index)d only in %(only_in)s" % u
                                        for u in r["unmatched"]))
    w("not paired by nature: posthog-js only %s; amp2ph only %s; posthog-js's $pageleave of "
      "$pageview %s (no later page view of its tab)\n\n" % (
          json.dumps(r["not_paired_by_nature"]["posthog_js_only"]),
          json.dumps(r["not_paired_by_nature"]["amp2ph_only"]),
          ", ".join("#%d" % k for k in r["not_paired_by_nature"]["posthog_js_pageleave_of_pageview"])
          or "none"))
    w("%-34s %6s %8s %8s %13s\n" % ("property", "agree", "missing", "differs", "cannot agree"))
    for k in sorted(r["table"], key=lambda k: (k.startswith("person."), k)):
        t = r["table"][k]
        extra = " (%d only in amp2ph)" % t["extra"] if t["extra"] else ""
        w("%-34s %6d %8d %8d %13d%s\n" % (k, t["agree"], t["missing"], t["differs"],
                                           t["cannot"], extra))
    w("\nscore: %d / %d = %.4f\n" % (r["agree"], r["comparisons"], r["score"]))
    w("(not counted: %d differences that cannot agree, listed below)\n" % r["cannot_agree_count"])
    # one line per (property, kind of difference), with the first example
    w("\ndifferences (first example of each):\n")
    seen = {}
    for d in r["differences"]:
        key = (d["property"], d["status"])
        seen.setdefault(key, []).append(d)
    for (prop, status), ds in sorted(seen.items()):
        d = ds[0]
        w("  %-30s %-7s x%-3d %s: posthog-js %s | amp2ph %s\n" % (
            prop, status, len(ds), d["pair"], short(d["posthog_js"]), short(d["amp2ph"])))
        if show_pairs:
            for d in ds[1:]:
                w("  %-30s %-7s      %s: posthog-js %s | amp2ph %s\n" % (
                    "", "", d["pair"], short(d["posthog_js"]), short(d["amp2ph"])))
    w("\ncannot agree from an export (not counted; first example of each):\n")
    seen = {}
    for d in r["cannot_agree_differences"]:
        seen.setdefault((d["property"], d["status"], tuple(d["reasons"])), []).append(d)
    for (prop, status, why), ds in sorted(seen.items()):
        d = ds[0]
        w("  %-30s %-7s x%-3d %s [%s]: posthog-js %s | amp2ph %s\n" % (
            prop, status, len(ds), d["pair"], ",".join(why), short(d["posthog_js"]),
            short(d["amp2ph"])))
        if show_pairs:
            for d in ds[1:]:
                w("  %-30s %-7s      %s: posthog-js %s | amp2ph %s\n" % (
                    "", "", d["pair"], short(d["posthog_js"]), short(d["amp2ph"])))
    for k in sorted({k for d in r["cannot_agree_differences"] for k in d["reasons"]}):
        w("  [%s] %s\n" % (k, r["cannot_agree_reasons"][k]))
    w("\nperson keys only amp2ph sets: %s\n" % ", ".join(r["person_extra_keys_in_amp2ph"]))
    w("person keys Amplitude does not record: %s\n" % ", ".join(r["person_keys_not_recorded_by_amplitude"]))
    w("\nnot compared (cannot agree):\n")
    for c in r["cannot_agree"]:
        w("  - %s: %s\n" % (c["properties"], c["why"]))


def main(argv):
    fixture = os.path.join(HERE, "fixture")
    as_json = show = False
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a == "--json":
            as_json = True
        elif a == "--show-pairs":
            show = True
        elif a == "--fixture":
            fixture = os.path.abspath(args.pop(0))
        else:
            sys.stderr.write("usage: parity.py [--json] [--show-pairs] [--fixture DIR]\n")
            return 2
    try:
        r = compare(fixture)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        sys.stderr.write("parity.py: %s\n" % e)
        return 1
    if as_json:
        json.dump(r, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        report(r, show)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
