from .fileformat import F32 as F32, LAYER_TENSORS as LAYER_TENSORS, V0_HEADER_SIZE as V0_HEADER_SIZE, VOCAB_SIZE as VOCAB_SIZE, check_config as check_config, shape as shape

def read_header(f, path): ...
def file_bytes(cfg, shared):
    """The size of a checkpoint with this config: arithmetic only, so that a
    header claiming millions of layers is caught before anything is built."""
def layout(cfg, shared):
    """Tensor table (offset, F32, 0, 0) x fileformat.n_tensors(n_layers); the
    caller has checked the file's size (file_bytes) and that it is below 2 GiB."""
