/* The _llm kernels on the emulated ESP32-S3 core and on the host, from one
 * source, so that their outputs can be compared bit for bit.
 *
 * The same program is compiled twice: by xtensa-esp32s3-elf-gcc for QEMU's
 * esp32s3 core and by the host's gcc.  Inputs come from a fixed xorshift
 * stream, so both builds see identical bits.  Both link MicroPython's
 * lib/libm, so that expf/powf/sinf differences cannot hide or fake an FPU
 * difference.  On top of the host comparison, the harness checks the kernels
 * against the same kernels.c built without the S3's assembly: its portable C
 * keeps llama2.c's order (each sum in index order, multiply then add, no
 * fusion; tests/test_kernels.py checks it against numpy), so a fast path
 * that regroups a sum fails here.
 *
 * Modes (argv on the host; a parameter block loaded at PARAMS on the S3):
 *   check              every kernel case: hex of all outputs, and REFMISMATCH
 *                      lines where a kernel differs from its portable C
 *   count K R          kernel case K, R times (instruction counts come from
 *                      the difference between two values of R)
 *   gen STEPS KV HASH  generate greedily from a llama2.c checkpoint and
 *                      tokenizer.bin: the text, and with HASH a hash of the
 *                      logits of every position
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include "attention_q8.h"
#include "kernels.h"
#include "matmul_q4.h"
#include "matmul_q8.h"
#include "quant.h"
#include "sampler.h"
#include "tokenizer.h"
#include "transformer.h"
/* The S3's inline expf (portable C, so the host build checks it too). */
#include "kernels_xtensa.h"

#if defined(__XTENSA__)
/* System RAM of the sim machine (-m 128M): QEMU's loader fills it. */
#define PARAMS   ((const volatile uint32_t *)0x60000000)
#define MODEL    ((const uint8_t *)0x60100000)
#define TOKFILE  ((const uint8_t *)0x60380000)
#define WORK     ((uint8_t *)0x61000000)
#define WORK_END ((uint8_t *)0x68000000)
#define MAGIC    0x48334b53u  /* "SK3H" */

static int simcall4(int nr, int a, const void *b, int c) {
    register int a2 __asm__("a2") = nr;
    register int a3 __asm__("a3") = a;
    register const void *a4 __asm__("a4") = b;
    register int a5 __asm__("a5") = c;
    __asm__ volatile ("simcall" : "+r"(a2), "+r"(a3) : "r"(a4), "r"(a5) : "memory");
    return a2;
}

static void out(const void *s, int n) {
    simcall4(4, 1, s, n);
}
static uint8_t *work, *work_end;
#else
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void out(const void *s, int n) {
    fwrite(s, 1, (size_t)n, stdout);
}
static uint8_t *work, *work_end;
#endif

