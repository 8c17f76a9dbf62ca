#include "lib/runtime/spec.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/runtime/seccomp.h"
#include "lib/runtime/spec_json.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

const char *const box_hook_kind_names[BOX_HOOK_KINDS] = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

/* ---- names ---------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int flag;
} ns_names[] = {
    {"pid", CLONE_NEWPID},       {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},     {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

const char *box_ns_name(int flag)
{
    for (size_t i = 0; i < BOX_ARRAY_SIZE(ns_names); i++)
        if (ns_names[i].flag == flag)
            return ns_names[i].name;
    return "?";
}

int box_ns_from_name(const char *name)
{
    for (size_t i = 0; i < BOX_ARRAY_SIZE(ns_names); i++)
        if (strcmp(ns_names[i].name, name) == 0)
            return ns_names[i].flag;
    return -EINVAL;
}

const struct box_namespace *box_spec_namespace(const struct box_spec *spec, int flag)
{
    for (size_t i = 0; i < spec->n_namespaces; i++)
        if (spec->namespaces[i].type == flag)
            return &spec->namespaces[i];
    return NULL;
}

static const char *const cap_names[BOX_CAP_LAST + 1] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int box_cap_from_name(const char *name)
{
    for (int i = 0; i <= BOX_CAP_LAST; i++)
        if (strcasecmp(cap_names[i], name) == 0)
            return i;
    return -EINVAL;
}

const char *box_cap_name(int cap)
{
    return cap >= 0 && cap <= BOX_CAP_LAST ? cap_names[cap] : NULL;
}

static const struct {
    const char *name;
    int res;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

/* ---- mount options --------------------------------------------------------------------------- */

static const struct {
    const char *name;
    bool clear;
    unsigned long flag;
} mount_flags[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},
    {"nosuid", false, MS_NOSUID},
    {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},
    {"exec", true, MS_NOEXEC},
    {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
    {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME},
};

