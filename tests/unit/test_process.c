/* The program lookup of the container process (lib/runtime/process.h) with a
 * PATH made of temporary directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/runtime/process.h"

static char tmp[64];
static char d1[PATH_MAX], d2[PATH_MAX], d3[PATH_MAX];

static void put(const char *dir, const char *name, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        fail_msg("create %s: %s", p, strerror(errno));
    (void)!write(fd, "#!/bin/sh\nexit 0\n", 17);
    close(fd);
    chmod(p, mode);
}

static int group_setup(void **state)
{
    snprintf(tmp, sizeof(tmp), "/tmp/box-unit-process-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    snprintf(d1, sizeof(d1), "%s/d1", tmp);
    snprintf(d2, sizeof(d2), "%s/d2", tmp);
    snprintf(d3, sizeof(d3), "%s/d3", tmp);
    if (mkdir(d1, 0755) < 0 || mkdir(d2, 0755) < 0 || mkdir(d3, 0755) < 0)
        return -1;
    /* d1: prog is a directory, noexec is not executable, fifo is a fifo
     * d2: prog and both are executables, noexec is not
     * d3: only-here is executable */
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/prog", d1);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/dironly", d1);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/fifo", d1);
    mkfifo(p, 0755);
    put(d1, "noexec", 0644);
    put(d2, "prog", 0755);
    put(d2, "both", 0755);
    put(d3, "both", 0755);
    put(d2, "noexec", 0644);
    put(d3, "only-here", 0700);
    return 0;
}

static int group_teardown(void **state)
{
    box_remove_tree(AT_FDCWD, tmp);
    return 0;
}

/* Looks up prog with env PATH=path (no PATH at all when path is NULL). */
static int find(const char *prog, const char *path, char *out, struct box_err *err)
{
    char pathvar[4 * PATH_MAX];
    char *args[] = {(char *)prog, NULL};
    char *env[3] = {"HOME=/root", NULL, NULL};
    if (path) {
        snprintf(pathvar, sizeof(pathvar), "PATH=%s", path);
        env[1] = pathvar;
    }
    struct box_process p = {.args = args, .n_args = 1, .env = env, .n_env = path ? 2 : 1};
    out[0] = '\0';
    box_err_clear(err);
    return box_process_find_program(&p, out, PATH_MAX, err);
}

static void expect_found(const char *prog, const char *path, const char *dir)
{
    char out[PATH_MAX], want[PATH_MAX];
    struct box_err err;
    int r = find(prog, path, out, &err);
    if (r != 0)
        fail_msg("`%s` in PATH=%s: %d: %s", prog, path, r, err.msg);
    snprintf(want, sizeof(want), "%s/%s", dir, prog);
    assert_string_equal(out, want);
}

static void expect_error(const char *prog, const char *path, int code, const char *want)
{
    char out[PATH_MAX];
    struct box_err err;
    int r = find(prog, path, out, &err);
    if (r != -code)
        fail_msg("`%s` in PATH=%s: %d (`%s`), want %d", prog, path, r, out, -code);
    assert_int_equal(err.code, code);
    assert_non_null(strstr(err.msg, prog));
    if (want && !strstr(err.msg, want))
        fail_msg("message `%s` does not say `%s`", err.msg, want);
}

static void test_found(void **state)
{
    char path[3 * PATH_MAX];
    snprintf(path, sizeof(path), "%s:%s:%s", d1, d2, d3);
    expect_found("only-here", path, d3);
    /* the first directory that has it wins */
    expect_found("both", path, d2);
    snprintf(path, sizeof(path), "%s:%s", d3, d2);
    expect_found("both", path, d3);
    /* a directory of the same name earlier in PATH is skipped */
    snprintf(path, sizeof(path), "%s:%s", d1, d2);
    expect_found("prog", path, d2);
    /* a non-executable earlier in PATH is skipped too */
    snprintf(path, sizeof(path), "%s:%s", d1, d2);
    assert_int_equal(access(d1, X_OK), 0);
    expect_found("prog", path, d2);
    /* empty and missing entries do not stop the search */
    snprintf(path, sizeof(path), "/nonexistent::%s/missing:%s", tmp, d3);
    expect_found("only-here", path, d3);
}