/* ---- output: buffered so that a semihosting call is not made per digit */
static char obuf[512];
static int olen;
static void flush(void) {
    if (olen) {
        out(obuf, olen);
        olen = 0;
    }
}
static void putc_(char c) {
    if (olen == (int)sizeof(obuf)) {
        flush();
    }
    obuf[olen++] = c;
}
static void puts_(const char *s) {
    while (*s) {
        putc_(*s++);
    }
}
static void putu(unsigned long v) {
    char b[24];
    int i = 0;
    do {
        b[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i) {
        putc_(b[--i]);
    }
}
/* A label and a number: "n=" 64. */
static void putn(const char *label, unsigned long v) {
    puts_(label);
    putu(v);
}
static void puthex(uint32_t v) {
    for (int i = 7; i >= 0; i--) {
        putc_("0123456789abcdef"[(v >> (4 * i)) & 15]);
    }
}
static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static void dump_f(const char *name, const float *x, int n) {
    puts_(name);
    puts_(":");
    for (int i = 0; i < n; i++) {
        putc_(' ');
        puthex(bits(x[i]));
    }
    putc_('\n');
}
static void dump_b(const char *name, const int8_t *x, int n) {
    puts_(name);
    puts_(":");
    for (int i = 0; i < n; i++) {
        putc_(' ');
        puthex((uint32_t)(uint8_t)x[i]);
    }
    putc_('\n');
}

/* ---- bump allocator over the work area */
static void *alloc(size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (work + n > work_end) {
        puts_("FATAL: work area exhausted\n");
        flush();
        return NULL;
    }
    void *p = work;
    work += n;
    return p;
}

/* ---- inputs */
static uint32_t rs = 0x2545f491u;
static uint32_t rnd(void) {
    rs ^= rs << 13;
    rs ^= rs >> 17;
    rs ^= rs << 5;
    return rs;
}
/* Uniform in [-scale, scale), exactly representable: same bits everywhere. */
static void fill(float *x, int n, float scale) {
    for (int i = 0; i < n; i++) {
        x[i] = scale * ((float)(int32_t)(rnd() >> 8) - 8388608.0f) / 8388608.0f;
    }
}
static float *frand(int n, float scale) {
    float *x = alloc((size_t)n * 4);
    fill(x, n, scale);
    return x;
}
static int8_t *brand(int n) {
    int8_t *x = alloc((size_t)n);
    for (int i = 0; i < n; i++) {
        x[i] = (int8_t)(rnd() >> 24);
    }
    return x;
}

/* ---- references: the same kernels.c built a second time without the S3's
 * assembly and inline expf (its portable C, which tests/test_kernels.py
 * holds to numpy's llama2.c bit for bit); s3kernels.mk renames its
 * functions portable_*.  On the S3 the fast paths must give their bits. */
void portable_llm_matmul_f32(float *out, const float *x, const float *w, int n, int d);
void portable_llm_rmsnorm(float *out, const float *x, const float *weight, int n);
void portable_llm_softmax(float *x, int n);
void portable_llm_attention_f32(float *out, float *att, const float *q,
    const float *k, int kt, int ki, const float *v, int vt, int pos, int head_size);

static int mismatches;
static void same(const char *what, const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++) {
        if (bits(a[i]) != bits(b[i])) {
            puts_("REFMISMATCH ");
            puts_(what);
            putn(" at ", i);
            puts_(": ");
            puthex(bits(a[i]));
            puts_(" vs reference ");
            puthex(bits(b[i]));
            putc_('\n');
            mismatches++;
            return;
        }
    }
}

static void halves(uint16_t *h, int n) {
    /* Normal halves around 1/64..1/16, as a converter writes for scales. */
    for (int i = 0; i < n; i++) {
        h[i] = (uint16_t)(0x2400 + (rnd() >> 22));
    }
}

/* ---- check mode */
static void check_matmul(int n, int d) {
    float *x = frand(n, 1.0f), *w = frand(n * d, 0.5f);
    float *o = alloc((size_t)d * 4), *r = alloc((size_t)d * 4);
    llm_matmul_f32(o, x, w, n, d);
    portable_llm_matmul_f32(r, x, w, n, d);
    putn("matmul_f32 n=", n);
    putn(" d=", d);
    putc_(' ');
    dump_f("out", o, d);
    same("matmul_f32", o, r, d);
}

static void check_q8(int n, int d, int gs) {
    float *x = frand(n, 2.0f);
    int8_t *xq = alloc((size_t)n), *w = brand(n * d);
    float *xs = alloc((size_t)(n / gs) * 4), *o = alloc((size_t)d * 4);
    uint16_t *ws = alloc((size_t)(d * (n / gs)) * 2);
    halves(ws, d * (n / gs));
    llm_quantize_q8(xq, xs, x, n, gs);
    llm_matmul_q8(o, xq, xs, w, ws, n, d, gs);
    putn("q8 n=", n);
    putn(" d=", d);
    putn(" gs=", gs);
    putc_(' ');
    dump_b("xq", xq, n);
    dump_f("xs", xs, n / gs);
    dump_f("out", o, d);
}

