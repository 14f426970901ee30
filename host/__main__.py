"""The host command line: python3 -m host COMMAND [ARGS...]

Commands:
  convert   llama2.c checkpoint + tokenizer.bin -> one .llm file (fp32, int8 or int4)
  romfs     build a ROMFS image with 16-byte aligned file data
  deploy    push a model to a board over its REPL (ROMFS or filesystem), sha256-checked
  run       generate on the host firmware (build/micropython -m llm ...)
  info      a model's config and memory use, as the firmware loads it
  models    fetch stories260K.bin and tok512.bin, sha256-checked
  bench     instructions per token under callgrind
  bench-s3  executed ESP32-S3 instructions per token on the emulated core (boards/s3sim)
  s3-estimate  ESP32-S3 tokens/s estimated from bench-s3's counts (docs/s3-performance.md)
  int4-study   perplexity, KL and agreement of fp32, int8 and int4 weights (docs/int4.md)

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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(__doc__)
        return 0 if argv else 1
    command, rest = argv[0], argv[1:]
    if command == "convert":
        from host import convert
        return convert.main(rest)
    if command == "romfs":
        from host import romfs
        return romfs.main(rest)
    if command == "deploy":
        from host import deploy
        return deploy.main(rest)
    if command == "models":
        from host import models
        return models.main(rest)
    if command == "bench":
        from host import bench
        return bench.main(rest)
    if command == "bench-s3":
        from host import bench_s3
        return bench_s3.main(rest)
    if command == "int4-study":
        from host import int4
        return int4.main(rest)
    if command == "s3-estimate":
        from host import s3model
        return s3model.main(rest)
    if command == "run":
        return run(rest)
    if command == "info":
        return info(rest)
    sys.stderr.write("error: unknown command %r\n%s" % (command, __doc__))
    return 1


if __name__ == "__main__":
    sys.exit(main())
