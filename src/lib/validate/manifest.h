/* The workload manifest (docs/gpu-validation.md, "Workload manifest"): a
 * YAML document, schema_version 1, that names each validation workload, its
 * image, the command that runs it, the expected verdict and whether it needs
 * a GPU:
 *
 *   schema_version: 1
 *   workloads:
 *     - name: smoke-pass
 *       image: "oci:smoke-pass@sha256:..."
 *       command: ["/usr/local/bin/openshell-gpu-workload"]
 *       expect: pass
 *       requirements: {gpu: false}
 *
 * Parsed with libyaml's event API into a bounded tree (size, node count,
 * depth, scalar length; aliases refused), then checked field by field before
 * anything runs. Other keys (generated_by, source, ...) are ignored. */
#ifndef BOX_VALIDATE_MANIFEST_H
#define BOX_VALIDATE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/base/err.h"

#define BOX_WL_NAME_MAX   128
#define BOX_WL_MAX        256 /* workloads per manifest */
#define BOX_WL_MAX_ARGS   256 /* command entries */
#define BOX_WL_MAX_BYTES  (1u << 20)
#define BOX_WL_MAX_NODES  100000
#define BOX_WL_MAX_DEPTH  32
#define BOX_WL_MAX_SCALAR 4096

enum box_expect {
    BOX_EXPECT_PASS = 1,
    BOX_EXPECT_FAIL = 2,
};

struct box_wl {
    char name[BOX_WL_NAME_MAX + 1];
    char *image;
    char **command; /* NULL-terminated; NULL: the image's entrypoint and cmd */
    size_t ncommand;
    enum box_expect expect;
    bool gpu;
};

struct box_wl_list {
    struct box_wl *items;
    size_t count;
};

/* Parses a manifest held in memory. `where` names it in messages. */
int box_wl_parse(const char *text, size_t len, const char *where, struct box_wl_list *m,
                 struct box_err *err);
/* Reads and parses a manifest file (at most BOX_WL_MAX_BYTES). */
int box_wl_load(const char *path, struct box_wl_list *m, struct box_err *err);
void box_wl_free(struct box_wl_list *m);

/* Workload names: 1..128 of [A-Za-z0-9._-], starting with a letter or digit. */
bool box_wl_name_valid(const char *s);
const char *box_expect_str(enum box_expect e);

#endif
