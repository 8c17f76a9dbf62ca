/* Settings (env files, the environment, their checks) and the pure parts of
 * the API client: URLs, error answers, exit classes, the boot sector. */
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

#include "lib/vm/api.h"
#include "lib/vm/settings.h"

#define ORG "c72d8d75-efcc-4280-ae87-ca4ccc414c53"
#define REG "62f35744-1abd-47b8-a850-cfaa03fd3ca6"

static int parse(struct box_vm_settings *s, const char *text, struct box_err *err)
{
    memset(s, 0, sizeof(*s));
    memset(err, 0, sizeof(*err));
    return box_vm_settings_parse_env(s, text, strlen(text), "env", err);
}

static void test_env_text(void **state)
{
    struct box_vm_settings s;
    struct box_err err;
    assert_int_equal(parse(&s,
                           "# comment\n\nexport NSCALE_SERVICE_TOKEN='abc.def'\r\n"
                           "NSCALE_REGION_SERVICE_API_ENDPOINT=https://region.example.com/ \n"
                           "NSCALE_ORGANIZATION_ID=\"" ORG "\"\nNSCALE_REGION_ID=" REG
                           "\nOTHER=ignored value\n",
                           &err),
                     0);
    assert_string_equal(s.token, "abc.def");
    assert_string_equal(s.endpoint, "https://region.example.com");
    assert_string_equal(s.organization, ORG);
    assert_string_equal(s.region, REG);
    assert_string_equal(s.token_from, "env line 3");
    assert_int_equal(box_vm_settings_require(&s, 15, &err), 0);
    box_vm_settings_free(&s);
    assert_null(s.token);
}

static void expect_bad(const char *text, const char *msg)
{
    struct box_vm_settings s;
    struct box_err err;
    int r = parse(&s, text, &err);
    box_vm_settings_free(&s);
    if (r >= 0 || !strstr(err.msg, msg))
        fail_msg("`%s`: expected `%s`, got %d `%s`", text, msg, r, err.msg);
    /* the value of a bad token is never echoed */
    assert_null(strstr(err.msg, "s3cr3t"));
}

static void test_env_refused(void **state)
{
    expect_bad("NSCALE_SERVICE_TOKEN=s3cr3t with space\n", "holds a space");
    expect_bad("NSCALE_SERVICE_TOKEN='s3cr3t\n", "unterminated");
    expect_bad("NSCALE_SERVICE_TOKEN=s3cr3t\nNSCALE_SERVICE_TOKEN=s3cr3t\n", "set twice");
    expect_bad("NSCALE_SERVICE_TOKEN=\n", "1 to");
    expect_bad("garbage s3cr3t\n", "env line 1: not KEY=VALUE");
    expect_bad("NSCALE_REGION_ID=../x\n", "not a UUID");
    expect_bad("NSCALE_REGION_SERVICE_API_ENDPOINT=http://region.example.com\n", "clear text");
    expect_bad("NSCALE_REGION_SERVICE_API_ENDPOINT=https://u:p@h\n", "credentials");
    expect_bad("NSCALE_REGION_SERVICE_API_ENDPOINT=ftp://h\n", "not an http");
}

static void test_endpoint_rules(void **state)
{
    assert_null(box_vm_check_endpoint("http://127.0.0.1:8080"));
    assert_null(box_vm_check_endpoint("http://localhost"));
    assert_null(box_vm_check_endpoint("http://[::1]:9/"));
    assert_null(box_vm_check_endpoint("https://region.example.com/base"));
    assert_non_null(box_vm_check_endpoint("http://127example.com"));
    assert_non_null(box_vm_check_endpoint("https://h/?q"));
    assert_true(box_vm_is_uuid(ORG));
    assert_false(box_vm_is_uuid("c72d8d75-efcc-4280-ae87-ca4ccc414c5"));
    assert_false(box_vm_is_uuid("c72d8d75+efcc-4280-ae87-ca4ccc414c53"));
}

