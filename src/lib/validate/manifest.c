#include "lib/validate/manifest.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "lib/base/fs.h"
#include "lib/oci/layout_read.h"

enum ytype {
    Y_SCALAR,
    Y_SEQ,
    Y_MAP
};

/* A YAML node; a mapping's kids alternate key, value. */
struct ynode {
    enum ytype type;
    char *s;
    size_t len, line;
    bool quoted;
    struct ynode **kid;
    size_t n, cap;
};

struct yctx {
    yaml_parser_t p;
    size_t nodes;
    const char *where;
};

static void ynode_free(struct ynode *y)
{
    if (!y)
        return;
    for (size_t i = 0; i < y->n; i++)
        ynode_free(y->kid[i]);
    free(y->kid);
    free(y->s);
    free(y);
}

static int next(struct yctx *c, yaml_event_t *ev, struct box_err *err)
{
    if (yaml_parser_parse(&c->p, ev))
        return 0;
    return box_err_set(err, EINVAL, "%s: line %zu: %s", c->where, c->p.problem_mark.line + 1,
                       c->p.problem ? c->p.problem : "malformed YAML");
}

static int add_kid(struct ynode *y, struct ynode *k)
{
    if (y->n == y->cap) {
        size_t cap = y->cap ? y->cap * 2 : 8;
        struct ynode **nk = realloc(y->kid, cap * sizeof(*nk));
        if (!nk)
            return -ENOMEM;
        y->kid = nk;
        y->cap = cap;
    }
    y->kid[y->n++] = k;
    return 0;
}

static int build(struct yctx *c, yaml_event_t *ev, size_t depth, struct ynode **out,
                 struct box_err *err);

/* Reads children until the matching end event. */
static int build_children(struct yctx *c, struct ynode *y, yaml_event_type_t end, size_t depth,
                          struct box_err *err)
{
    for (;;) {
        yaml_event_t ev;
        if (next(c, &ev, err) < 0)
            return -err->code;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return 0;
        }
        struct ynode *k = NULL;
        int r = build(c, &ev, depth + 1, &k, err);
        yaml_event_delete(&ev);
        if (r < 0)
            return r;
        if (add_kid(y, k) < 0) {
            ynode_free(k);
            return box_err_set(err, ENOMEM, "%s", c->where);
        }
        if (y->type != Y_MAP || y->n % 2 == 0)
            continue;
        if (k->type != Y_SCALAR)
            return box_err_set(err, EINVAL, "%s: line %zu: mapping keys must be scalars", c->where,
                               k->line);
        for (size_t i = 0; i + 1 < y->n; i += 2)
            if (strcmp(y->kid[i]->s, k->s) == 0)
                return box_err_set(err, EINVAL, "%s: line %zu: duplicate key `%s`", c->where,
                                   k->line, k->s);
    }
}

static int build(struct yctx *c, yaml_event_t *ev, size_t depth, struct ynode **out,
                 struct box_err *err)
{
    size_t line = ev->start_mark.line + 1;
    if (depth > BOX_WL_MAX_DEPTH)
        return box_err_set(err, E2BIG, "%s: line %zu: nested deeper than %d", c->where, line,
                           BOX_WL_MAX_DEPTH);
    if (++c->nodes > BOX_WL_MAX_NODES)
        return box_err_set(err, E2BIG, "%s: more than %d YAML nodes", c->where, BOX_WL_MAX_NODES);
    if (ev->type == YAML_ALIAS_EVENT)
        return box_err_set(err, EINVAL, "%s: line %zu: aliases are not allowed", c->where, line);
    struct ynode *y = calloc(1, sizeof(*y));
    if (!y)
        return box_err_set(err, ENOMEM, "%s", c->where);
    y->line = line;
    int r = 0;
    if (ev->type == YAML_SCALAR_EVENT) {
        y->type = Y_SCALAR;
        y->len = ev->data.scalar.length;
        y->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        if (y->len > BOX_WL_MAX_SCALAR)
            r = box_err_set(err, E2BIG, "%s: line %zu: value longer than %d bytes", c->where, line,
                            BOX_WL_MAX_SCALAR);
        else if (memchr(ev->data.scalar.value, '\0', y->len))
            r = box_err_set(err, EINVAL, "%s: line %zu: NUL byte in a value", c->where, line);
        else if (!(y->s = strndup((const char *)ev->data.scalar.value, y->len)))
            r = box_err_set(err, ENOMEM, "%s", c->where);
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        y->type = Y_SEQ;
        r = build_children(c, y, YAML_SEQUENCE_END_EVENT, depth, err);
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        y->type = Y_MAP;
        r = build_children(c, y, YAML_MAPPING_END_EVENT, depth, err);
    } else {
        r = box_err_set(err, EINVAL, "%s: line %zu: unexpected YAML event", c->where, line);
    }
    if (r < 0) {
        ynode_free(y);
        return r;
    }
    *out = y;
    return 0;
}

