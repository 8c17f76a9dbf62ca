/* The guest's facts report -> facts JSON: a good report, and each rule
 * broken once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vm/facts.h"

static const char good[] = "architecture=x86_64\n"
                           "os.family=debian\n"
                           "os.distro=ubuntu\n"
                           "os.version=22.04\n"
                           "os.codename=jammy\n"
                           "os.variant=server\n"
                           "kernel=5.15.0-204-generic\n"
                           "gpu.vendor=NVIDIA\n"
                           "gpu.driver=580.178.04\n"
                           "gpu.firmware_option=1\n"
                           "package.containerd=2.2.1\n"
                           "package.nvidia-dkms-580-server=580.178.04\n";

static const struct box_vm_facts_host host = {.image = "x.raw",
                                              .sha256 = "00112233445566778899aabbccddeeff"
                                                        "00112233445566778899aabbccddeeff",
                                              .size = 8589934592ull,
                                              .template = "nvidia-gpu-firmware1",
                                              .built_at = 1700000000};

static int build(const char *text, json_t **out, struct box_err *err)
{
    return box_vm_facts_build(text, strlen(text), &host, out, err);
}

static void expect_error(const char *text, const char *needle)
{
    json_t *j = NULL;
    struct box_err err = {0};
    assert_true(build(text, &j, &err) < 0);
    assert_null(j);
    if (!strstr(err.msg, needle))
        fail_msg("error `%s` does not mention `%s`", err.msg, needle);
}

/* good with one line replaced (or removed when `with` is NULL) */
static char *variant(const char *line, const char *with)
{
    char *s = malloc(sizeof(good) + 256);
    assert_non_null(s);
    const char *at = strstr(good, line);
    assert_non_null(at);
    size_t pre = (size_t)(at - good), len = strlen(line);
    snprintf(s, sizeof(good) + 256, "%.*s%s%s", (int)pre, good, with ? with : "", at + len + 1);
    return s;
}

static void test_good(void **state)
{
    (void)state;
    json_t *j = NULL;
    struct box_err err = {0};
    assert_int_equal(build(good, &j, &err), 0);
    assert_string_equal(json_string_value(json_object_get(j, "image")), "x.raw");
    assert_string_equal(json_string_value(json_object_get(j, "format")), "raw");
    assert_int_equal(json_integer_value(json_object_get(j, "size")), 8589934592ll);
    json_t *os = json_object_get(j, "os");
    assert_string_equal(json_string_value(json_object_get(os, "kernel")), "linux");
    assert_string_equal(json_string_value(json_object_get(os, "distro")), "ubuntu");
    assert_string_equal(json_string_value(json_object_get(os, "version")), "22.04");
    json_t *gpu = json_object_get(j, "gpu");
    assert_string_equal(json_string_value(json_object_get(gpu, "vendor")), "NVIDIA");
    assert_string_equal(json_string_value(json_object_get(gpu, "driver")), "580.178.04");
    assert_true(json_is_true(json_object_get(gpu, "firmware_option")));
    json_t *pk = json_object_get(j, "packages");
    assert_string_equal(json_string_value(json_object_get(pk, "containerd")), "2.2.1");
    assert_string_equal(json_string_value(json_object_get(j, "built_at")), "2023-11-14T22:13:20Z");
    assert_string_equal(json_string_value(json_object_get(j, "template")), "nvidia-gpu-firmware1");
    json_decref(j);
}

static void test_no_gpu_is_null(void **state)
{
    (void)state;
    char *s = malloc(4096);
    assert_non_null(s);
    /* drop all three gpu lines */
    snprintf(s, 4096, "%s", good);
    for (const char *k = "gpu."; strstr(s, k);) {
        char *at = strstr(s, k), *nl = strchr(at, '\n');
        memmove(at, nl + 1, strlen(nl + 1) + 1);
    }
    json_t *j = NULL;
    struct box_err err = {0};
    assert_int_equal(build(s, &j, &err), 0);
    assert_true(json_is_null(json_object_get(j, "gpu")));
    json_decref(j);
    free(s);
}

static void test_rules(void **state)
{
    (void)state;
    struct {
        const char *line, *with, *needle;
    } cases[] = {
        {"os.distro=ubuntu", "os.distro=fedora\n", "`os.distro`: invalid value `fedora`"},
        {"architecture=x86_64", "architecture=aarch64\n", "`architecture`: invalid value"},
        {"architecture=x86_64", NULL, "`architecture` is missing"},
        {"kernel=5.15.0-204-generic", "kernel=5.15 0\n", "`kernel`: invalid value"},
        {"gpu.vendor=NVIDIA", "gpu.vendor=nvidia\n", "`gpu.vendor`: invalid value"},
        {"gpu.vendor=NVIDIA", NULL, "come together"},
        {"gpu.firmware_option=1", "gpu.firmware_option=yes\n", "gpu.firmware_option"},
        {"gpu.driver=580.178.04", "gpu.driver=580.x\n", "`gpu.driver`: invalid value"},
        {"os.variant=server", "os.varient=server\n", "unknown key `os.varient`"},
        {"os.variant=server", "os.variant=server\nos.variant=server\n", "given twice"},
        {"package.containerd=2.2.1", "package.Containerd=2.2.1\n", "not a package name"},
        {"package.containerd=2.2.1", "package.containerd=\"2\"\n", "bad version"},
        {"os.version=22.04", "os.version\n", "expected key=value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = variant(cases[i].line, cases[i].with);
        expect_error(s, cases[i].needle);
        free(s);
    }
}

static void test_bounds(void **state)
{
    (void)state;
    size_t cap = BOX_VM_FACTS_REPORT_MAX + 64;
    char *s = malloc(cap);
    assert_non_null(s);
    snprintf(s, cap, "%s", good);
    for (unsigned i = 0; i < 70; i++) {
        char line[64];
        snprintf(line, sizeof(line), "package.p%02u=1.0\n", i);
        strcat(s, line);
    }
    expect_error(s, "more than 64 packages");
    memset(s, '#', cap - 1);
    s[cap - 1] = '\0';
    expect_error(s, "more than 65536");
    snprintf(s, cap, "%s", good);
    for (unsigned i = 0; i < 300; i++)
        strcat(s, "#\n");
    expect_error(s, "more than 256 lines");
    const char nul[] = "architecture=x86_64\0\n";
    json_t *j = NULL;
    struct box_err err = {0};
    assert_true(box_vm_facts_build(nul, sizeof(nul) - 1, &host, &j, &err) < 0);
    assert_non_null(strstr(err.msg, "NUL"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_no_gpu_is_null),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
