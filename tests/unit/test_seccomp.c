/* linux.seccomp (lib/runtime/seccomp.h): parsing and validation of many
 * small profiles, each accepted or rejected with a message that names the
 * field; then filters loaded into forked children (no_new_privs first, so
 * no privilege is needed) that must deny, kill, compare arguments, log and
 * notify as configured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/runtime/seccomp.h"

static char tmp[64];

static int group_setup(void **state)
{
    snprintf(tmp, sizeof(tmp), "/tmp/box-unit-seccomp-XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int group_teardown(void **state)
{
    box_remove_tree(AT_FDCWD, tmp);
    return 0;
}

/* ---- parsing helpers ---------------------------------------------------------------------- */

/* The texts below write ' for ", so that they stay readable. */
static int parse_sq(const char *sq, struct box_seccomp **out, struct box_err *err)
{
    char *text = strdup(sq);
    assert_non_null(text);
    for (char *p = text; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j)
        fail_msg("test text is not JSON (%s): %s", jerr.text, text);
    free(text);
    box_err_clear(err);
    int r = box_seccomp_parse(j, out, err);
    json_decref(j);
    if (r < 0)
        assert_null(*out);
    return r;
}

static struct box_seccomp *parse_ok(const char *sq)
{
    struct box_seccomp *sc = NULL;
    struct box_err err;
    if (parse_sq(sq, &sc, &err) != 0)
        fail_msg("rejected (%s), want accepted: %s", err.msg, sq);
    return sc;
}

static void expect_reject(const char *sq, int code, const char *want)
{
    struct box_seccomp *sc = NULL;
    struct box_err err;
    int r = parse_sq(sq, &sc, &err);
    if (r != -code)
        fail_msg("result %d (%s), want %d: %s", r, r ? err.msg : "", -code, sq);
    if (err.code != code)
        fail_msg("err.code %d, want %d: %s", err.code, code, sq);
    if (want && !strstr(err.msg, want))
        fail_msg("message `%s` does not name `%s`: %s", err.msg, want, sq);
}

#define ALLOW_ALL "'defaultAction':'SCMP_ACT_ALLOW'"

/* ---- parsing ------------------------------------------------------------------------------ */

static void test_parse_full_profile(void **state)
{
    struct box_seccomp *sc =
        parse_ok("{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':38,"
                 "'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_X86','SCMP_ARCH_AARCH64'],"
                 "'flags':['SECCOMP_FILTER_FLAG_LOG','SECCOMP_FILTER_FLAG_SPEC_ALLOW',"
                 "'SECCOMP_FILTER_FLAG_TSYNC'],"
                 "'listenerPath':'/run/agent.sock','listenerMetadata':'hello',"
                 "'syscalls':["
                 "{'names':['read','write'],'action':'SCMP_ACT_ALLOW'},"
                 "{'names':['personality'],'action':'SCMP_ACT_ALLOW',"
                 " 'args':[{'index':0,'value':4294967295,'op':'SCMP_CMP_EQ'}]},"
                 "{'names':['dup3'],'action':'SCMP_ACT_ERRNO','errnoRet':1,"
                 " 'args':[{'index':2,'value':524289,'valueTwo':524288,'op':'SCMP_CMP_MASKED_EQ'},"
                 "         {'index':1,'value':3,'op':'SCMP_CMP_GT'}]},"
                 "{'names':['getppid'],'action':'SCMP_ACT_NOTIFY'},"
                 "{'names':['mkdir'],'action':'SCMP_ACT_KILL_PROCESS','unknownField':1}],"
                 "'someFutureField':{}}");
    assert_int_equal(sc->default_action, SCMP_ACT_ERRNO(38));
    assert_int_equal(sc->n_arches, 3);
    assert_int_equal(sc->arches[0], SCMP_ARCH_X86_64);
    assert_int_equal(sc->arches[1], SCMP_ARCH_X86);
    assert_int_equal(sc->arches[2], SCMP_ARCH_AARCH64);
    assert_int_equal(sc->flags,
                     BOX_SECCOMP_FLAG_LOG | BOX_SECCOMP_FLAG_SPEC_ALLOW | BOX_SECCOMP_FLAG_TSYNC);
    assert_string_equal(sc->listener_path, "/run/agent.sock");
    assert_string_equal(sc->listener_metadata, "hello");
    assert_true(sc->notify);
    assert_int_equal(sc->n_rules, 5);
    assert_int_equal(sc->rules[0].n_names, 2);
    assert_string_equal(sc->rules[0].names[1], "write");
    assert_null(sc->rules[0].names[2]);
    assert_int_equal(sc->rules[0].action, SCMP_ACT_ALLOW);
    assert_int_equal(sc->rules[0].n_args, 0);
    assert_int_equal(sc->rules[1].n_args, 1);
    assert_true(sc->rules[1].args[0].value == 0xffffffffULL);
    assert_int_equal(sc->rules[1].args[0].op, SCMP_CMP_EQ);
    assert_int_equal(sc->rules[2].action, SCMP_ACT_ERRNO(1));
    assert_int_equal(sc->rules[2].n_args, 2);
    assert_int_equal(sc->rules[2].args[0].index, 2);
    assert_int_equal(sc->rules[2].args[0].op, SCMP_CMP_MASKED_EQ);
    assert_true(sc->rules[2].args[0].value == 524289 && sc->rules[2].args[0].value_two == 524288);
    assert_int_equal(sc->rules[2].args[1].index, 1);
    assert_int_equal(sc->rules[2].args[1].op, SCMP_CMP_GT);
    assert_int_equal(sc->rules[3].action, SCMP_ACT_NOTIFY);
    assert_int_equal(sc->rules[4].action, SCMP_ACT_KILL_PROCESS);
    box_seccomp_free(sc);
}

