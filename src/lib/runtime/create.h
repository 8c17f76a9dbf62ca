/* Pieces of `create` shared with `run`. */
#ifndef BOX_RUNTIME_CREATE_H
#define BOX_RUNTIME_CREATE_H

#include <limits.h>
#include <stddef.h>

#include "lib/runtime/spec.h"

struct box_prepared {
    struct box_spec spec;
    char bundle[PATH_MAX];
    char rootfs[PATH_MAX];
};

void box_rfc3339_now(char *buf, size_t len);

#endif
