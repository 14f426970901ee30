# The _llm user C module, for CMake-based ports (esp32).
add_library(usermod_llm INTERFACE)

set(LLM_KERNEL_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/kernels.c
    ${CMAKE_CURRENT_LIST_DIR}/kernels_xtensa.c
    ${CMAKE_CURRENT_LIST_DIR}/quant.c
    ${CMAKE_CURRENT_LIST_DIR}/matmul_q8.c
    ${CMAKE_CURRENT_LIST_DIR}/matmul_q8_sse2.c
    ${CMAKE_CURRENT_LIST_DIR}/activations_fast.c
    ${CMAKE_CURRENT_LIST_DIR}/matmul_q4.c
    ${CMAKE_CURRENT_LIST_DIR}/attention_q8.c
    ${CMAKE_CURRENT_LIST_DIR}/attention_q8_sse2.c
    ${CMAKE_CURRENT_LIST_DIR}/attention_q8_s3.c
    ${CMAKE_CURRENT_LIST_DIR}/kv_cache.c
    ${CMAKE_CURRENT_LIST_DIR}/sampler.c
    ${CMAKE_CURRENT_LIST_DIR}/transformer.c
    ${CMAKE_CURRENT_LIST_DIR}/tokenizer.c
    ${CMAKE_CURRENT_LIST_DIR}/parallel.c
    ${CMAKE_CURRENT_LIST_DIR}/parallel_freertos.c
)

# The bindings (see modllm.h).  modllm_kernels.c compiles to nothing here:
# LLM_TEST_KERNELS is off off the unix port.
target_sources(usermod_llm INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modllm.c
    ${CMAKE_CURRENT_LIST_DIR}/modllm_args.c
    ${CMAKE_CURRENT_LIST_DIR}/modllm_model.c
    ${CMAKE_CURRENT_LIST_DIR}/modllm_tokenizer.c
    ${CMAKE_CURRENT_LIST_DIR}/modllm_sampler.c
    ${CMAKE_CURRENT_LIST_DIR}/modllm_mappedfile.c
    ${CMAKE_CURRENT_LIST_DIR}/modllm_kernels.c
    ${LLM_KERNEL_SOURCES}
)

target_include_directories(usermod_llm INTERFACE ${CMAKE_CURRENT_LIST_DIR})

# The port builds for size; the kernels are worth speed.  -O2 here where
# micropython.mk gives -O3: the firmware must fit the flash app partition
# next to the model's ROMFS (boards/esp32/README.md), and -O3's unrolled and
# duplicated loops grow the kernels' code for little gain on the S3, whose
# inner loops are assembly (kernels_xtensa.h).  Contraction stays off so that
# the S3's fused multiply-add does not change results vs llama2.c.
set_source_files_properties(${LLM_KERNEL_SOURCES} PROPERTIES COMPILE_OPTIONS "-O2;-ffp-contract=off")

# The ESP32-S3's assembly inner loops (kernels_xtensa.h) need its LX7 core:
# the ESP32's LX6 has no post-increment float loads.
if(IDF_TARGET STREQUAL "esp32s3")
    target_compile_definitions(usermod_llm INTERFACE LLM_XTENSA_LX7=1)
endif()

# The ESP32-S3's int8 matmul through its SIMD: esp-nn's dot kernel, from the
# ESP-IDF component espressif/esp-nn that the LLM_S3* boards declare
# (boards/esp32/common/llm_espnn/idf_component.yml).
if(IDF_TARGET STREQUAL "esp32s3")
    target_sources(usermod_llm INTERFACE ${CMAKE_CURRENT_LIST_DIR}/matmul_q8_esp32s3.c)
    set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/matmul_q8_esp32s3.c
        PROPERTIES COMPILE_OPTIONS "-O2;-ffp-contract=off")
    target_compile_definitions(usermod_llm INTERFACE LLM_ESPNN=1)
    target_link_libraries(usermod_llm INTERFACE idf::espressif__esp-nn)
endif()

target_link_libraries(usermod INTERFACE usermod_llm)
