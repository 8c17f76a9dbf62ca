#include "lib/oci/unpack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/image/decomp.h"
#include "lib/image/extract.h"
#include "lib/image/fsx.h"
#include "lib/image/tree.h"

#define MOVED BOX_NODE_SEEN /* a directory renamed into the root whole */

int box_oci_whiteout_kind(const char *path, const char **target)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, ".wh.", 4) != 0)
        return BOX_OCI_WH_NONE;
    if (strcmp(base, ".wh..wh..opq") == 0)
        return BOX_OCI_WH_OPAQUE;
    const char *name = base + 4;
    /* image-spec layer.md: the `.wh..wh.` prefix is reserved. */
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strncmp(name, ".wh.", 4) == 0)
        return BOX_OCI_WH_BAD;
    if (target)
        *target = name;
    return BOX_OCI_WH_FILE;
}

static const char *split(const char *path, char *parent)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    memcpy(parent, path, n);
    parent[n] = '\0';
    return slash ? slash + 1 : path;
}

/* A directory below root_fd, never through a symlink; -ENOENT when absent. */
static int open_dir(int root_fd, const char *dir, int flags)
{
    if (!dir[0]) {
        int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        return fd < 0 ? -errno : fd;
    }
    return box_fsx_open_beneath(root_fd, dir, flags | O_DIRECTORY, 0);
}

static int parent_error(int r, size_t layer, const char *path, struct box_err *err)
{
    if (r == -ELOOP || r == -EXDEV || r == -ENOTDIR)
        return box_err_set(err, BOX_EDATA,
                           "layer %zu: `%s` lies below a symlink or file of a lower layer", layer,
                           path);
    return box_err_sys(err, -r, "layer %zu: parent of `%s`", layer, path);
}

static int extract_layer(int layout_fd, const struct box_oci_image *img, size_t i, int dest_fd,
                         struct box_tree *tree, struct box_oci_unpack_stats *st,
                         struct box_err *err)
{
    _cleanup_close_ int fd = box_oci_blob_open(layout_fd, &img->layers[i], err);
    if (fd < 0)
        return box_err_prefix(err, "layer %zu", i);
    struct box_decomp_limits lim = {
        .max_out = 64ull << 30, .max_ratio = 200, .ratio_floor = 64ull << 20};
    struct box_decomp *d = NULL;
    unsigned dflags = img->compression[i] == BOX_OCI_PLAIN ? BOX_DECOMP_ALLOW_PLAIN : 0;
    int r = box_decomp_open(fd, dflags, &lim, &d, err);
    if (r < 0)
        return box_err_prefix(err, "layer %zu (%s)", i, img->layers[i].digest);
    struct box_extract_opts o = {
        .src = d,
        .dest_fd = dest_fd,
        .noun = "layer",
        .flags = BOX_EXTRACT_ALLOW_HARDLINKS | BOX_EXTRACT_IGNORE_XATTRS |
                 BOX_EXTRACT_ANY_SYMLINK_TARGET,
    };
    box_extract_limits_default(&o.limits);
    struct box_extract_stats es;
    r = box_extract_tar(&o, tree, &es, err);
    box_decomp_free(d);
    if (r < 0)
        return box_err_prefix(err, "layer %zu (%s)", i, img->layers[i].digest);
    if ((r = box_extract_apply_dir_modes(dest_fd, tree, err)) < 0)
        return box_err_prefix(err, "layer %zu", i);
    st->layers++;
    st->entries += es.entries;
    st->files += es.files;
    st->file_bytes += es.file_bytes;
    return 0;
}

/* Every whiteout of a layer is well formed, before any is applied. */
static int check_whiteouts(const struct box_tree *t, size_t layer, struct box_err *err)
{
    for (size_t i = 0; i < t->count; i++) {
        const struct box_node *nd = t->nodes[i];
        int kind = box_oci_whiteout_kind(nd->path, NULL);
        if (kind == BOX_OCI_WH_BAD || (kind != BOX_OCI_WH_NONE && nd->type != BOX_NODE_FILE))
            return box_err_set(err, BOX_EDATA, "layer %zu: `%s`: not a valid whiteout", layer,
                               nd->path);
    }
    return 0;
}

static int clear_dir(int root_fd, const char *dir, size_t layer, struct box_err *err)
{
    int fd = open_dir(root_fd, dir, O_RDONLY);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return parent_error(fd, layer, dir, err);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return box_err_sys(err, errno, "layer %zu: opaque `%s`", layer, dir);
    }
    int r = 0;
    struct dirent *de;
    while (r >= 0 && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int rr = box_remove_tree(dirfd(d), de->d_name);
        if (rr < 0)
            r = box_err_sys(err, -rr, "layer %zu: opaque `%s`: remove `%s`", layer, dir,
                            de->d_name);
    }
    closedir(d);
    return r;
}

/* Applies the whiteouts of layer `layer` (in `t`) to the root. */
static int apply_whiteouts(int root_fd, struct box_tree *t, size_t layer,
                           struct box_oci_unpack_stats *st, struct box_err *err)
{
    for (size_t i = 0; i < t->count; i++) {
        const char *target, *path = t->nodes[i]->path;
        char parent[BOX_PATH_MAX + 1];
        int kind = box_oci_whiteout_kind(path, &target);
        if (kind == BOX_OCI_WH_NONE)
            continue;
        st->whiteouts++;
        split(path, parent);
        if (kind == BOX_OCI_WH_OPAQUE) {
            int r = clear_dir(root_fd, parent, layer, err);
            if (r < 0)
                return r;
            continue;
        }
        _cleanup_close_ int pfd = open_dir(root_fd, parent, O_RDONLY);
        if (pfd == -ENOENT)
            continue;
        if (pfd < 0)
            return parent_error(pfd, layer, path, err);
        int r = box_remove_tree(pfd, target);
        if (r < 0)
            return box_err_sys(err, -r, "layer %zu: whiteout `%s`", layer, path);
    }
    return 0;
}

