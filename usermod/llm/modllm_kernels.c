// Bindings of single kernels, for the tests only (tests/test_kernels.py,
// test_attention_q8.py compare them with numpy): the llm package never calls
// them, so they are compiled only when LLM_TEST_KERNELS is on (modllm.h).
#include "py/runtime.h"
#include "modllm.h"

#if LLM_TEST_KERNELS

#include "activations_fast.h"
#include "attention_q8.h"
#include "kernels.h"
#include "matmul_q4.h"
#include "matmul_q8.h"
#include "quant.h"
#include "kv_cache.h"  // LLM_MAX_CACHE_HEAD

// matmul(out, x, w): out[d] = w[d][n] @ x[n], with n = len(x), d = len(out).
static mp_obj_t llm_matmul(mp_obj_t out_in, mp_obj_t x_in, mp_obj_t w_in) {
    size_t d, n, nw;
    float *out = llm_get_floats(out_in, &d, MP_BUFFER_WRITE, MP_QSTR_out);
    float *x = llm_get_floats(x_in, &n, MP_BUFFER_READ, MP_QSTR_x);
    float *w = llm_get_floats(w_in, &nw, MP_BUFFER_READ, MP_QSTR_w);
    if (n == 0 || d == 0 || n > 0x7fffffff / d || nw != n * d) {
        mp_raise_ValueError(MP_ERROR_TEXT("matmul: w must hold len(out) * len(x) floats"));
    }
    llm_matmul_f32(out, x, w, (int)n, (int)d);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_3(llm_matmul_obj, llm_matmul);

static int check_group(size_t n, mp_obj_t gs_in) {
    int gs = llm_get_positive(gs_in, MP_QSTR_group_size);
    if (n == 0 || n % (size_t)gs != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("group_size must divide the vector length"));
    }
    return gs;
}

// quantize(xq, xs, x, group_size): int8 codes and float scales of x.
static mp_obj_t llm_quantize_fn(size_t n_args, const mp_obj_t *args) {
    size_t nq, ns, n;
    int8_t *xq = llm_get_buf(args[0], &nq, MP_BUFFER_WRITE);
    float *xs = llm_get_floats(args[1], &ns, MP_BUFFER_WRITE, MP_QSTR_xs);
    float *x = llm_get_floats(args[2], &n, MP_BUFFER_READ, MP_QSTR_x);
    int gs = check_group(n, args[3]);
    llm_need_count(nq, n, MP_QSTR_xq);
    llm_need_count(ns, n / gs, MP_QSTR_xs);
    llm_quantize_q8(xq, xs, x, (int)n, gs);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_quantize_obj, 4, 4, llm_quantize_fn);

// matmul_q8(out, xq, xs, w, ws, group_size): int8 matmul, n = len(xq);
// ws holds W's scales as IEEE halves.
static mp_obj_t llm_matmul_q8_fn(size_t n_args, const mp_obj_t *args) {
    size_t d, n, ns, nw, nws;
    float *out = llm_get_floats(args[0], &d, MP_BUFFER_WRITE, MP_QSTR_out);
    int8_t *xq = llm_get_buf(args[1], &n, MP_BUFFER_READ);
    float *xs = llm_get_floats(args[2], &ns, MP_BUFFER_READ, MP_QSTR_xs);
    int8_t *w = llm_get_buf(args[3], &nw, MP_BUFFER_READ);
    uint16_t *ws = llm_get_buf(args[4], &nws, MP_BUFFER_READ);
    if (((uintptr_t)ws & 1) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("ws: buffer not 2-byte aligned"));
    }
    nws /= 2;
    int gs = check_group(n, args[5]);
    if (d == 0 || n > 0x7fffffff / d || nw != n * d) {
        mp_raise_ValueError(MP_ERROR_TEXT("matmul_q8: w must hold len(out) * len(xq) int8"));
    }
    llm_need_count(ns, n / gs, MP_QSTR_xs);
    llm_need_count(nws, d * (n / gs), MP_QSTR_ws);
    llm_matmul_q8(out, xq, xs, w, ws, (int)n, (int)d, gs);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_matmul_q8_obj, 6, 6, llm_matmul_q8_fn);

