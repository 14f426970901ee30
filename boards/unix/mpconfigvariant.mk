# Host firmware variant, built out of tree:
#   make -C ports/unix VARIANT_DIR=.../boards/unix USER_C_MODULES=.../usermod
FROZEN_MANIFEST ?= $(VARIANT_DIR)/manifest.py
# The Debian source tarball ships these submodules empty.
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 0
# A default heap that holds the KV cache of every tinyllamas model (see the file).
SRC_C += $(VARIANT_DIR)/default_heap.c
