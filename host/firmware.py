"""Run MicroPython snippets on the host firmware (build/micropython)."""
import json
import os
import subprocess

from host.paths import REPO
DEFAULT = os.path.join(REPO, "build", "micropython")


def path():
    return os.environ.get("LLM_FIRMWARE", DEFAULT)


def run(args, heapsize=None, input=None, timeout=600, check=False):
    """Run the firmware with args (a list), return the CompletedProcess."""
    cmd = [path()]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    return subprocess.run(cmd + list(args), input=input, capture_output=True, timeout=timeout, check=check)


def run_code(code, heapsize=None, timeout=600):
    """Run a snippet; it reports by printing one JSON line last.  Returns
    the decoded value, or raises RuntimeError with the firmware's stderr."""
    r = run(["-c", code], heapsize=heapsize, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("firmware failed (%d):\n%s\n%s" % (r.returncode, r.stdout.decode(errors="replace"),
                                                              r.stderr.decode(errors="replace")))
    return json.loads(r.stdout.decode().strip().splitlines()[-1])
