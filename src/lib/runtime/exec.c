/* `exec`: a new process in a running container. The process is cloned
 * straight into the container's cgroup2 directory and pid namespace, joins
 * its v1 cgroups and every other namespace through the init's pidfd (one
 * setns), takes the container's process settings with the caller's
 * overrides, and is exec'd through the sealed trampoline like the init. */
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/parse.h"
#include "lib/base/resolve.h"
#include "lib/runtime/container.h"
#include "lib/runtime/launch.h"
#include "lib/runtime/opened.h"
#include "lib/runtime/process.h"
#include "lib/runtime/seccomp.h"
#include "lib/runtime/spec_json.h"
#include "lib/runtime/tty.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

struct exec_ctx {
    const struct box_exec_opts *o;
    struct box_spec spec; /* the process to run, and the container's namespaces */
    struct box_cgroups cg;
    int pidfd;                  /* the container's init */
    int sync[2];                /* [0] ours, [1] the child's: errors, or EOF once exec'd */
    int console;                /* connected --console-socket, or -1 */
    int relay;                  /* exec -t in the foreground: our end of the console pair */
    struct box_seccomp_bpf bpf; /* the container's filter, compiled before the clone */
    int cgroupfd;               /* the container's cgroup2 directory, or -1 */
    uint64_t ns_flags;
};

static int add_strings(json_t *arr, char **v)
{
    for (; v && *v; v++)
        if (json_array_append_new(arr, json_string(*v)) < 0)
            return -ENOMEM;
    return 0;
}

/* The container's process object with the command line's overrides. */
static int override_process(const struct box_exec_opts *o, json_t *proc, struct box_err *err)
{
    if (!o->args || !o->args[0])
        return box_err_set(err, EINVAL, "exec: a command to run is required");
    json_t *args = json_array(), *env = json_object_get(proc, "env");
    add_strings(args, o->args);
    json_object_set_new(proc, "args", args);
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(proc, "env", env);
    }
    add_strings(env, o->env);
    if (o->cwd)
        json_object_set_new(proc, "cwd", json_string(o->cwd));
    json_object_set_new(proc, "terminal", json_boolean(o->tty));
    if (o->no_new_privs)
        json_object_set_new(proc, "noNewPrivileges", json_true());
    json_t *user = json_object_get(proc, "user");
    if (!json_is_object(user)) {
        user = json_object();
        json_object_set_new(proc, "user", user);
    }
    if (o->has_user) {
        json_object_set_new(user, "uid", json_integer(o->uid));
        json_object_set_new(user, "gid", json_integer(o->has_gid ? o->gid : 0));
    }
    if (o->n_gids) {
        json_t *g = json_array();
        for (size_t i = 0; i < o->n_gids; i++)
            json_array_append_new(g, json_integer(o->gids[i]));
        json_object_set_new(user, "additionalGids", g);
    }
    if (o->caps && o->caps[0]) {
        json_t *caps = json_object_get(proc, "capabilities");
        if (!json_is_object(caps)) {
            caps = json_object();
            json_object_set_new(proc, "capabilities", caps);
        }
        static const char *const sets[] = {"bounding", "effective", "permitted"};
        for (size_t i = 0; i < BOX_ARRAY_SIZE(sets); i++) {
            json_t *set = json_object_get(caps, sets[i]);
            if (!json_is_array(set)) {
                set = json_array();
                json_object_set_new(caps, sets[i], set);
            }
            add_strings(set, o->caps);
        }
    }
    return 0;
}

/* Parses the process to run into c->spec, together with the container's
 * namespaces (and anything else exec must honour from the config). */
