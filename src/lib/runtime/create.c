/* `create`, the parent side: everything is validated before the first side
 * effect; then state directory, cgroup, clone, and the sync loop with the
 * init. Any failure tears down what was made, in reverse. */
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/parse.h"
#include "lib/cdi/cdi.h"
#include "lib/runtime/cgroup.h"
#include "lib/runtime/container.h"
#include "lib/runtime/create.h"
#include "lib/runtime/hooks.h"
#include "lib/runtime/init.h"
#include "lib/runtime/launch.h"
#include "lib/runtime/seccomp.h"
#include "lib/runtime/state.h"
#include "lib/runtime/sync.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

void box_rfc3339_now(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%09ldZ", base, ts.tv_nsec);
}

/* config.json, with the edits of the CDI devices it asks for (or that
 * --device asks for) applied before box's parser sees it: what the
 * container, its hooks and `exec` see is the edited config. A config that
 * requests nothing is parsed as it is, with no spec directory read; one that
 * does is parsed once, edited and handed to the spec parser as a document. */
static int load_config(int bfd, const struct box_create_opts *o, struct box_spec *spec,
                       struct box_err *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    memset(spec, 0, sizeof(*spec));
    if (box_read_file(bfd, "config.json", BOX_SPEC_MAX_BYTES, &text, &len, err) < 0)
        return -err->code;
    struct box_cdi_inject_opts ci = {
        .devices = o->cdi_devices,
        .n_devices = o->n_cdi_devices,
        .dirs = o->cdi_spec_dirs,
        .n_dirs = o->n_cdi_spec_dirs,
        .refuse_net_devices = true,
    };
    if (!box_cdi_inject_wanted(text, len, &ci))
        return box_spec_parse(text, len, spec, err);
    json_t *doc;
    int r = box_spec_load_doc(text, len, &doc, err);
    if (r < 0)
        return r;
    r = json_is_object(doc) ? box_cdi_inject_json(doc, &ci, err) : 0;
    if (r < 0) {
        json_decref(doc);
        return r;
    }
    return box_spec_parse_doc(doc, spec, err);
}

/* runtime-spec has no word on socket activation; runc's rule: the listen
 * fds come first and the environment says how many, with the process as
 * pid 1. Entries of the config with these names give way. */
static int add_listen_env(struct box_process *p, unsigned n, struct box_err *err)
{
    size_t kept = 0;
    for (size_t i = 0; i < p->n_env; i++) {
        if (strncmp(p->env[i], "LISTEN_FDS=", 11) == 0 ||
            strncmp(p->env[i], "LISTEN_PID=", 11) == 0)
            free(p->env[i]);
        else
            p->env[kept++] = p->env[i];
    }
    char **env = realloc(p->env, (kept + 3) * sizeof(char *));
    if (!env)
        return box_err_set(err, ENOMEM, "process.env");
    p->env = env;
    p->n_env = kept;
    if (asprintf(&env[p->n_env], "LISTEN_FDS=%u", n) < 0)
        return box_err_set(err, ENOMEM, "process.env");
    p->n_env++;
    env[p->n_env] = strdup("LISTEN_PID=1");
    if (!env[p->n_env])
        return box_err_set(err, ENOMEM, "process.env");
    env[++p->n_env] = NULL;
    return 0;
}

/* Everything that can be checked before touching the system. */
static int prepare(const struct box_create_opts *o, struct box_prepared *pp, struct box_err *err)
{
    if (box_id_validate(o->id, err) < 0)
        return -err->code;
    const char *bundle = o->bundle && *o->bundle ? o->bundle : ".";
    if (!realpath(bundle, pp->bundle))
        return box_err_sys(err, errno, "bundle `%s`", bundle);
    _cleanup_close_ int bfd = open(pp->bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (bfd < 0)
        return box_err_sys(err, errno, "bundle `%s`", pp->bundle);
    if (load_config(bfd, o, &pp->spec, err) < 0 || box_spec_validate(&pp->spec, err) < 0)
        return box_err_prefix(err, "bundle `%s`", pp->bundle);
    box_hooks_find_self(&pp->spec);
    char root[PATH_MAX * 2];
    const char *rp = pp->spec.root_path;
    if (rp[0] == '/')
        snprintf(root, sizeof(root), "%s", rp);
    else
        snprintf(root, sizeof(root), "%s/%s", pp->bundle, rp);
    struct stat st;
    if (!realpath(root, pp->rootfs) || stat(pp->rootfs, &st) < 0)
        return box_err_sys(err, errno, "root.path `%s`", root);
    if (!S_ISDIR(st.st_mode))
        return box_err_set(err, ENOTDIR, "root.path `%s`: not a directory", root);
    if (pp->spec.process.terminal && !o->console_socket && !o->has_console_fd)
        return box_err_set(err, EINVAL,
                           "process.terminal is true: --console-socket is required (or set "
                           "terminal to false)");
    if (o->listen_fds && add_listen_env(&pp->spec.process, o->listen_fds, err) < 0)
        return -err->code;
    const struct box_namespace *user = box_spec_namespace(&pp->spec, CLONE_NEWUSER);
    if (user && user->path) {
        for (size_t i = 0; i < pp->spec.n_namespaces; i++)
            if (!pp->spec.namespaces[i].path)
                return box_err_set(err, EOPNOTSUPP,
                                   "linux.namespaces: joining a user namespace together with "
                                   "new namespaces is not supported");
    }
    return 0;
}

/* The start socket, bound through the directory fd so long roots and ids
 * fit. It is made under a temporary name and renamed to exec.sock once the
 * init is ready: its name is what tells `state` creating from created. */
static int listen_exec_sock(int dirfd, struct box_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, BOX_EXEC_SOCK_NEW);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return box_err_sys(err, errno, "exec socket");
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
        int e = errno;
        close(fd);
        return box_err_sys(err, e, "bind the exec socket");
    }
    return fd;
}

