/* The driver's libraries for `box cdi generate`: every lib*.so.<version> in
 * the directories where the linker cache (the driver root's
 * /etc/ld.so.cache) and the usual library directories put them, each with
 * the soname links that the container needs (read from the library's
 * DT_SONAME, as ldconfig would make them). */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cdi/discover.h"
#include "lib/cdi/elf.h"
#include "lib/cdi/ldcache.h"

#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#elif defined(__powerpc64__)
#define MULTIARCH "powerpc64le-linux-gnu"
#else
#define MULTIARCH "unknown-linux-gnu"
#endif

/* Where distributions put the driver's libraries besides what the linker
 * cache lists (Debian's packages: nvidia/current). */
static const char *const lib_dirs[] = {
    "/usr/lib/" MULTIARCH,
    "/usr/lib/" MULTIARCH "/nvidia/current",
    "/usr/lib64",
    "/usr/lib",
    "/lib/" MULTIARCH,
    "/lib64",
    "/lib",
};

#define LIBCUDA "libcuda.so."

/* "lib<x>.so.<version>". */
static bool driver_lib_name(const char *name, const char *version)
{
    size_t n = strlen(name), v = strlen(version);
    return n > 3 + 4 + v && strncmp(name, "lib", 3) == 0 && strcmp(name + n - v, version) == 0 &&
           strncmp(name + n - v - 4, ".so.", 4) == 0;
}

/* The version in "libcuda.so.<version>", when it looks like a driver's. */
static bool version_from_name(const char *name, char *out, size_t size)
{
    if (strncmp(name, LIBCUDA, strlen(LIBCUDA)) != 0)
        return false;
    const char *v = name + strlen(LIBCUDA);
    if (!box_gen_version_ok(v) || !strchr(v, '.') || strlen(v) >= size)
        return false;
    snprintf(out, size, "%s", v);
    return true;
}

static int add_str(char ***v, size_t *n, const char *s, struct box_err *err)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return 0;
    if (*n >= BOX_GEN_MAX_FILES)
        return box_err_set(err, E2BIG, "more than %d library directories", BOX_GEN_MAX_FILES);
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv)
        return box_err_set(err, ENOMEM, "out of memory");
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return box_err_set(err, ENOMEM, "out of memory");
    (*n)++;
    return 1;
}

static int add_link(struct box_gen_host *h, const char *target, const char *link,
                    struct box_err *err)
{
    for (size_t i = 0; i < h->n_links; i++)
        if (strcmp(h->links[i].link, link) == 0)
            return 0; /* the first library that claims a name keeps it */
    if (h->n_links >= BOX_GEN_MAX_FILES)
        return box_err_set(err, E2BIG, "more than %d soname links", BOX_GEN_MAX_FILES);
    struct box_gen_link *nv = realloc(h->links, (h->n_links + 1) * sizeof(*nv));
    if (!nv)
        return box_err_set(err, ENOMEM, "out of memory");
    h->links = nv;
    nv[h->n_links] = (struct box_gen_link){strdup(target), strdup(link)};
    if (!nv[h->n_links].target || !nv[h->n_links].link) {
        free(nv[h->n_links].target);
        free(nv[h->n_links].link);
        return box_err_set(err, ENOMEM, "out of memory");
    }
    h->n_links++;
    return 0;
}

/* libcuda.so.<ver> with SONAME libcuda.so.1: libcuda.so.1 -> libcuda.so.<ver>
 * and libcuda.so -> libcuda.so.1. A file that is no usable ELF gets no
 * links but is still mounted (the driver decides what it ships). */
static int soname_links(struct gen_ctx *c, int dfd, const char *dir, const char *name,
                        struct box_err *err)
{
    _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return box_err_sys(err, errno, "open `%s/%s`", dir, name);
    struct box_elf_info info;
    struct box_err e = {0};
    if (box_elf_read(fd, name, &info, &e) < 0 || !*info.soname)
        return 0;
    char link[PATH_MAX];
    const char *sep = strcmp(dir, "/") == 0 ? "" : "/";
    int r = 0;
    if (strcmp(info.soname, name) != 0) {
        snprintf(link, sizeof(link), "%s%s%s", dir, sep, info.soname);
        if ((r = add_link(c->h, name, link, err)) < 0)
            return r;
    }
    char *so = strstr(info.soname, ".so.");
    if (so) {
        snprintf(link, sizeof(link), "%s%s%.*s", dir, sep, (int)(so + 3 - info.soname),
                 info.soname);
        if (strcmp(link + strlen(dir) + strlen(sep), name) != 0)
            r = add_link(c->h, info.soname, link, err);
    }
    return r;
}

