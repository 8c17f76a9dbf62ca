/* Creating a runtime bundle tarball from an install root, deterministically:
 * entries sorted by path, owners root:root, modes normalized (0755 for
 * directories and executables, 0644 otherwise), every mtime and created_at
 * set to one epoch (SOURCE_DATE_EPOCH, or 0), and gzip written as 1 MiB
 * members without a timestamp. The same input gives the same bytes.
 *
 * Layout: `<name>_<version>_<arch>/`, then its manifest.json (first, so
 * that a stager can reject unlisted payload before writing it), then the
 * payload. */
#ifndef BOX_IMAGE_BUNDLE_CREATE_H
#define BOX_IMAGE_BUNDLE_CREATE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"
#include "lib/image/manifest.h"
#include "lib/image/profile.h"

struct box_bundle_create_opts {
    const char *from; /* install root */
    const char *arch, *name, *version;
    const struct box_component *components;
    size_t ncomponents;
    const char *output;
    int64_t epoch;                     /* mtimes and created_at */
    const struct box_profile *profile; /* required payload, or NULL */
    int level;                         /* compression level 1..12 (6 when 0) */
    uint64_t max_entries;
};

struct box_bundle_create_stats {
    uint64_t files, symlinks, dirs, payload_bytes, tarball_bytes;
};

int box_bundle_create(const struct box_bundle_create_opts *o, struct box_bundle_create_stats *st,
                      struct box_err *err);

#endif
