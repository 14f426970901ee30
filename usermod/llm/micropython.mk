# The _llm user C module, for Make-based ports (unix, qemu):
#   make USER_C_MODULES=/path/to/usermod
LLM_MOD_DIR := $(USERMOD_DIR)

# The bindings (modllm*.c, see modllm.h) are scanned for qstrs; the numeric
# kernels know nothing of MicroPython.  modllm_kernels.c is empty unless
# LLM_TEST_KERNELS is on (modllm.h: on for the unix port).
SRC_USERMOD_C += $(addprefix $(LLM_MOD_DIR)/, \
	modllm.c modllm_args.c modllm_model.c modllm_tokenizer.c modllm_sampler.c \
	modllm_mappedfile.c modllm_kernels.c)
SRC_USERMOD_LIB_C += $(addprefix $(LLM_MOD_DIR)/, \
	kernels.c kernels_xtensa.c quant.c matmul_q8.c matmul_q4.c matmul_q8_sse2.c activations_fast.c attention_q8.c attention_q8_sse2.c attention_q8_s3.c kv_cache.c sampler.c transformer.c tokenizer.c parallel.c)

CFLAGS_USERMOD += -I$(LLM_MOD_DIR)

# Ports build for size (-Os); the kernels are worth speed: -O3 here (host,
# emulated boards), -O2 in micropython.cmake, where the ESP32 firmware must fit
# its flash app partition next to the model's ROMFS.  Floating-point
# contraction stays off so that results match llama2.c on every target
# (Xtensa and Arm would otherwise fuse multiply-adds).
$(BUILD)/llm/%.o: CFLAGS += -O3 -ffp-contract=off
# The ESP32-S3's assembly inner loops (kernels_xtensa.h) need its LX7 core:
# the ESP32's LX6 has no post-increment float loads.
ifneq ($(findstring esp32s3,$(CROSS_COMPILE)),)
CFLAGS_USERMOD += -DLLM_XTENSA_LX7
endif
# The int8 paths' clamps and maxima (attention, fast exponentials) vectorise
# only when gcc may assume no traps, NaNs or infinities, and ignore the sign
# of zero; their inputs are finite, and their float sums keep their order
# (no -ffast-math).
LLM_FAST_MATH_O := activations_fast.o attention_q8.o attention_q8_sse2.o attention_q8_s3.o
$(addprefix $(BUILD)/llm/,$(LLM_FAST_MATH_O)): CFLAGS += -fno-trapping-math -ffinite-math-only -fno-signed-zeros
# The ESP32-S3's int8 matmul through its SIMD: esp-nn's dot kernel, assembled
# from esp-nn's source in ESPNN_DIR (the s3sim port sets it to the unpacked
# s3-tools copy).  Without ESPNN_DIR the portable C path is built.
ifneq ($(findstring esp32s3,$(CROSS_COMPILE)),)
ifneq ($(ESPNN_DIR),)
SRC_USERMOD_LIB_C += $(LLM_MOD_DIR)/matmul_q8_esp32s3.c
SRC_USERMOD_LIB_ASM += $(LLM_MOD_DIR)/espnn_dot_s8.S
CFLAGS_USERMOD += -DLLM_ESPNN
$(BUILD)/llm/espnn_dot_s8.o: CFLAGS += -I$(ESPNN_DIR)/src/common
endif
endif
