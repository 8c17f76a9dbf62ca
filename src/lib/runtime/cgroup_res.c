/* The resources of linux.resources written into a container's cgroup
 * directories, on v1 and cgroup2. */
#include "lib/runtime/cgroup_res.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/runtime/devfilter.h"

bool box_cgroup_has_controller(const struct box_cgroup_hier *h, const char *name)
{
    size_t n = strlen(name);
    for (const char *c = h->controllers; *c;) {
        const char *e = strchrnul(c, ',');
        if ((size_t)(e - c) == n && strncmp(c, name, n) == 0)
            return true;
        c = *e ? e + 1 : e;
    }
    return false;
}

uint64_t box_cgroup_shares_to_weight(uint64_t shares)
{
    /* The conversion runc and crun agree on: [2, 262144] -> [1, 10000]. */
    if (shares == 0)
        return 0;
    if (shares < 2)
        shares = 2;
    if (shares > 262144)
        shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

int box_cgroup_dev_rule_string(const struct box_dev_rule *r, char *buf, size_t len)
{
    char maj[24], min[24];
    if (r->type == 'a')
        return snprintf(buf, len, "a") >= (int)len ? -ENAMETOOLONG : 0;
    snprintf(maj, sizeof(maj), r->major < 0 ? "*" : "%lld", (long long)r->major);
    snprintf(min, sizeof(min), r->minor < 0 ? "*" : "%lld", (long long)r->minor);
    return snprintf(buf, len, "%c %s:%s %s", r->type, maj, min, r->access) >= (int)len
               ? -ENAMETOOLONG
               : 0;
}

int box_cgroup_write(const char *dir, const char *file, const char *val, struct box_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    return box_write_string(AT_FDCWD, path, val, err);
}

static int write_i64(const char *dir, const char *file, int64_t v, struct box_err *err)
{
    char s[32];
    snprintf(s, sizeof(s), "%lld", (long long)v);
    return box_cgroup_write(dir, file, s, err);
}

static bool file_exists(const char *dir, const char *file)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    return access(path, F_OK) == 0;
}

/* The default devices every container may use (runtime-spec config-linux.md
 * "Default Devices"), plus mknod of anything (the node is useless without an
 * allow rule for its use). */
static const struct box_dev_rule default_dev_rules[] = {
    {true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},    {true, 'c', 1, 3, "rwm"},
    {true, 'c', 1, 5, "rwm"}, {true, 'c', 1, 7, "rwm"},    {true, 'c', 1, 8, "rwm"},
    {true, 'c', 1, 9, "rwm"}, {true, 'c', 5, 0, "rwm"},    {true, 'c', 5, 1, "rwm"},
    {true, 'c', 5, 2, "rwm"}, {true, 'c', 136, -1, "rwm"},
};

/* One rule written to an open devices.allow or devices.deny: the files take
 * one rule per write, so each is opened once for all of its rules. */
static int dev_write(int fd, const char *file, const struct box_dev_rule *rule, struct box_err *err)
{
    char s[64];
    if (box_cgroup_dev_rule_string(rule, s, sizeof(s)) < 0)
        return 0;
    ssize_t w;
    do {
        w = write(fd, s, strlen(s));
    } while (w < 0 && errno == EINTR);
    return w < 0 ? box_err_sys(err, errno, "write `%s` to `%s`", s, file) : 0;
}

/* The container's device rules in order: the spec's, then the defaults,
 * then an allow rule for each device of linux.devices (made for it). */
static struct box_dev_rule *device_rules(const struct box_spec *spec, size_t *n)
{
    const struct box_resources *r = &spec->resources;
    size_t cap = r->n_dev_rules + BOX_ARRAY_SIZE(default_dev_rules) + spec->n_devices;
    struct box_dev_rule *rules = calloc(cap + 1, sizeof(*rules));
    if (!rules)
        return NULL;
    *n = 0;
    for (size_t i = 0; i < r->n_dev_rules; i++)
        rules[(*n)++] = r->dev_rules[i];
    for (size_t i = 0; i < BOX_ARRAY_SIZE(default_dev_rules); i++)
        rules[(*n)++] = default_dev_rules[i];
    for (size_t i = 0; i < spec->n_devices; i++) {
        const struct box_device *d = &spec->devices[i];
        if (d->type != 'p')
            rules[(*n)++] = (struct box_dev_rule){true, d->type == 'u' ? 'c' : d->type, d->major,
                                                  d->minor, "rwm"};
    }
    return rules;
}

