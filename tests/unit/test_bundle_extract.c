/* The decompressing reader and secure extraction, on archives built here. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <openssl/sha.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "lib/base/fs.h"
#include "lib/image/decomp.h"
#include "lib/image/extract.h"
#include "lib/image/fsx.h"

struct buf {
    unsigned char *p;
    size_t len;
};

static void append(struct buf *b, const void *p, size_t n)
{
    b->p = realloc(b->p, b->len + n + 1);
    assert_non_null(b->p);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

struct ent {
    const char *name;
    int type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, or 0 for a hard link */
    const char *data_or_link;
    int mode;
};

static struct buf make_tar(const struct ent *e, size_t n)
{
    struct buf b = {0};
    size_t cap = 1 << 20, used = 0;
    unsigned char *mem = malloc(cap);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_memory(a, mem, cap, &used);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_perm(ae, e[i].mode ? e[i].mode : 0644);
        if (e[i].type == 0) {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_hardlink(ae, e[i].data_or_link);
        } else {
            archive_entry_set_filetype(ae, e[i].type);
        }
        if (e[i].type == AE_IFLNK)
            archive_entry_set_symlink(ae, e[i].data_or_link);
        if (e[i].type == AE_IFREG)
            archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data_or_link));
        assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
        if (e[i].type == AE_IFREG)
            archive_write_data(a, e[i].data_or_link, strlen(e[i].data_or_link));
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    append(&b, mem, used);
    free(mem);
    return b;
}

/* zlib gzip, one member: the streaming path of the reader. */
static struct buf gzip_zlib(const unsigned char *p, size_t n)
{
    struct buf out = {0};
    z_stream zs = {0};
    unsigned char chunk[65536] = {0};
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (unsigned char *)p;
    zs.avail_in = (uInt)n;
    int r;
    do {
        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        r = deflate(&zs, Z_FINISH);
        append(&out, chunk, sizeof(chunk) - zs.avail_out);
    } while (r != Z_STREAM_END);
    deflateEnd(&zs);
    return out;
}

/* libdeflate gzip in members of `member` bytes: the whole-member path. */
static struct buf gzip_members(const unsigned char *p, size_t n, size_t member)
{
    struct buf out = {0};
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    size_t cap = libdeflate_gzip_compress_bound(c, member);
    unsigned char *tmp = malloc(cap);
    for (size_t off = 0; off < n; off += member) {
        size_t len = n - off < member ? n - off : member;
        append(&out, tmp, libdeflate_gzip_compress(c, p + off, len, tmp, cap));
    }
    free(tmp);
    libdeflate_free_compressor(c);
    return out;
}