static int write_idmap(pid_t pid, const char *file, const struct box_idmap *m, size_t n,
                       struct box_err *err)
{
    char buf[340 * 36] = "", path[64];
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%u %u %u\n", m[i].container_id,
                                m[i].host_id, m[i].size);
    /* Unprivileged, a gid map is only accepted once setgroups is denied. */
    if (file[0] == 'g' && geteuid() != 0) {
        snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
        if (box_write_string(AT_FDCWD, path, "deny", err) < 0)
            return box_err_prefix(err, "linux.gidMappings");
    }
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, buf, off) != (ssize_t)off)
        return box_err_sys(err, errno, "linux.%s: write %s",
                           file[0] == 'u' ? "uidMappings" : "gidMappings", file);
    return 0;
}

/* clone3 without CLONE_VM behaves like fork: no separate stack is needed. */
static pid_t clone_init(uint64_t flags, int *pidfd, int cgroup_fd)
{
    struct clone_args args = {
        .flags = flags | CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
        .pidfd = (uint64_t)(uintptr_t)pidfd,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)(cgroup_fd >= 0 ? cgroup_fd : 0),
    };
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

struct creating {
    struct box_prepared pp;
    struct box_cgroups cg;
    struct box_container_dir dir;
    struct box_state st;
    int rootfd, console_fd, listen_fd, sync[2], pidfd;
    pid_t pid;
    bool cloned_into_v2;
    struct box_seccomp_bpf bpf; /* linux.seccomp compiled here, loaded by the init */
};

