#include "lib/base/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int box_read_fd(int fd, size_t max, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max + 1) {
                free(buf);
                return -EFBIG;
            }
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            free(buf);
            return -EFBIG;
        }
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int box_read_file(int dirfd, const char *path, size_t max, char **out, size_t *len,
                  struct box_err *err)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return box_err_sys(err, errno, "open `%s`", path);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
        return box_err_set(err, EFBIG, "`%s` is %lld bytes, more than the limit of %zu", path,
                           (long long)st.st_size, max);
    int r = box_read_fd(fd, max, out, len);
    if (r == -EFBIG)
        return box_err_set(err, EFBIG, "`%s` is larger than the limit of %zu bytes", path, max);
    if (r < 0)
        return box_err_sys(err, -r, "read `%s`", path);
    return 0;
}

int box_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int box_write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                          struct box_err *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), ".%s.tmp.%d", name, (int)getpid()) >= (int)sizeof(tmp))
        return box_err_set(err, ENAMETOOLONG, "file name `%s` too long", name);
    /* A fresh file, never one already there: in a container's root the
     * image may have put a FIFO (which would block) or a device node under
     * this name, and box's pid inside a pid namespace is easy to guess. */
    unlinkat(dirfd, tmp, 0);
    _cleanup_close_ int fd =
        openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return box_err_sys(err, errno, "create `%s`", tmp);
    /* No fsync: rename alone guarantees a reader sees the old file or the new
     * one; durability across power loss is moot for what box writes (state
     * of live processes, pid files, specs the caller can write again). */
    int r = box_write_all(fd, data, len);
    if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
        r = -errno;
    if (r < 0) {
        unlinkat(dirfd, tmp, 0);
        return box_err_sys(err, -r, "write `%s`", name);
    }
    return 0;
}

int box_write_string(int dirfd, const char *path, const char *s, struct box_err *err)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return box_err_sys(err, errno, "open `%s`", path);
    size_t n = strlen(s);
    ssize_t w;
    do {
        w = write(fd, s, n);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return box_err_sys(err, errno, "write `%s` to `%s`", s, path);
    if ((size_t)w != n)
        return box_err_set(err, EIO, "short write of `%s` to `%s`", s, path);
    return 0;
}

int box_mkdir_p(const char *path, mode_t mode, struct box_err *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return box_err_set(err, ENAMETOOLONG, "path `%s` too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return box_err_sys(err, errno, "mkdir `%s`", buf);
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return box_err_sys(err, errno, "mkdir `%s`", buf);
    return 0;
}

static int remove_tree_depth(int parent, const char *name, dev_t dev, int depth)
{
    if (depth > 256)
        return -ELOOP;
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -errno;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || (dev && st.st_dev != dev)) {
        close(fd);
        return -EXDEV;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int rr = remove_tree_depth(dirfd(d), de->d_name, st.st_dev, depth + 1);
        if (rr < 0 && r == 0)
            r = rr;
    }
    closedir(d);
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
        r = -errno;
    return r;
}

int box_remove_tree(int dirfd, const char *name)
{
    return remove_tree_depth(dirfd, name, 0, 0);
}

int box_write_pid_file(const char *path, pid_t pid, struct box_err *err)
{
    char abs[PATH_MAX], dir[PATH_MAX], num[24];
    if (path[0] == '/')
        snprintf(abs, sizeof(abs), "%s", path);
    else if (!getcwd(dir, sizeof(dir)) || snprintf(abs, sizeof(abs), "%s/%s", dir, path) < 0)
        return box_err_sys(err, errno, "--pid-file");
    snprintf(dir, sizeof(dir), "%s", abs);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    _cleanup_close_ int dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return box_err_sys(err, errno, "--pid-file `%s`", path);
    int n = snprintf(num, sizeof(num), "%d", (int)pid);
    if (box_write_file_atomic(dfd, slash + 1, num, (size_t)n, 0644, err) < 0)
        return box_err_prefix(err, "--pid-file");
    return 0;
}
