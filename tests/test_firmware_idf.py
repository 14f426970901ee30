"""Checks on the ESP32-S3 firmware images that ESP-IDF builds (boards/esp32).

`make test` builds LLM_S3_SPIRAM_OCT here (fixture `built`), through
`make firmware`: with the user's ESP-IDF when IDF_PATH is set, else with the
offline build kit in ../shared/esp-idf (unpacked into deps/, sha256-checked).
On a fresh clone that is a build in a fresh build directory: the regression
test of the MICROPY_MPYCROSS bug (boards/esp32/esp32.mk).  The other boards
are checked when `make firmware-all` has built them (their build directory
exists; the fixture then brings it up to date), else skipped with that reason.

Kit images are for build, link, size and symbol checks only: never flash them.
"""

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from repo import REPO

ROOT = Path(REPO)
ESP32 = ROOT / "boards" / "esp32"
LLM = ROOT / "usermod" / "llm"
SHARED_DIR = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared"))
KIT = SHARED_DIR / "esp-idf"
TEST_BOARD = "LLM_S3_SPIRAM_OCT"  # the board `make test` builds
BOARDS = sorted(p.parent.name for p in ESP32.glob("*/mpconfigboard.cmake"))
# Room each board's app must leave in its factory partition, so that a
# feature of the next release does not overflow it unnoticed.
APP_MARGIN = 128 * 1024

pytestmark = pytest.mark.cross


def sources(key):
    """Words of the "key: words" line of usermod/llm/sources.txt."""
    for line in (LLM / "sources.txt").read_text().splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].split()
    return []


def file_cflags():
    out = {}
    for line in (LLM / "sources.txt").read_text().splitlines():
        m = re.match(r"file_cflags ([^:]+):(.*)", line)
        if m:
            out[m.group(1)] = m.group(2).split()
    return out


def make_env():
    return {k: v for k, v in os.environ.items()
            if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "BOARD", "BUILD")}


_built = {}