/* The 4-bit matmul against a plain C loop of its arithmetic (the exact
 * integer dot of codes nibble - 8 per group, then
 * sum += ((float)dot * llm_f16_to_f32(scale)) * x_scale in group order).
 * Scales by mode: 0 normal halves as a converter writes them; 1 the same
 * with +0 in some groups (whose codes are not 8); 2 subnormal and tiny
 * normal halves; 3 some negative; 4 some -0; 5 every scale 0.  Modes 0, 1
 * and 5 are plain (llm_q4_scales_plain), which the S3's fast path needs;
 * 2-4 must take the general path and give the same bits.  off: w's offset
 * from a 16-byte boundary (the S3's SIMD path needs 0). */
static void q4_reference(float *out, const int8_t *xq, const float *xs, const uint8_t *w, const uint16_t *ws,
    int n, int d, int gs) {
    for (int i = 0; i < d; i++) {
        float sum = 0.0f;
        for (int g = 0; g < n / gs; g++) {
            int32_t dot = 0;
            for (int k = g * gs; k < (g + 1) * gs; k++) {
                uint32_t b = w[(i * n + k) / 2];
                dot += ((int32_t)((k & 1) ? b >> 4 : b & 15u) - 8) * xq[k];
            }
            sum += (float)dot * llm_f16_to_f32(ws[i * (n / gs) + g]) * xs[g];
        }
        out[i] = sum;
    }
}

static void check_q4(int n, int d, int gs, int mode, int off) {
    float *x = frand(n, 2.0f);
    int8_t *xq = alloc((size_t)n);
    uint8_t *w = (uint8_t *)alloc((size_t)(n / 2 * d) + 16) + off;
    for (int i = 0; i < n / 2 * d; i++) {
        w[i] = (uint8_t)(rnd() >> 24);
    }
    int ng = d * (n / gs);
    float *xs = alloc((size_t)(n / gs) * 4), *o = alloc((size_t)d * 4), *r = alloc((size_t)d * 4);
    uint16_t *ws = alloc((size_t)ng * 2);
    halves(ws, ng);
    for (int i = 0; i < ng; i++) {
        uint32_t u = rnd();
        if (mode == 1 && u % 5 == 0) {
            ws[i] = 0;
        } else if (mode == 2 && u % 3 == 0) {
            ws[i] = (uint16_t)((u >> 8) % 0x0402 + 1);  /* subnormal 0x0001..0x03ff, or 0x0400..0x0402 */
        } else if (mode == 3 && u % 3 == 0) {
            ws[i] |= 0x8000;
        } else if (mode == 4 && u % 4 == 0) {
            ws[i] = 0x8000;
        } else if (mode == 5) {
            ws[i] = 0;
        }
    }
    llm_quantize_q8(xq, xs, x, n, gs);
    q4_reference(r, xq, xs, w, ws, n, d, gs);
    llm_matmul_q4(o, xq, xs, w, ws, n, d, gs);
    putn("q4 n=", n);
    putn(" d=", d);
    putn(" gs=", gs);
    putn(" mode=", mode);
    putn(" off=", off);
    putn(" plain=", llm_q4_scales_plain(ws, ng));
    putc_(' ');
    dump_f("out", o, d);
    same("matmul_q4", o, r, d);
    /* The general path on the same scales, told nothing. */
    llm_matmul_q4_scaled(o, xq, xs, w, ws, n, d, gs, 0);
    same("matmul_q4 general", o, r, d);
}

static void check_norms(int n) {
    float *x = frand(n, 3.0f), *w = frand(n, 1.0f), *o = alloc((size_t)n * 4), *r = alloc((size_t)n * 4);
    llm_rmsnorm(o, x, w, n);
    portable_llm_rmsnorm(r, x, w, n);
    putn("rmsnorm n=", n);
    putc_(' ');
    dump_f("out", o, n);
    same("rmsnorm", o, r, n);
    float *s = alloc((size_t)n * 4), *sr = alloc((size_t)n * 4);
    fill(s, n, 8.0f);
    memcpy(sr, s, (size_t)n * 4);
    llm_softmax(s, n);
    portable_llm_softmax(sr, n);
    dump_f("softmax", s, n);
    same("softmax", s, sr, n);
    float *h = frand(n, 4.0f), *h2 = frand(n, 1.0f);
    llm_swiglu(h, h2, n);
    dump_f("swiglu", h, n);
    int am = llm_argmax(s, n);
    putn("argmax: ", am);
    putc_('\n');
}

