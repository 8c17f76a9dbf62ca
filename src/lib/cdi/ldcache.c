#include "lib/cdi/ldcache.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/fs.h"

/* glibc sysdeps/generic/dl-cache.h: the layouts, byte for byte. */
#define OLD_MAGIC    "ld.so-1.7.0"
#define NEW_MAGIC    "glibc-ld.so.cache1.1"
#define OLD_HDR_SIZE 16 /* magic[11], pad, uint32 nlibs */
#define OLD_ENTRY    12 /* int32 flags, uint32 key, uint32 value */
#define NEW_HDR_SIZE 48 /* magic+version[20], nlibs, len_strings, flags, ext, unused */
#define NEW_ENTRY    24 /* flags, key, value, osversion, uint64 hwcap */
#define NEW_ALIGN    8  /* __alignof__(struct cache_file_new) */
#define FLAG_TYPE    0x00ff
#define FLAG_ARCH    0xff00
#define FLAG_LIBC6   0x0003
/* The extension directory (glibc 2.33): its magic, the glibc-hwcaps
 * section's tag, and the hwcap value of an entry that indexes it. */
#define EXT_MAGIC        ((uint32_t)-358342284)
#define EXT_TAG_HWCAPS   1
#define EXT_SECTION      16 /* tag, flags, offset, size */
#define EXT_MAX          64
#define HWCAP_EXT_HIGH   0x40000000u /* DL_CACHE_HWCAP_EXTENSION >> 32 */
#define HWCAP_ISA_LEVEL  0x3ffu      /* glibc 2.33 to 2.36 keep an ISA level there */
#define HWCAPS_MAX_NAMES 64

