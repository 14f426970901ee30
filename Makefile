# Tiny-LLM runtime for MicroPython.  `make help` lists what you can do.

MICROPY_DIR ?= $(CURDIR)/deps/micropython-1.25.0
MODELS_DIR ?= models
SHARED_DIR ?= $(CURDIR)/../shared
PYTHON ?= python3

BUILD_DIR := $(CURDIR)/build
FIRMWARE := $(BUILD_DIR)/micropython
UNIX_BUILD := $(BUILD_DIR)/unix
MPY_CROSS := $(MICROPY_DIR)/mpy-cross/build/mpy-cross

# What the ports need from the Debian source tarball, which lacks some submodules.
UNIX_MAKE_ARGS := VARIANT_DIR=$(CURDIR)/boards/unix BUILD=$(UNIX_BUILD) \
	USER_C_MODULES=$(CURDIR)/usermod MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 STRIP=

SOURCES := $(wildcard usermod/*/*.c usermod/*/*.h usermod/*/*.mk usermod/llm/sources.txt app/llm/*.py boards/unix/*)

.DEFAULT_GOAL := all
MODEL ?= $(BUILD_DIR)/stories260K_int8.llm

TYPINGS := $(BUILD_DIR)/typings

# ESP32-S3 test tools: xtensa-esp32s3-elf-gcc from PATH (ESP-IDF's) when there
# is one, else the test toolchain unpacked from $(SHARED_DIR)/toolchains into
# deps/s3-tools, checked by sha256.  The emulated S3 core and esp-nn always come
# from there.  `make s3-tools` unpacks them; nothing is downloaded.
S3_TOOLS_DIR ?= $(CURDIR)/deps/s3-tools
S3_GCC_ON_PATH := $(shell command -v xtensa-esp32s3-elf-gcc 2>/dev/null)
S3_BIN ?= $(if $(S3_GCC_ON_PATH),$(patsubst %/,%,$(dir $(S3_GCC_ON_PATH))),$(S3_TOOLS_DIR)/xtensa-esp32s3-elf/bin)
S3_QEMU ?= $(S3_TOOLS_DIR)/qemu-xtensa-esp32s3/bin/qemu-system-xtensa
S3_QEMU_PLUGINS ?= $(S3_TOOLS_DIR)/qemu-xtensa-esp32s3/lib/qemu-plugins
ESPNN_DIR ?= $(S3_TOOLS_DIR)/esp-nn
S3_TOOLS_STAMP := $(S3_TOOLS_DIR)/.unpacked

.PHONY: check s3-tools all help firmware-unix micropython-src models models-15M run test bench bench-s3 clean deploy repl check-port typecheck stubs

include boards/qemu/qemu.mk
include boards/esp32/esp32.mk
include usermod/natmod/natmod.mk
include boards/s3sim/s3sim.mk
include boards/unix/sanitize.mk
include tests/s3kernels/s3kernels.mk

all: $(FIRMWARE)

help:
	@echo "make                 build the host firmware: build/micropython (MicroPython unix port + _llm + frozen llm)"
	@echo "make run             build, then print a story from stories260K (MODELS_DIR=$(MODELS_DIR))"
	@echo "make test            install what is missing (apt, pip), then run every test (pytest)"
	@echo "make check           the quick host-only tests (no emulators, no cross compilers)"
	@echo "make bench           instructions per token under callgrind, tokens/s, interpreter share"
	@echo "make bench-s3        executed ESP32-S3 instructions per token on the emulated core, and estimated tok/s"
	@echo "make s3-harness      the kernels on the emulated S3 core vs the host, bit for bit (tests/s3kernels)"
	@echo "make models          fetch stories260K.bin and tok512.bin into MODELS_DIR, checked by sha256"
	@echo "make models-15M      fetch stories15M.bin and tokenizer.bin (61 MB) into MODELS_DIR, checked by sha256"
	@echo "make micropython-src fetch MicroPython 1.25.0 (Debian source package) into deps/"
	@echo "make firmware BOARD=LLM_S3|LLM_S3_SPIRAM|LLM_S3_SPIRAM_OCT|LLM_S3_OCTAL   ESP32-S3 firmware (IDF_PATH: your ESP-IDF)"
	@echo "                     without IDF_PATH: the offline ESP-IDF test kit from SHARED_DIR/esp-idf (images NEVER to be flashed)"
	@echo "make firmware-all    every ESP32-S3 board, one after the other (make test builds LLM_S3_SPIRAM_OCT)"
	@echo "make esp32-kit       unpack the offline ESP-IDF kit into deps/esp-idf-kit and deps/esp32 (sha256-checked)"
	@echo "make flash PORT=/dev/ttyACM0    flash it with esptool"
	@echo "make deploy PORT=... [MODEL=file.llm] [FS=1]   push a model (default: $(notdir $(MODEL))) into ROMFS (or the filesystem)"
	@echo "make repl PORT=...              the board's REPL (mpremote)"
	@echo "make emulator                   start the emulated MCU (qemu, Cortex-M3) and print its PORT"
	@echo "make emulator-stop              stop it"
	@echo "make natmod ARCH=x64|armv7m|xtensawin   _llm as a native .mpy for stock MicroPython (build/natmod/ARCH)"
	@echo "make natmod-all                 x64, armv7m and xtensawin"
	@echo "make stock-unix / stock-qemu    MicroPython without our module, to test the .mpy"
	@echo "make typecheck       mypy over app/ with MicroPython's stubs and usermod/llm/_llm.pyi"
	@echo "make stubs           regenerate stubs/llm (the llm package's public API) from app/"
	@echo "make s3-tools        unpack the ESP32-S3 test compiler, emulated S3 core and esp-nn from SHARED_DIR"
	@echo "make s3-firmware                emulated ESP32-S3 core (boards/s3sim): build/s3sim/firmware.elf [MICROPY_HEAP_SIZE= ROMFS_BYTES= S3SIM_BUILD=]"
	@echo "make s3-firmware-psram          the same with a PSRAM-sized heap (S3_PSRAM_HEAP=4000000): build/s3sim-psram"
	@echo "make s3-stock                   boards/s3sim without _llm and the frozen package (for the xtensawin .mpy)"
	@echo "make emulator-s3                start the emulated ESP32-S3 core (qemu sim, esp32s3) and print its PORT"
	@echo "make emulator-s3-stop           stop it"
	@echo "make s3-run SCRIPT=f.py [ROMFS_IMG=img]   run a script on a fresh emulated S3 core and print its output"
	@echo "make asan            build/asan/micropython: the host firmware with AddressSanitizer + UBSan"
	@echo "make fuzz N=20000    the fuzz test (mutated .bin, .llm, tokenizer files) with N cases on the asan firmware"
	@echo "make clean           remove build/"
	@echo "Variables: MICROPY_DIR=<your MicroPython 1.25 checkout>  MODELS_DIR=<dir with the models>"

micropython-src: $(MICROPY_DIR)/py/mpconfig.h

s3-tools: $(S3_TOOLS_STAMP)

$(S3_TOOLS_STAMP): host/unpack-s3-tools.sh
	sh host/unpack-s3-tools.sh $(SHARED_DIR) $(S3_TOOLS_DIR)
	@touch $@

$(MICROPY_DIR)/py/mpconfig.h:
	sh host/fetch-micropython.sh $(dir $(MICROPY_DIR:/=))

$(MPY_CROSS): $(MICROPY_DIR)/py/mpconfig.h
	$(MAKE) -C $(MICROPY_DIR)/mpy-cross

$(FIRMWARE): $(MICROPY_DIR)/py/mpconfig.h $(MPY_CROSS) $(SOURCES)
	$(MAKE) -C $(MICROPY_DIR)/ports/unix $(UNIX_MAKE_ARGS)
	cp $(UNIX_BUILD)/micropython $@

firmware-unix: $(FIRMWARE)

models:
	$(PYTHON) -m host models $(MODELS_DIR) --shared $(SHARED_DIR)/models

models-15M:
	$(PYTHON) -m host models $(MODELS_DIR) --shared $(SHARED_DIR)/models --set stories15M

run: $(FIRMWARE) $(MODELS_DIR)/stories260K.bin
	$(FIRMWARE) -m llm $(MODELS_DIR)/stories260K.bin -z $(MODELS_DIR)/tok512.bin -i "Once upon a time"

$(MODELS_DIR)/stories260K.bin:
	$(MAKE) models

# The README's test command: installs what is missing first (see the script).
# tests/test_firmware_idf.py builds the ESP32-S3 firmware of LLM_S3_SPIRAM_OCT
# with `make firmware` (ESP-IDF from IDF_PATH, else the offline kit).
test:
	sh host/setup-test-deps.sh $(PYTHON)
	$(MAKE) $(FIRMWARE)
	$(PYTHON) -m pytest -o console_output_style=count tests

# The quick subset: only the host firmware, no emulators or cross compilers.
check: $(FIRMWARE)
	$(PYTHON) -m pytest -q -m "not device and not s3 and not cross and not asan" tests

bench: $(FIRMWARE) $(MODELS_DIR)/stories260K.bin
	$(PYTHON) -m host bench --firmware $(FIRMWARE) --models $(MODELS_DIR)

# Executed ESP32-S3 instructions per token on the emulated core (host/bench_s3.py),
# on an s3sim build of its own whose heap and ROMFS hold a stories15M-shaped model.
S3_BENCH_BUILD := $(BUILD_DIR)/s3sim-bench
S3_BENCH_VARS := S3SIM_BUILD=$(S3_BENCH_BUILD) MICROPY_HEAP_SIZE=8000000 ROMFS_BYTES=0x1000000
S3_BENCH_JSON := $(BUILD_DIR)/bench-s3.json
S3SIM_MK_FLAGS = $(if $(filter boards/s3sim/s3sim.mk,$(MAKEFILE_LIST)),,-f Makefile -f boards/s3sim/s3sim.mk)

bench-s3: $(S3_TOOLS_STAMP) $(MODELS_DIR)/stories260K.bin
	$(MAKE) $(S3SIM_MK_FLAGS) s3-firmware $(S3_BENCH_VARS)
	$(MAKE) $(S3K_PCPROF)
	$(PYTHON) -m host bench-s3 --firmware $(S3_BENCH_BUILD)/firmware.elf --models $(MODELS_DIR) --json > $(S3_BENCH_JSON)
	$(PYTHON) -m host bench-s3 --from-json $(S3_BENCH_JSON)
	$(PYTHON) -m host s3-estimate $(S3_BENCH_JSON)

$(BUILD_DIR)/stories260K_int8.llm: $(MODELS_DIR)/stories260K.bin
	@mkdir -p $(BUILD_DIR)
	$(PYTHON) -m host convert $(MODELS_DIR)/stories260K.bin $(MODELS_DIR)/tok512.bin $@ --int8

# stories15M in 4-bit weights (wv and w2 int8): 10.11 MB, for the 10 MiB ROMFS of LLM_S3_SPIRAM_OCT (docs/int4.md).
$(BUILD_DIR)/stories15M_int4.llm: $(MODELS_DIR)/stories15M.bin
	@mkdir -p $(BUILD_DIR)
	$(PYTHON) -m host convert --weights int4 $(MODELS_DIR)/stories15M.bin $(MODELS_DIR)/tokenizer.bin $@

$(MODELS_DIR)/stories15M.bin:
	$(MAKE) models-15M

$(BUILD_DIR)/stories260K_f32.llm: $(MODELS_DIR)/stories260K.bin
	@mkdir -p $(BUILD_DIR)
	$(PYTHON) -m host convert $(MODELS_DIR)/stories260K.bin $(MODELS_DIR)/tok512.bin $@

check-port:
	@if [ -z "$(PORT)" ]; then echo "error: give the board's serial port: PORT=/dev/ttyACM0 (make emulator prints one)" >&2; exit 1; fi

deploy: check-port $(abspath $(MODEL))
	$(PYTHON) -m host deploy $(PORT) $(abspath $(MODEL)) $(if $(FS),--fs)

repl: check-port
	$(PYTHON) -m mpremote connect $(PORT) repl

$(TYPINGS)/gc.pyi:
	$(PYTHON) -m pip install -q --target $(TYPINGS) micropython-esp32-stubs micropython-stdlib-stubs

typecheck: $(TYPINGS)/gc.pyi
	$(PYTHON) -m mypy app/llm

stubs:
	$(PYTHON) -c "import sys; from mypy.stubgen import main; main(sys.argv[1:])" -q --no-import --include-docstrings -o stubs $(filter-out %/__main__.py,$(wildcard app/llm/*.py))

clean:
	rm -rf $(BUILD_DIR)
