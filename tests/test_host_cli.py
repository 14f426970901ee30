"""python3 -m host: one command line for the host tools."""
import os
import subprocess
import sys

import pytest
from repo import REPO

COMMANDS = ("convert", "romfs", "deploy", "run", "info", "models", "bench")


def host(*args):
    return subprocess.run([sys.executable, "-m", "host"] + list(args), cwd=REPO, capture_output=True, text=True)


def test_usage_lists_every_command():
    r = host()
    assert r.returncode == 1
    for c in COMMANDS:
        assert c in r.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    r = host(command, "--help")
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout.lower()


def test_unknown_command_fails():
    r = host("frobnicate")
    assert r.returncode == 1 and "unknown command" in r.stderr


def test_convert_info_run(tmp_path, models_dir):
    out = str(tmp_path / "m.llm")
    r = host("convert", os.path.join(models_dir, "stories260K.bin"), os.path.join(models_dir, "tok512.bin"),
             out, "--int8")
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and "converting" in r.stderr  # progress on stderr
    r = host("info", out, "-k", "int8", "-c", "64")
    assert r.returncode == 0, r.stderr
    assert "weights_type           int8" in r.stdout and "ctx                    64" in r.stdout
    r = host("run", out, "-t", "0", "-n", "12", "-i", "Once upon a time")
    assert r.returncode == 0 and r.stdout.startswith("Once upon a time")


@pytest.mark.parametrize("args,words", [
    (("convert", "/nonexistent.bin", "/nonexistent.tok", "/tmp/x.llm"), "No such file"),
    (("info", "/nonexistent.llm"), "cannot open /nonexistent.llm"),
    (("romfs", "/tmp/x.romfs", "/nonexistent.llm"), "No such file"),
    (("deploy", "/dev/null-port", "/nonexistent.llm"), "no such file"),
    (("run",), None),
])
def test_failures_exit_nonzero_with_a_message(args, words):
    r = host(*args)
    if words is None:  # run with no arguments prints its usage
        assert r.returncode == 0 and "usage" in r.stdout
        return
    assert r.returncode != 0
    assert words in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
