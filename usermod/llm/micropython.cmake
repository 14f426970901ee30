# The _llm user C module, for CMake-based ports (esp32).
add_library(usermod_llm INTERFACE)

set(LLM_KERNEL_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/kernels.c
    ${CMAKE_CURRENT_LIST_DIR}/attention_q8.c
    ${CMAKE_CURRENT_LIST_DIR}/sampler.c
    ${CMAKE_CURRENT_LIST_DIR}/transformer.c
    ${CMAKE_CURRENT_LIST_DIR}/tokenizer.c
    ${CMAKE_CURRENT_LIST_DIR}/parallel.c
    ${CMAKE_CURRENT_LIST_DIR}/parallel_freertos.c
)

target_sources(usermod_llm INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modllm.c
    ${LLM_KERNEL_SOURCES}
)

target_include_directories(usermod_llm INTERFACE ${CMAKE_CURRENT_LIST_DIR})

# The port builds for size; the kernels are worth speed.  Contraction stays off
# so that the S3's fused multiply-add does not change results vs llama2.c.
set_source_files_properties(${LLM_KERNEL_SOURCES} PROPERTIES COMPILE_OPTIONS "-O2;-ffp-contract=off")

# The ESP32-S3's assembly inner loops (kernels_xtensa.h) need its LX7 core:
# the ESP32's LX6 has no post-increment float loads.
if(IDF_TARGET STREQUAL "esp32s3")
    target_compile_definitions(usermod_llm INTERFACE LLM_XTENSA_LX7=1)
endif()

target_link_libraries(usermod INTERFACE usermod_llm)
