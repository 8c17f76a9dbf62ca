#include "lib/image/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/image/fsx.h"
#include "lib/image/util.h"

#define RING_SIZE (16u << 20)
#define CHUNK_MAX (1u << 20)         /* file data is queued in records of at most this */
#define REC_ALIGN sizeof(struct rec) /* so that a gap always holds a header */

enum op {
    OP_MKDIR = 1,
    OP_BEGIN,
    OP_DATA,
    OP_END,
    OP_SYMLINK,
    OP_LINK,
    OP_STOP,
    OP_WRAP
};

struct rec {
    uint32_t op;
    uint32_t len; /* payload bytes after the header */
    uint64_t a;   /* OP_END: mode; OP_SYMLINK/OP_LINK: offset of the 2nd string */
    int64_t b;    /* mtime */
    uint64_t pad;
};

struct box_writer {
    int dest_fd;
    /* the operation side */
    int pfd; /* cached directory fd below dest_fd, for runs of siblings */
    char pdir[BOX_PATH_MAX + 1];
    int fd; /* the file being written */
    char path[BOX_PATH_MAX + 1];
    struct box_err err;
    atomic_bool failed;
    /* the queue, threaded mode only */
    bool threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t can_put, can_take;
    unsigned char *ring;
    size_t head, tail, used; /* bytes in use, records and gaps included */
};

static const char *split(const char *path, char *parent)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    memcpy(parent, path, n);
    parent[n] = '\0';
    return slash ? slash + 1 : path;
}