/* The single document's root node. */
static int parse_doc(struct yctx *c, struct ynode **root, struct box_err *err)
{
    yaml_event_t ev;
    int r = 0;
    bool done = false;
    while (!done && r >= 0) {
        if ((r = next(c, &ev, err)) < 0)
            break;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            if (*root)
                r = box_err_set(err, EINVAL, "%s: more than one YAML document", c->where);
            else
                r = build(c, &ev, 0, root, err);
        }
        yaml_event_delete(&ev);
    }
    if (r >= 0 && !*root)
        r = box_err_set(err, EINVAL, "%s: empty document", c->where);
    return r;
}

static struct ynode *get(const struct ynode *map, const char *key)
{
    for (size_t i = 0; map && map->type == Y_MAP && i + 1 < map->n; i += 2)
        if (strcmp(map->kid[i]->s, key) == 0)
            return map->kid[i + 1];
    return NULL;
}

bool box_wl_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > BOX_WL_NAME_MAX ||
        !strchr("0123456789abcdefghijklmnopqrstuvwxyz"
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                s[0]))
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

const char *box_expect_str(enum box_expect e)
{
    return e == BOX_EXPECT_FAIL ? "fail" : "pass";
}

static int scalar(const struct ynode *y, const char *path, struct box_err *err)
{
    if (!y)
        return box_err_set(err, EINVAL, "%s: missing", path);
    if (y->type != Y_SCALAR)
        return box_err_set(err, EINVAL, "%s: must be a string", path);
    return 0;
}

static int parse_command(const struct ynode *y, const char *path, struct box_wl *w,
                         struct box_err *err)
{
    if (!y)
        return 0;
    if (y->type != Y_SEQ || y->n == 0)
        return box_err_set(err, EINVAL, "%s: must be a non-empty list of strings", path);
    if (y->n > BOX_WL_MAX_ARGS)
        return box_err_set(err, E2BIG, "%s: more than %d entries", path, BOX_WL_MAX_ARGS);
    w->command = calloc(y->n + 1, sizeof(char *));
    if (!w->command)
        return -ENOMEM;
    for (size_t i = 0; i < y->n; i++) {
        if (y->kid[i]->type != Y_SCALAR)
            return box_err_set(err, EINVAL, "%s[%zu]: must be a string", path, i);
        if (!(w->command[i] = strdup(y->kid[i]->s)))
            return -ENOMEM;
        w->ncommand = i + 1;
    }
    if (w->command[0][0] == '\0')
        return box_err_set(err, EINVAL, "%s[0]: must not be empty", path);
    return 0;
}

static int parse_gpu(const struct ynode *req, const char *path, bool *gpu, struct box_err *err)
{
    if (!req)
        return 0;
    if (req->type != Y_MAP)
        return box_err_set(err, EINVAL, "%s.requirements: must be a mapping", path);
    const struct ynode *g = get(req, "gpu");
    if (!g)
        return 0;
    if (g->type != Y_SCALAR || g->quoted ||
        (strcasecmp(g->s, "true") != 0 && strcasecmp(g->s, "false") != 0))
        return box_err_set(err, EINVAL, "%s.requirements.gpu: must be true or false", path);
    *gpu = strcasecmp(g->s, "true") == 0;
    return 0;
}