static int build_process(struct exec_ctx *c, const struct box_opened *op, struct box_err *err)
{
    const struct box_exec_opts *o = c->o;
    json_t *cfg = op->st.config;
    json_t *proc = NULL;
    if (o->process_file) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (box_read_file(AT_FDCWD, o->process_file, BOX_SPEC_MAX_BYTES, &text, &len, err) < 0)
            return box_err_prefix(err, "--process");
        json_error_t jerr;
        proc = box_json_loadb_config(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!proc || !json_is_object(proc)) {
            json_decref(proc);
            return box_err_set(err, EINVAL, "--process `%s`: line %d column %d: %s",
                               o->process_file, jerr.line, jerr.column,
                               proc ? "must be an object" : jerr.text);
        }
    } else {
        proc = json_deep_copy(json_object_get(cfg, "process"));
        if (!proc)
            proc = json_object();
        if (override_process(o, proc, err) < 0) {
            json_decref(proc);
            return -err->code;
        }
    }
    json_t *doc =
        json_pack("{s:O?, s:o}", "ociVersion", json_object_get(cfg, "ociVersion"), "process", proc);
    json_t *lx = json_object_get(cfg, "linux");
    if (doc && json_is_object(lx)) {
        json_t *l = json_object();
        json_object_set(l, "namespaces", json_object_get(lx, "namespaces"));
        /* The container's filter holds for every process in it (runc too). */
        json_object_set(l, "seccomp", json_object_get(lx, "seccomp"));
        json_object_set(l, "personality", json_object_get(lx, "personality"));
        json_object_set_new(doc, "linux", l);
    }
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return box_err_set(err, ENOMEM, "exec: build the process");
    int r = box_spec_parse(text, strlen(text), &c->spec, err);
    free(text);
    if (r < 0)
        return r;
    const struct box_process *p = &c->spec.process;
    if (p->n_args == 0 || !p->args[0][0])
        return box_err_set(err, EINVAL, "process.args: must name a program");
    if (!p->cwd || p->cwd[0] != '/')
        return box_err_set(err, EINVAL, "process.cwd: must be an absolute path");
    if (p->terminal && !o->console_socket && o->detach)
        return box_err_set(err, EINVAL, "exec --tty --detach: --console-socket is required");
    /* Its listener fd would have to travel to listenerPath through us;
     * until it does, refuse rather than leave notified calls hanging. */
    if (c->spec.seccomp && c->spec.seccomp->notify)
        return box_err_set(err, EOPNOTSUPP,
                           "linux.seccomp: exec into a container whose profile uses "
                           "SCMP_ACT_NOTIFY is not supported yet");
    return 0;
}

/* The namespaces of the container to join, all at once through the pidfd. */
static uint64_t namespace_flags(const struct box_spec *s)
{
    uint64_t f = 0;
    for (size_t i = 0; i < s->n_namespaces; i++)
        if (s->namespaces[i].type != CLONE_NEWPID)
            f |= (uint64_t)s->namespaces[i].type;
    return f;
}

static void __attribute__((noreturn)) child_fail(int sync, struct box_err *err)
{
    dprintf(sync, "M%s", err->msg);
    _exit(255);
}

/* A pty inside the container: the master goes to the console socket. */
static int exec_console(struct exec_ctx *c, struct box_err *err)
{
    _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    _cleanup_close_ int master = box_root_open(root, "/dev/pts/ptmx", O_RDWR | O_NOCTTY, err);
    if (master < 0)
        return box_err_prefix(err, "exec --tty: open the pty master");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        return box_err_sys(err, errno, "exec --tty: unlock the pty");
    int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (peer < 0)
        return box_err_sys(err, errno, "exec --tty: open the pty peer");
    if (box_launch_send_fd(c->console, master) < 0) {
        close(peer);
        return box_err_sys(err, errno, "--console-socket: send the pty master");
    }
    close(c->console);
    return box_launch_console_attach(peer, err);
}

/* linux.seccomp, as in the init (init.c: load_seccomp); a notify fd
 * cannot come up here (build_process refuses such profiles). */
static void exec_seccomp(int sync, const struct box_seccomp_bpf *bpf, struct box_err *err)
{
    int nfd = -1;
    if (box_seccomp_load_bpf(bpf, &nfd, err) < 0)
        child_fail(sync, err);
    if (nfd >= 0)
        close(nfd);
}

