/* The manifest.json parser and validator, profiles, and serialization. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/image/decomp.h"
#include "lib/image/manifest.h"
#include "lib/image/profile.h"

#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A valid manifest with `extra` spliced into the top object and `files`
 * as the files array. */
static char *doc(const char *extra, const char *files)
{
    static char buf[8192];
    snprintf(
        buf, sizeof(buf),
        "{\"schema_version\": 1, \"bundle_name\": \"b\", \"bundle_version\": \"0.1.0\","
        " \"architecture\": \"amd64\", \"created_at\": \"2026-03-18T12:34:56Z\","
        " \"components\": {\"nvidia_container_toolkit\": {\"version\": \"1\", \"commit\": \"a\"},"
        " \"libnvidia_container\": {\"version\": \"1\", \"commit\": \"b\"}}%s%s}",
        extra,
        files ? files
              : ", \"files\": [{\"path\": \"usr/bin/x\", \"entry_type\": "
                "\"file\", \"sha256\": \"" SHA_A "\", \"size\": 9}]");
    return buf;
}

static char *nvidia_components[] = {"nvidia_container_toolkit", "libnvidia_container"};

static int parse(const char *text, struct box_manifest **m, struct box_err *err)
{
    struct box_manifest_rules rules = {
        .arch = "amd64", .components = nvidia_components, .ncomponents = 2};
    box_err_clear(err);
    return box_manifest_parse(text, strlen(text), &rules, m, err);
}

static void expect_error(const char *text, const char *msg)
{
    struct box_manifest *m = NULL;
    struct box_err err;
    assert_int_equal(parse(text, &m, &err), -BOX_EDATA);
    assert_null(m);
    if (strncmp(err.msg, msg, strlen(msg)) != 0)
        fail_msg("got \"%s\", wanted \"%s...\"", err.msg, msg);
}

static void test_valid(void **state)
{
    struct box_manifest *m = NULL;
    struct box_err err;
    assert_int_equal(parse(doc("", NULL), &m, &err), 0);
    assert_string_equal(m->bundle_name, "b");
    assert_int_equal(m->ncomponents, 2);
    assert_int_equal(m->nfiles, 1);
    const struct box_node *f = box_tree_get(&m->files, "usr/bin/x");
    assert_non_null(f);
    assert_int_equal(f->size, 9);
    assert_int_equal(f->sha256[0], 0x01);
    box_manifest_free(m);
}

static void test_json_errors(void **state)
{
    expect_error("{ invalid json", "malformed manifest.json: ");
    expect_error("[1, 2]", "malformed manifest.json: the document is not a JSON object");
    expect_error("{\"a\": 1, \"a\": 2}", "malformed manifest.json: ");
    expect_error("", "malformed manifest.json: ");
}

static void test_required_fields(void **state)
{
    static const char *const fields[] = {"schema_version", "bundle_name", "bundle_version",
                                         "architecture",   "created_at",  "components"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char text[8192], want[128];
        snprintf(text, sizeof(text), "%s", doc("", NULL));
        /* drop `"field": value` up to the next top-level comma */
        char key[64];
        snprintf(key, sizeof(key), "\"%s\"", fields[i]);
        char *at = strstr(text, key);
        assert_non_null(at);
        char *end = strstr(at, strcmp(fields[i], "components") ? ", \"" : "}}, ");
        end += strcmp(fields[i], "components") ? 2 : 4;
        memmove(at, end, strlen(end) + 1);
        snprintf(want, sizeof(want), "missing required manifest field: %s", fields[i]);
        expect_error(text, want);
    }
    expect_error(doc("", ""), "missing required manifest field: files");
}

