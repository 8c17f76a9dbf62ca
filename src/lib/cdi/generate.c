/* The spec that `box cdi generate` writes for a discovered NVIDIA host, and
 * the pure parsers of the proc files it reads (lib/cdi/generate.h). */
#include "lib/cdi/generate.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/parse.h"

#define KIND "nvidia.com/gpu"

/* ---- proc files ------------------------------------------------------------ */

bool box_gen_version_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= BOX_GEN_VERSION_MAX || v[0] == '.' || v[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)v[i]) && !(v[i] == '.' && v[i + 1] != '.'))
            return false;
    return true;
}

int box_gen_parse_version(const char *text, char *out, size_t size, struct box_err *err)
{
    const char *line = strstr(text, "NVRM version:");
    if (!line)
        return box_err_set(err, EINVAL, "no `NVRM version:` line");
    const char *end = strchr(line, '\n');
    if (!end)
        end = line + strlen(line);
    /* "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 ..."
     * or "... Open Kernel Module for x86_64  550.54.14  Release Build ...": the
     * first word made of digits and dots, with a dot. */
    for (const char *p = line + 13; p < end;) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        const char *w = p;
        while (p < end && !isspace((unsigned char)*p))
            p++;
        char word[BOX_GEN_VERSION_MAX];
        if (p - w > 0 && (size_t)(p - w) < sizeof(word)) {
            memcpy(word, w, (size_t)(p - w));
            word[p - w] = '\0';
            if (box_gen_version_ok(word) && strchr(word, '.') && strlen(word) < size) {
                snprintf(out, size, "%s", word);
                return 0;
            }
        }
    }
    return box_err_set(err, EINVAL, "no driver version on the `NVRM version:` line");
}

/* The value of "Key:   value" on its own line, trimmed; NULL if absent. */
static const char *field(const char *text, const char *key, char *buf, size_t size)
{
    size_t kl = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, kl) != 0 || l[kl] != ':')
            continue;
        const char *v = l + kl + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t n = strcspn(v, "\n");
        while (n > 0 && isspace((unsigned char)v[n - 1]))
            n--;
        if (n >= size)
            return NULL;
        memcpy(buf, v, n);
        buf[n] = '\0';
        return buf;
    }
    return NULL;
}

static bool uuid_ok(const char *u)
{
    if (strncmp(u, "GPU-", 4) != 0 || strlen(u) < 8)
        return false;
    for (const char *p = u + 4; *p; p++)
        if (!isxdigit((unsigned char)*p) && *p != '-')
            return false;
    return true;
}

int box_gen_parse_information(const char *text, const char *what, struct box_gen_gpu *g,
                              struct box_err *err)
{
    char buf[256];
    uint64_t minor;
    if (!field(text, "Device Minor", buf, sizeof(buf)))
        return box_err_set(err, EINVAL, "`%s`: no `Device Minor:` line", what);
    /* 254 and 255 are nvidia-modeset and nvidiactl. */
    if (box_parse_u64(buf, 253, &minor) < 0)
        return box_err_set(err, EINVAL, "`%s`: Device Minor `%s` is not a number in 0..253", what,
                           buf);
    g->minor = (unsigned)minor;
    if (!field(text, "GPU UUID", buf, sizeof(buf)) || strlen(buf) >= sizeof(g->uuid))
        return box_err_set(err, EINVAL, "`%s`: no `GPU UUID:` line", what);
    if (!uuid_ok(buf))
        return box_err_set(err, EINVAL, "`%s`: GPU UUID `%s` is not GPU-<hex digits and dashes>",
                           what, buf);
    snprintf(g->uuid, sizeof(g->uuid), "%s", buf);
    if (field(text, "Model", buf, sizeof(buf))) {
        for (char *p = buf; *p; p++)
            if (!isprint((unsigned char)*p))
                *p = '?';
        snprintf(g->model, sizeof(g->model), "%s", buf);
    }
    return 0;
}

/* ---- the minimum version ---------------------------------------------------- */

