#include "lib/runtime/process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/parse.h"

int box_process_rlimits(const struct box_process *p, struct box_err *err)
{
    for (size_t i = 0; i < p->n_rlimits; i++) {
        struct rlimit rl = {p->rlimits[i].soft, p->rlimits[i].hard};
        if (setrlimit((__rlimit_resource_t)p->rlimits[i].resource, &rl) < 0)
            return box_err_sys(err, errno, "process.rlimits[%zu]: set soft %llu hard %llu", i,
                               (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    }
    return 0;
}

int box_cap_last_cap(void)
{
    char *s = NULL;
    uint64_t v;
    int last = BOX_CAP_LAST;
    if (box_read_file(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &s, NULL, NULL) == 0) {
        s[strcspn(s, "\n")] = '\0';
        if (box_parse_u64(s, 63, &v) == 0)
            last = (int)v;
    }
    free(s);
    return last;
}

static int capset_all(uint64_t eff, uint64_t prm, uint64_t inh)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {
        {(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
        {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
    };
    return (int)syscall(SYS_capset, &h, d);
}

int box_process_credentials(const struct box_process *p, int last_cap, bool set_groups,
                            struct box_err *err)
{
    uint64_t all = last_cap >= 63 ? UINT64_MAX : ((1ULL << (last_cap + 1)) - 1);
    if (p->has_caps) {
        for (int c = 0; c <= last_cap; c++)
            if (!(p->caps.bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
                errno != EINVAL)
                return box_err_sys(err, errno, "drop %s from the bounding set", box_cap_name(c));
    }
    if (set_groups && setgroups(p->n_additional_gids, p->additional_gids) < 0)
        return box_err_sys(err, errno, "process.user.additionalGids: setgroups");
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return box_err_sys(err, errno, "keep capabilities");
    if (setresgid(p->gid, p->gid, p->gid) < 0)
        return box_err_sys(err, errno, "process.user.gid: setgid %u", (unsigned)p->gid);
    if (setresuid(p->uid, p->uid, p->uid) < 0)
        return box_err_sys(err, errno, "process.user.uid: setuid %u", (unsigned)p->uid);
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    /* Without a capabilities object the process keeps what its uid gives it
     * (runc's behaviour), but never inheritable or ambient capabilities. */
    uint64_t eff = p->has_caps ? p->caps.effective : (p->uid == 0 ? all : 0);
    uint64_t prm = p->has_caps ? p->caps.permitted : (p->uid == 0 ? all : 0);
    uint64_t inh = p->has_caps ? p->caps.inheritable : 0;
    if (capset_all(eff & all, prm & all, inh & all) < 0)
        return box_err_sys(err, errno, "process.capabilities: capset");
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (p->has_caps) {
        /* The kernel raises an ambient capability only when it is both
         * permitted and inheritable. Like runc, an ambient entry without
         * them is skipped: `runc spec` writes such configs. */
        uint64_t raisable = p->caps.ambient & p->caps.permitted & p->caps.inheritable;
        for (int c = 0; c <= last_cap; c++)
            if ((raisable & (1ULL << c)) &&
                prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
                return box_err_sys(err, errno, "process.capabilities.ambient: raise %s",
                                   box_cap_name(c));
    }
    return 0;
}

static int check_exec(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (!S_ISREG(st.st_mode))
        return -EACCES;
    if (access(path, X_OK) < 0)
        return -errno;
    return 0;
}

int box_process_find_program(const struct box_process *p, char *out, size_t len,
                             struct box_err *err)
{
    const char *prog = p->args[0];
    if (strchr(prog, '/')) {
        int r = check_exec(prog);
        if (r < 0)
            return box_err_sys(err, -r, "exec `%s`", prog);
        snprintf(out, len, "%s", prog);
        return 0;
    }
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (size_t i = 0; i < p->n_env; i++)
        if (strncmp(p->env[i], "PATH=", 5) == 0)
            path = p->env[i] + 5;
    int first = -ENOENT;
    for (const char *c = path;;) {
        const char *e = strchrnul(c, ':');
        char cand[PATH_MAX];
        int n = snprintf(cand, sizeof(cand), "%.*s%s%s", (int)(e - c), c, e == c ? "" : "/", prog);
        if (n > 0 && (size_t)n < sizeof(cand)) {
            int r = check_exec(cand);
            if (r == 0) {
                snprintf(out, len, "%s", cand);
                return 0;
            }
            if (r != -ENOENT && r != -ENOTDIR && first == -ENOENT)
                first = r;
        }
        if (!*e)
            break;
        c = e + 1;
    }
    if (first == -ENOENT)
        return box_err_set(err, ENOENT, "exec `%s`: executable file not found in $PATH", prog);
    return box_err_sys(err, -first, "exec `%s`", prog);
}

/* include/uapi/linux/sched/types.h, SCHED_ATTR_SIZE_VER0 */
struct sched_attr_v0 {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

int box_process_sched(const struct box_spec *spec, struct box_err *err)
{
    const struct box_process *p = &spec->process;
    if (p->has_sched) {
        struct sched_attr_v0 a = {.size = sizeof(a),
                                  .sched_policy = p->sched.policy,
                                  .sched_flags = p->sched.flags,
                                  .sched_nice = p->sched.nice,
                                  .sched_priority = p->sched.priority,
                                  .sched_runtime = p->sched.runtime,
                                  .sched_deadline = p->sched.deadline,
                                  .sched_period = p->sched.period};
        if (syscall(SYS_sched_setattr, 0, &a, 0) < 0) {
            int e = errno;
            bool rt = a.sched_policy == 1 || a.sched_policy == 2;
            return box_err_sys(err, e, "process.scheduler: sched_setattr%s",
                               e == EPERM && rt ? " (where the kernel schedules real-time "
                                                  "tasks by cgroup, set "
                                                  "linux.resources.cpu.realtimeRuntime)"
                                                : "");
        }
    }
    if (p->has_ioprio && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, p->ioprio) < 0)
        return box_err_sys(err, errno, "process.ioPriority: ioprio_set");
    if (spec->has_personality && personality(spec->personality) < 0)
        return box_err_sys(err, errno, "linux.personality");
    return 0;
}