static void test_parse_minimal_and_every_action(void **state)
{
    struct box_seccomp *sc = parse_ok("{" ALLOW_ALL "}");
    assert_int_equal(sc->default_action, SCMP_ACT_ALLOW);
    assert_int_equal(sc->n_rules, 0);
    assert_int_equal(sc->n_arches, 0);
    assert_int_equal(sc->flags, 0);
    assert_false(sc->notify);
    assert_null(sc->listener_path);
    box_seccomp_free(sc);
    static const struct {
        const char *name;
        uint32_t action;
    } acts[] = {
        {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD},
        {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
        {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
        {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
        {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(EPERM)},
        {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(EPERM)},
        {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
        {"SCMP_ACT_LOG", SCMP_ACT_LOG},
    };
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "{'defaultAction':'%s','syscalls':[{'names':['mkdir'],'action':'%s'}]}",
                 acts[i].name, acts[i].name);
        sc = parse_ok(text);
        assert_int_equal(sc->default_action, acts[i].action);
        assert_int_equal(sc->rules[0].action, acts[i].action);
        box_seccomp_free(sc);
    }
    /* null members are absent ones */
    sc = parse_ok("{" ALLOW_ALL ",'syscalls':null,'architectures':null,'flags':null,"
                  "'defaultErrnoRet':null}");
    box_seccomp_free(sc);
}

static void test_errno_ret_defaults(void **state)
{
    /* errnoRet defaults to EPERM; a rule's default is EPERM, not defaultErrnoRet */
    struct box_seccomp *sc =
        parse_ok("{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':38,'syscalls':["
                 "{'names':['mkdir'],'action':'SCMP_ACT_ERRNO'},"
                 "{'names':['rmdir'],'action':'SCMP_ACT_ERRNO','errnoRet':0},"
                 "{'names':['chdir'],'action':'SCMP_ACT_ERRNO','errnoRet':4095},"
                 "{'names':['chroot'],'action':'SCMP_ACT_TRACE'},"
                 "{'names':['ptrace'],'action':'SCMP_ACT_TRACE','errnoRet':65535},"
                 "{'names':['open'],'action':'SCMP_ACT_ERRNO','errnoRet':null}]}");
    assert_int_equal(sc->default_action, SCMP_ACT_ERRNO(38));
    assert_int_equal(sc->rules[0].action, SCMP_ACT_ERRNO(EPERM));
    assert_int_equal(sc->rules[1].action, SCMP_ACT_ERRNO(0));
    assert_int_equal(sc->rules[2].action, SCMP_ACT_ERRNO(4095));
    assert_int_equal(sc->rules[3].action, SCMP_ACT_TRACE(EPERM));
    assert_int_equal(sc->rules[4].action, SCMP_ACT_TRACE(65535));
    assert_int_equal(sc->rules[5].action, SCMP_ACT_ERRNO(EPERM));
    box_seccomp_free(sc);
    sc = parse_ok("{'defaultAction':'SCMP_ACT_ERRNO'}");
    assert_int_equal(sc->default_action, SCMP_ACT_ERRNO(EPERM));
    box_seccomp_free(sc);
    sc = parse_ok("{'defaultAction':'SCMP_ACT_TRACE','defaultErrnoRet':7}");
    assert_int_equal(sc->default_action, SCMP_ACT_TRACE(7));
    box_seccomp_free(sc);
}

static void test_errno_ret_errors(void **state)
{
    /* runtime-spec: an action without an errno given one MUST fail */
    expect_reject("{'defaultAction':'SCMP_ACT_ALLOW','defaultErrnoRet':1}", EINVAL,
                  "linux.seccomp.defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir'],'action':'SCMP_ACT_KILL',"
                  "'errnoRet':1}]}",
                  EINVAL, "linux.seccomp.syscalls[0].errnoRet");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['a'],'action':'SCMP_ACT_ALLOW'},"
                  "{'names':['mkdir'],'action':'SCMP_ACT_ERRNO','errnoRet':4096}]}",
                  ERANGE, "linux.seccomp.syscalls[1].errnoRet");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir'],'action':'SCMP_ACT_ERRNO',"
                  "'errnoRet':-1}]}",
                  ERANGE, "linux.seccomp.syscalls[0].errnoRet");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir'],'action':'SCMP_ACT_TRACE',"
                  "'errnoRet':65536}]}",
                  ERANGE, "linux.seccomp.syscalls[0].errnoRet");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir'],'action':'SCMP_ACT_ERRNO',"
                  "'errnoRet':'EPERM'}]}",
                  EINVAL, "linux.seccomp.syscalls[0].errnoRet");
    expect_reject("{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':1.5}", EINVAL,
                  "linux.seccomp.defaultErrnoRet");
}

