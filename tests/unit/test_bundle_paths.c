/* Path rules, escaping, hex, and the virtual tree's symlink resolution. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/image/tree.h"
#include "lib/image/util.h"

static enum box_path_verdict clean(const char *in, unsigned flags, char *out)
{
    bool slash;
    return box_path_clean(in, flags, out, BOX_PATH_MAX + 1, &slash);
}

static void test_clean_accepts_canonical(void **state)
{
    char out[BOX_PATH_MAX + 1];
    assert_int_equal(clean("usr/bin/nvidia-ctk", 0, out), BOX_PATH_OK);
    assert_string_equal(out, "usr/bin/nvidia-ctk");
    assert_int_equal(clean("a", 0, out), BOX_PATH_OK);
    assert_int_equal(clean("..a/b..", 0, out), BOX_PATH_OK);
}

static void test_clean_tar_forms(void **state)
{
    char out[BOX_PATH_MAX + 1];
    unsigned tar = BOX_PATH_STRIP_DOT_PREFIX | BOX_PATH_STRIP_TRAILING_SLASH;
    bool slash;
    assert_int_equal(box_path_clean("./T/usr/", tar, out, sizeof(out), &slash), BOX_PATH_OK);
    assert_string_equal(out, "T/usr");
    assert_true(slash);
    assert_int_equal(clean("./", tar, out), BOX_PATH_EMPTY);
    assert_int_equal(clean(".", tar, out), BOX_PATH_EMPTY);
    /* without the flags these are not canonical */
    assert_int_equal(clean("./T", 0, out), BOX_PATH_BAD);
    assert_int_equal(clean("T/", 0, out), BOX_PATH_BAD);
}

static void test_clean_rejections(void **state)
{
    char out[BOX_PATH_MAX + 1];
    char long_comp[300];
    memset(long_comp, 'n', sizeof(long_comp) - 1);
    long_comp[sizeof(long_comp) - 1] = '\0';
    assert_int_equal(clean("", 0, out), BOX_PATH_EMPTY);
    assert_int_equal(clean("/etc/passwd", 0, out), BOX_PATH_ABSOLUTE);
    assert_int_equal(clean("../x", 0, out), BOX_PATH_DOTDOT);
    assert_int_equal(clean("a/../../x", 0, out), BOX_PATH_DOTDOT);
    assert_int_equal(clean("a/..", 0, out), BOX_PATH_DOTDOT);
    /* ".." wins over other faults: it is the one that escapes */
    assert_int_equal(clean("a//../x", 0, out), BOX_PATH_DOTDOT);
    assert_int_equal(clean("a//b", 0, out), BOX_PATH_BAD);
    assert_int_equal(clean("a/./b", 0, out), BOX_PATH_BAD);
    assert_int_equal(clean("a/b\nc", 0, out), BOX_PATH_CONTROL);
    assert_int_equal(clean("a/b\x7f", 0, out), BOX_PATH_CONTROL);
    assert_int_equal(clean(long_comp, 0, out), BOX_PATH_TOO_LONG);
}

static void test_clean_total_length(void **state)
{
    char in[BOX_PATH_MAX + 64], out[BOX_PATH_MAX + 1];
    size_t n = 0;
    while (n + 11 < BOX_PATH_MAX) {
        memcpy(in + n, "abcdefghi/", 10);
        n += 10;
    }
    memcpy(in + n, "z", 2);
    assert_int_equal(clean(in, 0, out), BOX_PATH_OK);
    strcat(in, "/0123456789abcdefghijklmnop");
    assert_int_equal(clean(in, 0, out), BOX_PATH_TOO_LONG);
}

static void test_depth(void **state)
{
    assert_int_equal(box_path_depth(""), 0);
    assert_int_equal(box_path_depth("a"), 1);
    assert_int_equal(box_path_depth("a/b/c"), 3);
}

static void test_escape(void **state)
{
    char out[64];
    assert_string_equal(box_escape("a\nb\\c\x01", out, sizeof(out)), "a\\nb\\\\c\\x01");
    char small[8];
    assert_string_equal(box_escape("abcdefghijkl", small, sizeof(small)), "abcd...");
}

