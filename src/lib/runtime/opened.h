/* A container opened for an operation, shared by the lifecycle verbs. */
#ifndef BOX_RUNTIME_OPENED_H
#define BOX_RUNTIME_OPENED_H

#include <signal.h>

#include "lib/base/err.h"
#include "lib/runtime/cgroup.h"
#include "lib/runtime/spec.h"
#include "lib/runtime/state.h"

struct box_opened {
    int rootfd;
    struct box_container_dir dir;
    struct box_state st;
    struct box_spec spec; /* the stored config, parsed only when it has hooks */
};

/* Validates the id, locks the container and reads its state and config. */
int box_opened_open(const char *root, const char *id, struct box_opened *o, struct box_err *err);
void box_opened_free(struct box_opened *o);
/* The container's cgroups, from its state (cg->path NULL when unknown). */
void box_opened_cgroups(const struct box_opened *o, struct box_cgroups *cg);
/* Waits for our child pid with the signals in `set` blocked, forwarding
 * every one but SIGCHLD to it; fills its exit code (128+N for signal N). */
int box_wait_child(pid_t pid, const sigset_t *set, int *exit_code);
/* What `run` and `exec` in the foreground block and pass on to their child:
 * SIGCHLD plus the signals a caller sends to stop or steer it. */
void box_forwarded_signals(sigset_t *set);

#endif
