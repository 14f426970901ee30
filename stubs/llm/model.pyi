import _llm
from . import fileformat as fileformat, llama2 as llama2, modelfile as modelfile
from .fileformat import CONFIG_NAMES as CONFIG_NAMES, DIM as DIM, F32 as F32, N_LAYERS as N_LAYERS, SEQ_LEN as SEQ_LEN, TYPE_NAMES as TYPE_NAMES, VOCAB_SIZE as VOCAB_SIZE
from .files import file_size as file_size, open_buffer as open_buffer
from _typeshed import Incomplete
from typing import Iterator

MYPY: bool
BOS: int
EOS: int
KV_TYPES: Incomplete

def sampling(steps: int | None, temperature: float, top_p: float, seed: int | None = None) -> tuple:
    '''The one rule for the sampling parameters, used by Model.tokens(),
    Model.resume_tokens(), the command line and the REPL; it raises at once,
    before any token is generated.  Returns (steps, temperature, top_p, seed):

    - steps: an int; None or <= 0 becomes 0, "as far as the context goes";
    - temperature: a number, not nan; below 0 becomes 0 (llama2.c), inf is
      allowed (every token equally likely);
    - top_p: a number, not nan; outside [0, 1] becomes 0.9 (llama2.c);
    - seed: an int in -2**63 .. 2**64 - 1, taken modulo 2**64 as llama2.c\'s
      unsigned 64-bit seed; None or 0 becomes 0, "from the clock".  A seed
      outside that range is an error: llama2.c cannot hold it, and a
      multiple of 2**64 would silently be the clock\'s seed.
    '''

class Model:
    """A loaded model and its tokenizer.  Use llm.load() to make one."""
    tokenizer: Incomplete
    config: Incomplete
    ctx: Incomplete
    kv: Incomplete
    tokens_per_second: float
    stop_reason: str | None
    def __init__(self, core: _llm.Model, tokenizer: _llm.Tokenizer, config: tuple, ctx: int, kv: str, parts: dict) -> None: ...
    @property
    def vocab_size(self) -> int: ...
    def tokens(self, prompt: str | bytes = '', steps: int = 256, temperature: float = 1.0, top_p: float = 0.9, seed: int | None = None) -> Iterator[tuple[int, int]]:
        """Yield (previous token, token) for each position, prompt included.
        The arguments are checked here, before the iterator is returned
        (see sampling())."""
    def resume_tokens(self, steps: int | None = 256, temperature: float = 1.0, top_p: float = 0.9) -> Iterator[tuple[int, int]]:
        """Continue the last story from where it stopped, for up to steps more
        positions (None or <= 0: to the end of the context), yielding
        (previous token, token) as tokens() does.  The KV cache is used as it
        is: the prompt is not read again, and the random state goes on, so
        tokens(p, a) then resume_tokens(b) gives what tokens(p, a + b) does.

        Raises ValueError when there is nothing to continue: no story yet,
        a story that ended (the model gave BOS), or a full context.
        """
    def pieces(self, prompt: str | bytes = '', steps: int = 256, temperature: float = 1.0, top_p: float = 0.9, seed: int | None = None) -> Iterator[bytes]:
        """Yield the raw bytes llama2.c's decode() gives for each token."""
    def stream(self, prompt: str | bytes = '', steps: int = 256, temperature: float = 1.0, top_p: float = 0.9, seed: int | None = None) -> Iterator[str]:
        """Yield text as it is generated: the prompt, then the continuation.

        steps counts positions, prompt tokens included, as llama2.c's -n.
        temperature 0 is greedy; seed None or 0 seeds from the clock (a
        negative seed is taken modulo 2**64, as llama2.c does).  The
        arguments are checked here, before the iterator is returned (see
        sampling()).
        """
    def generate(self, prompt: str | bytes = '', steps: int = 256, temperature: float = 1.0, top_p: float = 0.9, seed: int | None = None) -> str:
        """The whole text stream() yields, as one str."""
    def logits(self) -> memoryview:
        """The logits of the last forward step (a float memoryview)."""
    def forward(self, token: int, pos: int) -> memoryview: ...
    def info(self) -> dict:
        """Config and where the bytes are: a dict."""

PLACES: Incomplete

def load(checkpoint: str, tokenizer: str | None = None, ctx: int | None = None, kv: str = 'f32', place: str | None = None) -> Model:
    '''Load a model: a .llm file (see docs/format.md), or a llama2.c
    version-0 checkpoint with its tokenizer.bin.

    Weights stay where the file is when the platform allows it: memory
    mapped on the unix firmware, in flash on a ROMFS mount.  ctx bounds the
    KV cache (default: the model\'s seq_len); kv is "f32" (exact, llama2.c
    parity) or "int8" (a quarter of the memory).  tokenizer overrides the
    one stored in a .llm file.

    place: "flash" reads every weight where the file is; "layers" copies
    the layers\' tensors into the heap (PSRAM on the SPIRAM boards) and
    "classifier" the classifier (with the embedding it shares), the rest
    staying in place; "ram" ("psram") copies the bigger of the two that the
    heap holds with room to spare.  Default: "ram" when the file is read in
    place from a ROMFS mount, else "flash" (a memory-mapped host file is in
    RAM already).
    '''
def context_full_message(model: Model) -> str:
    '''What the command line and the REPL say when generation stopped at the
    end of the context (model.stop_reason == "ctx").'''
def print_info(model: Model) -> None:
    """Print model.info(), the dict, as a table."""
