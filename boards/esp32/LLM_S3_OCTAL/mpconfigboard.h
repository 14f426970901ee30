// ESP32-S3 with 32 MiB octal flash and 8 MiB octal PSRAM (e.g. N32R8V modules).
#define MICROPY_HW_MCU_NAME                 "ESP32S3"

// ROMFS: the "romfs" partition is memory-mapped and mounted at /rom on boot,
// so model weights are read in place from flash (vfs.rom_ioctl, mpremote romfs).
#define MICROPY_VFS_ROM                     (1)

// What the LLM_S3* boards share: name, UART REPL, I2C pins.
#include "../common/llm_mpconfigboard.h"
