/* The image writer's pure parts: digests, the deterministic layer, the
 * fingerprint, ELF dependencies and the workload manifest. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/oci/digest.h"
#include "lib/oci/elfdeps.h"
#include "lib/oci/layout_write.h"
#include "lib/oci/rootfs.h"
#include "lib/oci/workloads.h"

static void test_digest_known_value(void **state)
{
    char d[BOX_OCI_DIGEST_LEN + 1];
    assert_int_equal(box_oci_digest_buf("abc", 3, d), 0);
    assert_string_equal(d,
                        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(box_oci_digest_valid(d));
    assert_string_equal(box_oci_digest_hex(d), d + 7);
    assert_false(box_oci_digest_valid(
        "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
    assert_false(box_oci_digest_valid(
        "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    assert_false(box_oci_digest_valid("sha256:ba78"));
    assert_null(box_oci_digest_hex("sha256:"));
}

static void test_digest_fd_matches_buf(void **state)
{
    char path[] = "/tmp/test_oci_XXXXXX", a[BOX_OCI_DIGEST_LEN + 1], b[BOX_OCI_DIGEST_LEN + 1];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    static char buf[200000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (char)(i * 31);
    assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
    lseek(fd, 0, SEEK_SET);
    struct box_err err = {0};
    uint64_t size = 0;
    assert_int_equal(box_oci_digest_fd(fd, a, &size, &err), 0);
    assert_int_equal(size, sizeof(buf));
    box_oci_digest_buf(buf, sizeof(buf), b);
    assert_string_equal(a, b);
    close(fd);
}

static void fill(struct box_oci_rootfs *r, const char *content, int reverse)
{
    struct box_err err = {0};
    box_oci_rootfs_init(r);
    if (reverse) {
        assert_int_equal(box_oci_rootfs_add_symlink(r, "/bin/sh", "busybox", &err), 0);
        assert_int_equal(
            box_oci_rootfs_add_data(r, "/usr/local/bin/w", content, strlen(content), 0755, &err),
            0);
        assert_int_equal(box_oci_rootfs_add_dir(r, "/tmp", 01777, 0, 0, &err), 0);
    } else {
        assert_int_equal(box_oci_rootfs_add_dir(r, "/tmp", 01777, 0, 0, &err), 0);
        assert_int_equal(
            box_oci_rootfs_add_data(r, "/usr/local/bin/w", content, strlen(content), 0755, &err),
            0);
        assert_int_equal(box_oci_rootfs_add_symlink(r, "/bin/sh", "busybox", &err), 0);
    }
    assert_int_equal(box_oci_rootfs_finish(r, &err), 0);
}

static void test_layer_is_deterministic_and_sorted(void **state)
{
    struct box_oci_rootfs a, b;
    fill(&a, "#!/bin/sh\necho hi\n", 0);
    fill(&b, "#!/bin/sh\necho hi\n", 1);
    /* Parents were added, and the order no longer depends on the calls. */
    assert_int_equal(a.n, 7);
    assert_string_equal(a.v[0].path, "bin");
    assert_string_equal(a.v[6].path, "usr/local/bin/w");
    struct box_err err = {0};
    unsigned char *ta, *tb, *ga, *gb;
    size_t la, lb, gla, glb;
    assert_int_equal(box_oci_rootfs_tar(&a, 0, &ta, &la, &err), 0);
    assert_int_equal(box_oci_rootfs_tar(&b, 0, &tb, &lb, &err), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(ta, tb, la);
    assert_int_equal(la % 512, 0);
    /* ustar magic, empty user and group names, uid 0, mtime 0. */
    assert_memory_equal(ta + 257,
                        "ustar\0"
                        "00",
                        8);
    assert_int_equal(ta[265], 0);
    assert_int_equal(ta[297], 0);
    assert_string_equal((char *)ta + 136, "00000000000");
    assert_int_equal(box_oci_gzip(ta, la, 9, &ga, &gla, &err), 0);
    assert_int_equal(box_oci_gzip(tb, lb, 9, &gb, &glb, &err), 0);
    assert_int_equal(gla, glb);
    assert_memory_equal(ga, gb, gla);
    /* gzip header: no FNAME flag, mtime 0. */
    assert_int_equal(ga[0], 0x1f);
    assert_int_equal(ga[3], 0);
    assert_memory_equal(ga + 4, "\0\0\0\0", 4);
    free(ta), free(tb), free(ga), free(gb);
    box_oci_rootfs_free(&a);
    box_oci_rootfs_free(&b);
}

