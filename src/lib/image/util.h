/* Small pure helpers of the image module: path rules for archive and
 * manifest paths, message-safe escaping, hex.
 * Candidates for src/lib/base once another module needs them. */
#ifndef BOX_IMAGE_UTIL_H
#define BOX_IMAGE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOX_PATH_MAX      4096 /* whole relative path, bytes */
#define BOX_NAME_MAX      255  /* one component, bytes */
#define BOX_SHA256_LEN    32
#define BOX_SHA256_HEXLEN 64

enum box_path_verdict {
    BOX_PATH_OK = 0,
    BOX_PATH_EMPTY,    /* "" or only "./" */
    BOX_PATH_ABSOLUTE, /* starts with '/' */
    BOX_PATH_DOTDOT,   /* a ".." component */
    BOX_PATH_BAD,      /* empty or "." component, trailing slash where not allowed */
    BOX_PATH_CONTROL,  /* a control character (newline, tab, DEL...) */
    BOX_PATH_TOO_LONG, /* past BOX_PATH_MAX or a component past BOX_NAME_MAX */
};

/* Accept one leading "./" (tar writers emit it) and drop it. */
#define BOX_PATH_STRIP_DOT_PREFIX 0x1u
/* Accept one trailing '/' (directory entries) and drop it. */
#define BOX_PATH_STRIP_TRAILING_SLASH 0x2u

/* Checks `in` against the relative-path rules and writes its canonical form
 * (no "./" prefix, no trailing '/') to `out` (at least BOX_PATH_MAX + 1
 * bytes). `*had_slash` tells whether a trailing '/' was dropped. Pure. */
enum box_path_verdict box_path_clean(const char *in, unsigned flags, char *out, size_t out_size,
                                     bool *had_slash);
const char *box_path_verdict_str(enum box_path_verdict v);

/* Number of '/'-separated components of a canonical path ("" has 0). */
size_t box_path_depth(const char *path);

/* Copies `in` to `out` for a message: control bytes, backslash and bytes
 * >= 0x7f become \n, \t, \\ or \xNN; the result is cut (with "...") to fit. */
const char *box_escape(const char *in, char *out, size_t out_size);

void box_hex_encode(const unsigned char *in, size_t n, char *out /* 2n + 1 */);
/* Decodes exactly 2n lowercase or uppercase hex digits; -EINVAL otherwise. */
int box_hex_decode(const char *in, unsigned char *out, size_t n);
/* True when `s` is exactly 64 lowercase hex digits. */
bool box_is_sha256_hex(const char *s);

/* True when `s` is NULL, empty or only spaces/tabs/newlines. */
bool box_is_blank(const char *s);

#endif
