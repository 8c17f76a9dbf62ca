/* Errors that carry context upward: a negative errno plus a message that
 * names the object, extended by each layer. Library code never prints. */
#ifndef BOX_BASE_ERR_H
#define BOX_BASE_ERR_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

#define BOX_ERR_MSG_MAX 1024

struct box_err {
    int code; /* positive errno, 0 when unset */
    char msg[BOX_ERR_MSG_MAX];
};

/* Sets err from a format; returns -code so callers can `return box_err_set(...)`. */
int box_err_set(struct box_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like box_err_set, appending ": strerror(code)". */
int box_err_sys(struct box_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "context: " to the message already in err; returns -code. */
int box_err_prefix(struct box_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void box_err_clear(struct box_err *err);

/* cleanup helpers */
void box_freep(void *p);
void box_closep(int *fd);
#define _cleanup_free_  __attribute__((cleanup(box_freep)))
#define _cleanup_close_ __attribute__((cleanup(box_closep)))

/* Ownership transfer out of a cleanup variable. */
#define box_steal(pp)                                                                              \
    ({                                                                                             \
        __typeof__(*(pp)) _v = *(pp);                                                              \
        *(pp) = NULL;                                                                              \
        _v;                                                                                        \
    })
#define box_steal_fd(pfd)                                                                          \
    ({                                                                                             \
        int _fd = *(pfd);                                                                          \
        *(pfd) = -1;                                                                               \
        _fd;                                                                                       \
    })

#define BOX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
