// The 4-bit weight matmul (.llm tensor type 2, docs/format.md).  Plain C:
// no MicroPython types.
#ifndef LLM_MATMUL_Q4_H
#define LLM_MATMUL_Q4_H

#include <stdint.h>

// out[d] = W[d][n] @ x[n] for 4-bit W and int8 x, both grouped by gs along
// n (gs even, dividing n: a padded row).  W's row i is n / 2 bytes at
// w + i * n / 2, each byte two codes q + 8 (q in [-8, 7]), the even column
// in the low nibble; its scales are halves ws[i * n / gs + g].  x is
// llm_quantize_q8's codes xq and scales xs in the same groups.  Per row and
// group the integer dot product is exact, and the float arithmetic is
// llm_matmul_q8's: sum += ((float)dot * w_scale) * x_scale, groups in order,
// so every target gives the same bits.
void llm_matmul_q4(float *out, const int8_t *xq, const float *xs,
    const uint8_t *w, const uint16_t *ws, int n, int d, int gs);

// Row `row` of a 4-bit tensor with rows of n padded columns, as floats
// (q * scale) for its first cols values: the token embedding's lookup.
void llm_dequantize_q4_row(float *out, const uint8_t *w, const uint16_t *ws, int n, int gs, int row, int cols);

#endif
