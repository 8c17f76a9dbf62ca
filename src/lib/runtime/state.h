/* The state store: <root>/<id>/state.json written atomically, a per-container
 * lock (flock on the container's directory), and the init's (pid, start time)
 * pair that guards every signal against pid reuse. */
#ifndef BOX_RUNTIME_STATE_H
#define BOX_RUNTIME_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/base/err.h"

enum box_status {
    BOX_STATUS_CREATING,
    BOX_STATUS_CREATED,
    BOX_STATUS_RUNNING,
    BOX_STATUS_STOPPED,
    BOX_STATUS_PAUSED,
};
const char *box_status_name(enum box_status s);

struct box_state {
    char *id;
    pid_t pid;
    uint64_t start_time; /* /proc/<pid>/stat field 22 */
    char *bundle;
    char *rootfs;
    char *created; /* RFC 3339 */
    uid_t owner;
    char *cgroup; /* cgroup path relative to each hierarchy root */
    json_t *annotations;
    json_t *config; /* the config.json the container was created from */
};

/* A locked container directory. */
struct box_container_dir {
    int rootfd;
    int fd; /* O_DIRECTORY, flock'ed LOCK_EX */
    char *id;
};

/* Opens (creating when missing, 0700) the state root directory. */
int box_state_root_open(const char *root, bool create, struct box_err *err);
/* Atomically creates and locks <root>/<id>; -EEXIST when it exists. */
int box_container_dir_create(int rootfd, const char *id, struct box_container_dir *dir,
                             struct box_err *err);
/* Removes what a create of `id` killed before publishing left behind;
 * -EBUSY while a create of `id` runs. */
int box_container_sweep_staging(int rootfd, const char *id);
/* Opens and locks an existing <root>/<id>; -ENOENT when absent. */
int box_container_dir_open(int rootfd, const char *id, struct box_container_dir *dir,
                           struct box_err *err);
/* Removes <root>/<id> and everything in it, then releases the lock. */
int box_container_dir_remove(struct box_container_dir *dir, struct box_err *err);
void box_container_dir_close(struct box_container_dir *dir);

int box_state_write(int dirfd, const struct box_state *st, struct box_err *err);
/* Reads <root>/<id>/state.json without the lock (the write is atomic).
 * -ENOENT when the container does not exist. */
int box_state_read(int rootfd, const char *id, struct box_state *st, struct box_err *err);
void box_state_free(struct box_state *st);
/* The status now: the process checked by pid and start time. */
enum box_status box_state_status(int rootfd, const struct box_state *st);
/* The public state JSON of the runtime-spec (plus runc's extra fields). */
json_t *box_state_to_public_json(int rootfd, const struct box_state *st);

/* /proc/<pid>/stat start time; 0 when the process does not exist. */
uint64_t box_proc_start_time(pid_t pid);
/* A pidfd for pid if it still has the given start time, else -ESRCH. */
int box_pidfd_checked(pid_t pid, uint64_t start_time);

/* Names of files in a container directory. */
#define BOX_STATE_FILE    "state.json"
#define BOX_EXEC_SOCK     "exec.sock"
#define BOX_EXEC_SOCK_NEW "exec.sock.new"
#define BOX_PAUSED_MARK   "paused"

#endif
