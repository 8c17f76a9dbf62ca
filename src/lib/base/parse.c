#include "lib/base/parse.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int box_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    if (v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int box_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    bool neg = s[0] == '-';
    uint64_t mag;
    int r =
        box_parse_u64(neg ? s + 1 : s, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &mag);
    if (r < 0)
        return r;
    int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

static const struct {
    const char *name;
    int sig;
} signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

/* The kernel's real-time range; glibc reserves the first few for itself, but
 * the signals still exist and runc accepts them by number. */
#define BOX_SIGRTMIN 34
#define BOX_SIGRTMAX 64

int box_parse_signal(const char *s, int *sig)
{
    if (!s || !*s)
        return -EINVAL;
    uint64_t n;
    if (s[0] >= '0' && s[0] <= '9') {
        int r = box_parse_u64(s, BOX_SIGRTMAX, &n);
        if (r < 0 || n == 0)
            return -EINVAL;
        *sig = (int)n;
        return 0;
    }
    const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
    for (size_t i = 0; i < BOX_ARRAY_SIZE(signals); i++) {
        if (strcasecmp(name, signals[i].name) == 0) {
            *sig = signals[i].sig;
            return 0;
        }
    }
    /* RTMIN, RTMIN+n, RTMAX, RTMAX-n */
    if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0) {
        bool min = strncasecmp(name, "RTMIN", 5) == 0;
        const char *rest = name + 5;
        uint64_t off = 0;
        if (*rest) {
            if (*rest != (min ? '+' : '-') || box_parse_u64(rest + 1, 30, &off) < 0)
                return -EINVAL;
        }
        *sig = min ? BOX_SIGRTMIN + (int)off : BOX_SIGRTMAX - (int)off;
        return 0;
    }
    return -EINVAL;
}

const char *box_signal_name(int sig)
{
    for (size_t i = 0; i < BOX_ARRAY_SIZE(signals); i++)
        if (signals[i].sig == sig)
            return signals[i].name;
    return NULL;
}

int box_parse_user(const char *s, uint32_t *uid, uint32_t *gid, bool *has_gid)
{
    if (!s)
        return -EINVAL;
    const char *colon = strchr(s, ':');
    char buf[24];
    size_t ulen = colon ? (size_t)(colon - s) : strlen(s);
    if (ulen == 0 || ulen >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, ulen);
    buf[ulen] = '\0';
    uint64_t u, g = 0;
    int r = box_parse_u64(buf, UINT32_MAX - 1, &u);
    if (r < 0)
        return r;
    if (colon) {
        r = box_parse_u64(colon + 1, UINT32_MAX - 1, &g);
        if (r < 0)
            return r;
    }
    *uid = (uint32_t)u;
    *gid = (uint32_t)g;
    *has_gid = colon != NULL;
    return 0;
}

int box_id_validate(const char *id, struct box_err *err)
{
    if (!id || !*id)
        return box_err_set(err, EINVAL, "container id must not be empty");
    size_t n = strnlen(id, BOX_ID_MAX + 1);
    if (n > BOX_ID_MAX)
        return box_err_set(err, EINVAL, "container id is longer than %d characters", BOX_ID_MAX);
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return box_err_set(err, EINVAL, "invalid container id `%s`", id);
    for (const char *p = id; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '+';
        if (!ok)
            return box_err_set(err, EINVAL,
                               "invalid container id: character 0x%02x at offset %zu "
                               "(allowed: letters, digits, _ . + -)",
                               c, (size_t)(p - id));
    }
    return 0;
}
