#include "lib/vm/smoke.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/vm/spawn.h"

#define PROBE_MARKER   "BOXKVMOK"
#define PROBE_TIMEOUT  20000u
#define SERIAL_CAPTURE (256u * 1024u)

/* 16-bit real mode at 0x7c00: print PROBE_MARKER on COM1, then halt.
 *   cld; xor ax,ax; mov ds,ax; mov dx,0x3f8; mov si,0x7c17
 *   l: lodsb; test al,al; jz h; out dx,al; jmp l
 *   h: cli; hlt; jmp $-1 */
static const unsigned char probe_code[] = {0xfc, 0x31, 0xc0, 0x8e, 0xd8, 0xba, 0xf8, 0x03, 0xbe,
                                           0x17, 0x7c, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb,
                                           0xf8, 0xfa, 0xf4, 0xeb, 0xfd, 'B',  'O',  'X',  'K',
                                           'V',  'M',  'O',  'K',  '\r', '\n', 0};

static int write_probe(char *path, size_t size, struct box_err *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, size, "%s/box-kvm-probe.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return box_err_sys(err, errno, "create `%s`", path);
    unsigned char sector[512] = {0};
    memcpy(sector, probe_code, sizeof(probe_code));
    sector[510] = 0x55;
    sector[511] = 0xaa;
    int r = box_write_all(fd, sector, sizeof(sector));
    close(fd);
    if (r < 0) {
        unlink(path);
        return box_err_sys(err, -r, "write `%s`", path);
    }
    return 0;
}

int box_vm_kvm_probe(const char *qemu, char *why, size_t why_size, struct box_err *err)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        snprintf(why, why_size, "/dev/kvm: %s", strerror(errno));
        return 0;
    }
    char path[4096], drive[4200];
    int r = write_probe(path, sizeof(path), err);
    if (r < 0)
        return r;
    snprintf(drive, sizeof(drive), "file=%s,format=raw,if=ide,readonly=on", path);
    const char *argv[] = {qemu ? qemu : "qemu-system-x86_64",
                          "-nodefaults",
                          "-machine",
                          "pc,accel=kvm",
                          "-cpu",
                          "host",
                          "-m",
                          "16",
                          "-display",
                          "none",
                          "-serial",
                          "stdio",
                          "-drive",
                          drive,
                          NULL};
    struct box_vm_spawn_opts so = {.argv = argv,
                                   .timeout_ms = PROBE_TIMEOUT,
                                   .grace_ms = 1000,
                                   .capture_max = 4096,
                                   .tee_fd = -1,
                                   .marker = PROBE_MARKER};
    struct box_vm_spawn_result sr;
    r = box_vm_spawn_run(&so, &sr, err);
    unlink(path);
    if (r < 0)
        return r;
    int ok = sr.end == BOX_VM_SPAWN_MARKER;
    if (sr.end == BOX_VM_SPAWN_INTERRUPTED) {
        box_vm_spawn_result_free(&sr);
        return box_err_set(err, EINTR, "KVM probe interrupted");
    }
    if (!ok) {
        char how[128];
        box_vm_spawn_describe(&sr, PROBE_TIMEOUT, how, sizeof(how));
        const char *tail = box_vm_spawn_tail(&sr, 1);
        int tlen = (int)strcspn(tail, "\r\n");
        snprintf(why, why_size, "a boot sector under KVM did not print its line (%s)%s%.*s", how,
                 tlen ? ": " : "", tlen < 160 ? tlen : 160, tail);
    }
    box_vm_spawn_result_free(&sr);
    return ok;
}

static void marker_line(const struct box_vm_spawn_result *sr, const char *marker, char *out,
                        size_t size)
{
    const char *m = sr->output ? strstr(sr->output, marker) : NULL;
    out[0] = '\0';
    if (!m)
        return;
    size_t n = strcspn(m, "\r\n");
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), m);
}

