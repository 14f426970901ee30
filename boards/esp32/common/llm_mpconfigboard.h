// Settings shared by the LLM_S3* boards, #included by each board's
// mpconfigboard.h (which the esp32 port finds in MICROPY_BOARD_DIR); as
// MicroPython's ESP32_GENERIC_S3.

#ifndef MICROPY_HW_BOARD_NAME
// Normally set by the board's mpconfigboard.cmake.
#define MICROPY_HW_BOARD_NAME               "LLM ESP32-S3"
#endif

// REPL on UART0 too, for modules with an external USB-UART; native USB gives a CDC REPL.
#define MICROPY_HW_ENABLE_UART_REPL         (1)

#define MICROPY_HW_I2C0_SCL                 (9)
#define MICROPY_HW_I2C0_SDA                 (8)
