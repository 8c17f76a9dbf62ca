/* containerEdits applied to a config.json, in the order of the CDI
 * reference implementation (pkg/cdi/container-edits.go): the edits of all
 * requested devices are merged, then applied kind by kind. The work is done
 * on a copy, so a failure leaves the caller's config as it was. */
#include "lib/cdi/cdi.h"

#include "lib/runtime/spec_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* parent[key] as an object or array, created when absent. */
static json_t *child(json_t *parent, const char *key, bool array, const char *path,
                     struct box_err *err)
{
    json_t *v = json_object_get(parent, key);
    if (!v) {
        v = array ? json_array() : json_object();
        if (!v || json_object_set_new(parent, key, v) < 0) {
            box_err_set(err, ENOMEM, "CDI: out of memory");
            return NULL;
        }
        return v;
    }
    if (array ? !json_is_array(v) : !json_is_object(v)) {
        box_err_set(err, EINVAL, "config %s.%s: must be an %s to take CDI edits", path, key,
                    array ? "array" : "object");
        return NULL;
    }
    return v;
}

#define NOMEM(err) box_err_set(err, ENOMEM, "CDI: out of memory")

static int set_new(json_t *obj, const char *key, json_t *v, struct box_err *err)
{
    if (!v || json_object_set_new(obj, key, v) < 0)
        return NOMEM(err);
    return 0;
}

static int append_new(json_t *arr, json_t *v, struct box_err *err)
{
    if (!v || json_array_append_new(arr, v) < 0)
        return NOMEM(err);
    return 0;
}

/* ---- env ------------------------------------------------------------------------------------- */

static int apply_env(json_t *cfg, json_t *list, struct box_err *err)
{
    json_t *proc = child(cfg, "process", false, "config", err);
    json_t *env = proc ? child(proc, "env", true, "config.process", err) : NULL;
    if (!env)
        return -err->code;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *s = json_string_value(e);
        size_t klen = (size_t)(strchr(s, '=') - s);
        bool replaced = false;
        size_t k;
        json_t *old;
        json_array_foreach(env, k, old)
        {
            const char *o = json_string_value(old);
            if (o && strncmp(o, s, klen) == 0 && o[klen] == '=') {
                if (json_array_set(env, k, e) < 0)
                    return NOMEM(err);
                replaced = true;
                break;
            }
        }
        if (!replaced && json_array_append(env, e) < 0)
            return NOMEM(err);
    }
    return 0;
}

/* ---- device nodes ---------------------------------------------------------------------------- */

struct node {
    const char *path, *host, *perms;
    char type;
    json_int_t major, minor, mode;
    bool has_mode, has_uid, has_gid;
    json_int_t uid, gid;
};

static json_int_t int_or(json_t *o, const char *key, json_int_t dflt, bool *has)
{
    json_t *v = json_object_get(o, key);
    if (has)
        *has = v != NULL;
    return v ? json_integer_value(v) : dflt;
}

/* CDI fills what the spec leaves out from the host's node (fillMissingInfo). */
static int fill_from_host(struct node *d, const char *where, struct box_err *err)
{
    if (d->type && (d->major != 0 || d->type == 'p'))
        return 0;
    struct stat st;
    if (stat(d->host, &st) < 0)
        return box_err_sys(err, errno, "%s: host device `%s`", where, d->host);
    char ht = S_ISCHR(st.st_mode)    ? 'c'
              : S_ISBLK(st.st_mode)  ? 'b'
              : S_ISFIFO(st.st_mode) ? 'p'
                                     : 0;
    if (!ht)
        return box_err_set(err, EINVAL, "%s: host path `%s` is not a device node", where, d->host);
    if (!d->type)
        d->type = ht;
    else if ((d->type == 'u' ? 'c' : d->type) != ht)
        return box_err_set(err, EINVAL, "%s: type `%c` but the host's `%s` is `%c`", where, d->type,
                           d->host, ht);
    if (!d->has_mode) {
        d->mode = st.st_mode & 0777;
        d->has_mode = true;
    }
    if (d->type != 'p' && d->major == 0) {
        d->major = major(st.st_rdev);
        d->minor = minor(st.st_rdev);
    }
    return 0;
}

