# ESP32-S3 with quad PSRAM, 4 MiB flash (e.g. ESP32-S3FH4R2: 4 MiB flash, 2 MiB quad PSRAM).
# Build: make -C $MICROPY_DIR/ports/esp32 BOARD_DIR=<this dir> USER_C_MODULES=<repo>/usermod/micropython.cmake
set(IDF_TARGET esp32s3)

# Port fragments are relative to ports/esp32 (CMake's source dir at this point).
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.usb
    boards/sdkconfig.ble
    boards/sdkconfig.spiram_sx
    ${MICROPY_BOARD_DIR}/sdkconfig.board
)

list(APPEND MICROPY_DEF_BOARD
    MICROPY_HW_BOARD_NAME="LLM ESP32S3 module with 4MB flash and Quad-SPIRAM"
)

include(${MICROPY_BOARD_DIR}/../common/llm_board.cmake)
