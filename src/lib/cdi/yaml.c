/* YAML spec files -> the JSON tree a JSON spec would give, through
 * libyaml's event parser, so that one validator serves both formats. The
 * event stream lets every bound hold before memory is spent: collection
 * depth, nodes after alias expansion (a "billion laughs" document of a few
 * hundred bytes stops at the node limit), and anchors. An alias shares the
 * anchored JSON value (a reference, not a copy); the expansion count is
 * what a consumer walking the tree would visit, and that is bounded. */
#include "lib/cdi/cdi.h"

#include "lib/runtime/spec_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lib/base/parse.h"

struct frame {
    json_t *node;
    char *key; /* a mapping's key waiting for its value */
    char *anchor;
    size_t nodes_at_start;
};

struct anchor {
    char *name;
    json_t *node;
    size_t size; /* nodes it stands for, expanded */
};

struct conv {
    struct frame stack[BOX_CDI_YAML_MAX_DEPTH];
    size_t depth;
    struct anchor *anchors;
    size_t n_anchors;
    size_t nodes;
    json_t *root;
    int documents;
    struct box_err *err;
};

static void conv_free(struct conv *c)
{
    for (size_t i = 0; i < c->depth; i++) {
        json_decref(c->stack[i].node);
        free(c->stack[i].key);
        free(c->stack[i].anchor);
    }
    for (size_t i = 0; i < c->n_anchors; i++) {
        free(c->anchors[i].name);
        json_decref(c->anchors[i].node);
    }
    free(c->anchors);
    if (c->root)
        json_decref(c->root);
}

static int at(struct conv *c, const yaml_event_t *ev, int code, const char *what)
{
    return box_err_set(c->err, code, "line %zu column %zu: %s", ev->start_mark.line + 1,
                       ev->start_mark.column + 1, what);
}

static int count(struct conv *c, const yaml_event_t *ev, size_t n)
{
    if (n > BOX_CDI_YAML_MAX_NODES - c->nodes)
        return at(c, ev, E2BIG, "more than 1048576 YAML nodes (after alias expansion)");
    c->nodes += n;
    return 0;
}

static int add_anchor(struct conv *c, const yaml_event_t *ev, char *name, json_t *node, size_t size)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < c->n_anchors; i++) {
        if (strcmp(c->anchors[i].name, name) == 0) {
            json_decref(c->anchors[i].node);
            free(name);
            c->anchors[i].node = json_incref(node);
            c->anchors[i].size = size;
            return 0;
        }
    }
    if (c->n_anchors == BOX_CDI_YAML_MAX_ANCHOR) {
        free(name);
        return at(c, ev, E2BIG, "more than 1024 YAML anchors");
    }
    if (c->n_anchors % 16 == 0) {
        struct anchor *n = realloc(c->anchors, (c->n_anchors + 16) * sizeof(*n));
        if (!n) {
            free(name);
            return -ENOMEM;
        }
        c->anchors = n;
    }
    c->anchors[c->n_anchors++] = (struct anchor){name, json_incref(node), size};
    return 0;
}

/* Places a finished value (a reference is taken over) in its parent. */
static int place(struct conv *c, const yaml_event_t *ev, json_t *v)
{
    if (c->depth == 0) {
        c->root = v;
        return 0;
    }
    struct frame *f = &c->stack[c->depth - 1];
    if (json_is_array(f->node))
        return json_array_append_new(f->node, v) < 0 ? -ENOMEM : 0;
    if (!f->key) {
        json_decref(v);
        return at(c, ev, EINVAL, "a mapping key must be a scalar");
    }
    if (json_object_get(f->node, f->key)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "duplicate key `%.100s`", f->key);
        json_decref(v);
        return at(c, ev, EINVAL, msg);
    }
    int r = json_object_set_new(f->node, f->key, v);
    free(f->key);
    f->key = NULL;
    return r < 0 ? -ENOMEM : 0;
}

static bool is_digits(const char *s, const char *set)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr(set, *s))
            return false;
    return true;
}

/* YAML integers: decimal, 0x hex, 0o octal, and a leading 0 meaning octal
 * (YAML 1.1, as Go's YAML decoders read 0666). 1 when s is one. */