static void check_rope(int heads, int hs, int pos) {
    int half = hs / 2;
    float *freq = alloc((size_t)half * 4), *c = alloc((size_t)half * 4), *s = alloc((size_t)half * 4);
    float *v = frand(heads * hs, 1.0f);
    llm_rope_freqs(freq, hs);
    llm_rope_table(c, s, freq, hs, pos);
    llm_rope_apply(v, c, s, heads * hs, hs);
    putn("rope hs=", hs);
    putn(" pos=", pos);
    putc_(' ');
    dump_f("freq", freq, half);
    dump_f("vec", v, heads * hs);
}

static void check_attention(int pos, int hs, int transposed) {
    int ctx = pos + 3;
    float *q = frand(hs, 1.0f), *k = frand(ctx * hs, 1.0f), *v = frand(ctx * hs, 1.0f);
    float *att = alloc((size_t)ctx * 4), *ratt = alloc((size_t)ctx * 4);
    float *o = alloc((size_t)hs * 4), *r = alloc((size_t)hs * 4);
    int kt = transposed ? 1 : hs, ki = transposed ? ctx : 1;
    llm_attention_f32(o, att, q, k, kt, ki, v, hs, pos, hs);
    portable_llm_attention_f32(r, ratt, q, k, kt, ki, v, hs, pos, hs);
    putn("attention_f32 pos=", pos);
    putn(" hs=", hs);
    puts_(transposed ? " kt=1 " : " kt=hs ");
    dump_f("att", att, pos + 1);
    dump_f("out", o, hs);
    same("attention_f32 att", att, ratt, pos + 1);
    same("attention_f32 out", o, r, hs);
}

/* llm_expf_nonpos against the library's expf: every float of (-87.34, 0]
 * with `stride` 1 (the host's expall mode), a spread sample in check mode;
 * and a few arguments outside, which it hands to the library. */
static void check_expf_at(float x) {
    float a = llm_expf_nonpos(x), b = expf(x);
    same("expf_nonpos", &a, &b, 1);
}
static unsigned long check_expf(uint32_t stride) {
    unsigned long n = 0;
    for (uint64_t u = 0x80000000u; u <= 0xc2aeac4fu; u += stride, n++) {
        uint32_t v = (uint32_t)u;
        float x;
        memcpy(&x, &v, 4);
        check_expf_at(x);
    }
    static const float outside[] = {-87.34f, -100.0f, -104.0f, -1e30f, 0.5f, 88.0f, 1e-30f};
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++, n++) {
        check_expf_at(outside[i]);
    }
    return n;
}

