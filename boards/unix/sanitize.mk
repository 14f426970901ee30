# Sanitizer and fuzzing builds of the host firmware; included from the Makefile.
#
#   make asan           build/asan/micropython: AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz N=20000   the fuzz test (tests/test_fuzz.py) with N cases on that firmware
#   (CI: tests/test_asan.py builds it and runs the C module's tests on it)
#
# NLR uses setjmp/longjmp, which ASan intercepts (it unpoisons the stack that
# a longjmp skips); the default x86-64 assembly NLR would leave stale redzones.
# UBSan stops at the first report, so a report cannot scroll by unnoticed;
# sanitizer_log.c sends its reports to $LLM_UBSAN_LOG_PATH.<pid> when set.
# float-cast-overflow (not part of "undefined" in GCC) catches a float outside
# int's range, NaN included, converted to int (issue 10's F2).
# nonnull-attribute is off: MicroPython's core passes NULL with length 0 to
# memset and memcpy (bytearray(0), py/objarray.c), which is harmless.

ASAN_DIR := $(BUILD_DIR)/asan
ASAN_FIRMWARE := $(ASAN_DIR)/micropython
SANITIZE_FLAGS := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize=nonnull-attribute \
	-fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer
ASAN_MAKE_ARGS := $(filter-out BUILD=%,$(UNIX_MAKE_ARGS)) BUILD=$(ASAN_DIR)/unix \
	COPT="-O1 -g -DNDEBUG" CFLAGS_EXTRA="$(SANITIZE_FLAGS) -DMICROPY_NLR_SETJMP=1 -Wno-clobbered" \
	LDFLAGS_EXTRA="$(SANITIZE_FLAGS)" LLM_SANITIZER_SRC=$(CURDIR)/boards/unix/sanitizer_log.c \
	MICROPY_PY_FFI=1

# The GC scans the C stack and registers for roots: leak reports would be
# noise, and a fake stack for use-after-return would hide roots from it.  A
# sanitizer stops the firmware with exit status 86.  (tests/test_asan.py runs
# the host tests with the same options and reports sent to files it checks.)
ASAN_ENV := ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0:abort_on_error=0:halt_on_error=1:handle_abort=1:exitcode=86 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86

N ?= 20000

.PHONY: asan fuzz

asan: $(ASAN_FIRMWARE)

# MicroPython's make does not rebuild when flags change: a stamp named after
# the flags starts the build afresh when they do.
ASAN_STAMP := $(ASAN_DIR)/flags-$(shell echo '$(ASAN_MAKE_ARGS)' | cksum | cut -d' ' -f1)

$(ASAN_STAMP):
	rm -rf $(ASAN_DIR)
	mkdir -p $(ASAN_DIR)
	touch $@

$(ASAN_FIRMWARE): $(ASAN_STAMP) $(MICROPY_DIR)/py/mpconfig.h $(MPY_CROSS) $(SOURCES)
	$(MAKE) -C $(MICROPY_DIR)/ports/unix $(ASAN_MAKE_ARGS)
	cp $(ASAN_DIR)/unix/micropython $@

fuzz: $(ASAN_FIRMWARE)
	$(ASAN_ENV) LLM_FIRMWARE=$(ASAN_FIRMWARE) LLM_FUZZ_CASES=$(N) $(PYTHON) -m pytest -q -p no:cacheprovider tests/test_fuzz.py