/* Mounts every lib*.so.<version> regular file of one directory. */
static int scan_dir(struct gen_ctx *c, const char *dir, struct box_err *err)
{
    char host[PATH_MAX], cpath[PATH_MAX];
    int fd = gen_open(&c->drv, dir, O_RDONLY | O_DIRECTORY, err);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    int r = gen_resolved(&c->drv, fd, host, cpath, err);
    _cleanup_close_ int dfd = r < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
    char **names = NULL;
    size_t n = 0, found = 0;
    if (r >= 0)
        r = gen_list_dir(fd, dir, &names, &n, 16384, err);
    else
        close(fd);
    for (size_t i = 0; r >= 0 && i < n; i++) {
        struct stat st;
        if (!driver_lib_name(names[i], c->h->version) ||
            fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        char fh[PATH_MAX * 2], fp[PATH_MAX * 2];
        const char *sep = strcmp(cpath, "/") == 0 ? "" : "/";
        snprintf(fh, sizeof(fh), "%s%s%s", host, strcmp(host, "/") == 0 ? "" : "/", names[i]);
        snprintf(fp, sizeof(fp), "%s%s%s", cpath, sep, names[i]);
        r = gen_add_file(&c->h->mounts, &c->h->n_mounts, fh, fp, err);
        if (r > 0) {
            found++;
            c->h->n_libs++;
            r = soname_links(c, dfd, cpath, names[i], err);
        }
    }
    if (r >= 0 && found)
        r = add_str(&c->h->lib_dirs, &c->h->n_lib_dirs, cpath, err);
    gen_strv_free(names, n);
    return r < 0 ? r : 0;
}

/* The driver version from a libcuda.so.<version> in one directory. */
static int version_in_dir(struct gen_ctx *c, const char *dir, struct box_err *err)
{
    int fd = gen_open(&c->drv, dir, O_RDONLY | O_DIRECTORY, err);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    char **names = NULL;
    size_t n = 0;
    int r = gen_list_dir(fd, dir, &names, &n, 16384, err);
    for (size_t i = 0; r >= 0 && i < n && !*c->h->version; i++)
        version_from_name(names[i], c->h->version, sizeof(c->h->version));
    gen_strv_free(names, n);
    return r < 0 ? r : 0;
}

/* An entry's path resolved inside the driver root: a regular file. */
static int cache_target(struct gen_ctx *c, const char *path, char cpath[PATH_MAX],
                        struct box_err *err)
{
    char host[PATH_MAX];
    _cleanup_close_ int fd = gen_open(&c->drv, path, O_PATH, err);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return -ENOENT;
    return gen_resolved(&c->drv, fd, host, cpath, err);
}

/* Directories named by the linker cache for this version's libraries (and
 * the version itself, from libcuda's real name, when proc did not say). */
static int cache_dirs(struct gen_ctx *c, char ***dirs, size_t *n, struct box_err *err)
{
    const char *path = "/etc/ld.so.cache";
    _cleanup_close_ int fd = gen_open(&c->drv, path, O_RDONLY, err);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    struct box_ldcache lc;
    int r = box_ldcache_read(fd, path, &lc, err);
    if (r < 0)
        return box_err_prefix(err, "%s `%s`", c->drv.flag, c->drv.path);
    for (int pass = 0; pass < 2 && r >= 0; pass++) {
        if (pass == 0 && *c->h->version)
            continue;
        for (size_t i = 0; r >= 0 && i < lc.n; i++) {
            char cpath[PATH_MAX];
            if (!box_ldcache_native(lc.entries[i].flags))
                continue;
            if (pass == 0 && strncmp(lc.entries[i].soname, "libcuda.so", 10) != 0)
                continue;
            r = cache_target(c, lc.entries[i].path, cpath, err);
            if (r == -ENOENT) {
                r = 0;
                continue;
            }
            if (r < 0)
                break;
            if (pass == 0)
                version_from_name(basename(cpath), c->h->version, sizeof(c->h->version));
            else if (driver_lib_name(basename(cpath), c->h->version))
                r = add_str(dirs, n, dirname(cpath), err);
        }
    }
    box_ldcache_free(&lc);
    return r < 0 ? r : 0;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const struct box_gen_file *)a)->path, ((const struct box_gen_file *)b)->path);
}

