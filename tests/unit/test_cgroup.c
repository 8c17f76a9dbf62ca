/* cgroups (lib/runtime/cgroup.h): the pure helpers, path resolution on a
 * hand-made struct box_cgroups, and detection on this host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/runtime/cgroup.h"

/* ---- shares -> weight --------------------------------------------------------------------- */

static void test_shares_to_weight(void **state)
{
    /* the values runc and crun produce */
    assert_int_equal(box_cgroup_shares_to_weight(2), 1);
    assert_int_equal(box_cgroup_shares_to_weight(1024), 39);
    assert_int_equal(box_cgroup_shares_to_weight(262144), 10000);
    assert_int_equal(box_cgroup_shares_to_weight(512), 20);
    assert_int_equal(box_cgroup_shares_to_weight(2048), 79);
    /* 0 means unset; out of range values are clamped to the v1 range */
    assert_int_equal(box_cgroup_shares_to_weight(0), 0);
    assert_int_equal(box_cgroup_shares_to_weight(1), 1);
    assert_int_equal(box_cgroup_shares_to_weight(262145), 10000);
    assert_int_equal(box_cgroup_shares_to_weight(UINT64_MAX), 10000);
    /* monotonic, and always inside cgroup2's [1, 10000] */
    uint64_t prev = 1;
    for (uint64_t s = 2; s <= 262144; s += 97) {
        uint64_t w = box_cgroup_shares_to_weight(s);
        assert_true(w >= prev && w >= 1 && w <= 10000);
        prev = w;
    }
}

/* ---- device rules ------------------------------------------------------------------------- */

static void expect_rule(struct box_dev_rule r, const char *want)
{
    char buf[64];
    assert_int_equal(box_cgroup_dev_rule_string(&r, buf, sizeof(buf)), 0);
    assert_string_equal(buf, want);
}

static void test_dev_rule_string(void **state)
{
    expect_rule((struct box_dev_rule){true, 'c', 1, 3, "rwm"}, "c 1:3 rwm");
    expect_rule((struct box_dev_rule){false, 'b', 8, 0, "r"}, "b 8:0 r");
    expect_rule((struct box_dev_rule){true, 'c', -1, -1, "m"}, "c *:* m");
    expect_rule((struct box_dev_rule){true, 'c', 136, -1, "rwm"}, "c 136:* rwm");
    expect_rule((struct box_dev_rule){true, 'b', -1, 7, "w"}, "b *:7 w");
    expect_rule((struct box_dev_rule){true, 'c', 4095, 1048575, "rwm"}, "c 4095:1048575 rwm");
    /* "a" stands alone: the kernel reads it as every device, every access */
    expect_rule((struct box_dev_rule){false, 'a', -1, -1, "rwm"}, "a");
    expect_rule((struct box_dev_rule){true, 'a', 5, 5, "r"}, "a");
}

static void test_dev_rule_string_short_buffer(void **state)
{
    struct box_dev_rule r = {true, 'c', 4095, 1048575, "rwm"};
    char buf[8];
    assert_int_equal(box_cgroup_dev_rule_string(&r, buf, sizeof(buf)), -ENAMETOOLONG);
    /* exactly enough room for "c 1:3 rwm" and its NUL */
    struct box_dev_rule s = {true, 'c', 1, 3, "rwm"};
    char exact[10];
    assert_int_equal(box_cgroup_dev_rule_string(&s, exact, sizeof(exact)), 0);
    assert_string_equal(exact, "c 1:3 rwm");
    assert_int_equal(box_cgroup_dev_rule_string(&s, exact, sizeof(exact) - 1), -ENAMETOOLONG);
    struct box_dev_rule a = {true, 'a', -1, -1, "rwm"};
    assert_int_equal(box_cgroup_dev_rule_string(&a, buf, 1), -ENAMETOOLONG);
    assert_int_equal(box_cgroup_dev_rule_string(&a, buf, 2), 0);
}

