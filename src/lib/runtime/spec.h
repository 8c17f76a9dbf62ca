/* config.json -> struct box_spec. Unknown fields are ignored (runtime-spec
 * rule); wrong types, out-of-range numbers and duplicate keys are rejected
 * with the JSON path of the field. Everything is bounded. */
#ifndef BOX_RUNTIME_SPEC_H
#define BOX_RUNTIME_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/base/err.h"

struct box_seccomp; /* lib/runtime/seccomp.h */

#define BOX_SPEC_MAX_BYTES  (8u << 20)
#define BOX_SPEC_MAX_ITEMS  4096 /* mounts, devices, hooks, env, args, ... */
#define BOX_SPEC_MAX_STRING (64u << 10)

enum box_hook_kind {
    BOX_HOOK_PRESTART,
    BOX_HOOK_CREATE_RUNTIME,
    BOX_HOOK_CREATE_CONTAINER,
    BOX_HOOK_START_CONTAINER,
    BOX_HOOK_POSTSTART,
    BOX_HOOK_POSTSTOP,
    BOX_HOOK_KINDS
};
extern const char *const box_hook_kind_names[BOX_HOOK_KINDS];

struct box_hook {
    char *path;
    char **args; /* NULL-terminated; may be NULL */
    char **env;
    int timeout; /* seconds, 0 = none */
    bool self;   /* box itself running `box hook ...`: run in-process (set by
                  * box_hooks_find_self, never parsed) */
};

struct box_rlimit {
    int resource;
    uint64_t soft, hard;
};

struct box_caps {
    uint64_t bounding, effective, inheritable, permitted, ambient;
};

/* process.scheduler: sched_setattr(2)'s fields. */
struct box_sched {
    uint32_t policy;
    int32_t nice;
    uint32_t priority;
    uint64_t flags, runtime, deadline, period;
};

struct box_process {
    bool terminal;
    unsigned console_height, console_width;
    char **args;
    size_t n_args;
    char **env;
    size_t n_env;
    char *cwd;
    uid_t uid;
    gid_t gid;
    bool has_umask;
    mode_t umask;
    gid_t *additional_gids;
    size_t n_additional_gids;
    struct box_rlimit *rlimits;
    size_t n_rlimits;
    bool has_caps;
    struct box_caps caps;
    bool no_new_privileges;
    bool has_oom_score_adj;
    int oom_score_adj;
    bool has_sched;
    struct box_sched sched;
    bool has_ioprio;
    int ioprio; /* IOPRIO_PRIO_VALUE(class, level) */
};

struct box_mount {
    char *destination;
    char *source;
    char *type;
    unsigned long flags;       /* MS_* applied at mount */
    unsigned long clear_flags; /* MS_* explicitly cleared (e.g. "rw") */
    unsigned long propagation; /* MS_SHARED|MS_PRIVATE|... with MS_REC */
    bool bind;
    bool tmpcopyup; /* tmpfs: copy what the image has there into it */
    char *data;     /* comma-joined filesystem options */
};

struct box_namespace {
    int type; /* CLONE_NEW* */
    char *path;
};

struct box_idmap {
    uint32_t container_id, host_id, size;
};

struct box_device {
    char *path;
    char type; /* c, b, u, p */
    int64_t major, minor;
    bool has_mode;
    mode_t mode;
    bool has_uid, has_gid;
    uid_t uid;
    gid_t gid;
};

struct box_dev_rule {
    bool allow;
    char type;            /* a, c, b */
    int64_t major, minor; /* -1 = wildcard */
    char access[4];
};

struct box_kv {
    char *key, *value;
};

#define BOX_UNSET INT64_MIN

/* linux.resources.blockIO: a device's weight or throttle rate. */
struct box_blkio_dev {
    int64_t major, minor;
    uint64_t value;
    uint64_t leaf; /* weightDevice only: leafWeight, 0 = unset */
};

/* linux.resources.hugepageLimits[] */
struct box_hugetlb {
    char page_size[16]; /* "2MB", "1GB": as in the cgroup file names */
    uint64_t limit;
};

enum box_blkio_throttle {
    BOX_THROTTLE_READ_BPS,
    BOX_THROTTLE_WRITE_BPS,
    BOX_THROTTLE_READ_IOPS,
    BOX_THROTTLE_WRITE_IOPS,
    BOX_THROTTLES
};

