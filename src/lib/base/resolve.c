#include "lib/base/resolve.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_SYMLINKS 40

static int have_openat2 = -1;

static int sys_openat2(int dirfd, const char *path, struct open_how *how)
{
    return (int)syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}

/* Opens the already-resolved, symlink-free relative path `rel` one component
 * at a time with O_NOFOLLOW, so a component swapped for a symlink fails. */
static int open_nofollow_chain(int rootfd, const char *rel, int flags)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", rel);
    int cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return -errno;
    char *save = NULL;
    char *comp = strtok_r(buf, "/", &save);
    if (!comp) {
        int fd = openat(cur, ".", flags | O_CLOEXEC);
        int e = errno;
        close(cur);
        return fd < 0 ? -e : fd;
    }
    while (comp) {
        char *next = strtok_r(NULL, "/", &save);
        int fd = openat(cur, comp, (next ? O_PATH : flags) | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        if (fd < 0)
            return -e;
        cur = fd;
        comp = next;
    }
    return cur;
}

/* Fallback for kernels without openat2: a lexical walk that keeps the resolved
 * prefix as a string, expands each symlink against the root by hand, and
 * restarts; ".." never climbs above the root. */
static int walk_in_root(int rootfd, const char *path, int flags)
{
    char todo[PATH_MAX], done[PATH_MAX] = "";
    if (snprintf(todo, sizeof(todo), "%s", path) >= (int)sizeof(todo))
        return -ENAMETOOLONG;
    for (int links = 0; links <= MAX_SYMLINKS; links++) {
        char *save = NULL, *comp;
        bool restarted = false;
        char work[PATH_MAX];
        snprintf(work, sizeof(work), "%s", todo);
        for (comp = strtok_r(work, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
            if (strcmp(comp, ".") == 0)
                continue;
            if (strcmp(comp, "..") == 0) {
                char *slash = strrchr(done, '/');
                if (slash)
                    *slash = '\0';
                else
                    done[0] = '\0';
                continue;
            }
            char cand[PATH_MAX];
            if (snprintf(cand, sizeof(cand), "%s%s%s", done, done[0] ? "/" : "", comp) >=
                (int)sizeof(cand))
                return -ENAMETOOLONG;
            int fd = open_nofollow_chain(rootfd, cand, O_PATH);
            if (fd < 0 && fd != -ELOOP)
                return fd;
            struct stat st;
            if (fd >= 0 && fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && !S_ISLNK(st.st_mode)) {
                close(fd);
                snprintf(done, sizeof(done), "%s", cand);
                continue;
            }
            if (fd >= 0)
                close(fd);
            if (!save || !*save) {
                /* The last component is a symlink: O_NOFOLLOW gets the link
                 * itself (O_PATH) or ELOOP, as openat2 does. */
                if (flags & O_NOFOLLOW)
                    return (flags & O_PATH) ? open_nofollow_chain(rootfd, cand, flags) : -ELOOP;
            }
            /* A symlink: splice its target in front of what remains. */
            char target[PATH_MAX], rest[PATH_MAX] = "";
            int parent = open_nofollow_chain(rootfd, done, O_PATH | O_DIRECTORY);
            if (parent < 0)
                return parent;
            ssize_t n = readlinkat(parent, comp, target, sizeof(target) - 1);
            int e = errno;
            close(parent);
            if (n < 0)
                return -e;
            target[n] = '\0';
            const char *remain = save ? save : "";
            snprintf(rest, sizeof(rest), "%s", remain);
            if (target[0] == '/')
                done[0] = '\0';
            if (snprintf(todo, sizeof(todo), "%s/%s", target, rest) >= (int)sizeof(todo))
                return -ENAMETOOLONG;
            restarted = true;
            break;
        }
        if (!restarted)
            return open_nofollow_chain(rootfd, done, flags);
    }
    return -ELOOP;
}

int box_root_open(int rootfd, const char *path, int flags, struct box_err *err)
{
    if (have_openat2 != 0) {
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC),
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        if (flags & O_CREAT)
            how.mode = 0644;
        int fd;
        do {
            fd = sys_openat2(rootfd, path, &how);
        } while (fd < 0 && errno == EAGAIN);
        if (fd >= 0 || errno != ENOSYS) {
            have_openat2 = 1;
            if (fd < 0)
                return box_err_sys(err, errno, "open `%s` inside the root", path);
            return fd;
        }
        have_openat2 = 0;
    }
    int fd = walk_in_root(rootfd, path, flags);
    if (fd < 0)
        return box_err_sys(err, -fd, "open `%s` inside the root", path);
    return fd;
}

