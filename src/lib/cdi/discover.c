/* NVIDIA discovery for `box cdi generate` (lib/cdi/generate.h): GPUs and
 * the driver version from proc, nodes from dev, libraries through the
 * linker cache and the usual library directories, binaries, GSP firmware
 * and IPC sockets from the driver root. Every path is resolved inside its
 * root, so a symlink in a driver tree never leads outside of it. */
#include "lib/cdi/generate.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/resolve.h"
#include "lib/cdi/discover.h"
#include "lib/cdi/elf.h"
#include "lib/cdi/ldcache.h"

#define DIR_ENTRIES_MAX 16384 /* entries read from any one directory */

static const char *const bin_dirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                       "/usr/bin",        "/sbin",          "/bin"};
static const char *const binaries[] = {"nvidia-smi", "nvidia-debugdump", "nvidia-persistenced",
                                       "nvidia-cuda-mps-control", "nvidia-cuda-mps-server"};
static const char *const sockets[] = {"/run/nvidia-persistenced/socket",
                                      "/run/nvidia-fabricmanager/socket"};
#define MPS_PIPE_DIR "/tmp/nvidia-mps"

/* ---- roots and paths ----------------------------------------------------- */

static int open_root(struct gen_root *r, const char *flag, const char *given, struct box_err *err)
{
    r->flag = flag;
    r->fd = -1;
    if (!given || !*given)
        return box_err_set(err, EINVAL, "%s: empty path", flag);
    if (!realpath(given, r->path))
        return box_err_sys(err, errno, "%s `%s`", flag, given);
    r->fd = open(r->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (r->fd < 0)
        return box_err_sys(err, errno, "%s `%s`", flag, given);
    return 0;
}

/* The host path of an fd opened inside r, and the path it has inside r. */
int gen_resolved(const struct gen_root *r, int fd, char host[PATH_MAX], char path[PATH_MAX],
                 struct box_err *err)
{
    struct box_fdpath p = box_fdpath(fd);
    ssize_t n = readlink(p.s, host, PATH_MAX - 1);
    if (n < 0)
        return box_err_sys(err, errno, "%s: find the path of an open file", r->flag);
    host[n] = '\0';
    size_t rl = strlen(r->path);
    if (strcmp(r->path, "/") == 0) {
        snprintf(path, PATH_MAX, "%s", host);
    } else if (strncmp(host, r->path, rl) == 0 && (host[rl] == '/' || host[rl] == '\0')) {
        snprintf(path, PATH_MAX, "%s", host[rl] ? host + rl : "/");
    } else {
        return box_err_set(err, EXDEV, "%s: `%s` lies outside `%s`", r->flag, host, r->path);
    }
    return 0;
}

/* Opens path inside r; -ENOENT (err untouched) when it does not exist. */
int gen_open(const struct gen_root *r, const char *path, int flags, struct box_err *err)
{
    struct box_err e = {0};
    int fd = box_root_open(r->fd, path, flags, &e);
    if (fd == -ENOENT || fd == -ENOTDIR)
        return -ENOENT;
    if (fd < 0)
        return box_err_sys(err, -fd, "%s `%s`: `%s`", r->flag, r->path, path);
    return fd;
}

int gen_add_file(struct box_gen_file **v, size_t *n, const char *host, const char *path,
                 struct box_err *err)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].host, host) == 0 && strcmp((*v)[i].path, path) == 0)
            return 0;
    if (*n >= BOX_GEN_MAX_FILES)
        return box_err_set(err, E2BIG, "more than %d files to mount", BOX_GEN_MAX_FILES);
    struct box_gen_file *nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv)
        return box_err_set(err, ENOMEM, "out of memory");
    *v = nv;
    nv[*n] = (struct box_gen_file){strdup(host), strdup(path)};
    if (!nv[*n].host || !nv[*n].path) {
        free(nv[*n].host);
        free(nv[*n].path);
        return box_err_set(err, ENOMEM, "out of memory");
    }
    (*n)++;
    return 1;
}

/* ---- GPUs and nodes --------------------------------------------------------- */

/* "dddd:bb:dd.f" in hex, as the kernel names PCI devices. */
static bool pci_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 7 || n > 16)
        return false;
    for (; *s; s++)
        if (!strchr("0123456789abcdefABCDEF:.", *s))
            return false;
    return true;
}

