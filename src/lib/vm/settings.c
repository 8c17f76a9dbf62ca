#include "lib/vm/settings.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"

#define KEY_TOKEN    "NSCALE_SERVICE_TOKEN"
#define KEY_ENDPOINT "NSCALE_REGION_SERVICE_API_ENDPOINT"
#define KEY_ORG      "NSCALE_ORGANIZATION_ID"
#define KEY_REGION   "NSCALE_REGION_ID"

bool box_vm_is_uuid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    size_t n = strlen(s), d = 0;
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (d < 4 && (int)i == dash[d]) {
            if (s[i] != '-')
                return false;
            d++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static bool loopback_host(const char *host, size_t n)
{
    if ((n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
        (n == 5 && !strncmp(host, "[::1]", 5)))
        return true;
    return n >= 4 && strncmp(host, "127.", 4) == 0;
}

const char *box_vm_check_endpoint(const char *s)
{
    const char *rest;
    bool tls = strncasecmp(s, "https://", 8) == 0;
    if (tls)
        rest = s + 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return "is not an http:// or https:// URL";
    if (strlen(s) >= BOX_VM_ENDPOINT_MAX)
        return "is too long";
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#' || *p == '@')
            return "may not hold spaces, control characters, a query, a fragment or credentials";
    size_t authority = strcspn(rest, "/");
    size_t host = authority;
    if (rest[0] == '[') {
        const char *close = memchr(rest, ']', authority);
        host = close ? (size_t)(close - rest) + 1 : authority;
    } else {
        const char *colon = memchr(rest, ':', authority);
        if (colon)
            host = (size_t)(colon - rest);
    }
    if (host == 0)
        return "has no host";
    if (!tls && !loopback_host(rest, host))
        return "uses plain http to a host that is not loopback: the token would travel in clear "
               "text (use https)";
    return NULL;
}

/* Takes ownership of value (a heap string). */
static int set_value(struct box_vm_settings *s, const char *key, char *value, const char *from,
                     struct box_err *err)
{
    _cleanup_free_ char *v = value;
    size_t n = strlen(v);
    if (strcmp(key, KEY_TOKEN) == 0) {
        if (n == 0 || n > BOX_VM_TOKEN_MAX)
            return box_err_set(err, EINVAL, "%s from %s: must be 1 to %u characters", key, from,
                               BOX_VM_TOKEN_MAX);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f)
                return box_err_set(err, EINVAL,
                                   "%s from %s: holds a space, control or non-ASCII character "
                                   "(a bearer token is printable ASCII)",
                                   key, from);
        s->token = box_steal(&v);
        snprintf(s->token_from, sizeof(s->token_from), "%s", from);
        return 0;
    }
    if (strcmp(key, KEY_ENDPOINT) == 0) {
        while (n > 0 && v[n - 1] == '/')
            v[--n] = '\0';
        const char *why = box_vm_check_endpoint(v);
        if (why)
            return box_err_set(err, EINVAL, "%s from %s: `%.200s` %s", key, from, v, why);
        snprintf(s->endpoint, sizeof(s->endpoint), "%s", v);
        return 0;
    }
    char *dst = strcmp(key, KEY_ORG) == 0 ? s->organization : s->region;
    if (!box_vm_is_uuid(v))
        return box_err_set(err, EINVAL, "%s from %s: `%.64s` is not a UUID", key, from, v);
    snprintf(dst, 40, "%s", v);
    return 0;
}

static bool known_key(const char *key, size_t n)
{
    static const char *const keys[] = {KEY_TOKEN, KEY_ENDPOINT, KEY_ORG, KEY_REGION};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(keys); i++)
        if (strlen(keys[i]) == n && strncmp(keys[i], key, n) == 0)
            return true;
    return false;
}

static bool already_set(const struct box_vm_settings *s, const char *key)
{
    if (strcmp(key, KEY_TOKEN) == 0)
        return s->token != NULL;
    if (strcmp(key, KEY_ENDPOINT) == 0)
        return s->endpoint[0];
    if (strcmp(key, KEY_ORG) == 0)
        return s->organization[0];
    return s->region[0];
}

/* The value of one line, after '=': quoted or bare. Never echoes it. */
static int line_value(const char *p, const char *end, char **out)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    char quote = p < end && (*p == '\'' || *p == '"') ? *p : 0;
    const char *start = quote ? p + 1 : p, *stop;
    if (quote) {
        stop = start;
        while (stop < end && *stop != quote)
            stop++;
        if (stop >= end)
            return -EINVAL;
        for (const char *t = stop + 1; t < end; t++)
            if (*t != ' ' && *t != '\t' && *t != '\r')
                return -EINVAL;
    } else {
        stop = end;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t' || stop[-1] == '\r'))
            stop--;
    }
    *out = strndup(start, (size_t)(stop - start));
    return *out ? 0 : -ENOMEM;
}

