/* `box vm build`: one image from a Packer template under images/vm/.
 *
 * The base image (images/vm/base/build-base.sh) is built once per
 * distribution and reused; packer boots a copy of it under QEMU, runs the
 * provisioning scripts, and the guest reports its facts at the end. Packer
 * works in a temporary directory under the output directory; only a
 * complete, checked image (qemu-img says raw, the disk checks pass) is moved
 * to `<output>/<name>`, followed by `<name>.sha256` and `<name>.facts.json`.
 * A failed, timed-out or interrupted build leaves none of them, and no
 * process: every tool runs in its own process group (spawn.h). Only the
 * guest's serial console of a failed packer run is kept, as
 * `<output>/<name>.serial.log`. */
#ifndef BOX_VM_BUILD_H
#define BOX_VM_BUILD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"

#define BOX_VM_VARS_MAX      32
#define BOX_VM_VAR_VALUE_MAX 1024

struct box_vm_build_opts {
    const char *template_name;
    const char *templates_dir; /* holds <template>.pkr.hcl, base/ and scripts/ */
    const char *output_dir;
    const char *base_image;            /* NULL: <output>/base-<distro>.img, built when missing */
    const char *image_name;            /* NULL: <template>-<distro><version>.raw */
    const char *vars[BOX_VM_VARS_MAX]; /* "key=value", passed to packer as -var */
    size_t nvars;
    unsigned timeout_s; /* the whole build; 0: 3600 */
    int log_fd;         /* the tools' output is copied here; -1: not */
    const char *packer; /* default "packer" */
};

struct box_vm_build_result {
    char image[PATH_MAX], sha256_file[PATH_MAX], facts_file[PATH_MAX];
    char sha256[65];
    char serial_log[PATH_MAX]; /* after a failed packer run: the guest's console, or "" */
    uint64_t size;
    bool base_built;
    unsigned long base_ms, packer_ms, total_ms;
};

/* Checks a template name ([a-z0-9][a-z0-9-]*, at most 63) and that
 * <dir>/<name>.pkr.hcl exists; the error lists the templates there. */
int box_vm_template_check(const char *dir, const char *name, struct box_err *err);
/* Checks one --var: key [a-z_][a-z0-9_]*, printable value, not one of the
 * variables box vm build sets itself. */
int box_vm_var_check(const char *kv, struct box_err *err);

/* The caller blocks SIGINT and SIGTERM for the duration: one that arrives
 * while a tool runs stops its group (spawn.h), one that arrives between the
 * steps is found before the next; either way the build ends with -EINTR and
 * leaves nothing. */
int box_vm_build(const struct box_vm_build_opts *o, struct box_vm_build_result *res,
                 struct box_err *err);

#endif