static int parent_fd(struct box_writer *w, const char *dir)
{
    if (w->pfd >= 0 && strcmp(dir, w->pdir) == 0)
        return w->pfd;
    if (w->pfd >= 0 && w->pfd != w->dest_fd)
        close(w->pfd);
    w->pfd = -1;
    if (!dir[0]) {
        w->pfd = w->dest_fd;
    } else {
        int fd = box_fsx_open_beneath(w->dest_fd, dir, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
            return box_err_sys(&w->err, -fd, "open directory `%s` below the destination", dir);
        w->pfd = fd;
    }
    strcpy(w->pdir, dir);
    return w->pfd;
}

static int do_mkdir(struct box_writer *w, const char *path)
{
    char parent[BOX_PATH_MAX + 1];
    const char *name = split(path, parent);
    int pfd = parent_fd(w, parent);
    if (pfd < 0)
        return pfd;
    if (mkdirat(pfd, name, 0755) < 0)
        return box_err_sys(&w->err, errno, "create directory `%s`", path);
    return 0;
}

static int do_begin(struct box_writer *w, const char *path)
{
    char parent[BOX_PATH_MAX + 1];
    const char *name = split(path, parent);
    int pfd = parent_fd(w, parent);
    if (pfd < 0)
        return pfd;
    snprintf(w->path, sizeof(w->path), "%s", path);
    w->fd = box_fsx_open_beneath(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (w->fd < 0)
        return box_err_sys(&w->err, -w->fd, "create `%s`", path);
    return 0;
}

static int do_data(struct box_writer *w, const void *buf, size_t len)
{
    int r = box_write_all(w->fd, buf, len);
    return r < 0 ? box_err_sys(&w->err, -r, "write `%s`", w->path) : 0;
}

static int do_end(struct box_writer *w, uint32_t mode, int64_t mtime)
{
    struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    int fd = w->fd;
    w->fd = -1;
    if (fchmod(fd, mode) < 0 || futimens(fd, ts) < 0) {
        int e = errno;
        close(fd);
        return box_err_sys(&w->err, e, "set mode and times of `%s`", w->path);
    }
    if (close(fd) < 0)
        return box_err_sys(&w->err, errno, "close `%s`", w->path);
    return 0;
}

static int do_symlink(struct box_writer *w, const char *path, const char *target, int64_t mtime)
{
    char parent[BOX_PATH_MAX + 1];
    const char *name = split(path, parent);
    int pfd = parent_fd(w, parent);
    if (pfd < 0)
        return pfd;
    if (symlinkat(target, pfd, name) < 0)
        return box_err_sys(&w->err, errno, "create symlink `%s`", path);
    struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return box_err_sys(&w->err, errno, "set times of `%s`", path);
    return 0;
}

static int do_link(struct box_writer *w, const char *src, const char *path)
{
    char sparent[BOX_PATH_MAX + 1], parent[BOX_PATH_MAX + 1];
    const char *sname = split(src, sparent);
    const char *name = split(path, parent);
    _cleanup_close_ int sfd = -1;
    if (sparent[0]) {
        sfd = box_fsx_open_beneath(w->dest_fd, sparent, O_PATH | O_DIRECTORY, 0);
        if (sfd < 0)
            return box_err_sys(&w->err, -sfd, "open directory `%s`", sparent);
    }
    int pfd = parent_fd(w, parent);
    if (pfd < 0)
        return pfd;
    if (linkat(sfd >= 0 ? sfd : w->dest_fd, sname, pfd, name, 0) < 0)
        return box_err_sys(&w->err, errno, "link `%s` to `%s`", path, src);
    return 0;
}

static int run_op(struct box_writer *w, const struct rec *r, const unsigned char *payload)
{
    const char *s = (const char *)payload;
    switch (r->op) {
    case OP_MKDIR:
        return do_mkdir(w, s);
    case OP_BEGIN:
        return do_begin(w, s);
    case OP_DATA:
        return do_data(w, payload, r->len);
    case OP_END:
        return do_end(w, (uint32_t)r->a, r->b);
    case OP_SYMLINK:
        return do_symlink(w, s, s + r->a, r->b);
    case OP_LINK:
        return do_link(w, s, s + r->a);
    default:
        return 0;
    }
}

static size_t rec_size(size_t payload)
{
    return (sizeof(struct rec) + payload + REC_ALIGN - 1) & ~(size_t)(REC_ALIGN - 1);
}

static void *writer_main(void *arg)
{
    struct box_writer *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->used == 0)
            pthread_cond_wait(&w->can_take, &w->mu);
        struct rec *r = (struct rec *)(w->ring + w->tail);
        pthread_mutex_unlock(&w->mu);
        size_t size = r->op == OP_WRAP ? RING_SIZE - w->tail : rec_size(r->len);
        bool stop = r->op == OP_STOP;
        /* After a failure the queue is only drained, so that the producer never blocks. */
        if (!stop && r->op != OP_WRAP && !atomic_load(&w->failed) &&
            run_op(w, r, (unsigned char *)(r + 1)) < 0)
            atomic_store(&w->failed, true);
        pthread_mutex_lock(&w->mu);
        w->tail = (w->tail + size) % RING_SIZE;
        w->used -= size;
        pthread_cond_signal(&w->can_put);
        pthread_mutex_unlock(&w->mu);
        if (stop)
            return NULL;
    }
}

/* Queues one record whose payload is a then b (either may be empty). */
static int put(struct box_writer *w, const struct rec *hdr, const void *a, size_t alen,
               const void *b, size_t blen)
{
    size_t size = rec_size(alen + blen);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        size_t gap = w->head + size > RING_SIZE ? RING_SIZE - w->head : 0;
        if (w->used + gap + size <= RING_SIZE)
            break;
        pthread_cond_wait(&w->can_put, &w->mu);
    }
    if (w->head + size > RING_SIZE) {
        ((struct rec *)(w->ring + w->head))->op = OP_WRAP;
        w->used += RING_SIZE - w->head;
        w->head = 0;
    }
    unsigned char *at = w->ring + w->head;
    pthread_mutex_unlock(&w->mu);
    /* Only the producer writes here, and the consumer does not read it yet. */
    memcpy(at, hdr, sizeof(*hdr));
    ((struct rec *)at)->len = (uint32_t)(alen + blen);
    if (alen)
        memcpy(at + sizeof(*hdr), a, alen);
    if (blen)
        memcpy(at + sizeof(*hdr) + alen, b, blen);
    pthread_mutex_lock(&w->mu);
    w->head = (w->head + size) % RING_SIZE;
    w->used += size;
    pthread_cond_signal(&w->can_take);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

static int failed(struct box_writer *w, struct box_err *err)
{
    if (!atomic_load(&w->failed))
        return 0;
    *err = w->err;
    return -err->code;
}

