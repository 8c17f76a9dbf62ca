/* Booting an image under QEMU the way the region will: UEFI (OVMF), q35,
 * the disk on virtio-scsi, raw. The guest's serial console is read until a
 * marker line appears (the base image prints "BOX-VM-READY <kernel>" once
 * multi-user.target is reached). Writes go to a temporary overlay
 * (snapshot=on), so booting never changes the image or its sha256.
 *
 * KVM is used only when a real boot under it works: /dev/kvm can open and
 * still crash every guest, so a probe boots a 512-byte boot sector under
 * -accel kvm that prints a line on the serial port; anything else means TCG. */
#ifndef BOX_VM_SMOKE_H
#define BOX_VM_SMOKE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/base/err.h"

#define BOX_VM_SMOKE_MARKER "BOX-VM-READY"
#define BOX_VM_OVMF         "/usr/share/ovmf/OVMF.fd"

enum box_vm_accel {
    BOX_VM_ACCEL_AUTO,
    BOX_VM_ACCEL_KVM,
    BOX_VM_ACCEL_TCG,
};

struct box_vm_smoke_opts {
    const char *image;
    const char *marker;     /* default BOX_VM_SMOKE_MARKER */
    const char *firmware;   /* default BOX_VM_OVMF */
    const char *qemu;       /* default qemu-system-x86_64 */
    const char *serial_log; /* the whole serial output is copied here, or NULL */
    unsigned timeout_s;
    unsigned memory_mib;
    enum box_vm_accel accel;
};

struct box_vm_smoke_result {
    enum box_vm_accel accel; /* what the boot used */
    bool kvm_probed;
    char kvm_reason[256];  /* why KVM was not used */
    unsigned long boot_ms; /* start to marker */
    char marker_line[256]; /* the serial line holding the marker */
};

/* Boots a tiny guest under KVM; 1 when it printed its line, 0 when not (the
 * reason in `why`), < 0 when qemu could not be started at all. */
int box_vm_kvm_probe(const char *qemu, char *why, size_t why_size, struct box_err *err);

/* Boots the image and waits for the marker; 0 when it appeared, -ETIMEDOUT
 * or -EIO (qemu ended first) with the serial tail in err, -EINTR when
 * interrupted. */
int box_vm_smoke(const struct box_vm_smoke_opts *o, struct box_vm_smoke_result *res,
                 struct box_err *err);

#endif
