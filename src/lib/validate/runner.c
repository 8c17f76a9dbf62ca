#include "lib/validate/runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/parse.h"
#include "lib/validate/prepare.h"

#define KILL_GRACE_MS  10000 /* after `kill --all`, for the runtime to exit */
#define PIPE_GRACE_MS  2000  /* after the runtime exited, for its pipes to close */
#define RUNTIME_CMD_MS 20000 /* one kill or delete */
#define MAX_LEFT_PIDS  8

struct job {
    size_t idx;
    char dir[PATH_MAX];
    char id[64];
    struct box_proc p;
    struct box_markers m;
    int64_t start, deadline, exited_at;
    bool active, timed_out, escalated, interrupted;
    char ns[64]; /* the container's pid namespace, read when it is killed */
};

struct run {
    const struct box_runner_opts *o;
    const struct box_wl *ws;
    struct box_result *res;
    struct job *jobs;
    char state[PATH_MAX];
};

void box_result_release(struct box_result *r)
{
    free(r->out.buf);
    free(r->err.buf);
    r->out.buf = r->err.buf = NULL;
}

static void pidfile_path(const struct job *j, char *out, size_t size)
{
    snprintf(out, size, "%s/pid", j->dir);
}

static pid_t read_pidfile(const struct job *j)
{
    char path[PATH_MAX + 8];
    pidfile_path(j, path, sizeof(path));
    _cleanup_free_ char *text = NULL;
    size_t len;
    struct box_err e;
    uint64_t v;
    if (box_read_file(AT_FDCWD, path, 64, &text, &len, &e) < 0)
        return 0;
    text[strcspn(text, "\n")] = '\0';
    return box_parse_u64(text, INT32_MAX, &v) < 0 ? 0 : (pid_t)v;
}

/* `RUNTIME --root STATE VERB... ID`, bounded in time; its result is not
 * needed (kill of a container already gone, delete of one never made). */
static void runtime_cmd(const struct run *rn, const struct job *j, const char *verb, const char *a1,
                        const char *a2)
{
    char *argv[] = {(char *)rn->o->runtime_path,
                    "--root",
                    (char *)rn->state,
                    (char *)verb,
                    (char *)a1,
                    (char *)j->id,
                    (char *)a2,
                    NULL};
    if (!a2)
        argv[6] = NULL;
    struct box_proc p;
    struct box_err e;
    if (box_proc_run(argv, 4096, RUNTIME_CMD_MS, &p, &e) >= 0 || p.pid > 0)
        box_proc_release(&p);
}

static int start(struct run *rn, struct job *j, struct box_err *err)
{
    const struct box_runner_opts *o = rn->o;
    const struct box_wl *w = &rn->ws[j->idx];
    char bundle[PATH_MAX + 16], pidfile[PATH_MAX + 8];
    snprintf(bundle, sizeof(bundle), "%s/bundle", j->dir);
    pidfile_path(j, pidfile, sizeof(pidfile));
    char *argv[16 + 2 * BOX_VALIDATE_CDI_DIRS_MAX];
    size_t n = 0;
    argv[n++] = (char *)o->runtime_path;
    argv[n++] = "--root";
    argv[n++] = rn->state;
    argv[n++] = "run";
    argv[n++] = "--bundle";
    argv[n++] = bundle;
    argv[n++] = "--pid-file";
    argv[n++] = pidfile;
    if (w->gpu) {
        /* CDI: the runtime injects the GPUs (docs/gpu-validation.md). */
        argv[n++] = "--device";
        argv[n++] = "nvidia.com/gpu=all";
        for (size_t i = 0; i < o->n_cdi_spec_dirs && i < BOX_VALIDATE_CDI_DIRS_MAX; i++) {
            argv[n++] = "--cdi-spec-dir";
            argv[n++] = (char *)o->cdi_spec_dirs[i];
        }
    }
    argv[n++] = j->id;
    argv[n] = NULL;
    j->m = (struct box_markers){.name = w->name};
    j->start = box_now_ms();
    j->deadline = j->start + (int64_t)o->timeout_s * 1000;
    int r = box_proc_spawn(argv, o->capture_max, box_markers_line, &j->m, &j->p, err);
    if (r < 0)
        return r;
    j->active = true;
    rn->res[j->idx].ran = true;
    return 0;
}

/* The deadline passed: kill the whole container, then give the runtime a
 * grace period to exit; past that, kill the runtime itself. */
