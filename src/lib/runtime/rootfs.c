#include "lib/runtime/rootfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/resolve.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

const struct box_default_device box_default_devices[6] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

/* MS_* flags a bind remount must keep when the kernel locked them. */
static unsigned long locked_flags(int fd)
{
    struct statvfs sv;
    if (fstatvfs(fd, &sv) < 0)
        return 0;
    unsigned long f = 0;
    if (sv.f_flag & ST_NOSUID)
        f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    if (sv.f_flag & ST_RDONLY)
        f |= MS_RDONLY;
    if (sv.f_flag & ST_NOATIME)
        f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        f |= MS_RELATIME;
    return f;
}

/* Remounts the bind mount at fd with flags; retries with the flags the
 * kernel locked (user namespaces) added. */
static int bind_remount(int fd, unsigned long flags, const char *what, struct box_err *err)
{
    struct box_fdpath p = box_fdpath(fd);
    unsigned long base = MS_BIND | MS_REMOUNT;
    if (mount(NULL, p.s, NULL, base | flags, NULL) == 0)
        return 0;
    if (errno == EPERM) {
        unsigned long keep = locked_flags(fd) & ~(MS_RDONLY);
        if (mount(NULL, p.s, NULL, base | flags | keep, NULL) == 0)
            return 0;
    }
    return box_err_sys(err, errno, "remount `%s`", what);
}

/* Opens the mount target inside the root, creating it as a directory or a
 * file. proc and sysfs targets must not involve a symlink at all. */
static int open_target(struct box_rootfs *r, const struct box_mount *m, bool file,
                       struct box_err *err)
{
    bool strict = m->type && (strcmp(m->type, "proc") == 0 || strcmp(m->type, "sysfs") == 0);
    if (strict) {
        /* Refuse /proc or /sys planted as symlinks by the image. */
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", m->destination);
        char *slash = strrchr(parent, '/');
        const char *name = slash + 1;
        *slash = '\0';
        _cleanup_close_ int pfd = box_root_mkdirs(r->rootfd, parent[0] ? parent : "/", 0755, err);
        if (pfd < 0)
            return pfd;
        struct stat st;
        if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (!S_ISDIR(st.st_mode))
                return box_err_set(err, ELOOP,
                                   "refusing to mount %s on `%s`: it is not a directory in the "
                                   "image (a symlink?)",
                                   m->type, m->destination);
        } else if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST) {
            return box_err_sys(err, errno, "mkdir `%s`", m->destination);
        }
        int fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return box_err_sys(err, errno, "open `%s`", m->destination);
        return fd;
    }
    return file ? box_root_mkfile(r->rootfd, m->destination, 0644, err)
                : box_root_mkdirs(r->rootfd, m->destination, 0755, err);
}

static int reopen(struct box_rootfs *r, const char *dest, struct box_err *err)
{
    return box_root_open(r->rootfd, dest, O_PATH, err);
}

