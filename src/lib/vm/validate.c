#include "lib/vm/validate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/vm/text.h"

struct ctx {
    const struct box_vm_validate_opts *o;
    struct box_vm_report *rep;
    size_t added;
};

static void __attribute__((format(printf, 3, 4)))
error(struct ctx *c, const char *ptr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    box_vm_report_add(c->rep, false, ptr, fmt, ap);
    va_end(ap);
    c->added++;
}

static void __attribute__((format(printf, 3, 4)))
warning(struct ctx *c, const char *ptr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    box_vm_report_add(c->rep, true, ptr, fmt, ap);
    va_end(ap);
}

void box_vm_pointer_join(char *out, size_t size, const char *base, const char *token)
{
    size_t n = (size_t)snprintf(out, size, "%s/", base);
    if (n >= size)
        n = size - 1;
    for (const char *t = token; *t && n + 1 < size; t++) {
        const char *esc = *t == '~' ? "~0" : *t == '/' ? "~1" : NULL;
        size_t need = esc ? 2 : 1;
        if (n + need + 4 > size) { /* room for "..." and the NUL */
            snprintf(out + n, size - n, "...");
            return;
        }
        if (esc) {
            memcpy(out + n, esc, 2);
        } else {
            out[n] = *t;
        }
        n += need;
        out[n] = '\0';
    }
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* ---- rules shared with the generator ------------------------------------ */

static bool is_alnum(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* kubernetesLabelValue: ^[0-9A-Za-z](?:[0-9A-Za-z-_.]{0,61}[0-9A-Za-z])?$ */
const char *box_vm_check_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "is empty";
    if (n > 63)
        return "is longer than 63 characters (a Kubernetes label value)";
    if (!is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return "must begin and end with a letter or digit (a Kubernetes label value)";
    for (size_t i = 1; i + 1 < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return "may hold only letters, digits, '-', '_' and '.' (a Kubernetes label value)";
    return NULL;
}

/* semver: ^v\d+\.\d+\.\d+$ */
const char *box_vm_check_semver(const char *s)
{
    const char *p = s;
    if (*p++ != 'v')
        return "is not a version like v1.30.0 (a leading `v`, then three numbers)";
    for (int part = 0; part < 3; part++) {
        const char *start = p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == start || p - start > 18)
            return "is not a version like v1.30.0 (a leading `v`, then three numbers)";
        if (part < 2 && *p++ != '.')
            return "is not a version like v1.30.0 (a leading `v`, then three numbers)";
    }
    return *p ? "is not a version like v1.30.0 (pre-releases and suffixes are not supported)"
              : NULL;
}

/* The provider's property schema ^\w+(,\w+)*$ over the joined models. */
const char *box_vm_check_model(const char *s)
{
    if (!*s)
        return "is empty";
    for (const char *p = s; *p; p++)
        if (!is_alnum(*p) && *p != '_')
            return "may hold only letters, digits and '_' (the region hides images whose "
                   "models do not match ^\\w+$ from every listing)";
    return NULL;
}

const char *box_vm_check_uri(const char *s)
{
    size_t n = strlen(s);
    if (n > BOX_VM_URI_MAX)
        return "is longer than 8192 characters";
    const char *rest;
    if (strncasecmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return "is not an http:// or https:// URL (the region fetches the image from it)";
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "holds a space or control character (percent-encode it)";
    size_t host = strcspn(rest, "/?#");
    if (host == 0 || rest[0] == ':' || rest[0] == '@')
        return "has no host";
    return NULL;
}

/* ---- the schema walk ------------------------------------------------------ */

struct field {
    const char *name;
    bool required;
    void (*check)(struct ctx *c, json_t *v, const char *ptr);
};

/* Fields a reader may copy from a listed image, which a create request
 * does not take. */
static const char *response_only(const char *key)
{
    static const char *const names[] = {"id",         "creationTime", "createdBy", "modifiedTime",
                                        "modifiedBy", "sizeGiB",      "status"};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(names); i++)
        if (strcmp(key, names[i]) == 0)
            return names[i];
    return NULL;
}

static void unknown(struct ctx *c, const char *ptr, const char *key, const struct field *fields,
                    size_t n)
{
    char hint[128] = "";
    const char *best = NULL;
    /* Suggest only near misses: none for short names, whose neighbours are
     * mostly unrelated words. */
    size_t klen = strlen(key);
    size_t best_d = klen <= 3 ? 0 : klen <= 6 ? 2 : 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = box_vm_edit_distance(key, fields[i].name, 3);
        if (d < best_d) {
            best_d = d;
            best = fields[i].name;
        }
    }
    if (best)
        snprintf(hint, sizeof(hint), "; did you mean `%s`?", best);
    else if (response_only(key))
        snprintf(hint, sizeof(hint),
                 "; it appears in listed images but a create request "
                 "does not take it");
    const char *tail = "the server would ignore it";
    if (c->o && c->o->allow_unknown)
        warning(c, ptr, "unknown field, %s%s", tail, hint);
    else
        error(c, ptr, "unknown field, %s%s (--allow-unknown to accept it)", tail, hint);
}

static void check_object(struct ctx *c, json_t *obj, const char *ptr, const struct field *fields,
                         size_t n)
{
    char sub[BOX_VM_POINTER_MAX];
    if (!json_is_object(obj)) {
        error(c, ptr, "must be an object, not %s", type_name(obj));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, fields[i].name);
        box_vm_pointer_join(sub, sizeof(sub), ptr, fields[i].name);
        if (!v) {
            if (fields[i].required)
                error(c, sub, "required field is missing");
            continue;
        }
        fields[i].check(c, v, sub);
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        while (i < n && strcmp(key, fields[i].name) != 0)
            i++;
        if (i < n)
            continue;
        box_vm_pointer_join(sub, sizeof(sub), ptr, key);
        unknown(c, sub, key, fields, n);
    }
}