static const struct {
    const char *name;
    unsigned long flag;
} propagation_flags[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

int box_mount_parse_propagation(const char *s, unsigned long *out)
{
    for (size_t i = 0; i < BOX_ARRAY_SIZE(propagation_flags); i++)
        if (strcmp(s, propagation_flags[i].name) == 0) {
            *out = propagation_flags[i].flag;
            return 0;
        }
    return -EINVAL;
}

/* The runtime-spec's recursive variants (rro, rnosuid, rnosymfollow, ...):
 * not applied by this build, so refused rather than passed on silently. */
static bool is_recursive_option(const char *s)
{
    if (s[0] != 'r' || strcmp(s, "relatime") == 0 || strcmp(s, "remount") == 0)
        return false;
    if (strcmp(s + 1, "nosymfollow") == 0 || strcmp(s + 1, "symfollow") == 0)
        return true;
    for (size_t k = 0; k < BOX_ARRAY_SIZE(mount_flags); k++)
        if (strcmp(s + 1, mount_flags[k].name) == 0)
            return true;
    return false;
}

static int append_data(char **data, const char *opt)
{
    size_t old = *data ? strlen(*data) : 0;
    char *n = realloc(*data, old + strlen(opt) + 2);
    if (!n)
        return -ENOMEM;
    if (old)
        n[old++] = ',';
    strcpy(n + old, opt);
    *data = n;
    return 0;
}

int box_mount_parse_options(struct box_mount *m, json_t *options, const char *where,
                            struct box_err *err)
{
    if (!options)
        return 0;
    if (!json_is_array(options))
        return box_err_set(err, EINVAL, "%s.options: must be an array", where);
    if (json_array_size(options) > 256)
        return box_err_set(err, E2BIG, "%s.options: more than 256 options", where);
    size_t i;
    json_t *o;
    json_array_foreach(options, i, o)
    {
        if (!json_is_string(o) || json_string_length(o) == 0 || json_string_length(o) > 4096 ||
            memchr(json_string_value(o), '\0', json_string_length(o)))
            return box_err_set(err, EINVAL, "%s.options[%zu]: must be a non-empty string", where,
                               i);
        const char *s = json_string_value(o);
        if (strcmp(s, "bind") == 0 || strcmp(s, "rbind") == 0) {
            m->bind = true;
            m->flags |= MS_BIND | (s[0] == 'r' ? MS_REC : 0);
            continue;
        }
        unsigned long prop;
        if (box_mount_parse_propagation(s, &prop) == 0) {
            m->propagation = prop;
            continue;
        }
        bool known = false;
        for (size_t k = 0; k < BOX_ARRAY_SIZE(mount_flags); k++) {
            if (strcmp(s, mount_flags[k].name) == 0) {
                if (mount_flags[k].clear) {
                    m->flags &= ~mount_flags[k].flag;
                    m->clear_flags |= mount_flags[k].flag;
                } else {
                    m->flags |= mount_flags[k].flag;
                    m->clear_flags &= ~mount_flags[k].flag;
                }
                known = true;
                break;
            }
        }
        if (known)
            continue;
        if (strcmp(s, "tmpcopyup") == 0) {
            m->tmpcopyup = true;
            continue;
        }
        if (strcmp(s, "idmap") == 0 || strcmp(s, "ridmap") == 0 || is_recursive_option(s))
            return box_err_set(err, EOPNOTSUPP, "%s.options[%zu]: `%s` is not supported", where, i,
                               s);
        if (strchr(s, ','))
            return box_err_set(err, EINVAL, "%s.options[%zu]: `%s` must not contain a comma", where,
                               i, s);
        TRY(append_data(&m->data, s));
    }
    return 0;
}

/* ---- sections -------------------------------------------------------------------------------- */

static int parse_mounts(json_t *doc, struct box_spec *spec, struct box_err *err)
{
    json_t *arr = NULL;
    TRY(box_json_array(doc, "mounts", "config", BOX_SPEC_MAX_ITEMS, &arr, err));
    if (!arr)
        return 0;
    spec->mounts = calloc(json_array_size(arr) + 1, sizeof(*spec->mounts));
    if (!spec->mounts)
        return -ENOMEM;
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        char path[64];
        snprintf(path, sizeof(path), "mounts[%zu]", i);
        if (!json_is_object(m))
            return box_err_set(err, EINVAL, "%s: must be an object", path);
        struct box_mount *bm = &spec->mounts[spec->n_mounts++];
        TRY(box_json_string(m, "destination", path, &bm->destination, err));
        TRY(box_json_string(m, "source", path, &bm->source, err));
        TRY(box_json_string(m, "type", path, &bm->type, err));
        if (!bm->destination || !*bm->destination)
            return box_err_set(err, EINVAL, "%s.destination: required", path);
        json_t *opts = NULL;
        TRY(box_json_array(m, "options", path, 256, &opts, err));
        TRY(box_mount_parse_options(bm, opts, path, err));
        if (json_object_get(m, "uidMappings") || json_object_get(m, "gidMappings"))
            return box_err_set(err, EOPNOTSUPP, "%s: idmapped mounts are not supported", path);
        if (bm->type && strcmp(bm->type, "bind") == 0) {
            bm->bind = true;
            bm->flags |= MS_BIND;
        }
    }
    return 0;
}

static int parse_hook_list(json_t *arr, enum box_hook_kind kind, struct box_spec *spec,
                           struct box_err *err)
{
    spec->hooks[kind] = calloc(json_array_size(arr) + 1, sizeof(struct box_hook));
    if (!spec->hooks[kind])
        return -ENOMEM;
    size_t i;
    json_t *h;
    json_array_foreach(arr, i, h)
    {
        char path[64];
        snprintf(path, sizeof(path), "hooks.%s[%zu]", box_hook_kind_names[kind], i);
        if (!json_is_object(h))
            return box_err_set(err, EINVAL, "%s: must be an object", path);
        struct box_hook *bh = &spec->hooks[kind][spec->n_hooks[kind]++];
        TRY(box_json_string(h, "path", path, &bh->path, err));
        if (!bh->path || bh->path[0] != '/')
            return box_err_set(err, EINVAL, "%s.path: required and must be absolute", path);
        TRY(box_json_strings(h, "args", path, BOX_SPEC_MAX_ITEMS, &bh->args, NULL, err));
        TRY(box_json_strings(h, "env", path, BOX_SPEC_MAX_ITEMS, &bh->env, NULL, err));
        int64_t t = 0;
        TRY(box_json_int(h, "timeout", path, 1, 86400, &t, err));
        bh->timeout = (int)t;
    }
    return 0;
}

