/* config.json's `linux` section: namespaces, id maps, devices, resources,
 * propagation, masked and read-only paths, sysctl, seccomp. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/runtime/seccomp.h"
#include "lib/runtime/spec.h"
#include "lib/runtime/spec_json.h"

static int parse_namespaces(json_t *lx, struct box_spec *spec, struct box_err *err)
{
    json_t *arr = NULL;
    TRY(box_json_array(lx, "namespaces", "linux", 16, &arr, err));
    if (!arr)
        return 0;
    spec->namespaces = calloc(json_array_size(arr) + 1, sizeof(*spec->namespaces));
    if (!spec->namespaces)
        return -ENOMEM;
    size_t i;
    json_t *n;
    json_array_foreach(arr, i, n)
    {
        char path[64];
        snprintf(path, sizeof(path), "linux.namespaces[%zu]", i);
        if (!json_is_object(n))
            return box_err_set(err, EINVAL, "%s: must be an object", path);
        _cleanup_free_ char *type = NULL;
        /* Counted first, so that box_spec_free releases it on any error. */
        struct box_namespace *ns = &spec->namespaces[spec->n_namespaces++];
        TRY(box_json_string(n, "type", path, &type, err));
        TRY(box_json_string(n, "path", path, &ns->path, err));
        if (!type)
            return box_err_set(err, EINVAL, "%s.type: required", path);
        int flag = box_ns_from_name(type);
        if (flag < 0)
            return box_err_set(err, EINVAL, "%s.type: unknown namespace type `%s`", path, type);
        if (box_spec_namespace(spec, flag))
            return box_err_set(err, EINVAL, "%s.type: namespace `%s` listed twice", path, type);
        if (ns->path && ns->path[0] != '/')
            return box_err_set(err, EINVAL, "%s.path: must be absolute", path);
        ns->type = flag;
    }
    return 0;
}

static int parse_idmaps(json_t *lx, const char *key, struct box_idmap **out, size_t *n,
                        struct box_err *err)
{
    json_t *arr = NULL;
    /* The kernel accepts at most 340 lines in uid_map/gid_map. */
    TRY(box_json_array(lx, key, "linux", 340, &arr, err));
    if (!arr)
        return 0;
    *out = calloc(json_array_size(arr) + 1, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        char path[64];
        snprintf(path, sizeof(path), "linux.%s[%zu]", key, i);
        if (!json_is_object(m))
            return box_err_set(err, EINVAL, "%s: must be an object", path);
        int64_t c = -1, h = -1, s = -1;
        TRY(box_json_int(m, "containerID", path, 0, UINT32_MAX - 1, &c, err));
        TRY(box_json_int(m, "hostID", path, 0, UINT32_MAX - 1, &h, err));
        TRY(box_json_int(m, "size", path, 1, UINT32_MAX, &s, err));
        if (c < 0 || h < 0 || s < 0)
            return box_err_set(err, EINVAL, "%s: containerID, hostID and size are required", path);
        (*out)[i] = (struct box_idmap){(uint32_t)c, (uint32_t)h, (uint32_t)s};
        (*n)++;
    }
    return 0;
}

