/*
 * boxbench: time OCI runtimes that share runc's command line.
 *
 * For every runtime given as NAME=PATH it measures, in alternating rounds:
 *   - one `run` of the bundle right after another one: wall time, CPU time
 *     (user+sys of the runtime and every descendant reaped during the run) and
 *     peak RSS (ru_maxrss from wait4);
 *   - one `run` after the machine sat idle for --idle-ms: wall time;
 *   - a sequence of `run`s: total wall time;
 *   - `create`, `start` and `delete` of one container: wall time of each;
 *   - with --seccomp-bundle B: one `run` of B (the same container under a
 *     default seccomp profile) right after the warm run: wall time;
 *   - with --limits-bundle B: likewise, the container with memory, cpu and
 *     pids limits;
 *   - with --exec-bundle B: one long-running container of B per runtime,
 *     created and started once, then --exec N `exec ID /bin/true`: wall time;
 *   - with --podman PATH: `PATH --runtime RT run --rm IMAGE /bin/true`,
 *     --podman-rounds times: wall time.
 * With --bare ROOTFS it adds a "bare" column: fork, unshare the namespaces of
 * `runc spec` (mount, pid, network, ipc, uts), fork, chroot, exec /bin/true.
 * That is what the kernel charges for a container without any runtime: the floor.
 *
 * Each figure is the median over the rounds; the first runtime is divided by
 * each other one. Timings are printed, never asserted: the exit status is 0
 * unless a runtime failed to run the container or one of the optional rows,
 * which is reported with the runtime's stderr; a failed optional row stops
 * only that row.
 *
 * The program makes itself a child subreaper so that a container's init,
 * orphaned when `create` returns, is reparented here: after `start` it is
 * reaped here, which is how the harness knows the container has stopped before
 * it times `delete`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* unshare, memfd_create */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#include "boxbench.h"

struct runtime runtimes[MAX_RUNTIMES];
size_t runtime_count;
struct options opt = {
    .rounds = 21,
    .seq = 100,
    .seq_rounds = 5,
    .timeout_s = 30,
    .idle_ms = 50,
    .exec_n = 21,
    .podman_rounds = 5,
};
static int stderr_fd = -1; /* memfd that collects the stderr of the last command */
static int devnull_fd = -1;
static unsigned long id_counter;
static volatile sig_atomic_t alarm_fired;
static char last_command[1024]; /* for the failure report */

static void on_alarm(int sig)
{
    (void)sig;
    alarm_fired = 1;
}

void fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("boxbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double tv_ms(struct timeval tv)
{
    return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

static double children_cpu_ms(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_CHILDREN, &ru) < 0)
        fatal("getrusage: %s", strerror(errno));
    return tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
}

static unsigned parse_uint(const char *what, const char *s, unsigned max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < 1 || v > max)
        fatal("%s: `%s` is not a number in 1..%u", what, s, max);
    return (unsigned)v;
}