static int vnum(const char *v)
{
    unsigned a = 0, b = 0, c = 0;
    sscanf(v, "%u.%u.%u", &a, &b, &c);
    return (int)(a * 10000 + b * 100 + c);
}

static void need(const char **have, const char *v)
{
    if (vnum(v) > vnum(*have))
        *have = v;
}

static void edits_version(json_t *edits, const char **v)
{
    if (!json_is_object(edits))
        return;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(edits, "deviceNodes"), i, x)
    {
        if (json_object_get(x, "hostPath"))
            need(v, "0.5.0");
    }
    json_array_foreach(json_object_get(edits, "mounts"), i, x)
    {
        if (json_object_get(x, "type"))
            need(v, "0.4.0");
    }
    if (json_object_get(edits, "intelRdt") || json_object_get(edits, "additionalGids"))
        need(v, "0.7.0");
    if (json_object_get(edits, "netDevices"))
        need(v, "1.1.0");
}

/* CDI specs-go version.go: 0.4.0 mount type; 0.5.0 hostPath and device
 * names that start with a digit; 0.6.0 annotations and a dot in the class;
 * 0.7.0 intelRdt and additionalGids; 1.1.0 netDevices. */
const char *box_gen_min_version(json_t *spec)
{
    const char *v = "0.3.0";
    const char *kind = json_string_value(json_object_get(spec, "kind"));
    const char *slash = kind ? strchr(kind, '/') : NULL;
    if (slash && strchr(slash, '.'))
        need(&v, "0.6.0");
    if (json_object_get(spec, "annotations"))
        need(&v, "0.6.0");
    edits_version(json_object_get(spec, "containerEdits"), &v);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(spec, "devices"), i, d)
    {
        const char *name = json_string_value(json_object_get(d, "name"));
        if (name && isdigit((unsigned char)name[0]))
            need(&v, "0.5.0");
        if (json_object_get(d, "annotations"))
            need(&v, "0.6.0");
        edits_version(json_object_get(d, "containerEdits"), &v);
    }
    return v;
}

/* ---- the spec ------------------------------------------------------------------- */

static json_t *node(const char *path, const char *host)
{
    json_t *n = json_pack("{s:s}", "path", path);
    if (n && host && strcmp(host, path) != 0)
        json_object_set_new(n, "hostPath", json_string(host));
    return n;
}

static json_t *mount(const struct box_gen_file *f)
{
    return json_pack("{s:s,s:s,s:[s,s,s,s,s]}", "hostPath", f->host, "containerPath", f->path,
                     "options", "ro", "nosuid", "nodev", "rbind", "rprivate");
}

/* A createContainer hook running `box hook VERB ...`. */
static json_t *hook(const char *path, const char *verb)
{
    return json_pack("{s:s,s:s,s:[s,s,s]}", "hookName", "createContainer", "path", path, "args",
                     "box", "hook", verb);
}

static void add_link_args(json_t *h, const char *target, const char *link)
{
    json_t *args = json_object_get(h, "args");
    size_t n = strlen(target) + strlen(link) + 3;
    char *s = malloc(n);
    if (!s)
        return;
    snprintf(s, n, "%s::%s", target, link);
    json_array_append_new(args, json_string("--link"));
    json_array_append_new(args, json_string(s));
    free(s);
}

/* The nodes (and DRM by-path links) of some GPUs, as one device's edits. */
static json_t *gpu_edits(const struct box_gen_gpu *const *gpus, size_t n, const char *dev_root,
                         const struct box_gen_opts *o)
{
    json_t *nodes = json_array();
    json_t *links = hook(o->hook_path, "create-symlinks");
    bool any_link = false;
    for (size_t i = 0; i < n; i++) {
        char path[64], host[PATH_MAX + 64];
        snprintf(path, sizeof(path), "/dev/nvidia%u", gpus[i]->minor);
        snprintf(host, sizeof(host), "%s%s", dev_root, gpus[i]->node);
        json_array_append_new(nodes, node(path, host));
        const char *drm[] = {gpus[i]->card, gpus[i]->render};
        const char *lnk[] = {gpus[i]->card_link, gpus[i]->render_link};
        for (size_t k = 0; k < 2; k++) {
            if (!*drm[k])
                continue;
            snprintf(host, sizeof(host), "%s%s", dev_root, drm[k]);
            json_array_append_new(nodes, node(drm[k], host));
            add_link_args(links, drm[k], lnk[k]);
            any_link = true;
        }
    }
    json_t *edits = json_pack("{s:o}", "deviceNodes", nodes);
    if (any_link)
        json_object_set_new(edits, "hooks", json_pack("[o]", links));
    else
        json_decref(links);
    return edits;
}

