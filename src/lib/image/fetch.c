#include "lib/image/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/image/decomp.h"
#include "lib/base/fs.h"

#define HASH_BUF (1u << 20)

struct xfer {
    const struct box_fetch_opts *o;
    CURL *curl;
    int fd;
    uint64_t offset;  /* bytes already in the .part file when this transfer began */
    uint64_t written; /* bytes this transfer appended */
    bool checked;     /* the response code was looked at */
    bool restart;     /* the server ignored our range: start over */
    long http;        /* a final HTTP status >= 400 */
    int error;        /* -errno from writing */
};

void box_fetch_opts_default(struct box_fetch_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->retries = 3;
    o->connect_timeout_s = 30;
    o->stall_timeout_s = 60;
    o->max_bytes = 64ull << 30;
    o->user_agent = "box-bundle";
}

int box_fetch_name(const char *url, const char *arch, char *out, size_t out_size)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    p = strchr(p, '/'); /* the path, after the authority */
    if (!p)
        return -EINVAL;
    size_t end = strcspn(p, "?#");
    const char *base = p;
    for (size_t i = 0; i < end; i++)
        if (p[i] == '/')
            base = p + i + 1;
    size_t n = (size_t)(p + end - base);
    if (n == 0 || n > 200 || base[0] == '.')
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = base[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+'))
            return -EINVAL;
    }
    if ((size_t)snprintf(out, out_size, "%s-%.*s", arch, (int)n, base) >= out_size)
        return -ENAMETOOLONG;
    return 0;
}

int box_sha256_file(int fd, unsigned char out[BOX_SHA256_LEN], uint64_t *size, struct box_err *err)
{
    _cleanup_free_ unsigned char *buf = malloc(HASH_BUF);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint64_t total = 0;
    int r = 0;
    if (!buf || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        return box_err_set(err, ENOMEM, "sha256");
    }
    for (;;) {
        ssize_t n = pread(fd, buf, HASH_BUF, (off_t)total);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = box_err_sys(err, errno, "read for sha256");
            break;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)n);
        total += (uint64_t)n;
    }
    if (r >= 0)
        EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
    if (size)
        *size = total;
    return r;
}

/* The first bytes of a response tell whether the range was honoured. */
static bool check_response(struct xfer *x)
{
    long code = 0;
    x->checked = true;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 400) {
        x->http = code;
        return false;
    }
    if (x->offset > 0 && code == 200) {
        x->restart = true; /* a full body: the server ignored Range */
        if (ftruncate(x->fd, 0) < 0) {
            x->error = -errno;
            return false;
        }
        x->offset = 0;
    }
    return true;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (!x->checked && !check_response(x))
        return 0;
    if (x->offset + x->written + n > x->o->max_bytes) {
        x->error = -EFBIG;
        return 0;
    }
    ssize_t w = pwrite(x->fd, data, n, (off_t)(x->offset + x->written));
    if (w != (ssize_t)n) {
        x->error = w < 0 ? -errno : -EIO;
        return 0;
    }
    x->written += n;
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct xfer *x = ud;
    if (x->o->progress)
        x->o->progress(x->o->progress_ud, x->offset + (uint64_t)dlnow,
                       dltotal > 0 ? x->offset + (uint64_t)dltotal : 0);
    return 0;
}

static CURL *make_handle(struct xfer *x, char *errbuf)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, x->o->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, x->o->connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, x->o->stall_timeout_s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, x->o->user_agent);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    return c;
}

static bool transient(CURLcode rc)
{
    return rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_OPERATION_TIMEDOUT ||
           rc == CURLE_GOT_NOTHING || rc == CURLE_SEND_ERROR || rc == CURLE_COULDNT_CONNECT;
}

/* One HTTP request from the current end of the .part file. 1: try again. */
static int transfer(struct xfer *x, struct box_fetch_result *res, struct box_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct stat st;
    if (fstat(x->fd, &st) < 0)
        return box_err_sys(err, errno, "stat download");
    *x = (struct xfer){.o = x->o, .fd = x->fd, .offset = (uint64_t)st.st_size};
    x->curl = make_handle(x, errbuf);
    if (!x->curl)
        return box_err_set(err, ENOMEM, "curl");
    if (x->offset > 0) {
        curl_easy_setopt(x->curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)x->offset);
        res->resumed++;
    }
    CURLcode rc = curl_easy_perform(x->curl);
    long code = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(x->curl);
    res->restarted += x->restart;
    if (x->error)
        return box_err_sys(err, -x->error, "write download");
    if ((code == 416 || rc == CURLE_RANGE_ERROR) && x->offset > 0) {
        /* 416: the range is past what the server has, the .part is stale;
         * CURLE_RANGE_ERROR: the server ignored the range. Start over. */
        if (ftruncate(x->fd, 0) < 0)
            return box_err_sys(err, errno, "truncate download");
        res->restarted++;
        return 1;
    }
    if (x->http || code >= 400)
        return box_err_set(err, EIO, "download `%s`: HTTP status %ld", x->o->url,
                           x->http ? x->http : code);
    if (rc == CURLE_OK)
        return 0;
    int r = box_err_set(err, EIO, "download `%s`: %s", x->o->url,
                        errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return transient(rc) ? 1 : r;
}