static int plain_int(const char *s, json_int_t *out)
{
    bool neg = s[0] == '-';
    const char *d = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
    int base = 10;
    if (d[0] == '0' && (d[1] == 'x' || d[1] == 'o')) {
        base = d[1] == 'x' ? 16 : 8;
        d += 2;
    } else if (d[0] == '0' && d[1]) {
        base = 8;
        d += 1;
    }
    if (!is_digits(d, base == 16  ? "0123456789abcdefABCDEF"
                      : base == 8 ? "01234567"
                                  : "0123456789"))
        return 0;
    uint64_t v = 0;
    for (; *d; d++) {
        unsigned digit = (unsigned)(*d <= '9' ? *d - '0' : (*d | 0x20) - 'a' + 10);
        if (v > (UINT64_MAX - digit) / (unsigned)base)
            return -ERANGE;
        v = v * (unsigned)base + digit;
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return -ERANGE;
    *out = neg ? (json_int_t)(0 - v) : (json_int_t)v;
    return 1;
}

static bool plain_float(const char *s)
{
    const char *p = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static int scalar(struct conv *c, const yaml_event_t *ev, json_t **out)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (memchr(s, '\0', n))
        return at(c, ev, EINVAL, "a scalar contains a NUL byte");
    bool quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    if (tag && strcmp(tag, YAML_STR_TAG) != 0 && strcmp(tag, "!") != 0)
        return at(c, ev, EINVAL, "tags other than !!str are not supported");
    if (tag || quoted) {
        *out = json_stringn(s, n);
        return *out ? 0 : at(c, ev, EINVAL, "a string is not valid UTF-8");
    }
    json_int_t iv;
    if (n == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        *out = json_null();
    else if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        *out = json_true();
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        *out = json_false();
    else {
        int r = plain_int(s, &iv);
        if (r < 0)
            return at(c, ev, ERANGE, "an integer out of the 64-bit range");
        if (r > 0)
            *out = json_integer(iv);
        else if (plain_float(s))
            *out = json_real(strtod(s, NULL));
        else
            *out = json_stringn(s, n);
    }
    return *out ? 0 : at(c, ev, EINVAL, "a scalar is not valid UTF-8 or not a finite number");
}

static char *take_anchor(const yaml_char_t *a)
{
    return a ? strdup((const char *)a) : NULL;
}

static int on_start(struct conv *c, const yaml_event_t *ev, bool mapping)
{
    if (c->depth == BOX_CDI_YAML_MAX_DEPTH)
        return at(c, ev, E2BIG, "YAML nested deeper than 64 levels");
    const yaml_char_t *tag = mapping ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
    if (tag && strcmp((const char *)tag, mapping ? YAML_MAP_TAG : YAML_SEQ_TAG) != 0)
        return at(c, ev, EINVAL, "tags on collections are not supported");
    if (count(c, ev, 1) < 0)
        return -c->err->code;
    json_t *node = mapping ? json_object() : json_array();
    if (!node)
        return -ENOMEM;
    const yaml_char_t *anchor =
        mapping ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    c->stack[c->depth++] = (struct frame){node, NULL, take_anchor(anchor), c->nodes - 1};
    return 0;
}

static int on_end(struct conv *c, const yaml_event_t *ev)
{
    struct frame f = c->stack[--c->depth];
    free(f.key);
    int r = add_anchor(c, ev, f.anchor, f.node, c->nodes - f.nodes_at_start);
    if (r < 0) {
        json_decref(f.node);
        return r;
    }
    return place(c, ev, f.node);
}

static int on_scalar(struct conv *c, const yaml_event_t *ev)
{
    struct frame *f = c->depth ? &c->stack[c->depth - 1] : NULL;
    if (count(c, ev, 1) < 0)
        return -c->err->code;
    if (f && json_is_object(f->node) && !f->key) {
        if (ev->data.scalar.anchor)
            return at(c, ev, EINVAL, "anchors on mapping keys are not supported");
        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
            return at(c, ev, EINVAL, "a key contains a NUL byte");
        f->key = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        return f->key ? 0 : -ENOMEM;
    }
    json_t *v;
    if (scalar(c, ev, &v) < 0)
        return -c->err->code;
    int r = add_anchor(c, ev, take_anchor(ev->data.scalar.anchor), v, 1);
    if (r < 0) {
        json_decref(v);
        return r;
    }
    return place(c, ev, v);
}

static int on_alias(struct conv *c, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    for (size_t i = c->n_anchors; i-- > 0;) {
        if (strcmp(c->anchors[i].name, name) == 0) {
            if (count(c, ev, c->anchors[i].size) < 0)
                return -c->err->code;
            struct frame *f = c->depth ? &c->stack[c->depth - 1] : NULL;
            if (f && json_is_object(f->node) && !f->key)
                return at(c, ev, EINVAL, "aliases as mapping keys are not supported");
            return place(c, ev, json_incref(c->anchors[i].node));
        }
    }
    return at(c, ev, EINVAL, "an alias to an unknown (or unfinished) anchor");
}

static int on_event(struct conv *c, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (c->documents++)
            return at(c, ev, EINVAL, "a spec file holds one YAML document");
        return 0;
    case YAML_MAPPING_START_EVENT:
        return on_start(c, ev, true);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(c, ev, false);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        return on_end(c, ev);
    case YAML_SCALAR_EVENT:
        return on_scalar(c, ev);
    case YAML_ALIAS_EVENT:
        return on_alias(c, ev);
    default:
        return 0;
    }
}

int box_cdi_yaml_to_json(const char *text, size_t len, json_t **out, struct box_err *err)
{
    *out = NULL;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return -ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    struct conv c = {.err = err};
    int r = 0;
    for (bool done = false; !done && r >= 0;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            r = box_err_set(err, EINVAL, "line %zu column %zu: %s", p.problem_mark.line + 1,
                            p.problem_mark.column + 1, p.problem ? p.problem : "invalid YAML");
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        r = on_event(&c, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (r >= 0 && !c.root)
        r = box_err_set(err, EINVAL, "an empty YAML document");
    if (r >= 0) {
        *out = c.root;
        c.root = NULL;
    }
    conv_free(&c);
    return r < 0 ? r : 0;
}