static int parse_hooks(json_t *doc, struct box_spec *spec, struct box_err *err)
{
    json_t *hooks = NULL;
    TRY(box_json_object(doc, "hooks", "config", &hooks, err));
    if (!hooks)
        return 0;
    for (int k = 0; k < BOX_HOOK_KINDS; k++) {
        json_t *arr = NULL;
        TRY(box_json_array(hooks, box_hook_kind_names[k], "hooks", BOX_SPEC_MAX_ITEMS, &arr, err));
        if (arr)
            TRY(parse_hook_list(arr, (enum box_hook_kind)k, spec, err));
    }
    return 0;
}

static int parse_caps_set(json_t *caps, const char *key, uint64_t *out, struct box_err *err)
{
    json_t *arr = NULL;
    TRY(box_json_array(caps, key, "process.capabilities", 128, &arr, err));
    if (!arr)
        return 0;
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        if (!json_is_string(c))
            return box_err_set(err, EINVAL, "process.capabilities.%s[%zu]: must be a string", key,
                               i);
        int cap = box_cap_from_name(json_string_value(c));
        if (cap < 0)
            return box_err_set(err, EINVAL, "process.capabilities.%s[%zu]: unknown capability `%s`",
                               key, i, json_string_value(c));
        *out |= 1ULL << cap;
    }
    return 0;
}

static int parse_rlimits(json_t *proc, struct box_process *p, struct box_err *err)
{
    json_t *arr = NULL;
    TRY(box_json_array(proc, "rlimits", "process", 64, &arr, err));
    if (!arr)
        return 0;
    p->rlimits = calloc(json_array_size(arr) + 1, sizeof(*p->rlimits));
    if (!p->rlimits)
        return -ENOMEM;
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        char path[64];
        snprintf(path, sizeof(path), "process.rlimits[%zu]", i);
        if (!json_is_object(r))
            return box_err_set(err, EINVAL, "%s: must be an object", path);
        _cleanup_free_ char *type = NULL;
        TRY(box_json_string(r, "type", path, &type, err));
        if (!type)
            return box_err_set(err, EINVAL, "%s.type: required", path);
        int res = -1;
        for (size_t k = 0; k < BOX_ARRAY_SIZE(rlimit_names); k++)
            if (strcmp(type, rlimit_names[k].name) == 0)
                res = rlimit_names[k].res;
        if (res < 0)
            return box_err_set(err, EINVAL, "%s.type: unknown rlimit `%s`", path, type);
        for (size_t k = 0; k < p->n_rlimits; k++)
            if (p->rlimits[k].resource == res)
                return box_err_set(err, EINVAL, "%s.type: `%s` given twice", path, type);
        struct box_rlimit *rl = &p->rlimits[p->n_rlimits++];
        rl->resource = res;
        int soft = TRY_INT(box_json_uint64(r, "soft", path, &rl->soft, err));
        int hard = TRY_INT(box_json_uint64(r, "hard", path, &rl->hard, err));
        if (!soft || !hard)
            return box_err_set(err, EINVAL, "%s: soft and hard are required", path);
        /* UINT64_MAX in the text arrives as INT64_MAX (box_json_loadb_config):
         * both mean no limit. */
        if (rl->soft == INT64_MAX)
            rl->soft = RLIM_INFINITY;
        if (rl->hard == INT64_MAX)
            rl->hard = RLIM_INFINITY;
        if (rl->soft > rl->hard)
            return box_err_set(err, EINVAL, "%s: soft limit %llu exceeds hard limit %llu", path,
                               (unsigned long long)rl->soft, (unsigned long long)rl->hard);
    }
    return 0;
}

