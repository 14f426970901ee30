#include <string.h>
#include "sort.h"
#include "tokenizer.h"

static int32_t read_i32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof(v));  // records are unaligned
    return v;
}

int llm_tok_index(llm_tokenizer_t *t, size_t len, uint32_t *offsets, int *bad_token) {
    const uint8_t *buf = t->buf;
    size_t off = 4;  // skip max_token_length
    t->offsets = offsets;
    t->max_len = 0;
    for (int i = 0; i < t->vocab; i++) {
        *bad_token = i;
        if (len < 8 || off > len - 8) {
            return LLM_TOK_TRUNCATED;
        }
        int32_t n = read_i32(buf + off + 4);
        if (n < 0 || n > 0xffff) {
            return LLM_TOK_BAD_LENGTH;
        }
        if ((size_t)n > len - off - 8) {
            return LLM_TOK_TRUNCATED;
        }
        offsets[i] = (uint32_t)off;
        if (n > t->max_len) {
            t->max_len = n;
        }
        off += 8 + (size_t)n;
    }
    return LLM_TOK_OK;
}

const uint8_t *llm_tok_piece(const llm_tokenizer_t *t, int id, int *len) {
    const uint8_t *p = t->buf + t->offsets[id];
    int n = read_i32(p + 4);
    const uint8_t *s = p + 8;
    const uint8_t *nul = memchr(s, 0, (size_t)n);
    *len = nul ? (int)(nul - s) : n;
    return s;
}

float llm_tok_score(const llm_tokenizer_t *t, int id) {
    float v;
    memcpy(&v, t->buf + t->offsets[id], sizeof(v));
    return v;
}

static int compare_bytes(const uint8_t *a, int alen, const uint8_t *b, int blen) {
    int n = alen < blen ? alen : blen;
    int c = memcmp(a, b, (size_t)n);
    if (c != 0) {
        return c;
    }
    return alen - blen;
}

static int compare_ids(const llm_tokenizer_t *t, uint32_t a, uint32_t b) {
    int alen, blen;
    const uint8_t *as = llm_tok_piece(t, (int)a, &alen);
    const uint8_t *bs = llm_tok_piece(t, (int)b, &blen);
    int c = compare_bytes(as, alen, bs, blen);
    return c != 0 ? c : (a < b ? -1 : (a > b));
}

// Ids by piece, then by id: a strict order, so the sort is the same everywhere.
static int piece_before(const void *ctx, int32_t a, int32_t b) {
    return compare_ids(ctx, (uint32_t)a, (uint32_t)b) < 0;
}

void llm_tok_sort(llm_tokenizer_t *t, uint32_t *sorted) {
    for (int i = 0; i < t->vocab; i++) {
        sorted[i] = (uint32_t)i;
    }
    // Ids are below 2**31 (vocab is an int), so they are the same as int32.
    llm_sort_indices((int32_t *)sorted, t->vocab, piece_before, t);
    t->sorted = sorted;
}

int llm_tok_lookup(const llm_tokenizer_t *t, const uint8_t *s, int len) {
    // Lower bound, so that of equal pieces the lowest id wins.
    const uint32_t *sorted = t->sorted;
    int vocab = t->vocab;
    int lo = 0, hi = vocab;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int plen;
        const uint8_t *p = llm_tok_piece(t, (int)sorted[mid], &plen);
        if (compare_bytes(p, plen, s, len) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < vocab) {
        int plen;
        const uint8_t *p = llm_tok_piece(t, (int)sorted[lo], &plen);
        if (compare_bytes(p, plen, s, len) == 0) {
            return (int)sorted[lo];
        }
    }
    return -1;
}

int llm_tok_encode_start(const llm_tokenizer_t *t, const uint8_t *text, int len, int bos, int32_t *tokens) {
    int n = 0;
    if (bos) {
        tokens[n++] = 1;
    }
    if (len > 0) {
        int prefix = llm_tok_lookup(t, (const uint8_t *)" ", 1);
        if (prefix >= 0) {
            tokens[n++] = prefix;
        }
    }
    // One token per UTF-8 code point (at most 4 bytes), or one per byte.
    for (int i = 0; i < len;) {
        int cp_len = 1;
        while (i + cp_len < len && cp_len < 4 && (text[i + cp_len] & 0xC0) == 0x80) {
            cp_len++;
        }
        int id = llm_tok_lookup(t, text + i, cp_len);
        if (id >= 0) {
            tokens[n++] = id;
        } else {
            for (int j = 0; j < cp_len; j++) {
                int byte_id = text[i + j] + 3;
                tokens[n++] = byte_id < t->vocab ? byte_id : 0;
            }
        }
        i += cp_len;
    }
    return n;
}