static int v1_devices(const char *dir, const struct box_spec *spec, struct box_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/devices.allow", dir);
    _cleanup_close_ int allow = open(path, O_WRONLY | O_CLOEXEC);
    snprintf(path, sizeof(path), "%s/devices.deny", dir);
    _cleanup_close_ int deny = open(path, O_WRONLY | O_CLOEXEC);
    if (allow < 0 || deny < 0)
        return box_err_sys(err, errno, "open the device rules of `%s`", dir);
    size_t n = 0;
    _cleanup_free_ struct box_dev_rule *rules = device_rules(spec, &n);
    if (!rules)
        return -ENOMEM;
    /* Start from deny-all, then replay the rules in order. */
    static const struct box_dev_rule all = {false, 'a', -1, -1, "rwm"};
    if (dev_write(deny, "devices.deny", &all, err) < 0)
        return -err->code;
    for (size_t i = 0; i < n; i++)
        if (dev_write(rules[i].allow ? allow : deny,
                      rules[i].allow ? "devices.allow" : "devices.deny", &rules[i], err) < 0)
            return box_err_prefix(err, "linux.resources.devices");
    return 0;
}

/* cgroup2 has no devices controller: the same rules as an eBPF program. */
static int v2_devices(const char *dir, const struct box_spec *spec, struct box_err *err)
{
    size_t n = 0;
    _cleanup_free_ struct box_dev_rule *rules = device_rules(spec, &n);
    if (!rules)
        return -ENOMEM;
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return box_err_sys(err, errno, "open cgroup `%s`", dir);
    return box_devfilter_attach(fd, rules, n, err);
}

static int v1_memory(const char *dir, const struct box_resources *r, struct box_err *err)
{
    if (r->mem_limit != BOX_UNSET && write_i64(dir, "memory.limit_in_bytes", r->mem_limit, err) < 0)
        return box_err_prefix(err, "linux.resources.memory.limit");
    if (r->mem_swap != BOX_UNSET) {
        if (!file_exists(dir, "memory.memsw.limit_in_bytes"))
            return box_err_set(err, EOPNOTSUPP,
                               "linux.resources.memory.swap: swap accounting is not enabled "
                               "on this kernel");
        if (write_i64(dir, "memory.memsw.limit_in_bytes", r->mem_swap, err) < 0)
            return box_err_prefix(err, "linux.resources.memory.swap");
    }
    if (r->mem_reservation != BOX_UNSET &&
        write_i64(dir, "memory.soft_limit_in_bytes", r->mem_reservation, err) < 0)
        return box_err_prefix(err, "linux.resources.memory.reservation");
    if (r->mem_swappiness != BOX_UNSET &&
        write_i64(dir, "memory.swappiness", r->mem_swappiness, err) < 0)
        return box_err_prefix(err, "linux.resources.memory.swappiness");
    if (r->mem_disable_oom_killer && box_cgroup_write(dir, "memory.oom_control", "1", err) < 0)
        return box_err_prefix(err, "linux.resources.memory.disableOOMKiller");
    /* kernel and kernelTCP are deprecated by the runtime-spec. They are
     * written where the kernel still has the files (v1), and otherwise
     * accepted and not applied, as runc does: the kernel accounts kernel
     * memory in the memory limit since Linux 5.4 anyway. */
    if (r->mem_kernel != BOX_UNSET && file_exists(dir, "memory.kmem.limit_in_bytes") &&
        write_i64(dir, "memory.kmem.limit_in_bytes", r->mem_kernel, err) < 0)
        return box_err_prefix(err, "linux.resources.memory.kernel");
    if (r->mem_kernel_tcp != BOX_UNSET && file_exists(dir, "memory.kmem.tcp.limit_in_bytes") &&
        write_i64(dir, "memory.kmem.tcp.limit_in_bytes", r->mem_kernel_tcp, err) < 0)
        return box_err_prefix(err, "linux.resources.memory.kernelTCP");
    return 0;
}

