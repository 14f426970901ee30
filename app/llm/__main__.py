# llama2.c-compatible command line:
#   micropython -m llm CHECKPOINT [-z TOKENIZER] [-t TEMP] [-p TOPP] [-s SEED]
#                                 [-n STEPS] [-i PROMPT] [-c CTX] [-k KV]
import sys

import llm

EPIPE = 32

USAGE = """Usage:   micropython -m llm <checkpoint> [options]
Example: micropython -m llm stories260K.bin -z tok512.bin -n 256 -i "Once upon a time"
Options:
  -t <float>  temperature in [0,inf], default 1.0
  -p <float>  p value in top-p (nucleus) sampling in [0,1], default 0.9
  -s <int>    random seed, default time(NULL)
  -n <int>    number of steps to run for, default 256. 0 = max_seq_len
  -i <string> input prompt
  -z <string> optional path to custom tokenizer (default: the one in a .llm file,
              else tokenizer.bin)
  -m <string> mode: generate (chat is not supported)
  -c <int>    context length: positions the KV cache holds, default max_seq_len
  -k <string> KV cache type: f32 (default, exact) or int8
  -h          this help
"""


class UsageError(Exception):
    pass


def parse(argv):
    if len(argv) < 1 or argv[0] in ("-h", "--help"):
        raise UsageError()
    opts = {"checkpoint": argv[0], "tokenizer": None, "temperature": 1.0,
            "top_p": 0.9, "seed": 0, "steps": 256, "prompt": "", "ctx": None, "kv": "f32"}
    convert = {"t": ("temperature", float), "p": ("top_p", float), "s": ("seed", int),
               "n": ("steps", int), "i": ("prompt", str), "z": ("tokenizer", str),
               "c": ("ctx", int), "k": ("kv", str), "m": ("mode", str)}
    i = 1
    while i < len(argv):
        flag = argv[i]
        if len(flag) != 2 or flag[0] != "-" or flag[1] not in convert or i + 1 >= len(argv):
            raise UsageError("bad or incomplete option: %s" % flag)
        key, kind = convert[flag[1]]
        try:
            opts[key] = kind(argv[i + 1])
        except ValueError:
            raise UsageError("%s needs a number, not %r" % (flag, argv[i + 1]))
        i += 2
    if opts.get("mode", "generate") != "generate":
        raise UsageError("only -m generate is supported")
    if opts["kv"] not in llm.model.KV_TYPES:
        raise UsageError("-k must be f32 or int8")
    # The API's rule (llama2.c's overrides of out-of-range values), checked
    # before the model is loaded.
    try:
        opts["steps"], opts["temperature"], opts["top_p"], opts["seed"] = llm.model.sampling(
            opts["steps"], opts["temperature"], opts["top_p"], opts["seed"])
    except ValueError as e:
        raise UsageError(str(e))
    return opts


def write_piece(out, piece):
    # llama2.c's safe_printf: a lone byte that is neither printable nor
    # whitespace is not printed.
    if len(piece) == 1 and not (0x20 <= piece[0] <= 0x7E or 0x09 <= piece[0] <= 0x0D):
        return
    out.write(piece)


def read_head(path):
    llm.files.file_size(path)  # a clear error for a missing file
    with open(path, "rb") as f:
        return f.read(4)


def main(argv):
    try:
        opts = parse(argv)
    except UsageError as e:
        if e.args:
            sys.stderr.write("error: %s\n" % e.args[0])
        sys.stderr.write(USAGE)
        return 1
    try:
        tokenizer = opts["tokenizer"]
        if tokenizer is None and not llm.modelfile.is_model_file(read_head(opts["checkpoint"])):
            tokenizer = "tokenizer.bin"  # llama2.c's default
        model = llm.load(opts["checkpoint"], tokenizer, ctx=opts["ctx"], kv=opts["kv"])
    except (OSError, ValueError, MemoryError) as e:
        sys.stderr.write("error: %s\n" % (e.args[-1] if isinstance(e, OSError) and len(e.args) > 1 else e))
        return 1
    out = getattr(sys.stdout, "buffer", sys.stdout)
    try:
        for piece in model.pieces(opts["prompt"], opts["steps"], opts["temperature"], opts["top_p"], opts["seed"]):
            write_piece(out, piece)
        out.write(b"\n")
    except OSError as e:
        if e.args[0] != EPIPE:
            raise
        # The reader left (`... | head`): nothing more to say, as a C
        # program killed by SIGPIPE says nothing.
        return 0
    if model.stop_reason == "ctx":
        sys.stderr.write(llm.model.context_full_message(model) + "\n")
    if model.tokens_per_second:
        sys.stderr.write("achieved tok/s: %f\n" % model.tokens_per_second)
    return 0


status = main(sys.argv[1:])
if status:
    sys.exit(status)
