# The facts of the two model file formats, in one place.  Plain Python that
# both MicroPython (the llm package) and CPython (host/, through
# host/fileformat.py) import, so the reader on the chip and the writer on
# the host cannot disagree.  docs/format.md describes the same layout.

# The config, in the order both formats store it (seven int32).
CONFIG_NAMES = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len")
DIM, HIDDEN_DIM, N_LAYERS, N_HEADS, N_KV_HEADS, VOCAB_SIZE, SEQ_LEN = range(7)

# Tensors of one layer, in the order of both formats' tensor lists.
LAYER_TENSORS = ("rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3")

# Every tensor's shape (rows, cols), in the config's terms: kv_dim is
# dim // n_heads * n_kv_heads, and "one" a single row (the norms' weights).
# The file holds the embedding, each layer's LAYER_TENSORS, rms_final and
# the classifier, in that order (n_tensors).
SHAPES = {
    "embedding": ("vocab_size", "dim"),
    "rms_att": ("one", "dim"), "wq": ("dim", "dim"), "wk": ("kv_dim", "dim"), "wv": ("kv_dim", "dim"),
    "wo": ("dim", "dim"), "rms_ffn": ("one", "dim"), "w1": ("hidden_dim", "dim"), "w2": ("dim", "hidden_dim"),
    "w3": ("hidden_dim", "dim"),
    "rms_final": ("one", "dim"), "classifier": ("vocab_size", "dim"),
}

# Tensor types (the .llm table's second field).  TYPE_NAMES[t] is how
# llm.load(kv=...), the converter and messages name type t.  Q4 is 4-bit
# weights (docs/int4.md), not a KV cache type.
F32 = 0
Q8 = 1
# 4-bit: codes q in [-8, 7] stored as the nibble q + 8, two per byte, the
# even column in the low nibble; rows padded to whole groups as int8's; one
# IEEE half scale per group, as int8's (w = q * scale).  Group sizes even.
Q4 = 2
TYPE_NAMES = ("f32", "int8", "int4")
# The types a KV cache may hold (llm.load's kv, by TYPE_NAMES).
KV_TYPES = (F32, Q8)

# llama2.c's legacy version-0 checkpoint: the config (a negative vocab_size
# means an unshared classifier), then float32 tensors.
V0_HEADER_SIZE = 28
# llama2.c's version-2 export (int8, group-quantised): magic "ak42".
V2_MAGIC = 0x616B3432

# The .llm file (docs/format.md).  Version 2 pads int8 rows to a multiple
# of their group size (version 1's groups always divided the row, which
# version 2 reads the same way), so that groups of a multiple of 16 give
# the ESP32-S3's SIMD 16-byte aligned groups.  Version 3 adds the 4-bit
# type (Q4); files without it are written as version 2, so that older
# firmware still reads them.
MAGIC = b"uLLM"
VERSION = 3
OLDEST_VERSION = 1
HEADER_SIZE = 64
# magic, version, header size, config, flags, table, tokenizer, tokenizer size, index, file size
HEADER_FORMAT = "<4sII7iIIIIII"
TABLE_ENTRY_SIZE = 16  # offset, type, group size, scales offset: four int32
ALIGN = 16
FLAG_SHARED_CLASSIFIER = 1
# Group sizes the converter picks are multiples of this (the S3's 128-bit
# vectors); any group size is valid as long as it divides the row, or is a
# multiple of SIMD_BYTES at most the row rounded up to SIMD_BYTES.
SIMD_BYTES = 16


def check_config(cfg, what: str) -> None:
    """Raise ValueError unless cfg (CONFIG_NAMES' values) is a model the
    runtime can hold: sane sizes, dim n_heads times an even head size, and
    n_heads a multiple of n_kv_heads."""
    for name, v in zip(CONFIG_NAMES, cfg):
        if v <= 0 or v > 1 << 24:
            raise ValueError("%s: %s = %d is not a sane size" % (what, name, v))
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = cfg
    if dim % heads or (dim // heads) % 2:
        raise ValueError("%s: dim %d is not n_heads %d times an even head size" % (what, dim, heads))
    if kv_heads > heads or heads % kv_heads:
        raise ValueError("%s: n_heads %d is not a multiple of n_kv_heads %d" % (what, heads, kv_heads))


def shape(name: str, cfg) -> tuple:
    """(rows, cols) of tensor name (a SHAPES key) for config cfg."""
    dims = {"one": 1, "dim": cfg[DIM], "hidden_dim": cfg[HIDDEN_DIM], "vocab_size": cfg[VOCAB_SIZE],
            "kv_dim": cfg[DIM] // cfg[N_HEADS] * cfg[N_KV_HEADS]}
    rows, cols = SHAPES[name]
    return dims[rows], dims[cols]


def n_tensors(n_layers: int) -> int:
    """Entries of the tensor list: the embedding, every layer's, rms_final, the classifier."""
    return 3 + len(LAYER_TENSORS) * n_layers


def padded_cols(cols: int, group_size: int) -> int:
    """Bytes of one int8 row: cols rounded up to a multiple of group_size."""
    return (cols + group_size - 1) // group_size * group_size


def row_bytes(cols: int, group_size: int, kind: int) -> int:
    """Bytes of one stored row of a quantised tensor: padded codes, a nibble each for Q4."""
    p = padded_cols(cols, group_size)
    return p // 2 if kind == Q4 else p


def group_size_ok(cols: int, group_size: int, kind: int = Q8) -> bool:
    """Whether an int8 (or, kind Q4, int4) tensor with rows of cols values may use group_size."""
    if group_size <= 0 or (kind == Q4 and group_size % 2):
        return False
    if cols % group_size == 0:
        return True
    return group_size % SIMD_BYTES == 0 and group_size <= padded_cols(cols, SIMD_BYTES)
