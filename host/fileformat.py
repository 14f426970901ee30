"""The file formats' facts, shared with the device: app/llm/fileformat.py.

Loaded from its file rather than as part of the llm package, whose
__init__ imports the _llm C module that CPython does not have.
"""
import importlib.util
import os

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app", "llm", "fileformat.py")
_spec = importlib.util.spec_from_file_location("llm_fileformat", _PATH)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

CONFIG_NAMES = _module.CONFIG_NAMES
LAYER_TENSORS = _module.LAYER_TENSORS
F32, Q8, Q4 = _module.F32, _module.Q8, _module.Q4
TYPE_NAMES = _module.TYPE_NAMES
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

    def x_list(macro, names):
        return ["#define %s(X) \\" % macro] + ["    X(%s)%s" % (n, " \\" if i < len(names) - 1 else "")
                                               for i, n in enumerate(names)]

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
        "// One layer's tensors, in the order of the tensor table.",
    ] + x_list("LLM_FILE_LAYER_TENSORS", LAYER_TENSORS) + [
        "",
        "// Entries of the tensor table: the embedding, every layer's, rms_final, the classifier.",
        "#define LLM_FILE_N_TENSORS(n_layers) (%d + %d * (n_layers))" % (n_tensors(0), per_layer),
        "",
        "// A table entry: offset, type, group size, scales offset (int32 each).",
        "#define LLM_FILE_TABLE_ENTRY_SIZE (%d)" % TABLE_ENTRY_SIZE,
        "",
        "// Tensor types (a table entry's second field).",
        "#define LLM_FILE_F32 (%d)" % F32,
        "#define LLM_FILE_Q8 (%d)" % Q8,
        "#define LLM_FILE_Q4 (%d)" % Q4,
        "",
        "// Group sizes that need not divide an int8 row are multiples of this.",
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
