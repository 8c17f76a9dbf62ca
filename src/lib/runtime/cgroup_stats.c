/* A container's resource usage, read from its cgroup files, in the shape
 * `runc events` prints (runc types/events.go): cpu, memory, pids,
 * blkio and hugetlb, on v1, hybrid and v2. */
#include "lib/runtime/cgroup_stats.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/runtime/cgroup_res.h"

/* The whole of a small cgroup file, or NULL. */
static char *slurp(const char *dir, const char *file)
{
    char path[PATH_MAX];
    char *text = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (box_read_file(AT_FDCWD, path, 1u << 20, &text, NULL, NULL) < 0)
        return NULL;
    return text;
}

/* A file holding one number ("max" reads as 0, as runc reports it). */
static uint64_t number(const char *dir, const char *file)
{
    _cleanup_free_ char *t = slurp(dir, file);
    return t ? strtoull(t, NULL, 10) : 0;
}

/* "key value" lines (memory.stat, cpu.stat, memory.events) as an object. */
static json_t *flat_keyed(const char *dir, const char *file)
{
    _cleanup_free_ char *t = slurp(dir, file);
    json_t *o = json_object();
    char *save = NULL;
    for (char *line = t ? strtok_r(t, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        char key[128];
        unsigned long long v;
        if (sscanf(line, "%127s %llu", key, &v) == 2)
            json_object_set_new(o, key, json_integer((json_int_t)v));
    }
    return o;
}

static uint64_t key_of(json_t *o, const char *key)
{
    return (uint64_t)json_integer_value(json_object_get(o, key));
}

static json_t *usage_entry(uint64_t usage, uint64_t max, uint64_t failcnt, uint64_t limit)
{
    return json_pack("{s:I, s:I, s:I, s:I}", "usage", (json_int_t)usage, "max", (json_int_t)max,
                     "failcnt", (json_int_t)failcnt, "limit", (json_int_t)limit);
}

static void v1_cpu(json_t *data, const char *dir)
{
    json_t *cpu = json_object_get(data, "cpu");
    json_t *usage = json_object();
    json_object_set_new(usage, "total", json_integer((json_int_t)number(dir, "cpuacct.usage")));
    json_t *percpu = json_array();
    _cleanup_free_ char *t = slurp(dir, "cpuacct.usage_percpu");
    for (char *p = t, *end; p && *p; p = end) {
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            break;
        json_array_append_new(percpu, json_integer((json_int_t)v));
    }
    json_object_set_new(usage, "percpu", percpu);
    /* cpuacct.stat counts USER_HZ ticks; runc reports nanoseconds. */
    json_t *st = flat_keyed(dir, "cpuacct.stat");
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t ns = hz > 0 ? 1000000000ull / (uint64_t)hz : 10000000ull;
    json_object_set_new(usage, "user", json_integer((json_int_t)(key_of(st, "user") * ns)));
    json_object_set_new(usage, "kernel", json_integer((json_int_t)(key_of(st, "system") * ns)));
    json_decref(st);
    json_object_set_new(cpu, "usage", usage);
}

static void v1_throttling(json_t *data, const char *dir)
{
    json_t *st = flat_keyed(dir, "cpu.stat");
    json_object_set_new(json_object_get(data, "cpu"), "throttling",
                        json_pack("{s:I, s:I, s:I}", "periods",
                                  (json_int_t)key_of(st, "nr_periods"), "throttledPeriods",
                                  (json_int_t)key_of(st, "nr_throttled"), "throttledTime",
                                  (json_int_t)key_of(st, "throttledTime")));
    json_decref(st);
}

static json_t *v1_mem_entry(const char *dir, const char *prefix)
{
    char f[4][96];
    static const char *const names[] = {"usage_in_bytes", "max_usage_in_bytes", "failcnt",
                                        "limit_in_bytes"};
    for (int i = 0; i < 4; i++)
        snprintf(f[i], sizeof(f[i]), "%s%s", prefix, names[i]);
    return usage_entry(number(dir, f[0]), number(dir, f[1]), number(dir, f[2]), number(dir, f[3]));
}

static void v1_memory(json_t *data, const char *dir)
{
    json_t *mem = json_object_get(data, "memory");
    json_t *raw = flat_keyed(dir, "memory.stat");
    json_object_set_new(mem, "cache", json_integer((json_int_t)key_of(raw, "cache")));
    json_object_set_new(mem, "usage", v1_mem_entry(dir, "memory."));
    json_object_set_new(mem, "swap", v1_mem_entry(dir, "memory.memsw."));
    json_object_set_new(mem, "kernel", v1_mem_entry(dir, "memory.kmem."));
    json_object_set_new(mem, "kernelTCP", v1_mem_entry(dir, "memory.kmem.tcp."));
    json_object_set_new(mem, "raw", raw);
}

/* blkio.throttle.io_service_bytes_recursive: "M:m Read 123" lines. */
static json_t *v1_blkio_entries(const char *dir, const char *file)
{
    _cleanup_free_ char *t = slurp(dir, file);
    json_t *arr = json_array();
    char *save = NULL;
    for (char *line = t ? strtok_r(t, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        unsigned maj, min;
        char op[16];
        unsigned long long v;
        if (sscanf(line, "%u:%u %15s %llu", &maj, &min, op, &v) == 4)
            json_array_append_new(arr, json_pack("{s:i, s:i, s:s, s:I}", "major", (int)maj, "minor",
                                                 (int)min, "op", op, "value", (json_int_t)v));
    }
    return arr;
}

static void v2_cpu_memory(json_t *data, const char *dir)
{
    json_t *st = flat_keyed(dir, "cpu.stat");
    json_t *cpu = json_object_get(data, "cpu");
    json_object_set_new(cpu, "usage",
                        json_pack("{s:I, s:I, s:I}", "total",
                                  (json_int_t)(key_of(st, "usage_usec") * 1000), "user",
                                  (json_int_t)(key_of(st, "user_usec") * 1000), "kernel",
                                  (json_int_t)(key_of(st, "system_usec") * 1000)));
    json_object_set_new(cpu, "throttling",
                        json_pack("{s:I, s:I, s:I}", "periods",
                                  (json_int_t)key_of(st, "nr_periods"), "throttledPeriods",
                                  (json_int_t)key_of(st, "nr_throttled"), "throttledTime",
                                  (json_int_t)(key_of(st, "throttled_usec") * 1000)));
    json_decref(st);
    json_t *mem = json_object_get(data, "memory");
    json_t *raw = flat_keyed(dir, "memory.stat");
    json_t *events = flat_keyed(dir, "memory.events");
    json_object_set_new(mem, "cache", json_integer((json_int_t)key_of(raw, "file")));
    json_object_set_new(mem, "usage",
                        usage_entry(number(dir, "memory.current"), number(dir, "memory.peak"),
                                    key_of(events, "max"), number(dir, "memory.max")));
    json_object_set_new(mem, "swap",
                        usage_entry(number(dir, "memory.swap.current"),
                                    number(dir, "memory.swap.peak"), 0,
                                    number(dir, "memory.swap.max")));
    json_object_set_new(mem, "raw", raw);
    json_decref(events);
}

/* io.stat: "M:m rbytes=1 wbytes=2 rios=3 wios=4 ..." lines. */
static void v2_io(json_t *blkio, const char *dir)
{
    _cleanup_free_ char *t = slurp(dir, "io.stat");
    json_t *bytes = json_object_get(blkio, "ioServiceBytesRecursive");
    json_t *ios = json_object_get(blkio, "ioServicedRecursive");
    char *save = NULL;
    for (char *line = t ? strtok_r(t, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        unsigned maj, min;
        unsigned long long rb = 0, wb = 0, ri = 0, wi = 0;
        if (sscanf(line, "%u:%u", &maj, &min) != 2)
            continue;
        char *p;
        if ((p = strstr(line, "rbytes=")))
            rb = strtoull(p + 7, NULL, 10);
        if ((p = strstr(line, "wbytes=")))
            wb = strtoull(p + 7, NULL, 10);
        if ((p = strstr(line, "rios=")))
            ri = strtoull(p + 5, NULL, 10);
        if ((p = strstr(line, "wios=")))
            wi = strtoull(p + 5, NULL, 10);
        const char *ops[] = {"Read", "Write"};
        unsigned long long b[] = {rb, wb}, n[] = {ri, wi};
        for (int i = 0; i < 2; i++) {
            json_array_append_new(bytes,
                                  json_pack("{s:i, s:i, s:s, s:I}", "major", (int)maj, "minor",
                                            (int)min, "op", ops[i], "value", (json_int_t)b[i]));
            json_array_append_new(ios,
                                  json_pack("{s:i, s:i, s:s, s:I}", "major", (int)maj, "minor",
                                            (int)min, "op", ops[i], "value", (json_int_t)n[i]));
        }
    }
}

/* Every huge page size this cgroup accounts: hugetlb.<size>.* files. */
static void hugetlb(json_t *out, const char *dir, bool v2)
{
    static const char *const sizes[] = {"64KB", "2MB", "32MB", "512MB", "1GB", "16GB"};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char cur[64], max[64], fail[64];
        snprintf(cur, sizeof(cur), "hugetlb.%s.%s", sizes[i], v2 ? "current" : "usage_in_bytes");
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, cur);
        if (access(path, F_OK) < 0)
            continue;
        snprintf(max, sizeof(max), "hugetlb.%s.max_usage_in_bytes", sizes[i]);
        uint64_t failcnt;
        if (v2) {
            snprintf(fail, sizeof(fail), "hugetlb.%s.events", sizes[i]);
            json_t *ev = flat_keyed(dir, fail);
            failcnt = key_of(ev, "max");
            json_decref(ev);
        } else {
            snprintf(fail, sizeof(fail), "hugetlb.%s.failcnt", sizes[i]);
            failcnt = number(dir, fail);
        }
        json_object_set_new(out, sizes[i],
                            json_pack("{s:I, s:I, s:I}", "usage", (json_int_t)number(dir, cur),
                                      "max", (json_int_t)(v2 ? 0 : number(dir, max)), "failcnt",
                                      (json_int_t)failcnt));
    }
}

int box_cgroup_stats(const struct box_cgroups *cg, json_t **out, struct box_err *err)
{
    json_t *data = json_pack("{s:{}, s:{}, s:{}, s:{s:[], s:[]}, s:{}}", "cpu", "memory", "pids",
                             "blkio", "ioServiceBytesRecursive", "ioServicedRecursive", "hugetlb");
    if (!data)
        return box_err_set(err, ENOMEM, "events: stats");
    json_t *blkio = json_object_get(data, "blkio");
    for (size_t i = 0; i < cg->n; i++) {
        const struct box_cgroup_hier *h = &cg->h[i];
        char dir[PATH_MAX];
        if (box_cgroup_dir(cg, i, dir, sizeof(dir)) < 0 || access(dir, F_OK) < 0)
            continue;
        if (h->v2) {
            if (cg->layout == BOX_CGROUP_V2) {
                v2_cpu_memory(data, dir);
                v2_io(blkio, dir);
                json_object_set_new(json_object_get(data, "pids"), "current",
                                    json_integer((json_int_t)number(dir, "pids.current")));
                json_object_set_new(json_object_get(data, "pids"), "limit",
                                    json_integer((json_int_t)number(dir, "pids.max")));
            }
            hugetlb(json_object_get(data, "hugetlb"), dir, true);
            continue;
        }
        if (box_cgroup_has_controller(h, "cpuacct"))
            v1_cpu(data, dir);
        if (box_cgroup_has_controller(h, "cpu"))
            v1_throttling(data, dir);
        if (box_cgroup_has_controller(h, "memory"))
            v1_memory(data, dir);
        if (box_cgroup_has_controller(h, "pids")) {
            json_object_set_new(json_object_get(data, "pids"), "current",
                                json_integer((json_int_t)number(dir, "pids.current")));
            json_object_set_new(json_object_get(data, "pids"), "limit",
                                json_integer((json_int_t)number(dir, "pids.max")));
        }
        if (box_cgroup_has_controller(h, "blkio")) {
            json_object_set_new(blkio, "ioServiceBytesRecursive",
                                v1_blkio_entries(dir, "blkio.throttle.io_service_bytes_recursive"));
            json_object_set_new(blkio, "ioServicedRecursive",
                                v1_blkio_entries(dir, "blkio.throttle.io_serviced_recursive"));
        }
        if (box_cgroup_has_controller(h, "hugetlb"))
            hugetlb(json_object_get(data, "hugetlb"), dir, false);
    }
    *out = data;
    return 0;
}
