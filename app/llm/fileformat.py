# The facts of the two model file formats, in one place.  Plain Python that
# both MicroPython (the llm package) and CPython (host/, through
# host/fileformat.py) import, so the reader on the chip and the writer on
# the host cannot disagree.  docs/format.md describes the same layout.

# The config, in the order both formats store it (seven int32).
CONFIG_NAMES = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len")
DIM, HIDDEN_DIM, N_LAYERS, N_HEADS, N_KV_HEADS, VOCAB_SIZE, SEQ_LEN = range(7)

# Tensors of one layer, in the order of both formats' tensor lists.
LAYER_TENSORS = ("rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3")

# Tensor types (the .llm table's second field).
F32 = 0
Q8 = 1
# 4-bit: codes q in [-8, 7] stored as the nibble q + 8, two per byte, the
# even column in the low nibble; rows padded to whole groups as int8's; one
# IEEE half scale per group, as int8's (w = q * scale).  Group sizes even.
Q4 = 2
TYPE_NAMES = {F32: "f32", Q8: "int8", Q4: "int4"}

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