static void creating_init(struct creating *c)
{
    memset(c, 0, sizeof(*c));
    c->rootfd = c->console_fd = c->listen_fd = c->pidfd = -1;
    c->sync[0] = c->sync[1] = -1;
    c->dir.fd = -1;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Undoes a failed create: the init, the cgroup, the state directory. */
static void teardown(struct creating *c)
{
    if (c->pid > 0) {
        if (c->pidfd >= 0)
            syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
        else
            kill(c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    box_cgroup_destroy_made(&c->cg);
    if (c->dir.fd >= 0)
        box_container_dir_remove(&c->dir, NULL);
}

static void creating_free(struct creating *c)
{
    close_fd(&c->console_fd);
    close_fd(&c->listen_fd);
    close_fd(&c->sync[0]);
    close_fd(&c->sync[1]);
    close_fd(&c->pidfd);
    box_container_dir_close(&c->dir);
    close_fd(&c->rootfd);
    c->st.config = NULL; /* borrowed from the spec */
    c->st.annotations = NULL;
    box_state_free(&c->st);
    box_cgroup_free(&c->cg);
    box_seccomp_bpf_free(&c->bpf);
    box_spec_free(&c->pp.spec);
}

static uint64_t clone_flags(const struct box_spec *s)
{
    static const int cloned[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,
                                 CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWUSER};
    uint64_t f = 0;
    for (size_t i = 0; i < BOX_ARRAY_SIZE(cloned); i++) {
        const struct box_namespace *ns = box_spec_namespace(s, cloned[i]);
        if (ns && !ns->path)
            f |= (uint64_t)cloned[i];
    }
    return f;
}

/* A pid namespace joined by path: children of ours are born into it. */
static int join_pidns_for_children(const struct box_spec *s, int *saved, struct box_err *err)
{
    const struct box_namespace *ns = box_spec_namespace(s, CLONE_NEWPID);
    *saved = -1;
    if (!ns || !ns->path)
        return 0;
    *saved = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
    _cleanup_close_ int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWPID) < 0)
        return box_err_sys(err, errno, "linux.namespaces: join pid namespace `%s`", ns->path);
    return 0;
}

static int spawn_init(struct creating *c, const struct box_create_opts *o, struct box_err *err)
{
    const struct box_spec *s = &c->pp.spec;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->sync) < 0)
        return box_err_sys(err, errno, "sync socketpair");
    c->listen_fd = listen_exec_sock(c->dir.fd, err);
    if (c->listen_fd < 0)
        return c->listen_fd;
    const struct box_namespace *cgns = box_spec_namespace(s, CLONE_NEWCGROUP);
    const struct box_namespace *userns = box_spec_namespace(s, CLONE_NEWUSER);
    const struct box_namespace *timens = box_spec_namespace(s, CLONE_NEWTIME);
    struct box_init in = {
        .spec = s,
        .seccomp_bpf = &c->bpf,
        .id = o->id,
        .bundle = c->pp.bundle,
        .rootfs = c->pp.rootfs,
        .cgroups = &c->cg,
        .sync_fd = c->sync[1],
        .listen_fd = c->listen_fd,
        .console_fd = c->console_fd,
        .preserve_fds = o->listen_fds + o->preserve_fds,
        .no_pivot = o->no_pivot,
        .wait_go_first = userns && !userns->path,
        .join_cgroup = !(userns && !userns->path) && c->cg.path,
        .new_cgroupns = cgns && !cgns->path,
        .new_timens = timens && !timens->path,
        .parent_hooks = s->n_hooks[BOX_HOOK_PRESTART] || s->n_hooks[BOX_HOOK_CREATE_RUNTIME],
    };
    int saved_pidns;
    if (join_pidns_for_children(s, &saved_pidns, err) < 0)
        return -err->code;
    _cleanup_close_ int cgfd = box_cgroup_v2_open(&c->cg);
    in.cloned_into_v2 = c->cloned_into_v2 = cgfd >= 0;
    c->pid = clone_init(clone_flags(s), &c->pidfd, cgfd);
    int e = errno;
    if (c->pid == 0)
        box_init_main(&in);
    if (saved_pidns >= 0) {
        setns(saved_pidns, CLONE_NEWPID);
        close(saved_pidns);
    }
    if (c->pid < 0) {
        c->pid = 0;
        return box_err_sys(err, e, "clone the container init");
    }
    close_fd(&c->sync[1]);
    close_fd(&c->console_fd);
    return 0;
}

/* runtime-spec config-linux.md, seccomp listenerPath: the init's listener
 * fd goes there with the container process state, before the container is
 * reported created. */
static int seccomp_listener(struct creating *c, int fd, struct box_err *err)
{
    const struct box_spec *s = &c->pp.spec;
    if (fd < 0 || !s->seccomp || !s->seccomp->listener_path)
        return box_err_set(err, EPROTO, "the container init sent no seccomp listener fd");
    _cleanup_free_ char *st =
        box_hook_state_json(s, c->st.id, "creating", c->pid, c->pp.bundle, c->pp.rootfs);
    if (!st)
        return -ENOMEM;
    return box_seccomp_send_listener(s->seccomp->listener_path, fd, st,
                                     s->seccomp->listener_metadata, err);
}

static int sync_loop(struct creating *c, struct box_err *err)
{
    const struct box_spec *s = &c->pp.spec;
    for (;;) {
        struct box_sync_msg m;
        _cleanup_close_ int passed = -1;
        if (box_sync_recv_fd(c->sync[0], &m, &passed) < 0) {
            int status = 0;
            while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
                ;
            c->pid = 0;
            if (WIFSIGNALED(status))
                return box_err_set(err, ECHILD, "container init killed by signal %d during setup",
                                   WTERMSIG(status));
            return box_err_set(err, ECHILD, "container init exited with status %d during setup",
                               WEXITSTATUS(status));
        }
        if (m.type == BOX_SYNC_READY)
            return 0;
        if (m.type == BOX_SYNC_ERROR)
            return box_err_set(err, m.code, "%s", m.msg);
        if (m.type == BOX_SYNC_SECCOMP && seccomp_listener(c, passed, err) < 0)
            return -err->code;
        if (m.type == BOX_SYNC_HOOKS) {
            _cleanup_free_ char *st =
                box_hook_state_json(s, c->st.id, "creating", c->pid, c->pp.bundle, c->pp.rootfs);
            if (box_hooks_run(s, BOX_HOOK_PRESTART, st, c->pp.bundle, err) < 0 ||
                box_hooks_run(s, BOX_HOOK_CREATE_RUNTIME, st, c->pp.bundle, err) < 0)
                return -err->code;
            box_sync_send(c->sync[0], BOX_SYNC_HOOKS_DONE, NULL);
        }
    }
}

