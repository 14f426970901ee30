# The emulated ESP32-S3 core: boards/s3sim, a MicroPython port for QEMU's
# `sim` machine with -cpu esp32s3, built by the S3 compiler.  Included from
# the top Makefile (MICROPY_DIR, S3_BIN, S3_QEMU, S3_TOOLS_STAMP, PYTHON).
#
#   make s3-firmware       build/s3sim/firmware.elf (_llm + frozen llm)
#   make s3-stock          build/s3sim-stock/firmware.elf (neither)
#   make s3-firmware-psram build/s3sim-psram/firmware.elf: as s3-firmware with a
#                          heap of S3_PSRAM_HEAP bytes (default 4000000) in "PSRAM",
#                          like the LLM_S3_SPIRAM boards
#   make emulator-s3       build, start it in the background, print PORT=/dev/pts/N
#   make emulator-s3-stop  stop it
#   make s3-run SCRIPT=file.py [ROMFS_IMG=img]   run a script on a fresh emulator, print its output
#
# Variables: MICROPY_HEAP_SIZE (default 256000), ROMFS_BYTES (0x400000, max
# 32 MB), RAMDISK_BYTES, S3SIM_BUILD (build dir; give a bigger-heap build its own).

S3SIM_REPO ?= $(CURDIR)
S3SIM_DIR = $(S3SIM_REPO)/boards/s3sim
S3SIM_BUILD ?= $(S3SIM_REPO)/build/s3sim
S3SIM_STOCK_BUILD ?= $(S3SIM_REPO)/build/s3sim-stock
S3SIM_PSRAM_BUILD ?= $(S3SIM_REPO)/build/s3sim-psram
S3_PSRAM_HEAP ?= 4000000
S3SIM_ELF = $(S3SIM_BUILD)/firmware.elf
S3SIM_PYTHON ?= $(or $(PYTHON),python3)
S3SIM_EMU = $(S3SIM_PYTHON) $(S3SIM_REPO)/host/emulator.py --s3 --qemu $(S3_QEMU)

# Only the variables the port needs, passed explicitly (no leak of others'
# command-line settings such as BOARD or BUILD).
S3SIM_PORT_ARGS = TOP=$(MICROPY_DIR) CROSS_COMPILE=$(S3_BIN)/xtensa-esp32s3-elf- \
	MICROPY_GIT_TAG=v1.25.0 MICROPY_GIT_HASH=v1.25.0 \
	$(if $(MICROPY_HEAP_SIZE),MICROPY_HEAP_SIZE=$(MICROPY_HEAP_SIZE)) \
	$(if $(ROMFS_BYTES),ROMFS_BYTES=$(ROMFS_BYTES)) \
	$(if $(RAMDISK_BYTES),RAMDISK_BYTES=$(RAMDISK_BYTES))

.PHONY: s3-firmware s3-firmware-psram s3-stock emulator-s3 emulator-s3-stop s3-run

# mpy-cross through the top Makefile's file rule, so that parallel targets
# do not build it twice at once.
s3-firmware: $(MICROPY_DIR)/py/mpconfig.h $(S3_TOOLS_STAMP) $(MPY_CROSS)
	$(MAKE) -C $(S3SIM_DIR) $(S3SIM_PORT_ARGS) BUILD=$(S3SIM_BUILD) \
		USER_C_MODULES=$(S3SIM_REPO)/usermod FROZEN_MANIFEST=$(S3SIM_DIR)/manifest.py

s3-firmware-psram: $(MICROPY_DIR)/py/mpconfig.h $(S3_TOOLS_STAMP) $(MPY_CROSS)
	$(MAKE) -C $(S3SIM_DIR) $(filter-out MICROPY_HEAP_SIZE=%,$(S3SIM_PORT_ARGS)) BUILD=$(S3SIM_PSRAM_BUILD) \
		MICROPY_HEAP_SIZE=$(S3_PSRAM_HEAP) \
		USER_C_MODULES=$(S3SIM_REPO)/usermod FROZEN_MANIFEST=$(S3SIM_DIR)/manifest.py

s3-stock: $(MICROPY_DIR)/py/mpconfig.h $(S3_TOOLS_STAMP)
	$(MAKE) -C $(S3SIM_DIR) $(S3SIM_PORT_ARGS) BUILD=$(S3SIM_STOCK_BUILD) \
		USER_C_MODULES= FROZEN_MANIFEST=

emulator-s3: s3-firmware
	$(S3SIM_EMU) --elf $(S3SIM_ELF) --pidfile $(S3SIM_BUILD)/emulator.pid

emulator-s3-stop:
	$(S3SIM_EMU) --stop --pidfile $(S3SIM_BUILD)/emulator.pid

s3-run: s3-firmware
	@[ -n "$(SCRIPT)" ] || { echo "error: give SCRIPT=file.py" >&2; exit 1; }
	$(S3SIM_EMU) --elf $(S3SIM_ELF) --run $(SCRIPT) $(if $(ROMFS_IMG),--romfs $(ROMFS_IMG))