static int parse_devices(json_t *lx, struct box_spec *spec, struct box_err *err)
{
    json_t *arr = NULL;
    TRY(box_json_array(lx, "devices", "linux", BOX_SPEC_MAX_ITEMS, &arr, err));
    if (!arr)
        return 0;
    spec->devices = calloc(json_array_size(arr) + 1, sizeof(*spec->devices));
    if (!spec->devices)
        return -ENOMEM;
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d)
    {
        char path[64];
        snprintf(path, sizeof(path), "linux.devices[%zu]", i);
        if (!json_is_object(d))
            return box_err_set(err, EINVAL, "%s: must be an object", path);
        struct box_device *dev = &spec->devices[spec->n_devices++];
        _cleanup_free_ char *type = NULL;
        TRY(box_json_string(d, "path", path, &dev->path, err));
        TRY(box_json_string(d, "type", path, &type, err));
        if (!dev->path || dev->path[0] != '/')
            return box_err_set(err, EINVAL, "%s.path: required and must be absolute", path);
        if (!type || strlen(type) != 1 || !strchr("cbup", type[0]))
            return box_err_set(err, EINVAL, "%s.type: must be one of c, b, u, p", path);
        dev->type = type[0];
        dev->major = dev->minor = -1;
        TRY(box_json_int(d, "major", path, 0, 4095, &dev->major, err));
        TRY(box_json_int(d, "minor", path, 0, 1048575, &dev->minor, err));
        if (dev->type != 'p' && (dev->major < 0 || dev->minor < 0))
            return box_err_set(err, EINVAL, "%s: major and minor are required for type %c", path,
                               dev->type);
        int64_t v = 0;
        /* Engines (podman) send st_mode, file type bits included: the
         * permission bits are what applies; the type comes from `type`. */
        if (TRY_INT(box_json_int(d, "fileMode", path, 0, 0177777, &v, err)) == 1) {
            dev->has_mode = true;
            dev->mode = (mode_t)(v & 07777);
        }
        if (TRY_INT(box_json_int(d, "uid", path, 0, UINT32_MAX - 1, &v, err)) == 1) {
            dev->has_uid = true;
            dev->uid = (uid_t)v;
        }
        if (TRY_INT(box_json_int(d, "gid", path, 0, UINT32_MAX - 1, &v, err)) == 1) {
            dev->has_gid = true;
            dev->gid = (gid_t)v;
        }
    }
    return 0;
}

static int parse_dev_rules(json_t *res, struct box_resources *r, struct box_err *err)
{
    json_t *arr = NULL;
    TRY(box_json_array(res, "devices", "linux.resources", BOX_SPEC_MAX_ITEMS, &arr, err));
    if (!arr)
        return 0;
    r->dev_rules = calloc(json_array_size(arr) + 1, sizeof(*r->dev_rules));
    if (!r->dev_rules)
        return -ENOMEM;
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d)
    {
        char path[64];
        snprintf(path, sizeof(path), "linux.resources.devices[%zu]", i);
        if (!json_is_object(d))
            return box_err_set(err, EINVAL, "%s: must be an object", path);
        struct box_dev_rule *rule = &r->dev_rules[r->n_dev_rules++];
        _cleanup_free_ char *type = NULL, *access = NULL;
        if (TRY_INT(box_json_bool(d, "allow", path, &rule->allow, err)) == 0)
            return box_err_set(err, EINVAL, "%s.allow: required", path);
        TRY(box_json_string(d, "type", path, &type, err));
        TRY(box_json_string(d, "access", path, &access, err));
        rule->type = type ? type[0] : 'a';
        if (type && (strlen(type) != 1 || !strchr("acb", type[0])))
            return box_err_set(err, EINVAL, "%s.type: must be a, c or b", path);
        rule->major = rule->minor = -1;
        TRY(box_json_int(d, "major", path, 0, 4095, &rule->major, err));
        TRY(box_json_int(d, "minor", path, 0, 1048575, &rule->minor, err));
        const char *acc = access ? access : "rwm";
        if (strlen(acc) > 3 || strspn(acc, "rwm") != strlen(acc))
            return box_err_set(err, EINVAL, "%s.access: `%s` must combine r, w and m", path, acc);
        snprintf(rule->access, sizeof(rule->access), "%s", acc);
    }
    return 0;
}

static const char *const throttle_keys[BOX_THROTTLES] = {
    "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
    "throttleWriteIOPSDevice"};

/* The major and minor of a blockIO device entry at `path`. */
static int parse_blkio_dev(json_t *d, const char *path, struct box_blkio_dev *bd,
                           struct box_err *err)
{
    if (!json_is_object(d))
        return box_err_set(err, EINVAL, "%s: must be an object", path);
    bd->major = bd->minor = -1;
    TRY(box_json_int(d, "major", path, 0, 4095, &bd->major, err));
    TRY(box_json_int(d, "minor", path, 0, 1048575, &bd->minor, err));
    if (bd->major < 0 || bd->minor < 0)
        return box_err_set(err, EINVAL, "%s: major and minor are required", path);
    return 0;
}

