/* Runs validation workloads end to end, up to `parallel` at a time from one
 * poll loop (no threads): for each workload, get the image (an OCI layout,
 * or a registry image by digest copied with skopeo into a layout), unpack
 * its layers, write the bundle's config.json, run it with the runtime (box,
 * crun or runc, each under its own --root state directory), capture stdout
 * and stderr separately with bounded buffers, and decide the verdict.
 *
 * A run past its timeout is killed as a whole container (`kill --all ID
 * KILL`, then `delete --force ID`), and the harness then checks that no
 * process of the container's pid namespace is left. Every bundle is removed
 * once its run is decided. */
#ifndef BOX_VALIDATE_RUNNER_H
#define BOX_VALIDATE_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/base/err.h"
#include "lib/oci/layout_read.h"
#include "lib/validate/manifest.h"
#include "lib/validate/proc.h"
#include "lib/validate/verdict.h"

#define BOX_VALIDATE_CDI_DIRS_MAX 8

struct box_runner_opts {
    const char *runtime;      /* "box", "crun", "runc": names it in reports */
    const char *runtime_path; /* the executable */
    const char *work_dir;     /* an empty private directory, for bundles and state */
    const char *base_dir;     /* relative oci: paths: from here, else the cwd; NULL: the cwd */
    const char *skopeo;       /* path of skopeo, for registry images */
    bool insecure_registry;   /* skopeo --src-tls-verify=false (loopback registries) */
    unsigned timeout_s;       /* per run */
    unsigned pull_timeout_s;  /* per skopeo copy */
    unsigned parallel;        /* runs at a time, >= 1 */
    size_t capture_max;       /* bytes kept per stream */
    bool gpu_present;
    const char *gpu_why;              /* why not, when !gpu_present */
    const char *const *cdi_spec_dirs; /* given to box for GPU workloads; */
    size_t n_cdi_spec_dirs;           /* none: its defaults */
    /* Set (by a signal handler) to stop: the running containers are killed
     * and deleted, nothing more starts. May be NULL. */
    const volatile sig_atomic_t *stop;
    /* Called when a workload's verdict is decided (may be NULL). */
    void (*progress)(void *ud, size_t index);
    void *progress_ud;
};

struct box_result {
    char digest[BOX_OCI_DIGEST_LEN + 1]; /* the manifest that ran */
    struct box_verdict v;
    int exit_code; /* -1 when the container never ran */
    int64_t ms_fetch, ms_unpack, ms_bundle, ms_run;
    struct box_capture out, err; /* buf owned by the result */
    bool ran;
};

/* Runs every workload; fills res[0..n). A workload that cannot be prepared
 * or run gets the verdict error; only a failure of the harness itself
 * (work directory, memory) returns < 0. */
int box_runner_run(const struct box_runner_opts *o, const struct box_wl *ws, size_t n,
                   struct box_result *res, struct box_err *err);
void box_result_release(struct box_result *r);

#endif