/* A string, or an error naming what it is instead. */
static const char *want_string(struct ctx *c, json_t *v, const char *ptr)
{
    if (json_is_string(v))
        return json_string_value(v);
    error(c, ptr, "must be a string, not %s", type_name(v));
    return NULL;
}

static void check_string(struct ctx *c, json_t *v, const char *ptr)
{
    want_string(c, v, ptr);
}

/* Required by the schema, accepted empty by it, but useless empty. */
static void check_nonempty_string(struct ctx *c, json_t *v, const char *ptr)
{
    const char *s = want_string(c, v, ptr);
    if (s && !*s)
        warning(c, ptr, "is empty");
}

static void check_enum(struct ctx *c, json_t *v, const char *ptr, const char *const *values,
                       size_t n, const char *note)
{
    const char *s = want_string(c, v, ptr);
    if (!s)
        return;
    char list[128] = "";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, values[i]) == 0)
            return;
        size_t len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", values[i]);
    }
    char q[BOX_VM_QUOTE_MAX];
    error(c, ptr, "%s is not one of %s%s", box_vm_quote(s, q, sizeof(q)), list, note);
}

static void check_with(struct ctx *c, json_t *v, const char *ptr, const char *(*rule)(const char *))
{
    const char *s = want_string(c, v, ptr);
    const char *why = s ? rule(s) : NULL;
    char q[BOX_VM_QUOTE_MAX];
    if (why)
        error(c, ptr, "%s %s", box_vm_quote(s, q, sizeof(q)), why);
}

static void check_name(struct ctx *c, json_t *v, const char *ptr)
{
    check_with(c, v, ptr, box_vm_check_label);
}

static void check_uri(struct ctx *c, json_t *v, const char *ptr)
{
    check_with(c, v, ptr, box_vm_check_uri);
}

static void check_architecture(struct ctx *c, json_t *v, const char *ptr)
{
    static const char *const values[] = {"x86_64", "aarch64"};
    check_enum(c, v, ptr, values, BOX_ARRAY_SIZE(values), "");
}

static void check_virtualization(struct ctx *c, json_t *v, const char *ptr)
{
    static const char *const values[] = {"virtualized", "baremetal", "any"};
    check_enum(c, v, ptr, values, BOX_ARRAY_SIZE(values), "");
}

static void check_kernel(struct ctx *c, json_t *v, const char *ptr)
{
    static const char *const values[] = {"linux"};
    check_enum(c, v, ptr, values, BOX_ARRAY_SIZE(values), "");
}

static void check_vendor(struct ctx *c, json_t *v, const char *ptr)
{
    static const char *const values[] = {"NVIDIA", "AMD"};
    check_enum(c, v, ptr, values, BOX_ARRAY_SIZE(values), " (case-sensitive)");
}

static void check_tag(struct ctx *c, json_t *v, const char *ptr)
{
    static const struct field fields[] = {
        {"name", true, check_nonempty_string},
        {"value", true, check_string},
    };
    check_object(c, v, ptr, fields, BOX_ARRAY_SIZE(fields));
}

static bool check_array(struct ctx *c, json_t *v, const char *ptr)
{
    if (!json_is_array(v)) {
        error(c, ptr, "must be an array, not %s", type_name(v));
        return false;
    }
    if (json_array_size(v) > BOX_VM_LIST_MAX) {
        error(c, ptr, "has %zu entries, more than %u", json_array_size(v), BOX_VM_LIST_MAX);
        return false;
    }
    return true;
}

static void check_tags(struct ctx *c, json_t *v, const char *ptr)
{
    if (!check_array(c, v, ptr))
        return;
    char sub[BOX_VM_POINTER_MAX], idx[24];
    size_t i, j;
    json_t *t, *u;
    json_array_foreach(v, i, t)
    {
        snprintf(idx, sizeof(idx), "%zu", i);
        box_vm_pointer_join(sub, sizeof(sub), ptr, idx);
        check_tag(c, t, sub);
        const char *name = json_string_value(json_object_get(t, "name"));
        for (j = 0; name && j < i; j++) {
            u = json_array_get(v, j);
            const char *other = json_string_value(json_object_get(u, "name"));
            if (other && strcmp(name, other) == 0) {
                char at[BOX_VM_POINTER_MAX];
                box_vm_pointer_join(at, sizeof(at), sub, "name");
                warning(c, at, "tag name repeats /%zu (tag names are meant to be unique)", j);
                break;
            }
        }
    }
}