static int mount_bind(struct box_rootfs *r, const struct box_mount *m, struct box_err *err)
{
    char src[PATH_MAX];
    if (m->source[0] == '/')
        snprintf(src, sizeof(src), "%s", m->source);
    else
        snprintf(src, sizeof(src), "%s/%s", r->bundle, m->source);
    _cleanup_close_ int sfd = open(src, O_PATH | O_CLOEXEC);
    if (sfd < 0)
        return box_err_sys(err, errno, "bind source `%s`", src);
    struct stat st;
    if (fstat(sfd, &st) < 0)
        return box_err_sys(err, errno, "stat `%s`", src);
    _cleanup_close_ int tfd = open_target(r, m, !S_ISDIR(st.st_mode), err);
    if (tfd < 0)
        return tfd;
    struct box_fdpath sp = box_fdpath(sfd), tp = box_fdpath(tfd);
    if (mount(sp.s, tp.s, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
        return box_err_sys(err, errno, "bind `%s` on `%s`", src, m->destination);
    unsigned long extra = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (extra || m->propagation) {
        _cleanup_close_ int nfd = reopen(r, m->destination, err);
        if (nfd < 0)
            return nfd;
        if (extra && bind_remount(nfd, extra, m->destination, err) < 0)
            return -err->code;
        struct box_fdpath np = box_fdpath(nfd);
        if (m->propagation && mount(NULL, np.s, NULL, m->propagation, NULL) < 0)
            return box_err_sys(err, errno, "set propagation of `%s`", m->destination);
    }
    return 0;
}

static int sys_mount_setattr(int dfd, unsigned int flags, uint64_t set)
{
    struct mount_attr attr = {.attr_set = set};
    return (int)syscall(SYS_mount_setattr, dfd, "", flags | AT_EMPTY_PATH, &attr, sizeof(attr));
}

/* Binds the container's cgroup of each hierarchy below the fresh tmpfs at
 * cgfd (which holds nothing we did not make, so plain *at calls are safe). */
static int bind_hierarchies(const struct box_cgroups *cg, int cgfd, const char *dest,
                            struct box_err *err)
{
    for (size_t i = 0; i < cg->n; i++) {
        const struct box_cgroup_hier *h = &cg->h[i];
        const char *name = h->v2 ? "unified" : h->controllers;
        if (strncmp(name, "name=", 5) == 0)
            name += 5;
        char src[PATH_MAX];
        if (box_cgroup_dir(cg, i, src, sizeof(src)) < 0)
            continue; /* unreachable from our mount */
        _cleanup_close_ int sfd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0)
            continue; /* not created there */
        if (mkdirat(cgfd, name, 0755) < 0 && errno != EEXIST)
            return box_err_sys(err, errno, "mkdir `%s/%s`", dest, name);
        _cleanup_close_ int dfd = openat(cgfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
            return box_err_sys(err, errno, "open `%s/%s`", dest, name);
        struct box_fdpath sp = box_fdpath(sfd), dp = box_fdpath(dfd);
        if (mount(sp.s, dp.s, NULL, MS_BIND, NULL) < 0)
            return box_err_sys(err, errno, "bind cgroup `%s` on `%s/%s`", src, dest, name);
        if (!strchr(name, ','))
            continue;
        /* cpu,cpuacct -> links named cpu and cpuacct */
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", name);
        char *save = NULL;
        for (char *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save))
            if (symlinkat(name, cgfd, c) < 0 && errno != EEXIST)
                return box_err_sys(err, errno, "symlink `%s/%s`", dest, c);
    }
    return 0;
}

/* A cgroup mount: cgroup2 where the host is v2 (or the container has its
 * own cgroup namespace there); on v1 and hybrid hosts a tmpfs with each
 * hierarchy's container cgroup bound below it, as runc does. */
static int mount_cgroup(struct box_rootfs *r, const struct box_mount *m, int tfd,
                        struct box_err *err)
{
    const struct box_cgroups *cg = r->cgroups;
    struct box_fdpath tp = box_fdpath(tfd);
    unsigned long fl =
        (m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT)) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (!cg || cg->layout == BOX_CGROUP_V2) {
        /* In its own cgroup namespace the container's cgroup2 mount shows
         * only its subtree; without one, bind that subtree instead of
         * showing the host's whole hierarchy. */
        if (r->cgroupns || !cg) {
            if (mount("cgroup2", tp.s, "cgroup2", fl, NULL) < 0)
                return box_err_sys(err, errno, "mount cgroup2 on `%s`", m->destination);
            return 0;
        }
        char src[PATH_MAX];
        if (box_cgroup_dir(cg, 0, src, sizeof(src)) < 0)
            return box_err_set(err, EXDEV, "the container's cgroup is outside our cgroup mount");
        _cleanup_close_ int sfd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0)
            return box_err_sys(err, errno, "open cgroup `%s`", src);
        struct box_fdpath sp = box_fdpath(sfd);
        if (mount(sp.s, tp.s, NULL, MS_BIND, NULL) < 0)
            return box_err_sys(err, errno, "bind cgroup `%s` on `%s`", src, m->destination);
        _cleanup_close_ int nfd = reopen(r, m->destination, err);
        if (nfd < 0)
            return nfd;
        return bind_remount(nfd, fl, m->destination, err);
    }
    if (mount("tmpfs", tp.s, "tmpfs", fl & ~MS_RDONLY, "mode=755") < 0)
        return box_err_sys(err, errno, "mount tmpfs on `%s`", m->destination);
    _cleanup_close_ int cgfd = reopen(r, m->destination, err);
    if (cgfd < 0)
        return cgfd;
    if (bind_hierarchies(cg, cgfd, m->destination, err) < 0)
        return -err->code;
    /* One recursive attribute change for the tmpfs and every bind below. */
    uint64_t set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                   ((m->flags & MS_RDONLY) ? MOUNT_ATTR_RDONLY : 0);
    if (sys_mount_setattr(cgfd, AT_RECURSIVE, set) < 0)
        return box_err_sys(err, errno, "make `%s` %s", m->destination,
                           (m->flags & MS_RDONLY) ? "read-only" : "nosuid,nodev,noexec");
    return 0;
}

