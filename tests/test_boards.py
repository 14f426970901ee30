"""Checks of the ESP32-S3 board definitions in boards/esp32 (no ESP-IDF, no hardware).

What is checked here:
- the partition tables: alignment, no overlap, fit in the flash size the
  board's sdkconfig.board sets, a `romfs` partition (data, subtype 0x8f);
- each sdkconfig.board: ESP32-S3 at 240 MHz, flash size, PSRAM mode;
- mpconfigboard.h enables ROMFS; manifest.py includes the port's manifest and
  freezes app/llm (run through MicroPython's own tools/manifestfile.py);
- MicroPython 1.25's real ports/esp32/CMakeLists.txt configured with each
  board against a stub of ESP-IDF's project.cmake: the sdkconfig defaults it
  hands to ESP-IDF name the partition CSV by an absolute path that exists;
- boards/esp32/esp32.mk: its error messages, and `make firmware` driving the
  port's real Makefile and CMakeLists.txt through a stand-in idf.py.
What is not here: the actual ESP-IDF build (tests/test_firmware_idf.py), or
anything on a board.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from repo import REPO

import pytest

ROOT = Path(REPO)
ESP32 = ROOT / "boards" / "esp32"
MICROPY_DIR = Path(os.environ.get("MICROPY_DIR", ROOT / "deps" / "micropython-1.25.0"))

MiB = 1024 * 1024
TABLE_OFFSET = 0x8000  # ESP-IDF default CONFIG_PARTITION_TABLE_OFFSET
TABLE_END = TABLE_OFFSET + 0x1000
MODEL_BYTES = 1_100_000 + 400_000  # stories260K fp32 + int8 side by side

BOARDS = {
    # name: (flash MiB, PSRAM mode or None)
    "LLM_S3": (8, None),
    "LLM_S3_SPIRAM": (4, "QUAD"),
    "LLM_S3_SPIRAM_OCT": (16, "OCT"),
    "LLM_S3_OCTAL": (32, "OCT"),
}


def parse_sdkconfig(text):
    """Options of an sdkconfig(.defaults) text; later assignments win, as in ESP-IDF."""
    opts = {}
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"#\s*(CONFIG_\w+) is not set$", line)
        if m:
            opts[m.group(1)] = "n"
            continue
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"bad sdkconfig line: {line!r}"
        opts[key.strip()] = value.strip()
    return opts


def unquote(value):
    assert value.startswith('"') and value.endswith('"'), value
    return value[1:-1]


def board_sdkconfig(board):
    return parse_sdkconfig((ESP32 / board / "sdkconfig.board").read_text())


def board_csv(board):
    name = unquote(board_sdkconfig(board)["CONFIG_PARTITION_TABLE_CUSTOM_FILENAME"])
    assert not os.path.isabs(name), "name the CSV relative to the board directory"
    return (ESP32 / board / name).resolve()


def parse_partitions(path):
    parts = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        assert len(fields) >= 5, f"{path.name}: bad line {line!r}"
        name, ptype, subtype, offset, size = fields[:5]
        parts.append(
            {
                "name": name,
                "type": ptype,
                "subtype": subtype,
                "offset": int(offset, 0),
                "size": int(size, 0),
            }
        )
    return parts


def flash_mib(opts):
    sizes = [int(m.group(1)) for k, v in opts.items()
             if (m := re.fullmatch(r"CONFIG_ESPTOOLPY_FLASHSIZE_(\d+)MB", k)) and v == "y"]
    assert len(sizes) == 1, f"exactly one flash size must be selected, got {sizes}"
    return sizes[0]


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_files_exist(board):
    for name in ("mpconfigboard.cmake", "mpconfigboard.h", "sdkconfig.board", "manifest.py"):
        assert (ESP32 / board / name).is_file(), f"{board}/{name} missing"
    cmake = (ESP32 / board / "mpconfigboard.cmake").read_text()
    assert re.search(r"^set\(IDF_TARGET esp32s3\)", cmake, re.M)
    assert "${MICROPY_BOARD_DIR}/sdkconfig.board" in cmake
    assert "include(${MICROPY_BOARD_DIR}/../common/llm_board.cmake)" in cmake


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_sdkconfig_board(board):
    flash, psram = BOARDS[board]
    opts = board_sdkconfig(board)
    assert opts.get("CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_240") == "y"
    assert opts.get("CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ") == "240"
    assert flash_mib(opts) == flash
    if psram is None:
        assert opts.get("CONFIG_SPIRAM") in ("n", "", None)
    else:
        assert opts.get("CONFIG_SPIRAM") == "y"
        other = {"QUAD": "OCT", "OCT": "QUAD"}[psram]
        assert opts.get(f"CONFIG_SPIRAM_MODE_{psram}") == "y"
        assert opts.get(f"CONFIG_SPIRAM_MODE_{other}") in ("", "n", None)
    assert opts.get("CONFIG_PARTITION_TABLE_CUSTOM") == "y"
    assert board_csv(board).is_file()


def subtype_number(subtype):
    try:
        return int(subtype, 0)
    except ValueError:
        return None  # a named subtype (nvs, phy, fat, factory, ...)


def partition_problems(parts, flash):
    """What ESP-IDF (gen_esp32part.py) and this project require of a table."""
    problems = []
    names = [p["name"] for p in parts]
    if len(set(names)) != len(names):
        problems.append("duplicate partition names")
    problems += [f"name {n!r} longer than 16" for n in names if len(n) > 16]
    end = TABLE_END
    for p in sorted(parts, key=lambda p: p["offset"]):
        if p["type"] not in ("app", "data"):
            problems.append(f"{p['name']}: type {p['type']!r}")
        align = 0x10000 if p["type"] == "app" else 0x1000
        if p["offset"] % align:
            problems.append(f"{p['name']}: offset {p['offset']:#x} not {align:#x}-aligned")
        if p["size"] <= 0 or p["size"] % 0x1000:
            problems.append(f"{p['name']}: size {p['size']:#x} not a multiple of 4 KiB")
        if p["offset"] < end:
            problems.append(f"{p['name']}: at {p['offset']:#x}, overlaps what ends at {end:#x}")
        end = max(end, p["offset"] + p["size"])
    if end > flash:
        problems.append(f"partitions end at {end:#x}, beyond the {flash // MiB} MiB flash")

    by_name = {p["name"]: p for p in parts}
    factory = by_name.get("factory")
    # MicroPython 1.25's own 4MiB-romfs table gives the firmware 0x1D0000.
    if not factory or factory["type"] != "app" or factory["size"] < 0x1D0000:
        problems.append("no factory app partition of at least 0x1D0000")
    romfs = by_name.get("romfs")
    if not romfs or romfs["type"] != "data" or subtype_number(romfs["subtype"]) != 0x8F:
        problems.append("no romfs partition (data, subtype 0x8f)")
    else:
        # Memory-mapped in whole 64 KiB MMU pages.
        if romfs["offset"] % 0x10000 or romfs["size"] % 0x10000:
            problems.append("romfs not 64 KiB-aligned")
        if romfs["size"] < MODEL_BYTES:
            problems.append("romfs too small for the stories260K models")
    vfs = by_name.get("vfs")  # MicroPython's writable filesystem (LittleFS), found by label
    if not vfs or vfs["type"] != "data" or vfs["size"] < 0x80000:
        problems.append("no vfs data partition of at least 512 KiB")
    return problems


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_partition_table(board):
    parts = parse_partitions(board_csv(board))
    assert partition_problems(parts, BOARDS[board][0] * MiB) == []


def test_partition_checker_catches_mistakes():
    good = parse_partitions(board_csv("LLM_S3"))
    assert partition_problems(good, 8 * MiB) == []
    assert any("beyond" in p for p in partition_problems(good, 4 * MiB))

    def tweak(name, **kw):
        return [dict(p, **kw) if p["name"] == name else p for p in good]

    assert any("not 0x10000-aligned" in p
               for p in partition_problems(tweak("factory", offset=0x18000), 8 * MiB))
    assert any("overlaps" in p
               for p in partition_problems(tweak("romfs", offset=0x1F0000), 8 * MiB))
    assert any("subtype 0x8f" in p
               for p in partition_problems(tweak("romfs", subtype="fat"), 8 * MiB))
    assert any("4 KiB" in p for p in partition_problems(tweak("vfs", size=0x1FF800), 8 * MiB))


def test_romfs_sizes_scale_with_flash():
    sizes = {b: {p["name"]: p for p in parse_partitions(board_csv(b))}["romfs"]["size"]
             for b in BOARDS}
    assert sizes["LLM_S3_SPIRAM"] < sizes["LLM_S3"] < sizes["LLM_S3_SPIRAM_OCT"]
    assert sizes["LLM_S3_SPIRAM_OCT"] >= 8 * MiB


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_mpconfigboard_h(board):
    text = (ESP32 / board / "mpconfigboard.h").read_text()
    assert re.search(r"^#define MICROPY_VFS_ROM\s+\(1\)", text, re.M)
    assert re.search(r'^#define MICROPY_HW_MCU_NAME\s+"ESP32S3"', text, re.M)


def record_manifest(board):
    """Run manifest.py with recording stand-ins for include() and package()."""
    calls = []
    board_dir = str(ESP32 / board)

    def resolve(path):
        return os.path.normpath(os.path.join(board_dir, path.replace("$(BOARD_DIR)", board_dir)))

    def include(path, **kw):
        calls.append(("include", path))

    def package(name, files=None, base_path=".", opt=None):
        calls.append(("package", name, resolve(base_path)))

    def other(*a, **kw):
        calls.append(("other", a))

    g = {"include": include, "package": package, "freeze": other, "module": other,
         "require": other}
    exec((ESP32 / board / "manifest.py").read_text(), g)
    return calls


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_manifest_freezes_app(board):
    calls = record_manifest(board)
    assert ("include", "$(PORT_DIR)/boards/manifest.py") in calls
    assert ("package", "llm", str(ROOT / "app")) in calls
    assert (ROOT / "app" / "llm").is_dir()


def need_micropython():
    if not (MICROPY_DIR / "ports" / "esp32" / "CMakeLists.txt").is_file():
        pytest.skip(f"MicroPython source not at {MICROPY_DIR} (make micropython-src)")


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_manifest_with_micropython_tools(board, tmp_path):
    """MicroPython's manifestfile.py freezes every .py of app/llm as llm/...

    The port's own manifest (which needs micropython-lib, absent from Debian's
    tarball) is replaced by an empty one via PORT_DIR.
    """
    need_micropython()
    sys.path.insert(0, str(MICROPY_DIR / "tools"))
    try:
        import manifestfile
    finally:
        sys.path.pop(0)
    (tmp_path / "boards").mkdir()
    (tmp_path / "boards" / "manifest.py").write_text("# stand-in for the port manifest\n")
    path_vars = {
        "MPY_DIR": str(MICROPY_DIR),
        "MPY_LIB_DIR": str(MICROPY_DIR / "lib" / "micropython-lib"),
        "PORT_DIR": str(tmp_path),
        "BOARD_DIR": str(ESP32 / board),
    }
    m = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, path_vars)
    m.execute(str(ESP32 / board / "manifest.py"))
    frozen = {f.target_path for f in m.files()}
    expected = {"llm/" + p.relative_to(ROOT / "app" / "llm").as_posix()
                for p in (ROOT / "app" / "llm").rglob("*.py")}
    assert frozen == expected


STUB_PROJECT_CMAKE = r"""
# Stand-in for ESP-IDF's tools/cmake/project.cmake: records what MicroPython's
# ports/esp32/CMakeLists.txt hands to ESP-IDF, then defines an empty project.
file(WRITE ${CMAKE_BINARY_DIR}/stub-idf.txt
    "IDF_TARGET=${IDF_TARGET}\n"
    "SDKCONFIG_DEFAULTS=${SDKCONFIG_DEFAULTS}\n"
    "MICROPY_FROZEN_MANIFEST=${MICROPY_FROZEN_MANIFEST}\n"
    "MICROPY_BOARD_DIR=${MICROPY_BOARD_DIR}\n")
