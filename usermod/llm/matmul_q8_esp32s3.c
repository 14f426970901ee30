#include <string.h>
#include "kernels.h"
#include "matmul_q8_esp32s3.h"

// IEEE half to float, as llm_f16_to_f32: the normal halves every non-zero
// scale a converter writes, inline by rebiasing the exponent (no call, whose
// windowed ABI would spill the loop's registers); zero, subnormals, Inf and
// NaN through llm_f16_to_f32.
static inline float half_to_float(uint16_t h) {
    uint32_t rest = h & 0x7fffu;
    if (__builtin_expect(rest - 0x0400u < 0x7800u, 1)) {
        uint32_t u = ((uint32_t)(h & 0x8000u) << 16) | ((rest << 13) + ((uint32_t)(127 - 15) << 23));
        float f;
        __builtin_memcpy(&f, &u, sizeof(f));
        return f;
    }
    return llm_f16_to_f32(h);
}

void llm_matmul_q8_esp32s3(float *out, const int8_t *xq, const float *xs,
    const int8_t *w, const uint16_t *ws, int n, int d, int gs) {
    int groups = n / gs;
    if (groups == 1) {
        // One group per row (every 64-wide row of stories260K): as
        // llm_matmul_q8, 0 + (dot * w_scale) * x_scale.
        for (int i = 0; i < d; i++) {
            int32_t dot = esp_nn_dot_s8_aligned_esp32s3(xq, w, n);
            out[i] = 0.0f + (float)dot * half_to_float(ws[i]) * xs[0];
            w += n;
        }
        return;
    }
    for (int i = 0; i < d; i++) {
        float sum = 0.0f;
        for (int g = 0; g < groups; g++) {
            int32_t dot = esp_nn_dot_s8_aligned_esp32s3(xq + g * gs, w, gs);
            // As llm_matmul_q8: (dot * w_scale) * x_scale, added in group order.
            sum += (float)dot * half_to_float(ws[g]) * xs[g];
            w += gs;
        }
        ws += groups;
        out[i] = sum;
    }
}
