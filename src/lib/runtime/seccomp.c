#include "lib/runtime/seccomp.h"

#include <sys/stat.h>

#include <fcntl.h>

#include <sys/mman.h>

#include <linux/seccomp.h>

#include <linux/filter.h>

#include <dirent.h>

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/runtime/launch.h"
#include "lib/runtime/spec.h"
#include "lib/runtime/spec_json.h"

#define PATH_SECCOMP "linux.seccomp"

/* libseccomp learnt SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV in 2.6. */
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 6)
#define HAVE_WAITKILL 1
#else
#define HAVE_WAITKILL 0
#endif

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* The kernel clamps a larger SECCOMP_RET_ERRNO to MAX_ERRNO: refuse it
 * rather than return another errno than the one configured. */
#define MAX_ERRNO_RET 4095
/* SECCOMP_RET_TRACE passes 16 bits to the tracer. */
#define MAX_TRACE_RET 65535

/* The listener gets this long to take the state and the fd. */
#define LISTENER_TIMEOUT_S 10

const char *const box_seccomp_runtime_syscalls[] = {
    "accept4", "close", "execve", "execveat", "exit", "fcntl", "sendmsg", "sendto", "write", NULL,
};

/* ---- names (runtime-spec config-linux.md: the names of libseccomp's header) --------------- */

static const struct {
    const char *name;
    uint32_t action;
    uint32_t max_ret; /* > 0: the action takes errnoRet, up to this */
} action_names[] = {
    /* runtime-spec: SCMP_ACT_KILL is SCMP_ACT_KILL_THREAD, as in libseccomp. */
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, 0},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, 0},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, 0},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, 0},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), MAX_ERRNO_RET},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), MAX_TRACE_RET},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, 0},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, 0},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, 0},
};

static const struct {
    const char *name;
    int op;
} op_names[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static const struct {
    const char *name;
    uint32_t token;
} arch_names[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
#ifdef SCMP_ARCH_LOONGARCH64
    {"SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64},
#endif
#ifdef SCMP_ARCH_M68K
    {"SCMP_ARCH_M68K", SCMP_ARCH_M68K},
#endif
#ifdef SCMP_ARCH_SH
    {"SCMP_ARCH_SH", SCMP_ARCH_SH},
#endif
};

/* Architectures the runtime-spec names that this libseccomp may not know. */
static const char *const arch_names_newer[] = {"SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
                                               "SCMP_ARCH_SH"};

static const struct {
    const char *name;
    unsigned flag;
    unsigned long kernel_flags; /* what the kernel is asked for, to see if it knows the flag */
    bool built;                 /* this libseccomp can set it */
} flag_names[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", BOX_SECCOMP_FLAG_TSYNC, SECCOMP_FILTER_FLAG_TSYNC, true},
    {"SECCOMP_FILTER_FLAG_LOG", BOX_SECCOMP_FLAG_LOG, SECCOMP_FILTER_FLAG_LOG, true},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", BOX_SECCOMP_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
     true},
    /* The kernel takes it only together with a listener. */
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", BOX_SECCOMP_FLAG_WAIT_KILLABLE_RECV,
     SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | SECCOMP_FILTER_FLAG_NEW_LISTENER, HAVE_WAITKILL},
};

static const char *arch_name(uint32_t token)
{
    for (size_t i = 0; i < BOX_ARRAY_SIZE(arch_names); i++)
        if (arch_names[i].token == token)
            return arch_names[i].name;
    return "?";
}

/* ---- parsing ----------------------------------------------------------------------------- */

/* `key` (an action name) and `ret_key` (its errnoRet) of obj. runtime-spec:
 * errnoRet defaults to EPERM, and an action that takes no errno must not be
 * given one. */
static int parse_action(json_t *obj, const char *key, const char *ret_key, const char *path,
                        uint32_t *out, struct box_err *err)
{
    _cleanup_free_ char *name = NULL;
    int r = box_json_string(obj, key, path, &name, err);
    if (r < 0)
        return r;
    if (r == 0)
        return box_err_set(err, EINVAL, "%s.%s: required", path, key);
    size_t i = 0;
    while (i < BOX_ARRAY_SIZE(action_names) && strcmp(action_names[i].name, name) != 0)
        i++;
    if (i == BOX_ARRAY_SIZE(action_names))
        return box_err_set(err, EINVAL, "%s.%s: unknown action `%s`", path, key, name);
    json_t *ret = json_object_get(obj, ret_key);
    int64_t code = EPERM;
    if (ret && !json_is_null(ret)) {
        if (!action_names[i].max_ret)
            return box_err_set(err, EINVAL,
                               "%s.%s: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take a return "
                               "code, not %s",
                               path, ret_key, name);
        TRY(box_json_int(obj, ret_key, path, 0, action_names[i].max_ret, &code, err));
    }
    *out = action_names[i].action | (action_names[i].max_ret ? (uint32_t)code : 0);
    return 0;
}