static void __attribute__((noreturn)) exec_child(struct exec_ctx *c)
{
    struct box_err err = {0};
    const struct box_process *p = &c->spec.process;
    int sync = c->sync[1];
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_DUMPABLE, 0);
    int keep[] = {sync, c->console, c->pidfd};
    box_launch_close_fds_except(3 + c->o->preserve_fds, keep, BOX_ARRAY_SIZE(keep));
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (c->cg.path && box_cgroup_join_self(&c->cg, c->cgroupfd >= 0, &err) < 0)
        child_fail(sync, &err);
    /* From the host's procfs, before the container's mounts are ours: its
     * /proc may be anything (see init.c). */
    int last_cap = box_cap_last_cap();
    if (c->ns_flags && setns(c->pidfd, (int)c->ns_flags) < 0)
        child_fail(sync, (box_err_sys(&err, errno, "join the container's namespaces"), &err));
    close(c->pidfd);
    if (box_process_rlimits(p, &err) < 0)
        child_fail(sync, &err);
    if (p->terminal && exec_console(c, &err) < 0)
        child_fail(sync, &err);
    /* Without noNewPrivileges the load needs CAP_SYS_ADMIN, which the
     * credentials may drop (see init.c). */
    if (c->spec.seccomp && !p->no_new_privileges)
        exec_seccomp(sync, &c->bpf, &err);
    if (box_process_sched(&c->spec, &err) < 0)
        child_fail(sync, &err);
    bool userns = (c->ns_flags & CLONE_NEWUSER) != 0;
    if (box_process_credentials(p, last_cap, !userns || p->n_additional_gids, &err) < 0)
        child_fail(sync, &err);
    if (chdir(p->cwd) < 0)
        child_fail(sync, (box_err_sys(&err, errno, "process.cwd `%s`", p->cwd), &err));
    char prog[PATH_MAX];
    if (box_process_find_program(p, prog, sizeof(prog), &err) < 0)
        child_fail(sync, &err);
    umask(p->has_umask ? p->umask : 022);
    int tramp = box_launch_trampoline_fd(&err);
    if (tramp < 0 || box_launch_prepare_fds(c->o->preserve_fds, &err) < 0)
        child_fail(sync, &err);
    if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(sync, (box_err_sys(&err, errno, "process.noNewPrivileges"), &err));
    prctl(PR_SET_PDEATHSIG, 0);
    char fdstr[16];
    snprintf(fdstr, sizeof(fdstr), "%d", sync);
    char **argv = calloc(p->n_args + 3, sizeof(char *));
    if (!argv)
        _exit(255);
    argv[0] = prog;
    argv[1] = fdstr;
    for (size_t i = 0; i < p->n_args; i++)
        argv[i + 2] = p->args[i];
    /* Last, as in the init: fcntl, execveat and the trampoline's fcntl,
     * execve, write and exit are all that run under it before the program. */
    if (c->spec.seccomp && p->no_new_privileges)
        exec_seccomp(sync, &c->bpf, &err);
    char *empty[] = {NULL};
    fcntl(sync, F_SETFD, 0);
    syscall(SYS_execveat, tramp, "", argv, p->env ? p->env : empty, AT_EMPTY_PATH);
    child_fail(sync, (box_err_sys(&err, errno, "exec the trampoline"), &err));
}