static void test_unknown_names_are_errors(void **state)
{
    expect_reject(
        "{" ALLOW_ALL ",'syscalls':[{'names':['a'],'action':'SCMP_ACT_ALLOW'},"
        "{'names':['b'],'action':'SCMP_ACT_ALLOW'},{'names':['c'],'action':'SCMP_ACT_LOG'},"
        "{'names':['d'],'action':'SCMP_ACT_FOO'}]}",
        EINVAL, "linux.seccomp.syscalls[3].action: unknown action `SCMP_ACT_FOO`");
    expect_reject("{'defaultAction':'SCMP_ACT_NOPE'}", EINVAL,
                  "linux.seccomp.defaultAction: unknown action `SCMP_ACT_NOPE`");
    /* case matters: the names are libseccomp's */
    expect_reject("{'defaultAction':'scmp_act_allow'}", EINVAL, "linux.seccomp.defaultAction");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['dup3'],'action':'SCMP_ACT_ERRNO',"
                  "'args':[{'index':0,'value':1,'op':'SCMP_CMP_EQ'},"
                  "{'index':1,'value':1,'op':'SCMP_CMP_APPROX'}]}]}",
                  EINVAL,
                  "linux.seccomp.syscalls[0].args[1].op: unknown operator `SCMP_CMP_APPROX`");
    expect_reject("{" ALLOW_ALL ",'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_Z80']}", EINVAL,
                  "linux.seccomp.architectures[1]: unknown architecture `SCMP_ARCH_Z80`");
    expect_reject("{" ALLOW_ALL ",'flags':['SECCOMP_FILTER_FLAG_BOGUS']}", EINVAL,
                  "linux.seccomp.flags[0]: unknown flag `SECCOMP_FILTER_FLAG_BOGUS`");
    /* named by the runtime-spec, but not by this build's libseccomp */
#ifndef SCMP_ARCH_LOONGARCH64
    expect_reject("{" ALLOW_ALL ",'architectures':['SCMP_ARCH_LOONGARCH64']}", EOPNOTSUPP,
                  "linux.seccomp.architectures[0]: `SCMP_ARCH_LOONGARCH64` is not supported");
#endif
#if SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR < 6
    expect_reject("{" ALLOW_ALL ",'flags':['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV']}", EOPNOTSUPP,
                  "linux.seccomp.flags[0]");
#endif
}

static void test_required_fields_and_types(void **state)
{
    expect_reject("{}", EINVAL, "linux.seccomp.defaultAction: required");
    expect_reject("{'defaultAction':1}", EINVAL, "linux.seccomp.defaultAction");
    expect_reject("{" ALLOW_ALL ",'syscalls':{}}", EINVAL, "linux.seccomp.syscalls");
    expect_reject("{" ALLOW_ALL ",'syscalls':['mkdir']}", EINVAL,
                  "linux.seccomp.syscalls[0]: must be an object");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'action':'SCMP_ACT_ERRNO'}]}", EINVAL,
                  "linux.seccomp.syscalls[0].names: required");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':'mkdir','action':'SCMP_ACT_ERRNO'}]}",
                  EINVAL, "linux.seccomp.syscalls[0].names");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir',1],'action':'SCMP_ACT_ERRNO'}]}",
                  EINVAL, "linux.seccomp.syscalls[0].names[1]");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir']}]}", EINVAL,
                  "linux.seccomp.syscalls[0].action: required");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['dup3'],'action':'SCMP_ACT_ERRNO',"
                  "'args':[{'value':1,'op':'SCMP_CMP_EQ'}]}]}",
                  EINVAL, "linux.seccomp.syscalls[0].args[0].index: required");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['dup3'],'action':'SCMP_ACT_ERRNO',"
                  "'args':[{'index':0,'op':'SCMP_CMP_EQ'}]}]}",
                  EINVAL, "linux.seccomp.syscalls[0].args[0].value: required");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['dup3'],'action':'SCMP_ACT_ERRNO',"
                  "'args':[{'index':0,'value':1}]}]}",
                  EINVAL, "linux.seccomp.syscalls[0].args[0].op: required");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['dup3'],'action':'SCMP_ACT_ERRNO',"
                  "'args':[{'index':6,'value':1,'op':'SCMP_CMP_EQ'}]}]}",
                  ERANGE, "linux.seccomp.syscalls[0].args[0].index");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['dup3'],'action':'SCMP_ACT_ERRNO',"
                  "'args':[{'index':0,'value':-1,'op':'SCMP_CMP_EQ'}]}]}",
                  ERANGE, "linux.seccomp.syscalls[0].args[0].value");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['dup3'],'action':'SCMP_ACT_ERRNO',"
                  "'args':[7]}]}",
                  EINVAL, "linux.seccomp.syscalls[0].args[0]: must be an object");
    expect_reject("{" ALLOW_ALL ",'architectures':[1]}", EINVAL,
                  "linux.seccomp.architectures[0]: must be a string");
    expect_reject("{" ALLOW_ALL ",'flags':'SECCOMP_FILTER_FLAG_LOG'}", EINVAL,
                  "linux.seccomp.flags");
    expect_reject("{" ALLOW_ALL ",'listenerPath':5}", EINVAL, "linux.seccomp.listenerPath");
    expect_reject("{" ALLOW_ALL ",'listenerMetadata':[]}", EINVAL,
                  "linux.seccomp.listenerMetadata");
    struct box_seccomp *sc = NULL;
    struct box_err err;
    json_t *arr = json_array();
    assert_int_equal(box_seccomp_parse(arr, &sc, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "linux.seccomp: must be an object"));
    json_decref(arr);
}

