// The int8 matmul: portable C in matmul_q8.c, and the target's SIMD
// version behind one name (matmul_q8_sse2.c on x86-64, matmul_q8_esp32s3.c
// on the ESP32-S3 with esp-nn).  Plain C.
#ifndef LLM_MATMUL_Q8_H
#define LLM_MATMUL_Q8_H

#include <stdint.h>

// out[d] = W[d][n] @ x[n] for int8 W and int8 x, both grouped by gs along n:
// each group's integer dot product is scaled by w_scale * x_scale, with
// W's scales as halves [d][n / gs].  gs divides n (a padded row: zero
// codes past the real columns keep the result exact).  On the ESP32-S3
// (LLM_ESPNN) groups whose size is a multiple of 16, with xq and w 16-byte
// aligned, go through the SIMD (esp-nn's dot kernel); the results are the
// same bits either way.
void llm_matmul_q8(float *out, const int8_t *xq, const float *xs,
    const int8_t *w, const uint16_t *ws, int n, int d, int gs);

#if defined(__SSE2__) || defined(LLM_ESPNN)
#define LLM_MATMUL_Q8_SIMD (1)
// Rows [0, r) of llm_matmul_q8 with the target's SIMD, the same bits;
// returns r, 0 where its conditions do not hold (the S3: groups of a
// multiple of 16, xq and w 16-byte aligned).
int llm_matmul_q8_simd(float *out, const int8_t *xq, const float *xs,
    const int8_t *w, const uint16_t *ws, int n, int d, int gs);
#endif

#endif
