/*
 * boxcheck: the process that the acceptance suite runs inside a container.
 *
 * It reports, from inside, what the runtime applied (identity, capabilities,
 * namespaces, mounts, limits, fds, terminal) and offers small probes and
 * behaviours (exit with a code, sleep, record signals, act as a hook) so that
 * the tests assert on facts rather than on what the runtime says it did.
 *
 * Output is one `key=value` per line; values never contain a newline (they
 * are escaped as `\n`).  Probes print `op:ARG=ok` or `op:ARG=err:ENAME` and
 * succeed either way, so a test reads the verdict rather than an exit code.
 * Several commands run in sequence when separated by `--`:
 *     boxcheck report -- sleep 60
 *
 * It is linked statically and uses no NSS, so it runs in any root
 * filesystem and as a hook on the host.  This file holds the output helpers,
 * the behaviours, the hook and the dispatch; boxcheck_report.c the report,
 * boxcheck_probes.c the probes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boxcheck.h"

#define HOOK_STDIN_MAX (1 << 20)

int main_argc;
char **main_argv;

/* The descriptor a command reports to: stdout, or a file for `hook`. */
int out_fd = STDOUT_FILENO;

__attribute__((format(printf, 1, 2))) void out(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vdprintf(out_fd, fmt, ap);
    va_end(ap);
}

/* Prints a value with newlines and backslashes escaped, so it stays on one line. */
void out_escaped(const char *value, size_t len)
{
    char buf[8192];
    size_t n = 0;

    for (size_t i = 0; i < len && n + 2 < sizeof(buf); i++) {
        if (value[i] == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else if (value[i] == '\\') {
            buf[n++] = '\\';
            buf[n++] = '\\';
        } else {
            buf[n++] = value[i];
        }
    }
    out("%.*s", (int)n, buf);
}

void out_kv(const char *key, const char *value, size_t len)
{
    out("%s=", key);
    out_escaped(value, len);
    out("\n");
}

const char *errname(int err)
{
    const char *name = strerrorname_np(err);

    return name ? name : "EUNKNOWN";
}

/* A probe's verdict: `op:arg=ok` or `op:arg=err:ENAME`. */
void out_verdict(const char *op, const char *arg, int err)
{
    if (err == 0) {
        out("%s:%s=ok\n", op, arg);
    } else {
        out("%s:%s=err:%s\n", op, arg, errname(err));
    }
}

int parse_long(const char *s, long min, long max, long *value)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return -EINVAL;
    }
    *value = v;
    return 0;
}

int parse_seconds(const char *s, double *value)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0) || v > 1e6) {
        return -EINVAL;
    }
    *value = v;
    return 0;
}

/* Reads a whole small file into buf (NUL-terminated); returns bytes or -errno. */
ssize_t read_file(const char *path, char *buf, size_t size)
{
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        return -errno;
    }
    while (n + 1 < size) {
        ssize_t r = read(fd, buf + n, size - 1 - n);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int err = errno;

            close(fd);
            return -err;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(fd);
    return (ssize_t)n;
}

double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_seconds(double seconds)
{
    struct timespec ts = {
        .tv_sec = (time_t)seconds,
        .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9),
    };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* ---- behaviours ---------------------------------------------------------- */

static int cmd_exit(int argc, char **argv)
{
    long code;

    if (parse_long(argv[0], 0, 255, &code) < 0) {
        dprintf(STDERR_FILENO, "boxcheck: exit: bad status `%s`\n", argv[0]);
        return 2;
    }
    exit((int)code);
}

static int cmd_sleep(int argc, char **argv)
{
    double seconds;

    if (parse_seconds(argv[0], &seconds) < 0) {
        dprintf(STDERR_FILENO, "boxcheck: sleep: bad duration `%s`\n", argv[0]);
        return 2;
    }
    sleep_seconds(seconds);
    return 0;
}

static void on_signal(int sig)
{
}

/*
 * Prints `ready`, then `signal=N` for every signal received, until SIGTERM
 * (printed, then exit 0) or the timeout (prints `timeout`, exit 1).  Every
 * catchable signal has a handler: as pid 1 of a pid namespace, a signal whose
 * action is the default is dropped by the kernel before it is ever pending.
 * The handlers never run, the signals stay blocked and are taken with
 * sigtimedwait, so each one is reported exactly once, in order.
 */