macro(project)
    _project(${ARGV0} NONE)
endmacro()
"""

STUB_IDF_PY = r"""#!/usr/bin/env python3
# Stand-in for ESP-IDF's idf.py: only the CMake configure step of
# `idf.py [-D K=V]... -B DIR ACTION`, against the stub project.cmake.
import subprocess, sys
args, defs, build = sys.argv[1:], [], "build"
i = 0
while i < len(args):
    if args[i] == "-D":
        defs.append("-D" + args[i + 1]); i += 1
    elif args[i].startswith("-D"):
        defs.append(args[i])
    elif args[i] == "-B":
        build = args[i + 1]; i += 1
    i += 1
sys.exit(subprocess.call(["cmake", "-S", ".", "-B", build, *defs]))
"""


@pytest.fixture
def fake_idf(tmp_path):
    if shutil.which("cmake") is None:
        if os.environ.get("CI"):
            pytest.fail("cmake is needed for the board configuration tests")
        pytest.skip("cmake not installed")
    idf = tmp_path / "esp-idf"
    (idf / "tools" / "cmake").mkdir(parents=True)
    (idf / "bin").mkdir()
    (idf / "tools" / "cmake" / "project.cmake").write_text(STUB_PROJECT_CMAKE)
    (idf / "tools" / "cmake" / "version.cmake").write_text(
        "set(IDF_VERSION_MAJOR 5)\nset(IDF_VERSION_MINOR 2)\nset(IDF_VERSION_PATCH 2)\n")
    idf_py = idf / "tools" / "idf.py"
    idf_py.write_text(STUB_IDF_PY)
    idf_py.chmod(0o755)
    (idf / "bin" / "idf.py").symlink_to(idf_py)
    env = dict(os.environ, IDF_PATH=str(idf), PATH=f"{idf / 'bin'}:{os.environ['PATH']}")
    return env


def check_combined_sdkconfig(build, board):
    flash, psram = BOARDS[board]
    record = dict(line.split("=", 1) for line in (build / "stub-idf.txt").read_text().splitlines())
    assert record["IDF_TARGET"] == "esp32s3"
    assert Path(record["MICROPY_FROZEN_MANIFEST"]) == ESP32 / board / "manifest.py"
    opts = parse_sdkconfig(Path(record["SDKCONFIG_DEFAULTS"]).read_text())
    csv = unquote(opts["CONFIG_PARTITION_TABLE_CUSTOM_FILENAME"])
    assert os.path.isabs(csv), "ESP-IDF would resolve a relative CSV against ports/esp32"
    assert Path(csv) == board_csv(board) and Path(csv).is_file()
    assert opts["CONFIG_PARTITION_TABLE_CUSTOM"] == "y"
    assert flash_mib(opts) == flash
    assert opts["CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ"] == "240"
    if psram:
        assert opts["CONFIG_SPIRAM"] == "y" and opts[f"CONFIG_SPIRAM_MODE_{psram}"] == "y"
    else:
        assert opts.get("CONFIG_SPIRAM", "n") == "n"


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_port_cmake_configures_board(board, fake_idf, tmp_path):
    """The port's real CMakeLists.txt, with the board out of tree."""
    need_micropython()
    build = tmp_path / "build"
    r = subprocess.run(
        ["cmake", "-S", str(MICROPY_DIR / "ports" / "esp32"), "-B", str(build),
         f"-DMICROPY_BOARD={board}", f"-DMICROPY_BOARD_DIR={ESP32 / board}",
         f"-DUSER_C_MODULES={ROOT / 'usermod' / 'micropython.cmake'}"],
        env=fake_idf, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    check_combined_sdkconfig(build, board)


# ---- boards/esp32/esp32.mk ------------------------------------------------------------

TOP_MAKEFILE = """\
MICROPY_DIR ?= {micropy}
BOARD ?= LLM_S3
include {root}/boards/esp32/esp32.mk
"""


def run_make(tmp_path, *args, env=None):
    top = tmp_path / "Makefile.top"
    top.write_text(TOP_MAKEFILE.format(micropy=MICROPY_DIR, root=ROOT))
    # Not the settings of a make that may be running these tests (make test BOARD=...).
    env = {k: v for k, v in (env or os.environ).items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "BOARD", "PORT")}
    return subprocess.run(["make", "--no-print-directory", "-f", str(top), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_firmware_without_idf_explains(tmp_path):
    # ESP32_USE_KIT=0: a user's machine, without the offline build kit that
    # `make firmware` uses when IDF_PATH is unset.
    env = {k: v for k, v in os.environ.items() if k != "IDF_PATH"}
    r = run_make(tmp_path, "firmware", "ESP32_USE_KIT=0", env=env)
    assert r.returncode != 0
    assert "IDF_PATH is not set" in r.stderr
    assert "git clone --recursive -b v5.2.2 https://github.com/espressif/esp-idf.git" in r.stderr
    assert "./install.sh esp32s3" in r.stderr and "export.sh" in r.stderr
    r = run_make(tmp_path, "firmware", "ESP32_USE_KIT=0", env=dict(env, IDF_PATH=str(tmp_path / "nowhere")))
    assert r.returncode != 0 and "not an ESP-IDF checkout" in r.stderr


def test_flash_without_port_explains(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PORT"}
    r = run_make(tmp_path, "flash", env=env)
    assert r.returncode != 0 and "PORT is not set" in r.stderr
    r = run_make(tmp_path, "flash-romfs", env=env)
    assert r.returncode != 0 and "PORT is not set" in r.stderr


def test_unknown_board(tmp_path):
    r = run_make(tmp_path, "firmware", "BOARD=NOPE")
    assert r.returncode != 0
    assert "unknown ESP32 board 'NOPE'" in r.stderr and "LLM_S3_SPIRAM_OCT" in r.stderr


def test_flash_refuses_kit_build(tmp_path):
    """An image built with the offline ESP-IDF test kit (stub Wi-Fi) is never flashed."""
    build = tmp_path / "esp32-build"
    build.mkdir()
    (build / "firmware.bin").write_bytes(b"\xe9" + bytes(100))
    (build / "BUILT-WITH-TEST-KIT-DO-NOT-FLASH").write_text("kit\n")
    fake = tmp_path / "esptool.py"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "esptool.log"}\n')
    fake.chmod(0o755)
    r = run_make(tmp_path, "flash", "PORT=/dev/ttyACM9", f"ESP32_BUILD={build}", f"ESPTOOL={fake}")
    assert r.returncode != 0 and "built with the offline ESP-IDF test kit: never flash it" in r.stderr
    assert not (tmp_path / "esptool.log").exists()
    (build / "BUILT-WITH-TEST-KIT-DO-NOT-FLASH").unlink()
    r = run_make(tmp_path, "flash", "PORT=/dev/ttyACM9", f"ESP32_BUILD={build}", f"ESPTOOL={fake}")
    assert r.returncode == 0, r.stderr
    assert "write_flash -z 0x0" in (tmp_path / "esptool.log").read_text()


def test_flash_commands(tmp_path):
    """`make -n` shows the esptool lines (nothing is run)."""
    r = run_make(tmp_path, "-n", "flash", "PORT=/dev/ttyACM9", "BOARD=LLM_S3_SPIRAM",
                 "ESPTOOL=esptool.py", "ERASE=1")
    assert r.returncode == 0, r.stderr
    build = ROOT / "build" / "esp32-LLM_S3_SPIRAM"
    assert "esptool.py --chip esp32s3 -p /dev/ttyACM9 -b 460800 erase_flash" in r.stdout
    assert (f"esptool.py --chip esp32s3 -p /dev/ttyACM9 -b 460800 write_flash -z 0x0 "
            f"{build}/firmware.bin") in r.stdout


def test_flash_romfs_offset(tmp_path):
    """flash-romfs writes at the romfs offset of the board's partition table."""
    image = tmp_path / "models.romfs"
    image.write_bytes(b"\xd2\xcd\x31" + bytes(1000))
    log = tmp_path / "esptool.log"
    fake = tmp_path / "esptool.py"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    for board in BOARDS:
        romfs = {p["name"]: p for p in parse_partitions(board_csv(board))}["romfs"]
        r = run_make(tmp_path, "flash-romfs", "PORT=/dev/ttyACM9", f"BOARD={board}",
                     f"ESPTOOL={fake}", f"ROMFS_IMAGE={image}")
        assert r.returncode == 0, r.stdout + r.stderr
        args = log.read_text().splitlines()[-1].split()
        assert args[:5] == ["--chip", "esp32s3", "-p", "/dev/ttyACM9", "-b"]
        tail = args[args.index("write_flash") + 1:]
        assert len(tail) == 3 and tail[0] == "-z" and tail[2] == str(image)
        assert int(tail[1], 0) == romfs["offset"]
    big = tmp_path / "big.romfs"
    big.write_bytes(bytes(5 * MiB))
    r = run_make(tmp_path, "flash-romfs", "PORT=/dev/ttyACM9", "BOARD=LLM_S3",
                 f"ESPTOOL={fake}", f"ROMFS_IMAGE={big}")
    assert r.returncode != 0 and "romfs partition of LLM_S3 holds" in r.stderr


def micropython_tree_with_submodules(tmp_path):
    """A view of MICROPY_DIR with stand-ins for the three git submodules the
    esp32 port needs (Debian's tarball has them empty)."""
    farm = tmp_path / "micropython"
    (farm / "lib").mkdir(parents=True)
    for entry in MICROPY_DIR.iterdir():
        if entry.name != "lib":
            (farm / entry.name).symlink_to(entry)
    for entry in (MICROPY_DIR / "lib").iterdir():
        if entry.name not in ("micropython-lib", "berkeley-db-1.xx", "tinyusb"):
            (farm / "lib" / entry.name).symlink_to(entry)
    for f in ("micropython-lib/micropython/bundles/bundle-networking/manifest.py",
              "berkeley-db-1.xx/README", "tinyusb/src/tusb.h"):
        (farm / "lib" / f).parent.mkdir(parents=True, exist_ok=True)
        (farm / "lib" / f).write_text("")
    return farm


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_make_firmware_drives_port(board, fake_idf, tmp_path):
    """`make firmware` -> the port's real Makefile -> idf.py (stand-in: CMake
    configure only) -> the port's real CMakeLists.txt with the out-of-tree board.
    PYTHON=true turns the port's final makeimg.py step (needs ESP-IDF) into a no-op."""
    need_micropython()
    farm = micropython_tree_with_submodules(tmp_path)
    build = tmp_path / "build"
    r = run_make(tmp_path, "firmware", f"BOARD={board}", f"ESP32_MICROPY_DIR={farm}",
                 f"ESP32_BUILD={build}", "PYTHON=true", env=fake_idf)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ESP-IDF v5.2.2" in r.stdout
    assert f"USER_C_MODULES={ROOT / 'usermod' / 'micropython.cmake'}" in r.stdout
    check_combined_sdkconfig(build, board)
