// The int8 matmul through the ESP32-S3's SIMD (PIE): each group's dot product
// is esp-nn's esp_nn_dot_s8_aligned_esp32s3 (16 int8 multiply-adds per
// instruction); the float scaling is llm_matmul_q8's, operation for
// operation, so the result is the same bits as the portable C.  Built when
// LLM_ESPNN is defined (S3 builds that link esp-nn): matmul_q8.h.
#include "matmul_q8.h"
#include "quant.h"

// esp-nn 1.2.3: a and b 16-byte aligned, len a multiple of 16.
int32_t esp_nn_dot_s8_aligned_esp32s3(const int8_t *a, const int8_t *b, int32_t len);

// Every row (n is a multiple of gs, so every group of every row is aligned),
// or none.
int llm_matmul_q8_simd(float *out, const int8_t *xq, const float *xs,
    const int8_t *w, const uint16_t *ws, int n, int d, int gs) {
    if (gs % 16 != 0 || (((uintptr_t)xq | (uintptr_t)w) & 15) != 0) {
        return 0;
    }
    int groups = n / gs;
    if (groups == 1) {
        // One group per row (every 64-wide row of stories260K): as
        // llm_matmul_q8, 0 + (dot * w_scale) * x_scale.
        for (int i = 0; i < d; i++) {
            int32_t dot = esp_nn_dot_s8_aligned_esp32s3(xq, w, n);
            out[i] = 0.0f + (float)dot * llm_half_to_float(ws[i]) * xs[0];
            w += n;
        }
        return d;
    }
    for (int i = 0; i < d; i++) {
        float sum = 0.0f;
        for (int g = 0; g < groups; g++) {
            int32_t dot = esp_nn_dot_s8_aligned_esp32s3(xq + g * gs, w, gs);
            // As llm_matmul_q8: (dot * w_scale) * x_scale, added in group order.
            sum += (float)dot * llm_half_to_float(ws[g]) * xs[g];
            w += gs;
        }
        ws += groups;
        out[i] = sum;
    }
    return d;
}