static bool ancestor_moved(const struct box_tree *t, const char *path)
{
    for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
        const struct box_node *nd = box_tree_getn(t, path, (size_t)(s - path));
        if (nd && (nd->flags & MOVED))
            return true;
    }
    return false;
}

/* Moves one entry of the staged layer into the root. */
static int merge_node(int root_fd, int stage_fd, const struct box_tree *t, struct box_node *nd,
                      size_t layer, struct box_err *err)
{
    char parent[BOX_PATH_MAX + 1];
    if (box_oci_whiteout_kind(nd->path, NULL) != BOX_OCI_WH_NONE || ancestor_moved(t, nd->path))
        return 0;
    const char *name = split(nd->path, parent);
    _cleanup_close_ int rp = open_dir(root_fd, parent, O_PATH);
    if (rp < 0)
        return parent_error(rp, layer, nd->path, err);
    _cleanup_close_ int sp = open_dir(stage_fd, parent, O_PATH);
    if (sp < 0)
        return box_err_sys(err, -sp, "layer %zu: staged `%s`", layer, parent);
    struct stat st;
    bool exists = fstatat(rp, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (nd->type == BOX_NODE_DIR && exists && S_ISDIR(st.st_mode)) {
        if (nd->flags & BOX_NODE_IMPLICIT)
            return 0;
        _cleanup_close_ int fd = openat(rp, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchmod(fd, nd->mode) < 0)
            return box_err_sys(err, errno, "layer %zu: mode of `%s`", layer, nd->path);
        return 0;
    }
    if (exists && (S_ISDIR(st.st_mode) || nd->type == BOX_NODE_DIR)) {
        int r = box_remove_tree(rp, name);
        if (r < 0)
            return box_err_sys(err, -r, "layer %zu: replace `%s`", layer, nd->path);
    }
    if (renameat(sp, name, rp, name) < 0)
        return box_err_sys(err, errno, "layer %zu: move `%s` into the root", layer, nd->path);
    if (nd->type == BOX_NODE_DIR)
        nd->flags |= MOVED;
    return 0;
}

static int drop_whiteouts(int root_fd, const struct box_tree *t, struct box_oci_unpack_stats *st,
                          struct box_err *err)
{
    for (size_t i = 0; i < t->count; i++) {
        const char *path = t->nodes[i]->path;
        char parent[BOX_PATH_MAX + 1];
        if (box_oci_whiteout_kind(path, NULL) == BOX_OCI_WH_NONE)
            continue;
        st->whiteouts++;
        const char *name = split(path, parent);
        _cleanup_close_ int pfd = open_dir(root_fd, parent, O_PATH);
        if (pfd < 0 || unlinkat(pfd, name, 0) < 0)
            return box_err_sys(err, pfd < 0 ? -pfd : errno, "layer 0: remove whiteout `%s`", path);
    }
    return 0;
}

static int upper_layer(int layout_fd, const struct box_oci_image *img, size_t i, int work_fd,
                       int root_fd, struct box_oci_unpack_stats *st, struct box_err *err)
{
    char sname[64];
    int r = box_fsx_mkdtemp_at(work_fd, ".layer-", sname, sizeof(sname));
    if (r < 0)
        return box_err_sys(err, -r, "layer %zu: staging directory", i);
    struct box_tree t;
    box_tree_init(&t);
    int sfd = box_fsx_open_beneath(work_fd, sname, O_RDONLY | O_DIRECTORY, 0);
    if (sfd < 0)
        r = box_err_sys(err, -sfd, "layer %zu: staging directory", i);
    else if ((r = extract_layer(layout_fd, img, i, sfd, &t, st, err)) >= 0 &&
             (r = check_whiteouts(&t, i, err)) >= 0 &&
             (r = apply_whiteouts(root_fd, &t, i, st, err)) >= 0)
        for (size_t k = 0; r >= 0 && k < t.count; k++)
            r = merge_node(root_fd, sfd, &t, t.nodes[k], i, err);
    if (sfd >= 0)
        close(sfd);
    box_tree_free(&t);
    int rr = box_remove_tree(work_fd, sname);
    if (r >= 0 && rr < 0)
        r = box_err_sys(err, -rr, "layer %zu: remove the staging directory", i);
    return r;
}

int box_oci_unpack(int layout_fd, const struct box_oci_image *img, int work_fd, const char *rootfs,
                   struct box_oci_unpack_stats *st, struct box_err *err)
{
    memset(st, 0, sizeof(*st));
    _cleanup_close_ int root_fd = box_fsx_open_beneath(work_fd, rootfs, O_RDONLY | O_DIRECTORY, 0);
    if (root_fd < 0)
        return box_err_sys(err, -root_fd, "root filesystem `%s`", rootfs);
    for (size_t i = 0; i < img->nlayers; i++) {
        int r;
        if (i == 0) {
            struct box_tree t;
            box_tree_init(&t);
            r = extract_layer(layout_fd, img, 0, root_fd, &t, st, err);
            if (r >= 0 && (r = check_whiteouts(&t, 0, err)) >= 0)
                r = drop_whiteouts(root_fd, &t, st, err);
            box_tree_free(&t);
        } else {
            r = upper_layer(layout_fd, img, i, work_fd, root_fd, st, err);
        }
        if (r < 0)
            return r;
    }
    return 0;
}