/* A profile of n entries of m names each (n * m over all). */
static char *big_profile(size_t n, size_t m, size_t n_args)
{
    size_t cap = 64 + n * (64 + m * 8 + n_args * 64);
    char *s = malloc(cap);
    assert_non_null(s);
    size_t off = (size_t)snprintf(s, cap, "{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[");
    for (size_t i = 0; i < n; i++) {
        off += (size_t)snprintf(s + off, cap - off, "%s{'names':[", i ? "," : "");
        for (size_t k = 0; k < m; k++)
            off += (size_t)snprintf(s + off, cap - off, "%s'x%zu'", k ? "," : "", k);
        off += (size_t)snprintf(s + off, cap - off, "],'action':'SCMP_ACT_LOG','args':[");
        for (size_t k = 0; k < n_args; k++)
            off +=
                (size_t)snprintf(s + off, cap - off, "%s{'index':%zu,'value':0,'op':'SCMP_CMP_EQ'}",
                                 k ? "," : "", k % 6);
        off += (size_t)snprintf(s + off, cap - off, "]}");
    }
    snprintf(s + off, cap - off, "]}");
    return s;
}

static void test_bounds(void **state)
{
    char *s = big_profile(BOX_SECCOMP_MAX_SYSCALLS, 1, 0);
    struct box_seccomp *sc = parse_ok(s);
    assert_int_equal(sc->n_rules, BOX_SECCOMP_MAX_SYSCALLS);
    box_seccomp_free(sc);
    free(s);
    s = big_profile(BOX_SECCOMP_MAX_SYSCALLS + 1, 1, 0);
    expect_reject(s, E2BIG, "linux.seccomp.syscalls: 4097 entries");
    free(s);
    /* six comparisons, each argument once */
    s = big_profile(1, 1, BOX_SECCOMP_MAX_ARGS);
    sc = parse_ok(s);
    assert_int_equal(sc->rules[0].n_args, 6);
    box_seccomp_free(sc);
    free(s);
    s = big_profile(1, 1, BOX_SECCOMP_MAX_ARGS + 1);
    expect_reject(s, E2BIG, "linux.seccomp.syscalls[0].args");
    free(s);
    /* names over all entries */
    s = big_profile(4, BOX_SECCOMP_MAX_NAMES / 4, 0);
    sc = parse_ok(s);
    box_seccomp_free(sc);
    free(s);
    s = big_profile(5, BOX_SECCOMP_MAX_NAMES / 4, 0);
    expect_reject(s, E2BIG, "linux.seccomp.syscalls[4].names");
    free(s);
    char name[100];
    memset(name, 'a', sizeof(name));
    name[BOX_SECCOMP_MAX_NAME_LEN + 1] = '\0';
    char text[512];
    snprintf(text, sizeof(text),
             "{" ALLOW_ALL ",'syscalls':[{'names':['ok','%s'],"
             "'action':'SCMP_ACT_LOG'}]}",
             name);
    expect_reject(text, E2BIG, "linux.seccomp.syscalls[0].names[1]: longer than 64 bytes");
    char arches[4096] = "{" ALLOW_ALL ",'architectures':['SCMP_ARCH_X86'";
    for (int i = 0; i < BOX_SECCOMP_MAX_ARCHES; i++)
        strcat(arches, ",'SCMP_ARCH_X86'");
    strcat(arches, "]}");
    expect_reject(arches, E2BIG, "linux.seccomp.architectures");
}

static void test_unknown_syscall_names_are_kept(void **state)
{
    /* Profiles list system calls newer than the kernel: not an error here;
     * the load skips them (test_load_skips_unknown_syscalls). */
    struct box_seccomp *sc = parse_ok("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir',"
                                      "'no_such_syscall_42',''],'action':'SCMP_ACT_ERRNO'}]}");
    assert_int_equal(sc->rules[0].n_names, 3);
    assert_string_equal(sc->rules[0].names[1], "no_such_syscall_42");
    box_seccomp_free(sc);
    /* an empty list is allowed and does nothing */
    sc = parse_ok("{" ALLOW_ALL ",'syscalls':[{'names':[],'action':'SCMP_ACT_ERRNO'}]}");
    assert_int_equal(sc->rules[0].n_names, 0);
    box_seccomp_free(sc);
}

