/* The typed message channel between `box create` and the container's init
 * (a SOCK_SEQPACKET socketpair): the init reports every setup failure with
 * its own message, and the two sides step through the phases the
 * runtime-spec orders. */
#ifndef BOX_RUNTIME_SYNC_H
#define BOX_RUNTIME_SYNC_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/base/err.h"

enum box_sync_type {
    BOX_SYNC_GO = 1,     /* parent -> init: cgroup joined, id maps written */
    BOX_SYNC_HOOKS,      /* init -> parent: mounts done, run prestart/createRuntime */
    BOX_SYNC_HOOKS_DONE, /* parent -> init */
    BOX_SYNC_READY,      /* init -> parent: waiting for start */
    BOX_SYNC_ERROR,      /* init -> parent: setup failed (code, msg) */
    BOX_SYNC_SECCOMP,    /* init -> parent: the seccomp listener fd comes attached */
};

struct box_sync_msg {
    int type;
    int code;
    char msg[BOX_ERR_MSG_MAX];
};

static inline int box_sync_send(int fd, int type, const struct box_err *err)
{
    struct box_sync_msg m = {.type = type};
    if (err) {
        m.code = err->code;
        memcpy(m.msg, err->msg, sizeof(m.msg));
    }
    ssize_t n;
    do {
        n = send(fd, &m, sizeof(m), MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(m) ? 0 : -EPIPE;
}

/* A message of `type` with `passed` attached (SCM_RIGHTS). */
static inline int box_sync_send_fd(int fd, int type, int passed)
{
    struct box_sync_msg m = {.type = type};
    struct iovec iov = {&m, sizeof(m)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr h = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &passed, sizeof(int));
    ssize_t n;
    do {
        n = sendmsg(fd, &h, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(m) ? 0 : -EPIPE;
}

/* 0 on a message, -EPIPE when the peer is gone. A peer that exits with our
 * message unread in its queue leaves ECONNRESET pending on this socket,
 * reported before the message it sent last: read past it once. *passed
 * (when not NULL) is the fd that came with the message (close-on-exec),
 * else -1; without passed such an fd is closed. */
static inline int box_sync_recv_fd(int fd, struct box_sync_msg *m, int *passed)
{
    memset(m, 0, sizeof(*m));
    if (passed)
        *passed = -1;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {m, sizeof(*m)};
    struct msghdr h;
    ssize_t n;
    int resets = 0, got = -1;
    do {
        h = (struct msghdr){.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = u.buf,
                            .msg_controllen = sizeof(u.buf)};
        n = recvmsg(fd, &h, MSG_CMSG_CLOEXEC);
    } while (n < 0 && (errno == EINTR || (errno == ECONNRESET && resets++ == 0)));
    struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&h) : NULL;
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(&got, CMSG_DATA(c), sizeof(int));
    if (passed && n == (ssize_t)sizeof(*m))
        *passed = got;
    else if (got >= 0)
        close(got);
    if (n != (ssize_t)sizeof(*m))
        return -EPIPE;
    m->msg[sizeof(m->msg) - 1] = '\0';
    return 0;
}

static inline int box_sync_recv(int fd, struct box_sync_msg *m)
{
    return box_sync_recv_fd(fd, m, NULL);
}

#endif
