# Host firmware variant, built out of tree:
#   make -C ports/unix VARIANT_DIR=.../boards/unix USER_C_MODULES=.../usermod
FROZEN_MANIFEST ?= $(VARIANT_DIR)/manifest.py
# The Debian source tarball ships these submodules empty.
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 0
# No ffi module: it needs libffi-dev, which nothing but the sanitizer test uses
# (sanitize.mk turns it on there).
MICROPY_PY_FFI = 0
# A default heap that holds the KV cache of every tinyllamas model (see the file).
SRC_C += $(VARIANT_DIR)/default_heap.c
# Arguments longer than a qstr (65535 bytes) reach sys.argv as str objects (see the file).
SRC_C += $(VARIANT_DIR)/long_argv.c
LDFLAGS += -Wl,--wrap=qstr_from_str -Wl,--wrap=mp_obj_list_append
# The sanitizer build adds boards/unix/sanitizer_log.c (sanitize.mk).
SRC_C += $(LLM_SANITIZER_SRC)