static void test_field_types(void **state)
{
    expect_error("{\"schema_version\": 2, \"bundle_name\": \"b\", \"bundle_version\": \"v\","
                 " \"architecture\": \"amd64\", \"created_at\": \"t\", \"components\": {},"
                 " \"files\": []}",
                 "malformed manifest.json: schema_version must be the integer 1");
    expect_error("{\"schema_version\": 1.0, \"bundle_name\": \"b\", \"bundle_version\": \"v\","
                 " \"architecture\": \"amd64\", \"created_at\": \"t\", \"components\": {},"
                 " \"files\": []}",
                 "malformed manifest.json: schema_version must be the integer 1");
    expect_error("{\"schema_version\": 1, \"bundle_name\": \"  \", \"bundle_version\": \"v\","
                 " \"architecture\": \"amd64\", \"created_at\": \"t\", \"components\": {},"
                 " \"files\": []}",
                 "malformed manifest.json: bundle_name must be a non-blank string");
    expect_error("{\"schema_version\": 1, \"bundle_name\": \"b\", \"bundle_version\": 3,"
                 " \"architecture\": \"amd64\", \"created_at\": \"t\", \"components\": {},"
                 " \"files\": []}",
                 "malformed manifest.json: bundle_version must be a non-blank string");
    expect_error("{\"schema_version\": 1, \"bundle_name\": \"b\", \"bundle_version\": \"v\","
                 " \"architecture\": \"amd64\", \"created_at\": \"t\", \"components\": [],"
                 " \"files\": []}",
                 "malformed manifest.json: components must be an object");
}

static void test_components(void **state)
{
    expect_error("{\"schema_version\": 1, \"bundle_name\": \"b\", \"bundle_version\": \"v\","
                 " \"architecture\": \"amd64\", \"created_at\": \"t\", \"components\":"
                 " {\"nvidia_container_toolkit\": {\"version\": \"1\", \"commit\": \"a\"}},"
                 " \"files\": []}",
                 "missing required manifest field: components.libnvidia_container");
    expect_error("{\"schema_version\": 1, \"bundle_name\": \"b\", \"bundle_version\": \"v\","
                 " \"architecture\": \"amd64\", \"created_at\": \"t\", \"components\":"
                 " {\"nvidia_container_toolkit\": {\"version\": \"1\", \"commit\": \" \"},"
                 " \"libnvidia_container\": {\"version\": \"1\", \"commit\": \"b\"}},"
                 " \"files\": []}",
                 "missing required manifest field: components.nvidia_container_toolkit.commit");
    /* components beyond the required ones need version and commit too */
    expect_error("{\"schema_version\": 1, \"bundle_name\": \"b\", \"bundle_version\": \"v\","
                 " \"architecture\": \"amd64\", \"created_at\": \"t\", \"components\":"
                 " {\"nvidia_container_toolkit\": {\"version\": \"1\", \"commit\": \"a\"},"
                 " \"libnvidia_container\": {\"version\": \"1\", \"commit\": \"b\"},"
                 " \"other\": {\"version\": \"1\"}}, \"files\": []}",
                 "missing required manifest field: components.other.commit");
}

static void test_architecture(void **state)
{
    char text[8192];
    snprintf(text, sizeof(text), "%s", doc("", NULL));
    char *at = strstr(text, "\"amd64\"");
    memcpy(at, "\"arm64\"", 7);
    expect_error(text, "bundle architecture mismatch: expected amd64, got arm64");
}

