/* The lifecycle verbs over the state store: what the CLI calls. Each function
 * is one operation of the runtime-spec, leaves the system as it was when it
 * fails, and reports through err. */
#ifndef BOX_RUNTIME_CONTAINER_H
#define BOX_RUNTIME_CONTAINER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/base/err.h"

struct box_create_opts {
    const char *root; /* state root */
    const char *id;
    const char *bundle; /* default "." */
    const char *pid_file;
    const char *console_socket;
    bool has_console_fd; /* run -t: our end of a socketpair instead of a path */
    int console_fd;
    bool no_pivot;
    unsigned preserve_fds;
    /* CDI: devices requested with --device, and --cdi-spec-dir (NULL: the
     * default directories). Applied to config.json before it is parsed. */
    const char *const *cdi_devices;
    size_t n_cdi_devices;
    const char *const *cdi_spec_dirs;
    size_t n_cdi_spec_dirs;
    /* Socket activation (sd_listen_fds): fds 3..3+listen_fds-1 go to the
     * process before the preserved ones, announced by LISTEN_FDS and
     * LISTEN_PID=1 in its environment, as runc does. */
    unsigned listen_fds;
};

/* create: on success *pid is the container's init. */
int box_container_create(const struct box_create_opts *o, pid_t *pid, struct box_err *err);
/* warn receives non-fatal problems (poststart hook failures). */
int box_container_start(const char *root, const char *id, void (*warn)(const char *msg),
                        struct box_err *err);
/* Fills *state with the public state JSON. */
int box_container_state(const char *root, const char *id, json_t **state, struct box_err *err);
/* JSON array of public states. */
int box_container_list(const char *root, json_t **list, struct box_err *err);
/* pause (true) or resume (false) every process of the container. */
int box_container_pause(const char *root, const char *id, bool pause, struct box_err *err);
/* update: merges a LinuxResources object into the container's and writes
 * the cgroup files. */
int box_container_update(const char *root, const char *id, json_t *resources, struct box_err *err);
/* The pids of the container's processes. */
int box_container_ps(const char *root, const char *id, pid_t **pids, size_t *n,
                     struct box_err *err);
int box_container_kill(const char *root, const char *id, int sig, bool all, struct box_err *err);
/* warn receives non-fatal problems (poststop hook failures). */
int box_container_delete(const char *root, const char *id, bool force,
                         void (*warn)(const char *msg), struct box_err *err);
/* run: create + start; in the foreground waits and fills *exit_code with the
 * container's status (128+N when killed by signal N), then deletes it. */
int box_container_run(const struct box_create_opts *o, bool detach, int *exit_code,
                      void (*warn)(const char *msg), struct box_err *err);

/* events: `emit` gets each event ({"type": "stats"|"oom", "id", "data"})
 * and stops the loop by returning < 0. With stats_only, one stats event.
 * Otherwise stats every interval_ms and OOM kills as they happen, until the
 * container stops. */
struct box_events_opts {
    const char *root, *id;
    bool stats_only;
    unsigned interval_ms;
    int (*emit)(json_t *event, void *ctx);
    void *ctx;
};
int box_container_events(const struct box_events_opts *o, struct box_err *err);

/* exec: a new process in a running container, in all its namespaces and
 * its cgroup, with the container's process settings unless overridden. */
struct box_exec_opts {
    const char *root, *id;
    const char *process_file; /* --process: an OCI process object as JSON */
    char **args;              /* NULL-terminated; required without --process */
    bool tty;
    const char *console_socket;
    const char *cwd;
    char **env; /* appended to the container's */
    bool has_user, has_gid;
    uint32_t uid, gid;
    uint32_t *gids; /* --additional-gids */
    size_t n_gids;
    char **caps; /* added to the bounding, effective and permitted sets */
    bool detach;
    const char *pid_file;
    unsigned preserve_fds;
    bool no_new_privs;
};

/* In the foreground fills *exit_code with the process's status (128+N when
 * killed by signal N); with detach returns once it has been exec'd. */
int box_container_exec(const struct box_exec_opts *o, int *exit_code, struct box_err *err);

#endif
