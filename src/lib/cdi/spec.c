/* CDI spec files: JSON, or YAML converted to the same tree, validated field
 * by field against the CDI specification (SPEC.md, specs-go/config.go):
 * unknown fields fail, types and ranges are checked, and every field that
 * appeared in a later version raises the version the spec must declare
 * (specs-go/version.go: the minimum-version rule). */
#include "lib/cdi/cdi.h"

#include "lib/runtime/spec_json.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/runtime/spec.h"

#define PATH_LEN 256

/* Validation state of one spec: where errors go and the version its
 * fields need, with the path of the first field that needs it. */
struct ctx {
    const char *file;
    struct box_err *err;
    unsigned need;
    char need_path[PATH_LEN];
};

#define FAIL(c, code, ...) fail(c, code, __VA_ARGS__)

static int __attribute__((format(printf, 3, 4))) fail(struct ctx *c, int code, const char *fmt, ...)
{
    char msg[BOX_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return box_err_set(c->err, code, "`%s`: %s", c->file, msg);
}

static void need(struct ctx *c, unsigned version, const char *path)
{
    if (version > c->need) {
        c->need = version;
        snprintf(c->need_path, sizeof(c->need_path), "%s", path);
    }
}

/* ---- versions and names ---------------------------------------------------------------------- */

static const char *const known_versions[] = {"0.3.0", "0.4.0", "0.5.0", "0.6.0",
                                             "0.7.0", "0.8.0", "1.0.0", "1.1.0"};

int box_cdi_version_parse(const char *s, unsigned *out)
{
    for (size_t i = 0; i < BOX_ARRAY_SIZE(known_versions); i++) {
        if (strcmp(s, known_versions[i]) == 0) {
            const char *v = known_versions[i];
            *out = BOX_CDI_VERSION((unsigned)(v[0] - '0'), (unsigned)(v[2] - '0'),
                                   (unsigned)(v[4] - '0'));
            return 0;
        }
    }
    return -EINVAL;
}

static void version_text(unsigned v, char *buf, size_t len)
{
    snprintf(buf, len, "%u.%u.%u", v / 10000, v / 100 % 100, v % 100);
}

static bool is_letter(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_alnum(char ch)
{
    return is_letter(ch) || (ch >= '0' && ch <= '9');
}

/* vendor or class: a letter first, alphanumeric last, [A-Za-z0-9_.-] between. */
static int check_label(const char *s, size_t n, const char *what, const char *full,
                       struct box_err *err)
{
    if (n == 0)
        return box_err_set(err, EINVAL, "`%s`: empty %s", full, what);
    if (n > BOX_CDI_MAX_NAME)
        return box_err_set(err, EINVAL, "`%.64s...`: %s longer than %d bytes", full, what,
                           BOX_CDI_MAX_NAME);
    if (!is_letter(s[0]))
        return box_err_set(err, EINVAL, "`%s`: %s must start with a letter", full, what);
    if (!is_alnum(s[n - 1]))
        return box_err_set(err, EINVAL, "`%s`: %s must end with a letter or digit", full, what);
    for (size_t i = 1; i + 1 < n; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return box_err_set(err, EINVAL, "`%s`: %s has an invalid character `%c`", full, what,
                               s[i]);
    return 0;
}

int box_cdi_check_kind(const char *kind, struct box_err *err)
{
    const char *slash = strchr(kind, '/');
    if (!slash)
        return box_err_set(err, EINVAL, "`%s`: a kind is vendor/class", kind);
    if (check_label(kind, (size_t)(slash - kind), "vendor", kind, err) < 0)
        return -err->code;
    return check_label(slash + 1, strlen(slash + 1), "class", kind, err);
}

int box_cdi_check_device_name(const char *name, struct box_err *err)
{
    size_t n = strlen(name);
    if (n == 0)
        return box_err_set(err, EINVAL, "empty device name");
    if (n > BOX_CDI_MAX_NAME)
        return box_err_set(err, EINVAL, "device name `%.64s...` longer than %d bytes", name,
                           BOX_CDI_MAX_NAME);
    if (!is_alnum(name[0]) || !is_alnum(name[n - 1]))
        return box_err_set(err, EINVAL,
                           "device name `%s` must start and end with a letter or digit", name);
    for (size_t i = 1; i + 1 < n; i++)
        if (!is_alnum(name[i]) && !strchr("_.:-", name[i]))
            return box_err_set(err, EINVAL, "device name `%s` has an invalid character `%c`", name,
                               name[i]);
    return 0;
}

int box_cdi_parse_qualified(const char *q, char kind[2 * BOX_CDI_MAX_NAME + 2],
                            char name[BOX_CDI_MAX_NAME + 1], struct box_err *err)
{
    const char *slash = strchr(q, '/');
    const char *eq = slash ? strchr(slash, '=') : NULL;
    if (!slash || !eq)
        return box_err_set(err, EINVAL, "`%.300s`: not a qualified device name (vendor/class=name)",
                           q);
    size_t klen = (size_t)(eq - q);
    if (klen > 2 * BOX_CDI_MAX_NAME + 1 || strlen(eq + 1) > BOX_CDI_MAX_NAME)
        return box_err_set(err, EINVAL, "`%.64s...`: device name too long", q);
    memcpy(kind, q, klen);
    kind[klen] = '\0';
    strcpy(name, eq + 1);
    if (box_cdi_check_kind(kind, err) < 0 || box_cdi_check_device_name(name, err) < 0)
        return box_err_prefix(err, "device `%.300s`", q);
    return 0;
}

/* ---- field helpers --------------------------------------------------------------------------- */

/* Fails on the first key of obj not in allowed (NULL-terminated). */
static int check_keys(struct ctx *c, json_t *obj, const char *path, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(k, *a) == 0;
        if (!ok)
            return FAIL(c, EINVAL, "%s: unknown field `%.100s`", path, k);
    }
    return 0;
}

static int want_object(struct ctx *c, json_t *v, const char *path)
{
    if (!json_is_object(v))
        return FAIL(c, EINVAL, "%s: must be an object", path);
    return 0;
}

/* A string field: NULL when absent (and not required); bounded, no NUL. */
static int get_string(struct ctx *c, json_t *obj, const char *key, const char *path, bool required,
                      size_t max, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v) {
        if (required)
            return FAIL(c, EINVAL, "%s.%s: required", path, key);
        return 0;
    }
    if (!json_is_string(v))
        return FAIL(c, EINVAL, "%s.%s: must be a string", path, key);
    size_t n = json_string_length(v);
    if (n > max)
        return FAIL(c, E2BIG, "%s.%s: longer than %zu bytes", path, key, max);
    if (memchr(json_string_value(v), '\0', n))
        return FAIL(c, EINVAL, "%s.%s: contains a NUL byte", path, key);
    if (required && n == 0)
        return FAIL(c, EINVAL, "%s.%s: must not be empty", path, key);
    *out = json_string_value(v);
    return 0;
}

/* An array of strings; returns its size (0 when absent). */
static int get_strings(struct ctx *c, json_t *obj, const char *key, const char *path, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_array(v))
        return FAIL(c, EINVAL, "%s.%s: must be an array of strings", path, key);
    if (json_array_size(v) > BOX_CDI_MAX_ITEMS)
        return FAIL(c, E2BIG, "%s.%s: more than %d entries", path, key, BOX_CDI_MAX_ITEMS);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s))
            return FAIL(c, EINVAL, "%s.%s[%zu]: must be a string", path, key, i);
        if (json_string_length(s) > BOX_CDI_MAX_STRING)
            return FAIL(c, E2BIG, "%s.%s[%zu]: longer than %d bytes", path, key, i,
                        BOX_CDI_MAX_STRING);
        if (memchr(json_string_value(s), '\0', json_string_length(s)))
            return FAIL(c, EINVAL, "%s.%s[%zu]: contains a NUL byte", path, key, i);
    }
    *out = v;
    return (int)json_array_size(v);
}

