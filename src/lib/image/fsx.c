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
int box_fsx_open_walk(int dirfd, const char *path, int flags, mode_t mode)
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
    return box_fsx_open_walk(dirfd, path, flags, mode);
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
