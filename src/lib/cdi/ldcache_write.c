/* The writer of glibc's linker cache (/etc/ld.so.cache), in the layout of
 * glibc's sysdeps/generic/dl-cache.h, current format only. `box hook
 * update-ldcache` writes a container's cache with it instead of running
 * ldconfig. */
#include <elf.h>
#include <endian.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cdi/ldcache.h"

#define NEW_MAGIC      "glibc-ld.so.cache1.1"
#define NEW_HDR_SIZE   48
#define NEW_ENTRY      24
#define FLAG_LIBC6     0x0003
#define EXT_MAGIC      ((uint32_t)-358342284)
#define EXT_TAG_HWCAPS 1
/* An entry is a glibc-hwcaps one when its upper hwcap word is the
 * extension bit, ignoring the ISA level bits glibc 2.33 to 2.36 keep there. */
#define HWCAP_EXT_HIGH  0x40000000u
#define HWCAP_ISA_LEVEL 0x3ffu
/* cache_file_new.flags: the byte order the cache was written in. */
#if __BYTE_ORDER == __LITTLE_ENDIAN
#define ENDIAN_FLAG 2
#else
#define ENDIAN_FLAG 3
#endif

uint32_t box_ldcache_native_flags(bool is64, uint16_t machine)
{
#if defined(__x86_64__) && !defined(__ILP32__)
    return is64 && machine == EM_X86_64 ? 0x0300 | FLAG_LIBC6 : 0;
#elif defined(__aarch64__) && defined(__LP64__)
    return is64 && machine == EM_AARCH64 ? 0x0a00 | FLAG_LIBC6 : 0;
#elif defined(__powerpc64__)
    return is64 && machine == EM_PPC64 ? 0x0500 | FLAG_LIBC6 : 0;
#elif defined(__i386__)
    return !is64 && machine == EM_386 ? FLAG_LIBC6 : 0;
#else
    (void)is64, (void)machine;
    return 0;
#endif
}

bool box_ldcache_writable(void)
{
#if (defined(__x86_64__) && !defined(__ILP32__)) || (defined(__aarch64__) && defined(__LP64__)) || \
    defined(__powerpc64__) || defined(__i386__)
    return true;
#else
    return false;
#endif
}

/* glibc's _dl_cache_libcmp: other characters compare as glibc's plain
 * `char` does on this machine (signed on x86), so that non-ASCII names sort
 * as the loader expects; numbers are kept in unsigned arithmetic (glibc's
 * int can overflow: only runs of ten or more digits could order
 * differently). */
int box_ldcache_libcmp(const char *a, const char *b)
{
    while (*a) {
        bool da = *a >= '0' && *a <= '9', db = *b >= '0' && *b <= '9';
        if (da && db) {
            unsigned long long va = 0, vb = 0;
            while (*a >= '0' && *a <= '9')
                va = va * 10 + (unsigned)(*a++ - '0');
            while (*b >= '0' && *b <= '9')
                vb = vb * 10 + (unsigned)(*b++ - '0');
            if (va != vb)
                return va < vb ? -1 : 1;
        } else if (da) {
            return 1;
        } else if (db) {
            return -1;
        } else if (*a != *b) {
            return *a - *b;
        } else {
            a++, b++;
        }
    }
    return *a - *b;
}

static bool is_hwcaps_entry(const struct box_ldcache_entry *e)
{
    return e->hwcaps && ((uint32_t)(e->hwcap >> 32) & ~HWCAP_ISA_LEVEL) == HWCAP_EXT_HIGH;
}

/* The legacy hwcap bits of an entry (none for a glibc-hwcaps one). */
static uint64_t legacy_hwcap(const struct box_ldcache_entry *e)
{
    return is_hwcaps_entry(e) ? 0 : e->hwcap;
}

struct sort_item {
    const struct box_ldcache_entry *e;
    size_t index;
};

/* ldconfig's compare() of elf/cache.c: negative when a goes first. */
static int entry_order(const void *pa, const void *pb)
{
    const struct sort_item *ia = pa, *ib = pb;
    const struct box_ldcache_entry *a = ia->e, *b = ib->e;
    int r = box_ldcache_libcmp(b->soname, a->soname);
    if (r != 0)
        return r;
    if (a->flags != b->flags)
        return a->flags < b->flags ? 1 : -1;
    bool ha = is_hwcaps_entry(a), hb = is_hwcaps_entry(b);
    if (ha != hb)
        return ha ? -1 : 1;
    if (ha && (r = strcmp(a->hwcaps, b->hwcaps)) != 0)
        return r;
    uint64_t la = legacy_hwcap(a), lb = legacy_hwcap(b);
    int bits_a = __builtin_popcountll(la), bits_b = __builtin_popcountll(lb);
    if (bits_a != bits_b)
        return bits_b > bits_a ? 1 : -1;
    if (la != lb)
        return lb > la ? 1 : -1;
    if (a->osversion != b->osversion)
        return b->osversion > a->osversion ? 1 : -1;
    return ia->index < ib->index ? -1 : ia->index > ib->index;
}

static void put32(char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static void put64(char *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

/* The distinct glibc-hwcaps names, in order of first use. */
static size_t hwcaps_names(const struct sort_item *items, size_t n, const char **names)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_hwcaps_entry(items[i].e))
            continue;
        size_t j = 0;
        while (j < k && strcmp(names[j], items[i].e->hwcaps) != 0)
            j++;
        if (j == k)
            names[k++] = items[i].e->hwcaps;
    }
    return k;
}

