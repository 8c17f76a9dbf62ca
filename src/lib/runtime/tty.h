/* A container's terminal in the foreground: `run -t` and `exec -t` without a
 * console socket receive the pty master themselves and relay it to the
 * caller's stdin and stdout, in raw mode, with window size changes. */
#ifndef BOX_RUNTIME_TTY_H
#define BOX_RUNTIME_TTY_H

#include <signal.h>
#include <sys/types.h>

#include "lib/base/err.h"

/* Receives the fd sent with SCM_RIGHTS over sock (the console socket). */
int box_tty_recv_master(int sock, struct box_err *err);
/* Relays between stdin/stdout and master until child pid exits; signals in
 * `set` (blocked by the caller) other than SIGCHLD and SIGWINCH are
 * forwarded to pid. Fills the exit code (128+N for signal N). */
int box_tty_relay(int master, pid_t pid, const sigset_t *set, int *exit_code);

#endif
