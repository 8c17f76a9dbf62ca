#include "lib/image/bundle_create.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/image/decomp.h"
#include "lib/image/fsx.h"
#include "lib/image/util.h"

#define MEMBER_SIZE (1u << 20) /* gzip member: what the reader's fast path takes whole */
#define IO_SIZE     (1u << 20)
#define MAX_DEPTH   128

struct gzw {
    int fd;
    struct libdeflate_compressor *c;
    unsigned char *buf, *out;
    size_t len, out_cap;
    uint64_t written;
    int error; /* -errno of the first failed write */
};

struct cr {
    const struct box_bundle_create_opts *o;
    char top[BOX_NAME_MAX + 1];
    struct box_tree payload; /* "<top>/<rel>" for everything in the install root */
    struct box_node **sorted;
    struct box_manifest m;
    int root_fd;
    EVP_MD *sha;
    EVP_MD_CTX *md;
    unsigned char *io;
    struct gzw gz;
    struct box_bundle_create_stats *st;
};

static int add_entry(struct cr *c, int dfd, const char *name, const char *rel, size_t depth,
                     struct box_err *err);

static int walk_dir(struct cr *c, int dfd, const char *rel, size_t depth, struct box_err *err)
{
    int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return box_err_sys(err, errno, "read directory `%s`", rel);
    }
    int r = 0;
    struct dirent *de;
    while (r >= 0 && (errno = 0, de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            r = add_entry(c, dirfd(d), de->d_name, rel, depth, err);
    }
    if (r >= 0 && errno)
        r = box_err_sys(err, errno, "read directory `%s`", rel);
    closedir(d);
    return r;
}

static int add_symlink(struct cr *c, int dfd, const char *name, const char *path,
                       struct box_err *err)
{
    char target[BOX_PATH_MAX + 1];
    ssize_t n = readlinkat(dfd, name, target, sizeof(target));
    if (n < 0)
        return box_err_sys(err, errno, "read symlink `%s`", path);
    if ((size_t)n >= sizeof(target))
        return box_err_set(err, ENAMETOOLONG, "symlink `%s`: target too long", path);
    target[n] = '\0';
    struct box_node *nd;
    int r = box_tree_add(&c->payload, path, BOX_NODE_SYMLINK, target, &nd);
    if (r < 0)
        return box_err_set(err, -r, "record `%s`", path);
    nd->mode = 0777;
    return 0;
}

static int add_entry(struct cr *c, int dfd, const char *name, const char *rel, size_t depth,
                     struct box_err *err)
{
    char path[BOX_PATH_MAX + 1], canon[BOX_PATH_MAX + 1];
    bool slash;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", rel, name) >= sizeof(path) ||
        box_path_clean(path, 0, canon, sizeof(canon), &slash) != BOX_PATH_OK)
        return box_err_set(err, EINVAL, "`%s/%s`: name not allowed in a bundle", rel, name);
    if (depth == 0 && strcmp(name, BOX_MANIFEST_NAME) == 0)
        return box_err_set(err, EEXIST, "`manifest.json` in the install root is reserved");
    if (c->payload.count >= c->o->max_entries)
        return box_err_set(err, E2BIG, "more than %llu entries",
                           (unsigned long long)c->o->max_entries);
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return box_err_sys(err, errno, "stat `%s`", path);
    if (S_ISLNK(st.st_mode))
        return add_symlink(c, dfd, name, path, err);
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return box_err_set(err, EINVAL, "`%s`: only files, directories and symlinks are allowed",
                           path);
    if (st.st_mode & (S_ISUID | S_ISGID))
        return box_err_set(err, EPERM, "`%s`: setuid or setgid bit set", path);
    struct box_node *nd;
    int r = box_tree_add(&c->payload, path, S_ISDIR(st.st_mode) ? BOX_NODE_DIR : BOX_NODE_FILE,
                         NULL, &nd);
    if (r < 0)
        return box_err_set(err, -r, "record `%s`", path);
    nd->mode = S_ISDIR(st.st_mode) || (st.st_mode & 0111) ? 0755 : 0644;
    nd->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    if (S_ISREG(st.st_mode))
        return 0;
    if (depth + 1 >= MAX_DEPTH)
        return box_err_set(err, ELOOP, "`%s`: tree deeper than %d", path, MAX_DEPTH);
    _cleanup_close_ int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return box_err_sys(err, errno, "open `%s`", path);
    return walk_dir(c, sub, path, depth + 1, err);
}

static int by_path(const void *a, const void *b)
{
    return strcmp((*(struct box_node *const *)a)->path, (*(struct box_node *const *)b)->path);
}

static int by_component(const void *a, const void *b)
{
    return strcmp(((const struct box_component *)a)->name, ((const struct box_component *)b)->name);
}