static int remove_by(json_t *arr, const char *key, const char *value)
{
    for (size_t k = json_array_size(arr); k-- > 0;) {
        const char *p = json_string_value(json_object_get(json_array_get(arr, k), key));
        if (p && strcmp(p, value) == 0 && json_array_remove(arr, k) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int add_node(json_t *cfg, const struct node *d, struct box_err *err)
{
    json_t *linux_ = child(cfg, "linux", false, "config", err);
    json_t *devs = linux_ ? child(linux_, "devices", true, "config.linux", err) : NULL;
    if (!devs)
        return -err->code;
    if (remove_by(devs, "path", d->path) < 0)
        return NOMEM(err);
    char type[2] = {d->type, 0};
    json_t *o = json_pack("{s:s, s:s}", "path", d->path, "type", type);
    if (!o)
        return NOMEM(err);
    if (d->type != 'p' && (json_object_set_new(o, "major", json_integer(d->major)) < 0 ||
                           json_object_set_new(o, "minor", json_integer(d->minor)) < 0)) {
        json_decref(o);
        return NOMEM(err);
    }
    if ((d->has_mode && json_object_set_new(o, "fileMode", json_integer(d->mode)) < 0) ||
        (d->has_uid && json_object_set_new(o, "uid", json_integer(d->uid)) < 0) ||
        (d->has_gid && json_object_set_new(o, "gid", json_integer(d->gid)) < 0)) {
        json_decref(o);
        return NOMEM(err);
    }
    TRY(append_new(devs, o, err));
    if (d->type != 'b' && d->type != 'c')
        return 0;
    json_t *res = child(linux_, "resources", false, "config.linux", err);
    json_t *rules = res ? child(res, "devices", true, "config.linux.resources", err) : NULL;
    if (!rules)
        return -err->code;
    return append_new(rules,
                      json_pack("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type", type, "major",
                                d->major, "minor", d->minor, "access",
                                d->perms && *d->perms ? d->perms : "rwm"),
                      err);
}

static int apply_node(json_t *cfg, json_t *n, const char *where, struct box_err *err)
{
    struct node d = {0};
    d.path = json_string_value(json_object_get(n, "path"));
    d.host = json_string_value(json_object_get(n, "hostPath"));
    if (!d.host || !*d.host)
        d.host = d.path;
    const char *t = json_string_value(json_object_get(n, "type"));
    d.type = t ? t[0] : 0;
    d.perms = json_string_value(json_object_get(n, "permissions"));
    d.major = int_or(n, "major", 0, NULL);
    d.minor = int_or(n, "minor", 0, NULL);
    d.mode = int_or(n, "fileMode", 0, &d.has_mode);
    d.uid = int_or(n, "uid", 0, &d.has_uid);
    d.gid = int_or(n, "gid", 0, &d.has_gid);
    TRY(fill_from_host(&d, where, err));
    /* The container's user owns the node unless the spec says otherwise. */
    json_t *user = json_object_get(json_object_get(cfg, "process"), "user");
    json_int_t uid = json_integer_value(json_object_get(user, "uid"));
    json_int_t gid = json_integer_value(json_object_get(user, "gid"));
    if (!d.has_uid && uid > 0) {
        d.uid = uid;
        d.has_uid = true;
    }
    if (!d.has_gid && gid > 0) {
        d.gid = gid;
        d.has_gid = true;
    }
    return add_node(cfg, &d, err);
}

/* ---- mounts ---------------------------------------------------------------------------------- */

/* Components of a path after lexical cleaning, as Go's
 * len(strings.Split(filepath.Clean(p), "/")) counts them. */
static size_t depth(const char *p)
{
    size_t n = 0;
    bool abs = p[0] == '/';
    for (const char *s = p; *s;) {
        while (*s == '/')
            s++;
        const char *e = s;
        while (*e && *e != '/')
            e++;
        size_t len = (size_t)(e - s);
        if (len == 2 && s[0] == '.' && s[1] == '.')
            n = n ? n - 1 : 0;
        else if (len && !(len == 1 && s[0] == '.'))
            n++;
        s = e;
    }
    return (n ? n : 1) + (abs ? 1 : 0);
}

struct ranked {
    json_t *m;
    size_t depth, index;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->depth != y->depth)
        return x->depth < y->depth ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* A stable sort by depth, so a mount never hides one below it. */
static int sort_mounts(json_t *mounts, struct box_err *err)
{
    size_t n = json_array_size(mounts);
    struct ranked *r = calloc(n + 1, sizeof(*r));
    if (!r)
        return NOMEM(err);
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(mounts, i);
        const char *d = json_string_value(json_object_get(m, "destination"));
        r[i] = (struct ranked){json_incref(m), depth(d ? d : ""), i};
    }
    qsort(r, n, sizeof(*r), cmp_ranked);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && json_array_set(mounts, i, r[i].m) < 0)
            rc = NOMEM(err);
        json_decref(r[i].m);
    }
    free(r);
    return rc;
}

