/* boxbench: what its two files share (boxbench.c measures, boxbench_report.c
 * prints the table and the CSV). */
#ifndef BOXBENCH_H
#define BOXBENCH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define MAX_RUNTIMES    8
#define MAX_ROUNDS      10000
#define MAX_SEQ         100000
#define STDERR_KEEP     4096
#define BARE_NAMESPACES (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)

enum metric {
    M_RUN_WALL,
    M_RUN_CPU,
    M_RUN_RSS,
    M_IDLE_WALL,
    M_SEQ_WALL,
    M_CREATE,
    M_START,
    M_DELETE,
    M_SECCOMP_WALL,
    M_LIMITS_WALL,
    M_EXEC_WALL,
    M_PODMAN_WALL,
    M_COUNT
};

struct metric_info {
    const char *label;
    const char *unit;
    int decimals;
    bool runtime_only; /* has no meaning for the bare baseline */
};

extern const struct metric_info metrics[M_COUNT];

struct runtime {
    char name[32];
    const char *path; /* NULL for the bare baseline */
    char root[PATH_MAX];
    bool failed;              /* `run` failed: the runtime is not measured further */
    bool row_failed[M_COUNT]; /* one of the optional rows failed: that row stops */
    double *samples[M_COUNT];
    size_t count[M_COUNT];
};

struct options {
    const char *bundle;
    const char *state;
    const char *bare_rootfs;
    const char *csv;
    const char *seccomp_bundle;
    const char *limits_bundle;
    const char *exec_bundle;
    const char *podman;
    const char *podman_image;
    unsigned rounds;
    unsigned seq;
    unsigned seq_rounds;
    unsigned timeout_s;
    unsigned idle_ms;
    unsigned exec_n;
    unsigned podman_rounds;
};

/* One finished child: what the harness records about it. */
struct outcome {
    double wall_ms;
    double cpu_ms;
    double maxrss_mib;
    int status;
    bool timed_out;
};

extern struct runtime runtimes[MAX_RUNTIMES];
extern size_t runtime_count;
extern struct options opt;

__attribute__((noreturn, format(printf, 1, 2))) void fatal(const char *fmt, ...);
bool row_enabled(enum metric m);

/* The Markdown table of medians and ratios (spread: the p25-p75 table). */
void print_table(bool spread);
/* Every sample, to opt.csv. */
void write_csv(void);

#endif
