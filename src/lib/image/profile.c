#include "lib/image/profile.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "lib/image/decomp.h"
#include "lib/base/fs.h"
#include "lib/image/util.h"

#define PROFILE_MAX_BYTES (1u << 20)
#define PROFILE_MAX_ITEMS 4096u
#define MULTIARCH_VAR     "${multiarch}"

/* The NVIDIA container toolkit, as the contract requires it. */
static const char nvidia_profile[] =
    "{\"components\": [\"nvidia_container_toolkit\", \"libnvidia_container\"],"
    " \"manifest_paths\": [\"usr/bin/nvidia-cdi-hook\", \"usr/bin/nvidia-container-runtime\","
    "   \"usr/bin/nvidia-container-runtime-hook\", \"usr/bin/nvidia-container-cli\","
    "   \"usr/bin/nvidia-ctk\", \"etc/nvidia-container-runtime/config.toml\"],"
    " \"regular_files\": [\"usr/bin/nvidia-cdi-hook\", \"usr/bin/nvidia-container-runtime\","
    "   \"usr/bin/nvidia-container-runtime-hook\", \"usr/bin/nvidia-container-cli\","
    "   \"usr/bin/nvidia-ctk\"],"
    " \"directories\": [\"etc/nvidia-container-runtime\"],"
    " \"globs\": [\"usr/lib/${multiarch}/libnvidia-container*.so*\"]}";

static void json_decref_p(json_t **j)
{
    json_decref(*j);
}

static bool is_glob_ok(const char *g)
{
    /* Canonical once ${multiarch} is replaced by a plain name. */
    char tmp[BOX_PATH_MAX + 1], out[BOX_PATH_MAX + 1];
    const char *v = strstr(g, MULTIARCH_VAR);
    if (strlen(g) > BOX_PATH_MAX)
        return false;
    if (v)
        snprintf(tmp, sizeof(tmp), "%.*sx%s", (int)(v - g), g, v + strlen(MULTIARCH_VAR));
    else
        snprintf(tmp, sizeof(tmp), "%s", g);
    bool slash;
    return box_path_clean(tmp, 0, out, sizeof(out), &slash) == BOX_PATH_OK && !strcmp(out, tmp);
}

static int parse_list(json_t *root, const char *key, bool paths, bool glob, char ***out, size_t *n,
                      struct box_err *err)
{
    json_t *arr = json_object_get(root, key);
    *out = NULL;
    *n = 0;
    if (!arr)
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > PROFILE_MAX_ITEMS)
        return box_err_set(err, EINVAL, "%s must be an array of at most %u strings", key,
                           PROFILE_MAX_ITEMS);
    *out = calloc(json_array_size(arr) + 1, sizeof(char *));
    if (!*out)
        return box_err_set(err, ENOMEM, "profile");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        char canon[BOX_PATH_MAX + 1];
        bool slash, ok = s && !box_is_blank(s);
        if (ok && glob)
            ok = is_glob_ok(s);
        else if (ok && paths)
            ok = box_path_clean(s, 0, canon, sizeof(canon), &slash) == BOX_PATH_OK &&
                 !strcmp(canon, s);
        if (!ok)
            return box_err_set(err, EINVAL, "%s[%zu] must be a canonical relative %s", key, i,
                               glob    ? "glob"
                               : paths ? "path"
                                       : "non-blank string");
        if (!((*out)[i] = strdup(s)))
            return box_err_set(err, ENOMEM, "profile");
        (*n)++;
    }
    return 0;
}

int box_profile_parse(const char *buf, size_t len, const char *name, struct box_profile **out,
                      struct box_err *err)
{
    static const char *const keys[] = {"name",          "components",  "manifest_paths",
                                       "regular_files", "directories", "globs"};
    json_error_t jerr;
    __attribute__((cleanup(json_decref_p))) json_t *root =
        json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return box_err_set(err, EINVAL, "profile `%s`: %s (line %d)", name, jerr.text, jerr.line);
    if (!json_is_object(root))
        return box_err_set(err, EINVAL, "profile `%s`: not a JSON object", name);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < BOX_ARRAY_SIZE(keys); i++)
            known |= strcmp(key, keys[i]) == 0;
        if (!known)
            return box_err_set(err, EINVAL, "profile `%s`: unknown key `%s`", name, key);
    }
    struct box_profile *p = calloc(1, sizeof(*p));
    if (!p || !(p->name = strdup(name))) {
        free(p);
        return box_err_set(err, ENOMEM, "profile");
    }
    int r = parse_list(root, "components", false, false, &p->components, &p->ncomponents, err);
    if (r >= 0)
        r = parse_list(root, "manifest_paths", true, false, &p->manifest_paths, &p->nmanifest_paths,
                       err);
    if (r >= 0)
        r = parse_list(root, "regular_files", true, false, &p->regular_files, &p->nregular_files,
                       err);
    if (r >= 0)
        r = parse_list(root, "directories", true, false, &p->directories, &p->ndirectories, err);
    if (r >= 0)
        r = parse_list(root, "globs", false, true, &p->globs, &p->nglobs, err);
    if (r < 0) {
        box_profile_free(p);
        return box_err_prefix(err, "profile `%s`", name);
    }
    *out = p;
    return 0;
}

