"""What every program's command line shares, checked against its man page.

Programs: the six of the Makefile, plus any other man/*.1 whose binary is
built (ph-verify, once it exists; skipped while it is not built).  For each:

- the usage text is the man page's SYNOPSIS;
- --help and -h print the usage on stdout, nothing on stderr, exit 0
  (as jq, curl and GNU tools do: asked-for help is output, not an error);
- --version prints "<prog> (amp2ph) <version>" on stdout and exits 0, the
  form common/cli.c's cli_version() prints, with the Makefile's VERSION;
- an unknown option, or an option without its argument, exits 2 with a
  message on stderr and nothing on stdout;
- mandoc -Tlint -W warning finds nothing in man/<prog>.1.

How the usage and the SYNOPSIS are compared.  The SYNOPSIS is rendered with
mandoc -T ascii (wide, so mandoc wraps nothing), its overstrike (bold and
underline) removed, and the text between the SYNOPSIS heading and the next
section heading kept.  The usage is what --help prints (on stdout, or
stderr while the programs still print it there, so this test reports a
difference of text apart from the stream, which the --help test checks),
with its leading "usage:" removed.  Both are then normalised the same way:

- every run of whitespace, newlines and indentation included, becomes one
  space, and leading and trailing spaces go: where a line is wrapped is
  layout (mandoc wraps at its width, a program at 80 columns);
- the spaces around "|" go: mdoc renders an alternation of arguments
  (".Cm us | eu") as "us | eu" and usage text tends to write "us|eu"; both
  are the same choice.

Everything else must match exactly: option names, argument names, brackets,
their order and "...".
"""
import glob
import os
import re
import subprocess

import pytest

from conftest import ROOT, prog, run

CORE = ["amp-export", "amp-unpack", "amp-convert", "ph-alias", "ph-batch",
        "ph-report"]


def man_path(name):
    return os.path.join(ROOT, "man", name + ".1")


def programs():
    """CORE (always: a missing binary fails), plus every man/*.1 whose
    binary is built; a man page without its binary is skipped."""
    names = set(CORE)
    names.update(os.path.basename(p)[:-2]
                 for p in glob.glob(os.path.join(ROOT, "man", "*.1")))
    params = []
    for n in sorted(names):
        if n not in CORE and not os.path.exists(prog(n)):
            params.append(pytest.param(n, marks=pytest.mark.skip(
                reason="%s is not built" % prog(n))))
        else:
            params.append(n)
    return params


PROGRAMS = programs()


def version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        m = re.search(r"^VERSION\s*=\s*(\S+)", f.read(), re.M)
    assert m, "no VERSION in the Makefile"
    return m.group(1)


def normalise(text):
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r" ?\| ?", "|", text)


def synopsis(name):
    """The man page's SYNOPSIS as mandoc renders it, normalised."""
    p = subprocess.run(["mandoc", "-T", "ascii", "-O", "width=500",
                        man_path(name)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=True)
    text = re.sub(r".\x08", "", p.stdout.decode())
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip() == "SYNOPSIS" and not line.startswith(" "):
            inside = True
        elif inside and line and not line[0].isspace():
            break
        elif inside:
            lines.append(line)
    assert lines, "no SYNOPSIS in man/%s.1" % name
    return normalise("\n".join(lines))


def usage_of(out):
    text = out.decode(errors="replace")
    return normalise(re.sub(r"^\s*usage:\s*", "", text, flags=re.I))


@pytest.fixture(params=PROGRAMS)
def name(request):
    return request.param


def test_man_page_exists(name):
    assert os.path.exists(man_path(name)), "no man/%s.1" % name


def test_mandoc_lint(name):
    p = subprocess.run(["mandoc", "-Tlint", "-W", "warning", man_path(name)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    msgs = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode == 0 and msgs == "", msgs


def test_usage_is_synopsis(name):
    p = run([name, "--help"])
    out = p.stdout if p.stdout.strip() else p.stderr
    assert usage_of(out) == synopsis(name), (
        "\n--help:   %s\nSYNOPSIS: %s" % (usage_of(out), synopsis(name)))


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_on_stdout(name, flag):
    p = run([name, flag])
    assert (p.returncode, len(p.stderr)) == (0, 0), (
        "%s %s: exit %d (want 0), %d bytes on stdout (want the usage), "
        "stderr (want none): %r" % (name, flag, p.returncode, len(p.stdout),
                                    p.stderr.decode(errors="replace")))
    assert p.stdout.lower().startswith(b"usage: " + name.encode() + b" ")
    assert usage_of(p.stdout) == synopsis(name)


def test_help_and_h_agree(name):
    a, b = run([name, "--help"]), run([name, "-h"])
    assert (a.returncode, a.stdout, a.stderr) == \
        (b.returncode, b.stdout, b.stderr)


def test_version(name):
    p = run([name, "--version"])
    assert p.returncode == 0, p.stderr
    assert p.stderr == b""
    assert p.stdout.decode() == "%s (amp2ph) %s\n" % (name, version())


@pytest.mark.parametrize("bad", ["--no-such-option", "-Z"])
def test_unknown_option(name, bad):
    p = run([name, bad], input=b"")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stdout == b""
    err = p.stderr.decode(errors="replace")
    assert bad.lstrip("-") in err, err


def test_missing_argument(name):
    """The first option of the SYNOPSIS that takes an argument, without it."""
    m = re.search(r"(--[a-z][a-z0-9-]*) [a-z]", synopsis(name))
    assert m, "no option with an argument in the SYNOPSIS"
    p = run([name, m.group(1)], input=b"")
    assert p.returncode == 2, (m.group(1), p.returncode, p.stderr)
    assert p.stdout == b""
    assert m.group(1).lstrip("-") in p.stderr.decode(errors="replace")


def test_usage_error_has_usage(name):
    """A usage error shows the same usage text, on stderr."""
    p = run([name, "--no-such-option"], input=b"")
    err = p.stderr.decode(errors="replace")
    i = err.lower().find("usage:")
    assert i >= 0, err
    assert usage_of(err[i:].encode()) == synopsis(name)


# An option that takes one value, given twice, is a usage error: the last
# must not silently win (one per program, and a choice of two).
TWICE = [
    ("amp-export", ["--window", "1h", "--window", "2h"], "--window"),
    ("amp-export", ["--region", "eu", "--host", "http://x"], "--host"),
    ("amp-unpack", ["--since", "2024-01-01T00", "--since",
                    "2024-01-02T00"], "--since"),
    ("ph-alias", ["-j", "a", "-j", "b"], "--journal"),
    ("ph-batch", ["--rate", "10/s", "--rate", "20/s"], "--rate"),
    ("ph-batch", ["--host", "http://a", "--region", "eu"], "--region"),
    ("ph-verify", ["--settle", "1m", "--settle", "2m"], "--settle"),
    ("ph-report", ["-o", "a", "-o", "b"], "--output"),
]


@pytest.mark.parametrize("name,args,opt", TWICE,
                         ids=["%s%s" % (n, a[0]) for n, a, _ in TWICE])
def test_single_valued_option_twice_is_an_error(name, args, opt):
    p = run([name] + args, input=b"")
    assert p.returncode == 2, p.stderr
    assert opt.encode() in p.stderr and p.stdout == b""


@pytest.mark.parametrize("name", ["ph-batch", "ph-verify"])
def test_project_must_be_a_number(name):
    """Both take --project alike (common/phapi)."""
    p = subprocess.run([prog(name), "--project", "my-project", "-j", "x"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 2
    assert p.stderr == (b"%s: --project: expected the project's number "
                        b"(in its URL), got my-project\n" % name.encode())