static int parse_arg(json_t *a, const char *path, struct box_seccomp_arg *arg, struct box_err *err)
{
    if (!json_is_object(a))
        return box_err_set(err, EINVAL, "%s: must be an object", path);
    int64_t index = 0;
    int r = box_json_int(a, "index", path, 0, BOX_SECCOMP_MAX_ARGS - 1, &index, err);
    if (r <= 0)
        return r < 0 ? r : box_err_set(err, EINVAL, "%s.index: required", path);
    arg->index = (unsigned)index;
    r = box_json_uint64(a, "value", path, &arg->value, err);
    if (r <= 0)
        return r < 0 ? r : box_err_set(err, EINVAL, "%s.value: required", path);
    TRY(box_json_uint64(a, "valueTwo", path, &arg->value_two, err));
    _cleanup_free_ char *op = NULL;
    r = box_json_string(a, "op", path, &op, err);
    if (r <= 0)
        return r < 0 ? r : box_err_set(err, EINVAL, "%s.op: required", path);
    for (size_t i = 0; i < BOX_ARRAY_SIZE(op_names); i++) {
        if (strcmp(op_names[i].name, op) == 0) {
            arg->op = op_names[i].op;
            return 0;
        }
    }
    return box_err_set(err, EINVAL, "%s.op: unknown operator `%s`", path, op);
}

static int parse_rule(json_t *o, const char *path, struct box_seccomp_rule *rule, size_t *total,
                      struct box_err *err)
{
    if (!json_is_object(o))
        return box_err_set(err, EINVAL, "%s: must be an object", path);
    int r =
        box_json_strings(o, "names", path, BOX_SPEC_MAX_ITEMS, &rule->names, &rule->n_names, err);
    if (r <= 0)
        return r < 0 ? r : box_err_set(err, EINVAL, "%s.names: required", path);
    *total += rule->n_names;
    if (*total > BOX_SECCOMP_MAX_NAMES)
        return box_err_set(err, E2BIG, "%s.names: more than %d system call names in the profile",
                           path, BOX_SECCOMP_MAX_NAMES);
    for (size_t i = 0; i < rule->n_names; i++)
        if (strlen(rule->names[i]) > BOX_SECCOMP_MAX_NAME_LEN)
            return box_err_set(err, E2BIG, "%s.names[%zu]: longer than %d bytes", path, i,
                               BOX_SECCOMP_MAX_NAME_LEN);
    TRY(parse_action(o, "action", "errnoRet", path, &rule->action, err));
    json_t *args = NULL;
    TRY(box_json_array(o, "args", path, BOX_SECCOMP_MAX_ARGS, &args, err));
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a)
    {
        char apath[96];
        snprintf(apath, sizeof(apath), "%s.args[%zu]", path, i);
        TRY(parse_arg(a, apath, &rule->args[i], err));
        rule->n_args = i + 1;
    }
    return 0;
}

/* A notified system call waits for the listener, which receives its fd
 * only through the init's sendmsg: notifying sendmsg would wait forever
 * (runc refuses its own equivalent, write, for the same reason). */
static int check_notify(const struct box_seccomp_rule *rule, const char *path, struct box_err *err)
{
    if (rule->action != SCMP_ACT_NOTIFY)
        return 0;
    for (size_t i = 0; i < rule->n_names; i++)
        if (strcmp(rule->names[i], "sendmsg") == 0)
            return box_err_set(err, EINVAL,
                               "%s.names[%zu]: SCMP_ACT_NOTIFY on `sendmsg` would stop the "
                               "container before the listener gets its fd",
                               path, i);
    return 0;
}