static void test_files(void **state)
{
    expect_error(doc("", ", \"files\": {}"), "malformed manifest.json: files must be an array");
    expect_error(doc("", ", \"files\": []"),
                 "malformed manifest.json: files lists no regular file");
    expect_error(doc("", ", \"files\": [{\"path\": \"l\", \"entry_type\": \"symlink\"}]"),
                 "malformed manifest.json: files lists no regular file");
    expect_error(doc("", ", \"files\": [3]"), "malformed manifest.json: files[0] is not an object");
    expect_error(doc("", ", \"files\": [{\"entry_type\": \"file\"}]"),
                 "missing required manifest field: files[0].path");
    expect_error(doc("", ", \"files\": [{\"path\": \"a\"}]"),
                 "missing required manifest field: files[0].entry_type (a)");
    expect_error(doc("", ", \"files\": [{\"path\": \"a\", \"entry_type\": \"dir\"}]"),
                 "malformed manifest.json: files[0].entry_type must be \"file\" or \"symlink\"");
    expect_error(doc("", ", \"files\": [{\"path\": \"a\", \"entry_type\": \"file\", \"size\": 1}]"),
                 "missing required manifest field: files[0].sha256 (a)");
    expect_error(doc("", ", \"files\": [{\"path\": \"a\", \"entry_type\": \"file\","
                         " \"sha256\": \"ABC\", \"size\": 1}]"),
                 "malformed manifest.json: files[0].sha256 is not 64 lowercase hex digits");
    expect_error(doc("", ", \"files\": [{\"path\": \"a\", \"entry_type\": \"file\","
                         " \"sha256\": \"" SHA_A "\"}]"),
                 "missing required manifest field: files[0].size (a)");
    expect_error(doc("", ", \"files\": [{\"path\": \"a\", \"entry_type\": \"file\","
                         " \"sha256\": \"" SHA_A "\", \"size\": -1}]"),
                 "malformed manifest.json: files[0].size must be a non-negative integer");
    expect_error(doc("", ", \"files\": [{\"path\": \"a\", \"entry_type\": \"symlink\","
                         " \"target\": 5}]"),
                 "malformed manifest.json: files[0].target must be a non-empty string");
}

static void test_paths(void **state)
{
    static const char *const bad[] = {"../x", "/etc/passwd", "a/../b",        "./a",  "a/",
                                      "a//b", " a",          "manifest.json", "a\\nb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char files[512], want[256];
        snprintf(files, sizeof(files),
                 ", \"files\": [{\"path\": \"%s\", \"entry_type\": \"symlink\"}]", bad[i]);
        /* the JSON escape \n is a newline, printed back escaped */
        snprintf(want, sizeof(want), "invalid manifest-listed payload path: %s", bad[i]);
        expect_error(doc("", files), want);
    }
    expect_error(doc("", ", \"files\": [{\"path\": \"a\", \"entry_type\": \"symlink\"},"
                         " {\"path\": \"a\", \"entry_type\": \"symlink\"}]"),
                 "duplicate path in manifest.json: a");
}

static void test_limits(void **state)
{
    struct box_manifest *m = NULL;
    struct box_err err;
    struct box_manifest_rules rules = {.max_files = 2};
    const char *three = doc("", ", \"files\": [{\"path\": \"a\", \"entry_type\": \"symlink\"},"
                                " {\"path\": \"b\", \"entry_type\": \"symlink\"},"
                                " {\"path\": \"c\", \"entry_type\": \"symlink\"}]");
    assert_int_equal(box_manifest_parse(three, strlen(three), &rules, &m, &err), -BOX_EDATA);
    assert_string_equal(err.msg, "malformed manifest.json: files has more than 2 entries");
    char *huge = malloc(BOX_MANIFEST_MAX_BYTES + 2);
    assert_non_null(huge);
    memset(huge, ' ', BOX_MANIFEST_MAX_BYTES + 1);
    huge[BOX_MANIFEST_MAX_BYTES + 1] = '\0';
    assert_int_equal(box_manifest_parse(huge, BOX_MANIFEST_MAX_BYTES + 1, &rules, &m, &err),
                     -BOX_EDATA);
    assert_string_equal(err.msg, "manifest.json larger than 16777216 bytes");
    free(huge);
}

