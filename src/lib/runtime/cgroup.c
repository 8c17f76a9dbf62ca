#include "lib/runtime/cgroup.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/parse.h"
#include "lib/runtime/cgroup_res.h"

static int hier_dir(const struct box_cgroups *cg, const struct box_cgroup_hier *h, char *buf,
                    size_t len);

const char *box_cgroup_layout_name(enum box_cgroup_layout l)
{
    return l == BOX_CGROUP_V2 ? "v2" : l == BOX_CGROUP_HYBRID ? "hybrid" : "v1";
}

/* Unescapes mountinfo's octal escapes (\040 for space) in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* The controllers named in a v1 mount's super options ("rw,memory"). */
static char *v1_controllers(const char *superopts)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", superopts);
    char out[512] = "";
    char *save = NULL;
    for (char *o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        if (strcmp(o, "rw") == 0 || strcmp(o, "ro") == 0 || strncmp(o, "release_agent=", 14) == 0 ||
            strcmp(o, "clone_children") == 0 || strcmp(o, "noprefix") == 0 ||
            strcmp(o, "xattr") == 0 || strcmp(o, "cpuset_v2_mode") == 0 ||
            strcmp(o, "favordynmods") == 0)
            continue;
        if (out[0])
            strncat(out, ",", sizeof(out) - strlen(out) - 1);
        strncat(out, o, sizeof(out) - strlen(out) - 1);
    }
    return strdup(out);
}

/* Our own cgroup in the hierarchy with these controllers (from /proc/self/cgroup). */
static char *self_cgroup(const char *cgroup_file, const char *controllers, bool v2)
{
    char *save = NULL, buf[8192];
    snprintf(buf, sizeof(buf), "%s", cgroup_file);
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctl = c1 + 1;
        if ((v2 && strcmp(line, "0") == 0 && *ctl == '\0') ||
            (!v2 && strcmp(ctl, controllers) == 0))
            return strdup(c2 + 1);
    }
    return strdup("/");
}

static int add_hier(struct box_cgroups *cg, const char *mnt, const char *root, const char *fstype,
                    const char *superopts, const char *cgroup_file)
{
    if (cg->n >= BOX_CGROUP_MAX_HIER)
        return 0;
    bool v2 = strcmp(fstype, "cgroup2") == 0;
    char *ctl = v2 ? strdup("") : v1_controllers(superopts);
    if (!ctl)
        return -ENOMEM;
    /* One mount per hierarchy: skip a second mount of the same controllers. */
    for (size_t i = 0; i < cg->n; i++)
        if (cg->h[i].v2 == v2 && strcmp(cg->h[i].controllers, ctl) == 0) {
            free(ctl);
            return 0;
        }
    struct box_cgroup_hier *h = &cg->h[cg->n++];
    h->mount = strdup(mnt);
    h->root = strdup(root);
    h->controllers = ctl;
    h->v2 = v2;
    h->self = self_cgroup(cgroup_file, ctl, v2);
    return h->mount && h->root && h->self ? 0 : -ENOMEM;
}

int box_cgroup_detect(struct box_cgroups *cg, struct box_err *err)
{
    memset(cg, 0, sizeof(*cg));
    _cleanup_free_ char *mi = NULL, *self = NULL;
    if (box_read_file(AT_FDCWD, "/proc/self/mountinfo", 16u << 20, &mi, NULL, err) < 0 ||
        box_read_file(AT_FDCWD, "/proc/self/cgroup", 1u << 20, &self, NULL, err) < 0)
        return -err->code;
    bool have_v1 = false, have_v2 = false;
    char *save = NULL;
    for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
        char *f[6] = {0};
        char *s2 = NULL, *tok = strtok_r(line, " ", &s2);
        for (int i = 0; i < 5 && tok; i++, tok = strtok_r(NULL, " ", &s2))
            f[i] = tok;
        while (tok && strcmp(tok, "-") != 0)
            tok = strtok_r(NULL, " ", &s2);
        char *fstype = strtok_r(NULL, " ", &s2);
        strtok_r(NULL, " ", &s2);
        char *superopts = strtok_r(NULL, " ", &s2);
        if (!f[4] || !fstype || !superopts)
            continue;
        if (strcmp(fstype, "cgroup") != 0 && strcmp(fstype, "cgroup2") != 0)
            continue;
        unescape(f[3]);
        unescape(f[4]);
        if (add_hier(cg, f[4], f[3], fstype, superopts, self) < 0)
            return box_err_set(err, ENOMEM, "cgroup detection");
        if (strcmp(fstype, "cgroup2") == 0)
            have_v2 = true;
        else
            have_v1 = true;
    }
    if (cg->n == 0)
        return box_err_set(err, ENOENT, "no cgroup filesystem is mounted");
    cg->layout = have_v1 ? (have_v2 ? BOX_CGROUP_HYBRID : BOX_CGROUP_V1) : BOX_CGROUP_V2;
    return 0;
}

