// The int8 paths' activations (activations_fast.c), with the fast
// exponentials of fastexp.h.  Plain C.
#ifndef LLM_ACTIVATIONS_FAST_H
#define LLM_ACTIVATIONS_FAST_H

// In place: x[i] = e**x[i] for finite x, within 2 ulp of the C library's
// expf for -87.33 <= x <= 88 (tests/test_attention_q8.py); below that about
// 1.2e-38 (the exact result is smaller still), above 88 e**88.  No libm.
void llm_exp_fast(float *x, int n);

// llm_swiglu with llm_exp_fast's exponential.
void llm_swiglu_fast(float *hb, const float *hb2, int n);

#endif
