# Loading a model and generating text with it, step for step as llama2.c's
# run.c does, so that the same flags give the same tokens.
import gc
import struct
import time

import _llm

from . import llama2, modelfile
from . import fileformat
from .fileformat import CONFIG_NAMES, DIM, F32, N_LAYERS, SEQ_LEN, TYPE_NAMES, VOCAB_SIZE

MYPY = False
if MYPY:  # type checkers only; MicroPython has no typing module
    from typing import Iterator, Optional, Union
from .files import open_buffer, file_size

BOS = 1
EOS = 2
# llm.load's kv names (fileformat.TYPE_NAMES of the types a KV cache may hold).
KV_TYPES = tuple(TYPE_NAMES[t] for t in fileformat.KV_TYPES)


def _ticks_ms():
    try:
        return time.ticks_ms()
    except AttributeError:
        return int(time.time() * 1000)


def _ticks_diff(a, b):
    try:
        return time.ticks_diff(a, b)
    except AttributeError:
        return a - b


def _time_seed() -> int:
    # llama2.c: a seed of 0 means "seed from the clock".
    return int(time.time()) & 0xFFFFFFFF or 1


def _number(name: str, value: 'object') -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number, not %r" % (name, value))
    value = float(value)
    if value != value:
        raise ValueError("%s must be a number, not nan" % name)
    return value


def sampling(steps: 'Optional[int]', temperature: float, top_p: float,
             seed: 'Optional[int]' = None) -> tuple:
    """The one rule for the sampling parameters, used by Model.tokens(),
    Model.resume_tokens(), the command line and the REPL; it raises at once,
    before any token is generated.  Returns (steps, temperature, top_p, seed):

    - steps: an int; None or <= 0 becomes 0, "as far as the context goes";
    - temperature: a number, not nan; below 0 becomes 0 (llama2.c), inf is
      allowed (every token equally likely);
    - top_p: a number, not nan; outside [0, 1] becomes 0.9 (llama2.c);
    - seed: an int in -2**63 .. 2**64 - 1, taken modulo 2**64 as llama2.c's
      unsigned 64-bit seed; None or 0 becomes 0, "from the clock".  A seed
      outside that range is an error: llama2.c cannot hold it, and a
      multiple of 2**64 would silently be the clock's seed.
    """
    if steps is None:
        steps = 0
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError("steps must be an int, not %r" % (steps,))
    if steps < 0:
        steps = 0
    temperature = _number("temperature", temperature)
    if temperature < 0:
        temperature = 0.0
    top_p = _number("top_p", top_p)
    if top_p < 0 or top_p > 1:
        top_p = 0.9
    if seed is None:
        seed = 0
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError("seed must be an int, not %r" % (seed,))
    if seed < -(1 << 63) or seed >= 1 << 64:
        raise ValueError("seed must be from -2**63 to 2**64 - 1 (llama2.c's 64-bit seed), not %d" % seed)
    if seed < 0:
        seed += 1 << 64
    return steps, temperature, top_p, seed


def _incomplete_utf8_tail(data: bytes) -> int:
    """Number of bytes at the end of data that start an unfinished UTF-8 character."""
    n = len(data)
    for back in range(1, min(3, n) + 1):
        b = data[n - back]
        if b & 0xC0 == 0x80:
            continue  # continuation byte: keep looking for the lead byte
        need = 2 if b & 0xE0 == 0xC0 else 3 if b & 0xF0 == 0xE0 else 4 if b & 0xF8 == 0xF0 else 1
        return back if need > back else 0
    return 0


def _utf8_length(data: bytes, i: int) -> int:
    """Length of the valid UTF-8 character at data[i], or 0 if it is not one."""
    b = data[i]
    n = 1 if b < 0x80 else 2 if 0xC2 <= b < 0xE0 else 3 if 0xE0 <= b < 0xF0 else 4 if 0xF0 <= b < 0xF5 else 0
    if n == 0 or i + n > len(data):
        return 0
    for j in range(i + 1, i + n):
        if data[j] & 0xC0 != 0x80:
            return 0
    return n


