/* The user process's credentials and limits, applied by the init in the
 * container right before it execs: rlimits, groups and ids, capabilities,
 * the program's path. */
#ifndef BOX_RUNTIME_PROCESS_H
#define BOX_RUNTIME_PROCESS_H

#include <stdint.h>

#include "lib/base/err.h"
#include "lib/runtime/spec.h"

int box_process_rlimits(const struct box_process *p, struct box_err *err);
/* Drops the bounding set, switches ids keeping caps, then sets the other
 * four sets. last_cap: the kernel's highest capability. */
int box_process_credentials(const struct box_process *p, int last_cap, bool set_groups,
                            struct box_err *err);
/* Resolves args[0] with PATH from env (or the default PATH) to an executable
 * regular file; fills out (PATH_MAX). */
int box_process_find_program(const struct box_process *p, char *out, size_t len,
                             struct box_err *err);
/* process.scheduler, process.ioPriority and linux.personality, before the
 * credentials drop the capabilities they may need. */
int box_process_sched(const struct box_spec *spec, struct box_err *err);
/* /proc/sys/kernel/cap_last_cap, or BOX_CAP_LAST. */
int box_cap_last_cap(void);

#endif
