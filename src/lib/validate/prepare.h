/* One workload's bundle, from its image reference: fetch (registry images,
 * through skopeo into an OCI layout), resolve, unpack, config.json. The
 * runner's first phases, timed into res->ms_fetch, ms_unpack, ms_bundle. */
#ifndef BOX_VALIDATE_PREPARE_H
#define BOX_VALIDATE_PREPARE_H

#include "lib/validate/runner.h"

/* Makes job_dir/bundle (config.json and rootfs) for w. job_dir exists. */
int box_prepare_bundle(const struct box_runner_opts *o, const struct box_wl *w, const char *job_dir,
                       struct box_result *res, struct box_err *err);

/* Copies a registry image by digest into job_dir/image (an OCI layout) with
 * skopeo, bounded in time; its stderr names the failure. */
int box_prepare_pull(const struct box_runner_opts *o, const struct box_oci_ref *ref,
                     const char *layout, struct box_err *err);

#endif
