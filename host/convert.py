"""Convert a llama2.c checkpoint plus tokenizer.bin into one .llm file.

Reads llama2.c version-0 (legacy float32) checkpoints and version-2 (Q8_0,
export.py --version 2) checkpoints whose group size divides every row.

    python3 -m host convert [--weights f32|int8|int4] [--classifier f32|int8|int4] [--group-size N]
                            CHECKPOINT TOKENIZER OUT

--int8 is --weights int8.  int4 weights (docs/int4.md) are quantised with
GPTQ against activations of a corpus sampled from the model itself (fixed
seeds), or with --int4-method search (per-group scale search, no corpus).
--weights int4 keeps the layers' wv and w2 in int8 (host.int4.INT8_TENSORS:
the most sensitive per byte); --pure-int4 makes every matrix int4.
"""
import argparse
import os
import struct
import sys

import numpy as np

from host import llama2, modelfile
from host.fileformat import CONFIG_NAMES, SIMD_BYTES, V2_MAGIC, group_size_ok, shape
from host.int4 import INT4_GROUP, INT8_TENSORS
from host.progress import Bar

V2_HEADER = 256


def read_q80(path):
    """Read a llama2.c version-2 (Q8_0) checkpoint.

    Returns (config, weights, group_size): matrices as (int8 codes, half
    scales) tuples, norms as float32.  Raises ValueError for files that
    llama2.c's runq.c would read wrongly.
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < V2_HEADER:
        raise ValueError("%s: too short for a llama2.c version-2 header" % path)
    magic, version = struct.unpack_from("<Ii", data, 0)
    if magic != V2_MAGIC:
        raise ValueError("%s: not a llama2.c version-2 file" % path)
    if version != 2:
        raise ValueError("%s: llama2.c version %d is not supported (0 and 2 are)" % (path, version))
    cfg_vals = struct.unpack_from("<7i", data, 8)
    shared = data[36] != 0
    (gs,) = struct.unpack_from("<i", data, 37)
    config = llama2.validate_config(dict(zip(llama2.CONFIG_NAMES, cfg_vals)))
    dim, hidden, L = config["dim"], config["hidden_dim"], config["n_layers"]
    if gs <= 0:
        raise ValueError("%s: group size %d is not positive" % (path, gs))
    for name, cols in (("dim", dim), ("hidden_dim", hidden)):
        if cols % gs:
            raise ValueError(
                "%s: group size %d does not divide %s %d. llama2.c's runq.c would drop the last %d columns"
                " of every row of the tensors with %s columns and misalign their scales. Export a version-0"
                " checkpoint and convert it with --int8 instead." % (path, gs, name, cols, cols % gs, name))
    off = V2_HEADER

    def take(count, dtype):
        nonlocal off
        size = count * np.dtype(dtype).itemsize
        if off + size > len(data):
            raise ValueError("%s is truncated" % path)
        a = np.frombuffer(data, dtype=dtype, count=count, offset=off)
        off += size
        return a

    w = {}
    w["rms_att_weight"] = take(L * dim, "<f4").reshape(L, dim)
    w["rms_ffn_weight"] = take(L * dim, "<f4").reshape(L, dim)
    w["rms_final_weight"] = take(dim, "<f4")

    def take_q(rows, cols):
        q = take(rows * cols, np.int8).reshape(rows, cols)
        s = take(rows * cols // gs, "<f4").reshape(rows, cols // gs)
        if not np.all(np.isfinite(s)) or np.abs(s).max(initial=0) > modelfile.F16_MAX:
            raise ValueError("%s: scales are not finite half-precision values" % path)
        return q, s.astype(np.float16)

    vocab = config["vocab_size"]
    w["token_embedding_table"] = take_q(vocab, dim)
    cfg = tuple(config[k] for k in CONFIG_NAMES)
    for name in ("wq", "wk", "wv", "wo", "w1", "w2", "w3"):
        w[name] = [take_q(*shape(name, cfg)) for _ in range(L)]
    w["wcls"] = w["token_embedding_table"] if shared else take_q(vocab, dim)
    if off != len(data):
        raise ValueError("%s: %d bytes left over after the last tensor" % (path, len(data) - off))
    return config, w, gs


def write_q80(path, config, weights, group_size):
    """Write a llama2.c version-2 (Q8_0) file the way llama2.c's export.py
    does: groups run over each flattened tensor (which is only right when
    the group size divides the rows).  Used to test the reader."""
    c = [config[k] for k in llama2.CONFIG_NAMES]
    shared = weights["wcls"] is weights["token_embedding_table"]
    out = bytearray(struct.pack("<Ii7iBi", V2_MAGIC, 2, *c, int(shared), group_size))
    out += b"\0" * (V2_HEADER - len(out))
    for v in (weights["rms_att_weight"], weights["rms_ffn_weight"], weights["rms_final_weight"]):
        out += np.asarray(v, dtype="<f4").tobytes()
    mats = [weights["token_embedding_table"]]
    for name in ("wq", "wk", "wv", "wo", "w1", "w2", "w3"):
        mats += list(weights[name])
    if not shared:
        mats.append(weights["wcls"])
    for m in mats:
        flat = np.asarray(m, dtype=np.float32).reshape(-1, group_size)
        scale = np.abs(flat).max(axis=1) / 127.0
        q = np.rint(flat / np.where(scale > 0, scale, 1)[:, None]).astype(np.int8)
        out += q.tobytes() + scale.astype("<f4").tobytes()
    with open(path, "wb") as f:
        f.write(out)


def load_checkpoint(path):
    """(config, weights) from a version-0 or version-2 llama2.c file."""
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) == 4 and struct.unpack("<I", head)[0] == V2_MAGIC:
        config, weights, _ = read_q80(path)
        return config, weights
    return llama2.read_checkpoint(path)


def check_output(out):
    """Refuse an output that cannot become a file, before anything is written."""
    if os.path.isdir(out):
        raise IsADirectoryError("%s is a directory: give the path of the file to write" % out)


def quantize_int4(config, weights, group_size=None, method="gptq", classifier="int4", progress=None,
                  int8_tensors=None):
    """weights with the matrices as modelfile.Q4Tensor (int4) or (codes, half scales) tuples (int8):
    the layer matrices named in int8_tensors (default host.int4.INT8_TENSORS) int8 in the int8
    converter's groups, the others int4; the classifier int4 when classifier is "int4"."""
    from host import int4
    int8_tensors = int4.INT8_TENSORS if int8_tensors is None else tuple(int8_tensors)
    gs = group_size or int4.INT4_GROUP
    for name, cols in (("dim", config["dim"]), ("hidden_dim", config["hidden_dim"])):
        if not int4.group_size_ok(cols, gs):
            raise ValueError("int4 group size %d does not fit %s %d (an even size that divides it, or a multiple"
                             " of %d within it rounded up to %d)" % (gs, name, cols, SIMD_BYTES, SIMD_BYTES))
    stats = None
    if method == "gptq":
        model = int4.Model(config, weights)
        corpus = int4.sample_corpus(model, int4.CALIBRATION_STORIES, min(config["seq_len"], int4.CALIBRATION_LENGTH),
                                    int4.CALIBRATION_SEED)
        stats = int4.activation_stats(model, corpus)

    def q(name, l, m):
        if name in int8_tensors:
            return modelfile.quantize(m, modelfile.pick_group_size(m.shape[1]))
        if method == "gptq":
            codes, s = int4.quantize_gptq(m, gs, stats[(name, l)])
        else:
            codes, s = int4.quantize(m, gs, search=(method == "search"))
        return modelfile.Q4Tensor(codes, s)

    out = dict(weights)
    L = config["n_layers"]
    steps = 7 * L + 1
    for i, name in enumerate(int4.MATRICES):
        out[name] = []
        for l in range(L):
            out[name].append(q(name, l, weights[name][l]))
            if progress:
                progress(i * L + l + 1, steps)
    if classifier == "int4":
        shared = weights["wcls"] is weights["token_embedding_table"]
        out["token_embedding_table"] = q("wcls", None, weights["token_embedding_table"])
        out["wcls"] = out["token_embedding_table"] if shared else q("wcls", None, weights["wcls"])
    if progress:
        progress(steps, steps)
    return out


