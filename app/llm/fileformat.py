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

# llama2.c's legacy version-0 checkpoint: the config (a negative vocab_size
# means an unshared classifier), then float32 tensors.
V0_HEADER_SIZE = 28
# llama2.c's version-2 export (int8, group-quantised): magic "ak42".
V2_MAGIC = 0x616B3432

# The .llm file (docs/format.md).
MAGIC = b"uLLM"
VERSION = 1
HEADER_SIZE = 64
# magic, version, header size, config, flags, table, tokenizer, tokenizer size, index, file size
HEADER_FORMAT = "<4sII7iIIIIII"
TABLE_ENTRY_SIZE = 16  # offset, type, group size, scales offset: four int32
ALIGN = 16
FLAG_SHARED_CLASSIFIER = 1


def n_tensors(n_layers: int) -> int:
    """Entries of the tensor list: the embedding, every layer's, rms_final, the classifier."""
    return 3 + len(LAYER_TENSORS) * n_layers