static int mem_fd(const struct buf *b)
{
    int fd = memfd_create("input", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(box_write_all(fd, b->p, b->len), 0);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static const struct box_decomp_limits big = {.max_out = 1ull << 32, .max_ratio = 0};

/* Decompresses all of `in`; returns the byte count or -errno (err set). */
static ssize_t drain(const struct buf *in, unsigned flags, const struct box_decomp_limits *lim,
                     struct buf *out, struct box_err *err)
{
    int fd = mem_fd(in);
    struct box_decomp *d;
    ssize_t total = 0, n;
    assert_int_equal(box_decomp_open(fd, flags, lim, &d, err), 0);
    const void *p;
    while ((n = box_decomp_read(d, &p, err)) > 0) {
        if (out)
            append(out, p, (size_t)n);
        total += n;
    }
    box_decomp_free(d);
    close(fd);
    return n < 0 ? n : total;
}

static struct buf pattern(size_t n)
{
    struct buf b = {0};
    b.p = malloc(n);
    for (size_t i = 0; i < n; i++)
        b.p[i] = (unsigned char)((i * 7 + i / 1000) & 0xff);
    b.len = n;
    return b;
}

static void test_decomp_paths(void **state)
{
    struct buf raw = pattern(3 << 20), out = {0};
    struct buf z = gzip_zlib(raw.p, raw.len), m = gzip_members(raw.p, raw.len, 1 << 20);
    struct box_err err;
    assert_int_equal(drain(&z, 0, &big, &out, &err), raw.len);
    assert_memory_equal(out.p, raw.p, raw.len);
    out.len = 0;
    assert_int_equal(drain(&m, 0, &big, &out, &err), raw.len);
    assert_memory_equal(out.p, raw.p, raw.len);
    out.len = 0;
    /* a large single member: too big for the fast path, streamed */
    assert_int_equal(drain(&m, BOX_DECOMP_NO_FAST, &big, &out, &err), raw.len);
    assert_memory_equal(out.p, raw.p, raw.len);
    free(raw.p), free(out.p), free(z.p), free(m.p);
}

static void expect_decomp_error(struct buf *in, unsigned flags, const char *msg)
{
    struct box_err err;
    box_err_clear(&err);
    assert_int_equal(drain(in, flags, &big, NULL, &err), -BOX_EDATA);
    if (strncmp(err.msg, msg, strlen(msg)) != 0)
        fail_msg("got \"%s\", wanted \"%s\"", err.msg, msg);
}

static void test_decomp_rejections(void **state)
{
    struct buf raw = pattern(100000);
    struct buf z = gzip_zlib(raw.p, raw.len);
    struct box_err err;
    struct buf cut = {.p = z.p, .len = z.len / 2};
    expect_decomp_error(&cut, 0, "truncated gzip stream");
    expect_decomp_error(&raw, 0, "not a gzip file");
    struct buf empty = {.p = raw.p, .len = 0};
    expect_decomp_error(&empty, 0, "not a gzip file: empty input");
    assert_int_equal(drain(&raw, BOX_DECOMP_ALLOW_PLAIN, &big, NULL, &err), raw.len);
    struct buf bad_crc = {0};
    append(&bad_crc, z.p, z.len);
    bad_crc.p[bad_crc.len - 6] ^= 0xff;
    expect_decomp_error(&bad_crc, 0, "corrupt gzip stream");
    append(&z, "junk", 4);
    expect_decomp_error(&z, 0, "trailing garbage after gzip stream");
    free(raw.p), free(z.p), free(bad_crc.p);
}

static void test_decomp_limits(void **state)
{
    struct buf zeros = {.p = calloc(1, 8 << 20), .len = 8 << 20};
    struct buf z = gzip_zlib(zeros.p, zeros.len);
    struct box_err err;
    struct box_decomp_limits ratio = {.max_out = 1ull << 32, .max_ratio = 100, .ratio_floor = 0};
    assert_int_equal(drain(&z, 0, &ratio, NULL, &err), -BOX_EDATA);
    assert_string_equal(err.msg, "compression ratio exceeds the limit of 100:1");
    struct box_decomp_limits total = {.max_out = 1 << 20};
    assert_int_equal(drain(&z, 0, &total, NULL, &err), -BOX_EDATA);
    assert_string_equal(err.msg, "uncompressed size exceeds the limit of 1048576 bytes");
    /* past the floor only */
    struct box_decomp_limits floor = {
        .max_out = 1ull << 32, .max_ratio = 100, .ratio_floor = 16 << 20};
    assert_int_equal(drain(&z, 0, &floor, NULL, &err), zeros.len);
    free(zeros.p), free(z.p);
}

struct seen {
    int begins, ends;
    char captured[64];
};

static int on_begin(void *ud, const struct box_node *nd, struct box_err *err)
{
    struct seen *s = ud;
    s->begins++;
    return strstr(nd->path, "capture") ? BOX_EXTRACT_CAPTURE : 0;
}

static int on_end(void *ud, const struct box_node *nd, const char *data, size_t len,
                  struct box_err *err)
{
    struct seen *s = ud;
    s->ends++;
    if (data)
        snprintf(s->captured, sizeof(s->captured), "%.*s", (int)len, data);
    return 0;
}

static const struct box_extract_ops ops = {.begin = on_begin, .end = on_end};

static int run_extract(const struct ent *e, size_t n, int dest_fd, unsigned flags,
                       struct box_tree *t, struct seen *s, struct box_err *err)
{
    struct buf tar = make_tar(e, n), gz = gzip_members(tar.p, tar.len, 1 << 20);
    int fd = mem_fd(&gz);
    struct box_decomp *d;
    struct box_extract_stats st;
    assert_int_equal(box_decomp_open(fd, 0, &big, &d, err), 0);
    struct box_extract_opts o = {.src = d,
                                 .dest_fd = dest_fd,
                                 .keep = 1,
                                 .noun = "bundle",
                                 .flags = flags,
                                 .capture_max = 1024,
                                 .ops = &ops,
                                 .ud = s};
    box_extract_limits_default(&o.limits);
    box_tree_init(t);
    box_err_clear(err);
    int r = box_extract_tar(&o, t, &st, err);
    box_decomp_free(d);
    close(fd);
    free(tar.p), free(gz.p);
    return r;
}

static const struct ent good[] = {
    {"T/", AE_IFDIR, NULL, 0755},
    {"T/bin/tool", AE_IFREG, "hello\n", 0755},
    {"T/capture.json", AE_IFREG, "{\"k\": 1}", 0644},
    {"T/lib/l.so", AE_IFLNK, "l.so.1", 0777},
    {"T/lib/l.so.1", AE_IFREG, "lib", 0644},
    {"T/bin/tool2", 0, "T/bin/tool", 0},
};

static void test_extract_hash_only(void **state)
{
    struct box_tree t;
    struct seen s = {0};
    struct box_err err;
    assert_int_equal(run_extract(good, 6, -1, BOX_EXTRACT_ALLOW_HARDLINKS, &t, &s, &err), 0);
    assert_int_equal(s.begins, 6);
    assert_int_equal(s.ends, 6);
    assert_string_equal(s.captured, "{\"k\": 1}");
    const struct box_node *tool = box_tree_get(&t, "T/bin/tool");
    unsigned char want[32];
    SHA256((const unsigned char *)"hello\n", 6, want);
    assert_memory_equal(tool->sha256, want, 32);
    assert_int_equal(tool->mode, 0755);
    const struct box_node *hl = box_tree_get(&t, "T/bin/tool2");
    assert_true(hl->flags & BOX_NODE_HARDLINK);
    assert_memory_equal(hl->sha256, want, 32);
    assert_true(box_tree_get(&t, "T/bin")->flags & BOX_NODE_IMPLICIT);
    box_tree_free(&t);
}

static void expect_extract_error(const struct ent *e, size_t n, const char *msg)
{
    struct box_tree t;
    struct seen s = {0};
    struct box_err err;
    assert_int_equal(run_extract(e, n, -1, BOX_EXTRACT_ALLOW_HARDLINKS, &t, &s, &err), -BOX_EDATA);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("got \"%s\", wanted \"%s\"", err.msg, msg);
    box_tree_free(&t);
}

static void test_extract_rejections(void **state)
{
    const struct ent dup[] = {{"T/a", AE_IFREG, "1", 0}, {"T/a", AE_IFREG, "2", 0}};
    expect_extract_error(dup, 2, "duplicate path in tarball: T/a");
    const struct ent through[] = {{"T/l", AE_IFLNK, "d", 0}, {"T/l/f", AE_IFREG, "x", 0}};
    expect_extract_error(through, 2, "path through a symlink: T/l/f -> T/l");
    const struct ent under_file[] = {{"T/f", AE_IFREG, "x", 0}, {"T/f/g", AE_IFREG, "y", 0}};
    expect_extract_error(under_file, 2, "parent is not a directory: T/f/g");
    const struct ent esc[] = {{"T/l", AE_IFLNK, "../..", 0}};
    expect_extract_error(esc, 1, "symlink escapes the bundle: T/l -> ../..");
    const struct ent hl_missing[] = {{"T/h", 0, "T/nothing", 0}};
    expect_extract_error(hl_missing, 1, "hardlink target not in the tarball: T/h -> T/nothing");
    const struct ent suid[] = {{"T/s", AE_IFREG, "x", 04755}};
    expect_extract_error(suid, 1, "setuid or setgid bit set: T/s");
}

static void test_extract_hardlinks_policy(void **state)
{
    struct box_tree t;
    struct seen s = {0};
    struct box_err err;
    assert_int_equal(run_extract(good, 6, -1, 0, &t, &s, &err), -BOX_EDATA);
    assert_string_equal(err.msg, "hardlink not allowed: T/bin/tool2");
    box_tree_free(&t);
}

static void test_extract_writes(void **state)
{
    char dir[] = "/tmp/box-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int threaded = 0; threaded < 2; threaded++) {
        struct box_tree t;
        struct seen s = {0};
        struct box_err err;
        unsigned flags = BOX_EXTRACT_ALLOW_HARDLINKS | (threaded ? BOX_EXTRACT_THREADED : 0);
        assert_int_equal(run_extract(good, 6, dfd, flags, &t, &s, &err), 0);
        box_tree_free(&t);
        char buf[32] = "";
        int fd = openat(dfd, "T/bin/tool", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, buf, sizeof(buf)), 6);
        close(fd);
        assert_string_equal(buf, "hello\n");
        struct stat a, b;
        assert_int_equal(fstatat(dfd, "T/bin/tool", &a, 0), 0);
        assert_int_equal(fstatat(dfd, "T/bin/tool2", &b, 0), 0);
        assert_int_equal(a.st_ino, b.st_ino);
        assert_int_equal(a.st_mode & 07777, 0755);
        assert_int_equal(readlinkat(dfd, "T/lib/l.so", buf, sizeof(buf)), 6);
        /* a second run over the same tree: nothing is ever overwritten */
        assert_int_equal(run_extract(good, 6, dfd, flags, &t, &s, &err), -EEXIST);
        box_tree_free(&t);
        assert_int_equal(box_remove_tree(dfd, "T"), 0);
    }
    /* a symlink planted in the destination is not followed */
    assert_int_equal(symlinkat("/tmp", dfd, "T"), 0);
    struct box_tree t;
    struct seen s = {0};
    struct box_err err;
    const struct ent one[] = {{"T/planted-by-box-unit", AE_IFREG, "x", 0}};
    assert_true(run_extract(one, 1, dfd, 0, &t, &s, &err) < 0);
    assert_int_equal(access("/tmp/planted-by-box-unit", F_OK), -1);
    box_tree_free(&t);
    close(dfd);
    assert_int_equal(box_remove_tree(AT_FDCWD, dir), 0);
}

