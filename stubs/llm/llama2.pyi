from .fileformat import F32 as F32, LAYER_TENSORS as LAYER_TENSORS, V0_HEADER_SIZE as V0_HEADER_SIZE, VOCAB_SIZE as VOCAB_SIZE, check_config as check_config, shape as shape

def read_header(f, path): ...
def layout(cfg, shared):
    """Tensor table (offset, F32, 0, 0) x fileformat.n_tensors(n_layers) and file size."""
