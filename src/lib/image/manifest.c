#include "lib/image/manifest.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/image/decomp.h"

#define COMPONENTS_MAX 256u

static void json_decref_p(json_t **j)
{
    json_decref(*j);
}
#define _cleanup_json_ __attribute__((cleanup(json_decref_p)))

__attribute__((format(printf, 2, 3))) static int malformed(struct box_err *err, const char *fmt,
                                                           ...)
{
    char detail[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return box_err_set(err, BOX_EDATA, "malformed manifest.json: %s", detail);
}

static int missing(struct box_err *err, const char *field, const char *path)
{
    char esc[512];
    if (path)
        return box_err_set(err, BOX_EDATA, "missing required manifest field: %s (%s)", field,
                           box_escape(path, esc, sizeof(esc)));
    return box_err_set(err, BOX_EDATA, "missing required manifest field: %s", field);
}

/* A string member that must be present and non-blank; NULL with err set otherwise. */
static const char *need_string(json_t *obj, const char *key, const char *field, const char *path,
                               struct box_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        missing(err, field, path);
        return NULL;
    }
    if (!json_is_string(v) || box_is_blank(json_string_value(v))) {
        malformed(err, "%s must be a non-blank string", field);
        return NULL;
    }
    return json_string_value(v);
}

static int dup_into(char **dst, const char *src, struct box_err *err)
{
    *dst = strdup(src);
    return *dst ? 0 : box_err_set(err, ENOMEM, "manifest");
}

static int parse_top(json_t *root, struct box_manifest *m, struct box_err *err)
{
    static const char *const required[] = {"schema_version", "bundle_name", "bundle_version",
                                           "architecture",   "created_at",  "components",
                                           "files"};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(required); i++)
        if (!json_object_get(root, required[i]))
            return missing(err, required[i], NULL);
    json_t *sv = json_object_get(root, "schema_version");
    if (!json_is_integer(sv) || json_integer_value(sv) != 1)
        return malformed(err, "schema_version must be the integer 1");
    static const char *const strings[] = {"bundle_name", "bundle_version", "architecture",
                                          "created_at"};
    char **dst[] = {&m->bundle_name, &m->bundle_version, &m->architecture, &m->created_at};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(strings); i++) {
        const char *s = need_string(root, strings[i], strings[i], NULL, err);
        if (!s || dup_into(dst[i], s, err) < 0)
            return -err->code;
    }
    return 0;
}

static int parse_component(json_t *c, const char *name, struct box_component *out,
                           struct box_err *err)
{
    char field[320];
    if (!json_is_object(c)) {
        snprintf(field, sizeof(field), "components.%s", name);
        return missing(err, field, NULL);
    }
    const char *keys[] = {"version", "commit"};
    char **dst[] = {&out->version, &out->commit};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(c, keys[i]);
        snprintf(field, sizeof(field), "components.%s.%s", name, keys[i]);
        if (!json_is_string(v) || box_is_blank(json_string_value(v)))
            return missing(err, field, NULL);
        if (dup_into(dst[i], json_string_value(v), err) < 0)
            return -err->code;
    }
    return dup_into(&out->name, name, err);
}

static int parse_components(json_t *root, const struct box_manifest_rules *rules,
                            struct box_manifest *m, struct box_err *err)
{
    json_t *comps = json_object_get(root, "components");
    if (!json_is_object(comps))
        return malformed(err, "components must be an object");
    for (size_t i = 0; i < rules->ncomponents; i++) {
        if (!json_is_object(json_object_get(comps, rules->components[i]))) {
            char field[320];
            snprintf(field, sizeof(field), "components.%s", rules->components[i]);
            return missing(err, field, NULL);
        }
    }
    size_t n = json_object_size(comps);
    if (n > COMPONENTS_MAX)
        return malformed(err, "components has more than %u entries", COMPONENTS_MAX);
    m->components = calloc(n ? n : 1, sizeof(*m->components));
    if (!m->components)
        return box_err_set(err, ENOMEM, "manifest");
    const char *key;
    json_t *c;
    json_object_foreach(comps, key, c)
    {
        if (box_is_blank(key) || strlen(key) > BOX_NAME_MAX)
            return malformed(err, "component names must be non-blank and short");
        int r = parse_component(c, key, &m->components[m->ncomponents], err);
        m->ncomponents++;
        if (r < 0)
            return r;
    }
    return 0;
}