static void on_deadline(struct run *rn, struct job *j)
{
    if (!j->timed_out) {
        j->timed_out = true;
        pid_t pid = read_pidfile(j);
        char link[64];
        snprintf(link, sizeof(link), "/proc/%d/ns/pid", (int)pid);
        ssize_t n = pid > 0 ? readlink(link, j->ns, sizeof(j->ns) - 1) : -1;
        j->ns[n > 0 ? n : 0] = '\0';
        runtime_cmd(rn, j, "kill", "--all", "KILL");
        j->deadline = box_now_ms() + KILL_GRACE_MS;
    } else if (!j->escalated) {
        j->escalated = true;
        box_proc_kill(&j->p, SIGKILL);
        j->deadline = box_now_ms() + PIPE_GRACE_MS;
    } else {
        box_proc_close_pipes(&j->p);
    }
}

/* Pids still in the container's pid namespace; writes them to `out`. */
static size_t leftover(const char *ns, char *out, size_t size)
{
    size_t found = 0, len = 0;
    out[0] = '\0';
    DIR *d = opendir("/proc");
    if (!d || !ns[0]) {
        if (d)
            closedir(d);
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) && found < MAX_LEFT_PIDS) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char link[300], got[64];
        snprintf(link, sizeof(link), "/proc/%s/ns/pid", de->d_name);
        ssize_t n = readlink(link, got, sizeof(got) - 1);
        if (n <= 0)
            continue;
        got[n] = '\0';
        if (strcmp(got, ns) != 0)
            continue;
        found++;
        len += (size_t)snprintf(out + len, size - len, "%s%s", len ? " " : "", de->d_name);
        if (len >= size)
            break;
    }
    closedir(d);
    return found;
}

static bool state_exists(const struct run *rn, const struct job *j)
{
    char path[PATH_MAX + 80];
    snprintf(path, sizeof(path), "%s/%s", rn->state, j->id);
    return access(path, F_OK) == 0;
}

static void last_line(const struct box_capture *c, char *out, size_t size)
{
    size_t end = c->len;
    while (end > 0 && (c->buf[end - 1] == '\n' || c->buf[end - 1] == ' '))
        end--;
    size_t s = end;
    while (s > 0 && c->buf[s - 1] != '\n')
        s--;
    snprintf(out, size, "%.*s", (int)(end - s), c->buf + s);
}

static void finish(struct run *rn, struct job *j)
{
    const struct box_wl *w = &rn->ws[j->idx];
    struct box_result *res = &rn->res[j->idx];
    res->ms_run = box_now_ms() - j->start;
    res->exit_code = box_proc_exit_code(j->p.status);
    bool started = read_pidfile(j) > 0;
    if (j->interrupted)
        box_verdict_set(&res->v, w->expect, BOX_OUT_ERROR, "interrupted: the container was killed");
    else if (j->timed_out)
        box_verdict_set(&res->v, w->expect, BOX_OUT_TIMEOUT,
                        "no exit within %us: the container was killed", rn->o->timeout_s);
    if (j->timed_out || state_exists(rn, j))
        runtime_cmd(rn, j, "delete", "--force", NULL);
    char pids[160], line[300];
    if (j->timed_out && leftover(j->ns, pids, sizeof(pids)) > 0) {
        box_verdict_set(&res->v, w->expect, BOX_OUT_ERROR,
                        "timed out after %us and processes of the container are still alive "
                        "after kill and delete: %s",
                        rn->o->timeout_s, pids);
    } else if (j->interrupted) {
        /* decided above */
    } else if (!j->timed_out && !started && res->exit_code != 0) {
        last_line(&j->p.cap[BOX_STDERR], line, sizeof(line));
        box_verdict_set(&res->v, w->expect, BOX_OUT_ERROR,
                        "%s failed before the workload started (exit %d): %s", rn->o->runtime,
                        res->exit_code, line);
    } else if (!j->timed_out) {
        box_verdict_decide(w->expect, &j->m, res->exit_code, &res->v);
    }
    res->out = j->p.cap[BOX_STDOUT];
    res->err = j->p.cap[BOX_STDERR];
    j->p.cap[BOX_STDOUT].buf = j->p.cap[BOX_STDERR].buf = NULL;
    box_proc_release(&j->p);
    j->active = false;
}

static void cleanup_job(struct job *j)
{
    box_remove_tree(AT_FDCWD, j->dir);
}

/* Prepares and starts workload i; a workload that cannot run is decided
 * at once. Returns 1 when it runs. */
