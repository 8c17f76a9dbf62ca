/* process.scheduler and process.ioPriority (runtime-spec config.md, "Process"):
 * checked here, before any side effect, so that the init only has to make
 * the system call. */
#include <errno.h>
#include <string.h>

#include "lib/runtime/spec.h"
#include "lib/runtime/spec_json.h"

struct name_value {
    const char *name;
    uint64_t value;
};

static int lookup(const struct name_value *t, size_t n, const char *name, uint64_t *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) {
            *out = t[i].value;
            return 0;
        }
    return -ENOENT;
}

/* linux/sched.h; SCHED_ISO was reserved but never merged into Linux. */
static const struct name_value policies[] = {
    {"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2},
    {"SCHED_BATCH", 3}, {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6},
};

static const struct name_value sched_flags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", 0x01},  {"SCHED_FLAG_RECLAIM", 0x02},
    {"SCHED_FLAG_DL_OVERRUN", 0x04},     {"SCHED_FLAG_KEEP_POLICY", 0x08},
    {"SCHED_FLAG_KEEP_PARAMS", 0x10},    {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
};

static const struct name_value io_classes[] = {
    {"IOPRIO_CLASS_RT", 1},
    {"IOPRIO_CLASS_BE", 2},
    {"IOPRIO_CLASS_IDLE", 3},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int parse_scheduler(json_t *sch, struct box_sched *s, struct box_err *err)
{
    const char *p = "process.scheduler";
    _cleanup_free_ char *policy = NULL;
    TRY(box_json_string(sch, "policy", p, &policy, err));
    if (!policy)
        return box_err_set(err, EINVAL, "%s.policy: required", p);
    uint64_t v = 0;
    if (lookup(policies, N(policies), policy, &v) < 0)
        return box_err_set(err, EINVAL, "%s.policy: `%s` is not a Linux scheduling policy", p,
                           policy);
    s->policy = (uint32_t)v;
    int64_t nice = 0, prio = 0;
    TRY(box_json_int(sch, "nice", p, -20, 19, &nice, err));
    TRY(box_json_int(sch, "priority", p, 0, 99, &prio, err));
    s->nice = (int32_t)nice;
    s->priority = (uint32_t)prio;
    bool realtime = s->policy == 1 || s->policy == 2;
    if (realtime && prio == 0)
        return box_err_set(err, EINVAL, "%s.priority: %s needs a priority in [1, 99]", p, policy);
    if (!realtime && prio != 0)
        return box_err_set(err, EINVAL, "%s.priority: must be 0 for %s", p, policy);
    TRY(box_json_uint64(sch, "runtime", p, &s->runtime, err));
    TRY(box_json_uint64(sch, "deadline", p, &s->deadline, err));
    TRY(box_json_uint64(sch, "period", p, &s->period, err));
    if (s->policy == 6) {
        /* sched(7): runtime <= deadline <= period (period 0 means deadline). */
        uint64_t period = s->period ? s->period : s->deadline;
        if (s->runtime == 0 || s->runtime > s->deadline || s->deadline > period)
            return box_err_set(err, EINVAL,
                               "%s: SCHED_DEADLINE needs 0 < runtime <= deadline <= period", p);
    } else if (s->runtime || s->deadline || s->period) {
        return box_err_set(err, EINVAL, "%s: runtime, deadline and period are for SCHED_DEADLINE",
                           p);
    }
    json_t *flags = NULL;
    TRY(box_json_array(sch, "flags", p, 16, &flags, err));
    size_t i;
    json_t *f;
    json_array_foreach(flags, i, f)
    {
        if (!json_is_string(f) || lookup(sched_flags, N(sched_flags), json_string_value(f), &v) < 0)
            return box_err_set(err, EINVAL, "%s.flags[%zu]: not a scheduler flag", p, i);
        s->flags |= v;
    }
    return 0;
}

static int parse_ioprio(json_t *io, int *out, struct box_err *err)
{
    const char *p = "process.ioPriority";
    _cleanup_free_ char *cls = NULL;
    TRY(box_json_string(io, "class", p, &cls, err));
    uint64_t c = 0;
    if (!cls)
        return box_err_set(err, EINVAL, "%s.class: required", p);
    if (lookup(io_classes, N(io_classes), cls, &c) < 0)
        return box_err_set(err, EINVAL, "%s.class: `%s` is not an I/O priority class", p, cls);
    int64_t level = 0;
    TRY(box_json_int(io, "priority", p, 0, 7, &level, err));
    *out = (int)(c << 13 | (uint64_t)level); /* IOPRIO_PRIO_VALUE */
    return 0;
}

int box_spec_parse_sched(json_t *proc, struct box_process *p, struct box_err *err)
{
    json_t *sch = NULL, *io = NULL;
    TRY(box_json_object(proc, "scheduler", "process", &sch, err));
    if (sch) {
        p->has_sched = true;
        TRY(parse_scheduler(sch, &p->sched, err));
    }
    TRY(box_json_object(proc, "ioPriority", "process", &io, err));
    if (io) {
        p->has_ioprio = true;
        TRY(parse_ioprio(io, &p->ioprio, err));
    }
    return 0;
}
