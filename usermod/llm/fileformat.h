// The .llm format's facts that the C module needs.  Generated from
// app/llm/fileformat.py by `python3 -m host.fileformat --c-header`: do not
// edit; tests/test_module_api.py checks that it is up to date.
#ifndef LLM_FILEFORMAT_H
#define LLM_FILEFORMAT_H

// The config's fields, in the order the file stores them (int32 each).
#define LLM_FILE_CONFIG(X) \
    X(dim) \
    X(hidden_dim) \
    X(n_layers) \
    X(n_heads) \
    X(n_kv_heads) \
    X(vocab_size) \
    X(seq_len)

// The tensors with their shapes (name, rows, cols) in the config's terms:
// kv_dim = dim / n_heads * n_kv_heads; one = a single row.  The table
// holds the embedding, each layer's LLM_FILE_LAYER_TENSORS in this order,
// then rms_final and the classifier.
#define LLM_FILE_LAYER_TENSORS(X) \
    X(rms_att, one, dim) \
    X(wq, dim, dim) \
    X(wk, kv_dim, dim) \
    X(wv, kv_dim, dim) \
    X(wo, dim, dim) \
    X(rms_ffn, one, dim) \
    X(w1, hidden_dim, dim) \
    X(w2, dim, hidden_dim) \
    X(w3, hidden_dim, dim)
#define LLM_FILE_EMBEDDING(X) X(embedding, vocab_size, dim)
#define LLM_FILE_RMS_FINAL(X) X(rms_final, one, dim)
#define LLM_FILE_CLASSIFIER(X) X(classifier, vocab_size, dim)

// Entries of the tensor table: the embedding, every layer's, rms_final, the classifier.
#define LLM_FILE_N_TENSORS(n_layers) (3 + 9 * (n_layers))

// A table entry: offset, type, group size, scales offset (int32 each).
#define LLM_FILE_TABLE_ENTRY_SIZE (16)

// Tensor types (a table entry's second field), of weights and of the KV
// cache; the comment is the type's name (llm.load(kv=...)).
typedef enum {
    LLM_F32 = 0,  // "f32"
    LLM_Q8 = 1,  // "int8"
    LLM_Q4 = 2,  // "int4"
} llm_type_t;
#define LLM_FILE_N_TYPES (3)

// The types a KV cache may hold.
#define LLM_FILE_KV_TYPES(X) \
    X(LLM_F32) \
    X(LLM_Q8)

// Group sizes that need not divide an int8 row are multiples of this
// (fileformat.group_size_ok; in C: tensor.h's llm_group_size_ok).
#define LLM_FILE_SIMD_BYTES (16)

#endif
