/* The _llm kernels on the emulated ESP32-S3 core and on the host, from one
 * source, so that their outputs can be compared bit for bit.
 *
 * The same program is compiled twice: by xtensa-esp32s3-elf-gcc for QEMU's
 * esp32s3 core and by the host's gcc.  Inputs come from a fixed xorshift
 * stream, so both builds see identical bits.  Both link MicroPython's
 * lib/libm, so that expf/powf/sinf differences cannot hide or fake an FPU
 * difference.  On top of the host comparison, the harness checks the kernels
 * against naive loops in llama2.c's order (each sum in index order, multiply
 * then add, no fusion): a fast path that regroups a sum fails here on both
 * builds.
 *
 * Modes (argv on the host; a parameter block loaded at PARAMS on the S3):
 *   check              every kernel case: hex of all outputs, and REFMISMATCH
 *                      lines where a kernel differs from its naive loop
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
#include "kernels.h"
#include "sampler.h"
#include "tokenizer.h"
#include "transformer.h"

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

/* ---- naive references, llama2.c's order */
static void ref_matmul(float *o, const float *x, const float *w, int n, int d) {
    for (int i = 0; i < d; i++) {
        float v = 0.0f;
        for (int j = 0; j < n; j++) {
            v += w[(size_t)i * n + j] * x[j];
        }
        o[i] = v;
    }
}
static void ref_rmsnorm(float *o, const float *x, const float *w, int n) {
    float ss = 0.0f;
    for (int j = 0; j < n; j++) {
        ss += x[j] * x[j];
    }
    ss /= (float)n;
    ss += 1e-5f;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) {
        o[j] = w[j] * (ss * x[j]);
    }
}
static void ref_softmax(float *x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] > m) {
            m = x[i];
        }
    }
    float s = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    for (int i = 0; i < n; i++) {
        x[i] /= s;
    }
}
static void ref_attention(float *o, float *att, const float *q, const float *k, int kt, int ki,
    const float *v, int vt, int pos, int hs) {
    for (int t = 0; t <= pos; t++) {
        float s = 0.0f;
        for (int i = 0; i < hs; i++) {
            s += q[i] * k[(size_t)t * kt + (size_t)i * ki];
        }
        att[t] = s / sqrtf((float)hs);
    }
    ref_softmax(att, pos + 1);
    for (int i = 0; i < hs; i++) {
        o[i] = 0.0f;
    }
    for (int t = 0; t <= pos; t++) {
        for (int i = 0; i < hs; i++) {
            o[i] += att[t] * v[(size_t)t * vt + i];
        }
    }
}

