"""`python3 -m host convert` and `python3 -m host romfs` leave nothing behind
when they cannot write: the output is checked before any byte is written, and
OUT.part goes on every failure."""
import os
import subprocess
import sys

import pytest

from host import romfs
from repo import REPO


def host(*args):
    return subprocess.run([sys.executable, "-m", "host"] + [str(a) for a in args], cwd=REPO,
                          capture_output=True, text=True)


def test_convert_onto_a_directory(tmp_path, models_dir):
    out = tmp_path / "model.llm"
    out.mkdir()
    r = host("convert", os.path.join(models_dir, "stories260K.bin"), os.path.join(models_dir, "tok512.bin"), out)
    assert r.returncode == 1
    assert r.stderr.endswith("error: %s is a directory: give the path of the file to write\n" % out), r.stderr
    assert sorted(os.listdir(tmp_path)) == ["model.llm"] and os.listdir(out) == []


def test_romfs_onto_a_directory(tmp_path, models_dir):
    out = tmp_path / "image.romfs"
    out.mkdir()
    r = host("romfs", out, os.path.join(models_dir, "tok512.bin"))
    assert r.returncode == 1
    assert r.stderr.endswith("error: %s is a directory: give the path of the image to write\n" % out), r.stderr
    assert sorted(os.listdir(tmp_path)) == ["image.romfs"] and os.listdir(out) == []


def test_romfs_interrupted_while_writing(tmp_path, models_dir):
    out = str(tmp_path / "image.romfs")

    def stop(done, total):
        assert os.path.exists(out + ".part")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        romfs.write_image(out, [os.path.join(models_dir, "tok512.bin")], stop)
    assert os.listdir(tmp_path) == []