static int parse_weight_devices(json_t *bio, struct box_resources *r, struct box_err *err)
{
    json_t *arr = NULL;
    TRY(box_json_array(bio, "weightDevice", "linux.resources.blockIO", 256, &arr, err));
    if (!json_array_size(arr))
        return 0;
    r->weight_dev = calloc(json_array_size(arr), sizeof(*r->weight_dev));
    if (!r->weight_dev)
        return -ENOMEM;
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d)
    {
        char path[64];
        snprintf(path, sizeof(path), "linux.resources.blockIO.weightDevice[%zu]", i);
        struct box_blkio_dev *bd = &r->weight_dev[r->n_weight_dev++];
        TRY(parse_blkio_dev(d, path, bd, err));
        int64_t w = 0, leaf = 0;
        TRY(box_json_int(d, "weight", path, 0, 1000, &w, err));
        TRY(box_json_int(d, "leafWeight", path, 0, 1000, &leaf, err));
        if ((w > 0 && w < 10) || (leaf > 0 && leaf < 10))
            return box_err_set(err, ERANGE, "%s: weights are in [10, 1000]", path);
        if (w == 0 && leaf == 0)
            return box_err_set(err, EINVAL, "%s: weight or leafWeight is required", path);
        bd->value = (uint64_t)w;
        bd->leaf = (uint64_t)leaf;
    }
    return 0;
}

/* "2MB", "1GB", "64KB": a number and a binary unit, as the hugetlb
 * controller names its files. */
static int parse_hugetlb(json_t *res, struct box_resources *r, struct box_err *err)
{
    json_t *arr = NULL;
    TRY(box_json_array(res, "hugepageLimits", "linux.resources", 16, &arr, err));
    if (!json_array_size(arr))
        return 0;
    r->hugetlb = calloc(json_array_size(arr), sizeof(*r->hugetlb));
    if (!r->hugetlb)
        return -ENOMEM;
    size_t i;
    json_t *h;
    json_array_foreach(arr, i, h)
    {
        char path[64];
        snprintf(path, sizeof(path), "linux.resources.hugepageLimits[%zu]", i);
        if (!json_is_object(h))
            return box_err_set(err, EINVAL, "%s: must be an object", path);
        struct box_hugetlb *hl = &r->hugetlb[r->n_hugetlb++];
        _cleanup_free_ char *size = NULL;
        TRY(box_json_string(h, "pageSize", path, &size, err));
        size_t digits = size ? strspn(size, "0123456789") : 0;
        if (!size || digits == 0 || digits > 8 || size[0] == '0' ||
            (strcmp(size + digits, "KB") && strcmp(size + digits, "MB") &&
             strcmp(size + digits, "GB")))
            return box_err_set(err, EINVAL, "%s.pageSize: `%s` is not a size like 2MB or 1GB", path,
                               size ? size : "");
        for (size_t j = 0; j + 1 < r->n_hugetlb; j++)
            if (strcmp(r->hugetlb[j].page_size, size) == 0)
                return box_err_set(err, EINVAL, "%s.pageSize: `%s` is listed twice", path, size);
        snprintf(hl->page_size, sizeof(hl->page_size), "%s", size);
        if (TRY_INT(box_json_uint64(h, "limit", path, &hl->limit, err)) == 0)
            return box_err_set(err, EINVAL, "%s.limit: required", path);
    }
    return 0;
}

