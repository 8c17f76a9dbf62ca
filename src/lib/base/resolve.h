/* The in-root path resolver: every path inside a container root (or a staging
 * directory) is resolved once, as if that directory were "/", and used through
 * the returned fd afterwards. openat2(RESOLVE_IN_ROOT) where the kernel has it,
 * a component-by-component walk where it does not. */
#ifndef BOX_BASE_RESOLVE_H
#define BOX_BASE_RESOLVE_H

#include <sys/types.h>

#include "lib/base/err.h"

/* Opens `path` inside the tree rooted at rootfd; symlinks (absolute or with
 * "..") never leave the root; magic links are refused. flags as for open(2);
 * O_CLOEXEC is added. */
int box_root_open(int rootfd, const char *path, int flags, struct box_err *err);
/* Creates every missing directory of `path` inside the root; returns an O_PATH
 * fd on the final directory. */
int box_root_mkdirs(int rootfd, const char *path, mode_t mode, struct box_err *err);
/* Makes sure `path` exists inside the root as a regular file (created empty
 * when missing, its parents too); returns an O_PATH fd on it. */
int box_root_mkfile(int rootfd, const char *path, mode_t mode, struct box_err *err);
/* "/proc/self/fd/N" for mount(2) targets and sources resolved by fd. */
struct box_fdpath {
    char s[32];
};
struct box_fdpath box_fdpath(int fd);

#endif