static int parse_user(json_t *proc, struct box_process *p, struct box_err *err)
{
    json_t *user = NULL;
    TRY(box_json_object(proc, "user", "process", &user, err));
    if (!user)
        return 0;
    int64_t v = 0;
    /* 4294967295 is (uid_t)-1, "no change" to the kernel: never a valid id. */
    TRY(box_json_int(user, "uid", "process.user", 0, UINT32_MAX - 1, &v, err));
    p->uid = (uid_t)v;
    v = 0;
    TRY(box_json_int(user, "gid", "process.user", 0, UINT32_MAX - 1, &v, err));
    p->gid = (gid_t)v;
    if (TRY_INT(box_json_int(user, "umask", "process.user", 0, 0777, &v, err)) == 1) {
        p->has_umask = true;
        p->umask = (mode_t)v;
    }
    json_t *gids = NULL;
    TRY(box_json_array(user, "additionalGids", "process.user", 65536, &gids, err));
    if (gids) {
        p->additional_gids = calloc(json_array_size(gids) + 1, sizeof(gid_t));
        if (!p->additional_gids)
            return -ENOMEM;
        size_t i;
        json_t *g;
        json_array_foreach(gids, i, g)
        {
            if (!json_is_integer(g) || json_integer_value(g) < 0 ||
                json_integer_value(g) >= (json_int_t)UINT32_MAX)
                return box_err_set(err, EINVAL,
                                   "process.user.additionalGids[%zu]: must be an integer in "
                                   "[0, 4294967294]",
                                   i);
            p->additional_gids[p->n_additional_gids++] = (gid_t)json_integer_value(g);
        }
    }
    return 0;
}

static int parse_process(json_t *doc, struct box_spec *spec, struct box_err *err)
{
    json_t *proc = NULL;
    TRY(box_json_object(doc, "process", "config", &proc, err));
    if (!proc)
        return 0;
    struct box_process *p = &spec->process;
    spec->has_process = true;
    TRY(box_json_bool(proc, "terminal", "process", &p->terminal, err));
    json_t *cs = NULL;
    TRY(box_json_object(proc, "consoleSize", "process", &cs, err));
    if (cs) {
        int64_t v = 0;
        TRY(box_json_int(cs, "height", "process.consoleSize", 0, 65535, &v, err));
        p->console_height = (unsigned)v;
        v = 0;
        TRY(box_json_int(cs, "width", "process.consoleSize", 0, 65535, &v, err));
        p->console_width = (unsigned)v;
    }
    TRY(box_json_strings(proc, "args", "process", BOX_SPEC_MAX_ITEMS, &p->args, &p->n_args, err));
    TRY(box_json_strings(proc, "env", "process", BOX_SPEC_MAX_ITEMS, &p->env, &p->n_env, err));
    TRY(box_json_string(proc, "cwd", "process", &p->cwd, err));
    TRY(parse_user(proc, p, err));
    TRY(parse_rlimits(proc, p, err));
    json_t *caps = NULL;
    TRY(box_json_object(proc, "capabilities", "process", &caps, err));
    if (caps) {
        p->has_caps = true;
        TRY(parse_caps_set(caps, "bounding", &p->caps.bounding, err));
        TRY(parse_caps_set(caps, "effective", &p->caps.effective, err));
        TRY(parse_caps_set(caps, "inheritable", &p->caps.inheritable, err));
        TRY(parse_caps_set(caps, "permitted", &p->caps.permitted, err));
        TRY(parse_caps_set(caps, "ambient", &p->caps.ambient, err));
    }
    TRY(box_json_bool(proc, "noNewPrivileges", "process", &p->no_new_privileges, err));
    int64_t oom = 0;
    if (TRY_INT(box_json_int(proc, "oomScoreAdj", "process", -1000, 1000, &oom, err)) == 1) {
        p->has_oom_score_adj = true;
        p->oom_score_adj = (int)oom;
    }
    return box_spec_parse_sched(proc, p, err);
}

