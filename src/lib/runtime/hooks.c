#include "lib/runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/cdi/hook.h"

#define HOOK_OUTPUT_KEPT        2048
#define HOOK_DEFAULT_TIMEOUT_MS (120 * 1000)

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void __attribute__((noreturn))
hook_child(const struct box_hook *hook, int in_fd, int err_fd, const char *cwd)
{
    setpgid(0, 0);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    if (dup2(in_fd, 0) < 0 || dup2(err_fd, 2) < 0)
        _exit(127);
    /* stdout of a hook is not the container's: send it with stderr. */
    dup2(err_fd, 1);
    syscall(SYS_close_range, 3, ~0U, 0);
    if (cwd && chdir(cwd) < 0 && chdir("/") < 0)
        _exit(127);
    char *empty[] = {NULL};
    char *argv0[] = {hook->path, NULL};
    execve(hook->path, hook->args ? hook->args : argv0, hook->env ? hook->env : empty);
    dprintf(2, "exec `%s`: %s", hook->path, strerror(errno));
    _exit(127);
}

/* Keeps the last HOOK_OUTPUT_KEPT bytes of the output: one move per read,
 * so that a hook flooding its output costs us no more than reading it. */
static void keep(char *kept, size_t *kept_len, const char *buf, size_t n)
{
    if (n >= HOOK_OUTPUT_KEPT) {
        memcpy(kept, buf + (n - HOOK_OUTPUT_KEPT), HOOK_OUTPUT_KEPT);
        *kept_len = HOOK_OUTPUT_KEPT;
        return;
    }
    if (*kept_len + n > HOOK_OUTPUT_KEPT) {
        size_t drop = *kept_len + n - HOOK_OUTPUT_KEPT;
        memmove(kept, kept + drop, *kept_len - drop);
        *kept_len -= drop;
    }
    memcpy(kept + *kept_len, buf, n);
    *kept_len += n;
}

/* Collects the hook's output, keeping the last HOOK_OUTPUT_KEPT bytes, until
 * the hook exits (a daemon it left holding the pipe does not keep us) or the
 * deadline passes. Returns 1 on timeout. */
static int drain(int fd, int pidfd, char *kept, size_t *kept_len, long long deadline)
{
    char buf[4096];
    bool exited = false;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 1;
        struct pollfd p[2] = {{fd, POLLIN, 0}, {pidfd, POLLIN, 0}};
        int r = poll(p, pidfd >= 0 ? 2 : 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return 1;
        if (p[1].revents & POLLIN)
            exited = true;
        for (;;) {
            ssize_t n = read(fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0)
                return 0;
            if (n < 0)
                break;
            keep(kept, kept_len, buf, (size_t)n);
        }
        if (exited)
            return 0;
    }
}

/* After its output closed, the hook still gets only the rest of its time. */
static int wait_exit(int pidfd, long long deadline)
{
    if (pidfd < 0)
        return 0;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 1;
        struct pollfd p = {pidfd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        return r == 0 ? 1 : 0;
    }
}

