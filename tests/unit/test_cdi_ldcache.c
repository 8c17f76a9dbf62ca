/* The linker cache reader (lib/cdi/ldcache.h) and the ELF reader
 * (lib/cdi/elf.h): caches written by the real ldconfig in its three
 * formats, hand-made hostile caches, real and mangled ELF files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/cdi/elf.h"
#include "lib/cdi/ldcache.h"

#define LIBDIR   "/lib/x86_64-linux-gnu"
#define LDCONFIG "/sbin/ldconfig"

static char tmpdir[64];

static int make_tmp(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/box-ldcache-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int drop_tmp(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const struct box_ldcache_entry *find(const struct box_ldcache *c, const char *soname)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->entries[i].soname, soname) == 0)
            return &c->entries[i];
    return NULL;
}

/* ldconfig -c FORMAT over the host's library directory, read back. */
static void real_cache(const char *format, bool old)
{
    if (access(LDCONFIG, X_OK) != 0 || access(LIBDIR "/libc.so.6", R_OK) != 0)
        skip();
    char cache[128], cmd[512];
    snprintf(cache, sizeof(cache), "%s/%s.cache", tmpdir, format);
    snprintf(cmd, sizeof(cmd), LDCONFIG " -X -c %s -f /dev/null -C %s " LIBDIR " 2>/dev/null",
             format, cache);
    assert_int_equal(system(cmd), 0);
    int fd = open(cache, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct box_ldcache c;
    struct box_err err = {0};
    assert_int_equal(box_ldcache_read(fd, cache, &c, &err), 0);
    close(fd);
    assert_int_equal(c.old_format, old);
    assert_true(c.n > 3);
    const struct box_ldcache_entry *e = find(&c, "libc.so.6");
    assert_non_null(e);
    assert_string_equal(e->path, LIBDIR "/libc.so.6");
    /* The old format has no architecture bits for x86-64 libraries. */
    if (!old)
        assert_true(box_ldcache_native(e->flags));
    box_ldcache_free(&c);
}

static void test_real_new(void **state)
{
    real_cache("new", false);
}

static void test_real_compat(void **state)
{
    real_cache("compat", false);
}

static void test_real_old(void **state)
{
    real_cache("old", true);
}

/* A cache in the current format: n entries, each pointing at the strings. */
static size_t build_new(char *buf, size_t size, uint32_t nlibs, uint32_t key, uint32_t value)
{
    memset(buf, 0, size);
    memcpy(buf, "glibc-ld.so.cache1.1", 20);
    memcpy(buf + 20, &nlibs, 4);
    size_t at = 48;
    for (uint32_t i = 0; i < nlibs && at + 24 <= size; i++, at += 24) {
        uint32_t flags = 0x0303;
        memcpy(buf + at, &flags, 4);
        memcpy(buf + at + 4, &key, 4);
        memcpy(buf + at + 8, &value, 4);
    }
    return at;
}

static int parse(const char *buf, size_t len, struct box_err *err)
{
    struct box_ldcache c;
    int r = box_ldcache_parse(buf, len, &c, err);
    if (r == 0)
        box_ldcache_free(&c);
    return r;
}

static void test_hand_made(void **state)
{
    char buf[512];
    struct box_err err = {0};
    size_t at = build_new(buf, sizeof(buf), 1, 0, 0);
    /* Strings count from the header of the current format. */
    uint32_t key = (uint32_t)at, value = (uint32_t)at + 13;
    build_new(buf, sizeof(buf), 1, key, value);
    memcpy(buf + at, "libcuda.so.1", 13);
    memcpy(buf + at + 13, "/usr/lib/libcuda.so.1", 22);
    struct box_ldcache c;
    assert_int_equal(box_ldcache_parse(buf, at + 35, &c, &err), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.entries[0].soname, "libcuda.so.1");
    assert_string_equal(c.entries[0].path, "/usr/lib/libcuda.so.1");
    box_ldcache_free(&c);

    /* The value's string runs to the end without its NUL. */
    assert_int_equal(parse(buf, at + 34, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "entry 0: value"));
}

static void test_hostile(void **state)
{
    char buf[512];
    struct box_err err = {0};
    assert_int_equal(parse("", 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "unknown magic"));
    assert_int_equal(parse("glibc-ld.so.cache1.1", 20, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "truncated"));
    /* More entries than the bytes could hold. */
    build_new(buf, sizeof(buf), 0, 0, 0);
    uint32_t many = 0xffffffffu;
    memcpy(buf + 20, &many, 4);
    assert_true(parse(buf, sizeof(buf), &err) < 0);
    build_new(buf, sizeof(buf), 5, 0, 0);
    assert_int_equal(parse(buf, 48 + 24 * 4, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "do not fit"));
    /* Offsets past the end. */
    size_t at = build_new(buf, sizeof(buf), 1, 100000, 0);
    assert_int_equal(parse(buf, at + 8, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "entry 0: key"));
    /* A key with a slash, a relative value. */
    at = build_new(buf, sizeof(buf), 1, 72, 80);
    memcpy(buf + 72, "../x.so", 8);
    memcpy(buf + 80, "/lib/x.so", 10);
    assert_int_equal(parse(buf, 90, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "plain library name"));
    memcpy(buf + 72, "libx.so", 8);
    memcpy(buf + 80, "lib/x.so", 9);
    assert_int_equal(parse(buf, 90, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "absolute"));
    /* An old-format header claiming more entries than there are bytes. */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, "ld.so-1.7.0", 11);
    memcpy(buf + 12, &many, 4);
    assert_int_equal(parse(buf, 64, &err), -EINVAL);
    /* Too large. */
    struct box_ldcache c;
    assert_int_equal(box_ldcache_parse(buf, BOX_LDCACHE_MAX_BYTES + 1, &c, &err), -EFBIG);
}