/* An integer in [min, max]; 0 when absent, 1 when read. */
static int get_int(struct ctx *c, json_t *obj, const char *key, const char *path, json_int_t min,
                   json_int_t max, json_int_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return FAIL(c, EINVAL, "%s.%s: must be an integer", path, key);
    json_int_t n = json_integer_value(v);
    if (n < min || n > max)
        return FAIL(c, ERANGE, "%s.%s: %lld is out of range [%lld, %lld]", path, key, (long long)n,
                    (long long)min, (long long)max);
    *out = n;
    return 1;
}

static int get_bool(struct ctx *c, json_t *obj, const char *key, const char *path, bool *out)
{
    json_t *v = json_object_get(obj, key);
    *out = false;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return FAIL(c, EINVAL, "%s.%s: must be a boolean", path, key);
    *out = json_is_true(v);
    return 1;
}

/* An array of objects of at most BOX_CDI_MAX_ITEMS; NULL when absent. */
static int get_objects(struct ctx *c, json_t *obj, const char *key, const char *path, size_t max,
                       json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_array(v))
        return FAIL(c, EINVAL, "%s.%s: must be an array", path, key);
    if (json_array_size(v) > max)
        return FAIL(c, E2BIG, "%s.%s: more than %zu entries", path, key, max);
    size_t i;
    json_t *o;
    json_array_foreach(v, i, o)
    {
        if (!json_is_object(o))
            return FAIL(c, EINVAL, "%s.%s[%zu]: must be an object", path, key, i);
    }
    *out = v;
    return 0;
}

