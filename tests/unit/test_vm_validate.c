/* The image payload validator over the corpus in tests/vm/payloads: valid
 * payloads pass with no problem; each invalid one has exactly the errors
 * that expect.txt lists for it, at the right JSON pointers. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/base/fs.h"
#include "lib/vm/text.h"
#include "lib/vm/validate.h"

#ifndef VM_CORPUS
#define VM_CORPUS "tests/vm/payloads"
#endif

static struct box_vm_report rep;

static int validate_text(const char *text, bool allow_unknown)
{
    struct box_vm_validate_opts o = {.allow_unknown = allow_unknown};
    struct box_err err = {0};
    memset(&rep, 0, sizeof(rep));
    return box_vm_validate_buf(text, strlen(text), &o, &rep, NULL, &err);
}

static int validate_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", VM_CORPUS, name);
    char *buf = NULL;
    size_t len = 0;
    struct box_err err = {0};
    assert_int_equal(box_read_file(AT_FDCWD, path, BOX_VM_PAYLOAD_MAX, &buf, &len, &err), 0);
    struct box_vm_validate_opts o = {0};
    memset(&rep, 0, sizeof(rep));
    int r = box_vm_validate_buf(buf, len, &o, &rep, NULL, &err);
    free(buf);
    return r;
}

static void test_valid_corpus(void **state)
{
    DIR *d = opendir(VM_CORPUS);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "valid-", 6) != 0)
            continue;
        int r = validate_file(e->d_name);
        if (r != 0 || rep.nerrors || rep.nwarnings)
            fail_msg("%s: %zu errors, first: %s %s", e->d_name, rep.nerrors, rep.errors[0].pointer,
                     rep.errors[0].message);
        n++;
    }
    closedir(d);
    assert_true(n >= 5);
}

/* Every line of expect.txt: FILE, POINTER, TEXT. A file's errors are
 * exactly its lines, in any order. */
static void test_invalid_corpus(void **state)
{
    FILE *f = fopen(VM_CORPUS "/expect.txt", "r");
    assert_non_null(f);
    char line[1024], current[128] = "";
    size_t expected = 0, files = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *name = strtok(line, "\t"), *ptr = strtok(NULL, "\t"), *text = strtok(NULL, "\t");
        assert_non_null(text);
        if (strcmp(ptr, "(document)") == 0)
            ptr = "";
        if (strcmp(name, current) != 0) {
            char file[200];
            snprintf(file, sizeof(file), "invalid-%s.json", name);
            assert_int_equal(validate_file(file), -EINVAL);
            snprintf(current, sizeof(current), "%s", name);
            files++;
            expected = 0;
        }
        expected++;
        bool found = false;
        for (size_t i = 0; i < rep.nerrors; i++)
            found |= strcmp(rep.errors[i].pointer, ptr) == 0 &&
                     strstr(rep.errors[i].message, text) != NULL;
        if (!found)
            fail_msg("invalid-%s.json: no error at `%s` containing `%s`; first: `%s` %s", name, ptr,
                     text, rep.errors[0].pointer, rep.errors[0].message);
        /* no more errors than listed (checked again as more lines come) */
        if (rep.nerrors < expected)
            fail_msg("invalid-%s.json: %zu errors, expected at least %zu", name, rep.nerrors,
                     expected);
    }
    fclose(f);
    assert_true(files >= 35);
}

/* Each file has exactly as many errors as lines in expect.txt. */
static void test_invalid_counts(void **state)
{
    FILE *f = fopen(VM_CORPUS "/expect.txt", "r");
    assert_non_null(f);
    char line[1024], names[64][64];
    size_t counts[64] = {0}, n = 0;
    while (fgets(line, sizeof(line), f) && n < 64) {
        if (line[0] == '#')
            continue;
        char *name = strtok(line, "\t");
        if (n == 0 || strcmp(names[n - 1], name) != 0)
            snprintf(names[n++], sizeof(names[0]), "%s", name);
        counts[n - 1]++;
    }
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        char file[200];
        snprintf(file, sizeof(file), "invalid-%s.json", names[i]);
        validate_file(file);
        if (rep.nerrors != counts[i])
            fail_msg("%s: %zu errors, expected %zu; first `%s` %s", file, rep.nerrors, counts[i],
                     rep.errors[0].pointer, rep.errors[0].message);
    }
}

/* A valid document up to the end of spec, which the tests extend. */
#define VALID_HEAD                                                                                 \
    "{\"metadata\": {\"name\": \"n\"}, \"spec\": {\"uri\": \"https://h/x.raw\", "                  \
    "\"architecture\": \"x86_64\", \"virtualization\": \"any\", \"os\": {\"kernel\": \"linux\", "  \
    "\"family\": \"debian\", \"distro\": \"debian\", \"version\": \"12\"}"

static int validate_with(const char *in_spec, const char *in_root, bool allow_unknown)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), VALID_HEAD "%s}%s}", in_spec, in_root);
    return validate_text(buf, allow_unknown);
}

static void test_allow_unknown(void **state)
{
    assert_int_equal(validate_with(", \"sizeGiB\": 10", ", \"x\": 1", false), -EINVAL);
    assert_int_equal(rep.nerrors, 2);
    assert_int_equal(validate_with(", \"sizeGiB\": 10", ", \"x\": 1", true), 0);
    assert_int_equal(rep.nwarnings, 2);
    assert_string_equal(rep.warnings[0].pointer, "/spec/sizeGiB");
    assert_string_equal(rep.warnings[1].pointer, "/x");
}