static void test_notify_rules(void **state)
{
    expect_reject("{'defaultAction':'SCMP_ACT_NOTIFY','listenerPath':'/run/a.sock'}", EINVAL,
                  "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default");
    expect_reject("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir'],'action':'SCMP_ACT_NOTIFY'}]}",
                  EINVAL, "linux.seccomp.listenerPath: required");
    expect_reject("{" ALLOW_ALL ",'listenerPath':'','syscalls':[{'names':['mkdir'],"
                  "'action':'SCMP_ACT_NOTIFY'}]}",
                  EINVAL, "linux.seccomp.listenerPath: required");
    expect_reject("{" ALLOW_ALL ",'listenerPath':'/run/a.sock','syscalls':[{'names':['mkdir',"
                  "'sendmsg'],'action':'SCMP_ACT_NOTIFY'}]}",
                  EINVAL, "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY on `sendmsg`");
    char text[512], path[200];
    memset(path, 'p', sizeof(path));
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    snprintf(text, sizeof(text), "{" ALLOW_ALL ",'listenerPath':'%s'}", path);
    expect_reject(text, ENAMETOOLONG, "linux.seccomp.listenerPath");
    struct box_seccomp *sc =
        parse_ok("{" ALLOW_ALL ",'listenerPath':'/run/a.sock',"
                 "'syscalls':[{'names':['mkdir'],'action':'SCMP_ACT_NOTIFY'}]}");
    assert_true(sc->notify);
    assert_null(sc->listener_metadata);
    box_seccomp_free(sc);
    /* a listener without notify rules is harmless */
    sc = parse_ok("{" ALLOW_ALL ",'listenerPath':'/run/a.sock'}");
    assert_false(sc->notify);
    box_seccomp_free(sc);
}

static void test_runtime_syscalls_listed(void **state)
{
    /* what init.c and the trampoline need after the load: documented, and
     * each a name libseccomp knows on this architecture */
    size_t n = 0;
    for (const char *const *p = box_seccomp_runtime_syscalls; *p; p++, n++)
        if (seccomp_syscall_resolve_name(*p) == __NR_SCMP_ERROR)
            fail_msg("`%s` is not a system call here", *p);
    assert_true(n >= 6);
}

/* ---- loading, in forked children ---------------------------------------------------------- */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "child: line %d: %s (errno %d)\n", __LINE__, #cond, errno);            \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* cmocka catches SIGSYS and the other fatal signals to report them; a
 * forked child must die of them instead, not run the rest of the tests. */
static void child_default_signals(void)
{
    static const int sigs[] = {SIGSYS, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL);
}

/* Forks; the child sets no_new_privs (when nnp), loads the profile and
 * returns fn's verdict as its exit status. Returns the wait status. */
static int run_filtered(const char *sq, bool nnp, int (*fn)(void *), void *arg)
{
    struct box_seccomp *sc = parse_ok(sq);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct box_err err = {0};
        int nfd = -1;
        child_default_signals();
        if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            _exit(101);
        if (box_seccomp_load(sc, &nfd, &err) < 0) {
            fprintf(stderr, "child: load: %s\n", err.msg);
            _exit(100);
        }
        /* not _exit: a sanitizer's exit work would need more system calls
         * than a strict filter allows */
        syscall(SYS_exit_group, fn(arg));
    }
    box_seccomp_free(sc);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void expect_exit0(int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child: %s %d", WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void expect_signal(int status, int sig)
{
    if (!WIFSIGNALED(status) || WTERMSIG(status) != sig)
        fail_msg("child: %s %d, want signal %d", WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), sig);
}

/* mkdir(2) fails with *arg; the rest works. glibc and the architecture
 * pick mkdir or mkdirat: profiles name both. */
static int mkdir_fails_with(void *arg)
{
    int want = *(int *)arg;
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/denied-%d", tmp, (int)getpid());
    errno = 0;
    CHECK(mkdir(dir, 0700) < 0 && errno == want);
    CHECK(access(dir, F_OK) < 0 && errno == ENOENT);
    CHECK(getpid() > 0 && syscall(SYS_getpid) == getpid());
    CHECK(access(tmp, F_OK) == 0);
    return 0;
}

static void test_load_denies_mkdir(void **state)
{
    int want = EPERM;
    expect_exit0(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir','mkdirat'],"
                              "'action':'SCMP_ACT_ERRNO'}]}",
                              true, mkdir_fails_with, &want));
    want = ENOSYS;
    expect_exit0(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir','mkdirat'],"
                              "'action':'SCMP_ACT_ERRNO','errnoRet':38}]}",
                              true, mkdir_fails_with, &want));
}

static void test_load_skips_unknown_syscalls(void **state)
{
    int want = EACCES;
    expect_exit0(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['no_such_syscall_42',"
                              "'mkdir','','mkdirat','fork_of_the_future'],"
                              "'action':'SCMP_ACT_ERRNO','errnoRet':13}]}",
                              true, mkdir_fails_with, &want));
}

static void test_load_with_arches_and_flags(void **state)
{
    int want = EPERM;
#if defined(__x86_64__)
#define ARCHES "'SCMP_ARCH_X86_64','SCMP_ARCH_X86','SCMP_ARCH_X32'"
#elif defined(__aarch64__)
#define ARCHES "'SCMP_ARCH_AARCH64','SCMP_ARCH_ARM'"
#else
#define ARCHES ""
#endif
    expect_exit0(run_filtered("{" ALLOW_ALL ",'architectures':[" ARCHES "],"
                              "'flags':['SECCOMP_FILTER_FLAG_TSYNC','SECCOMP_FILTER_FLAG_LOG',"
                              "'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],"
                              "'syscalls':[{'names':['mkdir','mkdirat'],'action':'SCMP_ACT_ERRNO'},"
                              "{'names':['getpid'],'action':'SCMP_ACT_ALLOW'}]}",
                              true, mkdir_fails_with, &want));
}

