// One heap sort for the index arrays that the sampler (top-p candidates by
// probability) and the tokenizer (token ids by piece) put in order.  Heap
// sort: no recursion and no extra memory, so it is safe on a small stack.
// Free of MicroPython types, like the kernels.
#ifndef LLM_SORT_H
#define LLM_SORT_H

#include <stdint.h>

// before(ctx, a, b): item a goes before item b.  Heap sort is not stable,
// so this must be a strict total order (ties broken, e.g. by index) for the
// result to be the same everywhere.
typedef int (*llm_before_fn)(const void *ctx, int32_t a, int32_t b);

static inline void llm_sift_down(int32_t *idx, int root, int end, llm_before_fn before, const void *ctx) {
    for (;;) {
        int child = 2 * root + 1;
        if (child >= end) {
            return;
        }
        // A heap with the item that goes last at the root.
        if (child + 1 < end && before(ctx, idx[child], idx[child + 1])) {
            child++;
        }
        if (!before(ctx, idx[root], idx[child])) {
            return;
        }
        int32_t tmp = idx[root];
        idx[root] = idx[child];
        idx[child] = tmp;
        root = child;
    }
}

// Sort idx[n] so that before() holds between neighbours.
static inline void llm_sort_indices(int32_t *idx, int n, llm_before_fn before, const void *ctx) {
    for (int i = n / 2 - 1; i >= 0; i--) {
        llm_sift_down(idx, i, n, before, ctx);
    }
    for (int end = n - 1; end > 0; end--) {
        int32_t tmp = idx[0];
        idx[0] = idx[end];
        idx[end] = tmp;
        llm_sift_down(idx, 0, end, before, ctx);
    }
}

#endif