/* A character node inside the dev root. 0 found; -ENOENT missing. */
static int find_node(const struct gen_root *dev, const char *path, struct stat *st,
                     char host[PATH_MAX], char cpath[PATH_MAX], struct box_err *err)
{
    _cleanup_close_ int fd = gen_open(dev, path, O_PATH, err);
    if (fd < 0)
        return fd;
    if (fstat(fd, st) < 0)
        return box_err_sys(err, errno, "%s: stat `%s`", dev->flag, path);
    if (!S_ISCHR(st->st_mode))
        return box_err_set(err, ENODEV, "%s `%s`: `%s` is not a character device", dev->flag,
                           dev->path, path);
    return gen_resolved(dev, fd, host, cpath, err);
}

static int gpu_node(struct gen_ctx *c, struct box_gen_gpu *g, struct box_err *err)
{
    char path[64], host[PATH_MAX], cpath[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "/dev/nvidia%u", g->minor);
    int r = find_node(&c->dev, path, &st, host, cpath, err);
    if (r == -ENOENT)
        return box_err_set(err, ENOENT, "GPU %s (minor %u): no `%s` under %s `%s`", g->pci,
                           g->minor, path, c->dev.flag, c->dev.path);
    if (r < 0)
        return r;
    if (major(st.st_rdev) != BOX_GEN_NVIDIA_MAJOR || minor(st.st_rdev) != g->minor)
        return box_err_set(err, ENODEV, "GPU %s: `%s` is %u:%u, not %d:%u", g->pci, path,
                           major(st.st_rdev), minor(st.st_rdev), BOX_GEN_NVIDIA_MAJOR, g->minor);
    if (strlen(cpath) >= sizeof(g->node))
        return box_err_set(err, ENAMETOOLONG, "GPU %s: `%s` leads to a too long path", g->pci,
                           path);
    snprintf(g->node, sizeof(g->node), "%s", cpath);
    return 0;
}