static int parse_syscalls(json_t *j, struct box_seccomp *sc, struct box_err *err)
{
    json_t *arr = NULL;
    TRY(box_json_array(j, "syscalls", PATH_SECCOMP, BOX_SECCOMP_MAX_SYSCALLS, &arr, err));
    if (!arr || json_array_size(arr) == 0)
        return 0;
    sc->rules = calloc(json_array_size(arr), sizeof(*sc->rules));
    if (!sc->rules)
        return -ENOMEM;
    size_t total = 0, i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        char path[64];
        snprintf(path, sizeof(path), PATH_SECCOMP ".syscalls[%zu]", i);
        sc->n_rules = i + 1; /* counted first, so that box_seccomp_free releases it */
        TRY(parse_rule(o, path, &sc->rules[i], &total, err));
        TRY(check_notify(&sc->rules[i], path, err));
        sc->notify = sc->notify || sc->rules[i].action == SCMP_ACT_NOTIFY;
    }
    return 0;
}

static int parse_arches(json_t *j, struct box_seccomp *sc, struct box_err *err)
{
    json_t *arr = NULL;
    TRY(box_json_array(j, "architectures", PATH_SECCOMP, BOX_SECCOMP_MAX_ARCHES, &arr, err));
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (!s)
            return box_err_set(err, EINVAL, PATH_SECCOMP ".architectures[%zu]: must be a string",
                               i);
        size_t k = 0;
        while (k < BOX_ARRAY_SIZE(arch_names) && strcmp(arch_names[k].name, s) != 0)
            k++;
        if (k < BOX_ARRAY_SIZE(arch_names)) {
            sc->arches[sc->n_arches++] = arch_names[k].token;
            continue;
        }
        for (size_t n = 0; n < BOX_ARRAY_SIZE(arch_names_newer); n++)
            if (strcmp(arch_names_newer[n], s) == 0)
                return box_err_set(err, EOPNOTSUPP,
                                   PATH_SECCOMP ".architectures[%zu]: `%s` is not supported by "
                                                "this build's libseccomp",
                                   i, s);
        return box_err_set(err, EINVAL,
                           PATH_SECCOMP ".architectures[%zu]: unknown architecture `%s`", i, s);
    }
    return 0;
}

static int parse_flags(json_t *j, struct box_seccomp *sc, struct box_err *err)
{
    json_t *arr = NULL;
    TRY(box_json_array(j, "flags", PATH_SECCOMP, BOX_ARRAY_SIZE(flag_names) * 4, &arr, err));
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (!s)
            return box_err_set(err, EINVAL, PATH_SECCOMP ".flags[%zu]: must be a string", i);
        size_t k = 0;
        while (k < BOX_ARRAY_SIZE(flag_names) && strcmp(flag_names[k].name, s) != 0)
            k++;
        if (k == BOX_ARRAY_SIZE(flag_names))
            return box_err_set(err, EINVAL, PATH_SECCOMP ".flags[%zu]: unknown flag `%s`", i, s);
        if (!flag_names[k].built)
            return box_err_set(err, EOPNOTSUPP,
                               PATH_SECCOMP ".flags[%zu]: `%s` is not supported by this build's "
                                            "libseccomp",
                               i, s);
        sc->flags |= flag_names[k].flag;
    }
    return 0;
}

static int parse_listener(json_t *j, struct box_seccomp *sc, struct box_err *err)
{
    TRY(box_json_string(j, "listenerPath", PATH_SECCOMP, &sc->listener_path, err));
    TRY(box_json_string(j, "listenerMetadata", PATH_SECCOMP, &sc->listener_metadata, err));
    struct sockaddr_un sa;
    if (sc->listener_path && strlen(sc->listener_path) >= sizeof(sa.sun_path))
        return box_err_set(err, ENAMETOOLONG,
                           PATH_SECCOMP ".listenerPath: `%s` is longer than a unix socket path "
                                        "can be (%zu bytes)",
                           sc->listener_path, sizeof(sa.sun_path) - 1);
    if (sc->notify && (!sc->listener_path || !*sc->listener_path))
        return box_err_set(err, EINVAL,
                           PATH_SECCOMP ".listenerPath: required when a rule uses SCMP_ACT_NOTIFY");
    return 0;
}

