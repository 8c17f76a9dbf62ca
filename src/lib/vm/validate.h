/* The region API's image create request (POST .../images), checked before it
 * is sent: the OpenAPI schema subset of `imageCreate` plus the rules the
 * server applies beyond its schema (region-api-images.yaml, spec 1.13.0).
 *
 * Every problem is located by a JSON pointer (RFC 6901) and all of them are
 * collected, not just the first. Fields the schema does not know are errors
 * (the server ignores them silently, so a typo such as `descripton` would
 * otherwise go unnoticed) unless allow_unknown makes them warnings. */
#ifndef BOX_VM_VALIDATE_H
#define BOX_VM_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/base/err.h"

#define BOX_VM_PAYLOAD_MAX  (1u << 20) /* bytes of a payload document */
#define BOX_VM_DEPTH_MAX    32         /* nesting of objects and arrays */
#define BOX_VM_PROBLEMS_MAX 64         /* problems kept per kind; the rest are counted */
#define BOX_VM_LIST_MAX     256        /* tags, models, softwareVersions entries */
#define BOX_VM_URI_MAX      8192       /* characters of spec.uri */
#define BOX_VM_POINTER_MAX  192
#define BOX_VM_MESSAGE_MAX  320

struct box_vm_problem {
    char pointer[BOX_VM_POINTER_MAX]; /* "" is the whole document */
    char message[BOX_VM_MESSAGE_MAX];
};

struct box_vm_report {
    struct box_vm_problem errors[BOX_VM_PROBLEMS_MAX];
    size_t nerrors, errors_dropped;
    struct box_vm_problem warnings[BOX_VM_PROBLEMS_MAX];
    size_t nwarnings, warnings_dropped;
};

struct box_vm_validate_opts {
    bool allow_unknown; /* unknown fields are warnings instead of errors */
};

/* Parses a payload of len bytes (duplicate keys, nesting and size bounded)
 * and checks it. Returns 0 when the server would accept it, -EINVAL when rep
 * holds errors (err says how many), or another -errno. On success *out, when
 * out is not NULL, takes the parsed document. */
int box_vm_validate_buf(const char *buf, size_t len, const struct box_vm_validate_opts *o,
                        struct box_vm_report *rep, json_t **out, struct box_err *err);

/* Checks an already parsed document; returns the number of errors added. */
size_t box_vm_validate_json(json_t *doc, const struct box_vm_validate_opts *o,
                            struct box_vm_report *rep);

/* Rules shared with the payload generator and the client. Each returns NULL
 * when s is acceptable, or a short reason. */
const char *box_vm_check_label(const char *s);  /* Kubernetes label value, <= 63 */
const char *box_vm_check_semver(const char *s); /* v1.2.3 */
const char *box_vm_check_model(const char *s);  /* [A-Za-z0-9_]+ */
const char *box_vm_check_uri(const char *s);    /* http(s)://host... */

/* Appends "/" and the escaped token (~0, ~1) to a pointer; truncates with
 * "..." when the result does not fit. */
void box_vm_pointer_join(char *out, size_t size, const char *base, const char *token);

#endif