int box_cgroup_set_path(struct box_cgroups *cg, const char *cgroups_path, const char *id,
                        struct box_err *err)
{
    char buf[PATH_MAX];
    if (!cgroups_path || !*cgroups_path)
        snprintf(buf, sizeof(buf), "/box/%s", id);
    else if (cgroups_path[0] == '/')
        snprintf(buf, sizeof(buf), "%s", cgroups_path);
    else
        /* relative: below our own cgroup, taken from the first hierarchy
         * (they agree on every host that keeps processes aligned). */
        snprintf(buf, sizeof(buf), "%s/%s", strcmp(cg->h[0].self, "/") == 0 ? "" : cg->h[0].self,
                 cgroups_path);
    /* normalise: one slash between components, none at the end; ".." was
     * refused by validation */
    char *w = buf;
    for (char *r = buf; *r; r++)
        if (!(r[0] == '/' && (r[1] == '/' || (r[1] == '\0' && w != buf))))
            *w++ = *r;
    *w = '\0';
    if (strcmp(buf, "/") == 0 || !*buf)
        return box_err_set(err, EINVAL, "linux.cgroupsPath: must not be the root cgroup");
    free(cg->path);
    cg->path = strdup(buf);
    return cg->path ? 0 : -ENOMEM;
}

int box_cgroup_dir(const struct box_cgroups *cg, size_t i, char *buf, size_t len)
{
    return hier_dir(cg, &cg->h[i], buf, len);
}

/* Directory of the container's cgroup in hierarchy h. */
static int hier_dir(const struct box_cgroups *cg, const struct box_cgroup_hier *h, char *buf,
                    size_t len)
{
    const char *p = cg->path;
    size_t rl = strlen(h->root);
    if (strcmp(h->root, "/") != 0) {
        if (strncmp(p, h->root, rl) != 0 || (p[rl] != '/' && p[rl] != '\0'))
            return -EXDEV;
        p += rl;
    }
    if (snprintf(buf, len, "%s%s", h->mount, p) >= (int)len)
        return -ENAMETOOLONG;
    return 0;
}

/* Copies cpuset.cpus/mems from the parent so a new v1 cpuset can hold tasks. */
static void v1_cpuset_init(const char *dir)
{
    char parent[PATH_MAX], *val = NULL;
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (!slash)
        return;
    *slash = '\0';
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    for (size_t i = 0; i < 2; i++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        if (box_read_file(AT_FDCWD, path, 4096, &val, NULL, NULL) == 0 && val[0] != '\n' &&
            val[0]) {
            free(val);
            continue;
        }
        free(val);
        val = NULL;
        snprintf(path, sizeof(path), "%s/%s", parent, files[i]);
        if (box_read_file(AT_FDCWD, path, 4096, &val, NULL, NULL) == 0) {
            box_cgroup_write(dir, files[i], val, NULL);
            free(val);
            val = NULL;
        }
    }
}

/* Initialises every level below the mount point: a new v1 cpuset is empty. */
static void v1_cpuset_init_path(const char *mount, const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + strlen(mount); (p = strchr(p + 1, '/'));) {
        *p = '\0';
        v1_cpuset_init(path);
        *p = '/';
    }
    v1_cpuset_init(path);
}