static int parse_workload(const struct ynode *y, size_t i, const char *where, struct box_wl *w,
                          struct box_err *err)
{
    char path[BOX_WL_NAME_MAX + 256];
    snprintf(path, sizeof(path), "%s: workloads[%zu]", where, i);
    if (y->type != Y_MAP)
        return box_err_set(err, EINVAL, "%s: must be a mapping", path);
    const struct ynode *name = get(y, "name"), *image = get(y, "image");
    const struct ynode *expect = get(y, "expect");
    char sub[sizeof(path) + 16];
    snprintf(sub, sizeof(sub), "%s.name", path);
    int r = scalar(name, sub, err);
    if (r < 0)
        return r;
    if (!box_wl_name_valid(name->s))
        return box_err_set(err, EINVAL,
                           "%s: `%.128s` must be 1-128 of [A-Za-z0-9._-], starting with a "
                           "letter or digit",
                           sub, name->s);
    strcpy(w->name, name->s);
    snprintf(path, sizeof(path), "%s: workloads[%zu] (%s)", where, i, w->name);
    snprintf(sub, sizeof(sub), "%s.image", path);
    if ((r = scalar(image, sub, err)) < 0)
        return r;
    struct box_oci_ref ref;
    if (box_oci_ref_parse(image->s, &ref, err) < 0)
        return box_err_prefix(err, "%s", sub);
    if (!(w->image = strdup(image->s)))
        return -ENOMEM;
    snprintf(sub, sizeof(sub), "%s.expect", path);
    if ((r = scalar(expect, sub, err)) < 0)
        return r;
    if (strcmp(expect->s, "pass") == 0)
        w->expect = BOX_EXPECT_PASS;
    else if (strcmp(expect->s, "fail") == 0)
        w->expect = BOX_EXPECT_FAIL;
    else
        return box_err_set(err, EINVAL, "%s: `%.64s` must be pass or fail", sub, expect->s);
    snprintf(sub, sizeof(sub), "%s.command", path);
    if ((r = parse_command(get(y, "command"), sub, w, err)) < 0)
        return r;
    return parse_gpu(get(y, "requirements"), path, &w->gpu, err);
}

static int parse_root(const struct ynode *root, const char *where, struct box_wl_list *m,
                      struct box_err *err)
{
    if (root->type != Y_MAP)
        return box_err_set(err, EINVAL, "%s: must be a mapping", where);
    const struct ynode *sv = get(root, "schema_version");
    if (!sv || sv->type != Y_SCALAR)
        return box_err_set(err, EINVAL, "%s: schema_version: missing", where);
    if (strcmp(sv->s, "1") != 0)
        return box_err_set(err, ENOTSUP, "%s: schema_version `%.32s` is not supported (only 1)",
                           where, sv->s);
    const struct ynode *ws = get(root, "workloads");
    if (!ws || ws->type != Y_SEQ)
        return box_err_set(err, EINVAL, "%s: workloads: must be a list", where);
    if (ws->n > BOX_WL_MAX)
        return box_err_set(err, E2BIG, "%s: workloads: more than %d", where, BOX_WL_MAX);
    m->items = calloc(ws->n ? ws->n : 1, sizeof(*m->items));
    if (!m->items)
        return -ENOMEM;
    for (size_t i = 0; i < ws->n; i++) {
        m->count = i + 1;
        int r = parse_workload(ws->kid[i], i, where, &m->items[i], err);
        if (r < 0)
            return r;
        for (size_t k = 0; k < i; k++)
            if (strcmp(m->items[k].name, m->items[i].name) == 0)
                return box_err_set(err, EINVAL, "%s: workloads[%zu]: name `%s` is used twice",
                                   where, i, m->items[i].name);
    }
    return 0;
}

int box_wl_parse(const char *text, size_t len, const char *where, struct box_wl_list *m,
                 struct box_err *err)
{
    memset(m, 0, sizeof(*m));
    if (len > BOX_WL_MAX_BYTES)
        return box_err_set(err, EFBIG, "%s: larger than %u bytes", where, BOX_WL_MAX_BYTES);
    struct yctx c = {.where = where};
    if (!yaml_parser_initialize(&c.p))
        return box_err_set(err, ENOMEM, "%s: YAML parser", where);
    yaml_parser_set_input_string(&c.p, (const unsigned char *)text, len);
    struct ynode *root = NULL;
    int r = parse_doc(&c, &root, err);
    yaml_parser_delete(&c.p);
    if (r >= 0)
        r = parse_root(root, where, m, err);
    ynode_free(root);
    if (r < 0) {
        if (r == -ENOMEM && !err->msg[0])
            box_err_set(err, ENOMEM, "%s", where);
        box_wl_free(m);
    }
    return r;
}

int box_wl_load(const char *path, struct box_wl_list *m, struct box_err *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = box_read_file(AT_FDCWD, path, BOX_WL_MAX_BYTES, &text, &len, err);
    if (r < 0)
        return r;
    return box_wl_parse(text, len, path, m, err);
}

void box_wl_free(struct box_wl_list *m)
{
    for (size_t i = 0; i < m->count; i++) {
        struct box_wl *w = &m->items[i];
        free(w->image);
        if (w->command)
            for (size_t k = 0; w->command[k]; k++)
                free(w->command[k]);
        free(w->command);
    }
    free(m->items);
    memset(m, 0, sizeof(*m));
}
