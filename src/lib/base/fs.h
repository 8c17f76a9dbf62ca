/* Filesystem helpers: bounded reads, atomic writes, directory creation. */
#ifndef BOX_BASE_FS_H
#define BOX_BASE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/base/err.h"

/* Reads a whole file (relative to dirfd) of at most max bytes, NUL-terminated.
 * -EFBIG when larger. */
int box_read_file(int dirfd, const char *path, size_t max, char **out, size_t *len,
                  struct box_err *err);
/* Reads at most max bytes from an open fd, NUL-terminated. */
int box_read_fd(int fd, size_t max, char **out, size_t *len);
/* Writes data to dirfd/name through a temp file and rename. */
int box_write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                          struct box_err *err);
/* Writes pid in decimal to path (relative to the cwd) atomically: a reader
 * never sees an empty or partial pid file (--pid-file). */
int box_write_pid_file(const char *path, pid_t pid, struct box_err *err);
/* One write(2) of a string into an existing file (sysfs, procfs, cgroupfs). */
int box_write_string(int dirfd, const char *path, const char *s, struct box_err *err);
/* Writes the whole buffer, retrying on EINTR and short writes. */
int box_write_all(int fd, const void *buf, size_t len);
/* mkdir -p on an absolute or relative host path. */
int box_mkdir_p(const char *path, mode_t mode, struct box_err *err);
/* rm -rf below dirfd/name without following symlinks or crossing mounts. */
int box_remove_tree(int dirfd, const char *name);

#endif
