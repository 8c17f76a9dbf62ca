/* The pure parts of `box cdi generate` (lib/cdi/generate.h): the proc file
 * parsers, the minimum-version rule, the spec built from a discovered host,
 * and the YAML writer (lib/cdi/yaml_emit.h). Discovery over real trees is
 * tested by tests/acceptance/cdi_generate.bats on a fake host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cdi/generate.h"
#include "lib/cdi/yaml_emit.h"

static const char info[] = "Model: \t\t NVIDIA H100 80GB HBM3\n"
                           "IRQ:   \t\t 0\n"
                           "GPU UUID: \t GPU-8f6b2c1e-0d4a-4c3b-9e2f-1a2b3c4d5e6f\n"
                           "Bus Location: \t 0000:17:00.0\n"
                           "Device Minor: \t 3\n";

static void test_information(void **state)
{
    struct box_gen_gpu g = {0};
    struct box_err err = {0};
    assert_int_equal(box_gen_parse_information(info, "info", &g, &err), 0);
    assert_int_equal(g.minor, 3);
    assert_string_equal(g.uuid, "GPU-8f6b2c1e-0d4a-4c3b-9e2f-1a2b3c4d5e6f");
    assert_string_equal(g.model, "NVIDIA H100 80GB HBM3");

    assert_int_equal(box_gen_parse_information("GPU UUID: GPU-1\n", "f", &g, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "`f`: no `Device Minor:`"));
    assert_int_equal(
        box_gen_parse_information("Device Minor: 255\nGPU UUID: GPU-12345678\n", "f", &g, &err),
        -EINVAL);
    assert_non_null(strstr(err.msg, "0..253"));
    assert_int_equal(box_gen_parse_information("Device Minor: -1\n", "f", &g, &err), -EINVAL);
    assert_int_equal(
        box_gen_parse_information("Device Minor: 0\nGPU UUID: GPU-../../etc\n", "f", &g, &err),
        -EINVAL);
    assert_non_null(strstr(err.msg, "GPU UUID"));
    /* "Device Minor" must be its own key, not a suffix of another. */
    assert_int_equal(box_gen_parse_information("XDevice Minor: 1\n", "f", &g, &err), -EINVAL);
}

static void test_version(void **state)
{
    char v[BOX_GEN_VERSION_MAX];
    struct box_err err = {0};
    assert_int_equal(box_gen_parse_version("NVRM version: NVIDIA UNIX x86_64 Kernel Module  "
                                           "535.104.05  Sat Aug 19 01:15:15 UTC 2023\n",
                                           v, sizeof(v), &err),
                     0);
    assert_string_equal(v, "535.104.05");
    assert_int_equal(box_gen_parse_version("NVRM version: NVIDIA UNIX Open Kernel Module for "
                                           "x86_64  550.54.14  Release Build  (dvs-builder@U16)\n"
                                           "GCC version:  gcc version 12.2.0\n",
                                           v, sizeof(v), &err),
                     0);
    assert_string_equal(v, "550.54.14");
    assert_int_equal(box_gen_parse_version("GCC version: 12.2.0\n", v, sizeof(v), &err), -EINVAL);
    assert_int_equal(
        box_gen_parse_version("NVRM version: x86_64 Module\nGCC 12.2.0\n", v, sizeof(v), &err),
        -EINVAL);
    assert_true(box_gen_version_ok("550.54.14"));
    assert_false(box_gen_version_ok("550..14"));
    assert_false(box_gen_version_ok(".550"));
    assert_false(box_gen_version_ok("550.1/../x"));
    assert_false(box_gen_version_ok(""));
}

static void check_version(const char *json, const char *want)
{
    json_t *spec = json_loads(json, 0, NULL);
    assert_non_null(spec);
    assert_string_equal(box_gen_min_version(spec), want);
    json_decref(spec);
}

