/* `box hook` as a library (lib/cdi/hook.h): the argument parser shared by
 * the CLI and the in-process runner, and update-ldcache's own cache writer
 * on real roots: real libraries, an image cache made by the real ldconfig,
 * broken and hostile caches, and the loader's view through ldconfig -p. */
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
#include "lib/cdi/hook.h"
#include "lib/cdi/ldcache.h"

#define LIBDIR "/lib/x86_64-linux-gnu"

static char tmpdir[64];

static int make_tmp(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/box-hook-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int drop_tmp(void **state)
{
    return box_remove_tree(AT_FDCWD, tmpdir) == 0 ? 0 : -1;
}

static int parse(const char *const *argv, struct box_cdi_hook_req *req, struct box_err *err)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return box_cdi_hook_parse(argc, (char *const *)argv, req, err);
}

static void test_parse(void **state)
{
    struct box_cdi_hook_req req;
    struct box_err err = {0};
    const char *a[] = {"create-symlinks", "--link", "a::/b", "--link=c::/d", "--li", "e::/f", NULL};
    assert_int_equal(parse(a, &req, &err), 0);
    assert_int_equal(req.verb, BOX_CDI_HOOK_SYMLINKS);
    assert_int_equal(req.n, 3);
    assert_string_equal(req.items[0], "a::/b");
    assert_string_equal(req.items[1], "c::/d");
    assert_string_equal(req.items[2], "e::/f");
    box_cdi_hook_req_free(&req);

    const char *b[] = {"update-ldcache", "--folder", "/x", "--ldconfig", "/sbin/ldconfig", NULL};
    assert_int_equal(parse(b, &req, &err), 0);
    assert_int_equal(req.verb, BOX_CDI_HOOK_LDCACHE);
    assert_int_equal(req.n, 1);
    assert_string_equal(req.ldconfig, "/sbin/ldconfig");
    box_cdi_hook_req_free(&req);

    const char *h[] = {"update-ldcache", "--help", NULL};
    assert_int_equal(parse(h, &req, &err), 0);
    assert_true(req.help);
    box_cdi_hook_req_free(&req);
}

static void test_parse_errors(void **state)
{
    struct box_cdi_hook_req req;
    struct box_err err = {0};
    const char *unknown_verb[] = {"frobnicate", NULL};
    assert_int_equal(parse(unknown_verb, &req, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "unknown hook `frobnicate`"));
    /* --ldconfig belongs to update-ldcache only */
    const char *wrong_opt[] = {"create-symlinks", "--ldconfig", "/x", NULL};
    assert_int_equal(parse(wrong_opt, &req, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "unknown option `--ldconfig`"));
    const char *missing[] = {"create-symlinks", "--link", NULL};
    assert_int_equal(parse(missing, &req, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "`--link`"));
    const char *extra[] = {"update-ldcache", "--folder", "/x", "stray", NULL};
    assert_int_equal(parse(extra, &req, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "unexpected argument `stray`"));
    /* "--l" is --ldconfig or... only one option of update-ldcache starts
     * with it; "--" then an argument is still unexpected */
    const char *dashdash[] = {"update-ldcache", "--", "/x", NULL};
    assert_int_equal(parse(dashdash, &req, &err), -EINVAL);
    const char *single[] = {"update-ldcache", "-f", "/x", NULL};
    assert_int_equal(parse(single, &req, &err), -EINVAL);
}

/* Runs a shell script in which $T is the test's directory. */
static void sh(const char *script)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "T=%s; %s", tmpdir, script);
    if (system(cmd) != 0)
        fail_msg("`%s` failed", cmd);
}

static void need_host_libs(void)
{
    if (access("/sbin/ldconfig", X_OK) != 0 || access(LIBDIR "/libz.so.1", R_OK) != 0 ||
        access(LIBDIR "/libm.so.6", R_OK) != 0 || access(LIBDIR "/libc.so.6", R_OK) != 0) {
        print_message("skipped: needs /sbin/ldconfig, libz, libm and libc in " LIBDIR "\n");
        skip();
    }
}

static void load(int rootfd, struct box_ldcache *c)
{
    int fd = openat(rootfd, "etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct box_err err = {0};
    if (box_ldcache_read(fd, "ld.so.cache", c, &err) < 0)
        fail_msg("%s", err.msg);
    close(fd);
}

static const struct box_ldcache_entry *lookup(const struct box_ldcache *c, const char *soname)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->entries[i].soname, soname) == 0)
            return &c->entries[i];
    return NULL;
}