int box_profile_load(const char *spec, struct box_profile **out, struct box_err *err)
{
    if (strcmp(spec, "nvidia") == 0)
        return box_profile_parse(nvidia_profile, sizeof(nvidia_profile) - 1, "nvidia", out, err);
    if (strcmp(spec, "none") == 0)
        return box_profile_parse("{}", 2, "none", out, err);
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = box_read_file(AT_FDCWD, spec, PROFILE_MAX_BYTES, &buf, &len, err);
    if (r < 0)
        return box_err_prefix(err, "profile");
    return box_profile_parse(buf, len, spec, out, err);
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void box_profile_free(struct box_profile *p)
{
    if (!p)
        return;
    free(p->name);
    free_list(p->components, p->ncomponents);
    free_list(p->manifest_paths, p->nmanifest_paths);
    free_list(p->regular_files, p->nregular_files);
    free_list(p->directories, p->ndirectories);
    free_list(p->globs, p->nglobs);
    free(p);
}

int box_profile_check_listed(const struct box_profile *p, const struct box_manifest *m,
                             struct box_err *err)
{
    for (size_t i = 0; i < p->nmanifest_paths; i++)
        if (!box_tree_get(&m->files, p->manifest_paths[i]))
            return box_err_set(err, BOX_EDATA,
                               "required runtime asset missing from manifest.json: %s",
                               p->manifest_paths[i]);
    return 0;
}

static const struct box_node *payload_get(const struct box_tree *t, const char *prefix,
                                          const char *rel)
{
    char full[2 * BOX_PATH_MAX + 2];
    snprintf(full, sizeof(full), "%s/%s", prefix, rel);
    return box_tree_get(t, full);
}

static bool glob_matches(const struct box_tree *t, const char *prefix, const char *glob)
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < t->count; i++) {
        const char *path = t->nodes[i]->path;
        if (strncmp(path, prefix, plen) == 0 && path[plen] == '/' &&
            fnmatch(glob, path + plen + 1, FNM_PATHNAME | FNM_PERIOD) == 0)
            return true;
    }
    return false;
}

static int check_globs(const struct box_profile *p, const struct box_tree *t, const char *prefix,
                       const char *arch, struct box_err *err)
{
    const char *multiarch = box_arch_multiarch(arch);
    for (size_t i = 0; i < p->nglobs; i++) {
        char glob[BOX_PATH_MAX + 64];
        const char *g = p->globs[i], *v = strstr(g, MULTIARCH_VAR);
        if (v && !multiarch)
            return box_err_set(err, BOX_EDATA, "unsupported runtime bundle architecture: %s", arch);
        if (v)
            snprintf(glob, sizeof(glob), "%.*s%s%s", (int)(v - g), g, multiarch,
                     v + strlen(MULTIARCH_VAR));
        else
            snprintf(glob, sizeof(glob), "%s", g);
        if (!glob_matches(t, prefix, glob))
            return box_err_set(err, BOX_EDATA, "missing required library subtree: %s", glob);
    }
    return 0;
}

int box_profile_check_payload(const struct box_profile *p, const struct box_tree *payload,
                              const char *prefix, const char *arch, struct box_err *err)
{
    for (size_t i = 0; i < p->nregular_files; i++)
        if (!payload_get(payload, prefix, p->regular_files[i]))
            return box_err_set(err, BOX_EDATA, "missing required path: %s", p->regular_files[i]);
    for (size_t i = 0; i < p->nregular_files; i++) {
        const struct box_node *nd = payload_get(payload, prefix, p->regular_files[i]);
        if (nd->type != BOX_NODE_FILE)
            return box_err_set(err, BOX_EDATA, "invalid required binary entry type: %s",
                               p->regular_files[i]);
    }
    for (size_t i = 0; i < p->ndirectories; i++) {
        const struct box_node *nd = payload_get(payload, prefix, p->directories[i]);
        if (!nd)
            return box_err_set(err, BOX_EDATA, "missing required path: %s", p->directories[i]);
        if (nd->type != BOX_NODE_DIR)
            return box_err_set(err, BOX_EDATA, "required path is not a directory: %s",
                               p->directories[i]);
    }
    return check_globs(p, payload, prefix, arch, err);
}

const char *box_arch_multiarch(const char *arch)
{
    if (strcmp(arch, "amd64") == 0)
        return "x86_64-linux-gnu";
    if (strcmp(arch, "arm64") == 0)
        return "aarch64-linux-gnu";
    return NULL;
}

const char *box_arch_host(void)
{
    struct utsname u;
    if (uname(&u) < 0)
        return NULL;
    if (strcmp(u.machine, "x86_64") == 0)
        return "amd64";
    if (strcmp(u.machine, "aarch64") == 0 || strcmp(u.machine, "arm64") == 0)
        return "arm64";
    return NULL;
}