/* The GPU's DRM nodes through udev's by-path links, when there are any. */
static int gpu_drm(struct gen_ctx *c, struct box_gen_gpu *g, struct box_err *err)
{
    static const char *const kinds[] = {"card", "render"};
    for (size_t k = 0; k < 2; k++) {
        char link[96], host[PATH_MAX], cpath[PATH_MAX];
        struct stat st;
        snprintf(link, sizeof(link), "/dev/dri/by-path/pci-%s-%s", g->pci, kinds[k]);
        int r = find_node(&c->dev, link, &st, host, cpath, err);
        if (r == -ENOENT)
            continue;
        if (r < 0)
            return r;
        if (strlen(cpath) >= sizeof(g->card) || strncmp(cpath, "/dev/dri/", 9) != 0)
            return box_err_set(err, EINVAL, "GPU %s: `%s` leads to `%s`, not a /dev/dri node",
                               g->pci, link, cpath);
        snprintf(k ? g->render : g->card, sizeof(g->card), "%s", cpath);
        snprintf(k ? g->render_link : g->card_link, sizeof(g->card_link), "%s", link);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_gpu(struct gen_ctx *c, const char *pci, struct box_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/driver/nvidia/gpus/%s/information", pci);
    _cleanup_close_ int fd = gen_open(&c->proc, path, O_RDONLY, err);
    if (fd == -ENOENT)
        return box_err_set(err, ENOENT, "%s `%s`: no `%s`", c->proc.flag, c->proc.path, path);
    if (fd < 0)
        return fd;
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = box_read_fd(fd, BOX_GEN_INFO_MAX, &text, &len);
    if (r < 0)
        return box_err_sys(err, -r, "read `%s`", path);
    struct box_gen_gpu *g = &c->h->gpus[c->h->n_gpus];
    memset(g, 0, sizeof(*g));
    snprintf(g->pci, sizeof(g->pci), "%s", pci);
    if ((r = box_gen_parse_information(text, path, g, err)) < 0)
        return r;
    for (size_t i = 0; i < c->h->n_gpus; i++) {
        if (c->h->gpus[i].minor == g->minor)
            return box_err_set(err, EINVAL, "`%s`: Device Minor %u also belongs to GPU %s", path,
                               g->minor, c->h->gpus[i].pci);
        if (strcmp(c->h->gpus[i].uuid, g->uuid) == 0)
            return box_err_set(err, EINVAL, "`%s`: GPU UUID %s also belongs to GPU %s", path,
                               g->uuid, c->h->gpus[i].pci);
    }
    if ((r = gpu_node(c, g, err)) < 0 || (r = gpu_drm(c, g, err)) < 0)
        return r;
    c->h->n_gpus++;
    return 0;
}

static int read_gpus(struct gen_ctx *c, struct box_err *err)
{
    const char *dir = "/proc/driver/nvidia/gpus";
    int fd = gen_open(&c->proc, dir, O_RDONLY | O_DIRECTORY, err);
    if (fd == -ENOENT)
        return box_err_set(err, ENOENT, "no NVIDIA GPU: %s `%s` has no `%s`", c->proc.flag,
                           c->proc.path, dir);
    if (fd < 0)
        return fd;
    char **names = NULL;
    size_t n = 0;
    int r = gen_list_dir(fd, dir, &names, &n, BOX_GEN_MAX_GPUS, err);
    for (size_t i = 0; r >= 0 && i < n; i++)
        if (!pci_name_ok(names[i]))
            r = box_err_set(err, EINVAL, "`%s/%s`: not a PCI device name", dir, names[i]);
    if (r >= 0 && n == 0)
        r = box_err_set(err, ENOENT, "no NVIDIA GPU: %s `%s`: `%s` is empty", c->proc.flag,
                        c->proc.path, dir);
    /* NVML numbers GPUs in PCI bus order; so do the index names. */
    if (r >= 0 && n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = read_gpu(c, names[i], err);
    gen_strv_free(names, n);
    return r < 0 ? r : 0;
}

static int read_control_nodes(struct gen_ctx *c, struct box_err *err)
{
    static const struct {
        const char *path;
        bool required;
        int minor; /* of major 195, or -1: the uvm major is dynamic */
    } nodes[] = {{"/dev/nvidiactl", true, 255},
                 {"/dev/nvidia-modeset", false, 254},
                 {"/dev/nvidia-uvm", false, -1},
                 {"/dev/nvidia-uvm-tools", false, -1}};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(nodes); i++) {
        char host[PATH_MAX], cpath[PATH_MAX];
        struct stat st;
        int r = find_node(&c->dev, nodes[i].path, &st, host, cpath, err);
        if (r == -ENOENT && !nodes[i].required)
            continue;
        if (r == -ENOENT)
            return box_err_set(err, ENOENT, "no `%s` under %s `%s`", nodes[i].path, c->dev.flag,
                               c->dev.path);
        if (r < 0)
            return r;
        if (nodes[i].minor >= 0 && (major(st.st_rdev) != BOX_GEN_NVIDIA_MAJOR ||
                                    minor(st.st_rdev) != (unsigned)nodes[i].minor))
            return box_err_set(err, ENODEV, "`%s` is %u:%u, not %d:%d", nodes[i].path,
                               major(st.st_rdev), minor(st.st_rdev), BOX_GEN_NVIDIA_MAJOR,
                               nodes[i].minor);
        if ((r = gen_add_file(&c->h->nodes, &c->h->n_nodes, host, nodes[i].path, err)) < 0)
            return r;
    }
    return 0;
}

/* ---- directories ------------------------------------------------------------ */

void gen_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The names in a directory (not . and ..), at most max of them. Takes fd. */
int gen_list_dir(int fd, const char *what, char ***names, size_t *n, size_t max,
                 struct box_err *err)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return box_err_sys(err, errno, "read `%s`", what);
    }
    int r = 0;
    size_t seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (++seen > DIR_ENTRIES_MAX || *n >= max) {
            r = box_err_set(err, E2BIG, "`%s`: more than %zu entries", what,
                            *n >= max ? max : (size_t)DIR_ENTRIES_MAX);
            break;
        }
        char **nv = realloc(*names, (*n + 1) * sizeof(**names));
        if (!nv) {
            r = box_err_set(err, ENOMEM, "out of memory");
            break;
        }
        *names = nv;
        if (!(nv[*n] = strdup(e->d_name))) {
            r = box_err_set(err, ENOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    closedir(d);
    return r;
}

/* ---- binaries, firmware, sockets ------------------------------------------ */

/* A driver installed under its own prefix keeps its programs and firmware
 * beside its libraries: /usr/local/nvidia/lib64 -> /usr/local/nvidia. The
 * prefix of library directory i, or NULL when it is / or /usr (the usual
 * directories cover those). */
static const char *lib_prefix(const struct box_gen_host *h, size_t i, char out[PATH_MAX])
{
    snprintf(out, PATH_MAX, "%s", h->lib_dirs[i]);
    char *slash = strrchr(out, '/');
    if (!slash || slash == out)
        return NULL;
    *slash = '\0';
    return strcmp(out, "/usr") == 0 ? NULL : out;
}

/* One program in dir: 1 added, 0 not there or not an ELF executable (a
 * shell wrapper that execs the real one elsewhere would not run in a
 * container), < 0 error. */
static int add_binary(struct gen_ctx *c, const char *dir, const char *name, const char *cdir,
                      struct box_err *err)
{
    char path[PATH_MAX], host[PATH_MAX], rpath[PATH_MAX], cpath[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    _cleanup_close_ int fd = gen_open(&c->drv, path, O_RDONLY | O_NONBLOCK, err);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return box_err_sys(err, errno, "stat `%s`", path);
    if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
        return 0;
    struct box_elf_info info;
    struct box_err e = {0};
    if (box_elf_read(fd, path, &info, &e) < 0)
        return 0;
    int r = gen_resolved(&c->drv, fd, host, rpath, err);
    snprintf(cpath, sizeof(cpath), "%s/%s", cdir ? cdir : dir, name);
    if (r >= 0)
        r = gen_add_file(&c->h->mounts, &c->h->n_mounts, host, cpath, err);
    return r < 0 ? r : 1;
}

/* Each program from the first directory that has it: the usual ones, then
 * bin/ under a library prefix, mounted as /usr/bin/<name> so that it is on
 * the container's PATH. */
static int read_binaries(struct gen_ctx *c, struct box_err *err)
{
    for (size_t b = 0; b < BOX_ARRAY_SIZE(binaries); b++) {
        int r = 0;
        for (size_t d = 0; r == 0 && d < BOX_ARRAY_SIZE(bin_dirs); d++)
            r = add_binary(c, bin_dirs[d], binaries[b], NULL, err);
        for (size_t d = 0; r == 0 && d < c->h->n_lib_dirs; d++) {
            char prefix[PATH_MAX], dir[PATH_MAX + 8];
            if (!lib_prefix(c->h, d, prefix))
                continue;
            snprintf(dir, sizeof(dir), "%s/bin", prefix);
            r = add_binary(c, dir, binaries[b], "/usr/bin", err);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* The gsp*.bin files of dir, mounted under cdir. 1 when dir exists. */
static int firmware_in(struct gen_ctx *c, const char *dir, const char *cdir, struct box_err *err)
{
    char host[PATH_MAX], rpath[PATH_MAX];
    int fd = gen_open(&c->drv, dir, O_RDONLY | O_DIRECTORY, err);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    int r = gen_resolved(&c->drv, fd, host, rpath, err);
    int dfd = r < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
    char **names = NULL;
    size_t n = 0;
    if (r >= 0)
        r = gen_list_dir(fd, dir, &names, &n, BOX_GEN_MAX_FILES, err);
    else
        close(fd);
    if (r >= 0 && n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; r >= 0 && i < n; i++) {
        size_t l = strlen(names[i]);
        struct stat st;
        if (strncmp(names[i], "gsp", 3) != 0 || l < 7 || strcmp(names[i] + l - 4, ".bin") != 0)
            continue;
        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        char fh[PATH_MAX * 2], fp[PATH_MAX * 2];
        snprintf(fh, sizeof(fh), "%s/%s", host, names[i]);
        snprintf(fp, sizeof(fp), "%s/%s", cdir, names[i]);
        r = gen_add_file(&c->h->mounts, &c->h->n_mounts, fh, fp, err);
    }
    if (dfd >= 0)
        close(dfd);
    gen_strv_free(names, n);
    return r < 0 ? r : 1;
}

/* The GSP firmware of this driver version: /lib/firmware/nvidia/<ver>, or
 * firmware/nvidia/<ver> under a library prefix; mounted where the first
 * is. */
static int read_firmware(struct gen_ctx *c, struct box_err *err)
{
    char cdir[PATH_MAX];
    snprintf(cdir, sizeof(cdir), "/lib/firmware/nvidia/%s", c->h->version);
    int r = firmware_in(c, cdir, cdir, err);
    for (size_t d = 0; r == 0 && d < c->h->n_lib_dirs; d++) {
        char prefix[PATH_MAX], dir[PATH_MAX * 2];
        if (!lib_prefix(c->h, d, prefix))
            continue;
        snprintf(dir, sizeof(dir), "%s/firmware/nvidia/%s", prefix, c->h->version);
        r = firmware_in(c, dir, cdir, err);
    }
    return r < 0 ? r : 0;
}

/* IPC sockets of the persistence and fabric manager daemons, and the MPS
 * pipe directory; only what exists with the right type. */
static int read_sockets(struct gen_ctx *c, struct box_err *err)
{
    for (size_t i = 0; i <= BOX_ARRAY_SIZE(sockets); i++) {
        const char *path = i < BOX_ARRAY_SIZE(sockets) ? sockets[i] : MPS_PIPE_DIR;
        char host[PATH_MAX], cpath[PATH_MAX];
        _cleanup_close_ int fd = gen_open(&c->drv, path, O_PATH, err);
        if (fd == -ENOENT)
            continue;
        if (fd < 0)
            return fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
            return box_err_sys(err, errno, "stat `%s`", path);
        if (i < BOX_ARRAY_SIZE(sockets) ? !S_ISSOCK(st.st_mode) : !S_ISDIR(st.st_mode))
            continue;
        int r = gen_resolved(&c->drv, fd, host, cpath, err);
        if (r < 0 || (r = gen_add_file(&c->h->mounts, &c->h->n_mounts, host, path, err)) < 0)
            return r;
    }
    return 0;
}

/* ---- the driver version ------------------------------------------------------- */

static int read_version(struct gen_ctx *c, struct box_err *err)
{
    const char *path = "/proc/driver/nvidia/version";
    _cleanup_close_ int fd = gen_open(&c->proc, path, O_RDONLY, err);
    if (fd == -ENOENT)
        return 0; /* the libraries' names tell it */
    if (fd < 0)
        return fd;
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = box_read_fd(fd, BOX_GEN_INFO_MAX, &text, &len);
    if (r < 0)
        return box_err_sys(err, -r, "read `%s`", path);
    r = box_gen_parse_version(text, c->h->version, sizeof(c->h->version), err);
    return r < 0 ? box_err_prefix(err, "%s `%s`: `%s`", c->proc.flag, c->proc.path, path) : 0;
}

int box_gen_discover(const struct box_gen_opts *o, struct box_gen_host *h, struct box_err *err)
{
    memset(h, 0, sizeof(*h));
    struct gen_ctx c = {.h = h, .o = o, .drv.fd = -1, .dev.fd = -1, .proc.fd = -1};
    const char *drv = o->driver_root ? o->driver_root : "/";
    int r = open_root(&c.drv, "--driver-root", drv, err);
    if (r >= 0)
        r = open_root(&c.dev, "--dev-root", o->dev_root ? o->dev_root : drv, err);
    if (r >= 0)
        r = open_root(&c.proc, "--proc-root", o->proc_root ? o->proc_root : "/", err);
    if (r >= 0 && strcmp(c.dev.path, "/") != 0)
        snprintf(h->dev_root, sizeof(h->dev_root), "%s", c.dev.path);
    if (r >= 0)
        r = read_version(&c, err);
    if (r >= 0)
        r = read_gpus(&c, err);
    if (r >= 0)
        r = read_control_nodes(&c, err);
    if (r >= 0)
        r = gen_read_libraries(&c, err);
    if (r >= 0)
        r = read_binaries(&c, err);
    if (r >= 0)
        r = read_firmware(&c, err);
    if (r >= 0)
        r = read_sockets(&c, err);
    int fds[] = {c.drv.fd, c.dev.fd, c.proc.fd};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (r < 0)
        box_gen_host_free(h);
    return r < 0 ? r : 0;
}

static void files_free(struct box_gen_file *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].host);
        free(v[i].path);
    }
    free(v);
}

void box_gen_host_free(struct box_gen_host *h)
{
    files_free(h->nodes, h->n_nodes);
    files_free(h->mounts, h->n_mounts);
    for (size_t i = 0; i < h->n_links; i++) {
        free(h->links[i].target);
        free(h->links[i].link);
    }
    free(h->links);
    gen_strv_free(h->lib_dirs, h->n_lib_dirs);
    memset(h, 0, sizeof(*h));
}