/* Paths inside the container: absolute, no `..` component. The runtime
 * resolves them inside the root anyway; a spec that tries to climb out is
 * refused where the mistake is, not silently clamped. */
static int check_container_path(struct ctx *c, const char *p, const char *path, const char *key)
{
    if (p[0] != '/')
        return FAIL(c, EINVAL, "%s.%s: `%s` must be an absolute path", path, key, p);
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
            return FAIL(c, EINVAL, "%s.%s: `%s` must not contain `..`", path, key, p);
    return 0;
}

static int check_env(struct ctx *c, json_t *arr, const char *path, const char *key)
{
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        const char *e = json_string_value(s);
        const char *eq = strchr(e, '=');
        if (!eq || eq == e)
            return FAIL(c, EINVAL, "%s.%s[%zu]: `%.100s` is not NAME=VALUE", path, key, i, e);
    }
    return 0;
}

/* ---- containerEdits -------------------------------------------------------------------------- */

static int check_node(struct ctx *c, json_t *n, const char *path)
{
    static const char *const keys[] = {"path",     "hostPath",    "type", "major", "minor",
                                       "fileMode", "permissions", "uid",  "gid",   NULL};
    TRY(check_keys(c, n, path, keys));
    const char *p, *host, *type, *perm;
    TRY(get_string(c, n, "path", path, true, BOX_CDI_MAX_STRING, &p));
    TRY(check_container_path(c, p, path, "path"));
    TRY(get_string(c, n, "hostPath", path, false, BOX_CDI_MAX_STRING, &host));
    if (host && *host) {
        char where[PATH_LEN];
        snprintf(where, sizeof(where), "%s.hostPath", path);
        need(c, BOX_CDI_VERSION(0, 5, 0), where);
        if (host[0] != '/')
            return FAIL(c, EINVAL, "%s.hostPath: `%s` must be an absolute path", path, host);
    }
    TRY(get_string(c, n, "type", path, false, 1, &type));
    if (type && *type && !strchr("bcup", type[0]))
        return FAIL(c, EINVAL, "%s.type: `%s` is not b, c, u or p", path, type);
    json_int_t v;
    /* Linux device numbers: 12-bit major, 20-bit minor (MAJORBITS/MINORBITS). */
    TRY(get_int(c, n, "major", path, 0, 4095, &v));
    TRY(get_int(c, n, "minor", path, 0, (1 << 20) - 1, &v));
    TRY(get_int(c, n, "fileMode", path, 0, 07777, &v));
    TRY(get_int(c, n, "uid", path, 0, 4294967294LL, &v));
    TRY(get_int(c, n, "gid", path, 0, 4294967294LL, &v));
    TRY(get_string(c, n, "permissions", path, false, 3, &perm));
    for (const char *q = perm; q && *q; q++)
        if (!strchr("rwm", *q) || strchr(q + 1, *q))
            return FAIL(c, EINVAL, "%s.permissions: `%s` is not a combination of r, w and m", path,
                        perm);
    return 0;
}

