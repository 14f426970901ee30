# ESP32-S3 without PSRAM, 8 MiB flash (e.g. ESP32-S3-WROOM-1-N8, ESP32-S3-DevKitC-1-N8).
# Build: make firmware BOARD=LLM_S3 (boards/esp32/esp32.mk)
set(IDF_TARGET esp32s3)

# common/llm_board.cmake puts the port's base, usb and ble fragments first.
set(SDKCONFIG_DEFAULTS
    ${MICROPY_BOARD_DIR}/sdkconfig.board
)

list(APPEND MICROPY_DEF_BOARD
    MICROPY_HW_BOARD_NAME="LLM ESP32S3 module with 8MB flash"
)

include(${MICROPY_BOARD_DIR}/../common/llm_board.cmake)