/* Reap orphans that were reparented here and have already exited. */
static void reap_exited(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

/*
 * Wait for every remaining child (orphaned container inits) to exit, at most
 * timeout_s seconds. Returns false on timeout.
 */
static bool reap_all(void)
{
    bool ok = true;

    alarm_fired = 0;
    alarm(opt.timeout_s);
    for (;;) {
        if (waitpid(-1, NULL, 0) > 0)
            continue;
        if (errno == ECHILD)
            break;
        if (errno == EINTR && alarm_fired) {
            ok = false;
            break;
        }
    }
    alarm(0);
    return ok;
}

/*
 * Wait for pid with the per-command timeout; on timeout kill it. Fills the
 * wall time (ending now), status and ru_maxrss.
 */
static void wait_child(pid_t pid, double t0, struct outcome *out)
{
    struct rusage ru;
    pid_t r;

    alarm_fired = 0;
    alarm(opt.timeout_s);
    for (;;) {
        r = wait4(pid, &out->status, 0, &ru);
        if (r == pid)
            break;
        if (r < 0 && errno == EINTR && alarm_fired && !out->timed_out) {
            out->timed_out = true;
            kill(pid, SIGKILL);
            continue;
        }
        if (r < 0 && errno != EINTR)
            fatal("wait4: %s", strerror(errno));
    }
    out->wall_ms = now_ms() - t0;
    alarm(0);
    out->maxrss_mib = (double)ru.ru_maxrss / 1024.0;
}

static void reset_stderr(void)
{
    if (ftruncate(stderr_fd, 0) < 0 || lseek(stderr_fd, 0, SEEK_SET) < 0)
        fatal("reset stderr buffer: %s", strerror(errno));
}

/*
 * Run argv to completion; stdout goes to /dev/null, stderr to the memfd.
 * fork, not posix_spawn: a vfork child execs from the harness's own address
 * space, whose high-water mark the kernel would then report as the runtime's
 * peak RSS. A forked child starts from only the pages it copied.
 */
static void spawn_command(char *const argv[], struct outcome *out)
{
    double cpu0, t0;
    pid_t pid;

    memset(out, 0, sizeof(*out));
    reset_stderr();
    last_command[0] = '\0';
    for (size_t i = 0, len = 0; argv[i] != NULL && len < sizeof(last_command); i++)
        len += (size_t)snprintf(last_command + len, sizeof(last_command) - len, "%s%s",
                                i > 0 ? " " : "", argv[i]);

    cpu0 = children_cpu_ms();
    t0 = now_ms();
    pid = fork();
    if (pid < 0)
        fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        if (dup2(devnull_fd, 0) < 0 || dup2(devnull_fd, 1) < 0 || dup2(stderr_fd, 2) < 0)
            _exit(126);
        execve(argv[0], argv, environ);
        dprintf(2, "exec `%s`: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    wait_child(pid, t0, out);
    reap_exited();
    out->cpu_ms = children_cpu_ms() - cpu0;
}

/* The floor: what a container costs with no runtime in between. */
static void spawn_bare(struct outcome *out)
{
    static char *const argv[] = {"/bin/true", NULL};
    double cpu0, t0;
    pid_t pid;

    memset(out, 0, sizeof(*out));
    reset_stderr();
    snprintf(last_command, sizeof(last_command), "(bare) unshare, chroot %s, exec %s",
             opt.bare_rootfs, argv[0]);
    cpu0 = children_cpu_ms();
    t0 = now_ms();
    pid = fork();
    if (pid < 0)
        fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        pid_t init;
        int st;

        if (unshare(BARE_NAMESPACES) < 0) {
            dprintf(stderr_fd, "unshare: %s\n", strerror(errno));
            _exit(120);
        }
        init = fork();
        if (init < 0)
            _exit(121);
        if (init == 0) {
            if (chroot(opt.bare_rootfs) < 0 || chdir("/") < 0) {
                dprintf(stderr_fd, "chroot `%s`: %s\n", opt.bare_rootfs, strerror(errno));
                _exit(122);
            }
            execve(argv[0], argv, environ);
            dprintf(stderr_fd, "exec %s: %s\n", argv[0], strerror(errno));
            _exit(123);
        }
        if (waitpid(init, &st, 0) < 0)
            _exit(124);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 125);
    }
    wait_child(pid, t0, out);
    reap_exited();
    out->cpu_ms = children_cpu_ms() - cpu0;
}

static bool outcome_ok(const struct outcome *out)
{
    return !out->timed_out && WIFEXITED(out->status) && WEXITSTATUS(out->status) == 0;
}

static void print_stderr_tail(void)
{
    char buf[STDERR_KEEP + 1];
    off_t size = lseek(stderr_fd, 0, SEEK_END);
    off_t from = size > STDERR_KEEP ? size - STDERR_KEEP : 0;
    ssize_t n = pread(stderr_fd, buf, STDERR_KEEP, from);

    if (n <= 0) {
        fputs("  (no stderr)\n", stderr);
        return;
    }
    buf[n] = '\0';
    fprintf(stderr, "  stderr: %s%s", buf, buf[n - 1] == '\n' ? "" : "\n");
}

static void describe_failure(struct runtime *rt, const char *step, const char *id,
                             const struct outcome *out)
{
    fprintf(stderr, "boxbench: %s: %s of container `%s` failed: ", rt->name, step, id);
    if (out->timed_out)
        fprintf(stderr, "no exit within %u s, killed\n", opt.timeout_s);
    else if (WIFSIGNALED(out->status))
        fprintf(stderr, "killed by signal %d\n", WTERMSIG(out->status));
    else
        fprintf(stderr, "exit status %d\n", WEXITSTATUS(out->status));
    fprintf(stderr, "  command: %s\n", last_command);
    print_stderr_tail();
}