static int check_mount(struct ctx *c, json_t *m, const char *path)
{
    static const char *const keys[] = {"hostPath", "containerPath", "options", "type", NULL};
    TRY(check_keys(c, m, path, keys));
    const char *host, *dest, *type;
    TRY(get_string(c, m, "hostPath", path, true, BOX_CDI_MAX_STRING, &host));
    TRY(get_string(c, m, "containerPath", path, true, BOX_CDI_MAX_STRING, &dest));
    TRY(check_container_path(c, dest, path, "containerPath"));
    TRY(get_string(c, m, "type", path, false, 255, &type));
    if (type && *type) {
        char where[PATH_LEN];
        snprintf(where, sizeof(where), "%s.type", path);
        need(c, BOX_CDI_VERSION(0, 4, 0), where);
    }
    json_t *opts;
    TRY(get_strings(c, m, "options", path, &opts));
    /* The runtime's own option parser, so that an option box cannot apply
     * is reported here, naming the spec, and not at container start. */
    struct box_mount bm = {0};
    int r = box_mount_parse_options(&bm, opts, path, c->err);
    free(bm.data);
    if (r < 0)
        return box_err_prefix(c->err, "`%s`", c->file);
    return 0;
}

static int check_hook(struct ctx *c, json_t *h, const char *path)
{
    static const char *const keys[] = {"hookName", "path", "args", "env", "timeout", NULL};
    TRY(check_keys(c, h, path, keys));
    const char *name, *p;
    TRY(get_string(c, h, "hookName", path, true, 64, &name));
    bool known = false;
    for (int k = 0; k < BOX_HOOK_KINDS && !known; k++)
        known = strcmp(name, box_hook_kind_names[k]) == 0;
    if (!known)
        return FAIL(c, EINVAL, "%s.hookName: `%s` is not a hook of the runtime-spec", path, name);
    TRY(get_string(c, h, "path", path, true, BOX_CDI_MAX_STRING, &p));
    if (p[0] != '/')
        return FAIL(c, EINVAL, "%s.path: `%s` must be an absolute path", path, p);
    json_t *arr = NULL;
    TRY(get_strings(c, h, "args", path, &arr));
    if (TRY_INT(get_strings(c, h, "env", path, &arr)) > 0)
        TRY(check_env(c, arr, path, "env"));
    json_int_t t;
    TRY(get_int(c, h, "timeout", path, 1, 0x7fffffff, &t));
    return 0;
}

static int check_intel_rdt(struct ctx *c, json_t *r, const char *path)
{
    static const char *const keys[] = {
        "closID",    "l3CacheSchema", "memBwSchema",      "enableCMT",
        "enableMBM", "schemata",      "enableMonitoring", NULL};
    TRY(want_object(c, r, path));
    TRY(check_keys(c, r, path, keys));
    need(c, BOX_CDI_VERSION(0, 7, 0), path);
    const char *s;
    TRY(get_string(c, r, "closID", path, false, 255, &s));
    if (s && (strchr(s, '/') || strchr(s, '\n') || !strcmp(s, ".") || !strcmp(s, "..")))
        return FAIL(c, EINVAL, "%s.closID: `%s` is not a valid class of service", path, s);
    TRY(get_string(c, r, "l3CacheSchema", path, false, BOX_CDI_MAX_STRING, &s));
    TRY(get_string(c, r, "memBwSchema", path, false, BOX_CDI_MAX_STRING, &s));
    bool b;
    TRY(get_bool(c, r, "enableCMT", path, &b));
    TRY(get_bool(c, r, "enableMBM", path, &b));
    char where[PATH_LEN];
    json_t *arr = NULL;
    TRY(get_strings(c, r, "schemata", path, &arr));
    if (arr && json_array_size(arr)) {
        snprintf(where, sizeof(where), "%s.schemata", path);
        need(c, BOX_CDI_VERSION(1, 1, 0), where);
    }
    TRY(get_bool(c, r, "enableMonitoring", path, &b));
    if (b) {
        snprintf(where, sizeof(where), "%s.enableMonitoring", path);
        need(c, BOX_CDI_VERSION(1, 1, 0), where);
    }
    return 0;
}

