/* Downloading a release asset into a cache with libcurl.
 *
 * The file lands in `<cache>/<arch>-<basename of the URL>`; bytes go first to
 * `<that>.part`, which an interrupted transfer leaves behind and the next
 * attempt (in this call or a later one) resumes with a Range request. A
 * server that ignores the range, or answers 416, makes the download restart
 * from zero. The outer SHA-256, when given, is checked on the complete file
 * before it takes its final name; a mismatch removes it. */
#ifndef BOX_IMAGE_FETCH_H
#define BOX_IMAGE_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/base/err.h"
#include "lib/image/util.h"

struct box_fetch_opts {
    const char *url, *arch, *cache;
    const unsigned char *sha256; /* expected digest of the file, or NULL */
    int retries;                 /* resumptions after an interrupted transfer */
    long connect_timeout_s, stall_timeout_s;
    uint64_t max_bytes;
    const char *user_agent;
    /* Called as bytes arrive (total 0 when unknown); may be NULL. */
    void (*progress)(void *ud, uint64_t now, uint64_t total);
    void *progress_ud;
};

struct box_fetch_result {
    char path[4096];
    uint64_t bytes;
    bool cached;   /* an existing file matched the digest: no transfer */
    int resumed;   /* transfers continued with a Range request */
    int restarted; /* transfers started again from zero */
    unsigned char sha256[BOX_SHA256_LEN];
};

void box_fetch_opts_default(struct box_fetch_opts *o);

/* The cache file name for a URL: "<arch>-<basename>"; -EINVAL when the URL
 * has no usable basename (letters, digits, '.', '_', '-', '+', not leading '.'). */
int box_fetch_name(const char *url, const char *arch, char *out, size_t out_size);

int box_fetch(const struct box_fetch_opts *o, struct box_fetch_result *res, struct box_err *err);

/* SHA-256 of a whole file. */
int box_sha256_file(int fd, unsigned char out[BOX_SHA256_LEN], uint64_t *size, struct box_err *err);

#endif