static json_t *device(const char *name, json_t *edits)
{
    return json_pack("{s:s,s:o}", "name", name, "containerEdits", edits);
}

static json_t *devices(const struct box_gen_host *h, const struct box_gen_opts *o,
                       const char *dev_root)
{
    json_t *devs = json_array();
    const struct box_gen_gpu *all[BOX_GEN_MAX_GPUS];
    for (size_t i = 0; i < h->n_gpus; i++) {
        const struct box_gen_gpu *g = &h->gpus[i];
        all[i] = g;
        char index[16];
        snprintf(index, sizeof(index), "%zu", i);
        if (o->by_index)
            json_array_append_new(devs, device(index, gpu_edits(&all[i], 1, dev_root, o)));
        if (o->by_uuid)
            json_array_append_new(devs, device(g->uuid, gpu_edits(&all[i], 1, dev_root, o)));
    }
    json_array_append_new(devs, device("all", gpu_edits(all, h->n_gpus, dev_root, o)));
    return devs;
}

/* Spec-level edits: control nodes, mounts, the soname links and the
 * linker cache. */
static json_t *common_edits(const struct box_gen_host *h, const struct box_gen_opts *o)
{
    json_t *nodes = json_array(), *mounts = json_array(), *hooks = json_array();
    for (size_t i = 0; i < h->n_nodes; i++)
        json_array_append_new(nodes, node(h->nodes[i].path, h->nodes[i].host));
    for (size_t i = 0; i < h->n_mounts; i++)
        json_array_append_new(mounts, mount(&h->mounts[i]));
    if (h->n_links) {
        json_t *links = hook(o->hook_path, "create-symlinks");
        for (size_t i = 0; i < h->n_links; i++)
            add_link_args(links, h->links[i].target, h->links[i].link);
        json_array_append_new(hooks, links);
    }
    if (h->n_lib_dirs) {
        json_t *ld = hook(o->hook_path, "update-ldcache");
        json_t *args = json_object_get(ld, "args");
        for (size_t i = 0; i < h->n_lib_dirs; i++) {
            json_array_append_new(args, json_string("--folder"));
            json_array_append_new(args, json_string(h->lib_dirs[i]));
        }
        json_array_append_new(hooks, ld);
    }
    return json_pack("{s:o,s:o,s:o}", "deviceNodes", nodes, "mounts", mounts, "hooks", hooks);
}

int box_gen_spec(const struct box_gen_host *h, const struct box_gen_opts *o, json_t **out,
                 struct box_err *err)
{
    if (!o->hook_path || o->hook_path[0] != '/')
        return box_err_set(err, EINVAL, "--hook-path: `%s` is not an absolute path",
                           o->hook_path ? o->hook_path : "");
    if (!o->by_index && !o->by_uuid)
        return box_err_set(err, EINVAL, "--device-name-strategy: none given");
    /* Device nodes name their host path only when a dev root moves it. */
    const char *root = h->dev_root;
    json_t *spec = json_pack("{s:s,s:s,s:o,s:o}", "cdiVersion", "0.3.0", "kind", KIND, "devices",
                             devices(h, o, root), "containerEdits", common_edits(h, o));
    if (!spec)
        return box_err_set(err, ENOMEM, "out of memory building the spec");
    json_object_set_new(spec, "cdiVersion", json_string(box_gen_min_version(spec)));
    *out = spec;
    return 0;
}
