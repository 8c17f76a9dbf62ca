#include "lib/image/extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/image/fsx.h"
#include "lib/image/writer.h"

#define TAR_END_MARKER 1024 /* two zero blocks: POSIX ustar end-of-archive */

struct ex {
    const struct box_extract_opts *o;
    struct box_tree *tree;
    struct box_extract_stats *st;
    struct archive *a;
    struct box_err src_err;
    bool src_failed;
    EVP_MD *sha;
    EVP_MD_CTX *md;
    struct box_writer *w; /* NULL: hash only */
    char *cap;
    size_t cap_size;
};

void box_extract_limits_default(struct box_extract_limits *l)
{
    l->max_entries = 200000;
    l->max_entry_size = 16ull << 30;
    l->max_total_size = 64ull << 30;
    l->max_depth = 128;
}

/* Formats a data error naming a path (escaped for the terminal). */
static int reject(struct box_err *err, const char *why, const char *path)
{
    char esc[512];
    return box_err_set(err, BOX_EDATA, "%s: %s", why, box_escape(path, esc, sizeof(esc)));
}

static int reject_link(struct box_err *err, const char *why, const char *path, const char *target)
{
    char e1[512], e2[512];
    return box_err_set(err, BOX_EDATA, "%s: %s -> %s", why, box_escape(path, e1, sizeof(e1)),
                       box_escape(target, e2, sizeof(e2)));
}

static la_ssize_t read_cb(struct archive *a, void *ud, const void **buf)
{
    struct ex *x = ud;
    ssize_t n = box_decomp_read(x->o->src, buf, &x->src_err);
    if (n < 0) {
        x->src_failed = true;
        archive_set_error(a, EIO, "%s", x->src_err.msg);
        return -1;
    }
    return n;
}

/* Turns a libarchive failure into our message; a source failure wins. */
static int archive_fail(struct ex *x, struct box_err *err)
{
    if (x->src_failed) {
        *err = x->src_err;
        return -err->code;
    }
    const char *msg = archive_error_string(x->a);
    /* libarchive: "Truncated tar archive", "Truncated input file" */
    if (msg && strstr(msg, "runcated"))
        return box_err_set(err, BOX_EDATA, "truncated tar archive");
    return box_err_set(err, BOX_EDATA, "malformed tar archive: %s", msg ? msg : "unknown error");
}

static int make_dir(struct ex *x, const char *path, struct box_err *err)
{
    return x->w ? box_writer_mkdir(x->w, path, err) : 0;
}