static bool want_realtime(const struct box_resources *r)
{
    return (r->cpu_rt_runtime != BOX_UNSET && r->cpu_rt_runtime != 0) ||
           (r->cpu_rt_period != BOX_UNSET && r->cpu_rt_period != 0);
}

/* Real-time group scheduling: a group's runtime must fit in its parent's,
 * and a new group has none, so the parent must have been given a budget
 * (as docker's daemon --cpu-rt-runtime does). Name it when it has not. */
static int v1_realtime(const char *dir, const struct box_resources *r, struct box_err *err)
{
    if (!file_exists(dir, "cpu.rt_runtime_us"))
        return box_err_set(err, EOPNOTSUPP,
                           "linux.resources.cpu.realtimeRuntime: this kernel has no real-time "
                           "group scheduling (CONFIG_RT_GROUP_SCHED)");
    if (r->cpu_rt_period != BOX_UNSET && r->cpu_rt_period != 0 &&
        write_i64(dir, "cpu.rt_period_us", r->cpu_rt_period, err) < 0)
        return box_err_prefix(err, "linux.resources.cpu.realtimePeriod");
    if (r->cpu_rt_runtime == BOX_UNSET || r->cpu_rt_runtime == 0 ||
        write_i64(dir, "cpu.rt_runtime_us", r->cpu_rt_runtime, err) == 0)
        return 0;
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    _cleanup_free_ char *budget = NULL;
    if (slash) {
        *slash = '\0';
        char f[PATH_MAX + 32];
        snprintf(f, sizeof(f), "%s/cpu.rt_runtime_us", parent);
        box_read_file(AT_FDCWD, f, 64, &budget, NULL, NULL);
    }
    if (budget)
        budget[strcspn(budget, "\n")] = '\0';
    return box_err_prefix(err,
                          "linux.resources.cpu.realtimeRuntime: the parent cgroup `%s` grants "
                          "%s us of real-time runtime",
                          parent, budget ? budget : "?");
}

static int v1_cpu(const char *dir, const struct box_cgroup_hier *h, const struct box_resources *r,
                  struct box_err *err)
{
    if (box_cgroup_has_controller(h, "cpu")) {
        if (r->cpu_shares != BOX_UNSET && r->cpu_shares != 0 &&
            write_i64(dir, "cpu.shares", r->cpu_shares, err) < 0)
            return box_err_prefix(err, "linux.resources.cpu.shares");
        if (r->cpu_period != BOX_UNSET && r->cpu_period != 0 &&
            write_i64(dir, "cpu.cfs_period_us", r->cpu_period, err) < 0)
            return box_err_prefix(err, "linux.resources.cpu.period");
        if (r->cpu_quota != BOX_UNSET && r->cpu_quota != 0 &&
            write_i64(dir, "cpu.cfs_quota_us", r->cpu_quota, err) < 0)
            return box_err_prefix(err, "linux.resources.cpu.quota");
        if (want_realtime(r) && v1_realtime(dir, r, err) < 0)
            return -err->code;
    }
    if (box_cgroup_has_controller(h, "cpuset")) {
        if (r->cpu_cpus && *r->cpu_cpus &&
            box_cgroup_write(dir, "cpuset.cpus", r->cpu_cpus, err) < 0)
            return box_err_prefix(err, "linux.resources.cpu.cpus");
        if (r->cpu_mems && *r->cpu_mems &&
            box_cgroup_write(dir, "cpuset.mems", r->cpu_mems, err) < 0)
            return box_err_prefix(err, "linux.resources.cpu.mems");
    }
    return 0;
}

/* The first of two files that exists in dir, or NULL. */
static const char *either(const char *dir, const char *a, const char *b)
{
    return file_exists(dir, a) ? a : file_exists(dir, b) ? b : NULL;
}

/* "M:m value" lines, one write each. */
static int write_dev_value(const char *dir, const char *file, const struct box_blkio_dev *d,
                           uint64_t value, const char *key, struct box_err *err)
{
    char v[96];
    snprintf(v, sizeof(v), "%lld:%lld %s%s%llu", (long long)d->major, (long long)d->minor,
             key ? key : "", key ? "=" : "", (unsigned long long)value);
    return box_cgroup_write(dir, file, v, err);
}

