// ESP32-S3 with quad PSRAM, 4 MiB flash (ESP32-S3FH4R2).
#ifndef MICROPY_HW_BOARD_NAME
// Normally set by mpconfigboard.cmake.
#define MICROPY_HW_BOARD_NAME               "LLM ESP32-S3"
#endif
#define MICROPY_HW_MCU_NAME                 "ESP32S3"

// REPL on UART0 too, for modules with an external USB-UART; native USB gives a CDC REPL.
#define MICROPY_HW_ENABLE_UART_REPL         (1)

#define MICROPY_HW_I2C0_SCL                 (9)
#define MICROPY_HW_I2C0_SDA                 (8)

// ROMFS: the "romfs" partition is memory-mapped and mounted at /rom on boot,
// so model weights are read in place from flash (vfs.rom_ioctl, mpremote romfs).
#define MICROPY_VFS_ROM                     (1)
