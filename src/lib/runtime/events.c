/* `events`: a running container's resource usage every interval, and its
 * OOM kills as they happen, as `runc events` reports them. The container is
 * not kept locked: each round reads its state afresh, and the loop ends when
 * it stops or is deleted. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/runtime/cgroup_res.h"
#include "lib/runtime/cgroup_stats.h"
#include "lib/runtime/container.h"
#include "lib/runtime/opened.h"

struct oom_watch {
    int fd; /* eventfd (v1) or inotify (v2); -1 without a memory cgroup */
    bool v2;
    char events[PATH_MAX]; /* v2: memory.events */
    uint64_t kills;        /* v2: oom_kill seen so far */
};

static uint64_t v2_oom_kills(const char *events)
{
    _cleanup_free_ char *t = NULL;
    if (box_read_file(AT_FDCWD, events, 65536, &t, NULL, NULL) < 0)
        return 0;
    const char *p = strstr(t, "oom_kill ");
    return p ? strtoull(p + 9, NULL, 10) : 0;
}

/* v1: an eventfd registered on memory.oom_control through
 * cgroup.event_control; v2: inotify on memory.events, whose oom_kill grows. */
static void oom_watch_open(const struct box_cgroups *cg, struct oom_watch *w)
{
    w->fd = -1;
    for (size_t i = 0; i < cg->n; i++) {
        char dir[PATH_MAX];
        const struct box_cgroup_hier *h = &cg->h[i];
        if (box_cgroup_dir(cg, i, dir, sizeof(dir)) < 0)
            continue;
        if (h->v2 && cg->layout == BOX_CGROUP_V2) {
            snprintf(w->events, sizeof(w->events), "%s/memory.events", dir);
            w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
            if (w->fd >= 0 && inotify_add_watch(w->fd, w->events, IN_MODIFY) < 0) {
                close(w->fd);
                w->fd = -1;
            }
            w->v2 = true;
            w->kills = v2_oom_kills(w->events);
            return;
        }
        if (!h->v2 && box_cgroup_has_controller(h, "memory")) {
            char path[PATH_MAX + 32];
            snprintf(path, sizeof(path), "%s/memory.oom_control", dir);
            _cleanup_close_ int ctl = open(path, O_RDONLY | O_CLOEXEC);
            w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            char line[64];
            snprintf(line, sizeof(line), "%d %d", w->fd, ctl);
            if (ctl < 0 || w->fd < 0 ||
                box_cgroup_write(dir, "cgroup.event_control", line, NULL) < 0) {
                if (w->fd >= 0)
                    close(w->fd);
                w->fd = -1;
            }
            return;
        }
    }
}

/* How many OOM events arrived; 0 when the wake-up was something else. */
static uint64_t oom_watch_read(struct oom_watch *w)
{
    if (!w->v2) {
        uint64_t n = 0;
        return read(w->fd, &n, sizeof(n)) == sizeof(n) ? n : 0;
    }
    char buf[4096];
    while (read(w->fd, buf, sizeof(buf)) > 0)
        ;
    uint64_t now = v2_oom_kills(w->events), n = now > w->kills ? now - w->kills : 0;
    w->kills = now;
    return n;
}

/* running or paused (created has no workload to measure yet, but counts). */
static bool alive(const char *root, const char *id)
{
    json_t *st = NULL;
    struct box_err err = {0};
    if (box_container_state(root, id, &st, &err) < 0)
        return false;
    const char *s = json_string_value(json_object_get(st, "status"));
    bool on = s && strcmp(s, "stopped") != 0;
    json_decref(st);
    return on;
}

static int emit_stats(const struct box_events_opts *o, const struct box_cgroups *cg,
                      struct box_err *err)
{
    json_t *data = NULL;
    if (box_cgroup_stats(cg, &data, err) < 0)
        return -err->code;
    json_t *ev = json_pack("{s:s, s:s, s:o}", "type", "stats", "id", o->id, "data", data);
    int r = ev ? o->emit(ev, o->ctx) : -ENOMEM;
    json_decref(ev);
    return r;
}

int box_container_events(const struct box_events_opts *o, struct box_err *err)
{
    struct box_opened op;
    struct box_cgroups cg = {0};
    int r = box_opened_open(o->root, o->id, &op, err);
    if (r < 0)
        return r;
    enum box_status s = box_state_status(op.rootfd, &op.st);
    if (s == BOX_STATUS_STOPPED)
        r = box_err_set(err, EINVAL, "container `%s` is stopped: no events", o->id);
    else
        box_opened_cgroups(&op, &cg);
    box_opened_free(&op);
    if (r == 0 && !cg.path)
        r = box_err_set(err, EOPNOTSUPP, "container `%s` has no cgroup to watch", o->id);
    if (r < 0 || o->stats_only) {
        if (r == 0)
            r = emit_stats(o, &cg, err);
        box_cgroup_free(&cg);
        return r;
    }
    struct oom_watch w;
    oom_watch_open(&cg, &w);
    while (r >= 0 && alive(o->root, o->id)) {
        struct pollfd p = {.fd = w.fd, .events = POLLIN};
        int n = poll(&p, w.fd >= 0 ? 1 : 0, (int)o->interval_ms);
        if (n < 0 && errno != EINTR) {
            r = box_err_sys(err, errno, "events: poll");
            break;
        }
        if (n > 0) {
            for (uint64_t k = oom_watch_read(&w); k > 0 && r >= 0; k--) {
                json_t *ev = json_pack("{s:s, s:s}", "type", "oom", "id", o->id);
                r = o->emit(ev, o->ctx);
                json_decref(ev);
            }
            continue; /* stats keep their own rhythm */
        }
        if (n == 0 && alive(o->root, o->id))
            r = emit_stats(o, &cg, err);
    }
    if (w.fd >= 0)
        close(w.fd);
    box_cgroup_free(&cg);
    return r < 0 ? r : 0;
}
