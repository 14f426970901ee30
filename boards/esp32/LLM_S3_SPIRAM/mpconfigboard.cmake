# ESP32-S3 with quad PSRAM, 4 MiB flash (e.g. ESP32-S3FH4R2: 4 MiB flash, 2 MiB quad PSRAM).
# Build: make firmware BOARD=LLM_S3_SPIRAM (boards/esp32/esp32.mk)
set(IDF_TARGET esp32s3)

# Port fragments are relative to ports/esp32; common/llm_board.cmake puts base,
# usb and ble first. Quad PSRAM as MicroPython's ESP32_GENERIC_S3.
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.spiram_sx
    ${MICROPY_BOARD_DIR}/sdkconfig.board
)

list(APPEND MICROPY_DEF_BOARD
    MICROPY_HW_BOARD_NAME="LLM ESP32S3 module with 4MB flash and Quad-SPIRAM"
)

include(${MICROPY_BOARD_DIR}/../common/llm_board.cmake)