/* Copies the tree at `from` (the image's directory, now under the tmpfs)
 * into `to` (the fresh tmpfs): directories, regular files and symlinks, with
 * their modes and owners; nothing is followed, other types are skipped. */
static int copy_tree(int from, int to, int depth, struct box_err *err)
{
    if (depth > 64)
        return box_err_set(err, ELOOP, "tmpcopyup: deeper than 64 levels");
    int dfd = dup(from);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return box_err_sys(err, errno, "tmpcopyup: read directory");
    }
    int r = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d))) {
        const char *n = de->d_name;
        struct stat st;
        if (!strcmp(n, ".") || !strcmp(n, "..") || fstatat(from, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (mkdirat(to, n, st.st_mode & 07777) < 0 && errno != EEXIST)
                r = box_err_sys(err, errno, "tmpcopyup: mkdir `%s`", n);
            int sf = openat(from, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int tf = openat(to, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (r == 0 && sf >= 0 && tf >= 0)
                r = copy_tree(sf, tf, depth + 1, err);
            if (sf >= 0)
                close(sf);
            if (tf >= 0)
                close(tf);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t len = readlinkat(from, n, target, sizeof(target) - 1);
            if (len >= 0) {
                target[len] = '\0';
                if (symlinkat(target, to, n) < 0)
                    r = box_err_sys(err, errno, "tmpcopyup: symlink `%s`", n);
            }
        } else if (S_ISREG(st.st_mode)) {
            int sf = openat(from, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            int tf = openat(to, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                            st.st_mode & 07777);
            char buf[65536];
            ssize_t got;
            while (sf >= 0 && tf >= 0 && (got = read(sf, buf, sizeof(buf))) > 0)
                if (box_write_all(tf, buf, (size_t)got) < 0)
                    break;
            if (sf < 0 || tf < 0)
                r = box_err_sys(err, errno, "tmpcopyup: copy `%s`", n);
            if (sf >= 0)
                close(sf);
            if (tf >= 0)
                close(tf);
        } else {
            continue;
        }
        /* Owners are best effort: ids the user namespace does not map stay
         * with the copier. */
        if (r == 0 && fchownat(to, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
    }
    closedir(d);
    return r;
}

static int mount_one(struct box_rootfs *r, const struct box_mount *m, struct box_err *err)
{
    if (m->bind)
        return mount_bind(r, m, err);
    if (!m->type || !*m->type)
        return box_err_set(err, EINVAL, "mount `%s`: type required for a non-bind mount",
                           m->destination);
    _cleanup_close_ int tfd = open_target(r, m, false, err);
    if (tfd < 0)
        return tfd;
    if (strcmp(m->type, "cgroup") == 0 || strcmp(m->type, "cgroup2") == 0) {
        if (r->cgroup_ready && r->cgroup_ready(r->ctx, err) < 0)
            return -err->code;
        return mount_cgroup(r, m, tfd, err);
    }
    struct box_fdpath tp = box_fdpath(tfd);
    unsigned long flags = m->flags & ~(MS_REMOUNT);
    const char *src = m->source && *m->source ? m->source : m->type;
    /* tmpcopyup: keep a handle on what the image has there before the tmpfs
     * covers it; the copy is made before a read-only flag applies. */
    bool copyup = m->tmpcopyup && strcmp(m->type, "tmpfs") == 0;
    _cleanup_close_ int under = copyup ? openat(tfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (copyup && (flags & MS_RDONLY))
        flags &= ~MS_RDONLY;
    else if (copyup)
        copyup = under >= 0;
    if (mount(src, tp.s, m->type, flags, m->data) < 0) {
        int e = errno;
        /* sysfs in a network namespace we do not own: bind the host's. */
        if (strcmp(m->type, "sysfs") == 0 && (e == EPERM || e == EBUSY)) {
            if (mount("/sys", tp.s, NULL, MS_BIND | MS_REC, NULL) == 0)
                return 0;
        }
        if (strcmp(m->type, "mqueue") == 0 && (e == EPERM || e == EBUSY)) {
            if (mount("/dev/mqueue", tp.s, NULL, MS_BIND | MS_REC, NULL) == 0)
                return 0;
        }
        return box_err_sys(err, e, "mount %s on `%s` (options `%s`)", m->type, m->destination,
                           m->data ? m->data : "");
    }
    if (copyup && under >= 0) {
        _cleanup_close_ int top =
            box_root_open(r->rootfd, m->destination, O_RDONLY | O_DIRECTORY, err);
        if (top < 0 || copy_tree(under, top, 0, err) < 0)
            return box_err_prefix(err, "mount tmpfs on `%s`", m->destination);
        if ((m->flags & MS_RDONLY) && bind_remount(top, MS_RDONLY, m->destination, err) < 0)
            return -err->code;
    }
    if (m->propagation) {
        _cleanup_close_ int nfd = reopen(r, m->destination, err);
        if (nfd < 0)
            return nfd;
        struct box_fdpath np = box_fdpath(nfd);
        if (mount(NULL, np.s, NULL, m->propagation, NULL) < 0)
            return box_err_sys(err, errno, "set propagation of `%s`", m->destination);
    }
    return 0;
}

/* Creates a device node inside the root, replacing whatever the image put
 * at that path (a planted symlink is removed, never followed). Where mknod
 * is not allowed (user namespaces) the host's node is bind-mounted. */
static int make_device(struct box_rootfs *r, int devfd, const char *path, char type, unsigned major,
                       unsigned minor, mode_t mode, uid_t uid, gid_t gid, struct box_err *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || !slash[1])
        return box_err_set(err, EINVAL, "device path `%s` is invalid", path);
    const char *name = path + (slash - dir) + 1;
    *slash = '\0';
    /* /dev/<name>: the /dev fd resolved once; deeper paths resolve here. */
    _cleanup_close_ int own = -1;
    int pfd = devfd;
    if (strcmp(dir, "/dev") != 0) {
        own = box_root_mkdirs(r->rootfd, dir[0] ? dir : "/", 0755, err);
        if (own < 0)
            return own;
        pfd = own;
    }
    struct stat st;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode))
            return box_err_set(err, EISDIR, "device `%s`: a directory is in the way", path);
        if (unlinkat(pfd, name, 0) < 0)
            return box_err_sys(err, errno, "device `%s`: remove what is in the way", path);
    }
    mode_t fmt = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
    if (mknodat(pfd, name, fmt | (mode & 07777), type == 'p' ? 0 : makedev(major, minor)) < 0) {
        if (errno != EPERM || type == 'p')
            return box_err_sys(err, errno, "mknod `%s`", path);
        int fd = openat(pfd, name, O_CREAT | O_EXCL | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
            return box_err_sys(err, errno, "create `%s` for a device bind", path);
        struct box_fdpath tp = box_fdpath(fd);
        int rr = mount(path, tp.s, NULL, MS_BIND, NULL);
        int e = errno;
        close(fd);
        if (rr < 0)
            return box_err_sys(err, e, "bind device `%s`", path);
        return 0;
    }
    if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return box_err_sys(err, errno, "chown `%s`", path);
    return 0;
}

static int setup_devices(struct box_rootfs *r, struct box_err *err)
{
    const struct box_spec *s = r->spec;
    _cleanup_close_ int devfd = box_root_mkdirs(r->rootfd, "/dev", 0755, err);
    if (devfd < 0)
        return devfd;
    for (size_t i = 0; i < BOX_ARRAY_SIZE(box_default_devices); i++) {
        const struct box_default_device *d = &box_default_devices[i];
        bool overridden = false;
        for (size_t k = 0; k < s->n_devices; k++)
            if (strcmp(s->devices[k].path, d->path) == 0)
                overridden = true;
        if (!overridden &&
            make_device(r, devfd, d->path, 'c', d->major, d->minor, 0666, 0, 0, err) < 0)
            return -err->code;
    }
    for (size_t i = 0; i < s->n_devices; i++) {
        const struct box_device *d = &s->devices[i];
        if (make_device(r, devfd, d->path, d->type == 'u' ? 'c' : d->type, (unsigned)d->major,
                        (unsigned)d->minor, d->has_mode ? d->mode : 0666, d->has_uid ? d->uid : 0,
                        d->has_gid ? d->gid : 0, err) < 0)
            return box_err_prefix(err, "linux.devices[%zu]", i);
    }
    return 0;
}

static bool has_mount(const struct box_spec *s, const char *dest)
{
    for (size_t i = 0; i < s->n_mounts; i++)
        if (strcmp(s->mounts[i].destination, dest) == 0)
            return true;
    return false;
}

static int setup_dev_links(struct box_rootfs *r, struct box_err *err)
{
    static const struct {
        const char *name, *target;
    } links[] = {
        {"fd", "/proc/self/fd"},
        {"stdin", "/proc/self/fd/0"},
        {"stdout", "/proc/self/fd/1"},
        {"stderr", "/proc/self/fd/2"},
    };
    _cleanup_close_ int dev = box_root_mkdirs(r->rootfd, "/dev", 0755, err);
    if (dev < 0)
        return dev;
    for (size_t i = 0; i < BOX_ARRAY_SIZE(links); i++)
        if (symlinkat(links[i].target, dev, links[i].name) < 0 && errno != EEXIST)
            return box_err_sys(err, errno, "symlink /dev/%s", links[i].name);
    if (has_mount(r->spec, "/proc") && symlinkat("/proc/kcore", dev, "core") < 0 && errno != EEXIST)
        return box_err_sys(err, errno, "symlink /dev/core");
    if (has_mount(r->spec, "/dev/pts")) {
        struct stat st;
        if (fstatat(dev, "ptmx", &st, AT_SYMLINK_NOFOLLOW) == 0 && unlinkat(dev, "ptmx", 0) < 0)
            return box_err_sys(err, errno, "remove /dev/ptmx");
        if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
            return box_err_sys(err, errno, "symlink /dev/ptmx");
    }
    return 0;
}

int box_rootfs_prepare(struct box_rootfs *r, struct box_err *err)
{
    const struct box_spec *s = r->spec;
    /* Nothing we mount may propagate back to the host. */
    unsigned long prop = MS_SLAVE | MS_REC;
    if (s->rootfs_propagation & (MS_PRIVATE))
        prop = s->rootfs_propagation | MS_REC;
    if (mount(NULL, "/", NULL, prop, NULL) < 0)
        return box_err_sys(err, errno, "make / a slave mount");
    if (mount(r->rootfs, r->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        return box_err_sys(err, errno, "bind rootfs `%s`", r->rootfs);
    r->rootfd = open(r->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (r->rootfd < 0)
        return box_err_sys(err, errno, "open rootfs `%s`", r->rootfs);
    for (size_t i = 0; i < s->n_mounts; i++)
        if (mount_one(r, &s->mounts[i], err) < 0)
            return box_err_prefix(err, "mounts[%zu]", i);
    if (setup_devices(r, err) < 0 || setup_dev_links(r, err) < 0)
        return -err->code;
    return 0;
}

static int mask_path(struct box_rootfs *r, const char *path, struct box_err *err)
{
    _cleanup_close_ int fd = box_root_open(r->rootfd, path, O_PATH | O_NOFOLLOW, NULL);
    if (fd < 0)
        return 0; /* absent: nothing to hide */
    struct stat st;
    if (fstat(fd, &st) < 0)
        return box_err_sys(err, errno, "stat masked path `%s`", path);
    struct box_fdpath tp = box_fdpath(fd);
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", tp.s, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=0,mode=000") < 0)
            return box_err_sys(err, errno, "mask `%s`", path);
        return 0;
    }
    /* Bind the host's /dev/null, opened and checked before we touched the
     * container: the image's /dev/null may be anything (CVE-2025-31133). */
    struct box_fdpath np = box_fdpath(r->devnullfd);
    if (mount(np.s, tp.s, NULL, MS_BIND, NULL) < 0)
        return box_err_sys(err, errno, "mask `%s`", path);
    return 0;
}

static int readonly_path(struct box_rootfs *r, const char *path, struct box_err *err)
{
    _cleanup_close_ int fd = box_root_open(r->rootfd, path, O_PATH | O_NOFOLLOW, NULL);
    if (fd < 0)
        return 0;
    struct box_fdpath tp = box_fdpath(fd);
    if (mount(tp.s, tp.s, NULL, MS_BIND | MS_REC, NULL) < 0)
        return box_err_sys(err, errno, "bind read-only path `%s`", path);
    _cleanup_close_ int nfd = box_root_open(r->rootfd, path, O_PATH | O_NOFOLLOW, err);
    if (nfd < 0)
        return nfd;
    return bind_remount(nfd, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, path, err);
}

int box_rootfs_finalize(struct box_rootfs *r, bool no_pivot, struct box_err *err)
{
    const struct box_spec *s = r->spec;
    for (size_t i = 0; i < s->n_masked_paths; i++)
        if (mask_path(r, s->masked_paths[i], err) < 0)
            return box_err_prefix(err, "linux.maskedPaths[%zu]", i);
    for (size_t i = 0; i < s->n_readonly_paths; i++)
        if (readonly_path(r, s->readonly_paths[i], err) < 0)
            return box_err_prefix(err, "linux.readonlyPaths[%zu]", i);
    if (s->root_readonly && bind_remount(r->rootfd, MS_RDONLY, "/", err) < 0)
        return box_err_prefix(err, "root.readonly");
    if (fchdir(r->rootfd) < 0)
        return box_err_sys(err, errno, "chdir to rootfs");
    if (no_pivot) {
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
            return box_err_sys(err, errno, "move rootfs to /");
        if (chroot(".") < 0)
            return box_err_sys(err, errno, "chroot");
    } else {
        /* pivot_root(".", ".") stacks the old root on top of the new one;
         * detaching it leaves the new root alone, with no put_old dir. */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            return box_err_sys(err, errno, "pivot_root to `%s`", r->rootfs);
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
            return box_err_sys(err, errno, "make the old root a slave");
        if (umount2(".", MNT_DETACH) < 0)
            return box_err_sys(err, errno, "detach the old root");
    }
    if (chdir("/") < 0)
        return box_err_sys(err, errno, "chdir /");
    if (s->rootfs_propagation && mount(NULL, "/", NULL, s->rootfs_propagation, NULL) < 0)
        return box_err_sys(err, errno, "linux.rootfsPropagation");
    return 0;
}
