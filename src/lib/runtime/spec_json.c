#include "lib/runtime/spec_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/runtime/spec.h"

static const char *type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

#define WRONG_TYPE(want)                                                                           \
    box_err_set(err, EINVAL, "%s.%s: must be %s, not %s", path, key, want, type_name(v))

int box_json_string(json_t *obj, const char *key, const char *path, char **out, struct box_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return WRONG_TYPE("a string");
    size_t len = json_string_length(v);
    if (len > BOX_SPEC_MAX_STRING)
        return box_err_set(err, E2BIG, "%s.%s: longer than %u bytes", path, key,
                           BOX_SPEC_MAX_STRING);
    if (memchr(json_string_value(v), '\0', len))
        return box_err_set(err, EINVAL, "%s.%s: contains a NUL byte", path, key);
    char *s = strdup(json_string_value(v));
    if (!s)
        return -ENOMEM;
    free(*out);
    *out = s;
    return 1;
}

int box_json_bool(json_t *obj, const char *key, const char *path, bool *out, struct box_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return WRONG_TYPE("a boolean");
    *out = json_is_true(v);
    return 1;
}

int box_json_int(json_t *obj, const char *key, const char *path, int64_t min, int64_t max,
                 int64_t *out, struct box_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return WRONG_TYPE("an integer");
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return box_err_set(err, ERANGE, "%s.%s: %lld is out of range [%lld, %lld]", path, key,
                           (long long)i, (long long)min, (long long)max);
    *out = i;
    return 1;
}

int box_json_uint64(json_t *obj, const char *key, const char *path, uint64_t *out,
                    struct box_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    /* jansson stores integers as long long: values past INT64_MAX fail to
     * parse as integers at all, so there is no silent wrap here. */
    if (!json_is_integer(v))
        return WRONG_TYPE("an integer");
    json_int_t i = json_integer_value(v);
    if (i < 0)
        return box_err_set(err, ERANGE, "%s.%s: %lld must not be negative", path, key,
                           (long long)i);
    *out = (uint64_t)i;
    return 1;
}

json_t *box_json_loadb_config(const char *text, size_t len, size_t flags, json_error_t *jerr)
{
    static const char max[] = "18446744073709551615", sub[] = "9223372036854775807 ";
    const size_t n = sizeof(max) - 1;
    if (!memmem(text, len, max, n))
        return json_loadb(text, len, flags, jerr);
    char *copy = malloc(len);
    if (!copy) {
        *jerr = (json_error_t){.line = -1, .column = -1, .position = -1};
        snprintf(jerr->text, sizeof(jerr->text), "out of memory");
        return NULL;
    }
    memcpy(copy, text, len);
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = copy[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '1' && len - i >= n && memcmp(copy + i, max, n) == 0 &&
                   (i == 0 || strchr(" \t\r\n:[,", copy[i - 1])) &&
                   (i + n == len || strchr(" \t\r\n,]}", copy[i + n]))) {
            memcpy(copy + i, sub, n);
            i += n - 1;
        }
    }
    json_t *doc = json_loadb(copy, len, flags, jerr);
    free(copy);
    return doc;
}

int box_json_object(json_t *obj, const char *key, const char *path, json_t **out,
                    struct box_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return WRONG_TYPE("an object");
    *out = v;
    return 1;
}

int box_json_array(json_t *obj, const char *key, const char *path, size_t max, json_t **out,
                   struct box_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return WRONG_TYPE("an array");
    if (json_array_size(v) > max)
        return box_err_set(err, E2BIG, "%s.%s: %zu entries, more than the limit of %zu", path, key,
                           json_array_size(v), max);
    *out = v;
    return 1;
}

void box_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

int box_json_strings(json_t *obj, const char *key, const char *path, size_t max, char ***out,
                     size_t *n, struct box_err *err)
{
    json_t *arr = NULL;
    int r = box_json_array(obj, key, path, max, &arr, err);
    if (r <= 0)
        return r;
    size_t count = json_array_size(arr);
    char **v = calloc(count + 1, sizeof(char *));
    if (!v)
        return -ENOMEM;
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        if (!json_is_string(item) || json_string_length(item) > BOX_SPEC_MAX_STRING ||
            memchr(json_string_value(item), '\0', json_string_length(item))) {
            box_strv_free(v);
            return box_err_set(err, EINVAL, "%s.%s[%zu]: must be a string without NUL bytes", path,
                               key, i);
        }
        v[i] = strdup(json_string_value(item));
        if (!v[i]) {
            box_strv_free(v);
            return -ENOMEM;
        }
    }
    box_strv_free(*out);
    *out = v;
    if (n)
        *n = count;
    return 1;
}
