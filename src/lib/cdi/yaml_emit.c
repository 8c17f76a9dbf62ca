#include "lib/cdi/yaml_emit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct sink {
    char *buf;
    size_t len, cap;
    bool too_big;
};

static int sink_write(void *data, unsigned char *bytes, size_t n)
{
    struct sink *s = data;
    if (n > BOX_YAML_MAX_BYTES - s->len) {
        s->too_big = true;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            return 0;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, bytes, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return 1;
}

/* YAML 1.1 reads these words as booleans or null (YAML 1.2 fewer). */
static bool special_word(const char *s)
{
    static const char *const words[] = {"y",   "yes",  "n", "no",   "true",  "false", "on",
                                        "off", "null", "~", ".inf", "-.inf", "+.inf", ".nan"};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(words); i++)
        if (strcasecmp(s, words[i]) == 0)
            return true;
    return false;
}

/* Plain only for names and paths that no reader takes for another type:
 * a letter, '_' or '/' first (never a digit, sign or dot, so nothing reads
 * as a number or a version-like float), then a small safe set, and no ':'
 * at the end (a mapping indicator). Everything else is double-quoted. */
static bool plain_ok(const char *s)
{
    if (!*s || special_word(s))
        return false;
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' || *s == '/'))
        return false;
    for (const char *p = s; *p; p++) {
        bool ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9') || strchr("_./=,+@:-", *p);
        if (!ok)
            return false;
    }
    return s[strlen(s) - 1] != ':';
}

/* A string may end up quoted in any style (both implicit flags set); a
 * number, boolean or null is written plain. */
static int scalar(yaml_emitter_t *em, const char *text, bool is_string)
{
    yaml_event_t ev;
    bool quoted = is_string && !plain_ok(text);
    yaml_scalar_style_t style = quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1,
                                      is_string, style))
        return -ENOMEM;
    return yaml_emitter_emit(em, &ev) ? 0 : -EIO;
}

static int emit_value(yaml_emitter_t *em, json_t *v, int depth);

static int emit_object(yaml_emitter_t *em, json_t *v, int depth)
{
    yaml_event_t ev;
    if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
        !yaml_emitter_emit(em, &ev))
        return -EIO;
    const char *key;
    json_t *item;
    json_object_foreach(v, key, item)
    {
        int r = scalar(em, key, true);
        if (r < 0 || (r = emit_value(em, item, depth + 1)) < 0)
            return r;
    }
    if (!yaml_mapping_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
        return -EIO;
    return 0;
}

static int emit_array(yaml_emitter_t *em, json_t *v, int depth)
{
    yaml_event_t ev;
    if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
        !yaml_emitter_emit(em, &ev))
        return -EIO;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        int r = emit_value(em, item, depth + 1);
        if (r < 0)
            return r;
    }
    if (!yaml_sequence_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
        return -EIO;
    return 0;
}

static int emit_value(yaml_emitter_t *em, json_t *v, int depth)
{
    char num[64];
    if (depth > BOX_YAML_MAX_DEPTH)
        return -ELOOP;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return emit_object(em, v, depth);
    case JSON_ARRAY:
        return emit_array(em, v, depth);
    case JSON_STRING:
        return scalar(em, json_string_value(v), true);
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return scalar(em, num, false);
    case JSON_REAL:
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        return scalar(em, num, false);
    case JSON_TRUE:
        return scalar(em, "true", false);
    case JSON_FALSE:
        return scalar(em, "false", false);
    default:
        return scalar(em, "null", false);
    }
}

static int emit_document(yaml_emitter_t *em, json_t *value)
{
    yaml_event_t ev;
    if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || !yaml_emitter_emit(em, &ev))
        return -EIO;
    if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
        !yaml_emitter_emit(em, &ev))
        return -EIO;
    int r = emit_value(em, value, 0);
    if (r < 0)
        return r;
    if (!yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(em, &ev))
        return -EIO;
    if (!yaml_stream_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
        return -EIO;
    return yaml_emitter_flush(em) ? 0 : -EIO;
}

int box_yaml_emit(json_t *value, char **out, size_t *len, struct box_err *err)
{
    yaml_emitter_t em;
    struct sink s = {0};
    if (!yaml_emitter_initialize(&em))
        return box_err_set(err, ENOMEM, "yaml: cannot start the emitter");
    yaml_emitter_set_output(&em, sink_write, &s);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1); /* never fold a long path */
    yaml_emitter_set_indent(&em, 2);
    int r = emit_document(&em, value);
    if (r < 0) {
        if (r == -ELOOP)
            box_err_set(err, ELOOP, "yaml: nested deeper than %d levels", BOX_YAML_MAX_DEPTH);
        else if (s.too_big)
            box_err_set(err, EFBIG, "yaml: output larger than %u bytes", BOX_YAML_MAX_BYTES);
        else
            box_err_set(err, EIO, "yaml: %s", em.problem ? em.problem : "emitter failed");
        yaml_emitter_delete(&em);
        free(s.buf);
        return -err->code;
    }
    yaml_emitter_delete(&em);
    *out = s.buf ? s.buf : strdup("");
    *len = s.len;
    return *out ? 0 : box_err_set(err, ENOMEM, "yaml: out of memory");
}
