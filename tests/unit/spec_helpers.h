/* Shared helpers of the config.json unit tests (test_spec*.c). */
#ifndef BOX_TEST_SPEC_HELPERS_H
#define BOX_TEST_SPEC_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/runtime/spec.h"
#include "lib/runtime/spec_json.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* ---- helpers ------------------------------------------------------------------------------ */

/* The texts below write ' for ", so that they stay readable; none of them
 * needs a real apostrophe. */
static inline char *jq(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

#define PROCESS_OK "'process':{'args':['/bin/true'],'cwd':'/'}"
#define ROOT_OK    "'root':{'path':'rootfs'}"

/* A minimal valid config with `extra` members appended (single-quoted). */
static inline char *config_with(const char *extra)
{
    char *s = NULL;
    int n = asprintf(&s, "{'ociVersion':'1.0.2',%s,%s%s%s}", PROCESS_OK, ROOT_OK, extra ? "," : "",
                     extra ? extra : "");
    assert_true(n > 0);
    char *d = jq(s);
    free(s);
    return d;
}

static inline int parse_raw(const char *text, struct box_spec *spec, struct box_err *err)
{
    box_err_clear(err);
    return box_spec_parse(text, strlen(text), spec, err);
}

/* Parses (and validates when parsing succeeded) a single-quoted text. */
static inline int check_text(const char *sq, bool validate, struct box_spec *spec,
                             struct box_err *err)
{
    char *t = jq(sq);
    int r = parse_raw(t, spec, err);
    free(t);
    if (r == 0 && validate)
        r = box_spec_validate(spec, err);
    return r;
}

static inline void expect_result(const char *sq, bool full_doc, int code, const char *want)
{
    struct box_spec spec;
    struct box_err err;
    char *doc = full_doc ? jq(sq) : config_with(sq);
    int r = parse_raw(doc, &spec, &err);
    if (r == 0)
        r = box_spec_validate(&spec, &err);
    if (code == 0) {
        if (r != 0)
            fail_msg("rejected (%d: %s), want accepted: %s", r, err.msg, doc);
    } else {
        if (r != -code)
            fail_msg("result %d (%s), want %d: %s", r, r ? err.msg : "", -code, doc);
        if (err.code != code)
            fail_msg("err.code %d, want %d: %s", err.code, code, doc);
        if (want && !strstr(err.msg, want))
            fail_msg("message `%s` does not name `%s`: %s", err.msg, want, doc);
    }
    box_spec_free(&spec);
    free(doc);
}

/* `extra` appended to a minimal valid config */
#define REJECT(extra, code, want) expect_result(extra, false, code, want)
#define ACCEPT(extra)             expect_result(extra, false, 0, NULL)
/* a whole document */
#define REJECT_DOC(doc, code, want) expect_result(doc, true, code, want)
#define ACCEPT_DOC(doc)             expect_result(doc, true, 0, NULL)

#endif
