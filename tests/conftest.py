import os
import sys

import pytest

from repo import REPO

if REPO not in sys.path:
    sys.path.insert(0, REPO)  # so that `import host.llama2` works

# $LLM_FIRMWARE names the host firmware every test runs (mpy.run, host.firmware); the
# tests run it from other directories too, so a relative path is made absolute here.
if os.environ.get("LLM_FIRMWARE"):
    os.environ["LLM_FIRMWARE"] = os.path.abspath(os.environ["LLM_FIRMWARE"])


# Test files whose every test needs more than the host firmware; see pytest.ini.
FILE_MARKERS = {
    "test_asan.py": "asan",
    "test_device.py": "device",
    "test_emulator_smoke.py": "device",
    "test_natmod.py": "cross",
    "test_xtensa.py": "cross",
}


def pytest_collection_modifyitems(items):
    for item in items:
        marker = FILE_MARKERS.get(os.path.basename(str(item.fspath)))
        if marker:
            item.add_marker(marker)


@pytest.fixture(scope="session")
def shared_dir():
    """The shared data directory: $LLM_SHARED_DIR, default <repo>/../shared."""
    path = os.environ.get("LLM_SHARED_DIR") or os.path.join(REPO, os.pardir, "shared")
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        if os.environ.get("CI"):
            pytest.fail("shared dir %s not found: CI must run the golden tests" % path)
        pytest.skip("shared dir %s not found (set LLM_SHARED_DIR)" % path)
    return path


@pytest.fixture(scope="session")
def models_dir(shared_dir):
    return os.path.join(shared_dir, "models")


@pytest.fixture(scope="session")
def golden_dir(shared_dir):
    return os.path.join(shared_dir, "golden")


@pytest.fixture(scope="session")
def firmware():
    """Path of the host firmware ($LLM_FIRMWARE or build/micropython); fails if missing."""
    import mpy
    return mpy.firmware()


@pytest.fixture(scope="session")
def stories260k_path(models_dir):
    return os.path.join(models_dir, "stories260K.bin")


@pytest.fixture(scope="session")
def tok512_path(models_dir):
    return os.path.join(models_dir, "tok512.bin")


@pytest.fixture(scope="session")
def tok32k_path(models_dir):
    return os.path.join(models_dir, "tokenizer.bin")


@pytest.fixture(scope="session")
def int8_model(tmp_path_factory, stories260k_path, tok512_path):
    """stories260K and tok512 as one int8 .llm file, s260_int8.llm (the name the device
    tests load from /rom), made once."""
    from host import convert
    path = str(tmp_path_factory.mktemp("s260-int8") / "s260_int8.llm")
    convert.convert(stories260k_path, tok512_path, path, "int8")
    return path



@pytest.fixture(scope="session")
def s260(stories260k_path, tok512_path):
    return stories260k_path, tok512_path


@pytest.fixture(scope="session")
def llm_files(tmp_path_factory, s260):
    """stories260K as an fp32 and an int8 .llm file, made once."""
    from host import convert
    d = tmp_path_factory.mktemp("llm")
    f32, i8 = str(d / "s260_f32.llm"), str(d / "s260_int8.llm")
    convert.convert(s260[0], s260[1], f32, "f32")
    convert.convert(s260[0], s260[1], i8, "int8")
    return f32, i8

@pytest.fixture(scope="module")
def libm_reference():
    """host.reference, whose sinf/cosf call the C library as llama2.c does."""
    from host import reference
    return reference


# ---------------------------------------------------------------------------------------------
# `make test`'s closing table: what ran where.  It comes before pytest's own
# last line, which CI reads.

WHERE = (("asan", "sanitizers"), ("device", "M3 emulator"), ("s3", "S3 core"), ("cross", "cross compilers"))
_where = {}  # nodeid -> where it ran
_tally = {}  # where -> {outcome: count, "seconds": float}


def _place(item):
    names = {m.name for m in item.iter_markers()}
    for marker, where in WHERE:
        if marker in names:
            return where
    return "host firmware"


def pytest_collection_finish(session):
    for item in session.items:
        _where[item.nodeid] = _place(item)


def pytest_runtest_logreport(report):
    where = _where.get(report.nodeid, "host firmware")
    row = _tally.setdefault(where, {"passed": 0, "failed": 0, "skipped": 0, "errors": 0, "seconds": 0.0})
    row["seconds"] += report.duration
    if report.when == "call":
        row[report.outcome] += 1
    elif report.failed:
        row["errors"] += 1  # a fixture (setup or teardown) failed
    elif report.skipped:
        row["skipped"] += 1  # skipped in setup: a missing tool or fixture


def pytest_terminal_summary(terminalreporter):
    if not _tally:
        return
    tr = terminalreporter
    tr.section("where the tests ran", sep="-")
    tr.write_line("%-16s %7s %7s %7s %7s %9s" % ("", "passed", "failed", "skipped", "errors", "seconds"))
    order = ["host firmware"] + [w for _, w in WHERE]
    for where in order + sorted(set(_tally) - set(order)):
        row = _tally.get(where)
        if row:
            tr.write_line("%-16s %7d %7d %7d %7d %9.0f" % (where, row["passed"], row["failed"], row["skipped"],
                                                          row["errors"], row["seconds"]))