/* Both resolvers refuse symlinks, "..", and absolute paths below the fd. */
static void test_open_beneath(void **state)
{
    char dir[] = "/tmp/box-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(mkdirat(dfd, "d", 0755), 0);
    assert_int_equal(symlinkat("d", dfd, "ld"), 0);
    assert_int_equal(symlinkat("/etc/passwd", dfd, "d/lf"), 0);
    int (*open_fn[])(int, const char *, int, mode_t) = {box_fsx_open_beneath, box_fsx_open_walk};
    for (size_t i = 0; i < 2; i++) {
        int fd = open_fn[i](dfd, "d/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        close(fd);
        assert_true(open_fn[i](dfd, "d/new", O_WRONLY | O_CREAT | O_EXCL, 0600) == -EEXIST);
        assert_true(open_fn[i](dfd, "ld/x", O_WRONLY | O_CREAT, 0600) < 0);
        assert_true(open_fn[i](dfd, "d/lf", O_RDONLY, 0) < 0);
        assert_true(open_fn[i](dfd, "d/../../x", O_RDONLY, 0) < 0);
        assert_true(open_fn[i](dfd, "/etc/passwd", O_RDONLY, 0) < 0);
        assert_int_equal(unlinkat(dfd, "d/new", 0), 0);
    }
    close(dfd);
    assert_int_equal(box_remove_tree(AT_FDCWD, dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decomp_paths),       cmocka_unit_test(test_decomp_rejections),
        cmocka_unit_test(test_decomp_limits),      cmocka_unit_test(test_extract_hash_only),
        cmocka_unit_test(test_extract_rejections), cmocka_unit_test(test_extract_hardlinks_policy),
        cmocka_unit_test(test_extract_writes),     cmocka_unit_test(test_open_beneath),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