static int do_mkdir(void *arg)
{
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/killed-%d", tmp, (int)getpid());
    mkdir(dir, 0700);
    return 0; /* not reached when the filter kills */
}

static void test_load_kill_process_and_kill(void **state)
{
    expect_signal(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir','mkdirat'],"
                               "'action':'SCMP_ACT_KILL_PROCESS'}]}",
                               true, do_mkdir, NULL),
                  SIGSYS);
    expect_signal(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir','mkdirat'],"
                               "'action':'SCMP_ACT_KILL'}]}",
                               true, do_mkdir, NULL),
                  SIGSYS);
    /* and a trap delivers SIGSYS, whose default action ends the process */
    expect_signal(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir','mkdirat'],"
                               "'action':'SCMP_ACT_TRAP'}]}",
                               true, do_mkdir, NULL),
                  SIGSYS);
}

static int personality_compared(void *arg)
{
    errno = 0;
    CHECK(personality(0xffffffff) == -1 && errno == EPERM);
    CHECK(personality(PER_LINUX) != -1);
    return 0;
}

static int dup3_masked(void *arg)
{
    /* denied when (flags & (O_CLOEXEC | 1)) == O_CLOEXEC: value is the mask */
    errno = 0;
    CHECK(dup3(0, 100, O_CLOEXEC) < 0 && errno == EBADE);
    CHECK(dup3(0, 100, 0) == 100);
    return 0;
}

static int dup3_either_target(void *arg)
{
    /* two comparisons of one argument: either one matches */
    CHECK(dup3(0, 100, 0) < 0 && errno == EPERM);
    CHECK(dup3(0, 101, 0) < 0 && errno == EPERM);
    CHECK(dup3(0, 102, 0) == 102);
    return 0;
}

static int dup3_both_args(void *arg)
{
    /* comparisons of two arguments: both must match */
    CHECK(dup3(0, 100, O_CLOEXEC) < 0 && errno == EPERM);
    CHECK(dup3(0, 100, 0) == 100);
    CHECK(dup3(0, 101, O_CLOEXEC) == 101);
    return 0;
}

static void test_load_argument_comparisons(void **state)
{
    expect_exit0(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['personality'],"
                              "'action':'SCMP_ACT_ERRNO','args':[{'index':0,'value':4294967295,"
                              "'op':'SCMP_CMP_EQ'}]}]}",
                              true, personality_compared, NULL));
    expect_exit0(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['dup3'],"
                              "'action':'SCMP_ACT_ERRNO','errnoRet':52,'args':[{'index':2,"
                              "'value':524289,'valueTwo':524288,'op':'SCMP_CMP_MASKED_EQ'}]}]}",
                              true, dup3_masked, NULL));
    expect_exit0(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['dup3'],"
                              "'action':'SCMP_ACT_ERRNO','args':["
                              "{'index':1,'value':100,'op':'SCMP_CMP_EQ'},"
                              "{'index':1,'value':101,'op':'SCMP_CMP_EQ'}]}]}",
                              true, dup3_either_target, NULL));
    expect_exit0(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['dup3'],"
                              "'action':'SCMP_ACT_ERRNO','args':["
                              "{'index':1,'value':100,'op':'SCMP_CMP_LE'},"
                              "{'index':2,'value':0,'op':'SCMP_CMP_NE'}]}]}",
                              true, dup3_both_args, NULL));
}

static int mkdir_works(void *arg)
{
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/logged-%d", tmp, (int)getpid());
    CHECK(mkdir(dir, 0700) == 0);
    CHECK(rmdir(dir) == 0);
    return 0;
}

static void test_load_log_allows(void **state)
{
    expect_exit0(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir','mkdirat','rmdir',"
                              "'unlinkat'],'action':'SCMP_ACT_LOG'}]}",
                              true, mkdir_works, NULL));
    /* a rule with the default action is redundant, not an error */
    expect_exit0(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir','mkdirat'],"
                              "'action':'SCMP_ACT_ALLOW'}]}",
                              true, mkdir_works, NULL));
}

static int only_allowed_work(void *arg)
{
    errno = 0;
    CHECK(syscall(SYS_getppid) == -1 && errno == ENOSYS);
    CHECK(syscall(SYS_getpid) > 0);
    CHECK(syscall(SYS_getuid) == -1 && errno == ENOSYS);
    return 0;
}

static void test_load_default_errno_with_allow_list(void **state)
{
    /* exit_group ends the child; write carries CHECK's message */
    expect_exit0(run_filtered("{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':38,"
                              "'syscalls':[{'names':['getpid','exit_group','exit','write'],"
                              "'action':'SCMP_ACT_ALLOW'}]}",
                              true, only_allowed_work, NULL));
}

static int no_new_privs_is_unset(void *arg)
{
    CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
    int want = EPERM;
    return mkdir_fails_with(&want);
}

static void test_load_leaves_no_new_privs_alone(void **state)
{
    if (geteuid() != 0) {
        print_message("skip: loading without no_new_privs needs CAP_SYS_ADMIN (not root)\n");
        return;
    }
    /* runtime-spec: noNewPrivileges false stays false with a filter */
    expect_exit0(run_filtered("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir','mkdirat'],"
                              "'action':'SCMP_ACT_ERRNO'}]}",
                              false, no_new_privs_is_unset, NULL));
}

