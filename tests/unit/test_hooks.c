/* The hook runner (lib/runtime/hooks.h) with /bin/sh scripts: stdin, env,
 * errors, timeouts and floods of output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/runtime/hooks.h"

#define STATE_JSON                                                                                 \
    "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"creating\",\"pid\":42,"                  \
    "\"bundle\":\"/srv/c1\"}"

static char tmp[64];

static int group_setup(void **state)
{
    snprintf(tmp, sizeof(tmp), "/tmp/box-unit-hooks-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    /* background children of timed-out hooks come back to us to be reaped */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    return 0;
}

static int group_teardown(void **state)
{
    box_remove_tree(AT_FDCWD, tmp);
    return 0;
}

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmp, name);
}

static char *slurp(const char *path)
{
    char *text = NULL;
    struct box_err err = {0};
    if (box_read_file(AT_FDCWD, path, 1 << 20, &text, NULL, &err) < 0)
        fail_msg("read %s: %s", path, err.msg);
    return text;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* No such process, or only its zombie left. */
static bool dead_or_zombie(pid_t pid)
{
    char path[64], buf[512] = "";
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    const char *p = n > 0 ? strrchr(buf, ')') : NULL;
    return !p || (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

/* A hook running `sh -c script` with the given env (NULL-terminated). */
struct sh_hook {
    struct box_hook hook;
    char *args[4];
};

static void sh_hook(struct sh_hook *h, const char *script, char **env, int timeout)
{
    h->args[0] = "sh";
    h->args[1] = "-c";
    h->args[2] = (char *)script;
    h->args[3] = NULL;
    h->hook.path = "/bin/sh";
    h->hook.args = h->args;
    h->hook.env = env;
    h->hook.timeout = timeout;
}

static int run(const char *script, char **env, int timeout, struct box_err *err)
{
    struct sh_hook h;
    sh_hook(&h, script, env, timeout);
    box_err_clear(err);
    return box_hook_run(&h.hook, "prestart", 2, STATE_JSON, tmp, err);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_stdin_is_the_state(void **state)
{
    char out[PATH_MAX], script[PATH_MAX + 64];
    tmp_path(out, sizeof(out), "stdin");
    snprintf(script, sizeof(script), "cat > '%s'", out);
    struct box_err err;
    assert_int_equal(run(script, NULL, 10, &err), 0);
    char *got = slurp(out);
    assert_string_equal(got, STATE_JSON);
    free(got);
}

static void test_hook_that_ignores_stdin(void **state)
{
    /* never reading the state must not block the runtime */
    struct box_err err;
    assert_int_equal(run("exec 0<&-; exit 0", NULL, 10, &err), 0);
}

static void test_env_is_exactly_the_hooks(void **state)
{
    /* the runtime's own environment must not leak into the hook */
    setenv("BOX_UNIT_RUNTIME_SECRET", "leak", 1);
    char out[PATH_MAX], script[PATH_MAX + 64], var[PATH_MAX + 8];
    tmp_path(out, sizeof(out), "env");
    /* /proc/$$/environ: what execve gave the shell, before it adds PWD */
    snprintf(script, sizeof(script), "tr '\\0' '\\n' < /proc/$$/environ > \"$OUT\"");
    snprintf(var, sizeof(var), "OUT=%s", out);
    char *env[] = {var, "FOO=bar baz", "EMPTY=", NULL};
    struct box_err err;
    assert_int_equal(run(script, env, 10, &err), 0);
    char *got = slurp(out);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s\nFOO=bar baz\nEMPTY=\n", var);
    assert_string_equal(got, want);
    free(got);
    unsetenv("BOX_UNIT_RUNTIME_SECRET");

    /* no env at all: an empty environment, not the runtime's */
    char script2[PATH_MAX + 64];
    snprintf(script2, sizeof(script2), "tr '\\0' '\\n' < /proc/$$/environ > '%s'", out);
    setenv("BOX_UNIT_RUNTIME_SECRET", "leak", 1);
    assert_int_equal(run(script2, NULL, 10, &err), 0);
    unsetenv("BOX_UNIT_RUNTIME_SECRET");
    got = slurp(out);
    assert_string_equal(got, "");
    free(got);
}

static void test_cwd_and_fds(void **state)
{
    char out[PATH_MAX], script[PATH_MAX + 128];
    tmp_path(out, sizeof(out), "cwd");
    /* fd 50 of the runtime, deliberately without O_CLOEXEC */
    int nul = open("/dev/null", O_RDONLY);
    assert_true(nul >= 0);
    assert_int_equal(dup2(nul, 50), 50);
    close(nul);
    snprintf(script, sizeof(script),
             "pwd > '%s'; if [ -e /proc/$$/fd/50 ]; then echo leaked; else echo clean; fi >> '%s'",
             out, out);
    struct box_err err;
    assert_int_equal(run(script, NULL, 10, &err), 0);
    close(50);
    char *got = slurp(out);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof(want), "%s\nclean\n", tmp);
    assert_string_equal(got, want);
    free(got);
}

static void test_failing_hook_names_itself_and_its_stderr(void **state)
{
    struct box_err err;
    int r = run("echo 'something broke: bad config' >&2; exit 3", NULL, 10, &err);
    assert_int_equal(r, -ECANCELED);
    assert_int_equal(err.code, ECANCELED);
    assert_non_null(strstr(err.msg, "prestart[2]"));
    assert_non_null(strstr(err.msg, "/bin/sh"));
    assert_non_null(strstr(err.msg, "exit status 3"));
    assert_non_null(strstr(err.msg, "something broke: bad config"));
    /* stdout goes the same way */
    r = run("echo on-stdout; exit 1", NULL, 10, &err);
    assert_int_equal(r, -ECANCELED);
    assert_non_null(strstr(err.msg, "on-stdout"));
    /* killed by a signal */
    r = run("kill -TERM $$", NULL, 10, &err);
    assert_int_equal(r, -ECANCELED);
    assert_non_null(strstr(err.msg, "signal 15"));
    /* a path that cannot be executed */
    struct box_hook h = {.path = "/nonexistent/hook"};
    box_err_clear(&err);
    r = box_hook_run(&h, "poststop", 0, STATE_JSON, tmp, &err);
    assert_true(r < 0);
    assert_non_null(strstr(err.msg, "poststop[0]"));
    assert_non_null(strstr(err.msg, "/nonexistent/hook"));
}

/* The end of a long stderr is what explains a failure. Regression test, once a bug (hooks.c
 * box_hook_run): it keeps the last 2048 bytes of output but formats them
 * into err.msg (BOX_ERR_MSG_MAX = 1024) after the hook's name, so the
 * message is cut and carries the *start* of the kept window: the final
 * line is lost whenever the output passes ~950 bytes. */
static void test_failing_hook_keeps_the_end_of_long_stderr(void **state)
{
    struct box_err err;
    int r = run("i=0; while [ $i -lt 60 ]; do echo \"noise line $i ........................\" >&2;"
                " i=$((i+1)); done; echo 'FINAL: the real reason' >&2; exit 4",
                NULL, 10, &err);
    assert_int_equal(r, -ECANCELED);
    assert_non_null(strstr(err.msg, "prestart[2]"));
    assert_non_null(strstr(err.msg, "exit status 4"));
    if (!strstr(err.msg, "FINAL: the real reason"))
        fail_msg(
            "regression: the last line of the hook's stderr is missing from the error (%zu bytes, "
            "ends with `%s`)",
            strlen(err.msg), err.msg + (strlen(err.msg) > 60 ? strlen(err.msg) - 60 : 0));
}

static void test_timeout_kills_the_hook_and_its_children(void **state)
{
    char out[PATH_MAX], script[PATH_MAX + 64];
    tmp_path(out, sizeof(out), "bgpid");
    snprintf(script, sizeof(script), "sleep 100 & echo $! > '%s'; sleep 100", out);
    struct box_err err;
    double t0 = now_s();
    int r = run(script, NULL, 1, &err);
    double took = now_s() - t0;
    assert_int_equal(r, -ETIMEDOUT);
    assert_int_equal(err.code, ETIMEDOUT);
    assert_non_null(strstr(err.msg, "timed out"));
    assert_non_null(strstr(err.msg, "prestart[2]"));
    /* far below the hook's 100 s: it was killed, not waited for */
    if (took > 30)
        fail_msg("the hook ran %.1f s with a 1 s timeout", took);
    /* the background sleep died too: reaped by us (the subreaper), or by
     * the dying shell itself when it went first; either way it is gone */
    char *text = slurp(out);
    pid_t bg = (pid_t)strtol(text, NULL, 10);
    free(text);
    assert_true(bg > 0);
    bool gone = false;
    for (int i = 0; i < 500 && !gone; i++) {
        int status = 0;
        pid_t w = waitpid(bg, &status, WNOHANG);
        if (w == bg)
            gone = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        else if (w < 0 && errno == ECHILD)
            gone = dead_or_zombie(bg);
        if (!gone)
            usleep(10000);
    }
    if (!gone) {
        kill(bg, SIGKILL);
        fail_msg("the hook's background child %d outlived the timeout", (int)bg);
    }
}

/* Regression test, once a bug (hooks.c drain): the timeout is enforced only while the hook's output
 * pipe is open. A hook that closes (or redirects) its stdout and stderr
 * gives EOF at once, drain() returns "not timed out", and box_hook_run then
 * blocks in waitpid() for as long as the hook likes. Here the hook sleeps
 * 3 s against a 1 s timeout and is reported as a success. */
static void test_timeout_holds_after_the_hook_closes_its_output(void **state)
{
    struct box_err err;
    double t0 = now_s();
    int r = run("exec >/dev/null 2>&1; sleep 3", NULL, 1, &err);
    double took = now_s() - t0;
    if (r != -ETIMEDOUT)
        fail_msg(
            "regression: a hook with a 1 s timeout that closed its output ran %.1f s and returned "
            "%d (%s), want -ETIMEDOUT",
            took, r, r ? err.msg : "success");
}

static void test_flood_of_output_is_bounded(void **state)
{
    /* run in a child to read its peak memory apart from ours */
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct box_err err;
        int r = run("head -c 10485760 /dev/zero | tr '\\0' y; echo; echo FLOOD-END >&2; exit 5",
                    NULL, 60, &err);
        _exit(r == -ECANCELED && strstr(err.msg, "exit status 5") ? 0 : 1);
    }
    int status = 0;
    struct rusage ru;
    assert_int_equal(wait4(pid, &status, 0, &ru), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* ru_maxrss is in KiB: 10 MiB of output must not have been held */
    long grown = ru.ru_maxrss - self.ru_maxrss;
    if (grown > 4 * 1024)
        fail_msg("peak memory grew by %ld KiB while draining 10 MiB of output", grown);
}

static void test_hooks_run_in_order_and_stop_at_failure(void **state)
{
    char out[PATH_MAX], doc[4 * PATH_MAX];
    tmp_path(out, sizeof(out), "order");
    snprintf(doc, sizeof(doc),
             "{\"ociVersion\":\"1\",\"hooks\":{\"poststart\":["
             "{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"echo one >> %s\"]},"
             "{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"echo two >> %s; exit 9\"]},"
             "{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"echo three >> %s\"]}]}}",
             out, out, out);
    struct box_spec spec;
    struct box_err err = {0};
    assert_int_equal(box_spec_parse(doc, strlen(doc), &spec, &err), 0);
    int r = box_hooks_run(&spec, BOX_HOOK_POSTSTART, STATE_JSON, tmp, &err);
    assert_int_equal(r, -ECANCELED);
    assert_non_null(strstr(err.msg, "poststart[1]"));
    assert_non_null(strstr(err.msg, "exit status 9"));
    char *got = slurp(out);
    assert_string_equal(got, "one\ntwo\n");
    free(got);
    /* no hooks of a kind: nothing to do */
    assert_int_equal(box_hooks_run(&spec, BOX_HOOK_PRESTART, STATE_JSON, tmp, &err), 0);
    box_spec_free(&spec);
}

/* A config whose createContainer hooks (and one prestart hook) have the
 * given paths, each with args `box hook create-symlinks --link LINK`. */
static void self_spec(struct box_spec *spec, const char *paths[4], const char *verb,
                      const char *link)
{
    char doc[8 * PATH_MAX];
    size_t off = (size_t)snprintf(doc, sizeof(doc),
                                  "{\"ociVersion\":\"1\",\"hooks\":{\"createContainer\":[");
    for (int i = 0; i < 4; i++)
        off += (size_t)snprintf(doc + off, sizeof(doc) - off,
                                "%s{\"path\":\"%s\",\"args\":[\"box\",\"hook\",\"%s\","
                                "\"--link\",\"%s\"]}",
                                i ? "," : "", paths[i], verb, link);
    snprintf(doc + off, sizeof(doc) - off,
             "],\"prestart\":[{\"path\":\"%s\",\"args\":[\"box\",\"hook\","
             "\"create-symlinks\"]}]}}",
             paths[0]);
    struct box_err err = {0};
    if (box_spec_parse(doc, strlen(doc), spec, &err) < 0)
        fail_msg("%s", err.msg);
    box_hooks_find_self(spec);
}

/* box's own hooks are found by the file, never by the name: this very
 * program through its path or a link is itself; a copy is not; other
 * verbs and other kinds are executed as usual. */
static void test_self_hooks_are_found_by_file(void **state)
{
    char exe[PATH_MAX], link[PATH_MAX], copy[PATH_MAX], cmd[3 * PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    tmp_path(link, sizeof(link), "self-link");
    tmp_path(copy, sizeof(copy), "self-copy");
    unlink(link);
    assert_int_equal(symlink(exe, link), 0);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", exe, copy);
    assert_int_equal(system(cmd), 0);
    const char *paths[4] = {exe, link, copy, "/bin/true"};
    struct box_spec spec;
    self_spec(&spec, paths, "create-symlinks", "t::/l");
    const struct box_hook *h = spec.hooks[BOX_HOOK_CREATE_CONTAINER];
    assert_true(h[0].self);
    assert_true(h[1].self);
    assert_false(h[2].self);
    assert_false(h[3].self);
    assert_false(spec.hooks[BOX_HOOK_PRESTART][0].self);
    box_spec_free(&spec);
    /* an unknown verb is left to the program to refuse */
    self_spec(&spec, paths, "frobnicate", "t::/l");
    assert_false(spec.hooks[BOX_HOOK_CREATE_CONTAINER][0].self);
    box_spec_free(&spec);
}

/* In-process, the hook does its work on the root the state names, and a
 * failure names the hook as an executed one would. */
static void test_self_hooks_run_in_process(void **state)
{
    char exe[PATH_MAX], root[PATH_MAX], st[2 * PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    tmp_path(root, sizeof(root), "selfroot");
    mkdir(root, 0755);
    snprintf(st, sizeof(st),
             "{\"ociVersion\":\"1.2.0\",\"id\":\"c\",\"bundle\":\"/\","
             "\"root\":{\"path\":\"%s\"}}",
             root);
    const char *paths[4] = {exe, exe, exe, exe};
    struct box_spec spec;
    self_spec(&spec, paths, "create-symlinks", "libcuda.so.1::/usr/lib/libcuda.so");
    for (size_t i = 0; i < spec.n_hooks[BOX_HOOK_CREATE_CONTAINER]; i++)
        assert_true(spec.hooks[BOX_HOOK_CREATE_CONTAINER][i].self); /* never exec this test */
    struct box_err err = {0};
    assert_int_equal(box_hooks_run(&spec, BOX_HOOK_CREATE_CONTAINER, st, "/", &err), 0);
    char path[PATH_MAX + 32], target[64] = "";
    snprintf(path, sizeof(path), "%s/usr/lib/libcuda.so", root);
    assert_true(readlink(path, target, sizeof(target) - 1) > 0);
    assert_string_equal(target, "libcuda.so.1");
    box_spec_free(&spec);

    self_spec(&spec, paths, "create-symlinks", "x::relative");
    assert_true(spec.hooks[BOX_HOOK_CREATE_CONTAINER][0].self);
    assert_int_equal(box_hooks_run(&spec, BOX_HOOK_CREATE_CONTAINER, st, "/", &err), -EINVAL);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "hook createContainer[0] `%s`: hook create-symlinks:", exe);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "clean absolute path"));
    box_spec_free(&spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdin_is_the_state),
        cmocka_unit_test(test_hook_that_ignores_stdin),
        cmocka_unit_test(test_env_is_exactly_the_hooks),
        cmocka_unit_test(test_cwd_and_fds),
        cmocka_unit_test(test_failing_hook_names_itself_and_its_stderr),
        cmocka_unit_test(test_failing_hook_keeps_the_end_of_long_stderr),
        cmocka_unit_test(test_timeout_kills_the_hook_and_its_children),
        cmocka_unit_test(test_timeout_holds_after_the_hook_closes_its_output),
        cmocka_unit_test(test_flood_of_output_is_bounded),
        cmocka_unit_test(test_hooks_run_in_order_and_stop_at_failure),
        cmocka_unit_test(test_self_hooks_are_found_by_file),
        cmocka_unit_test(test_self_hooks_run_in_process),
    };
    return cmocka_run_group_tests_name("hooks", tests, group_setup, group_teardown);
}
