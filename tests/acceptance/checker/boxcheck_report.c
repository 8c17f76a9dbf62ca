/*
 * boxcheck report: what the runtime applied to this process, one key=value
 * per line (identity, capabilities, limits, namespaces, fds, cgroups, mounts,
 * environment).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "boxcheck.h"

extern char **environ;

static void report_ids(void)
{
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    gid_t groups[NGROUPS_MAX];
    int n;

    getresuid(&ruid, &euid, &suid);
    getresgid(&rgid, &egid, &sgid);
    out("uid=%u\neuid=%u\nsuid=%u\n", ruid, euid, suid);
    out("gid=%u\negid=%u\nsgid=%u\n", rgid, egid, sgid);

    n = getgroups(NGROUPS_MAX, groups);
    /* Sorted, so that tests compare a stable list. */
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && groups[j - 1] > groups[j]; j--) {
            gid_t t = groups[j];

            groups[j] = groups[j - 1];
            groups[j - 1] = t;
        }
    }
    out("groups=");
    for (int i = 0; i < n; i++) {
        out("%s%u", i ? "," : "", groups[i]);
    }
    out("\n");
}

/* Fields of /proc/self/status, renamed to the report's keys. */
static const struct {
    const char *field;
    const char *key;
} status_fields[] = {
    {"Umask", "umask"},
    {"CapInh", "cap.inh"},
    {"CapPrm", "cap.prm"},
    {"CapEff", "cap.eff"},
    {"CapBnd", "cap.bnd"},
    {"CapAmb", "cap.amb"},
    {"NoNewPrivs", "no_new_privs"},
    {"Seccomp", "seccomp"},
    {"Seccomp_filters", "seccomp_filters"},
    {"Speculation_Store_Bypass", "speculation_store_bypass"},
};

static void report_status(void)
{
    char buf[16384];
    char *line, *save = NULL;

    if (read_file("/proc/self/status", buf, sizeof(buf)) < 0) {
        out("status=err:%s\n", errname(errno));
        return;
    }
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        char *value;

        if (!colon) {
            continue;
        }
        *colon = '\0';
        value = colon + 1;
        value += strspn(value, " \t");
        for (size_t i = 0; i < sizeof(status_fields) / sizeof(status_fields[0]); i++) {
            if (strcmp(line, status_fields[i].field) == 0) {
                out("%s=%s\n", status_fields[i].key, value);
            }
        }
    }
}

static void report_proc_value(const char *key, const char *path)
{
    char buf[256];
    ssize_t n = read_file(path, buf, sizeof(buf));

    if (n < 0) {
        out("%s=err:%s\n", key, errname((int)-n));
        return;
    }
    while (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
    }
    out("%s=%s\n", key, buf);
}

static const struct {
    int resource;
    const char *name;
} rlimits[] = {
    {RLIMIT_AS, "AS"},           {RLIMIT_CORE, "CORE"},         {RLIMIT_CPU, "CPU"},
    {RLIMIT_DATA, "DATA"},       {RLIMIT_FSIZE, "FSIZE"},       {RLIMIT_LOCKS, "LOCKS"},
    {RLIMIT_MEMLOCK, "MEMLOCK"}, {RLIMIT_MSGQUEUE, "MSGQUEUE"}, {RLIMIT_NICE, "NICE"},
    {RLIMIT_NOFILE, "NOFILE"},   {RLIMIT_NPROC, "NPROC"},       {RLIMIT_RSS, "RSS"},
    {RLIMIT_RTPRIO, "RTPRIO"},   {RLIMIT_RTTIME, "RTTIME"},     {RLIMIT_SIGPENDING, "SIGPENDING"},
    {RLIMIT_STACK, "STACK"},
};

static void out_rlim(rlim_t v)
{
    if (v == RLIM_INFINITY) {
        out("unlimited");
    } else {
        out("%llu", (unsigned long long)v);
    }
}

static void report_rlimits(void)
{
    for (size_t i = 0; i < sizeof(rlimits) / sizeof(rlimits[0]); i++) {
        struct rlimit rl;

        if (getrlimit(rlimits[i].resource, &rl) < 0) {
            out("rlimit.%s=err:%s\n", rlimits[i].name, errname(errno));
            continue;
        }
        out("rlimit.%s=", rlimits[i].name);
        out_rlim(rl.rlim_cur);
        out(":");
        out_rlim(rl.rlim_max);
        out("\n");
    }
}