static void test_load_without_privilege_fails(void **state)
{
    struct box_seccomp *sc = parse_ok("{" ALLOW_ALL ",'syscalls':[{'names':['mkdir'],"
                                      "'action':'SCMP_ACT_ERRNO'}]}");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_default_signals();
        /* neither no_new_privs nor CAP_SYS_ADMIN: nobody keeps no capability */
        if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                               setresuid(65534, 65534, 65534) < 0))
            _exit(3);
        struct box_err err = {0};
        int nfd = -1;
        int r = box_seccomp_load(sc, &nfd, &err);
        if (r != -EACCES || !strstr(err.msg, "noNewPrivileges") || nfd != -1) {
            fprintf(stderr, "child: load gave %d: %s\n", r, err.msg);
            _exit(1);
        }
        _exit(0);
    }
    box_seccomp_free(sc);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    expect_exit0(status);
}

/* ---- notify and the listener -------------------------------------------------------------- */

static int listen_at(const char *path, int type)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    unlink(path);
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static bool readable(int fd, int seconds)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, seconds * 1000) == 1;
}

/* Accepts one connection; returns what it sent (to EOF) and the fd that
 * came with it. */
static json_t *receive_state(int lfd, int *got_fd)
{
    *got_fd = -1;
    if (!readable(lfd, 10))
        return NULL;
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(c >= 0);
    char buf[65536];
    size_t len = 0;
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    for (;;) {
        struct iovec iov = {buf + len, sizeof(buf) - 1 - len};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (*got_fd < 0) {
            msg.msg_control = u.b;
            msg.msg_controllen = sizeof(u.b);
        }
        ssize_t n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
        if (n <= 0)
            break;
        struct cmsghdr *cm = msg.msg_controllen ? CMSG_FIRSTHDR(&msg) : NULL;
        if (cm && cm->cmsg_type == SCM_RIGHTS)
            memcpy(got_fd, CMSG_DATA(cm), sizeof(int));
        len += (size_t)n;
    }
    close(c);
    buf[len] = '\0';
    return json_loads(buf, 0, NULL);
}

#define NOTIFIED_VALUE 4242

/* After the fd went to the listener: getppid waits for its answer. */
static int notify_child(void)
{
    CHECK(syscall(SYS_getppid) == NOTIFIED_VALUE);
    CHECK(syscall(SYS_getpid) == getpid());
    return 0;
}

static void serve_one_notification(int nfd, pid_t child)
{
    struct seccomp_notif *req = NULL;
    struct seccomp_notif_resp *resp = NULL;
    assert_int_equal(seccomp_notify_alloc(&req, &resp), 0);
    assert_true(readable(nfd, 10));
    assert_int_equal(seccomp_notify_receive(nfd, req), 0);
    assert_int_equal(req->pid, child);
    assert_int_equal(req->data.nr, seccomp_syscall_resolve_name("getppid"));
    resp->id = req->id;
    resp->val = NOTIFIED_VALUE;
    resp->error = 0;
    resp->flags = 0;
    assert_int_equal(seccomp_notify_respond(nfd, resp), 0);
    seccomp_notify_free(req, resp);
}

static void check_process_state(json_t *st, pid_t child)
{
    assert_non_null(st);
    assert_string_equal(json_string_value(json_object_get(st, "ociVersion")), "1.2.0");
    json_t *fds = json_object_get(st, "fds");
    assert_int_equal(json_array_size(fds), 1);
    assert_string_equal(json_string_value(json_array_get(fds, 0)), "seccompFd");
    assert_int_equal(json_integer_value(json_object_get(st, "pid")), child);
    assert_string_equal(json_string_value(json_object_get(st, "metadata")), "agent=1;x");
    json_t *inner = json_object_get(st, "state");
    assert_string_equal(json_string_value(json_object_get(inner, "id")), "c1");
    assert_string_equal(json_string_value(json_object_get(inner, "status")), "creating");
    assert_int_equal(json_integer_value(json_object_get(inner, "pid")), child);
}

static void test_notify_reaches_the_listener(void **state)
{
    char path[128], text[512];
    snprintf(path, sizeof(path), "%s/listener.sock", tmp);
    int lfd = listen_at(path, SOCK_STREAM);
    snprintf(text, sizeof(text),
             "{" ALLOW_ALL ",'listenerPath':'%s','listenerMetadata':'agent=1;x',"
             "'syscalls':[{'names':['getppid'],'action':'SCMP_ACT_NOTIFY'}]}",
             path);
    struct box_seccomp *sc = parse_ok(text);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct box_err err = {0};
        int nfd = -1;
        char st[256];
        child_default_signals();
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (box_seccomp_load(sc, &nfd, &err) < 0 || nfd < 0 ||
            !(fcntl(nfd, F_GETFD) & FD_CLOEXEC)) {
            fprintf(stderr, "child: load: %s (fd %d)\n", err.msg, nfd);
            _exit(100);
        }
        snprintf(st, sizeof(st),
                 "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"creating\","
                 "\"pid\":%d,\"bundle\":\"/b\"}",
                 (int)getpid());
        if (box_seccomp_send_listener(sc->listener_path, nfd, st, sc->listener_metadata, &err) <
            0) {
            fprintf(stderr, "child: send: %s\n", err.msg);
            _exit(101);
        }
        close(nfd);
        _exit(notify_child());
    }
    box_seccomp_free(sc);
    int nfd = -1;
    json_t *st = receive_state(lfd, &nfd);
    close(lfd);
    if (!st || nfd < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("the listener got no state or no fd");
    }
    check_process_state(st, pid);
    json_decref(st);
    serve_one_notification(nfd, pid);
    close(nfd);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    expect_exit0(status);
}

