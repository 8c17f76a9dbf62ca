/* Facts about a built image, written beside it as `<image>.facts.json` for
 * `box vm payload` (so the registered metadata is what was built, not what
 * was asked for). Part comes from the host (name, sha256, size, template,
 * time), part from a report the guest writes at the end of provisioning
 * (images/vm/scripts/90-collect-facts.sh): one `key=value` per line,
 *
 *   architecture=x86_64
 *   os.family=debian  os.distro=debian|ubuntu  os.version=12
 *   os.codename=bookworm  os.variant=server
 *   kernel=<the kernel the image boots>
 *   gpu.vendor=NVIDIA  gpu.driver=<modinfo -F version nvidia>
 *   gpu.firmware_option=1|0     (all three, or none: then "gpu" is null)
 *   package.<name>=<version>    (at most 64)
 *
 * The report comes from a guest and is treated as hostile: bounded size and
 * line count, known keys only, no duplicates, each value checked. */
#ifndef BOX_VM_FACTS_H
#define BOX_VM_FACTS_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>

#include "lib/base/err.h"

#define BOX_VM_FACTS_REPORT_MAX (64u * 1024u)
#define BOX_VM_FACTS_LINES_MAX  256u
#define BOX_VM_FACTS_PKGS_MAX   64u
#define BOX_VM_FACTS_VALUE_MAX  128u

struct box_vm_facts_host {
    const char *image;    /* file name of the image */
    const char *sha256;   /* 64 lowercase hex digits */
    uint64_t size;        /* bytes */
    const char *template; /* template name */
    time_t built_at;
};

/* Parses the guest report and returns the facts object (caller json_decref()s). */
int box_vm_facts_build(const char *report, size_t len, const struct box_vm_facts_host *host,
                       json_t **out, struct box_err *err);

#endif
