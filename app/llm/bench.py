# Timing on the chip: tokens per second, and the read bandwidth of where the
# weights live, the two things the S3 time model (host/s3model.py) assumes.
# python3 -m host bench-board runs bench() through mpremote and puts the
# figures next to the model's estimate.
import gc
import sys
import time

from .files import open_buffer
from .model import load

# Bytes copied per step when streaming: big enough that the interpreter's
# share of the loop is small, small enough that the copy's destination stays
# in the data cache while the source streams through it.
CHUNK = 8192
# The S3's internal SRAM is 512 KB: a bigger MicroPython heap is in PSRAM.
INTERNAL_RAM = 512 * 1024


def _us():
    return time.ticks_us()


def _since(t0):
    return time.ticks_diff(time.ticks_us(), t0) / 1e6


def _copy_seconds(src, nbytes, chunk=CHUNK):
    # memcpy chunk by chunk into one small buffer: the reads go through the
    # data cache as the forward pass's do.
    dst = bytearray(chunk)
    t0 = _us()
    for off in range(0, nbytes, chunk):
        dst[:] = src[off:off + chunk]
    return _since(t0)


def stream(buf, nbytes=None, chunk=CHUNK):
    """{"bytes", "seconds", "mb_s"} of reading the first nbytes of buf once
    (whole chunks), as a memcpy into a chunk-sized buffer."""
    src = memoryview(buf)
    n = len(src) if nbytes is None else min(nbytes, len(src))
    n -= n % chunk
    if n <= 0:
        raise ValueError("need at least %d bytes to stream, got %d" % (chunk, len(src)))
    s = _copy_seconds(src, n, chunk)
    return {"bytes": n, "seconds": s, "mb_s": n / s / 1e6 if s > 0 else 0.0}


def _cached_copy(chunk=CHUNK, rounds=64):
    # The same chunk over and over: the loop's own speed once nothing misses,
    # the ceiling of what stream() can show.
    src = memoryview(bytearray(chunk))
    dst = bytearray(chunk)
    t0 = _us()
    for _ in range(rounds):
        dst[:] = src
    s = _since(t0)
    return chunk * rounds / s / 1e6 if s > 0 else 0.0


def _heap_bytes():
    gc.collect()
    return gc.mem_free() + gc.mem_alloc()


def bench(path, tokenizer=None, steps=256, skip=64, kv="f32", ctx=None, prompt="Once upon a time"):
    """Time a model on this board, and the reads it depends on.

    - flash: the model file read in place (a ROMFS mount; None when the file
      is read into the heap instead);
    - heap: a buffer the size of the model's weights (or what the heap has
      room for) in the MicroPython heap, which is in PSRAM on a board with
      PSRAM ("psram" says whether it is: a heap over 512 KB);
    - tokens: greedy generation from prompt for steps positions, timed with
      time.ticks_us from position skip on (as make bench-s3 counts them).

    Returns a dict; python3 -m host bench-board prints it as a table.
    """
    if steps < 3 or not 0 < skip < steps - 1:
        raise ValueError("want steps >= 3 and 0 < skip < steps - 1, got steps=%d skip=%d" % (steps, skip))
    out = {"platform": sys.platform, "machine": getattr(sys.implementation, "_machine", ""),
           "heap_bytes": _heap_bytes(), "chunk": CHUNK}
    buf, where = open_buffer(path)
    size = len(memoryview(buf))
    out["file_bytes"] = size
    out["file_in"] = where
    out["flash"] = stream(buf) if where == "mapped" else None
    close = getattr(buf, "close", None)
    if close is not None:
        close()
    del buf
    gc.collect()
    # A heap buffer: as big as the file when there is room, leaving half the
    # free heap for the model that follows.
    room = (gc.mem_free() // 2) // CHUNK * CHUNK
    n = min(size - size % CHUNK, room)
    if n >= CHUNK:
        heap = bytearray(n)
        out["heap"] = stream(heap)
        out["heap"]["psram"] = out["heap_bytes"] > INTERNAL_RAM
        del heap
    else:
        out["heap"] = None
    gc.collect()
    out["cached_copy_mb_s"] = _cached_copy()

    m = load(path, tokenizer, ctx=ctx, kv=kv)
    steps = min(steps, m.ctx)
    if skip >= steps - 1:
        raise ValueError("the KV cache holds %d positions: time from before position %d" % (m.ctx, steps - 1))
    n = 0
    t0 = None
    for _ in m.tokens(prompt, steps=steps, temperature=0.0):
        n += 1
        if n == skip:
            t0 = _us()
    timed = n - skip
    s = _since(t0) if t0 is not None else 0.0
    out["tokens"] = {"positions": [skip, n], "timed": timed, "seconds": s,
                     "tok_s": timed / s if timed > 0 and s > 0 else 0.0, "stop": m.stop_reason,
                     "kv": kv, "config": list(m.config)}
    try:
        import _llm
        out["threads"] = _llm.threads()
    except (ImportError, AttributeError, TypeError):
        out["threads"] = 1
    del m
    gc.collect()
    return out
