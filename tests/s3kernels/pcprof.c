/* A QEMU TCG plugin (API version 1, QEMU 7.2): executed instructions per
 * translated block, for every block, so that host tools can attribute the
 * S3's instructions to the ELF's functions.  The shipped libhotblocks.so
 * prints only the hottest 20 blocks, too few to split an interpreter from
 * the kernels.
 *
 *   qemu-system-xtensa ... -plugin libpcprof.so -d plugin -D prof.log
 *
 * prints "pc insns executions" per block at exit, then "total N".
 * The API's declarations are written out here (the tools ship no headers);
 * they follow QEMU 7.2's include/qemu/qemu-plugin.h. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
    uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

typedef struct block {
    uint64_t pc, n, count;
    struct block *next;
} block_t;

/* Blocks are never freed: the inline counters point into them for as long
 * as QEMU may run the translated code. */
static block_t *blocks;

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    block_t *b = calloc(1, sizeof(*b));
    b->pc = qemu_plugin_tb_vaddr(tb);
    b->n = qemu_plugin_tb_n_insns(tb);
    b->next = blocks;
    blocks = b;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->count, 1);
}

static void at_exit_report(qemu_plugin_id_t id, void *p) {
    (void)id;
    (void)p;
    char line[96];
    uint64_t total = 0;
    for (block_t *b = blocks; b; b = b->next) {
        if (!b->count) {
            continue;
        }
        snprintf(line, sizeof(line), "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", b->pc, b->n, b->count);
        qemu_plugin_outs(line);
        total += b->n * b->count;
    }
    snprintf(line, sizeof(line), "total %" PRIu64 "\n", total);
    qemu_plugin_outs(line);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
    int argc, char **argv) {
    (void)info;
    (void)argc;
    (void)argv;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_exit_report, NULL);
    return 0;
}
