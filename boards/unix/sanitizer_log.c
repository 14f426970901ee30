// Built into the sanitizer firmware only (sanitize.mk): UBSan reports into
// files, as ASan's, so that a test can check that there are none.
//
// GCC links the two sanitizers as two runtimes, libasan and libubsan, each
// with its own report file.  log_path (ASAN_OPTIONS or UBSAN_OPTIONS) only
// ever sets libasan's: libubsan's own call of __sanitizer_set_report_path
// binds to libasan's definition, the first loaded.  So UBSan reports always
// went to stderr, where a test that runs the firmware may not look.  When
// LLM_UBSAN_LOG_PATH is set, this points libubsan's report file there (one
// file per process: the path plus "." and the process id).

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

__attribute__((constructor)) static void llm_ubsan_log_init(void) {
    const char *path = getenv("LLM_UBSAN_LOG_PATH");
    if (path == NULL || *path == '\0') {
        return;
    }
    void *ubsan = dlopen("libubsan.so.1", RTLD_LAZY | RTLD_NOLOAD);
    void (*set_report_path)(const char *) = NULL;
    if (ubsan != NULL) {
        *(void **)&set_report_path = dlsym(ubsan, "__sanitizer_set_report_path");
    }
    if (set_report_path == NULL) {
        // No separate UBSan runtime (e.g. clang's combined one honours log_path).
        return;
    }
    set_report_path(path);
}
