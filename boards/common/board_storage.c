// ROMFS partition and RAM disk of the emulated boards: see board_storage.h.
//
// Both regions are RAM that the startup code never clears, so what was
// deployed survives a soft reset (not a restart of the emulator).

#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "py/objarray.h"
#include "extmod/vfs.h"
#include "extmod/vfs_lfs.h"

#include "board_storage.h"

extern uint8_t _board_romfs_start[], _board_romfs_size[];
extern uint8_t _board_ramdisk_start[], _board_ramdisk_size[];
#define ROMFS_BYTES ((size_t)(uintptr_t)_board_romfs_size)
#define RAMDISK_BYTES ((size_t)(uintptr_t)_board_ramdisk_size)

// Erase granularity of the emulated flash, and block size of the RAM disk:
// the ESP32-S3's flash sector.
#define BOARD_SECTOR_BYTES (4096)

/******************************************************************************/
// ROMFS partition, exposed through vfs.rom_ioctl with the protocol of
// mpremote romfs and host/deploy.py: 1 = segment count, 2 = segment (a
// read-only memoryview, like memory-mapped flash), 3 = erase, 4 = write,
// 5 = done.

static const MP_DEFINE_MEMORYVIEW_OBJ(board_romfs_obj, 'B', 0, (size_t)(uintptr_t)_board_romfs_size, _board_romfs_start);

// Whether [offset, offset + len) lies within the partition.
static bool board_romfs_range_ok(mp_int_t offset, mp_int_t len) {
    return offset >= 0 && len >= 0 && (size_t)offset <= ROMFS_BYTES && (size_t)len <= ROMFS_BYTES - (size_t)offset;
}

mp_obj_t mp_vfs_rom_ioctl(size_t n_args, const mp_obj_t *args) {
    mp_int_t cmd = mp_obj_get_int(args[0]);
    if (cmd == MP_VFS_ROM_IOCTL_GET_NUMBER_OF_SEGMENTS) {
        return MP_OBJ_NEW_SMALL_INT(1);
    }
    // All other commands act on a segment, and there is only segment 0.
    if (n_args < 2 || mp_obj_get_int(args[1]) != 0) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
    switch (cmd) {
        case MP_VFS_ROM_IOCTL_GET_SEGMENT:
            return MP_OBJ_FROM_PTR(&board_romfs_obj);

        case MP_VFS_ROM_IOCTL_WRITE_PREPARE: {
            // (3, id, len), or (3, id, offset, len) from newer mpremote:
            // "erase" whole sectors to 0xff.
            if (n_args < 3) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            mp_int_t offset = n_args >= 4 ? mp_obj_get_int(args[2]) : 0;
            mp_int_t len = mp_obj_get_int(args[n_args >= 4 ? 3 : 2]);
            if (!board_romfs_range_ok(offset, len) || offset % BOARD_SECTOR_BYTES != 0) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            size_t erase = ((size_t)len + BOARD_SECTOR_BYTES - 1) / BOARD_SECTOR_BYTES * BOARD_SECTOR_BYTES;
            if (erase > ROMFS_BYTES - (size_t)offset) {
                erase = ROMFS_BYTES - (size_t)offset;
            }
            memset(_board_romfs_start + offset, 0xff, erase);
            return MP_OBJ_NEW_SMALL_INT(4); // minimum write size
        }

        case MP_VFS_ROM_IOCTL_WRITE: {
            // (4, id, offset, buf)
            if (n_args < 4) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            mp_int_t offset = mp_obj_get_int(args[2]);
            mp_buffer_info_t bufinfo;
            mp_get_buffer_raise(args[3], &bufinfo, MP_BUFFER_READ);
            if (!board_romfs_range_ok(offset, bufinfo.len)) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            memcpy(_board_romfs_start + offset, bufinfo.buf, bufinfo.len);
            return MP_OBJ_NEW_SMALL_INT(0);
        }

        case MP_VFS_ROM_IOCTL_WRITE_COMPLETE:
            return MP_OBJ_NEW_SMALL_INT(0);

        default:
            return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
}

/******************************************************************************/
// RAM disk block device (block protocol with the extended interface).

// readblocks/writeblocks(self, block_num, buf[, offset])
static mp_obj_t board_ramdisk_rw(size_t n_args, const mp_obj_t *args, bool write) {
    mp_uint_t block = mp_obj_get_int(args[1]);
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(args[2], &bufinfo, write ? MP_BUFFER_READ : MP_BUFFER_WRITE);
    mp_uint_t offset = n_args >= 4 ? mp_obj_get_int(args[3]) : 0;
    uint64_t addr = (uint64_t)block * BOARD_SECTOR_BYTES + offset;
    if (addr > RAMDISK_BYTES || bufinfo.len > RAMDISK_BYTES - addr) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EIO);
    }
    if (write) {
        memcpy(_board_ramdisk_start + addr, bufinfo.buf, bufinfo.len);
    } else {
        memcpy(bufinfo.buf, _board_ramdisk_start + addr, bufinfo.len);
    }
    return MP_OBJ_NEW_SMALL_INT(0);
}

