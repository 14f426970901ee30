# The _llm user C module, for Make-based ports (unix, qemu):
#   make USER_C_MODULES=/path/to/usermod
LLM_MOD_DIR := $(USERMOD_DIR)

# The binding is scanned for qstrs; the numeric kernels know nothing of MicroPython.
SRC_USERMOD_C += $(LLM_MOD_DIR)/modllm.c
SRC_USERMOD_LIB_C += $(addprefix $(LLM_MOD_DIR)/, \
	kernels.c sampler.c transformer.c tokenizer.c parallel.c)

CFLAGS_USERMOD += -I$(LLM_MOD_DIR)

# Ports build for size (-Os); the kernels are worth speed.  Floating-point
# contraction stays off so that results match llama2.c on every target
# (Xtensa and Arm would otherwise fuse multiply-adds).
$(BUILD)/llm/%.o: CFLAGS += -O3 -ffp-contract=off
