/* The workload manifest (schema_version 1): how tests find the validation
 * images. YAML, in the shape of the GPU validation contract:
 *
 *   schema_version: 1
 *   generated_by: "<command>"
 *   source: {path, input_fingerprint, inputs: {KEY: VALUE, ...}}
 *   workloads:
 *     - {name, image, command: [...], expect: pass|fail, requirements: {gpu: BOOL}}
 *
 * Written with every string double-quoted (JSON escaping, which YAML reads
 * the same way); read with libyaml, bounded in size and counts, unknown keys
 * ignored, wrong types and values rejected with the path of the field. */
#ifndef BOX_OCI_WORKLOADS_H
#define BOX_OCI_WORKLOADS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/base/err.h"

#define BOX_WORKLOADS_MAX      64
#define BOX_WORKLOADS_ARGS_MAX 32
#define BOX_WORKLOADS_INPUTS   64
#define BOX_WORKLOADS_STR_MAX  1024
#define BOX_WORKLOADS_FILE_MAX (1u << 20)

struct box_workload {
    char name[65];
    char image[BOX_WORKLOADS_STR_MAX];
    char command[BOX_WORKLOADS_ARGS_MAX][256];
    size_t ncommand;
    bool expect_pass, gpu;
};

struct box_workloads {
    int schema_version;
    char generated_by[BOX_WORKLOADS_STR_MAX];
    char source_path[BOX_WORKLOADS_STR_MAX];
    char input_fingerprint[65];
    char input_keys[BOX_WORKLOADS_INPUTS][128], input_values[BOX_WORKLOADS_INPUTS][1024];
    size_t ninputs;
    struct box_workload w[BOX_WORKLOADS_MAX];
    size_t n;
};

/* The YAML text (malloc'ed, NUL-terminated). */
int box_workloads_format(const struct box_workloads *m, char **out, struct box_err *err);

/* Parses YAML text of at most BOX_WORKLOADS_FILE_MAX bytes. */
int box_workloads_parse(const char *text, size_t len, struct box_workloads *m, struct box_err *err);

#endif