static void test_rootfs_rejects_bad_paths(void **state)
{
    struct box_oci_rootfs r;
    struct box_err err = {0};
    box_oci_rootfs_init(&r);
    assert_int_equal(box_oci_rootfs_add_dir(&r, "/a/../b", 0755, 0, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "a/../b"));
    assert_int_equal(box_oci_rootfs_add_data(&r, "/x\ny", "", 0, 0644, &err), -EINVAL);
    assert_int_equal(box_oci_rootfs_add_data(&r, "/f", "1", 1, 0644, &err), 0);
    assert_int_equal(box_oci_rootfs_add_data(&r, "f", "2", 1, 0644, &err), -EEXIST);
    assert_int_equal(box_oci_rootfs_add_data(&r, "/f/g", "3", 1, 0644, &err), 0);
    assert_int_equal(box_oci_rootfs_finish(&r, &err), -ENOTDIR);
    assert_non_null(strstr(err.msg, "`/f` is not a directory"));
    assert_int_equal(box_oci_rootfs_add_file(&r, "/h", "/nonexistent/file", 0, &err), -ENOENT);
    box_oci_rootfs_free(&r);
}

static void fingerprint(const char *content, const char *input, char *out)
{
    struct box_oci_rootfs r;
    fill(&r, content, 0);
    struct box_oci_kv in[] = {{"busybox-static", input}};
    const char *env[] = {"PATH=/bin"}, *ep[] = {"/usr/local/bin/w"};
    struct box_oci_config cfg = {.architecture = "amd64",
                                 .os = "linux",
                                 .user = "sandbox",
                                 .env = env,
                                 .nenv = 1,
                                 .entrypoint = ep,
                                 .nentrypoint = 1};
    struct box_err err = {0};
    assert_int_equal(box_oci_fingerprint("s/1", "x", in, 1, NULL, 0, &r, &cfg, out, &err), 0);
    assert_int_equal(strlen(out), BOX_OCI_FPR_LEN);
    box_oci_rootfs_free(&r);
}

static void test_fingerprint_follows_inputs(void **state)
{
    char a[16], b[16], c[16], d[16];
    fingerprint("echo 1\n", "1.35", a);
    fingerprint("echo 1\n", "1.35", b);
    fingerprint("echo 2\n", "1.35", c);
    fingerprint("echo 1\n", "1.36", d);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
}

static void test_elf_parse_host_binary(void **state)
{
    const char *dirs[] = {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64",
                          "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu"};
    struct box_elf_deps *d = malloc(sizeof(*d));
    struct box_err err = {0};
    assert_int_equal(box_elf_deps("/bin/ls", "", dirs, 5, box_elf_is_driver_lib, d, &err), 0);
    assert_true(d->interp[0] == '/');
    int libc = 0;
    for (size_t i = 0; i < d->n; i++)
        libc |= strcmp(d->libs[i].name, "libc.so.6") == 0;
    assert_true(libc);
    /* A library directory that holds nothing: the closure fails by name. */
    const char *none[] = {"/nonexistent"};
    assert_int_equal(box_elf_deps("/bin/ls", "", none, 1, NULL, d, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "not found in the library directories"));
    assert_non_null(strstr(err.msg, "needed by `/bin/ls`"));
    free(d);
}

static void test_elf_rejects_garbage(void **state)
{
    struct box_elf_info *info = malloc(sizeof(*info));
    struct box_err err = {0};
    unsigned char buf[128] = "\x7f"
                             "ELF";
    assert_int_equal(box_elf_parse(buf, 3, info, &err), -ENOEXEC);
    assert_int_equal(box_elf_parse((const unsigned char *)"#!/bin/sh\n", 10, info, &err), -ENOEXEC);
    buf[4] = 2;     /* ELFCLASS64 */
    buf[5] = 1;     /* little endian */
    buf[32] = 0xff; /* e_phoff far past the end */
    buf[54] = 56;   /* e_phentsize */
    buf[56] = 1;    /* e_phnum */
    assert_int_equal(box_elf_parse(buf, 64, info, &err), -ENOEXEC);
    assert_non_null(strstr(err.msg, "program headers"));
    free(info);
}

