/* The container's filesystem, built inside its new mount namespace: the
 * rootfs bind, config mounts, devices and /dev links, masked and read-only
 * paths, pivot_root. Every target inside the root is resolved with the
 * in-root resolver and mounted through its fd. */
#ifndef BOX_RUNTIME_ROOTFS_H
#define BOX_RUNTIME_ROOTFS_H

#include <stdbool.h>

#include "lib/base/err.h"
#include "lib/runtime/cgroup.h"
#include "lib/runtime/spec.h"

struct box_rootfs {
    const struct box_spec *spec;
    const char *rootfs; /* absolute host path */
    const char *bundle; /* absolute host path, for relative bind sources */
    const struct box_cgroups *cgroups;
    bool cgroupns;
    int rootfd;    /* O_PATH on the rootfs bind, set by box_rootfs_prepare */
    int devnullfd; /* the host's /dev/null, for masking */
    /* Called once before the first cgroup mount: the init must be in its
     * cgroup (and cgroup namespace) by then. */
    int (*cgroup_ready)(void *ctx, struct box_err *err);
    void *ctx;
};

/* Propagation, the rootfs bind, every mount, devices and links. */
int box_rootfs_prepare(struct box_rootfs *r, struct box_err *err);
/* Masked paths, read-only paths, a read-only root; then pivot_root (or
 * MS_MOVE + chroot with no_pivot). */
int box_rootfs_finalize(struct box_rootfs *r, bool no_pivot, struct box_err *err);

/* pure: the default devices of the runtime-spec */
struct box_default_device {
    const char *path;
    unsigned major, minor;
};
extern const struct box_default_device box_default_devices[6];

#endif
