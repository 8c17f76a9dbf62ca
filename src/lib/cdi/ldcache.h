/* A bounded reader of glibc's linker cache (/etc/ld.so.cache): the current
 * format ("glibc-ld.so.cache1.1"), the old one ("ld.so-1.7.0") and the two
 * together (ldconfig -c compat, where the current one is preferred, as
 * glibc's loader does). `box cdi generate` finds the driver's libraries
 * through it, the way the dynamic loader would. */
#ifndef BOX_CDI_LDCACHE_H
#define BOX_CDI_LDCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"

/* A real cache holds a few thousand entries in well under 1 MiB. */
#define BOX_LDCACHE_MAX_BYTES   (16u << 20)
#define BOX_LDCACHE_MAX_ENTRIES 65536

struct box_ldcache_entry {
    uint32_t flags;     /* type in the low byte, architecture in the next */
    const char *soname; /* the key: "libcuda.so.1" */
    const char *path;   /* the value: "/usr/lib/x86_64-linux-gnu/libcuda.so.1" */
};

struct box_ldcache {
    char *data; /* a private copy that the entries point into */
    size_t len;
    struct box_ldcache_entry *entries;
    size_t n;
    bool old_format; /* only the old format was present */
};

/* Parses a cache image; every entry's strings are NUL-terminated inside it,
 * the soname is a plain name and the path absolute. -EINVAL naming the
 * entry and the field at fault. */
int box_ldcache_parse(const void *data, size_t len, struct box_ldcache *c, struct box_err *err);
/* Reads (at most BOX_LDCACHE_MAX_BYTES) and parses the open file fd; `what`
 * names it in errors. */
int box_ldcache_read(int fd, const char *what, struct box_ldcache *c, struct box_err *err);
void box_ldcache_free(struct box_ldcache *c);
/* Whether an entry's flags name a library for this machine's ABI (on
 * x86_64: libc6, x86-64 lib64; not i386 or x32). */
bool box_ldcache_native(uint32_t flags);

#endif
