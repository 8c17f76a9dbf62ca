/* The last steps before a container process execs, shared by a container's
 * init and by `exec`: fds, the console, the sealed trampoline. */
#include "lib/runtime/launch.h"

#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "lib/base/fs.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern const unsigned char box_trampoline_start[];
extern const unsigned char box_trampoline_end[];

/* Closes every fd from `first` up, except those in keep: the init must hold
 * nothing of the runtime's (state root, lock, bundle) that a process could
 * reach through /proc/self/fd (CVE-2024-21626). */
void box_launch_close_fds_except(unsigned first, int *keep, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned lo = first;
    for (size_t i = 0; i < n; i++) {
        if (keep[i] < 0 || (unsigned)keep[i] < lo)
            continue;
        if ((unsigned)keep[i] > lo)
            syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
        lo = (unsigned)keep[i] + 1;
    }
    syscall(SYS_close_range, lo, ~0U, 0);
}

/* Makes the pty the session's controlling terminal and the program's stdio. */
int box_launch_console_attach(int peer, struct box_err *err)
{
    if (setsid() < 0 || ioctl(peer, TIOCSCTTY, 0) < 0)
        return box_err_sys(err, errno, "process.terminal: make the pty the controlling terminal");
    for (int fd = 0; fd < 3; fd++)
        if (dup2(peer, fd) < 0)
            return box_err_sys(err, errno, "process.terminal: attach stdio");
    close(peer);
    return 0;
}

/* The trampoline in a sealed memfd: nothing can write to it, and
 * /proc/self/exe of the process that execs the program points at it. */
int box_launch_trampoline_fd(struct box_err *err)
{
    /* Both symbols delimit one object, the embedded file (blob.S). */
    // cppcheck-suppress comparePointers
    size_t len = (size_t)(box_trampoline_end - box_trampoline_start);
    int fd = memfd_create("box-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL)
        fd = memfd_create("box-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return box_err_sys(err, errno, "memfd for the trampoline");
    if (box_write_all(fd, box_trampoline_start, len) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        int e = errno;
        close(fd);
        return box_err_sys(err, e, "seal the trampoline");
    }
    return fd;
}

int box_launch_prepare_fds(unsigned preserve_fds, struct box_err *err)
{
    /* Only stdio and the preserved fds reach the program: everything else
     * is close-on-exec now, the caller's stray fds included. */
    unsigned first = 3 + preserve_fds;
    if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        for (int fd = (int)first; fd < 65536; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    for (unsigned fd = 3; fd < first; fd++)
        if (fcntl((int)fd, F_SETFD, 0) < 0)
            return box_err_sys(err, errno, "--preserve-fds: fd %u is not open", fd);
    return 0;
}

int box_launch_connect_console(const char *path, struct box_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return box_err_set(err, ENAMETOOLONG, "--console-socket `%s`: path too long", path);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return box_err_sys(err, e, "--console-socket `%s`", path);
    }
    return fd;
}

int box_launch_send_fd(int sock, int fd)
{
    return box_launch_send_fd_with(sock, "p", 1, fd) < 0 ? -errno : 0;
}

ssize_t box_launch_send_fd_with(int sock, const void *data, size_t len, int fd)
{
    struct iovec iov = {(void *)data, len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n;
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
}
