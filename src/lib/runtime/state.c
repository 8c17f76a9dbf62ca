#include "lib/runtime/state.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/base/fs.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

const char *box_status_name(enum box_status s)
{
    static const char *const names[] = {"creating", "created", "running", "stopped", "paused"};
    return names[s];
}

int box_state_root_open(const char *root, bool create, struct box_err *err)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (box_mkdir_p(root, 0700, err) < 0)
            return box_err_prefix(err, "create state root");
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0)
        return box_err_sys(err, errno, "open state root `%s`", root);
    return fd;
}

static int lock_dir(int fd)
{
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* The directory a create of `id` builds before publishing it: one name per
 * id (a hash, as ids may be long), so that a create killed midway leaves
 * something `delete --force` of that id can find and sweep. */
static void staging_name(const char *id, char *buf, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(buf, len, ".new-%016llx", (unsigned long long)h);
}

/* Removes the staging directory of `id` if no create holds its lock. */
int box_container_sweep_staging(int rootfd, const char *id)
{
    char tmp[64];
    staging_name(id, tmp, sizeof(tmp));
    int fd = openat(rootfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int r = 0;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        r = box_remove_tree(rootfd, tmp);
    else
        r = -EBUSY; /* a create of this id is running */
    close(fd);
    return r;
}

int box_container_dir_create(int rootfd, const char *id, struct box_container_dir *dir,
                             struct box_err *err)
{
    char tmp[64];
    staging_name(id, tmp, sizeof(tmp));
    if (mkdirat(rootfd, tmp, 0700) < 0) {
        /* Another create of this id is under way, or one died midway. */
        if (errno != EEXIST)
            return box_err_sys(err, errno, "create state directory");
        if (box_container_sweep_staging(rootfd, id) == -EBUSY)
            return box_err_set(err, EEXIST, "container `%s` is being created", id);
        if (mkdirat(rootfd, tmp, 0700) < 0)
            return errno == EEXIST ? box_err_set(err, EEXIST, "container `%s` is being created", id)
                                   : box_err_sys(err, errno, "create state directory");
    }
    int fd = openat(rootfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        unlinkat(rootfd, tmp, AT_REMOVEDIR);
        return box_err_sys(err, e, "open state directory");
    }
    lock_dir(fd);
    /* Publishing a directory that is already locked means no other command
     * can ever see it half-made; NOREPLACE makes exactly one create win. */
    if (syscall(SYS_renameat2, rootfd, tmp, rootfd, id, RENAME_NOREPLACE) < 0) {
        int e = errno;
        if (e == EINVAL) {
            /* A filesystem without RENAME_NOREPLACE: mkdir is atomic too. */
            unlinkat(rootfd, tmp, AT_REMOVEDIR);
            close(fd);
            if (mkdirat(rootfd, id, 0700) < 0)
                return errno == EEXIST
                           ? box_err_set(err, EEXIST, "container `%s` already exists", id)
                           : box_err_sys(err, errno, "create state directory `%s`", id);
            fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0 || lock_dir(fd) < 0)
                return box_err_sys(err, errno, "open state directory `%s`", id);
        } else {
            unlinkat(rootfd, tmp, AT_REMOVEDIR);
            close(fd);
            if (e == EEXIST || e == ENOTEMPTY)
                return box_err_set(err, EEXIST, "container `%s` already exists", id);
            return box_err_sys(err, e, "create state directory `%s`", id);
        }
    }
    dir->rootfd = rootfd;
    dir->fd = fd;
    dir->id = strdup(id);
    return 0;
}

int box_container_dir_open(int rootfd, const char *id, struct box_container_dir *dir,
                           struct box_err *err)
{
    int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            return box_err_set(err, ENOENT, "container `%s` does not exist", id);
        return box_err_sys(err, errno, "open container `%s`", id);
    }
    if (lock_dir(fd) < 0) {
        int e = errno;
        close(fd);
        return box_err_sys(err, e, "lock container `%s`", id);
    }
    /* A deleter may have removed it while we waited for the lock. */
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_nlink == 0) {
        close(fd);
        return box_err_set(err, ENOENT, "container `%s` does not exist", id);
    }
    dir->rootfd = rootfd;
    dir->fd = fd;
    dir->id = strdup(id);
    return 0;
}

int box_container_dir_remove(struct box_container_dir *dir, struct box_err *err)
{
    int r = box_remove_tree(dir->rootfd, dir->id);
    box_container_dir_close(dir);
    if (r < 0)
        return box_err_sys(err, -r, "remove state directory");
    return 0;
}

void box_container_dir_close(struct box_container_dir *dir)
{
    if (dir->fd >= 0)
        close(dir->fd);
    dir->fd = -1;
    free(dir->id);
    dir->id = NULL;
}

static json_t *state_json(const struct box_state *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "ociVersion", json_string("1.2.0"));
    json_object_set_new(o, "id", json_string(st->id));
    json_object_set_new(o, "pid", json_integer(st->pid));
    json_object_set_new(o, "bundle", json_string(st->bundle ? st->bundle : ""));
    json_object_set_new(o, "rootfs", json_string(st->rootfs ? st->rootfs : ""));
    json_object_set_new(o, "created", json_string(st->created ? st->created : ""));
    json_object_set_new(o, "owner", json_string(""));
    if (st->annotations)
        json_object_set(o, "annotations", st->annotations);
    return o;
}

