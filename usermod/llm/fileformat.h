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

// One layer's tensors, in the order of the tensor table.
#define LLM_FILE_LAYER_TENSORS(X) \
    X(rms_att) \
    X(wq) \
    X(wk) \
    X(wv) \
    X(wo) \
    X(rms_ffn) \
    X(w1) \
    X(w2) \
    X(w3)

// Entries of the tensor table: the embedding, every layer's, rms_final, the classifier.
#define LLM_FILE_N_TENSORS(n_layers) (3 + 9 * (n_layers))

// A table entry: offset, type, group size, scales offset (int32 each).
#define LLM_FILE_TABLE_ENTRY_SIZE (16)

// Tensor types (a table entry's second field).
#define LLM_FILE_F32 (0)
#define LLM_FILE_Q8 (1)
#define LLM_FILE_Q4 (2)

// Group sizes that need not divide an int8 row are multiples of this.
#define LLM_FILE_SIMD_BYTES (16)

#endif
