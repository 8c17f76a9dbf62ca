/* The in-root resolver (lib/base/resolve.h) on temporary trees full of
 * hostile symlinks. Every test runs twice: through openat2(RESOLVE_IN_ROOT)
 * and through the fallback walker for kernels without it. The walker is
 * static, so this file includes resolve.c to switch between the two. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/resolve.c"

enum mode {
    MODE_OPENAT2,
    MODE_WALKER
};
static enum mode mode_openat2 = MODE_OPENAT2;
static enum mode mode_walker = MODE_WALKER;

struct tree {
    enum mode mode;
    char base[64];      /* the temp dir holding root/ and outside/ */
    char out[PATH_MAX]; /* base/outside: a sentinel that must stay empty */
    int rootfd;         /* O_PATH on base/root */
};

static void must(int r, const char *what)
{
    if (r < 0)
        fail_msg("setup: %s: %s", what, strerror(errno));
}

static void put_file(int dirfd, const char *name, const char *text)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    must(fd, name);
    must((int)write(fd, text, strlen(text)), name);
    close(fd);
}

static int setup(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->mode = *(enum mode *)*state;
    snprintf(t->base, sizeof(t->base), "/tmp/box-unit-resolve-XXXXXX");
    assert_non_null(mkdtemp(t->base));
    snprintf(t->out, sizeof(t->out), "%s/outside", t->base);
    char root[PATH_MAX];
    snprintf(root, sizeof(root), "%s/root", t->base);
    must(mkdir(root, 0755), "root");
    must(mkdir(t->out, 0755), "outside");
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    must(rfd, "open root");
    must(mkdirat(rfd, "etc", 0755), "etc");
    int etc = openat(rfd, "etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    must(etc, "open etc");
    put_file(etc, "hostname", "inside\n");
    close(etc);
    must(mkdirat(rfd, "a", 0755), "a");
    must(mkdirat(rfd, "a/b", 0755), "a/b");
    put_file(rfd, "file", "x");
    /* absolute, escaping-relative, multi-hop, looping and host-pointing links */
    must(symlinkat("/etc", rfd, "abs"), "abs");
    must(symlinkat("../../../../../../etc", rfd, "up"), "up");
    must(symlinkat("../../etc", rfd, "a/b/link"), "a/b/link");
    must(symlinkat("a/b/link", rfd, "chain"), "chain");
    must(symlinkat("loop2", rfd, "loop1"), "loop1");
    must(symlinkat("loop1", rfd, "loop2"), "loop2");
    must(symlinkat("selfloop", rfd, "selfloop"), "selfloop");
    must(symlinkat(t->out, rfd, "hostpath"), "hostpath");
    must(symlinkat("../outside", rfd, "rel_out"), "rel_out");
    t->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    must(t->rootfd, "O_PATH root");
    close(rfd);
    /* -1: probe openat2 (and use it, this kernel has it); 0: the walker */
    have_openat2 = t->mode == MODE_WALKER ? 0 : -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;
    close(t->rootfd);
    box_remove_tree(AT_FDCWD, t->base);
    free(t);
    return 0;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void assert_outside_empty(const struct tree *t)
{
    int n = count_entries(t->out);
    if (n != 0)
        fail_msg("%d entries appeared in `%s` outside the root", n, t->out);
}

/* fd is the very file rootfd/rel (not following a final symlink). */
static void assert_same_file(int fd, int rootfd, const char *rel)
{
    struct stat a, b;
    assert_int_equal(fstat(fd, &a), 0);
    if (fstatat(rootfd, rel, &b, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) < 0)
        fail_msg("`%s` does not exist inside the root: %s", rel, strerror(errno));
    if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        fail_msg("resolved to inode %lu, want `%s` (inode %lu)", (unsigned long)a.st_ino, rel,
                 (unsigned long)b.st_ino);
}

static void expect_resolves_to(const struct tree *t, const char *path, int flags, const char *rel)
{
    struct box_err err = {0};
    int fd = box_root_open(t->rootfd, path, flags, &err);
    if (fd < 0)
        fail_msg("box_root_open(`%s`) = %d: %s", path, fd, err.msg);
    assert_same_file(fd, t->rootfd, rel);
    close(fd);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_mode_is_the_one_asked_for(void **state)
{
    struct tree *t = *state;
    struct box_err err = {0};
    int fd = box_root_open(t->rootfd, "etc", O_PATH, &err);
    assert_true(fd >= 0);
    close(fd);
    /* the walker mode never touches openat2; the other one found it */
    assert_int_equal(have_openat2, t->mode == MODE_WALKER ? 0 : 1);
}

static void test_absolute_symlink_stays_inside(void **state)
{
    struct tree *t = *state;
    expect_resolves_to(t, "abs/hostname", O_RDONLY, "etc/hostname");
    expect_resolves_to(t, "/abs/hostname", O_RDONLY, "etc/hostname");
    expect_resolves_to(t, "abs", O_PATH, "etc");
    /* and reads the file inside, not the host's /etc/hostname */
    struct box_err err = {0};
    int fd = box_root_open(t->rootfd, "/abs/hostname", O_RDONLY, &err);
    assert_true(fd >= 0);
    char buf[32] = "";
    assert_int_equal(read(fd, buf, sizeof(buf) - 1), 7);
    assert_string_equal(buf, "inside\n");
    close(fd);
}

static void test_dotdot_stays_inside(void **state)
{
    struct tree *t = *state;
    expect_resolves_to(t, "up/hostname", O_RDONLY, "etc/hostname");
    expect_resolves_to(t, "../../../../etc/hostname", O_RDONLY, "etc/hostname");
    expect_resolves_to(t, "/../../etc/../../etc/hostname", O_RDONLY, "etc/hostname");
    expect_resolves_to(t, "a/b/../../../../../etc/hostname", O_RDONLY, "etc/hostname");
    expect_resolves_to(t, "..", O_PATH, "");
    expect_resolves_to(t, "a/b/link/hostname", O_RDONLY, "etc/hostname");
    expect_resolves_to(t, "chain/hostname", O_RDONLY, "etc/hostname");
    /* ".." after a symlink is taken from where the link led, like the kernel does */
    expect_resolves_to(t, "a/b/link/..", O_PATH, "");
    expect_resolves_to(t, "./a/./b/.", O_PATH, "a/b");
}

static void test_host_paths_are_not_reached(void **state)
{
    struct tree *t = *state;
    char secret[PATH_MAX];
    snprintf(secret, sizeof(secret), "%s/secret", t->out);
    put_file(AT_FDCWD, secret, "host secret");
    static const char *const paths[] = {"hostpath/secret", "rel_out/secret", "../outside/secret",
                                        "up/../../outside/secret"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct box_err err = {0};
        int fd = box_root_open(t->rootfd, paths[i], O_RDONLY, &err);
        if (fd >= 0)
            fail_msg("`%s` opened a file outside the root", paths[i]);
        assert_int_equal(fd, -ENOENT);
        assert_int_equal(err.code, ENOENT);
        assert_non_null(strstr(err.msg, paths[i]));
    }
    unlink(secret);
}

static void test_symlink_loop(void **state)
{
    struct tree *t = *state;
    static const char *const paths[] = {"loop1", "loop2/x", "selfloop", "a/../selfloop/x"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct box_err err = {0};
        int fd = box_root_open(t->rootfd, paths[i], O_PATH, &err);
        if (fd != -ELOOP)
            fail_msg("`%s`: %d, want -ELOOP", paths[i], fd);
        assert_int_equal(err.code, ELOOP);
        assert_non_null(strstr(err.msg, paths[i]));
    }
}

static void test_missing_and_not_a_directory(void **state)
{
    struct tree *t = *state;
    struct box_err err = {0};
    assert_int_equal(box_root_open(t->rootfd, "etc/nope", O_PATH, &err), -ENOENT);
    assert_int_equal(box_root_open(t->rootfd, "file/x", O_PATH, &err), -ENOTDIR);
    assert_int_equal(box_root_open(t->rootfd, "file", O_PATH | O_DIRECTORY, &err), -ENOTDIR);
}

/* The walker must agree with openat2 on O_NOFOLLOW: a final symlink is
 * opened as the link itself (rootfs.c masks and read-only paths rely on
 * it). Regression test, once a bug in the walker (resolve.c walk_in_root): it expands a final
 * symlink whatever the flags, so O_PATH|O_NOFOLLOW yields the target. */
static void test_nofollow_on_final_symlink(void **state)
{
    struct tree *t = *state;
    struct box_err err = {0};
    int fd = box_root_open(t->rootfd, "abs", O_PATH | O_NOFOLLOW, &err);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    close(fd);
    if (!S_ISLNK(st.st_mode))
        fail_msg("regression (%s): O_PATH|O_NOFOLLOW on the symlink `abs` opened its target "
                 "(mode %o), not the link",
                 t->mode == MODE_WALKER ? "walker" : "openat2", st.st_mode);
}

static void test_mkdirs_through_in_root_symlink(void **state)
{
    struct tree *t = *state;
    struct box_err err = {0};
    int fd = box_root_mkdirs(t->rootfd, "abs/new/deeper", 0755, &err);
    if (fd < 0)
        fail_msg("box_root_mkdirs: %d: %s", fd, err.msg);
    assert_same_file(fd, t->rootfd, "etc/new/deeper");
    close(fd);
    fd = box_root_mkdirs(t->rootfd, "/up/x//y/", 0755, &err);
    if (fd < 0)
        fail_msg("box_root_mkdirs: %d: %s", fd, err.msg);
    assert_same_file(fd, t->rootfd, "etc/x/y");
    close(fd);
    /* already there: the same directory again */
    fd = box_root_mkdirs(t->rootfd, "etc/x/y", 0755, &err);
    assert_true(fd >= 0);
    assert_same_file(fd, t->rootfd, "etc/x/y");
    close(fd);
    fd = box_root_mkdirs(t->rootfd, "", 0755, &err);
    assert_true(fd >= 0);
    assert_same_file(fd, t->rootfd, "");
    close(fd);
    assert_outside_empty(t);
}

static void test_mkdirs_never_outside(void **state)
{
    struct tree *t = *state;
    static const char *const paths[] = {
        "hostpath/pwned",        "rel_out/pwned",           "../outside/pwned",
        "/../../outside/pwned2", "up/../../outside/pwned3", "a/b/link/../../../outside/pwned4",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct box_err err = {0};
        int fd = box_root_mkdirs(t->rootfd, paths[i], 0755, &err);
        if (fd >= 0)
            close(fd);
        assert_outside_empty(t);
    }
    /* the ".." ones were clamped to the root and created inside it */
    struct stat st;
    assert_int_equal(fstatat(t->rootfd, "outside/pwned2", &st, 0), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(fstatat(t->rootfd, "outside/pwned4", &st, 0), 0);
}

static void test_mkdirs_errors(void **state)
{
    struct tree *t = *state;
    struct box_err err = {0};
    assert_int_equal(box_root_mkdirs(t->rootfd, "file/sub", 0755, &err), -ENOTDIR);
    assert_int_equal(err.code, ENOTDIR);
    assert_int_equal(box_root_mkdirs(t->rootfd, "loop1/sub", 0755, &err), -ELOOP);
    char name[NAME_MAX + 8];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(box_root_mkdirs(t->rootfd, name, 0755, &err), -ENAMETOOLONG);
    char *longp = malloc(PATH_MAX + 16);
    assert_non_null(longp);
    memset(longp, 'p', PATH_MAX + 15);
    longp[PATH_MAX + 15] = '\0';
    assert_int_equal(box_root_mkdirs(t->rootfd, longp, 0755, &err), -ENAMETOOLONG);
    free(longp);
}

static void test_mkfile_creates_parents(void **state)
{
    struct tree *t = *state;
    struct box_err err = {0};
    int fd = box_root_mkfile(t->rootfd, "/new/dir/file.txt", 0600, &err);
    if (fd < 0)
        fail_msg("box_root_mkfile: %d: %s", fd, err.msg);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* umask 022, set in main */
    assert_same_file(fd, t->rootfd, "new/dir/file.txt");
    /* an O_PATH fd: no reads through it */
    char c;
    assert_true(read(fd, &c, 1) < 0);
    close(fd);
    /* through an in-root symlinked parent, and an existing file kept as is */
    fd = box_root_mkfile(t->rootfd, "abs/newfile", 0644, &err);
    assert_true(fd >= 0);
    assert_same_file(fd, t->rootfd, "etc/newfile");
    close(fd);
    fd = box_root_mkfile(t->rootfd, "abs/hostname", 0644, &err);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, 7);
    close(fd);
    fd = box_root_mkfile(t->rootfd, "topfile", 0644, &err);
    assert_true(fd >= 0);
    assert_same_file(fd, t->rootfd, "topfile");
    close(fd);
    assert_outside_empty(t);
}

static void test_mkfile_planted_dangling_symlink(void **state)
{
    struct tree *t = *state;
    char target[PATH_MAX];
    snprintf(target, sizeof(target), "%s/pwned", t->out);
    /* the image plants links at the names the runtime will create */
    must(symlinkat(target, t->rootfd, "etc/planted_abs"), "planted_abs");
    must(symlinkat("../../outside/pwned_rel", t->rootfd, "etc/planted_rel"), "planted_rel");
    must(symlinkat(target, t->rootfd, "planted_top"), "planted_top");
    static const char *const paths[] = {"etc/planted_abs", "etc/planted_rel", "abs/planted_abs",
                                        "planted_top", "/planted_top"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct box_err err = {0};
        int fd = box_root_mkfile(t->rootfd, paths[i], 0644, &err);
        if (fd >= 0) {
            /* acceptable only if what it returns lies inside the root */
            struct stat st;
            assert_int_equal(fstat(fd, &st), 0);
            assert_true(S_ISREG(st.st_mode));
            close(fd);
        }
        assert_outside_empty(t);
    }
    /* the planted links are still links, not replaced by something else */
    struct stat st;
    assert_int_equal(fstatat(t->rootfd, "etc/planted_abs", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISLNK(st.st_mode));
}

static void test_fdpath(void **state)
{
    struct box_fdpath p = box_fdpath(7);
    assert_string_equal(p.s, "/proc/self/fd/7");
    p = box_fdpath(2147483647);
    assert_string_equal(p.s, "/proc/self/fd/2147483647");
}

#define BOTH(f)                                                                                    \
    {#f " [openat2]", f, setup, teardown, &mode_openat2},                                          \
    {                                                                                              \
#f " [walker]", f, setup, teardown, &mode_walker                                           \
    }

int main(void)
{
    umask(022);
    const struct CMUnitTest tests[] = {
        BOTH(test_mode_is_the_one_asked_for),
        BOTH(test_absolute_symlink_stays_inside),
        BOTH(test_dotdot_stays_inside),
        BOTH(test_host_paths_are_not_reached),
        BOTH(test_symlink_loop),
        BOTH(test_missing_and_not_a_directory),
        BOTH(test_nofollow_on_final_symlink),
        BOTH(test_mkdirs_through_in_root_symlink),
        BOTH(test_mkdirs_never_outside),
        BOTH(test_mkdirs_errors),
        BOTH(test_mkfile_creates_parents),
        BOTH(test_mkfile_planted_dangling_symlink),
        cmocka_unit_test(test_fdpath),
    };
    return cmocka_run_group_tests_name("resolve", tests, NULL, NULL);
}
