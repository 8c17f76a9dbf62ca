/* The workload manifest parser: the schema, bounds and hostile YAML. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/validate/manifest.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int parse(const char *text, struct box_wl_list *m, struct box_err *err)
{
    return box_wl_parse(text, strlen(text), "m.yaml", m, err);
}

static void test_good(void **state)
{
    struct box_wl_list m;
    struct box_err err = {0};
    assert_int_equal(parse("schema_version: 1\n"
                           "generated_by: \"make images\"\n"
                           "source: {path: e2e/gpu/images, input_fingerprint: abc}\n"
                           "workloads:\n"
                           "  - name: cuda-basic\n"
                           "    image: \"reg:5000/openshell/gpu-workload-cuda-basic@sha256:" D64
                           "\"\n"
                           "    command: [\"/usr/local/bin/openshell-gpu-workload\", \"-v\"]\n"
                           "    expect: pass\n"
                           "    requirements: {gpu: true}\n"
                           "  - name: smoke-fail\n"
                           "    image: oci:smoke-fail:latest\n"
                           "    expect: fail\n"
                           "    future_field: ignored\n",
                           &m, &err),
                     0);
    assert_int_equal(m.count, 2);
    assert_string_equal(m.items[0].name, "cuda-basic");
    assert_true(m.items[0].gpu);
    assert_int_equal(m.items[0].ncommand, 2);
    assert_string_equal(m.items[0].command[1], "-v");
    assert_int_equal(m.items[0].expect, BOX_EXPECT_PASS);
    assert_int_equal(m.items[1].expect, BOX_EXPECT_FAIL);
    assert_false(m.items[1].gpu);
    assert_null(m.items[1].command);
    box_wl_free(&m);
    (void)state;
}

struct bad {
    const char *text, *needle;
    int code;
};

static void test_bad(void **state)
{
    static const struct bad cases[] = {
        {"schema_version: 2\nworkloads: []\n", "schema_version `2` is not supported", -ENOTSUP},
        {"workloads: []\n", "schema_version: missing", -EINVAL},
        {"schema_version: 1\n", "workloads: must be a list", -EINVAL},
        {"schema_version: 1\nschema_version: 1\nworkloads: []\n", "duplicate key", -EINVAL},
        {"schema_version: 1\nworkloads:\n  - {name: a, image: \"oci:x\"}\n",
         "workloads[0] (a).expect: missing", -EINVAL},
        {"schema_version: 1\nworkloads:\n  - {name: a, image: \"oci:x\", expect: maybe}\n",
         "must be pass or fail", -EINVAL},
        {"schema_version: 1\nworkloads:\n  - {name: ../x, image: \"oci:x\", expect: pass}\n",
         "workloads[0].name", -EINVAL},
        {"schema_version: 1\nworkloads:\n  - {name: a, image: \"r.io/a/b:latest\", expect: pass}\n",
         "by digest", -EINVAL},
        {"schema_version: 1\nworkloads:\n  - {name: a, image: \"oci:x\", expect: pass}\n"
         "  - {name: a, image: \"oci:y\", expect: fail}\n",
         "used twice", -EINVAL},
        {"schema_version: 1\nworkloads:\n  - {name: a, image: \"oci:x\", expect: pass, "
         "requirements: {gpu: \"yes\"}}\n",
         "requirements.gpu: must be true or false", -EINVAL},
        {"schema_version: 1\nworkloads:\n  - {name: a, image: \"oci:x\", expect: pass, "
         "command: []}\n",
         "command: must be a non-empty list", -EINVAL},
        {"schema_version: 1\nworkloads:\n  - &w {name: a, image: \"oci:x\", expect: pass}\n"
         "  - *w\n",
         "aliases are not allowed", -EINVAL},
        {"schema_version: 1\nworkloads: [\n", "line", -EINVAL},
        {"schema_version: 1\nworkloads: []\n---\nschema_version: 1\n", "more than one", -EINVAL},
        {"", "empty document", -EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct box_wl_list m;
        struct box_err err = {0};
        int r = parse(cases[i].text, &m, &err);
        if (r != cases[i].code || !strstr(err.msg, cases[i].needle))
            fail_msg("case %zu: got %d `%s`, want %d with `%s`", i, r, err.msg, cases[i].code,
                     cases[i].needle);
        assert_null(m.items);
    }
    (void)state;
}

static void test_bounds(void **state)
{
    struct box_wl_list m;
    struct box_err err = {0};
    /* nesting deeper than the limit */
    char *deep = malloc(1024);
    size_t n = (size_t)sprintf(deep, "schema_version: 1\nworkloads: ");
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    assert_int_equal(parse(deep, &m, &err), -E2BIG);
    assert_non_null(strstr(err.msg, "nested deeper"));
    free(deep);
    /* more workloads than allowed */
    char *many = malloc(1 << 20);
    n = (size_t)sprintf(many, "schema_version: 1\nworkloads:\n");
    for (int i = 0; i <= BOX_WL_MAX; i++)
        n += (size_t)sprintf(many + n, "  - {name: w%d, image: \"oci:x\", expect: pass}\n", i);
    assert_int_equal(parse(many, &m, &err), -E2BIG);
    /* a file over the size limit */
    char *big = calloc(1, BOX_WL_MAX_BYTES + 2);
    memset(big, '#', BOX_WL_MAX_BYTES + 1);
    assert_int_equal(parse(big, &m, &err), -EFBIG);
    free(big);
    free(many);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
