/* The verdict, marker lines, the bounded capture of a real child process,
 * report sanitizing, and user resolution through an image's /etc/passwd. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/base/fs.h"
#include "lib/validate/config.h"
#include "lib/validate/gpu.h"
#include "lib/validate/proc.h"
#include "lib/validate/report.h"
#include "lib/validate/verdict.h"

static void feed(struct box_markers *m, enum box_stream s, const char *line)
{
    box_markers_line(m, s, line, strlen(line), false);
}

static enum box_outcome decide(enum box_expect e, struct box_markers *m, int code, bool *matched)
{
    struct box_verdict v = {0};
    box_verdict_decide(e, m, code, &v);
    *matched = v.matched;
    return v.outcome;
}

static void test_verdicts(void **state)
{
    bool ok;
    struct box_markers m = {.name = "w"};
    feed(&m, BOX_STDOUT, "OPENSHELL_GPU_WORKLOAD_SUCCESS w");
    assert_int_equal(decide(BOX_EXPECT_PASS, &m, 0, &ok), BOX_OUT_PASS);
    assert_true(ok);
    assert_int_equal(decide(BOX_EXPECT_FAIL, &m, 0, &ok), BOX_OUT_PASS);
    assert_false(ok);
    /* marker then a non-zero exit */
    assert_int_equal(decide(BOX_EXPECT_PASS, &m, 1, &ok), BOX_OUT_INVALID);
    /* exit 0 without the marker */
    m = (struct box_markers){.name = "w"};
    assert_int_equal(decide(BOX_EXPECT_PASS, &m, 0, &ok), BOX_OUT_INVALID);
    /* marker only on stderr */
    feed(&m, BOX_STDERR, "OPENSHELL_GPU_WORKLOAD_SUCCESS w");
    assert_int_equal(decide(BOX_EXPECT_PASS, &m, 0, &ok), BOX_OUT_INVALID);
    /* FAILURE with a reason on stderr and exit 42 */
    m = (struct box_markers){.name = "w"};
    feed(&m, BOX_STDERR, "OPENSHELL_GPU_WORKLOAD_FAILURE w cudaErrorNoDevice: no device");
    assert_int_equal(decide(BOX_EXPECT_FAIL, &m, 42, &ok), BOX_OUT_FAIL);
    assert_true(ok);
    /* FAILURE but exit 0 */
    assert_int_equal(decide(BOX_EXPECT_FAIL, &m, 0, &ok), BOX_OUT_INVALID);
    assert_false(ok);
    /* non-zero without the marker */
    m = (struct box_markers){.name = "w"};
    assert_int_equal(decide(BOX_EXPECT_FAIL, &m, 137, &ok), BOX_OUT_INVALID);
    (void)state;
}

static void test_marker_lines(void **state)
{
    struct box_markers m = {.name = "smoke-pass"};
    feed(&m, BOX_STDOUT, "OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass2");
    feed(&m, BOX_STDOUT, "OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass extra");
    feed(&m, BOX_STDOUT, " OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass");
    feed(&m, BOX_STDOUT, "OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pas");
    feed(&m, BOX_STDOUT, "OPENSHELL_GPU_WORKLOAD_SUCCESS");
    feed(&m, BOX_STDOUT, "OPENSHELL_GPU_WORKLOAD_FAILURE smoke-passX why");
    assert_false(m.success_out);
    assert_false(m.failure_out);
    assert_true(m.other_name);
    box_markers_line(&m, BOX_STDOUT, "OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass", 41, true);
    assert_false(m.success_out); /* a line cut at the limit never counts */
    const char with_nul[] = "OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass\0x";
    box_markers_line(&m, BOX_STDOUT, with_nul, sizeof(with_nul) - 1, false);
    assert_false(m.success_out);
    feed(&m, BOX_STDOUT, "OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass");
    assert_true(m.success_out);
    (void)state;
}

static void test_capture_bounded(void **state)
{
    struct box_markers m = {.name = "big"};
    struct box_proc p;
    struct box_err err = {0};
    char *argv[] = {"/bin/sh", "-c",
                    "head -c 3000000 /dev/zero | tr '\\0' a; echo; "
                    "echo OPENSHELL_GPU_WORKLOAD_SUCCESS big; echo oops >&2; exit 7",
                    NULL};
    assert_int_equal(box_proc_spawn(argv, 1000, box_markers_line, &m, &p, &err), 0);
    while (!box_proc_done(&p)) {
        struct pollfd fds[3];
        size_t n = box_proc_pollfds(&p, fds);
        poll(fds, n, 100);
        assert_int_equal(box_proc_step(&p, &err), 0);
    }
    assert_int_equal(box_proc_exit_code(p.status), 7);
    assert_int_equal(p.cap[BOX_STDOUT].len, 1000);
    assert_int_equal(p.cap[BOX_STDOUT].total, 3000000 + 1 + 35);
    assert_int_equal(p.cap[BOX_STDOUT].dropped, p.cap[BOX_STDOUT].total - 1000);
    assert_string_equal(p.cap[BOX_STDERR].buf, "oops\n");
    assert_true(m.success_out);
    box_proc_release(&p);
    /* a child past its time is killed */
    char *sleeper[] = {"/bin/sh", "-c", "sleep 30", NULL};
    assert_int_equal(box_proc_run(sleeper, 100, 200, &p, &err), -ETIMEDOUT);
    assert_int_equal(box_proc_exit_code(p.status), 128 + 9);
    box_proc_release(&p);
    (void)state;
}