def build_board(board):
    if board in _built:
        return _built[board]
    out = ROOT / "build" / f"esp32-{board}"
    if not os.environ.get("IDF_PATH") and not KIT.is_dir():
        pytest.skip(f"no ESP-IDF: IDF_PATH is unset and the build kit {KIT} is absent")
    if board != TEST_BOARD and not out.is_dir():
        pytest.skip(f"{out.name} not built: `make firmware-all` builds every board "
                    f"(make test builds {TEST_BOARD} only)")
    r = subprocess.run(["make", "--no-print-directory", "firmware", f"BOARD={board}"],
                       cwd=ROOT, env=make_env(), capture_output=True, text=True, timeout=5400)
    if r.returncode != 0:
        _built[board] = None
        pytest.fail(f"make firmware BOARD={board} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    _built[board] = out
    return out


@pytest.fixture(params=BOARDS)
def built(request):
    out = _built.get(request.param, False)
    if out is None:
        pytest.fail(f"make firmware BOARD={request.param} failed (see the first test of it)")
    return request.param, build_board(request.param)


@pytest.fixture
def test_board_built():
    return build_board(TEST_BOARD)


# ---- what the build compiled -------------------------------------------------------------

def linked_copies(build):
    """compile_commands.json entries of _llm's sources as linked into
    micropython.elf (MicroPython 1.25 compiles them twice; the main
    component's copy is not linked), by file name."""
    import json
    out = {}
    for e in json.loads((build / "compile_commands.json").read_text()):
        f = Path(e["file"])
        if f.parent != LLM:
            continue
        args = shlex.split(e["command"])
        obj = args[args.index("-o") + 1]
        if "micropython.elf.dir" in obj:
            assert f.name not in out, f"{f.name} linked twice"
            out[f.name] = (args, build / obj)
    return out


def codegen_flags(args):
    """The options that change generated code: -O, -std (last one counts),
    -f and -m options (not diagnostics or path maps)."""
    last = {}
    rest = set()
    for a in args:
        if a.startswith("-O"):
            last["O"] = a
        elif a.startswith("-std="):
            last["std"] = a
        elif a.startswith(("-f", "-m")) and not a.startswith(("-fdiagnostics-color", "-fmacro-prefix-map")):
            rest.add(a)
    return rest | set(last.values())


def module_sources():
    return (sources("bindings") + sources("kernels") + sources("kernels_freertos")
            + sources("kernels_esp32s3"))


def test_module_compiled_with_idf_flags(built):
    """The linked copy of every _llm source has sources.txt's cflags (-O3 -ffp-contract=off) after
    ESP-IDF's -O2, with
    ESP-IDF's definitions (ESP_PLATFORM), the FreeRTOS build's own
    (defines_freertos: the two-core threshold) and its per-file flags."""
    board, build = built
    copies = linked_copies(build)
    assert sorted(copies) == sorted(module_sources())
    extra = file_cflags()
    for name, (args, _) in copies.items():
        opt = [a for a in args if a.startswith("-O")]
        assert opt and opt[-1] == "-O3", (name, opt)
        assert "-ffp-contract=off" in args, name
        assert "-DESP_PLATFORM" in args and "-mlongcalls" in args, name
        for define in sources("defines_freertos"):
            assert "-D" + define in args, (name, define)
        for flag in extra.get(name, []):
            assert flag in args, (name, flag)


def objdump(build):
    import json
    cc = json.loads((build / "compile_commands.json").read_text())[0]["command"].split()[0]
    assert cc.endswith("gcc"), cc
    return cc[:-3] + "objdump"


def test_no_fused_multiply_add(built):
    """-ffp-contract=off reached the linked code: no madd.s/msub.s in _llm's
    objects (maddn.s, the division steps in kernels_xtensa.h, is meant)."""
    board, build = built
    tool = objdump(build)
    kernels = set(sources("kernels"))
    for name, (_, obj) in linked_copies(build).items():
        dis = subprocess.run([tool, "-d", str(obj)], capture_output=True, text=True, check=True).stdout
        # (modllm.c holds only tables, modllm_kernels.c is empty off the unix port,
        # and another target's SIMD file, *_sse2.c, compiles to nothing here)
        if name in kernels and "_sse2" not in name:
            assert "\tl32r" in dis or "\tentry" in dis, f"{name}: no code disassembled"
        fused = re.findall(r"\t(madd\.s|msub\.s)\b", dis)
        assert not fused, f"{name}: {len(fused)} fused multiply-adds"


def elf_symbols(build):
    from elftools.elf.elffile import ELFFile
    with open(build / "micropython.elf", "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: s for s in symtab.iter_symbols() if s["st_shndx"] != "SHN_UNDEF"}


def test_second_core_worker_is_freertos(built):
    """llm_worker_start comes from parallel_freertos.c (a FreeRTOS task on
    core 0), not parallel.c's serial stub that returns -1."""
    board, build = built
    assert "llm_worker_start" in elf_symbols(build)
    mapfile = (build / "micropython.map").read_text()
    m = re.search(r"^ \.text\.llm_worker_start\s*\n?\s*0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", mapfile, re.M)
    assert m, "llm_worker_start's section not in the link map"
    assert int(m.group(1), 16) > 0 and m.group(2).endswith("parallel_freertos.c.obj"), m.group(0)
    assert "xTaskCreatePinnedToCore" in elf_symbols(build)


def test_espnn_and_frozen_llm_in_image(built):
    board, build = built
    assert "esp_nn_dot_s8_aligned_esp32s3" in elf_symbols(build)
    app = (build / "micropython.bin").read_bytes()
    modules = sorted(p.name for p in (ROOT / "app" / "llm").glob("*.py"))
    assert modules
    for name in modules:
        assert f"llm/{name}\0".encode() in app, f"frozen llm/{name} not in the image"


# ---- the image ---------------------------------------------------------------------------

def board_csv(board):
    text = (ESP32 / board / "sdkconfig.board").read_text()
    name = re.findall(r'^CONFIG_PARTITION_TABLE_CUSTOM_FILENAME="(.*)"', text, re.M)[-1]
    return (ESP32 / board / name).resolve()


def csv_partitions(path):
    types = {"app": 0, "data": 1}
    subtypes = {0: {"factory": 0}, 1: {"nvs": 2, "phy": 1, "fat": 0x81}}
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name, ptype, sub, offset, size = [f.strip() for f in line.split(",")[:5]]
        t = types[ptype]
        st = subtypes[t][sub] if sub in subtypes[t] else int(sub, 0)
        out.append((name, t, st, int(offset, 0), int(size, 0)))
    return out


def image_partitions(table):
    """ESP-IDF's binary partition table: 32-byte entries (magic 0xAA50,
    type, subtype, offset, size, label[16], flags) up to an 0xFF entry or
    the MD5 entry (magic 0xEBEB)."""
    import struct
    out = []
    for i in range(0, len(table), 32):
        magic, t, st, off, size, label, flags = struct.unpack("<HBBII16sI", table[i:i + 32])
        if magic != 0x50AA:
            assert magic in (0xEBEB, 0xFFFF), hex(magic)
            break
        assert flags == 0
        out.append((label.rstrip(b"\0").decode(), t, st, off, size))
    return out


def test_partition_table_in_image_is_the_csv(built):
    board, build = built
    image = (build / "firmware.bin").read_bytes()
    assert image_partitions(image[0x8000:0x9000]) == csv_partitions(board_csv(board))
    app = (build / "micropython.bin").read_bytes()
    assert image[0x10000:0x10000 + len(app)] == app


def test_app_fits_with_margin(built):
    board, build = built
    factory = {p[0]: p for p in csv_partitions(board_csv(board))}["factory"]
    size = (build / "micropython.bin").stat().st_size
    free = factory[4] - size
    print(f"{board}: app {size:,} B, {free:,} B free of {factory[4]:#x}")
    assert free >= APP_MARGIN, f"{board}: app {size} B leaves {free} B of {factory[4]:#x}, under {APP_MARGIN}"


def readme_rows():
    """boards/esp32/README.md's board table, as {board: {column: cell}}."""
    lines = [ln for ln in (ESP32 / "README.md").read_text().splitlines() if ln.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for ln in lines[1:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        m = re.match(r"`(\w+)`", cells[0])
        if m and len(cells) == len(head):
            rows[m.group(1)] = dict(zip(head, cells))
    return rows


def test_readme_lists_every_board():
    assert sorted(readme_rows()) == BOARDS


def generated_sdkconfig(build):
    opts = {}
    for line in (build / "sdkconfig").read_text().splitlines():
        m = re.match(r"# (CONFIG_\w+) is not set", line)
        if m:
            opts[m.group(1)] = "n"
        elif line.startswith("CONFIG_"):
            k, v = line.split("=", 1)
            opts[k] = v.strip('"')
    return opts


def test_sdkconfig_is_what_readme_promises(built):
    """Flash size and mode, PSRAM mode, CPU clock and data cache of the
    generated sdkconfig, against the board's row in boards/esp32/README.md."""
    board, build = built
    row = readme_rows()[board]
    opts = generated_sdkconfig(build)
    mib = re.fullmatch(r"(\d+) MiB", row["flash"])
    assert mib, row["flash"]
    assert opts["CONFIG_ESPTOOLPY_FLASHSIZE"] == f"{mib.group(1)}MB"
    mode = {"quad (QIO)": "QIO", "octal (OPI)": "OPI"}[row["flash mode"]]
    assert opts.get(f"CONFIG_ESPTOOLPY_FLASHMODE_{mode}") == "y"
    assert opts.get("CONFIG_ESPTOOLPY_OCT_FLASH", "n") == ("y" if mode == "OPI" else "n")
    if mode == "OPI" and mib and int(mib.group(1)) > 16:
        # The cache reaches past 16 MiB (bootloader/Kconfig.projbuild:141-144).
        assert opts.get("CONFIG_BOOTLOADER_CACHE_32BIT_ADDR_OCTAL_FLASH") == "y"
    psram = row["PSRAM"]
    if psram == "none":
        assert opts.get("CONFIG_SPIRAM", "n") == "n"
    else:
        kind = {"quad": "QUAD", "octal": "OCT"}[psram.split(", ")[1]]
        assert opts.get("CONFIG_SPIRAM") == "y" and opts.get(f"CONFIG_SPIRAM_MODE_{kind}") == "y"
    assert row["CPU"] == f"{opts['CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ']} MHz"
    cache = re.fullmatch(r"(\d+) KB, (\d+) B lines", row["data cache"])
    assert cache, row["data cache"]
    assert int(opts["CONFIG_ESP32S3_DATA_CACHE_SIZE"], 16) == int(cache.group(1)) * 1024
    assert int(opts["CONFIG_ESP32S3_DATA_CACHE_LINE_SIZE"]) == int(cache.group(2))


def test_psram_boards_stream_through_64k_cache(built):
    """Issue 16: the PSRAM boards' data cache is 64 KB with 64-byte lines."""
    board, build = built
    opts = generated_sdkconfig(build)
    if opts.get("CONFIG_SPIRAM") != "y":
        pytest.skip(f"{board} has no PSRAM")
    assert opts.get("CONFIG_ESP32S3_DATA_CACHE_64KB") == "y"
    assert opts.get("CONFIG_ESP32S3_DATA_CACHE_LINE_64B") == "y"


def test_readme_partition_sizes(built):
    board, build = built
    row = readme_rows()[board]
    parts = {p[0]: p[4] for p in csv_partitions(board_csv(board))}

    def size(cell):
        n, unit = cell.split()
        return int(n) * {"KiB": 1024, "MiB": 1024 * 1024}[unit]
    assert size(row["factory app"]) == parts["factory"]
    assert size(row["romfs (models)"]) == parts["romfs"]
    assert size(row["vfs (`/`)"]) == parts["vfs"]


# ---- the make builds compile _llm as the firmware does -------------------------------------

def test_mpy_cross_not_built_per_build_dir(test_board_built):
    """Bug 2 (esp32.mk): without MICROPY_MPYCROSS in the port's environment,
    MicroPython's CMake adds a `make -C mpy-cross` step to every build
    directory (py/mkrules.cmake), which inherits BUILD= and breaks a fresh
    build.  The configured build must not contain that step."""
    ninja = (test_board_built / "build.ninja").read_text()
    assert "mpy-cross USER_C_MODULES=" not in ninja


def s3sim_compile_args(name):
    """The s3sim build's gcc command line for an _llm source (make -n: nothing runs)."""
    mpy = ROOT / "deps" / "micropython-1.25.0"
    s3bin = ROOT / "deps" / "s3-tools" / "xtensa-esp32s3-elf" / "bin"
    build = ROOT / "build" / "s3sim-flags"
    obj = build / "llm" / (Path(name).stem + ".o")
    r = subprocess.run(
        ["make", "-n", "-B", "-C", str(ROOT / "boards" / "s3sim"), f"TOP={mpy}", f"BUILD={build}",
         f"CROSS_COMPILE={s3bin}/xtensa-esp32s3-elf-", f"USER_C_MODULES={ROOT / 'usermod'}",
         f"ESPNN_DIR={ROOT / 'deps' / 's3-tools' / 'esp-nn'}",
         f"FROZEN_MANIFEST={ROOT / 'boards' / 's3sim' / 'manifest.py'}", str(obj)],
        env=make_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if f" -o {obj} " in ln and " -c " in ln]
    assert len(lines) == 1, r.stdout[-3000:]
    return shlex.split(lines[0].split("||")[0])


def test_s3sim_flags_are_the_firmware_flags(test_board_built):
    """`make bench-s3` counts the emulated S3 build: its _llm must be compiled
    with the code-generation flags of the ESP-IDF firmware."""
    copies = linked_copies(test_board_built)
    names = sources("bindings") + sources("kernels") + sources("kernels_esp32s3")
    for name in names:
        idf = codegen_flags(copies[name][0])
        make = codegen_flags(s3sim_compile_args(name))
        assert make == idf, (name, sorted(make - idf), sorted(idf - make))


# The ESP32-S3's MMU: 512 pages of 64 KiB, 32 MiB of virtual address space
# shared by flash and PSRAM, instruction and data buses
# (components/soc/esp32s3/include/soc/ext_mem_defs.h:64,71-78,100-103).
MMU_PAGE = 64 * 1024
MMU_PAGES = 512
# Left unmapped for what maps flash at run time besides the romfs
# (boards/esp32/README.md, "LLM_S3_OCTAL").
MMU_SPARE = 1024 * 1024


def test_romfs_fits_the_mmu(built):
    """At boot ESP-IDF maps the app's code and read-only data page by page
    (esp_mm/esp_mmu_map.c:133-171), then the PSRAM, as much as is free
    (esp_psram/esp_psram.c:187-192); MicroPython maps the whole romfs
    partition after that (ports/esp32/esp32_partition.c:136), in one block
    of consecutive free pages.  From the built ELF: the romfs must fit."""
    board, build = built
    syms = elf_symbols(build)

    def pages(start, end):
        lo = syms[start]["st_value"] & ~(MMU_PAGE - 1)
        return -(-(syms[end]["st_value"] - lo) // MMU_PAGE)
    app_pages = (pages("_instruction_reserved_start", "_instruction_reserved_end")
                 + pages("_rodata_reserved_start", "_rodata_reserved_end"))
    psram = readme_rows()[board]["PSRAM"]
    psram_bytes = 0 if psram == "none" else int(psram.split()[0]) * 1024 * 1024
    free = (MMU_PAGES - app_pages) * MMU_PAGE - psram_bytes
    romfs = {p[0]: p[4] for p in csv_partitions(board_csv(board))}["romfs"]
    print(f"{board}: app {app_pages} pages, PSRAM {psram_bytes // MMU_PAGE} pages, "
          f"romfs {romfs // MMU_PAGE} pages, {(free - romfs) // MMU_PAGE} pages spare")
    assert romfs + MMU_SPARE <= free


def test_kit_build_is_marked(built):
    """Built with the offline kit (no IDF_PATH): marked so `make flash` refuses it."""
    board, build = built
    marked = (build / "BUILT-WITH-TEST-KIT-DO-NOT-FLASH").is_file()
    assert marked == (not os.environ.get("IDF_PATH"))