static int choose_accel(const struct box_vm_smoke_opts *o, struct box_vm_smoke_result *res,
                        struct box_err *err)
{
    res->accel = o->accel;
    if (o->accel != BOX_VM_ACCEL_AUTO)
        return 0;
    res->kvm_probed = true;
    int r = box_vm_kvm_probe(o->qemu, res->kvm_reason, sizeof(res->kvm_reason), err);
    if (r < 0)
        return r;
    res->accel = r ? BOX_VM_ACCEL_KVM : BOX_VM_ACCEL_TCG;
    return 0;
}

int box_vm_smoke(const struct box_vm_smoke_opts *o, struct box_vm_smoke_result *res,
                 struct box_err *err)
{
    memset(res, 0, sizeof(*res));
    const char *marker = o->marker ? o->marker : BOX_VM_SMOKE_MARKER;
    const char *fw = o->firmware ? o->firmware : BOX_VM_OVMF;
    if (access(o->image, R_OK) != 0)
        return box_err_sys(err, errno, "image `%s`", o->image);
    if (access(fw, R_OK) != 0)
        return box_err_sys(err, errno, "UEFI firmware `%s` (Debian package ovmf)", fw);
    int r = choose_accel(o, res, err);
    if (r < 0)
        return r;
    bool kvm = res->accel == BOX_VM_ACCEL_KVM;
    char drive[4200], mem[16];
    snprintf(drive, sizeof(drive), "if=none,id=disk0,file=%s,format=raw,snapshot=on", o->image);
    snprintf(mem, sizeof(mem), "%u", o->memory_mib ? o->memory_mib : 1024);
    const char *argv[] = {o->qemu ? o->qemu : "qemu-system-x86_64",
                          "-nodefaults",
                          "-machine",
                          kvm ? "q35,accel=kvm" : "q35,accel=tcg",
                          "-cpu",
                          kvm ? "host" : "max",
                          "-smp",
                          "2",
                          "-m",
                          mem,
                          "-bios",
                          fw,
                          "-device",
                          "virtio-scsi-pci,id=scsi0",
                          "-drive",
                          drive,
                          "-device",
                          "scsi-hd,bus=scsi0.0,drive=disk0",
                          "-netdev",
                          "user,id=net0",
                          "-device",
                          "virtio-net-pci,netdev=net0",
                          "-display",
                          "none",
                          "-serial",
                          "stdio",
                          "-no-reboot",
                          NULL};
    int log = -1;
    if (o->serial_log) {
        log = open(o->serial_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (log < 0)
            return box_err_sys(err, errno, "serial log `%s`", o->serial_log);
    }
    unsigned timeout_ms = (o->timeout_s ? o->timeout_s : 300) * 1000u;
    struct box_vm_spawn_opts so = {.argv = argv,
                                   .timeout_ms = timeout_ms,
                                   .grace_ms = 3000,
                                   .capture_max = SERIAL_CAPTURE,
                                   .tee_fd = log,
                                   .marker = marker};
    struct box_vm_spawn_result sr;
    r = box_vm_spawn_run(&so, &sr, err);
    if (log >= 0)
        close(log);
    if (r < 0)
        return r;
    char how[128];
    box_vm_spawn_describe(&sr, timeout_ms, how, sizeof(how));
    switch (sr.end) {
    case BOX_VM_SPAWN_MARKER:
        res->boot_ms = sr.marker_ms;
        marker_line(&sr, marker, res->marker_line, sizeof(res->marker_line));
        break;
    case BOX_VM_SPAWN_INTERRUPTED:
        r = box_err_set(err, EINTR, "boot of `%s` %s", o->image, how);
        break;
    default:
        r = box_err_set(err, sr.end == BOX_VM_SPAWN_TIMED_OUT ? ETIMEDOUT : EIO,
                        "no `%s` on the serial console: qemu %s; last output:\n%.700s", marker, how,
                        box_vm_spawn_tail(&sr, 8));
    }
    box_vm_spawn_result_free(&sr);
    return r;
}