static mp_obj_t board_ramdisk_readblocks(size_t n_args, const mp_obj_t *args) {
    return board_ramdisk_rw(n_args, args, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(board_ramdisk_readblocks_obj, 3, 4, board_ramdisk_readblocks);

static mp_obj_t board_ramdisk_writeblocks(size_t n_args, const mp_obj_t *args) {
    return board_ramdisk_rw(n_args, args, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(board_ramdisk_writeblocks_obj, 3, 4, board_ramdisk_writeblocks);

static mp_obj_t board_ramdisk_ioctl(mp_obj_t self_in, mp_obj_t op_in, mp_obj_t arg_in) {
    (void)self_in;
    (void)arg_in;
    switch (mp_obj_get_int(op_in)) {
        case MP_BLOCKDEV_IOCTL_BLOCK_COUNT:
            return MP_OBJ_NEW_SMALL_INT(RAMDISK_BYTES / BOARD_SECTOR_BYTES);
        case MP_BLOCKDEV_IOCTL_BLOCK_SIZE:
            return MP_OBJ_NEW_SMALL_INT(BOARD_SECTOR_BYTES);
        case MP_BLOCKDEV_IOCTL_INIT:
        case MP_BLOCKDEV_IOCTL_DEINIT:
        case MP_BLOCKDEV_IOCTL_SYNC:
        case MP_BLOCKDEV_IOCTL_BLOCK_ERASE: // RAM needs no erase
            return MP_OBJ_NEW_SMALL_INT(0);
        default:
            return mp_const_none;
    }
}
static MP_DEFINE_CONST_FUN_OBJ_3(board_ramdisk_ioctl_obj, board_ramdisk_ioctl);

static const mp_rom_map_elem_t board_ramdisk_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&board_ramdisk_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&board_ramdisk_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&board_ramdisk_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(board_ramdisk_locals_dict, board_ramdisk_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    board_ramdisk_type,
    MP_QSTR_RAMDisk,
    MP_TYPE_FLAG_NONE,
    locals_dict, &board_ramdisk_locals_dict
    );

static const mp_obj_base_t board_ramdisk_obj = { &board_ramdisk_type };

// The VFS keeps a mount at / at the end of the mount table, so /rom (mounted
// after this by mp_init) stays reachable.
void board_storage_mount_ramdisk(void) {
    mp_obj_t bdev = MP_OBJ_FROM_PTR(&board_ramdisk_obj);
    mp_obj_t lfs2 = MP_OBJ_FROM_PTR(&mp_type_vfs_lfs2);
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t fs;
        nlr_buf_t nlr_mount;
        if (nlr_push(&nlr_mount) == 0) {
            fs = mp_call_function_1(lfs2, bdev);
            nlr_pop();
        } else {
            mp_call_function_1(mp_load_attr(lfs2, MP_QSTR_mkfs), bdev);
            fs = mp_call_function_1(lfs2, bdev);
        }
        mp_call_function_2(MP_OBJ_FROM_PTR(&mp_vfs_mount_obj), fs, MP_OBJ_NEW_QSTR(MP_QSTR__slash_));
        mp_obj_list_append(mp_sys_path, mp_obj_new_str("/lib", 4));
        nlr_pop();
    } else {
        mp_printf(&mp_plat_print, "board: could not mount the RAM disk at /\n");
        mp_obj_print_exception(&mp_plat_print, MP_OBJ_FROM_PTR(nlr.ret_val));
    }
}
