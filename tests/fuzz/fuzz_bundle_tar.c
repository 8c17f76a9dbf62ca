/* libFuzzer target: the tar verifier, i.e. `box bundle verify` in full
 * (gzip reader, secure tar reading, manifest, payload checks), hash-only.
 *
 * The first input byte picks the layer to explore: even, the rest is a tar
 * stream that the harness gzips (so mutations reach the tar reader); odd,
 * the rest goes to the verifier as is (so they reach the gzip reader). */
#include <libdeflate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/image/bundle.h"

static struct box_profile *profile;
static struct libdeflate_compressor *gz;

static int input_fd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("bundle", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    if ((data[0] & 1) == 0) {
        size_t cap = libdeflate_gzip_compress_bound(gz, size - 1);
        unsigned char *out = malloc(cap);
        size_t n = libdeflate_gzip_compress(gz, data + 1, size - 1, out, cap);
        if (box_write_all(fd, out, n) < 0)
            abort();
        free(out);
    } else if (box_write_all(fd, data + 1, size - 1) < 0) {
        abort();
    }
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct box_err err;
    if (!profile) {
        if (box_profile_load("nvidia", &profile, &err) < 0)
            abort();
        gz = libdeflate_alloc_compressor(1);
    }
    if (size < 1)
        return 0;
    int fd = input_fd(data, size);
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct box_bundle_opts o;
    box_bundle_opts_default(&o, profile);
    o.limits.max_entries = 4096;
    o.dlimits.max_out = 64u << 20;
    struct box_bundle_report rep;
    box_bundle_verify(path, "amd64", &o, &rep, &err);
    box_bundle_report_free(&rep);
    close(fd);
    return 0;
}