static void test_listener_errors(void **state)
{
    struct box_err err = {0};
    char path[128];
    snprintf(path, sizeof(path), "%s/nobody-listens.sock", tmp);
    const char *st = "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"pid\":1}";
    assert_int_equal(box_seccomp_send_listener(path, 0, st, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "linux.seccomp.listenerPath"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(box_seccomp_send_listener(path, 0, "{\"id\":1}", NULL, &err), -EINVAL);
    assert_int_equal(box_seccomp_send_listener(path, 0, "not json", NULL, &err), -EINVAL);
    /* a SOCK_SEQPACKET listener gets the same message, in one piece */
    snprintf(path, sizeof(path), "%s/seqpacket.sock", tmp);
    int lfd = listen_at(path, SOCK_SEQPACKET);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(box_seccomp_send_listener(path, fd, st, "", &err), 0);
    close(fd);
    int got = -1;
    json_t *o = receive_state(lfd, &got);
    close(lfd);
    assert_non_null(o);
    assert_true(got >= 0);
    struct stat a, b;
    assert_int_equal(fstat(got, &a), 0);
    assert_int_equal(stat("/dev/null", &b), 0);
    assert_true(a.st_rdev == b.st_rdev);
    assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
    close(got);
    /* empty metadata is left out */
    assert_null(json_object_get(o, "metadata"));
    assert_int_equal(json_integer_value(json_object_get(o, "pid")), 1);
    json_decref(o);
}

/* ---- features ----------------------------------------------------------------------------- */

static bool has(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* Seccomp: of /proc/self/status (this test may itself run under a filter). */
static int seccomp_mode(void)
{
    FILE *s = fopen("/proc/self/status", "re");
    assert_non_null(s);
    char line[256];
    int mode = -1;
    while (fgets(line, sizeof(line), s))
        if (strncmp(line, "Seccomp:\t", 9) == 0)
            mode = line[9] - '0';
    fclose(s);
    return mode;
}

static void test_features(void **state)
{
    int mode_before = seccomp_mode();
    json_t *f = box_seccomp_features();
    assert_non_null(f);
    assert_true(json_is_true(json_object_get(f, "enabled")));
    json_t *actions = json_object_get(f, "actions");
    assert_int_equal(json_array_size(actions), 9);
    assert_true(has(actions, "SCMP_ACT_NOTIFY") && has(actions, "SCMP_ACT_KILL_PROCESS"));
    json_t *ops = json_object_get(f, "operators");
    assert_int_equal(json_array_size(ops), 7);
    assert_true(has(ops, "SCMP_CMP_MASKED_EQ"));
    json_t *archs = json_object_get(f, "archs");
    assert_true(has(archs, "SCMP_ARCH_X86_64") && has(archs, "SCMP_ARCH_AARCH64"));
    json_t *known = json_object_get(f, "knownFlags");
    assert_true(has(known, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"));
    json_t *sup = json_object_get(f, "supportedFlags");
    /* every kernel since 4.14 has these */
    assert_true(has(sup, "SECCOMP_FILTER_FLAG_TSYNC") && has(sup, "SECCOMP_FILTER_FLAG_LOG"));
    size_t i;
    json_t *v;
    json_array_foreach(sup, i, v)
    {
        assert_true(has(known, json_string_value(v)));
    }
    /* and asking installed nothing */
    assert_int_equal(seccomp_mode(), mode_before);
    json_decref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_full_profile),
        cmocka_unit_test(test_parse_minimal_and_every_action),
        cmocka_unit_test(test_errno_ret_defaults),
        cmocka_unit_test(test_errno_ret_errors),
        cmocka_unit_test(test_unknown_names_are_errors),
        cmocka_unit_test(test_required_fields_and_types),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_unknown_syscall_names_are_kept),
        cmocka_unit_test(test_notify_rules),
        cmocka_unit_test(test_runtime_syscalls_listed),
        cmocka_unit_test(test_load_denies_mkdir),
        cmocka_unit_test(test_load_skips_unknown_syscalls),
        cmocka_unit_test(test_load_with_arches_and_flags),
        cmocka_unit_test(test_load_kill_process_and_kill),
        cmocka_unit_test(test_load_argument_comparisons),
        cmocka_unit_test(test_load_log_allows),
        cmocka_unit_test(test_load_default_errno_with_allow_list),
        cmocka_unit_test(test_load_leaves_no_new_privs_alone),
        cmocka_unit_test(test_load_without_privilege_fails),
        cmocka_unit_test(test_notify_reaches_the_listener),
        cmocka_unit_test(test_listener_errors),
        cmocka_unit_test(test_features),
    };
    return cmocka_run_group_tests_name("seccomp", tests, group_setup, group_teardown);
}