struct box_resources {
    int64_t mem_limit, mem_reservation, mem_swap, mem_kernel, mem_kernel_tcp, mem_swappiness;
    bool mem_disable_oom_killer;
    int64_t cpu_shares, cpu_quota, cpu_period, cpu_rt_runtime, cpu_rt_period;
    char *cpu_cpus, *cpu_mems;
    int64_t pids_limit;
    struct box_dev_rule *dev_rules;
    size_t n_dev_rules;
    struct box_kv *unified;
    size_t n_unified;
    int64_t blkio_weight, blkio_leaf_weight;
    struct box_blkio_dev *weight_dev;
    size_t n_weight_dev;
    struct box_hugetlb *hugetlb;
    size_t n_hugetlb;
    struct box_blkio_dev *throttle[BOX_THROTTLES];
    size_t n_throttle[BOX_THROTTLES];
};

struct box_spec {
    json_t *json; /* the parsed document, kept for annotations and later users */
    char *oci_version;
    bool has_process;
    struct box_process process;
    char *root_path; /* as written; made absolute against the bundle by the caller */
    bool root_readonly;
    char *hostname, *domainname;
    struct box_mount *mounts;
    size_t n_mounts;
    struct box_hook *hooks[BOX_HOOK_KINDS];
    size_t n_hooks[BOX_HOOK_KINDS];
    /* linux */
    struct box_namespace *namespaces;
    size_t n_namespaces;
    struct box_idmap *uid_mappings, *gid_mappings;
    size_t n_uid_mappings, n_gid_mappings;
    struct box_device *devices;
    size_t n_devices;
    char *cgroups_path;
    bool has_resources;
    struct box_resources resources;
    unsigned long rootfs_propagation; /* 0 = default */
    char **masked_paths;
    size_t n_masked_paths;
    char **readonly_paths;
    size_t n_readonly_paths;
    struct box_kv *sysctl;
    size_t n_sysctl;
    char *mount_label;
    struct box_seccomp *seccomp; /* linux.seccomp; NULL without one */
    bool has_personality;
    unsigned long personality; /* linux.personality: PER_LINUX or PER_LINUX32 */
    bool has_time_offsets;     /* linux.timeOffsets, for a new time namespace */
    int64_t monotonic_secs, boottime_secs;
    uint32_t monotonic_nsecs, boottime_nsecs;
};

/* Parses a config.json text. Does not validate cross-field rules. */
int box_spec_parse(const char *text, size_t len, struct box_spec *spec, struct box_err *err);
/* The JSON document of a config.json text, in *doc (size-checked, duplicate
 * keys refused, 2^64-1 read as box_json_loadb_config does). */
int box_spec_load_doc(const char *text, size_t len, json_t **doc, struct box_err *err);
/* The same as box_spec_parse from a parsed document, which spec takes over
 * (also on error). */
int box_spec_parse_doc(json_t *doc, struct box_spec *spec, struct box_err *err);
/* Reads and parses <bundle>/config.json. */
int box_spec_load(int bundlefd, struct box_spec *spec, struct box_err *err);
/* Cross-field rules that must hold before any side effect. */
int box_spec_validate(const struct box_spec *spec, struct box_err *err);
void box_spec_free(struct box_spec *spec);

/* Namespace helpers */
const char *box_ns_name(int clone_flag);
int box_ns_from_name(const char *name);
const struct box_namespace *box_spec_namespace(const struct box_spec *spec, int clone_flag);

/* Capability names ("CAP_SYS_ADMIN") <-> numbers. */
int box_cap_from_name(const char *name);
const char *box_cap_name(int cap);
#define BOX_CAP_LAST 40

/* "private", "rshared", ...: MS_* propagation flags; -EINVAL otherwise. */
int box_mount_parse_propagation(const char *s, unsigned long *out);
/* The `linux` section of a config document (spec_linux.c). */
int box_spec_parse_linux(json_t *doc, struct box_spec *spec, struct box_err *err);

/* process.scheduler and process.ioPriority (spec_sched.c). */
int box_spec_parse_sched(json_t *proc, struct box_process *p, struct box_err *err);

/* Mount option parsing, shared by config.json mounts and CDI mounts. */
int box_mount_parse_options(struct box_mount *m, json_t *options, const char *where,
                            struct box_err *err);

#endif
