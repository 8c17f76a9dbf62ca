/* `box hook update-ldcache` without ldconfig: the libraries of the folders
 * are read where they lie in the root (each folder opened through the
 * in-root resolver, each file without following links), merged into the
 * image's linker cache, and the cache written back atomically. Nothing of
 * the image runs. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/resolve.h"
#include "lib/cdi/elf.h"
#include "lib/cdi/hook.h"
#include "lib/cdi/ldcache.h"

#define CACHE_DIR  "/etc"
#define CACHE_NAME "ld.so.cache"

/* The entries found in the folders; their strings are owned here. */
struct found {
    struct box_ldcache_entry *e;
    size_t n, cap;
};

static void found_free(struct found *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free((char *)f->e[i].soname);
        free((char *)f->e[i].path);
    }
    free(f->e);
}

static int found_add(struct found *f, uint32_t flags, const char *soname, const char *folder,
                     const char *name, struct box_err *err)
{
    if (f->n == BOX_LDCACHE_MAX_ENTRIES)
        return box_err_set(err, E2BIG, "more than %u libraries", BOX_LDCACHE_MAX_ENTRIES);
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct box_ldcache_entry *e = realloc(f->e, cap * sizeof(*e));
        if (!e)
            return box_err_set(err, ENOMEM, "out of memory");
        f->e = e;
        f->cap = cap;
    }
    char *path = NULL, *key = strdup(soname);
    /* "/" as a folder gives "/libx.so.1", not "//libx.so.1". */
    if (!key || asprintf(&path, "%s/%s", strcmp(folder, "/") == 0 ? "" : folder, name) < 0) {
        free(key);
        return box_err_set(err, ENOMEM, "out of memory");
    }
    f->e[f->n++] = (struct box_ldcache_entry){.flags = flags, .soname = key, .path = path};
    return 0;
}

/* ldconfig's test for a library's file name: lib*.so* or ld-*.so*. */
static bool library_name(const char *name)
{
    return (strncmp(name, "lib", 3) == 0 || strncmp(name, "ld-", 3) == 0) &&
           strstr(name, ".so") != NULL;
}

struct names {
    char **v;
    size_t n;
};

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool names_has(const struct names *ns, const char *name)
{
    return ns->n && bsearch(&name, ns->v, ns->n, sizeof(char *), cmp_str) != NULL;
}

/* The regular files named like libraries, sorted, and every name (for the
 * soname links), sorted too. */
static int names_push(struct names *ns, size_t *cap, char *name)
{
    if (ns->n == *cap) {
        size_t want = *cap ? *cap * 2 : 64;
        char **v = realloc(ns->v, want * sizeof(char *));
        if (!v)
            return -ENOMEM;
        ns->v = v;
        *cap = want;
    }
    ns->v[ns->n++] = name;
    return 0;
}

static int list_folder(int dfd, const char *folder, struct names *libs, struct names *all,
                       struct box_err *err)
{
    int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return box_err_sys(err, errno, "--folder `%s`: read", folder);
    }
    size_t cap_all = 0, cap_libs = 0;
    int r = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (all->n == BOX_HOOK_SCAN_MAX) {
            r = box_err_set(err, E2BIG, "--folder `%s`: more than %d names", folder,
                            BOX_HOOK_SCAN_MAX);
            break;
        }
        bool reg = de->d_type == DT_REG;
        struct stat st;
        if (de->d_type == DT_UNKNOWN && library_name(de->d_name))
            reg = fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
        char *copy = strdup(de->d_name);
        if (!copy || names_push(all, &cap_all, copy) < 0) {
            free(copy);
            r = box_err_set(err, ENOMEM, "out of memory");
        } else if (reg && library_name(copy) && names_push(libs, &cap_libs, copy) < 0) {
            r = box_err_set(err, ENOMEM, "out of memory");
        }
    }
    closedir(d);
    if (all->n)
        qsort(all->v, all->n, sizeof(char *), cmp_str);
    if (libs->n)
        qsort(libs->v, libs->n, sizeof(char *), cmp_str);
    /* libs borrows from all: only all frees the strings. */
    return r;
}

/* One library file: its SONAME (the file name when it has none, as
 * ldconfig does) and this machine's flags, or 0 to skip it. */
static uint32_t read_library(int dfd, const char *name, char soname[BOX_ELF_SONAME_MAX])
{
    /* Not following a link, not blocking on a FIFO put in its place. */
    _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct box_elf_info info;
    struct box_err ignored = {0};
    if (fd < 0 || box_elf_read(fd, name, &info, &ignored) < 0 || !info.has_dynamic)
        return 0;
    snprintf(soname, BOX_ELF_SONAME_MAX, "%s", *info.soname ? info.soname : name);
    return box_ldcache_native_flags(info.is64, info.machine);
}

static int scan_folder(int rootfd, const char *folder, struct found *f, struct box_err *err)
{
    /* A folder that is not there holds nothing (ldconfig skips it too). */
    _cleanup_close_ int dfd = box_root_open(rootfd, folder, O_RDONLY | O_DIRECTORY, NULL);
    if (dfd < 0)
        return 0;
    struct names libs = {0}, all = {0};
    int r = list_folder(dfd, folder, &libs, &all, err);
    for (size_t i = 0; r == 0 && i < libs.n; i++) {
        char soname[BOX_ELF_SONAME_MAX];
        uint32_t flags = read_library(dfd, libs.v[i], soname);
        if (!flags)
            continue;
        /* The soname link when the folder has it (create-symlinks made
         * it), else the file itself. */
        r = found_add(f, flags, soname, folder, names_has(&all, soname) ? soname : libs.v[i], err);
    }
    free(libs.v);
    names_free(&all);
    return r;
}