static int mismatches;
static void same(const char *what, const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++) {
        if (bits(a[i]) != bits(b[i])) {
            puts_("REFMISMATCH ");
            puts_(what);
            puts_(" at ");
            putu((unsigned long)i);
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
    ref_matmul(r, x, w, n, d);
    puts_("matmul_f32 n=");
    putu((unsigned long)n);
    puts_(" d=");
    putu((unsigned long)d);
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
    puts_("q8 n=");
    putu((unsigned long)n);
    puts_(" d=");
    putu((unsigned long)d);
    puts_(" gs=");
    putu((unsigned long)gs);
    putc_(' ');
    dump_b("xq", xq, n);
    dump_f("xs", xs, n / gs);
    dump_f("out", o, d);
}

static void check_norms(int n) {
    float *x = frand(n, 3.0f), *w = frand(n, 1.0f), *o = alloc((size_t)n * 4), *r = alloc((size_t)n * 4);
    llm_rmsnorm(o, x, w, n);
    ref_rmsnorm(r, x, w, n);
    puts_("rmsnorm n=");
    putu((unsigned long)n);
    putc_(' ');
    dump_f("out", o, n);
    same("rmsnorm", o, r, n);
    float *s = alloc((size_t)n * 4), *sr = alloc((size_t)n * 4);
    fill(s, n, 8.0f);
    memcpy(sr, s, (size_t)n * 4);
    llm_softmax(s, n);
    ref_softmax(sr, n);
    dump_f("softmax", s, n);
    same("softmax", s, sr, n);
    float *h = frand(n, 4.0f), *h2 = frand(n, 1.0f);
    llm_swiglu(h, h2, n);
    dump_f("swiglu", h, n);
    int am = llm_argmax(s, n);
    puts_("argmax: ");
    putu((unsigned long)am);
    putc_('\n');
}

static void check_rope(int heads, int hs, int pos) {
    int half = hs / 2;
    float *freq = alloc((size_t)half * 4), *c = alloc((size_t)half * 4), *s = alloc((size_t)half * 4);
    float *v = frand(heads * hs, 1.0f);
    llm_rope_freqs(freq, hs);
    llm_rope_table(c, s, freq, hs, pos);
    llm_rope_apply(v, c, s, heads * hs, hs);
    puts_("rope hs=");
    putu((unsigned long)hs);
    puts_(" pos=");
    putu((unsigned long)pos);
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
    ref_attention(r, ratt, q, k, kt, ki, v, hs, pos, hs);
    puts_("attention_f32 pos=");
    putu((unsigned long)pos);
    puts_(" hs=");
    putu((unsigned long)hs);
    puts_(transposed ? " kt=1 " : " kt=hs ");
    dump_f("att", att, pos + 1);
    dump_f("out", o, hs);
    same("attention_f32 att", att, ratt, pos + 1);
    same("attention_f32 out", o, r, hs);

    int8_t *kq = brand(hs * ctx), *vq = brand(ctx * hs);
    float *ks = frand(ctx, 0.01f), *vs = frand(ctx, 0.01f);
    llm_attention_q8(o, att, q, kq, ks, vq, vs, ctx, pos, hs);
    dump_f("attention_q8 out", o, hs);
}

static void check(void) {
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
    puts_("checked, reference mismatches: ");
    putu((unsigned long)mismatches);
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
    for (int r = 0; r < reps; r++) {
        switch (which) {
            case 1: llm_matmul_f32(o, x, w, 64, 64); break;
            case 2: llm_matmul_f32(o, x, w, 172, 64); break;
            case 3: llm_matmul_f32(o, x, w, 64, 512); break;
            case 4: llm_matmul_q8(o, xq, xs, wq, ws, 64, 64, 64); break;
            case 5: llm_attention_f32(o, att, x, k, 1, 512, v, 8, 159, 8); break;
            case 6: llm_attention_q8(o, att, x, kq, xs, vq, xs, 512, 159, 8); break;
            case 7: llm_rmsnorm(o, x, w, 64); break;
            case 8: llm_softmax(att, 160); break;
            case 9: llm_swiglu(o, x, 172); break;
            case 10: llm_quantize_q8(xq, xs, x, 64, 64); break;
            case 11: llm_matmul_q8(o, xq, xs, wq, ws, 172, 64, 43); break;
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

static int gen(const uint8_t *file, const uint8_t *tok, size_t tok_len, int steps, int kv_q8, int hash,
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
    #define T(t, d) do { (t).data = (d); (t).scales = NULL; (t).type = LLM_F32; (t).group_size = 0; } while (0)
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
    m->kv_q8 = kv_q8;
    void *state = alloc((size_t)llm_state_bytes(c, m->ctx));
    void *kv = alloc((size_t)llm_kv_bytes(c, m->ctx, kv_q8));
    if (!state || !kv) {
        return 2;
    }
    llm_model_bind_state(m, state, kv);

    int vocab = c->vocab_size, bad, max_len;
    uint32_t *offsets = alloc((size_t)vocab * 4), *sorted = alloc((size_t)vocab * 4);
    if (llm_tok_index(tok, tok_len, vocab, offsets, &bad, &max_len) != LLM_TOK_OK) {
        puts_("FATAL: bad tokenizer\n");
        return 3;
    }
    llm_tok_sort(tok, offsets, vocab, sorted);
    int plen = (int)strlen(prompt);
    int32_t *tokens = alloc((size_t)(plen + 3) * 4);
    uint8_t *pair = alloc((size_t)max_len * 2 + 2);
    int n_prompt = llm_tok_encode(tok, offsets, sorted, vocab, (const uint8_t *)prompt, plen, 1, 0, tokens, pair);
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
        const uint8_t *piece = llm_tok_decode(tok, offsets, token, next, &byte, &len);
        for (int i = 0; i < len; i++) {
            putc_((char)piece[i]);
        }
        token = next;
    }
    putc_('\n');
    for (int i = 0; i < n_hashes; i++) {
        puts_("logits ");
        putu((unsigned long)i);
        putc_(' ');
        puthex(hashes[i]);
        putc_('\n');
    }
    return 0;
}

#if defined(__XTENSA__)
int main(void) {
    work = WORK;
    work_end = WORK_END;
    int rc = 0;
    uint32_t mode = PARAMS[0] == MAGIC ? PARAMS[1] : 0;
    if (mode == 1) {
        count((int)PARAMS[2], (int)PARAMS[3]);
    } else if (mode == 2) {
        rc = gen(MODEL, TOKFILE, PARAMS[5], (int)PARAMS[2], (int)PARAMS[3], (int)PARAMS[4],
            (const char *)(PARAMS + 16));
    } else {
        check();
        rc = mismatches ? 1 : 0;
    }
    flush();
    return rc;
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

int main(int argc, char **argv) {
    size_t size = (size_t)256 << 20;
    work = malloc(size);
    work_end = work + size;
    int rc = 0;
    if (argc >= 4 && !strcmp(argv[1], "count")) {
        count(atoi(argv[2]), atoi(argv[3]));
    } else if (argc >= 8 && !strcmp(argv[1], "gen")) {
        size_t ml, tl;
        uint8_t *model = slurp(argv[2], &ml), *tok = slurp(argv[3], &tl);
        rc = gen(model, tok, tl, atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), argv[7]);
    } else {
        check();
        rc = mismatches ? 1 : 0;
    }
    flush();
    return rc;
}
#endif