static int cmd_signals(int argc, char **argv)
{
    double timeout = 60, deadline;
    struct sigaction sa = {.sa_handler = on_signal};
    sigset_t all;

    if (argc > 0 && parse_seconds(argv[0], &timeout) < 0) {
        dprintf(STDERR_FILENO, "boxcheck: signals: bad timeout `%s`\n", argv[0]);
        return 2;
    }
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    sigfillset(&sa.sa_mask);
    for (int sig = 1; sig <= SIGRTMAX; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            sigaction(sig, &sa, NULL); /* glibc refuses its own two RT signals */
        }
    }
    out("ready\n");
    deadline = now_seconds() + timeout;
    for (;;) {
        double left = deadline - now_seconds();
        struct timespec ts;
        siginfo_t info;
        int sig;

        if (left <= 0) {
            out("timeout\n");
            return 1;
        }
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        sig = sigtimedwait(&all, &info, &ts);
        if (sig < 0) {
            continue;
        }
        out("signal=%d\n", sig);
        if (sig == SIGTERM) {
            return 0;
        }
    }
}

/* Waits until PATH exists (another party's go-ahead), polling. */
static int cmd_wait(int argc, char **argv)
{
    double timeout = 60, deadline;
    struct stat st;

    if (argc > 1 && parse_seconds(argv[1], &timeout) < 0) {
        dprintf(STDERR_FILENO, "boxcheck: wait: bad timeout `%s`\n", argv[1]);
        return 2;
    }
    deadline = now_seconds() + timeout;
    while (lstat(argv[0], &st) < 0) {
        if (now_seconds() >= deadline) {
            out_verdict("wait", argv[0], ETIMEDOUT);
            return 1;
        }
        poll(NULL, 0, 10);
    }
    out_verdict("wait", argv[0], 0);
    return 0;
}

static int cmd_echo(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        out("%s%s", i ? " " : "", argv[i]);
    }
    out("\n");
    return 0;
}

/* Copies a file to stdout unchanged. */
static int cmd_cat(int argc, char **argv)
{
    char buf[4096];
    int fd = open(argv[0], O_RDONLY | O_CLOEXEC | O_NOCTTY);
    ssize_t n;

    if (fd < 0) {
        out_verdict("cat", argv[0], errno);
        return 1;
    }
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        if (write(out_fd, buf, (size_t)n) != n) {
            break;
        }
    }
    close(fd);
    return 0;
}

/* ---- hook ---------------------------------------------------------------- */

static int write_atomically(const char *path, const char *data, size_t len, bool as_report)
{
    char tmp[PATH_MAX];
    int fd, saved = out_fd;
    int err = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    if (as_report) {
        out_fd = fd;
        cmd_report(0, NULL);
        out_fd = saved;
    } else if (write(fd, data, len) != (ssize_t)len) {
        err = errno ? errno : EIO;
    }
    if (close(fd) < 0 && err == 0) {
        err = errno;
    }
    if (err == 0 && rename(tmp, path) < 0) {
        err = errno;
    }
    if (err != 0) {
        unlink(tmp);
    }
    return -err;
}

/*
 * hook PREFIX: acts as an OCI hook.  Writes the process report (argv, env,
 * cwd, namespaces...) to PREFIX.report, then the bytes received on stdin to
 * PREFIX.stdin; each file appears whole (temp file + rename), the stdin file
 * last, so a test waits for it and then reads both.
 */