int box_state_write(int dirfd, const struct box_state *st, struct box_err *err)
{
    json_t *o = state_json(st);
    json_t *priv = json_object();
    json_object_set_new(priv, "startTime", json_integer((json_int_t)st->start_time));
    json_object_set_new(priv, "ownerUid", json_integer(st->owner));
    if (st->cgroup)
        json_object_set_new(priv, "cgroup", json_string(st->cgroup));
    if (st->config)
        json_object_set(priv, "config", st->config);
    json_object_set_new(o, "box", priv);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return box_err_set(err, ENOMEM, "serialize state");
    int r = box_write_file_atomic(dirfd, BOX_STATE_FILE, text, strlen(text), 0600, err);
    free(text);
    return r;
}

static char *dup_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? strdup(s) : NULL;
}

int box_state_read(int rootfd, const char *id, struct box_state *st, struct box_err *err)
{
    memset(st, 0, sizeof(*st));
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", id, BOX_STATE_FILE);
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = box_read_file(rootfd, path, 64u << 20, &text, &len, err);
    if (r == -ENOENT) {
        struct stat sb;
        if (fstatat(rootfd, id, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode)) {
            /* Being created: the directory exists, the state not yet. */
            st->id = strdup(id);
            return 0;
        }
        return box_err_set(err, ENOENT, "container `%s` does not exist", id);
    }
    if (r < 0)
        return r;
    json_error_t jerr;
    json_t *o = json_loadb(text, len, 0, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return box_err_set(err, EINVAL, "state of `%s` is corrupt: %s", id, jerr.text);
    }
    st->id = strdup(id);
    st->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
    st->bundle = dup_str(o, "bundle");
    st->rootfs = dup_str(o, "rootfs");
    st->created = dup_str(o, "created");
    json_t *ann = json_object_get(o, "annotations");
    if (ann)
        st->annotations = json_incref(ann);
    json_t *priv = json_object_get(o, "box");
    st->start_time = (uint64_t)json_integer_value(json_object_get(priv, "startTime"));
    st->owner = (uid_t)json_integer_value(json_object_get(priv, "ownerUid"));
    st->cgroup = dup_str(priv, "cgroup");
    json_t *cfg = json_object_get(priv, "config");
    if (cfg)
        st->config = json_incref(cfg);
    json_decref(o);
    return 0;
}

void box_state_free(struct box_state *st)
{
    free(st->id);
    free(st->bundle);
    free(st->rootfs);
    free(st->created);
    free(st->cgroup);
    if (st->annotations)
        json_decref(st->annotations);
    if (st->config)
        json_decref(st->config);
    memset(st, 0, sizeof(*st));
}

/* Field 22 (starttime) of /proc/<pid>/stat, and the state letter (field 3).
 * The comm field may contain spaces and parentheses: parse after the last ')'. */
static uint64_t proc_stat(pid_t pid, char *state_out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;
    p += 2;
    if (state_out)
        *state_out = *p;
    /* p is at field 3; skip to field 22 */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return 0;
        p++;
    }
    return strtoull(p, NULL, 10);
}

uint64_t box_proc_start_time(pid_t pid)
{
    return proc_stat(pid, NULL);
}

int box_pidfd_checked(pid_t pid, uint64_t start_time)
{
    if (pid <= 0)
        return -ESRCH;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -errno;
    /* The pidfd pins the process: if the start time matches now, every later
     * signal through it reaches this very process, never a recycled pid. */
    char state = 0;
    uint64_t t = proc_stat(pid, &state);
    if (t == 0 || t != start_time || state == 'Z' || state == 'X') {
        close(fd);
        return -ESRCH;
    }
    return fd;
}

enum box_status box_state_status(int rootfd, const struct box_state *st)
{
    if (st->pid <= 0)
        return BOX_STATUS_CREATING;
    char state = 0;
    uint64_t t = proc_stat(st->pid, &state);
    if (t == 0 || t != st->start_time || state == 'Z' || state == 'X')
        return BOX_STATUS_STOPPED;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", st->id, BOX_EXEC_SOCK);
    if (faccessat(rootfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return BOX_STATUS_CREATED;
    snprintf(path, sizeof(path), "%s/%s", st->id, BOX_EXEC_SOCK_NEW);
    if (faccessat(rootfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return BOX_STATUS_CREATING;
    snprintf(path, sizeof(path), "%s/%s", st->id, BOX_PAUSED_MARK);
    if (faccessat(rootfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return BOX_STATUS_PAUSED;
    return BOX_STATUS_RUNNING;
}

json_t *box_state_to_public_json(int rootfd, const struct box_state *st)
{
    json_t *o = state_json(st);
    enum box_status s = box_state_status(rootfd, st);
    json_object_set_new(o, "status", json_string(box_status_name(s)));
    if (s == BOX_STATUS_STOPPED || s == BOX_STATUS_CREATING)
        json_object_set_new(o, "pid", json_integer(s == BOX_STATUS_CREATING ? 0 : st->pid));
    char owner[32];
    snprintf(owner, sizeof(owner), "%u", (unsigned)st->owner);
    json_object_set_new(o, "owner", json_string(st->owner == 0 ? "root" : owner));
    return o;
}
