// The _llm module's contents, listed once.  modllm.c includes this file to
// declare the objects, to build the firmware's globals table, and to fill a
// native module's globals in mpy_init; tests/test_module_api.py checks that
// usermod/llm/_llm.pyi lists the same names.  Adding a function: bind it in a
// modllm_*.c file (non-static MP_DEFINE_CONST_FUN_OBJ_*), add one line here
// and its signature to _llm.pyi.
//
// Define before including (no include guard: included more than once):
//   LLM_FUNCTION(qstr, object, kind)  a function object defined with
//                                     MP_DEFINE_CONST_FUN_OBJ_<kind>
//   LLM_TYPE(qstr, type)              a type: constant in firmware, built by
//                                     <type>_init() in a native module

// What the llm package calls.
LLM_TYPE(MP_QSTR_Model, llm_model_type)
LLM_TYPE(MP_QSTR_Tokenizer, llm_tok_type)
LLM_FUNCTION(MP_QSTR_memory, llm_memory_obj, 3)
LLM_FUNCTION(MP_QSTR_heap_largest, llm_heap_largest_obj, 0)
LLM_FUNCTION(MP_QSTR_threads, llm_threads_obj, VAR_BETWEEN)

// llama2.c's sampler, for generation loops of one's own.
LLM_FUNCTION(MP_QSTR_random_u32, llm_random_u32_obj, 1)
LLM_FUNCTION(MP_QSTR_sample, llm_sample_obj, VAR_BETWEEN)

#if defined(UNIX)
// The host firmware's stand-in for ROMFS.
LLM_TYPE(MP_QSTR_MappedFile, llm_mapped_type)
#endif

#if LLM_TEST_KERNELS
// Single kernels, for the tests (modllm_kernels.c).
LLM_FUNCTION(MP_QSTR_matmul, llm_matmul_obj, 3)
LLM_FUNCTION(MP_QSTR_matmul_q8, llm_matmul_q8_obj, VAR_BETWEEN)
LLM_FUNCTION(MP_QSTR_matmul_q4, llm_matmul_q4_obj, VAR_BETWEEN)
LLM_FUNCTION(MP_QSTR_quantize, llm_quantize_obj, VAR_BETWEEN)
LLM_FUNCTION(MP_QSTR_rmsnorm, llm_rmsnorm_obj, 3)
LLM_FUNCTION(MP_QSTR_softmax, llm_softmax_obj, VAR_BETWEEN)
LLM_FUNCTION(MP_QSTR_exp_fast, llm_exp_fast_obj, 1)
LLM_FUNCTION(MP_QSTR_argmax, llm_argmax_obj, 1)
LLM_FUNCTION(MP_QSTR_swiglu, llm_swiglu_obj, 2)
LLM_FUNCTION(MP_QSTR_rope, llm_rope_obj, 3)
LLM_FUNCTION(MP_QSTR_attention, llm_attention_obj, VAR_BETWEEN)
LLM_FUNCTION(MP_QSTR_attention_q8, llm_attention_q8_obj, VAR_BETWEEN)
#endif

#undef LLM_FUNCTION
#undef LLM_TYPE
