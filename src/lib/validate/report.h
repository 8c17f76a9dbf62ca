/* Reports of a validation run: a JSON document and JUnit XML, each written
 * atomically (temp file and rename) so that a reader never sees half of
 * one. Captured output goes into both, made valid: bytes that are not UTF-8
 * (and, for XML, control characters XML 1.0 cannot hold) become U+FFFD, and
 * XML's special characters are escaped. */
#ifndef BOX_VALIDATE_REPORT_H
#define BOX_VALIDATE_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "lib/base/err.h"
#include "lib/validate/runner.h"

struct box_report {
    const char *runtime;
    const struct box_wl *ws;
    const struct box_result *res;
    size_t n;
};

struct box_report_counts {
    size_t total, matched, mismatched, skipped;
};

void box_report_count(const struct box_report *r, struct box_report_counts *c);

int box_report_json(const struct box_report *r, const char *path, struct box_err *err);
int box_report_junit(const struct box_report *r, const char *path, struct box_err *err);

/* Writes s[0..n) to f as XML character data (escaped, sanitized). */
void box_xml_escape(FILE *f, const char *s, size_t n);
/* Copies s[0..n) as valid UTF-8 (invalid bytes and NUL become U+FFFD);
 * the result is malloc'ed and NUL-terminated, *out_len its length. */
char *box_utf8_clean(const char *s, size_t n, size_t *out_len);

#endif