static void test_min_version(void **state)
{
    check_version("{\"kind\":\"nvidia.com/gpu\",\"devices\":[{\"name\":\"a\"}]}", "0.3.0");
    check_version("{\"kind\":\"v.io/c\",\"devices\":[{\"name\":\"a\",\"containerEdits\":"
                  "{\"mounts\":[{\"type\":\"bind\"}]}}]}",
                  "0.4.0");
    check_version("{\"kind\":\"v.io/c\",\"devices\":[{\"name\":\"0\"}]}", "0.5.0");
    check_version("{\"kind\":\"v.io/c\",\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/d\","
                  "\"hostPath\":\"/h\"}]},\"devices\":[{\"name\":\"a\"}]}",
                  "0.5.0");
    check_version("{\"kind\":\"v.io/c.x\",\"devices\":[{\"name\":\"a\"}]}", "0.6.0");
    check_version("{\"kind\":\"v.io/c\",\"devices\":[{\"name\":\"a\",\"annotations\":{}}]}",
                  "0.6.0");
    check_version("{\"kind\":\"v.io/c\",\"containerEdits\":{\"additionalGids\":[5]},"
                  "\"devices\":[{\"name\":\"0\"}]}",
                  "0.7.0");
    check_version("{\"kind\":\"v.io/c\",\"devices\":[{\"name\":\"a\",\"containerEdits\":"
                  "{\"netDevices\":[]}}]}",
                  "1.1.0");
}

static struct box_gen_file files[] = {
    {"/h/dev/nvidiactl", "/dev/nvidiactl"},
    {"/drv/usr/lib/libcuda.so.550.1", "/usr/lib/libcuda.so.550.1"},
};
static struct box_gen_link links[] = {{"libcuda.so.550.1", "/usr/lib/libcuda.so.1"}};
static char *dirs[] = {"/usr/lib"};

static void fake_host(struct box_gen_host *h)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->version, sizeof(h->version), "550.1");
    h->n_gpus = 2;
    for (unsigned i = 0; i < 2; i++) {
        h->gpus[i].minor = i + 4;
        snprintf(h->gpus[i].node, sizeof(h->gpus[i].node), "/dev/nvidia%u", i + 4);
        snprintf(h->gpus[i].uuid, sizeof(h->gpus[i].uuid), "GPU-0000000%u", i);
    }
    h->nodes = files;
    h->n_nodes = 1;
    h->mounts = files + 1;
    h->n_mounts = 1;
    h->links = links;
    h->n_links = 1;
    h->lib_dirs = dirs;
    h->n_lib_dirs = 1;
}

