# ESP32-S3 firmware build and flashing, as a Makefile fragment.
#
# Included by the top-level Makefile (after it sets MICROPY_DIR and BOARD):
#     include boards/esp32/esp32.mk
# Targets:
#     make firmware [BOARD=LLM_S3|LLM_S3_SPIRAM|LLM_S3_SPIRAM_OCT]
#     make flash PORT=/dev/ttyACM0 [BOARD=...] [ERASE=1] [BAUD=460800]
#     make flash-romfs PORT=/dev/ttyACM0 ROMFS_IMAGE=models.romfs [BOARD=...]
#     make esp32-micropython-src      (MicroPython git checkout with the submodules the port needs)
# See boards/esp32/README.md.

ESP32_MK_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ESP32_ROOT := $(abspath $(ESP32_MK_DIR)/../..)

# MicroPython 1.25's esp32 port supports ESP-IDF v5.2, v5.2.2, v5.3 and v5.4;
# its CI builds with v5.2.2 (ports/esp32/README.md, tools/ci.sh).
ESP32_IDF_VERSION ?= v5.2.2
ESP32_MPY_VERSION ?= v1.25.0

BOARD ?= LLM_S3
ESP32_BOARDS := $(notdir $(patsubst %/mpconfigboard.cmake,%,$(wildcard $(ESP32_MK_DIR)/*/mpconfigboard.cmake)))
MICROPY_DIR ?= $(ESP32_ROOT)/deps/micropython-1.25.0

# Without IDF_PATH, the offline ESP-IDF v5.2.2 build kit from
# $(SHARED_DIR)/esp-idf (its README.md): tools unpacked into ESP32_KIT_DIR,
# the kit's MicroPython tree and registry components side by side in
# ESP32_KIT_DEPS, all checked by sha256 (host/unpack-esp-idf-kit.sh).  Its
# images are for build, link, size and symbol checks only: NEVER flash them
# (its Wi-Fi libraries are stubs).  A user sets IDF_PATH (export.sh) instead.
SHARED_DIR ?= $(ESP32_ROOT)/../shared
ESP32_KIT_DIR ?= $(ESP32_ROOT)/deps/esp-idf-kit
ESP32_KIT_DEPS ?= $(ESP32_ROOT)/deps/esp32
ESP32_USE_KIT ?= $(if $(IDF_PATH),0,$(if $(wildcard $(SHARED_DIR)/esp-idf/esp-idf-v5.2.2-s3.tar.xz $(ESP32_KIT_DIR)/.unpacked),1,0))
# Marks a build directory made with the kit: `make flash` refuses it.
ESP32_KIT_MARK = $(ESP32_BUILD)/BUILT-WITH-TEST-KIT-DO-NOT-FLASH
ESP32_KIT_STAMP := $(ESP32_KIT_DIR)/.unpacked
$(ESP32_KIT_STAMP): $(ESP32_ROOT)/host/unpack-esp-idf-kit.sh
	sh $(ESP32_ROOT)/host/unpack-esp-idf-kit.sh $(SHARED_DIR) $(ESP32_KIT_DIR) $(ESP32_KIT_DEPS)
	touch $@
esp32-kit: $(ESP32_KIT_STAMP)
ifeq ($(ESP32_USE_KIT),1)
ESP32_CHECK_IDF_NEEDS := $(ESP32_KIT_STAMP)
ESP32_KIT_IDF := $(ESP32_KIT_DIR)/esp-idf-v5.2.2-s3
ESP32_MICROPY_DIR ?= $(ESP32_KIT_DEPS)/micropython-1.25.0
# What the kit's README has every shell set (instead of export.sh), for the
# firmware targets and what they run.  IDF_MAINTAINER: the kit's GCC 12.2 is
# not the esp-13.2.0 ESP-IDF checks for; a mismatch warns instead of failing.
ESP32_KIT_TARGETS := firmware esp32-check-idf
$(ESP32_KIT_TARGETS): export IDF_PATH := $(ESP32_KIT_IDF)
$(ESP32_KIT_TARGETS): export IDF_TOOLS_PATH := $(ESP32_KIT_DIR)/idf-tools
$(ESP32_KIT_TARGETS): export IDF_PYTHON_ENV_PATH := $(ESP32_KIT_DIR)/venv
$(ESP32_KIT_TARGETS): export VIRTUAL_ENV := $(ESP32_KIT_DIR)/venv
$(ESP32_KIT_TARGETS): export IDF_MAINTAINER := 1
$(ESP32_KIT_TARGETS): export PATH := $(ESP32_KIT_DIR)/venv/bin:$(ESP32_KIT_DIR)/xtensa-esp32s3-elf/bin:$(ESP32_KIT_IDF)/tools:$(PATH)
# esp-nn from the kit's folder instead of the registry (common/llm_board.cmake).
$(ESP32_KIT_TARGETS): export LLM_ESPNN_OVERRIDE := $(ESP32_KIT_DEPS)/idf-components/espressif__esp-nn
endif
ESP32_BOARD_DIR ?= $(ESP32_MK_DIR)/$(BOARD)
ESP32_BUILD ?= $(ESP32_ROOT)/build/esp32-$(BOARD)
ESP32_USER_C_MODULES ?= $(ESP32_ROOT)/usermod/micropython.cmake
BAUD ?= 460800
ESPTOOL ?= $(shell command -v esptool.py 2>/dev/null || command -v esptool 2>/dev/null)

# The esp32 port needs three git submodules that Debian's source tarball leaves
# out. Use MICROPY_DIR if it has them, else a git checkout of the same release.
ESP32_MPY_GIT_DIR ?= $(ESP32_ROOT)/deps/micropython-1.25.0-git
ESP32_SUBMODULES = lib/micropython-lib lib/berkeley-db-1.xx lib/tinyusb
esp32_has_submodules = $(and $(wildcard $(1)/lib/micropython-lib/micropython/bundles),$(wildcard $(1)/lib/berkeley-db-1.xx/README),$(wildcard $(1)/lib/tinyusb/src/tusb.h))
ESP32_MICROPY_DIR ?= $(if $(call esp32_has_submodules,$(MICROPY_DIR)),$(abspath $(MICROPY_DIR)),$(ESP32_MPY_GIT_DIR))

# CONFIG_PARTITION_TABLE_CUSTOM_FILENAME of the board, relative to its directory.
ESP32_PARTITION_CSV = $(abspath $(ESP32_BOARD_DIR)/$(shell sed -n 's/^CONFIG_PARTITION_TABLE_CUSTOM_FILENAME="\(.*\)"/\1/p' $(ESP32_BOARD_DIR)/sdkconfig.board 2>/dev/null | tail -n 1))

.PHONY: firmware firmware-all esp32-kit flash flash-romfs esp32-micropython-src esp32-check-board esp32-check-idf esp32-check-port

ESP32_MPY_CROSS = $(ESP32_MICROPY_DIR)/mpy-cross/build/mpy-cross

# MICROPY_MPYCROSS in the port's environment: else MicroPython's CMake runs
# `make -C mpy-cross` in every fresh build directory, which inherits BUILD=
# through MAKEFLAGS, writes mpy-cross's genhdr/ into the firmware's build
# directory, and the build fails (MP_QSTR_* undeclared).
firmware: esp32-check-board esp32-check-idf
	$(ESP32_FETCH_SRC)
	$(MAKE) -C $(ESP32_MICROPY_DIR)/mpy-cross USER_C_MODULES=
	MICROPY_MPYCROSS=$(ESP32_MPY_CROSS) $(MAKE) -C $(ESP32_MICROPY_DIR)/ports/esp32 \
		BOARD=$(BOARD) BOARD_DIR=$(ESP32_BOARD_DIR) BUILD=$(ESP32_BUILD) \
		USER_C_MODULES=$(ESP32_USER_C_MODULES)
ifeq ($(ESP32_USE_KIT),1)
	@echo "ESP-IDF build kit (../shared/esp-idf): its Wi-Fi libraries are stubs; for build, size and symbol checks only." > $(ESP32_KIT_MARK)
	@echo "Firmware (ESP-IDF build kit: for build and size checks only, NEVER flash it): $(ESP32_BUILD)/firmware.bin"
else
	@rm -f $(ESP32_KIT_MARK)
	@echo "Firmware: $(ESP32_BUILD)/firmware.bin (flash with: make flash BOARD=$(BOARD) PORT=<serial port>)"
endif

# Every board, one after the other (each ESP-IDF build already uses every
# core).  What the boards share is done once: the kit, the MicroPython tree and
# mpy-cross; each board's ESP-IDF build differs by its sdkconfig, so the rest
# is compiled per board.
firmware-all: esp32-check-idf
	@set -e; for b in $(ESP32_BOARDS); do \
		$(MAKE) --no-print-directory firmware BOARD=$$b ESP32_USE_KIT=$(ESP32_USE_KIT); done

esp32-check-board:
	@if [ ! -f "$(ESP32_BOARD_DIR)/mpconfigboard.cmake" ]; then \
		echo "error: unknown ESP32 board '$(BOARD)'; boards: $(notdir $(patsubst %/mpconfigboard.cmake,%,$(wildcard $(ESP32_MK_DIR)/*/mpconfigboard.cmake)))" >&2; \
		exit 1; \
	fi