static void test_not_executable(void **state)
{
    char path[3 * PATH_MAX];
    snprintf(path, sizeof(path), "%s:%s", d1, d2);
    /* found only without an execute bit: EACCES, not "not found" */
    expect_error("noexec", path, EACCES, NULL);
    expect_error("fifo", path, EACCES, NULL);
}

static void test_directory(void **state)
{
    char path[3 * PATH_MAX];
    snprintf(path, sizeof(path), "%s:%s", d1, d3);
    expect_error("dironly", path, EISDIR, NULL);
}

static void test_missing(void **state)
{
    char path[3 * PATH_MAX];
    snprintf(path, sizeof(path), "%s:%s:%s", d1, d2, d3);
    expect_error("nothing-like-this", path, ENOENT, "not found in $PATH");
    expect_error("nothing-like-this", "/nonexistent/a:/nonexistent/b", ENOENT, NULL);
    /* a PATH entry that is a file, not a directory */
    char filep[PATH_MAX];
    snprintf(filep, sizeof(filep), "%s/noexec", d2);
    expect_error("nothing-like-this", filep, ENOENT, NULL);
}

static void test_names_with_a_slash(void **state)
{
    char prog[PATH_MAX], out[PATH_MAX];
    struct box_err err;
    /* taken as is, never looked up in PATH */
    snprintf(prog, sizeof(prog), "%s/only-here", d3);
    assert_int_equal(find(prog, d2, out, &err), 0);
    assert_string_equal(out, prog);
    snprintf(prog, sizeof(prog), "%s/noexec", d2);
    expect_error(prog, d3, EACCES, NULL);
    snprintf(prog, sizeof(prog), "%s/prog", d1);
    expect_error(prog, d2, EISDIR, NULL);
    snprintf(prog, sizeof(prog), "%s/missing", d1);
    expect_error(prog, d2, ENOENT, NULL);
}

static void test_default_path_and_last_path_wins(void **state)
{
    char out[PATH_MAX];
    struct box_err err;
    /* no PATH in env: the default one, which has sh on any Debian */
    assert_int_equal(find("sh", NULL, out, &err), 0);
    assert_true(strcmp(out, "/usr/local/sbin/sh") == 0 || strcmp(out, "/usr/local/bin/sh") == 0 ||
                strcmp(out, "/usr/sbin/sh") == 0 || strcmp(out, "/usr/bin/sh") == 0 ||
                strcmp(out, "/sbin/sh") == 0 || strcmp(out, "/bin/sh") == 0);
    /* two PATH entries in env: the last one counts, as for execvpe */
    char p1[PATH_MAX + 8], p2[PATH_MAX + 8];
    snprintf(p1, sizeof(p1), "PATH=%s", d2);
    snprintf(p2, sizeof(p2), "PATH=%s", d3);
    char *args[] = {"both", NULL};
    char *env[] = {p1, p2, NULL};
    struct box_process p = {.args = args, .n_args = 1, .env = env, .n_env = 2};
    assert_int_equal(box_process_find_program(&p, out, sizeof(out), &err), 0);
    char want[PATH_MAX];
    snprintf(want, sizeof(want), "%s/both", d3);
    assert_string_equal(out, want);
}

static void test_cap_last_cap(void **state)
{
    int last = box_cap_last_cap();
    assert_true(last >= 36 && last <= 63);
    char *s = NULL;
    struct box_err err;
    if (box_read_file(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &s, NULL, &err) == 0) {
        assert_int_equal(last, (int)strtol(s, NULL, 10));
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_found),
        cmocka_unit_test(test_not_executable),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_names_with_a_slash),
        cmocka_unit_test(test_default_path_and_last_path_wins),
        cmocka_unit_test(test_cap_last_cap),
    };
    return cmocka_run_group_tests_name("process", tests, group_setup, group_teardown);
}
