#include "lib/vm/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define ENV_MAX       512
#define GROUP_GONE_MS 3000
#define DEFAULT_GRACE 5000
#define READ_CHUNK    65536
#define LINE_WAIT_MS  2000

static unsigned long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long)ts.tv_sec * 1000ul + (unsigned long)ts.tv_nsec / 1000000ul;
}

struct capture {
    char *buf;
    size_t len, cap;
    bool truncated;
};

/* Appends, keeping the last cap bytes; returns how many old bytes were dropped. */
static size_t capture_add(struct capture *c, const char *data, size_t n)
{
    size_t dropped = 0;
    if (n >= c->cap) {
        dropped = c->len + (n - c->cap);
        memcpy(c->buf, data + (n - c->cap), c->cap);
        c->len = c->cap;
    } else {
        if (c->len + n > c->cap) {
            dropped = c->len + n - c->cap;
            memmove(c->buf, c->buf + dropped, c->len - dropped);
            c->len -= dropped;
        }
        memcpy(c->buf + c->len, data, n);
        c->len += n;
    }
    if (dropped)
        c->truncated = true;
    c->buf[c->len] = '\0';
    return dropped;
}

static char **build_env(const char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    if (n + m >= ENV_MAX)
        return NULL;
    char **env = calloc(n + m + 1, sizeof(*env));
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        env[k++] = (char *)extra[i];
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t klen = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
        bool shadowed = false;
        for (size_t j = 0; j < m && !shadowed; j++)
            shadowed = strncmp(extra[j], environ[i], klen) == 0;
        if (!shadowed)
            env[k++] = environ[i];
    }
    return env;
}

static void child_exec(const struct box_vm_spawn_opts *o, const sigset_t *oldmask, int out_fd,
                       char **env)
{
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, oldmask, NULL);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        _exit(126);
    if (o->cwd && chdir(o->cwd) < 0) {
        dprintf(2, "cannot enter `%s`: %s\n", o->cwd, strerror(errno));
        _exit(126);
    }
    execvpe(o->argv[0], (char *const *)o->argv, env);
    dprintf(2, "cannot run `%s`: %s\n", o->argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
}

struct watch {
    pid_t pid;
    int out, sfd;
    bool leader_done, stopping, out_eof;
    bool marker_seen; /* waiting for the end of the marker's line */
    unsigned long start, deadline, kill_at, line_until;
    int wstatus;
};

/* Sends SIGTERM to the group now and SIGKILL once the grace period ends. */
static void stop_group(struct watch *w, unsigned grace_ms)
{
    if (w->stopping)
        return;
    w->stopping = true;
    kill(-w->pid, SIGTERM);
    w->kill_at = now_ms() + grace_ms;
}

/* The leader has exited: kill what is left of its group, then reap it (only
 * then may its pid, and so the group id, be reused). */
