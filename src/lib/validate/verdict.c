#include "lib/validate/verdict.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/base/parse.h"

/* The marker `word <name>` ends the line (SUCCESS) or is followed by the end
 * or a space (FAILURE, which may carry a reason). Returns 1 for this name, 2
 * for another name, 0 for no marker. */
static int marker(const char *line, size_t len, const char *word, const char *name, bool reason_ok)
{
    size_t wl = strlen(word), nl = strlen(name);
    if (len <= wl + 1 || memcmp(line, word, wl) != 0 || line[wl] != ' ')
        return 0;
    const char *rest = line + wl + 1;
    size_t rl = len - wl - 1;
    if (rl >= nl && memcmp(rest, name, nl) == 0 && (rl == nl || (reason_ok && rest[nl] == ' ')))
        return 1;
    return 2;
}

void box_markers_line(void *markers, enum box_stream s, const char *line, size_t len, bool cut)
{
    struct box_markers *m = markers;
    if (cut)
        return;
    int k = marker(line, len, BOX_MARK_SUCCESS, m->name, false);
    if (k == 1)
        *(s == BOX_STDOUT ? &m->success_out : &m->success_err) = true;
    int f = marker(line, len, BOX_MARK_FAILURE, m->name, true);
    if (f == 1)
        *(s == BOX_STDOUT ? &m->failure_out : &m->failure_err) = true;
    if (k == 2 || f == 2)
        m->other_name = true;
}

const char *box_outcome_str(enum box_outcome o)
{
    switch (o) {
    case BOX_OUT_PASS:
        return "pass";
    case BOX_OUT_FAIL:
        return "fail";
    case BOX_OUT_INVALID:
        return "invalid";
    case BOX_OUT_TIMEOUT:
        return "timeout";
    case BOX_OUT_ERROR:
        return "error";
    case BOX_OUT_SKIPPED:
        return "skipped";
    }
    return "?";
}

static void set_matched(struct box_verdict *v, enum box_expect expect)
{
    v->matched = (v->outcome == BOX_OUT_PASS && expect == BOX_EXPECT_PASS) ||
                 (v->outcome == BOX_OUT_FAIL && expect == BOX_EXPECT_FAIL) ||
                 v->outcome == BOX_OUT_SKIPPED;
}

void box_verdict_set(struct box_verdict *v, enum box_expect expect, enum box_outcome o,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
    va_end(ap);
    v->outcome = o;
    set_matched(v, expect);
}

static void exit_text(int code, char *out, size_t size)
{
    const char *sig = code > 128 && code < 128 + 65 ? box_signal_name(code - 128) : NULL;
    if (sig)
        snprintf(out, size, "exit %d (SIG%s)", code, sig);
    else
        snprintf(out, size, "exit %d", code);
}

/* Why a run that is neither pass nor fail is invalid. */
static const char *invalid_reason(const struct box_markers *m, int code)
{
    bool failure = m->failure_out || m->failure_err;
    if (code == 0 && failure)
        return "exited 0 but printed the FAILURE marker";
    if (code == 0 && m->success_err)
        return "exited 0 but the SUCCESS marker was on stderr, not stdout";
    if (code == 0 && m->other_name)
        return "exited 0 without the SUCCESS marker for this workload (a marker names another "
               "workload)";
    if (code == 0)
        return "exited 0 without the SUCCESS marker on stdout";
    if (m->success_out && failure)
        return "printed both the SUCCESS and the FAILURE marker";
    if (m->success_out)
        return "printed the SUCCESS marker, then exited non-zero";
    if (m->other_name)
        return "exited non-zero without the FAILURE marker for this workload (a marker names "
               "another workload)";
    return "exited non-zero without the FAILURE marker";
}

void box_verdict_decide(enum box_expect expect, const struct box_markers *m, int exit_code,
                        struct box_verdict *v)
{
    char ex[48];
    exit_text(exit_code, ex, sizeof(ex));
    bool failure = m->failure_out || m->failure_err;
    if (exit_code == 0 && m->success_out && !failure)
        box_verdict_set(v, expect, BOX_OUT_PASS, "SUCCESS marker on stdout, exit 0");
    else if (exit_code != 0 && failure && !m->success_out)
        box_verdict_set(v, expect, BOX_OUT_FAIL, "FAILURE marker on %s, %s",
                        m->failure_err ? "stderr" : "stdout", ex);
    else
        box_verdict_set(v, expect, BOX_OUT_INVALID, "%s (%s)", invalid_reason(m, exit_code), ex);
}