static int do_create(struct creating *c, const struct box_create_opts *o, struct box_err *err)
{
    struct box_spec *s = &c->pp.spec;
    if (prepare(o, &c->pp, err) < 0)
        return -err->code;
    if (o->console_socket &&
        (c->console_fd = box_launch_connect_console(o->console_socket, err)) < 0)
        return -err->code;
    if (o->has_console_fd && (c->console_fd = fcntl(o->console_fd, F_DUPFD_CLOEXEC, 3)) < 0)
        return box_err_sys(err, errno, "console");
    /* Rootless: the host's cgroups are not ours to change. Run without a
     * cgroup of its own, unless the config asks for limits. */
    bool rootless = geteuid() != 0;
    if (rootless && s->has_resources &&
        (s->resources.n_dev_rules > 1 || s->resources.mem_limit != BOX_UNSET ||
         s->resources.pids_limit != BOX_UNSET || s->resources.cpu_quota != BOX_UNSET ||
         s->resources.cpu_shares != BOX_UNSET || s->resources.n_unified))
        return box_err_set(err, EPERM,
                           "linux.resources: cgroup limits need root (box runs rootless here)");
    if (!rootless && (box_cgroup_detect(&c->cg, err) < 0 ||
                      box_cgroup_set_path(&c->cg, s->cgroups_path, o->id, err) < 0))
        return -err->code;
    c->rootfd = box_state_root_open(o->root, true, err);
    if (c->rootfd < 0)
        return c->rootfd;
    if (box_container_dir_create(c->rootfd, o->id, &c->dir, err) < 0)
        return -err->code;
    char created[64];
    box_rfc3339_now(created, sizeof(created));
    c->st = (struct box_state){
        .id = strdup(o->id),
        .bundle = strdup(c->pp.bundle),
        .rootfs = strdup(c->pp.rootfs),
        .created = strdup(created),
        .owner = geteuid(),
        .cgroup = c->cg.path ? strdup(c->cg.path) : NULL,
        .annotations = json_object_get(s->json, "annotations"),
        .config = s->json,
    };
    /* Recorded before the cgroup exists, so that `delete --force` after a
     * crash from here on finds everything to remove. */
    if (box_state_write(c->dir.fd, &c->st, err) < 0)
        return -err->code;
    /* The filter is compiled (or found compiled) here, before the clone,
     * so the init only loads it. */
    if (s->seccomp && box_seccomp_prepare(
                          c->rootfd, json_object_get(json_object_get(s->json, "linux"), "seccomp"),
                          s->seccomp, &c->bpf, err) < 0)
        return -err->code;
    /* cgroup2 first (the init is cloned straight into it); the v1
     * hierarchies while the init already builds its root. */
    if (box_cgroup_create(&c->cg, s, BOX_CGROUP_V2_PART, err) < 0)
        return -err->code;
    if (spawn_init(c, o, err) < 0)
        return -err->code;
    if (box_cgroup_create(&c->cg, s, BOX_CGROUP_V1_PART, err) < 0)
        return -err->code;
    /* In a new user namespace the init cannot write the host's cgroup
     * files: place it from here. Otherwise it joins by itself. */
    const struct box_namespace *userns = box_spec_namespace(s, CLONE_NEWUSER);
    if (userns && !userns->path && box_cgroup_attach(&c->cg, c->pid, c->cloned_into_v2, err) < 0)
        return -err->code;
    if (userns && s->n_uid_mappings &&
        (write_idmap(c->pid, "uid_map", s->uid_mappings, s->n_uid_mappings, err) < 0 ||
         write_idmap(c->pid, "gid_map", s->gid_mappings, s->n_gid_mappings, err) < 0))
        return -err->code;
    c->st.pid = c->pid;
    c->st.start_time = box_proc_start_time(c->pid);
    if (box_state_write(c->dir.fd, &c->st, err) < 0)
        return -err->code;
    struct box_err go = {.code = c->pid};
    /* If the init died already, sync_loop reports how. */
    box_sync_send(c->sync[0], BOX_SYNC_GO, &go);
    if (sync_loop(c, err) < 0)
        return -err->code;
    if (renameat(c->dir.fd, BOX_EXEC_SOCK_NEW, c->dir.fd, BOX_EXEC_SOCK) < 0)
        return box_err_sys(err, errno, "publish the start socket");
    if (o->pid_file && box_write_pid_file(o->pid_file, c->pid, err) < 0)
        return -err->code;
    return 0;
}

int box_container_create(const struct box_create_opts *o, pid_t *pid, struct box_err *err)
{
    struct creating c;
    creating_init(&c);
    int r = do_create(&c, o, err);
    if (r < 0)
        teardown(&c);
    else if (pid)
        *pid = c.pid;
    creating_free(&c);
    return r;
}
