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
    uint32_t osversion; /* kept as found; glibc no longer reads it */
    uint64_t hwcap;     /* legacy hwcap bits, or an index into the hwcaps names */
    const char *hwcaps; /* the glibc-hwcaps subdirectory ("x86-64-v3") of an
                         * entry whose hwcap marks the extension, else NULL */
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
/* The flags a library of that ELF class and machine gets in this
 * machine's cache; 0 when it is not of this machine's ABI (or box knows no
 * cache layout for this machine). */
uint32_t box_ldcache_native_flags(bool is64, uint16_t machine);
/* Whether box knows this machine's flags, and so can write its cache. */
bool box_ldcache_writable(void);

/* glibc's order of library names (_dl_cache_libcmp): runs of digits
 * compare as numbers, and after any other character. */
int box_ldcache_libcmp(const char *a, const char *b);

/* Writes entries as a cache in the current format only, which glibc's
 * loaders read since 2.2: header, entries in the order the loader's
 * binary search needs (ldconfig's: names descending by libcmp, then flags,
 * glibc-hwcaps entries first, most specific hwcap first; ties keep their
 * order in `entries`), the strings, and a glibc-hwcaps extension when an
 * entry names a subdirectory. Every string must be shorter than PATH_MAX;
 * at most BOX_LDCACHE_MAX_ENTRIES entries. *out is malloc'ed. */
int box_ldcache_serialize(const struct box_ldcache_entry *entries, size_t n, char **out,
                          size_t *len, struct box_err *err);

#endif