static int cmp_link(const void *a, const void *b)
{
    return strcmp(((const struct box_gen_link *)a)->link, ((const struct box_gen_link *)b)->link);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_found(struct gen_ctx *c, struct box_err *err)
{
    char want[BOX_GEN_VERSION_MAX + 16];
    snprintf(want, sizeof(want), LIBCUDA "%s", c->h->version);
    for (size_t i = 0; i < c->h->n_libs; i++) {
        const char *slash = strrchr(c->h->mounts[i].path, '/');
        if (strcmp(slash ? slash + 1 : c->h->mounts[i].path, want) == 0)
            return 0;
    }
    return box_err_set(err, ENOENT,
                       "no `%s` under %s `%s` (looked through /etc/ld.so.cache and /usr/lib, "
                       "/usr/lib64, /lib and their " MULTIARCH " directories)",
                       want, c->drv.flag, c->drv.path);
}

/* ---- whole directories ------------------------------------------------------ */

/* Whether `path` lies directly in `dir` (container paths). */
static bool in_dir(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && path[n] == '/' && !strchr(path + n + 1, '/');
}

static bool usual_dir(const char *dir)
{
    for (size_t i = 0; i < BOX_ARRAY_SIZE(lib_dirs); i++)
        if (strcmp(dir, lib_dirs[i]) == 0)
            return true;
    return false;
}

/* A driver installed under its own prefix (/usr/local/nvidia/lib64) often
 * has a directory that holds exactly this version's libraries and the
 * links box would make: then the directory is mounted once, read-only, in
 * place of a mount per library and a link per name, which is most of what a
 * GPU container costs to start. It qualifies only when every entry is a
 * library of this version that is mounted anyway, or a symlink that is one
 * of the soname links, with the same target, and every soname link of the
 * directory is there: the container then sees exactly what the per-file
 * spec would have shown. The usual system directories never qualify. */
static int whole_dir(struct gen_ctx *c, const char *dir, bool *ok, struct box_err *err)
{
    *ok = false;
    if (strcmp(dir, "/") == 0 || usual_dir(dir))
        return 0;
    int fd = gen_open(&c->drv, dir, O_RDONLY | O_DIRECTORY, err);
    if (fd < 0)
        return fd == -ENOENT ? 0 : fd;
    _cleanup_close_ int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    char **names = NULL;
    size_t n = 0, files = 0, links = 0, want_files = 0, want_links = 0;
    int r = dfd < 0 ? box_err_sys(err, errno, "`%s`", dir)
                    : gen_list_dir(fd, dir, &names, &n, BOX_GEN_MAX_FILES, err);
    if (dfd < 0)
        close(fd);
    bool good = r >= 0;
    for (size_t i = 0; good && i < n; i++) {
        struct stat st;
        char path[PATH_MAX * 2];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
            good = false;
        } else if (S_ISREG(st.st_mode)) {
            good = false;
            for (size_t k = 0; k < c->h->n_libs && !good; k++)
                good = strcmp(c->h->mounts[k].path, path) == 0;
            files++;
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t l = readlinkat(dfd, names[i], target, sizeof(target) - 1);
            good = false;
            if (l > 0) {
                target[l] = '\0';
                for (size_t k = 0; k < c->h->n_links && !good; k++)
                    good = strcmp(c->h->links[k].link, path) == 0 &&
                           strcmp(c->h->links[k].target, target) == 0;
            }
            links++;
        } else {
            good = false;
        }
    }
    gen_strv_free(names, n);
    for (size_t k = 0; k < c->h->n_libs; k++)
        want_files += in_dir(c->h->mounts[k].path, dir);
    for (size_t k = 0; k < c->h->n_links; k++)
        want_links += in_dir(c->h->links[k].link, dir);
    *ok = good && files == want_files && links == want_links;
    return r < 0 ? r : 0;
}

