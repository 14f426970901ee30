// The Tokenizer type: llama2.c's BPE tokenizer (tokenizer.c) over the raw
// bytes of a tokenizer.bin, wherever they live.
#include <string.h>
#include "py/runtime.h"
#include "modllm.h"
#include "tokenizer.h"

typedef struct {
    mp_obj_base_t base;
    mp_obj_t data;        // keeps read-only tokenizer bytes alive (NULL: copied)
    mp_obj_t mapping;     // keeps a mapped file mapped, or NULL
    llm_tokenizer_t tok;  // the bytes and the index
    bool index_in_heap;
} llm_tok_obj_t;

// Tokenizer(data, vocab_size, start=0, size=-1, index=-1): the raw
// tokenizer.bin bytes are data[start:start + size] (size -1: to the end).
// index >= 0 is the offset in data of a stored index (uint32 offsets into the
// tokenizer bytes, then uint32 sorted ids), checked and used in place;
// otherwise the index is built on the heap.
//
// Piece lengths and the index are checked once and then read again on every
// call, so they must not change: read-only data (bytes, a MappedFile, a
// ROMFS file) is used in place; writable data (a bytearray, an array, a
// memoryview of them) is copied, with its stored index, into memory the
// tokenizer owns.
static mp_obj_t llm_tok_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 2, 5, false);
    size_t total;
    const uint8_t *all = llm_get_buf(args[0], &total, MP_BUFFER_READ);
    int vocab = llm_get_positive(args[1], MP_QSTR_vocab_size);
    mp_int_t start = n_args > 2 ? llm_get_word(args[2], MP_QSTR_start) : 0;
    mp_int_t size = n_args > 3 ? llm_get_word(args[3], MP_QSTR_size) : -1;
    mp_int_t index = n_args > 4 ? llm_get_word(args[4], MP_QSTR_index) : -1;
    if (start < 0 || (size_t)start > total || size < -1 || (size >= 0 && (size_t)size > total - (size_t)start)) {
        mp_raise_ValueError(MP_ERROR_TEXT("tokenizer: start and size outside the data"));
    }
    const uint8_t *buf = all + start;
    size_t len = size >= 0 ? (size_t)size : total - (size_t)start;
    if (vocab < 3 || (size_t)vocab > len / 8) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("tokenizer: %d tokens cannot fit in %u bytes"), vocab, (unsigned)len);
    }
    const uint32_t *stored = NULL;
    if (index >= 0) {
        // vocab <= len / 8, so vocab * 8 cannot wrap.
        if ((size_t)index > total || total - (size_t)index < (size_t)vocab * 8 || ((uintptr_t)(all + index) & 3) != 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("tokenizer: index outside the data or not 4-byte aligned"));
        }
        stored = (const uint32_t *)(all + index);
    }
    llm_tok_obj_t *self = mp_obj_malloc(llm_tok_obj_t, type);
    llm_tokenizer_t *t = &self->tok;
    t->vocab = vocab;
    self->data = MP_OBJ_NULL;
    self->mapping = MP_OBJ_NULL;
    bool copy = llm_is_writable(args[0]);
    if (copy) {
        uint8_t *own = llm_new_array(len, 1);
        memcpy(own, buf, len);
        buf = own;
    } else {
        self->data = args[0];
        self->mapping = llm_mapping_containing(buf, len);
    }
    t->buf = buf;
    int bad, err;
    self->index_in_heap = stored == NULL || copy;
    if (stored != NULL) {
        if (copy) {
            uint32_t *own = llm_new_array((size_t)vocab * 2, sizeof(uint32_t));
            memcpy(own, stored, (size_t)vocab * 8);
            stored = own;
        }
        t->offsets = stored;
        t->sorted = stored + vocab;
        err = llm_tok_check_index(t, len, &bad);
    } else {
        err = llm_tok_index(t, len, llm_new_array((size_t)vocab, sizeof(uint32_t)), &bad);
        if (err == LLM_TOK_OK) {
            llm_tok_sort(t, llm_new_array((size_t)vocab, sizeof(uint32_t)));
        }
    }
    if (err == LLM_TOK_TRUNCATED) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("tokenizer truncated at token %d of %d"), bad, vocab);
    } else if (err == LLM_TOK_BAD_LENGTH) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("tokenizer: bad piece length at token %d"), bad);
    } else if (err != LLM_TOK_OK) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("tokenizer: stored index is wrong at entry %d"), bad);
    }
    return MP_OBJ_FROM_PTR(self);
}