static int check_gids(struct ctx *c, json_t *e, const char *path)
{
    json_t *g = json_object_get(e, "additionalGids");
    if (!g)
        return 0;
    if (!json_is_array(g) || json_array_size(g) > BOX_CDI_MAX_ITEMS)
        return FAIL(c, EINVAL, "%s.additionalGids: must be an array of at most %d gids", path,
                    BOX_CDI_MAX_ITEMS);
    size_t i;
    json_t *v;
    json_array_foreach(g, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 4294967294LL)
            return FAIL(c, EINVAL, "%s.additionalGids[%zu]: must be a gid in [0, 4294967294]", path,
                        i);
    }
    if (json_array_size(g)) {
        char where[PATH_LEN];
        snprintf(where, sizeof(where), "%s.additionalGids", path);
        need(c, BOX_CDI_VERSION(0, 7, 0), where);
    }
    return 0;
}

static int check_net_devices(struct ctx *c, json_t *e, const char *path)
{
    static const char *const keys[] = {"hostInterfaceName", "name", NULL};
    json_t *arr = NULL;
    TRY(get_objects(c, e, "netDevices", path, BOX_CDI_MAX_ITEMS, &arr));
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d)
    {
        char p[PATH_LEN];
        snprintf(p, sizeof(p), "%s.netDevices[%zu]", path, i);
        const char *host, *name;
        TRY(check_keys(c, d, p, keys));
        TRY(get_string(c, d, "hostInterfaceName", p, true, 15, &host));
        TRY(get_string(c, d, "name", p, true, 15, &name));
        if (strchr(host, '/') || strchr(name, '/'))
            return FAIL(c, EINVAL, "%s: interface names must not contain `/`", p);
        need(c, BOX_CDI_VERSION(1, 1, 0), p);
    }
    return 0;
}

/* Checks a list of objects with one checker, naming each "<path>.<key>[i]". */
static int check_list(struct ctx *c, json_t *e, const char *key, const char *path,
                      int (*check)(struct ctx *, json_t *, const char *))
{
    json_t *arr = NULL;
    TRY(get_objects(c, e, key, path, BOX_CDI_MAX_ITEMS, &arr));
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        char p[PATH_LEN];
        snprintf(p, sizeof(p), "%s.%s[%zu]", path, key, i);
        TRY(check(c, o, p));
    }
    return 0;
}

/* Returns whether the edits change anything (a device's must). */
static int check_edits(struct ctx *c, json_t *e, const char *path)
{
    static const char *const keys[] = {"env",      "deviceNodes",    "mounts",     "hooks",
                                       "intelRdt", "additionalGids", "netDevices", NULL};
    TRY(want_object(c, e, path));
    TRY(check_keys(c, e, path, keys));
    json_t *env = NULL;
    if (TRY_INT(get_strings(c, e, "env", path, &env)) > 0)
        TRY(check_env(c, env, path, "env"));
    TRY(check_list(c, e, "deviceNodes", path, check_node));
    TRY(check_list(c, e, "mounts", path, check_mount));
    TRY(check_list(c, e, "hooks", path, check_hook));
    json_t *rdt = json_object_get(e, "intelRdt");
    if (rdt) {
        char p[PATH_LEN];
        snprintf(p, sizeof(p), "%s.intelRdt", path);
        TRY(check_intel_rdt(c, rdt, p));
    }
    TRY(check_gids(c, e, path));
    TRY(check_net_devices(c, e, path));
    const char *k;
    json_t *v;
    json_object_foreach(e, k, v)
    {
        if (!json_is_array(v) || json_array_size(v))
            return 1;
    }
    return 0;
}

