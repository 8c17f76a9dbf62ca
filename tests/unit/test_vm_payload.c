/* The facts parser and the payload generator: the payload matches the
 * facts, validates, and whatever the region would refuse is refused here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/vm/payload.h"
#include "lib/vm/validate.h"

#define SHA "4dc8a386e62a0b974dc8a386e62a0b974dc8a386e62a0b974dc8a386e62a0b97"

/* Facts with `gpu` and `packages` replaced, and extra fields spliced in. */
static const char *facts_doc(const char *gpu, const char *packages, const char *extra)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf),
             "{\"image\": \"img.raw\", \"sha256\": \"" SHA "\", \"size\": 1048576, \"format\": "
             "\"raw\", \"architecture\": \"x86_64\", \"os\": {\"kernel\": \"linux\", \"family\": "
             "\"debian\", \"distro\": \"ubuntu\", \"version\": \"22.04\", \"codename\": "
             "\"jammy\"}, \"kernel\": \"5.15.0-1-generic\", \"gpu\": %s, \"packages\": %s, "
             "\"template\": \"nvidia-gpu-firmware1\", \"built_at\": \"2026-03-18T12:00:00Z\"%s}",
             gpu, packages, extra);
    return buf;
}

#define NV_GPU "{\"vendor\": \"NVIDIA\", \"driver\": \"580.95.05\", \"firmware_option\": true}"
#define K8S    "{\"kubelet\": \"1.30.0-1.1\", \"kubeadm\": \"1.30.0-1.1\"}"

static int build(const char *facts, const char *const *models, size_t nmodels, json_t **out,
                 struct box_err *err)
{
    struct box_vm_facts f;
    memset(err, 0, sizeof(*err));
    int r = box_vm_facts_parse(facts, strlen(facts), &f, err);
    if (r < 0)
        return r;
    struct box_vm_payload_opts o = {
        .uri = "https://images.example.com/img.raw", .models = models, .nmodels = nmodels};
    r = box_vm_payload_build(&f, &o, out, NULL, err);
    box_vm_facts_free(&f);
    return r;
}

static void test_nvidia_payload(void **state)
{
    const char *models[] = {"H100", "A100"};
    json_t *doc = NULL;
    struct box_err err;
    assert_int_equal(build(facts_doc(NV_GPU, K8S, ""), models, 2, &doc, &err), 0);
    json_t *spec = json_object_get(doc, "spec");
    json_t *gpu = json_object_get(spec, "gpu");
    assert_string_equal(json_string_value(json_object_get(gpu, "vendor")), "NVIDIA");
    assert_string_equal(json_string_value(json_object_get(gpu, "driver")), "580.95.05");
    assert_int_equal(json_array_size(json_object_get(gpu, "models")), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(spec, "softwareVersions"), "kubernetes")),
        "v1.30.0");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "metadata"), "name")),
        "ubuntu2204-nvidia-gpu-firmware1-4dc8a386");
    struct box_vm_report rep = {0};
    assert_int_equal(box_vm_validate_json(doc, NULL, &rep), 0);
    json_decref(doc);
}