/* argv for `PATH --root ROOT VERB [--bundle B] [FLAG] ID`. */
static void build_argv(const struct runtime *rt, const char *verb, const char *bundle,
                       const char *flag, const char *id, char *argv[10])
{
    size_t i = 0;

    argv[i++] = (char *)rt->path;
    argv[i++] = "--root";
    argv[i++] = (char *)rt->root;
    argv[i++] = (char *)verb;
    if (strcmp(verb, "run") == 0 || strcmp(verb, "create") == 0) {
        argv[i++] = "--bundle";
        argv[i++] = (char *)bundle;
    }
    if (flag != NULL)
        argv[i++] = (char *)flag;
    argv[i++] = (char *)id;
    argv[i] = NULL;
}

static void bundle_command(struct runtime *rt, const char *verb, const char *bundle,
                           const char *flag, const char *id, struct outcome *out)
{
    char *argv[10];

    build_argv(rt, verb, bundle, flag, id, argv);
    spawn_command(argv, out);
}

static void runtime_command(struct runtime *rt, const char *verb, const char *flag, const char *id,
                            struct outcome *out)
{
    bundle_command(rt, verb, opt.bundle, flag, id, out);
}

/* Best effort: leave nothing behind after a failed step. */
static void force_delete(struct runtime *rt, const char *id)
{
    struct outcome out;

    runtime_command(rt, "delete", "-f", id, &out);
    reap_all();
}

static void fail(struct runtime *rt, const char *step, const char *id, const struct outcome *out)
{
    describe_failure(rt, step, id, out);
    rt->failed = true;
    if (rt->path != NULL)
        force_delete(rt, id);
}

/* An optional row failed: say why and stop measuring that row only. */
static void row_fail(struct runtime *rt, enum metric m, const char *step, const char *id,
                     const struct outcome *out)
{
    describe_failure(rt, step, id, out);
    fprintf(stderr, "boxbench: %s: no more `%s` samples\n", rt->name, metrics[m].label);
    rt->row_failed[m] = true;
}

bool row_enabled(enum metric m)
{
    switch (m) {
    case M_SECCOMP_WALL:
        return opt.seccomp_bundle != NULL;
    case M_LIMITS_WALL:
        return opt.limits_bundle != NULL;
    case M_EXEC_WALL:
        return opt.exec_bundle != NULL;
    case M_PODMAN_WALL:
        return opt.podman != NULL;
    default:
        return true;
    }
}

static bool row_live(const struct runtime *rt, enum metric m)
{
    return rt->path != NULL && !rt->failed && !rt->row_failed[m] && row_enabled(m);
}

static void record(struct runtime *rt, enum metric m, double v)
{
    rt->samples[m][rt->count[m]++] = v;
}

static void next_id(char *buf, size_t size)
{
    snprintf(buf, size, "boxbench-%ld-%lu", (long)getpid(), ++id_counter);
}

/* One container through `run`. Returns false when it failed. */
static bool one_run(struct runtime *rt, struct outcome *out)
{
    char id[64];

    next_id(id, sizeof(id));
    if (rt->path == NULL)
        spawn_bare(out);
    else
        runtime_command(rt, "run", NULL, id, out);
    if (!outcome_ok(out)) {
        fail(rt, rt->path == NULL ? "bare run" : "run", id, out);
        return false;
    }
    return true;
}

/*
 * Two runs: the first after the machine sat idle, the second right after it.
 * They differ by more than noise: on cgroup v1 the first write to a
 * cgroup.procs file after a quiet spell waits for an RCU grace period
 * (cgroup_threadgroup_rwsem), 10-20 ms here, while the next writer finds the
 * lock still in its fast mode. The warm run measures the runtime's own work;
 * the idle one what a lone container start costs on a quiet host.
 */
static void measure_run(struct runtime *rt, bool keep)
{
    struct timespec idle = {
        .tv_sec = opt.idle_ms / 1000,
        .tv_nsec = (long)(opt.idle_ms % 1000) * 1000000L,
    };
    struct outcome cold, warm;

    while (nanosleep(&idle, &idle) < 0 && errno == EINTR)
        ;
    if (!one_run(rt, &cold) || !one_run(rt, &warm) || !keep)
        return;
    record(rt, M_IDLE_WALL, cold.wall_ms);
    record(rt, M_RUN_WALL, warm.wall_ms);
    record(rt, M_RUN_CPU, warm.cpu_ms);
    record(rt, M_RUN_RSS, warm.maxrss_mib);
}