static void check(void) {
    puts_("expf_nonpos sampled: ");
    putu(check_expf(99991));
    putc_('\n');
    static const int mm[][2] = {
        {1, 1}, {3, 1}, {1, 3}, {3, 3}, {17, 5}, {5, 17}, {64, 1}, {64, 7}, {64, 9}, {64, 64}, {64, 32},
        {64, 172}, {172, 64}, {64, 512}, {288, 768}, {768, 288}, {13, 23},
    };
    for (size_t i = 0; i < sizeof(mm) / sizeof(mm[0]); i++) {
        check_matmul(mm[i][0], mm[i][1]);
    }
    static const int q8[][3] = {{64, 64, 64}, {64, 172, 64}, {172, 64, 43}, {172, 64, 4}, {288, 20, 32}, {6, 3, 2}};
    for (size_t i = 0; i < sizeof(q8) / sizeof(q8[0]); i++) {
        check_q8(q8[i][0], q8[i][1], q8[i][2]);
    }
    static const int q4[][5] = {
        {32, 1, 32, 0, 0}, {32, 5, 32, 1, 0}, {64, 3, 32, 0, 0}, {288, 17, 32, 0, 0}, {288, 17, 32, 1, 0},
        {288, 17, 32, 2, 0}, {288, 17, 32, 3, 0}, {288, 17, 32, 4, 0}, {288, 9, 32, 5, 0}, {768, 7, 32, 0, 0},
        {1024, 3, 32, 1, 0}, {1056, 2, 32, 0, 0}, {288, 5, 32, 0, 8}, {128, 6, 64, 0, 0}, {128, 6, 64, 2, 0},
        {192, 4, 96, 1, 0}, {96, 3, 16, 0, 0}, {30, 4, 6, 0, 0}, {64, 3, 2, 3, 0},
        {64, 512, 32, 0, 0}, {192, 64, 32, 0, 0}, {64, 172, 32, 0, 0}, {64, 32, 32, 0, 0}, {1024, 40, 32, 1, 0},
    };
    for (size_t i = 0; i < sizeof(q4) / sizeof(q4[0]); i++) {
        check_q4(q4[i][0], q4[i][1], q4[i][2], q4[i][3], q4[i][4]);
    }
    static const int nn[] = {1, 2, 7, 64, 172, 257};
    for (size_t i = 0; i < sizeof(nn) / sizeof(nn[0]); i++) {
        check_norms(nn[i]);
    }
    check_rope(8, 8, 0);
    check_rope(8, 8, 5);
    check_rope(6, 48, 255);
    static const int at[][2] = {{0, 8}, {1, 8}, {3, 8}, {4, 8}, {7, 8}, {100, 8}, {159, 8}, {33, 48}, {5, 3}};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        check_attention(at[i][0], at[i][1], 1);
        check_attention(at[i][0], at[i][1], 0);
    }
    putn("checked, reference mismatches: ", mismatches);
    putc_('\n');
}

/* ---- count mode: one kernel call per repetition, on stories260K's shapes */
static void count(int which, int reps) {
    float *x = frand(768, 1.0f), *w = frand(768 * 512, 0.5f), *o = alloc(768 * 4);
    float *att = alloc(512 * 4), *k = frand(512 * 8, 1.0f), *v = frand(512 * 8, 1.0f);
    int8_t *xq = brand(768), *wq = brand(768 * 512);
    float *xs = frand(768, 0.01f);
    uint16_t *ws = alloc(768 * 512 / 4 * 2);
    halves(ws, 768 * 512 / 4);
    int8_t *kq = brand(512 * 8), *vq = brand(512 * 8);
    float *kvs = alloc(512 * 4);  // the cache's scales: positive, as llm_quantize_q8 makes them
    for (int i = 0; i < 512; i++) {
        kvs[i] = 0.01f;
    }
    for (int r = 0; r < reps; r++) {
        switch (which) {
            case 1: llm_matmul_f32(o, x, w, 64, 64); break;
            case 2: llm_matmul_f32(o, x, w, 172, 64); break;
            case 3: llm_matmul_f32(o, x, w, 64, 512); break;
            case 4: llm_matmul_q8(o, xq, xs, wq, ws, 64, 64, 64); break;
            case 5: llm_attention_f32(o, att, x, k, 1, 512, v, 8, 159, 8); break;
            case 6: llm_attention_q8_cache(o, att, 512, xq, xs, 1, kq, kvs, vq, kvs, 512, 159, 8); break;
            case 7: llm_rmsnorm(o, x, w, 64); break;
            case 8: llm_softmax(att, 160); break;
            case 9: llm_swiglu(o, x, 172); break;
            case 10: llm_quantize_q8(xq, xs, x, 64, 64); break;
            case 11: llm_matmul_q8(o, xq, xs, wq, ws, 172, 64, 43); break;
            /* 4-bit, 32-code groups: plain scales (the model's path), and the general one */
            case 12: llm_matmul_q4_scaled(o, xq, xs, (const uint8_t *)wq, ws, 288, 64, 32, 1); break;
            case 13: llm_matmul_q4_scaled(o, xq, xs, (const uint8_t *)wq, ws, 288, 64, 32, 0); break;
            default: break;
        }
    }
}

/* ---- gen mode: llama2.c's generate() over the C forward pass */
static uint32_t fnv(const void *p, size_t n, uint32_t h) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 16777619u;
    }
    return h;
}