/* Enables the available controllers for children at every level from the
 * hierarchy root down to the container's parent. */
static int v2_enable_controllers(const struct box_cgroup_hier *h, const char *dir,
                                 struct box_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", dir);
    size_t mlen = strlen(h->mount);
    _cleanup_free_ char *avail = NULL;
    char f[PATH_MAX];
    snprintf(f, sizeof(f), "%s/cgroup.controllers", h->mount);
    if (box_read_file(AT_FDCWD, f, 4096, &avail, NULL, NULL) < 0)
        return 0;
    char want[512] = "";
    char *save = NULL;
    for (char *c = strtok_r(avail, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
        if (strcmp(c, "cpu") && strcmp(c, "memory") && strcmp(c, "pids") && strcmp(c, "cpuset") &&
            strcmp(c, "io") && strcmp(c, "hugetlb"))
            continue;
        strncat(want, want[0] ? " +" : "+", sizeof(want) - strlen(want) - 1);
        strncat(want, c, sizeof(want) - strlen(want) - 1);
    }
    if (!want[0])
        return 0;
    /* walk: mount, mount/a, mount/a/b ... up to the parent of dir */
    for (char *p = path + mlen; (p = strchr(p + 1, '/'));) {
        *p = '\0';
        box_cgroup_write(path, "cgroup.subtree_control", want, NULL);
        *p = '/';
    }
    box_cgroup_write(h->mount, "cgroup.subtree_control", want, NULL);
    (void)err;
    return 0;
}

/* Removes the container's cgroup from the hierarchies whose bit is set. */
static void remove_made(struct box_cgroups *cg, unsigned made)
{
    for (size_t i = 0; i < cg->n; i++) {
        char dir[PATH_MAX];
        if ((made & (1u << i)) && hier_dir(cg, &cg->h[i], dir, sizeof(dir)) == 0)
            rmdir(dir);
    }
}

int box_cgroup_create(struct box_cgroups *cg, const struct box_spec *spec,
                      enum box_cgroup_part part, struct box_err *err)
{
    unsigned made = 0;
    if (!cg->path)
        return 0;
    for (size_t i = 0; i < cg->n; i++) {
        struct box_cgroup_hier *h = &cg->h[i];
        char dir[PATH_MAX];
        if ((part == BOX_CGROUP_V2_PART && !h->v2) || (part == BOX_CGROUP_V1_PART && h->v2))
            continue;
        if (hier_dir(cg, h, dir, sizeof(dir)) < 0)
            continue; /* not reachable from this mount (nested hosts) */
        if (mkdir(dir, 0755) < 0) {
            /* Someone else's cgroup (or a leftover): never share it, and
             * never touch it. */
            int r = errno == EEXIST ? box_err_set(err, EEXIST, "cgroup `%s` already exists", dir)
                    : box_mkdir_p(dir, 0755, err) < 0 ? box_err_prefix(err, "create cgroup")
                                                      : 0;
            if (r < 0) {
                remove_made(cg, made);
                cg->made &= ~made;
                return r;
            }
        }
        made |= 1u << i;
        cg->made |= 1u << i;
        int r = 0;
        if (h->v2) {
            if (cg->layout == BOX_CGROUP_V2) {
                v2_enable_controllers(h, dir, err);
                if (spec)
                    r = box_cgroup_apply_v2(dir, spec, true, err);
            } else if (spec && spec->resources.n_hugetlb) {
                /* Hybrid: the cgroup2 mount may hold hugetlb alone. */
                v2_enable_controllers(h, dir, err);
                r = box_cgroup_apply_hugetlb(dir, true, &spec->resources, err);
            }
        } else {
            if (box_cgroup_has_controller(h, "cpuset"))
                v1_cpuset_init_path(h->mount, dir);
            if (spec)
                r = box_cgroup_apply_v1(dir, h, spec, true, err);
        }
        if (r < 0) {
            box_err_prefix(err, "cgroup `%s`", dir);
            remove_made(cg, made);
            cg->made &= ~made;
            return -err->code;
        }
    }
    return 0;
}

int box_cgroup_v2_open(const struct box_cgroups *cg)
{
    if (!cg->path)
        return -1;
    for (size_t i = 0; i < cg->n; i++) {
        char dir[PATH_MAX];
        if (cg->h[i].v2 && hier_dir(cg, &cg->h[i], dir, sizeof(dir)) == 0)
            return open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    return -1;
}

int box_cgroup_attach(struct box_cgroups *cg, pid_t pid, bool skip_v2, struct box_err *err)
{
    if (!cg->path)
        return 0;
    char s[24];
    snprintf(s, sizeof(s), "%d", (int)pid);
    for (size_t i = 0; i < cg->n; i++) {
        char dir[PATH_MAX];
        if (skip_v2 && cg->h[i].v2)
            continue;
        if (hier_dir(cg, &cg->h[i], dir, sizeof(dir)) < 0)
            continue;
        if (box_cgroup_write(dir, "cgroup.procs", s, err) < 0)
            return box_err_prefix(err, "join cgroup");
    }
    return 0;
}

int box_cgroup_join_self(const struct box_cgroups *cg, bool skip_v2, struct box_err *err)
{
    for (size_t i = 0; i < cg->n; i++) {
        char dir[PATH_MAX];
        if ((skip_v2 && cg->h[i].v2) || hier_dir(cg, &cg->h[i], dir, sizeof(dir)) < 0)
            continue;
        /* "0" in a v1 `tasks` file moves only the calling thread, which the
         * kernel does without the global threadgroup lock and its RCU grace
         * period (milliseconds on every container start). */
        if (box_cgroup_write(dir, cg->h[i].v2 ? "cgroup.procs" : "tasks", "0", err) < 0)
            return box_err_prefix(err, "join cgroup");
    }
    return 0;
}

/* Reads cgroup.procs of the container's cgroup in one hierarchy. */
static int read_pids(const char *dir, pid_t **out, size_t *n)
{
    _cleanup_free_ char *text = NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    *n = 0;
    *out = NULL;
    int r = box_read_file(AT_FDCWD, path, 16u << 20, &text, NULL, NULL);
    if (r < 0)
        return r;
    size_t cap = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        uint64_t v;
        if (box_parse_u64(l, INT32_MAX, &v) < 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            pid_t *np = realloc(*out, cap * sizeof(pid_t));
            if (!np)
                return -ENOMEM;
            *out = np;
        }
        (*out)[(*n)++] = (pid_t)v;
    }
    return 0;
}

/* The hierarchy that tracks processes best: cgroup2 where it exists (pure or
 * hybrid), else the pids or freezer controller, else the first. */
static const struct box_cgroup_hier *tracking_hier(const struct box_cgroups *cg)
{
    for (size_t i = 0; i < cg->n; i++)
        if (cg->h[i].v2)
            return &cg->h[i];
    for (size_t i = 0; i < cg->n; i++)
        if (box_cgroup_has_controller(&cg->h[i], "pids") ||
            box_cgroup_has_controller(&cg->h[i], "freezer"))
            return &cg->h[i];
    return cg->n ? &cg->h[0] : NULL;
}

int box_cgroup_signal_all(struct box_cgroups *cg, int sig, struct box_err *err)
{
    const struct box_cgroup_hier *h = tracking_hier(cg);
    char dir[PATH_MAX];
    if (!h || hier_dir(cg, h, dir, sizeof(dir)) < 0)
        return box_err_set(err, ENOENT, "no cgroup to signal");
    _cleanup_free_ pid_t *pids = NULL;
    size_t n;
    int r = read_pids(dir, &pids, &n);
    if (r < 0)
        return r == -ENOENT ? 0 : box_err_sys(err, -r, "read processes of `%s`", dir);
    for (size_t i = 0; i < n; i++)
        kill(pids[i], sig);
    return 0;
}

/* Kills what is left in one hierarchy's cgroup and removes it; processes
 * may still be exiting, so retry for up to ~2 s before giving up. */
static int destroy_one(const char *dir, struct box_err *err)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            return box_err_sys(err, errno, "remove cgroup `%s`", dir);
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        read_pids(dir, &pids, &n);
        for (size_t k = 0; k < n; k++)
            kill(pids[k], SIGKILL);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return box_err_sys(err, EBUSY, "remove cgroup `%s`", dir);
}

