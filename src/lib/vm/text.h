/* Small text helpers of the vm module: quoting untrusted strings for
 * messages, near-miss suggestions for unknown field names, and a structural
 * scan of JSON text for what a parsed tree no longer shows (duplicate keys,
 * nesting depth). */
#ifndef BOX_VM_TEXT_H
#define BOX_VM_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/vm/validate.h"

#define BOX_VM_QUOTE_MAX 96

/* Writes s in double quotes, non-printable bytes as \xNN, cut with "..."
 * when long; returns out. Safe for any bytes an attacker sends. */
const char *box_vm_quote(const char *s, char *out, size_t size);

/* Copies s with control bytes replaced by '?' and at most size-1 bytes. */
void box_vm_sanitize(const char *s, char *out, size_t size);

/* Levenshtein distance between a and b, or cap when it is cap or more (or
 * when either string is longer than 64 bytes). */
size_t box_vm_edit_distance(const char *a, const char *b, size_t cap);

/* Adds one problem to a report (an error, or a warning when warn). */
void box_vm_report_add(struct box_vm_report *rep, bool warn, const char *ptr, const char *fmt,
                       va_list ap) __attribute__((format(printf, 4, 0)));

/* Walks JSON text that jansson already accepted and reports duplicate
 * object keys and nesting deeper than max_depth, each at its pointer.
 * Returns the number of errors added. */
size_t box_vm_scan_structure(const char *buf, size_t len, size_t max_depth,
                             struct box_vm_report *rep);

#endif
