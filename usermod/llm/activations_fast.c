// The activations of the int8 paths: llm_exp_fast and llm_swiglu_fast
// (activations_fast.h).
#include "activations_fast.h"
#include "fastexp.h"
#include "kernels_xtensa.h"  // llm_div_s3, the S3's division inline

void llm_exp_fast(float *x, int n) {
    for (int i = 0; i < n; i++) {
        x[i] = exp_fast(x[i]);
    }
}

void llm_swiglu_fast(float *hb, const float *hb2, int n) {
    #if LLM_S3
    // The same operations: the division inline (kernels_xtensa.h: the FPU's
    // sequence that libgcc's __divsf3 runs, so the same bits), so that the
    // constants stay in registers instead of being reloaded around a call.
    float one = opaque_f(1.0f), cap = opaque_f(88.0f);
    uint32_t bias = opaque_u(127u - 0x4b400000u);
    for (int i = 0; i < n; i++) {
        float val = hb[i], x = -val;
        val *= llm_div_s3(one, one + exp_fast_k(x > cap ? cap : x, one, bias));
        hb[i] = val * hb2[i];
    }
    #else
    for (int i = 0; i < n; i++) {
        float val = hb[i];
        val *= 1.0f / (1.0f + exp_fast(-val));
        hb[i] = val * hb2[i];
    }
    #endif
}