static int parse_blkio(json_t *res, struct box_resources *r, struct box_err *err)
{
    json_t *bio = NULL;
    TRY(box_json_object(res, "blockIO", "linux.resources", &bio, err));
    if (!bio)
        return 0;
    const char *p = "linux.resources.blockIO";
    /* 0 means "not set" to the engines (docker sends it), as to runc. */
    int64_t w = 0, leaf = 0;
    TRY(box_json_int(bio, "weight", p, 0, 1000, &w, err));
    TRY(box_json_int(bio, "leafWeight", p, 0, 1000, &leaf, err));
    if (w > 0 && w < 10)
        return box_err_set(err, ERANGE, "%s.weight: %lld is out of range [10, 1000]", p,
                           (long long)w);
    if (w > 0)
        r->blkio_weight = w;
    if (leaf > 0)
        r->blkio_leaf_weight = leaf;
    TRY(parse_weight_devices(bio, r, err));
    for (int t = 0; t < BOX_THROTTLES; t++) {
        json_t *arr = NULL;
        TRY(box_json_array(bio, throttle_keys[t], p, 256, &arr, err));
        if (!arr)
            continue;
        r->throttle[t] = calloc(json_array_size(arr) + 1, sizeof(struct box_blkio_dev));
        if (!r->throttle[t])
            return -ENOMEM;
        size_t i;
        json_t *d;
        json_array_foreach(arr, i, d)
        {
            char path[96];
            snprintf(path, sizeof(path), "%s.%s[%zu]", p, throttle_keys[t], i);
            struct box_blkio_dev *bd = &r->throttle[t][r->n_throttle[t]++];
            TRY(parse_blkio_dev(d, path, bd, err));
            if (TRY_INT(box_json_uint64(d, "rate", path, &bd->value, err)) == 0)
                return box_err_set(err, EINVAL, "%s.rate: required", path);
        }
    }
    return 0;
}

static int parse_resources(json_t *lx, struct box_spec *spec, struct box_err *err)
{
    json_t *res = NULL;
    TRY(box_json_object(lx, "resources", "linux", &res, err));
    struct box_resources *r = &spec->resources;
    r->mem_limit = r->mem_reservation = r->mem_swap = r->mem_kernel = r->mem_kernel_tcp = BOX_UNSET;
    r->mem_swappiness = r->cpu_shares = r->cpu_quota = r->cpu_period = BOX_UNSET;
    r->cpu_rt_runtime = r->cpu_rt_period = r->pids_limit = r->blkio_weight = BOX_UNSET;
    r->blkio_leaf_weight = BOX_UNSET;
    if (!res)
        return 0;
    spec->has_resources = true;
    json_t *mem = NULL, *cpu = NULL, *pids = NULL, *unified = NULL;
    TRY(box_json_object(res, "memory", "linux.resources", &mem, err));
    if (mem) {
        const char *p = "linux.resources.memory";
        TRY(box_json_int(mem, "limit", p, -1, INT64_MAX, &r->mem_limit, err));
        TRY(box_json_int(mem, "reservation", p, -1, INT64_MAX, &r->mem_reservation, err));
        TRY(box_json_int(mem, "swap", p, -1, INT64_MAX, &r->mem_swap, err));
        TRY(box_json_int(mem, "kernel", p, -1, INT64_MAX, &r->mem_kernel, err));
        TRY(box_json_int(mem, "kernelTCP", p, -1, INT64_MAX, &r->mem_kernel_tcp, err));
        TRY(box_json_int(mem, "swappiness", p, 0, 100, &r->mem_swappiness, err));
        TRY(box_json_bool(mem, "disableOOMKiller", p, &r->mem_disable_oom_killer, err));
    }
    TRY(box_json_object(res, "cpu", "linux.resources", &cpu, err));
    if (cpu) {
        const char *p = "linux.resources.cpu";
        TRY(box_json_int(cpu, "shares", p, 0, 262144, &r->cpu_shares, err));
        TRY(box_json_int(cpu, "quota", p, -1, INT64_MAX, &r->cpu_quota, err));
        TRY(box_json_int(cpu, "period", p, 0, 1000000, &r->cpu_period, err));
        TRY(box_json_int(cpu, "realtimeRuntime", p, -1, INT64_MAX, &r->cpu_rt_runtime, err));
        TRY(box_json_int(cpu, "realtimePeriod", p, 0, INT64_MAX, &r->cpu_rt_period, err));
        TRY(box_json_string(cpu, "cpus", p, &r->cpu_cpus, err));
        TRY(box_json_string(cpu, "mems", p, &r->cpu_mems, err));
    }
    TRY(box_json_object(res, "pids", "linux.resources", &pids, err));
    if (pids)
        TRY(box_json_int(pids, "limit", "linux.resources.pids", INT64_MIN + 1, INT64_MAX,
                         &r->pids_limit, err));
    TRY(parse_dev_rules(res, r, err));
    TRY(parse_blkio(res, r, err));
    TRY(parse_hugetlb(res, r, err));
    TRY(box_json_object(res, "unified", "linux.resources", &unified, err));
    if (unified) {
        r->unified = calloc(json_object_size(unified) + 1, sizeof(*r->unified));
        if (!r->unified)
            return -ENOMEM;
        const char *k;
        json_t *v;
        json_object_foreach(unified, k, v)
        {
            if (!json_is_string(v))
                return box_err_set(err, EINVAL, "linux.resources.unified.%s: must be a string", k);
            if (strchr(k, '/') || k[0] == '.')
                return box_err_set(err, EINVAL, "linux.resources.unified: invalid key `%s`", k);
            r->unified[r->n_unified].key = strdup(k);
            r->unified[r->n_unified].value = strdup(json_string_value(v));
            if (!r->unified[r->n_unified].key || !r->unified[r->n_unified++].value)
                return -ENOMEM;
        }
    }
    return 0;
}

