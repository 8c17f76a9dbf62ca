/* Runtime bundle manifest.json (schema_version 1) and payload profiles.
 *
 * The parser validates before anything uses the document: every required
 * field, its type, non-blank strings, canonical relative paths that stay in
 * the bundle, no duplicate path or JSON key, bounded size and entry count.
 * Its messages are the reasons printed after "runtime bundle validation
 * failed: ", in the wording of the contract (docs/runtime-bundles.md). */
#ifndef BOX_IMAGE_MANIFEST_H
#define BOX_IMAGE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"
#include "lib/image/tree.h"

#define BOX_MANIFEST_NAME      "manifest.json"
#define BOX_MANIFEST_MAX_BYTES (16u << 20)
#define BOX_MANIFEST_MAX_FILES 200000u

struct box_component {
    char *name, *version, *commit;
};

struct box_manifest {
    char *bundle_name, *bundle_version, *architecture, *created_at;
    struct box_component *components;
    size_t ncomponents;
    /* files[], in manifest order: FILE nodes carry size and sha256, SYMLINK
     * nodes their "target" (link) when the manifest gives one. */
    struct box_tree files;
    size_t nfiles, nsymlinks;
    uint64_t payload_bytes;
};

struct box_manifest_rules {
    const char *arch;        /* expected architecture, or NULL not to check */
    char *const *components; /* components that must be present */
    size_t ncomponents;
    size_t max_files;
};

int box_manifest_parse(const char *buf, size_t len, const struct box_manifest_rules *rules,
                       struct box_manifest **out, struct box_err *err);
void box_manifest_free(struct box_manifest *m);

/* Serializes deterministically (fixed key order, components and files in the
 * order given, two-space indent, trailing newline). Caller frees. */
int box_manifest_dump(const struct box_manifest *m, char **out, size_t *len, struct box_err *err);

#endif
