"""Print the README's memory table: bytes per part of a loaded model, for
stories260K and a model of stories15M's shape, fp32 vs int8 weights, with
the KV cache at the model's full context, fp32 and int8.

    python3 -m host.memtable MODELS_DIR
"""
import os
import sys
import tempfile

from host import convert, firmware, llama2, modelfile

SNIPPET = """
import _llm, json
print(json.dumps([_llm.memory(%(cfg)r, %(ctx)d, 0), _llm.memory(%(cfg)r, %(ctx)d, 1)]))
"""


def rows(name, cfg, files):
    c = tuple(cfg[k] for k in modelfile.CONFIG_NAMES)
    (act, kv32), (_, kv8) = firmware.run_code(SNIPPET % {"cfg": c, "ctx": cfg["seq_len"]})
    out = []
    for kind, path in files:
        size = os.path.getsize(path)
        header = modelfile.read_header(open(path, "rb").read(modelfile.HEADER_SIZE))
        tok = header["tokenizer_size"] + 8 * cfg["vocab_size"]
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            name, kind, f"{size - tok:,}", f"{tok:,}", f"{kv32:,}", f"{kv8:,}", f"{act:,}"))
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    models = argv[0] if argv else "models"
    shared = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "models")
    tok32k = os.path.join(models, "tokenizer.bin")
    if not os.path.exists(tok32k):
        tok32k = os.path.join(shared, "tokenizer.bin")
    print("| model | weights | weights bytes | tokenizer + index bytes | KV cache fp32 (full ctx) "
          "| KV cache int8 | activations |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        src, tok = os.path.join(models, "stories260K.bin"), os.path.join(models, "tok512.bin")
        files = []
        for kind in ("f32", "int8"):
            out = os.path.join(tmp, "s260_%s.llm" % kind)
            convert.convert(src, tok, out, kind)
            files.append((kind, out))
        cfg, _ = llama2.read_checkpoint(src)
        for line in rows("stories260K", cfg, files):
            print(line)
        cfg = dict(dim=288, hidden_dim=768, n_layers=6, n_heads=6, n_kv_heads=6, vocab_size=32000, seq_len=256)
        cfg, w = llama2.random_weights(cfg, seed=1)
        tokb = open(tok32k, "rb").read()
        files = []
        for kind in ("f32", "int8"):
            out = os.path.join(tmp, "s15m_%s.llm" % kind)
            modelfile.write(out, cfg, w, tokb, dtype=kind)
            files.append((kind, out))
        for line in rows("stories15M shape", cfg, files):
            print(line)


if __name__ == "__main__":
    main()