esp32-check-idf: $(ESP32_CHECK_IDF_NEEDS)
	@if [ -z "$$IDF_PATH" ] || [ ! -f "$$IDF_PATH/tools/idf.py" ] || [ ! -f "$$IDF_PATH/tools/cmake/version.cmake" ]; then \
		if [ -z "$$IDF_PATH" ]; then echo "error: IDF_PATH is not set: the ESP32 firmware needs Espressif's ESP-IDF." >&2; \
		else echo "error: IDF_PATH=$$IDF_PATH is not an ESP-IDF checkout (no tools/idf.py)." >&2; fi; \
		echo "MicroPython $(ESP32_MPY_VERSION) builds with ESP-IDF v5.2.x-v5.4.x; its CI uses $(ESP32_IDF_VERSION). To install it:" >&2; \
		echo "    git clone --recursive -b $(ESP32_IDF_VERSION) https://github.com/espressif/esp-idf.git ~/esp-idf" >&2; \
		echo "    cd ~/esp-idf && ./install.sh esp32s3" >&2; \
		echo "    . ~/esp-idf/export.sh      # in every new shell; sets IDF_PATH and PATH" >&2; \
		echo "then run this make command again." >&2; \
		exit 1; \
	fi; \
	if ! command -v idf.py >/dev/null 2>&1; then \
		echo "error: IDF_PATH is set but idf.py is not on PATH; run: . $$IDF_PATH/export.sh" >&2; \
		exit 1; \
	fi; \
	v=$$(awk -F'[ )]' '/^set\(IDF_VERSION_(MAJOR|MINOR|PATCH) /{printf "%s%s", s, $$2; s="."}' "$$IDF_PATH/tools/cmake/version.cmake"); \
	case "$$v" in \
		5.2|5.2.*|5.3|5.3.*|5.4|5.4.*) echo "ESP-IDF v$$v at $$IDF_PATH" ;; \
		*) echo "warning: ESP-IDF v$$v at $$IDF_PATH; MicroPython $(ESP32_MPY_VERSION) supports v5.2-v5.4 (tested: $(ESP32_IDF_VERSION))" >&2 ;; \
	esac

