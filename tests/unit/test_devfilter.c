/* The cgroup2 device program (lib/runtime/devfilter.h): its shape, and that
 * the kernel's verifier accepts what it builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/runtime/devfilter.h"

static const struct box_dev_rule rules[] = {
    {false, 'a', -1, -1, "rwm"}, /* deny everything first */
    {true, 'c', 1, 3, "rwm"},    /* /dev/null */
    {true, 'c', 136, -1, "rw"},  /* any pty */
    {true, 'b', -1, -1, "m"},    /* mknod of block devices */
    {false, 'c', 1, 3, "w"},     /* ...but no writes to /dev/null */
};

static void test_shape(void **state)
{
    struct bpf_insn insns[128];
    int n = box_devfilter_build(rules, 5, insns, 128);
    assert_true(n > 0);
    /* it ends by denying what nothing matched */
    assert_int_equal(insns[n - 2].code, BPF_ALU64 | BPF_MOV | BPF_K);
    assert_int_equal(insns[n - 2].imm, 0);
    assert_int_equal(insns[n - 1].code, BPF_JMP | BPF_EXIT);
    /* every jump lands inside the program */
    for (int i = 0; i < n; i++)
        if (BPF_CLASS(insns[i].code) == BPF_JMP && BPF_OP(insns[i].code) != BPF_EXIT)
            assert_true(i + 1 + insns[i].off < n);
    /* the last rule is tested first: the block after the prologue denies */
    int first_exit = 0;
    while (insns[first_exit].code != (BPF_JMP | BPF_EXIT))
        first_exit++;
    assert_int_equal(insns[first_exit - 1].imm, 0);
    /* no rules: deny all */
    assert_int_equal(box_devfilter_build(rules, 0, insns, 128), 8);
    /* too small a buffer */
    assert_int_equal(box_devfilter_build(rules, 5, insns, 10), -E2BIG);
}

static void test_verifier_accepts(void **state)
{
    if (geteuid() != 0) {
        skip(); /* loading a cgroup device program needs root */
        return;
    }
    struct bpf_insn insns[128];
    int n = box_devfilter_build(rules, 5, insns, 128);
    char log[4096] = "";
    static char license[] = "GPL";
    union bpf_attr attr = {.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
                           .insn_cnt = (uint32_t)n,
                           .insns = (uint64_t)(uintptr_t)insns,
                           .license = (uint64_t)(uintptr_t)license,
                           .log_level = 1,
                           .log_size = sizeof(log),
                           .log_buf = (uint64_t)(uintptr_t)log};
    int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
    if (fd < 0 && (errno == EPERM || errno == ENOSYS)) {
        printf("skip: this kernel refuses BPF programs here (%s)\n", strerror(errno));
        skip();
        return;
    }
    if (fd < 0)
        fail_msg("the verifier refused the program: %s\n%s", strerror(errno), log);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_verifier_accepts),
    };
    return cmocka_run_group_tests_name("devfilter", tests, NULL, NULL);
}
