/* libFuzzer target: the checked text parsers of lib/base/parse.h. The input,
 * cut at its first NUL and bounded, goes to every parser; what a parser
 * accepts must satisfy the contract in parse.h. */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/parse.h"

#define MAX_IN (BOX_ID_MAX + 64)

static void fail(const char *what, const char *s)
{
    fprintf(stderr, "fuzz_parsers: %s: input `%s`\n", what, s);
    abort();
}

static void check_id(const char *s)
{
    struct box_err err;
    if (box_id_validate(s, &err) < 0) {
        if (err.msg[0] == '\0')
            fail("id rejected without a message", s);
        return;
    }
    size_t n = strlen(s);
    if (n == 0 || n > BOX_ID_MAX || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, ".."))
        fail("accepted id breaks the id rules", s);
    if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-") != n)
        fail("accepted id has a character outside [A-Za-z0-9_.+-]", s);
}

static void check_signal(const char *s)
{
    int sig = -1;
    if (box_parse_signal(s, &sig) < 0)
        return;
    if (sig < 1 || sig > 64)
        fail("accepted signal out of 1..64", s);
    /* A named signal parses back to itself by name and by number. */
    const char *name = box_signal_name(sig);
    int again = -1;
    if (name && (box_parse_signal(name, &again) < 0 || again != sig))
        fail("signal name does not parse back", s);
    char num[16];
    snprintf(num, sizeof(num), "%d", sig);
    if (box_parse_signal(num, &again) < 0 || again != sig)
        fail("signal number does not parse back", s);
}

static void check_user(const char *s)
{
    uint32_t uid = 0, gid = 0;
    bool has_gid = false;
    if (box_parse_user(s, &uid, &gid, &has_gid) < 0)
        return;
    if (uid == UINT32_MAX || gid == UINT32_MAX)
        fail("box_parse_user returned 4294967295", s);
    if (has_gid != (strchr(s, ':') != NULL))
        fail("has_gid does not match the input", s);
}

static void check_u64(const char *s, uint64_t max)
{
    uint64_t v = 0;
    if (box_parse_u64(s, max, &v) < 0)
        return;
    if (v > max)
        fail("u64 above max", s);
    char back[32];
    snprintf(back, sizeof(back), "%llu", (unsigned long long)v);
    /* Leading zeros are accepted ("007"): compare without them. */
    const char *t = s;
    while (t[0] == '0' && t[1])
        t++;
    if (strcmp(back, t) != 0)
        fail("u64 does not print back to its input", s);
}

static void check_i64(const char *s, int64_t min, int64_t max)
{
    int64_t v = 0;
    if (box_parse_i64(s, min, max, &v) < 0)
        return;
    if (v < min || v > max)
        fail("i64 out of [min, max]", s);
    char back[32];
    snprintf(back, sizeof(back), "%lld", (long long)v);
    bool neg = s[0] == '-';
    const char *t = s + neg;
    while (t[0] == '0' && t[1])
        t++;
    char want[MAX_IN + 2];
    snprintf(want, sizeof(want), "%s%s", neg && strcmp(t, "0") ? "-" : "", t);
    if (strcmp(back, want) != 0)
        fail("i64 does not print back to its input", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[MAX_IN + 1];
    /* The first 8 bytes, when present, also pick the bounds of a second
     * round of the ranged parsers on the rest of the string. */
    uint64_t bound = UINT64_MAX;
    if (size > MAX_IN)
        size = MAX_IN;
    memcpy(s, data, size);
    s[size] = '\0';

    check_id(s);
    check_signal(s);
    check_user(s);
    check_u64(s, UINT64_MAX);
    check_i64(s, INT64_MIN, INT64_MAX);
    if (size >= 8) {
        memcpy(&bound, data, 8);
        check_u64(s + 8, bound);
        int64_t lim = (int64_t)(bound >> 1);
        check_i64(s + 8, -lim, lim);
    }
    return 0;
}
