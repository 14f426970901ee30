// A tensor of weights as the .llm file stores it: its type (fileformat.h's
// llm_type_t, the table's second field) says how data and scales are laid
// out, and each kernel that reads a tensor dispatches on it.  Plain C.
#ifndef LLM_TENSOR_H
#define LLM_TENSOR_H

#include <stdint.h>
#include "fileformat.h"

typedef struct {
    const void *data;       // F32: float [rows][cols]; Q8: int8 [rows][cols padded to group_size];
                            // Q4: the same codes at two per byte (matmul_q4.h)
    const uint16_t *scales; // Q8, Q4: halves [rows][padded cols / group_size]
    llm_type_t type;
    int32_t group_size;     // Q8, Q4: rows are padded with zeros to a multiple of it
    int32_t scales_plain;   // Q4: every scale is +0 or a positive normal half (llm_q4_scales_plain),
                            // checked when the model is loaded; 0 otherwise
} llm_tensor_t;

// Columns of a grouped row as stored: cols rounded up to a multiple of gs.
static inline uint32_t llm_padded_cols(uint32_t cols, uint32_t gs) {
    return (cols + gs - 1) / gs * gs;
}

// The rule for a group size (fileformat.group_size_ok): it divides the row,
// or it is a multiple of LLM_FILE_SIMD_BYTES at most the row rounded up to
// LLM_FILE_SIMD_BYTES.  A padded row is then shorter than 2 * cols + 16.
static inline int llm_group_size_ok(uint32_t cols, int32_t gs) {
    const uint32_t simd = LLM_FILE_SIMD_BYTES;
    return gs > 0 && (cols % (uint32_t)gs == 0
        || ((uint32_t)gs % simd == 0 && (uint32_t)gs <= llm_padded_cols(cols, simd)));
}

#endif
