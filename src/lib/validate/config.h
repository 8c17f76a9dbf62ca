/* The config.json of a validation run, made from the image config the way
 * an engine would (image-spec config.md, "Properties"), with box's own
 * defaults for everything the image does not say:
 *
 * - args: the workload's command when the manifest names one (the contract
 *   runs the workload explicitly), else Entrypoint + Cmd;
 * - user: the image's User (`name`, `uid`, `name:group`, `uid:gid`), names
 *   resolved through the image's own /etc/passwd and /etc/group, opened with
 *   RESOLVE_IN_ROOT and bounded; a name that is not there is an error;
 * - env: the image's Env, PATH and HOME added when missing;
 * - cwd: WorkingDir (made absolute), else "/";
 * - like `box spec`: pid, network, ipc, uts, mount and cgroup namespaces
 *   (so no network), the masked and read-only /proc paths, every device
 *   denied (GPUs arrive by CDI), no capabilities, no new privileges;
 * - a read-only root filesystem with a fresh tmpfs on /tmp: a workload
 *   cannot leave anything behind for the next run.
 *
 * The mount points the config needs (proc, dev, sys, tmp) are created in the
 * root filesystem when missing, through the in-root resolver. */
#ifndef BOX_VALIDATE_CONFIG_H
#define BOX_VALIDATE_CONFIG_H

#include <stdint.h>

#include "lib/base/err.h"
#include "lib/oci/layout_read.h"

struct box_user {
    uint32_t uid, gid;
    char home[256];
};

/* Resolves an image's User against the root filesystem at rootfs_fd. */
int box_validate_user(int rootfs_fd, const char *spec, struct box_user *u, struct box_err *err);

/* Writes bundle_fd/config.json for img with `command` (NULL-terminated, or
 * NULL for the image's own), rootfs_fd being bundle_fd/rootfs. */
int box_validate_config(int bundle_fd, int rootfs_fd, const struct box_oci_image *img,
                        char *const *command, const char *hostname, struct box_err *err);

#endif
