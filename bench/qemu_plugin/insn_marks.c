/* QEMU TCG plugin: counts executed guest instructions and, every time the guest
 * reaches one of the two marker addresses, appends "start N" or "stop N" (N the
 * running count) to a file.
 *   -plugin ./libinsn_marks.so,start=0x1234,stop=0x1250,out=marks.txt
 * Each translated block adds its instruction count when it starts (inline, so
 * cheap); differences between two marks are exact and repeatable. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t executed;
static uint64_t markers[2];   /* start, stop */
static const char *const NAMES[2] = {"start", "stop"};
static FILE *out;

static void on_marker(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    fprintf(out, "%s %" PRIu64 "\n", NAMES[(uintptr_t)udata], executed);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, n);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        for (uintptr_t k = 0; k < 2; k++)
            if (qemu_plugin_insn_vaddr(insn) == markers[k])
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS, (void *)k);
    }
}

static void on_plugin_exit(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    fprintf(out, "end %" PRIu64 "\n", executed);
    fclose(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    (void)info;
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "start=", 6) == 0) markers[0] = strtoull(argv[i] + 6, NULL, 0);
        else if (strncmp(argv[i], "stop=", 5) == 0) markers[1] = strtoull(argv[i] + 5, NULL, 0);
        else if (strncmp(argv[i], "out=", 4) == 0) path = argv[i] + 4;
    }
    if (!markers[0] || !markers[1] || !path || !(out = fopen(path, "w"))) {
        fprintf(stderr, "insn_marks: need start=ADDRESS,stop=ADDRESS,out=FILE\n");
        return -1;
    }
    setvbuf(out, NULL, _IOLBF, 0);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