static int check_arch(const struct box_manifest_rules *rules, const struct box_manifest *m,
                      struct box_err *err)
{
    if (!rules->arch || strcmp(rules->arch, m->architecture) == 0)
        return 0;
    char esc[128];
    return box_err_set(err, BOX_EDATA, "bundle architecture mismatch: expected %s, got %s",
                       rules->arch, box_escape(m->architecture, esc, sizeof(esc)));
}

static int file_digest(json_t *e, const char *idx, struct box_node *nd, struct box_err *err)
{
    char field[64];
    json_t *sha = json_object_get(e, "sha256"), *size = json_object_get(e, "size");
    snprintf(field, sizeof(field), "%s.sha256", idx);
    if (!sha)
        return missing(err, field, nd->path);
    if (!json_is_string(sha) || !box_is_sha256_hex(json_string_value(sha)))
        return malformed(err, "%s is not 64 lowercase hex digits (%s)", field, nd->path);
    box_hex_decode(json_string_value(sha), nd->sha256, BOX_SHA256_LEN);
    snprintf(field, sizeof(field), "%s.size", idx);
    if (!size)
        return missing(err, field, nd->path);
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return malformed(err, "%s must be a non-negative integer (%s)", field, nd->path);
    nd->size = (uint64_t)json_integer_value(size);
    nd->flags |= BOX_NODE_HASHED;
    return 0;
}

static int entry_path(json_t *e, const char *idx, char *path, struct box_err *err)
{
    char field[64], esc[512];
    snprintf(field, sizeof(field), "%s.path", idx);
    json_t *p = json_object_get(e, "path");
    if (!json_is_string(p) || box_is_blank(json_string_value(p)))
        return missing(err, field, NULL);
    const char *raw = json_string_value(p);
    size_t n = strlen(raw);
    bool slash;
    /* Canonical only: other tools would strip the spaces and name another path. */
    if (box_path_clean(raw, 0, path, BOX_PATH_MAX + 1, &slash) != BOX_PATH_OK ||
        strcmp(path, raw) != 0 || strcmp(path, BOX_MANIFEST_NAME) == 0 ||
        isspace((unsigned char)raw[0]) || isspace((unsigned char)raw[n - 1]))
        return box_err_set(err, BOX_EDATA, "invalid manifest-listed payload path: %s",
                           box_escape(raw, esc, sizeof(esc)));
    return 0;
}

static int parse_entry(json_t *e, size_t i, struct box_manifest *m, struct box_err *err)
{
    char idx[32], field[64], path[BOX_PATH_MAX + 1];
    snprintf(idx, sizeof(idx), "files[%zu]", i);
    if (!json_is_object(e))
        return malformed(err, "%s is not an object", idx);
    int r = entry_path(e, idx, path, err);
    if (r < 0)
        return r;
    json_t *type = json_object_get(e, "entry_type");
    snprintf(field, sizeof(field), "%s.entry_type", idx);
    if (!type)
        return missing(err, field, path);
    const char *t = json_is_string(type) ? json_string_value(type) : "";
    bool is_file = strcmp(t, "file") == 0;
    if (!is_file && strcmp(t, "symlink") != 0)
        return malformed(err, "%s must be \"file\" or \"symlink\" (%s)", field, path);
    json_t *target = json_object_get(e, "target");
    if (!is_file && target && (!json_is_string(target) || !json_string_value(target)[0]))
        return malformed(err, "%s.target must be a non-empty string (%s)", idx, path);
    struct box_node *nd;
    r = box_tree_add(&m->files, path, is_file ? BOX_NODE_FILE : BOX_NODE_SYMLINK,
                     !is_file && target ? json_string_value(target) : NULL, &nd);
    if (r == -EEXIST)
        return box_err_set(err, BOX_EDATA, "duplicate path in manifest.json: %s", path);
    if (r < 0)
        return box_err_set(err, -r, "manifest");
    if (!is_file) {
        m->nsymlinks++;
        return 0;
    }
    m->nfiles++;
    r = file_digest(e, idx, nd, err);
    m->payload_bytes += nd->size;
    return r;
}