static void test_dump_roundtrip(void **state)
{
    struct box_manifest *m = NULL, *again = NULL;
    struct box_err err;
    const char *text =
        doc("", ", \"files\": [{\"path\": \"usr/lib/l.so\", \"entry_type\":"
                " \"symlink\", \"target\": \"l.so.1\"}, {\"path\": \"usr/bin/x\","
                " \"entry_type\": \"file\", \"sha256\": \"" SHA_A "\", \"size\": 9}]");
    assert_int_equal(parse(text, &m, &err), 0);
    char *out;
    size_t len;
    assert_int_equal(box_manifest_dump(m, &out, &len, &err), 0);
    assert_int_equal(out[len - 1], '\n');
    assert_non_null(strstr(out, "  \"schema_version\": 1,\n  \"bundle_name\": \"b\""));
    assert_int_equal(parse(out, &again, &err), 0);
    assert_int_equal(again->nfiles, 1);
    assert_int_equal(again->nsymlinks, 1);
    assert_string_equal(box_tree_get(&again->files, "usr/lib/l.so")->link, "l.so.1");
    assert_string_equal(again->files.nodes[0]->path, "usr/lib/l.so");
    free(out);
    box_manifest_free(m);
    box_manifest_free(again);
}

static void test_profiles(void **state)
{
    struct box_profile *p = NULL;
    struct box_err err;
    assert_int_equal(box_profile_load("nvidia", &p, &err), 0);
    assert_int_equal(p->ncomponents, 2);
    assert_int_equal(p->nmanifest_paths, 6);
    assert_int_equal(p->nregular_files, 5);
    assert_int_equal(p->nglobs, 1);
    box_profile_free(p);
    assert_int_equal(box_profile_load("none", &p, &err), 0);
    assert_int_equal(p->ncomponents + p->nmanifest_paths + p->nglobs, 0);
    box_profile_free(p);
    const char *bad[] = {"{\"regular_files\": [\"../x\"]}", "{\"globs\": [\"/usr/*\"]}",
                         "{\"componentz\": []}", "{\"directories\": \"etc\"}", "[]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(box_profile_parse(bad[i], strlen(bad[i]), "t", &p, &err), -EINVAL);
    assert_int_equal(box_profile_load("/nonexistent/profile.json", &p, &err), -ENOENT);
}

static void test_profile_payload(void **state)
{
    struct box_profile *p = NULL;
    struct box_tree t;
    struct box_err err;
    struct box_node *n;
    const char *text = "{\"regular_files\": [\"bin/a\"], \"directories\": [\"etc\"],"
                       " \"globs\": [\"lib/${multiarch}/libx*.so*\"]}";
    assert_int_equal(box_profile_parse(text, strlen(text), "t", &p, &err), 0);
    box_tree_init(&t);
    box_tree_add(&t, "T/bin/a", BOX_NODE_SYMLINK, "b", &n);
    box_tree_add(&t, "T/etc", BOX_NODE_DIR, NULL, &n);
    assert_int_equal(box_profile_check_payload(p, &t, "T", "amd64", &err), -BOX_EDATA);
    assert_string_equal(err.msg, "invalid required binary entry type: bin/a");
    n = box_tree_get(&t, "T/bin/a");
    n->type = BOX_NODE_FILE;
    assert_int_equal(box_profile_check_payload(p, &t, "T", "amd64", &err), -BOX_EDATA);
    assert_string_equal(err.msg,
                        "missing required library subtree: lib/x86_64-linux-gnu/libx*.so*");
    box_tree_add(&t, "T/lib/aarch64-linux-gnu/libx.so.1", BOX_NODE_FILE, NULL, &n);
    assert_int_equal(box_profile_check_payload(p, &t, "T", "amd64", &err), -BOX_EDATA);
    assert_int_equal(box_profile_check_payload(p, &t, "T", "arm64", &err), 0);
    box_tree_free(&t);
    box_profile_free(p);
}

static void test_arch(void **state)
{
    assert_string_equal(box_arch_multiarch("amd64"), "x86_64-linux-gnu");
    assert_string_equal(box_arch_multiarch("arm64"), "aarch64-linux-gnu");
    assert_null(box_arch_multiarch("x86_64"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_required_fields),
        cmocka_unit_test(test_field_types),
        cmocka_unit_test(test_components),
        cmocka_unit_test(test_architecture),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_dump_roundtrip),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_profile_payload),
        cmocka_unit_test(test_arch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