int box_spec_load_doc(const char *text, size_t len, json_t **doc, struct box_err *err)
{
    *doc = NULL;
    if (len > BOX_SPEC_MAX_BYTES)
        return box_err_set(err, EFBIG, "config.json: %zu bytes, more than the limit of %u", len,
                           BOX_SPEC_MAX_BYTES);
    json_error_t jerr;
    *doc = box_json_loadb_config(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*doc)
        return box_err_set(err, EINVAL, "config.json: line %d column %d: %s", jerr.line,
                           jerr.column, jerr.text);
    return 0;
}

int box_spec_parse(const char *text, size_t len, struct box_spec *spec, struct box_err *err)
{
    memset(spec, 0, sizeof(*spec));
    json_t *doc;
    int r = box_spec_load_doc(text, len, &doc, err);
    return r < 0 ? r : box_spec_parse_doc(doc, spec, err);
}

int box_spec_parse_doc(json_t *doc, struct box_spec *spec, struct box_err *err)
{
    memset(spec, 0, sizeof(*spec));
    spec->json = doc;
    if (!json_is_object(doc))
        return box_err_set(err, EINVAL, "config.json: the document must be an object");
    TRY(box_json_string(doc, "ociVersion", "config", &spec->oci_version, err));
    if (!spec->oci_version)
        return box_err_set(err, EINVAL, "config.ociVersion: required");
    json_t *root = NULL;
    TRY(box_json_object(doc, "root", "config", &root, err));
    if (root) {
        TRY(box_json_string(root, "path", "root", &spec->root_path, err));
        TRY(box_json_bool(root, "readonly", "root", &spec->root_readonly, err));
    }
    TRY(box_json_string(doc, "hostname", "config", &spec->hostname, err));
    TRY(box_json_string(doc, "domainname", "config", &spec->domainname, err));
    json_t *ann = NULL;
    TRY(box_json_object(doc, "annotations", "config", &ann, err));
    if (ann) {
        const char *k;
        json_t *v;
        json_object_foreach(ann, k, v)
        {
            if (!json_is_string(v))
                return box_err_set(err, EINVAL, "config.annotations.%s: must be a string", k);
        }
    }
    TRY(parse_process(doc, spec, err));
    TRY(parse_mounts(doc, spec, err));
    TRY(parse_hooks(doc, spec, err));
    TRY(box_spec_parse_linux(doc, spec, err));
    return 0;
}

int box_spec_load(int bundlefd, struct box_spec *spec, struct box_err *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    memset(spec, 0, sizeof(*spec));
    int r = box_read_file(bundlefd, "config.json", BOX_SPEC_MAX_BYTES, &text, &len, err);
    if (r < 0)
        return r;
    return box_spec_parse(text, len, spec, err);
}

static bool ns_new(const struct box_spec *spec, int flag)
{
    const struct box_namespace *ns = box_spec_namespace(spec, flag);
    return ns && !ns->path;
}

/* Whether a mount destination names /proc itself, however it is spelled
 * ("//proc/", "/proc/.", "/x/../proc"): lexically, as the in-root resolver
 * would reach it. */
static bool names_proc(const char *dest)
{
    size_t depth = 0;
    bool first_is_proc = false;
    for (const char *c = dest; *c;) {
        const char *e = strchrnul(c, '/');
        size_t len = (size_t)(e - c);
        if (len == 2 && c[0] == '.' && c[1] == '.') {
            if (depth > 0)
                depth--;
        } else if (len > 0 && !(len == 1 && c[0] == '.')) {
            if (depth++ == 0)
                first_is_proc = len == 4 && strncmp(c, "proc", 4) == 0;
        }
        c = *e ? e + 1 : e;
    }
    return depth == 1 && first_is_proc;
}

