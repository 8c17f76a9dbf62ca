/* The last steps before a container process execs, shared by a container's
 * init and by `exec`. */
#ifndef BOX_RUNTIME_LAUNCH_H
#define BOX_RUNTIME_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/base/err.h"

/* Closes every fd from `first` up except those in keep (reordered). */
void box_launch_close_fds_except(unsigned first, int *keep, size_t n);
/* Marks every fd past the preserved ones close-on-exec and makes sure fds
 * 3..3+preserve_fds-1 are open and inherited. */
int box_launch_prepare_fds(unsigned preserve_fds, struct box_err *err);
/* The trampoline (src/trampoline) in a sealed memfd, ready for execveat. */
int box_launch_trampoline_fd(struct box_err *err);
/* The pty peer becomes the controlling terminal and stdio; closes peer. */
int box_launch_console_attach(int peer, struct box_err *err);
/* Sends fd over a unix socket with SCM_RIGHTS; -errno on failure. */
int box_launch_send_fd(int sock, int fd);
/* The same with `data` as the message; sendmsg's result. */
ssize_t box_launch_send_fd_with(int sock, const void *data, size_t len, int fd);
/* A connected --console-socket. */
int box_launch_connect_console(const char *path, struct box_err *err);

#endif
