/* The spec directories: which files are read, which are trusted, and how a
 * fully qualified device name resolves (CDI SPEC.md: a later directory
 * wins; the same device twice in one directory is a conflict and neither
 * definition is used). */
#include "lib/cdi/cdi.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const box_cdi_default_dirs[2] = {"/etc/cdi", "/var/run/cdi"};

static int add_error(struct box_cdi_registry *reg, const char *path, const char *msg)
{
    if (reg->n_errors % 8 == 0) {
        struct box_cdi_file_error *n = realloc(reg->errors, (reg->n_errors + 8) * sizeof(*n));
        if (!n)
            return -ENOMEM;
        reg->errors = n;
    }
    struct box_cdi_file_error *e = &reg->errors[reg->n_errors];
    e->path = strdup(path);
    e->msg = strdup(msg);
    if (!e->path || !e->msg) {
        free(e->path);
        free(e->msg);
        return -ENOMEM;
    }
    reg->n_errors++;
    return 0;
}

/* Spec files name host paths to bind and hooks that run with the runtime's
 * privileges: only root or the caller may be able to change them. */
static int check_trust(const struct stat *st, const char *path, struct box_err *err)
{
    uid_t me = geteuid();
    if (st->st_uid != 0 && st->st_uid != me)
        return box_err_set(err, EPERM,
                           "`%s`: owned by uid %u, neither root nor the caller: refused", path,
                           (unsigned)st->st_uid);
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return box_err_set(err, EPERM, "`%s`: writable by group or others (mode %04o): refused",
                           path, (unsigned)(st->st_mode & 07777));
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The spec file names of a directory, sorted (readdir order is arbitrary). */
static int list_dir(DIR *d, const char *dir, char ***out, size_t *n, struct box_err *err)
{
    char **names = NULL;
    size_t count = 0;
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d))) {
        enum box_cdi_format fmt;
        if (de->d_name[0] == '.' || box_cdi_format_of(de->d_name, &fmt) < 0)
            continue;
        if (count == BOX_CDI_MAX_FILES) {
            r = box_err_set(err, E2BIG, "CDI spec directory `%s`: more than %d spec files", dir,
                            BOX_CDI_MAX_FILES);
            break;
        }
        char **nn = realloc(names, (count + 1) * sizeof(*names));
        if (!nn || !(nn[count] = strdup(de->d_name))) {
            names = nn ? nn : names;
            r = -ENOMEM;
            break;
        }
        names = nn;
        count++;
    }
    if (r < 0) {
        for (size_t i = 0; i < count; i++)
            free(names[i]);
        free(names);
        return r;
    }
    if (count)
        qsort(names, count, sizeof(*names), cmp_names);
    *out = names;
    *n = count;
    return 0;
}

static int load_file(struct box_cdi_registry *reg, int dfd, const char *dir, const char *name,
                     unsigned prio)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct box_err e = {0};
    struct stat st;
    int r;
    if (fstatat(dfd, name, &st, 0) < 0)
        r = box_err_sys(&e, errno, "`%s`", path);
    else
        r = check_trust(&st, path, &e);
    struct box_cdi_spec spec;
    if (r >= 0)
        r = box_cdi_spec_load(dfd, name, path, &spec, &e);
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return add_error(reg, path, e.msg);
    spec.priority = prio;
    reg->specs[reg->n_specs++] = spec;
    return 0;
}

static int load_dir(struct box_cdi_registry *reg, const char *dir, unsigned prio,
                    struct box_err *err)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ENOENT)
            return 0;
        return box_err_sys(err, errno, "CDI spec directory `%s`", dir);
    }
    struct stat st;
    struct box_err e = {0};
    if (fstat(dfd, &st) < 0 || check_trust(&st, dir, &e) < 0) {
        close(dfd);
        /* An untrusted directory: none of its files are read. */
        return add_error(reg, dir, e.code ? e.msg : "cannot stat the directory");
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -ENOMEM;
    }
    char **names = NULL;
    size_t n = 0;
    int r = list_dir(d, dir, &names, &n, err);
    if (r >= 0 && n) {
        struct box_cdi_spec *ns = realloc(reg->specs, (reg->n_specs + n) * sizeof(*ns));
        if (!ns)
            r = -ENOMEM;
        else
            reg->specs = ns;
    }
    for (size_t i = 0; i < n; i++) {
        if (r >= 0)
            r = load_file(reg, dirfd(d), dir, names[i], prio);
        free(names[i]);
    }
    free(names);
    closedir(d);
    return r;
}