// ---- merges ----
// llama2.c merges, until none is left, the adjacent pair whose merged piece
// scores best (strictly above -1e10; of equal scores the leftmost), and
// looks every pair up again after each merge: quadratic in the prompt.
// These are the same merges in the same order, each pair looked up once:
// the tokens are a linked list of slots, and a heap holds the slots whose
// pair with the next slot merges, best score first, then leftmost.  A merge
// keeps the left slot and unlinks the right one, so slots stay in text order
// and a slot number orders pairs by position.

static float pair_score(const llm_tokenizer_t *t, const llm_tok_merge_t *s, int32_t slot) {
    return llm_tok_score(t, s->pair[slot]);
}

static int merges_before(const llm_tokenizer_t *t, const llm_tok_merge_t *s, int32_t a, int32_t b) {
    float sa = pair_score(t, s, a), sb = pair_score(t, s, b);
    return sa > sb || (sa == sb && a < b);
}

static void heap_place(llm_tok_merge_t *s, int i, int32_t slot) {
    s->heap[i] = slot;
    s->where[slot] = i;
}

static void heap_up(const llm_tokenizer_t *t, llm_tok_merge_t *s, int i) {
    int32_t slot = s->heap[i];
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!merges_before(t, s, slot, s->heap[parent])) {
            break;
        }
        heap_place(s, i, s->heap[parent]);
        i = parent;
    }
    heap_place(s, i, slot);
}

static void heap_down(const llm_tokenizer_t *t, llm_tok_merge_t *s, int i) {
    int32_t slot = s->heap[i];
    for (;;) {
        int child = 2 * i + 1;
        if (child >= s->heap_n) {
            break;
        }
        if (child + 1 < s->heap_n && merges_before(t, s, s->heap[child + 1], s->heap[child])) {
            child++;
        }
        if (!merges_before(t, s, s->heap[child], slot)) {
            break;
        }
        heap_place(s, i, s->heap[child]);
        i = child;
    }
    heap_place(s, i, slot);
}

static void heap_remove(const llm_tokenizer_t *t, llm_tok_merge_t *s, int32_t slot) {
    int i = s->where[slot];
    s->where[slot] = -1;
    int32_t last = s->heap[--s->heap_n];
    if (i < s->heap_n) {
        heap_place(s, i, last);
        heap_up(t, s, i);
        heap_down(t, s, s->where[last]);
    }
}

// The token that merges slot with the next one (-1: none, or a score
// llama2.c would never pick).
static int32_t find_pair(const llm_tokenizer_t *t, llm_tok_merge_t *s, int32_t slot) {
    int32_t right = s->next[slot];
    if (right < 0) {
        return -1;
    }
    int alen, blen;
    const uint8_t *a = llm_tok_piece(t, s->tokens[slot], &alen);
    const uint8_t *b = llm_tok_piece(t, s->tokens[right], &blen);
    memcpy(s->buf, a, (size_t)alen);
    memcpy(s->buf + alen, b, (size_t)blen);
    int id = llm_tok_lookup(t, s->buf, alen + blen);
    return id >= 0 && llm_tok_score(t, id) > -1e10f ? id : -1;
}

// slot's pair changed: look it up again and move it in or out of the heap.
static void refresh(const llm_tokenizer_t *t, llm_tok_merge_t *s, int32_t slot) {
    if (s->where[slot] >= 0) {
        heap_remove(t, s, slot);
    }
    s->pair[slot] = find_pair(t, s, slot);
    if (s->pair[slot] >= 0) {
        heap_place(s, s->heap_n++, slot);
        heap_up(t, s, s->heap_n - 1);
    }
}