static size_t name_index(const char **names, size_t k, const char *name)
{
    size_t j = 0;
    while (j < k && strcmp(names[j], name) != 0)
        j++;
    return j;
}

struct layout {
    const char **names; /* distinct glibc-hwcaps names */
    size_t *name_at;    /* where each name's string is */
    size_t k;
    size_t strings_len; /* entries' strings and names */
    size_t ext_at;      /* the extension directory, when k > 0 */
    size_t total;
};

/* Fills the file: header, entries, strings, then the extension. */
static void fill(char *buf, const struct sort_item *items, size_t n, const struct layout *l)
{
    memcpy(buf, NEW_MAGIC, sizeof(NEW_MAGIC) - 1);
    put32(buf + 20, (uint32_t)n);
    put32(buf + 24, (uint32_t)l->strings_len);
    buf[28] = ENDIAN_FLAG;
    size_t str = NEW_HDR_SIZE + n * NEW_ENTRY;
    for (size_t i = 0; i < n; i++) {
        const struct box_ldcache_entry *e = items[i].e;
        char *p = buf + NEW_HDR_SIZE + i * NEW_ENTRY;
        size_t kl = strlen(e->soname) + 1, vl = strlen(e->path) + 1;
        put32(p, e->flags);
        put32(p + 4, (uint32_t)str);
        memcpy(buf + str, e->soname, kl);
        put32(p + 8, (uint32_t)(str + kl));
        memcpy(buf + str + kl, e->path, vl);
        put32(p + 12, e->osversion);
        uint64_t hwcap = e->hwcap;
        if (is_hwcaps_entry(e))
            hwcap = (hwcap & ~(uint64_t)UINT32_MAX) | name_index(l->names, l->k, e->hwcaps);
        put64(p + 16, hwcap);
        str += kl + vl;
    }
    for (size_t j = 0; j < l->k; j++) {
        size_t len = strlen(l->names[j]) + 1;
        memcpy(buf + str, l->names[j], len);
        l->name_at[j] = str;
        str += len;
    }
    if (!l->k)
        return;
    /* The directory (magic, count, one section), then the section: one
     * string offset per name. */
    size_t x = l->ext_at;
    put32(buf + 32, (uint32_t)x);
    put32(buf + x, EXT_MAGIC);
    put32(buf + x + 4, 1);
    put32(buf + x + 8, EXT_TAG_HWCAPS);
    put32(buf + x + 12, 0);
    put32(buf + x + 16, (uint32_t)(x + 24));
    put32(buf + x + 20, (uint32_t)(l->k * 4));
    for (size_t j = 0; j < l->k; j++)
        put32(buf + x + 24 + j * 4, (uint32_t)l->name_at[j]);
}

/* Sizes and offsets; strings are bounded by PATH_MAX each and entries by
 * BOX_LDCACHE_MAX_ENTRIES, so the file stays far below 4 GiB, the reach of
 * the format's 32-bit offsets. */
static int plan(const struct sort_item *items, size_t n, struct layout *l, struct box_err *err)
{
    l->strings_len = 0;
    for (size_t i = 0; i < n; i++) {
        const struct box_ldcache_entry *e = items[i].e;
        size_t kl = strnlen(e->soname, PATH_MAX), vl = strnlen(e->path, PATH_MAX);
        if (kl == PATH_MAX || vl == PATH_MAX ||
            (e->hwcaps && strnlen(e->hwcaps, PATH_MAX) == PATH_MAX))
            return box_err_set(err, ENAMETOOLONG, "`ld.so.cache`: `%.64s`: a name too long",
                               e->soname);
        l->strings_len += kl + vl + 2;
    }
    l->k = hwcaps_names(items, n, l->names);
    for (size_t j = 0; j < l->k; j++)
        l->strings_len += strlen(l->names[j]) + 1;
    size_t end = NEW_HDR_SIZE + n * NEW_ENTRY + l->strings_len;
    l->ext_at = (end + 3) & ~(size_t)3;
    l->total = l->k ? l->ext_at + 24 + l->k * 4 : end;
    return 0;
}

int box_ldcache_serialize(const struct box_ldcache_entry *entries, size_t n, char **out,
                          size_t *len, struct box_err *err)
{
    *out = NULL;
    *len = 0;
    if (n > BOX_LDCACHE_MAX_ENTRIES)
        return box_err_set(err, E2BIG, "`ld.so.cache`: %zu entries (at most %u)", n,
                           BOX_LDCACHE_MAX_ENTRIES);
    _cleanup_free_ struct sort_item *items = calloc(n ? n : 1, sizeof(*items));
    _cleanup_free_ const char **names = calloc(n ? n : 1, sizeof(*names));
    _cleanup_free_ size_t *name_at = calloc(n ? n : 1, sizeof(*name_at));
    if (!items || !names || !name_at)
        return box_err_set(err, ENOMEM, "`ld.so.cache`: out of memory");
    for (size_t i = 0; i < n; i++)
        items[i] = (struct sort_item){&entries[i], i};
    qsort(items, n, sizeof(*items), entry_order);
    struct layout l = {.names = names, .name_at = name_at};
    int r = plan(items, n, &l, err);
    if (r < 0)
        return r;
    char *buf = calloc(1, l.total);
    if (!buf)
        return box_err_set(err, ENOMEM, "`ld.so.cache`: out of memory");
    fill(buf, items, n, &l);
    *out = buf;
    *len = l.total;
    return 0;
}