static int parse_profile(json_t *j, struct box_seccomp *sc, struct box_err *err)
{
    TRY(parse_action(j, "defaultAction", "defaultErrnoRet", PATH_SECCOMP, &sc->default_action,
                     err));
    /* Every system call of the runtime's last steps would wait for a
     * listener that has no fd yet (runc refuses it too). */
    if (sc->default_action == SCMP_ACT_NOTIFY)
        return box_err_set(err, EINVAL,
                           PATH_SECCOMP ".defaultAction: SCMP_ACT_NOTIFY cannot be the default "
                                        "action");
    TRY(parse_arches(j, sc, err));
    TRY(parse_flags(j, sc, err));
    TRY(parse_syscalls(j, sc, err));
    TRY(parse_listener(j, sc, err));
    return 0;
}

int box_seccomp_parse(json_t *seccomp, struct box_seccomp **out, struct box_err *err)
{
    *out = NULL;
    if (!json_is_object(seccomp))
        return box_err_set(err, EINVAL, PATH_SECCOMP ": must be an object");
    struct box_seccomp *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return -ENOMEM;
    int r = parse_profile(seccomp, sc, err);
    if (r < 0) {
        box_seccomp_free(sc);
        return r;
    }
    *out = sc;
    return 0;
}

void box_seccomp_free(struct box_seccomp *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->n_rules; i++)
        box_strv_free(sc->rules[i].names);
    free(sc->rules);
    free(sc->listener_path);
    free(sc->listener_metadata);
    free(sc);
}

/* ---- loading ----------------------------------------------------------------------------- */

