"""The docs work word for word: every command block of README.md, docs/*.md
and usermod/natmod/README.md is run here when it can be, or is skipped by
name with its reason (RULES); a block line that no rule covers fails, so a new
command in the docs must be classified here.

- `make TARGET ...`: the target exists (make's own database), and the ones that
  need no board or ESP-IDF are dry-run (`make -n`);
- `build/micropython ...` and `python3 -m host ...`: run, from a top directory
  that looks like the repository's after `make run` (build/micropython,
  models/stories260K.bin and tok512.bin) and `make deploy`'s conversion
  (build/stories260K_int8.llm);
- Python blocks (```python) and `>>>` sessions: run on the host firmware, with a
  board's /rom model path replaced by the converted model on the host;
- every relative link points at a file that exists.
"""
import glob
import os
import re
import shlex
import subprocess
import sys

import pytest

import mpy
from repo import REPO

DOCS = ["README.md", "CONTRIBUTING.md", "usermod/natmod/README.md"] + sorted(
    os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "docs", "*.md")))

# Where a command can run here: dry-run make targets (no board, no ESP-IDF).
DRY_RUN = {"run", "test", "check", "models", "models-15M", "natmod", "natmod-all", "deploy", "bench", "stubs", "typecheck", "help"}

# (pattern of a block line, what to do, why).  First match wins.
RULES = [
    (r"^>>> os\.listdir\('/rom'\)|^\['stories260K_int8\.llm'\]$", "skip", "lists a board's ROMFS"),
    (r"^\[", "skip", "a continuation of the usage synopsis above it"),
    (r"^build/micropython -m llm CHECKPOINT", "skip", "a usage synopsis with placeholders, not a command"),
    (r"^make ", "make", ""),
    (r"^build/micropython ", "run", ""),
    (r"^mpremote connect PORT run examples/", "skip", "needs a board on PORT"),
    (r"^python3 -m host (romfs|convert|info|run) ", "run", ""),
    (r"^python3 -m host s3-estimate ", "skip", "reads make bench-s3's output (minutes on the emulated S3 core)"),
    (r"^python3 -m host int4-study ", "skip", "minutes of numpy over stories15M (docs/int4.md's table is its"
                                            " output)"),
    (r"^python3 -m host bench-board PORT ", "skip", "needs a board on PORT (tests/test_bench_board.py runs it on "
                                                  "the emulated S3 core)"),
    (r"^mpremote connect PORT ", "skip", "needs a board on PORT (tests/test_device.py and test_s3.py do this on "
                                         "the emulators)"),
    (r"^MICROPYPATH=build/natmod/x64:app micropython ", "skip", "needs a stock unix MicroPython and the x64 .mpy "
                                                             "(tests/test_natmod.py runs exactly this)"),
    (r"^(git clone .*esp-idf|cd ~/esp-idf|\. ~/esp-idf/export\.sh)", "skip", "installs ESP-IDF from the network"),
    (r"^pip install ", "skip", "installs Python packages from the network"),
    (r"^>>> ", "session", ""),
    (r"^(compute|memory|\+ KV-cache|tok/s) ", "skip", "a formula of the S3 time model, not a command"),
]


def blocks():
    """(file, line number, text) of every line of an indented or a shell block,
    and (file, line number, code) of every ```python block."""
    lines_out, python_out = [], []
    for doc in DOCS:
        lines = open(os.path.join(REPO, doc)).read().split("\n")
        fence = None
        for i, line in enumerate(lines):
            if line.strip().startswith("```"):
                if fence is None:
                    fence = (line.strip()[3:], i + 1, [])
                else:
                    kind, start, body = fence
                    if kind == "python":
                        python_out.append((doc, start, "\n".join(body)))
                    else:
                        lines_out += [(doc, start + 1 + j, b.strip()) for j, b in enumerate(body) if b.strip()]
                    fence = None
                continue
            if fence is not None:
                fence[2].append(line)
                continue
            m = re.match(r"^ {4,}(\S.*)$", line)
            if m and (i == 0 or not lines[i - 1].strip() or re.match(r"^ {4,}\S", lines[i - 1])) \
                    and not re.match(r"^\s*([-*]|\d+\.) ", line) and not _in_list_item(lines, i):
                lines_out.append((doc, i + 1, m.group(1).strip()))
    return lines_out, python_out


def _in_list_item(lines, i):
    """An indented line that continues a list item's text, not a code block."""
    j = i - 1
    while j >= 0 and lines[j].strip() and re.match(r"^ {4,}\S", lines[j]):
        j -= 1
    return j >= 0 and bool(lines[j].strip()) and not re.match(r"^ {4,}", lines[j])


LINES, PYTHON = blocks()


def rule(text):
    for pattern, action, why in RULES:
        if re.search(pattern, text):
            return action, why
    return None, None


def command(text):
    """The command without its trailing # comment."""
    return re.sub(r"\s+#\s.*$", "", text).strip()


@pytest.fixture(scope="module")
def top(tmp_path_factory, firmware, stories260k_path, tok512_path):
    """A directory laid out as the repository after `make run` and `make deploy`'s conversion."""
    from host import convert
    d = tmp_path_factory.mktemp("top")
    (d / "build").mkdir()
    (d / "models").mkdir()
    os.symlink(firmware, d / "build" / "micropython")
    os.symlink(stories260k_path, d / "models" / "stories260K.bin")
    os.symlink(tok512_path, d / "models" / "tok512.bin")
    for name in ("stories15M.bin", "tokenizer.bin"):  # what make models-15M fetches
        os.symlink(os.path.join(os.path.dirname(stories260k_path), name), d / "models" / name)
    os.symlink(os.path.join(REPO, "examples"), d / "examples")
    convert.convert(stories260k_path, tok512_path, str(d / "build" / "stories260K_int8.llm"), "int8")
    return d


