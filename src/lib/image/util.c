#include "lib/image/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* Checks one component [p, p + n) and appends it to out. */
static enum box_path_verdict take_component(const char *p, size_t n, char *out, size_t out_size,
                                            size_t *len)
{
    if (n == 0)
        return BOX_PATH_BAD;
    if (n == 1 && p[0] == '.')
        return BOX_PATH_BAD;
    if (n == 2 && p[0] == '.' && p[1] == '.')
        return BOX_PATH_DOTDOT;
    if (n > BOX_NAME_MAX)
        return BOX_PATH_TOO_LONG;
    size_t need = *len + (*len ? 1 : 0) + n;
    if (need > BOX_PATH_MAX || need + 1 > out_size)
        return BOX_PATH_TOO_LONG;
    if (*len)
        out[(*len)++] = '/';
    memcpy(out + *len, p, n);
    *len += n;
    out[*len] = '\0';
    return BOX_PATH_OK;
}

enum box_path_verdict box_path_clean(const char *in, unsigned flags, char *out, size_t out_size,
                                     bool *had_slash)
{
    size_t len = 0, n = strlen(in);
    enum box_path_verdict worst = BOX_PATH_OK;

    if (had_slash)
        *had_slash = false;
    if (out_size)
        out[0] = '\0';
    if (n > BOX_PATH_MAX + 2)
        return BOX_PATH_TOO_LONG;
    for (size_t i = 0; i < n; i++)
        if (is_control((unsigned char)in[i]))
            return BOX_PATH_CONTROL;
    if (in[0] == '/')
        return BOX_PATH_ABSOLUTE;
    if ((flags & BOX_PATH_STRIP_DOT_PREFIX) && in[0] == '.' && (in[1] == '/' || in[1] == '\0')) {
        size_t skip = in[1] ? 2 : 1;
        in += skip;
        n -= skip;
    }
    if (n > 0 && in[n - 1] == '/') {
        if (!(flags & BOX_PATH_STRIP_TRAILING_SLASH))
            return BOX_PATH_BAD;
        n--;
        if (had_slash)
            *had_slash = true;
    }
    if (n == 0)
        return BOX_PATH_EMPTY;
    for (size_t start = 0; start <= n;) {
        const char *slash = memchr(in + start, '/', n - start);
        size_t end = slash ? (size_t)(slash - in) : n;
        enum box_path_verdict v = take_component(in + start, end - start, out, out_size, &len);
        /* A ".." anywhere wins over other faults: it is the one that escapes. */
        if (v == BOX_PATH_DOTDOT)
            return v;
        if (v != BOX_PATH_OK && worst == BOX_PATH_OK)
            worst = v;
        start = end + 1;
    }
    return worst;
}

const char *box_path_verdict_str(enum box_path_verdict v)
{
    switch (v) {
    case BOX_PATH_OK:
        return "ok";
    case BOX_PATH_EMPTY:
        return "empty path";
    case BOX_PATH_ABSOLUTE:
        return "absolute path";
    case BOX_PATH_DOTDOT:
        return "'..' component";
    case BOX_PATH_BAD:
        return "empty or '.' component";
    case BOX_PATH_CONTROL:
        return "control character in name";
    case BOX_PATH_TOO_LONG:
        return "name too long";
    }
    return "invalid path";
}

size_t box_path_depth(const char *path)
{
    if (!path[0])
        return 0;
    size_t d = 1;
    for (const char *p = path; *p; p++)
        d += *p == '/';
    return d;
}

const char *box_escape(const char *in, char *out, size_t out_size)
{
    size_t o = 0;
    if (!out_size)
        return out;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        char tmp[5];
        size_t k;
        if (*p == '\n')
            k = (size_t)snprintf(tmp, sizeof(tmp), "\\n");
        else if (*p == '\t')
            k = (size_t)snprintf(tmp, sizeof(tmp), "\\t");
        else if (*p == '\\')
            k = (size_t)snprintf(tmp, sizeof(tmp), "\\\\");
        else if (is_control(*p))
            k = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
        else {
            tmp[0] = (char)*p;
            tmp[1] = '\0';
            k = 1;
        }
        if (o + k + 4 > out_size) {
            if (out_size >= 4) {
                size_t at = o < out_size - 4 ? o : out_size - 4;
                memcpy(out + at, "...", 4);
                return out;
            }
            break;
        }
        memcpy(out + o, tmp, k);
        o += k;
    }
    out[o < out_size ? o : out_size - 1] = '\0';
    return out;
}

void box_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int box_hex_decode(const char *in, unsigned char *out, size_t n)
{
    if (strlen(in) != 2 * n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

bool box_is_sha256_hex(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == BOX_SHA256_HEXLEN;
}

bool box_is_blank(const char *s)
{
    if (!s)
        return true;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\v' && *s != '\f')
            return false;
    return true;
}