/* Opens the directory at the first `end` bytes of path inside the root. */
static int open_prefix(int rootfd, const char *path, size_t end)
{
    char prefix[PATH_MAX];
    memcpy(prefix, path, end);
    prefix[end] = '\0';
    return end ? box_root_open(rootfd, prefix, O_PATH | O_DIRECTORY, NULL)
               : openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

int box_root_mkdirs(int rootfd, const char *path, mode_t mode, struct box_err *err)
{
    size_t len = strlen(path);
    if (len >= PATH_MAX)
        return box_err_set(err, ENAMETOOLONG, "path `%s` too long", path);
    int fd = box_root_open(rootfd, path, O_PATH | O_DIRECTORY, NULL);
    if (fd >= 0)
        return fd;
    /* Component boundaries: ends[k] is where the first k+1 components end. */
    size_t ends[PATH_MAX / 2], starts[PATH_MAX / 2], n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && path[i] == '/')
            i++;
        if (i >= len)
            break;
        starts[n] = i;
        while (i < len && path[i] != '/')
            i++;
        ends[n++] = i;
    }
    /* The longest prefix that exists, by bisection: a prefix resolves only
     * if every shorter one does. Linear re-resolution from the root would
     * cost quadratically many lookups on a long hostile path. */
    size_t lo = 0, hi = n; /* prefix of lo components exists; of hi+1 does not */
    while (lo < hi) {
        size_t mid = (lo + hi + 1) / 2;
        int t = open_prefix(rootfd, path, ends[mid - 1]);
        if (t >= 0) {
            close(t);
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    int parent = open_prefix(rootfd, path, lo ? ends[lo - 1] : 0);
    if (parent < 0)
        return box_err_sys(err, -parent > 0 ? -parent : errno, "open `%.*s` inside the root",
                           (int)(lo ? ends[lo - 1] : 1), lo ? path : "/");
    /* Below it everything is new: made and entered one level at a time,
     * never following a symlink a racer might put in its place. */
    for (size_t k = lo; k < n; k++) {
        char name[NAME_MAX + 1];
        size_t nlen = ends[k] - starts[k];
        if (nlen > NAME_MAX) {
            close(parent);
            return box_err_set(err, ENAMETOOLONG, "component of `%s` too long", path);
        }
        memcpy(name, path + starts[k], nlen);
        name[nlen] = '\0';
        bool made = mkdirat(parent, name, mode) == 0;
        if (!made && errno != EEXIST) {
            int e = errno;
            close(parent);
            return box_err_sys(err, e, "mkdir `%.*s` inside the root", (int)ends[k], path);
        }
        /* What was there already (a dangling or looping link, a racer's
         * directory) is resolved inside the root, for the true error. */
        int next = made ? openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                        : open_prefix(rootfd, path, ends[k]);
        int e = next < 0 ? (made ? errno : -next) : 0;
        close(parent);
        if (next < 0)
            return box_err_sys(err, e, "open `%.*s` inside the root", (int)ends[k], path);
        parent = next;
    }
    return parent;
}

static int not_a_dir(int fd, const char *path, struct box_err *err)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return box_err_set(err, EISDIR, "`%s` inside the root is a directory, not a file", path);
    }
    return fd;
}

int box_root_mkfile(int rootfd, const char *path, mode_t mode, struct box_err *err)
{
    int fd = box_root_open(rootfd, path, O_PATH, NULL);
    if (fd >= 0)
        return not_a_dir(fd, path, err);
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
        return box_err_set(err, ENAMETOOLONG, "path `%s` too long", path);
    char *slash = strrchr(dir, '/');
    const char *name = path;
    _cleanup_close_ int parent = -1;
    if (slash) {
        *slash = '\0';
        name = slash + 1;
        parent = box_root_mkdirs(rootfd, dir[0] ? dir : "/", 0755, err);
    } else {
        parent = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    if (parent < 0)
        return parent < -1 ? parent : box_err_sys(err, errno, "open parent of `%s`", path);
    /* O_EXCL|O_NOFOLLOW: a symlink planted at the name is never followed. */
    int cfd = openat(parent, name, O_CREAT | O_EXCL | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, mode);
    if (cfd < 0 && errno != EEXIST)
        return box_err_sys(err, errno, "create `%s` inside the root", path);
    if (cfd >= 0)
        close(cfd);
    fd = box_root_open(rootfd, path, O_PATH, err);
    return fd < 0 ? fd : not_a_dir(fd, path, err);
}

struct box_fdpath box_fdpath(int fd)
{
    struct box_fdpath p;
    snprintf(p.s, sizeof(p.s), "/proc/self/fd/%d", fd);
    return p;
}
