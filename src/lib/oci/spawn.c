/* A helper program with a deadline, killed as a group. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/oci/spawn.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void child(const struct box_spawn_opts *o, int out_w, int err_w, int exec_w)
{
    setpgid(0, 0);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
        _exit(127);
    execvp(o->argv[0], (char *const *)o->argv);
    int e = errno;
    (void)!write(exec_w, &e, sizeof(e));
    _exit(127);
}

/* Appends to the stderr tail, keeping the last bytes. */
static void keep_tail(char *tail, size_t cap, const char *buf, size_t n)
{
    size_t have = strlen(tail);
    if (n >= cap - 1) {
        memcpy(tail, buf + n - (cap - 1), cap - 1);
        tail[cap - 1] = '\0';
        return;
    }
    if (have + n >= cap) {
        size_t drop = have + n - (cap - 1);
        memmove(tail, tail + drop, have - drop + 1);
        have -= drop;
    }
    memcpy(tail + have, buf, n);
    tail[have + n] = '\0';
}

/* Reads both pipes until they close, the deadline passes or *stop is set. */
static int pump(const struct box_spawn_opts *o, int out_r, int err_r, struct box_spawn_result *res)
{
    long long deadline = now_ms() + (long long)o->timeout_s * 1000;
    struct pollfd p[2] = {{.fd = out_r, .events = POLLIN}, {.fd = err_r, .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (o->stop && *o->stop)
            return -EINTR;
        long long left = deadline - now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int n = poll(p, 2, (int)(left > 200 ? 200 : left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            char buf[4096];
            ssize_t r = read(p[i].fd, buf, sizeof(buf));
            if (r <= 0) {
                p[i].fd = -1;
                open_fds--;
            } else if (i == 1) {
                keep_tail(res->err_tail, sizeof(res->err_tail), buf, (size_t)r);
            } else {
                if (res->out_len + (size_t)r > o->max_stdout)
                    return -EFBIG;
                memcpy(res->out + res->out_len, buf, (size_t)r);
                res->out_len += (size_t)r;
                res->out[res->out_len] = '\0';
            }
        }
    }
    return 0;
}

static int reap(pid_t pid, bool kill_first)
{
    if (kill_first)
        kill(-pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    /* Anything the program left in its group goes with it. */
    kill(-pid, SIGKILL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int box_spawn(const struct box_spawn_opts *o, struct box_spawn_result *res, struct box_err *err)
{
    memset(res, 0, sizeof(*res));
    res->out = malloc(o->max_stdout + 1);
    int out[2] = {-1, -1}, er[2] = {-1, -1}, ex[2] = {-1, -1};
    if (!res->out || pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0 ||
        pipe2(ex, O_CLOEXEC) < 0) {
        int e = res->out ? errno : ENOMEM;
        int fds[] = {out[0], out[1], er[0], er[1], ex[0], ex[1]};
        for (size_t i = 0; i < 6; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        return box_err_sys(err, e, "`%s`: cannot set up pipes", o->argv[0]);
    }
    res->out[0] = '\0';
    pid_t pid = fork();
    if (pid == 0)
        child(o, out[1], er[1], ex[1]);
    int e = errno;
    close(out[1]);
    close(er[1]);
    close(ex[1]);
    int rc = 0, exec_errno = 0;
    if (pid < 0)
        rc = box_err_sys(err, e, "`%s`: fork", o->argv[0]);
    else if (read(ex[0], &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno))
        rc = box_err_sys(err, exec_errno, "`%s`: cannot run", o->argv[0]);
    else
        rc = pump(o, out[0], er[0], res);
    close(ex[0]);
    close(out[0]);
    close(er[0]);
    if (pid > 0)
        res->status = reap(pid, rc != 0);
    if (rc == -ETIMEDOUT)
        return box_err_set(err, ETIMEDOUT, "`%s`: no result after %d s; killed", o->argv[0],
                           o->timeout_s);
    if (rc == -EINTR)
        return box_err_set(err, EINTR, "`%s`: interrupted; killed", o->argv[0]);
    if (rc == -EFBIG)
        return box_err_set(err, EFBIG, "`%s`: more than %zu bytes on stdout; killed", o->argv[0],
                           o->max_stdout);
    if (rc < 0 && !err->msg[0])
        return box_err_sys(err, -rc, "`%s`", o->argv[0]);
    return rc;
}

void box_spawn_result_free(struct box_spawn_result *res)
{
    free(res->out);
    res->out = NULL;
}