static void measure_sequence(struct runtime *rt)
{
    struct outcome out;
    double t0 = now_ms();

    for (unsigned i = 0; i < opt.seq; i++)
        if (!one_run(rt, &out))
            return;
    record(rt, M_SEQ_WALL, now_ms() - t0);
}

static void measure_lifecycle(struct runtime *rt, bool keep)
{
    struct outcome create, start, del;
    char id[64];

    if (rt->path == NULL)
        return;
    next_id(id, sizeof(id));
    runtime_command(rt, "create", NULL, id, &create);
    if (!outcome_ok(&create)) {
        fail(rt, "create", id, &create);
        return;
    }
    runtime_command(rt, "start", NULL, id, &start);
    if (!outcome_ok(&start)) {
        fail(rt, "start", id, &start);
        return;
    }
    /* The container's init was reparented here: its exit means "stopped". */
    if (!reap_all()) {
        start.timed_out = true;
        fail(rt, "wait for the exit after start", id, &start);
        return;
    }
    runtime_command(rt, "delete", NULL, id, &del);
    if (!outcome_ok(&del)) {
        fail(rt, "delete", id, &del);
        return;
    }
    if (keep) {
        record(rt, M_CREATE, create.wall_ms);
        record(rt, M_START, start.wall_ms);
        record(rt, M_DELETE, del.wall_ms);
    }
}

/*
 * `run` of a variant of the bundle (a seccomp profile, resource limits), right
 * after the warm run: like that one it finds the cgroup lock warm, so the
 * difference between the two rows is what the variant adds.
 */
static void measure_variant(struct runtime *rt, enum metric m, const char *bundle, bool keep)
{
    struct outcome out;
    char id[64];

    if (!row_live(rt, m))
        return;
    next_id(id, sizeof(id));
    bundle_command(rt, "run", bundle, NULL, id, &out);
    if (!outcome_ok(&out)) {
        row_fail(rt, m, metrics[m].label, id, &out);
        force_delete(rt, id);
        return;
    }
    if (keep)
        record(rt, m, out.wall_ms);
}

static void measure_variants(struct runtime *rt, bool keep)
{
    measure_variant(rt, M_SECCOMP_WALL, opt.seccomp_bundle, keep);
    measure_variant(rt, M_LIMITS_WALL, opt.limits_bundle, keep);
}

/*
 * One long-running container per runtime, then opt.exec_n rounds of
 * `exec ID /bin/true` alternating over the runtimes. The containers' inits
 * live on while the others are measured, so nothing here waits for every
 * child (reap_all) until they are all deleted at the end.
 */
static void measure_exec(void)
{
    char ids[MAX_RUNTIMES][64];
    bool up[MAX_RUNTIMES] = {false};
    struct outcome out;

    fprintf(stderr, "boxbench: %u rounds of exec\n", opt.exec_n);
    for (size_t i = 0; i < runtime_count; i++) {
        struct runtime *rt = &runtimes[i];

        if (!row_live(rt, M_EXEC_WALL))
            continue;
        next_id(ids[i], sizeof(ids[i]));
        up[i] = true; /* from here on it is deleted at the end, whatever happens */
        bundle_command(rt, "create", opt.exec_bundle, NULL, ids[i], &out);
        if (!outcome_ok(&out)) {
            row_fail(rt, M_EXEC_WALL, "create for exec", ids[i], &out);
            continue;
        }
        runtime_command(rt, "start", NULL, ids[i], &out);
        if (!outcome_ok(&out))
            row_fail(rt, M_EXEC_WALL, "start for exec", ids[i], &out);
    }
    /* Round -1 is the warm-up, not recorded. */
    for (int r = -1; r < (int)opt.exec_n; r++)
        for (size_t k = 0; k < runtime_count; k++) {
            size_t i = ((size_t)(r + 1) + k) % runtime_count;
            struct runtime *rt = &runtimes[i];
            char *argv[] = {(char *)rt->path, "--root",    rt->root, "exec",
                            ids[i],           "/bin/true", NULL};

            if (!up[i] || !row_live(rt, M_EXEC_WALL))
                continue;
            spawn_command(argv, &out);
            if (!outcome_ok(&out))
                row_fail(rt, M_EXEC_WALL, "exec", ids[i], &out);
            else if (r >= 0)
                record(rt, M_EXEC_WALL, out.wall_ms);
        }
    for (size_t i = 0; i < runtime_count; i++) {
        if (!up[i])
            continue;
        runtime_command(&runtimes[i], "delete", "-f", ids[i], &out);
        if (!outcome_ok(&out))
            describe_failure(&runtimes[i], "delete -f", ids[i], &out);
    }
    if (!reap_all())
        fprintf(stderr, "boxbench: exec containers still running %u s after delete -f\n",
                opt.timeout_s);
}