/* linux.personality: the execution domain (personality(2)). No flag is
 * defined by the runtime-spec yet, so any is refused rather than ignored. */
static int parse_personality(json_t *lx, struct box_spec *spec, struct box_err *err)
{
    json_t *pers = NULL;
    TRY(box_json_object(lx, "personality", "linux", &pers, err));
    if (!pers)
        return 0;
    _cleanup_free_ char *domain = NULL;
    TRY(box_json_string(pers, "domain", "linux.personality", &domain, err));
    if (!domain)
        return box_err_set(err, EINVAL, "linux.personality.domain: required");
    if (strcmp(domain, "LINUX") == 0)
        spec->personality = 0x0000; /* PER_LINUX */
    else if (strcmp(domain, "LINUX32") == 0)
        spec->personality = 0x0008; /* PER_LINUX32 */
    else
        return box_err_set(err, EINVAL, "linux.personality.domain: `%s` is not LINUX or LINUX32",
                           domain);
    json_t *flags = NULL;
    TRY(box_json_array(pers, "flags", "linux.personality", 16, &flags, err));
    if (json_array_size(flags))
        return box_err_set(err, EINVAL, "linux.personality.flags: no flag is supported");
    spec->has_personality = true;
    return 0;
}

static int parse_offset(json_t *offs, const char *clock, int64_t *secs, uint32_t *nsecs,
                        struct box_err *err)
{
    json_t *o = NULL;
    char p[48];
    snprintf(p, sizeof(p), "linux.timeOffsets.%s", clock);
    TRY(box_json_object(offs, clock, "linux.timeOffsets", &o, err));
    if (!o)
        return 0;
    int64_t ns = 0;
    TRY(box_json_int(o, "secs", p, INT64_MIN / 2, INT64_MAX / 2, secs, err));
    TRY(box_json_int(o, "nanosecs", p, 0, 999999999, &ns, err));
    *nsecs = (uint32_t)ns;
    return 0;
}

/* linux.timeOffsets: written to the new time namespace by the init before
 * anything runs in it (time_namespaces(7)). */
