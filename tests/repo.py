"""The repository, and make, for tests: one definition of each."""
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make(*targets, timeout=900, jobs=1):
    """Run make in the repository; return the CompletedProcess (text output)."""
    cmd = ["make", "--no-print-directory"] + (["-j%d" % jobs] if jobs > 1 else []) + list(targets)
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def make_ok(*targets, timeout=900, jobs=1):
    """make, failing the test with make's last output when it fails."""
    r = make(*targets, timeout=timeout, jobs=jobs)
    assert r.returncode == 0, "make %s failed:\n%s\n%s" % (" ".join(targets), r.stdout[-3000:], r.stderr[-3000:])
    return r