// matmul_q4(out, xq, xs, w, ws, group_size): 4-bit matmul, n = len(xq);
// w holds len(out) rows of n / 2 bytes (two codes per byte, docs/format.md).
static mp_obj_t llm_matmul_q4_fn(size_t n_args, const mp_obj_t *args) {
    size_t d, n, ns, nw, nws;
    float *out = llm_get_floats(args[0], &d, MP_BUFFER_WRITE, MP_QSTR_out);
    int8_t *xq = llm_get_buf(args[1], &n, MP_BUFFER_READ);
    float *xs = llm_get_floats(args[2], &ns, MP_BUFFER_READ, MP_QSTR_xs);
    uint8_t *w = llm_get_buf(args[3], &nw, MP_BUFFER_READ);
    uint16_t *ws = llm_get_buf(args[4], &nws, MP_BUFFER_READ);
    if (((uintptr_t)ws & 1) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("ws: buffer not 2-byte aligned"));
    }
    nws /= 2;
    int gs = check_group(n, args[5]);
    if (gs % 2 != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("matmul_q4: group_size must be even"));
    }
    if (d == 0 || n > 0x7fffffff / d || nw != n / 2 * d) {
        mp_raise_ValueError(MP_ERROR_TEXT("matmul_q4: w must hold len(out) * len(xq) / 2 bytes"));
    }
    llm_need_count(ns, n / gs, MP_QSTR_xs);
    llm_need_count(nws, d * (n / gs), MP_QSTR_ws);
    llm_matmul_q4(out, xq, xs, w, ws, (int)n, (int)d, gs);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_matmul_q4_obj, 6, 6, llm_matmul_q4_fn);

// rmsnorm(out, x, weight)
static mp_obj_t llm_rmsnorm_fn(mp_obj_t out_in, mp_obj_t x_in, mp_obj_t w_in) {
    size_t no, n, nw;
    float *out = llm_get_floats(out_in, &no, MP_BUFFER_WRITE, MP_QSTR_out);
    float *x = llm_get_floats(x_in, &n, MP_BUFFER_READ, MP_QSTR_x);
    float *w = llm_get_floats(w_in, &nw, MP_BUFFER_READ, MP_QSTR_weight);
    if (n == 0 || no != n || nw != n) {
        mp_raise_ValueError(MP_ERROR_TEXT("rmsnorm: out, x and weight must have the same non-zero length"));
    }
    llm_rmsnorm(out, x, w, (int)n);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_3(llm_rmsnorm_obj, llm_rmsnorm_fn);

// softmax(x[, n]): in place over the first n items (default all).
static mp_obj_t llm_softmax_fn(size_t n_args, const mp_obj_t *args) {
    size_t n;
    float *x = llm_get_floats(args[0], &n, MP_BUFFER_WRITE, MP_QSTR_x);
    if (n_args > 1) {
        size_t want = (size_t)llm_get_positive(args[1], MP_QSTR_n);
        llm_need_count(n, want, MP_QSTR_x);
        n = want;
    }
    if (n == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("softmax: empty vector"));
    }
    llm_softmax(x, (int)n);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_softmax_obj, 1, 2, llm_softmax_fn);

// exp_fast(x): x[i] = e**x[i] in place, the int8 paths' exponential.
static mp_obj_t llm_exp_fast_fn(mp_obj_t x_in) {
    size_t n;
    float *x = llm_get_floats(x_in, &n, MP_BUFFER_WRITE, MP_QSTR_x);
    if (n > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("exp_fast: more than 2**31-1 items"));
    }
    llm_exp_fast(x, (int)n);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_1(llm_exp_fast_obj, llm_exp_fast_fn);

