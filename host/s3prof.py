"""Executed S3 instructions attributed to the functions of an ELF.

The pcprof plugin (tests/s3kernels/pcprof.c, built by `make s3-harness`)
prints, at exit, each translated block's start address, its instruction count
and how often it ran.  A block belongs to the function whose symbol is the
closest at or below its start (blocks never span two functions: every
function ends with a return or a jump).
"""
import bisect
import collections
import os
import re
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PCPROF = os.path.join(REPO, "build", "s3kernels", "libpcprof.so")


def nm_tool():
    from host import s3harness
    return os.path.join(s3harness.S3_BIN, "xtensa-esp32s3-elf-nm")


def symbols(elf):
    """Sorted (address, name) of the ELF's code symbols."""
    out = subprocess.run([nm_tool(), "-n", elf], check=True, capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16), parts[2]))
    return syms


def parse(log_text):
    """[(pc, instructions executed)] and the plugin's total."""
    blocks, total = [], None
    for line in log_text.splitlines():
        m = re.match(r"^([0-9a-f]+) (\d+) (\d+)$", line)
        if m:
            blocks.append((int(m.group(1), 16), int(m.group(2)) * int(m.group(3))))
        elif line.startswith("total "):
            total = int(line.split()[1])
    return blocks, total


def by_function(log_text, syms):
    """Counter: function name -> instructions, from a pcprof log."""
    addrs = [a for a, _ in syms]
    blocks, _ = parse(log_text)
    per = collections.Counter()
    for pc, n in blocks:
        i = bisect.bisect_right(addrs, pc) - 1
        per[syms[i][1] if i >= 0 else "?"] += n
    return per


def plugin_args(log):
    return ["-plugin", PCPROF, "-d", "plugin", "-D", log]