static int parse_files(json_t *root, const struct box_manifest_rules *rules, struct box_manifest *m,
                       struct box_err *err)
{
    json_t *files = json_object_get(root, "files");
    if (!json_is_array(files))
        return malformed(err, "files must be an array");
    size_t max = rules->max_files ? rules->max_files : BOX_MANIFEST_MAX_FILES;
    if (json_array_size(files) > max)
        return malformed(err, "files has more than %zu entries", max);
    for (size_t i = 0; i < json_array_size(files); i++) {
        int r = parse_entry(json_array_get(files, i), i, m, err);
        if (r < 0)
            return r;
    }
    if (m->nfiles == 0)
        return malformed(err, "files lists no regular file");
    return 0;
}

int box_manifest_parse(const char *buf, size_t len, const struct box_manifest_rules *rules,
                       struct box_manifest **out, struct box_err *err)
{
    if (len > BOX_MANIFEST_MAX_BYTES)
        return box_err_set(err, BOX_EDATA, "manifest.json larger than %u bytes",
                           BOX_MANIFEST_MAX_BYTES);
    json_error_t jerr;
    _cleanup_json_ json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return box_err_set(err, BOX_EDATA, "malformed manifest.json: %s (line %d, column %d)",
                           jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root))
        return malformed(err, "the document is not a JSON object");
    struct box_manifest *m = calloc(1, sizeof(*m));
    if (!m)
        return box_err_set(err, ENOMEM, "manifest");
    box_tree_init(&m->files);
    int r = parse_top(root, m, err);
    if (r >= 0)
        r = parse_components(root, rules, m, err);
    if (r >= 0)
        r = check_arch(rules, m, err);
    if (r >= 0)
        r = parse_files(root, rules, m, err);
    if (r < 0) {
        box_manifest_free(m);
        return r;
    }
    *out = m;
    return 0;
}

void box_manifest_free(struct box_manifest *m)
{
    if (!m)
        return;
    free(m->bundle_name);
    free(m->bundle_version);
    free(m->architecture);
    free(m->created_at);
    for (size_t i = 0; i < m->ncomponents; i++) {
        free(m->components[i].name);
        free(m->components[i].version);
        free(m->components[i].commit);
    }
    free(m->components);
    box_tree_free(&m->files);
    free(m);
}

static json_t *dump_file(const struct box_node *nd)
{
    json_t *e = json_object();
    char hex[BOX_SHA256_HEXLEN + 1];
    json_object_set_new(e, "path", json_string(nd->path));
    if (nd->type == BOX_NODE_FILE) {
        box_hex_encode(nd->sha256, BOX_SHA256_LEN, hex);
        json_object_set_new(e, "entry_type", json_string("file"));
        json_object_set_new(e, "sha256", json_string(hex));
        json_object_set_new(e, "size", json_integer((json_int_t)nd->size));
    } else {
        json_object_set_new(e, "entry_type", json_string("symlink"));
        if (nd->link)
            json_object_set_new(e, "target", json_string(nd->link));
    }
    return e;
}

int box_manifest_dump(const struct box_manifest *m, char **out, size_t *len, struct box_err *err)
{
    _cleanup_json_ json_t *root = json_object();
    json_t *comps = json_object(), *files = json_array();
    json_object_set_new(root, "schema_version", json_integer(1));
    json_object_set_new(root, "bundle_name", json_string(m->bundle_name));
    json_object_set_new(root, "bundle_version", json_string(m->bundle_version));
    json_object_set_new(root, "architecture", json_string(m->architecture));
    json_object_set_new(root, "created_at", json_string(m->created_at));
    json_object_set_new(root, "components", comps);
    json_object_set_new(root, "files", files);
    for (size_t i = 0; i < m->ncomponents; i++) {
        json_t *c = json_object();
        json_object_set_new(c, "version", json_string(m->components[i].version));
        json_object_set_new(c, "commit", json_string(m->components[i].commit));
        json_object_set_new(comps, m->components[i].name, c);
    }
    for (size_t i = 0; i < m->files.count; i++)
        json_array_append_new(files, dump_file(m->files.nodes[i]));
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s)
        return box_err_set(err, ENOMEM, "serialize manifest.json");
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return box_err_set(err, ENOMEM, "serialize manifest.json");
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    *out = t;
    *len = n + 1;
    return 0;
}
