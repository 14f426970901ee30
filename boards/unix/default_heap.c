// The host firmware's default GC heap.
//
// MicroPython's unix port starts with a 2 MB heap (ports/unix/main.c,
// `heap_size`), less than the fp32 KV cache of a stories15M model (3.5 MB) or
// stories110M (75 MB), which llama2.c's `run` handles.  So the host firmware
// defaults to a heap as large as such a model needs.  The heap is malloc'ed,
// and the kernel commits its pages only when they are touched, so an unused
// heap costs address space, not memory.
//
// `-X heapsize=N` is parsed after this runs and still sets the heap exactly:
// that is how the tests hold a model to a microcontroller's budget.

#include <stddef.h>

extern long heap_size;

__attribute__((constructor))
static void llm_default_heap_size(void) {
    heap_size = sizeof(void *) >= 8 ? 256L * 1024 * 1024 : 64L * 1024 * 1024;
}