static void test_spec(void **state)
{
    struct box_gen_host h;
    fake_host(&h);
    struct box_gen_opts o = {.hook_path = "/usr/bin/box", .by_index = true, .by_uuid = true};
    json_t *spec = NULL;
    struct box_err err = {0};
    assert_int_equal(box_gen_spec(&h, &o, &spec, &err), 0);
    assert_string_equal(json_string_value(json_object_get(spec, "cdiVersion")), "0.5.0");
    assert_string_equal(json_string_value(json_object_get(spec, "kind")), "nvidia.com/gpu");
    json_t *devs = json_object_get(spec, "devices");
    assert_int_equal(json_array_size(devs), 5);
    const char *names[] = {"0", "GPU-00000000", "1", "GPU-00000001", "all"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(devs, i), "name")),
                            names[i]);
    /* Index 1 is the second GPU in PCI order, whatever its minor. */
    json_t *n1 =
        json_object_get(json_object_get(json_array_get(devs, 2), "containerEdits"), "deviceNodes");
    assert_string_equal(json_string_value(json_object_get(json_array_get(n1, 0), "path")),
                        "/dev/nvidia5");
    assert_null(json_object_get(json_array_get(n1, 0), "hostPath"));
    json_t *all =
        json_object_get(json_object_get(json_array_get(devs, 4), "containerEdits"), "deviceNodes");
    assert_int_equal(json_array_size(all), 2);
    json_t *common = json_object_get(spec, "containerEdits");
    json_t *ctl = json_array_get(json_object_get(common, "deviceNodes"), 0);
    assert_string_equal(json_string_value(json_object_get(ctl, "hostPath")), "/h/dev/nvidiactl");
    json_t *m = json_array_get(json_object_get(common, "mounts"), 0);
    char *opts = json_dumps(json_object_get(m, "options"), JSON_COMPACT);
    assert_string_equal(opts, "[\"ro\",\"nosuid\",\"nodev\",\"rbind\",\"rprivate\"]");
    free(opts);
    json_t *hooks = json_object_get(common, "hooks");
    char *args = json_dumps(json_object_get(json_array_get(hooks, 0), "args"), JSON_COMPACT);
    assert_string_equal(args, "[\"box\",\"hook\",\"create-symlinks\",\"--link\","
                              "\"libcuda.so.550.1::/usr/lib/libcuda.so.1\"]");
    free(args);
    args = json_dumps(json_object_get(json_array_get(hooks, 1), "args"), JSON_COMPACT);
    assert_string_equal(args, "[\"box\",\"hook\",\"update-ldcache\",\"--folder\",\"/usr/lib\"]");
    free(args);
    assert_string_equal(json_string_value(json_object_get(json_array_get(hooks, 1), "path")),
                        "/usr/bin/box");
    json_decref(spec);

    /* By UUID only, with nothing that needs a later version: 0.3.0. */
    h.n_nodes = 0;
    o.by_index = false;
    assert_int_equal(box_gen_spec(&h, &o, &spec, &err), 0);
    assert_string_equal(json_string_value(json_object_get(spec, "cdiVersion")), "0.3.0");
    assert_int_equal(json_array_size(json_object_get(spec, "devices")), 3);
    json_decref(spec);

    o.hook_path = "box";
    assert_int_equal(box_gen_spec(&h, &o, &spec, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "--hook-path"));
}

static void check_yaml(const char *json, const char *want)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    char *out = NULL;
    size_t len = 0;
    struct box_err err = {0};
    assert_int_equal(box_yaml_emit(v, &out, &len, &err), 0);
    assert_string_equal(out, want);
    assert_int_equal(strlen(out), len);
    free(out);
    json_decref(v);
}

static void test_yaml(void **state)
{
    check_yaml("{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\","
               "\"devices\":[{\"name\":\"0\",\"containerEdits\":{\"deviceNodes\":"
               "[{\"path\":\"/dev/nvidia0\"}]}}]}",
               "cdiVersion: \"0.5.0\"\n"
               "kind: nvidia.com/gpu\n"
               "devices:\n"
               "- name: \"0\"\n"
               "  containerEdits:\n"
               "    deviceNodes:\n"
               "    - path: /dev/nvidia0\n");
    /* Words and numbers a YAML reader would not take for strings. */
    check_yaml("[\"yes\",\"No\",\"on\",\"null\",\"~\",\"1e3\",\"\",\"-x\",\"a: b\",\"x:\","
               "\"#c\",\"ok\",7,true,null,[],{}]",
               "- \"yes\"\n- \"No\"\n- \"on\"\n- \"null\"\n- \"~\"\n- \"1e3\"\n- \"\"\n"
               "- \"-x\"\n- \"a: b\"\n- \"x:\"\n- \"#c\"\n- ok\n- 7\n- true\n- null\n- []\n"
               "- {}\n");
    check_yaml("\"line\\nbreak \\\"q\\\" \\u00e9\"", "\"line\\nbreak \\\"q\\\" \xc3\xa9\"\n");
}

static void test_yaml_depth(void **state)
{
    json_t *v = json_array();
    for (int i = 0; i < BOX_YAML_MAX_DEPTH + 5; i++)
        v = json_pack("[o]", v);
    char *out = NULL;
    size_t len;
    struct box_err err = {0};
    assert_int_equal(box_yaml_emit(v, &out, &len, &err), -ELOOP);
    assert_null(out);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_information), cmocka_unit_test(test_version),
        cmocka_unit_test(test_min_version), cmocka_unit_test(test_spec),
        cmocka_unit_test(test_yaml),        cmocka_unit_test(test_yaml_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
