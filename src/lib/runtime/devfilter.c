#include "lib/runtime/devfilter.h"

#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INSN(c, d, s, o, i)                                                                        \
    ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

/* r2: device type, r3: access, r4: major, r5: minor (bpf_cgroup_dev_ctx). */
static const struct bpf_insn prologue[] = {
    INSN(BPF_LDX | BPF_W | BPF_MEM, 2, 1, 0, 0), INSN(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff),
    INSN(BPF_LDX | BPF_W | BPF_MEM, 3, 1, 0, 0), INSN(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16),
    INSN(BPF_LDX | BPF_W | BPF_MEM, 4, 1, 4, 0), INSN(BPF_LDX | BPF_W | BPF_MEM, 5, 1, 8, 0),
};

static int access_bits(const char *a)
{
    int bits = 0;
    for (; *a; a++)
        bits |= *a == 'm'   ? BPF_DEVCG_ACC_MKNOD
                : *a == 'r' ? BPF_DEVCG_ACC_READ
                : *a == 'w' ? BPF_DEVCG_ACC_WRITE
                            : 0;
    return bits;
}

/* One rule: every test jumps past the block when it fails. */
static size_t rule_block(const struct box_dev_rule *r, struct bpf_insn *b)
{
    size_t n = 0;
    int acc = access_bits(r->access);
    if (r->type != 'a')
        b[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0,
                      r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
    /* An allow rule covers a request whose access it holds whole; a deny
     * rule refuses a request that asks for any access it names. */
    b[n++] = INSN(BPF_MOV | BPF_X | BPF_ALU64, 6, 3, 0, 0);
    b[n++] = INSN(BPF_ALU | BPF_AND | BPF_K, 6, 0, 0, r->allow ? (~acc & 7) : acc);
    b[n++] = INSN(BPF_JMP | (r->allow ? BPF_JNE : BPF_JEQ) | BPF_K, 6, 0, 0, 0);
    if (r->major >= 0)
        b[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, (int32_t)r->major);
    if (r->minor >= 0)
        b[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, (int32_t)r->minor);
    b[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, r->allow ? 1 : 0);
    b[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    /* Jumps land on the instruction after the block. */
    for (size_t i = 0; i < n - 2; i++)
        if (BPF_CLASS(b[i].code) == BPF_JMP)
            b[i].off = (int16_t)(n - 1 - i);
    return n;
}

int box_devfilter_build(const struct box_dev_rule *rules, size_t n, struct bpf_insn *out,
                        size_t max)
{
    size_t len = BOX_ARRAY_SIZE(prologue);
    if (max < len + 2)
        return -E2BIG;
    memcpy(out, prologue, sizeof(prologue));
    /* Last rule first: the first block that matches returns. */
    for (size_t i = n; i-- > 0;) {
        struct bpf_insn block[8];
        size_t bl = rule_block(&rules[i], block);
        if (len + bl + 2 > max)
            return -E2BIG;
        memcpy(out + len, block, bl * sizeof(*block));
        len += bl;
    }
    out[len++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
    out[len++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    return (int)len;
}

int box_devfilter_attach(int cgroupfd, const struct box_dev_rule *rules, size_t n,
                         struct box_err *err)
{
    size_t max = BOX_ARRAY_SIZE(prologue) + 8 * n + 2;
    struct bpf_insn *insns = calloc(max, sizeof(*insns));
    if (!insns)
        return -ENOMEM;
    int len = box_devfilter_build(rules, n, insns, max);
    if (len < 0) {
        free(insns);
        return box_err_set(err, E2BIG, "linux.resources.devices: too many rules");
    }
    static char license[] = "GPL";
    union bpf_attr load = {.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
                           .insn_cnt = (uint32_t)len,
                           .insns = (uint64_t)(uintptr_t)insns,
                           .license = (uint64_t)(uintptr_t)license};
    int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
    int e = errno;
    free(insns);
    if (prog < 0)
        return box_err_sys(err, e, "linux.resources.devices: load the cgroup2 device program");
    /* An update replaces the programs attached before: the new one goes on
     * first, so that in between both apply (the stricter of the two), then
     * the old ones come off. */
    uint32_t old[8] = {0};
    union bpf_attr query;
    memset(&query, 0, sizeof(query));
    query.query.target_fd = (uint32_t)cgroupfd;
    query.query.attach_type = BPF_CGROUP_DEVICE;
    query.query.prog_ids = (uint64_t)(uintptr_t)old;
    query.query.prog_cnt = BOX_ARRAY_SIZE(old);
    if (syscall(SYS_bpf, BPF_PROG_QUERY, &query, sizeof(query)) < 0)
        query.query.prog_cnt = 0;
    union bpf_attr attach = {.target_fd = (uint32_t)cgroupfd,
                             .attach_bpf_fd = (uint32_t)prog,
                             .attach_type = BPF_CGROUP_DEVICE,
                             .attach_flags = BPF_F_ALLOW_MULTI};
    int r = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof(attach));
    e = errno;
    close(prog); /* the attachment holds the program from now on */
    if (r < 0)
        return box_err_sys(err, e, "linux.resources.devices: attach the device program");
    for (uint32_t i = 0; i < query.query.prog_cnt && i < BOX_ARRAY_SIZE(old); i++) {
        union bpf_attr get = {.prog_id = old[i]};
        int fd = (int)syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, &get, sizeof(get));
        if (fd < 0)
            return box_err_sys(err, errno, "linux.resources.devices: find the old device program");
        union bpf_attr detach = {.target_fd = (uint32_t)cgroupfd,
                                 .attach_bpf_fd = (uint32_t)fd,
                                 .attach_type = BPF_CGROUP_DEVICE};
        r = (int)syscall(SYS_bpf, BPF_PROG_DETACH, &detach, sizeof(detach));
        e = errno;
        close(fd);
        if (r < 0)
            return box_err_sys(err, e, "linux.resources.devices: detach the old device program");
    }
    return 0;
}
