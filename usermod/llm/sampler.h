// The sampling steps of llama2.c's run.c, bit for bit: its xorshift RNG,
// multinomial sampling and top-p (nucleus) sampling.
#ifndef LLM_SAMPLER_H
#define LLM_SAMPLER_H

#include <stdint.h>

uint32_t llm_random_u32(uint64_t *state);
float llm_random_f32(uint64_t *state);

// Sample from probabilities that sum to 1, given a coin in [0, 1).
int llm_sample_mult(const float *probs, int n, float coin);

// Top-p sampling.  scratch holds n int32 (candidate indices).
int llm_sample_topp(const float *probs, int n, float topp, float coin, int32_t *scratch);

// llama2.c's sample(): temperature 0 is argmax; otherwise logits are divided
// by the temperature, softmaxed in place, and sampled (top-p if 0 < topp < 1).
int llm_sample(float *logits, int n, float temperature, float topp,
    uint64_t *state, int32_t *scratch);

#endif
