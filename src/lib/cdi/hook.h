/* What `box hook` does for a CDI spec that `box cdi generate` wrote: runs as
 * a createContainer hook (in the container's mount namespace, before
 * pivot_root), finds the container's root from the OCI state on stdin, and
 * changes files inside that root only through the in-root resolver. It
 * never runs a program of the image and reads nothing from its environment. */
#ifndef BOX_CDI_HOOK_H
#define BOX_CDI_HOOK_H

#include <limits.h>
#include <stddef.h>

#include "lib/base/err.h"

#define BOX_HOOK_STATE_MAX (1u << 20)
#define BOX_HOOK_ARGS_MAX  4096
#define BOX_HOOK_CONF_NAME "000-box-cdi.conf"

/* The container's root from the state JSON: `root.path` (box, and others
 * that send it), else `rootfs`, else `root.path` of bundle/config.json; a
 * relative root is relative to `bundle`. */
int box_cdi_hook_rootfs(const char *state, size_t len, char out[PATH_MAX], struct box_err *err);

/* Makes each "TARGET::LINK" a symlink at LINK (absolute, inside the root)
 * holding TARGET; missing parents are created, an existing non-directory at
 * LINK is replaced atomically. All links are checked before the first is
 * made. */
int box_cdi_hook_symlinks(int rootfd, char *const *links, size_t n, struct box_err *err);

/* Lists the folders in the root's /etc/ld.so.conf.d/BOX_HOOK_CONF_NAME and
 * rebuilds the root's linker cache with the host's static ldconfig (the
 * given one, or the first of /sbin/ldconfig.real, /sbin/ldconfig,
 * /usr/sbin/ldconfig, /usr/bin/ldconfig that is a static ELF program),
 * run chrooted into the root with an empty environment. */
int box_cdi_hook_ldcache(int rootfd, char *const *folders, size_t n, const char *ldconfig,
                         struct box_err *err);

#endif