// attention_q8(out, att, q, qs, k, ks, v, vs, pos[, heads]): heads query
// heads (default 1) over one KV head's block of an int8 KV cache (keys and
// values transposed, [head_size][ctx]), with ctx = len(ks), head_size =
// len(out) / heads = len(q) / heads, qs heads floats, att heads * ctx floats.
static mp_obj_t llm_attention_q8_fn(size_t n_args, const mp_obj_t *args) {
    size_t no, na, nq, nqs, nk, nks, nv, nvs;
    float *out = llm_get_floats(args[0], &no, MP_BUFFER_WRITE, MP_QSTR_out);
    float *att = llm_get_floats(args[1], &na, MP_BUFFER_WRITE, MP_QSTR_att);
    int8_t *q = llm_get_buf(args[2], &nq, MP_BUFFER_READ);
    float *qs = llm_get_floats(args[3], &nqs, MP_BUFFER_READ, MP_QSTR_qs);
    int8_t *k = llm_get_buf(args[4], &nk, MP_BUFFER_READ);
    float *ks = llm_get_floats(args[5], &nks, MP_BUFFER_READ, MP_QSTR_ks);
    int8_t *v = llm_get_buf(args[6], &nv, MP_BUFFER_READ);
    float *vs = llm_get_floats(args[7], &nvs, MP_BUFFER_READ, MP_QSTR_vs);
    mp_int_t pos = llm_get_word(args[8], MP_QSTR_pos);
    size_t heads = n_args > 9 ? (size_t)llm_get_positive(args[9], MP_QSTR_heads) : 1;
    size_t hs = no / heads;
    if (no == 0 || no % heads != 0 || hs == 0 || hs > LLM_MAX_CACHE_HEAD || nq != no) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("attention_q8: out, q: heads * head size items, head size 1 to %d"),
            LLM_MAX_CACHE_HEAD);
    }
    size_t ctx = nks;
    if (ctx == 0 || ctx > 0x7fffffff / hs || ctx > 0x7fffffff / heads || pos < 0 || (size_t)pos >= ctx) {
        mp_raise_ValueError(MP_ERROR_TEXT("attention_q8: need 0 <= pos < len(ks) <= (2**31-1) / head size"));
    }
    // The kernel may write scores up to ctx (SIMD chunks past pos).
    llm_need_count(na, heads * ctx, MP_QSTR_att);
    llm_need_count(nqs, heads, MP_QSTR_qs);
    llm_need_count(nk, hs * ctx, MP_QSTR_k);
    llm_need_count(nv, hs * ctx, MP_QSTR_v);
    llm_need_count(nvs, ctx, MP_QSTR_vs);
    // Value scales are the cache's (llm_quantize_q8: max|v| / 127): the
    // kernel turns weights times them into integer codes, which a negative,
    // infinite or NaN scale would push outside int's range.
    for (size_t t = 0; t < ctx; t++) {
        if (!(vs[t] >= 0.0f && vs[t] <= 3.4028235e38f)) {
            mp_raise_ValueError(MP_ERROR_TEXT("attention_q8: vs must be finite and not negative"));
        }
    }
    llm_attention_q8i(out, att, (int)ctx, q, qs, (int)heads, k, ks, v, vs, (int)ctx, (int)pos, (int)hs);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_attention_q8_obj, 9, 10, llm_attention_q8_fn);

static mp_obj_t llm_argmax_fn(mp_obj_t x_in) {
    size_t n;
    float *x = llm_get_floats(x_in, &n, MP_BUFFER_READ, MP_QSTR_x);
    if (n == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("argmax: empty vector"));
    }
    return MP_OBJ_NEW_SMALL_INT(llm_argmax(x, (int)n));
}
MP_DEFINE_CONST_FUN_OBJ_1(llm_argmax_obj, llm_argmax_fn);

