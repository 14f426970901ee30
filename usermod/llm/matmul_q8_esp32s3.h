// The int8 matmul through the ESP32-S3's SIMD (PIE): each group's dot product
// is esp-nn's esp_nn_dot_s8_aligned_esp32s3 (16 int8 multiply-adds per
// instruction); the float scaling is llm_matmul_q8's, operation for
// operation, so the result is the same bits as the portable C.  Built when
// LLM_ESPNN is defined (S3 builds that link esp-nn).
#ifndef LLM_MATMUL_Q8_ESP32S3_H
#define LLM_MATMUL_Q8_ESP32S3_H

#include <stdint.h>

// esp-nn 1.2.3: a and b 16-byte aligned, len a multiple of 16.
int32_t esp_nn_dot_s8_aligned_esp32s3(const int8_t *a, const int8_t *b, int32_t len);

// llm_matmul_q8 for gs a multiple of 16 and xq, w 16-byte aligned (so that
// every group of every row is: n is a multiple of gs).
void llm_matmul_q8_esp32s3(float *out, const int8_t *xq, const float *xs,
    const int8_t *w, const uint16_t *ws, int n, int d, int gs);

#endif