static int download(const struct box_fetch_opts *o, int fd, struct box_fetch_result *res,
                    struct box_err *err)
{
    struct xfer x = {.o = o, .fd = fd};
    for (int attempt = 0;; attempt++) {
        int r = transfer(&x, res, err);
        if (r <= 0)
            return r;
        if (attempt >= o->retries)
            return box_err_prefix(err, "giving up after %d attempts", attempt + 1);
    }
}

/* An already cached file is used when it matches the expected digest. */
static int try_cached(const struct box_fetch_opts *o, struct box_fetch_result *res,
                      struct box_err *err)
{
    if (!o->sha256)
        return 0;
    _cleanup_close_ int fd = open(res->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    int r = box_sha256_file(fd, res->sha256, &res->bytes, err);
    if (r < 0)
        return r;
    res->cached = memcmp(res->sha256, o->sha256, BOX_SHA256_LEN) == 0;
    return res->cached;
}

static int finish(const struct box_fetch_opts *o, int fd, const char *part,
                  struct box_fetch_result *res, struct box_err *err)
{
    int r = box_sha256_file(fd, res->sha256, &res->bytes, err);
    if (r < 0)
        return r;
    if (o->sha256 && memcmp(res->sha256, o->sha256, BOX_SHA256_LEN) != 0) {
        char want[BOX_SHA256_HEXLEN + 1], got[BOX_SHA256_HEXLEN + 1];
        box_hex_encode(o->sha256, BOX_SHA256_LEN, want);
        box_hex_encode(res->sha256, BOX_SHA256_LEN, got);
        unlink(part); /* complete but wrong: resuming it can never help */
        return box_err_set(err, BOX_EDATA, "sha256 mismatch for %s: expected %s, got %s", o->url,
                           want, got);
    }
    if (fdatasync(fd) < 0)
        return box_err_sys(err, errno, "sync `%s`", part);
    if (rename(part, res->path) < 0)
        return box_err_sys(err, errno, "rename `%s`", part);
    return 0;
}

/* Opens and locks `<file>.part`: one fetcher per cache file at a time. A
 * fetcher that waited may find the path renamed away under it: it retries. */
static int open_locked(const char *part, struct box_err *err)
{
    for (int tries = 0; tries < 16; tries++) {
        int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
            return box_err_sys(err, errno, "open `%s`", part);
        while (flock(fd, LOCK_EX) < 0) {
            if (errno != EINTR) {
                int e = errno;
                close(fd);
                return box_err_sys(err, e, "lock `%s`", part);
            }
        }
        struct stat held, now;
        if (fstat(fd, &held) == 0 && stat(part, &now) == 0 && held.st_ino == now.st_ino &&
            held.st_dev == now.st_dev)
            return fd;
        close(fd);
    }
    return box_err_set(err, EAGAIN, "`%s` keeps changing under concurrent fetches", part);
}

int box_fetch(const struct box_fetch_opts *o, struct box_fetch_result *res, struct box_err *err)
{
    char name[256], part[4096 + 8];
    memset(res, 0, sizeof(*res));
    if (box_fetch_name(o->url, o->arch, name, sizeof(name)) < 0)
        return box_err_set(err, EINVAL, "no usable file name in URL `%s`", o->url);
    if ((size_t)snprintf(res->path, sizeof(res->path), "%s/%s", o->cache, name) >=
        sizeof(res->path))
        return box_err_set(err, ENAMETOOLONG, "cache path too long");
    snprintf(part, sizeof(part), "%s.part", res->path);
    int r = box_mkdir_p(o->cache, 0755, err);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = open_locked(part, err);
    if (fd < 0)
        return fd;
    r = try_cached(o, res, err);
    if (r != 0) {
        if (r > 0)
            unlink(part);
        return r < 0 ? r : 0;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return box_err_set(err, EIO, "curl init");
    r = download(o, fd, res, err);
    if (r >= 0)
        r = finish(o, fd, part, res, err);
    curl_global_cleanup();
    return r;
}