static void test_native_flags(void **state)
{
    assert_true(box_ldcache_native(0x0303));
    assert_false(box_ldcache_native(0x0003)); /* i386 */
    assert_false(box_ldcache_native(0x0803)); /* x32 */
    assert_false(box_ldcache_native(0x0301)); /* not libc6 */
}

/* ---- ELF ------------------------------------------------------------------------ */

static int elf_of(const char *path, struct box_elf_info *info, struct box_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = box_elf_read(fd, path, info, err);
    close(fd);
    return r;
}

static void test_elf_real(void **state)
{
    struct box_elf_info info;
    struct box_err err = {0};
    if (access(LIBDIR "/libc.so.6", R_OK) != 0)
        skip();
    assert_int_equal(elf_of(LIBDIR "/libc.so.6", &info, &err), 0);
    assert_string_equal(info.soname, "libc.so.6");
    assert_int_equal(elf_of("/bin/sh", &info, &err), 0);
    assert_true(info.has_interp);
    assert_string_equal(info.soname, "");
    assert_int_equal(elf_of(LDCONFIG, &info, &err), 0);
    assert_false(info.has_interp);
    assert_int_equal(elf_of("/etc/passwd", &info, &err), -ENOEXEC);
    assert_non_null(strstr(err.msg, "no ELF magic"));
    assert_int_equal(elf_of("/etc", &info, &err), -ENOEXEC);
}

/* Truncated and randomly mangled copies of a real library: never a crash,
 * only a SONAME that is a plain name or a clean ENOEXEC. */
static void test_elf_mangled(void **state)
{
    _cleanup_free_ char *lib = NULL;
    size_t len;
    struct box_err err = {0};
    if (box_read_file(AT_FDCWD, LIBDIR "/libdl.so.2", 1 << 20, &lib, &len, &err) < 0)
        skip();
    char path[128];
    snprintf(path, sizeof(path), "%s/mangled.so", tmpdir);
    srand(7);
    for (int round = 0; round < 600; round++) {
        _cleanup_free_ char *copy = malloc(len);
        memcpy(copy, lib, len);
        size_t n = round < 100 ? (size_t)round * (len / 100) : len;
        for (int k = 0; round >= 100 && k < 8; k++) {
            /* Mostly the headers, where the offsets and counts are. */
            size_t at = (size_t)rand() % (k < 6 ? 512 : len);
            copy[at] = (char)rand();
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(box_write_all(fd, copy, n), 0);
        close(fd);
        struct box_elf_info info;
        int r = elf_of(path, &info, &err);
        assert_true(r == 0 || r == -ENOEXEC);
        if (r == 0)
            assert_null(strchr(info.soname, '/'));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_new), cmocka_unit_test(test_real_compat),
        cmocka_unit_test(test_real_old), cmocka_unit_test(test_hand_made),
        cmocka_unit_test(test_hostile),  cmocka_unit_test(test_native_flags),
        cmocka_unit_test(test_elf_real), cmocka_unit_test(test_elf_mangled),
    };
    return cmocka_run_group_tests(tests, make_tmp, drop_tmp);
}