/* Runs the operation now, or queues it. */
static int submit(struct box_writer *w, struct rec *hdr, const void *a, size_t alen, const void *b,
                  size_t blen, struct box_err *err)
{
    int r = failed(w, err);
    if (r < 0)
        return r;
    if (w->threaded)
        return put(w, hdr, a, alen, b, blen);
    unsigned char buf[2 * (BOX_PATH_MAX + 1)];
    const void *payload = a;
    hdr->len = (uint32_t)(alen + blen);
    if (hdr->op != OP_DATA && blen) {
        /* two strings: laid out as a queued record would hold them */
        memcpy(buf, a, alen);
        memcpy(buf + alen, b, blen);
        payload = buf;
    }
    if (run_op(w, hdr, payload) < 0) {
        *err = w->err;
        return -err->code;
    }
    return 0;
}

int box_writer_open(int dest_fd, bool threaded, struct box_writer **out, struct box_err *err)
{
    struct box_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return box_err_set(err, ENOMEM, "writer");
    w->dest_fd = dest_fd;
    w->pfd = -1;
    w->fd = -1;
    if (threaded) {
        w->ring = malloc(RING_SIZE);
        if (!w->ring) {
            free(w);
            return box_err_set(err, ENOMEM, "writer queue");
        }
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->can_put, NULL);
        pthread_cond_init(&w->can_take, NULL);
        int r = pthread_create(&w->thread, NULL, writer_main, w);
        if (r != 0) {
            free(w->ring);
            free(w);
            return box_err_sys(err, r, "start the writer thread");
        }
        w->threaded = true;
    }
    *out = w;
    return 0;
}

int box_writer_finish(struct box_writer *w, struct box_err *err)
{
    if (w->threaded) {
        put(w, &(struct rec){.op = OP_STOP}, NULL, 0, NULL, 0);
        pthread_join(w->thread, NULL);
        w->threaded = false;
    }
    return failed(w, err);
}

void box_writer_free(struct box_writer *w)
{
    if (!w)
        return;
    if (w->threaded) {
        struct box_err ignored;
        atomic_store(&w->failed, true); /* drain without doing */
        box_writer_finish(w, &ignored);
    }
    if (w->ring) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->can_put);
        pthread_cond_destroy(&w->can_take);
        free(w->ring);
    }
    if (w->fd >= 0)
        close(w->fd);
    if (w->pfd >= 0 && w->pfd != w->dest_fd)
        close(w->pfd);
    free(w);
}

static size_t slen(const char *s)
{
    return strlen(s) + 1;
}

int box_writer_mkdir(struct box_writer *w, const char *path, struct box_err *err)
{
    return submit(w, &(struct rec){.op = OP_MKDIR}, path, slen(path), NULL, 0, err);
}

int box_writer_file_begin(struct box_writer *w, const char *path, struct box_err *err)
{
    return submit(w, &(struct rec){.op = OP_BEGIN}, path, slen(path), NULL, 0, err);
}

int box_writer_file_data(struct box_writer *w, const void *buf, size_t len, struct box_err *err)
{
    const unsigned char *p = buf;
    while (len) {
        size_t n = len < CHUNK_MAX ? len : CHUNK_MAX;
        int r = submit(w, &(struct rec){.op = OP_DATA}, p, n, NULL, 0, err);
        if (r < 0)
            return r;
        p += n;
        len -= n;
    }
    return 0;
}

int box_writer_file_end(struct box_writer *w, uint32_t mode, int64_t mtime, struct box_err *err)
{
    return submit(w, &(struct rec){.op = OP_END, .a = mode, .b = mtime}, NULL, 0, NULL, 0, err);
}

int box_writer_symlink(struct box_writer *w, const char *path, const char *target, int64_t mtime,
                       struct box_err *err)
{
    struct rec hdr = {.op = OP_SYMLINK, .a = slen(path), .b = mtime};
    return submit(w, &hdr, path, slen(path), target, slen(target), err);
}

int box_writer_link(struct box_writer *w, const char *src, const char *path, struct box_err *err)
{
    struct rec hdr = {.op = OP_LINK, .a = slen(src)};
    return submit(w, &hdr, src, slen(src), path, slen(path), err);
}