/* ---- cgroupsPath -> path ------------------------------------------------------------------ */

/* One hierarchy whose own cgroup (from /proc/self/cgroup) is `self`. */
static void fake(struct box_cgroups *cg, const char *self)
{
    memset(cg, 0, sizeof(*cg));
    cg->layout = BOX_CGROUP_V2;
    cg->n = 1;
    cg->h[0].mount = strdup("/sys/fs/cgroup");
    cg->h[0].root = strdup("/");
    cg->h[0].controllers = strdup("");
    cg->h[0].self = strdup(self);
    cg->h[0].v2 = true;
}

static void expect_path(const char *self, const char *cgroups_path, const char *want)
{
    struct box_cgroups cg;
    struct box_err err = {0};
    fake(&cg, self);
    int r = box_cgroup_set_path(&cg, cgroups_path, "c1", &err);
    if (r != 0)
        fail_msg("self `%s`, cgroupsPath `%s`: %d: %s", self,
                 cgroups_path ? cgroups_path : "(null)", r, err.msg);
    if (strcmp(cg.path, want) != 0)
        fail_msg("self `%s`, cgroupsPath `%s`: `%s`, want `%s`", self,
                 cgroups_path ? cgroups_path : "(null)", cg.path, want);
    box_cgroup_free(&cg);
}

static void test_set_path_default(void **state)
{
    expect_path("/", NULL, "/box/c1");
    expect_path("/user.slice/session-1.scope", NULL, "/box/c1");
    expect_path("/", "", "/box/c1");
}

static void test_set_path_absolute(void **state)
{
    expect_path("/", "/machine/c1", "/machine/c1");
    expect_path("/user.slice", "/machine/c1", "/machine/c1");
    expect_path("/", "/a", "/a");
}

static void test_set_path_relative(void **state)
{
    expect_path("/", "box/c1", "/box/c1");
    expect_path("/user.slice/session-1.scope", "box/c1", "/user.slice/session-1.scope/box/c1");
    expect_path("/x", "y", "/x/y");
}

static void test_set_path_normalises_slashes(void **state)
{
    expect_path("/", "/a//b///c", "/a/b/c");
    expect_path("/", "/a/b/", "/a/b");
    expect_path("/", "/a/b///", "/a/b");
    expect_path("/", "a//b/", "/a/b");
    expect_path("/x/", "y", "/x/y");
}

/* Regression test, once a bug (cgroup.c box_cgroup_set_path): the normalisation never removes a
 * slash while nothing has been written yet (`w != buf`), so a path that
 * starts with several slashes keeps them: "//a//b" becomes "//a/b", which
 * hier_dir() then fails to match against a hierarchy root such as "/a". */
static void test_set_path_normalises_leading_slashes(void **state)
{
    struct box_cgroups cg;
    struct box_err err = {0};
    fake(&cg, "/");
    assert_int_equal(box_cgroup_set_path(&cg, "//a//b", "c1", &err), 0);
    char got[PATH_MAX];
    snprintf(got, sizeof(got), "%s", cg.path);
    box_cgroup_free(&cg);
    if (strcmp(got, "/a/b") != 0)
        fail_msg("regression: cgroupsPath `//a//b` normalised to `%s`, want `/a/b`", got);
}

static void test_set_path_refuses_root(void **state)
{
    static const char *const bad[] = {"/", "//", "///"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct box_cgroups cg;
        struct box_err err = {0};
        fake(&cg, "/");
        int r = box_cgroup_set_path(&cg, bad[i], "c1", &err);
        if (r != -EINVAL)
            fail_msg("cgroupsPath `%s`: %d (path `%s`), want -EINVAL", bad[i], r,
                     cg.path ? cg.path : "");
        assert_non_null(strstr(err.msg, "linux.cgroupsPath"));
        assert_null(cg.path);
        box_cgroup_free(&cg);
    }
}