def convert(checkpoint, tokenizer, out, dtype="f32", group_size=None, progress=None, classifier=None,
            int4_method="gptq", int8_tensors=None):
    """dtype: f32, int8 or int4 for the layers' matrices; classifier: the same for the embedding
    and classifier (default: dtype).  With int4, the layer matrices named in int8_tensors stay
    int8 (default host.int4.INT8_TENSORS; () for pure int4)."""
    check_output(out)
    config, weights = load_checkpoint(checkpoint)
    classifier = classifier or dtype
    with open(tokenizer, "rb") as f:
        tok = f.read()
    llama2.parse_tokenizer(tok, config["vocab_size"], name=tokenizer)  # validates
    if group_size is not None:
        for name, cols in (("dim", config["dim"]), ("hidden_dim", config["hidden_dim"])):
            if not group_size_ok(cols, group_size):
                raise ValueError("--group-size %d does not divide %s %d and is not a multiple of %d at most %s"
                                 " rounded up to %d" % (group_size, name, cols, SIMD_BYTES, name, SIMD_BYTES))
    if dtype == "f32" and isinstance(weights["wq"][0], tuple):
        raise ValueError("%s holds int8 weights; convert it with --int8" % checkpoint)
    try:
        return _write(out, config, weights, tok, dtype, classifier, group_size, int4_method, progress, checkpoint,
                      int8_tensors)
    except BaseException:
        # modelfile.write writes OUT.part, then renames it: no half-written leftover.
        if os.path.exists(out + ".part"):
            os.remove(out + ".part")
        raise


