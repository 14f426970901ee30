#include "matmul_q8.h"
#include "quant.h"

// Integer dot products: any order of integer additions gives the same
// result, so they are free to regroup.  Unrolled by four with two
// accumulators, as MCU compilers at -O2 do not unroll and the loop overhead
// would cost as much as the multiply-adds.
static inline int32_t dot_q8(const int8_t *a, const int8_t *b, int n) {
    int32_t d0 = 0, d1 = 0;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        d0 += (int32_t)a[j] * (int32_t)b[j] + (int32_t)a[j + 1] * (int32_t)b[j + 1];
        d1 += (int32_t)a[j + 2] * (int32_t)b[j + 2] + (int32_t)a[j + 3] * (int32_t)b[j + 3];
    }
    for (; j < n; j++) {
        d0 += (int32_t)a[j] * (int32_t)b[j];
    }
    return d0 + d1;
}

void llm_matmul_q8(float *out, const int8_t *xq, const float *xs,
    const int8_t *w, const uint16_t *ws, int n, int d, int gs) {
    int i = 0;
    #if defined(LLM_MATMUL_Q8_SIMD)
    i = llm_matmul_q8_simd(out, xq, xs, w, ws, n, d, gs);
    #endif
    int groups = n / gs;
    for (; i < d; i++) {
        const int8_t *row = w + (intptr_t)i * n;
        const uint16_t *row_scales = ws + (intptr_t)i * groups;
        float sum = 0.0f;
        for (int g = 0; g < groups; g++) {
            int32_t dot = dot_q8(row + g * gs, xq + g * gs, gs);
            sum += (float)dot * llm_half_to_float(row_scales[g]) * xs[g];
        }
        out[i] = sum;
    }
}
