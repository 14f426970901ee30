// Bindings of llama2.c's sampler (sampler.c): random_u32(), sample(), and
// the argument checks Model.sample shares.
#include "py/runtime.h"
#include "modllm.h"
#include "sampler.h"

uint64_t *llm_get_rng(mp_obj_t obj) {
    size_t len;
    uint64_t *state = llm_get_buf(obj, &len, MP_BUFFER_WRITE);
    if (len != 8 || ((uintptr_t)state & 7) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("rng must be an aligned 8-byte buffer"));
    }
    return state;
}

// random_u32(rng): next value of llama2.c's xorshift generator.
static mp_obj_t llm_random_u32_fn(mp_obj_t rng_in) {
    return mp_obj_new_int_from_uint(llm_random_u32(llm_get_rng(rng_in)));
}
MP_DEFINE_CONST_FUN_OBJ_1(llm_random_u32_obj, llm_random_u32_fn);

float llm_get_temperature_topp(mp_obj_t t_in, mp_obj_t p_in, float *topp) {
    float t = (float)mp_obj_get_float(t_in);
    *topp = (float)mp_obj_get_float(p_in);
    if (!(t >= 0.0f) || !(*topp == *topp)) {
        mp_raise_ValueError(MP_ERROR_TEXT("temperature must be >= 0 and top_p a number"));
    }
    return t;
}

// sample(logits, temperature, top_p, rng, scratch): llama2.c's sample();
// logits are overwritten, scratch holds len(logits) int32.
static mp_obj_t llm_sample_fn(size_t n_args, const mp_obj_t *args) {
    size_t n, ns;
    float *logits = llm_get_floats(args[0], &n, MP_BUFFER_WRITE, MP_QSTR_logits);
    float topp;
    float t = llm_get_temperature_topp(args[1], args[2], &topp);
    uint64_t *state = llm_get_rng(args[3]);
    int32_t *scratch = (int32_t *)llm_get_floats(args[4], &ns, MP_BUFFER_WRITE, MP_QSTR_scratch);
    if (n == 0 || n > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("sample: empty logits"));
    }
    llm_need_count(ns, n, MP_QSTR_scratch);
    return MP_OBJ_NEW_SMALL_INT(llm_sample(logits, (int)n, t, topp, state, scratch));
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_sample_obj, 5, 5, llm_sample_fn);