static void check_metadata(struct ctx *c, json_t *v, const char *ptr)
{
    static const struct field fields[] = {
        {"name", true, check_name},
        {"description", false, check_string},
        {"tags", false, check_tags},
    };
    check_object(c, v, ptr, fields, BOX_ARRAY_SIZE(fields));
}

static void check_os(struct ctx *c, json_t *v, const char *ptr)
{
    static const struct field fields[] = {
        {"kernel", true, check_kernel},          {"family", true, check_nonempty_string},
        {"distro", true, check_nonempty_string}, {"version", true, check_nonempty_string},
        {"variant", false, check_string},        {"codename", false, check_string},
    };
    check_object(c, v, ptr, fields, BOX_ARRAY_SIZE(fields));
}

static void check_software(struct ctx *c, json_t *v, const char *ptr)
{
    if (!json_is_object(v)) {
        error(c, ptr, "must be an object, not %s", type_name(v));
        return;
    }
    if (json_object_size(v) > BOX_VM_LIST_MAX) {
        error(c, ptr, "has %zu entries, more than %u", json_object_size(v), BOX_VM_LIST_MAX);
        return;
    }
    const char *key;
    json_t *ver;
    char sub[BOX_VM_POINTER_MAX];
    json_object_foreach(v, key, ver)
    {
        box_vm_pointer_join(sub, sizeof(sub), ptr, key);
        if (!*key)
            error(c, sub, "software name is empty");
        check_with(c, ver, sub, box_vm_check_semver);
    }
}

static void check_models(struct ctx *c, json_t *v, const char *ptr)
{
    if (!check_array(c, v, ptr))
        return;
    if (json_array_size(v) == 0) {
        error(c, ptr, "is empty: an image with a gpu section must name its GPU models");
        return;
    }
    char sub[BOX_VM_POINTER_MAX], idx[24];
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m)
    {
        snprintf(idx, sizeof(idx), "%zu", i);
        box_vm_pointer_join(sub, sizeof(sub), ptr, idx);
        check_with(c, m, sub, box_vm_check_model);
    }
}

static void check_gpu(struct ctx *c, json_t *v, const char *ptr)
{
    static const struct field fields[] = {
        {"vendor", true, check_vendor},
        {"driver", true, check_nonempty_string},
        {"models", false, check_models},
    };
    check_object(c, v, ptr, fields, BOX_ARRAY_SIZE(fields));
    /* The server refuses a gpu section without models, though the schema
     * leaves them optional. */
    if (json_is_object(v) && !json_object_get(v, "models")) {
        char sub[BOX_VM_POINTER_MAX];
        box_vm_pointer_join(sub, sizeof(sub), ptr, "models");
        error(c, sub, "required by the server when gpu is present, and must not be empty");
    }
}

static void check_spec(struct ctx *c, json_t *v, const char *ptr)
{
    static const struct field fields[] = {
        {"uri", true, check_uri},
        {"architecture", true, check_architecture},
        {"virtualization", true, check_virtualization},
        {"os", true, check_os},
        {"softwareVersions", false, check_software},
        {"gpu", false, check_gpu},
    };
    check_object(c, v, ptr, fields, BOX_ARRAY_SIZE(fields));
}

size_t box_vm_validate_json(json_t *doc, const struct box_vm_validate_opts *o,
                            struct box_vm_report *rep)
{
    static const struct field fields[] = {
        {"metadata", true, check_metadata},
        {"spec", true, check_spec},
    };
    struct ctx c = {.o = o, .rep = rep};
    check_object(&c, doc, "", fields, BOX_ARRAY_SIZE(fields));
    return c.added;
}

int box_vm_validate_buf(const char *buf, size_t len, const struct box_vm_validate_opts *o,
                        struct box_vm_report *rep, json_t **out, struct box_err *err)
{
    struct ctx c = {.o = o, .rep = rep};
    if (len > BOX_VM_PAYLOAD_MAX) {
        error(&c, "", "the document is %zu bytes, more than %u", len, BOX_VM_PAYLOAD_MAX);
        return box_err_set(err, EINVAL, "payload is too large");
    }
    json_error_t jerr;
    json_t *doc = json_loadb(buf, len, JSON_DECODE_ANY, &jerr);
    if (!doc) {
        error(&c, "", "not JSON: %s at line %d, column %d", jerr.text, jerr.line, jerr.column);
        return box_err_set(err, EINVAL, "payload is not JSON");
    }
    size_t n = box_vm_scan_structure(buf, len, BOX_VM_DEPTH_MAX, rep);
    n += box_vm_validate_json(doc, o, rep);
    if (n > 0) {
        json_decref(doc);
        return box_err_set(err, EINVAL, "payload has %zu error%s",
                           rep->nerrors + rep->errors_dropped,
                           rep->nerrors + rep->errors_dropped == 1 ? "" : "s");
    }
    if (out)
        *out = doc;
    else
        json_decref(doc);
    return 0;
}
