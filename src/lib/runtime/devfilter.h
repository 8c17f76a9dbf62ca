/* The device rules of a container on cgroup v2: an eBPF program of type
 * BPF_PROG_TYPE_CGROUP_DEVICE attached to its cgroup, built from the same
 * rules the v1 devices controller gets. */
#ifndef BOX_RUNTIME_DEVFILTER_H
#define BOX_RUNTIME_DEVFILTER_H

#include <linux/bpf.h>
#include <stddef.h>

#include "lib/base/err.h"
#include "lib/runtime/spec.h"

/* Builds the program for rules evaluated like v1's whitelist: the last rule
 * that matches decides, nothing matching is a denial. At most max
 * instructions; returns the count or -E2BIG. */
int box_devfilter_build(const struct box_dev_rule *rules, size_t n, struct bpf_insn *out,
                        size_t max);
/* Loads the program for rules and attaches it to the cgroup2 directory fd. */
int box_devfilter_attach(int cgroupfd, const struct box_dev_rule *rules, size_t n,
                         struct box_err *err);

#endif
