// Storage shared by the emulated boards (boards/qemu, boards/s3sim), laid out
// as on the ESP32-S3 boards: a ROMFS partition served through vfs.rom_ioctl
// (mounted at /rom by mp_init()) and a littlefs RAM disk mounted at /.
//
// The port's linker script defines the regions:
//   _board_romfs_start[],   _board_romfs_size[]     (the "flash" partition)
//   _board_ramdisk_start[], _board_ramdisk_size[]   (the RAM disk)
// and the port's config enables MICROPY_VFS_ROM_IOCTL and MICROPY_VFS_LFS2.
#ifndef BOARDS_COMMON_BOARD_STORAGE_H
#define BOARDS_COMMON_BOARD_STORAGE_H

// Mounts littlefs on the RAM disk at / (formatting it first if it holds no
// filesystem) and appends /lib to sys.path; call it from the port's init
// function, which mp_init() runs before it mounts /rom.
void board_storage_mount_ramdisk(void);

#endif
