"""The _llm C module: the transformer's kernels and llama2.c's sampler.

Every buffer argument takes any object with the buffer protocol (bytes,
bytearray, array, memoryview, a ROMFS file) without copying.  Float buffers
must be 4-byte aligned and a multiple of 4 bytes long.  A bad argument raises
ValueError or TypeError; it never crashes the interpreter.

The single kernels (matmul, matmul_q8, quantize, rmsnorm,
softmax, exp_fast, argmax, swiglu, rope, attention, attention_q8) are for the
tests: only builds with LLM_TEST_KERNELS have them (the host firmware and the
x64 .mpy; usermod/llm/llm_module_table.h lists the module's contents).
"""
from typing import Any, Protocol, Sequence, overload

class _Buffer(Protocol):
    # Anything with the buffer protocol; typeshed has no name for it here.
    def __len__(self) -> int: ...

Buffer = bytes | bytearray | memoryview | _Buffer | Any

def matmul(out: Buffer, x: Buffer, w: Buffer) -> None:
    """out[d] = w[d][n] @ x[n] in float32, n = len(x), d = len(out); each row
    summed left to right as llama2.c does."""

def quantize(xq: Buffer, xs: Buffer, x: Buffer, group_size: int) -> None:
    """int8 codes xq and float32 scales xs (max|x| / 127 per group) of x."""

def matmul_q8(out: Buffer, xq: Buffer, xs: Buffer, w: Buffer, ws: Buffer, group_size: int) -> None:
    """out = W @ x for int8 W with half-precision group scales ws and
    quantized x (xq, xs)."""

def matmul_q4(out: Buffer, xq: Buffer, xs: Buffer, w: Buffer, ws: Buffer, group_size: int) -> None:
    """out = W @ x for 4-bit W (len(xq) / 2 bytes per row: nibbles q + 8, even
    column low) with half-precision group scales ws, and quantized x (xq, xs)."""

def rmsnorm(out: Buffer, x: Buffer, weight: Buffer) -> None: ...
def softmax(x: Buffer, n: int = ...) -> None:
    """In place over the first n items (default: all)."""
def exp_fast(x: Buffer) -> None:
    """x = e**x in place: the int8 paths' exponential, within 2 ulp of expf
    on [-87.33, 88]."""
def attention_q8(out: Buffer, att: Buffer, q: Buffer, qs: Buffer, k: Buffer, ks: Buffer, v: Buffer, vs: Buffer,
                 pos: int, heads: int = ...) -> None:
    """Integer attention at position pos of `heads` query heads (default 1)
    that share one KV head's block of an int8 KV cache: keys k and values v
    transposed ([head_size][ctx] int8), scales ks and vs (ctx floats each;
    vs finite and not negative, as llm_quantize_q8 makes them, else ValueError);
    q holds heads * head_size int8 with scales qs (heads floats); out gets
    heads * head_size floats; att (heads * ctx floats) is left holding
    e**(score - max score)."""
def argmax(x: Buffer) -> int:
    """Index of the first maximum."""
def swiglu(hb: Buffer, hb2: Buffer) -> None:
    """hb = silu(hb) * hb2"""
def rope(vec: Buffer, head_size: int, pos: int) -> None:
    """Rotate each head of vec in place for position pos (even head_size <= 256)."""
def attention(out: Buffer, att: Buffer, q: Buffer, k: Buffer, v: Buffer, pos: int, stride: int) -> None:
    """One head of attention at position pos: k and v hold positions 0..pos,
    stride floats apart; head size = len(q) = len(out)."""
def random_u32(rng: Buffer) -> int:
    """Next value of llama2.c's xorshift generator; rng is 8 aligned bytes."""
def sample(logits: Buffer, temperature: float, top_p: float, rng: Buffer, scratch: Buffer) -> int:
    """llama2.c's sample(): argmax at temperature 0, else softmax(logits /
    temperature) and multinomial or top-p.  Overwrites logits; scratch holds
    len(logits) int32."""
def memory(config: Sequence[int], ctx: int, kv_type: int) -> tuple[int, int]:
    """(activation bytes, KV cache bytes) a Model allocates on the heap;
    kv_type as Model's."""
def heap_largest() -> int:
    """Bytes of the heap's largest free block, which a KV cache must fit in;
    -1 where it cannot be known (the native .mpy)."""
@overload
def threads() -> int: ...
@overload
def threads(n: int) -> int:
    """Use 1 or 2 cores; returns what is in effect (1 without a second core)."""

class Model:
    """The forward pass over weights held in any buffer.

    table: int32 (offset, type, group_size, scales_offset) for the embedding,
    then per layer rms_att wq wk wv wo rms_ffn w1 w2 w3, then rms_final and
    the classifier; type 0 is float32, 1 int8 with half scales, 2 int4 with
    half scales (the tensor types of llm/fileformat.py).  config: (dim,
    hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len).
    kv_type: the KV cache's tensor type, one of fileformat.KV_TYPES (0
    float32, 1 int8 with a scale per head and position); any other value
    raises ValueError.  ram: a second buffer holding some tensors (a copy in
    RAM), parts which: a mask of 1 (embedding), 2 (the layers' tensors), 4
    (classifier); their table offsets are into ram.
    """
    def __init__(self, weights: Buffer, table: Buffer, config: Sequence[int], ctx: int, kv_type: int,
                 ram: Buffer | None = None, parts: int = 0) -> None: ...
    def forward(self, token: int, pos: int) -> None: ...
    def sample(self, temperature: float, top_p: float, rng: Buffer) -> int: ...
    def logits(self) -> memoryview: ...

class Tokenizer:
    """llama2.c's BPE tokenizer over the raw bytes of a tokenizer.bin at
    data[start:start + size], with an index stored at data[index:] or built
    on the heap (index -1)."""
    vocab_size: int
    index_bytes: int
    def __init__(self, data: Buffer, vocab_size: int, start: int = 0, size: int = -1, index: int = -1) -> None: ...
    def encode(self, text: bytes | str, bos: bool = True, eos: bool = False) -> list[int]: ...
    def decode(self, prev: int, token: int) -> bytes: ...
    def piece(self, token: int) -> bytes: ...
    def lookup(self, piece: bytes | str) -> int: ...

class MappedFile:
    """Unix firmware only: a read-only memory map of a host file, which Model
    and Tokenizer read in place.  Through the buffer protocol (memoryview,
    bytes) it gives a copy in the heap, which stays valid after the
    MappedFile is gone."""
    def __init__(self, path: str) -> None: ...
    def size(self) -> int: ...
