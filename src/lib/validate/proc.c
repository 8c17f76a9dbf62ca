#include "lib/validate/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define READ_CHUNK (64u << 10)

int64_t box_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int box_proc_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

static void emit_line(struct box_proc *p, enum box_stream s)
{
    struct box_capture *c = &p->cap[s];
    if (p->on_line)
        p->on_line(p->ud, s, c->line, c->line_len, c->line_cut);
    c->line_len = 0;
    c->line_cut = false;
}

static void feed(struct box_proc *p, enum box_stream s, const char *data, size_t n)
{
    struct box_capture *c = &p->cap[s];
    c->total += n;
    size_t keep = c->max - c->len < n ? c->max - c->len : n;
    memcpy(c->buf + c->len, data, keep);
    c->len += keep;
    c->buf[c->len] = '\0';
    c->dropped += n - keep;
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            emit_line(p, s);
        } else if (c->line_len < sizeof(c->line)) {
            c->line[c->line_len++] = data[i];
        } else {
            c->line_cut = true;
        }
    }
}

static int drain(struct box_proc *p, enum box_stream s, struct box_err *err)
{
    char buf[READ_CHUNK];
    while (p->fd[s] >= 0) {
        ssize_t n = read(p->fd[s], buf, sizeof(buf));
        if (n > 0) {
            feed(p, s, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n < 0)
            return box_err_sys(err, errno, "read the output of pid %d", (int)p->pid);
        close(p->fd[s]);
        p->fd[s] = -1;
        if (p->cap[s].line_len || p->cap[s].line_cut)
            emit_line(p, s);
    }
    return 0;
}

static void reap(struct box_proc *p)
{
    if (p->exited)
        return;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->exited = true;
        p->status = st;
        if (p->pidfd >= 0) {
            close(p->pidfd);
            p->pidfd = -1;
        }
    }
}

int box_proc_step(struct box_proc *p, struct box_err *err)
{
    int r = drain(p, BOX_STDOUT, err);
    if (r >= 0)
        r = drain(p, BOX_STDERR, err);
    reap(p);
    return r;
}

bool box_proc_done(const struct box_proc *p)
{
    return p->exited && p->fd[BOX_STDOUT] < 0 && p->fd[BOX_STDERR] < 0;
}

size_t box_proc_pollfds(const struct box_proc *p, struct pollfd *out)
{
    size_t n = 0;
    for (int s = BOX_STDOUT; s <= BOX_STDERR; s++)
        if (p->fd[s] >= 0)
            out[n++] = (struct pollfd){.fd = p->fd[s], .events = POLLIN};
    if (p->pidfd >= 0 && !p->exited)
        out[n++] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
    return n;
}

void box_proc_close_pipes(struct box_proc *p)
{
    for (int s = BOX_STDOUT; s <= BOX_STDERR; s++) {
        if (p->fd[s] >= 0)
            close(p->fd[s]);
        p->fd[s] = -1;
    }
}

void box_proc_kill(struct box_proc *p, int sig)
{
    if (p->pid > 0 && !p->exited)
        kill(-p->pid, sig);
}

void box_proc_release(struct box_proc *p)
{
    if (p->pid > 0 && !p->exited) {
        kill(-p->pid, SIGKILL);
        int st;
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
            ;
        p->exited = true;
    }
    box_proc_close_pipes(p);
    if (p->pidfd >= 0)
        close(p->pidfd);
    p->pidfd = -1;
    for (int s = BOX_STDOUT; s <= BOX_STDERR; s++) {
        free(p->cap[s].buf);
        p->cap[s].buf = NULL;
    }
}

static int spawn_actions(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, int out_w,
                         int err_w)
{
    int r = posix_spawn_file_actions_init(fa);
    if (r)
        return r;
    if ((r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0)) ||
        (r = posix_spawn_file_actions_adddup2(fa, out_w, 1)) ||
        (r = posix_spawn_file_actions_adddup2(fa, err_w, 2)) || (r = posix_spawnattr_init(at)))
        return r;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(at, &none);
    posix_spawnattr_setsigdefault(at, &all);
    posix_spawnattr_setpgroup(at, 0);
    return posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                            POSIX_SPAWN_SETSIGDEF);
}

int box_proc_spawn(char *const *argv, size_t capture_max, box_line_fn on_line, void *ud,
                   struct box_proc *p, struct box_err *err)
{
    memset(p, 0, sizeof(*p));
    p->pid = -1;
    p->pidfd = -1;
    p->fd[0] = p->fd[1] = p->fd[2] = -1;
    p->on_line = on_line;
    p->ud = ud;
    int out[2] = {-1, -1}, errp[2] = {-1, -1};
    for (int s = BOX_STDOUT; s <= BOX_STDERR; s++) {
        p->cap[s].max = capture_max;
        if (!(p->cap[s].buf = malloc(capture_max + 1)))
            return box_err_set(err, ENOMEM, "output buffer");
        p->cap[s].buf[0] = '\0';
    }
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        int e = errno;
        box_proc_release(p);
        for (int i = 0; i < 2; i++)
            if (out[i] >= 0)
                close(out[i]);
        return box_err_sys(err, e, "pipe");
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int r = spawn_actions(&fa, &at, out[1], errp[1]);
    if (r == 0)
        r = posix_spawn(&p->pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(out[1]);
    close(errp[1]);
    p->fd[BOX_STDOUT] = out[0];
    p->fd[BOX_STDERR] = errp[0];
    if (r != 0) {
        p->pid = -1;
        box_proc_release(p);
        return box_err_sys(err, r, "run `%s`", argv[0]);
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    long fd = syscall(SYS_pidfd_open, p->pid, 0);
    p->pidfd = fd >= 0 ? (int)fd : -1;
    if (p->pidfd >= 0)
        fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
    return 0;
}

int box_proc_run(char *const *argv, size_t capture_max, int timeout_ms, struct box_proc *p,
                 struct box_err *err)
{
    int r = box_proc_spawn(argv, capture_max, NULL, NULL, p, err);
    if (r < 0)
        return r;
    int64_t deadline = box_now_ms() + timeout_ms;
    bool killed = false;
    while (!box_proc_done(p)) {
        struct pollfd fds[3];
        size_t n = box_proc_pollfds(p, fds);
        int64_t left = deadline - box_now_ms();
        if (left <= 0 && !killed) {
            box_proc_kill(p, SIGKILL);
            killed = true;
            deadline = box_now_ms() + 5000;
            continue;
        }
        if (left <= 0) {
            box_proc_close_pipes(p); /* a grandchild holds them: stop reading */
            continue;
        }
        /* Without a pidfd, an exit is noticed on the next tick. */
        int tick = p->pidfd < 0 && !p->exited ? 20 : (int)(left < 1000 ? left : 1000);
        if (poll(fds, n, tick) < 0 && errno != EINTR)
            return box_err_sys(err, errno, "poll");
        if ((r = box_proc_step(p, err)) < 0)
            return r;
    }
    if (killed)
        return box_err_set(err, ETIMEDOUT, "`%s` did not finish within %d ms", argv[0], timeout_ms);
    return 0;
}