static int cmd_hook(int argc, char **argv)
{
    char path[PATH_MAX];
    char *buf = malloc(HOOK_STDIN_MAX);
    size_t n = 0;
    int r;

    if (!buf) {
        return 1;
    }
    while (n < HOOK_STDIN_MAX) {
        ssize_t got = read(STDIN_FILENO, buf + n, HOOK_STDIN_MAX - n);

        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        n += (size_t)got;
    }
    snprintf(path, sizeof(path), "%s.report", argv[0]);
    r = write_atomically(path, NULL, 0, true);
    if (r == 0) {
        snprintf(path, sizeof(path), "%s.stdin", argv[0]);
        r = write_atomically(path, buf, n, false);
    }
    free(buf);
    if (r < 0) {
        dprintf(STDERR_FILENO, "boxcheck: hook: write `%s`: %s\n", path, strerror(-r));
        return 1;
    }
    return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

struct command {
    const char *name;
    int min_args;
    int max_args;
    int (*run)(int argc, char **argv);
    const char *usage;
};

static const struct command commands[] = {
    {"report", 0, 0, cmd_report, "report                  ids, caps, limits, ns, fds, mounts, env"},
    {"fds", 0, 0, cmd_fds, "fds                     fd.N=target for each open fd"},
    {"tty", 0, 0, cmd_tty, "tty                     isatty, ttyname, session, winsize"},
    {"exit", 1, 1, cmd_exit, "exit N                  exit with status N"},
    {"sleep", 1, 1, cmd_sleep, "sleep SECONDS           sleep"},
    {"signals", 0, 1, cmd_signals, "signals [SECONDS]       ready, then signal=N until TERM"},
    {"wait", 1, 2, cmd_wait, "wait PATH [SECONDS]     wait until PATH exists"},
    {"echo", 0, INT_MAX, cmd_echo, "echo TEXT...            print TEXT"},
    {"cat", 1, 1, cmd_cat, "cat PATH                copy PATH to stdout"},
    {"write", 2, 2, cmd_write, "write PATH TEXT         write TEXT and a newline to PATH"},
    {"append", 2, 2, cmd_append, "append PATH TEXT        append TEXT and a newline to PATH"},
    {"read", 1, 1, cmd_read, "read PATH               read:PATH=ok:CONTENT"},
    {"ls", 1, 1, cmd_ls, "ls DIR                  ls:DIR=sorted,names"},
    {"stat", 1, 1, cmd_stat, "stat PATH               stat:PATH=type mode uid gid size rdev"},
    {"open", 2, 2, cmd_open, "open PATH r|w|rw        open:PATH=ok|err:ENAME"},
    {"mknod", 4, 4, cmd_mknod, "mknod PATH c|b MAJ MIN  mknod:PATH=ok|err:ENAME"},
    {"sethostname", 1, 1, cmd_sethostname, "sethostname NAME        sethostname:NAME=..."},
    {"chown", 3, 3, cmd_chown, "chown PATH UID GID      chown:PATH=..."},
    {"exe-race", 2, 2, cmd_exe_race,
     "exe-race SECONDS STOP   try to reopen others' exe for writing"},
    {"sched", 0, 0, cmd_sched,
     "sched                   scheduler, I/O priority, personality, clocks"},
    {"alloc", 1, 1, cmd_alloc, "alloc MIB               touch MIB of memory: alloc=ok"},
    {"hugemap", 1, 1, cmd_hugemap, "hugemap N               map and touch N 2 MiB huge pages"},
    {"fork", 1, 1, cmd_fork, "fork N                  forked=K [fork_error=ENAME]"},
    {"kill", 2, 2, cmd_kill, "kill PID SIGNAL         kill:PID=..."},
    {"hook", 1, 1, cmd_hook, "hook PREFIX             OCI hook: PREFIX.report, PREFIX.stdin"},
};

static void usage(void)
{
    dprintf(STDERR_FILENO, "usage: boxcheck COMMAND [ARGS] [-- COMMAND [ARGS]]...\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        dprintf(STDERR_FILENO, "  %s\n", commands[i].usage);
    }
}

int main(int argc, char **argv)
{
    int status = 0;
    int i = 1;

    main_argc = argc;
    main_argv = argv;
    if (argc < 2) {
        usage();
        return 2;
    }
    while (i < argc) {
        const struct command *cmd = NULL;
        int start = i + 1, end = start;

        while (end < argc && strcmp(argv[end], "--") != 0) {
            end++;
        }
        for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
            if (strcmp(argv[i], commands[c].name) == 0) {
                cmd = &commands[c];
            }
        }
        if (!cmd) {
            dprintf(STDERR_FILENO, "boxcheck: unknown command `%s`\n", argv[i]);
            usage();
            return 2;
        }
        if (end - start < cmd->min_args || end - start > cmd->max_args) {
            dprintf(STDERR_FILENO, "boxcheck: usage: %s\n", cmd->usage);
            return 2;
        }
        status = cmd->run(end - start, argv + start);
        i = end + 1;
    }
    return status;
}
