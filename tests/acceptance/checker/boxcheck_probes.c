/*
 * boxcheck probes: each tries one thing and prints `op:ARG=ok` or
 * `op:ARG=err:ENAME` (or its own key=value lines), succeeding either way, so
 * that a test reads the verdict.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "boxcheck.h"

#define READ_SHOW_MAX 4096

static int write_text(const char *op, const char *path, const char *text, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | flags, 0644);
    int err = 0;
    size_t len = strlen(text);
    char *line;

    if (fd < 0) {
        out_verdict(op, path, errno);
        return 0;
    }
    /* One write call, so concurrent appenders never interleave a line. */
    line = malloc(len + 2);
    if (!line) {
        err = ENOMEM;
    } else {
        memcpy(line, text, len);
        line[len] = '\n';
        if (write(fd, line, len + 1) != (ssize_t)(len + 1)) {
            err = errno ? errno : EIO;
        }
        free(line);
    }
    if (close(fd) < 0 && err == 0) {
        err = errno;
    }
    out_verdict(op, path, err);
    return 0;
}

int cmd_write(int argc, char **argv)
{
    return write_text("write", argv[0], argv[1], O_TRUNC);
}

int cmd_append(int argc, char **argv)
{
    return write_text("append", argv[0], argv[1], O_APPEND);
}

int cmd_read(int argc, char **argv)
{
    char buf[READ_SHOW_MAX + 1];
    ssize_t n = read_file(argv[0], buf, sizeof(buf));

    if (n < 0) {
        out_verdict("read", argv[0], (int)-n);
        return 0;
    }
    out("read:%s=ok:", argv[0]);
    out_escaped(buf, (size_t)n);
    out("\n");
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_ls(int argc, char **argv)
{
    DIR *dir = opendir(argv[0]);
    char *names[1024];
    size_t n = 0;
    struct dirent *de;

    if (!dir) {
        out_verdict("ls", argv[0], errno);
        return 0;
    }
    while ((de = readdir(dir)) && n < sizeof(names) / sizeof(names[0])) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(dir);
    qsort(names, n, sizeof(names[0]), cmp_names);
    out("ls:%s=", argv[0]);
    for (size_t i = 0; i < n; i++) {
        out("%s%s", i ? "," : "", names[i] ? names[i] : "?");
        free(names[i]);
    }
    out("\n");
    return 0;
}

static const char *file_type(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
        return "reg";
    case S_IFDIR:
        return "dir";
    case S_IFLNK:
        return "lnk";
    case S_IFCHR:
        return "chr";
    case S_IFBLK:
        return "blk";
    case S_IFIFO:
        return "fifo";
    case S_IFSOCK:
        return "sock";
    default:
        return "unknown";
    }
}

/* `stat:PATH=type=T mode=0MMMM uid=U gid=G size=S rdev=MAJ:MIN` (lstat). */
int cmd_stat(int argc, char **argv)
{
    struct stat st;

    if (lstat(argv[0], &st) < 0) {
        out_verdict("stat", argv[0], errno);
        return 0;
    }
    out("stat:%s=type=%s mode=%04o uid=%u gid=%u size=%lld rdev=%u:%u\n", argv[0],
        file_type(st.st_mode), (unsigned)(st.st_mode & 07777), st.st_uid, st.st_gid,
        (long long)st.st_size, major(st.st_rdev), minor(st.st_rdev));
    return 0;
}