static void test_no_gpu(void **state)
{
    json_t *doc = NULL;
    struct box_err err;
    assert_int_equal(build(facts_doc("null", "{}", ""), NULL, 0, &doc, &err), 0);
    assert_null(json_object_get(json_object_get(doc, "spec"), "gpu"));
    assert_null(json_object_get(json_object_get(doc, "spec"), "softwareVersions"));
    json_decref(doc);
    const char *models[] = {"H100"};
    assert_int_equal(build(facts_doc("null", "{}", ""), models, 1, &doc, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no NVIDIA driver"));
}

static void expect_refused(const char *facts, size_t nmodels, const char *msg)
{
    const char *models[] = {"H100"};
    json_t *doc = NULL;
    struct box_err err;
    int r = build(facts, models, nmodels, &doc, &err);
    if (r >= 0 || !strstr(err.msg, msg))
        fail_msg("expected `%s`, got %d `%s`", msg, r, err.msg);
    assert_null(doc);
}

static void test_refused(void **state)
{
    expect_refused(facts_doc(NV_GPU, K8S, ""), 0, "--gpu-model");
    expect_refused(facts_doc(NV_GPU, "{\"kubelet\": \"1.30.0\", \"kubectl\": \"1.29.0\"}", ""), 1,
                   "kubelet 1.30.0 and kubectl 1.29.0 differ");
    expect_refused(facts_doc(NV_GPU, "{\"kubelet\": \"latest\"}", ""), 1,
                   "facts `packages.kubelet`");
    expect_refused(facts_doc(NV_GPU, "{\"kubelet\": 1}", ""), 1, "facts `packages.kubelet`");
    expect_refused(facts_doc("{\"vendor\": \"NVIDIA\"}", K8S, ""), 1, "facts `gpu.driver`");
    expect_refused(
        facts_doc("{\"vendor\": \"NVIDIA\", \"driver\": \"1\", \"firmware_option\": 1}", K8S, ""),
        1, "facts `gpu.firmware_option`");
    expect_refused(facts_doc("[]", K8S, ""), 1, "facts `gpu`");
    expect_refused(facts_doc(NV_GPU, K8S, ", \"size\": 3"), 1, "duplicate");
    expect_refused("{\"image\": \"a/b.raw\"}", 1, "facts `image`");
    expect_refused("[]", 1, "not a JSON object");
    expect_refused("{", 1, "not JSON");
}

static void test_package_semver(void **state)
{
    char v[72];
    assert_int_equal(box_vm_package_semver("1.30.0-1.1", v, sizeof(v)), 0);
    assert_string_equal(v, "v1.30.0");
    assert_int_equal(box_vm_package_semver("2:1.7.12-0ubuntu2~22.04.1", v, sizeof(v)), 0);
    assert_string_equal(v, "v1.7.12");
    assert_int_equal(box_vm_package_semver("1.7.12~ds1-1", v, sizeof(v)), 0);
    assert_int_equal(box_vm_package_semver("1.30", v, sizeof(v)), -EINVAL);
    assert_int_equal(box_vm_package_semver("", v, sizeof(v)), -EINVAL);
    assert_int_equal(box_vm_package_semver("a:1.2.3", v, sizeof(v)), -EINVAL);
}

static void test_options(void **state)
{
    struct box_vm_facts f;
    struct box_err err = {0};
    const char *facts = facts_doc("null", K8S, "");
    assert_int_equal(box_vm_facts_parse(facts, strlen(facts), &f, &err), 0);
    struct box_vm_tag tags[] = {{"team", "gpu"}};
    struct box_vm_notes notes = {0};
    struct box_vm_payload_opts o = {.uri = "https://h.example/other.raw",
                                    .name = "my-image",
                                    .description = "d",
                                    .virtualization = "baremetal",
                                    .tags = tags,
                                    .ntags = 1};
    json_t *doc = NULL;
    assert_int_equal(box_vm_payload_build(&f, &o, &doc, &notes, &err), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "spec"), "virtualization")),
        "baremetal");
    assert_int_equal(notes.n, 1);
    assert_non_null(strstr(notes.text[0], "other.raw"));
    json_decref(doc);
    o.uri = "file:///x.raw";
    assert_int_equal(box_vm_payload_build(&f, &o, &doc, NULL, &err), -EINVAL);
    o.uri = "https://h.example/img.raw";
    o.name = "no spaces allowed";
    assert_int_equal(box_vm_payload_build(&f, &o, &doc, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "/metadata/name"));
    box_vm_facts_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nvidia_payload), cmocka_unit_test(test_no_gpu),
        cmocka_unit_test(test_refused),        cmocka_unit_test(test_package_semver),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