static int check_annotations(struct ctx *c, json_t *obj, const char *path)
{
    json_t *a = json_object_get(obj, "annotations");
    if (!a)
        return 0;
    char p[PATH_LEN];
    snprintf(p, sizeof(p), "%s%sannotations", path, *path ? "." : "");
    TRY(want_object(c, a, p));
    if (json_object_size(a) > BOX_CDI_MAX_ITEMS)
        return FAIL(c, E2BIG, "%s: more than %d entries", p, BOX_CDI_MAX_ITEMS);
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v)
    {
        if (!json_is_string(v) || json_string_length(v) > BOX_CDI_MAX_STRING ||
            strlen(k) > BOX_CDI_MAX_NAME)
            return FAIL(c, EINVAL, "%s.%.100s: must be a string (keys up to %d bytes)", p, k,
                        BOX_CDI_MAX_NAME);
    }
    if (json_object_size(a))
        need(c, BOX_CDI_VERSION(0, 6, 0), p);
    return 0;
}

/* ---- the spec -------------------------------------------------------------------------------- */

static int check_device(struct ctx *c, struct box_cdi_spec *spec, json_t *d, size_t i)
{
    static const char *const keys[] = {"name", "annotations", "containerEdits", NULL};
    char p[PATH_LEN];
    snprintf(p, sizeof(p), "devices[%zu]", i);
    TRY(want_object(c, d, p));
    TRY(check_keys(c, d, p, keys));
    const char *name;
    TRY(get_string(c, d, "name", p, true, BOX_CDI_MAX_NAME, &name));
    if (box_cdi_check_device_name(name, c->err) < 0)
        return box_err_prefix(c->err, "`%s`: %s.name", c->file, p);
    if (!is_letter(name[0])) {
        char w[PATH_LEN];
        snprintf(w, sizeof(w), "%s.name", p);
        need(c, BOX_CDI_VERSION(0, 5, 0), w);
    }
    for (size_t k = 0; k < spec->n_devices; k++)
        if (strcmp(spec->devices[k].name, name) == 0)
            return FAIL(c, EINVAL, "%s.name: `%s` is also devices[%zu]", p, name, k);
    TRY(check_annotations(c, d, p));
    json_t *e = json_object_get(d, "containerEdits");
    char ep[PATH_LEN];
    snprintf(ep, sizeof(ep), "%s.containerEdits", p);
    if (!e)
        return FAIL(c, EINVAL, "%s: required", ep);
    if (TRY_INT(check_edits(c, e, ep)) == 0)
        return FAIL(c, EINVAL, "%s: a device must edit something", ep);
    spec->devices[spec->n_devices++] = (struct box_cdi_device){
        .name = name,
        .edits = e,
        .index = (unsigned)i,
    };
    return 0;
}

static int check_spec(struct ctx *c, struct box_cdi_spec *spec)
{
    static const char *const keys[] = {"cdiVersion", "kind",           "annotations",
                                       "devices",    "containerEdits", NULL};
    json_t *doc = spec->doc;
    if (!json_is_object(doc))
        return FAIL(c, EINVAL, "the document must be an object");
    TRY(check_keys(c, doc, "spec", keys));
    TRY(get_string(c, doc, "cdiVersion", "spec", true, 32, &spec->version));
    if (box_cdi_version_parse(spec->version, &spec->version_num) < 0)
        return FAIL(c, EINVAL,
                    "cdiVersion: `%s` is not a supported CDI version (0.3.0 to 1.1.0: 0.3.0, "
                    "0.4.0, 0.5.0, 0.6.0, 0.7.0, 0.8.0, 1.0.0, 1.1.0)",
                    spec->version);
    TRY(get_string(c, doc, "kind", "spec", true, 2 * BOX_CDI_MAX_NAME + 1, &spec->kind));
    if (box_cdi_check_kind(spec->kind, c->err) < 0)
        return box_err_prefix(c->err, "`%s`: kind", c->file);
    if (strchr(strchr(spec->kind, '/'), '.'))
        need(c, BOX_CDI_VERSION(0, 6, 0), "kind");
    TRY(check_annotations(c, doc, ""));
    json_t *devs;
    TRY(get_objects(c, doc, "devices", "spec", BOX_CDI_MAX_DEVICES, &devs));
    if (!devs || json_array_size(devs) == 0)
        return FAIL(c, EINVAL, "devices: at least one device is required");
    spec->devices = calloc(json_array_size(devs), sizeof(*spec->devices));
    if (!spec->devices)
        return -ENOMEM;
    size_t i;
    json_t *d;
    json_array_foreach(devs, i, d) TRY(check_device(c, spec, d, i));
    spec->edits = json_object_get(doc, "containerEdits");
    if (spec->edits && check_edits(c, spec->edits, "containerEdits") < 0)
        return -c->err->code;
    spec->required = c->need;
    if (c->need > spec->version_num) {
        char want[16];
        version_text(c->need, want, sizeof(want));
        return FAIL(c, EINVAL, "%s needs cdiVersion %s or later; the spec declares %s",
                    c->need_path, want, spec->version);
    }
    return 0;
}

