#include "kernels.h"
#include "sampler.h"

uint32_t llm_random_u32(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

float llm_random_f32(uint64_t *state) {
    return (float)(llm_random_u32(state) >> 8) / 16777216.0f;
}

int llm_sample_mult(const float *probs, int n, float coin) {
    float cdf = 0.0f;
    for (int i = 0; i < n; i++) {
        cdf += probs[i];
        if (coin < cdf) {
            return i;
        }
    }
    return n - 1;
}

// Descending by probability; equal probabilities keep ascending index, which
// is what glibc's (merge-sort based) qsort gives llama2.c.
static int ranks_before(const float *probs, int32_t a, int32_t b) {
    return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
}

// Heap sort: no recursion and no extra memory, so it is safe on a small stack.
static void sift_down(const float *probs, int32_t *idx, int root, int end) {
    for (;;) {
        int child = 2 * root + 1;
        if (child >= end) {
            return;
        }
        // Min-heap on rank order, so the last-ranked candidate is at the root.
        if (child + 1 < end && ranks_before(probs, idx[child], idx[child + 1])) {
            child++;
        }
        if (!ranks_before(probs, idx[root], idx[child])) {
            return;
        }
        int32_t tmp = idx[root];
        idx[root] = idx[child];
        idx[child] = tmp;
        root = child;
    }
}

static void sort_by_rank(const float *probs, int32_t *idx, int n) {
    for (int i = n / 2 - 1; i >= 0; i--) {
        sift_down(probs, idx, i, n);
    }
    for (int end = n - 1; end > 0; end--) {
        int32_t tmp = idx[0];
        idx[0] = idx[end];
        idx[end] = tmp;
        sift_down(probs, idx, 0, end);
    }
}

int llm_sample_topp(const float *probs, int n, float topp, float coin, int32_t *scratch) {
    // Tokens below the cutoff cannot be part of the nucleus; dropping them
    // first keeps the sort short.
    const float cutoff = (1.0f - topp) / (float)(n - 1);
    int n0 = 0;
    for (int i = 0; i < n; i++) {
        if (probs[i] >= cutoff) {
            scratch[n0++] = i;
        }
    }
    if (n0 == 0) {
        // Only reachable with NaN probabilities; llama2.c would read garbage.
        return llm_sample_mult(probs, n, coin);
    }
    sort_by_rank(probs, scratch, n0);
    float cumulative = 0.0f;
    int last = n0 - 1;
    for (int i = 0; i < n0; i++) {
        cumulative += probs[scratch[i]];
        if (cumulative > topp) {
            last = i;
            break;
        }
    }
    float r = coin * cumulative;
    float cdf = 0.0f;
    for (int i = 0; i <= last; i++) {
        cdf += probs[scratch[i]];
        if (r < cdf) {
            return scratch[i];
        }
    }
    return scratch[last];
}

int llm_sample(float *logits, int n, float temperature, float topp,
    uint64_t *state, int32_t *scratch) {
    if (temperature == 0.0f) {
        return llm_argmax(logits, n);
    }
    for (int i = 0; i < n; i++) {
        logits[i] /= temperature;
    }
    llm_softmax(logits, n);
    float coin = llm_random_f32(state);
    if (topp <= 0.0f || topp >= 1.0f) {
        return llm_sample_mult(logits, n, coin);
    }
    return llm_sample_topp(logits, n, topp, coin, scratch);
}
