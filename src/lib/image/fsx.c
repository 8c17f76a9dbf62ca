#include "lib/image/fsx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Removal recursion bound; trees we stage are bounded far below this. */
#define REMOVE_MAX_DEPTH 512

static int openat2_confined(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (unsigned)(flags | O_CLOEXEC),
        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    for (int tries = 0;; tries++) {
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        /* openat2(2): EAGAIN when a concurrent rename raced the lookup. */
        if (errno == EAGAIN && tries < 16)
            continue;
        return -errno;
    }
}

/* Fallback without openat2: one component at a time, never following. */
static int open_walk(int dirfd, const char *path, int flags, mode_t mode)
{
    char buf[4096 + 1];
    if (path[0] == '/' || strlen(path) >= sizeof(buf))
        return -EXDEV;
    strcpy(buf, path);
    int cur = -1;
    char *save = NULL;
    char *comp = strtok_r(buf, "/", &save);
    while (comp) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(comp, "..") == 0) {
            if (cur >= 0)
                close(cur);
            return -EXDEV;
        }
        int base = cur >= 0 ? cur : dirfd;
        int fd = next ? openat(base, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                      : openat(base, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
        int saved = errno;
        if (cur >= 0)
            close(cur);
        if (fd < 0)
            return -(saved == ENOTDIR && next ? ELOOP : saved);
        cur = fd;
        comp = next;
    }
    return cur >= 0 ? cur : -EINVAL;
}

int box_fsx_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
    static bool no_openat2;
    if (!no_openat2) {
        int fd = openat2_confined(dirfd, path, flags, mode);
        if (fd != -ENOSYS)
            return fd;
        no_openat2 = true;
    }
    return open_walk(dirfd, path, flags, mode);
}

int box_fsx_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int box_fsx_mkdtemp_at(int dirfd, const char *prefix, char *name_out, size_t name_size)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int tries = 0; tries < 64; tries++) {
        unsigned char rnd[6];
        char suffix[7];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            return -errno ? -errno : -EIO;
        for (size_t i = 0; i < sizeof(rnd); i++)
            suffix[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
        suffix[6] = '\0';
        if ((size_t)snprintf(name_out, name_size, "%s%s", prefix, suffix) >= name_size)
            return -ENAMETOOLONG;
        if (mkdirat(dirfd, name_out, 0700) == 0)
            return 0;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

static int remove_children(int dfd, int depth, struct box_err *err);

static int remove_entry(int dfd, const char *name, int depth, struct box_err *err)
{
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return box_err_sys(err, errno, "remove `%s`", name);
    if (depth >= REMOVE_MAX_DEPTH)
        return box_err_set(err, ELOOP, "remove `%s`: tree deeper than %d", name, REMOVE_MAX_DEPTH);
    int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return errno == ENOENT ? 0 : box_err_sys(err, errno, "open `%s`", name);
    int r = remove_children(sub, depth + 1, err);
    if (r < 0)
        return box_err_prefix(err, "in `%s`", name);
    if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return box_err_sys(err, errno, "remove directory `%s`", name);
    return 0;
}

/* Takes ownership of dfd. */
static int remove_children(int dfd, int depth, struct box_err *err)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return box_err_sys(err, e, "read directory");
    }
    int r = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                r = box_err_sys(err, errno, "read directory");
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        r = remove_entry(dirfd(d), de->d_name, depth, err);
        if (r < 0)
            break;
    }
    closedir(d);
    return r;
}

int box_fsx_remove_tree(int dirfd, const char *name, struct box_err *err)
{
    return remove_entry(dirfd, name, 0, err);
}

int box_fsx_mkdir_p(const char *path, mode_t mode, struct box_err *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return box_err_set(err, ENAMETOOLONG, "`%s`: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return box_err_sys(err, errno, "create directory `%s`", buf);
        *p = saved;
        if (!saved)
            break;
    }
    return 0;
}

int box_fsx_read_file(const char *path, size_t max, char **buf, size_t *len, struct box_err *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return box_err_sys(err, errno, "open `%s`", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return box_err_sys(err, errno, "stat `%s`", path);
    if (!S_ISREG(st.st_mode))
        return box_err_set(err, EINVAL, "`%s` is not a regular file", path);
    if ((uint64_t)st.st_size > max)
        return box_err_set(err, EFBIG, "`%s` is larger than %zu bytes", path, max);
    _cleanup_free_ char *data = malloc((size_t)st.st_size + 1);
    if (!data)
        return box_err_set(err, ENOMEM, "read `%s`", path);
    size_t got = 0;
    while (got <= (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return box_err_sys(err, errno, "read `%s`", path);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got > (size_t)st.st_size)
        return box_err_set(err, EFBIG, "`%s` grew while being read", path);
    data[got] = '\0';
    *buf = box_steal(&data);
    *len = got;
    return 0;
}
