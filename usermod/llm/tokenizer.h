// llama2.c's BPE tokenizer, working over the raw bytes of a tokenizer.bin
// (int32 max_token_length, then per token: float32 score, int32 length,
// bytes) wherever they live, heap or flash.  Two uint32 index arrays replace
// the per-token objects a Python tokenizer would need; llm_tokenizer_t holds
// the bytes and the index.
#ifndef LLM_TOKENIZER_H
#define LLM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

enum { LLM_TOK_OK = 0, LLM_TOK_TRUNCATED = 1, LLM_TOK_BAD_LENGTH = 2, LLM_TOK_BAD_INDEX = 3 };

// A tokenizer: the tokenizer.bin bytes and the index over them.
typedef struct {
    const uint8_t *buf;       // tokenizer.bin: int32 max_token_length, then the records
    const uint32_t *offsets;  // [vocab] byte offset in buf of each token's record
    const uint32_t *sorted;   // [vocab] token ids in piece order (llm_tok_sort)
    int vocab;                // number of tokens
    int max_len;              // longest piece, in bytes (<= 0xffff)
} llm_tokenizer_t;

// Building the index over t->buf[len] for t->vocab tokens.  Each returns
// LLM_TOK_OK, or an error with *bad_token set to the token that failed.
//
// llm_tok_index: fill offsets[vocab] with the byte offset of each token's
// record, and point t->offsets at it; set t->max_len.
int llm_tok_index(llm_tokenizer_t *t, size_t len, uint32_t *offsets, int *bad_token);
// llm_tok_sort: fill sorted[vocab] with token ids ordered by piece (strcmp
// order, ties by id), and point t->sorted at it.  Needs t->offsets.
void llm_tok_sort(llm_tokenizer_t *t, uint32_t *sorted);
// llm_tok_check_index: check an index stored with the tokenizer (t->offsets
// and t->sorted as the two functions above make them) before trusting it;
// set t->max_len.
int llm_tok_check_index(llm_tokenizer_t *t, size_t len, int *bad_token);

// A token's piece, up to its first NUL as llama2.c's C strings would see it.
const uint8_t *llm_tok_piece(const llm_tokenizer_t *t, int id, int *len);
float llm_tok_score(const llm_tokenizer_t *t, int id);

// Id of the token whose piece is exactly s[len], or -1.
int llm_tok_lookup(const llm_tokenizer_t *t, const uint8_t *s, int len);

// Encoding text as llama2.c does, in steps so that the caller can poll for
// Ctrl-C between them:
//
// llm_tok_encode_start: optional BOS (1), a dummy-prefix " " when the text
// is not empty, then UTF-8 code points or byte fallback (byte + 3), into
// tokens (len + 2 entries); returns their count n.
int llm_tok_encode_start(const llm_tokenizer_t *t, const uint8_t *text, int len, int bos, int32_t *tokens);

// The merges, greedy by best score as llama2.c's, in O(n log n) time.
typedef struct {
    int32_t *tokens;          // [n] the token in each slot
    int32_t *next, *prev;     // [n] the neighbouring live slots, -1 at the ends
    int32_t *pair;            // [n] the token slot and next merge into, or -1
    int32_t *heap;            // [heap_n] slots whose pair merges, best first
    int32_t *where;           // [n] a slot's place in heap, or -1
    uint8_t *buf;             // 2 * max_len bytes: a pair's pieces joined
    int n, heap_n;
} llm_tok_merge_t;

// Set up merging tokens[n] in place; work holds LLM_TOK_MERGE_WORDS(n)
// int32, buf 2 * t->max_len bytes.
#define LLM_TOK_MERGE_WORDS(n) (5 * (size_t)(n))
void llm_tok_merge_init(const llm_tokenizer_t *t, llm_tok_merge_t *s, int32_t *tokens, int n, int32_t *work,
    uint8_t *buf);
// Up to max_merges merges; returns the number of mergeable pairs left (0:
// done).
int llm_tok_merge_run(const llm_tokenizer_t *t, llm_tok_merge_t *s, int max_merges);
// Once done: the merged tokens moved to the front of tokens; returns their
// count.  An EOS (2), if wanted, goes after them.
int llm_tok_merge_finish(llm_tok_merge_t *s);

// The bytes llama2.c's decode() gives for token id after prev: the space
// after BOS dropped, and "<0xXX>" pieces turned into the raw byte (stored in
// *byte).  Sets *len and returns the bytes.
const uint8_t *llm_tok_decode(const llm_tokenizer_t *t, int prev, int id, uint8_t *byte, int *len);

#endif