// llama2.c sees prompts and pieces as C strings: they end at the first NUL.
static size_t c_string_len(const uint8_t *s, size_t len) {
    const uint8_t *nul = memchr(s, 0, len);
    return nul ? (size_t)(nul - s) : len;
}

// Merges between two looks for Ctrl-C: a few milliseconds on the S3.
#define MERGES_PER_POLL (2048)

// encode(text, bos=True, eos=False) -> list of token ids
static mp_obj_t llm_tok_encode_fn(size_t n_args, const mp_obj_t *args) {
    llm_tok_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    const llm_tokenizer_t *t = &self->tok;
    size_t len;
    const uint8_t *text = (const uint8_t *)mp_obj_str_get_data(args[1], &len);
    len = c_string_len(text, len);
    bool bos = n_args > 2 ? mp_obj_is_true(args[2]) : true;
    bool eos = n_args > 3 ? mp_obj_is_true(args[3]) : false;
    // Up to len + 3 tokens, and 5 more words per token while merging: the
    // whole need (24 bytes a token, and the pair buffer) must fit a size_t
    // and the token count an int.
    if (len > 0x7fff0000 || len > SIZE_MAX / 32) {
        mp_raise_ValueError(MP_ERROR_TEXT("text too long"));
    }
    size_t pair_bytes = 2 * (size_t)t->max_len + 1;  // max_len <= 0xffff
    // As much as the merges need at most, for the message: the text is read
    // once before anything is allocated, so a prompt that does not fit says
    // so before using the heap up.
    size_t need = (len + 3) * sizeof(int32_t) + (LLM_TOK_MERGE_WORDS(len + 2) + 1) * sizeof(int32_t) + pair_bytes;
    int32_t *tokens = llm_try_alloc((len + 3) * sizeof(int32_t));
    uint8_t *pair = tokens ? llm_try_alloc(pair_bytes) : NULL;
    int n = 0;
    int32_t *work = NULL;
    if (pair != NULL) {
        n = llm_tok_encode_start(t, text, (int)len, bos, tokens);
        // One word more: an empty text has no tokens, and 0 bytes would be NULL.
        work = llm_try_alloc((LLM_TOK_MERGE_WORDS(n) + 1) * sizeof(int32_t));
    }
    if (work == NULL) {
        mp_raise_msg_varg(&mp_type_MemoryError,
            MP_ERROR_TEXT("encode: a prompt of %lu bytes needs up to %lu bytes of heap; shorten it"),
            (unsigned long)len, (unsigned long)need);
    }
    llm_tok_merge_t merge;
    llm_tok_merge_init(t, &merge, tokens, n, work, pair);
    while (llm_tok_merge_run(t, &merge, MERGES_PER_POLL) > 0) {
        llm_poll();
    }
    n = llm_tok_merge_finish(&merge);
    m_del(int32_t, work, LLM_TOK_MERGE_WORDS(merge.n) + 1);
    m_del(uint8_t, pair, pair_bytes);
    if (eos) {
        tokens[n++] = 2;
    }
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (int i = 0; i < n; i++) {
        mp_obj_list_append(list, MP_OBJ_NEW_SMALL_INT(tokens[i]));
    }
    m_del(int32_t, tokens, len + 3);
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(llm_tok_encode_obj, 2, 4, llm_tok_encode_fn);

// decode(prev, token) -> the bytes llama2.c prints for token after prev
static mp_obj_t llm_tok_decode_fn(mp_obj_t self_in, mp_obj_t prev_in, mp_obj_t id_in) {
    llm_tok_obj_t *self = MP_OBJ_TO_PTR(self_in);
    int prev = llm_check_range(prev_in, self->tok.vocab, MP_QSTR_prev);
    int id = llm_check_range(id_in, self->tok.vocab, MP_QSTR_token);
    uint8_t byte;
    int len;
    const uint8_t *s = llm_tok_decode(&self->tok, prev, id, &byte, &len);
    return mp_obj_new_bytes(s, (size_t)len);
}
static MP_DEFINE_CONST_FUN_OBJ_3(llm_tok_decode_obj, llm_tok_decode_fn);

// piece(token) -> the token's raw piece
static mp_obj_t llm_tok_piece_fn(mp_obj_t self_in, mp_obj_t id_in) {
    llm_tok_obj_t *self = MP_OBJ_TO_PTR(self_in);
    int len;
    const uint8_t *s = llm_tok_piece(&self->tok, llm_check_range(id_in, self->tok.vocab, MP_QSTR_token), &len);
    return mp_obj_new_bytes(s, (size_t)len);
}
static MP_DEFINE_CONST_FUN_OBJ_2(llm_tok_piece_obj, llm_tok_piece_fn);

// lookup(piece) -> token id or -1
static mp_obj_t llm_tok_lookup_fn(mp_obj_t self_in, mp_obj_t piece_in) {
    llm_tok_obj_t *self = MP_OBJ_TO_PTR(self_in);
    size_t len;
    const uint8_t *s = (const uint8_t *)mp_obj_str_get_data(piece_in, &len);
    len = c_string_len(s, len);
    if (len > 0xffff) {
        return MP_OBJ_NEW_SMALL_INT(-1);
    }
    return MP_OBJ_NEW_SMALL_INT(llm_tok_lookup(&self->tok, s, (int)len));
}
static MP_DEFINE_CONST_FUN_OBJ_2(llm_tok_lookup_obj, llm_tok_lookup_fn);

static void llm_tok_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    llm_tok_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] != MP_OBJ_NULL) {
        return;
    }
    if (attr == MP_QSTR_vocab_size) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(self->tok.vocab);
    } else if (attr == MP_QSTR_index_bytes) {
        // Heap bytes of the index; a stored index lives with the data.
        dest[0] = mp_obj_new_int_from_uint(self->index_in_heap ? (size_t)self->tok.vocab * 8 : 0);
    } else {
        dest[1] = MP_OBJ_SENTINEL;  // continue lookup in locals_dict
    }
}