static int gen(const uint8_t *file, const uint8_t *tok, size_t tok_len, int steps, int kv_type, int hash,
    const char *prompt) {
    int32_t hdr[7];
    memcpy(hdr, file, sizeof(hdr));
    llm_model_t *m = alloc(sizeof(*m));
    memset(m, 0, sizeof(*m));
    llm_config_t *c = &m->cfg;
    c->dim = hdr[0];
    c->hidden_dim = hdr[1];
    c->n_layers = hdr[2];
    c->n_heads = hdr[3];
    c->n_kv_heads = hdr[4];
    int shared = hdr[5] > 0;
    c->vocab_size = shared ? hdr[5] : -hdr[5];
    c->seq_len = hdr[6];
    int dim = c->dim, hid = c->hidden_dim, L = c->n_layers, hs = dim / c->n_heads;
    int kvd = hs * c->n_kv_heads;
    const float *p = (const float *)(file + sizeof(hdr));
    const float *emb = p; p += (size_t)c->vocab_size * dim;
    const float *rms_att = p; p += (size_t)L * dim;
    const float *wq = p; p += (size_t)L * dim * dim;
    const float *wk = p; p += (size_t)L * dim * kvd;
    const float *wv = p; p += (size_t)L * dim * kvd;
    const float *wo = p; p += (size_t)L * dim * dim;
    const float *rms_ffn = p; p += (size_t)L * dim;
    const float *w1 = p; p += (size_t)L * dim * hid;
    const float *w2 = p; p += (size_t)L * hid * dim;
    const float *w3 = p; p += (size_t)L * dim * hid;
    m->rms_final = p; p += dim;
    p += (size_t)c->seq_len * hs;  /* freq_cis_real and _imag, unused */
    const float *cls = shared ? emb : p;
    m->layers = alloc(sizeof(llm_layer_t) * (size_t)L);
    #define T(t, d) do { (t).data = (d); (t).scales = NULL; (t).type = LLM_F32; (t).group_size = 0; (t).scales_plain = 0; } while (0)
    T(m->embedding, emb);
    T(m->classifier, cls);
    for (int l = 0; l < L; l++) {
        llm_layer_t *y = &m->layers[l];
        y->rms_att = rms_att + (size_t)l * dim;
        y->rms_ffn = rms_ffn + (size_t)l * dim;
        T(y->wq, wq + (size_t)l * dim * dim);
        T(y->wk, wk + (size_t)l * dim * kvd);
        T(y->wv, wv + (size_t)l * dim * kvd);
        T(y->wo, wo + (size_t)l * dim * dim);
        T(y->w1, w1 + (size_t)l * dim * hid);
        T(y->w2, w2 + (size_t)l * hid * dim);
        T(y->w3, w3 + (size_t)l * dim * hid);
    }
    #undef T
    m->ctx = steps < c->seq_len ? steps : c->seq_len;
    if (!llm_kv_type_ok(kv_type)) {
        return 2;
    }
    m->kv.type = (llm_type_t)kv_type;
    void *state = alloc((size_t)llm_state_bytes(c, m->ctx));
    void *kv = alloc((size_t)llm_model_kv_bytes(c, m->ctx, m->kv.type));
    if (!state || !kv) {
        return 2;
    }
    llm_model_bind_state(m, state, kv);

    int vocab = c->vocab_size, bad;
    llm_tokenizer_t tk = { .buf = tok, .vocab = vocab };
    if (llm_tok_index(&tk, tok_len, alloc((size_t)vocab * 4), &bad) != LLM_TOK_OK) {
        puts_("FATAL: bad tokenizer\n");
        return 3;
    }
    llm_tok_sort(&tk, alloc((size_t)vocab * 4));
    int plen = (int)strlen(prompt);
    int32_t *tokens = alloc((size_t)(plen + 3) * 4);
    uint8_t *pair = alloc((size_t)tk.max_len * 2 + 2);
    int n_prompt = llm_tok_encode_start(&tk, (const uint8_t *)prompt, plen, 1, tokens);
    llm_tok_merge_t merge;
    llm_tok_merge_init(&tk, &merge, tokens, n_prompt,
        alloc((LLM_TOK_MERGE_WORDS(n_prompt) + 1) * sizeof(int32_t)), pair);
    while (llm_tok_merge_run(&tk, &merge, 1 << 30) > 0) {
    }
    n_prompt = llm_tok_merge_finish(&merge);
    int32_t *scratch = alloc((size_t)vocab * 4);
    uint64_t rng_state = 1;
    int token = tokens[0];
    /* Printed after the text, which has no line structure of its own. */
    uint32_t *hashes = alloc((size_t)m->ctx * 4);
    int n_hashes = 0;
    for (int pos = 0; pos < m->ctx; pos++) {
        llm_forward(m, token, pos);
        if (hash) {
            hashes[pos] = fnv(m->logits, (size_t)vocab * 4, 2166136261u);
            n_hashes = pos + 1;
        }
        int next = pos + 1 < n_prompt ? tokens[pos + 1]
            : llm_sample(m->logits, vocab, 0.0f, 0.9f, &rng_state, scratch);
        if (next == 1) {
            break;
        }
        uint8_t byte;
        int len;
        const uint8_t *piece = llm_tok_decode(&tk, token, next, &byte, &len);
        for (int i = 0; i < len; i++) {
            putc_((char)piece[i]);
        }
        token = next;
    }
    putc_('\n');
    for (int i = 0; i < n_hashes; i++) {
        putn("logits ", i);
        putc_(' ');
        puthex(hashes[i]);
        putc_('\n');
    }
    return 0;
}

