"""Progress of a long host step (convert, romfs, deploy), written to stderr.

On a terminal: one bar, redrawn in place, ended with a newline when the step
is done.  Anywhere else (a log, a pipe, CI): whole lines only, never a
carriage return: one at the first update, then one per quarter reached.

    bar = Bar("writing ROMFS", len(image), unit="bytes")
    for ...:
        bar.update(done)      # update(total) ends the bar
    bar.close()               # ends a bar that stopped short (an error)

Bar.update(done, total) also fits the progress=callback(done, total)
arguments of host.convert and host.romfs.
"""
import os
import sys

WIDTH = 30


def is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def columns(stream, default=80):
    try:
        return os.get_terminal_size(stream.fileno()).columns or default
    except (AttributeError, OSError, ValueError):
        return default


class Bar:
    def __init__(self, label, total=0, unit="", stream=None, tty=None):
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self.tty = is_terminal(self.stream) if tty is None else tty
        self.finished = False
        self._drawn = ""  # terminal: the line now on screen
        self._quarter = None  # elsewhere: the last quarter written

    def _count(self, done):
        text = "%d/%d" % (done, self.total)
        return text + " " + self.unit if self.unit else text

    def update(self, done, total=None):
        if self.finished:
            return
        if total is not None:
            self.total = total
        total = max(self.total, 0)
        done = min(max(done, 0), total)
        percent = 100 * done // total if total else 100
        end = done >= total
        if self.tty:
            filled = WIDTH * percent // 100
            rest = " [%s%s] %3d%% %s" % ("#" * filled, "." * (WIDTH - filled), percent, self._count(done))
            # A line that wraps cannot be redrawn with \r: shorten the label to fit.
            room = columns(self.stream) - 1 - len(rest)
            label = self.label if len(self.label) <= room else "..." + self.label[len(self.label) - room + 3:]
            line = (label if room > 3 else "") + rest
            if line != self._drawn:
                # Padding clears what is left of a longer line drawn before.
                self.stream.write("\r" + line + " " * max(len(self._drawn) - len(line), 0))
                self._drawn = line
            if end:
                self.stream.write("\n")
        else:
            quarter = percent // 25
            if quarter != self._quarter:
                self._quarter = quarter
                self.stream.write("%s: %d%% (%s)\n" % (self.label, percent, self._count(done)))
        self.stream.flush()
        self.finished = end

    def close(self):
        """End a bar that did not reach its total, so that what follows (an
        error message) starts on a line of its own."""
        if self.tty and self._drawn and not self.finished:
            self.stream.write("\n")
            self.stream.flush()
        self.finished = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
