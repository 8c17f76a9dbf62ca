#include "lib/runtime/init.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/resolve.h"
#include "lib/runtime/hooks.h"
#include "lib/runtime/launch.h"
#include "lib/runtime/process.h"
#include "lib/runtime/rootfs.h"
#include "lib/runtime/seccomp.h"
#include "lib/runtime/sync.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

char *box_hook_state_json(const struct box_spec *spec, const char *id, const char *status,
                          pid_t pid, const char *bundle, const char *rootfs)
{
    json_t *o = json_object();
    json_object_set_new(o, "ociVersion", json_string(spec->oci_version));
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "pid", json_integer(pid));
    json_object_set_new(o, "bundle", json_string(bundle));
    /* Not in the runtime-spec's state, but hooks (CDI, NVIDIA) look for the
     * root here before reading config.json from the bundle. */
    json_object_set_new(o, "rootfs", json_string(rootfs));
    json_t *root = json_object();
    json_object_set_new(root, "path", json_string(rootfs));
    json_object_set_new(o, "root", root);
    json_t *ann = json_object_get(spec->json, "annotations");
    if (ann)
        json_object_set(o, "annotations", ann);
    else
        json_object_set_new(o, "annotations", json_object());
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void __attribute__((noreturn)) fail(const struct box_init *in, struct box_err *err)
{
    box_sync_send(in->sync_fd, BOX_SYNC_ERROR, err);
    _exit(1);
}

/* linux.seccomp: loads the filter; with SCMP_ACT_NOTIFY the listener fd
 * goes to `box create`, which passes it on to listenerPath (a host path this
 * process, inside the container's mounts, cannot reach). After the load the
 * runtime's system calls are the profile's to allow: see
 * box_seccomp_runtime_syscalls. */
static void load_seccomp(const struct box_init *in, struct box_err *err)
{
    int nfd = -1;
    if (box_seccomp_load_bpf(in->seccomp_bpf, &nfd, err) < 0)
        fail(in, err);
    if (nfd >= 0) {
        if (box_sync_send_fd(in->sync_fd, BOX_SYNC_SECCOMP, nfd) < 0)
            _exit(1);
        close(nfd);
    }
}

/* The host's /dev/null, opened in our new mount namespace (a bind source
 * must belong to it) before anything of the container is touched. */
static int open_devnull(struct box_err *err)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
        if (fd >= 0)
            close(fd);
        return box_err_set(err, ENODEV, "the host's /dev/null is not the null device");
    }
    return fd;
}

static int wait_parent(const struct box_init *in, int want, pid_t *host_pid, struct box_err *err)
{
    struct box_sync_msg m;
    if (box_sync_recv(in->sync_fd, &m) < 0 || m.type != want)
        return box_err_set(err, EPIPE, "lost the parent during setup");
    if (host_pid && m.code > 0)
        *host_pid = m.code;
    return 0;
}

static int join_namespaces(const struct box_spec *s, struct box_err *err)
{
    /* The user namespace first: it owns the others. */
    static const int order[] = {CLONE_NEWUSER, CLONE_NEWNS,     CLONE_NEWNET, CLONE_NEWIPC,
                                CLONE_NEWUTS,  CLONE_NEWCGROUP, CLONE_NEWTIME};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(order); i++) {
        const struct box_namespace *ns = box_spec_namespace(s, order[i]);
        if (!ns || !ns->path)
            continue;
        _cleanup_close_ int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return box_err_sys(err, errno, "linux.namespaces: open %s namespace `%s`",
                               box_ns_name(order[i]), ns->path);
        if (setns(fd, order[i]) < 0)
            return box_err_sys(err, errno, "linux.namespaces: join %s namespace `%s`",
                               box_ns_name(order[i]), ns->path);
    }
    return 0;
}

static int apply_sysctl(const struct box_spec *s, struct box_err *err)
{
    for (size_t i = 0; i < s->n_sysctl; i++) {
        char path[PATH_MAX] = "/proc/sys/";
        size_t off = strlen(path);
        for (const char *k = s->sysctl[i].key; *k && off < sizeof(path) - 1; k++)
            path[off++] = *k == '.' ? '/' : *k;
        path[off] = '\0';
        if (box_write_string(AT_FDCWD, path, s->sysctl[i].value, err) < 0)
            return box_err_prefix(err, "linux.sysctl.%s", s->sysctl[i].key);
    }
    return 0;
}

