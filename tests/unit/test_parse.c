/* Checked parsers: numbers, signals, container ids (lib/base/parse.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <signal.h>

#include "lib/base/parse.h"

/* ---- box_parse_u64 ------------------------------------------------------------------------ */

static void test_u64_accepts_bounds(void **state)
{
    uint64_t v = 42;
    assert_int_equal(box_parse_u64("0", UINT64_MAX, &v), 0);
    assert_true(v == 0);
    assert_int_equal(box_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(box_parse_u64("99", 99, &v), 0);
    assert_true(v == 99);
    assert_int_equal(box_parse_u64("007", 10, &v), 0);
    assert_true(v == 7);
}

static void test_u64_rejects_above_max(void **state)
{
    uint64_t v = 42;
    assert_int_equal(box_parse_u64("100", 99, &v), -ERANGE);
    assert_int_equal(box_parse_u64("1", 0, &v), -ERANGE);
    /* one past UINT64_MAX and far past it: no wrap */
    assert_int_equal(box_parse_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);
    assert_int_equal(box_parse_u64("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
    assert_true(v == 42); /* untouched on failure */
}

static void test_u64_rejects_signs_spaces_suffixes(void **state)
{
    static const char *const bad[] = {
        "",   "+1",  "-1",   "-0",  " 1",  "1 ",    "\t1", "1\n",
        "1k", "10M", "0x10", "1.0", "1e3", "1,000", "١", /* Arabic-Indic digit one */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 42;
        int r = box_parse_u64(bad[i], UINT64_MAX, &v);
        if (r != -EINVAL)
            fail_msg("box_parse_u64(\"%s\") = %d, want -EINVAL", bad[i], r);
        assert_true(v == 42);
    }
    uint64_t v = 42;
    assert_int_equal(box_parse_u64(NULL, UINT64_MAX, &v), -EINVAL);
}

/* ---- box_parse_i64 ------------------------------------------------------------------------ */

static void test_i64_accepts_bounds(void **state)
{
    int64_t v = 42;
    assert_int_equal(box_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(box_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(box_parse_i64("-5", -5, 5, &v), 0);
    assert_true(v == -5);
    assert_int_equal(box_parse_i64("5", -5, 5, &v), 0);
    assert_true(v == 5);
    assert_int_equal(box_parse_i64("-0", -5, 5, &v), 0);
    assert_true(v == 0);
}

static void test_i64_rejects_out_of_range(void **state)
{
    int64_t v = 42;
    assert_int_equal(box_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -ERANGE);
    assert_int_equal(box_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
    assert_int_equal(box_parse_i64("18446744073709551615", INT64_MIN, INT64_MAX, &v), -ERANGE);
    assert_int_equal(box_parse_i64("-6", -5, 5, &v), -ERANGE);
    assert_int_equal(box_parse_i64("6", -5, 5, &v), -ERANGE);
    assert_int_equal(box_parse_i64("-1", 0, 5, &v), -ERANGE);
    assert_true(v == 42);
}

static void test_i64_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "", "-", "+", "+5", "--5", "-+5", " -5", "-5 ", "- 5", "5x", "0x5", "-5.0", "5-",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = 42;
        int r = box_parse_i64(bad[i], INT64_MIN, INT64_MAX, &v);
        if (r != -EINVAL)
            fail_msg("box_parse_i64(\"%s\") = %d, want -EINVAL", bad[i], r);
        assert_true(v == 42);
    }
    int64_t v = 42;
    assert_int_equal(box_parse_i64(NULL, INT64_MIN, INT64_MAX, &v), -EINVAL);
}

/* ---- signals ------------------------------------------------------------------------------ */

static void test_signal_accepts_names_and_numbers(void **state)
{
    static const struct {
        const char *s;
        int sig;
    } good[] = {
        {"KILL", SIGKILL},   {"SIGKILL", SIGKILL}, {"9", SIGKILL},
        {"kill", SIGKILL},   {"sigkill", SIGKILL}, {"SigTerm", SIGTERM},
        {"HUP", SIGHUP},     {"15", SIGTERM},      {"1", 1},
        {"64", 64},          {"RTMIN", 34},        {"RTMIN+2", 36},
        {"SIGRTMIN+2", 36},  {"rtmin+2", 36},      {"RTMIN+30", 64},
        {"RTMAX", 64},       {"RTMAX-1", 63},      {"RTMAX-30", 34},
        {"WINCH", SIGWINCH}, {"CHLD", SIGCHLD},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int sig = -1;
        int r = box_parse_signal(good[i].s, &sig);
        if (r != 0 || sig != good[i].sig)
            fail_msg("box_parse_signal(\"%s\") = %d sig %d, want 0 sig %d", good[i].s, r, sig,
                     good[i].sig);
    }
}

static void test_signal_rejects_garbage(void **state)
{
    static const char *const bad[] = {
        "SIGFOO",  "65",      "-1",         "9abc",   "",       "99999999999999999999",
        "0",       "SIG",     "SIGSIGKILL", " 9",     "9 ",     "+9",
        "RTMIN-1", "RTMAX+1", "RTMIN+31",   "RTMIN+", "RTMIN2", "KILLL",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int sig = -7;
        int r = box_parse_signal(bad[i], &sig);
        if (r != -EINVAL)
            fail_msg("box_parse_signal(\"%s\") = %d (sig %d), want -EINVAL", bad[i], r, sig);
        assert_int_equal(sig, -7);
    }
    int sig = -7;
    assert_int_equal(box_parse_signal(NULL, &sig), -EINVAL);
}

static void test_signal_name_round_trip(void **state)
{
    assert_string_equal(box_signal_name(SIGKILL), "KILL");
    assert_string_equal(box_signal_name(SIGTERM), "TERM");
    assert_null(box_signal_name(0));
    assert_null(box_signal_name(1000));
    for (int s = 1; s < 32; s++) {
        const char *name = box_signal_name(s);
        if (!name)
            continue;
        int back = -1;
        assert_int_equal(box_parse_signal(name, &back), 0);
        assert_int_equal(back, s);
    }
}

/* ---- container ids ------------------------------------------------------------------------ */

static void expect_bad_id(const char *id, const char *want_in_msg)
{
    struct box_err err = {0};
    int r = box_id_validate(id, &err);
    if (r != -EINVAL)
        fail_msg("box_id_validate(\"%.40s\") = %d, want -EINVAL", id ? id : "(null)", r);
    assert_int_equal(err.code, EINVAL);
    assert_true(err.msg[0] != '\0');
    if (want_in_msg && !strstr(err.msg, want_in_msg))
        fail_msg("message `%s` does not contain `%s`", err.msg, want_in_msg);
}

static void test_id_rejects_bad(void **state)
{
    expect_bad_id("", "empty");
    expect_bad_id(NULL, "empty");
    expect_bad_id(".", NULL);
    expect_bad_id("..", NULL);
    expect_bad_id("../x", "0x2f");
    expect_bad_id("a/b", "0x2f");
    expect_bad_id("/abs", "0x2f");
    expect_bad_id("a b", "0x20");
    expect_bad_id("a\nb", "0x0a");
    expect_bad_id("a:b", "0x3a");
    expect_bad_id("h\xc3\xa9llo", "0xc3"); /* non-ASCII: the first byte of é */
    expect_bad_id("\xff", "0xff");
}

static void test_id_rejects_too_long(void **state)
{
    char *id = malloc(4097);
    assert_non_null(id);
    memset(id, 'a', 4096);
    id[4096] = '\0';
    expect_bad_id(id, "longer");
    id[BOX_ID_MAX + 1] = '\0';
    expect_bad_id(id, "longer");
    free(id);
}

static void test_id_accepts_good(void **state)
{
    static const char *const good[] = {
        "a", "Z", "0", "abc-DEF_1.2+3", "...", ".hidden", "a..b", "-leading-dash", "container1"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct box_err err = {0};
        int r = box_id_validate(good[i], &err);
        if (r != 0)
            fail_msg("box_id_validate(\"%s\") = %d: %s", good[i], r, err.msg);
    }
    char id[BOX_ID_MAX + 1];
    memset(id, 'x', BOX_ID_MAX);
    id[BOX_ID_MAX] = '\0';
    struct box_err err = {0};
    assert_int_equal(box_id_validate(id, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64_accepts_bounds),
        cmocka_unit_test(test_u64_rejects_above_max),
        cmocka_unit_test(test_u64_rejects_signs_spaces_suffixes),
        cmocka_unit_test(test_i64_accepts_bounds),
        cmocka_unit_test(test_i64_rejects_out_of_range),
        cmocka_unit_test(test_i64_rejects_malformed),
        cmocka_unit_test(test_signal_accepts_names_and_numbers),
        cmocka_unit_test(test_signal_rejects_garbage),
        cmocka_unit_test(test_signal_name_round_trip),
        cmocka_unit_test(test_id_rejects_bad),
        cmocka_unit_test(test_id_rejects_too_long),
        cmocka_unit_test(test_id_accepts_good),
    };
    return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
