# ESP32-S3 with octal PSRAM, 16 MiB flash (e.g. ESP32-S3-WROOM-1-N16R8: 16 MiB quad flash, 8 MiB octal PSRAM).
# Build: make firmware BOARD=LLM_S3_SPIRAM_OCT (boards/esp32/esp32.mk)
set(IDF_TARGET esp32s3)

# Port fragments are relative to ports/esp32; common/llm_board.cmake puts base,
# usb and ble first. PSRAM as MicroPython's ESP32_GENERIC_S3 SPIRAM_OCT variant.
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.spiram_sx
    boards/sdkconfig.spiram_oct
    ${MICROPY_BOARD_DIR}/sdkconfig.board
)

list(APPEND MICROPY_DEF_BOARD
    MICROPY_HW_BOARD_NAME="LLM ESP32S3 module with 16MB flash and Octal-SPIRAM"
)

include(${MICROPY_BOARD_DIR}/../common/llm_board.cmake)