static void test_set_path_replaces_previous(void **state)
{
    struct box_cgroups cg;
    struct box_err err = {0};
    fake(&cg, "/");
    assert_int_equal(box_cgroup_set_path(&cg, "/one", "c1", &err), 0);
    assert_int_equal(box_cgroup_set_path(&cg, "/two", "c1", &err), 0);
    assert_string_equal(cg.path, "/two");
    box_cgroup_free(&cg);
    assert_null(cg.path);
    assert_int_equal(cg.n, 0);
}

/* ---- detection on this host --------------------------------------------------------------- */

static void test_detect(void **state)
{
    struct box_cgroups cg;
    struct box_err err = {0};
    int r = box_cgroup_detect(&cg, &err);
    if (r < 0)
        fail_msg("box_cgroup_detect: %d: %s", r, err.msg);
    assert_true(cg.layout == BOX_CGROUP_V1 || cg.layout == BOX_CGROUP_HYBRID ||
                cg.layout == BOX_CGROUP_V2);
    assert_true(cg.n >= 1 && cg.n <= BOX_CGROUP_MAX_HIER);
    bool v1 = false, v2 = false;
    for (size_t i = 0; i < cg.n; i++) {
        const struct box_cgroup_hier *h = &cg.h[i];
        assert_non_null(h->mount);
        assert_non_null(h->root);
        assert_non_null(h->controllers);
        assert_non_null(h->self);
        assert_int_equal(h->mount[0], '/');
        assert_int_equal(h->self[0], '/');
        struct stat st;
        if (stat(h->mount, &st) < 0 || !S_ISDIR(st.st_mode))
            fail_msg("hierarchy %zu: mount `%s` is not a directory", i, h->mount);
        if (h->v2) {
            v2 = true;
            assert_string_equal(h->controllers, "");
        } else {
            v1 = true;
            /* a v1 hierarchy names its controllers, without mount options */
            assert_true(h->controllers[0] != '\0');
            assert_null(strstr(h->controllers, "rw"));
            assert_null(strstr(h->controllers, "relatime"));
        }
        /* one entry per hierarchy */
        for (size_t k = 0; k < i; k++)
            assert_false(cg.h[k].v2 == h->v2 && strcmp(cg.h[k].controllers, h->controllers) == 0);
    }
    enum box_cgroup_layout want = v1 ? (v2 ? BOX_CGROUP_HYBRID : BOX_CGROUP_V1) : BOX_CGROUP_V2;
    assert_int_equal(cg.layout, want);
    print_message("cgroup layout on this host: %s, %zu hierarchies\n",
                  box_cgroup_layout_name(cg.layout), cg.n);
    box_cgroup_free(&cg);
    assert_string_equal(box_cgroup_layout_name(BOX_CGROUP_V1), "v1");
    assert_string_equal(box_cgroup_layout_name(BOX_CGROUP_HYBRID), "hybrid");
    assert_string_equal(box_cgroup_layout_name(BOX_CGROUP_V2), "v2");
}

/* Our own cgroup, as detected, agrees with /proc/self/cgroup. */
static void test_detect_self_matches_proc(void **state)
{
    struct box_cgroups cg;
    struct box_err err = {0};
    assert_int_equal(box_cgroup_detect(&cg, &err), 0);
    FILE *f = fopen("/proc/self/cgroup", "re");
    assert_non_null(f);
    char line[4096];
    size_t matched = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        for (size_t i = 0; i < cg.n; i++) {
            bool same = cg.h[i].v2 ? strcmp(line, "0") == 0 && c1[1] == '\0'
                                   : strcmp(c1 + 1, cg.h[i].controllers) == 0;
            if (same) {
                assert_string_equal(cg.h[i].self, c2 + 1);
                matched++;
            }
        }
    }
    fclose(f);
    assert_true(matched >= 1);
    box_cgroup_free(&cg);
}

