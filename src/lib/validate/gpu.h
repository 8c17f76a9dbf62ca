/* Whether this host can run a GPU workload: an NVIDIA driver is loaded
 * (/proc/driver/nvidia/gpus lists a GPU, or a /dev/nvidiaN node exists) and
 * a CDI spec for the kind nvidia.com/gpu is installed in the spec
 * directories the runtime will search: /etc/cdi and /var/run/cdi, or those
 * given (a *.json, *.yaml or *.yml file of at most 1 MiB naming that
 * kind). A GPU workload on a host without both is reported skipped, never
 * passed. */
#ifndef BOX_VALIDATE_GPU_H
#define BOX_VALIDATE_GPU_H

#include <stdbool.h>
#include <stddef.h>

/* root: the host's "/" (tests pass another tree), under which the device
 * and proc files are looked for. dirs[0..n): the CDI spec directories, used
 * as they are; n == 0: root's /etc/cdi and /var/run/cdi. On false, why
 * names what is missing. */
bool box_gpu_present(const char *root, const char *const *dirs, size_t n, char *why,
                     size_t why_size);

#endif