/* Replaces the library mounts and soname links of dir by one mount of dir. */
static int mount_whole(struct gen_ctx *c, const char *dir, struct box_err *err)
{
    struct box_gen_host *h = c->h;
    char host[PATH_MAX], cpath[PATH_MAX];
    _cleanup_close_ int fd = gen_open(&c->drv, dir, O_PATH | O_DIRECTORY, err);
    if (fd < 0)
        return fd;
    int r = gen_resolved(&c->drv, fd, host, cpath, err);
    if (r < 0)
        return r;
    size_t kept = 0;
    for (size_t k = 0; k < h->n_mounts; k++) {
        if (k < h->n_libs && in_dir(h->mounts[k].path, dir)) {
            free(h->mounts[k].host);
            free(h->mounts[k].path);
            continue;
        }
        h->mounts[kept++] = h->mounts[k];
    }
    h->n_libs -= h->n_mounts - kept;
    h->n_mounts = kept;
    kept = 0;
    for (size_t k = 0; k < h->n_links; k++) {
        if (in_dir(h->links[k].link, dir)) {
            free(h->links[k].target);
            free(h->links[k].link);
            continue;
        }
        h->links[kept++] = h->links[k];
    }
    h->n_links = kept;
    /* The directory counts among the libraries: they come first. */
    r = gen_add_file(&h->mounts, &h->n_mounts, host, dir, err);
    if (r > 0) {
        struct box_gen_file m = h->mounts[h->n_mounts - 1];
        memmove(h->mounts + h->n_libs + 1, h->mounts + h->n_libs,
                (h->n_mounts - 1 - h->n_libs) * sizeof(*h->mounts));
        h->mounts[h->n_libs++] = m;
    }
    return r < 0 ? r : 0;
}

int gen_read_libraries(struct gen_ctx *c, struct box_err *err)
{
    char **dirs = NULL;
    size_t n = 0;
    int r = cache_dirs(c, &dirs, &n, err);
    for (size_t i = 0; r >= 0 && i < BOX_ARRAY_SIZE(lib_dirs) && !*c->h->version; i++)
        r = version_in_dir(c, lib_dirs[i], err);
    if (r >= 0 && !*c->h->version)
        r = box_err_set(err, ENOENT,
                        "no driver version: %s `%s` has no /proc/driver/nvidia/version and "
                        "%s `%s` no " LIBCUDA "<version>",
                        c->proc.flag, c->proc.path, c->drv.flag, c->drv.path);
    for (size_t i = 0; r >= 0 && i < BOX_ARRAY_SIZE(lib_dirs); i++)
        r = add_str(&dirs, &n, lib_dirs[i], err);
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = scan_dir(c, dirs[i], err);
    gen_strv_free(dirs, n);
    if (r < 0)
        return r;
    /* qsort must not see a NULL array, even an empty one. */
    if (c->h->n_libs)
        qsort(c->h->mounts, c->h->n_libs, sizeof(*c->h->mounts), cmp_file);
    if (c->h->n_links)
        qsort(c->h->links, c->h->n_links, sizeof(*c->h->links), cmp_link);
    if (c->h->n_lib_dirs)
        qsort(c->h->lib_dirs, c->h->n_lib_dirs, sizeof(*c->h->lib_dirs), cmp_str);
    r = check_found(c, err);
    for (size_t i = 0; r >= 0 && i < c->h->n_lib_dirs; i++) {
        bool ok;
        r = whole_dir(c, c->h->lib_dirs[i], &ok, err);
        if (r >= 0 && ok)
            r = mount_whole(c, c->h->lib_dirs[i], err);
    }
    if (r >= 0 && c->h->n_libs)
        qsort(c->h->mounts, c->h->n_libs, sizeof(*c->h->mounts), cmp_file);
    return r < 0 ? r : 0;
}