/* Reads the child's verdict: EOF once the program is exec'd. */
static int child_verdict(struct exec_ctx *c, pid_t pid, struct box_err *err)
{
    char reply[BOX_ERR_MSG_MAX];
    ssize_t n;
    do {
        n = recv(c->sync[0], reply, sizeof(reply) - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return 0;
    reply[n] = '\0';
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    uint64_t e = 0;
    if (reply[0] == 'E' && box_parse_u64(reply + 1, 4095, &e) == 0)
        return box_err_sys(err, (int)e, "exec `%s`", c->spec.process.args[0]);
    return box_err_set(err, ECANCELED, "%s", reply[0] == 'M' ? reply + 1 : reply);
}

static pid_t clone_exec(struct exec_ctx *c)
{
    struct clone_args args = {
        .flags = c->cgroupfd >= 0 ? CLONE_INTO_CGROUP : 0,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)(c->cgroupfd >= 0 ? c->cgroupfd : 0),
    };
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

static int spawn(struct exec_ctx *c, pid_t *pid, struct box_err *err)
{
    bool pidns = box_spec_namespace(&c->spec, CLONE_NEWPID) != NULL;
    int saved = -1;
    if (pidns) {
        /* Children of ours are born in the container's pid namespace. */
        saved = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
        if (setns(c->pidfd, CLONE_NEWPID) < 0) {
            int e = errno;
            if (saved >= 0)
                close(saved);
            return box_err_sys(err, e, "join the container's pid namespace");
        }
    }
    *pid = clone_exec(c);
    int e = errno;
    if (*pid == 0)
        exec_child(c);
    if (saved >= 0) {
        setns(saved, CLONE_NEWPID);
        close(saved);
    }
    if (*pid < 0)
        return box_err_sys(err, e, "clone the exec process");
    return 0;
}

static int do_exec(struct exec_ctx *c, pid_t *pid, const sigset_t *set, int *exit_code,
                   struct box_err *err)
{
    const struct box_exec_opts *o = c->o;
    struct box_opened op;
    int r = box_opened_open(o->root, o->id, &op, err);
    if (r < 0)
        goto out;
    enum box_status s = box_state_status(op.rootfd, &op.st);
    if (s != BOX_STATUS_RUNNING && s != BOX_STATUS_CREATED) {
        r = box_err_set(err, EINVAL, "container `%s` is %s: cannot exec in it", o->id,
                        box_status_name(s));
        goto out;
    }
    if ((r = build_process(c, &op, err)) < 0)
        goto out;
    if (c->spec.seccomp &&
        (r = box_seccomp_prepare(op.rootfd,
                                 json_object_get(json_object_get(c->spec.json, "linux"), "seccomp"),
                                 c->spec.seccomp, &c->bpf, err)) < 0)
        goto out;
    c->pidfd = box_pidfd_checked(op.st.pid, op.st.start_time);
    if (c->pidfd < 0) {
        r = box_err_set(err, ESRCH, "container `%s` is not running", o->id);
        goto out;
    }
    c->ns_flags = namespace_flags(&c->spec);
    box_opened_cgroups(&op, &c->cg);
    c->cgroupfd = c->cg.path ? box_cgroup_v2_open(&c->cg) : -1;
    if (o->console_socket &&
        (c->console = box_launch_connect_console(o->console_socket, err)) < 0) {
        r = c->console;
        goto out;
    }
    /* exec -t in the foreground: the pty master comes back to us. */
    int pair[2] = {-1, -1};
    if (c->spec.process.terminal && !o->console_socket) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
            r = box_err_sys(err, errno, "exec --tty: socketpair");
            goto out;
        }
        c->console = pair[1];
        c->relay = pair[0];
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->sync) < 0) {
        r = box_err_sys(err, errno, "exec: socketpair");
        goto out;
    }
    /* The container's lock is not held while the process runs. */
    box_container_dir_close(&op.dir);
    if ((r = spawn(c, pid, err)) < 0)
        goto out;
    close(c->sync[1]);
    c->sync[1] = -1;
    if ((r = child_verdict(c, *pid, err)) < 0)
        goto out;
    if (o->pid_file && (r = box_write_pid_file(o->pid_file, *pid, err)) < 0)
        goto out;
    if (c->relay >= 0) {
        close(c->console);
        c->console = -1;
        int master = box_tty_recv_master(c->relay, err);
        if (master < 0) {
            r = master;
            goto out;
        }
        r = box_tty_relay(master, *pid, set, exit_code);
        close(master);
    } else if (!o->detach) {
        r = box_wait_child(*pid, set, exit_code);
    }
    if (r < 0)
        box_err_sys(err, -r, "wait for the exec process");
out:
    box_opened_free(&op);
    return r;
}

int box_container_exec(const struct box_exec_opts *o, int *exit_code, struct box_err *err)
{
    struct exec_ctx c = {
        .o = o, .pidfd = -1, .sync = {-1, -1}, .console = -1, .relay = -1, .cgroupfd = -1};
    sigset_t set, old;
    box_forwarded_signals(&set);
    sigprocmask(SIG_BLOCK, &set, &old);
    pid_t pid = 0;
    *exit_code = 0;
    int r = do_exec(&c, &pid, &set, exit_code, err);
    sigprocmask(SIG_SETMASK, &old, NULL);
    int fds[] = {c.pidfd, c.sync[0], c.sync[1], c.console, c.relay, c.cgroupfd};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    box_cgroup_free(&c.cg);
    box_seccomp_bpf_free(&c.bpf);
    box_spec_free(&c.spec);
    return r;
}
