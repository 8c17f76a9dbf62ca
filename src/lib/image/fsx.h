/* Filesystem helpers for writing untrusted trees: every path below a
 * directory fd is resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS),
 * so no symlink, magic link, ".." or mount crossing is ever followed.
 * (lib/base/resolve.h follows symlinks inside a root; this refuses them.) */
#ifndef BOX_IMAGE_FSX_H
#define BOX_IMAGE_FSX_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/base/err.h"

/* openat2(dirfd, path, flags | O_CLOEXEC, mode) confined beneath dirfd with no
 * symlink followed; on kernels without openat2 (< 5.6), walks the components
 * with O_NOFOLLOW instead. Returns an fd or -errno. */
int box_fsx_open_beneath(int dirfd, const char *path, int flags, mode_t mode);
/* The fallback alone, so that tests can reach it on any kernel. */
int box_fsx_open_walk(int dirfd, const char *path, int flags, mode_t mode);

/* Creates `<prefix>XXXXXX` (random suffix) under dirfd with mode 0700 and
 * writes its name to name_out. 0 or -errno. */
int box_fsx_mkdtemp_at(int dirfd, const char *prefix, char *name_out, size_t name_size);

#endif
