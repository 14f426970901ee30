# An interactive loop: type a prompt, watch the story stream out.
import sys

from .fileformat import SEQ_LEN
from .model import _ticks_diff, _ticks_ms, context_full_message

MYPY = False
if MYPY:  # type checkers only
    from typing import Any, Iterator, Optional

    from .model import Model

HELP = """commands:
  /temp X     temperature, X >= 0 (0: always the likeliest token)
  /topp X     top-p, 0 <= X <= 1
  /steps N    positions a story (prompt included) or a continuation runs for
  /seed N     seed of each new story (0: from the clock)
  /continue   go on with the last story for steps more positions (also /c)
  /help       this list
  /quit       leave (as an empty line or Ctrl-D does)
Ctrl-C stops a story; /continue then goes on from where it stopped."""


def _write_piece(out: 'Any', piece: bytes) -> None:
    # A lone control byte could drive the terminal: skip it, as llama2.c's
    # safe_printf does.  Bytes >= 0x80 are kept: consecutive ones make up
    # UTF-8 characters on the terminal.
    if len(piece) == 1 and (piece[0] < 0x20 and not 0x09 <= piece[0] <= 0x0D or piece[0] == 0x7F):
        return
    out.write(piece)


class _Session:
    def __init__(self, model: 'Model', steps: int, temperature: float, top_p: float,
                 seed: 'Optional[int]') -> None:
        self.model = model  # type: Model
        self.steps = steps  # type: int
        self.temperature = temperature  # type: float
        self.top_p = top_p  # type: float
        self.seed = seed  # type: Optional[int]
        # Bytes are written as they come, so that UTF-8 characters split
        # across tokens need no buffering that Ctrl-C could lose.
        self.out = getattr(sys.stdout, "buffer", sys.stdout)  # type: Any
        self.started = False
        # The text of a token the model has taken into the story but that a
        # Ctrl-C kept from the screen; /continue shows it first.
        self.unshown = b""

    def settings(self) -> str:
        return "temperature %s, top-p %s, steps %d, seed %s" % (
            self.temperature, self.top_p, self.steps, "clock" if not self.seed else self.seed)

    def run(self, pairs: 'Iterator[tuple[int, int]]') -> None:
        decode = self.model.tokenizer.decode
        out = self.out
        n = 0
        stopped = False
        start = _ticks_ms()
        try:
            for prev, token in pairs:
                n += 1
                # The model holds this token as the resume point from the
                # moment it is yielded; remember it until it is on screen.
                self.unshown = decode(prev, token)
                _write_piece(out, self.unshown)
                self.unshown = b""
        except KeyboardInterrupt:
            stopped = True
        elapsed = _ticks_diff(_ticks_ms(), start)
        out.write(b"\n[stopped]\n" if stopped else b"\n")
        if not stopped and self.model.stop_reason == "ctx":
            sys.stderr.write(context_full_message(self.model) + "\n")
        if elapsed > 0:
            print("[%d tokens, %.1f tok/s]" % (n, n * 1000 / elapsed))
        else:
            print("[%d tokens in under 1 ms]" % n)

    def story(self, prompt: str) -> None:
        self.unshown = b""
        self.started = True
        self.run(self.model.tokens(prompt, self.steps, self.temperature, self.top_p, self.seed))

    def resume(self) -> None:
        try:
            if not self.started:
                raise ValueError("there is no story to continue")
            pairs = self.model.resume_tokens(self.steps, self.temperature, self.top_p)
        except ValueError as e:
            print("/continue: %s; type a prompt" % e)
            return
        if self.unshown:
            _write_piece(self.out, self.unshown)
            self.unshown = b""
        self.run(pairs)

    def command(self, line: str) -> bool:
        """Do one /command; False means leave."""
        parts = line.split(None, 1)
        name = parts[0]
        arg = parts[1].strip() if len(parts) > 1 else ""
        if name in ("/quit", "/exit", "/q"):
            return False
        if name in ("/continue", "/c"):
            self.resume()
        elif name in ("/help", "/h", "/?"):
            print(HELP)
            print("now: " + self.settings())
        elif name == "/temp":
            t = _parse_float(arg)
            if t is None or not 0 <= t < float("inf"):
                print("/temp takes a number >= 0, not %r: temperature unchanged (%s)" % (arg, self.temperature))
            else:
                self.temperature = t
                print("temperature %s" % t)
        elif name == "/topp":
            p = _parse_float(arg)
            if p is None or not 0 <= p <= 1:
                print("/topp takes a number from 0 to 1, not %r: top-p unchanged (%s)" % (arg, self.top_p))
            else:
                self.top_p = p
                print("top-p %s" % p)
        elif name == "/steps":
            limit = self.model.config[SEQ_LEN]
            n = _parse_int(arg)
            if n is None or not 1 <= n <= limit:
                print("/steps takes a whole number from 1 to %d (the model's seq_len), not %r: steps unchanged (%d)"
                      % (limit, arg, self.steps))
            else:
                self.steps = n
                print("steps %d" % n)
        elif name == "/seed":
            s = _parse_int(arg)
            if s is None:
                print("/seed takes a whole number (0: from the clock), not %r: seed unchanged (%s)"
                      % (arg, "clock" if not self.seed else self.seed))
            else:
                self.seed = s
                print("seed %s" % ("clock" if not s else s))
        else:
            print("unknown command %s; /help lists the commands" % name)
        return True


def _parse_float(text: str) -> 'Optional[float]':
    # nan passes through: it fails every range check the callers make.
    try:
        return float(text)
    except ValueError:
        return None


def _parse_int(text: str) -> 'Optional[int]':
    try:
        return int(text)
    except ValueError:
        return None


def repl(model: 'Model', steps: int = 256, temperature: float = 1.0, top_p: float = 0.9,
         seed: 'Optional[int]' = None) -> None:
    """Prompt, generate, repeat; /help lists the commands that change the
    settings or continue the last story.  Each story ends with its tokens
    and tokens per second.  Ctrl-C stops the current story and returns to
    the prompt; an empty line, /quit or Ctrl-D leaves."""
    session = _Session(model, steps, temperature, top_p, seed)
    print("llm: type a prompt and press Enter; /help lists the commands; Ctrl-C stops a story;"
          " an empty line quits.")
    while True:
        try:
            line = input("> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if not line:
            return
        if line.startswith("/"):
            if not session.command(line):
                return
        else:
            session.story(line)