static void test_env_file_mode(void **state)
{
    char path[] = "/tmp/box-vm-env-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "NSCALE_SERVICE_TOKEN=tok\nNSCALE_REGION_ID=" REG "\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct box_vm_settings s = {0};
    struct box_err err = {0};
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(box_vm_settings_load(&s, path, &err), 0);
    assert_string_equal(s.token, "tok");
    box_vm_settings_free(&s);
    memset(&s, 0, sizeof(s));
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(box_vm_settings_load(&s, path, &err), -EACCES);
    assert_non_null(strstr(err.msg, "mode 0640"));
    assert_null(s.token);
    unlink(path);
    assert_int_equal(box_vm_settings_load(&s, path, &err), -ENOENT);
}

static void test_require(void **state)
{
    struct box_vm_settings s = {0};
    struct box_err err = {0};
    assert_int_equal(box_vm_settings_require(&s, BOX_VM_NEED_REGION, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "NSCALE_REGION_ID is not set"));
}

static void test_urls(void **state)
{
    struct box_vm_settings s = {
        .endpoint = "https://r.example", .organization = ORG, .region = REG};
    struct box_vm_client c;
    box_vm_client_init(&c, &s);
    char url[512];
    struct box_vm_list_query q = {
        .organization = true, .scope = "owned", .statuses = {"ready", "failed"}, .nstatuses = 2};
    assert_int_equal(box_vm_url_list(&c, &q, url, sizeof(url)), 0);
    assert_string_equal(url, "https://r.example/api/v2/regions/" REG "/images?organizationID=" ORG
                             "&scope=owned&status=ready&status=failed");
    struct box_vm_list_query global = {0};
    assert_int_equal(box_vm_url_list(&c, &global, url, sizeof(url)), 0);
    assert_string_equal(url, "https://r.example/api/v2/regions/" REG "/images");
    assert_int_equal(box_vm_url_images(&c, ORG, url, sizeof(url)), 0);
    assert_string_equal(url, "https://r.example/api/v1/organizations/" ORG "/regions/" REG
                             "/images/" ORG);
    assert_int_equal(box_vm_url_images(&c, NULL, url, 20), -ENAMETOOLONG);
}

static void test_error_text_and_classes(void **state)
{
    char out[256];
    const char *body = "{\"error\": \"forbidden\", \"error_description\": \"no\\u001b[31m\"}";
    box_vm_error_text(403, body, strlen(body), out, sizeof(out));
    assert_string_equal(out, "(403 forbidden: no?[31m)");
    box_vm_error_text(502, "<html>", 6, out, sizeof(out));
    assert_string_equal(out, "(502)");
    assert_int_equal(box_vm_exit_code(0), 0);
    assert_int_equal(box_vm_exit_code(-EINVAL), 1);
    assert_int_equal(box_vm_exit_code(-EPERM), 2);
    assert_int_equal(box_vm_exit_code(-EACCES), 2);
    assert_int_equal(box_vm_exit_code(-ENOENT), 3);
    assert_int_equal(box_vm_exit_code(-EREMOTEIO), 4);
    assert_int_equal(box_vm_exit_code(-ETIMEDOUT), 5);
    assert_int_equal(box_vm_exit_code(-BOX_VM_EUNKNOWN), 6);
    assert_int_equal(box_vm_exit_code(-BOX_VM_EFAILED), 7);
}

static void test_boot_sector(void **state)
{
    unsigned char s[512] = {0};
    struct box_err err = {0};
    assert_int_equal(box_vm_check_boot_sector(s, 512, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "00 00, not 55 aa"));
    s[510] = 0x55;
    s[511] = 0xaa;
    assert_int_equal(box_vm_check_boot_sector(s, 512, &err), 0);
    assert_int_equal(box_vm_check_boot_sector(s, 511, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "only 511 bytes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_text),
        cmocka_unit_test(test_env_refused),
        cmocka_unit_test(test_endpoint_rules),
        cmocka_unit_test(test_env_file_mode),
        cmocka_unit_test(test_require),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_error_text_and_classes),
        cmocka_unit_test(test_boot_sector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
