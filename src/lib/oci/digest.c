/* sha256 digests in the OCI "algorithm:encoded" form, over libcrypto. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/oci/digest.h"

static void format(const unsigned char md[32], char *out)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, BOX_OCI_DIGEST_PREFIX, 7);
    for (size_t i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 0xf];
    }
    out[BOX_OCI_DIGEST_LEN] = '\0';
}

int box_oci_digest_buf(const void *buf, size_t len, char *out)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return -ENOMEM;
    format(md, out);
    return 0;
}

int box_oci_digest_fd(int fd, char *out, uint64_t *size, struct box_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return box_err_set(err, ENOMEM, "sha256: cannot start a digest");
    }
    unsigned char buf[65536], md[32];
    uint64_t total = 0;
    int r = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = box_err_sys(err, errno, "sha256: read");
            break;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
            r = box_err_set(err, ENOMEM, "sha256: digest update failed");
            break;
        }
    }
    unsigned int mdlen = 0;
    if (r == 0 && (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32))
        r = box_err_set(err, ENOMEM, "sha256: digest final failed");
    EVP_MD_CTX_free(ctx);
    if (r < 0)
        return r;
    format(md, out);
    if (size)
        *size = total;
    return 0;
}

bool box_oci_digest_valid(const char *s)
{
    if (!s || strncmp(s, BOX_OCI_DIGEST_PREFIX, 7) != 0 || strlen(s) != BOX_OCI_DIGEST_LEN)
        return false;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

const char *box_oci_digest_hex(const char *digest)
{
    return box_oci_digest_valid(digest) ? digest + 7 : NULL;
}
