// Command-line arguments of any length for the host firmware.
//
// The unix port's main.c puts each argument into sys.argv as a qstr
// (MP_OBJ_NEW_QSTR(qstr_from_str(argv[i])), in set_sys_argv()), before any
// Python runs and outside any exception handler.  A qstr holds at most 65535
// bytes (MICROPY_QSTR_BYTES_IN_LEN = 2), so a longer argument was an uncaught
// exception: "FATAL: uncaught NLR".
//
// The linker routes the port's calls of qstr_from_str() and
// mp_obj_list_append() here (--wrap, mpconfigvariant.mk).  For an argument
// that is too long for a qstr, qstr_from_str() returns the empty qstr as a
// stand-in and remembers the argument; the append to sys.argv that follows
// at once puts a str object with the whole argument there instead.  Any
// other append drops the remembered argument, so the stand-in can only be
// replaced in that one place.  Every other string goes through unchanged.

#include <string.h>

#include "py/runtime.h"
#include "py/objstr.h"
#include "py/qstr.h"

qstr __real_qstr_from_str(const char *str);
mp_obj_t __real_mp_obj_list_append(mp_obj_t self_in, mp_obj_t arg);

static int llm_argc;
static char **llm_argv;
static const char *llm_long_arg;

// glibc calls the executable's constructors with (argc, argv, envp).
__attribute__((constructor)) static void llm_argv_init(int argc, char **argv) {
    llm_argc = argc;
    llm_argv = argv;
}

static bool llm_is_arg(const char *str) {
    for (int i = 0; i < llm_argc; i++) {
        if (llm_argv[i] == str) {
            return true;
        }
    }
    return false;
}

qstr __wrap_qstr_from_str(const char *str) {
    if (strlen(str) >= ((size_t)1 << (8 * MICROPY_QSTR_BYTES_IN_LEN)) && llm_is_arg(str)) {
        llm_long_arg = str;
        return MP_QSTR_;
    }
    return __real_qstr_from_str(str);
}

mp_obj_t __wrap_mp_obj_list_append(mp_obj_t self_in, mp_obj_t arg) {
    if (llm_long_arg != NULL) {
        const char *str = llm_long_arg;
        llm_long_arg = NULL;
        if (self_in == mp_sys_argv && arg == MP_OBJ_NEW_QSTR(MP_QSTR_)) {
            // The bytes as they are, like a qstr (no UTF-8 check).
            arg = mp_obj_new_str_copy(&mp_type_str, (const byte *)str, strlen(str));
        }
    }
    return __real_mp_obj_list_append(self_in, arg);
}