static void test_all_errors_and_bound(void **state)
{
    /* 300 bad models: the report keeps BOX_VM_PROBLEMS_MAX and counts the rest */
    char spec[8192] = ", \"gpu\": {\"vendor\": \"AMD\", \"driver\": \"6.4\", \"models\": [";
    for (int i = 0; i < 200; i++)
        strcat(spec, i ? ", \"a-b\"" : "\"a-b\"");
    strcat(spec, "]}");
    assert_int_equal(validate_with(spec, "", false), -EINVAL);
    assert_int_equal(rep.nerrors, BOX_VM_PROBLEMS_MAX);
    assert_int_equal(rep.errors_dropped, 200 - BOX_VM_PROBLEMS_MAX);
    assert_string_equal(rep.errors[1].pointer, "/spec/gpu/models/1");
}

static void test_duplicate_and_nested_keys(void **state)
{
    assert_int_equal(validate_with(", \"os\": {}", "", false), -EINVAL);
    assert_string_equal(rep.errors[0].pointer, "/spec/os");
    assert_non_null(strstr(rep.errors[0].message, "duplicate key"));
    /* the same key in two objects is no duplicate; an escaped one is */
    assert_int_equal(
        validate_text("{\"metadata\": {\"name\": \"a\", \"n\\u0061me\": \"b\"}}", false), -EINVAL);
    assert_string_equal(rep.errors[0].pointer, "/metadata/name");
}

static void test_rules(void **state)
{
    assert_null(box_vm_check_label("a"));
    assert_null(box_vm_check_label("ubu2204-v1.25.6-gpu-525.85.05-7ced4154"));
    assert_non_null(box_vm_check_label(""));
    assert_non_null(box_vm_check_label("a."));
    char l63[64], l64[65];
    memset(l63, 'a', 63);
    l63[63] = '\0';
    memset(l64, 'a', 64);
    l64[64] = '\0';
    assert_null(box_vm_check_label(l63));
    assert_non_null(box_vm_check_label(l64));
    assert_null(box_vm_check_semver("v0.0.0"));
    assert_null(box_vm_check_semver("v1.30.10"));
    assert_non_null(box_vm_check_semver("v1.30"));
    assert_non_null(box_vm_check_semver("v1.30.0.1"));
    assert_non_null(box_vm_check_semver("V1.30.0"));
    assert_non_null(box_vm_check_semver("v1..0"));
    assert_null(box_vm_check_model("H100_SXM"));
    assert_non_null(box_vm_check_model("H100 SXM"));
    assert_non_null(box_vm_check_model(""));
    assert_null(box_vm_check_uri("HTTPS://h.example/x?sig=a%20b"));
    assert_non_null(box_vm_check_uri("ftp://h/x"));
    assert_non_null(box_vm_check_uri("https://h/x\ty"));
    assert_non_null(box_vm_check_uri("http://"));
}

static void test_pointer_and_quote(void **state)
{
    char out[BOX_VM_POINTER_MAX];
    box_vm_pointer_join(out, sizeof(out), "/spec", "a/b~c");
    assert_string_equal(out, "/spec/a~1b~0c");
    char longkey[600];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    box_vm_pointer_join(out, sizeof(out), "/spec", longkey);
    assert_true(strlen(out) < sizeof(out));
    assert_non_null(strstr(out, "..."));
    char q[BOX_VM_QUOTE_MAX];
    assert_string_equal(box_vm_quote("a\"b\x1b", q, sizeof(q)), "\"a\\x22b\\x1b\"");
    assert_true(strlen(box_vm_quote(longkey, q, sizeof(q))) < sizeof(q));
    assert_int_equal(box_vm_edit_distance("descripton", "description", 3), 1);
    assert_int_equal(box_vm_edit_distance("x", "description", 3), 3);
}

static void test_hostile_text(void **state)
{
    assert_int_equal(validate_text("", false), -EINVAL);
    assert_int_equal(validate_text("{\"a\": \"\\u0000\"}", false), -EINVAL);
    assert_int_equal(validate_text("\"just a string\"", false), -EINVAL);
    assert_string_equal(rep.errors[0].pointer, "");
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_int_equal(box_vm_scan_structure(deep, 200, BOX_VM_DEPTH_MAX, &rep), 1);
    /* found by the fuzzer: a NUL byte inside an array made the scan loop */
    assert_int_equal(box_vm_scan_structure("[1\0  ]", 6, BOX_VM_DEPTH_MAX, &rep), 0);
    struct box_vm_validate_opts o = {0};
    struct box_err err = {0};
    memset(&rep, 0, sizeof(rep));
    box_vm_validate_buf("[1\0  ]", 6, &o, &rep, NULL, &err);
    assert_true(rep.nerrors >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_corpus),
        cmocka_unit_test(test_invalid_corpus),
        cmocka_unit_test(test_invalid_counts),
        cmocka_unit_test(test_allow_unknown),
        cmocka_unit_test(test_all_errors_and_bound),
        cmocka_unit_test(test_duplicate_and_nested_keys),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_pointer_and_quote),
        cmocka_unit_test(test_hostile_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
