# The bare-metal kernel harness (tests/s3kernels): the _llm kernels built for
# the emulated ESP32-S3 core and for the host from one source; see harness.c.
#   make s3-harness   -> build/s3kernels/harness.elf and build/s3kernels/harness-host
# Included by the top Makefile, which defines S3_BIN and S3_TOOLS_STAMP.

S3K_DIR := tests/s3kernels
S3K_BUILD := $(BUILD_DIR)/s3kernels
# The module's plain C (its list and flags in usermod/llm/sources.txt): no
# bindings, no FreeRTOS, and the portable int8 path (no esp-nn).
S3K_SOURCES_TXT := usermod/llm/sources.txt
s3k_sources = $(shell sed -n 's/^$(1):[ \t]*//p' $(S3K_SOURCES_TXT))
S3K_LLM_NAMES := $(call s3k_sources,kernels)
S3K_LLM_SRC := $(addprefix usermod/llm/,$(S3K_LLM_NAMES))
S3K_LIBM_SRC := $(addprefix $(MICROPY_DIR)/lib/libm/,math.c sf_sin.c sf_cos.c kf_sin.c kf_cos.c \
	ef_rem_pio2.c kf_rem_pio2.c ef_sqrt.c)
S3K_DEPS := $(S3K_LLM_SRC) $(S3K_SOURCES_TXT) $(wildcard usermod/llm/*.h) $(S3K_DIR)/harness.c $(S3K_DIR)/sincos.c \
	$(S3K_DIR)/libc.c usermod/natmod/libc_loops.c $(S3K_DIR)/crt0.S boards/s3sim/window_vectors.S $(S3K_DIR)/sim.ld $(S3K_DIR)/s3kernels.mk
# The module's flags, as the firmware's (sources.txt); on the S3 also
# ESP-IDF's code generation.  One core: the harness has no second thread.
S3K_MOD_FLAGS := $(call s3k_sources,cflags) -DLLM_NO_THREADS -DLLM_XTENSA_LX7 -Iusermod/llm -Wall -Wno-unused-function
S3K_XTENSA_FLAGS := $(call s3k_sources,cflags_xtensa)
# The module's sources one by one, each with its per-file flags.
#   $(call S3K_LLM_OBJS,compiler and flags,output folder)
define S3K_LLM_OBJS
	for f in $(S3K_LLM_NAMES); do \
		$(1) $$(sed -n "s/^file_cflags $$f:[ \t]*//p" $(S3K_SOURCES_TXT)) -c usermod/llm/$$f -o $(2)/llm_$${f%.c}.o || exit 1; done
endef
# libm is third-party code: built as it is, without contraction on both
# sides so that the two builds run the same float operations.
S3K_LIBM_FLAGS := -O2 -ffp-contract=off -w
S3K_CC := $(S3_BIN)/xtensa-esp32s3-elf-gcc

# kernels.c a second time without the S3's assembly, its functions renamed
# portable_*: the harness's reference (see harness.c).
#   $(call S3K_PORTABLE,compiler,nm,objcopy,output object)
define S3K_PORTABLE
	$(1) $(S3K_MOD_FLAGS) -ULLM_XTENSA_LX7 -c usermod/llm/kernels.c -o $(4).tmp.o
	$(2) -g --defined-only $(4).tmp.o | awk '{print $$3 " portable_" $$3}' > $(4).syms
	$(3) --redefine-syms=$(4).syms $(4).tmp.o $(4)
endef

.PHONY: s3-harness
s3-harness: $(S3K_BUILD)/harness.elf $(S3K_BUILD)/harness-host

$(S3K_BUILD)/harness.elf: $(S3K_DEPS) $(S3_TOOLS_STAMP)
	@mkdir -p $(S3K_BUILD)/s3
	cd $(S3K_BUILD)/s3 && for f in $(S3K_LIBM_SRC); do \
		$(S3K_CC) $(S3K_LIBM_FLAGS) -c $$f -o libm_$$(basename $$f .c).o || exit 1; done
	$(S3K_CC) -O2 -fno-builtin -fno-tree-loop-distribute-patterns -c $(S3K_DIR)/libc.c -o $(S3K_BUILD)/s3/libc.o
	$(S3K_CC) -O2 -fno-builtin -c $(S3K_DIR)/sincos.c -o $(S3K_BUILD)/s3/sincos.o
	$(call S3K_PORTABLE,$(S3K_CC),$(S3_BIN)/xtensa-esp32s3-elf-nm,$(S3_BIN)/xtensa-esp32s3-elf-objcopy,$(S3K_BUILD)/s3/portable_kernels.o)
	$(call S3K_LLM_OBJS,$(S3K_CC) $(S3K_MOD_FLAGS) $(S3K_XTENSA_FLAGS),$(S3K_BUILD)/s3)
	$(S3K_CC) $(S3K_MOD_FLAGS) -nostdlib -T $(S3K_DIR)/sim.ld -o $@ \
		$(S3K_DIR)/crt0.S $(S3K_DIR)/harness.c $(S3K_BUILD)/s3/sincos.o $(addprefix $(S3K_BUILD)/s3/llm_,$(S3K_LLM_NAMES:.c=.o)) $(S3K_BUILD)/s3/portable_kernels.o \
		$(S3K_BUILD)/s3/libc.o $(S3K_BUILD)/s3/libm_*.o -lgcc
	$(S3_BIN)/xtensa-esp32s3-elf-objdump -d $@ > $(S3K_BUILD)/harness.dis

$(S3K_BUILD)/harness-host: $(S3K_DEPS)
	@mkdir -p $(S3K_BUILD)/host
	cd $(S3K_BUILD)/host && for f in $(S3K_LIBM_SRC); do \
		$(CC) $(S3K_LIBM_FLAGS) -c $$f -o libm_$$(basename $$f .c).o || exit 1; done
	$(CC) -O2 -fno-builtin -c $(S3K_DIR)/sincos.c -o $(S3K_BUILD)/host/sincos.o
	$(call S3K_PORTABLE,$(CC),nm,objcopy,$(S3K_BUILD)/host/portable_kernels.o)
	$(call S3K_LLM_OBJS,$(CC) $(S3K_MOD_FLAGS),$(S3K_BUILD)/host)
	$(CC) $(S3K_MOD_FLAGS) -o $@ $(S3K_DIR)/harness.c $(S3K_BUILD)/host/sincos.o $(addprefix $(S3K_BUILD)/host/llm_,$(S3K_LLM_NAMES:.c=.o)) \
		$(S3K_BUILD)/host/portable_kernels.o \
		$(S3K_BUILD)/host/libm_*.o

# Instructions per translated block, all blocks (see pcprof.c).
S3K_PCPROF := $(S3K_BUILD)/libpcprof.so
$(S3K_PCPROF): $(S3K_DIR)/pcprof.c
	@mkdir -p $(S3K_BUILD)
	$(CC) -O2 -shared -fPIC -Wall -o $@ $<

s3-harness: $(S3K_PCPROF)
