# An interactive loop: type a prompt, watch the story stream out.
import sys

from .fileformat import SEQ_LEN
from .model import _ticks_diff, _ticks_ms, context_full_message, sampling

MYPY = False
if MYPY:  # type checkers only
    from typing import Any, Iterator, Optional

    from .model import Model

HELP = """commands:
  /temp X     temperature, X >= 0 (0: always the likeliest token; below 0 is 0)
  /topp X     top-p, 0 <= X <= 1 (outside that: 0.9, as llama2.c does)
  /steps N    positions a story (prompt included) or a continuation runs for
              (0: to the end of the context)
  /seed N     seed of each new story (0: from the clock)
  /continue   go on with the last story for steps more positions (also /c)
  /help       this list
  /quit       leave (as an empty line or Ctrl-D does)
Ctrl-C stops a story; /continue then goes on from where it stopped.
Ctrl-C at the prompt clears the line."""


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
        # Where the screen is: the position of the last token written, and
        # the text of a token the model holds as its resume point but that a
        # Ctrl-C kept from the screen (/continue shows it first).
        self.shown = 0
        self.unshown = b""

    def settings(self) -> str:
        return "temperature %s, top-p %s, steps %d, seed %s" % (
            self.temperature, self.top_p, self.steps, "clock" if not self.seed else self.seed)

    def run(self, pairs: 'Iterator[tuple[int, int]]', first: int) -> None:
        model = self.model
        decode = model.tokenizer.decode
        out = self.out
        stopped = False
        self.shown = first
        start = _ticks_ms()
        try:
            for prev, token in pairs:
                piece = decode(prev, token)
                # Counted as shown before the write: a Ctrl-C that arrives
                # while the process is in the kernel is raised when the write
                # returns, after the bytes went out, so the count must not
                # wait for the write (/continue showed such a token twice).
                self.shown += 1
                _write_piece(out, piece)
        except KeyboardInterrupt:
            stopped = True
        n = self.shown - first
        if stopped:
            # The unix firmware raises KeyboardInterrupt at any instruction:
            # the model's resume point (one store) says what it holds, and
            # the screen catches up with it on /continue.
            held = model._next
            if held is not None and held[1] > self.shown:
                self.unshown = decode(held[2], held[0])
                n = held[1] - first
        elapsed = _ticks_diff(_ticks_ms(), start)
        out.write(b"\n[stopped]\n" if stopped else b"\n")
        if not stopped and model.stop_reason == "ctx":
            sys.stderr.write(context_full_message(model) + "\n")
        if elapsed > 0:
            print("[%d tokens, %.1f tok/s]" % (n, n * 1000 / elapsed))
        else:
            print("[%d tokens in under 1 ms]" % n)

    def story(self, prompt: str) -> None:
        self.unshown = b""
        self.started = True
        self.run(self.model.tokens(prompt, self.steps, self.temperature, self.top_p, self.seed), 0)

    def resume(self) -> None:
        try:
            if not self.started:
                raise ValueError("there is no story to continue")
            pairs = self.model.resume_tokens(self.steps, self.temperature, self.top_p)
        except ValueError as e:
            print("/continue: %s; type a prompt" % e)
            return
        held = self.model._next
        first = held[1] if held is not None else 0
        if self.unshown:
            _write_piece(self.out, self.unshown)
            self.unshown = b""
        self.run(pairs, first)

    def setting(self, name: str, arg: str) -> None:
        # The API's rule (model.sampling) decides what a value means.
        key, kind, parser = _SETTINGS[name]
        value = globals()[parser](arg)
        old = getattr(self, key)
        if value is None:
            print("%s takes %s, not %r: %s unchanged (%s)" % (name, kind, arg, key, old))
            return
        values = [self.steps, self.temperature, self.top_p, self.seed]  # type: list[Any]
        index = ("steps", "temperature", "top_p", "seed").index(key)
        values[index] = value
        try:
            new = sampling(*values)[index]
        except ValueError as e:
            print("%s takes %s, not %r: %s; %s unchanged (%s)" % (name, kind, arg, e, key, old))
            return
        if key == "steps" and (new == 0 or new > self.model.config[SEQ_LEN]):
            new = self.model.config[SEQ_LEN]
        setattr(self, key, new)
        shown = "clock" if key == "seed" and not new else new
        label = {"top_p": "top-p"}.get(key, key)
        print("%s %s" % (label, shown) if new == value else "%s %s (from %s)" % (label, shown, arg))

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
        elif name in _SETTINGS:
            self.setting(name, arg)
        else:
            print("unknown command %s; /help lists the commands" % name)
        return True


# /command: (attribute, what it takes, parser)
_SETTINGS = {"/temp": ("temperature", "a number", "_parse_float"), "/topp": ("top_p", "a number", "_parse_float"),
             "/steps": ("steps", "a whole number", "_parse_int"), "/seed": ("seed", "a whole number", "_parse_int")}


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
    # The settings are checked before the first prompt, by the API's rule.
    given = (steps, temperature, top_p, seed)
    normal = sampling(*given)
    kept = [g if g == n else n for g, n in zip(given, normal)]  # type: list[Any]
    steps, temperature, top_p, seed = kept
    if steps == 0 or steps > model.config[SEQ_LEN]:
        steps = model.config[SEQ_LEN]
    session = _Session(model, steps, temperature, top_p, seed)
    print("llm: type a prompt and press Enter; /help lists the commands; Ctrl-C stops a story;"
          " an empty line quits.")
    while True:
        # A Ctrl-C anywhere in a turn (at the prompt, just after a story,
        # during a command) ends that turn only: the loop goes on.
        try:
            if not _turn(session):
                return
        except KeyboardInterrupt:
            session.out.write(b"\n")


def _typeahead() -> 'Any':
    # The unix port's input() switches the terminal to raw mode with
    # TCSAFLUSH, which throws away what was typed while the model loaded or
    # a story ran.  A whole line already waiting is read before that.  Only
    # there: a board's UART keeps what is typed, and its stdin has no lines.
    if sys.platform not in ("linux", "darwin"):
        return None
    try:
        import select
        poller = select.poll()
        poller.register(sys.stdin, select.POLLIN)
        return poller
    except (ImportError, AttributeError, OSError):
        return None


_POLLER = [False]  # type: list[Any]  # [poller or None], made at the first prompt


def _read_line(out: 'Any') -> str:
    if _POLLER[0] is False:
        _POLLER[0] = _typeahead()
    poller = _POLLER[0]
    if poller is not None and poller.poll(0):
        line = sys.stdin.readline()
        out.write(b"> ")
        if not line:
            raise EOFError
        line = line[:-1] if line.endswith("\n") else line
        out.write(line.encode() + b"\r\n")  # as input() echoes it
        return line
    return input("> ")


def _turn(session: '_Session') -> bool:
    """Read and do one line; False means leave."""
    try:
        line = _read_line(session.out)
    except EOFError:
        print()
        return False
    if not line:
        return False
    if line.startswith("/"):
        return session.command(line)
    session.story(line)
    return True
