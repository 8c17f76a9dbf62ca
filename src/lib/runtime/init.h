/* The container's init: the child `box create` clones into the new
 * namespaces. It builds the container from the inside, reports every
 * failure over the sync channel, waits for `box start`, and execs the
 * program through the sealed trampoline. */
#ifndef BOX_RUNTIME_INIT_H
#define BOX_RUNTIME_INIT_H

#include <stdbool.h>

#include "lib/runtime/cgroup.h"
#include "lib/runtime/spec.h"

struct box_seccomp_bpf;

struct box_init {
    const struct box_spec *spec;
    const struct box_seccomp_bpf *seccomp_bpf; /* compiled by the parent, or NULL */
    const char *id, *bundle, *rootfs;
    const struct box_cgroups *cgroups;
    int sync_fd, listen_fd, console_fd;
    unsigned preserve_fds;
    bool no_pivot;
    bool wait_go_first;  /* a new user namespace: wait for the id maps before setup */
    bool join_cgroup;    /* join the cgroup ourselves (else the parent placed us) */
    bool cloned_into_v2; /* CLONE_INTO_CGROUP placed us in the cgroup2 hierarchy */
    bool new_cgroupns, new_timens;
    bool parent_hooks; /* prestart or createRuntime hooks exist */
};

void __attribute__((noreturn)) box_init_main(const struct box_init *in);

/* The state JSON hooks receive on stdin. */
char *box_hook_state_json(const struct box_spec *spec, const char *id, const char *status,
                          pid_t pid, const char *bundle, const char *rootfs);

#endif