static int apply_mount(json_t *mounts, json_t *m, struct box_err *err)
{
    const char *dest = json_string_value(json_object_get(m, "containerPath"));
    if (remove_by(mounts, "destination", dest) < 0)
        return NOMEM(err);
    json_t *o = json_pack("{s:s, s:s}", "destination", dest, "source",
                          json_string_value(json_object_get(m, "hostPath")));
    if (!o)
        return NOMEM(err);
    const char *type = json_string_value(json_object_get(m, "type"));
    json_t *opts = json_object_get(m, "options");
    if ((type && *type && json_object_set_new(o, "type", json_string(type)) < 0) ||
        (opts && json_object_set_new(o, "options", json_deep_copy(opts)) < 0)) {
        json_decref(o);
        return NOMEM(err);
    }
    return append_new(mounts, o, err);
}

/* ---- hooks, gids, intelRdt, netDevices ---------------------------------------------------- */

static int apply_hook(json_t *cfg, json_t *h, struct box_err *err)
{
    json_t *hooks = child(cfg, "hooks", false, "config", err);
    const char *name = json_string_value(json_object_get(h, "hookName"));
    json_t *list = hooks ? child(hooks, name, true, "config.hooks", err) : NULL;
    if (!list)
        return -err->code;
    json_t *o = json_pack("{s:s}", "path", json_string_value(json_object_get(h, "path")));
    if (!o)
        return NOMEM(err);
    static const char *const copied[] = {"args", "env", "timeout"};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(copied); i++) {
        json_t *v = json_object_get(h, copied[i]);
        if (v && json_object_set_new(o, copied[i], json_deep_copy(v)) < 0) {
            json_decref(o);
            return NOMEM(err);
        }
    }
    return append_new(list, o, err);
}

static int apply_gids(json_t *cfg, json_t *gids, struct box_err *err)
{
    json_t *proc = child(cfg, "process", false, "config", err);
    json_t *user = proc ? child(proc, "user", false, "config.process", err) : NULL;
    json_t *list = user ? child(user, "additionalGids", true, "config.process.user", err) : NULL;
    if (!list)
        return -err->code;
    size_t i, k;
    json_t *g, *old;
    json_array_foreach(gids, i, g)
    {
        bool present = json_integer_value(g) == 0;
        json_array_foreach(list, k, old) present = present || json_equal(old, g);
        if (!present && json_array_append(list, g) < 0)
            return NOMEM(err);
    }
    return 0;
}

