/* The in-memory root filesystem of an image and its deterministic layer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "lib/base/fs.h"
#include "lib/image/util.h"
#include "lib/oci/rootfs.h"

#define TAR_BLOCK 512

void box_oci_rootfs_init(struct box_oci_rootfs *r)
{
    memset(r, 0, sizeof(*r));
}

void box_oci_rootfs_free(struct box_oci_rootfs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].path);
        free(r->v[i].link);
        free(r->v[i].data);
    }
    free(r->v);
    box_oci_rootfs_init(r);
}

const struct box_oci_entry *box_oci_rootfs_get(const struct box_oci_rootfs *r, const char *path)
{
    if (*path == '/')
        path++;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].path, path) == 0)
            return &r->v[i];
    return NULL;
}

/* A new entry for `path`, checked and not yet present. */
static int add_entry(struct box_oci_rootfs *r, const char *path, uint8_t type,
                     struct box_oci_entry **out, struct box_err *err)
{
    char clean[BOX_PATH_MAX + 1], esc[256];
    bool slash;
    const char *in = *path == '/' ? path + 1 : path;
    enum box_path_verdict v = box_path_clean(in, 0, clean, sizeof(clean), &slash);
    if (v != BOX_PATH_OK)
        return box_err_set(err, EINVAL, "image path `%s`: %s", box_escape(path, esc, sizeof(esc)),
                           box_path_verdict_str(v));
    if (box_oci_rootfs_get(r, clean))
        return box_err_set(err, EEXIST, "image path `/%s`: given twice", clean);
    if (r->n >= BOX_OCI_ROOTFS_MAX_ENTRIES)
        return box_err_set(err, E2BIG, "image path `/%s`: more than %d entries", clean,
                           BOX_OCI_ROOTFS_MAX_ENTRIES);
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        struct box_oci_entry *v2 = realloc(r->v, cap * sizeof(*v2));
        if (!v2)
            return box_err_set(err, ENOMEM, "image path `/%s`: out of memory", clean);
        r->v = v2;
        r->cap = cap;
    }
    struct box_oci_entry *e = &r->v[r->n];
    memset(e, 0, sizeof(*e));
    e->path = strdup(clean);
    if (!e->path)
        return box_err_set(err, ENOMEM, "image path `/%s`: out of memory", clean);
    e->type = type;
    r->n++;
    *out = e;
    return 0;
}

int box_oci_rootfs_add_dir(struct box_oci_rootfs *r, const char *path, uint32_t mode, uint32_t uid,
                           uint32_t gid, struct box_err *err)
{
    struct box_oci_entry *e;
    int rc = add_entry(r, path, BOX_OCI_DIR, &e, err);
    if (rc < 0)
        return rc;
    e->mode = mode & 07777;
    e->uid = uid;
    e->gid = gid;
    return 0;
}

/* Takes `data` (malloc'ed) on success and on failure. */
static int add_owned(struct box_oci_rootfs *r, const char *path, unsigned char *data, size_t len,
                     uint32_t mode, struct box_err *err)
{
    if (len > BOX_OCI_FILE_MAX || r->bytes + len > BOX_OCI_ROOTFS_MAX_BYTES) {
        free(data);
        return box_err_set(err, EFBIG,
                           "image path `%s`: %zu bytes exceed the limits (%llu per "
                           "file, %llu in all)",
                           path, len, BOX_OCI_FILE_MAX, BOX_OCI_ROOTFS_MAX_BYTES);
    }
    struct box_oci_entry *e;
    int rc = add_entry(r, path, BOX_OCI_FILE, &e, err);
    if (rc == 0 && box_oci_digest_buf(data ? data : (unsigned char *)"", len, e->digest) < 0)
        rc = box_err_set(err, ENOMEM, "image path `%s`: sha256 failed", path);
    if (rc < 0) {
        free(data);
        return rc;
    }
    e->data = data;
    e->size = len;
    e->mode = mode & 07777;
    r->bytes += len;
    return 0;
}

int box_oci_rootfs_add_data(struct box_oci_rootfs *r, const char *path, const void *data,
                            size_t len, uint32_t mode, struct box_err *err)
{
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return box_err_set(err, ENOMEM, "image path `%s`: out of memory", path);
    memcpy(copy, data, len);
    return add_owned(r, path, copy, len, mode, err);
}

int box_oci_rootfs_add_file(struct box_oci_rootfs *r, const char *path, const char *host_path,
                            uint32_t mode, struct box_err *err)
{
    _cleanup_close_ int fd = open(host_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return box_err_sys(err, errno, "image path `%s`: open `%s`", path, host_path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return box_err_sys(err, errno, "image path `%s`: stat `%s`", path, host_path);
    if (!S_ISREG(st.st_mode))
        return box_err_set(err, EINVAL, "image path `%s`: `%s` is not a regular file", path,
                           host_path);
    if ((uint64_t)st.st_size > BOX_OCI_FILE_MAX)
        return box_err_set(err, EFBIG, "image path `%s`: `%s` is larger than %llu bytes", path,
                           host_path, BOX_OCI_FILE_MAX);
    char *data = NULL;
    size_t len = 0;
    int rc = box_read_fd(fd, BOX_OCI_FILE_MAX, &data, &len);
    if (rc < 0)
        return box_err_sys(err, -rc, "image path `%s`: read `%s`", path, host_path);
    if (mode == 0)
        mode = (st.st_mode & S_IXUSR) ? 0755 : 0644;
    return add_owned(r, path, (unsigned char *)data, len, mode, err);
}

int box_oci_rootfs_add_symlink(struct box_oci_rootfs *r, const char *path, const char *target,
                               struct box_err *err)
{
    if (!*target || strlen(target) >= 100 || strpbrk(target, "\n\r\t"))
        return box_err_set(err, EINVAL,
                           "image path `%s`: symlink target is empty, longer than "
                           "99 bytes or has a control character",
                           path);
    struct box_oci_entry *e;
    int rc = add_entry(r, path, BOX_OCI_SYMLINK, &e, err);
    if (rc < 0)
        return rc;
    e->link = strdup(target);
    if (!e->link)
        return box_err_set(err, ENOMEM, "image path `%s`: out of memory", path);
    e->mode = 0777;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct box_oci_entry *)a)->path, ((const struct box_oci_entry *)b)->path);
}