/* Every proper prefix of path must be a directory; missing ones are implied. */
static int ensure_parents(struct ex *x, const char *path, struct box_err *err)
{
    for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
        size_t n = (size_t)(s - path);
        struct box_node *nd = box_tree_getn(x->tree, path, n);
        if (nd && nd->type == BOX_NODE_DIR)
            continue;
        if (nd && nd->type == BOX_NODE_SYMLINK)
            return reject_link(err, "path through a symlink", path, nd->path);
        if (nd)
            return reject(err, "parent is not a directory", path);
        char prefix[BOX_PATH_MAX + 1];
        memcpy(prefix, path, n);
        prefix[n] = '\0';
        int r = box_tree_add(x->tree, prefix, BOX_NODE_DIR, NULL, &nd);
        if (r < 0)
            return box_err_set(err, -r, "record `%s`", prefix);
        nd->flags |= BOX_NODE_IMPLICIT;
        nd->mode = 0755;
        r = make_dir(x, prefix, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int check_xattrs(struct ex *x, struct archive_entry *ae, const char *path,
                        struct box_err *err)
{
    const char *name;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(ae);
    while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK) {
        if (strcmp(name, "security.capability") == 0)
            return reject(err, "file capabilities not allowed", path);
        if (!(x->o->flags & BOX_EXTRACT_IGNORE_XATTRS)) {
            char esc[256];
            return box_err_set(err, BOX_EDATA, "extended attribute %s not allowed: %s",
                               box_escape(name, esc, sizeof(esc)), path);
        }
    }
    return 0;
}

/* Maps the entry's type; rejects the kinds an image never needs. */
static int entry_type(struct archive_entry *ae, const char *path, bool *hardlink,
                      struct box_err *err)
{
    *hardlink = archive_entry_hardlink(ae) != NULL;
    if (*hardlink)
        return BOX_NODE_FILE;
    switch (archive_entry_filetype(ae)) {
    case AE_IFREG:
        return BOX_NODE_FILE;
    case AE_IFDIR:
        return BOX_NODE_DIR;
    case AE_IFLNK:
        return BOX_NODE_SYMLINK;
    case AE_IFCHR:
    case AE_IFBLK:
        return reject(err, "device node not allowed", path);
    case AE_IFIFO:
        return reject(err, "FIFO not allowed", path);
    case AE_IFSOCK:
        return reject(err, "socket not allowed", path);
    default:
        return reject(err, "unsupported entry type", path);
    }
}

static int check_path(struct ex *x, const char *raw, char *path, bool *is_root, struct box_err *err)
{
    bool slash;
    *is_root = false;
    if (!raw)
        return box_err_set(err, BOX_EDATA, "tar entry without a usable name");
    enum box_path_verdict v =
        box_path_clean(raw, BOX_PATH_STRIP_DOT_PREFIX | BOX_PATH_STRIP_TRAILING_SLASH, path,
                       BOX_PATH_MAX + 1, &slash);
    char why[128];
    switch (v) {
    case BOX_PATH_OK:
        break;
    case BOX_PATH_EMPTY:
        *is_root = true;
        return 0;
    case BOX_PATH_ABSOLUTE:
        return reject(err, "absolute path in tarball", raw);
    case BOX_PATH_DOTDOT:
        snprintf(why, sizeof(why), "path escapes the %s", x->o->noun);
        return reject(err, why, raw);
    default:
        snprintf(why, sizeof(why), "invalid path in tarball (%s)", box_path_verdict_str(v));
        return reject(err, why, raw);
    }
    if (box_path_depth(path) > x->o->limits.max_depth)
        return reject(err, "path too deep", path);
    return 0;
}

/* Rules that do not depend on the tree: mode bits, sparse data, xattrs, size. */
static int check_entry(struct ex *x, struct archive_entry *ae, const char *path, int type,
                       bool hardlink, struct box_err *err)
{
    mode_t mode = archive_entry_mode(ae);
    if (mode & (S_ISUID | S_ISGID))
        return reject(err, "setuid or setgid bit set", path);
    if (archive_entry_sparse_count(ae) > 0)
        return reject(err, "sparse file not allowed", path);
    int r = check_xattrs(x, ae, path, err);
    if (r < 0)
        return r;
    if (++x->st->entries > x->o->limits.max_entries)
        return box_err_set(err, BOX_EDATA, "too many entries in tarball (limit %llu)",
                           (unsigned long long)x->o->limits.max_entries);
    int64_t size = archive_entry_size_is_set(ae) ? archive_entry_size(ae) : 0;
    if (size < 0)
        return reject(err, "negative size", path);
    if (hardlink && size > 0)
        return reject(err, "hardlink with data not allowed", path);
    if (type == BOX_NODE_FILE && !hardlink) {
        if ((uint64_t)size > x->o->limits.max_entry_size)
            return reject(err, "entry larger than the size limit", path);
        x->st->file_bytes += (uint64_t)size;
        if (x->st->file_bytes > x->o->limits.max_total_size)
            return box_err_set(err, BOX_EDATA, "payload larger than the size limit (%llu bytes)",
                               (unsigned long long)x->o->limits.max_total_size);
    }
    return 0;
}

/* Records the entry in the tree: duplicates and type clashes are refused. */
static int record(struct ex *x, const char *path, int type, const char *link, struct box_node **out,
                  struct box_err *err)
{
    int r = ensure_parents(x, path, err);
    if (r < 0)
        return r;
    struct box_node *old = NULL;
    r = box_tree_add(x->tree, path, (enum box_node_type)type, link, out);
    if (r == -EEXIST) {
        old = *out;
        /* A directory implied by an earlier child may be listed once afterwards. */
        if (old->type == BOX_NODE_DIR && type == BOX_NODE_DIR && (old->flags & BOX_NODE_IMPLICIT)) {
            old->flags &= (uint8_t)~BOX_NODE_IMPLICIT;
            return 1;
        }
        return reject(err, "duplicate path in tarball", path);
    }
    if (r < 0)
        return box_err_set(err, -r, "record `%s`", path);
    return 0;
}

static int symlink_rules(struct ex *x, struct box_node *nd, struct box_err *err)
{
    const char *t = nd->link;
    char why[96];
    if (!t || !t[0])
        return reject(err, "empty symlink target", nd->path);
    if (strlen(t) > BOX_PATH_MAX)
        return reject(err, "symlink target too long", nd->path);
    for (const char *p = t; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return reject_link(err, "control character in symlink target", nd->path, t);
    if (x->o->flags & BOX_EXTRACT_ANY_SYMLINK_TARGET)
        return 0;
    if (t[0] == '/')
        return reject_link(err, "absolute symlink target", nd->path, t);
    int r = box_tree_resolve_symlink(x->tree, nd, x->o->keep);
    if (r == -ELOOP)
        return reject_link(err, "too many levels of symlinks", nd->path, t);
    if (r < 0) {
        snprintf(why, sizeof(why), "symlink escapes the %s", x->o->noun);
        return reject_link(err, why, nd->path, t);
    }
    return 0;
}

/* A hard link may only name a regular file this archive already holds. */
static int hardlink_rules(struct ex *x, struct box_node *nd, const char *raw, char *src,
                          struct box_err *err)
{
    char why[96];
    bool slash;
    enum box_path_verdict v =
        box_path_clean(raw, BOX_PATH_STRIP_DOT_PREFIX, src, BOX_PATH_MAX + 1, &slash);
    snprintf(why, sizeof(why), "hardlink escapes the %s", x->o->noun);
    if (v == BOX_PATH_ABSOLUTE || v == BOX_PATH_DOTDOT)
        return reject_link(err, why, nd->path, raw);
    if (v != BOX_PATH_OK)
        return reject_link(err, "invalid hardlink target", nd->path, raw);
    if (!(x->o->flags & BOX_EXTRACT_ALLOW_HARDLINKS))
        return reject(err, "hardlink not allowed", nd->path);
    const struct box_node *target = box_tree_get(x->tree, src);
    if (!target)
        return reject_link(err, "hardlink target not in the tarball", nd->path, raw);
    if (target->type != BOX_NODE_FILE || target == nd)
        return reject_link(err, "hardlink target is not a regular file", nd->path, raw);
    nd->size = target->size;
    nd->mode = target->mode;
    memcpy(nd->sha256, target->sha256, sizeof(nd->sha256));
    nd->flags |= BOX_NODE_HARDLINK | BOX_NODE_HASHED;
    return 0;
}

static int capture_init(struct ex *x, const struct box_node *nd, struct box_err *err)
{
    if (nd->size > x->o->capture_max)
        return reject(err, "entry too large to read into memory", nd->path);
    free(x->cap);
    x->cap = malloc(nd->size + 1);
    if (!x->cap)
        return box_err_set(err, ENOMEM, "read `%s`", nd->path);
    x->cap_size = 0;
    return 0;
}

/* Streams a regular file's data: hash, write, capture, in one pass. */
static int copy_file(struct ex *x, struct box_node *nd, bool capture, struct box_err *err)
{
    uint64_t got = 0;
    int r;
    if (capture && capture_init(x, nd, err) < 0)
        return -err->code;
    if (x->w && (r = box_writer_file_begin(x->w, nd->path, err)) < 0)
        return r;
    if (!EVP_DigestInit_ex(x->md, x->sha, NULL))
        return box_err_set(err, EIO, "sha256 init");
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        r = archive_read_data_block(x->a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK)
            return archive_fail(x, err);
        if ((uint64_t)off != got)
            return reject(err, "sparse file not allowed", nd->path);
        if (got + len > nd->size)
            return reject(err, "entry data longer than its header says", nd->path);
        EVP_DigestUpdate(x->md, buf, len);
        if (x->w && (r = box_writer_file_data(x->w, buf, len, err)) < 0)
            return r;
        if (capture)
            memcpy(x->cap + got, buf, len);
        got += len;
    }
    if (got != nd->size)
        return box_err_set(err, BOX_EDATA, "truncated tar archive");
    EVP_DigestFinal_ex(x->md, nd->sha256, NULL);
    nd->flags |= BOX_NODE_HASHED;
    x->cap_size = got;
    return x->w ? box_writer_file_end(x->w, nd->mode, nd->mtime, err) : 0;
}

static int write_node(struct ex *x, struct box_node *nd, int action, const char *hl_src,
                      struct box_err *err)
{
    switch (nd->type) {
    case BOX_NODE_DIR:
        x->st->dirs++;
        return 0;
    case BOX_NODE_SYMLINK:
        x->st->symlinks++;
        return x->w ? box_writer_symlink(x->w, nd->path, nd->link, nd->mtime, err) : 0;
    default:
        if (nd->flags & BOX_NODE_HARDLINK) {
            x->st->hardlinks++;
            return x->w ? box_writer_link(x->w, hl_src, nd->path, err) : 0;
        }
        x->st->files++;
        return copy_file(x, nd, action & BOX_EXTRACT_CAPTURE, err);
    }
}

static int one_entry(struct ex *x, struct archive_entry *ae, struct box_err *err)
{
    char path[BOX_PATH_MAX + 1], src[BOX_PATH_MAX + 1];
    bool is_root, hardlink;
    struct box_node *nd;
    int r = check_path(x, archive_entry_pathname(ae), path, &is_root, err);
    if (r < 0)
        return r;
    int type = entry_type(ae, is_root ? "." : path, &hardlink, err);
    if (type < 0)
        return type;
    if (is_root) /* "./": the extraction root itself */
        return type == BOX_NODE_DIR ? 0 : reject(err, "invalid path in tarball", ".");
    if ((r = check_entry(x, ae, path, type, hardlink, err)) < 0)
        return r;
    r = record(x, path, type, type == BOX_NODE_SYMLINK ? archive_entry_symlink(ae) : NULL, &nd,
               err);
    if (r < 0)
        return r;
    nd->mode = archive_entry_perm(ae) & 0777;
    nd->mtime = archive_entry_mtime(ae);
    if (r == 1) /* a directory already implied: nothing to create */
        return 0;
    if (type == BOX_NODE_DIR && (r = make_dir(x, path, err)) < 0)
        return r;
    if (type == BOX_NODE_SYMLINK && (r = symlink_rules(x, nd, err)) < 0)
        return r;
    if (hardlink && (r = hardlink_rules(x, nd, archive_entry_hardlink(ae), src, err)) < 0)
        return r;
    if (!hardlink)
        nd->size = type == BOX_NODE_FILE ? (uint64_t)archive_entry_size(ae) : 0;
    int action = x->o->ops && x->o->ops->begin ? x->o->ops->begin(x->o->ud, nd, err) : 0;
    if (action < 0)
        return action;
    if ((r = write_node(x, nd, action, src, err)) < 0)
        return r;
    if (x->o->ops && x->o->ops->end) {
        bool cap = (action & BOX_EXTRACT_CAPTURE) && type == BOX_NODE_FILE && !hardlink;
        return x->o->ops->end(x->o->ud, nd, cap ? x->cap : NULL, cap ? x->cap_size : 0, err);
    }
    return 0;
}

static int read_all(struct ex *x, struct box_err *err)
{
    for (;;) {
        struct archive_entry *ae;
        la_int64_t before = archive_filter_bytes(x->a, 0);
        int r = archive_read_next_header(x->a, &ae);
        if (r == ARCHIVE_EOF) {
            la_int64_t after = archive_filter_bytes(x->a, 0);
            if (after - before < TAR_END_MARKER)
                return box_err_set(err, BOX_EDATA,
                                   "truncated tar archive: no end-of-archive marker");
            return box_decomp_check_tail(x->o->src, (uint64_t)after, err);
        }
        if (r != ARCHIVE_OK)
            return archive_fail(x, err);
        r = one_entry(x, ae, err);
        if (r < 0)
            return r;
        if (archive_read_data_skip(x->a) != ARCHIVE_OK)
            return archive_fail(x, err);
    }
}

static void ex_release(struct ex *x)
{
    box_writer_free(x->w);
    if (x->a)
        archive_read_free(x->a);
    EVP_MD_CTX_free(x->md);
    EVP_MD_free(x->sha);
    free(x->cap);
}

int box_extract_tar(const struct box_extract_opts *o, struct box_tree *tree,
                    struct box_extract_stats *st, struct box_err *err)
{
    struct ex x = {.o = o, .tree = tree, .st = st};
    memset(st, 0, sizeof(*st));
    x.sha = EVP_MD_fetch(NULL, "SHA256", NULL);
    x.md = EVP_MD_CTX_new();
    x.a = archive_read_new();
    int r;
    if (!x.sha || !x.md || !x.a) {
        r = box_err_set(err, ENOMEM, "tar reader");
        goto out;
    }
    if (o->dest_fd >= 0 &&
        (r = box_writer_open(o->dest_fd, o->flags & BOX_EXTRACT_THREADED, &x.w, err)) < 0)
        goto out;
    archive_read_support_format_tar(x.a);
    if (archive_read_open(x.a, &x, NULL, read_cb, NULL) != ARCHIVE_OK) {
        r = archive_fail(&x, err);
        goto out;
    }
    r = read_all(&x, err);
    if (r >= 0 && x.w)
        r = box_writer_finish(x.w, err);
out:
    ex_release(&x);
    return r;
}

int box_extract_apply_dir_modes(int dest_fd, const struct box_tree *tree, struct box_err *err)
{
    for (size_t i = tree->count; i-- > 0;) {
        const struct box_node *nd = tree->nodes[i];
        /* all of them: the umask may have narrowed the 0755 of mkdirat() */
        if (nd->type != BOX_NODE_DIR)
            continue;
        _cleanup_close_ int fd = box_fsx_open_beneath(dest_fd, nd->path, O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
            return box_err_sys(err, -fd, "open directory `%s`", nd->path);
        if (fchmod(fd, nd->mode) < 0)
            return box_err_sys(err, errno, "set mode of `%s`", nd->path);
    }
    return 0;
}