static int parse_time_offsets(json_t *lx, struct box_spec *spec, struct box_err *err)
{
    json_t *offs = NULL;
    TRY(box_json_object(lx, "timeOffsets", "linux", &offs, err));
    if (!offs)
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach(offs, k, v)
    {
        if (strcmp(k, "monotonic") && strcmp(k, "boottime"))
            return box_err_set(err, EINVAL,
                               "linux.timeOffsets.%s: only monotonic and boottime clocks have "
                               "offsets",
                               k);
    }
    TRY(parse_offset(offs, "monotonic", &spec->monotonic_secs, &spec->monotonic_nsecs, err));
    TRY(parse_offset(offs, "boottime", &spec->boottime_secs, &spec->boottime_nsecs, err));
    spec->has_time_offsets = json_object_size(offs) > 0;
    return 0;
}

int box_spec_parse_linux(json_t *doc, struct box_spec *spec, struct box_err *err)
{
    json_t *lx = NULL;
    TRY(box_json_object(doc, "linux", "config", &lx, err));
    /* resources defaults must be set even without a linux section */
    json_t *empty = json_object();
    int r = parse_resources(lx ? lx : empty, spec, err);
    json_decref(empty);
    if (r < 0 || !lx)
        return r < 0 ? r : 0;
    TRY(parse_namespaces(lx, spec, err));
    TRY(parse_idmaps(lx, "uidMappings", &spec->uid_mappings, &spec->n_uid_mappings, err));
    TRY(parse_idmaps(lx, "gidMappings", &spec->gid_mappings, &spec->n_gid_mappings, err));
    TRY(parse_devices(lx, spec, err));
    TRY(box_json_string(lx, "cgroupsPath", "linux", &spec->cgroups_path, err));
    _cleanup_free_ char *prop = NULL;
    TRY(box_json_string(lx, "rootfsPropagation", "linux", &prop, err));
    if (prop && *prop && box_mount_parse_propagation(prop, &spec->rootfs_propagation) < 0)
        return box_err_set(err, EINVAL, "linux.rootfsPropagation: unknown value `%s`", prop);
    TRY(box_json_strings(lx, "maskedPaths", "linux", BOX_SPEC_MAX_ITEMS, &spec->masked_paths,
                         &spec->n_masked_paths, err));
    TRY(box_json_strings(lx, "readonlyPaths", "linux", BOX_SPEC_MAX_ITEMS, &spec->readonly_paths,
                         &spec->n_readonly_paths, err));
    TRY(box_json_string(lx, "mountLabel", "linux", &spec->mount_label, err));
    json_t *sysctl = NULL;
    TRY(box_json_object(lx, "sysctl", "linux", &sysctl, err));
    if (sysctl) {
        if (json_object_size(sysctl) > BOX_SPEC_MAX_ITEMS)
            return box_err_set(err, E2BIG, "linux.sysctl: too many entries");
        spec->sysctl = calloc(json_object_size(sysctl) + 1, sizeof(*spec->sysctl));
        if (!spec->sysctl)
            return -ENOMEM;
        const char *k;
        json_t *v;
        json_object_foreach(sysctl, k, v)
        {
            if (!json_is_string(v))
                return box_err_set(err, EINVAL, "linux.sysctl.%s: must be a string", k);
            if (!*k || strstr(k, "..") || k[0] == '/' || k[0] == '.')
                return box_err_set(err, EINVAL, "linux.sysctl: invalid key `%s`", k);
            spec->sysctl[spec->n_sysctl].key = strdup(k);
            spec->sysctl[spec->n_sysctl].value = strdup(json_string_value(v));
            if (!spec->sysctl[spec->n_sysctl].key || !spec->sysctl[spec->n_sysctl++].value)
                return -ENOMEM;
        }
    }
    json_t *seccomp = NULL;
    TRY(box_json_object(lx, "seccomp", "linux", &seccomp, err));
    if (seccomp)
        TRY(box_seccomp_parse(seccomp, &spec->seccomp, err));
    TRY(parse_personality(lx, spec, err));
    TRY(parse_time_offsets(lx, spec, err));
    if (json_object_get(lx, "intelRdt") && !json_is_null(json_object_get(lx, "intelRdt")))
        return box_err_set(err, EOPNOTSUPP,
                           "linux.intelRdt: box does not manage resctrl groups (Intel RDT); "
                           "leave it out of the config");
    return 0;
}
