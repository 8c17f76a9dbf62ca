/* box_vm_spawn_run with real processes: exit status, capture bounds, the
 * marker, and a timeout that must leave no process of the group behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/vm/spawn.h"

static void run(const char *script, unsigned timeout_ms, const char *marker, size_t cap,
                struct box_vm_spawn_result *res)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    struct box_vm_spawn_opts o = {.argv = argv,
                                  .timeout_ms = timeout_ms,
                                  .grace_ms = 500,
                                  .capture_max = cap,
                                  .tee_fd = -1,
                                  .marker = marker};
    struct box_err err = {0};
    assert_int_equal(box_vm_spawn_run(&o, res, &err), 0);
}

static void test_exit_status(void **state)
{
    (void)state;
    struct box_vm_spawn_result r;
    run("echo out; echo err >&2; exit 7", 10000, NULL, 0, &r);
    assert_int_equal(r.end, BOX_VM_SPAWN_EXITED);
    assert_int_equal(r.status, 7);
    assert_string_equal(r.output, "out\nerr\n");
    box_vm_spawn_result_free(&r);
}

static void test_not_found(void **state)
{
    (void)state;
    const char *argv[] = {"/nonexistent/box-no-such-tool", NULL};
    struct box_vm_spawn_opts o = {.argv = argv, .tee_fd = -1};
    struct box_vm_spawn_result r;
    struct box_err err = {0};
    assert_int_equal(box_vm_spawn_run(&o, &r, &err), 0);
    assert_int_equal(r.status, 127);
    assert_non_null(strstr(r.output, "cannot run"));
    box_vm_spawn_result_free(&r);
}

static void test_capture_keeps_tail(void **state)
{
    (void)state;
    struct box_vm_spawn_result r;
    run("i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done", 10000, NULL, 64, &r);
    assert_true(r.truncated);
    assert_true(r.len <= 64);
    assert_non_null(strstr(r.output, "line1999\n"));
    assert_string_equal(box_vm_spawn_tail(&r, 1), "line1999\n");
    box_vm_spawn_result_free(&r);
}

/* A group with a leader and two background members that ignore SIGTERM:
 * after the timeout, none of them may be left. */
static void test_timeout_kills_group(void **state)
{
    (void)state;
    struct box_vm_spawn_result r;
    run("trap '' TERM; sleep 100 & sleep 100 & echo started; wait", 300, NULL, 0, &r);
    assert_int_equal(r.end, BOX_VM_SPAWN_TIMED_OUT);
    assert_true(r.pgid > 0);
    assert_int_equal(kill(-r.pgid, 0), -1);
    assert_int_equal(errno, ESRCH);
    assert_non_null(strstr(r.output, "started"));
    char how[128];
    box_vm_spawn_describe(&r, 300, how, sizeof(how));
    assert_non_null(strstr(how, "timed out"));
    box_vm_spawn_result_free(&r);
}

static void test_marker_stops(void **state)
{
    (void)state;
    struct box_vm_spawn_result r;
    run("echo boot; sleep 0.2; printf 'BOX-VM-'; sleep 0.2; printf 'READY'; sleep 0.3;"
        "echo ' 6.1'; sleep 100",
        20000, "BOX-VM-READY", 0, &r);
    assert_int_equal(r.end, BOX_VM_SPAWN_MARKER);
    /* split across reads, and the rest of its line waited for */
    assert_non_null(strstr(r.output, "BOX-VM-READY 6.1\n"));
    assert_true(r.elapsed_ms < 20000);
    assert_int_equal(kill(-r.pgid, 0), -1);
    box_vm_spawn_result_free(&r);
}

/* Members left behind by a leader that exits normally are killed too. */
static void test_leftover_member_killed(void **state)
{
    (void)state;
    struct box_vm_spawn_result r;
    run("sleep 100 >/dev/null 2>&1 & exit 0", 10000, NULL, 0, &r);
    assert_int_equal(r.end, BOX_VM_SPAWN_EXITED);
    assert_int_equal(r.status, 0);
    assert_int_equal(kill(-r.pgid, 0), -1);
    box_vm_spawn_result_free(&r);
}

static void test_env_added(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo \"$BOX_SPAWN_TEST\"", NULL};
    const char *env[] = {"BOX_SPAWN_TEST=hello", NULL};
    struct box_vm_spawn_opts o = {.argv = argv, .env = env, .tee_fd = -1};
    struct box_vm_spawn_result r;
    struct box_err err = {0};
    assert_int_equal(box_vm_spawn_run(&o, &r, &err), 0);
    assert_string_equal(r.output, "hello\n");
    box_vm_spawn_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_status),        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_capture_keeps_tail), cmocka_unit_test(test_timeout_kills_group),
        cmocka_unit_test(test_marker_stops),       cmocka_unit_test(test_leftover_member_killed),
        cmocka_unit_test(test_env_added),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