static const char *rel_of(const struct cr *c, const struct box_node *nd)
{
    return nd->path + strlen(c->top) + 1;
}

/* Hashes one file of the install root; `check` compares with a first pass. */
static int hash_file(struct cr *c, struct box_node *nd, struct archive *a, struct box_err *err)
{
    const char *rel = rel_of(c, nd);
    _cleanup_close_ int fd = box_fsx_open_beneath(c->root_fd, rel, O_RDONLY, 0);
    if (fd < 0)
        return box_err_sys(err, -fd, "open `%s`", rel);
    unsigned char sum[BOX_SHA256_LEN];
    uint64_t total = 0;
    EVP_DigestInit_ex(c->md, c->sha, NULL);
    for (;;) {
        ssize_t n = read(fd, c->io, IO_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return box_err_sys(err, errno, "read `%s`", rel);
        if (n == 0)
            break;
        EVP_DigestUpdate(c->md, c->io, (size_t)n);
        total += (uint64_t)n;
        if (a && archive_write_data(a, c->io, (size_t)n) != n)
            return box_err_set(err, c->gz.error ? -c->gz.error : EIO, "write `%s`: %s", rel,
                               archive_error_string(a));
    }
    EVP_DigestFinal_ex(c->md, sum, NULL);
    if (total != nd->size || (a && memcmp(sum, nd->sha256, sizeof(sum)) != 0))
        return box_err_set(err, EAGAIN, "`%s` changed while the bundle was being created", rel);
    memcpy(nd->sha256, sum, sizeof(sum));
    return 0;
}

/* The manifest: files and symlinks of the payload, in path order. */
static int build_manifest(struct cr *c, char *created_at, struct box_err *err)
{
    const struct box_bundle_create_opts *o = c->o;
    struct tm tm;
    time_t t = (time_t)o->epoch;
    if (!gmtime_r(&t, &tm) || !strftime(created_at, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return box_err_set(err, EINVAL, "epoch %lld out of range", (long long)o->epoch);
    c->m.bundle_name = (char *)o->name;
    c->m.bundle_version = (char *)o->version;
    c->m.architecture = (char *)o->arch;
    c->m.created_at = created_at;
    /* Components in name order, whatever order they were given in. */
    c->m.components = malloc((o->ncomponents ? o->ncomponents : 1) * sizeof(*c->m.components));
    if (!c->m.components)
        return box_err_set(err, ENOMEM, "manifest");
    memcpy(c->m.components, o->components, o->ncomponents * sizeof(*c->m.components));
    c->m.ncomponents = o->ncomponents;
    qsort(c->m.components, o->ncomponents, sizeof(*c->m.components), by_component);
    for (size_t i = 0; i < c->payload.count; i++) {
        struct box_node *nd = c->sorted[i], *mn;
        if (nd->type == BOX_NODE_DIR || !strchr(nd->path, '/'))
            continue;
        if (nd->type == BOX_NODE_FILE) {
            int r = hash_file(c, nd, NULL, err);
            if (r < 0)
                return r;
            c->st->files++;
            c->st->payload_bytes += nd->size;
        } else {
            c->st->symlinks++;
        }
        if (box_tree_add(&c->m.files, rel_of(c, nd), nd->type, nd->link, &mn) < 0)
            return box_err_set(err, ENOMEM, "manifest");
        mn->size = nd->size;
        memcpy(mn->sha256, nd->sha256, sizeof(mn->sha256));
    }
    if (c->st->files == 0)
        return box_err_set(err, EINVAL, "the install root holds no regular file");
    return 0;
}

/* What verify would refuse is refused here already. */
static int check_payload(struct cr *c, struct box_err *err)
{
    for (size_t i = 0; i < c->payload.count; i++) {
        const struct box_node *nd = c->payload.nodes[i];
        if (nd->type == BOX_NODE_SYMLINK && box_tree_resolve_symlink(&c->payload, nd, 1) < 0)
            return box_err_set(err, EXDEV, "symlink `%s` -> `%s` points outside the bundle",
                               rel_of(c, nd), nd->link);
    }
    if (!c->o->profile)
        return 0;
    int r = box_profile_check_listed(c->o->profile, &c->m, err);
    if (r >= 0)
        r = box_profile_check_payload(c->o->profile, &c->payload, c->top, c->o->arch, err);
    return r < 0 ? box_err_prefix(err, "profile %s", c->o->profile->name) : r;
}

static int gzw_flush(struct gzw *g)
{
    if (!g->len || g->error)
        return g->error;
    size_t n = libdeflate_gzip_compress(g->c, g->buf, g->len, g->out, g->out_cap);
    if (n == 0)
        return g->error = -EIO;
    int r = box_write_all(g->fd, g->out, n);
    if (r < 0)
        return g->error = r;
    g->written += n;
    g->len = 0;
    return 0;
}

static la_ssize_t gzw_write(struct archive *a, void *ud, const void *buf, size_t n)
{
    struct gzw *g = ud;
    const unsigned char *p = buf;
    for (size_t left = n; left;) {
        size_t k = MEMBER_SIZE - g->len < left ? MEMBER_SIZE - g->len : left;
        memcpy(g->buf + g->len, p, k);
        g->len += k;
        p += k;
        left -= k;
        if (g->len == MEMBER_SIZE && gzw_flush(g) < 0) {
            archive_set_error(a, -g->error, "write tarball");
            return -1;
        }
    }
    return (la_ssize_t)n;
}

static struct archive_entry *make_entry(const struct cr *c, const struct box_node *nd,
                                        const char *name, int type)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return NULL;
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type == BOX_NODE_DIR       ? AE_IFDIR
                                  : type == BOX_NODE_SYMLINK ? AE_IFLNK
                                                             : AE_IFREG);
    archive_entry_set_perm(e, nd ? nd->mode : type == BOX_NODE_DIR ? 0755 : 0644);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_uname(e, "root");
    archive_entry_set_gname(e, "root");
    archive_entry_set_mtime(e, (time_t)c->o->epoch, 0);
    if (type == BOX_NODE_SYMLINK)
        archive_entry_set_symlink(e, nd->link);
    return e;
}

static int write_one(struct cr *c, struct archive *a, const struct box_node *nd, const char *name,
                     int type, const char *data, uint64_t size, struct box_err *err)
{
    struct archive_entry *e = make_entry(c, nd, name, type);
    if (!e)
        return box_err_set(err, ENOMEM, "tar entry");
    if (type == BOX_NODE_FILE)
        archive_entry_set_size(e, (la_int64_t)size);
    int r = archive_write_header(a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK)
        return box_err_set(err, c->gz.error ? -c->gz.error : EIO, "write `%s`: %s", name,
                           archive_error_string(a));
    if (data && archive_write_data(a, data, size) != (la_ssize_t)size)
        return box_err_set(err, EIO, "write `%s`: %s", name, archive_error_string(a));
    if (type == BOX_NODE_FILE && !data)
        return hash_file(c, (struct box_node *)nd, a, err);
    return 0;
}

static int write_entries(struct cr *c, struct archive *a, const char *manifest, size_t mlen,
                         struct box_err *err)
{
    char name[BOX_PATH_MAX + 2];
    snprintf(name, sizeof(name), "%s/", c->top);
    int r = write_one(c, a, NULL, name, BOX_NODE_DIR, NULL, 0, err);
    snprintf(name, sizeof(name), "%s/%s", c->top, BOX_MANIFEST_NAME);
    if (r >= 0)
        r = write_one(c, a, NULL, name, BOX_NODE_FILE, manifest, mlen, err);
    for (size_t i = 0; r >= 0 && i < c->payload.count; i++) {
        const struct box_node *nd = c->sorted[i];
        if (!strchr(nd->path, '/'))
            continue;
        snprintf(name, sizeof(name), "%s%s", nd->path, nd->type == BOX_NODE_DIR ? "/" : "");
        c->st->dirs += nd->type == BOX_NODE_DIR;
        r = write_one(c, a, nd, name, nd->type, NULL, nd->size, err);
    }
    if (r >= 0 && archive_write_close(a) != ARCHIVE_OK)
        r = box_err_set(err, c->gz.error ? -c->gz.error : EIO, "finish tarball: %s",
                        archive_error_string(a));
    if (r >= 0 && (r = gzw_flush(&c->gz)) < 0)
        box_err_sys(err, -r, "write tarball");
    return r;
}

static int write_tarball(struct cr *c, int fd, struct box_err *err)
{
    _cleanup_free_ char *manifest = NULL;
    size_t mlen;
    int r = box_manifest_dump(&c->m, &manifest, &mlen, err);
    if (r < 0)
        return r;
    c->gz.fd = fd;
    c->gz.c = libdeflate_alloc_compressor(c->o->level ? c->o->level : 6);
    c->gz.buf = malloc(MEMBER_SIZE);
    c->gz.out_cap = c->gz.c ? libdeflate_gzip_compress_bound(c->gz.c, MEMBER_SIZE) : 0;
    c->gz.out = malloc(c->gz.out_cap ? c->gz.out_cap : 1);
    struct archive *a = archive_write_new();
    if (!c->gz.c || !c->gz.buf || !c->gz.out || !a)
        r = box_err_set(err, ENOMEM, "tar writer");
    if (r >= 0 && (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
                   archive_write_add_filter_none(a) != ARCHIVE_OK ||
                   archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
                   archive_write_open(a, &c->gz, NULL, gzw_write, NULL) != ARCHIVE_OK))
        r = box_err_set(err, EIO, "tar writer: %s", archive_error_string(a));
    if (r >= 0)
        r = write_entries(c, a, manifest, mlen, err);
    if (a)
        archive_write_free(a);
    libdeflate_free_compressor(c->gz.c);
    free(c->gz.buf);
    free(c->gz.out);
    c->st->tarball_bytes = c->gz.written;
    return r;
}

static int check_opts(const struct box_bundle_create_opts *o, char *top, struct box_err *err)
{
    if (!box_arch_multiarch(o->arch))
        return box_err_set(err, EINVAL, "unsupported architecture `%s` (amd64 or arm64)", o->arch);
    const char *parts[] = {o->name, o->version};
    for (size_t i = 0; i < 2; i++)
        if (box_is_blank(parts[i]) || parts[i][0] == '.' || strpbrk(parts[i], "/ \t\n\r"))
            return box_err_set(err, EINVAL, "bundle %s `%s` is not usable in a directory name",
                               i ? "version" : "name", parts[i] ? parts[i] : "");
    if ((size_t)snprintf(top, BOX_NAME_MAX + 1, "%s_%s_%s", o->name, o->version, o->arch) >
        BOX_NAME_MAX)
        return box_err_set(err, ENAMETOOLONG, "bundle directory name too long");
    for (size_t i = 0; i < o->ncomponents; i++) {
        const struct box_component *ci = &o->components[i];
        if (box_is_blank(ci->name) || box_is_blank(ci->version) || box_is_blank(ci->commit))
            return box_err_set(err, EINVAL, "component %zu: name, version and commit are required",
                               i + 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(ci->name, o->components[j].name) == 0)
                return box_err_set(err, EINVAL, "component `%s` given twice", ci->name);
    }
    return 0;
}

static int scan(struct cr *c, struct box_err *err)
{
    struct box_node *top;
    c->root_fd = open(c->o->from, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->root_fd < 0)
        return box_err_sys(err, errno, "open install root `%s`", c->o->from);
    int r = box_tree_add(&c->payload, c->top, BOX_NODE_DIR, NULL, &top);
    if (r < 0)
        return box_err_set(err, -r, "record");
    top->mode = 0755;
    r = walk_dir(c, c->root_fd, c->top, 0, err);
    if (r < 0)
        return r;
    c->sorted = malloc(c->payload.count * sizeof(*c->sorted));
    if (!c->sorted)
        return box_err_set(err, ENOMEM, "sort");
    memcpy(c->sorted, c->payload.nodes, c->payload.count * sizeof(*c->sorted));
    qsort(c->sorted, c->payload.count, sizeof(*c->sorted), by_path);
    return 0;
}

static int output_commit(struct cr *c, struct box_err *err)
{
    char tmp[4096 + 16];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", c->o->output) >= sizeof(tmp))
        return box_err_set(err, ENAMETOOLONG, "output path too long");
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return box_err_sys(err, errno, "create `%s`", tmp);
    int r = write_tarball(c, fd, err);
    if (r >= 0 && (fchmod(fd, 0644) < 0 || fdatasync(fd) < 0))
        r = box_err_sys(err, errno, "write `%s`", tmp);
    if (r >= 0 && rename(tmp, c->o->output) < 0)
        r = box_err_sys(err, errno, "rename to `%s`", c->o->output);
    if (r < 0)
        unlink(tmp);
    return r;
}

int box_bundle_create(const struct box_bundle_create_opts *o, struct box_bundle_create_stats *st,
                      struct box_err *err)
{
    struct cr c = {.o = o, .root_fd = -1, .st = st};
    char created_at[32];
    memset(st, 0, sizeof(*st));
    box_tree_init(&c.payload);
    box_tree_init(&c.m.files);
    int r = check_opts(o, c.top, err);
    c.sha = EVP_MD_fetch(NULL, "SHA256", NULL);
    c.md = EVP_MD_CTX_new();
    c.io = malloc(IO_SIZE);
    if (r >= 0 && (!c.sha || !c.md || !c.io))
        r = box_err_set(err, ENOMEM, "create");
    if (r >= 0)
        r = scan(&c, err);
    if (r >= 0)
        r = build_manifest(&c, created_at, err);
    if (r >= 0)
        r = check_payload(&c, err);
    if (r >= 0)
        r = output_commit(&c, err);
    if (c.root_fd >= 0)
        close(c.root_fd);
    EVP_MD_CTX_free(c.md);
    EVP_MD_free(c.sha);
    free(c.io);
    free(c.sorted);
    free(c.m.components);
    box_tree_free(&c.payload);
    box_tree_free(&c.m.files);
    return r;
}