static void test_hex(void **state)
{
    unsigned char bin[4] = {0xde, 0xad, 0x00, 0x1f}, back[4];
    char hex[9];
    box_hex_encode(bin, 4, hex);
    assert_string_equal(hex, "dead001f");
    assert_int_equal(box_hex_decode("DEAD001f", back, 4), 0);
    assert_memory_equal(bin, back, 4);
    assert_int_equal(box_hex_decode("dead00", back, 4), -EINVAL);
    assert_int_equal(box_hex_decode("dead001g", back, 4), -EINVAL);
    assert_true(
        box_is_sha256_hex("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
    assert_false(
        box_is_sha256_hex("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
    assert_false(box_is_sha256_hex("0123"));
}

static void test_blank(void **state)
{
    assert_true(box_is_blank(NULL));
    assert_true(box_is_blank(" \t\n"));
    assert_false(box_is_blank(" x "));
}

static struct box_node *add(struct box_tree *t, const char *path, enum box_node_type type,
                            const char *link)
{
    struct box_node *n = NULL;
    assert_int_equal(box_tree_add(t, path, type, link, &n), 0);
    return n;
}

static void test_tree_add_get_dup(void **state)
{
    struct box_tree t;
    box_tree_init(&t);
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "T/d%d/f%d", i % 17, i);
        add(&t, name, BOX_NODE_FILE, NULL);
    }
    assert_int_equal(t.count, 5000);
    assert_non_null(box_tree_get(&t, "T/d3/f3"));
    assert_null(box_tree_get(&t, "T/d3/f4"));
    assert_non_null(box_tree_getn(&t, "T/d3/f3/extra", 7));
    struct box_node *old = NULL;
    assert_int_equal(box_tree_add(&t, "T/d3/f3", BOX_NODE_DIR, NULL, &old), -EEXIST);
    assert_string_equal(old->path, "T/d3/f3");
    assert_int_equal(old->type, BOX_NODE_FILE);
    box_tree_free(&t);
}

static void test_tree_symlinks(void **state)
{
    struct box_tree t;
    box_tree_init(&t);
    add(&t, "T", BOX_NODE_DIR, NULL);
    struct box_node *ok = add(&t, "T/usr/lib/a.so", BOX_NODE_SYMLINK, "a.so.1");
    struct box_node *up = add(&t, "T/usr/lib/up", BOX_NODE_SYMLINK, "../../etc");
    struct box_node *out = add(&t, "T/usr/lib/out", BOX_NODE_SYMLINK, "../../../etc");
    struct box_node *abs = add(&t, "T/abs", BOX_NODE_SYMLINK, "/etc");
    assert_int_equal(box_tree_resolve_symlink(&t, ok, 1), 0);
    assert_int_equal(box_tree_resolve_symlink(&t, up, 1), 0);
    assert_int_equal(box_tree_resolve_symlink(&t, out, 1), -EXDEV);
    assert_int_equal(box_tree_resolve_symlink(&t, abs, 1), -EXDEV);
    /* with no component kept (image layers), the root is the limit */
    struct box_node *four = add(&t, "T/usr/lib/four", BOX_NODE_SYMLINK, "../../../../etc");
    assert_int_equal(box_tree_resolve_symlink(&t, out, 0), 0);
    assert_int_equal(box_tree_resolve_symlink(&t, four, 0), -EXDEV);
    box_tree_free(&t);
}

static void test_tree_symlink_chains(void **state)
{
    struct box_tree t;
    box_tree_init(&t);
    /* s -> ../.. is T itself; t -> a/b/s/../.. follows s, then climbs out */
    struct box_node *s = add(&t, "T/a/b/s", BOX_NODE_SYMLINK, "../..");
    struct box_node *tt = add(&t, "T/t", BOX_NODE_SYMLINK, "a/b/s/../..");
    assert_int_equal(box_tree_resolve_symlink(&t, s, 1), 0);
    assert_int_equal(box_tree_resolve_symlink(&t, tt, 1), -EXDEV);
    /* loops end */
    struct box_node *l1 = add(&t, "T/l1", BOX_NODE_SYMLINK, "l2");
    add(&t, "T/l2", BOX_NODE_SYMLINK, "l1");
    assert_int_equal(box_tree_resolve_symlink(&t, l1, 1), -ELOOP);
    /* a file in the middle stops the walk, as ENOTDIR would */
    add(&t, "T/f", BOX_NODE_FILE, NULL);
    struct box_node *via_file = add(&t, "T/v", BOX_NODE_SYMLINK, "f/../../..");
    assert_int_equal(box_tree_resolve_symlink(&t, via_file, 1), 0);
    box_tree_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_accepts_canonical),
        cmocka_unit_test(test_clean_tar_forms),
        cmocka_unit_test(test_clean_rejections),
        cmocka_unit_test(test_clean_total_length),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_blank),
        cmocka_unit_test(test_tree_add_get_dup),
        cmocka_unit_test(test_tree_symlinks),
        cmocka_unit_test(test_tree_symlink_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