static struct box_cdi_entry *find(struct box_cdi_registry *reg, const char *q)
{
    for (size_t i = 0; i < reg->n_entries; i++)
        if (strcmp(reg->entries[i].qualified, q) == 0)
            return &reg->entries[i];
    return NULL;
}

static int index_devices(struct box_cdi_registry *reg)
{
    size_t total = 0;
    for (size_t i = 0; i < reg->n_specs; i++)
        total += reg->specs[i].n_devices;
    reg->entries = calloc(total ? total : 1, sizeof(*reg->entries));
    if (!reg->entries)
        return -ENOMEM;
    for (size_t i = 0; i < reg->n_specs; i++) {
        const struct box_cdi_spec *s = &reg->specs[i];
        for (size_t k = 0; k < s->n_devices; k++) {
            char *q;
            if (asprintf(&q, "%s=%s", s->kind, s->devices[k].name) < 0)
                return -ENOMEM;
            struct box_cdi_entry *e = find(reg, q);
            if (e && e->spec->priority == s->priority) {
                free(q);
                e->other = s; /* a conflict: neither is used */
                continue;
            }
            if (!e)
                e = &reg->entries[reg->n_entries++];
            else
                free(e->qualified);
            *e = (struct box_cdi_entry){.qualified = q, .spec = s, .dev = &s->devices[k]};
        }
    }
    return 0;
}

int box_cdi_registry_load(struct box_cdi_registry *reg, const char *const *dirs, size_t n_dirs,
                          struct box_err *err)
{
    memset(reg, 0, sizeof(*reg));
    if (!dirs) {
        dirs = box_cdi_default_dirs;
        n_dirs = BOX_ARRAY_SIZE(box_cdi_default_dirs);
    }
    if (n_dirs > BOX_CDI_MAX_DIRS)
        return box_err_set(err, E2BIG, "more than %d CDI spec directories", BOX_CDI_MAX_DIRS);
    reg->dirs = calloc(n_dirs + 1, sizeof(*reg->dirs));
    if (!reg->dirs)
        return -ENOMEM;
    int r = 0;
    for (size_t i = 0; i < n_dirs && r >= 0; i++) {
        if (!(reg->dirs[i] = strdup(dirs[i])))
            r = -ENOMEM;
        else
            reg->n_dirs++;
        if (r >= 0)
            r = load_dir(reg, dirs[i], (unsigned)i, err);
    }
    if (r >= 0)
        r = index_devices(reg);
    if (r < 0) {
        if (r == -ENOMEM)
            box_err_set(err, ENOMEM, "CDI spec directories: out of memory");
        box_cdi_registry_free(reg);
    }
    return r;
}

void box_cdi_registry_free(struct box_cdi_registry *reg)
{
    for (size_t i = 0; i < reg->n_dirs; i++)
        free(reg->dirs[i]);
    free(reg->dirs);
    for (size_t i = 0; i < reg->n_specs; i++)
        box_cdi_spec_free(&reg->specs[i]);
    free(reg->specs);
    for (size_t i = 0; i < reg->n_entries; i++)
        free(reg->entries[i].qualified);
    free(reg->entries);
    for (size_t i = 0; i < reg->n_errors; i++) {
        free(reg->errors[i].path);
        free(reg->errors[i].msg);
    }
    free(reg->errors);
    memset(reg, 0, sizeof(*reg));
}

