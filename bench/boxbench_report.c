/* boxbench's output: medians, ratios against the first runtime, spreads,
 * and the raw samples as CSV. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boxbench.h"

const struct metric_info metrics[M_COUNT] = {
    [M_RUN_WALL] = {"run: wall", "ms", 2, false},
    [M_RUN_CPU] = {"run: cpu user+sys", "ms", 2, false},
    [M_RUN_RSS] = {"run: peak rss", "MiB", 1, false},
    [M_IDLE_WALL] = {"run after idle: wall", "ms", 2, false},
    [M_SEQ_WALL] = {"runs in sequence: wall", "ms", 0, false},
    [M_CREATE] = {"create: wall", "ms", 2, true},
    [M_START] = {"start: wall", "ms", 2, true},
    [M_DELETE] = {"delete: wall", "ms", 2, true},
    [M_SECCOMP_WALL] = {"run with default seccomp: wall", "ms", 2, true},
    [M_LIMITS_WALL] = {"run with limits: wall", "ms", 2, true},
    [M_EXEC_WALL] = {"exec: wall", "ms", 2, true},
    [M_PODMAN_WALL] = {"podman run --rm: wall", "ms", 1, true},
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Quantile q of the samples by linear interpolation; -1 when there are none. */
static double quantile(const struct runtime *rt, enum metric m, double q)
{
    size_t n = rt->count[m];
    double *v, pos, r;
    size_t lo;

    if (n == 0)
        return -1;
    v = malloc(n * sizeof(*v));
    if (v == NULL)
        fatal("out of memory");
    memcpy(v, rt->samples[m], n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_double);
    pos = q * (double)(n - 1);
    lo = (size_t)pos;
    r = lo + 1 < n ? v[lo] + (pos - (double)lo) * (v[lo + 1] - v[lo]) : v[lo];
    free(v);
    return r;
}

static const char *metric_label(enum metric m, char *buf, size_t size)
{
    if (m == M_SEQ_WALL)
        snprintf(buf, size, "%u %s (%s)", opt.seq, metrics[m].label, metrics[m].unit);
    else if (m == M_IDLE_WALL)
        snprintf(buf, size, "run after %u ms idle: wall (%s)", opt.idle_ms, metrics[m].unit);
    else
        snprintf(buf, size, "%s (%s)", metrics[m].label, metrics[m].unit);
    return buf;
}

static void cell(char *buf, size_t size, const struct runtime *rt, enum metric m, bool spread)
{
    double med = quantile(rt, m, 0.5);

    if (rt->path == NULL && metrics[m].runtime_only)
        snprintf(buf, size, "-");
    else if ((rt->failed || rt->row_failed[m]) && rt->count[m] == 0)
        snprintf(buf, size, "FAILED");
    else if (med < 0)
        snprintf(buf, size, "-");
    else if (spread)
        snprintf(buf, size, "%.*f-%.*f", metrics[m].decimals, quantile(rt, m, 0.25),
                 metrics[m].decimals, quantile(rt, m, 0.75));
    else
        snprintf(buf, size, "%.*f", metrics[m].decimals, med);
}

/* The first real runtime is the one compared with every other one. */
static const struct runtime *ratio_base(void)
{
    for (size_t i = 0; i < runtime_count; i++)
        if (runtimes[i].path != NULL)
            return &runtimes[i];
    return NULL;
}

void print_table(bool spread)
{
    const struct runtime *base = ratio_base();
    char buf[64];

    printf("| %-35s |", spread ? "p25-p75" : "metric (median)");
    for (size_t i = 0; i < runtime_count; i++)
        printf(" %11s |", runtimes[i].name);
    if (!spread)
        for (size_t i = 0; i < runtime_count; i++)
            if (runtimes[i].path != NULL && &runtimes[i] != base) {
                snprintf(buf, sizeof(buf), "%.31s/%.31s", base->name, runtimes[i].name);
                printf(" %11s |", buf);
            }
    printf("\n|%s|", "-------------------------------------");
    for (size_t i = 0; i < runtime_count; i++)
        printf("%s|", "------------:");
    if (!spread)
        for (size_t i = 0; i < runtime_count; i++)
            if (runtimes[i].path != NULL && &runtimes[i] != base)
                printf("%s|", "------------:");
    putchar('\n');

    for (enum metric m = 0; m < M_COUNT; m++) {
        if (!row_enabled(m))
            continue;
        printf("| %-35s |", metric_label(m, buf, sizeof(buf)));
        for (size_t i = 0; i < runtime_count; i++) {
            cell(buf, sizeof(buf), &runtimes[i], m, spread);
            printf(" %11s |", buf);
        }
        if (spread) {
            putchar('\n');
            continue;
        }
        for (size_t i = 0; i < runtime_count; i++) {
            const struct runtime *rt = &runtimes[i];
            double num, den;

            if (rt->path == NULL || rt == base)
                continue;
            num = quantile(base, m, 0.5);
            den = quantile(rt, m, 0.5);
            if (num < 0 || den <= 0)
                printf(" %11s |", "-");
            else
                printf(" %11.2f |", num / den);
        }
        putchar('\n');
    }
}

void write_csv(void)
{
    FILE *f = fopen(opt.csv, "we");

    if (f == NULL)
        fatal("open `%s`: %s", opt.csv, strerror(errno));
    fprintf(f, "runtime,metric,unit,round,value\n");
    for (size_t i = 0; i < runtime_count; i++)
        for (enum metric m = 0; m < M_COUNT; m++)
            for (size_t k = 0; k < runtimes[i].count[m]; k++)
                fprintf(f, "%s,%s,%s,%zu,%.4f\n", runtimes[i].name, metrics[m].label,
                        metrics[m].unit, k, runtimes[i].samples[m][k]);
    if (fclose(f) != 0)
        fatal("write `%s`: %s", opt.csv, strerror(errno));
}