static int no_leaf_weights(struct box_err *err)
{
    return box_err_set(err, EOPNOTSUPP,
                       "linux.resources.blockIO.leafWeight: this kernel has no leaf weights "
                       "(they went with the CFQ scheduler in Linux 5.0)");
}

static int v1_blkio(const char *dir, const struct box_resources *r, struct box_err *err)
{
    static const char *const files[BOX_THROTTLES] = {
        "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
        "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};
    if (r->blkio_weight != BOX_UNSET) {
        const char *wf = either(dir, "blkio.weight", "blkio.bfq.weight");
        if (!wf)
            return box_err_set(err, EOPNOTSUPP,
                               "linux.resources.blockIO.weight: this kernel's I/O scheduler "
                               "has no blkio weight");
        if (write_i64(dir, wf, r->blkio_weight, err) < 0)
            return box_err_prefix(err, "linux.resources.blockIO.weight");
    }
    if (r->blkio_leaf_weight != BOX_UNSET) {
        if (!file_exists(dir, "blkio.leaf_weight"))
            return no_leaf_weights(err);
        if (write_i64(dir, "blkio.leaf_weight", r->blkio_leaf_weight, err) < 0)
            return box_err_prefix(err, "linux.resources.blockIO.leafWeight");
    }
    for (size_t i = 0; i < r->n_weight_dev; i++) {
        const struct box_blkio_dev *d = &r->weight_dev[i];
        const char *wf = either(dir, "blkio.weight_device", "blkio.bfq.weight_device");
        if (d->leaf && !file_exists(dir, "blkio.leaf_weight_device"))
            return no_leaf_weights(err);
        if (d->value && (!wf || write_dev_value(dir, wf, d, d->value, NULL, err) < 0))
            goto weight_device_failed;
        if (d->leaf && write_dev_value(dir, "blkio.leaf_weight_device", d, d->leaf, NULL, err) < 0)
            goto weight_device_failed;
        continue;
    weight_device_failed:
        if (!wf)
            box_err_set(err, EOPNOTSUPP, "no per-device weights in this cgroup");
        return box_err_prefix(err,
                              "linux.resources.blockIO.weightDevice[%zu] (%lld:%lld; the "
                              "device's I/O scheduler must be bfq)",
                              i, (long long)d->major, (long long)d->minor);
    }
    for (int t = 0; t < BOX_THROTTLES; t++)
        for (size_t i = 0; i < r->n_throttle[t]; i++)
            if (write_dev_value(dir, files[t], &r->throttle[t][i], r->throttle[t][i].value, NULL,
                                err) < 0)
                return box_err_prefix(err, "linux.resources.blockIO");
    return 0;
}

static int v2_io(const char *dir, const struct box_resources *r, struct box_err *err)
{
    static const char *const keys[BOX_THROTTLES] = {"rbps", "wbps", "riops", "wiops"};
    /* bfq keeps blkio's [1, 1000]; io.weight is [1, 10000]. */
    bool bfq = file_exists(dir, "io.bfq.weight");
    const char *wf = bfq ? "io.bfq.weight" : "io.weight";
    if (r->blkio_weight != BOX_UNSET) {
        char v[32];
        /* blkio's [10, 1000] onto io.weight's [1, 10000], as runc does */
        snprintf(v, sizeof(v), "default %lld",
                 (long long)(bfq ? r->blkio_weight : 1 + (r->blkio_weight - 10) * 9999 / 990));
        if (!file_exists(dir, wf))
            return box_err_set(err, EOPNOTSUPP,
                               "linux.resources.blockIO.weight: no io weight in this cgroup");
        if (box_cgroup_write(dir, wf, v, err) < 0)
            return box_err_prefix(err, "linux.resources.blockIO.weight");
    }
    if (r->blkio_leaf_weight != BOX_UNSET)
        return no_leaf_weights(err);
    for (size_t i = 0; i < r->n_weight_dev; i++) {
        const struct box_blkio_dev *d = &r->weight_dev[i];
        if (d->leaf)
            return no_leaf_weights(err);
        uint64_t w = bfq ? d->value : 1 + (d->value - 10) * 9999 / 990;
        if (!file_exists(dir, wf) || write_dev_value(dir, wf, d, w, NULL, err) < 0) {
            if (!file_exists(dir, wf))
                box_err_set(err, EOPNOTSUPP, "no io weight in this cgroup");
            return box_err_prefix(err, "linux.resources.blockIO.weightDevice[%zu] (%lld:%lld)", i,
                                  (long long)d->major, (long long)d->minor);
        }
    }
    for (int t = 0; t < BOX_THROTTLES; t++)
        for (size_t i = 0; i < r->n_throttle[t]; i++)
            if (write_dev_value(dir, "io.max", &r->throttle[t][i], r->throttle[t][i].value, keys[t],
                                err) < 0)
                return box_err_prefix(err, "linux.resources.blockIO");
    return 0;
}

int box_cgroup_apply_hugetlb(const char *dir, bool v2, const struct box_resources *r,
                             struct box_err *err)
{
    for (size_t i = 0; i < r->n_hugetlb; i++) {
        const struct box_hugetlb *h = &r->hugetlb[i];
        char file[64], rsvd[64];
        snprintf(file, sizeof(file), "hugetlb.%s.%s", h->page_size, v2 ? "max" : "limit_in_bytes");
        if (!file_exists(dir, file))
            return box_err_set(err, EINVAL,
                               "linux.resources.hugepageLimits[%zu].pageSize: `%s` is not a huge "
                               "page size of this host (see /sys/kernel/mm/hugepages)",
                               i, h->page_size);
        if (write_i64(dir, file, (int64_t)h->limit, err) < 0)
            return box_err_prefix(err, "linux.resources.hugepageLimits[%zu]", i);
        /* Reservations too, so that a mapping cannot reserve past the
         * limit and fault later (runc does the same). */
        snprintf(rsvd, sizeof(rsvd), "hugetlb.%s.rsvd.%s", h->page_size,
                 v2 ? "max" : "limit_in_bytes");
        if (file_exists(dir, rsvd) && write_i64(dir, rsvd, (int64_t)h->limit, err) < 0)
            return box_err_prefix(err, "linux.resources.hugepageLimits[%zu]", i);
    }
    return 0;
}

int box_cgroup_apply_v1(const char *dir, const struct box_cgroup_hier *h,
                        const struct box_spec *spec, bool devices, struct box_err *err)
{
    const struct box_resources *r = &spec->resources;
    if (box_cgroup_has_controller(h, "memory") && v1_memory(dir, r, err) < 0)
        return -err->code;
    if ((box_cgroup_has_controller(h, "cpu") || box_cgroup_has_controller(h, "cpuset")) &&
        v1_cpu(dir, h, r, err) < 0)
        return -err->code;
    if (box_cgroup_has_controller(h, "pids") && r->pids_limit != BOX_UNSET) {
        int rr = r->pids_limit > 0 ? write_i64(dir, "pids.max", r->pids_limit, err)
                                   : box_cgroup_write(dir, "pids.max", "max", err);
        if (rr < 0)
            return box_err_prefix(err, "linux.resources.pids.limit");
    }
    if (box_cgroup_has_controller(h, "blkio") && v1_blkio(dir, r, err) < 0)
        return -err->code;
    if (box_cgroup_has_controller(h, "hugetlb") && box_cgroup_apply_hugetlb(dir, false, r, err) < 0)
        return -err->code;
    if (devices && box_cgroup_has_controller(h, "devices") && v1_devices(dir, spec, err) < 0)
        return -err->code;
    return 0;
}

static int v2_memory(const char *dir, const struct box_resources *r, struct box_err *err)
{
    char s[64];
    if (r->mem_limit != BOX_UNSET) {
        if (r->mem_limit > 0)
            snprintf(s, sizeof(s), "%lld", (long long)r->mem_limit);
        else
            snprintf(s, sizeof(s), "max");
        if (box_cgroup_write(dir, "memory.max", s, err) < 0)
            return box_err_prefix(err, "linux.resources.memory.limit");
    }
    if (r->mem_swap != BOX_UNSET) {
        /* runtime-spec swap is memory+swap; cgroup2 limits swap alone. */
        if (r->mem_swap > 0 && r->mem_limit > 0 && r->mem_swap < r->mem_limit)
            return box_err_set(err, EINVAL,
                               "linux.resources.memory.swap: %lld is below the memory limit",
                               (long long)r->mem_swap);
        if (r->mem_swap > 0 && r->mem_limit > 0)
            snprintf(s, sizeof(s), "%lld", (long long)(r->mem_swap - r->mem_limit));
        else
            snprintf(s, sizeof(s), "max");
        if (box_cgroup_write(dir, "memory.swap.max", s, err) < 0)
            return box_err_prefix(err, "linux.resources.memory.swap");
    }
    if (r->mem_reservation != BOX_UNSET && r->mem_reservation > 0 &&
        write_i64(dir, "memory.low", r->mem_reservation, err) < 0)
        return box_err_prefix(err, "linux.resources.memory.reservation");
    /* cgroup2 has no swappiness, kernel limits or OOM-killer switch per
     * group: swappiness and kernel are accepted and not applied (runc
     * too); disableOOMKiller cannot be honoured and is refused. */
    if (r->mem_disable_oom_killer)
        return box_err_set(err, EOPNOTSUPP,
                           "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable "
                           "the OOM killer");
    return 0;
}

static int v2_cpu(const char *dir, const struct box_resources *r, struct box_err *err)
{
    char s[64];
    if (want_realtime(r))
        return box_err_set(err, EOPNOTSUPP,
                           "linux.resources.cpu.realtimeRuntime: cgroup v2 has no real-time "
                           "group scheduling");
    if (r->cpu_shares != BOX_UNSET && r->cpu_shares > 0 &&
        write_i64(dir, "cpu.weight", (int64_t)box_cgroup_shares_to_weight((uint64_t)r->cpu_shares),
                  err) < 0)
        return box_err_prefix(err, "linux.resources.cpu.shares");
    if ((r->cpu_quota != BOX_UNSET && r->cpu_quota != 0) ||
        (r->cpu_period != BOX_UNSET && r->cpu_period != 0)) {
        int64_t period = r->cpu_period > 0 ? r->cpu_period : 100000;
        if (r->cpu_quota > 0)
            snprintf(s, sizeof(s), "%lld %lld", (long long)r->cpu_quota, (long long)period);
        else
            snprintf(s, sizeof(s), "max %lld", (long long)period);
        if (box_cgroup_write(dir, "cpu.max", s, err) < 0)
            return box_err_prefix(err, "linux.resources.cpu.quota");
    }
    if (r->cpu_cpus && *r->cpu_cpus && box_cgroup_write(dir, "cpuset.cpus", r->cpu_cpus, err) < 0)
        return box_err_prefix(err, "linux.resources.cpu.cpus");
    if (r->cpu_mems && *r->cpu_mems && box_cgroup_write(dir, "cpuset.mems", r->cpu_mems, err) < 0)
        return box_err_prefix(err, "linux.resources.cpu.mems");
    return 0;
}

int box_cgroup_apply_v2(const char *dir, const struct box_spec *spec, bool devices,
                        struct box_err *err)
{
    const struct box_resources *r = &spec->resources;
    if (v2_memory(dir, r, err) < 0 || v2_cpu(dir, r, err) < 0)
        return -err->code;
    if (r->pids_limit != BOX_UNSET) {
        int rr = r->pids_limit > 0 ? write_i64(dir, "pids.max", r->pids_limit, err)
                                   : box_cgroup_write(dir, "pids.max", "max", err);
        if (rr < 0)
            return box_err_prefix(err, "linux.resources.pids.limit");
    }
    if (v2_io(dir, r, err) < 0 || box_cgroup_apply_hugetlb(dir, true, r, err) < 0)
        return -err->code;
    for (size_t i = 0; i < r->n_unified; i++)
        if (box_cgroup_write(dir, r->unified[i].key, r->unified[i].value, err) < 0)
            return box_err_prefix(err, "linux.resources.unified.%s", r->unified[i].key);
    if (devices && v2_devices(dir, spec, err) < 0)
        return -err->code;
    return 0;
}