static const char *const namespaces[] = {
    "cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children",
    "user",   "uts",
};

static void report_namespaces(void)
{
    for (size_t i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++) {
        char path[64], target[256];
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/ns/%s", namespaces[i]);
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0) {
            out("ns.%s=err:%s\n", namespaces[i], errname(errno));
            continue;
        }
        target[n] = '\0';
        out("ns.%s=%s\n", namespaces[i], target);
    }
}

static void report_link(const char *key, const char *path)
{
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof(target) - 1);

    if (n < 0) {
        out("%s=err:%s\n", key, errname(errno));
        return;
    }
    out_kv(key, target, (size_t)n);
}

/* Lists open descriptors, leaving out the one used to list them. */
int cmd_fds(int argc, char **argv)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int self;

    if (!dir) {
        out("fds=err:%s\n", errname(errno));
        return 0;
    }
    self = dirfd(dir);
    while ((de = readdir(dir))) {
        char key[64], path[64];
        long fd;

        if (parse_long(de->d_name, 0, INT_MAX, &fd) < 0 || fd == self) {
            continue;
        }
        snprintf(key, sizeof(key), "fd.%ld", fd);
        snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
        report_link(key, path);
    }
    closedir(dir);
    return 0;
}

/* One `mount=TARGET FSTYPE MOUNT_OPTIONS SUPER_OPTIONS` per mountinfo line. */
static void report_mounts(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *line = NULL;
    size_t cap = 0;

    if (!f) {
        out("mount=err:%s\n", errname(errno));
        return;
    }
    while (getline(&line, &cap, f) > 0) {
        char *fields[16] = {0};
        char *save = NULL, *tok;
        int n = 0, sep = -1;

        line[strcspn(line, "\n")] = '\0';
        for (tok = strtok_r(line, " ", &save); tok && n < 16; tok = strtok_r(NULL, " ", &save)) {
            if (sep < 0 && strcmp(tok, "-") == 0) {
                sep = n;
            }
            fields[n++] = tok;
        }
        /* id parent dev root target options [optional...] - fstype source superopts */
        if (n < 10 || sep < 6 || sep + 3 >= n) {
            continue;
        }
        out("mount=%s %s %s %s\n", fields[4], fields[sep + 1], fields[5], fields[sep + 3]);
    }
    free(line);
    fclose(f);
}

static void report_cgroups(void)
{
    char buf[8192];
    char *line, *save = NULL;

    if (read_file("/proc/self/cgroup", buf, sizeof(buf)) < 0) {
        out("cgroup=err:%s\n", errname(errno));
        return;
    }
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        out("cgroup=%s\n", line);
    }
}

static void report_env(void)
{
    for (char **e = environ; e && *e; e++) {
        char key[512];
        const char *eq = strchr(*e, '=');
        size_t klen = eq ? (size_t)(eq - *e) : strlen(*e);

        if (klen > sizeof(key) - 5) {
            klen = sizeof(key) - 5;
        }
        snprintf(key, sizeof(key), "env.%.*s", (int)klen, *e);
        out_kv(key, eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0);
    }
}

int cmd_report(int argc, char **argv)
{
    struct utsname uts;
    char cwd[PATH_MAX];

    for (int i = 0; i < main_argc; i++) {
        char key[32];

        snprintf(key, sizeof(key), "argv.%d", i);
        out_kv(key, main_argv[i], strlen(main_argv[i]));
    }
    out("pid=%d\nppid=%d\n", getpid(), getppid());
    out("sid=%d\npgid=%d\n", getsid(0), getpgrp());
    report_ids();
    if (getcwd(cwd, sizeof(cwd))) {
        out_kv("cwd", cwd, strlen(cwd));
    } else {
        out("cwd=err:%s\n", errname(errno));
    }
    report_link("exe", "/proc/self/exe");
    if (uname(&uts) == 0) {
        out("hostname=%s\ndomainname=%s\n", uts.nodename, uts.domainname);
    }
    report_status();
    out("dumpable=%d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
    out("personality=0x%x\n", (unsigned)personality(0xffffffff));
    report_proc_value("oom_score_adj", "/proc/self/oom_score_adj");
    report_proc_value("loginuid", "/proc/self/loginuid");
    report_rlimits();
    report_namespaces();
    for (int fd = 0; fd <= 2; fd++) {
        out("isatty.%d=%d\n", fd, isatty(fd));
    }
    cmd_fds(0, NULL);
    report_cgroups();
    report_mounts();
    report_env();
    return 0;
}