static int destroy_mask(struct box_cgroups *cg, unsigned mask, struct box_err *err)
{
    if (!cg->path)
        return 0;
    int ret = 0;
    for (size_t i = 0; i < cg->n; i++) {
        char dir[PATH_MAX];
        if (!(mask & (1u << i)) || hier_dir(cg, &cg->h[i], dir, sizeof(dir)) < 0)
            continue;
        int r = destroy_one(dir, ret == 0 ? err : NULL);
        if (r < 0 && ret == 0)
            ret = r;
    }
    return ret;
}

int box_cgroup_destroy(struct box_cgroups *cg, struct box_err *err)
{
    return destroy_mask(cg, ~0u, err);
}

void box_cgroup_destroy_made(struct box_cgroups *cg)
{
    destroy_mask(cg, cg->made, NULL);
    cg->made = 0;
}

void box_cgroup_free(struct box_cgroups *cg)
{
    for (size_t i = 0; i < cg->n; i++) {
        free(cg->h[i].mount);
        free(cg->h[i].root);
        free(cg->h[i].controllers);
        free(cg->h[i].self);
    }
    free(cg->path);
    memset(cg, 0, sizeof(*cg));
}

int box_cgroup_freeze(struct box_cgroups *cg, bool frozen, struct box_err *err)
{
    for (size_t i = 0; i < cg->n; i++) {
        char dir[PATH_MAX];
        const struct box_cgroup_hier *h = &cg->h[i];
        if (hier_dir(cg, h, dir, sizeof(dir)) < 0)
            continue;
        if (cg->layout == BOX_CGROUP_V2 && h->v2)
            return box_cgroup_write(dir, "cgroup.freeze", frozen ? "1" : "0", err);
        if (!h->v2 && box_cgroup_has_controller(h, "freezer"))
            return box_cgroup_write(dir, "freezer.state", frozen ? "FROZEN" : "THAWED", err);
    }
    return box_err_set(err, EOPNOTSUPP, "no freezer: neither a v1 freezer hierarchy nor cgroup2");
}