static void finish_leader(struct watch *w)
{
    siginfo_t si = {0};
    if (w->leader_done)
        return;
    if (waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
        return;
    kill(-w->pid, SIGKILL);
    while (waitpid(w->pid, &w->wstatus, 0) < 0 && errno == EINTR)
        ;
    w->leader_done = true;
}

static int on_signal(struct watch *w, struct box_vm_spawn_result *res, unsigned grace)
{
    struct signalfd_siginfo si;
    while (read(w->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            finish_leader(w);
        } else if (!w->stopping) {
            res->end = BOX_VM_SPAWN_INTERRUPTED;
            stop_group(w, grace);
        }
    }
    return 0;
}

static void on_output(struct watch *w, const struct box_vm_spawn_opts *o, struct capture *c,
                      struct box_vm_spawn_result *res, unsigned grace)
{
    char chunk[READ_CHUNK];
    ssize_t n = read(w->out, chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        w->out_eof = true;
        return;
    }
    if (o->tee_fd >= 0 && write(o->tee_fd, chunk, (size_t)n) < 0) {
        /* A closed log must not stop the run; the capture still has it. */
    }
    size_t before = c->len;
    size_t dropped = capture_add(c, chunk, (size_t)n);
    if (!o->marker || w->stopping)
        return;
    if (w->marker_seen) {
        if (memchr(chunk, '\n', (size_t)n))
            stop_group(w, grace);
        return;
    }
    size_t mlen = strlen(o->marker);
    before = before > dropped ? before - dropped : 0;
    size_t from = before >= mlen ? before - mlen + 1 : 0;
    const char *m = memmem(c->buf + from, c->len - from, o->marker, mlen);
    if (!m)
        return;
    /* The rest of the marker's line (e.g. the kernel release) is part of
     * the answer: stop at its newline, or after LINE_WAIT_MS. */
    res->end = BOX_VM_SPAWN_MARKER;
    res->marker_ms = now_ms() - w->start;
    w->marker_seen = true;
    w->line_until = now_ms() + LINE_WAIT_MS;
    if (memchr(m, '\n', (size_t)(c->buf + c->len - m)))
        stop_group(w, grace);
}

static int next_timeout(const struct watch *w, const struct box_vm_spawn_opts *o)
{
    unsigned long t = now_ms(), until = 0;
    if (w->leader_done)
        return 200;
    if (w->stopping)
        until = w->kill_at;
    else if (w->marker_seen)
        until = w->line_until;
    else if (o->timeout_ms)
        until = w->deadline;
    if (!until)
        return -1;
    return until > t ? (int)(until - t) : 0;
}

static void watch_loop(struct watch *w, const struct box_vm_spawn_opts *o, struct capture *c,
                       struct box_vm_spawn_result *res)
{
    unsigned grace = o->grace_ms ? o->grace_ms : DEFAULT_GRACE;
    unsigned long drain_until = 0;
    while (!(w->leader_done && w->out_eof)) {
        struct pollfd p[2] = {{.fd = w->out_eof ? -1 : w->out, .events = POLLIN},
                              {.fd = w->sfd, .events = POLLIN}};
        int r = poll(p, 2, next_timeout(w, o));
        if (r < 0 && errno != EINTR)
            break;
        if (p[1].revents & POLLIN)
            on_signal(w, res, grace);
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
            on_output(w, o, c, res, grace);
        finish_leader(w);
        unsigned long t = now_ms();
        if (!w->stopping && w->marker_seen && t >= w->line_until)
            stop_group(w, grace);
        if (!w->stopping && !w->marker_seen && o->timeout_ms && t >= w->deadline) {
            res->end = BOX_VM_SPAWN_TIMED_OUT;
            stop_group(w, grace);
        }
        if (w->stopping && t >= w->kill_at)
            kill(-w->pid, SIGKILL);
        /* A member that left the group but kept the pipe open must not hold
         * the call forever once the leader is gone. */
        if (w->leader_done && !drain_until)
            drain_until = t + 1000;
        if (drain_until && t >= drain_until)
            break;
    }
}

/* Waits until no process of the group is left (killed members may linger
 * briefly as zombies of init). */
static void wait_group_gone(pid_t pgid)
{
    unsigned long until = now_ms() + GROUP_GONE_MS;
    while (kill(-pgid, 0) == 0 && now_ms() < until) {
        kill(-pgid, SIGKILL);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int start_child(const struct box_vm_spawn_opts *o, const sigset_t *oldmask, int pipefd[2],
                       pid_t *pid, struct box_err *err)
{
    _cleanup_free_ char **env = build_env(o->env);
    if (!env)
        return box_err_set(err, E2BIG, "`%s`: environment too large", o->argv[0]);
    *pid = fork();
    if (*pid < 0)
        return box_err_sys(err, errno, "fork for `%s`", o->argv[0]);
    if (*pid == 0) {
        close(pipefd[0]);
        child_exec(o, oldmask, pipefd[1], env);
    }
    setpgid(*pid, *pid); /* also in the child: whichever runs first */
    return 0;
}

int box_vm_spawn_run(const struct box_vm_spawn_opts *o, struct box_vm_spawn_result *res,
                     struct box_err *err)
{
    memset(res, 0, sizeof(*res));
    if (!o->argv || !o->argv[0])
        return box_err_set(err, EINVAL, "spawn: empty command");
    size_t cap = o->capture_max ? o->capture_max : 65536;
    if (cap > BOX_VM_SPAWN_CAPTURE_MAX)
        return box_err_set(err, EINVAL, "spawn: capture of %zu bytes is over the limit", cap);
    struct capture c = {.buf = malloc(cap + 1), .cap = cap};
    if (!c.buf)
        return box_err_set(err, ENOMEM, "spawn: capture buffer");
    c.buf[0] = '\0';

    sigset_t mask, oldmask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, &oldmask);
    int pipefd[2] = {-1, -1};
    struct watch w = {.pid = -1, .out = -1, .sfd = -1};
    int r = 0;
    w.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (w.sfd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
        r = box_err_sys(err, errno, "spawn `%s`: signalfd/pipe", o->argv[0]);
        goto out;
    }
    r = start_child(o, &oldmask, pipefd, &w.pid, err);
    close(pipefd[1]);
    w.out = pipefd[0];
    if (r < 0)
        goto out;
    fcntl(w.out, F_SETFL, O_NONBLOCK);
    w.start = now_ms();
    w.deadline = w.start + o->timeout_ms;
    res->end = BOX_VM_SPAWN_EXITED;
    res->pgid = w.pid;
    watch_loop(&w, o, &c, res);
    if (!w.leader_done) { /* poll failed: never leave the child behind */
        kill(-w.pid, SIGKILL);
        while (waitpid(w.pid, &w.wstatus, 0) < 0 && errno == EINTR)
            ;
    }
    wait_group_gone(w.pid);
    res->elapsed_ms = now_ms() - w.start;
    res->status = WIFEXITED(w.wstatus) ? WEXITSTATUS(w.wstatus) : 128 + WTERMSIG(w.wstatus);
out:
    if (w.out >= 0)
        close(w.out);
    if (w.sfd >= 0)
        close(w.sfd);
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    res->output = c.buf;
    res->len = c.len;
    res->truncated = c.truncated;
    return r;
}

void box_vm_spawn_result_free(struct box_vm_spawn_result *res)
{
    free(res->output);
    res->output = NULL;
    res->len = 0;
}

void box_vm_spawn_describe(const struct box_vm_spawn_result *res, unsigned timeout_ms, char *buf,
                           size_t size)
{
    switch (res->end) {
    case BOX_VM_SPAWN_TIMED_OUT:
        snprintf(buf, size, "timed out after %u s (process group %d killed)", timeout_ms / 1000,
                 (int)res->pgid);
        return;
    case BOX_VM_SPAWN_INTERRUPTED:
        snprintf(buf, size, "interrupted (process group %d killed)", (int)res->pgid);
        return;
    case BOX_VM_SPAWN_MARKER:
        snprintf(buf, size, "stopped after its marker appeared");
        return;
    case BOX_VM_SPAWN_EXITED:
        break;
    }
    if (res->status > 128)
        snprintf(buf, size, "killed by signal %d", res->status - 128);
    else
        snprintf(buf, size, "exited with status %d", res->status);
}

const char *box_vm_spawn_tail(const struct box_vm_spawn_result *res, unsigned lines)
{
    if (!res->output || res->len == 0)
        return "";
    const char *p = res->output + res->len;
    while (p > res->output && (p[-1] == '\n' || p[-1] == '\r'))
        p--;
    unsigned seen = 0;
    while (p > res->output) {
        if (p[-1] == '\n' && ++seen == lines)
            break;
        p--;
    }
    return p;
}
