/* A config.json through CDI: which devices it asks for (command line,
 * `cdi.k8s.io/...` annotations, NVIDIA_VISIBLE_DEVICES), resolved against the
 * spec directories, edits applied. A config that asks for nothing is left
 * alone without reading any spec directory: the common start stays cheap. */
#include "lib/cdi/cdi.h"

#include "lib/runtime/spec_json.h"

#include <stdlib.h>
#include <string.h>

#define ANNOTATION_PREFIX "cdi.k8s.io/"
#define NVIDIA_ENV        "NVIDIA_VISIBLE_DEVICES="
#define NVIDIA_KIND       "nvidia.com/gpu"

struct requests {
    char *names[BOX_CDI_MAX_REQUESTS];
    size_t n;
};

static void requests_free(struct requests *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->names[i]);
    r->n = 0;
}

/* Adds one qualified name (checked), once; `from` names where it came from. */
static int add_request(struct requests *r, const char *name, size_t len, const char *from,
                       struct box_err *err)
{
    char *s = strndup(name, len);
    if (!s)
        return -ENOMEM;
    char kind[2 * BOX_CDI_MAX_NAME + 2], dev[BOX_CDI_MAX_NAME + 1];
    if (box_cdi_parse_qualified(s, kind, dev, err) < 0) {
        free(s);
        return box_err_prefix(err, "%s", from);
    }
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->names[i], s) == 0) {
            free(s);
            return 0;
        }
    }
    if (r->n == BOX_CDI_MAX_REQUESTS) {
        free(s);
        return box_err_set(err, E2BIG, "%s: more than %d CDI devices requested", from,
                           BOX_CDI_MAX_REQUESTS);
    }
    r->names[r->n++] = s;
    return 0;
}

/* "a,b,c" (spaces around items allowed) -> one request each, with prefix
 * ("nvidia.com/gpu=") before each item when given. */
static int add_list(struct requests *r, const char *list, const char *prefix, const char *from,
                    struct box_err *err)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    for (const char *s = list; *s;) {
        while (*s == ' ' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && t[-1] == ' ')
            t--;
        if (t > s) {
            size_t len = (size_t)(t - s);
            char buf[2 * BOX_CDI_MAX_NAME + BOX_CDI_MAX_NAME + 8];
            if (plen + len >= sizeof(buf))
                return box_err_set(err, EINVAL, "%s: a device name is too long", from);
            memcpy(buf, prefix ? prefix : "", plen);
            memcpy(buf + plen, s, len);
            if (add_request(r, buf, plen + len, from, err) < 0)
                return -err->code;
        }
        s = e;
    }
    return 0;
}

static int from_annotations(json_t *cfg, struct requests *r, struct box_err *err)
{
    json_t *ann = json_object_get(cfg, "annotations");
    if (!json_is_object(ann))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach(ann, k, v)
    {
        if (strncmp(k, ANNOTATION_PREFIX, strlen(ANNOTATION_PREFIX)) != 0)
            continue;
        char from[320];
        snprintf(from, sizeof(from), "config.annotations.%.256s", k);
        if (!json_is_string(v))
            return box_err_set(err, EINVAL, "%s: must be a string", from);
        if (add_list(r, json_string_value(v), NULL, from, err) < 0)
            return -err->code;
    }
    return 0;
}

/* The value of NVIDIA_VISIBLE_DEVICES in process.env (the last one wins, as
 * in execve's environment), or NULL. */
static const char *nvidia_visible(json_t *cfg)
{
    json_t *env = json_object_get(json_object_get(cfg, "process"), "env");
    const char *found = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *s = json_string_value(e);
        if (s && strncmp(s, NVIDIA_ENV, strlen(NVIDIA_ENV)) == 0)
            found = s + strlen(NVIDIA_ENV);
    }
    if (!found || !*found || !strcmp(found, "void") || !strcmp(found, "none"))
        return NULL;
    return found;
}

static int inject(json_t *cfg, const struct box_cdi_inject_opts *o, struct requests *r,
                  struct box_err *err)
{
    for (size_t i = 0; i < o->n_devices; i++)
        if (add_request(r, o->devices[i], strlen(o->devices[i]), "--device", err) < 0)
            return -err->code;
    if (from_annotations(cfg, r, err) < 0)
        return -err->code;
    const char *nv = nvidia_visible(cfg);
    if (!r->n && !nv)
        return 0;
    struct box_cdi_registry reg;
    if (box_cdi_registry_load(&reg, o->dirs, o->dirs ? o->n_dirs : 0, err) < 0)
        return -err->code;
    int rc = 0;
    /* NVIDIA_VISIBLE_DEVICES is the legacy request: honoured only where a
     * spec for NVIDIA GPUs exists, so images that set it (CUDA's do) still
     * run on hosts without one. */
    if (nv && box_cdi_registry_has_kind(&reg, NVIDIA_KIND))
        rc = add_list(r, nv, NVIDIA_KIND "=", "process.env NVIDIA_VISIBLE_DEVICES", err);
    json_t **edits = NULL;
    char **where = NULL;
    size_t n = 0;
    if (rc >= 0 && r->n)
        rc = box_cdi_registry_resolve(&reg, r->names, r->n, &edits, &where, &n, err);
    struct box_cdi_apply_opts ao = {.refuse_net_devices = o->refuse_net_devices};
    if (rc >= 0 && r->n)
        rc = box_cdi_edits_apply(cfg, edits, where, n, &ao, err);
    for (size_t i = 0; i < n; i++)
        free(where[i]);
    free(where);
    free(edits);
    box_cdi_registry_free(&reg);
    if (rc < 0)
        return rc;
    return r->n ? 1 : 0;
}

int box_cdi_inject_json(json_t *config, const struct box_cdi_inject_opts *o, struct box_err *err)
{
    struct requests r = {0};
    int rc = inject(config, o, &r, err);
    requests_free(&r);
    return rc;
}

bool box_cdi_inject_wanted(const char *text, size_t len, const struct box_cdi_inject_opts *o)
{
    /* Nothing can be requested without one of these. */
    return o->n_devices || memmem(text, len, ANNOTATION_PREFIX, strlen(ANNOTATION_PREFIX)) ||
           memmem(text, len, NVIDIA_ENV, strlen(NVIDIA_ENV));
}

int box_cdi_inject_text(const char *text, size_t len, const struct box_cdi_inject_opts *o,
                        char **out, size_t *out_len, struct box_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (!box_cdi_inject_wanted(text, len, o))
        return 0;
    json_error_t jerr;
    json_t *cfg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!cfg)
        return box_err_set(err, EINVAL, "config.json: line %d column %d: %s", jerr.line,
                           jerr.column, jerr.text);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return box_err_set(err, EINVAL, "config.json: the document must be an object");
    }
    int rc = box_cdi_inject_json(cfg, o, err);
    if (rc > 0) {
        *out = json_dumps(cfg, JSON_INDENT(2));
        if (!*out)
            rc = box_err_set(err, ENOMEM, "CDI: out of memory");
        else
            *out_len = strlen(*out);
    }
    json_decref(cfg);
    return rc;
}
