/* Running a helper program (skopeo) with a deadline: its own process
 * group, stdout captured up to a bound, the tail of stderr kept for the
 * error message, and the whole group killed on timeout or when *stop turns
 * non-zero (a signal handler of the caller sets it). */
#ifndef BOX_OCI_SPAWN_H
#define BOX_OCI_SPAWN_H

#include <signal.h>
#include <stddef.h>

#include "lib/base/err.h"

struct box_spawn_opts {
    const char *const *argv; /* argv[0] looked up in PATH */
    int timeout_s;
    size_t max_stdout;
    volatile sig_atomic_t *stop; /* may be NULL */
};

struct box_spawn_result {
    char *out; /* stdout, NUL-terminated, malloc'ed */
    size_t out_len;
    char err_tail[1024]; /* the last bytes of stderr */
    int status;          /* exit status, or 128 + signal */
};

/* 0 when the program ran and exited (any status: see res->status);
 * -ETIMEDOUT, -EINTR (stopped), -EFBIG (stdout over the bound; the group is
 * killed) or -errno from fork/exec. */
int box_spawn(const struct box_spawn_opts *o, struct box_spawn_result *res, struct box_err *err);

void box_spawn_result_free(struct box_spawn_result *res);

#endif