# A MicroPython tree with the submodules the esp32 port needs (cloned once, over the network).
define ESP32_FETCH_SRC
@d="$(ESP32_MICROPY_DIR)"; \
if [ -f "$$d/lib/micropython-lib/micropython/bundles/bundle-networking/manifest.py" ] && \
   [ -f "$$d/lib/berkeley-db-1.xx/README" ] && [ -f "$$d/lib/tinyusb/src/tusb.h" ]; then exit 0; fi; \
if [ "$$d" != "$(ESP32_MPY_GIT_DIR)" ]; then \
	echo "error: $$d lacks the git submodules $(ESP32_SUBMODULES);" >&2; \
	echo "run: git -C $$d submodule update --init $(ESP32_SUBMODULES)" >&2; \
	exit 1; \
fi; \
echo "Cloning MicroPython $(ESP32_MPY_VERSION) with $(ESP32_SUBMODULES) into $$d"; \
rm -rf "$$d.part" && \
git clone --depth 1 -b $(ESP32_MPY_VERSION) https://github.com/micropython/micropython.git "$$d.part" && \
{ git -C "$$d.part" submodule update --init --depth 1 $(ESP32_SUBMODULES) || \
  git -C "$$d.part" submodule update --init $(ESP32_SUBMODULES); } && \
