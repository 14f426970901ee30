// esp-nn's int8 dot kernels for the ESP32-S3 (Apache-2.0, version 1.2.3),
// assembled from esp-nn's own source (ESPNN_DIR/src/common on the include
// path), unmodified.  Board builds link the ESP-IDF component
// espressif/esp-nn instead; this file is for the Make-based S3 builds.
#include "esp_nn_dot_s8_esp32s3.S"
