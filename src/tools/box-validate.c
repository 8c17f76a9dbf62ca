/* box-validate: runs GPU validation images in sandboxes and asserts the
 * contract of docs/gpu-validation.md. `box validate ARGS...` hands over to
 * this program as `box-validate validate ARGS...`; it also runs on its own.
 *
 * Exit status: 0 every verdict matches its expectation (skipped GPU
 * workloads included), 1 at least one does not, 2 usage or manifest error,
 * 3 failure of the harness itself. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/err.h"
#include "lib/base/fs.h"
#include "lib/base/parse.h"
#include "lib/oci/layout_read.h"
#include "lib/validate/gpu.h"
#include "lib/validate/manifest.h"
#include "lib/validate/report.h"
#include "lib/validate/runner.h"

enum {
    EXIT_MISMATCH = 1,
    EXIT_USAGE = 2,
    EXIT_ERROR = 3
};

static const char usage_text[] =
    "usage: box validate --manifest FILE [options]\n"
    "       box validate --image REF --expect pass|fail [--gpu] [--name N] [options]\n"
    "                    [-- COMMAND...]\n"
    "\n"
    "Runs GPU validation workloads in sandboxes and checks the contract: pass needs\n"
    "`OPENSHELL_GPU_WORKLOAD_SUCCESS <name>` as a line on stdout and exit 0; fail\n"
    "needs a non-zero exit and `OPENSHELL_GPU_WORKLOAD_FAILURE <name>`.\n"
    "\n"
    "REF: oci:DIR, oci:DIR:TAG, oci:DIR@sha256:HEX, or HOST[:PORT]/REPO@sha256:HEX\n"
    "(registry images by digest only, copied with skopeo).\n"
    "\n"
    "options:\n"
    "  --json FILE            write a JSON report\n"
    "  --junit FILE           write a JUnit XML report\n"
    "  --runtime NAME         box (default), crun or runc\n"
    "  --runtime-path PATH    the runtime's executable (default: box beside this\n"
    "                         program, crun and runc from PATH)\n"
    "  --timeout S            seconds per run before the container is killed (default 300)\n"
    "  --pull-timeout S       seconds per registry copy (default 600)\n"
    "  --parallel N           runs at a time, 1 to 64 (default 1)\n"
    "  --capture-max BYTES    output kept per stream (default 1048576); more is counted\n"
    "  --insecure-registry    plain HTTP or unverified TLS to the registry (loopback)\n"
    "  --work-dir DIR         where bundles and runtime state go (default: a new\n"
    "                         directory under $TMPDIR, removed at the end)\n"
    "  --cdi-spec-dir DIR     CDI spec directory for GPU workloads, repeatable\n"
    "                         (default: /etc/cdi and /var/run/cdi)\n"
    "  -q, --quiet            no table on stdout\n"
    "  -h, --help             this text\n"
    "\n"
    "Exit status: 0 every verdict matches its expectation (GPU workloads on a host\n"
    "without a GPU are skipped), 1 one does not, 2 usage or manifest error, 3 other failure.\n";

struct args {
    const char *manifest, *image, *name, *json, *junit, *runtime, *runtime_path, *work_dir;
    enum box_expect expect;
    bool gpu, insecure, quiet;
    uint64_t timeout, pull_timeout, parallel, capture_max;
    char **command;
    const char *cdi_dirs[BOX_VALIDATE_CDI_DIRS_MAX];
    size_t n_cdi_dirs;
};

enum {
    OPT_MANIFEST = 0x100,
    OPT_IMAGE,
    OPT_EXPECT,
    OPT_GPU,
    OPT_NAME,
    OPT_JSON,
    OPT_JUNIT,
    OPT_RUNTIME,
    OPT_RUNTIME_PATH,
    OPT_TIMEOUT,
    OPT_PULL_TIMEOUT,
    OPT_PARALLEL,
    OPT_CAPTURE,
    OPT_INSECURE,
    OPT_WORK_DIR,
    OPT_CDI_SPEC_DIR,
};

__attribute__((format(printf, 1, 2))) static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("box validate: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see `box validate --help`)\n", stderr);
    return EXIT_USAGE;
}

static int number(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (box_parse_u64(s, max, out) < 0 || *out < min) {
        fprintf(stderr, "box validate: %s: `%s` is not a number in [%llu, %llu]\n", opt, s,
                (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    return 0;
}

static int option(struct args *a, int c, const char *v)
{
    switch (c) {
    case OPT_MANIFEST:
        a->manifest = v;
        return 0;
    case OPT_IMAGE:
        a->image = v;
        return 0;
    case OPT_NAME:
        a->name = v;
        return 0;
    case OPT_JSON:
        a->json = v;
        return 0;
    case OPT_JUNIT:
        a->junit = v;
        return 0;
    case OPT_RUNTIME:
        a->runtime = v;
        return 0;
    case OPT_RUNTIME_PATH:
        a->runtime_path = v;
        return 0;
    case OPT_WORK_DIR:
        a->work_dir = v;
        return 0;
    case OPT_CDI_SPEC_DIR:
        if (a->n_cdi_dirs == BOX_VALIDATE_CDI_DIRS_MAX)
            return usage("--cdi-spec-dir: at most %d directories", BOX_VALIDATE_CDI_DIRS_MAX), -1;
        if (v[0] != '/')
            return usage("--cdi-spec-dir: `%s` is not an absolute path", v), -1;
        a->cdi_dirs[a->n_cdi_dirs++] = v;
        return 0;
    case OPT_GPU:
        a->gpu = true;
        return 0;
    case OPT_INSECURE:
        a->insecure = true;
        return 0;
    case 'q':
        a->quiet = true;
        return 0;
    case OPT_EXPECT:
        if (strcmp(v, "pass") != 0 && strcmp(v, "fail") != 0)
            return usage("--expect: `%s` must be pass or fail", v), -1;
        a->expect = strcmp(v, "pass") == 0 ? BOX_EXPECT_PASS : BOX_EXPECT_FAIL;
        return 0;
    case OPT_TIMEOUT:
        return number("--timeout", v, 1, 86400, &a->timeout);
    case OPT_PULL_TIMEOUT:
        return number("--pull-timeout", v, 1, 86400, &a->pull_timeout);
    case OPT_PARALLEL:
        return number("--parallel", v, 1, 64, &a->parallel);
    case OPT_CAPTURE:
        return number("--capture-max", v, 1, 256u << 20, &a->capture_max);
    default:
        return -1;
    }
}

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"manifest", required_argument, 0, OPT_MANIFEST},
        {"image", required_argument, 0, OPT_IMAGE},
        {"expect", required_argument, 0, OPT_EXPECT},
        {"gpu", no_argument, 0, OPT_GPU},
        {"name", required_argument, 0, OPT_NAME},
        {"json", required_argument, 0, OPT_JSON},
        {"junit", required_argument, 0, OPT_JUNIT},
        {"runtime", required_argument, 0, OPT_RUNTIME},
        {"runtime-path", required_argument, 0, OPT_RUNTIME_PATH},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"pull-timeout", required_argument, 0, OPT_PULL_TIMEOUT},
        {"parallel", required_argument, 0, OPT_PARALLEL},
        {"capture-max", required_argument, 0, OPT_CAPTURE},
        {"insecure-registry", no_argument, 0, OPT_INSECURE},
        {"work-dir", required_argument, 0, OPT_WORK_DIR},
        {"cdi-spec-dir", required_argument, 0, OPT_CDI_SPEC_DIR},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *a = (struct args){.runtime = "box",
                       .timeout = 300,
                       .pull_timeout = 600,
                       .parallel = 1,
                       .capture_max = 1u << 20};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return 1;
        }
        if (c == '?' || c == ':')
            return usage("unknown option or missing value: `%s`", argv[optind - 1]), -1;
        if (option(a, c, optarg) < 0)
            return -1;
    }
    if (optind < argc) {
        if (!a->image || strcmp(argv[optind - 1], "--") != 0)
            return usage("unexpected argument `%s` (a command follows `--` with --image)",
                         argv[optind]),
                   -1;
        a->command = argv + optind;
    }
    if (!!a->manifest == !!a->image)
        return usage("%sname exactly one of --manifest and --image", ""), -1;
    if (a->image && !a->expect)
        return usage("%s--image needs --expect pass|fail", ""), -1;
    if (a->manifest && (a->expect || a->gpu || a->name || a->command))
        return usage("%s--expect, --gpu, --name and a command go with --image", ""), -1;
    if (strcmp(a->runtime, "box") != 0 && strcmp(a->runtime, "crun") != 0 &&
        strcmp(a->runtime, "runc") != 0)
        return usage("--runtime: `%s` must be box, crun or runc", a->runtime), -1;
    return 0;
}

/* An executable named `name` in $PATH, as an absolute path. */
static bool find_in_path(const char *name, char *out, size_t size)
{
    const char *path = getenv("PATH");
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", path && *path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (d[0] != '/')
            continue;
        snprintf(out, size, "%s/%s", d, name);
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

static int runtime_path(const struct args *a, char *out, size_t size)
{
    if (a->runtime_path) {
        if (!realpath(a->runtime_path, out) || access(out, X_OK) < 0) {
            fprintf(stderr, "box validate: --runtime-path `%s`: %s\n", a->runtime_path,
                    strerror(errno));
            return -1;
        }
        return 0;
    }
    if (strcmp(a->runtime, "box") != 0) {
        if (find_in_path(a->runtime, out, size))
            return 0;
        fprintf(stderr, "box validate: %s is not in PATH (or give --runtime-path)\n", a->runtime);
        return -1;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        return -1;
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(out, size, "%s/box", self);
    if (access(out, X_OK) == 0)
        return 0;
    fprintf(stderr, "box validate: `%s` is missing (build box, or give --runtime-path)\n", out);
    return -1;
}

/* --image: a manifest of one workload. */
static int single(const struct args *a, struct box_wl_list *m, struct box_err *err)
{
    struct box_oci_ref ref;
    if (box_oci_ref_parse(a->image, &ref, err) < 0)
        return -err->code;
    char name[BOX_WL_NAME_MAX + 1];
    if (a->name) {
        snprintf(name, sizeof(name), "%s", a->name);
    } else {
        const char *base = ref.tag[0] ? ref.tag : strrchr(ref.path, '/');
        base = base ? (base == ref.tag ? base : base + 1) : ref.path;
        snprintf(name, sizeof(name), "%s", base);
    }
    if (!box_wl_name_valid(name) || (a->name && strlen(a->name) > BOX_WL_NAME_MAX))
        return box_err_set(err, EINVAL, "--name: `%.128s` must be 1-128 of [A-Za-z0-9._-]", name);
    m->items = calloc(1, sizeof(*m->items));
    if (!m->items || !(m->items[0].image = strdup(a->image)))
        return box_err_set(err, ENOMEM, "workload");
    m->count = 1;
    struct box_wl *w = &m->items[0];
    strcpy(w->name, name);
    w->expect = a->expect;
    w->gpu = a->gpu;
    size_t n = 0;
    while (a->command && a->command[n])
        n++;
    if (n) {
        w->command = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; w->command && i < n; i++)
            w->command[i] = strdup(a->command[i]);
        w->ncommand = n;
    }
    return 0;
}

static void print_table(const struct box_wl_list *m, const struct box_result *res,
                        const char *runtime)
{
    size_t wn = 8;
    for (size_t i = 0; i < m->count; i++)
        wn = strlen(m->items[i].name) > wn ? strlen(m->items[i].name) : wn;
    printf("%-*s  %-6s  %-7s  %-8s  %4s  %8s  %s\n", (int)wn, "WORKLOAD", "EXPECT", "RESULT",
           "VERDICT", "EXIT", "TIME", "DETAIL");
    for (size_t i = 0; i < m->count; i++) {
        const struct box_result *r = &res[i];
        char ex[16] = "-";
        if (r->exit_code >= 0)
            snprintf(ex, sizeof(ex), "%d", r->exit_code);
        double s = (double)(r->ms_fetch + r->ms_unpack + r->ms_bundle + r->ms_run) / 1000.0;
        printf("%-*s  %-6s  %-7s  %-8s  %4s  %7.3fs  %s\n", (int)wn, m->items[i].name,
               box_expect_str(m->items[i].expect), box_outcome_str(r->v.outcome),
               r->v.outcome == BOX_OUT_SKIPPED ? "skipped"
               : r->v.matched                  ? "ok"
                                               : "MISMATCH",
               ex, s, r->v.reason);
    }
    struct box_report rep = {.runtime = runtime, .ws = m->items, .res = res, .n = m->count};
    struct box_report_counts c;
    box_report_count(&rep, &c);
    printf("%zu workloads with %s: %zu as expected, %zu not, %zu skipped\n", c.total, runtime,
           c.matched, c.mismatched, c.skipped);
}

static int make_work_dir(const struct args *a, char *out, size_t size)
{
    if (a->work_dir) {
        snprintf(out, size, "%s/box-validate.XXXXXX", a->work_dir);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(out, size, "%s/box-validate.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    }
    if (!mkdtemp(out)) {
        fprintf(stderr, "box validate: work directory `%s`: %s\n", out, strerror(errno));
        return -1;
    }
    return 0;
}

static int reports(const struct args *a, const struct box_wl_list *m, const struct box_result *res)
{
    struct box_report rep = {.runtime = a->runtime, .ws = m->items, .res = res, .n = m->count};
    struct box_err err = {0};
    if (a->json && box_report_json(&rep, a->json, &err) < 0)
        goto fail;
    if (a->junit && box_report_junit(&rep, a->junit, &err) < 0)
        goto fail;
    struct box_report_counts c;
    box_report_count(&rep, &c);
    return c.mismatched ? EXIT_MISMATCH : 0;
fail:
    fprintf(stderr, "box validate: %s\n", err.msg);
    return EXIT_ERROR;
}

/* Ctrl-C or a TERM: the runner kills and deletes what runs, then the
 * reports are written as usual and the exit status says so. */
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    stop_requested = sig;
}

static int run(const struct args *a, struct box_wl_list *m, const char *base_dir)
{
    char rt[PATH_MAX], work[PATH_MAX], skopeo[PATH_MAX], why[512];
    if (runtime_path(a, rt, sizeof(rt)) < 0 || make_work_dir(a, work, sizeof(work)) < 0)
        return EXIT_ERROR;
    bool have_skopeo = find_in_path("skopeo", skopeo, sizeof(skopeo));
    bool gpu = box_gpu_present("", a->cdi_dirs, a->n_cdi_dirs, why, sizeof(why));
    struct box_runner_opts o = {
        .runtime = a->runtime,
        .runtime_path = rt,
        .work_dir = work,
        .base_dir = base_dir,
        .skopeo = have_skopeo ? skopeo : NULL,
        .insecure_registry = a->insecure,
        .timeout_s = (unsigned)a->timeout,
        .pull_timeout_s = (unsigned)a->pull_timeout,
        .parallel = (unsigned)a->parallel,
        .capture_max = a->capture_max,
        .gpu_present = gpu,
        .gpu_why = why,
        .cdi_spec_dirs = a->cdi_dirs,
        .n_cdi_spec_dirs = a->n_cdi_dirs,
        .stop = &stop_requested,
    };
    struct box_result *res = calloc(m->count ? m->count : 1, sizeof(*res));
    struct box_err err = {0};
    int rc = res ? box_runner_run(&o, m->items, m->count, res, &err) : -ENOMEM;
    int rr = box_remove_tree(AT_FDCWD, work);
    if (rc < 0) {
        fprintf(stderr, "box validate: %s\n", err.msg[0] ? err.msg : strerror(-rc));
        rc = EXIT_ERROR;
    } else {
        if (!a->quiet)
            print_table(m, res, a->runtime);
        rc = reports(a, m, res);
    }
    if (rr < 0)
        fprintf(stderr, "box validate: remove `%s`: %s\n", work, strerror(-rr));
    for (size_t i = 0; res && i < m->count; i++)
        box_result_release(&res[i]);
    free(res);
    return rc;
}

int main(int argc, char **argv)
{
    /* `box validate ...` hands over as `box-validate validate ...`. */
    if (argc > 1 && strcmp(argv[1], "validate") == 0) {
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_stop}; /* no SA_RESTART: poll returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct args a;
    int r = parse_args(argc, argv, &a);
    if (r != 0)
        return r > 0 ? 0 : EXIT_USAGE;
    struct box_wl_list m = {0};
    struct box_err err = {0};
    char base[PATH_MAX] = "";
    if (a.manifest) {
        r = box_wl_load(a.manifest, &m, &err);
        /* relative oci: paths in a manifest are taken from its directory */
        snprintf(base, sizeof(base), "%s", a.manifest);
        char *slash = strrchr(base, '/');
        if (slash)
            *slash = '\0';
        else
            strcpy(base, ".");
    } else {
        r = single(&a, &m, &err);
    }
    if (r < 0) {
        fprintf(stderr, "box validate: %s\n", err.msg);
        box_wl_free(&m);
        return EXIT_USAGE;
    }
    r = run(&a, &m, a.manifest ? base : NULL);
    box_wl_free(&m);
    return stop_requested ? 128 + stop_requested : r;
}