def _to_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeError:
        pass
    # A model can emit any byte: each invalid one becomes U+FFFD and the
    # valid characters around it are kept.
    out = []
    i = 0
    while i < len(data):
        n = _utf8_length(data, i)
        if n:
            out.append(data[i:i + n].decode("utf-8"))
            i += n
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out)


class Model:
    """A loaded model and its tokenizer.  Use llm.load() to make one."""

    def __init__(self, core: _llm.Model, tokenizer: _llm.Tokenizer, config: tuple, ctx: int, kv: str,
                 parts: dict) -> None:
        self._core = core
        self.tokenizer = tokenizer
        self.config = config
        self.ctx = ctx
        self.kv = kv
        self._parts = parts
        self._rng = bytearray(8)
        self.tokens_per_second = 0.0
        self.stop_reason = None  # type: Optional[str]
        # What resume_tokens() continues from: the last story's prompt, and
        # (token still to be fed, its position, the token before it, the
        # random state after it was drawn); None: nothing to continue.
        self._prompt = []  # type: list[int]
        self._next = None  # type: Optional[tuple[int, int, int, bytes]]

    @property
    def vocab_size(self) -> int:
        return self.config[VOCAB_SIZE]

    def tokens(self, prompt: 'Union[str, bytes]' = "", steps: int = 256, temperature: float = 1.0,
               top_p: float = 0.9, seed: 'Optional[int]' = None) -> 'Iterator[tuple[int, int]]':
        """Yield (previous token, token) for each position, prompt included.
        The arguments are checked here, before the iterator is returned
        (see sampling())."""
        steps, temperature, top_p, seed = sampling(steps, temperature, top_p, seed)
        # llama2.c clamps steps to seq_len; -n counts the prompt's tokens too.
        seq_len = self.config[SEQ_LEN]
        if steps == 0 or steps > seq_len:
            steps = seq_len
        self._next = None  # a new story: the last one cannot be continued
        return self._story(prompt, steps, temperature, top_p, seed)

    def _story(self, prompt: 'Union[str, bytes]', steps: int, temperature: float, top_p: float,
               seed: int) -> 'Iterator[tuple[int, int]]':
        # A str goes to the tokenizer as it is: it reads the UTF-8 bytes in
        # place, where a bytes copy would double a long prompt's memory.
        self._rng[:] = struct.pack("<Q", seed or _time_seed())
        prompt_tokens = self.tokenizer.encode(prompt)
        self._prompt = prompt_tokens
        yield from self._run(prompt_tokens[0], 0, steps, temperature, top_p)

    def resume_tokens(self, steps: 'Optional[int]' = 256, temperature: float = 1.0,
                      top_p: float = 0.9) -> 'Iterator[tuple[int, int]]':
        """Continue the last story from where it stopped, for up to steps more
        positions (None or <= 0: to the end of the context), yielding
        (previous token, token) as tokens() does.  The KV cache is used as it
        is: the prompt is not read again, and the random state goes on, so
        tokens(p, a) then resume_tokens(b) gives what tokens(p, a + b) does.

        Raises ValueError when there is nothing to continue: no story yet,
        a story that ended (the model gave BOS), or a full context.
        """
        steps, temperature, top_p, _ = sampling(steps, temperature, top_p)
        if self._next is None:
            if self.stop_reason == "bos":
                raise ValueError("the story has ended: the model began a new one")
            raise ValueError("there is no story to continue")
        token, pos, _, rng = self._next
        if pos >= self.ctx:
            raise ValueError("the %d-token context is full" % self.ctx)
        end = self.ctx if steps == 0 else pos + steps
        self._rng[:] = rng
        return self._run(token, pos, end, temperature, top_p)

    def _run(self, token: int, pos: int, end: int, temperature: float,
             top_p: float) -> 'Iterator[tuple[int, int]]':
        # Feeds token at pos, and each next one, until position end.
        prompt_tokens = self._prompt
        n_prompt = len(prompt_tokens)
        core = self._core
        first = pos
        self.stop_reason = "steps"
        self.tokens_per_second = 0.0
        start = None
        while pos < end:
            if pos >= self.ctx:
                self.stop_reason = "ctx"  # the caller says so (context_full_message)
                break
            core.forward(token, pos)
            if pos < n_prompt - 1:
                nxt = prompt_tokens[pos + 1]
            else:
                nxt = core.sample(temperature, top_p, self._rng)
            pos += 1
            if nxt == BOS:
                self.stop_reason = "bos"
                self._next = None
                break
            # The resume point is one store of everything resuming needs: the
            # unix firmware raises KeyboardInterrupt at any instruction, and
            # before this store the old point is still valid (feeding a token
            # again at its position rewrites the same KV row; the random
            # state is put back to what it was after that token was drawn).
            self._next = (nxt, pos, token, bytes(self._rng))
            yield token, nxt
            token = nxt
            if start is None:
                start = _ticks_ms()
        if start is not None and pos - first > 1:
            elapsed = _ticks_diff(_ticks_ms(), start)
            self.tokens_per_second = (pos - first - 1) / (elapsed / 1000) if elapsed > 0 else float("inf")

    def pieces(self, prompt: 'Union[str, bytes]' = "", steps: int = 256, temperature: float = 1.0,
               top_p: float = 0.9, seed: 'Optional[int]' = None) -> 'Iterator[bytes]':
        """Yield the raw bytes llama2.c's decode() gives for each token."""
        return self._pieces(self.tokens(prompt, steps, temperature, top_p, seed))

    def _pieces(self, pairs: 'Iterator[tuple[int, int]]') -> 'Iterator[bytes]':
        decode = self.tokenizer.decode
        for prev, token in pairs:
            yield decode(prev, token)

    def stream(self, prompt: 'Union[str, bytes]' = "", steps: int = 256, temperature: float = 1.0,
               top_p: float = 0.9, seed: 'Optional[int]' = None) -> 'Iterator[str]':
        """Yield text as it is generated: the prompt, then the continuation.

        steps counts positions, prompt tokens included, as llama2.c's -n.
        temperature 0 is greedy; seed None or 0 seeds from the clock (a
        negative seed is taken modulo 2**64, as llama2.c does).  The
        arguments are checked here, before the iterator is returned (see
        sampling()).
        """
        return self._stream(self.pieces(prompt, steps, temperature, top_p, seed))

    def _stream(self, pieces: 'Iterator[bytes]') -> 'Iterator[str]':
        pending = b""
        for piece in pieces:
            pending += piece
            keep = _incomplete_utf8_tail(pending)
            if keep < len(pending):
                cut = len(pending) - keep
                yield _to_text(pending[:cut])
                pending = pending[cut:]
        if pending:
            yield _to_text(pending)

    def generate(self, prompt: 'Union[str, bytes]' = "", steps: int = 256, temperature: float = 1.0,
                 top_p: float = 0.9, seed: 'Optional[int]' = None) -> str:
        """The whole text stream() yields, as one str."""
        return "".join(self.stream(prompt, steps, temperature, top_p, seed))

    def logits(self) -> memoryview:
        """The logits of the last forward step (a float memoryview)."""
        return self._core.logits()

    def forward(self, token: int, pos: int) -> memoryview:
        self._core.forward(token, pos)
        return self._core.logits()

    def info(self) -> dict:
        """Config and where the bytes are: a dict."""
        gc.collect()
        d = dict(zip(CONFIG_NAMES, self.config))
        d.update(self._parts)
        d["ctx"] = self.ctx
        d["kv"] = self.kv
        try:
            d["heap_free"] = gc.mem_free()
        except AttributeError:
            d["heap_free"] = None
        return d


