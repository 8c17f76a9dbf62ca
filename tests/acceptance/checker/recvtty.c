/*
 * recvtty: the receiving end of `--console-socket`, for the acceptance suite.
 *
 *     recvtty SOCKET OUTPUT [SECONDS [INPUT]]
 *
 * Listens on the unix socket SOCKET, accepts one connection and receives one
 * descriptor over SCM_RIGHTS (runtime-spec: the console's pseudoterminal
 * master).  It then writes OUTPUT.info (`fds=N`, `ptn=N` or `ptn=err:ENAME`
 * when the descriptor is no pty master), writes INPUT and a newline to the
 * terminal if given, and copies whatever the terminal prints into OUTPUT
 * until every slave end is closed, the peer hangs up, or SECONDS pass
 * (default 60).  The socket is bound under a temporary name and renamed into
 * place once it listens, so a test can wait for SOCKET to exist.  Exits 0
 * when a pty master was received and read to its end.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 8

static int fail(const char *what, const char *arg)
{
    dprintf(STDERR_FILENO, "recvtty: %s `%s`: %s\n", what, arg, strerror(errno));
    return 1;
}

static int listen_at(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char tmp[sizeof(addr.sun_path)];
    int fd;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(addr.sun_path, tmp, strlen(tmp) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    unlink(tmp);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0 ||
        rename(tmp, path) < 0) {
        int err = errno;

        unlink(tmp);
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* Receives the descriptors of one message; returns how many, or -1. */
static int receive_fds(int conn, int *fds)
{
    char byte[256];
    struct iovec iov = {.iov_base = byte, .iov_len = sizeof(byte)};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    } control;
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    int n = 0;

    if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0) {
        return -1;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        size_t count;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count && n < MAX_FDS; i++) {
            memcpy(&fds[n++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        }
    }
    return n;
}

static int write_info(const char *output, int nfds, int ptn, int ptn_err)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s.info", output);
    snprintf(tmp, sizeof(tmp), "%s.info.tmp", output);
    f = fopen(tmp, "we");
    if (!f) {
        return -1;
    }
    fprintf(f, "fds=%d\n", nfds);
    if (ptn_err) {
        fprintf(f, "ptn=err:%s\n", strerrorname_np(ptn_err));
    } else {
        fprintf(f, "ptn=%d\n", ptn);
    }
    if (fclose(f) != 0) {
        return -1;
    }
    return rename(tmp, path);
}

static long ms_left(const struct timespec *deadline)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Copies the terminal's output into out until EIO (no slave left) or the deadline. */
static int copy_output(int master, int out, const struct timespec *deadline)
{
    char buf[4096];

    for (;;) {
        struct pollfd p = {.fd = master, .events = POLLIN};
        long left = ms_left(deadline);
        ssize_t n;

        if (left <= 0) {
            dprintf(STDERR_FILENO, "recvtty: timed out\n");
            return 1;
        }
        if (poll(&p, 1, (int)(left > INT_MAX ? INT_MAX : left)) <= 0) {
            continue;
        }
        n = read(master, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            return 0; /* EIO: every slave end is closed */
        }
        if (write(out, buf, (size_t)n) != n) {
            return 1;
        }
    }
}

int main(int argc, char **argv)
{
    struct timespec deadline;
    int fds[MAX_FDS];
    int sock, conn, out, nfds, ptn = -1, ptn_err = 0;
    char *end;
    long seconds = 60;

    if (argc < 3 || argc > 5) {
        dprintf(STDERR_FILENO, "usage: recvtty SOCKET OUTPUT [SECONDS [INPUT]]\n");
        return 2;
    }
    if (argc > 3) {
        errno = 0;
        seconds = strtol(argv[3], &end, 10);
        if (errno != 0 || *end != '\0' || end == argv[3] || seconds <= 0 || seconds > 3600) {
            dprintf(STDERR_FILENO, "recvtty: bad timeout `%s`\n", argv[3]);
            return 2;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += seconds;
    alarm((unsigned)seconds + 5); /* never outlive the test, even blocked in accept */

    out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        return fail("open", argv[2]);
    }
    sock = listen_at(argv[1]);
    if (sock < 0) {
        return fail("listen on", argv[1]);
    }
    conn = accept4(sock, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
        return fail("accept on", argv[1]);
    }
    nfds = receive_fds(conn, fds);
    if (nfds < 0) {
        return fail("receive from", argv[1]);
    }
    close(conn);
    close(sock);
    unlink(argv[1]);
    if (nfds > 0 && ioctl(fds[0], TIOCGPTN, &ptn) < 0) {
        ptn_err = errno;
    }
    if (nfds == 0) {
        ptn_err = EBADF;
    }
    if (write_info(argv[2], nfds, ptn, ptn_err) < 0) {
        return fail("write info for", argv[2]);
    }
    if (nfds == 0 || ptn_err) {
        return 1;
    }
    if (argc > 4) {
        dprintf(fds[0], "%s\n", argv[4]);
    }
    return copy_output(fds[0], out, &deadline);
}