static void test_sanitize(void **state)
{
    size_t n;
    char *s = box_utf8_clean("a\xff\xc3\xa9\0b\xe2\x82", 8, &n);
    assert_string_equal(s, "a\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd"
                           "b\xef\xbf\xbd\xef\xbf\xbd");
    free(s);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    static const char hostile[] = "<a href=\"x\">&'\x01\x1b\t\xef\xbf\xbe";
    box_xml_escape(f, hostile, sizeof(hostile) - 1);
    fclose(f);
    assert_string_equal(out, "&lt;a href=&quot;x&quot;&gt;&amp;&apos;\xef\xbf\xbd\xef\xbf\xbd\t"
                             "\xef\xbf\xbd");
    free(out);
    (void)state;
}

static void put(int root, const char *path, const char *text)
{
    struct box_err err;
    assert_int_equal(box_write_file_atomic(root, path, text, strlen(text), 0644, &err), 0);
}

static void test_user(void **state)
{
    char dir[] = "/tmp/test_validate_user.XXXXXX", outside[] = "/tmp/test_validate_out.XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_non_null(mkdtemp(outside));
    int root = open(dir, O_RDONLY | O_DIRECTORY);
    struct box_user u;
    struct box_err err = {0};
    /* no /etc/passwd: numbers only */
    assert_int_equal(box_validate_user(root, "1234:55", &u, &err), 0);
    assert_int_equal(u.uid, 1234);
    assert_int_equal(u.gid, 55);
    assert_int_equal(box_validate_user(root, "sandbox", &u, &err), -ENOENT);
    mkdirat(root, "etc", 0755);
    int etc = openat(root, "etc", O_RDONLY | O_DIRECTORY);
    put(etc, "passwd",
        "root:x:0:0:root:/root:/bin/sh\nbroken line\n"
        "sandbox:x:1000:1001:s:/home/sandbox:/bin/sh\n");
    put(etc, "group", "root:x:0:\nvideo:x:44:sandbox\n");
    close(etc);
    assert_int_equal(box_validate_user(root, "sandbox", &u, &err), 0);
    assert_int_equal(u.uid, 1000);
    assert_int_equal(u.gid, 1001);
    assert_string_equal(u.home, "/home/sandbox");
    assert_int_equal(box_validate_user(root, "sandbox:video", &u, &err), 0);
    assert_int_equal(u.gid, 44);
    assert_int_equal(box_validate_user(root, "1000", &u, &err), 0);
    assert_int_equal(u.gid, 1001);
    assert_int_equal(box_validate_user(root, "sandbox:nogroup", &u, &err), -ENOENT);
    assert_int_equal(box_validate_user(root, "4294967295", &u, &err), -ENOENT);
    assert_int_equal(box_validate_user(root, "", &u, &err), 0);
    assert_int_equal(u.uid, 0);
    /* /etc/passwd as an absolute symlink out of the root stays inside it */
    char target[128];
    snprintf(target, sizeof(target), "%s/passwd", outside);
    int ofd = open(outside, O_RDONLY | O_DIRECTORY);
    put(ofd, "passwd", "evil:x:0:0::/:/bin/sh\n");
    close(ofd);
    unlinkat(root, "etc/passwd", 0);
    assert_int_equal(symlinkat(target, root, "etc/passwd"), 0);
    assert_int_equal(box_validate_user(root, "evil", &u, &err), -ENOENT);
    close(root);
    box_remove_tree(AT_FDCWD, dir);
    box_remove_tree(AT_FDCWD, outside);
    (void)state;
}

static void test_gpu_probe(void **state)
{
    char dir[] = "/tmp/test_validate_gpu.XXXXXX", path[256], why[256];
    assert_non_null(mkdtemp(dir));
    assert_false(box_gpu_present(dir, NULL, 0, why, sizeof(why)));
    assert_non_null(strstr(why, "no NVIDIA GPU"));
    snprintf(path, sizeof(path), "%s/dev", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/dev/nvidiactl", dir);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    assert_false(box_gpu_present(dir, NULL, 0, why, sizeof(why))); /* nvidiactl is not a GPU */
    snprintf(path, sizeof(path), "%s/dev/nvidia0", dir);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    assert_false(box_gpu_present(dir, NULL, 0, why, sizeof(why)));
    assert_non_null(strstr(why, "no CDI spec"));
    snprintf(path, sizeof(path), "%s/etc/cdi", dir);
    struct box_err err;
    assert_int_equal(box_mkdir_p(path, 0755, &err), 0);
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    put(fd, "nvidia.yaml", "cdiVersion: 0.6.0\nkind: nvidia.com/gpu\ndevices: []\n");
    close(fd);
    assert_true(box_gpu_present(dir, NULL, 0, why, sizeof(why)));
    /* Given directories replace the defaults: the spec in etc/cdi is not
     * looked at, one in a given directory is. */
    char other[300];
    snprintf(other, sizeof(other), "%s/other", dir);
    assert_int_equal(box_mkdir_p(other, 0755, &err), 0);
    const char *dirs[] = {other};
    assert_false(box_gpu_present(dir, dirs, 1, why, sizeof(why)));
    assert_non_null(strstr(why, "--cdi-spec-dir"));
    fd = open(other, O_RDONLY | O_DIRECTORY);
    put(fd, "gpu.json", "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\"}");
    close(fd);
    assert_true(box_gpu_present(dir, dirs, 1, why, sizeof(why)));
    box_remove_tree(AT_FDCWD, dir);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_marker_lines),
        cmocka_unit_test(test_capture_bounded),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_user),
        cmocka_unit_test(test_gpu_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
