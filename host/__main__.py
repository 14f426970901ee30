"""The host command line: python3 -m host COMMAND [ARGS...]

The commands are the table COMMANDS below; `python3 -m host` lists them.
python3 -m host COMMAND --help shows each command's options.
"""
import os
import subprocess
import sys

from host import firmware


def run(argv):
    """Generate on the host firmware: python3 -m host run CHECKPOINT [llama2.c flags]."""
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write("usage: python3 -m host run CHECKPOINT [-z TOK] [-t T] [-p P] [-s SEED] [-n STEPS]"
                         " [-i PROMPT] [-c CTX] [-k f32|int8]\nRuns %s -m llm with these arguments.\n"
                         % firmware.path())
        return 0
    exe = firmware.path()
    if not os.path.exists(exe):
        sys.stderr.write("error: %s is not built: run make\n" % exe)
        return 1
    return subprocess.call([exe, "-m", "llm"] + argv)


INFO = """
import llm, json
m = llm.load(%r, %r, ctx=%r, kv=%r)
print(json.dumps(m.info()))
"""


def info(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="python3 -m host info", description="a model's config and memory use, "
                                 "as the host firmware loads it")
    ap.add_argument("model", help=".llm file or llama2.c checkpoint")
    ap.add_argument("-z", "--tokenizer", help="tokenizer.bin (llama2.c checkpoints)")
    ap.add_argument("-c", "--ctx", type=int, help="KV cache positions (default: seq_len)")
    ap.add_argument("-k", "--kv", default="f32", choices=("f32", "int8"))
    args = ap.parse_args(argv)
    if not os.path.exists(firmware.path()):
        sys.stderr.write("error: %s is not built: run make\n" % firmware.path())
        return 1
    try:
        d = firmware.run_code(INFO % (args.model, args.tokenizer, args.ctx, args.kv), heapsize="64M")
    except RuntimeError as e:
        lines = str(e).strip().splitlines()
        sys.stderr.write("error: %s\n" % (lines[-1] if lines else e))
        return 1
    order = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len", "ctx", "kv"]
    for key in order + sorted(k for k in d if k not in order):
        print("%-22s %s" % (key, d[key]))
    return 0


def _module(name):
    """A command that is the main(argv) of a host module, imported when it runs."""
    def call(argv):
        import importlib
        return importlib.import_module("host." + name).main(argv)
    return call


# The command list, written once: (name, what it does, main(argv)).  Usage and
# dispatch both come from here; a new command is one line.
COMMANDS = [
    ("convert", "llama2.c checkpoint + tokenizer.bin -> one .llm file (fp32, int8 or int4)", _module("convert")),
    ("romfs", "build a ROMFS image with 16-byte aligned file data", _module("romfs")),
    ("deploy", "push a model to a board over its REPL (ROMFS or filesystem), sha256-checked", _module("deploy")),
    ("run", "generate on the host firmware (build/micropython -m llm ...)", run),
    ("info", "a model's config and memory use, as the firmware loads it", info),
    ("models", "fetch stories260K.bin and tok512.bin, sha256-checked", _module("models")),
    ("bench", "instructions per token under callgrind", _module("bench")),
    ("bench-s3", "executed ESP32-S3 instructions per token on the emulated core (boards/s3sim)",
     _module("bench_s3")),
    ("s3-estimate", "ESP32-S3 tokens/s estimated from bench-s3's counts (docs/s3-performance.md)",
     _module("s3model")),
    ("bench-board", "time tokens and memory reads on a board (or the emulated S3) next to the estimate",
     _module("bench_board")),
    ("int4-study", "perplexity, KL and agreement of fp32, int8 and int4 weights (docs/int4.md)", _module("int4")),
]


def usage():
    width = max(len(name) for name, _, _ in COMMANDS)
    lines = ["usage: python3 -m host COMMAND [ARGS...]", "", "Commands:"]
    lines += ["  %-*s  %s" % (width, name, what) for name, what, _ in COMMANDS]
    lines += ["", "python3 -m host COMMAND --help shows each command's options.", ""]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(usage())
        return 0 if argv else 1
    command, rest = argv[0], argv[1:]
    for name, _, fn in COMMANDS:
        if name == command:
            return fn(rest)
    sys.stderr.write("error: unknown command %r\n%s" % (command, usage()))
    return 1


if __name__ == "__main__":
    sys.exit(main())
