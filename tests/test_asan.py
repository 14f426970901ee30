"""The host tests that exercise the C module, run on the sanitizer build.

`make asan` builds build/asan/micropython with AddressSanitizer and
UndefinedBehaviorSanitizer (boards/unix/sanitize.mk).  This file builds it,
then runs the kernel, tokenizer, generation, malformed-file, robustness,
two-core and fuzz tests (ASAN_TESTS) in a pytest of their own with
LLM_FIRMWARE pointing at it.  It fails on

- any failed, erroneous or skipped test in that run (a crash or a signal
  shows up as a wrong exit status there: the tests check it),
- any sanitizer report: reports go to log files that are checked here
  (ASan's through log_path, UBSan's through LLM_UBSAN_LOG_PATH, see
  boards/unix/sanitizer_log.c), so a report cannot hide behind a test that
  does not look at stderr, and a sanitizer stops the process with exit
  status 86,
- a hang: the whole run has RUN_TIMEOUT seconds.

test_sanitizers_are_live and test_a_report_reaches_the_checked_log check
that the firmware really is instrumented and that a report of either
sanitizer really reaches the logs that are checked.
"""
import glob
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from repo import REPO, make_ok

ASAN_FIRMWARE = os.path.join(REPO, "build", "asan", "micropython")
ASAN_TESTS = [
    "tests/test_kernels.py",
    "tests/test_attention_q8.py",
    "tests/test_tokenizer.py",
    "tests/test_generate.py",
    "tests/test_malformed.py",
    "tests/test_robustness.py",
    "tests/test_parallel.py",
    "tests/test_ctrl_c_threads.py",
    "tests/test_tokenizer_merges.py",
    "tests/test_int4.py",
    "tests/test_fuzz.py",
]
# More fuzz cases than the plain run's 2000 (cases 0..1999 are the same): about 15 s here.
FUZZ_CASES = 6000
RUN_TIMEOUT = 1500
EXIT_CODE = 86


def sanitizer_env(log_dir, **extra):
    """The environment of a sanitized run whose reports go to files in log_dir."""
    env = dict(os.environ)
    for name in ("LLM_FUZZ_ONLY", "LLM_FUZZ_SEED", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    # The GC scans the stack and registers for roots: no leak detection, and no fake
    # stacks for use-after-return, which would hide roots from it.
    env["ASAN_OPTIONS"] = ":".join([
        "detect_leaks=0", "detect_stack_use_after_return=0", "halt_on_error=1",
        "abort_on_error=0", "handle_abort=1", "exitcode=%d" % EXIT_CODE,
        "log_path=" + os.path.join(log_dir, "asan")])
    env["UBSAN_OPTIONS"] = ":".join(["print_stacktrace=1", "halt_on_error=1", "exitcode=%d" % EXIT_CODE])
    env["LLM_UBSAN_LOG_PATH"] = os.path.join(log_dir, "ubsan")
    env.update(extra)
    return env


def reports(log_dir):
    """The sanitizer reports written into log_dir, as text."""
    out = []
    for path in sorted(glob.glob(os.path.join(log_dir, "*"))):
        with open(path, "r", errors="replace") as f:
            out.append("--- %s ---\n%s" % (os.path.basename(path), f.read()[-6000:]))
    return out


@pytest.fixture(scope="module")
def asan_firmware():
    make_ok("asan", timeout=1800, jobs=os.cpu_count() or 1)
    assert os.access(ASAN_FIRMWARE, os.X_OK), ASAN_FIRMWARE
    return ASAN_FIRMWARE


def test_sanitizers_are_live(asan_firmware):
    # Instrumented code calls into both runtimes, and NLR is setjmp/longjmp
    # (MICROPY_NLR_SETJMP=1), which ASan understands; the plain build has neither.
    syms = subprocess.run(["nm", asan_firmware], capture_output=True, text=True, check=True).stdout
    assert "__asan_report_load" in syms, "build/asan/micropython is not built with AddressSanitizer"
    assert "__ubsan_handle_" in syms, "build/asan/micropython is not built with UBSan"
    # float-cast-overflow is not part of GCC's "undefined": NaN or Inf to int (issue 10, F2).
    assert "__ubsan_handle_float_cast_overflow" in syms, "UBSan without float-cast-overflow"
    assert " U longjmp" in syms, "build/asan/micropython does not use setjmp NLR"


# A report of each sanitizer, from the firmware: a wild access (here a SIGSEGV sent from
# outside, which ASan reports like one of its own), and a UBSan check that fails (its
# runtime's handler called through the ffi module, as instrumented code calls it).
REPORTS = {
    "asan": (None, "AddressSanitizer: SEGV"),
    "ubsan": ("import ffi\n"
              "f = ffi.open('libubsan.so.1').func('v', '__ubsan_handle_builtin_unreachable', 'p')\n"
              "f(bytearray(16))\n", "runtime error: execution reached an unreachable program point"),
}


@pytest.mark.parametrize("which", sorted(REPORTS))
def test_a_report_reaches_the_checked_log(asan_firmware, tmp_path, which):
    code, want = REPORTS[which]
    log_dir = str(tmp_path)
    p = subprocess.Popen([asan_firmware, "-c", "print('up')\n" + (code or "while 1: pass")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=sanitizer_env(log_dir))
    try:
        assert p.stdout.readline() == b"up\n"
        if code is None:
            p.send_signal(signal.SIGSEGV)
        rc = p.wait(timeout=60)
        err = p.stderr.read()
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()
    assert rc == EXIT_CODE, err
    found = reports(log_dir)
    assert len(found) == 1 and want in found[0], (found, err)
    assert os.path.basename(found[0].split(" ---")[0][4:]).startswith(which)


def test_host_tests_under_sanitizers(asan_firmware, shared_dir, tmp_path):
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    junit = tmp_path / "junit.xml"
    env = sanitizer_env(str(log_dir), LLM_FIRMWARE=asan_firmware, LLM_SHARED_DIR=shared_dir,
                        LLM_FUZZ_CASES=str(FUZZ_CASES))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs",
           "--junitxml=%s" % junit, "--basetemp=%s" % (tmp_path / "base"),
           # The emulators' tests in these files run no host firmware code;
           # valgrind cannot run a sanitized build.
           "-m", "not s3 and not device and not cross and not callgrind"] + ASAN_TESTS
    p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail("hang: the sanitized run took over %d s\n%s\n%s" % (
            RUN_TIMEOUT, out.decode("utf-8", "replace")[-4000:], "\n".join(reports(str(log_dir)))))
    text = out.decode("utf-8", "replace")
    found = reports(str(log_dir))
    assert not found, "sanitizer reports:\n" + "\n".join(found[:5]) + "\n--- pytest ---\n" + text[-3000:]
    assert p.returncode == 0, "the sanitized run failed (exit status %s):\n%s" % (p.returncode, text[-8000:])
    suite = ET.parse(str(junit)).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    assert counts["failures"] == counts["errors"] == counts["skipped"] == 0, (counts, text[-4000:])
    # Every listed file ran (a file that collected nothing would pass silently).
    ran = {case.get("classname", "").split(".")[-1] for case in suite.iter("testcase")}
    for path in ASAN_TESTS:
        assert os.path.basename(path)[:-3] in ran, "%s ran no test under the sanitizers" % path
    assert "Sanitizer" not in text and "runtime error:" not in text, text[-4000:]