/* A regular file's content, at most max bytes; -ENOENT when there is no
 * regular file there (a link is not followed, a FIFO does not block). */
static int read_regular(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    _cleanup_close_ int fd =
        openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -ENOENT;
    if ((uint64_t)st.st_size > max)
        return -EFBIG;
    return box_read_fd(fd, max, out, len);
}

int box_cdi_hook_write_if_changed(int dirfd, const char *name, const void *data, size_t len,
                                  struct box_err *err)
{
    _cleanup_free_ char *have = NULL;
    size_t have_len = 0;
    if (read_regular(dirfd, name, len, &have, &have_len) == 0 && have_len == len &&
        memcmp(have, data, len) == 0)
        return 0;
    return box_write_file_atomic(dirfd, name, data, len, 0644, err);
}

struct key_ref {
    const struct box_ldcache_entry *e;
    size_t index;
};

static int key_cmp(const void *pa, const void *pb)
{
    const struct box_ldcache_entry *a = ((const struct key_ref *)pa)->e;
    const struct box_ldcache_entry *b = ((const struct key_ref *)pb)->e;
    int r = strcmp(a->soname, b->soname);
    if (r == 0 && a->flags != b->flags)
        r = a->flags < b->flags ? -1 : 1;
    return r;
}

/* key_cmp, then the path, then the order found. */
static int full_cmp(const void *pa, const void *pb)
{
    const struct key_ref *a = pa, *b = pb;
    int r = key_cmp(a, b);
    if (r == 0)
        r = strcmp(a->e->path, b->e->path);
    if (r == 0 && a->index != b->index)
        r = a->index < b->index ? -1 : 1;
    return r;
}

/* The found entries (one per name, flags and path: the first), then the
 * image's entries whose name and flags none of ours has. */
static int merge(const struct found *f, const struct box_ldcache *old,
                 struct box_ldcache_entry **out, size_t *n, struct box_err *err)
{
    _cleanup_free_ struct key_ref *keys = calloc(f->n ? f->n : 1, sizeof(*keys));
    _cleanup_free_ bool *drop = calloc(f->n ? f->n : 1, sizeof(bool));
    *out = calloc(f->n + old->n ? f->n + old->n : 1, sizeof(**out));
    if (!keys || !drop || !*out)
        return box_err_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < f->n; i++)
        keys[i] = (struct key_ref){&f->e[i], i};
    qsort(keys, f->n, sizeof(*keys), full_cmp);
    for (size_t i = 1; i < f->n; i++)
        if (key_cmp(&keys[i - 1], &keys[i]) == 0 &&
            strcmp(keys[i - 1].e->path, keys[i].e->path) == 0)
            drop[keys[i].index] = true;
    *n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (!drop[i])
            (*out)[(*n)++] = f->e[i];
    /* keys is sorted by key_cmp too: bsearch finds a name and flags. */
    for (size_t i = 0; i < old->n; i++) {
        struct key_ref k = {&old->entries[i], 0};
        if (!bsearch(&k, keys, f->n, sizeof(*keys), key_cmp))
            (*out)[(*n)++] = old->entries[i];
    }
    return 0;
}

int box_cdi_hook_ldcache_write(int rootfd, char *const *folders, size_t n, struct box_err *err)
{
    if (!box_ldcache_writable())
        return box_err_set(err, EOPNOTSUPP,
                           "no linker cache layout is known for this machine: use --ldconfig");
    struct found f = {0};
    struct box_ldcache old = {0};
    _cleanup_free_ char *raw = NULL, *cache = NULL;
    _cleanup_free_ struct box_ldcache_entry *all = NULL;
    size_t raw_len = 0, len = 0, total = 0;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = scan_folder(rootfd, folders[i], &f, err);
    _cleanup_close_ int etc = r < 0 ? -1 : box_root_mkdirs(rootfd, CACHE_DIR, 0755, err);
    if (r == 0 && etc < 0)
        r = -err->code;
    /* The image's cache, if it has a usable one: a broken one is ignored
     * by the loader too, and replaced here. */
    struct box_err ignored = {0};
    if (r == 0 && read_regular(etc, CACHE_NAME, BOX_LDCACHE_MAX_BYTES, &raw, &raw_len) == 0 &&
        box_ldcache_parse(raw, raw_len, &old, &ignored) < 0)
        memset(&old, 0, sizeof(old));
    if (r == 0)
        r = merge(&f, &old, &all, &total, err);
    /* glibc ignores a cache without entries: then there is nothing to add. */
    if (r == 0 && total > 0)
        r = box_ldcache_serialize(all, total, &cache, &len, err);
    if (r == 0 && cache && !(raw && raw_len == len && memcmp(raw, cache, len) == 0))
        r = box_write_file_atomic(etc, CACHE_NAME, cache, len, 0644, err);
    if (r < 0)
        box_err_prefix(err, "`%s/%s`", CACHE_DIR, CACHE_NAME);
    box_ldcache_free(&old);
    found_free(&f);
    return r;
}
