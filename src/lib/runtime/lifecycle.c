/* start, state, list, kill, delete, run. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/base/parse.h"
#include "lib/runtime/cgroup.h"
#include "lib/runtime/container.h"
#include "lib/runtime/hooks.h"
#include "lib/runtime/init.h"
#include "lib/runtime/opened.h"
#include "lib/runtime/spec.h"
#include "lib/runtime/state.h"
#include "lib/runtime/tty.h"

int box_container_start(const char *root, const char *id, void (*warn)(const char *msg),
                        struct box_err *err)
{
    struct box_opened o;
    int r = box_opened_open(root, id, &o, err);
    if (r < 0)
        goto out;
    enum box_status s = box_state_status(o.rootfd, &o.st);
    if (s != BOX_STATUS_CREATED) {
        r = box_err_set(err, EINVAL, "container `%s` is %s, not created: cannot start it", id,
                        box_status_name(s));
        goto out;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", o.dir.fd, BOX_EXEC_SOCK);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = box_err_sys(err, errno, "start `%s`: reach the container init", id);
        if (fd >= 0)
            close(fd);
        goto out;
    }
    /* The socket is gone the moment the init takes the connection: from now
     * on the container counts as running. */
    unlinkat(o.dir.fd, BOX_EXEC_SOCK, 0);
    char reply[BOX_ERR_MSG_MAX];
    ssize_t n;
    do {
        n = recv(fd, reply, sizeof(reply) - 1, 0);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n > 0) {
        reply[n] = '\0';
        uint64_t e = 0;
        if (reply[0] == 'E' && box_parse_u64(reply + 1, 4095, &e) == 0)
            r = box_err_sys(
                err, (int)e, "exec `%s`",
                json_string_value(json_array_get(
                    json_object_get(json_object_get(o.st.config, "process"), "args"), 0)));
        else
            r = box_err_set(err, ECANCELED, "%s", reply[0] == 'M' ? reply + 1 : reply);
        goto out;
    }
    char *st = o.spec.n_hooks[BOX_HOOK_POSTSTART]
                   ? box_hook_state_json(&o.spec, id, "running", o.st.pid, o.st.bundle, o.st.rootfs)
                   : NULL;
    for (size_t i = 0; i < o.spec.n_hooks[BOX_HOOK_POSTSTART]; i++) {
        /* runtime-spec: a failing poststart hook is a warning; the other
         * hooks and the lifecycle go on. */
        struct box_err herr = {0};
        if (box_hook_run(&o.spec.hooks[BOX_HOOK_POSTSTART][i], "poststart", i, st, o.st.bundle,
                         &herr) < 0 &&
            warn)
            warn(herr.msg);
    }
    free(st);
    r = 0;
out:
    box_opened_free(&o);
    return r;
}

int box_container_state(const char *root, const char *id, json_t **state, struct box_err *err)
{
    if (box_id_validate(id, err) < 0)
        return -err->code;
    _cleanup_close_ int rootfd = box_state_root_open(root, false, err);
    if (rootfd < 0)
        return rootfd == -ENOENT ? box_err_set(err, ENOENT, "container `%s` does not exist", id)
                                 : rootfd;
    struct box_state st;
    if (box_state_read(rootfd, id, &st, err) < 0)
        return -err->code;
    *state = box_state_to_public_json(rootfd, &st);
    box_state_free(&st);
    return 0;
}

int box_container_list(const char *root, json_t **list, struct box_err *err)
{
    *list = json_array();
    _cleanup_close_ int rootfd = box_state_root_open(root, false, NULL);
    if (rootfd < 0)
        return 0; /* no root yet: no containers */
    int dfd = dup(rootfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return box_err_sys(err, errno, "read state root `%s`", root);
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || box_id_validate(de->d_name, NULL) < 0)
            continue;
        struct box_state st;
        if (box_state_read(rootfd, de->d_name, &st, NULL) < 0)
            continue; /* deleted meanwhile */
        json_array_append_new(*list, box_state_to_public_json(rootfd, &st));
        box_state_free(&st);
    }
    closedir(d);
    return 0;
}

