/* cgroups on v1, hybrid (v1 controllers plus a cgroup2 mount) and pure v2
 * hosts: detection from mountinfo, creation, resources, placement, removal. */
#ifndef BOX_RUNTIME_CGROUP_H
#define BOX_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/base/err.h"
#include "lib/runtime/spec.h"

#define BOX_CGROUP_MAX_HIER 16

enum box_cgroup_layout {
    BOX_CGROUP_V1,
    BOX_CGROUP_HYBRID,
    BOX_CGROUP_V2
};

struct box_cgroup_hier {
    char *mount;       /* mount point, e.g. /sys/fs/cgroup/memory */
    char *root;        /* the mount's root inside the hierarchy */
    char *controllers; /* "memory", "cpu,cpuacct", "name=systemd"; "" for cgroup2 */
    char *self;        /* this process's cgroup in the hierarchy */
    bool v2;
};

struct box_cgroups {
    enum box_cgroup_layout layout;
    struct box_cgroup_hier h[BOX_CGROUP_MAX_HIER];
    size_t n;
    char *path;    /* the container's cgroup, absolute within each hierarchy */
    unsigned made; /* bit i: this process created the cgroup in hierarchy i */
};

/* Which hierarchies box_cgroup_create works on: cgroup2 must exist before
 * the clone (CLONE_INTO_CGROUP); the v1 ones can be made while the init
 * builds its root. */
enum box_cgroup_part {
    BOX_CGROUP_ALL,
    BOX_CGROUP_V2_PART,
    BOX_CGROUP_V1_PART
};

int box_cgroup_detect(struct box_cgroups *cg, struct box_err *err);
/* The host directory of the container's cgroup in hierarchy i; -EXDEV when
 * that hierarchy's mount does not reach it. */
int box_cgroup_dir(const struct box_cgroups *cg, size_t i, char *buf, size_t len);
/* Resolves cgroupsPath (NULL: /box/<id>; relative: below our own cgroup). */
int box_cgroup_set_path(struct box_cgroups *cg, const char *cgroups_path, const char *id,
                        struct box_err *err);
/* Creates the cgroup in the hierarchies of `part` and applies the resources.
 * A cgroup that exists already is refused, never shared or touched. On error
 * nothing made by this call is left behind. */
int box_cgroup_create(struct box_cgroups *cg, const struct box_spec *spec,
                      enum box_cgroup_part part, struct box_err *err);
/* Moves pid into the cgroup in every hierarchy (but cgroup2 with skip_v2,
 * when the process was cloned straight into it). */
int box_cgroup_attach(struct box_cgroups *cg, pid_t pid, bool skip_v2, struct box_err *err);
/* Moves the calling (single-threaded) process into the cgroup: cheaper than
 * box_cgroup_attach from outside on v1. */
int box_cgroup_join_self(const struct box_cgroups *cg, bool skip_v2, struct box_err *err);
/* O_PATH fd on the container's cgroup2 directory, for CLONE_INTO_CGROUP; -1
 * when there is none. */
int box_cgroup_v2_open(const struct box_cgroups *cg);
/* Signals every process in the cgroup. */
int box_cgroup_signal_all(struct box_cgroups *cg, int sig, struct box_err *err);
/* Writes spec's resources into the existing cgroup (update); the v1 device
 * rules only with `devices` (rewriting them briefly denies every device). */
int box_cgroup_update(struct box_cgroups *cg, const struct box_spec *spec, bool devices,
                      struct box_err *err);
/* pause/resume: the v1 freezer or cgroup2's cgroup.freeze. */
int box_cgroup_freeze(struct box_cgroups *cg, bool frozen, struct box_err *err);
/* The pids in the container's cgroup (malloc'd array). */
int box_cgroup_pids(const struct box_cgroups *cg, pid_t **pids, size_t *n, struct box_err *err);
/* Kills what is left and removes the cgroup from every hierarchy. */
int box_cgroup_destroy(struct box_cgroups *cg, struct box_err *err);
/* The same, only where this process made it (undoing a failed create). */
void box_cgroup_destroy_made(struct box_cgroups *cg);
void box_cgroup_free(struct box_cgroups *cg);
const char *box_cgroup_layout_name(enum box_cgroup_layout l);

/* pure helpers, exposed for tests */
uint64_t box_cgroup_shares_to_weight(uint64_t shares);
int box_cgroup_dev_rule_string(const struct box_dev_rule *r, char *buf, size_t len);

#endif
