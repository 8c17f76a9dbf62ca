/* Writing linux.resources into a container's cgroup directories: the part of
 * cgroup.c that knows each controller's files (cgroup_res.c). */
#ifndef BOX_RUNTIME_CGROUP_RES_H
#define BOX_RUNTIME_CGROUP_RES_H

#include "lib/runtime/cgroup.h"

bool box_cgroup_has_controller(const struct box_cgroup_hier *h, const char *name);
/* Writes val to <dir>/<file>. */
int box_cgroup_write(const char *dir, const char *file, const char *val, struct box_err *err);
/* A v1 hierarchy's controllers; the device rules only with `devices`. */
int box_cgroup_apply_v1(const char *dir, const struct box_cgroup_hier *h,
                        const struct box_spec *spec, bool devices, struct box_err *err);
/* cgroup2 on a pure v2 host: every resource, the devices as an eBPF program
 * (with `devices`, replacing the one attached before). */
int box_cgroup_apply_v2(const char *dir, const struct box_spec *spec, bool devices,
                        struct box_err *err);
/* hugepageLimits: v1 hugetlb.<size>.limit_in_bytes or cgroup2 hugetlb.<size>.max
 * (hybrid hosts have hugetlb on cgroup2 only). */
int box_cgroup_apply_hugetlb(const char *dir, bool v2, const struct box_resources *r,
                             struct box_err *err);

#endif
