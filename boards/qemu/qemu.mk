# Emulated device: MicroPython's qemu port (mps2-an385) with this board.
# Included from the top-level Makefile, which defines MICROPY_DIR and a rule
# for $(MICROPY_DIR)/py/mpconfig.h that fetches the MicroPython source.
#
#   make qemu-firmware   build build/qemu/firmware.elf (and mpy-cross)
#   make emulator        build, then start qemu in the background; prints PORT=/dev/pts/N
#   make emulator-stop   stop it
#
# Needs: gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm (apt).

QEMU_REPO ?= $(CURDIR)
QEMU_BOARD_DIR = $(QEMU_REPO)/boards/qemu
QEMU_BUILD ?= $(QEMU_REPO)/build/qemu
QEMU_USER_C_MODULES ?= $(QEMU_REPO)/usermod
QEMU_ELF = $(QEMU_BUILD)/firmware.elf
QEMU_PYTHON ?= $(or $(PYTHON),python3)

# Everything the port build needs, given on its command line so that nothing
# from the caller's environment or command line overrides it.
QEMU_PORT_ARGS = \
	BOARD_DIR=$(QEMU_BOARD_DIR) \
	BUILD=$(QEMU_BUILD) \
	USER_C_MODULES=$(QEMU_USER_C_MODULES) \
	FROZEN_MANIFEST=$(QEMU_BOARD_DIR)/manifest.py

.PHONY: qemu-firmware emulator emulator-stop

qemu-firmware: $(MICROPY_DIR)/py/mpconfig.h
	$(MAKE) -C $(MICROPY_DIR)/mpy-cross
	MICROPY_GIT_TAG=v1.25.0 MICROPY_GIT_HASH=v1.25.0 \
		$(MAKE) -C $(MICROPY_DIR)/ports/qemu $(QEMU_PORT_ARGS)

emulator: qemu-firmware
	$(QEMU_PYTHON) $(QEMU_REPO)/host/emulator.py --elf $(QEMU_ELF)

emulator-stop:
	$(QEMU_PYTHON) $(QEMU_REPO)/host/emulator.py --stop