const struct box_cdi_entry *box_cdi_registry_find(const struct box_cdi_registry *reg, const char *q)
{
    return find((struct box_cdi_registry *)reg, q);
}

bool box_cdi_registry_has_kind(const struct box_cdi_registry *reg, const char *kind)
{
    for (size_t i = 0; i < reg->n_entries; i++)
        if (!reg->entries[i].other && strcmp(reg->entries[i].spec->kind, kind) == 0)
            return true;
    return false;
}

/* "dir1, dir2" for error messages. */
static void dirs_text(const struct box_cdi_registry *reg, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < reg->n_dirs && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", reg->dirs[i]);
}

static int unresolvable(const struct box_cdi_registry *reg, char *const *names, size_t n,
                        struct box_err *err)
{
    char list[512] = "", dirs[256];
    size_t off = 0;
    for (size_t i = 0; i < n && off < sizeof(list); i++)
        if (!box_cdi_registry_find(reg, names[i]))
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s`%s`", off ? ", " : "",
                                    names[i]);
    dirs_text(reg, dirs, sizeof(dirs));
    if (reg->n_errors)
        return box_err_set(err, ENODEV,
                           "unresolvable CDI devices %s (searched %s; %zu spec file%s refused, "
                           "the first: %s)",
                           list, dirs, reg->n_errors, reg->n_errors > 1 ? "s" : "",
                           reg->errors[0].msg);
    return box_err_set(err, ENODEV, "unresolvable CDI devices %s (searched %s)", list, dirs);
}

/* "`file`: devices[N].containerEdits" or "`file`: containerEdits"; NULL without memory. */
static char *label(const char *path, const char *what, unsigned index, bool device)
{
    char *s;
    int r = device ? asprintf(&s, "`%s`: %s[%u].containerEdits", path, what, index)
                   : asprintf(&s, "`%s`: %s", path, what);
    return r < 0 ? NULL : s;
}

int box_cdi_registry_resolve(const struct box_cdi_registry *reg, char *const *names, size_t n,
                             json_t ***edits, char ***where, size_t *n_edits, struct box_err *err)
{
    *edits = NULL;
    *where = NULL;
    *n_edits = 0;
    for (size_t i = 0; i < n; i++) {
        const struct box_cdi_entry *e = box_cdi_registry_find(reg, names[i]);
        if (!e)
            return unresolvable(reg, names, n, err);
        if (e->other)
            return box_err_set(err, ENOTUNIQ,
                               "CDI device `%s` is defined twice in one directory, in `%s` and "
                               "`%s`: a conflict, neither is used",
                               names[i], e->spec->path, e->other->path);
    }
    json_t **ed = calloc(2 * n + 1, sizeof(*ed));
    char **wh = calloc(2 * n + 1, sizeof(*wh));
    const struct box_cdi_spec **seen = calloc(n + 1, sizeof(*seen));
    size_t k = 0, n_seen = 0;
    int r = ed && wh && seen ? 0 : -ENOMEM;
    for (size_t i = 0; i < n && r >= 0; i++) {
        const struct box_cdi_entry *e = box_cdi_registry_find(reg, names[i]);
        bool first = true;
        for (size_t s = 0; s < n_seen; s++)
            first = first && seen[s] != e->spec;
        if (first) {
            seen[n_seen++] = e->spec;
            if (e->spec->edits) {
                ed[k] = e->spec->edits;
                if (!(wh[k++] = label(e->spec->path, "containerEdits", 0, false)))
                    r = -ENOMEM;
            }
        }
        ed[k] = e->dev->edits;
        if (r >= 0 && !(wh[k++] = label(e->spec->path, "devices", e->dev->index, true)))
            r = -ENOMEM;
    }
    free(seen);
    if (r < 0) {
        for (size_t i = 0; wh && i < k; i++)
            free(wh[i]);
        free(wh);
        free(ed);
        return box_err_set(err, ENOMEM, "CDI: out of memory");
    }
    *edits = ed;
    *where = wh;
    *n_edits = k;
    return 0;
}
