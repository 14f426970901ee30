# The _llm module as a native .mpy, for stock MicroPython 1.25 (no firmware
# rebuild), and the firmware builds WITHOUT our module that test it.
# Included from the top-level Makefile, which defines MICROPY_DIR, PYTHON and
# the rule for $(MICROPY_DIR)/py/mpconfig.h.  See usermod/natmod/README.md.
#
#   make natmod [ARCH=x64|armv7m|xtensawin]   build/natmod/<ARCH>/_llm.mpy (default x64)
#   make natmod-all                            x64, armv7m and xtensawin
#   make stock-unix                            build/unix-stock/micropython: unix port, no _llm, nothing frozen
#   make stock-qemu                            build/qemu-stock/firmware.elf: boards/qemu, no _llm, nothing frozen
#
# Needs: python3 with pyelftools and ar (pip), gcc (x64), arm-none-eabi-gcc
# (armv7m), xtensa-esp32s3-elf-gcc (xtensawin: ESP-IDF's on PATH, else the test
# toolchain that `make s3-tools` unpacks).

NATMOD_REPO ?= $(CURDIR)
NATMOD_OUT = $(NATMOD_REPO)/build/natmod
NATMOD_ARCH = $(or $(ARCH),x64)
NATMOD_PYTHON ?= $(or $(PYTHON),python3)
STOCK_UNIX_BUILD = $(NATMOD_REPO)/build/unix-stock
STOCK_QEMU_BUILD = $(NATMOD_REPO)/build/qemu-stock

.PHONY: natmod natmod-all stock-unix stock-qemu

# $(call natmod_build,ARCH): check the tools (saying what is missing instead
# of failing half-way), then build build/natmod/ARCH/_llm.mpy.
define natmod_build
	@$(NATMOD_PYTHON) -c "import elftools" 2>/dev/null || { \
		echo "error: make natmod needs pyelftools: pip install pyelftools ar" >&2; exit 1; }
	@case "$(1)" in \
	x64) command -v gcc >/dev/null || { echo "error: ARCH=x64 needs gcc" >&2; exit 1; } ;; \
	armv7m) command -v arm-none-eabi-gcc >/dev/null || { \
		echo "error: ARCH=armv7m needs arm-none-eabi-gcc (apt install gcc-arm-none-eabi)" >&2; exit 1; } ;; \
	xtensawin) PATH="$(S3_BIN):$$PATH" command -v xtensa-esp32s3-elf-gcc >/dev/null || \
		PATH="$(S3_BIN):$$PATH" command -v xtensa-esp32-elf-gcc >/dev/null || { \
		echo "error: ARCH=xtensawin (ESP32, ESP32-S3) needs xtensa-esp32s3-elf-gcc: ESP-IDF's on PATH" >&2; \
		echo "  ('. \$$IDF_PATH/export.sh'), or the test toolchain: make s3-tools SHARED_DIR=..." >&2; exit 1; } ;; \
	*) echo "error: ARCH=$(1): give ARCH=x64, armv7m or xtensawin" >&2; exit 1 ;; \
	esac
	@[ "$(1)" = x64 ] || $(NATMOD_PYTHON) -c "import ar" 2>/dev/null || { \
		echo "error: ARCH=$(1) links libgcc.a, which needs: pip install ar" >&2; exit 1; }
	PATH="$(S3_BIN):$$PATH" $(MAKE) -C $(NATMOD_REPO)/usermod/natmod ARCH=$(1) MPY_DIR=$(MICROPY_DIR) \
		OUT=$(NATMOD_OUT)/$(1) PYTHON=$(NATMOD_PYTHON)
endef

# xtensawin takes the S3 test toolchain when ESP-IDF's compiler is not on PATH.
NATMOD_TOOLS = $(if $(filter xtensawin,$(NATMOD_ARCH)),$(if $(S3_GCC_ON_PATH),,$(S3_TOOLS_STAMP)))

natmod: $(MICROPY_DIR)/py/mpconfig.h $(NATMOD_TOOLS)
	$(call natmod_build,$(NATMOD_ARCH))

natmod-all: $(MICROPY_DIR)/py/mpconfig.h
	$(call natmod_build,x64)
	$(call natmod_build,armv7m)
	$(MAKE) natmod ARCH=xtensawin

# MicroPython's unix port as it comes: no user C modules, nothing frozen.
stock-unix: $(MICROPY_DIR)/py/mpconfig.h
	$(MAKE) -C $(MICROPY_DIR)/ports/unix VARIANT=standard BUILD=$(STOCK_UNIX_BUILD) \
		USER_C_MODULES= FROZEN_MANIFEST= MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 STRIP=

# The emulated MCU (boards/qemu: Cortex-M3, ROMFS, littlefs) without _llm and
# without the frozen llm package; its own build directory, so that the qstrs
# of the firmware with the module do not leak in.
stock-qemu: $(MICROPY_DIR)/py/mpconfig.h
	MICROPY_GIT_TAG=v1.25.0 MICROPY_GIT_HASH=v1.25.0 \
		$(MAKE) -C $(MICROPY_DIR)/ports/qemu BOARD_DIR=$(NATMOD_REPO)/boards/qemu \
		BUILD=$(STOCK_QEMU_BUILD) USER_C_MODULES= FROZEN_MANIFEST=
