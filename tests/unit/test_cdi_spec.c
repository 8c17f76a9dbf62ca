/* CDI spec files: JSON and YAML to the same tree, the field rules, the
 * minimum-version rule, names, and the bounds on hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cdi/cdi.h"

/* ' stands for " so that the specs stay readable. */
static char *jq(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

static int parse_json(const char *text, struct box_cdi_spec *spec, struct box_err *err)
{
    char *t = jq(text);
    int r = box_cdi_spec_parse(t, strlen(t), BOX_CDI_FORMAT_JSON, "t.json", spec, err);
    free(t);
    return r;
}

/* Parses and expects a failure whose message holds each needle. */
static void expect_fail(const char *text, enum box_cdi_format fmt, const char *n1, const char *n2)
{
    struct box_cdi_spec spec;
    struct box_err err = {0};
    char *t = jq(text);
    int r = box_cdi_spec_parse(t, strlen(t), fmt, "t.spec", &spec, &err);
    free(t);
    if (r >= 0)
        fail_msg("accepted: %s", text);
    if (!strstr(err.msg, n1) || (n2 && !strstr(err.msg, n2)))
        fail_msg("message `%s` lacks `%s` / `%s`", err.msg, n1, n2 ? n2 : "");
    assert_non_null(strstr(err.msg, "`t.spec`"));
}

#define DEV "'devices':[{'name':'a','containerEdits':{'env':['A=1']}}]"

static void test_minimal_json(void **state)
{
    struct box_cdi_spec spec;
    struct box_err err = {0};
    assert_int_equal(
        parse_json("{'cdiVersion':'0.3.0','kind':'vendor.com/class'," DEV "}", &spec, &err), 0);
    assert_string_equal(spec.kind, "vendor.com/class");
    assert_int_equal(spec.version_num, BOX_CDI_VERSION(0, 3, 0));
    assert_int_equal(spec.n_devices, 1);
    assert_string_equal(spec.devices[0].name, "a");
    assert_null(spec.edits);
    box_cdi_spec_free(&spec);
}

static const char nvidia_yaml[] = "---\n"
                                  "cdiVersion: 0.5.0\n"
                                  "containerEdits:\n"
                                  "  env:\n"
                                  "  - NVIDIA_VISIBLE_DEVICES=void\n"
                                  "  hooks:\n"
                                  "  - args:\n"
                                  "    - nvidia-cdi-hook\n"
                                  "    - update-ldcache\n"
                                  "    hookName: createContainer\n"
                                  "    path: /usr/bin/nvidia-cdi-hook\n"
                                  "  mounts:\n"
                                  "  - containerPath: /usr/lib/libcuda.so.550.54.15\n"
                                  "    hostPath: /usr/lib/libcuda.so.550.54.15\n"
                                  "    options: [ro, nosuid, nodev, bind]\n"
                                  "devices:\n"
                                  "- containerEdits:\n"
                                  "    deviceNodes:\n"
                                  "    - path: /dev/nvidia0\n"
                                  "  name: \"0\"\n"
                                  "- containerEdits:\n"
                                  "    deviceNodes:\n"
                                  "    - {path: /dev/nvidia0, major: 195, minor: 0, type: c,"
                                  " fileMode: 0666}\n"
                                  "  name: GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c\n"
                                  "kind: nvidia.com/gpu\n";

static void test_yaml_as_nvidia_writes_it(void **state)
{
    struct box_cdi_spec spec;
    struct box_err err = {0};
    int r = box_cdi_spec_parse(nvidia_yaml, strlen(nvidia_yaml), BOX_CDI_FORMAT_YAML, "nv.yaml",
                               &spec, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(spec.n_devices, 2);
    assert_string_equal(spec.devices[0].name, "0");
    json_t *node = json_array_get(json_object_get(spec.devices[1].edits, "deviceNodes"), 0);
    /* YAML 1.1 octal, as Go's decoders read it; integers stay integers. */
    assert_int_equal(json_integer_value(json_object_get(node, "fileMode")), 0666);
    assert_int_equal(json_integer_value(json_object_get(node, "major")), 195);
    assert_true(json_is_string(json_object_get(node, "type")));
    assert_int_equal(spec.required, BOX_CDI_VERSION(0, 5, 0));
    box_cdi_spec_free(&spec);
}

static void test_yaml_equals_json(void **state)
{
    json_t *y = NULL;
    struct box_err err = {0};
    const char *yaml = "a: [1, -2, 0x10, 0o17, 017, 1.5, true, null, ~, '3', \"x\", plain]\n"
                       "b: {c: {d: e}}\n";
    assert_int_equal(box_cdi_yaml_to_json(yaml, strlen(yaml), &y, &err), 0);
    char *t = jq("{'a':[1,-2,16,15,15,1.5,true,null,null,'3','x','plain'],'b':{'c':{'d':'e'}}}");
    json_t *j = json_loads(t, 0, NULL);
    free(t);
    assert_true(json_equal(y, j));
    json_decref(y);
    json_decref(j);
}

static void test_yaml_hostile(void **state)
{
    json_t *y = NULL;
    struct box_err err = {0};
    /* Billion laughs: nine levels of ten aliases, 10^9 nodes expanded. */
    char bomb[2048] = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; i++) {
        size_t n = strlen(bomb);
        snprintf(bomb + n, sizeof(bomb) - n,
                 "a%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,"
                 "*a%d,*a%d]\n",
                 i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    }
    assert_int_equal(box_cdi_yaml_to_json(bomb, strlen(bomb), &y, &err), -E2BIG);
    assert_non_null(strstr(err.msg, "alias expansion"));
    assert_null(y);
    /* Depth: 10000 nested flow sequences. */
    size_t n = 20000;
    char *deep = malloc(n + 1);
    memset(deep, '[', n / 2);
    memset(deep + n / 2, ']', n / 2);
    deep[n] = '\0';
    assert_int_equal(box_cdi_yaml_to_json(deep, n, &y, &err), -E2BIG);
    assert_non_null(strstr(err.msg, "deeper than 64"));
    free(deep);
    static const char *const bad[] = {
        "a: 1\na: 2\n",                 /* duplicate key */
        "a: 1\n---\nb: 2\n",            /* two documents */
        "a: *nowhere\n",                /* unknown anchor */
        "a: &x [*x]\n",                 /* self reference */
        "a: !!binary aGVsbG8=\n",       /* tags */
        "a: 99999999999999999999999\n", /* out of range */
        "? [a]\n: b\n",                 /* a key that is not a scalar */
        "a: [\n",                       /* syntax */
        "",                             /* empty */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = (struct box_err){0};
        if (box_cdi_yaml_to_json(bad[i], strlen(bad[i]), &y, &err) >= 0)
            fail_msg("accepted YAML: %s", bad[i]);
        assert_true(err.msg[0] != '\0');
    }
}

static void test_unknown_fields_and_types(void **state)
{
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c'," DEV ",'extra':1}", BOX_CDI_FORMAT_JSON,
                "spec: unknown field `extra`", NULL);
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a','containerEdits':"
                "{'deviceNodes':[{'path':'/dev/x','hostpath':'/dev/y'}]}}]}",
                BOX_CDI_FORMAT_JSON, "devices[0].containerEdits.deviceNodes[0]",
                "unknown field `hostpath`");
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a','containerEdits':"
                "{'env':'A=1'}}]}",
                BOX_CDI_FORMAT_JSON, "devices[0].containerEdits.env", "array");
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a','containerEdits':"
                "{'env':['NOEQUALS']}}]}",
                BOX_CDI_FORMAT_JSON, "env[0]", "NAME=VALUE");
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a','containerEdits':"
                "{'mounts':[{'hostPath':'/h','containerPath':'/a/../../etc'}]}}]}",
                BOX_CDI_FORMAT_JSON, "mounts[0].containerPath", "`..`");
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a','containerEdits':"
                "{'hooks':[{'hookName':'prestart','path':'relative'}]}}]}",
                BOX_CDI_FORMAT_JSON, "hooks[0].path", "absolute");
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a','containerEdits':"
                "{'hooks':[{'hookName':'atStart','path':'/bin/x'}]}}]}",
                BOX_CDI_FORMAT_JSON, "hooks[0].hookName", "atStart");
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a','containerEdits':"
                "{'deviceNodes':[{'path':'/dev/x','permissions':'rwx'}]}}]}",
                BOX_CDI_FORMAT_JSON, "permissions", NULL);
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a','containerEdits':"
                "{'deviceNodes':[{'path':'/dev/x','major':4096}]}}]}",
                BOX_CDI_FORMAT_JSON, "major", "out of range");
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a','containerEdits':"
                "{'mounts':[{'hostPath':'/h','containerPath':'/c','options':['rro']}]}}]}",
                BOX_CDI_FORMAT_JSON, "options[0]", "not supported");
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[]}", BOX_CDI_FORMAT_JSON,
                "at least one device", NULL);
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a'}]}",
                BOX_CDI_FORMAT_JSON, "devices[0].containerEdits: required", NULL);
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a','containerEdits':"
                "{}}]}",
                BOX_CDI_FORMAT_JSON, "must edit something", NULL);
    expect_fail("{'cdiVersion':'0.3.0','kind':'v.com/c','devices':[{'name':'a','containerEdits':"
                "{'env':['A=1']}},{'name':'a','containerEdits':{'env':['A=1']}}]}",
                BOX_CDI_FORMAT_JSON, "devices[1].name", "also devices[0]");
    expect_fail("{'cdiVersion':'0.3.0','cdiVersion':'0.3.0'}", BOX_CDI_FORMAT_JSON, "duplicate",
                NULL);
}

