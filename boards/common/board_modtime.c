// time.time()/time_ns()/gmtime()/localtime()/mktime() for the emulated boards
// (boards/qemu, boards/s3sim), included by extmod/modtime.c
// (MICROPY_PY_TIME_INCLUDEFILE).  The clock is the port's mp_hal_time_ns():
// the host's time at start plus the board's tick count since then.

#include "py/obj.h"
#include "py/mphal.h"
#include "shared/timeutils/timeutils.h"

// Return the localtime as an 8-tuple.
static mp_obj_t mp_time_localtime_get(void) {
    timeutils_struct_time_t tm;
    timeutils_seconds_since_epoch_to_struct_time(mp_hal_time_ns() / 1000000000ULL, &tm);
    mp_obj_t items[8] = {
        mp_obj_new_int(tm.tm_year), mp_obj_new_int(tm.tm_mon), mp_obj_new_int(tm.tm_mday),
        mp_obj_new_int(tm.tm_hour), mp_obj_new_int(tm.tm_min), mp_obj_new_int(tm.tm_sec),
        mp_obj_new_int(tm.tm_wday), mp_obj_new_int(tm.tm_yday),
    };
    return mp_obj_new_tuple(8, items);
}

// Return the number of seconds since the Epoch.
static mp_obj_t mp_time_time_get(void) {
    return mp_obj_new_int_from_ull(mp_hal_time_ns() / 1000000000ULL);
}