static uint32_t u32_at(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t u64_at(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* The string at base+off, NUL-terminated before the end of the data and
 * shorter than PATH_MAX. */
static const char *string_at(const struct box_ldcache *c, size_t base, uint32_t off)
{
    if (base > c->len || off >= c->len - base)
        return NULL;
    const char *s = c->data + base + off;
    size_t room = c->len - base - off;
    const char *nul = memchr(s, '\0', room < PATH_MAX ? room : PATH_MAX);
    return nul ? s : NULL;
}

static int bad_entry(size_t i, const char *field, const char *why, struct box_err *err)
{
    return box_err_set(err, EINVAL, "`ld.so.cache`: entry %zu: %s %s", i, field, why);
}

static int check_entry(const struct box_ldcache_entry *e, size_t i, struct box_err *err)
{
    if (!e->soname)
        return bad_entry(i, "key", "points outside the cache or is unterminated", err);
    if (!e->path)
        return bad_entry(i, "value", "points outside the cache or is unterminated", err);
    if (!*e->soname || strchr(e->soname, '/'))
        return bad_entry(i, "key", "is not a plain library name", err);
    if (e->path[0] != '/')
        return bad_entry(i, "value", "is not an absolute path", err);
    return 0;
}

/* The names of the glibc-hwcaps section, if the cache whose current-format
 * header is at `base` has one. glibc reads the extension directory, its
 * sections and the names at offsets from the start of the file (the same
 * as from the header unless the current format hides in the old one). */
struct hwcaps {
    const char *names[HWCAPS_MAX_NAMES];
    size_t n;
};

static int read_hwcaps(const struct box_ldcache *c, size_t base, struct hwcaps *h,
                       struct box_err *err)
{
    h->n = 0;
    uint32_t ext = u32_at(c->data + base + 32);
    size_t room = c->len;
    if (ext == 0)
        return 0;
    if (ext % 4 || ext > room || room - ext < 8 || u32_at(c->data + ext) != EXT_MAGIC)
        return box_err_set(err, EINVAL, "`ld.so.cache`: bad extension directory");
    uint32_t count = u32_at(c->data + ext + 4);
    if (count > EXT_MAX || (room - ext - 8) / EXT_SECTION < count)
        return box_err_set(err, EINVAL, "`ld.so.cache`: bad extension directory");
    for (uint32_t i = 0; i < count; i++) {
        const char *sec = c->data + ext + 8 + (size_t)i * EXT_SECTION;
        uint32_t off = u32_at(sec + 8), size = u32_at(sec + 12);
        if (u32_at(sec) != EXT_TAG_HWCAPS)
            continue;
        if (off % 4 || size % 4 || off > room || size > room - off || size / 4 > HWCAPS_MAX_NAMES)
            return box_err_set(err, EINVAL, "`ld.so.cache`: bad glibc-hwcaps section");
        for (h->n = 0; h->n < size / 4; h->n++) {
            h->names[h->n] = string_at(c, 0, u32_at(c->data + off + h->n * 4));
            if (!h->names[h->n] || !*h->names[h->n] || strchr(h->names[h->n], '/'))
                return box_err_set(err, EINVAL, "`ld.so.cache`: glibc-hwcaps name %zu is bad",
                                   h->n);
        }
    }
    return 0;
}

/* Reads n entries of `size` bytes from `at`, string offsets from `base`;
 * the current format's entries carry osversion and hwcap too. */
static int read_entries(struct box_ldcache *c, size_t at, size_t n, size_t size, size_t base,
                        const struct hwcaps *h, struct box_err *err)
{
    if (n > BOX_LDCACHE_MAX_ENTRIES)
        return box_err_set(err, EINVAL, "`ld.so.cache`: %zu entries (at most %u)", n,
                           BOX_LDCACHE_MAX_ENTRIES);
    if (at > c->len || n > (c->len - at) / size)
        return box_err_set(err, EINVAL, "`ld.so.cache`: %zu entries do not fit in %zu bytes", n,
                           c->len);
    c->entries = calloc(n ? n : 1, sizeof(*c->entries));
    if (!c->entries)
        return box_err_set(err, ENOMEM, "`ld.so.cache`: out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *p = c->data + at + i * size;
        struct box_ldcache_entry *e = &c->entries[i];
        e->flags = u32_at(p);
        e->soname = string_at(c, base, u32_at(p + 4));
        e->path = string_at(c, base, u32_at(p + 8));
        if (size == NEW_ENTRY) {
            e->osversion = u32_at(p + 12);
            e->hwcap = u64_at(p + 16);
        }
        if (size == NEW_ENTRY &&
            ((uint32_t)(e->hwcap >> 32) & ~HWCAP_ISA_LEVEL) == HWCAP_EXT_HIGH) {
            if ((uint32_t)e->hwcap >= h->n)
                return bad_entry(i, "hwcap", "names no glibc-hwcaps subdirectory", err);
            e->hwcaps = h->names[(uint32_t)e->hwcap];
        }
        int r = check_entry(e, i, err);
        if (r < 0)
            return r;
    }
    c->n = n;
    return 0;
}

static int parse_new(struct box_ldcache *c, size_t at, struct box_err *err)
{
    if (c->len - at < NEW_HDR_SIZE)
        return box_err_set(err, EINVAL, "`ld.so.cache`: truncated header");
    uint32_t nlibs = u32_at(c->data + at + 20);
    /* Entries that do not fit are reported as such, before the extension. */
    if (nlibs > BOX_LDCACHE_MAX_ENTRIES || nlibs > (c->len - at - NEW_HDR_SIZE) / NEW_ENTRY)
        return read_entries(c, at + NEW_HDR_SIZE, nlibs, NEW_ENTRY, at, NULL, err);
    _cleanup_free_ struct hwcaps *h = malloc(sizeof(*h));
    if (!h)
        return box_err_set(err, ENOMEM, "`ld.so.cache`: out of memory");
    int r = read_hwcaps(c, at, h, err);
    if (r < 0)
        return r;
    /* glibc: string offsets of the current format count from its header. */
    return read_entries(c, at + NEW_HDR_SIZE, nlibs, NEW_ENTRY, at, h, err);
}

int box_ldcache_parse(const void *data, size_t len, struct box_ldcache *c, struct box_err *err)
{
    memset(c, 0, sizeof(*c));
    if (len > BOX_LDCACHE_MAX_BYTES)
        return box_err_set(err, EFBIG, "`ld.so.cache`: %zu bytes (at most %u)", len,
                           BOX_LDCACHE_MAX_BYTES);
    c->data = malloc(len ? len : 1);
    if (!c->data)
        return box_err_set(err, ENOMEM, "`ld.so.cache`: out of memory");
    memcpy(c->data, data, len);
    c->len = len;
    int r;
    if (len >= sizeof(NEW_MAGIC) - 1 && memcmp(c->data, NEW_MAGIC, sizeof(NEW_MAGIC) - 1) == 0) {
        r = parse_new(c, 0, err);
    } else if (len >= OLD_HDR_SIZE && memcmp(c->data, OLD_MAGIC, sizeof(OLD_MAGIC) - 1) == 0) {
        uint32_t nlibs = u32_at(c->data + 12);
        if (nlibs > (len - OLD_HDR_SIZE) / OLD_ENTRY) {
            r = box_err_set(err, EINVAL, "`ld.so.cache`: %u entries do not fit in %zu bytes", nlibs,
                            len);
        } else {
            /* ldconfig -c compat hides the current format in the old one's
             * string table, aligned; the loader prefers it when present. */
            size_t end = OLD_HDR_SIZE + (size_t)nlibs * OLD_ENTRY;
            size_t at = (end + NEW_ALIGN - 1) & ~(size_t)(NEW_ALIGN - 1);
            if (at <= len && len - at >= sizeof(NEW_MAGIC) - 1 &&
                memcmp(c->data + at, NEW_MAGIC, sizeof(NEW_MAGIC) - 1) == 0) {
                r = parse_new(c, at, err);
            } else {
                c->old_format = true;
                r = read_entries(c, OLD_HDR_SIZE, nlibs, OLD_ENTRY, end, NULL, err);
            }
        }
    } else {
        r = box_err_set(err, EINVAL, "`ld.so.cache`: not a glibc linker cache (unknown magic)");
    }
    if (r < 0)
        box_ldcache_free(c);
    return r;
}

int box_ldcache_read(int fd, const char *what, struct box_ldcache *c, struct box_err *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    memset(c, 0, sizeof(*c));
    int r = box_read_fd(fd, BOX_LDCACHE_MAX_BYTES, &buf, &len);
    if (r == -EFBIG)
        return box_err_set(err, EFBIG, "`%s` is larger than the limit of %u bytes", what,
                           BOX_LDCACHE_MAX_BYTES);
    if (r < 0)
        return box_err_sys(err, -r, "read `%s`", what);
    r = box_ldcache_parse(buf, len, c, err);
    if (r < 0)
        return box_err_prefix(err, "`%s`", what);
    return 0;
}

void box_ldcache_free(struct box_ldcache *c)
{
    free(c->entries);
    free(c->data);
    memset(c, 0, sizeof(*c));
}

bool box_ldcache_native(uint32_t flags)
{
    if ((flags & FLAG_TYPE) != FLAG_LIBC6)
        return false;
#if defined(__x86_64__) && !defined(__ILP32__)
    return (flags & FLAG_ARCH) == 0x0300;
#elif defined(__aarch64__)
    return (flags & FLAG_ARCH) == 0x0a00;
#elif defined(__powerpc64__)
    return (flags & FLAG_ARCH) == 0x0500;
#elif defined(__i386__)
    return (flags & FLAG_ARCH) == 0;
#else
    return true;
#endif
}