static void test_driver_libraries_refused(void **state)
{
    assert_true(box_elf_is_driver_lib("libcuda.so.1"));
    assert_true(box_elf_is_driver_lib("libnvidia-ml.so.1"));
    assert_false(box_elf_is_driver_lib("libc.so.6"));
    assert_false(box_elf_is_driver_lib("libcudart.so.13"));
}

static void test_workloads_round_trip(void **state)
{
    struct box_workloads *m = calloc(1, sizeof(*m)), *back = calloc(1, sizeof(*back));
    m->schema_version = 1;
    strcpy(m->generated_by, "make \"images\"\n");
    strcpy(m->source_path, "e2e/gpu/images");
    strcpy(m->input_fingerprint, "0123456789ab");
    strcpy(m->input_keys[0], "busybox-static");
    strcpy(m->input_values[0], "1:1.35.0: yes # not a comment");
    m->ninputs = 1;
    strcpy(m->w[0].name, "smoke-fail");
    strcpy(m->w[0].image, "oci:build/images/smoke-fail@sha256:00");
    strcpy(m->w[0].command[0], "/usr/local/bin/openshell-gpu-workload");
    m->w[0].ncommand = 1;
    m->w[0].gpu = true;
    m->n = 1;
    char *text = NULL;
    struct box_err err = {0};
    assert_int_equal(box_workloads_format(m, &text, &err), 0);
    assert_int_equal(box_workloads_parse(text, strlen(text), back, &err), 0);
    assert_string_equal(back->generated_by, m->generated_by);
    assert_string_equal(back->input_values[0], m->input_values[0]);
    assert_string_equal(back->w[0].image, m->w[0].image);
    assert_false(back->w[0].expect_pass);
    assert_true(back->w[0].gpu);
    free(text);
    free(m);
    free(back);
}

static void expect_reject(const char *yaml, const char *needle)
{
    struct box_workloads *m = malloc(sizeof(*m));
    struct box_err err = {0};
    assert_true(box_workloads_parse(yaml, strlen(yaml), m, &err) < 0);
    if (!strstr(err.msg, needle))
        fail_msg("error `%s` does not name `%s`", err.msg, needle);
    free(m);
}

static void test_workloads_rejections(void **state)
{
    expect_reject("schema_version: 2\nworkloads: []\n", "schema_version");
    expect_reject("schema_version: 1\n", "workloads");
    expect_reject("schema_version: 1\nworkloads:\n  - {name: a, image: i, command: [x], "
                  "expect: maybe}\n",
                  "workloads[0].expect");
    expect_reject("schema_version: 1\nworkloads:\n  - {name: a, image: i, command: [], "
                  "expect: pass}\n",
                  "workloads[0].command");
    expect_reject("schema_version: 1\nworkloads:\n  - {name: a, image: i, command: [x], "
                  "expect: pass, requirements: {gpu: yes}}\n",
                  "requirements.gpu");
    expect_reject("schema_version: 1\nworkloads:\n  - {name: a, image: i, command: [x], "
                  "expect: pass}\n  - {name: a, image: j, command: [x], expect: fail}\n",
                  "given twice");
    expect_reject("schema_version: [1\n", "YAML error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_known_value),
        cmocka_unit_test(test_digest_fd_matches_buf),
        cmocka_unit_test(test_layer_is_deterministic_and_sorted),
        cmocka_unit_test(test_rootfs_rejects_bad_paths),
        cmocka_unit_test(test_fingerprint_follows_inputs),
        cmocka_unit_test(test_elf_parse_host_binary),
        cmocka_unit_test(test_elf_rejects_garbage),
        cmocka_unit_test(test_driver_libraries_refused),
        cmocka_unit_test(test_workloads_round_trip),
        cmocka_unit_test(test_workloads_rejections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