int box_spec_validate(const struct box_spec *spec, struct box_err *err)
{
    const struct box_process *p = &spec->process;
    if (!spec->has_process)
        return box_err_set(err, EINVAL, "config.process: required");
    if (p->n_args == 0 || !p->args[0][0])
        return box_err_set(err, EINVAL, "process.args: must name a program");
    if (!p->cwd || !*p->cwd)
        return box_err_set(err, EINVAL, "process.cwd: required");
    if (p->cwd[0] != '/')
        return box_err_set(err, EINVAL, "process.cwd: `%s` must be an absolute path", p->cwd);
    for (size_t i = 0; i < p->n_env; i++)
        if (!strchr(p->env[i], '=') || p->env[i][0] == '=')
            return box_err_set(err, EINVAL, "process.env[%zu]: `%s` must have the form KEY=VALUE",
                               i, p->env[i]);
    if (!spec->root_path || !*spec->root_path)
        return box_err_set(err, EINVAL, "root.path: required");
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct box_mount *m = &spec->mounts[i];
        if (m->destination[0] != '/')
            return box_err_set(err, EINVAL, "mounts[%zu].destination: `%s` must be absolute", i,
                               m->destination);
        if (m->bind && (!m->source || !*m->source))
            return box_err_set(err, EINVAL, "mounts[%zu].source: required for a bind mount", i);
        /* The runtime and its hooks trust what they read under /proc: only a
         * fresh procfs of the container's pid namespace may be there, never a
         * directory standing in for it or another procfs (CVE-2019-16884). */
        if (names_proc(m->destination) && (m->bind || !m->type || strcmp(m->type, "proc") != 0))
            return box_err_set(err, EPERM,
                               "mounts[%zu]: only a new proc filesystem (type `proc`) may be "
                               "mounted on `%s`",
                               i, m->destination);
    }
    bool userns = box_spec_namespace(spec, CLONE_NEWUSER) != NULL;
    if (ns_new(spec, CLONE_NEWUSER) && (spec->n_uid_mappings == 0 || spec->n_gid_mappings == 0))
        return box_err_set(err, EINVAL,
                           "linux.uidMappings: a new user namespace needs uid and gid mappings");
    if (!userns && (spec->n_uid_mappings || spec->n_gid_mappings))
        return box_err_set(err, EINVAL,
                           "linux.uidMappings: mappings given without a user namespace");
    if (spec->hostname && *spec->hostname && !ns_new(spec, CLONE_NEWUTS))
        return box_err_set(err, EINVAL, "hostname: setting it needs a new uts namespace");
    if (spec->domainname && *spec->domainname && !ns_new(spec, CLONE_NEWUTS))
        return box_err_set(err, EINVAL, "domainname: setting it needs a new uts namespace");
    if (spec->has_time_offsets && !ns_new(spec, CLONE_NEWTIME))
        return box_err_set(err, EINVAL,
                           "linux.timeOffsets: offsets need a new time namespace "
                           "(a `time` entry without a path in linux.namespaces)");
    if (spec->hostname && strlen(spec->hostname) > 64)
        return box_err_set(err, EINVAL, "hostname: longer than 64 characters");
    if (spec->domainname && strlen(spec->domainname) > 64)
        return box_err_set(err, EINVAL, "domainname: longer than 64 characters");
    for (size_t i = 0; i < spec->n_sysctl; i++) {
        const char *k = spec->sysctl[i].key;
        /* Only namespaced sysctls: anything else would change the host. */
        static const char *const ipc[] = {"kernel.msgmax", "kernel.msgmnb",         "kernel.msgmni",
                                          "kernel.sem",    "kernel.shmall",         "kernel.shmmax",
                                          "kernel.shmmni", "kernel.shm_rmid_forced"};
        bool is_ipc = strncmp(k, "fs.mqueue.", 10) == 0;
        for (size_t j = 0; j < BOX_ARRAY_SIZE(ipc); j++)
            is_ipc = is_ipc || strcmp(k, ipc[j]) == 0;
        if (is_ipc) {
            if (!box_spec_namespace(spec, CLONE_NEWIPC))
                return box_err_set(err, EINVAL, "linux.sysctl.%s: needs an ipc namespace", k);
        } else if (strncmp(k, "net.", 4) == 0) {
            if (!box_spec_namespace(spec, CLONE_NEWNET))
                return box_err_set(err, EINVAL, "linux.sysctl.%s: needs a network namespace", k);
        } else if (strcmp(k, "kernel.hostname") == 0 || strcmp(k, "kernel.domainname") == 0) {
            if (!ns_new(spec, CLONE_NEWUTS))
                return box_err_set(err, EINVAL, "linux.sysctl.%s: needs a uts namespace", k);
        } else {
            return box_err_set(err, EPERM,
                               "linux.sysctl.%s: not a namespaced sysctl; setting it would change "
                               "the host",
                               k);
        }
    }
    if (spec->cgroups_path) {
        /* Never escape the hierarchy (security bar: cgroupsPath with ".."). */
        const char *s = spec->cgroups_path;
        for (const char *c = s; *c;) {
            const char *e = strchrnul(c, '/');
            if (e - c == 2 && c[0] == '.' && c[1] == '.')
                return box_err_set(err, EINVAL, "linux.cgroupsPath: `%s` must not contain `..`", s);
            c = *e ? e + 1 : e;
        }
        if (strchr(s, ':'))
            return box_err_set(err, EINVAL,
                               "linux.cgroupsPath: `%s` looks like a systemd slice; the systemd "
                               "cgroup driver is not supported",
                               s);
    }
    return 0;
}