// swiglu(hb, hb2): hb = silu(hb) * hb2
static mp_obj_t llm_swiglu_fn(mp_obj_t hb_in, mp_obj_t hb2_in) {
    size_t n, n2;
    float *hb = llm_get_floats(hb_in, &n, MP_BUFFER_WRITE, MP_QSTR_hb);
    float *hb2 = llm_get_floats(hb2_in, &n2, MP_BUFFER_READ, MP_QSTR_hb2);
    if (n == 0 || n != n2) {
        mp_raise_ValueError(MP_ERROR_TEXT("swiglu: hb and hb2 must have the same non-zero length"));
    }
    llm_swiglu(hb, hb2, (int)n);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_2(llm_swiglu_obj, llm_swiglu_fn);

static int check_head_size(mp_obj_t obj) {
    int hs = llm_get_positive(obj, MP_QSTR_head_size);
    if (hs % 2 != 0 || hs > LLM_MAX_CACHE_HEAD) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("head_size must be even and at most %d"), LLM_MAX_CACHE_HEAD);
    }
    return hs;
}

// rope(vec, head_size, pos): rotate every head of vec in place for position pos.
static mp_obj_t llm_rope_fn(mp_obj_t vec_in, mp_obj_t hs_in, mp_obj_t pos_in) {
    size_t n;
    float *vec = llm_get_floats(vec_in, &n, MP_BUFFER_WRITE, MP_QSTR_vec);
    int hs = check_head_size(hs_in);
    mp_int_t pos = llm_get_word(pos_in, MP_QSTR_pos);
    if (pos < 0 || pos > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("pos must be between 0 and 2**31-1"));
    }
    if (n == 0 || n % (size_t)hs != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("rope: len(vec) must be a multiple of head_size"));
    }
    float freq[LLM_MAX_CACHE_HEAD / 2], fcos[LLM_MAX_CACHE_HEAD / 2], fsin[LLM_MAX_CACHE_HEAD / 2];
    llm_rope_freqs(freq, hs);
    llm_rope_table(fcos, fsin, freq, hs, (int)pos);
    llm_rope_apply(vec, fcos, fsin, (int)n, hs);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_3(llm_rope_obj, llm_rope_fn);

// attention(out, att, q, k, v, pos, stride): one head over a float KV cache.
// head_size = len(out) = len(q); k and v hold positions 0..pos, stride apart.
static mp_obj_t llm_attention_fn(size_t n_args, const mp_obj_t *args) {
    size_t hs, natt, nq, nk, nv;
    float *out = llm_get_floats(args[0], &hs, MP_BUFFER_WRITE, MP_QSTR_out);
    float *att = llm_get_floats(args[1], &natt, MP_BUFFER_WRITE, MP_QSTR_att);
    float *q = llm_get_floats(args[2], &nq, MP_BUFFER_READ, MP_QSTR_q);
    float *k = llm_get_floats(args[3], &nk, MP_BUFFER_READ, MP_QSTR_k);
    float *v = llm_get_floats(args[4], &nv, MP_BUFFER_READ, MP_QSTR_v);
    mp_int_t pos = llm_get_word(args[5], MP_QSTR_pos);
    mp_int_t stride = llm_get_word(args[6], MP_QSTR_stride);
    if (hs == 0 || nq != hs) {
        mp_raise_ValueError(MP_ERROR_TEXT("attention: out and q must have the same non-zero length"));
    }
    if (pos < 0 || pos > 0x7fffffff || stride < (mp_int_t)hs || stride > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("attention: need pos >= 0 and stride >= head size"));
    }
    llm_need_count(natt, (size_t)pos + 1, MP_QSTR_att);
    uint64_t span = (uint64_t)pos * (uint64_t)stride + hs;
    if (span > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("attention: pos * stride + head size exceeds 2**31-1"));
    }
    llm_need_count(nk, (size_t)span, MP_QSTR_k);
    llm_need_count(nv, (size_t)span, MP_QSTR_v);
    llm_attention_f32(out, att, q, k, (int)stride, 1, v, (int)stride, (int)pos, (int)hs);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_attention_obj, 7, 7, llm_attention_fn);

#endif // LLM_TEST_KERNELS