// The type: constant in firmware, built at import in a native module.
#define LLM_TOK_METHODS(X) \
    X(MP_QSTR_encode, llm_tok_encode_obj) \
    X(MP_QSTR_decode, llm_tok_decode_obj) \
    X(MP_QSTR_piece, llm_tok_piece_obj) \
    X(MP_QSTR_lookup, llm_tok_lookup_obj)

LLM_DEFINE_LOCALS(llm_tok_locals_dict, LLM_TOK_METHODS)

#if MICROPY_ENABLE_DYNRUNTIME
mp_obj_full_type_t llm_tok_type;
void llm_tok_type_init(void) {
    llm_tok_locals_dict_fill();
    llm_natmod_type_init(&llm_tok_type, MP_QSTR_Tokenizer);
    MP_OBJ_TYPE_SET_SLOT(&llm_tok_type, make_new, llm_tok_make_new, 0);
    MP_OBJ_TYPE_SET_SLOT(&llm_tok_type, attr, llm_tok_attr, 1);
    MP_OBJ_TYPE_SET_SLOT(&llm_tok_type, locals_dict, (void *)&llm_tok_locals_dict, 2);
}
#else
MP_DEFINE_CONST_OBJ_TYPE(
    llm_tok_type,
    MP_QSTR_Tokenizer,
    MP_TYPE_FLAG_NONE,
    make_new, llm_tok_make_new,
    attr, llm_tok_attr,
    locals_dict, &llm_tok_locals_dict
    );
#endif