@pytest.fixture(scope="module")
def make_targets():
    r = subprocess.run(["make", "-pRrq", "-f", "Makefile", ":"], cwd=REPO, capture_output=True, text=True,
                       timeout=600)
    return set(re.findall(r"^([A-Za-z0-9][A-Za-z0-9_.-]*):", r.stdout, re.M))


def test_every_block_line_is_classified():
    unclassified = ["%s:%d: %s" % (doc, n, text) for doc, n, text in LINES if rule(text)[0] is None]
    assert not unclassified, "classify these in tests/test_docs.py RULES:\n" + "\n".join(unclassified)


def _id(item):
    return "%s:%d" % (item[0], item[1])


@pytest.mark.parametrize("doc,line,text", LINES, ids=[_id(x) for x in LINES])
def test_block_line(doc, line, text, top, make_targets):
    action, why = rule(text)
    if action in (None, "skip"):
        pytest.skip(why or "unclassified (see test_every_block_line_is_classified)")
    cmd = command(text)
    if action == "make":
        words = shlex.split(cmd)[1:]
        targets = [w for w in words if "=" not in w]
        assert targets, "%s:%d: make without a target" % (doc, line)
        for t in targets:
            assert t in make_targets, "%s:%d: no make target %r" % (doc, line, t)
        if targets[0] in DRY_RUN:
            r = subprocess.run(["make", "-n"] + words, cwd=REPO, capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, "%s:%d: make -n %s:\n%s" % (doc, line, " ".join(words), r.stderr[-2000:])
    elif action == "run":
        env = dict(os.environ, PYTHONPATH=REPO)
        argv = shlex.split(cmd)
        if argv[0] == "python3":
            argv[0] = sys.executable
        r = subprocess.run(argv, cwd=str(top), env=env, capture_output=True, timeout=mpy.DEFAULT_TIMEOUT)
        assert r.returncode == 0, "%s:%d: %s\n%s" % (doc, line, cmd, r.stderr.decode(errors="replace")[-2000:])
        assert r.stdout.strip(), "%s:%d: %s printed nothing" % (doc, line, cmd)
    elif action == "session":
        pass  # run with the rest of its session below


def _host_paths(code, top):
    return code.replace("/rom/stories260K_int8.llm", str(top / "build" / "stories260K_int8.llm"))


@pytest.mark.parametrize("doc,line,code", PYTHON, ids=[_id(x) for x in PYTHON])
def test_python_block(doc, line, code, top):
    code = _host_paths(code, top)
    r = subprocess.run([mpy.firmware(), "-c", code], cwd=str(top), capture_output=True, input=b"",
                       timeout=mpy.DEFAULT_TIMEOUT)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 0 and "Traceback" not in err, "%s:%d:\n%s" % (doc, line, err[-2000:])


SESSIONS = sorted({doc for doc, _, text in LINES if rule(text)[0] == "session"})


@pytest.mark.parametrize("doc", SESSIONS)
def test_repl_session(doc, top):
    """The `>>>` lines of a doc, in order, as one program on the host firmware."""
    code = "\n".join(command(text)[4:] for d, _, text in LINES if d == doc and rule(text)[0] == "session")
    r = subprocess.run([mpy.firmware(), "-c", _host_paths(code, top)], cwd=str(top), capture_output=True, input=b"",
                       timeout=mpy.DEFAULT_TIMEOUT)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 0 and "Traceback" not in err, "%s:\n%s\n%s" % (doc, code, err[-2000:])
    assert b"Once upon a time" in r.stdout


INLINE_MAKE = re.compile(r"`make ([^`]+)`")


@pytest.mark.parametrize("doc", DOCS)
def test_inline_make_commands_name_real_targets(doc, make_targets):
    """`make X` in running text: X is a target as written (a relative file
    target must be spelled as the Makefile spells it)."""
    text = open(os.path.join(REPO, doc)).read()
    missing = []
    for args in INLINE_MAKE.findall(text):
        words = args.split()
        if words[0] == "-C":  # make -C DIR: another Makefile
            continue
        for t in [w for w in words if "=" not in w]:
            if t not in make_targets:
                missing.append(t)
    assert not missing, "%s: no make target %s" % (doc, missing)


EXAMPLES = sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "examples", "*.py")))
# The commands an example's header comment gives: "#   command".
EXAMPLE_LINES = [(ex, i + 1, m.group(1).strip()) for ex in EXAMPLES
                 for i, line in enumerate(open(os.path.join(REPO, ex)).read().split("\n"))
                 for m in [re.match(r"^#   (\S.*)$", line)] if m]


@pytest.mark.parametrize("ex,line,text", EXAMPLE_LINES, ids=[_id(x) for x in EXAMPLE_LINES])
def test_example_header_command(ex, line, text, top, make_targets):
    test_block_line(ex, line, text, top, make_targets)


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS)
def test_relative_links_exist(doc):
    text = open(os.path.join(REPO, doc)).read()
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = os.path.normpath(os.path.join(REPO, os.path.dirname(doc), target.split("#")[0]))
        if not os.path.exists(path):
            broken.append(target)
    assert not broken, "%s: broken links %s" % (doc, broken)
