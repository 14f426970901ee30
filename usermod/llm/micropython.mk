# The _llm user C module, for Make-based ports (unix, qemu, s3sim):
#   make USER_C_MODULES=/path/to/usermod
# Its sources and flags come from sources.txt, which every build reads.
LLM_MOD_DIR := $(USERMOD_DIR)
LLM_SOURCES_TXT := $(LLM_MOD_DIR)/sources.txt
# The words of one "key: words" line of sources.txt.
llm_sources = $(shell sed -n 's/^$(1):[ \t]*//p' $(LLM_SOURCES_TXT))

# The bindings are scanned for qstrs; the numeric kernels know nothing of
# MicroPython.  modllm_kernels.c is empty unless LLM_TEST_KERNELS is on
# (modllm.h: on for the unix port).
SRC_USERMOD_C += $(addprefix $(LLM_MOD_DIR)/,$(call llm_sources,bindings))
SRC_USERMOD_LIB_C += $(addprefix $(LLM_MOD_DIR)/,$(call llm_sources,kernels))

CFLAGS_USERMOD += -I$(LLM_MOD_DIR)

# The module's flags after the port's (-Os on most ports): see sources.txt.
# Its objects are rebuilt when that file changes (flags or list).
$(addprefix $(BUILD)/llm/,$(patsubst %.c,%.o,$(call llm_sources,bindings) $(call llm_sources,kernels))): $(LLM_SOURCES_TXT)
$(BUILD)/llm/%.o: CFLAGS += $(call llm_sources,cflags)
$(foreach f,$(shell sed -n 's/^file_cflags \([^:]*\):.*/\1/p' $(LLM_SOURCES_TXT)),\
	$(eval $(BUILD)/llm/$(basename $(f)).o: CFLAGS += $(call llm_sources,file_cflags $(f))))

ifneq ($(findstring esp32s3,$(CROSS_COMPILE)),)
# The ESP32-S3 (the s3sim port): ESP-IDF's code generation, as the firmware.
$(BUILD)/llm/%.o: CFLAGS += $(call llm_sources,cflags_xtensa)
# The assembly inner loops (kernels_xtensa.h) need the S3's LX7 core: the
# ESP32's LX6 has no post-increment float loads.
CFLAGS_USERMOD += -DLLM_XTENSA_LX7
# The int8 matmul through the S3's SIMD: esp-nn's dot kernel, assembled from
# esp-nn's source in ESPNN_DIR (the s3sim port sets it to the unpacked
# s3-tools copy).  Without ESPNN_DIR the portable C path is built.
ifneq ($(ESPNN_DIR),)
SRC_USERMOD_LIB_C += $(addprefix $(LLM_MOD_DIR)/,$(call llm_sources,kernels_esp32s3))
SRC_USERMOD_LIB_ASM += $(addprefix $(LLM_MOD_DIR)/,$(call llm_sources,asm_esp32s3))
CFLAGS_USERMOD += -DLLM_ESPNN
$(BUILD)/llm/espnn_dot_s8.o: CFLAGS += -I$(ESPNN_DIR)/src/common
endif
endif
