#include "kernels.h"
#include "sampler.h"
#include "sort.h"

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
static int ranks_before(const void *ctx, int32_t a, int32_t b) {
    const float *probs = ctx;
    return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
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
    llm_sort_indices(scratch, n0, ranks_before, probs);
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