/* ---- creation next to an existing cgroup (root only) ------------------------------------- */

/* box_cgroup_create must refuse a cgroup that already exists ("refuse to
 * share it silently") and leave it alone. Regression test, once a bug (cgroup.c box_cgroup_create):
 * on EEXIST it calls box_cgroup_destroy(cg), which SIGKILLs every process in
 * that existing cgroup (another container's) and removes it. */
static void test_create_refuses_existing_and_leaves_it_alone(void **state)
{
    if (geteuid() != 0) {
        print_message("skip: creating cgroups needs root\n");
        skip();
    }
    struct box_cgroups cg;
    struct box_err err = {0};
    assert_int_equal(box_cgroup_detect(&cg, &err), 0);
    char name[64], dir[PATH_MAX];
    snprintf(name, sizeof(name), "/box-unit-cgroup-%d", (int)getpid());
    assert_int_equal(box_cgroup_set_path(&cg, name, "x", &err), 0);
    /* the first hierarchy that maps the path: a sibling lives there */
    const struct box_cgroup_hier *h = NULL;
    for (size_t i = 0; i < cg.n && !h; i++)
        if (strcmp(cg.h[i].root, "/") == 0)
            h = &cg.h[i];
    if (!h) {
        box_cgroup_free(&cg);
        print_message("skip: no hierarchy mounted at its root\n");
        skip();
    }
    snprintf(dir, sizeof(dir), "%s%s", h->mount, name);
    if (mkdir(dir, 0755) < 0) {
        box_cgroup_free(&cg);
        print_message("skip: cannot create `%s`: %s\n", dir, strerror(errno));
        skip();
    }
    pid_t sib = fork();
    assert_true(sib >= 0);
    if (sib == 0) {
        pause();
        _exit(0);
    }
    char procs[PATH_MAX + 16], pid[24];
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
    snprintf(pid, sizeof(pid), "%d", (int)sib);
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    bool placed = fd >= 0 && write(fd, pid, strlen(pid)) == (ssize_t)strlen(pid);
    if (fd >= 0)
        close(fd);

    int r = box_cgroup_create(&cg, NULL, BOX_CGROUP_ALL, &err);
    bool sib_alive = waitpid(sib, NULL, WNOHANG) == 0;
    struct stat st;
    bool dir_kept = stat(dir, &st) == 0;

    /* clean up before judging: the sibling, then every directory */
    kill(sib, SIGKILL);
    waitpid(sib, NULL, 0);
    for (size_t i = 0; i < cg.n; i++) {
        char d[PATH_MAX];
        snprintf(d, sizeof(d), "%s%s", cg.h[i].mount, name);
        for (int k = 0; k < 100 && rmdir(d) < 0 && errno == EBUSY; k++)
            usleep(10000);
    }
    box_cgroup_free(&cg);

    assert_true(placed);
    assert_int_equal(r, -EEXIST);
    assert_non_null(strstr(err.msg, name));
    if (!sib_alive || !dir_kept)
        fail_msg("regression: box_cgroup_create on an existing cgroup %s%s",
                 sib_alive ? "" : "killed the process living in it",
                 dir_kept ? "" : (sib_alive ? "removed it" : " and removed it"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shares_to_weight),
        cmocka_unit_test(test_dev_rule_string),
        cmocka_unit_test(test_dev_rule_string_short_buffer),
        cmocka_unit_test(test_set_path_default),
        cmocka_unit_test(test_set_path_absolute),
        cmocka_unit_test(test_set_path_relative),
        cmocka_unit_test(test_set_path_normalises_slashes),
        cmocka_unit_test(test_set_path_normalises_leading_slashes),
        cmocka_unit_test(test_set_path_refuses_root),
        cmocka_unit_test(test_set_path_replaces_previous),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_detect_self_matches_proc),
        cmocka_unit_test(test_create_refuses_existing_and_leaves_it_alone),
    };
    return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
