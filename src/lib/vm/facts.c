#include "lib/vm/facts.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum kind {
    K_WORD,    /* [A-Za-z0-9._:~+-] */
    K_DISTRO,  /* debian | ubuntu */
    K_VERSION, /* digits and dots */
    K_ARCH,    /* x86_64 */
    K_VENDOR,  /* NVIDIA */
    K_BOOL,    /* 0 | 1 */
};

struct field {
    const char *key;
    enum kind kind;
    bool required;
};

static const struct field fields[] = {
    {"architecture", K_ARCH, true},   {"os.family", K_WORD, true},
    {"os.distro", K_DISTRO, true},    {"os.version", K_VERSION, true},
    {"os.codename", K_WORD, true},    {"os.variant", K_WORD, true},
    {"kernel", K_WORD, true},         {"gpu.vendor", K_VENDOR, false},
    {"gpu.driver", K_VERSION, false}, {"gpu.firmware_option", K_BOOL, false},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static bool word_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > BOX_VM_FACTS_VALUE_MAX)
        return false;
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._:~+-", *p)))
            return false;
    return true;
}

static bool value_ok(enum kind k, const char *v)
{
    switch (k) {
    case K_WORD:
        return word_ok(v);
    case K_DISTRO:
        return strcmp(v, "debian") == 0 || strcmp(v, "ubuntu") == 0;
    case K_VERSION:
        return word_ok(v) && v[0] >= '0' && v[0] <= '9' && strspn(v, "0123456789.") == strlen(v);
    case K_ARCH:
        return strcmp(v, "x86_64") == 0;
    case K_VENDOR:
        return strcmp(v, "NVIDIA") == 0;
    case K_BOOL:
        return strcmp(v, "0") == 0 || strcmp(v, "1") == 0;
    }
    return false;
}

/* Debian policy 5.6.1: package names are [a-z0-9][a-z0-9+.-]+. */
static bool package_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 2 || len > 64 || !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= '0' && n[0] <= '9')))
        return false;
    return strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789+.-") == len;
}

struct parsed {
    const char *values[NFIELDS];
    json_t *packages;
};

static int take_line(struct parsed *p, unsigned lineno, char *line, struct box_err *err)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return box_err_set(err, EINVAL, "facts report line %u: expected key=value", lineno);
    *eq = '\0';
    const char *key = line, *value = eq + 1;
    if (strncmp(key, "package.", 8) == 0) {
        const char *name = key + 8;
        if (!package_name_ok(name))
            return box_err_set(err, EINVAL, "facts report line %u: `%.64s` is not a package name",
                               lineno, name);
        if (!word_ok(value))
            return box_err_set(err, EINVAL, "facts report line %u: `%s`: bad version", lineno, key);
        if (json_object_get(p->packages, name))
            return box_err_set(err, EINVAL, "facts report line %u: `%s` given twice", lineno, key);
        if (json_object_size(p->packages) >= BOX_VM_FACTS_PKGS_MAX)
            return box_err_set(err, E2BIG, "facts report line %u: more than %u packages", lineno,
                               BOX_VM_FACTS_PKGS_MAX);
        json_object_set_new(p->packages, name, json_string(value));
        return 0;
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        if (strcmp(fields[i].key, key) != 0)
            continue;
        if (p->values[i])
            return box_err_set(err, EINVAL, "facts report line %u: `%s` given twice", lineno, key);
        if (!value_ok(fields[i].kind, value))
            return box_err_set(err, EINVAL, "facts report line %u: `%s`: invalid value `%.64s`",
                               lineno, key, value);
        p->values[i] = value;
        return 0;
    }
    return box_err_set(err, EINVAL, "facts report line %u: unknown key `%.64s`", lineno, key);
}

static const char *get(const struct parsed *p, const char *key)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].key, key) == 0)
            return p->values[i];
    return NULL;
}

static int check_complete(const struct parsed *p, struct box_err *err)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (fields[i].required && !p->values[i])
            return box_err_set(err, EINVAL, "facts report: `%s` is missing", fields[i].key);
    int gpu = !!get(p, "gpu.vendor") + !!get(p, "gpu.driver") + !!get(p, "gpu.firmware_option");
    if (gpu != 0 && gpu != 3)
        return box_err_set(err, EINVAL,
                           "facts report: gpu.vendor, gpu.driver and "
                           "gpu.firmware_option come together or not at all");
    return 0;
}

static json_t *build_json(const struct parsed *p, const struct box_vm_facts_host *h)
{
    char when[32];
    struct tm tm;
    gmtime_r(&h->built_at, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *os = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kernel", "linux", "family",
                           get(p, "os.family"), "distro", get(p, "os.distro"), "version",
                           get(p, "os.version"), "codename", get(p, "os.codename"), "variant",
                           get(p, "os.variant"));
    json_t *gpu = json_null();
    if (get(p, "gpu.driver"))
        gpu = json_pack("{s:s, s:s, s:b}", "vendor", get(p, "gpu.vendor"), "driver",
                        get(p, "gpu.driver"), "firmware_option",
                        strcmp(get(p, "gpu.firmware_option"), "1") == 0);
    if (!os || !gpu)
        return NULL;
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:s, s:o, s:O, s:s, s:s}", "image", h->image,
                     "sha256", h->sha256, "size", (json_int_t)h->size, "format", "raw",
                     "architecture", get(p, "architecture"), "os", os, "kernel", get(p, "kernel"),
                     "gpu", gpu, "packages", p->packages, "template", h->template, "built_at",
                     when);
}

int box_vm_facts_build(const char *report, size_t len, const struct box_vm_facts_host *host,
                       json_t **out, struct box_err *err)
{
    *out = NULL;
    if (len > BOX_VM_FACTS_REPORT_MAX)
        return box_err_set(err, EFBIG, "facts report: %zu bytes, more than %u", len,
                           BOX_VM_FACTS_REPORT_MAX);
    if (memchr(report, '\0', len))
        return box_err_set(err, EINVAL, "facts report: contains a NUL byte");
    char buf[BOX_VM_FACTS_REPORT_MAX + 1];
    memcpy(buf, report, len);
    buf[len] = '\0';
    struct parsed p = {.packages = json_object()};
    if (!p.packages)
        return box_err_set(err, ENOMEM, "facts");
    unsigned lineno = 0;
    char *save = NULL;
    int r = 0;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (++lineno > BOX_VM_FACTS_LINES_MAX) {
            r = box_err_set(err, E2BIG, "facts report: more than %u lines", BOX_VM_FACTS_LINES_MAX);
            break;
        }
        if (*line == '\0' || *line == '#')
            continue;
        r = take_line(&p, lineno, line, err);
        if (r < 0)
            break;
    }
    if (r >= 0)
        r = check_complete(&p, err);
    if (r >= 0) {
        *out = build_json(&p, host);
        if (!*out)
            r = box_err_set(err, ENOMEM, "facts: building the JSON object");
    }
    json_decref(p.packages);
    return r;
}
