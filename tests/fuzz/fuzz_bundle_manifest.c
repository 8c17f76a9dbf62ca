/* libFuzzer target: the manifest.json parser and validator. Whatever the
 * input, it must not crash, leak or read out of bounds, and a manifest it
 * accepts must serialize and parse back to the same entries. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/image/manifest.h"

static char *components[] = {"nvidia_container_toolkit", "libnvidia_container"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct box_manifest_rules rules = {
        .arch = "amd64", .components = components, .ncomponents = 2, .max_files = 10000};
    struct box_manifest *m = NULL, *again = NULL;
    struct box_err err;
    if (box_manifest_parse((const char *)data, size, &rules, &m, &err) < 0)
        return 0;
    char *out;
    size_t len;
    if (box_manifest_dump(m, &out, &len, &err) < 0)
        abort();
    if (box_manifest_parse(out, len, &rules, &again, &err) < 0)
        abort();
    if (again->files.count != m->files.count || again->nfiles != m->nfiles)
        abort();
    for (size_t i = 0; i < m->files.count; i++) {
        const struct box_node *a = m->files.nodes[i], *b = again->files.nodes[i];
        if (strcmp(a->path, b->path) || a->type != b->type || a->size != b->size ||
            memcmp(a->sha256, b->sha256, sizeof(a->sha256)))
            abort();
    }
    free(out);
    box_manifest_free(again);
    box_manifest_free(m);
    return 0;
}
