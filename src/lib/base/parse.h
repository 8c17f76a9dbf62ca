/* Checked parsers for everything that arrives as text: numbers, signals,
 * container ids. No atoi, no silent clamping or wrapping. */
#ifndef BOX_BASE_PARSE_H
#define BOX_BASE_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/base/err.h"

#define BOX_ID_MAX 1024

/* Decimal unsigned integer in [0, max]; no sign, no spaces, no suffix. */
int box_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* Decimal signed integer in [min, max]. */
int box_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* "KILL", "SIGKILL", "9", "RTMIN+2"; returns -EINVAL for anything else. */
int box_parse_signal(const char *s, int *sig);
/* Name of a signal without the SIG prefix, or NULL. */
const char *box_signal_name(int sig);
/* "UID" or "UID:GID", decimal, each in [0, 4294967294]: 4294967295 is the
 * kernel's "no change", so never an id. has_gid tells whether GID was given. */
int box_parse_user(const char *s, uint32_t *uid, uint32_t *gid, bool *has_gid);
/* Container ids: 1..BOX_ID_MAX chars of [A-Za-z0-9_.+-], not "." or "..". */
int box_id_validate(const char *id, struct box_err *err);

#endif
