/* Payload profiles: what a runtime bundle must carry beyond its manifest's
 * own rules, and the architecture names bundles use. */
#ifndef BOX_IMAGE_PROFILE_H
#define BOX_IMAGE_PROFILE_H

#include <stddef.h>

#include "lib/base/err.h"
#include "lib/image/manifest.h"
#include "lib/image/tree.h"

/* What a bundle must carry beyond the manifest's own rules. */
struct box_profile {
    char *name;
    char **components;     /* required components */
    char **manifest_paths; /* must be listed in files[] */
    char **regular_files;  /* must exist as regular files, not symlinks */
    char **directories;    /* must exist as directories */
    char **globs;          /* each must match a payload path; ${multiarch} expands */
    size_t ncomponents, nmanifest_paths, nregular_files, ndirectories, nglobs;
};

/* "nvidia" (the default: the NVIDIA container toolkit), "none", or a path to
 * a JSON file with the same keys (see docs/runtime-bundles.md). */
int box_profile_load(const char *spec, struct box_profile **out, struct box_err *err);
int box_profile_parse(const char *buf, size_t len, const char *name, struct box_profile **out,
                      struct box_err *err);
void box_profile_free(struct box_profile *p);

/* Every manifest_paths entry is listed in the manifest. */
int box_profile_check_listed(const struct box_profile *p, const struct box_manifest *m,
                             struct box_err *err);
/* The payload (tree paths under `prefix`/) has the required regular files,
 * directories and glob matches for `arch`. */
int box_profile_check_payload(const struct box_profile *p, const struct box_tree *payload,
                              const char *prefix, const char *arch, struct box_err *err);

/* "amd64" -> "x86_64-linux-gnu", "arm64" -> "aarch64-linux-gnu", else NULL. */
const char *box_arch_multiarch(const char *arch);
/* The host's architecture in these terms, or NULL when unsupported. */
const char *box_arch_host(void);

#endif