static int signal_init(const struct box_opened *o, int sig, struct box_err *err)
{
    int pidfd = box_pidfd_checked(o->st.pid, o->st.start_time);
    if (pidfd < 0)
        return box_err_set(err, ESRCH, "container `%s` is not running", o->st.id);
    int r = (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
    int e = errno;
    close(pidfd);
    if (r < 0)
        return box_err_sys(err, e, "signal container `%s`", o->st.id);
    return 0;
}

int box_container_pause(const char *root, const char *id, bool pause, struct box_err *err)
{
    struct box_opened o;
    int r = box_opened_open(root, id, &o, err);
    if (r < 0)
        goto out;
    enum box_status s = box_state_status(o.rootfd, &o.st);
    if (s != (pause ? BOX_STATUS_RUNNING : BOX_STATUS_PAUSED)) {
        r = box_err_set(err, EINVAL, "container `%s` is %s: cannot %s it", id, box_status_name(s),
                        pause ? "pause" : "resume");
        goto out;
    }
    struct box_cgroups cg;
    box_opened_cgroups(&o, &cg);
    r = cg.path ? box_cgroup_freeze(&cg, pause, err)
                : box_err_set(err, EOPNOTSUPP, "container `%s` has no cgroup to freeze", id);
    box_cgroup_free(&cg);
    if (r < 0)
        goto out;
    /* The mark tells `state` paused from running without reading cgroups. */
    if (pause) {
        int fd = openat(o.dir.fd, BOX_PAUSED_MARK, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    } else {
        unlinkat(o.dir.fd, BOX_PAUSED_MARK, 0);
    }
out:
    box_opened_free(&o);
    return r;
}

/* Merges `upd` into `dst` key by key, objects recursively (runc update:
 * what the update names changes, the rest stays). */
static void merge(json_t *dst, json_t *upd)
{
    const char *k;
    json_t *v;
    json_object_foreach(upd, k, v)
    {
        json_t *old = json_object_get(dst, k);
        if (json_is_object(v) && json_is_object(old))
            merge(old, v);
        else
            json_object_set(dst, k, v);
    }
}

int box_container_update(const char *root, const char *id, json_t *resources, struct box_err *err)
{
    struct box_opened o;
    struct box_spec spec = {0};
    struct box_cgroups cg = {0};
    int r = box_opened_open(root, id, &o, err);
    if (r < 0)
        goto out;
    enum box_status s = box_state_status(o.rootfd, &o.st);
    if (s == BOX_STATUS_STOPPED || !o.st.config) {
        r = box_err_set(err, EINVAL, "container `%s` is %s: nothing to update", id,
                        box_status_name(s));
        goto out;
    }
    if (!json_is_object(resources)) {
        r = box_err_set(err, EINVAL, "--resources: must be a JSON object (LinuxResources)");
        goto out;
    }
    json_t *cfg = json_deep_copy(o.st.config);
    json_t *lx = json_object_get(cfg, "linux");
    if (!json_is_object(lx))
        json_object_set_new(cfg, "linux", lx = json_object());
    json_t *res = json_object_get(lx, "resources");
    if (!json_is_object(res))
        json_object_set_new(lx, "resources", res = json_object());
    merge(res, resources);
    char *text = json_dumps(cfg, JSON_COMPACT);
    r = text ? box_spec_parse(text, strlen(text), &spec, err) : -ENOMEM;
    free(text);
    if (r < 0) {
        json_decref(cfg);
        box_err_prefix(err, "update");
        goto out;
    }
    box_opened_cgroups(&o, &cg);
    r = cg.path ? box_cgroup_update(&cg, &spec, json_object_get(resources, "devices") != NULL, err)
                : box_err_set(err, EOPNOTSUPP, "container `%s` has no cgroup to update", id);
    if (r == 0) {
        /* Later verbs (and a later update) see the new limits. */
        json_decref(o.st.config);
        o.st.config = cfg;
        r = box_state_write(o.dir.fd, &o.st, err);
    } else {
        json_decref(cfg);
    }
out:
    box_cgroup_free(&cg);
    box_spec_free(&spec);
    box_opened_free(&o);
    return r;
}

int box_container_ps(const char *root, const char *id, pid_t **pids, size_t *n, struct box_err *err)
{
    struct box_opened o;
    int r = box_opened_open(root, id, &o, err);
    if (r == 0) {
        struct box_cgroups cg;
        box_opened_cgroups(&o, &cg);
        r = box_cgroup_pids(&cg, pids, n, err);
        box_cgroup_free(&cg);
    }
    box_opened_free(&o);
    return r;
}

int box_container_kill(const char *root, const char *id, int sig, bool all, struct box_err *err)
{
    struct box_opened o;
    int r = box_opened_open(root, id, &o, err);
    if (r < 0)
        goto out;
    enum box_status s = box_state_status(o.rootfd, &o.st);
    if (s != BOX_STATUS_CREATED && s != BOX_STATUS_RUNNING && s != BOX_STATUS_PAUSED) {
        r = box_err_set(err, EINVAL, "container `%s` is %s: nothing to signal", id,
                        box_status_name(s));
        goto out;
    }
    if (all) {
        struct box_cgroups cg;
        box_opened_cgroups(&o, &cg);
        r = cg.path ? box_cgroup_signal_all(&cg, sig, err) : 0;
        box_cgroup_free(&cg);
        if (r < 0)
            goto out;
    }
    r = signal_init(&o, sig, err);
    if (r == -ESRCH && all)
        r = 0;
out:
    box_opened_free(&o);
    return r;
}

/* Waits up to ~5 s for the init (not our child) to be gone. */
static void wait_gone(const struct box_opened *o)
{
    int pidfd = box_pidfd_checked(o->st.pid, o->st.start_time);
    if (pidfd < 0)
        return;
    struct pollfd p = {pidfd, POLLIN, 0};
    poll(&p, 1, 5000);
    close(pidfd);
}

int box_container_delete(const char *root, const char *id, bool force,
                         void (*warn)(const char *msg), struct box_err *err)
{
    struct box_opened o;
    int r = box_opened_open(root, id, &o, err);
    if (r == -ENOENT && force) {
        box_err_clear(err);
        r = 0; /* delete --force is idempotent, and sweeps a create killed early */
        if (o.rootfd >= 0)
            box_container_sweep_staging(o.rootfd, id);
        goto out;
    }
    if (r < 0)
        goto out;
    enum box_status s = box_state_status(o.rootfd, &o.st);
    if ((s == BOX_STATUS_RUNNING || s == BOX_STATUS_PAUSED) && !force) {
        r = box_err_set(err, EBUSY, "container `%s` is running: stop it first or use --force", id);
        goto out;
    }
    struct box_cgroups cg;
    box_opened_cgroups(&o, &cg);
    if (s == BOX_STATUS_RUNNING || s == BOX_STATUS_CREATED || s == BOX_STATUS_PAUSED) {
        /* Frozen tasks die only once thawed. */
        if (cg.path && s == BOX_STATUS_PAUSED)
            box_cgroup_freeze(&cg, false, NULL);
        if (cg.path)
            box_cgroup_signal_all(&cg, SIGKILL, NULL);
        signal_init(&o, SIGKILL, NULL);
        wait_gone(&o);
    }
    r = cg.path ? box_cgroup_destroy(&cg, err) : 0;
    box_cgroup_free(&cg);
    if (r < 0)
        goto out;
    if (o.spec.n_hooks[BOX_HOOK_POSTSTOP]) {
        char *st = box_hook_state_json(&o.spec, id, "stopped", o.st.pid, o.st.bundle, o.st.rootfs);
        /* runtime-spec: a failing poststop hook only warns; the rest run. */
        for (size_t i = 0; i < o.spec.n_hooks[BOX_HOOK_POSTSTOP]; i++) {
            struct box_err herr = {0};
            if (box_hook_run(&o.spec.hooks[BOX_HOOK_POSTSTOP][i], "poststop", i, st, o.st.bundle,
                             &herr) < 0 &&
                warn)
                warn(herr.msg);
        }
        free(st);
    }
    r = box_container_dir_remove(&o.dir, err);
out:
    box_opened_free(&o);
    return r;
}

int box_container_run(const struct box_create_opts *o, bool detach, int *exit_code,
                      void (*warn)(const char *msg), struct box_err *err)
{
    sigset_t set, old;
    box_forwarded_signals(&set);
    if (!detach)
        sigprocmask(SIG_BLOCK, &set, &old);
    /* In the foreground without a console socket, a terminal the config
     * asks for comes to us over a socketpair and is relayed to our stdio. */
    struct box_create_opts co = *o;
    int pair[2] = {-1, -1}, master = -1;
    if (!detach && !o->console_socket &&
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
        co.has_console_fd = true;
        co.console_fd = pair[1];
    }
    pid_t pid = 0; /* our child until it exits: `run` waits for it */
    int r = box_container_create(&co, &pid, err);
    if (pair[1] >= 0)
        close(pair[1]);
    if (r < 0)
        goto out;
    if (pair[0] >= 0) {
        fcntl(pair[0], F_SETFL, O_NONBLOCK);
        master = box_tty_recv_master(pair[0], NULL); /* the init sent it before READY */
    }
    r = box_container_start(o->root, o->id, warn, err);
    if (r < 0) {
        struct box_err derr = {0};
        box_container_delete(o->root, o->id, true, warn, &derr);
        goto out;
    }
    if (detach)
        goto out;
    r = master >= 0 ? box_tty_relay(master, pid, &set, exit_code)
                    : box_wait_child(pid, &set, exit_code);
    if (r < 0)
        box_err_sys(err, -r, "wait for container `%s`", o->id);
    struct box_err derr = {0};
    if (box_container_delete(o->root, o->id, true, warn, &derr) < 0 && warn)
        warn(derr.msg);
out:
    if (pair[0] >= 0)
        close(pair[0]);
    if (master >= 0)
        close(master);
    if (!detach)
        sigprocmask(SIG_SETMASK, &old, NULL);
    return r;
}
