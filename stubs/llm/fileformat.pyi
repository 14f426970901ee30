from _typeshed import Incomplete

CONFIG_NAMES: Incomplete
DIM: Incomplete
HIDDEN_DIM: Incomplete
N_LAYERS: Incomplete
N_HEADS: Incomplete
N_KV_HEADS: Incomplete
VOCAB_SIZE: Incomplete
SEQ_LEN: Incomplete
LAYER_TENSORS: Incomplete
SHAPES: Incomplete
F32: int
Q8: int
Q4: int
TYPE_NAMES: Incomplete
KV_TYPES: Incomplete
V0_HEADER_SIZE: int
V2_MAGIC: int
MAGIC: bytes
VERSION: int
OLDEST_VERSION: int
HEADER_SIZE: int
HEADER_FORMAT: str
TABLE_ENTRY_SIZE: int
ALIGN: int
FLAG_SHARED_CLASSIFIER: int
SIMD_BYTES: int

def check_config(cfg, what: str) -> None:
    """Raise ValueError unless cfg (CONFIG_NAMES' values) is a model the
    runtime can hold: sane sizes, dim n_heads times an even head size, and
    n_heads a multiple of n_kv_heads."""
def shape(name: str, cfg) -> tuple:
    """(rows, cols) of tensor name (a SHAPES key) for config cfg."""
def n_tensors(n_layers: int) -> int:
    """Entries of the tensor list: the embedding, every layer's, rms_final, the classifier."""
def padded_cols(cols: int, group_size: int) -> int:
    """Bytes of one int8 row: cols rounded up to a multiple of group_size."""
def row_bytes(cols: int, group_size: int, kind: int) -> int:
    """Bytes of one stored row of a quantised tensor: padded codes, a nibble each for Q4."""
def group_size_ok(cols: int, group_size: int, kind: int = ...) -> bool:
    """Whether an int8 (or, kind Q4, int4) tensor with rows of cols values may use group_size."""