/* Opens PATH for r, w or rw and closes it again: nothing is written. */
int cmd_open(int argc, char **argv)
{
    int flags;
    int fd;

    if (strcmp(argv[1], "r") == 0) {
        flags = O_RDONLY;
    } else if (strcmp(argv[1], "w") == 0) {
        flags = O_WRONLY;
    } else if (strcmp(argv[1], "rw") == 0) {
        flags = O_RDWR;
    } else {
        dprintf(STDERR_FILENO, "boxcheck: open: mode must be r, w or rw, not `%s`\n", argv[1]);
        return 2;
    }
    fd = open(argv[0], flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    out_verdict("open", argv[0], fd < 0 ? errno : 0);
    if (fd >= 0) {
        close(fd);
    }
    return 0;
}

/* mknod PATH c|b MAJOR MINOR: a device probe (needs CAP_MKNOD and the cgroup's leave). */
int cmd_mknod(int argc, char **argv)
{
    long maj, min;
    mode_t type;

    if (strcmp(argv[1], "c") == 0) {
        type = S_IFCHR;
    } else if (strcmp(argv[1], "b") == 0) {
        type = S_IFBLK;
    } else {
        dprintf(STDERR_FILENO, "boxcheck: mknod: type must be c or b\n");
        return 2;
    }
    if (parse_long(argv[2], 0, 4095, &maj) < 0 || parse_long(argv[3], 0, 1048575, &min) < 0) {
        dprintf(STDERR_FILENO, "boxcheck: mknod: bad device number\n");
        return 2;
    }
    out_verdict("mknod", argv[0],
                mknod(argv[0], type | 0600, makedev((unsigned)maj, (unsigned)min)) < 0 ? errno : 0);
    return 0;
}

/* sethostname NAME: a CAP_SYS_ADMIN probe. */
int cmd_sethostname(int argc, char **argv)
{
    out_verdict("sethostname", argv[0], sethostname(argv[0], strlen(argv[0])) < 0 ? errno : 0);
    return 0;
}

/* chown PATH UID GID: a CAP_CHOWN probe. */
int cmd_chown(int argc, char **argv)
{
    long uid, gid;

    if (parse_long(argv[1], 0, UINT_MAX - 1, &uid) < 0 ||
        parse_long(argv[2], 0, UINT_MAX - 1, &gid) < 0) {
        dprintf(STDERR_FILENO, "boxcheck: chown: bad id\n");
        return 2;
    }
    out_verdict("chown", argv[0], lchown(argv[0], (uid_t)uid, (gid_t)gid) < 0 ? errno : 0);
    return 0;
}

/* kill PID SIGNAL: a CAP_KILL probe; prints `kill:PID=...`. */
int cmd_kill(int argc, char **argv)
{
    long pid, sig;

    if (parse_long(argv[0], INT_MIN, INT_MAX, &pid) < 0 || parse_long(argv[1], 0, 64, &sig) < 0) {
        dprintf(STDERR_FILENO, "boxcheck: kill: bad pid or signal\n");
        return 2;
    }
    out_verdict("kill", argv[0], kill((pid_t)pid, (int)sig) < 0 ? errno : 0);
    return 0;
}

/*
 * fork N: forks up to N children that wait to be killed, then kills them.
 * Prints `forked=K` and, when a fork failed, `fork_error=ENAME` (a probe for
 * the pids limit).
 */
int cmd_fork(int argc, char **argv)
{
    pid_t children[1024];
    long n;
    int k = 0, err = 0;

    if (parse_long(argv[0], 1, 1024, &n) < 0) {
        dprintf(STDERR_FILENO, "boxcheck: fork: count must be 1..1024\n");
        return 2;
    }
    for (; k < n; k++) {
        pid_t pid = fork();

        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
            for (;;) {
                pause();
            }
        }
        if (pid < 0) {
            err = errno;
            break;
        }
        children[k] = pid;
    }
    out("forked=%d\n", k);
    if (err) {
        out("fork_error=%s\n", errname(err));
    }
    for (int i = 0; i < k; i++) {
        kill(children[i], SIGKILL);
        while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR) {
        }
    }
    return 0;
}

#define RACE_HELD_MAX 256

static pid_t seen_pids[4096];
static int nseen_pids;

static void remember_pid(pid_t pid)
{
    for (int i = 0; i < nseen_pids; i++) {
        if (seen_pids[i] == pid) {
            return;
        }
    }
    if (nseen_pids < (int)(sizeof(seen_pids) / sizeof(seen_pids[0]))) {
        seen_pids[nseen_pids++] = pid;
    }
}

/*
 * exe-race SECONDS STOPFILE: the in-container half of CVE-2019-5736.  Until
 * STOPFILE exists or SECONDS pass, it scans /proc for other processes, holds
 * an O_PATH descriptor on each one's executable, and tries to reopen every
 * held one for writing through /proc/self/fd (which works after the process
 * has exited, when the file is no longer busy).  It never writes.  Prints
 * `exe-race:ready`, then `exe-race:writable=TARGET` for each executable that
 * it could have written (`exe-race:sealed=TARGET` for a memfd that opens but
 * is sealed against writes), then `exe-race:seen=N` (other pids seen) and
 * `exe-race:held=N` (executables held).
 */
