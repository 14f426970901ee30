from .files import open_buffer as open_buffer
from .model import load as load
from _typeshed import Incomplete

CHUNK: int
INTERNAL_RAM: Incomplete

def stream(buf, nbytes=None, chunk=...):
    '''{"bytes", "seconds", "mb_s"} of reading the first nbytes of buf once
    (whole chunks), as a memcpy into a chunk-sized buffer.'''
def bench(path, tokenizer=None, steps: int = 256, skip: int = 64, kv: str = 'f32', ctx=None, prompt: str = 'Once upon a time'):
    '''Time a model on this board, and the reads it depends on.

    - flash: the model file read in place (a ROMFS mount; None when the file
      is read into the heap instead);
    - heap: a buffer the size of the model\'s weights (or what the heap has
      room for) in the MicroPython heap, which is in PSRAM on a board with
      PSRAM ("psram" says whether it is: a heap over 512 KB);
    - tokens: greedy generation from prompt for steps positions, timed with
      time.ticks_us from position skip on (as make bench-s3 counts them).

    Returns a dict; python3 -m host bench-board prints it as a table.
    '''
