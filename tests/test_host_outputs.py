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


def test_models_without_internet_says_what_to_do(tmp_path):
    # A proxy on a closed port: every download fails at once, as offline.
    env = dict(os.environ, https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", no_proxy="")
    r = subprocess.run([sys.executable, "-m", "host", "models", str(tmp_path / "m")], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("error: cannot download https://"), r.stderr
    assert ("Without internet, copy stories260K.bin and tok512.bin into %s yourself, or give --shared DIR"
            % (tmp_path / "m")) in r.stderr, r.stderr
    assert os.listdir(tmp_path / "m") == []