rm -rf "$$d" && mv "$$d.part" "$$d"
endef

esp32-micropython-src:
	$(ESP32_FETCH_SRC)

esp32-check-port:
	@if [ -z "$(PORT)" ]; then \
		echo "error: PORT is not set; give the board's serial port, e.g." >&2; \
		echo "    make $(MAKECMDGOALS) BOARD=$(BOARD) PORT=/dev/ttyACM0   (Linux; /dev/cu.usbmodem* on macOS, COMn on Windows)" >&2; \
		exit 1; \
	fi
	@if [ -z "$(ESPTOOL)" ]; then \
		echo "error: esptool not found: run . \$$IDF_PATH/export.sh (ESP-IDF ships esptool.py) or pip install esptool" >&2; \
		exit 1; \
	fi

flash: esp32-check-port
	@if [ ! -f "$(ESP32_BUILD)/firmware.bin" ]; then \
		echo "error: $(ESP32_BUILD)/firmware.bin not found; run: make firmware BOARD=$(BOARD)" >&2; \
		exit 1; \
	fi
	@if [ -f "$(ESP32_KIT_MARK)" ]; then \
		echo "error: $(ESP32_BUILD) was built with the offline ESP-IDF test kit: never flash it." >&2; \
		echo "Build with your own ESP-IDF: . ~/esp-idf/export.sh; rm -rf $(ESP32_BUILD); make firmware BOARD=$(BOARD)" >&2; \
		exit 1; \
	fi
ifeq ($(ERASE),1)
	$(ESPTOOL) --chip esp32s3 -p $(PORT) -b $(BAUD) erase_flash
endif
	$(ESPTOOL) --chip esp32s3 -p $(PORT) -b $(BAUD) write_flash -z 0x0 $(ESP32_BUILD)/firmware.bin

# Write a ROMFS image (e.g. from `mpremote romfs build`) straight into the
# board's romfs partition: faster than `mpremote romfs deploy` over the REPL.
flash-romfs: esp32-check-port
	@if [ -z "$(ROMFS_IMAGE)" ] || [ ! -f "$(ROMFS_IMAGE)" ]; then \
		echo "error: ROMFS_IMAGE='$(ROMFS_IMAGE)' is not a file; build one with: mpremote romfs -o models.romfs build <dir>" >&2; \
		exit 1; \
	fi
	@set -e; csv="$(ESP32_PARTITION_CSV)"; \
	line=$$(awk -F, '{gsub(/[ \t]/, "")} $$1 == "romfs" {print $$4 " " $$5}' "$$csv"); \
	[ -n "$$line" ] || { echo "error: no romfs partition in $$csv" >&2; exit 1; }; \
	set -- $$line; size=$$(wc -c < "$(ROMFS_IMAGE)"); \
	if [ "$$size" -gt $$(($$2)) ]; then \
		echo "error: $(ROMFS_IMAGE) is $$size bytes; the romfs partition of $(BOARD) holds $$(($$2))" >&2; exit 1; \
	fi; \
	echo "$(ESPTOOL) --chip esp32s3 -p $(PORT) -b $(BAUD) write_flash -z $$1 $(ROMFS_IMAGE)"; \
	$(ESPTOOL) --chip esp32s3 -p $(PORT) -b $(BAUD) write_flash -z $$1 "$(ROMFS_IMAGE)"