/* One dispatch for both builds: mode 0 check, 1 count, 2 gen, 3 expall;
 * a[] holds the mode's numbers (count: case, repetitions; gen: steps, KV
 * int8, hash, tokenizer length). */
static int run(int mode, const int *a, const uint8_t *model, const uint8_t *tok, const char *prompt) {
    int rc = 0;
    if (mode == 1) {
        count(a[0], a[1]);
    } else if (mode == 2) {
        rc = gen(model, tok, (size_t)a[3], a[0], a[1], a[2], prompt);
    } else if (mode == 3) {
        unsigned long n = check_expf(1);
        puts_("expf_nonpos checked ");
        putu(n);
        putn(", mismatches: ", mismatches);
        putc_('\n');
    } else {
        check();
    }
    if (mode != 1 && mode != 2) {
        rc = mismatches ? 1 : 0;
    }
    flush();
    return rc;
}

#if defined(__XTENSA__)
int main(void) {
    work = WORK;
    work_end = WORK_END;
    int mode = PARAMS[0] == MAGIC ? (int)PARAMS[1] : 0;
    int a[4] = {(int)PARAMS[2], (int)PARAMS[3], (int)PARAMS[4], (int)PARAMS[5]};
    return run(mode, a, MODEL, TOKFILE, (const char *)(PARAMS + 16));
}
#else
static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* harness-host [expall | count K R | gen MODEL TOK STEPS KV HASH PROMPT] */
int main(int argc, char **argv) {
    size_t size = (size_t)256 << 20;
    work = malloc(size);
    work_end = work + size;
    int a[4] = {0, 0, 0, 0};
    if (argc >= 2 && !strcmp(argv[1], "expall")) {
        return run(3, a, NULL, NULL, NULL);
    }
    if (argc >= 4 && !strcmp(argv[1], "count")) {
        a[0] = atoi(argv[2]);
        a[1] = atoi(argv[3]);
        return run(1, a, NULL, NULL, NULL);
    }
    if (argc >= 8 && !strcmp(argv[1], "gen")) {
        size_t ml, tl;
        uint8_t *model = slurp(argv[2], &ml), *tok = slurp(argv[3], &tl);
        a[0] = atoi(argv[4]);
        a[1] = atoi(argv[5]);
        a[2] = atoi(argv[6]);
        a[3] = (int)tl;
        return run(2, a, model, tok, argv[7]);
    }
    return run(0, a, NULL, NULL, NULL);
}
#endif
