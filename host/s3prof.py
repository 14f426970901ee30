"""Executed S3 instructions attributed to the functions of an ELF, and their mix.

The pcprof plugin (tests/s3kernels/pcprof.c, built by `make s3-harness`)
prints, at exit, each translated block's start address, its instruction count
and how often it ran.  A block belongs to the function whose symbol is the
closest at or below its start (blocks never span two functions: every
function ends with a return or a jump).

Mixer.mix() walks every executed block through the ELF's disassembly and
counts, weighted by executions, the instruction classes and what the S3 time
model (host/s3model.py) charges cycles for: the stall cycles of an in-order
single-issue pipeline for several FP result latencies (operands ready, or
wait), loads whose result the very next instruction reads, and blocks that
end in a branch, jump, call or return.  Only dependencies inside a block are
seen (a zero-overhead loop's body is one block per iteration); the latencies
are the model's assumptions, not measurements.
"""
import bisect
import collections
import os
import re
import subprocess

from host import paths
from host.paths import PCPROF, REPO


def tool(name):
    return paths.s3_tool(name)


def nm_tool():
    return tool("nm")


def symbols(elf):
    """Sorted (address, name) of the ELF's code symbols."""
    out = subprocess.run([nm_tool(), "-n", elf], check=True, capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16), parts[2]))
    return syms


def parse_blocks(log_text):
    """[(pc, instructions in the block, executions)] and the plugin's total."""
    blocks, total = [], None
    for line in log_text.splitlines():
        m = re.match(r"^([0-9a-f]+) (\d+) (\d+)$", line)
        if m:
            blocks.append((int(m.group(1), 16), int(m.group(2)), int(m.group(3))))
        elif line.startswith("total "):
            total = int(line.split()[1])
    return blocks, total


def parse(log_text):
    """[(pc, instructions executed)] and the plugin's total."""
    blocks, total = parse_blocks(log_text)
    return [(pc, n * count) for pc, n, count in blocks], total


def function_of(syms):
    """A function: pc -> name of the function holding pc."""
    addrs = [a for a, _ in syms]

    def name(pc):
        i = bisect.bisect_right(addrs, pc) - 1
        return syms[i][1] if i >= 0 else "?"
    return name


def by_function(log_text, syms):
    """Counter: function name -> instructions, from a pcprof log."""
    name = function_of(syms)
    blocks, _ = parse(log_text)
    per = collections.Counter()
    for pc, n in blocks:
        per[name(pc)] += n
    return per


def plugin_args(log):
    return ["-plugin", PCPROF, "-d", "plugin", "-D", log]


# ---- instruction mix -------------------------------------------------------

LOADS = re.compile(r"^(l8ui|l16ui|l16si|l32i|l32i\.n|l32r|l32ai|l32e|lsi|lsip|lsx|lsxp|ee\.ld|ee\.vld)")
STORES = re.compile(r"^(s8i|s16i|s32i|s32i\.n|s32ri|s32nb|s32e|ssi|ssip|ssx|ssxp|ee\.st|ee\.vst)")
# Control transfers that end a block with a possible redirect of the fetch
# (conditional branches, jumps, calls, returns); zero-overhead loop ends do not.
BRANCHES = re.compile(r"^(b[a-z0-9]*(\.n)?|j|jx|call\d+|callx\d+|ret|ret\.n|retw|retw\.n|rfwo|rfwu|rfe)$")
FP_LOADS = re.compile(r"^(lsi|lsip|lsx|lsxp)$")
FP_STORES = re.compile(r"^(ssi|ssip|ssx|ssxp)$")
# FP ops whose first operand is also read (accumulators and in-place steps).
FP_READ_DEST = re.compile(r"^(madd\.s|msub\.s|maddn\.s|divn\.s|mkdadj\.s|addexp\.s|addexpm\.s|mov[a-z]*\.s)$")
FREG = re.compile(r"^f(\d+)$")
AREG = re.compile(r"^a(\d+)$")


