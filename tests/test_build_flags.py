"""One source list and one flag set for the _llm module: usermod/llm/sources.txt.

Every build reads it: micropython.mk (unix, qemu, s3sim), micropython.cmake
(esp32), the natmod Makefile and the S3 kernel harness.  These tests need no
cross compiler; tests/test_firmware_idf.py compares the flags of the real
ESP-IDF build with the emulated S3 build's.
"""

import re
import subprocess
from pathlib import Path

from repo import REPO

ROOT = Path(REPO)
LLM = ROOT / "usermod" / "llm"
SOURCES = LLM / "sources.txt"
BUILD_FILES = [LLM / "micropython.mk", LLM / "micropython.cmake", ROOT / "usermod" / "natmod" / "Makefile",
               ROOT / "tests" / "s3kernels" / "s3kernels.mk"]


def entries():
    out = {}
    for line in SOURCES.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, words = line.partition(":")
        assert sep, f"sources.txt: bad line {line!r}"
        assert key not in out, f"sources.txt: {key} twice"
        out[key] = words.split()
    return out


SOURCE_KEYS = ("bindings", "kernels", "kernels_freertos", "kernels_esp32s3", "asm_esp32s3")


def test_every_module_source_is_listed_once():
    e = entries()
    listed = [f for k in SOURCE_KEYS for f in e.get(k, [])]
    assert len(listed) == len(set(listed)), "a source in two lists"
    on_disk = sorted(p.name for p in LLM.iterdir() if p.suffix in (".c", ".S"))
    assert sorted(listed) == on_disk
    for name in e:
        if name.startswith("file_cflags "):
            assert name.split()[1] in listed, name


def test_no_second_list_in_the_build_files():
    """The build files name no module source: they read sources.txt."""
    names = [f for k in SOURCE_KEYS for f in entries().get(k, [])]
    for path in BUILD_FILES:
        text = path.read_text()
        assert "sources.txt" in text, path
        code = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
        named = [n for n in names if re.search(r"(?<![\w.])" + re.escape(n) + r"\b", code)]
        # Not lists: micropython.mk names espnn_dot_s8.o for its include path;
        # the S3 harness compiles kernels.c once more as its portable reference.
        allowed = {"micropython.mk": {"espnn_dot_s8.S"}, "s3kernels.mk": {"kernels.c"}}
        named = [n for n in named if n not in allowed.get(path.name, set())]
        assert named == [], f"{path.relative_to(ROOT)} names {named}"


def test_make_reads_the_list():
    """micropython.mk's sed reads what Python reads (the same helper every make build uses)."""
    e = entries()
    for key in ("bindings", "kernels", "cflags", "cflags_xtensa", "file_cflags attention_q8.c"):
        if key not in e:
            continue
        out = subprocess.run(["sed", "-n", f"s/^{key}:[ \\t]*//p", str(SOURCES)],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out == e[key], key


def test_one_optimisation_level():
    """One level for the module on every target, from cflags: the host, the emulators, the
    natmods and the ESP-IDF firmware (test_firmware_idf checks its compile commands)."""
    e = entries()
    assert [w for w in e["cflags"] if w.startswith("-O")] == ["-O3"] and "-ffp-contract=off" in e["cflags"]
    for key, words in e.items():
        if key != "cflags":
            assert not [w for w in words if w.startswith("-O")], key
    # Nowhere else sets the module's level.
    for path in BUILD_FILES:
        code = "\n".join(ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#"))
        assert not re.search(r"llm/[%\w]*\.o: CFLAGS \+= -O", code), path
        assert "-O3" not in code, path