static int open_root(const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", tmpdir, name);
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

/* An image with its own cache (libz in /opt/img, and a stale libc.so.6
 * entry in /old), then the folder /drv with a libc.so.6 and a libz copy
 * named by version: ours replace the image's entries of the same names,
 * the others stay, and the result is what glibc's reader sees. */
static void test_merge_into_image_cache(void **state)
{
    need_host_libs();
    sh("set -e; r=$T/img; mkdir -p $r/etc $r/opt/img $r/old $r/drv; "
       "cp -L " LIBDIR "/libz.so.1 " LIBDIR "/libm.so.6 $r/opt/img/; "
       "cp -L " LIBDIR "/libc.so.6 $r/old/; "
       "printf '/opt/img\\n/old\\n' >$r/etc/ld.so.conf; /sbin/ldconfig -X -r $r; "
       "rm -r $r/old; cp -L " LIBDIR "/libc.so.6 $r/drv/; cp -L " LIBDIR "/libz.so.1 "
       "$r/drv/libz.so.1.99; echo not-elf >$r/drv/libbroken.so.1; ln -s nowhere "
       "$r/drv/libdangling.so.1; mkfifo $r/drv/libfifo.so.1");
    char root[128];
    int rootfd = open_root("img", root, sizeof(root));
    char *folders[] = {"/drv", "/missing"};
    struct box_err err = {0};
    if (box_cdi_hook_ldcache_write(rootfd, folders, 2, &err) < 0)
        fail_msg("%s", err.msg);
    struct box_ldcache c;
    load(rootfd, &c);
    assert_int_equal(c.n, 3);
    /* the image's libm stays */
    assert_string_equal(lookup(&c, "libm.so.6")->path, "/opt/img/libm.so.6");
    /* libc.so.6 is in /drv under that name; libz only as libz.so.1.99 */
    assert_string_equal(lookup(&c, "libc.so.6")->path, "/drv/libc.so.6");
    const struct box_ldcache_entry *z = lookup(&c, "libz.so.1");
    assert_string_equal(z->path, "/drv/libz.so.1.99");
    assert_true(box_ldcache_native(z->flags));
    assert_null(lookup(&c, "libdangling.so.1"));
    assert_null(lookup(&c, "libbroken.so.1"));
    box_ldcache_free(&c);
    close(rootfd);
}

/* Unchanged content is not written again (same inode); a broken image
 * cache, or a FIFO in its place, is replaced without blocking. */
static void test_rewrite_only_on_change(void **state)
{
    need_host_libs();
    sh("set -e; r=$T/re; mkdir -p $r/etc $r/lib; cp -L " LIBDIR "/libz.so.1 $r/lib/");
    char root[128];
    int rootfd = open_root("re", root, sizeof(root));
    char *folders[] = {"/lib"};
    struct box_err err = {0};
    struct stat a, b;
    assert_int_equal(box_cdi_hook_ldcache_write(rootfd, folders, 1, &err), 0);
    assert_int_equal(fstatat(rootfd, "etc/ld.so.cache", &a, 0), 0);
    assert_int_equal(box_cdi_hook_ldcache_write(rootfd, folders, 1, &err), 0);
    assert_int_equal(fstatat(rootfd, "etc/ld.so.cache", &b, 0), 0);
    assert_int_equal(a.st_ino, b.st_ino);

    sh("set -e; head -c 100 /dev/urandom >$T/re/etc/ld.so.cache");
    assert_int_equal(box_cdi_hook_ldcache_write(rootfd, folders, 1, &err), 0);
    struct box_ldcache c;
    load(rootfd, &c);
    assert_int_equal(c.n, 1);
    box_ldcache_free(&c);

    /* and where the temporary file goes (box_write_file_atomic's name) */
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "set -e; r=%s/re; rm $r/etc/ld.so.cache; mkfifo $r/etc/ld.so.cache; "
             "mkfifo $r/etc/.ld.so.cache.tmp.%d",
             tmpdir, (int)getpid());
    assert_int_equal(system(cmd), 0);
    assert_int_equal(box_cdi_hook_ldcache_write(rootfd, folders, 1, &err), 0);
    load(rootfd, &c);
    assert_int_equal(c.n, 1);
    box_ldcache_free(&c);
    close(rootfd);
}

/* /etc is a link to a host directory: the cache lands inside the root. */
static void test_etc_link_stays_inside(void **state)
{
    need_host_libs();
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "set -e; r=%s/ln; mkdir -p $r/lib %s/host-etc $r%s/host-etc; "
             "cp -L " LIBDIR "/libz.so.1 $r/lib/; ln -s %s/host-etc $r/etc",
             tmpdir, tmpdir, tmpdir, tmpdir);
    assert_int_equal(system(cmd), 0);
    char root[128];
    int rootfd = open_root("ln", root, sizeof(root));
    char *folders[] = {"/lib"};
    struct box_err err = {0};
    assert_int_equal(box_cdi_hook_ldcache(rootfd, folders, 1, NULL, &err), 0);
    char host[256];
    snprintf(host, sizeof(host), "%s/host-etc/ld.so.cache", tmpdir);
    assert_int_equal(access(host, F_OK), -1);
    struct stat st;
    /* the link's target, resolved inside the root */
    char inside[256];
    snprintf(inside, sizeof(inside), "%s/ln%s/host-etc/ld.so.cache", tmpdir, tmpdir);
    assert_int_equal(stat(inside, &st), 0);
    close(rootfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_merge_into_image_cache),
        cmocka_unit_test(test_rewrite_only_on_change),
        cmocka_unit_test(test_etc_link_stays_inside),
    };
    return cmocka_run_group_tests(tests, make_tmp, drop_tmp);
}