static int apply_net(json_t *cfg, json_t *devs, struct box_err *err)
{
    json_t *linux_ = child(cfg, "linux", false, "config", err);
    json_t *map = linux_ ? child(linux_, "netDevices", false, "config.linux", err) : NULL;
    if (!map)
        return -err->code;
    size_t i;
    json_t *d;
    json_array_foreach(devs, i, d)
    {
        const char *host = json_string_value(json_object_get(d, "hostInterfaceName"));
        TRY(set_new(map, host, json_pack("{s:O}", "name", json_object_get(d, "name")), err));
    }
    return 0;
}

/* ---- the order --------------------------------------------------------------------------------- */

static int apply_lists(json_t *cfg, json_t *const *edits, char *const *where, size_t n,
                       const char *key, struct box_err *err)
{
    json_t *mounts = NULL;
    if (!strcmp(key, "mounts") && !(mounts = child(cfg, "mounts", true, "config", err)))
        return -err->code;
    for (size_t e = 0; e < n; e++) {
        json_t *list = json_object_get(edits[e], key);
        size_t i;
        json_t *item;
        json_array_foreach(list, i, item)
        {
            char at[1024];
            snprintf(at, sizeof(at), "%s.%s[%zu]", where ? where[e] : "containerEdits", key, i);
            int r = !strcmp(key, "deviceNodes") ? apply_node(cfg, item, at, err)
                    : mounts                    ? apply_mount(mounts, item, err)
                                                : apply_hook(cfg, item, err);
            if (r < 0)
                return r;
        }
    }
    return mounts ? sort_mounts(mounts, err) : 0;
}

static int apply_all(json_t *cfg, json_t *const *edits, char *const *where, size_t n,
                     const struct box_cdi_apply_opts *o, struct box_err *err)
{
    bool any_mounts = false;
    for (size_t e = 0; e < n; e++) {
        json_t *env = json_object_get(edits[e], "env");
        if (env)
            TRY(apply_env(cfg, env, err));
        any_mounts = any_mounts || json_array_size(json_object_get(edits[e], "mounts"));
    }
    TRY(apply_lists(cfg, edits, where, n, "deviceNodes", err));
    if (any_mounts)
        TRY(apply_lists(cfg, edits, where, n, "mounts", err));
    TRY(apply_lists(cfg, edits, where, n, "hooks", err));
    for (size_t e = 0; e < n; e++) {
        json_t *gids = json_object_get(edits[e], "additionalGids");
        if (json_array_size(gids))
            TRY(apply_gids(cfg, gids, err));
    }
    for (size_t e = 0; e < n; e++) {
        json_t *rdt = json_object_get(edits[e], "intelRdt");
        json_t *linux_ = rdt ? child(cfg, "linux", false, "config", err) : NULL;
        if (rdt && (!linux_ || set_new(linux_, "intelRdt", json_deep_copy(rdt), err) < 0))
            return -err->code;
    }
    for (size_t e = 0; e < n; e++) {
        json_t *net = json_object_get(edits[e], "netDevices");
        if (!json_array_size(net))
            continue;
        if (o && o->refuse_net_devices)
            return box_err_set(err, EOPNOTSUPP,
                               "%s.netDevices: moving network devices into a container is not "
                               "supported by box",
                               where ? where[e] : "containerEdits");
        TRY(apply_net(cfg, net, err));
    }
    return 0;
}

int box_cdi_edits_apply(json_t *config, json_t *const *edits, char *const *where, size_t n,
                        const struct box_cdi_apply_opts *o, struct box_err *err)
{
    if (!json_is_object(config))
        return box_err_set(err, EINVAL, "config: the document must be an object");
    json_t *work = json_deep_copy(config);
    if (!work)
        return NOMEM(err);
    int r = apply_all(work, edits, where, n, o, err);
    if (r >= 0 && (json_object_clear(config) < 0 || json_object_update(config, work) < 0))
        r = NOMEM(err);
    json_decref(work);
    return r < 0 ? r : 0;
}