int box_oci_rootfs_finish(struct box_oci_rootfs *r, struct box_err *err)
{
    /* Parents first: adding one may add entries, so walk by index. */
    for (size_t i = 0; i < r->n; i++) {
        char parent[BOX_PATH_MAX + 1];
        snprintf(parent, sizeof(parent), "%s", r->v[i].path);
        for (char *slash = strrchr(parent, '/'); slash; slash = strrchr(parent, '/')) {
            *slash = '\0';
            const struct box_oci_entry *p = box_oci_rootfs_get(r, parent);
            if (p && p->type != BOX_OCI_DIR)
                return box_err_set(err, ENOTDIR,
                                   "image path `/%s`: its parent `/%s` is not a "
                                   "directory",
                                   r->v[i].path, parent);
            if (p)
                break;
            int rc = box_oci_rootfs_add_dir(r, parent, 0755, 0, 0, err);
            if (rc < 0)
                return rc;
        }
    }
    qsort(r->v, r->n, sizeof(r->v[0]), cmp_entry);
    return 0;
}

static void octal(char *field, size_t width, uint64_t v)
{
    /* width - 1 zero-padded digits and a NUL (ustar numeric fields). */
    snprintf(field, width, "%0*llo", (int)(width - 1), (unsigned long long)v);
}

/* ustar splits a long name at a '/' into prefix (155) and name (100). */
static int put_name(char *h, const char *name, struct box_err *err)
{
    size_t len = strlen(name);
    if (len <= 100) {
        memcpy(h, name, len);
        return 0;
    }
    for (size_t i = len - 1; i > 0; i--) {
        if (i <= 155 && name[i] == '/' && len - i - 1 <= 100 && len - i - 1 > 0) {
            memcpy(h + 345, name, i);
            memcpy(h, name + i + 1, len - i - 1);
            return 0;
        }
    }
    return box_err_set(err, ENAMETOOLONG, "image path `/%s`: too long for a ustar header", name);
}

static int put_header(unsigned char *h, const struct box_oci_entry *e, int64_t epoch,
                      struct box_err *err)
{
    char name[BOX_PATH_MAX + 2];
    snprintf(name, sizeof(name), "%s%s", e->path, e->type == BOX_OCI_DIR ? "/" : "");
    memset(h, 0, TAR_BLOCK);
    int rc = put_name((char *)h, name, err);
    if (rc < 0)
        return rc;
    octal((char *)h + 100, 8, e->mode);
    octal((char *)h + 108, 8, e->uid);
    octal((char *)h + 116, 8, e->gid);
    octal((char *)h + 124, 12, e->type == BOX_OCI_FILE ? e->size : 0);
    octal((char *)h + 136, 12, (uint64_t)(epoch < 0 ? 0 : epoch));
    h[156] = e->type == BOX_OCI_DIR ? '5' : e->type == BOX_OCI_SYMLINK ? '2' : '0';
    if (e->link)
        memcpy(h + 157, e->link, strlen(e->link));
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    octal((char *)h + 329, 8, 0);
    octal((char *)h + 337, 8, 0);
    /* The checksum is computed with its own field as spaces. */
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    return 0;
}

int box_oci_rootfs_tar(const struct box_oci_rootfs *r, int64_t epoch, unsigned char **out,
                       size_t *len, struct box_err *err)
{
    size_t total = 2 * TAR_BLOCK;
    for (size_t i = 0; i < r->n; i++)
        total += TAR_BLOCK + (r->v[i].size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
    unsigned char *buf = calloc(1, total);
    if (!buf)
        return box_err_set(err, ENOMEM, "layer: out of memory for %zu bytes", total);
    size_t off = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct box_oci_entry *e = &r->v[i];
        int rc = put_header(buf + off, e, epoch, err);
        if (rc < 0) {
            free(buf);
            return rc;
        }
        off += TAR_BLOCK;
        if (e->type == BOX_OCI_FILE && e->size) {
            memcpy(buf + off, e->data, e->size);
            off += (e->size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
        }
    }
    *out = buf;
    *len = total;
    return 0;
}

int box_oci_gzip(const void *in, size_t len, int level, unsigned char **out, size_t *out_len,
                 struct box_err *err)
{
    if (level < 1 || level > 9)
        return box_err_set(err, EINVAL, "gzip level %d is not 1..9", level);
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* windowBits 15 + 16: a gzip wrapper whose header zlib writes with no
     * name, no comment and mtime 0, so the bytes depend on the input only. */
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return box_err_set(err, ENOMEM, "gzip: cannot start zlib");
    /* One call: the layer is bounded well below zlib's 32-bit counts. */
    size_t cap = deflateBound(&z, len) + 64;
    if (len > (1ull << 31) || cap > (1ull << 31)) {
        deflateEnd(&z);
        return box_err_set(err, EFBIG, "gzip: %zu bytes is too much for one layer", len);
    }
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return box_err_set(err, ENOMEM, "gzip: out of memory for %zu bytes", cap);
    }
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return box_err_set(err, EIO, "gzip: zlib failed (%d)", rc);
    }
    *out = buf;
    *out_len = n;
    return 0;
}
