#include "lib/base/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void vformat(struct box_err *err, const char *fmt, va_list ap)
{
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int box_err_set(struct box_err *err, int code, const char *fmt, ...)
{
    if (code < 0)
        code = -code;
    if (code == 0)
        code = EINVAL;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vformat(err, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return -code;
}

int box_err_sys(struct box_err *err, int code, const char *fmt, ...)
{
    if (code < 0)
        code = -code;
    if (code == 0)
        code = EIO;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vformat(err, fmt, ap);
        va_end(ap);
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(code));
        err->code = code;
    }
    return -code;
}

int box_err_prefix(struct box_err *err, const char *fmt, ...)
{
    if (!err)
        return -EINVAL;
    char prefix[BOX_ERR_MSG_MAX];
    char old[BOX_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
    if (err->code == 0)
        err->code = EINVAL;
    return -err->code;
}

void box_err_clear(struct box_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

void box_freep(void *p)
{
    free(*(void **)p);
}

void box_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
    *fd = -1;
}
