// llama2.c's BPE tokenizer, working over the raw bytes of a tokenizer.bin
// (int32 max_token_length, then per token: float32 score, int32 length,
// bytes) wherever they live, heap or flash.  Two uint32 index arrays replace
// the per-token objects a Python tokenizer would need.
#ifndef LLM_TOKENIZER_H
#define LLM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

enum { LLM_TOK_OK = 0, LLM_TOK_TRUNCATED = 1, LLM_TOK_BAD_LENGTH = 2, LLM_TOK_BAD_INDEX = 3 };

// Fill offsets[vocab] with the byte offset of each token's record and
// *max_len with the longest piece.  Returns LLM_TOK_OK, or an error with
// *bad_token set to the token that failed.
int llm_tok_index(const uint8_t *buf, size_t len, int vocab, uint32_t *offsets,
    int *bad_token, int *max_len);

// Check an index stored with the tokenizer (offsets and sorted as the two
// functions around this one make them) before trusting it.
int llm_tok_check_index(const uint8_t *buf, size_t len, int vocab, const uint32_t *offsets,
    const uint32_t *sorted, int *bad_token, int *max_len);

// Fill sorted[vocab] with token ids ordered by piece (strcmp order, ties by id).
void llm_tok_sort(const uint8_t *buf, const uint32_t *offsets, int vocab, uint32_t *sorted);

// A token's piece, up to its first NUL as llama2.c's C strings would see it.
const uint8_t *llm_tok_piece(const uint8_t *buf, const uint32_t *offsets, int id, int *len);
float llm_tok_score(const uint8_t *buf, const uint32_t *offsets, int id);

// Id of the token whose piece is exactly s[len], or -1.
int llm_tok_lookup(const uint8_t *buf, const uint32_t *offsets, const uint32_t *sorted,
    int vocab, const uint8_t *s, int len);

// Encode text as llama2.c does: optional BOS (1), a dummy-prefix " " when
// the text is not empty, UTF-8 code points or byte fallback (byte + 3), then
// greedy merges by best score; optional EOS (2).  tokens needs len + 3
// entries and pair needs 2 * max_len bytes.  Returns the count.
int llm_tok_encode(const uint8_t *buf, const uint32_t *offsets, const uint32_t *sorted, int vocab,
    const uint8_t *text, int len, int bos, int eos, int32_t *tokens, uint8_t *pair);

// The bytes llama2.c's decode() gives for token id after prev: the space
// after BOS dropped, and "<0xXX>" pieces turned into the raw byte (stored in
// *byte).  Sets *len and returns the bytes.
const uint8_t *llm_tok_decode(const uint8_t *buf, const uint32_t *offsets, int prev, int id,
    uint8_t *byte, int *len);

#endif
