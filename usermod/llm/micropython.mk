# The _llm user C module, for Make-based ports (unix, qemu):
#   make USER_C_MODULES=/path/to/usermod
LLM_MOD_DIR := $(USERMOD_DIR)

# The binding is scanned for qstrs; the numeric kernels know nothing of MicroPython.
SRC_USERMOD_C += $(LLM_MOD_DIR)/modllm.c
SRC_USERMOD_LIB_C += $(addprefix $(LLM_MOD_DIR)/, \
	kernels.c attention_q8.c sampler.c transformer.c tokenizer.c parallel.c)

CFLAGS_USERMOD += -I$(LLM_MOD_DIR)

# Ports build for size (-Os); the kernels are worth speed.  Floating-point
# contraction stays off so that results match llama2.c on every target
# (Xtensa and Arm would otherwise fuse multiply-adds).
$(BUILD)/llm/%.o: CFLAGS += -O3 -ffp-contract=off
# The ESP32-S3's assembly inner loops (kernels_xtensa.h) need its LX7 core:
# the ESP32's LX6 has no post-increment float loads.
ifneq ($(findstring esp32s3,$(CROSS_COMPILE)),)
CFLAGS_USERMOD += -DLLM_XTENSA_LX7
endif
# The int8 attention's clamps and maxima vectorise only when gcc may assume
# no traps, NaNs or infinities, and ignore the sign of zero; its inputs are
# finite, and its float sums keep their order (no -ffast-math).
$(BUILD)/llm/attention_q8.o: CFLAGS += -fno-trapping-math -ffinite-math-only -fno-signed-zeros
