"""The fault SPEC the HTTP stand-ins share (capture_standin.py and
query_standin.py): rules separated by ';' or newlines, each
KIND[:ARG][@WHEN...], a WHEN being N, N-M, everyK or pF.  What a KIND
means, and which ARG it takes, is each stand-in's: it passes a check
function to parse_spec.  One parser, so a SPEC means the same to both."""
import re

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


def parse_rule(text, check):
    """check(kind, arg, text) -> (kind, arg), or raises ValueError."""
    parts = text.split("@")
    whens = []
    # An ARG may hold '@' (reject-event:NAME): only trailing parts that
    # parse as WHEN are WHENs.
    while len(parts) > 1 and WHEN_RE.match(parts[-1].strip()):
        whens.insert(0, parse_when(parts.pop().strip()))
    kind, sep, arg = "@".join(parts).strip().partition(":")
    kind, arg = check(kind.strip().lower(), arg.strip() if sep else None,
                      text)
    return Rule(kind, arg, tuple(whens), text.strip())


def parse_spec(spec, check):
    return tuple(parse_rule(p, check) for p in re.split(r"[;\n]", spec or "")
                 if p.strip())


def when_holds(w, n, idx, draws):
    """Rule WHEN w for request n; draws holds the pF draws by (rule, w)."""
    if w[0] == "n":
        return w[1] <= n <= w[2]
    if w[0] == "every":
        return n % w[1] == 0
    return draws.get((idx, w), False)


def seconds(arg, text, what="slow"):
    try:
        x = float(arg)
    except (TypeError, ValueError):
        raise ValueError("%s needs seconds: %r" % (what, text)) from None
    if not 0 <= x <= 3600:
        raise ValueError("%s seconds out of range: %r" % (what, text))
    return x


def status_code(arg, text):
    if not arg or not re.fullmatch(r"\d{3}", arg) or \
            not 200 <= int(arg) <= 599:
        raise ValueError("status needs a code 200-599: %r" % text)
    return int(arg)
