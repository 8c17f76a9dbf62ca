/* GPU runtime bundles: verify, inspect and stage per-architecture tarballs
 * (docs/runtime-bundles.md has the contract).
 *
 * One streaming pass reads the tarball, applies the secure extraction rules,
 * hashes every file while it is written into a private staging directory
 * (or only hashes, for verify), and captures manifest.json wherever it sits
 * in the stream. The decision (manifest valid, every listed entry present
 * with its type, hash and size, nothing unlisted, the profile's required
 * payload there) is taken at the end of the pass, before anything becomes
 * visible. Staging then swaps DEST/<arch> atomically.
 *
 * A rejected bundle is an error with code BOX_EDATA whose message starts with
 * "runtime bundle validation failed: " and names the path at fault. */
#ifndef BOX_IMAGE_BUNDLE_H
#define BOX_IMAGE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"
#include "lib/image/decomp.h"
#include "lib/image/extract.h"
#include "lib/image/manifest.h"
#include "lib/image/profile.h"

#define BOX_BUNDLE_FAIL "runtime bundle validation failed"

#define BOX_BUNDLE_SYNC    0x1u /* syncfs() the staged tree before the swap */
#define BOX_BUNDLE_NO_FAST 0x2u /* decompress with zlib only */

struct box_bundle_opts {
    const struct box_profile *profile;
    struct box_extract_limits limits;
    struct box_decomp_limits dlimits;
    unsigned flags;
};

/* Fills limits with the defaults (see docs/runtime-bundles.md). */
void box_bundle_opts_default(struct box_bundle_opts *o, const struct box_profile *profile);

struct box_bundle_report {
    char top_dir[BOX_NAME_MAX + 1];
    struct box_manifest *manifest; /* owned; NULL when none could be read */
    struct box_extract_stats stats;
    uint64_t compressed_bytes, tar_bytes;
    char staged_path[4096]; /* stage: DEST/<arch>/<top_dir> */
    int cleanup_error;      /* stage: the old tree could not be removed (-errno) */
};
void box_bundle_report_free(struct box_bundle_report *r);

/* Verifies a tarball for `arch` without writing anything. */
int box_bundle_verify(const char *tarball, const char *arch, const struct box_bundle_opts *o,
                      struct box_bundle_report *rep, struct box_err *err);

/* Reads the stream up to manifest.json and validates the manifest alone. */
int box_bundle_inspect(const char *tarball, const struct box_bundle_opts *o,
                       struct box_bundle_report *rep, struct box_err *err);

struct box_bundle_item {
    const char *arch;
    const char *tarball;
    struct box_bundle_report report;
};

/* Verifies and extracts every item into its own private directory under
 * dest, then, only if all succeeded, replaces each dest/<arch> atomically.
 * On failure nothing under dest changes and *failed is the item at fault. */
int box_bundle_stage(const char *dest, struct box_bundle_item *items, size_t n,
                     const struct box_bundle_opts *o, size_t *failed, struct box_err *err);

#endif
