# ESP32-S3 without PSRAM, 8 MiB flash (e.g. ESP32-S3-WROOM-1-N8, ESP32-S3-DevKitC-1-N8).
# Build: make -C $MICROPY_DIR/ports/esp32 BOARD_DIR=<this dir> USER_C_MODULES=<repo>/usermod/micropython.cmake
set(IDF_TARGET esp32s3)

# Port fragments are relative to ports/esp32 (CMake's source dir at this point).
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.usb
    boards/sdkconfig.ble
    ${MICROPY_BOARD_DIR}/sdkconfig.board
)

list(APPEND MICROPY_DEF_BOARD
    MICROPY_HW_BOARD_NAME="LLM ESP32S3 module with 8MB flash"
)

include(${MICROPY_BOARD_DIR}/../common/llm_board.cmake)
