/* The workload manifest: written by hand with JSON-quoted strings, read
 * with libyaml's document loader. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "lib/oci/workloads.h"

/* A JSON string is a valid YAML double-quoted scalar. */
static void put_str(FILE *f, const char *s)
{
    json_t *j = json_string(s);
    char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    fputs(q ? q : "\"\"", f);
    free(q);
    json_decref(j);
}

static void put_workload(FILE *f, const struct box_workload *w)
{
    fputs("  - name: ", f);
    put_str(f, w->name);
    fputs("\n    image: ", f);
    put_str(f, w->image);
    fputs("\n    command: [", f);
    for (size_t i = 0; i < w->ncommand; i++) {
        fputs(i ? ", " : "", f);
        put_str(f, w->command[i]);
    }
    fprintf(f, "]\n    expect: %s\n    requirements: {gpu: %s}\n", w->expect_pass ? "pass" : "fail",
            w->gpu ? "true" : "false");
}

int box_workloads_format(const struct box_workloads *m, char **out, struct box_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return box_err_set(err, ENOMEM, "workload manifest: out of memory");
    fprintf(f,
            "# GPU validation workloads: how tests find the images, by digest.\n"
            "schema_version: %d\ngenerated_by: ",
            m->schema_version);
    put_str(f, m->generated_by);
    fputs("\nsource:\n  path: ", f);
    put_str(f, m->source_path);
    fputs("\n  input_fingerprint: ", f);
    put_str(f, m->input_fingerprint);
    fputs("\n  inputs:", f);
    fputs(m->ninputs ? "\n" : " {}\n", f);
    for (size_t i = 0; i < m->ninputs; i++) {
        fputs("    ", f);
        put_str(f, m->input_keys[i]);
        fputs(": ", f);
        put_str(f, m->input_values[i]);
        fputs("\n", f);
    }
    fputs(m->n ? "workloads:\n" : "workloads: []\n", f);
    for (size_t i = 0; i < m->n; i++)
        put_workload(f, &m->w[i]);
    if (fclose(f) != 0) {
        free(text);
        return box_err_set(err, ENOMEM, "workload manifest: out of memory");
    }
    *out = text;
    return 0;
}

struct ctx {
    yaml_document_t *doc;
    struct box_err *err;
};

static yaml_node_t *get(struct ctx *c, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(c->doc, p->value);
    }
    return NULL;
}

static int str(struct ctx *c, yaml_node_t *n, const char *path, char *out, size_t size,
               bool required)
{
    if (!n && !required)
        return 0;
    if (!n)
        return box_err_set(c->err, EINVAL, "`%s`: missing", path);
    if (n->type != YAML_SCALAR_NODE)
        return box_err_set(c->err, EINVAL, "`%s`: not a string", path);
    if (n->data.scalar.length >= size ||
        strlen((char *)n->data.scalar.value) != n->data.scalar.length)
        return box_err_set(c->err, EINVAL, "`%s`: longer than %zu bytes or holds a NUL", path,
                           size - 1);
    memcpy(out, n->data.scalar.value, n->data.scalar.length + 1);
    return 0;
}

static int parse_command(struct ctx *c, yaml_node_t *n, const char *path, struct box_workload *w)
{
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return box_err_set(c->err, EINVAL, "`%s`: missing or not a list", path);
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count < 1 || count > BOX_WORKLOADS_ARGS_MAX)
        return box_err_set(c->err, EINVAL, "`%s`: %zu arguments, expected 1..%d", path, count,
                           BOX_WORKLOADS_ARGS_MAX);
    for (size_t i = 0; i < count; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        yaml_node_t *a = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        int rc = str(c, a, p, w->command[i], sizeof(w->command[i]), true);
        if (rc < 0)
            return rc;
    }
    w->ncommand = count;
    return 0;
}

static int parse_workload(struct ctx *c, yaml_node_t *n, size_t idx, struct box_workload *w)
{
    char path[96], expect[8] = "", gpu[8] = "false";
    snprintf(path, sizeof(path), "workloads[%zu]", idx);
    if (!n || n->type != YAML_MAPPING_NODE)
        return box_err_set(c->err, EINVAL, "`%s`: not a mapping", path);
    char p[128];
    snprintf(p, sizeof(p), "%s.name", path);
    int rc = str(c, get(c, n, "name"), p, w->name, sizeof(w->name), true);
    snprintf(p, sizeof(p), "%s.image", path);
    if (rc == 0)
        rc = str(c, get(c, n, "image"), p, w->image, sizeof(w->image), true);
    snprintf(p, sizeof(p), "%s.command", path);
    if (rc == 0)
        rc = parse_command(c, get(c, n, "command"), p, w);
    snprintf(p, sizeof(p), "%s.expect", path);
    if (rc == 0)
        rc = str(c, get(c, n, "expect"), p, expect, sizeof(expect), true);
    if (rc == 0 && strcmp(expect, "pass") != 0 && strcmp(expect, "fail") != 0)
        rc = box_err_set(c->err, EINVAL, "`%s`: `%s` is not pass or fail", p, expect);
    snprintf(p, sizeof(p), "%s.requirements.gpu", path);
    if (rc == 0)
        rc = str(c, get(c, get(c, n, "requirements"), "gpu"), p, gpu, sizeof(gpu), false);
    if (rc == 0 && strcmp(gpu, "true") != 0 && strcmp(gpu, "false") != 0)
        rc = box_err_set(c->err, EINVAL, "`%s`: `%s` is not true or false", p, gpu);
    if (rc == 0 && !w->image[0])
        rc = box_err_set(c->err, EINVAL, "`%s.image`: empty", path);
    w->expect_pass = strcmp(expect, "pass") == 0;
    w->gpu = strcmp(gpu, "true") == 0;
    return rc;
}