int box_cgroup_pids(const struct box_cgroups *cg, pid_t **pids, size_t *n, struct box_err *err)
{
    const struct box_cgroup_hier *h = tracking_hier(cg);
    char dir[PATH_MAX];
    if (!h || hier_dir(cg, h, dir, sizeof(dir)) < 0)
        return box_err_set(err, ENOENT, "the container has no cgroup");
    int r = read_pids(dir, pids, n);
    return r < 0 ? box_err_sys(err, -r, "read processes of `%s`", dir) : 0;
}

int box_cgroup_update(struct box_cgroups *cg, const struct box_spec *spec, bool devices,
                      struct box_err *err)
{
    for (size_t i = 0; i < cg->n; i++) {
        struct box_cgroup_hier *h = &cg->h[i];
        char dir[PATH_MAX];
        if (hier_dir(cg, h, dir, sizeof(dir)) < 0 || access(dir, F_OK) < 0)
            continue;
        int r = 0;
        if (h->v2 && cg->layout == BOX_CGROUP_V2)
            r = box_cgroup_apply_v2(dir, spec, devices, err);
        else if (h->v2 && spec->resources.n_hugetlb)
            r = box_cgroup_apply_hugetlb(dir, true, &spec->resources, err);
        else if (!h->v2)
            r = box_cgroup_apply_v1(dir, h, spec, devices, err);
        if (r < 0)
            return box_err_prefix(err, "cgroup `%s`", dir);
    }
    return 0;
}