int cmd_exe_race(int argc, char **argv)
{
    int held[RACE_HELD_MAX];
    int nheld = 0, next = 0;
    long total_held = 0;
    pid_t self = getpid();
    double seconds, deadline;
    struct stat st;

    if (parse_seconds(argv[0], &seconds) < 0) {
        dprintf(STDERR_FILENO, "boxcheck: exe-race: bad duration `%s`\n", argv[0]);
        return 2;
    }
    deadline = now_seconds() + seconds;
    out("exe-race:ready\n");
    while (now_seconds() < deadline && lstat(argv[1], &st) < 0) {
        DIR *dir = opendir("/proc");
        struct dirent *de;

        while (dir && (de = readdir(dir))) {
            char path[64];
            long pid;
            int fd;

            if (parse_long(de->d_name, 1, INT_MAX, &pid) < 0 || pid == self) {
                continue;
            }
            remember_pid((pid_t)pid);
            snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
            fd = open(path, O_PATH | O_CLOEXEC);
            if (fd < 0) {
                continue;
            }
            if (nheld == RACE_HELD_MAX) {
                close(held[next]);
                held[next] = fd;
                next = (next + 1) % RACE_HELD_MAX;
            } else {
                held[nheld++] = fd;
            }
            total_held++;
        }
        if (dir) {
            closedir(dir);
        }
        for (int i = 0; i < nheld; i++) {
            char path[64], target[PATH_MAX];
            ssize_t n;
            int fd, seals;

            snprintf(path, sizeof(path), "/proc/self/fd/%d", held[i]);
            fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
            if (fd < 0) {
                continue;
            }
            /* A memfd sealed against writes opens, but never writes. */
            seals = fcntl(fd, F_GET_SEALS);
            close(fd);
            n = readlink(path, target, sizeof(target) - 1);
            target[n < 0 ? 0 : n] = '\0';
            if (seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))) {
                out("exe-race:sealed=%s\n", target);
            } else {
                out("exe-race:writable=%s\n", target);
            }
            close(held[i]);
            held[i] = held[--nheld];
            i--;
        }
    }
    out("exe-race:seen=%d\nexe-race:held=%ld\n", nseen_pids, total_held);
    for (int i = 0; i < nheld; i++) {
        close(held[i]);
    }
    return 0;
}

/* Terminal facts: isatty, ttyname, session, foreground group, window size. */
int cmd_tty(int argc, char **argv)
{
    struct winsize ws;
    int fd;

    for (fd = 0; fd <= 2; fd++) {
        char name[256];

        out("isatty.%d=%d\n", fd, isatty(fd));
        if (ttyname_r(fd, name, sizeof(name)) == 0) {
            out("ttyname.%d=%s\n", fd, name);
        }
    }
    out("sid=%d\npgid=%d\ntcpgrp=%d\n", getsid(0), getpgrp(), tcgetpgrp(STDIN_FILENO));
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
        out("winsize=%ux%u\n", ws.ws_row, ws.ws_col);
    }
    fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    out_verdict("open", "/dev/tty", fd < 0 ? errno : 0);
    if (fd >= 0) {
        close(fd);
    }
    return 0;
}

/* What the scheduler, the I/O scheduler and the clocks say about this
 * process: sched.policy/priority/nice/flags, ioprio.class/level,
 * personality, clock.monotonic/boottime (seconds). */
int cmd_sched(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct {
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
    } a = {0};
    if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) == 0)
        out("sched.policy=%u\nsched.priority=%u\nsched.nice=%d\nsched.flags=%llu\n"
            "sched.runtime=%llu\n",
            a.policy, a.priority, a.nice, (unsigned long long)a.flags,
            (unsigned long long)a.runtime);
    else
        out("sched=err:%s\n", errname(errno));
    long io = syscall(SYS_ioprio_get, 1, 0);
    if (io >= 0)
        out("ioprio.class=%ld\nioprio.level=%ld\n", io >> 13, io & 0x1fff);
    out("personality=0x%x\n", (unsigned)personality(0xffffffff));
    struct timespec mono, boot;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    out("clock.monotonic=%lld\nclock.boottime=%lld\n", (long long)mono.tv_sec,
        (long long)boot.tv_sec);
    return 0;
}

/* alloc MIB: touches MIB mebibytes of anonymous memory, one page at a time,
 * printing alloc.progress=N every 8 MiB so that the test sees how far it got
 * before the OOM killer stopped it; alloc=ok at the end. */
int cmd_alloc(int argc, char **argv)
{
    long mib;
    (void)argc;
    if (parse_long(argv[0], 1, 65536, &mib) < 0) {
        dprintf(STDERR_FILENO, "boxcheck: alloc: MIB must be 1..65536\n");
        return 2;
    }
    for (long i = 0; i < mib; i++) {
        char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            out("alloc=err:%s\n", errname(errno));
            return 1;
        }
        for (long off = 0; off < (1 << 20); off += 4096)
            p[off] = 1;
        if (i % 8 == 7)
            out("alloc.progress=%ld\n", i + 1);
    }
    out("alloc=ok\n");
    return 0;
}

/* hugemap N: maps N huge pages of the default size and touches them:
 * hugemap=ok, or hugemap=err:ENAME when the mapping is refused. */
int cmd_hugemap(int argc, char **argv)
{
    long n;
    (void)argc;
    if (parse_long(argv[0], 1, 64, &n) < 0) {
        dprintf(STDERR_FILENO, "boxcheck: hugemap: N must be 1..64\n");
        return 2;
    }
    size_t len = (size_t)n * (2u << 20);
    char *p =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (p == MAP_FAILED) {
        out("hugemap=err:%s\n", errname(errno));
        return 0;
    }
    for (size_t off = 0; off < len; off += 2u << 20)
        p[off] = 1;
    out("hugemap=ok\n");
    return 0;
}
