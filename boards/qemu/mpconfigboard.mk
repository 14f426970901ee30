# Board definition for MicroPython's qemu port, used out of tree:
#   make -C $(MICROPY_DIR)/ports/qemu BOARD_DIR=<this dir> BUILD=<build dir> \
#        USER_C_MODULES=<usermod dir> FROZEN_MANIFEST=<this dir>/manifest.py
# Based on the port's boards/MPS2_AN385 (Cortex-M3, qemu machine mps2-an385),
# plus a ROMFS "flash" region, a littlefs RAM disk, Ctrl-C via the UART RX
# interrupt and a ~250 KB GC heap (the budget of an ESP32-S3 without PSRAM).
# See NOTES.md.

QEMU_ARCH = arm
QEMU_MACHINE = mps2-an385

CFLAGS += -mthumb -mcpu=cortex-m3 -mfloat-abi=soft
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M3"'

# Board config header: includes the port's mpconfigport.h, then overrides it.
# ../common holds the storage and time code shared with boards/s3sim.
CFLAGS += -I$(BOARD_DIR) -I$(BOARD_DIR)/../common -DMP_CONFIGFILE='"mpconfigboard.h"'

# GC heap: about 250 KB, like a no-PSRAM ESP32-S3.
MICROPY_HEAP_SIZE ?= 256000

# ROMFS partition (vfs.rom_ioctl segment 0, at 0x21000000, max 16 MB) and
# littlefs RAM disk mounted at / (at 0x20000000, max 4 MB); defaults match
# the romfs/vfs partitions of the 8 MiB-flash ESP32-S3 board.
ROMFS_BYTES ?= 0x400000
RAMDISK_BYTES ?= 0x200000
LDSCRIPT = $(BOARD_DIR)/mps2_an385.ld
LDFLAGS += -Wl,--defsym=_board_romfs_size=$(ROMFS_BYTES) -Wl,--defsym=_board_ramdisk_size=$(RAMDISK_BYTES)

# Board C code (found through vpath, so names must not clash with port files).
vpath %.c $(BOARD_DIR) $(BOARD_DIR)/../common
SRC_C += board_qemu.c board_storage.c shared/timeutils/timeutils.c
# UART input goes through the board's ring buffer, filled by the RX interrupt
# handler, which turns Ctrl-C into KeyboardInterrupt while code runs. The port's
# mphalport.c calls uart_rx_chr(); the linker redirects that to the board's
# __wrap_uart_rx_chr() (the port's uart.c is still used for init and output).
LDFLAGS += -Wl,--wrap=uart_rx_chr

SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o

MICROPY_VFS_LFS2 = 1

FROZEN_MANIFEST ?= $(BOARD_DIR)/manifest.py

MPY_CROSS_FLAGS += -march=armv7m
