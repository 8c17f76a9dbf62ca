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

/* 0 on a message, -EPIPE when the peer is gone. A peer that exits with our
 * message unread in its queue leaves ECONNRESET pending on this socket,
 * reported before the message it sent last: read past it once. */
static inline int box_sync_recv(int fd, struct box_sync_msg *m)
{
    ssize_t n;
    int resets = 0;
    do {
        n = recv(fd, m, sizeof(*m), 0);
    } while (n < 0 && (errno == EINTR || (errno == ECONNRESET && resets++ == 0)));
    if (n != (ssize_t)sizeof(*m))
        return -EPIPE;
    m->msg[sizeof(m->msg) - 1] = '\0';
    return 0;
}

#endif
