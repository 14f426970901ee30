"""The file formats' facts, shared with the device: app/llm/fileformat.py.

Loaded from its file rather than as part of the llm package, whose
__init__ imports the _llm C module that CPython does not have.
"""
import importlib.util
import os

from host.paths import REPO

_PATH = os.path.join(REPO, "app", "llm", "fileformat.py")
_spec = importlib.util.spec_from_file_location("llm_fileformat", _PATH)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

CONFIG_NAMES = _module.CONFIG_NAMES
LAYER_TENSORS = _module.LAYER_TENSORS
SHAPES = _module.SHAPES
F32, Q8, Q4 = _module.F32, _module.Q8, _module.Q4
TYPE_NAMES = _module.TYPE_NAMES
KV_TYPES = _module.KV_TYPES
check_config = _module.check_config
shape = _module.shape
row_bytes = _module.row_bytes
V0_HEADER_SIZE = _module.V0_HEADER_SIZE
V2_MAGIC = _module.V2_MAGIC
MAGIC = _module.MAGIC
VERSION = _module.VERSION
HEADER_SIZE = _module.HEADER_SIZE
HEADER_FORMAT = _module.HEADER_FORMAT
TABLE_ENTRY_SIZE = _module.TABLE_ENTRY_SIZE
ALIGN = _module.ALIGN
FLAG_SHARED_CLASSIFIER = _module.FLAG_SHARED_CLASSIFIER
n_tensors = _module.n_tensors
OLDEST_VERSION = _module.OLDEST_VERSION
SIMD_BYTES = _module.SIMD_BYTES
padded_cols = _module.padded_cols
group_size_ok = _module.group_size_ok


def c_header() -> str:
    """The facts the C module needs, as usermod/llm/fileformat.h.

    Committed, and compared with this output by tests/test_module_api.py:
        python3 -m host.fileformat --c-header > usermod/llm/fileformat.h
    """
    per_layer = n_tensors(1) - n_tensors(0)
    assert per_layer == len(LAYER_TENSORS)

    def x_list(macro, items):
        items = [", ".join(i) if isinstance(i, tuple) else i for i in items]
        return ["#define %s(X) \\" % macro] + ["    X(%s)%s" % (n, " \\" if i < len(items) - 1 else "")
                                               for i, n in enumerate(items)]

    def with_shape(name):
        return (name,) + SHAPES[name]

    lines = [
        "// The .llm format's facts that the C module needs.  Generated from",
        "// app/llm/fileformat.py by `python3 -m host.fileformat --c-header`: do not",
        "// edit; tests/test_module_api.py checks that it is up to date.",
        "#ifndef LLM_FILEFORMAT_H",
        "#define LLM_FILEFORMAT_H",
        "",
        "// The config's fields, in the order the file stores them (int32 each).",
    ] + x_list("LLM_FILE_CONFIG", CONFIG_NAMES) + [
        "",
        "// The tensors with their shapes (name, rows, cols) in the config's terms:",
        "// kv_dim = dim / n_heads * n_kv_heads; one = a single row.  The table",
        "// holds the embedding, each layer's LLM_FILE_LAYER_TENSORS in this order,",
        "// then rms_final and the classifier.",
    ] + x_list("LLM_FILE_LAYER_TENSORS", [with_shape(n) for n in LAYER_TENSORS]) + [
        "#define LLM_FILE_EMBEDDING(X) X(%s, %s, %s)" % with_shape("embedding"),
        "#define LLM_FILE_RMS_FINAL(X) X(%s, %s, %s)" % with_shape("rms_final"),
        "#define LLM_FILE_CLASSIFIER(X) X(%s, %s, %s)" % with_shape("classifier"),
        "",
        "// Entries of the tensor table: the embedding, every layer's, rms_final, the classifier.",
        "#define LLM_FILE_N_TENSORS(n_layers) (%d + %d * (n_layers))" % (n_tensors(0), per_layer),
        "",
        "// A table entry: offset, type, group size, scales offset (int32 each).",
        "#define LLM_FILE_TABLE_ENTRY_SIZE (%d)" % TABLE_ENTRY_SIZE,
        "",
        "// Tensor types (a table entry's second field), of weights and of the KV",
        "// cache; the comment is the type's name (llm.load(kv=...)).",
        "typedef enum {",
    ] + ["    LLM_%s = %d,  // \"%s\"" % (n, globals()[n], TYPE_NAMES[globals()[n]]) for n in ("F32", "Q8", "Q4")] + [
        "} llm_type_t;",
        "#define LLM_FILE_N_TYPES (%d)" % len(TYPE_NAMES),
        "",
        "// The types a KV cache may hold.",
    ] + x_list("LLM_FILE_KV_TYPES", ["LLM_" + ("F32", "Q8", "Q4")[t] for t in KV_TYPES]) + [
        "",
        "// Group sizes that need not divide an int8 row are multiples of this",
        "// (fileformat.group_size_ok; in C: tensor.h's llm_group_size_ok).",
        "#define LLM_FILE_SIMD_BYTES (%d)" % SIMD_BYTES,
        "",
        "#endif",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys
    if sys.argv[1:] != ["--c-header"]:
        sys.exit("usage: python3 -m host.fileformat --c-header > usermod/llm/fileformat.h")
    sys.stdout.write(c_header())