void llm_tok_merge_init(const llm_tokenizer_t *t, llm_tok_merge_t *s, int32_t *tokens, int n, int32_t *work,
    uint8_t *buf) {
    s->tokens = tokens;
    s->n = n;
    s->next = work;
    s->prev = work + n;
    s->pair = work + 2 * (size_t)n;
    s->heap = work + 3 * (size_t)n;
    s->where = work + 4 * (size_t)n;
    s->buf = buf;
    s->heap_n = 0;
    for (int i = 0; i < n; i++) {
        s->next[i] = i + 1 < n ? i + 1 : -1;
        s->prev[i] = i - 1;
        s->where[i] = -1;
    }
    for (int i = 0; i < n; i++) {
        s->pair[i] = find_pair(t, s, i);
        if (s->pair[i] >= 0) {
            heap_place(s, s->heap_n++, i);
        }
    }
    for (int i = s->heap_n / 2 - 1; i >= 0; i--) {
        heap_down(t, s, i);
    }
}

int llm_tok_merge_run(const llm_tokenizer_t *t, llm_tok_merge_t *s, int max_merges) {
    for (int done = 0; done < max_merges && s->heap_n > 0; done++) {
        int32_t left = s->heap[0];
        int32_t right = s->next[left];
        s->tokens[left] = s->pair[left];
        int32_t after = s->next[right];
        s->next[left] = after;
        if (after >= 0) {
            s->prev[after] = left;
        }
        if (s->where[right] >= 0) {
            heap_remove(t, s, right);
        }
        refresh(t, s, left);
        if (s->prev[left] >= 0) {
            refresh(t, s, s->prev[left]);
        }
    }
    return s->heap_n;
}

int llm_tok_merge_finish(llm_tok_merge_t *s) {
    int n = 0;
    // Slot 0 is never the right one of a pair, so the list starts there.
    for (int32_t slot = s->n > 0 ? 0 : -1; slot >= 0; slot = s->next[slot]) {
        s->tokens[n++] = s->tokens[slot];
    }
    return n;
}

static int hex_value(uint8_t c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

const uint8_t *llm_tok_decode(const llm_tokenizer_t *t, int prev, int id, uint8_t *byte, int *len) {
    const uint8_t *s = llm_tok_piece(t, id, len);
    if (prev == 1 && *len > 0 && s[0] == ' ') {
        s++;
        (*len)--;
    }
    // As llama2.c's sscanf(piece, "<0x%02hhX>"): after "<0x", white space is
    // skipped, then up to two characters are read as a hex number, an
    // optional sign among them; anything after is ignored.
    if (*len >= 4 && s[0] == '<' && s[1] == '0' && s[2] == 'x') {
        int i = 3;
        while (i < *len && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) {
            i++;
        }
        int end = i + 2 < *len ? i + 2 : *len;
        int negative = 0;
        if (i < end && (s[i] == '+' || s[i] == '-')) {
            negative = s[i] == '-';
            i++;
        }
        int v = 0, digits = 0;
        for (; i < end && hex_value(s[i]) >= 0; i++, digits++) {
            v = v * 16 + hex_value(s[i]);
        }
        if (digits > 0) {
            *byte = (uint8_t)(negative ? -v : v);
            *len = 1;
            return byte;
        }
    }
    return s;
}

int llm_tok_check_index(llm_tokenizer_t *t, size_t len, int *bad_token) {
    int vocab = t->vocab;
    t->max_len = 0;
    for (int i = 0; i < vocab; i++) {
        *bad_token = i;
        uint32_t off = t->offsets[i];
        if (off < 4 || len < 8 || off > len - 8) {
            return LLM_TOK_TRUNCATED;
        }
        int32_t n = read_i32(t->buf + off + 4);
        if (n < 0 || n > 0xffff || (size_t)n > len - off - 8) {
            return LLM_TOK_BAD_LENGTH;
        }
        if (n > t->max_len) {
            t->max_len = n;
        }
    }
    // Strictly increasing in (piece, id) order means a sorted permutation.
    for (int i = 0; i < vocab; i++) {
        *bad_token = i;
        if (t->sorted[i] >= (uint32_t)vocab) {
            return LLM_TOK_BAD_INDEX;
        }
        if (i > 0 && compare_ids(t, t->sorted[i - 1], t->sorted[i]) >= 0) {
            return LLM_TOK_BAD_INDEX;
        }
    }
    return LLM_TOK_OK;
}