static int parse_line(struct box_vm_settings *s, const char *p, const char *end, const char *name,
                      unsigned line, struct box_err *err)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end || *p == '#' || *p == '\r')
        return 0;
    if ((size_t)(end - p) > 7 && strncmp(p, "export ", 7) == 0)
        p += 7;
    const char *key = p;
    while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
        p++;
    size_t klen = (size_t)(p - key);
    if (klen == 0 || p >= end || *p != '=')
        return box_err_set(err, EINVAL, "%s line %u: not KEY=VALUE", name, line);
    if (!known_key(key, klen))
        return 0;
    char k[64];
    snprintf(k, sizeof(k), "%.*s", (int)klen, key);
    if (already_set(s, k))
        return box_err_set(err, EINVAL, "%s line %u: %s is set twice", name, line, k);
    char *value = NULL;
    int r = line_value(p + 1, end, &value);
    if (r < 0)
        return box_err_set(err, -r, "%s line %u: %s: unterminated or trailing text after quote",
                           name, line, k);
    char from[BOX_VM_ENDPOINT_MAX];
    snprintf(from, sizeof(from), "%s line %u", name, line);
    return set_value(s, k, value, from, err);
}

int box_vm_settings_parse_env(struct box_vm_settings *s, const char *text, size_t len,
                              const char *name, struct box_err *err)
{
    const char *p = text, *end = text + len;
    unsigned line = 0;
    if (memchr(text, '\0', len))
        return box_err_set(err, EINVAL, "%s: holds a NUL byte", name);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        line++;
        int r = parse_line(s, p, stop, name, line, err);
        if (r < 0)
            return r;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int box_vm_settings_from_environ(struct box_vm_settings *s, struct box_err *err)
{
    static const char *const keys[] = {KEY_TOKEN, KEY_ENDPOINT, KEY_ORG, KEY_REGION};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(keys); i++) {
        const char *v = getenv(keys[i]);
        if (!v || already_set(s, keys[i]))
            continue;
        char *copy = strdup(v);
        if (!copy)
            return box_err_set(err, ENOMEM, "settings");
        int r = set_value(s, keys[i], copy, "the environment", err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The file must be a regular file of ours that nobody else can read: it
 * holds the token. */
static int read_env_file(const char *path, char **text, size_t *len, struct box_err *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0)
        return box_err_sys(err, errno, "env file `%s`", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return box_err_sys(err, errno, "env file `%s`", path);
    if (!S_ISREG(st.st_mode))
        return box_err_set(err, EINVAL, "env file `%s`: not a regular file", path);
    if (st.st_mode & 077)
        return box_err_set(err, EACCES,
                           "env file `%s`: mode %04o lets group or others read the token; "
                           "refusing it (chmod 600 `%s`)",
                           path, (unsigned)(st.st_mode & 07777), path);
    if (st.st_uid != geteuid())
        return box_err_set(err, EACCES, "env file `%s`: owned by uid %u, not by uid %u", path,
                           (unsigned)st.st_uid, (unsigned)geteuid());
    int r = box_read_fd(fd, BOX_VM_ENV_FILE_MAX, text, len);
    if (r == -EFBIG)
        return box_err_set(err, EFBIG, "env file `%s`: larger than %u bytes", path,
                           BOX_VM_ENV_FILE_MAX);
    if (r < 0)
        return box_err_sys(err, -r, "env file `%s`", path);
    return 0;
}

int box_vm_settings_load(struct box_vm_settings *s, const char *env_file, struct box_err *err)
{
    if (env_file) {
        char *text = NULL;
        size_t len = 0;
        int r = read_env_file(env_file, &text, &len, err);
        if (r < 0)
            return r;
        r = box_vm_settings_parse_env(s, text, len, env_file, err);
        explicit_bzero(text, len);
        free(text);
        if (r < 0)
            return r;
    }
    return box_vm_settings_from_environ(s, err);
}

int box_vm_settings_require(const struct box_vm_settings *s, unsigned need, struct box_err *err)
{
    const char *missing = NULL;
    if ((need & BOX_VM_NEED_ENDPOINT) && !s->endpoint[0])
        missing = KEY_ENDPOINT;
    else if ((need & BOX_VM_NEED_TOKEN) && !s->token)
        missing = KEY_TOKEN;
    else if ((need & BOX_VM_NEED_ORGANIZATION) && !s->organization[0])
        missing = KEY_ORG;
    else if ((need & BOX_VM_NEED_REGION) && !s->region[0])
        missing = KEY_REGION;
    if (missing)
        return box_err_set(err, EINVAL, "%s is not set (in the environment or --env-file)",
                           missing);
    return 0;
}

void box_vm_settings_free(struct box_vm_settings *s)
{
    if (s->token) {
        explicit_bzero(s->token, strlen(s->token));
        free(s->token);
        s->token = NULL;
    }
}