static int add_rule(scmp_filter_ctx ctx, const struct box_seccomp *sc, size_t i,
                    struct box_err *err)
{
    const struct box_seccomp_rule *rule = &sc->rules[i];
    /* libseccomp refuses a rule with the default action (EACCES), and such
     * a rule would change nothing: skip it, as runc does. */
    if (rule->action == sc->default_action)
        return 0;
    struct scmp_arg_cmp cmp[BOX_SECCOMP_MAX_ARGS];
    unsigned seen = 0;
    bool repeated = false;
    for (size_t k = 0; k < rule->n_args; k++) {
        const struct box_seccomp_arg *a = &rule->args[k];
        cmp[k] = (struct scmp_arg_cmp){
            .arg = a->index,
            .op = (enum scmp_compare)a->op,
            .datum_a = a->value,
            .datum_b = a->op == SCMP_CMP_MASKED_EQ ? a->value_two : 0,
        };
        repeated = repeated || (seen & (1u << a->index));
        seen |= 1u << a->index;
    }
    for (size_t n = 0; n < rule->n_names; n++) {
        int nr = seccomp_syscall_resolve_name(rule->names[n]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* newer than this libseccomp or kernel: skipped, like runc */
        int r = 0;
        /* libseccomp cannot AND two comparisons of one argument: like runc,
         * such conditions become one rule each (any of them matches). */
        if (!repeated)
            r = seccomp_rule_add_array(ctx, rule->action, nr, (unsigned)rule->n_args, cmp);
        for (size_t k = 0; repeated && r == 0 && k < rule->n_args; k++)
            r = seccomp_rule_add_array(ctx, rule->action, nr, 1, &cmp[k]);
        if (r < 0)
            return box_err_sys(err, -r, PATH_SECCOMP ".syscalls[%zu]: add the rule for `%s`", i,
                               rule->names[n]);
    }
    return 0;
}

static int set_attr(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value,
                    const char *what, struct box_err *err)
{
    int r = seccomp_attr_set(ctx, attr, value);
    if (r < 0)
        return box_err_sys(err, -r, PATH_SECCOMP ": %s", what);
    return 0;
}

static int build(scmp_filter_ctx ctx, const struct box_seccomp *sc, struct box_err *err)
{
    /* noNewPrivileges is the config's to decide: the init set it, or holds
     * CAP_SYS_ADMIN, before it loads the filter. */
    TRY(set_attr(ctx, SCMP_FLTATR_CTL_NNP, 0, "leave no_new_privs alone", err));
    /* The kernel's errno from seccomp_load, not libseccomp's ECANCELED. */
    seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
    /* SECCOMP_FILTER_FLAG_TSYNC needs nothing: the init has one thread,
     * and the exec leaves one (runc ignores it the same way). */
    if (sc->flags & BOX_SECCOMP_FLAG_LOG)
        TRY(set_attr(ctx, SCMP_FLTATR_CTL_LOG, 1, "flags: SECCOMP_FILTER_FLAG_LOG", err));
    if (sc->flags & BOX_SECCOMP_FLAG_SPEC_ALLOW)
        TRY(set_attr(ctx, SCMP_FLTATR_CTL_SSB, 1, "flags: SECCOMP_FILTER_FLAG_SPEC_ALLOW", err));
#if HAVE_WAITKILL
    if (sc->flags & BOX_SECCOMP_FLAG_WAIT_KILLABLE_RECV)
        TRY(set_attr(ctx, SCMP_FLTATR_CTL_WAITKILL, 1,
                     "flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", err));
#endif
    for (size_t i = 0; i < sc->n_arches; i++) {
        int r = seccomp_arch_add(ctx, sc->arches[i]);
        if (r < 0 && r != -EEXIST) /* EEXIST: the native one, always there */
            return box_err_sys(err, -r, PATH_SECCOMP ".architectures: add `%s`",
                               arch_name(sc->arches[i]));
    }
    size_t names = 0;
    for (size_t i = 0; i < sc->n_rules; i++)
        names += sc->rules[i].n_names;
    /* A binary tree for long lists (runc: libseccomp <= 2.5.4 misbehaves
     * with it on an empty filter); an older libseccomp just says no. */
    if (names > 32)
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    for (size_t i = 0; i < sc->n_rules; i++)
        TRY(add_rule(ctx, sc, i, err));
    return 0;
}

int box_seccomp_compile(const struct box_seccomp *sc, struct box_seccomp_bpf *out,
                        struct box_err *err)
{
    memset(out, 0, sizeof(*out));
    scmp_filter_ctx ctx = seccomp_init(sc->default_action);
    if (!ctx)
        return box_err_set(err, EOPNOTSUPP,
                           PATH_SECCOMP ".defaultAction: not supported by this kernel or "
                                        "libseccomp");
    int r = build(ctx, sc, err);
    int fd = r == 0 ? memfd_create("box-seccomp", MFD_CLOEXEC) : -1;
    if (r == 0 && fd < 0)
        r = box_err_sys(err, errno, PATH_SECCOMP ": memfd");
    if (r == 0 && (r = seccomp_export_bpf(ctx, fd)) < 0)
        r = box_err_sys(err, -r, PATH_SECCOMP ": generate the filter");
    seccomp_release(ctx);
    if (r == 0 && lseek(fd, 0, SEEK_SET) == 0) {
        char *buf = NULL;
        size_t len = 0;
        r = box_read_fd(fd, 1u << 20, &buf, &len);
        if (r < 0 || len == 0 || len % sizeof(struct sock_filter) != 0) {
            free(buf);
            r = box_err_set(err, EIO, PATH_SECCOMP ": the generated filter is malformed");
        } else {
            out->insns = buf;
            out->len = len;
        }
    }
    if (fd >= 0)
        close(fd);
    if (r < 0)
        return r;
    /* What libseccomp would pass to seccomp(2) for these attributes. */
    if (sc->flags & BOX_SECCOMP_FLAG_LOG)
        out->flags |= SECCOMP_FILTER_FLAG_LOG;
    if (sc->flags & BOX_SECCOMP_FLAG_SPEC_ALLOW)
        out->flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    if (sc->notify)
        out->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    return 0;
}

void box_seccomp_bpf_free(struct box_seccomp_bpf *bpf)
{
    free(bpf->insns);
    memset(bpf, 0, sizeof(*bpf));
}

int box_seccomp_load_bpf(const struct box_seccomp_bpf *bpf, int *notify_fd, struct box_err *err)
{
    *notify_fd = -1;
    struct sock_fprog prog = {.len = (unsigned short)(bpf->len / sizeof(struct sock_filter)),
                              .filter = bpf->insns};
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, bpf->flags, &prog);
    if (r < 0 && errno == EACCES)
        return box_err_sys(err, EACCES,
                           PATH_SECCOMP ": load the filter (it needs noNewPrivileges or "
                                        "CAP_SYS_ADMIN)");
    if (r < 0)
        return box_err_sys(err, errno, PATH_SECCOMP ": load the filter");
    /* With NEW_LISTENER the kernel returns the listener, O_CLOEXEC. */
    if (bpf->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
        *notify_fd = (int)r;
    return 0;
}

int box_seccomp_load(const struct box_seccomp *sc, int *notify_fd, struct box_err *err)
{
    struct box_seccomp_bpf bpf;
    *notify_fd = -1;
    int r = box_seccomp_compile(sc, &bpf, err);
    if (r == 0)
        r = box_seccomp_load_bpf(&bpf, notify_fd, err);
    box_seccomp_bpf_free(&bpf);
    return r;
}

/* ---- the compiled-filter cache -------------------------------------------------------------- */

#define CACHE_DIR   ".seccomp"
#define CACHE_MAGIC "boxbpf1\n"
#define CACHE_MAX   256 /* entries kept at most; past that nothing is added */

/* What the filter depends on: the profile, libseccomp and the machine. */
static char *cache_key(json_t *profile)
{
    char *text = json_dumps(profile, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return NULL;
    const struct scmp_version *v = seccomp_version();
    char *key = NULL;
    if (asprintf(&key, "%s|libseccomp %u.%u.%u|box %s|arch %u", text, v->major, v->minor, v->micro,
                 BOX_VERSION, seccomp_arch_native()) < 0)
        key = NULL;
    free(text);
    return key;
}

static void cache_name(const char *key, char *buf, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(buf, len, "%016llx", (unsigned long long)h);
}

/* A cache file: magic, the key's length and text, the flags, the BPF. The
 * key is compared whole, so a hash collision is a miss, never a wrong
 * filter. */
static int cache_read(int dirfd, const char *name, const char *key, struct box_seccomp_bpf *out)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (box_read_file(dirfd, name, 2u << 20, &buf, &len, NULL) < 0)
        return -ENOENT;
    size_t klen = strlen(key), m = sizeof(CACHE_MAGIC) - 1;
    uint32_t stored_klen, flags;
    if (len < m + 8 || memcmp(buf, CACHE_MAGIC, m) != 0)
        return -EINVAL;
    memcpy(&stored_klen, buf + m, 4);
    if (stored_klen != klen || len < m + 8 + klen || memcmp(buf + m + 4, key, klen) != 0)
        return -EINVAL;
    memcpy(&flags, buf + m + 4 + klen, 4);
    size_t off = m + 8 + klen, blen = len - off;
    if (blen == 0 || blen % sizeof(struct sock_filter) != 0)
        return -EINVAL;
    out->insns = malloc(blen);
    if (!out->insns)
        return -ENOMEM;
    memcpy(out->insns, buf + off, blen);
    out->len = blen;
    out->flags = flags;
    return 0;
}

static void cache_write(int dirfd, const char *name, const char *key,
                        const struct box_seccomp_bpf *bpf)
{
    int n = 0;
    _cleanup_free_ char *probe = NULL;
    DIR *d = fdopendir(dup(dirfd));
    if (d) {
        for (struct dirent *de; (de = readdir(d));)
            n += de->d_name[0] != '.';
        closedir(d);
    }
    if (n >= CACHE_MAX)
        return;
    size_t m = sizeof(CACHE_MAGIC) - 1, klen = strlen(key), len = m + 8 + klen + bpf->len;
    _cleanup_free_ char *buf = malloc(len);
    if (!buf)
        return;
    uint32_t k32 = (uint32_t)klen, f32 = bpf->flags;
    memcpy(buf, CACHE_MAGIC, m);
    memcpy(buf + m, &k32, 4);
    memcpy(buf + m + 4, key, klen);
    memcpy(buf + m + 4 + klen, &f32, 4);
    memcpy(buf + m + 8 + klen, bpf->insns, bpf->len);
    box_write_file_atomic(dirfd, name, buf, len, 0600, NULL);
}

int box_seccomp_prepare(int rootfd, json_t *profile, const struct box_seccomp *sc,
                        struct box_seccomp_bpf *out, struct box_err *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_free_ char *key = profile ? cache_key(profile) : NULL;
    _cleanup_close_ int dirfd = -1;
    char name[32];
    if (key && rootfd >= 0) {
        if (mkdirat(rootfd, CACHE_DIR, 0700) < 0 && errno != EEXIST)
            key = (free(key), NULL);
        else
            dirfd = openat(rootfd, CACHE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (key && dirfd >= 0) {
        cache_name(key, name, sizeof(name));
        if (cache_read(dirfd, name, key, out) == 0)
            return 0;
    }
    int r = box_seccomp_compile(sc, out, err);
    if (r == 0 && key && dirfd >= 0)
        cache_write(dirfd, name, key, out);
    return r;
}

/* ---- the listener ------------------------------------------------------------------------ */

static int connect_listener(const char *path, struct box_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return box_err_set(err, ENAMETOOLONG, PATH_SECCOMP ".listenerPath `%s`: too long", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* runc speaks SOCK_STREAM; a listener on SOCK_SEQPACKET gets that. */
    static const int types[] = {SOCK_STREAM, SOCK_SEQPACKET};
    int e = 0;
    for (size_t i = 0; i < BOX_ARRAY_SIZE(types); i++) {
        int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return box_err_sys(err, errno, PATH_SECCOMP ".listenerPath: socket");
        struct timeval tv = {.tv_sec = LISTENER_TIMEOUT_S};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        int r;
        do {
            r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        } while (r < 0 && errno == EINTR);
        if (r == 0)
            return fd;
        e = errno;
        close(fd);
        if (e != EPROTOTYPE)
            break;
    }
    return box_err_sys(err, e, PATH_SECCOMP ".listenerPath `%s`: connect", path);
}

/* One sendmsg carries the fd with the first bytes; a stream socket may
 * take the rest in more writes. */
static int send_state(int sock, const char *text, size_t len, int fd)
{
    ssize_t n = box_launch_send_fd_with(sock, text, len, fd);
    if (n < 0)
        return -errno;
    for (size_t off = (size_t)n; off < len;) {
        n = send(sock, text + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR)
            return -errno;
        off += n > 0 ? (size_t)n : 0;
    }
    return 0;
}

/* runtime-spec config-linux.md, "The Container Process State". */
static char *process_state(const char *state_json, const char *metadata, struct box_err *err)
{
    json_error_t jerr;
    json_t *state = json_loads(state_json, JSON_REJECT_DUPLICATES, &jerr);
    json_t *pid = json_object_get(state, "pid");
    json_t *version = json_object_get(state, "ociVersion");
    if (!json_is_object(state) || !json_is_integer(pid) || !json_is_string(version)) {
        json_decref(state);
        box_err_set(err, EINVAL, PATH_SECCOMP ": the container state has no pid or ociVersion");
        return NULL;
    }
    json_t *o = json_pack("{s:O,s:[s],s:O}", "ociVersion", version, "fds", "seccompFd", "pid", pid);
    if (o && metadata && *metadata)
        json_object_set_new(o, "metadata", json_string(metadata));
    if (o)
        json_object_set(o, "state", state);
    json_decref(state);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        box_err_set(err, ENOMEM, PATH_SECCOMP ": encode the container process state");
    return text;
}

int box_seccomp_send_listener(const char *listener_path, int notify_fd, const char *state_json,
                              const char *metadata, struct box_err *err)
{
    _cleanup_free_ char *text = process_state(state_json, metadata, err);
    if (!text)
        return -err->code;
    _cleanup_close_ int sock = connect_listener(listener_path, err);
    if (sock < 0)
        return sock;
    int r = send_state(sock, text, strlen(text), notify_fd);
    if (r < 0)
        return box_err_sys(err, -r, PATH_SECCOMP ".listenerPath `%s`: send the seccomp fd",
                           listener_path);
    return 0;
}

/* ---- features ---------------------------------------------------------------------------- */

/* The kernel knows a filter flag when seccomp(2) gets as far as reading the
 * (NULL) program: EFAULT; EINVAL otherwise. Nothing is installed. */
static bool kernel_has_flag(unsigned long flags)
{
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, NULL) < 0 && errno == EFAULT;
}

json_t *box_seccomp_features(void)
{
    json_t *actions = json_array(), *ops = json_array(), *arches = json_array();
    json_t *known = json_array(), *supported = json_array();
    for (size_t i = 0; i < BOX_ARRAY_SIZE(action_names); i++)
        json_array_append_new(actions, json_string(action_names[i].name));
    for (size_t i = 0; i < BOX_ARRAY_SIZE(op_names); i++)
        json_array_append_new(ops, json_string(op_names[i].name));
    for (size_t i = 0; i < BOX_ARRAY_SIZE(arch_names); i++)
        json_array_append_new(arches, json_string(arch_names[i].name));
    for (size_t i = 0; i < BOX_ARRAY_SIZE(flag_names); i++) {
        json_array_append_new(known, json_string(flag_names[i].name));
        if (flag_names[i].built && kernel_has_flag(flag_names[i].kernel_flags))
            json_array_append_new(supported, json_string(flag_names[i].name));
    }
    return json_pack("{s:b,s:o,s:o,s:o,s:o,s:o}", "enabled", 1, "actions", actions, "operators",
                     ops, "archs", arches, "knownFlags", known, "supportedFlags", supported);
}
