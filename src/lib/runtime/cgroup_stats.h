/* Resource usage of a container's cgroup, as `events` reports it. */
#ifndef BOX_RUNTIME_CGROUP_STATS_H
#define BOX_RUNTIME_CGROUP_STATS_H

#include <jansson.h>

#include "lib/runtime/cgroup.h"

/* A new JSON object: cpu, memory, pids, blkio and hugetlb, with the field
 * names of `runc events` (runc types/events.go). */
int box_cgroup_stats(const struct box_cgroups *cg, json_t **out, struct box_err *err);

#endif
