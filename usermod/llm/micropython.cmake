# The _llm user C module, for CMake-based ports (esp32).  Its sources and flags
# come from sources.txt, which the make builds read too.
add_library(usermod_llm INTERFACE)

set(LLM_SOURCES_TXT ${CMAKE_CURRENT_LIST_DIR}/sources.txt)
# The words of one "key: words" line of sources.txt.
function(llm_sources_get var key)
    file(STRINGS ${LLM_SOURCES_TXT} _line REGEX "^${key}:")
    string(REGEX REPLACE "^${key}:[ \t]*" "" _line "${_line}")
    separate_arguments(_line UNIX_COMMAND "${_line}")
    set(${var} ${_line} PARENT_SCOPE)
endfunction()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${LLM_SOURCES_TXT})

llm_sources_get(_llm_bindings bindings)
llm_sources_get(_llm_kernels kernels)
llm_sources_get(_llm_flags cflags)
if(NOT _llm_bindings OR NOT _llm_kernels OR NOT _llm_flags)
    message(FATAL_ERROR "${LLM_SOURCES_TXT}: no bindings, kernels or cflags line")
endif()
llm_sources_get(_llm_freertos kernels_freertos)
list(APPEND _llm_kernels ${_llm_freertos})
llm_sources_get(_llm_freertos_defines defines_freertos)
target_compile_definitions(usermod_llm INTERFACE ${_llm_freertos_defines})
if(IDF_TARGET STREQUAL "esp32s3")
    llm_sources_get(_llm_s3 kernels_esp32s3)
    list(APPEND _llm_kernels ${_llm_s3})
endif()
list(TRANSFORM _llm_bindings PREPEND ${CMAKE_CURRENT_LIST_DIR}/)
list(TRANSFORM _llm_kernels PREPEND ${CMAKE_CURRENT_LIST_DIR}/)

# modllm_kernels.c compiles to nothing here: LLM_TEST_KERNELS is off off the
# unix port.
target_sources(usermod_llm INTERFACE ${_llm_bindings} ${_llm_kernels})
target_include_directories(usermod_llm INTERFACE ${CMAKE_CURRENT_LIST_DIR})

# MicroPython 1.25's esp32 port compiles a user module's INTERFACE sources
# twice: once in the main component, with ESP-IDF's flags, and once more as
# sources of micropython.elf, without them (MicroPython issue #18880, fixed
# after 1.25), and it links the second copy.  Per-source properties set here
# do not reach that copy either.  Without ESP-IDF's options it is -O0, and
# without its definitions (ESP_PLATFORM) parallel_freertos.c compiles to
# nothing, so llm.threads(2) would stay on one core.  So _llm carries
# ESP-IDF's own options and definitions; the main component, which gets them
# anyway, sees them twice, harmlessly.
if(COMMAND idf_build_get_property)
    idf_build_get_property(_llm_idf_options COMPILE_OPTIONS)
    idf_build_get_property(_llm_idf_c_options C_COMPILE_OPTIONS)
    idf_build_get_property(_llm_idf_definitions COMPILE_DEFINITIONS)
    target_compile_options(usermod_llm INTERFACE
        ${_llm_idf_options} "$<$<COMPILE_LANGUAGE:C>:${_llm_idf_c_options}>")
    target_compile_definitions(usermod_llm INTERFACE ${_llm_idf_definitions})
endif()
# The module's flags from sources.txt (cflags, then a file's file_cflags),
# as properties of its own sources in the directory of each copy (this
# component's and the project's, where micropython.elf is defined): not as
# INTERFACE options, which would reach every source of the main component
# (MicroPython's own at -O3 trip -Werror=stringop-overflow).  Source options
# come after the target's, and for a repeated option the last one counts, so
# the module's -O3 replaces ESP-IDF's -O2 (CONFIG_COMPILER_OPTIMIZATION_PERF,
# which MicroPython's boards/sdkconfig.base sets) for _llm alone.
file(STRINGS ${LLM_SOURCES_TXT} _llm_file_lines REGEX "^file_cflags ")
foreach(_src IN LISTS _llm_bindings _llm_kernels)
    get_filename_component(_name ${_src} NAME)
    set(_opts ${_llm_flags})
    foreach(_line IN LISTS _llm_file_lines)
        if(_line MATCHES "^file_cflags ${_name}:")
            string(REGEX REPLACE "^file_cflags [^:]+:[ \t]*" "" _extra "${_line}")
            separate_arguments(_extra UNIX_COMMAND "${_extra}")
            list(APPEND _opts ${_extra})
        endif()
    endforeach()
    set_source_files_properties(${_src}
        DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_SOURCE_DIR}
        PROPERTIES COMPILE_OPTIONS "${_opts}")
endforeach()

# The ESP32-S3's assembly inner loops (kernels_xtensa.h) need its LX7 core:
# the ESP32's LX6 has no post-increment float loads.
if(IDF_TARGET STREQUAL "esp32s3")
    target_compile_definitions(usermod_llm INTERFACE LLM_XTENSA_LX7=1)
endif()

# The ESP32-S3's int8 matmul through its SIMD: esp-nn's dot kernel, from the
# ESP-IDF component espressif/esp-nn that the LLM_S3* boards declare
# (boards/esp32/common/llm_espnn/idf_component.yml).
if(IDF_TARGET STREQUAL "esp32s3")
    target_compile_definitions(usermod_llm INTERFACE LLM_ESPNN=1)
    target_link_libraries(usermod_llm INTERFACE idf::espressif__esp-nn)
endif()

target_link_libraries(usermod INTERFACE usermod_llm)
