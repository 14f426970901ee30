// The _llm module: its globals, from the one list in llm_module_table.h, for
// the firmware (a constant table and MP_REGISTER_MODULE) and for the native
// .mpy (mpy_init, usermod/natmod).  The bindings are in modllm_*.c (see
// modllm.h).
#include "py/runtime.h"
#include "modllm.h"

// Declarations of the module's objects.
#define LLM_FUNCTION(name, obj, kind) MP_DECLARE_CONST_FUN_OBJ_##kind(obj);
#if MICROPY_ENABLE_DYNRUNTIME
#define LLM_TYPE(name, type) extern mp_obj_full_type_t type; void type##_init(void);
#else
#define LLM_TYPE(name, type) extern const mp_obj_type_t type;
#endif
#include "llm_module_table.h"

#if MICROPY_ENABLE_DYNRUNTIME

// A native module holds no constant objects that name qstrs or point into
// the runtime: the types are built, and the globals stored, at import.
mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    #define LLM_FUNCTION(name, obj, kind) mp_store_global(name, MP_OBJ_FROM_PTR(&obj));
    #define LLM_TYPE(name, type) type##_init(); mp_store_global(name, MP_OBJ_FROM_PTR(&type));
    #include "llm_module_table.h"
    MP_DYNRUNTIME_INIT_EXIT
}

#else

static const mp_rom_map_elem_t llm_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__llm) },
    #define LLM_FUNCTION(name, obj, kind) { MP_ROM_QSTR(name), MP_ROM_PTR(&obj) },
    #define LLM_TYPE(name, type) { MP_ROM_QSTR(name), MP_ROM_PTR(&type) },
    #include "llm_module_table.h"
};
static MP_DEFINE_CONST_DICT(llm_module_globals, llm_module_globals_table);

const mp_obj_module_t llm_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&llm_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__llm, llm_user_cmodule);

#endif
