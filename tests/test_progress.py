"""Progress of the long host steps (convert, romfs, deploy): a bar redrawn on a
terminal, whole lines (no carriage returns) anywhere else."""
import io
import os
import pty
import re
import select
import subprocess
import sys
import termios

import pytest

from host import deploy, llama2, progress
from repo import REPO

LINE = re.compile(r"^(?P<label>.+): (?P<pct>\d+)% \((?P<done>\d+)/(?P<total>\d+)(?: (?P<unit>\w+))?\)$")
BAR = re.compile(r"^(?P<label>.+) \[(?P<bar>[#.]{30})\] +(?P<pct>\d+)% (?P<done>\d+)/(?P<total>\d+)(?: \w+)?$")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def log_lines(text):
    """The progress lines of text written off a terminal, checked to be whole
    lines without carriage returns."""
    assert "\r" not in text
    assert text == "" or text.endswith("\n")
    return text.splitlines()


def check_log_bar(lines, label, total, unit=None):
    """Lines of one bar: a few, each a whole line, rising, the last at 100%."""
    got = [LINE.match(line) for line in lines]
    assert all(got), lines
    assert {m.group("label") for m in got} == {label}
    assert all(int(m.group("total")) == total and m.group("unit") == unit for m in got), lines
    pcts = [int(m.group("pct")) for m in got]
    assert pcts == sorted(pcts) and pcts[-1] == 100 and int(got[-1].group("done")) == total
    assert len(lines) <= 5  # the first update, then once per quarter


def check_terminal_bar(text, label, total):
    """One line redrawn with carriage returns, ended by one newline, full at the end."""
    assert text.count("\n") == 1 and text.endswith("\n"), repr(text)
    frames = text[:-1].split("\r")
    assert frames[0] == "" and len(frames) > 2, repr(text)
    for frame in frames[1:]:
        assert BAR.match(frame.rstrip(" ")), repr(frame)
    last = BAR.match(frames[-1])
    assert last.group("label") == label and last.group("bar") == "#" * 30
    assert (last.group("pct"), last.group("done"), last.group("total")) == ("100", str(total), str(total))


# ---------------------------------------------------------------------------------------------
# the Bar itself

def test_off_a_terminal_a_line_per_quarter():
    out = io.StringIO()
    bar = progress.Bar("writing", 1000, unit="bytes", stream=out)
    for done in range(0, 1001, 10):
        bar.update(done)
    lines = log_lines(out.getvalue())
    assert lines == ["writing: 0% (0/1000 bytes)", "writing: 25% (250/1000 bytes)", "writing: 50% (500/1000 bytes)",
                     "writing: 75% (750/1000 bytes)", "writing: 100% (1000/1000 bytes)"]
    bar.update(1000)
    bar.close()
    assert out.getvalue().count("\n") == 5  # nothing more once finished


def test_on_a_terminal_one_redrawn_line():
    out = Terminal()
    bar = progress.Bar("converting", 7, stream=out)
    assert bar.tty
    for done in range(1, 8):
        bar.update(done)
        if done < 7:
            assert "\n" not in out.getvalue()
    check_terminal_bar(out.getvalue(), "converting", 7)
    frames = out.getvalue()[:-1].split("\r")[1:]
    assert frames[3] == "converting [%s%s]  57%% 4/7" % ("#" * 17, "." * 13)


def test_unchanged_progress_is_not_redrawn():
    out = Terminal()
    bar = progress.Bar("x", 100, stream=out)
    bar.update(5)
    bar.update(5)
    assert out.getvalue().count("\r") == 1


def test_a_bar_stopped_short_ends_its_line():
    out = Terminal()
    with pytest.raises(ValueError):
        with progress.Bar("copying", 10, stream=out) as bar:
            bar.update(3)
            raise ValueError("the board went away")
    assert out.getvalue().endswith("3/10\n") and out.getvalue().count("\n") == 1
    # Off a terminal the lines are already whole: close adds nothing.
    log = io.StringIO()
    with progress.Bar("copying", 10, stream=log) as bar:
        bar.update(3)
    assert log.getvalue() == "copying: 30% (3/10)\n"
    # A bar never drawn leaves no trace.
    quiet = Terminal()
    progress.Bar("copying", 10, stream=quiet).close()
    assert quiet.getvalue() == ""


def test_out_of_range_counts_are_clamped_and_total_can_come_with_update():
    out = io.StringIO()
    bar = progress.Bar("x", stream=out)
    bar.update(-4, 8)
    bar.update(99)
    assert log_lines(out.getvalue()) == ["x: 0% (0/8)", "x: 100% (8/8)"]
    empty = Terminal()
    progress.Bar("nothing", 0, stream=empty).update(0)
    assert empty.getvalue() == "\rnothing [%s] 100%% 0/0\n" % ("#" * 30)


# ---------------------------------------------------------------------------------------------
# the commands

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    d = tmp_path_factory.mktemp("progress")
    llama2.random_checkpoint(str(d / "r.bin"), 32, 64, 4, 4, 2, 300, 64)
    pieces, scores = llama2.random_tokenizer(300)
    llama2.write_tokenizer(str(d / "t.bin"), pieces, scores)
    return str(d / "r.bin"), str(d / "t.bin")


def big_file(tmp_path):
    """A file of a few MiB, so that romfs reports more than once."""
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(5 << 19))
    return str(path)


def host_command(args, stderr):
    return subprocess.run([sys.executable, "-m", "host"] + args, cwd=REPO, stdout=subprocess.PIPE,
                          stderr=stderr, timeout=120)