int box_hook_run(const struct box_hook *hook, const char *kind, size_t index, const char *state,
                 const char *cwd, struct box_err *err)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return box_err_sys(err, errno, "hook %s[%zu] `%s`: pipe", kind, index, hook->path);
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return box_err_sys(err, errno, "hook %s[%zu] `%s`: pipe", kind, index, hook->path);
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return box_err_sys(err, e, "hook %s[%zu] `%s`: fork", kind, index, hook->path);
    }
    if (pid == 0)
        hook_child(hook, in[0], out[1], cwd);
    close(in[0]);
    close(out[1]);
    /* The state is small (a pipe holds 64 KiB); a hook that never reads it
     * must not block us, so write without blocking. */
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);
    box_write_all(in[1], state, strlen(state));
    close(in[1]);
    long long timeout = hook->timeout > 0 ? hook->timeout * 1000LL : HOOK_DEFAULT_TIMEOUT_MS;
    char kept[HOOK_OUTPUT_KEPT + 1];
    size_t kept_len = 0;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    long long deadline = now_ms() + timeout;
    int timed_out = drain(out[0], pidfd, kept, &kept_len, deadline);
    if (!timed_out)
        timed_out = wait_exit(pidfd, deadline);
    close(out[0]);
    if (pidfd >= 0)
        close(pidfd);
    if (timed_out)
        kill(-pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    /* Whatever the hook left behind in its group goes with it. */
    kill(-pid, SIGKILL);
    kept[kept_len] = '\0';
    while (kept_len > 0 && (kept[kept_len - 1] == '\n' || kept[kept_len - 1] == ' '))
        kept[--kept_len] = '\0';
    /* One line of text: newlines, NULs and other control bytes of a hook's
     * output would cut or split the message. */
    for (size_t i = 0; i < kept_len; i++)
        if ((unsigned char)kept[i] < 0x20 || kept[i] == 0x7f)
            kept[i] = ' ';
    char why[64];
    int code = ECANCELED;
    if (timed_out) {
        code = ETIMEDOUT;
        snprintf(why, sizeof(why), "timed out after %lld s", timeout / 1000);
    } else if (WIFSIGNALED(status)) {
        snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
    } else if (WEXITSTATUS(status) != 0) {
        snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
    } else {
        return 0;
    }
    /* The message ends with as much of the output's end as fits. */
    char head[BOX_ERR_MSG_MAX];
    int n = snprintf(head, sizeof(head), "hook %s[%zu] `%s`: %s", kind, index, hook->path, why);
    size_t room = n > 0 && (size_t)n + 3 < sizeof(head) ? sizeof(head) - (size_t)n - 3 : 0;
    const char *tail = kept_len > room ? kept + (kept_len - room) : kept;
    return box_err_set(err, code, "%s%s%s", head, kept_len && room ? ": " : "", room ? tail : "");
}

/* `ARGV0 hook VERB ...` with a verb of box hook. */
static bool box_hook_args(const struct box_hook *h)
{
    return h->args && h->args[0] && h->args[1] && strcmp(h->args[1], "hook") == 0 && h->args[2] &&
           box_cdi_hook_verb_known(h->args[2]);
}

/* The file itself, never its name: a hook path that leads (through any
 * links) to the running executable is box; a copy or another build is not. */
static bool same_file(const char *path, const struct stat *self)
{
    _cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == self->st_dev &&
           st.st_ino == self->st_ino;
}

void box_hooks_find_self(struct box_spec *spec)
{
    struct stat self;
    bool have_self = false;
    for (size_t i = 0; i < spec->n_hooks[BOX_HOOK_CREATE_CONTAINER]; i++) {
        struct box_hook *h = &spec->hooks[BOX_HOOK_CREATE_CONTAINER][i];
        h->self = false;
        if (!box_hook_args(h) || h->path[0] != '/')
            continue;
        if (!have_self) {
            _cleanup_close_ int fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
            if (fd < 0 || fstat(fd, &self) < 0)
                return;
            have_self = true;
        }
        h->self = same_file(h->path, &self);
    }
}

/* box's own hook, in this process: what `box hook` would do, with the same
 * state on what would have been its stdin. */
static int self_hook_run(const struct box_hook *hook, const char *kind, size_t index,
                         const char *state, struct box_err *err)
{
    int argc = 0;
    while (hook->args[argc])
        argc++;
    struct box_cdi_hook_req req;
    int r = box_cdi_hook_parse(argc - 2, hook->args + 2, &req, err);
    if (r == 0) {
        r = box_cdi_hook_run(&req, state, strlen(state), err);
        box_cdi_hook_req_free(&req);
    }
    return r < 0 ? box_err_prefix(err, "hook %s[%zu] `%s`", kind, index, hook->path) : 0;
}

int box_hooks_run(const struct box_spec *spec, enum box_hook_kind kind, const char *state,
                  const char *cwd, struct box_err *err)
{
    for (size_t i = 0; i < spec->n_hooks[kind]; i++) {
        const struct box_hook *h = &spec->hooks[kind][i];
        const char *name = box_hook_kind_names[kind];
        int r = h->self && kind == BOX_HOOK_CREATE_CONTAINER
                    ? self_hook_run(h, name, i, state, err)
                    : box_hook_run(h, name, i, state, cwd, err);
        if (r < 0)
            return r;
    }
    return 0;
}