def _largest_ctx(config: tuple, ctx: int, kv: str, room: int, block: int) -> int:
    """The largest ctx <= ctx whose KV cache and activations fit in room
    bytes and whose KV cache fits in one block of block bytes (0: none), as
    the module counts them."""
    lo, hi = 0, ctx
    while lo < hi:
        mid = (lo + hi + 1) // 2
        activations, kv_bytes = _llm.memory(config, mid, TYPE_NAMES.index(kv))
        if activations + kv_bytes <= room and kv_bytes <= block:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _need_message(path: str, config: tuple, parts: dict, free: 'Union[int, str]', kv: str, ctx: int) -> str:
    other = parts["tokenizer_index_bytes"]
    for key in ("weights", "tokenizer"):
        if parts[key + "_where"] == "heap":
            other += parts[key + "_bytes"]
    needed = parts["kv_bytes"] + parts["activation_bytes"] + other
    tips = []
    if isinstance(free, int):
        # Only what would fit what is free now, with room for the
        # allocator's overhead and the small objects a model also makes.
        margin = max(4096, free // 16)
        room = free - other - margin
        # The KV cache is one block: where the heap can say, it must fit the
        # largest hole, not just the free total.
        largest = _llm.heap_largest()
        block = largest - margin if largest >= 0 else room
        for k in KV_TYPES if kv == TYPE_NAMES[F32] else (kv,):
            c = _largest_ctx(config, ctx, k, room, block)
            if c > 16:
                c -= c % 16
            if c and (c < ctx or k != kv):
                change = ["ctx=%d" % c] if c < ctx else []
                if k != kv:
                    change.append("kv='%s'" % k)
                tips.append(", ".join(change))
    if isinstance(free, int) and needed <= free:
        # Enough bytes, but not in one piece.
        tips.append("a soft reset (Ctrl-D) and then loading the model first: the free heap is in pieces"
                    " too small for the KV cache")
    if parts["weights_where"] == "heap":
        if parts["weights_type"] == "f32":
            tips.append("int8 weights (python3 -m host convert --int8)")
        tips.append("putting the model on ROMFS, so weights stay in flash")
    message = ("%s needs about %d bytes of heap (KV cache %d, activations %d, tokenizer %d, weights in heap %d)"
               " but only %s are free; try %s" % (
                   path, needed, parts["kv_bytes"], parts["activation_bytes"],
                   parts["tokenizer_index_bytes"] + (parts["tokenizer_bytes"] if parts["tokenizer_where"] == "heap" else 0),
                   parts["weights_bytes"] if parts["weights_where"] == "heap" else 0,
                   free, " or ".join(tips) or "a board with a bigger heap"))
    try:
        total = gc.mem_alloc() + gc.mem_free()
    except AttributeError:
        total = 0
    if _loaded[0] and isinstance(free, int) and needed < total:
        message += ("; this heap holds %d bytes in all: if an earlier model is still loaded, free it first"
                    " (del m; gc.collect())" % total)
    return message


# How many models this interpreter has loaded (an earlier one may still hold the heap).
_loaded = [0]


def _mem_free() -> 'Union[int, str]':
    try:
        gc.collect()
        return gc.mem_free()
    except AttributeError:
        return "?"


def _read_layout(path: str) -> tuple:
    """(config, table, tokenizer layout or None, weights type) of a model file."""
    size = file_size(path)
    with open(path, "rb") as f:
        head = f.read(4)
        f.seek(0)
        if modelfile.is_model_file(head):
            return modelfile.read_layout(f, path, size)
        config, shared = llama2.read_header(f, "%s (not a .llm file; read as a llama2.c checkpoint)" % path)
    # The size first: the table is built only for a file that holds it.
    expected = llama2.file_bytes(config, shared)
    if size < expected:
        raise ValueError("%s is truncated: its header says %d bytes, the file has %d" % (path, expected, size))
    if size > expected:
        raise ValueError("%s has %d bytes, its header says %d: not a version-0 llama2.c checkpoint"
                         % (path, size, expected))
    if size >= 1 << 31:
        raise ValueError("%s: %d bytes is beyond the 2 GiB this firmware addresses" % (path, size))
    table = llama2.layout(config, shared)
    return config, table, None, "f32"


PLACES = ("flash", "layers", "classifier", "ram")
# What load(place=...) may copy into RAM: bits of _llm.Model's parts.
_PART_EMBEDDING, _PART_LAYERS, _PART_CLASSIFIER = 1, 2, 4
# Heap left free after copying into RAM by default: the interpreter and the
# generation loop's strings need some.
_RAM_RESERVE = 256 * 1024


def _retable(table, entries, start):
    """The table with the given entries' offsets moved by -start (their tensors copied from start)."""
    from array import array
    moved = array("i", table)
    for i in entries:
        moved[4 * i] -= start
        if moved[4 * i + 1] != 0:  # quantised: the scales move too
            moved[4 * i + 3] -= start
    return moved


def _layer_copy(table, n_layers: int) -> tuple:
    """(start, end, parts, table for the copy) of the layers' tensors: the bytes from the first
    layer tensor to rms_final hold every one of them in both formats (the .llm writer's order;
    llama2.c's by tensor kind)."""
    first, last = 1, 1 + 9 * n_layers
    start = min(table[4 * i] for i in range(first, last))
    end = table[4 * last]  # rms_final, written after every layer tensor
    if not 0 <= start < end:
        raise ValueError("the layers' tensors are not one span of the file; use place='flash'")
    return start, end, _PART_LAYERS, _retable(table, range(first, last), start)


def _classifier_copy(table, config) -> tuple:
    """(start, end, parts, table for the copy) of the classifier (with the embedding when shared)."""
    n = len(table) // 4
    off, kind, gs, soff = table[4 * (n - 1):4 * n]
    rows, cols = config[VOCAB_SIZE], config[DIM]
    if kind == 0:
        start, end = off, off + rows * cols * 4
    else:
        if gs <= 0:
            raise ValueError("classifier: bad group size")
        padded = (cols + gs - 1) // gs * gs
        start, end = off, soff + rows * (padded // gs) * 2
        if soff < off:
            raise ValueError("classifier: scales before codes; use place='flash'")
    shared = all(table[i] == table[4 * (n - 1) + i] for i in range(4))
    entries = [0, n - 1] if shared else [n - 1]
    parts = _PART_CLASSIFIER | (_PART_EMBEDDING if shared else 0)
    if start < 0 or start >= end:
        raise ValueError("classifier: bad offsets; use place='flash'")
    return start, end, parts, _retable(table, entries, start)


def _choose_copy(place: str, weights, where: str, table, config, other_bytes: int):
    """The copy to make for place, or None: for "ram" (and the default on a ROMFS mount) the
    biggest of the layers and the classifier that the heap holds with room to spare.  By the
    S3 time model (docs/int4.md) octal PSRAM streams at 58-84 MB/s where quad flash gives
    about 30 MB/s: the time saved grows with the bytes moved."""
    if place == "flash":
        return None
    if place == "layers":
        return _layer_copy(table, config[N_LAYERS])
    if place == "classifier":
        return _classifier_copy(table, config)
    candidates = []
    for make in (lambda: _layer_copy(table, config[N_LAYERS]), lambda: _classifier_copy(table, config)):
        try:
            candidates.append(make())
        except ValueError:
            pass  # the model's own checks will say what is wrong
    free = _mem_free()
    if not isinstance(free, int):
        return None
    fits = [c for c in candidates if c[1] - c[0] + other_bytes + _RAM_RESERVE <= free]
    return max(fits, key=lambda c: c[1] - c[0]) if fits else None


def load(checkpoint: str, tokenizer: 'Optional[str]' = None, ctx: 'Optional[int]' = None,
         kv: str = "f32", place: 'Optional[str]' = None) -> Model:
    """Load a model: a .llm file (see docs/format.md), or a llama2.c
    version-0 checkpoint with its tokenizer.bin.

    Weights stay where the file is when the platform allows it: memory
    mapped on the unix firmware, in flash on a ROMFS mount.  ctx bounds the
    KV cache (default: the model's seq_len); kv is "f32" (exact, llama2.c
    parity) or "int8" (a quarter of the memory).  tokenizer overrides the
    one stored in a .llm file.

    place: "flash" reads every weight where the file is; "layers" copies
    the layers' tensors into the heap (PSRAM on the SPIRAM boards) and
    "classifier" the classifier (with the embedding it shares), the rest
    staying in place; "ram" ("psram") copies the bigger of the two that the
    heap holds with room to spare.  Default: "ram" when the file is read in
    place from a ROMFS mount, else "flash" (a memory-mapped host file is in
    RAM already).
    """
    if place == "psram":
        place = "ram"
    if place is not None and place not in PLACES:
        raise ValueError("place must be one of %s (or 'psram'), not %r" % (PLACES, place))
    if kv not in KV_TYPES:
        raise ValueError("kv must be one of %s, not %r" % (KV_TYPES, kv))
    # The heap's garbage goes first, so that the small objects the file's
    # layout makes land low and leave one big hole for the KV cache.
    gc.collect()
    config, table, tok_layout, weights_type = _read_layout(checkpoint)
    seq_len = config[SEQ_LEN]
    if ctx is None:
        ctx = seq_len
    if ctx <= 0 or ctx > seq_len:
        raise ValueError("ctx must be between 1 and the model's seq_len %d" % seq_len)
    if tokenizer is None and tok_layout is None:
        raise ValueError("%s is a llama2.c checkpoint: give its tokenizer.bin too" % checkpoint)

    kv_type = TYPE_NAMES.index(kv)
    activation_bytes, kv_bytes = _llm.memory(config, ctx, kv_type)
    parts = {"weights_bytes": file_size(checkpoint), "weights_where": "?", "weights_type": weights_type,
             "kv_bytes": kv_bytes, "activation_bytes": activation_bytes,
             "tokenizer_bytes": file_size(tokenizer) if tokenizer else tok_layout[1],
             "tokenizer_where": "?", "tokenizer_index_bytes": 8 * config[VOCAB_SIZE] if tokenizer else 0}
    weights = tok_data = tok = core = None
    try:
        weights, parts["weights_where"] = open_buffer(checkpoint)
        # What reading the file left behind goes now, and the model's big
        # blocks come before the tokenizer's small ones.
        gc.collect()
        if place is None:
            in_flash = parts["weights_where"] == "mapped" and not isinstance(weights, getattr(_llm, "MappedFile", ()))
            place = "ram" if in_flash else "flash"
        copy = _choose_copy(place, weights, parts["weights_where"], table, config, kv_bytes + activation_bytes)
        parts["ram_copy"] = "none"
        parts["ram_copy_bytes"] = 0
        if copy is not None:
            start, end, which, moved = copy
            ram = bytes(memoryview(weights)[start:end])
            parts["ram_copy"] = "layers" if which == _PART_LAYERS else "classifier"
            parts["ram_copy_bytes"] = len(ram)
            core = _llm.Model(weights, moved, config, ctx, kv_type, ram, which)
        else:
            core = _llm.Model(weights, table, config, ctx, kv_type)
        if tokenizer:
            tok_data, parts["tokenizer_where"] = open_buffer(tokenizer)
            tok = _llm.Tokenizer(tok_data, config[VOCAB_SIZE])
        else:
            parts["tokenizer_where"] = parts["weights_where"]
            tok = _llm.Tokenizer(weights, config[VOCAB_SIZE], tok_layout[0], tok_layout[1], tok_layout[2])
    except MemoryError:
        weights = tok_data = tok = core = None
        raise MemoryError(_need_message(checkpoint, config, parts, _mem_free(), kv, ctx))
    _loaded[0] += 1
    assert core is not None and tok is not None
    return Model(core, tok, config, ctx, kv, parts)


def context_full_message(model: Model) -> str:
    """What the command line and the REPL say when generation stopped at the
    end of the context (model.stop_reason == "ctx")."""
    return "[llm: the %d-token context is full; generation stopped]" % model.ctx


def print_info(model: Model) -> None:
    """Print model.info(), the dict, as a table."""
    d = model.info()
    for key in CONFIG_NAMES + ("ctx", "kv"):
        print("%-22s %s" % (key, d[key]))
    for part in ("weights", "tokenizer"):
        print("%-22s %d bytes (%s)" % (part, d[part + "_bytes"], d[part + "_where"]))
    for label, part in (("tokenizer index", "tokenizer_index"), ("kv cache", "kv"), ("activations", "activation")):
        print("%-22s %d bytes (heap)" % (label, d[part + "_bytes"]))
    print("%-22s %s" % ("heap free", d["heap_free"]))
