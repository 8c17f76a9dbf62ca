/* Filesystem helpers for writing untrusted trees: every path below a
 * directory fd is resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS),
 * so no symlink, magic link, ".." or mount crossing is ever followed.
 * Candidates for src/lib/base (the in-root resolver family). */
#ifndef BOX_IMAGE_FSX_H
#define BOX_IMAGE_FSX_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/base/err.h"

/* openat2(dirfd, path, flags | O_CLOEXEC, mode) confined beneath dirfd with no
 * symlink followed; on kernels without openat2 (< 5.6), walks the components
 * with O_NOFOLLOW instead. Returns an fd or -errno. */
int box_fsx_open_beneath(int dirfd, const char *path, int flags, mode_t mode);

/* Writes all of buf, retrying on EINTR and short writes; 0 or -errno. */
int box_fsx_write_all(int fd, const void *buf, size_t len);

/* Creates `<prefix>XXXXXX` (random suffix) under dirfd with mode 0700 and
 * writes its name to name_out. 0 or -errno. */
int box_fsx_mkdtemp_at(int dirfd, const char *prefix, char *name_out, size_t name_size);

/* Removes dirfd/name and everything below it, never following a symlink.
 * A missing name is not an error. */
int box_fsx_remove_tree(int dirfd, const char *name, struct box_err *err);

/* mkdir -p for an operator-given path (not untrusted input). */
int box_fsx_mkdir_p(const char *path, mode_t mode, struct box_err *err);

/* Reads a whole regular file of at most `max` bytes into a NUL-terminated
 * buffer. -EFBIG past max. */
int box_fsx_read_file(const char *path, size_t max, char **buf, size_t *len, struct box_err *err);

#endif
