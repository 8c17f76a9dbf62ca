#include "lib/image/decomp.h"

#include <errno.h>
#include <libdeflate.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IN_CAP  (4u << 20)
#define OUT_CAP (4u << 20)
/* After this many members too large for the whole-member path, stop trying it. */
#define FAST_MISSES_MAX 2

struct box_decomp {
    int fd;
    unsigned flags;
    struct box_decomp_limits lim;
    unsigned char *in;
    size_t in_pos, in_end;
    bool in_eof;
    uint64_t in_consumed; /* compressed bytes taken by the decoder */
    unsigned char *out[2];
    size_t out_len[2];
    int cur; /* index of the block handed out last */
    uint64_t out_total;
    bool plain, started, z_active, z_ready, finished;
    int fast_misses;
    z_stream zs;
    struct libdeflate_decompressor *ld;
};

static int data_err(struct box_err *err, const char *what)
{
    return box_err_set(err, BOX_EDATA, "%s", what);
}

static int refill(struct box_decomp *d, struct box_err *err)
{
    if (d->in_eof)
        return 0;
    if (d->in_pos > 0) {
        memmove(d->in, d->in + d->in_pos, d->in_end - d->in_pos);
        d->in_end -= d->in_pos;
        d->in_pos = 0;
    }
    while (d->in_end < IN_CAP) {
        ssize_t n = read(d->fd, d->in + d->in_end, IN_CAP - d->in_end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return box_err_sys(err, errno, "read compressed stream");
        if (n == 0) {
            d->in_eof = true;
            break;
        }
        d->in_end += (size_t)n;
    }
    return 0;
}

int box_decomp_open(int fd, unsigned flags, const struct box_decomp_limits *limits,
                    struct box_decomp **out, struct box_err *err)
{
    struct box_decomp *d = calloc(1, sizeof(*d));
    if (!d)
        return box_err_set(err, ENOMEM, "decompressor");
    d->fd = fd;
    d->flags = flags;
    d->lim = *limits;
    d->in = malloc(IN_CAP);
    d->out[0] = malloc(OUT_CAP);
    d->out[1] = malloc(OUT_CAP);
    d->ld = libdeflate_alloc_decompressor();
    if (!d->in || !d->out[0] || !d->out[1] || !d->ld) {
        box_decomp_free(d);
        return box_err_set(err, ENOMEM, "decompressor buffers");
    }
    *out = d;
    return 0;
}

void box_decomp_free(struct box_decomp *d)
{
    if (!d)
        return;
    if (d->z_ready)
        inflateEnd(&d->zs);
    if (d->ld)
        libdeflate_free_decompressor(d->ld);
    free(d->in);
    free(d->out[0]);
    free(d->out[1]);
    free(d);
}

/* Streams the current member through zlib into out; stops when out is full
 * or the member ends. */
static ssize_t z_step(struct box_decomp *d, unsigned char *out, struct box_err *err)
{
    d->zs.next_out = out;
    d->zs.avail_out = OUT_CAP;
    while (d->zs.avail_out > 0) {
        if (d->in_pos == d->in_end) {
            int r = refill(d, err);
            if (r < 0)
                return r;
            if (d->in_pos == d->in_end)
                return data_err(err, "truncated gzip stream");
        }
        d->zs.next_in = d->in + d->in_pos;
        d->zs.avail_in = (uInt)(d->in_end - d->in_pos);
        int ret = inflate(&d->zs, Z_NO_FLUSH);
        size_t used = (d->in_end - d->in_pos) - d->zs.avail_in;
        d->in_pos += used;
        d->in_consumed += used;
        if (ret == Z_STREAM_END) {
            d->z_active = false;
            break;
        }
        if (ret == Z_MEM_ERROR)
            return box_err_set(err, ENOMEM, "inflate");
        if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT || ret == Z_STREAM_ERROR)
            return box_err_set(err, BOX_EDATA, "corrupt gzip stream: %s",
                               d->zs.msg ? d->zs.msg : "invalid data");
    }
    return (ssize_t)(OUT_CAP - d->zs.avail_out);
}

static int z_begin_member(struct box_decomp *d, struct box_err *err)
{
    int r = d->z_ready ? inflateReset(&d->zs) : inflateInit2(&d->zs, 16 + MAX_WBITS);
    if (r != Z_OK)
        return box_err_set(err, ENOMEM, "inflate init");
    d->z_ready = true;
    d->z_active = true;
    return 0;
}