/*
 * `podman --runtime RT run --rm IMAGE /bin/true`. podman's monitor (conmon)
 * and the cleanup process it starts outlive `podman run` a little and are
 * reparented here: they are waited for, untimed, after each run, so that they
 * do not land on the next sample.
 */
static void measure_podman(void)
{
    struct outcome out;

    fprintf(stderr, "boxbench: %u rounds of podman run --rm\n", opt.podman_rounds);
    /* Round -1 is the warm-up, not recorded. */
    for (int r = -1; r < (int)opt.podman_rounds; r++)
        for (size_t k = 0; k < runtime_count; k++) {
            struct runtime *rt = &runtimes[((size_t)(r + 1) + k) % runtime_count];
            char *argv[] = {(char *)opt.podman,
                            "--runtime",
                            (char *)rt->path,
                            "run",
                            "--rm",
                            (char *)opt.podman_image,
                            "/bin/true",
                            NULL};

            if (!row_live(rt, M_PODMAN_WALL))
                continue;
            spawn_command(argv, &out);
            if (!reap_all())
                fprintf(stderr, "boxbench: %s: podman's processes still running %u s after run\n",
                        rt->name, opt.timeout_s);
            if (!outcome_ok(&out))
                row_fail(rt, M_PODMAN_WALL, "podman run --rm", opt.podman_image, &out);
            else if (r >= 0)
                record(rt, M_PODMAN_WALL, out.wall_ms);
        }
}

static struct runtime *add_runtime(const char *name)
{
    struct runtime *rt;

    if (runtime_count == MAX_RUNTIMES)
        fatal("at most %d runtimes", MAX_RUNTIMES);
    if (strlen(name) == 0 || strlen(name) >= sizeof(rt->name))
        fatal("runtime name `%s`: 1 to %zu characters", name, sizeof(rt->name) - 1);
    rt = &runtimes[runtime_count++];
    snprintf(rt->name, sizeof(rt->name), "%s", name);
    for (enum metric m = 0; m < M_COUNT; m++) {
        unsigned n = opt.rounds;

        n = n > opt.seq_rounds ? n : opt.seq_rounds;
        n = n > opt.exec_n ? n : opt.exec_n;
        n = n > opt.podman_rounds ? n : opt.podman_rounds;
        rt->samples[m] = calloc(n, sizeof(double));
        if (rt->samples[m] == NULL)
            fatal("out of memory");
    }
    return rt;
}

static void usage(void)
{
    fputs("usage: boxbench --bundle DIR --state DIR [--bare ROOTFS] [--rounds N] [--seq N]\n"
          "                [--seq-rounds N] [--idle-ms MS] [--timeout S] [--csv FILE]\n"
          "                [--seccomp-bundle DIR] [--limits-bundle DIR] [--exec-bundle DIR] "
          "[--exec N]\n"
          "                [--podman PATH --podman-image IMAGE] [--podman-rounds N] NAME=PATH...\n"
          "Times `PATH --root STATE/NAME run|create|start|delete|exec` for each runtime.\n",
          stderr);
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];

        if (v == NULL)
            usage();
        if (strcmp(o, "--bundle") == 0)
            opt.bundle = v;
        else if (strcmp(o, "--state") == 0)
            opt.state = v;
        else if (strcmp(o, "--bare") == 0)
            opt.bare_rootfs = v;
        else if (strcmp(o, "--csv") == 0)
            opt.csv = v;
        else if (strcmp(o, "--seccomp-bundle") == 0)
            opt.seccomp_bundle = v;
        else if (strcmp(o, "--limits-bundle") == 0)
            opt.limits_bundle = v;
        else if (strcmp(o, "--exec-bundle") == 0)
            opt.exec_bundle = v;
        else if (strcmp(o, "--podman") == 0)
            opt.podman = v;
        else if (strcmp(o, "--podman-image") == 0)
            opt.podman_image = v;
        else if (strcmp(o, "--exec") == 0)
            opt.exec_n = parse_uint(o, v, MAX_ROUNDS);
        else if (strcmp(o, "--podman-rounds") == 0)
            opt.podman_rounds = parse_uint(o, v, MAX_ROUNDS);
        else if (strcmp(o, "--rounds") == 0)
            opt.rounds = parse_uint(o, v, MAX_ROUNDS);
        else if (strcmp(o, "--seq") == 0)
            opt.seq = parse_uint(o, v, MAX_SEQ);
        else if (strcmp(o, "--seq-rounds") == 0)
            opt.seq_rounds = parse_uint(o, v, MAX_ROUNDS);
        else if (strcmp(o, "--timeout") == 0)
            opt.timeout_s = parse_uint(o, v, 3600);
        else if (strcmp(o, "--idle-ms") == 0)
            opt.idle_ms = parse_uint(o, v, 10000);
        else
            usage();
    }
    if (opt.bundle == NULL || opt.state == NULL || i == argc ||
        (opt.podman != NULL) != (opt.podman_image != NULL))
        usage();

    if (opt.bare_rootfs != NULL)
        add_runtime("bare");
    for (; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        struct runtime *rt;

        if (eq == NULL || eq[1] != '/')
            fatal("`%s`: expected NAME=/absolute/path", argv[i]);
        *eq = '\0';
        rt = add_runtime(argv[i]);
        rt->path = eq + 1;
        if ((size_t)snprintf(rt->root, sizeof(rt->root), "%s/%s", opt.state, rt->name) >=
            sizeof(rt->root))
            fatal("state path too long");
    }
}