def disassemble(elf):
    """(sorted addresses, {address: (mnemonic, [operands])}) of the ELF's code."""
    out = subprocess.run([tool("objdump"), "-d", elf], check=True, capture_output=True, text=True).stdout
    insns = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0].endswith(":"):
            try:
                addr = int(parts[0].strip()[:-1], 16)
            except ValueError:
                continue
            ops = parts[3].split(",") if len(parts) > 3 else []
            insns[addr] = (parts[2].strip(), [o.strip() for o in ops])
    return sorted(insns), insns


def classify(mnem):
    if LOADS.match(mnem):
        return "load"
    if STORES.match(mnem):
        return "store"
    if BRANCHES.match(mnem):
        return "branch"
    if mnem.endswith(".s") or mnem in ("rfr", "wfr"):
        return "fp"
    return "other"


# FP result latencies for which mix() simulates the stalls (the model picks one).
FP_LATENCIES = (1, 2, 3, 4, 5, 6)


def operands(mnem, ops, cls):
    """(registers read, registers written) of one instruction."""
    regs = [o for o in ops if FREG.match(o) or AREG.match(o)]
    if cls in ("store", "branch"):
        return regs, []
    if cls == "fp" and FP_READ_DEST.match(mnem):
        return regs, regs[:1]
    return regs[1:], regs[:1]


def stall_cycles(insns, fp_latency, load_use=1):
    """Stall cycles of one pass through a block on an in-order single-issue
    core: an instruction issues when its operands are ready; an FP result is
    ready fp_latency cycles after its instruction issues, a load's 1 +
    load_use, any other result the next cycle.  Dependencies on earlier
    blocks are not seen."""
    ready = {}
    t = -1
    for mnem, ops in insns:
        cls = classify(mnem)
        reads, writes = operands(mnem, ops, cls)
        issue = t + 1
        for r in reads:
            issue = max(issue, ready.get(r, 0))
        lat = fp_latency if cls == "fp" else (1 + load_use if cls == "load" else 1)
        for r in writes:
            ready[r] = issue + lat
        t = issue
    return t + 1 - len(insns)


def block_events(insns):
    """Counter of one pass through a block: instruction classes, the stall
    cycles for each FP latency in FP_LATENCIES ('stall_fp_L', loads costing
    one cycle more when read at once), load-use pairs ('load_use') and an
    ending branch, jump, call or return ('branch_end')."""
    ev = collections.Counter()
    loaded = {}       # register -> index of the load that wrote it
    for i, (mnem, ops) in enumerate(insns):
        cls = classify(mnem)
        ev[cls] += 1
        reads, writes = operands(mnem, ops, cls)
        if any(loaded.get(r) == i - 1 for r in reads):
            ev["load_use"] += 1
        for r in writes:
            loaded.pop(r, None)
            if cls == "load":
                loaded[r] = i
    for lat in FP_LATENCIES:
        ev["stall_fp_%d" % lat] = stall_cycles(insns, lat)
    if insns and classify(insns[-1][0]) == "branch":
        ev["branch_end"] += 1
    return ev


class Mixer:
    """Counts instruction classes and pipeline events of pcprof blocks."""

    def __init__(self, elf):
        self.addrs, self.insns = disassemble(elf)
        self.index = {a: i for i, a in enumerate(self.addrs)}
        self.cache = {}

    def events(self, pc, n):
        key = (pc, n)
        if key not in self.cache:
            i = self.index.get(pc)
            block = [] if i is None else [self.insns[a] for a in self.addrs[i:i + n]]
            self.cache[key] = block_events(block) if len(block) == n else collections.Counter({"unknown": n})
        return self.cache[key]

    def mix(self, blocks):
        """Counter over [(pc, n, executions)]."""
        total = collections.Counter()
        for pc, n, count in blocks:
            for k, v in self.events(pc, n).items():
                total[k] += v * count
        return total