static int launch(struct run *rn, size_t i)
{
    const struct box_wl *w = &rn->ws[i];
    struct box_result *res = &rn->res[i];
    struct job *j = &rn->jobs[i];
    struct box_err e = {0};
    res->exit_code = -1;
    j->idx = i;
    snprintf(j->id, sizeof(j->id), "validate-%d-%zu", (int)getpid(), i);
    snprintf(j->dir, sizeof(j->dir), "%s/w%zu", rn->o->work_dir, i);
    if (w->gpu && !rn->o->gpu_present) {
        box_verdict_set(&res->v, w->expect, BOX_OUT_SKIPPED, "%s", rn->o->gpu_why);
        return 0;
    }
    if (w->gpu && strcmp(rn->o->runtime, "box") != 0) {
        box_verdict_set(&res->v, w->expect, BOX_OUT_SKIPPED,
                        "GPU workloads need CDI injection, which %s does not do", rn->o->runtime);
        return 0;
    }
    if (mkdir(j->dir, 0700) < 0) {
        box_verdict_set(&res->v, w->expect, BOX_OUT_ERROR, "work directory `%s`: %s", j->dir,
                        strerror(errno));
        return 0;
    }
    if (box_prepare_bundle(rn->o, w, j->dir, res, &e) < 0 || start(rn, j, &e) < 0) {
        box_verdict_set(&res->v, w->expect, BOX_OUT_ERROR, "%s", e.msg);
        cleanup_job(j);
        return 0;
    }
    return 1;
}

/* One round of the loop over the running jobs. */
static int poll_round(struct run *rn, size_t n, size_t *active, struct box_err *err)
{
    struct pollfd fds[3 * 64];
    size_t nfds = 0;
    int64_t now = box_now_ms(), wait = 1000;
    for (size_t i = 0; i < n; i++) {
        struct job *j = &rn->jobs[i];
        if (!j->active)
            continue;
        nfds += box_proc_pollfds(&j->p, fds + nfds);
        int64_t left = j->deadline - now;
        if (j->p.exited)
            left = j->exited_at + PIPE_GRACE_MS - now;
        else if (j->p.pidfd < 0)
            left = left < 20 ? left : 20;
        wait = left < wait ? left : wait;
    }
    if (poll(fds, nfds, wait > 0 ? (int)wait : 0) < 0 && errno != EINTR)
        return box_err_sys(err, errno, "poll");
    now = box_now_ms();
    for (size_t i = 0; i < n; i++) {
        struct job *j = &rn->jobs[i];
        if (!j->active)
            continue;
        struct box_err e;
        bool was = j->p.exited;
        box_proc_step(&j->p, &e);
        if (j->p.exited && !was)
            j->exited_at = now;
        if (j->p.exited && !box_proc_done(&j->p) && now - j->exited_at >= PIPE_GRACE_MS)
            box_proc_close_pipes(&j->p); /* something the container left holds them */
        if (!j->p.exited && now >= j->deadline)
            on_deadline(rn, j);
        if (box_proc_done(&j->p)) {
            finish(rn, j);
            cleanup_job(j);
            (*active)--;
            if (rn->o->progress)
                rn->o->progress(rn->o->progress_ud, j->idx);
        }
    }
    return 0;
}

/* A stop was asked for: what runs is killed at once (through the deadline
 * path, which kills the whole container and deletes it), what has not
 * started never will. Returns the new `next`. */
static size_t interrupt(struct run *rn, size_t next, size_t n)
{
    int64_t now = box_now_ms();
    for (size_t i = 0; i < next; i++) {
        struct job *j = &rn->jobs[i];
        if (j->active && !j->interrupted) {
            j->interrupted = true;
            if (!j->timed_out)
                j->deadline = now;
        }
    }
    for (size_t i = next; i < n; i++)
        box_verdict_set(&rn->res[i].v, rn->ws[i].expect, BOX_OUT_ERROR,
                        "interrupted before it started");
    return n;
}

int box_runner_run(const struct box_runner_opts *o, const struct box_wl *ws, size_t n,
                   struct box_result *res, struct box_err *err)
{
    struct run rn = {.o = o, .ws = ws, .res = res};
    unsigned par = o->parallel < 1 ? 1 : o->parallel > 64 ? 64 : o->parallel;
    memset(res, 0, n * sizeof(*res));
    snprintf(rn.state, sizeof(rn.state), "%s/state", o->work_dir);
    if (mkdir(rn.state, 0700) < 0 && errno != EEXIST)
        return box_err_sys(err, errno, "state directory `%s`", rn.state);
    rn.jobs = calloc(n ? n : 1, sizeof(*rn.jobs));
    if (!rn.jobs)
        return box_err_set(err, ENOMEM, "jobs");
    size_t next = 0, active = 0;
    int r = 0;
    while (r >= 0 && (next < n || active > 0)) {
        if (o->stop && *o->stop)
            next = interrupt(&rn, next, n);
        while (active < par && next < n) {
            if (launch(&rn, next) > 0)
                active++;
            else if (o->progress)
                o->progress(o->progress_ud, next);
            next++;
        }
        if (active > 0)
            r = poll_round(&rn, next, &active, err);
    }
    for (size_t i = 0; i < n; i++)
        if (rn.jobs[i].active) { /* the harness failed: leave nothing running */
            on_deadline(&rn, &rn.jobs[i]);
            finish(&rn, &rn.jobs[i]);
            cleanup_job(&rn.jobs[i]);
        }
    free(rn.jobs);
    return r;
}