static void setup(void)
{
    struct sigaction sa = {.sa_handler = on_alarm};

    /* No SA_RESTART: the alarm must interrupt wait4. */
    if (sigaction(SIGALRM, &sa, NULL) < 0)
        fatal("sigaction: %s", strerror(errno));
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        fatal("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    stderr_fd = memfd_create("boxbench-stderr", MFD_CLOEXEC);
    devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (stderr_fd < 0 || devnull_fd < 0)
        fatal("open buffers: %s", strerror(errno));
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static size_t live_runtimes(void)
{
    size_t n = 0;

    for (size_t i = 0; i < runtime_count; i++)
        n += !runtimes[i].failed;
    return n;
}

int main(int argc, char **argv)
{
    bool any_failed = false;

    parse_args(argc, argv);
    setup();

    /* Warm-up round, not recorded: page cache, and a check that each one works. */
    for (size_t i = 0; i < runtime_count; i++) {
        fprintf(stderr, "boxbench: warm-up: %s\n", runtimes[i].name);
        measure_run(&runtimes[i], false);
        measure_variants(&runtimes[i], false);
        if (!runtimes[i].failed)
            measure_lifecycle(&runtimes[i], false);
    }

    /*
     * Alternate the runtimes inside each round, and rotate which one goes first,
     * so that neither machine noise nor the kernel's deferred cleanup after the
     * previous container (network namespaces are torn down asynchronously)
     * lands on one runtime only.
     */
    fprintf(stderr, "boxbench: %u rounds of run + create/start/delete\n", opt.rounds);
    for (unsigned r = 0; r < opt.rounds && live_runtimes() > 0; r++)
        for (size_t k = 0; k < runtime_count; k++) {
            struct runtime *rt = &runtimes[(r + k) % runtime_count];

            if (!rt->failed)
                measure_run(rt, true);
            measure_variants(rt, true);
            if (!rt->failed)
                measure_lifecycle(rt, true);
        }
    fprintf(stderr, "boxbench: %u rounds of %u runs in sequence\n", opt.seq_rounds, opt.seq);
    for (unsigned r = 0; r < opt.seq_rounds && live_runtimes() > 0; r++)
        for (size_t k = 0; k < runtime_count; k++) {
            struct runtime *rt = &runtimes[(r + k) % runtime_count];

            if (!rt->failed)
                measure_sequence(rt);
        }

    if (opt.exec_bundle != NULL)
        measure_exec();
    if (opt.podman != NULL)
        measure_podman();

    print_table(false);
    putchar('\n');
    print_table(true);
    if (opt.csv != NULL)
        write_csv();
    for (size_t i = 0; i < runtime_count; i++)
        for (enum metric m = 0; m < M_COUNT; m++)
            if (m == 0 ? runtimes[i].failed : runtimes[i].row_failed[m]) {
                fprintf(stderr, "boxbench: %s failed %s (see above)\n", runtimes[i].name,
                        m == 0 ? "to run the container" : metrics[m].label);
                any_failed = true;
            }
    return any_failed ? 1 : 0;
}
