/* Typed, bounded accessors over jansson values that name the JSON path of
 * the field at fault. Shared by the config.json parser and later parsers
 * (CDI specs, features). */
#ifndef BOX_RUNTIME_SPEC_JSON_H
#define BOX_RUNTIME_SPEC_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/base/err.h"

/* Each returns 0 when the field is absent (out untouched), 1 when read, or
 * -errno with err naming "<path>.<key>". */
int box_json_string(json_t *obj, const char *key, const char *path, char **out,
                    struct box_err *err);
int box_json_bool(json_t *obj, const char *key, const char *path, bool *out, struct box_err *err);
int box_json_int(json_t *obj, const char *key, const char *path, int64_t min, int64_t max,
                 int64_t *out, struct box_err *err);
int box_json_uint64(json_t *obj, const char *key, const char *path, uint64_t *out,
                    struct box_err *err);
/* Array of strings, NULL-terminated copy, at most max items. */
int box_json_strings(json_t *obj, const char *key, const char *path, size_t max, char ***out,
                     size_t *n, struct box_err *err);
/* An object or absent; -EINVAL when present with another type. */
int box_json_object(json_t *obj, const char *key, const char *path, json_t **out,
                    struct box_err *err);
int box_json_array(json_t *obj, const char *key, const char *path, size_t max, json_t **out,
                   struct box_err *err);
void box_strv_free(char **v);

/* json_loadb for config.json and process.json. jansson keeps integers as
 * long long, so 18446744073709551615 (UINT64_MAX: what Go writes for
 * RLIM_INFINITY, e.g. docker's --ulimit with -1) would fail the whole
 * document. That literal, as a number outside strings, is read as
 * INT64_MAX instead (padded with spaces: errors keep their line and
 * column), which rlimits take as RLIM_INFINITY and any other field refuses
 * or clamps as it would that value. */
json_t *box_json_loadb_config(const char *text, size_t len, size_t flags, json_error_t *jerr);

/* Returns a negative result at once (parsers of nested JSON). */
#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int _r = (expr);                                                                           \
        if (_r < 0)                                                                                \
            return _r;                                                                             \
    } while (0)
/* Like TRY, but yields the non-negative result. */
#define TRY_INT(expr)                                                                              \
    ({                                                                                             \
        int _r = (expr);                                                                           \
        if (_r < 0)                                                                                \
            return _r;                                                                             \
        _r;                                                                                        \
    })

#endif
