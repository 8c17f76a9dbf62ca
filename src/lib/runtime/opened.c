/* A container opened for an operation: validated id, locked directory, its
 * state and stored config; and waiting on a foreground child. */
#include "lib/runtime/opened.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/base/parse.h"

void box_opened_free(struct box_opened *o)
{
    box_container_dir_close(&o->dir);
    box_state_free(&o->st);
    box_spec_free(&o->spec);
    if (o->rootfd >= 0)
        close(o->rootfd);
    o->rootfd = -1;
}

/* Validates the id, locks the container and reads its state and config. */
int box_opened_open(const char *root, const char *id, struct box_opened *o, struct box_err *err)
{
    memset(o, 0, sizeof(*o));
    o->rootfd = -1;
    o->dir.fd = -1;
    if (box_id_validate(id, err) < 0)
        return -err->code;
    o->rootfd = box_state_root_open(root, false, err);
    if (o->rootfd < 0)
        return o->rootfd == -ENOENT ? box_err_set(err, ENOENT, "container `%s` does not exist", id)
                                    : o->rootfd;
    if (box_container_dir_open(o->rootfd, id, &o->dir, err) < 0 ||
        box_state_read(o->rootfd, id, &o->st, err) < 0)
        return -err->code;
    /* The stored config is parsed only for the hooks that start and delete
     * run (poststart, poststop): every other verb reads what it needs from
     * the JSON, and parsing a docker-size seccomp profile, or the dozens of
     * mounts and link arguments a GPU spec adds, on each start and delete
     * is work nobody uses. The createContainer hooks of CDI are not a
     * reason. */
    json_t *hooks = o->st.config ? json_object_get(o->st.config, "hooks") : NULL;
    if (json_array_size(json_object_get(hooks, "poststart")) ||
        json_array_size(json_object_get(hooks, "poststop")))
        return box_spec_parse_doc(json_incref(o->st.config), &o->spec, err);
    return 0;
}

void box_opened_cgroups(const struct box_opened *o, struct box_cgroups *cg)
{
    memset(cg, 0, sizeof(*cg));
    if (!o->st.cgroup || box_cgroup_detect(cg, NULL) < 0)
        return;
    cg->path = strdup(o->st.cgroup);
}

int box_wait_child(pid_t pid, const sigset_t *set, int *exit_code)
{
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(set, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (sig != SIGCHLD) {
            kill(pid, sig); /* our unreaped child: the pid cannot be reused */
            continue;
        }
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            *exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
            return 0;
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ; /* other children: hooks are waited for where they run */
    }
}

void box_forwarded_signals(sigset_t *set)
{
    static const int forwarded[] = {SIGHUP,  SIGINT,  SIGQUIT,  SIGTERM,
                                    SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    for (size_t i = 0; i < BOX_ARRAY_SIZE(forwarded); i++)
        sigaddset(set, forwarded[i]);
}