/* At a member boundary: decides between the end, the fast path and zlib. */
static ssize_t member(struct box_decomp *d, unsigned char *out, struct box_err *err)
{
    if (d->in_end - d->in_pos < IN_CAP / 2) {
        int r = refill(d, err);
        if (r < 0)
            return r;
    }
    size_t avail = d->in_end - d->in_pos;
    const unsigned char *p = d->in + d->in_pos;
    if (avail == 0) {
        if (!d->started)
            return data_err(err, "not a gzip file: empty input");
        d->finished = true;
        return 0;
    }
    if (avail < 2 || p[0] != 0x1f || p[1] != 0x8b) {
        if (d->started)
            return data_err(err, "trailing garbage after gzip stream");
        if (!(d->flags & BOX_DECOMP_ALLOW_PLAIN))
            return data_err(err, "not a gzip file");
        d->plain = true;
        d->started = true;
        return -EAGAIN;
    }
    d->started = true;
    if (!(d->flags & BOX_DECOMP_NO_FAST) && d->fast_misses < FAST_MISSES_MAX) {
        size_t ain = 0, aout = 0;
        enum libdeflate_result r =
            libdeflate_gzip_decompress_ex(d->ld, p, avail, out, OUT_CAP, &ain, &aout);
        if (r == LIBDEFLATE_SUCCESS) {
            d->in_pos += ain;
            d->in_consumed += ain;
            return (ssize_t)aout;
        }
        d->fast_misses++;
    }
    int r = z_begin_member(d, err);
    if (r < 0)
        return r;
    return z_step(d, out, err);
}

static ssize_t plain_step(struct box_decomp *d, unsigned char *out, struct box_err *err)
{
    if (d->in_pos == d->in_end) {
        int r = refill(d, err);
        if (r < 0)
            return r;
    }
    size_t n = d->in_end - d->in_pos;
    if (n > OUT_CAP)
        n = OUT_CAP;
    memcpy(out, d->in + d->in_pos, n);
    d->in_pos += n;
    d->in_consumed += n;
    if (n == 0)
        d->finished = true;
    return (ssize_t)n;
}

static ssize_t produce(struct box_decomp *d, unsigned char *out, struct box_err *err)
{
    for (;;) {
        ssize_t n;
        if (d->finished)
            return 0;
        if (d->plain)
            n = plain_step(d, out, err);
        else if (d->z_active)
            n = z_step(d, out, err);
        else
            n = member(d, out, err);
        if (n == -EAGAIN)
            continue;
        if (n != 0 || d->finished)
            return n;
        /* An empty member or a zlib step that only closed a member: go on. */
    }
}

static int check_limits(struct box_decomp *d, struct box_err *err)
{
    if (d->out_total > d->lim.max_out)
        return box_err_set(err, BOX_EDATA, "uncompressed size exceeds the limit of %llu bytes",
                           (unsigned long long)d->lim.max_out);
    if (d->out_total > d->lim.ratio_floor && d->lim.max_ratio &&
        d->out_total / d->lim.max_ratio > d->in_consumed)
        return box_err_set(err, BOX_EDATA, "compression ratio exceeds the limit of %llu:1",
                           (unsigned long long)d->lim.max_ratio);
    return 0;
}

ssize_t box_decomp_read(struct box_decomp *d, const void **buf, struct box_err *err)
{
    int next = d->cur ^ 1;
    ssize_t n = produce(d, d->out[next], err);
    if (n < 0)
        return n;
    d->out_len[next] = (size_t)n;
    d->cur = next;
    d->out_total += (uint64_t)n;
    int r = check_limits(d, err);
    if (r < 0)
        return r;
    *buf = d->out[next];
    return n;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int box_decomp_check_tail(struct box_decomp *d, uint64_t consumed, struct box_err *err)
{
    static const char *msg = "trailing data after the end of the tar archive";
    uint64_t cur_len = d->out_len[d->cur], prev_len = d->out_len[d->cur ^ 1];
    if (consumed > d->out_total)
        return box_err_set(err, EINVAL, "tar reader consumed more than was produced");
    uint64_t left = d->out_total - consumed;
    if (left > cur_len + prev_len)
        return data_err(err, msg);
    if (left > cur_len) {
        const unsigned char *prev = d->out[d->cur ^ 1];
        if (!all_zero(prev + prev_len - (left - cur_len), left - cur_len))
            return data_err(err, msg);
        left = cur_len;
    }
    if (!all_zero(d->out[d->cur] + cur_len - left, left))
        return data_err(err, msg);
    for (;;) {
        const void *buf;
        ssize_t n = box_decomp_read(d, &buf, err);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0;
        if (!all_zero(buf, (size_t)n))
            return data_err(err, msg);
    }
}

uint64_t box_decomp_bytes_in(const struct box_decomp *d)
{
    return d->in_consumed;
}

uint64_t box_decomp_bytes_out(const struct box_decomp *d)
{
    return d->out_total;
}