def _write(out, config, weights, tok, dtype, classifier, group_size, int4_method, progress, checkpoint,
           int8_tensors):
    if "int4" in (dtype, classifier):
        if isinstance(weights["wq"][0], tuple):
            raise ValueError("%s holds int8 weights; int4 needs a float32 (version-0) checkpoint" % checkpoint)
        shared = weights["wcls"] is weights["token_embedding_table"]
        q4 = quantize_int4(config, weights, group_size, int4_method, classifier, progress,
                           int8_tensors if dtype == "int4" else ())
        if dtype != "int4":
            for name in ("wq", "wk", "wv", "wo", "w1", "w2", "w3"):
                q4[name] = weights[name]
        if dtype == "int4" and classifier not in ("int4", "int8"):
            raise ValueError("with int4 layers the classifier is int4 or int8")
        if classifier == "int8" and dtype == "int4":
            gsc = None if group_size is None else group_size
            e = modelfile.quantize(weights["token_embedding_table"],
                                   gsc or modelfile.pick_group_size(config["dim"]))
            q4["token_embedding_table"] = e
            q4["wcls"] = e if shared else modelfile.quantize(weights["wcls"],
                                                             gsc or modelfile.pick_group_size(config["dim"]))
        return modelfile.write(out, config, q4, tok, dtype="f32" if dtype == "int4" else dtype,
                               group_size=None if dtype == "int4" else group_size, shared=shared,
                               progress=progress)
    if classifier != dtype:
        raise ValueError("--classifier differs from --weights only with int4")
    return modelfile.write(out, config, weights, tok, dtype=dtype, group_size=group_size,
                           shared=weights["wcls"] is weights["token_embedding_table"], progress=progress)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host convert", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="llama2.c checkpoint (.bin, version 0 or 2)")
    ap.add_argument("tokenizer", help="its tokenizer.bin")
    ap.add_argument("output", help="the .llm file to write")
    ap.add_argument("--weights", choices=("f32", "int8", "int4"),
                    help="the matrices' type (default f32; int4 keeps the layers' %s int8 unless --pure-int4)"
                    % " and ".join(INT8_TENSORS))
    ap.add_argument("--int8", action="store_true", help="the same as --weights int8")
    ap.add_argument("--classifier", choices=("f32", "int8", "int4"),
                    help="the token embedding / classifier's type (default: as --weights; int8 or int4 with"
                    " int4 weights)")
    ap.add_argument("--group-size", type=int, help="group size; rows are padded with zeros to a multiple of"
                    " it (int8 default: per tensor, 64 or 48, whichever pads the row less; one group for rows"
                    " shorter than 48; int4 default: %d; the int8 matrices of --weights int4 keep the int8"
                    " default)" % INT4_GROUP)
    ap.add_argument("--int4-method", choices=("gptq", "search", "round"), default="gptq",
                    help="int4 rounding: GPTQ on a corpus sampled from the model (default), per-group scale"
                    " search, or plain rounding (docs/int4.md)")
    ap.add_argument("--pure-int4", action="store_true",
                    help="with --weights int4, every matrix int4; by default the layers' " + " and ".join(INT8_TENSORS)
                    + " stay int8, in the int8 default's groups (their int4 error costs the most perplexity per"
                    " byte saved: docs/int4.md; stories15M: 10.11 MB and +3.3%% perplexity, pure int4 9.25 MB"
                    " and +5.5%%)")
    args = ap.parse_args(argv)
    if args.pure_int4 and (args.weights or ("int8" if args.int8 else "f32")) != "int4":
        ap.error("--pure-int4 goes with --weights int4")
    if args.int8 and args.weights not in (None, "int8"):
        ap.error("--int8 contradicts --weights %s" % args.weights)
    dtype = "int8" if args.int8 else (args.weights or "f32")
    try:
        with Bar("converting") as bar:
            size = convert(args.checkpoint, args.tokenizer, args.output, dtype,
                           args.group_size, bar.update, args.classifier, args.int4_method,
                           () if args.pure_int4 else None)
    except (OSError, ValueError) as e:
        sys.stderr.write("error: %s\n" % e)
        return 1
    print("wrote %s (%d bytes)" % (args.output, size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
