import os
import sys

import pytest

from repo import REPO

if REPO not in sys.path:
    sys.path.insert(0, REPO)  # so that `import host.llama2` works

# $LLM_FIRMWARE names the host firmware every test runs (mpy.run, host.firmware); the
# tests run it from other directories too, so a relative path is made absolute here.
if os.environ.get("LLM_FIRMWARE"):
    os.environ["LLM_FIRMWARE"] = os.path.abspath(os.environ["LLM_FIRMWARE"])


# Test files whose every test needs more than the host firmware; see pytest.ini.
FILE_MARKERS = {
    "test_asan.py": "asan",
    "test_device.py": "device",
    "test_emulator_smoke.py": "device",
    "test_natmod.py": "cross",
    "test_xtensa.py": "cross",
}


def pytest_collection_modifyitems(items):
    for item in items:
        marker = FILE_MARKERS.get(os.path.basename(str(item.fspath)))
        if marker:
            item.add_marker(marker)


@pytest.fixture(scope="session")
def shared_dir():
    """The shared data directory: $LLM_SHARED_DIR, default <repo>/../shared."""
    path = os.environ.get("LLM_SHARED_DIR") or os.path.join(REPO, os.pardir, "shared")
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        if os.environ.get("CI"):
            pytest.fail("shared dir %s not found: CI must run the golden tests" % path)
        pytest.skip("shared dir %s not found (set LLM_SHARED_DIR)" % path)
    return path


@pytest.fixture(scope="session")
def models_dir(shared_dir):
    return os.path.join(shared_dir, "models")


@pytest.fixture(scope="session")
def golden_dir(shared_dir):
    return os.path.join(shared_dir, "golden")


@pytest.fixture(scope="session")
def firmware():
    """Path of the host firmware ($LLM_FIRMWARE or build/micropython); fails if missing."""
    import mpy
    return mpy.firmware()


@pytest.fixture(scope="session")
def stories260k_path(models_dir):
    return os.path.join(models_dir, "stories260K.bin")


@pytest.fixture(scope="session")
def tok512_path(models_dir):
    return os.path.join(models_dir, "tok512.bin")


@pytest.fixture(scope="session")
def tok32k_path(models_dir):
    return os.path.join(models_dir, "tokenizer.bin")


@pytest.fixture(scope="session")
def int8_model(tmp_path_factory, stories260k_path, tok512_path):
    """stories260K and tok512 as one int8 .llm file, s260_int8.llm (the name the device
    tests load from /rom), made once."""
    from host import convert
    path = str(tmp_path_factory.mktemp("s260-int8") / "s260_int8.llm")
    convert.convert(stories260k_path, tok512_path, path, "int8")
    return path



@pytest.fixture(scope="session")
def s260(stories260k_path, tok512_path):
    return stories260k_path, tok512_path


@pytest.fixture(scope="session")
def llm_files(tmp_path_factory, s260):
    """stories260K as an fp32 and an int8 .llm file, made once."""
    from host import convert
    d = tmp_path_factory.mktemp("llm")
    f32, i8 = str(d / "s260_f32.llm"), str(d / "s260_int8.llm")
    convert.convert(s260[0], s260[1], f32, "f32")
    convert.convert(s260[0], s260[1], i8, "int8")
    return f32, i8

@pytest.fixture(scope="module")
def libm_reference():
    """host.reference, whose sinf/cosf call the C library as llama2.c does."""
    from host import reference
    return reference