/* /dev/console itself, as a file we made: whatever the image (or a racer)
 * put at that name is removed, never followed, so that the pty is bound on
 * /dev/console and on nothing a symlink there names (CVE-2025-52565). */
static int console_target(int rootfd, struct box_err *err)
{
    _cleanup_close_ int dev = box_root_mkdirs(rootfd, "/dev", 0755, err);
    if (dev < 0)
        return dev;
    struct stat st;
    if (fstatat(dev, "console", &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode) &&
        unlinkat(dev, "console", S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
        return box_err_sys(err, errno, "remove what is in the way");
    int fd = openat(dev, "console", O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return box_err_sys(err, errno, "create");
    return fd;
}

/* Allocates the pty inside the container's devpts, binds its peer on
 * /dev/console, and sends the master to the console socket. Runs before
 * pivot_root, with every path resolved inside the root; the peer is opened
 * with TIOCGPTPEER, never by a path the image could redirect
 * (CVE-2025-52565). Returns the peer. */
static int console_prepare(const struct box_init *in, int rootfd, struct box_err *err)
{
    const struct box_process *p = &in->spec->process;
    _cleanup_close_ int master = box_root_open(rootfd, "/dev/pts/ptmx", O_RDWR | O_NOCTTY, NULL);
    if (master < 0)
        master = box_root_open(rootfd, "/dev/ptmx", O_RDWR | O_NOCTTY, err);
    if (master < 0)
        return box_err_prefix(err, "process.terminal: open the pty master");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        return box_err_sys(err, errno, "process.terminal: unlock the pty");
    _cleanup_close_ int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (peer < 0)
        return box_err_sys(err, errno, "process.terminal: open the pty peer");
    if (p->console_height || p->console_width) {
        struct winsize ws = {.ws_row = (unsigned short)p->console_height,
                             .ws_col = (unsigned short)p->console_width};
        ioctl(peer, TIOCSWINSZ, &ws);
    }
    _cleanup_close_ int console = console_target(rootfd, err);
    if (console < 0)
        return box_err_prefix(err, "process.terminal: /dev/console");
    struct box_fdpath pp = box_fdpath(peer), cp = box_fdpath(console);
    if (mount(pp.s, cp.s, NULL, MS_BIND, NULL) < 0)
        return box_err_sys(err, errno, "process.terminal: bind the pty on /dev/console");
    if (box_launch_send_fd(in->console_fd, master) < 0)
        return box_err_sys(err, errno, "--console-socket: send the pty master");
    close(in->console_fd);
    return box_steal_fd(&peer);
}

/* The parent makes the v1 cgroups while we build the root: before the first
 * cgroup mount (or after all mounts) we wait for them, join them, and only
 * then enter a new cgroup namespace, which roots itself where we stand. */
struct cgroup_step {
    const struct box_init *in;
    pid_t *host_pid;
    bool done;
};

static int cgroup_ready(void *ctx, struct box_err *err)
{
    struct cgroup_step *st = ctx;
    const struct box_init *in = st->in;
    if (st->done)
        return 0;
    st->done = true;
    if (!in->wait_go_first && wait_parent(in, BOX_SYNC_GO, st->host_pid, err) < 0)
        return -err->code;
    if (in->join_cgroup && box_cgroup_join_self(in->cgroups, in->cloned_into_v2, err) < 0)
        return -err->code;
    if (in->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0)
        return box_err_sys(err, errno, "unshare cgroup namespace");
    return 0;
}

static int write_time_offsets(const struct box_spec *s, struct box_err *err)
{
    char text[128];
    snprintf(text, sizeof(text), "monotonic %lld %u\nboottime %lld %u\n",
             (long long)s->monotonic_secs, s->monotonic_nsecs, (long long)s->boottime_secs,
             s->boottime_nsecs);
    if (box_write_string(AT_FDCWD, "/proc/self/timens_offsets", text, err) < 0)
        return box_err_prefix(err, "linux.timeOffsets");
    return 0;
}

/* Everything up to pivot_root. Returns the pty peer when a terminal was
 * asked for, else -1. */
static int setup(const struct box_init *in, pid_t *host_pid, struct box_err *err)
{
    const struct box_spec *s = in->spec;
    if (in->wait_go_first) {
        if (wait_parent(in, BOX_SYNC_GO, host_pid, err) < 0)
            fail(in, err);
        prctl(PR_SET_DUMPABLE, 0);
        /* The maps are written: take the ids they give root, so that what
         * we create belongs to a mapped owner. */
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
            fail(in, (box_err_sys(err, errno, "become root in the user namespace"), err));
    }
    if (join_namespaces(s, err) < 0)
        fail(in, err);
    if (in->new_timens && unshare(CLONE_NEWTIME) < 0)
        fail(in, (box_err_sys(err, errno, "unshare time namespace"), err));
    /* Only before a process enters the namespace: our children (hooks) and
     * our own exec would. */
    if (in->new_timens && s->has_time_offsets && write_time_offsets(s, err) < 0)
        fail(in, err);
    if (s->hostname && *s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
        fail(in, (box_err_sys(err, errno, "hostname: sethostname"), err));
    if (s->domainname && *s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0)
        fail(in, (box_err_sys(err, errno, "domainname: setdomainname"), err));
    if (apply_sysctl(s, err) < 0)
        fail(in, err);
    if (s->process.has_oom_score_adj) {
        char v[16];
        snprintf(v, sizeof(v), "%d", s->process.oom_score_adj);
        if (box_write_string(AT_FDCWD, "/proc/self/oom_score_adj", v, err) < 0)
            fail(in, (box_err_prefix(err, "process.oomScoreAdj"), err));
    }
    struct cgroup_step step = {.in = in, .host_pid = host_pid};
    struct box_rootfs r = {.cgroup_ready = cgroup_ready,
                           .ctx = &step,
                           .spec = s,
                           .rootfs = in->rootfs,
                           .bundle = in->bundle,
                           .cgroups = in->cgroups,
                           .cgroupns = in->new_cgroupns,
                           .rootfd = -1,
                           .devnullfd = open_devnull(err)};
    if (r.devnullfd < 0)
        fail(in, err);
    if (box_rootfs_prepare(&r, err) < 0)
        fail(in, err);
    int cwd = box_root_mkdirs(r.rootfd, s->process.cwd, 0755, NULL);
    if (cwd >= 0)
        close(cwd);
    if (cgroup_ready(&step, err) < 0)
        fail(in, err);
    if (in->parent_hooks) {
        box_sync_send(in->sync_fd, BOX_SYNC_HOOKS, NULL);
        if (wait_parent(in, BOX_SYNC_HOOKS_DONE, NULL, err) < 0)
            _exit(1); /* the parent reports the hook's failure itself */
    }
    if (s->n_hooks[BOX_HOOK_CREATE_CONTAINER]) {
        _cleanup_free_ char *st =
            box_hook_state_json(s, in->id, "creating", *host_pid, in->bundle, in->rootfs);
        if (box_hooks_run(s, BOX_HOOK_CREATE_CONTAINER, st, in->bundle, err) < 0)
            fail(in, err);
    }
    int peer = -1;
    if (s->process.terminal && (peer = console_prepare(in, r.rootfd, err)) < 0)
        fail(in, err);
    if (box_rootfs_finalize(&r, in->no_pivot, err) < 0)
        fail(in, err);
    close(r.rootfd);
    close(r.devnullfd);
    return peer;
}

void box_init_main(const struct box_init *in)
{
    struct box_err err = {0};
    pid_t host_pid = 0;
    const struct box_spec *s = in->spec;
    const struct box_process *p = &s->process;
    /* Until we are ready, our fate is the parent's; and nothing that later
     * joins the container may ptrace or open this process's memory or exe. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* In a new user namespace the parent writes our id maps first, which a
     * non-dumpable process's /proc files would refuse it when it runs
     * unprivileged: then we turn non-dumpable once the maps are there. */
    if (!in->wait_go_first)
        prctl(PR_SET_DUMPABLE, 0);
    int keep[] = {in->sync_fd, in->listen_fd, in->console_fd};
    box_launch_close_fds_except(3 + in->preserve_fds, keep, BOX_ARRAY_SIZE(keep));
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    umask(0);
    /* Read from the host's procfs now: after pivot_root /proc is whatever the
     * image or a mount put there, and a fake cap_last_cap would leave
     * capabilities in the bounding set (the class of CVE-2019-16884). */
    int last_cap = box_cap_last_cap();
    int peer = setup(in, &host_pid, &err);
    if (peer >= 0 && box_launch_console_attach(peer, &err) < 0)
        fail(in, &err);
    if (box_process_rlimits(p, &err) < 0)
        fail(in, &err);
    /* Without noNewPrivileges, loading a filter takes CAP_SYS_ADMIN, which
     * the credentials may drop: load it before them, as runc does; the
     * profile then has to allow what the init does from here on. */
    if (s->seccomp && !p->no_new_privileges)
        load_seccomp(in, &err);
    /* Real-time policies and I/O classes need capabilities that the
     * credentials may drop. */
    if (box_process_sched(s, &err) < 0)
        fail(in, &err);
    bool userns = box_spec_namespace(s, CLONE_NEWUSER) != NULL;
    if (box_process_credentials(p, last_cap, !userns || p->n_additional_gids, &err) < 0)
        fail(in, &err);
    if (chdir(p->cwd) < 0)
        fail(in, (box_err_sys(&err, errno, "process.cwd `%s`", p->cwd), &err));
    /* A cwd that resolved outside the root (through a leaked fd, say) has
     * no name from here: refuse it rather than start the program there. */
    char here[PATH_MAX];
    if (!getcwd(here, sizeof(here)) || here[0] != '/')
        fail(in,
             (box_err_set(&err, EACCES, "process.cwd `%s` is outside the container root", p->cwd),
              &err));
    char prog[PATH_MAX];
    if (box_process_find_program(p, prog, sizeof(prog), &err) < 0)
        fail(in, &err);
    umask(p->has_umask ? p->umask : 022);
    int tramp = box_launch_trampoline_fd(&err);
    if (tramp < 0 || box_launch_prepare_fds(in->preserve_fds, &err) < 0)
        fail(in, &err);
    if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail(in, (box_err_sys(&err, errno, "process.noNewPrivileges"), &err));
    prctl(PR_SET_PDEATHSIG, 0);
    bool hooks = s->n_hooks[BOX_HOOK_START_CONTAINER] > 0;
    /* Without startContainer hooks the created container waits for `box
     * start` inside the sealed trampoline, so no process of the container
     * ever runs the on-disk runtime binary; the hooks need the runtime, so
     * with them the wait happens here. */
    int fd = hooks ? -1 : in->listen_fd;
    if (!hooks)
        fcntl(fd, F_SETFD, 0);
    char fdstr[16];
    char **argv = calloc(p->n_args + 3, sizeof(char *));
    if (!argv) {
        box_err_set(&err, ENOMEM, "process.args");
        fail(in, &err);
    }
    argv[0] = prog;
    argv[1] = fdstr;
    for (size_t i = 0; i < p->n_args; i++)
        argv[i + 2] = p->args[i];
    /* As late as possible, so that the profile has little of the runtime's
     * own to allow: sendto (READY), close and execveat here, then the
     * trampoline's accept4, close, fcntl, write, execve and exit. With
     * startContainer hooks, they run under the filter too (as in runc). */
    if (s->seccomp && p->no_new_privileges)
        load_seccomp(in, &err);
    if (box_sync_send(in->sync_fd, BOX_SYNC_READY, NULL) < 0)
        _exit(1);
    close(in->sync_fd);
    if (hooks) {
        do {
            fd = accept4(in->listen_fd, NULL, NULL, 0);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0)
            _exit(1);
        close(in->listen_fd);
        _cleanup_free_ char *st =
            box_hook_state_json(s, in->id, "created", host_pid, in->bundle, in->rootfs);
        if (box_hooks_run(s, BOX_HOOK_START_CONTAINER, st, "/", &err) < 0) {
            dprintf(fd, "M%s", err.msg);
            _exit(1);
        }
    }
    snprintf(fdstr, sizeof(fdstr), hooks ? "%d" : "L%d", fd);
    char *empty[] = {NULL};
    syscall(SYS_execveat, tramp, "", argv, p->env ? p->env : empty, AT_EMPTY_PATH);
    int e = errno;
    if (!hooks) {
        do {
            fd = accept4(in->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
    }
    dprintf(fd, "Mexec the trampoline: %s", strerror(e));
    _exit(127);
}