static int parse_source(struct ctx *c, yaml_node_t *src, struct box_workloads *m)
{
    int rc =
        str(c, get(c, src, "path"), "source.path", m->source_path, sizeof(m->source_path), false);
    if (rc == 0)
        rc = str(c, get(c, src, "input_fingerprint"), "source.input_fingerprint",
                 m->input_fingerprint, sizeof(m->input_fingerprint), false);
    yaml_node_t *in = get(c, src, "inputs");
    if (rc < 0 || !in)
        return rc;
    if (in->type != YAML_MAPPING_NODE)
        return box_err_set(c->err, EINVAL, "`source.inputs`: not a mapping");
    for (yaml_node_pair_t *p = in->data.mapping.pairs.start;
         rc == 0 && p < in->data.mapping.pairs.top; p++) {
        if (m->ninputs == BOX_WORKLOADS_INPUTS)
            return box_err_set(c->err, E2BIG, "`source.inputs`: more than %d",
                               BOX_WORKLOADS_INPUTS);
        rc = str(c, yaml_document_get_node(c->doc, p->key), "source.inputs (key)",
                 m->input_keys[m->ninputs], sizeof(m->input_keys[0]), true);
        if (rc == 0)
            rc = str(c, yaml_document_get_node(c->doc, p->value), "source.inputs (value)",
                     m->input_values[m->ninputs], sizeof(m->input_values[0]), true);
        m->ninputs++;
    }
    return rc;
}

static int parse_root(struct ctx *c, yaml_node_t *root, struct box_workloads *m)
{
    char version[8] = "";
    if (!root || root->type != YAML_MAPPING_NODE)
        return box_err_set(c->err, EINVAL, "workload manifest: not a YAML mapping");
    int rc =
        str(c, get(c, root, "schema_version"), "schema_version", version, sizeof(version), true);
    if (rc == 0 && strcmp(version, "1") != 0)
        return box_err_set(c->err, EINVAL, "`schema_version`: `%s` is not 1", version);
    m->schema_version = 1;
    if (rc == 0)
        rc = str(c, get(c, root, "generated_by"), "generated_by", m->generated_by,
                 sizeof(m->generated_by), false);
    if (rc == 0)
        rc = parse_source(c, get(c, root, "source"), m);
    yaml_node_t *wl = get(c, root, "workloads");
    if (rc < 0)
        return rc;
    if (!wl || wl->type != YAML_SEQUENCE_NODE)
        return box_err_set(c->err, EINVAL, "`workloads`: missing or not a list");
    size_t count = (size_t)(wl->data.sequence.items.top - wl->data.sequence.items.start);
    if (count > BOX_WORKLOADS_MAX)
        return box_err_set(c->err, E2BIG, "`workloads`: %zu entries, at most %d", count,
                           BOX_WORKLOADS_MAX);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = parse_workload(c, yaml_document_get_node(c->doc, wl->data.sequence.items.start[i]), i,
                            &m->w[i]);
        for (size_t j = 0; rc == 0 && j < i; j++)
            if (strcmp(m->w[i].name, m->w[j].name) == 0)
                rc = box_err_set(c->err, EINVAL, "`workloads[%zu].name`: `%s` given twice", i,
                                 m->w[i].name);
    }
    m->n = count;
    return rc;
}

int box_workloads_parse(const char *text, size_t len, struct box_workloads *m, struct box_err *err)
{
    memset(m, 0, sizeof(*m));
    if (len > BOX_WORKLOADS_FILE_MAX)
        return box_err_set(err, EFBIG, "workload manifest: %zu bytes, at most %u", len,
                           BOX_WORKLOADS_FILE_MAX);
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p))
        return box_err_set(err, ENOMEM, "workload manifest: out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&p, &doc)) {
        rc = box_err_set(err, EINVAL, "workload manifest: YAML error at line %zu: %s",
                         p.problem_mark.line + 1, p.problem ? p.problem : "unknown");
    } else {
        struct ctx c = {.doc = &doc, .err = err};
        rc = parse_root(&c, yaml_document_get_root_node(&doc), m);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    return rc;
}