static void free_mount(struct box_mount *m)
{
    free(m->destination);
    free(m->source);
    free(m->type);
    free(m->data);
}

void box_spec_free(struct box_spec *spec)
{
    if (!spec)
        return;
    struct box_process *p = &spec->process;
    box_strv_free(p->args);
    box_strv_free(p->env);
    free(p->cwd);
    free(p->additional_gids);
    free(p->rlimits);
    free(spec->oci_version);
    free(spec->root_path);
    free(spec->hostname);
    free(spec->domainname);
    for (size_t i = 0; i < spec->n_mounts; i++)
        free_mount(&spec->mounts[i]);
    free(spec->mounts);
    for (int k = 0; k < BOX_HOOK_KINDS; k++) {
        for (size_t i = 0; i < spec->n_hooks[k]; i++) {
            free(spec->hooks[k][i].path);
            box_strv_free(spec->hooks[k][i].args);
            box_strv_free(spec->hooks[k][i].env);
        }
        free(spec->hooks[k]);
    }
    for (size_t i = 0; i < spec->n_namespaces; i++)
        free(spec->namespaces[i].path);
    free(spec->namespaces);
    free(spec->uid_mappings);
    free(spec->gid_mappings);
    for (size_t i = 0; i < spec->n_devices; i++)
        free(spec->devices[i].path);
    free(spec->devices);
    free(spec->cgroups_path);
    struct box_resources *r = &spec->resources;
    free(r->cpu_cpus);
    free(r->cpu_mems);
    free(r->dev_rules);
    for (size_t i = 0; i < r->n_unified; i++) {
        free(r->unified[i].key);
        free(r->unified[i].value);
    }
    free(r->unified);
    for (int t = 0; t < BOX_THROTTLES; t++)
        free(r->throttle[t]);
    free(r->weight_dev);
    free(r->hugetlb);
    box_strv_free(spec->masked_paths);
    box_strv_free(spec->readonly_paths);
    for (size_t i = 0; i < spec->n_sysctl; i++) {
        free(spec->sysctl[i].key);
        free(spec->sysctl[i].value);
    }
    free(spec->sysctl);
    free(spec->mount_label);
    box_seccomp_free(spec->seccomp);
    if (spec->json)
        json_decref(spec->json);
    memset(spec, 0, sizeof(*spec));
}
