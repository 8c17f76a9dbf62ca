/* The contract's verdict (docs/gpu-validation.md): what one run of a
 * workload proved, decided only from what this run's container wrote and
 * how it ended. Pure.
 *
 * - pass:    exit 0 and the line `OPENSHELL_GPU_WORKLOAD_SUCCESS <name>` on
 *            stdout, and no FAILURE marker;
 * - fail:    a non-zero exit and a line `OPENSHELL_GPU_WORKLOAD_FAILURE <name>`
 *            (optionally followed by a space and a reason), on stderr as the
 *            contract says or on stdout, and no SUCCESS marker on stdout;
 * - invalid: anything else (exit 0 without the marker, the marker then a
 *            non-zero exit, the marker only on stderr, a marker for another
 *            name, ...), with the reason spelled out;
 * - timeout, error, skipped: decided by the runner.
 *
 * A marker counts only as a whole line; a line cut at BOX_LINE_MAX never
 * counts. */
#ifndef BOX_VALIDATE_VERDICT_H
#define BOX_VALIDATE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/validate/manifest.h"
#include "lib/validate/proc.h"

#define BOX_MARK_SUCCESS "OPENSHELL_GPU_WORKLOAD_SUCCESS"
#define BOX_MARK_FAILURE "OPENSHELL_GPU_WORKLOAD_FAILURE"

struct box_markers {
    const char *name;
    bool success_out, success_err; /* SUCCESS <name> on stdout, on stderr */
    bool failure_out, failure_err;
    bool other_name; /* a marker line for another workload name */
};

/* A box_line_fn: records the marker lines of one run. */
void box_markers_line(void *markers, enum box_stream s, const char *line, size_t len, bool cut);

enum box_outcome {
    BOX_OUT_PASS = 1,
    BOX_OUT_FAIL,
    BOX_OUT_INVALID,
    BOX_OUT_TIMEOUT,
    BOX_OUT_ERROR,
    BOX_OUT_SKIPPED,
};

struct box_verdict {
    enum box_outcome outcome;
    bool matched; /* the outcome is what the manifest expects; skipped counts as matched */
    char reason[512];
};

/* Decides from the markers and the exit code (0..255, 128 + signal). */
void box_verdict_decide(enum box_expect expect, const struct box_markers *m, int exit_code,
                        struct box_verdict *v);
/* Sets a verdict the runner decided (timeout, error, skipped). */
void box_verdict_set(struct box_verdict *v, enum box_expect expect, enum box_outcome o,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

const char *box_outcome_str(enum box_outcome o);

#endif