static void test_names(void **state)
{
    struct box_err err = {0};
    char kind[2 * BOX_CDI_MAX_NAME + 2], name[BOX_CDI_MAX_NAME + 1];
    assert_int_equal(box_cdi_parse_qualified("nvidia.com/gpu=0", kind, name, &err), 0);
    assert_string_equal(kind, "nvidia.com/gpu");
    assert_string_equal(name, "0");
    assert_int_equal(box_cdi_parse_qualified("nvidia.com/gpu=GPU-4cf8:1", kind, name, &err), 0);
    static const char *const bad[] = {"nvidia.com/gpu", "nvidia.com=0",  "1vendor/gpu=0",
                                      "vendor/gpu-=0",  "vendor/gpu=",   "vendor/gpu=-0",
                                      "vendor/gpu=a b", "ven dor/gpu=0", "vendor/=0",
                                      "/gpu=0",         "vendor/gpu=0:", "vendor/g/pu=0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (box_cdi_parse_qualified(bad[i], kind, name, &err) >= 0)
            fail_msg("accepted `%s`", bad[i]);
    expect_fail("{'cdiVersion':'0.5.0','kind':'v.com/c','devices':[{'name':'-a','containerEdits':"
                "{'env':['A=1']}}]}",
                BOX_CDI_FORMAT_JSON, "devices[0].name", "start and end");
    expect_fail("{'cdiVersion':'0.3.0','kind':'vendor','devices':[]}", BOX_CDI_FORMAT_JSON, "kind",
                "vendor/class");
}

/* Each feature, declared one version too low, fails naming the field. */
static void test_minimum_versions(void **state)
{
    static const struct {
        const char *low, *ok, *body, *field;
    } cases[] = {
        {"0.3.0", "0.4.0", "'mounts':[{'hostPath':'/h','containerPath':'/c','type':'bind'}]",
         "mounts[0].type"},
        {"0.4.0", "0.5.0", "'deviceNodes':[{'path':'/dev/x','hostPath':'/dev/y'}]",
         "deviceNodes[0].hostPath"},
        {"0.6.0", "0.7.0", "'additionalGids':[5]", "additionalGids"},
        {"0.6.0", "0.7.0", "'intelRdt':{'closID':'x'}", "intelRdt"},
        {"1.0.0", "1.1.0", "'intelRdt':{'schemata':['L3:0=f']}", "intelRdt.schemata"},
        {"1.0.0", "1.1.0", "'intelRdt':{'enableMonitoring':true}", "enableMonitoring"},
        {"1.0.0", "1.1.0", "'netDevices':[{'hostInterfaceName':'eth1','name':'net0'}]",
         "netDevices[0]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024];
        snprintf(text, sizeof(text),
                 "{'cdiVersion':'%s','kind':'v.com/c','devices':[{'name':'a','containerEdits':{"
                 "%s}}]}",
                 cases[i].low, cases[i].body);
        expect_fail(text, BOX_CDI_FORMAT_JSON, cases[i].field, "needs cdiVersion");
        snprintf(text, sizeof(text),
                 "{'cdiVersion':'%s','kind':'v.com/c','devices':[{'name':'a','containerEdits':{"
                 "%s}}]}",
                 cases[i].ok, cases[i].body);
        struct box_cdi_spec spec;
        struct box_err err = {0};
        if (parse_json(text, &spec, &err) < 0)
            fail_msg("%s: %s", cases[i].ok, err.msg);
        box_cdi_spec_free(&spec);
    }
    expect_fail("{'cdiVersion':'0.4.0','kind':'v.com/c','devices':[{'name':'0','containerEdits':"
                "{'env':['A=1']}}]}",
                BOX_CDI_FORMAT_JSON, "devices[0].name needs cdiVersion 0.5.0", NULL);
    expect_fail("{'cdiVersion':'0.5.0','kind':'v.com/c.d'," DEV "}", BOX_CDI_FORMAT_JSON,
                "kind needs cdiVersion 0.6.0", NULL);
    expect_fail("{'cdiVersion':'0.5.0','kind':'v.com/c','annotations':{'a':'b'}," DEV "}",
                BOX_CDI_FORMAT_JSON, "annotations needs cdiVersion 0.6.0", NULL);
    expect_fail("{'cdiVersion':'0.2.0','kind':'v.com/c'," DEV "}", BOX_CDI_FORMAT_JSON,
                "`0.2.0` is not a supported CDI version", NULL);
    expect_fail("{'cdiVersion':'0.9.0','kind':'v.com/c'," DEV "}", BOX_CDI_FORMAT_JSON,
                "`0.9.0` is not a supported", NULL);
    expect_fail("{'cdiVersion':0.5,'kind':'v.com/c'," DEV "}", BOX_CDI_FORMAT_JSON, "cdiVersion",
                "string");
}

static void test_size_limit(void **state)
{
    size_t n = BOX_CDI_MAX_FILE_BYTES + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    struct box_cdi_spec spec;
    struct box_err err = {0};
    assert_int_equal(box_cdi_spec_parse(big, n, BOX_CDI_FORMAT_JSON, "big.json", &spec, &err),
                     -EFBIG);
    assert_non_null(strstr(err.msg, "`big.json`"));
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_json),
        cmocka_unit_test(test_yaml_as_nvidia_writes_it),
        cmocka_unit_test(test_yaml_equals_json),
        cmocka_unit_test(test_yaml_hostile),
        cmocka_unit_test(test_unknown_fields_and_types),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_minimum_versions),
        cmocka_unit_test(test_size_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
