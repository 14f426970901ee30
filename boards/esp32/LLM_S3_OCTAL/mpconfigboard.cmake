# ESP32-S3 with 32 MiB octal flash and 8 MiB octal PSRAM (e.g. ESP32-S3-WROOM-2-N32R8V).
# Its romfs holds stories15M in int8 (boards/esp32/README.md: how its size was chosen).
# Build: make firmware BOARD=LLM_S3_OCTAL (boards/esp32/esp32.mk)
set(IDF_TARGET esp32s3)

# Port fragments are relative to ports/esp32; common/llm_board.cmake puts base,
# usb and ble first. PSRAM as MicroPython's ESP32_GENERIC_S3 SPIRAM_OCT variant.
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.spiram_sx
    boards/sdkconfig.spiram_oct
    ${MICROPY_BOARD_DIR}/sdkconfig.board
)

list(APPEND MICROPY_DEF_BOARD
    MICROPY_HW_BOARD_NAME="LLM ESP32S3 module with 32MB Octal-flash and Octal-SPIRAM"
)

include(${MICROPY_BOARD_DIR}/../common/llm_board.cmake)