int box_cdi_spec_parse(const char *text, size_t len, enum box_cdi_format fmt, const char *path,
                       struct box_cdi_spec *spec, struct box_err *err)
{
    memset(spec, 0, sizeof(*spec));
    struct ctx c = {.file = path, .err = err, .need = BOX_CDI_VERSION_OLDEST};
    if (len > BOX_CDI_MAX_FILE_BYTES)
        return FAIL(&c, EFBIG, "%zu bytes, more than the limit of %u", len, BOX_CDI_MAX_FILE_BYTES);
    spec->path = strdup(path);
    if (!spec->path)
        return -ENOMEM;
    int r;
    if (fmt == BOX_CDI_FORMAT_YAML) {
        r = box_cdi_yaml_to_json(text, len, &spec->doc, err);
        if (r < 0)
            box_err_prefix(err, "`%s`", path);
    } else {
        json_error_t jerr;
        spec->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        r = spec->doc
                ? 0
                : FAIL(&c, EINVAL, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    }
    if (r >= 0)
        r = check_spec(&c, spec);
    if (r < 0) {
        box_cdi_spec_free(spec);
        return r;
    }
    return 0;
}

int box_cdi_format_of(const char *name, enum box_cdi_format *fmt)
{
    size_t n = strlen(name);
    if (n > 5 && strcmp(name + n - 5, ".json") == 0)
        *fmt = BOX_CDI_FORMAT_JSON;
    else if (n > 5 && strcmp(name + n - 5, ".yaml") == 0)
        *fmt = BOX_CDI_FORMAT_YAML;
    else
        return -EINVAL;
    return 0;
}

int box_cdi_spec_load(int dirfd, const char *name, const char *path, struct box_cdi_spec *spec,
                      struct box_err *err)
{
    memset(spec, 0, sizeof(*spec));
    enum box_cdi_format fmt;
    if (box_cdi_format_of(name, &fmt) < 0)
        return box_err_set(err, EINVAL, "`%s`: a CDI spec file is named *.json or *.yaml", path);
    /* O_NONBLOCK: a FIFO planted under a spec name must not hang the reader. */
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return box_err_sys(err, errno, "`%s`", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return box_err_sys(err, errno, "`%s`", path);
    if (!S_ISREG(st.st_mode))
        return box_err_set(err, EINVAL, "`%s`: not a regular file", path);
    if ((size_t)st.st_size > BOX_CDI_MAX_FILE_BYTES)
        return box_err_set(err, EFBIG, "`%s`: %lld bytes, more than the limit of %u", path,
                           (long long)st.st_size, BOX_CDI_MAX_FILE_BYTES);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r = box_read_fd(fd, BOX_CDI_MAX_FILE_BYTES, &text, &len);
    if (r == -EFBIG)
        return box_err_set(err, EFBIG, "`%s`: more than the limit of %u bytes", path,
                           BOX_CDI_MAX_FILE_BYTES);
    if (r < 0)
        return box_err_sys(err, -r, "`%s`: read", path);
    return box_cdi_spec_parse(text, len, fmt, path, spec, err);
}

void box_cdi_spec_free(struct box_cdi_spec *spec)
{
    free(spec->path);
    free(spec->devices);
    if (spec->doc)
        json_decref(spec->doc);
    memset(spec, 0, sizeof(*spec));
}
