#include <stddef.h>
#include "shared/runtime/interrupt_char.h"

// Host clock at start plus cycle-counter time (board.c).
uint64_t mp_hal_time_ns(void);