def on_terminal(args):
    """Run a host command with stderr on a terminal; returns (stdout, what the terminal got)."""
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # the bytes as written, no \r added to \n
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen([sys.executable, "-m", "host"] + args, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=slave)
    os.close(slave)
    got = b""
    while True:
        if not select.select([master], [], [], 120)[0]:
            proc.kill()
            raise AssertionError("no output for 120 s: %r" % got)
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the process closed its side
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, got
    return out.decode(), got.decode()


def test_convert_and_romfs_write_clean_lines_to_a_log(checkpoint, tmp_path):
    ckpt, tok = checkpoint
    llm = str(tmp_path / "r.llm")
    r = host_command(["convert", ckpt, tok, llm, "--int8"], subprocess.PIPE)
    assert r.returncode == 0, r.stderr
    check_log_bar(log_lines(r.stderr.decode()), "converting", 6)  # embedding, 4 layers, classifier
    img = str(tmp_path / "r.romfs")
    r = host_command(["romfs", img, llm, big_file(tmp_path)], subprocess.PIPE)
    assert r.returncode == 0, r.stderr
    check_log_bar(log_lines(r.stderr.decode()), "writing r.romfs", os.path.getsize(img), unit="bytes")


def test_convert_and_romfs_draw_a_bar_on_a_terminal(checkpoint, tmp_path):
    ckpt, tok = checkpoint
    llm = str(tmp_path / "r.llm")
    out, term = on_terminal(["convert", ckpt, tok, llm])
    assert out.startswith("wrote ")
    check_terminal_bar(term, "converting", 6)
    img = str(tmp_path / "r.romfs")
    out, term = on_terminal(["romfs", img, llm, big_file(tmp_path)])
    assert out.startswith("wrote ")
    check_terminal_bar(term, "writing r.romfs", os.path.getsize(img))


def test_a_long_label_is_shortened_to_fit_the_terminal():
    # A line wider than the terminal wraps, and \r then redraws only its last part.
    master, slave = pty.openpty()
    try:
        with open(slave, "w", closefd=False) as stream:
            termios.tcsetwinsize(slave, (24, 80))
            bar = progress.Bar("writing " + "x" * 80 + ".romfs", 1000, unit="bytes", stream=stream)
            bar.update(500)
            bar.update(1000)
        # The terminal hands the bytes over in pieces: read up to the bar's
        # closing newline.
        got = b""
        while not got.endswith(b"\n"):
            assert select.select([master], [], [], 60)[0], "no closing newline within 60 s: %r" % got
            got += os.read(master, 4096)
        got = got.decode().replace("\r\n", "\n")
    finally:
        os.close(master)
        os.close(slave)
    frames = got[:-1].split("\r")[1:]
    assert len(frames) == 2 and all(len(f) == 79 for f in frames), frames
    assert frames[-1].startswith("...") and frames[-1].endswith("x.romfs [%s] 100%% 1000/1000 bytes" % ("#" * 30))


def test_a_failing_command_starts_its_error_on_a_new_line(checkpoint, tmp_path):
    # The checkpoint is fine but the output cannot be written: the error comes after the bar.
    ckpt, tok = checkpoint
    r = host_command(["convert", ckpt, tok, str(tmp_path / "no" / "such" / "dir.llm")], subprocess.PIPE)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "\r" not in err and err.splitlines()[-1].startswith("error: ")


class FakeTransport:
    def fs_writefile(self, dest, data, chunk_size=256, progress_callback=None):
        for done in range(chunk_size, len(data) + chunk_size, chunk_size):
            progress_callback(min(done, len(data)), len(data))


class FakeBoard:
    """Answers what deploy asks a board with a ROMFS partition (the
    vfs.rom_ioctl interface, no block device object)."""
    deflate = False

    def __init__(self, partition):
        self.partition = partition
        self.t = FakeTransport()
        self.written = []

    def exec(self, code):
        if code.startswith("vfs.rom_ioctl(4,0,"):
            self.written.append(int(code.split(",")[2]))
        if "deflate" in code:
            raise Exception("no deflate module")

    def eval(self, expr):
        answers = {"hasattr(vfs,'rom_ioctl')": True, "isinstance(dev,int) and dev<0": False,
                   "hasattr(dev,'ioctl')": False, "len(dev)": self.partition, "vfs.rom_ioctl(5,0)": 0}
        if expr.startswith("vfs.rom_ioctl(3,0,"):
            return 4096
        return answers[expr]

    def soft_reset(self):
        pass


@pytest.mark.parametrize("terminal", [False, True])
def test_deploy_progress(tmp_path, monkeypatch, terminal):
    model = tmp_path / "m.llm"
    model.write_bytes(os.urandom(40000))
    err = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    board = FakeBoard(1 << 20)
    assert deploy.deploy_romfs(board, [str(model)]) == ["/rom/m.llm"]
    assert len(board.written) == 10 and board.written[-1] == 0  # the header chunk last
    size = len(deploy.romfs.build([("m.llm", model.read_bytes())]))
    text = err.getvalue()
    assert text.startswith("erasing the ROMFS partition (1048576 bytes)\n")
    text = text[text.index("\n") + 1:]
    if terminal:
        check_terminal_bar(text, "writing ROMFS", size)
    else:
        check_log_bar(log_lines(text), "writing ROMFS", size, unit="bytes")
    err.seek(0)
    err.truncate()
    assert deploy.deploy_fs(board, [str(model)]) == [("/m.llm", str(model))]
    if terminal:
        check_terminal_bar(err.getvalue(), "copying /m.llm", 40000)
    else:
        check_log_bar(log_lines(err.getvalue()), "copying /m.llm", 40000, unit="bytes")
