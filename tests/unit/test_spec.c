/* config.json parsing and validation (lib/runtime/spec.h): many small texts,
 * each accepted or rejected with a message that names the field. */
#include "spec_helpers.h"
/* ---- required fields ---------------------------------------------------------------------- */

static void test_minimal_config(void **state)
{
    struct box_spec spec;
    struct box_err err;
    char *doc = config_with(NULL);
    assert_int_equal(parse_raw(doc, &spec, &err), 0);
    assert_int_equal(box_spec_validate(&spec, &err), 0);
    assert_string_equal(spec.oci_version, "1.0.2");
    assert_true(spec.has_process);
    assert_int_equal(spec.process.n_args, 1);
    assert_string_equal(spec.process.args[0], "/bin/true");
    assert_null(spec.process.args[1]);
    assert_string_equal(spec.process.cwd, "/");
    assert_string_equal(spec.root_path, "rootfs");
    assert_false(spec.root_readonly);
    assert_int_equal(spec.process.uid, 0);
    assert_false(spec.has_resources);
    /* resources default to unset even without a linux section */
    assert_true(spec.resources.mem_limit == BOX_UNSET);
    assert_true(spec.resources.pids_limit == BOX_UNSET);
    assert_true(spec.resources.cpu_shares == BOX_UNSET);
    assert_int_equal(spec.n_mounts, 0);
    assert_int_equal(spec.n_namespaces, 0);
    box_spec_free(&spec);
    free(doc);
}

static void test_missing_process(void **state)
{
    REJECT_DOC("{'ociVersion':'1.0.2'," ROOT_OK "}", EINVAL, "config.process");
    /* null is the same as absent */
    REJECT_DOC("{'ociVersion':'1.0.2','process':null," ROOT_OK "}", EINVAL, "config.process");
}

static void test_missing_or_relative_cwd(void **state)
{
    REJECT_DOC("{'ociVersion':'1.0.2','process':{'args':['sh']}," ROOT_OK "}", EINVAL,
               "process.cwd");
    REJECT_DOC("{'ociVersion':'1.0.2','process':{'args':['sh'],'cwd':''}," ROOT_OK "}", EINVAL,
               "process.cwd");
    REJECT_DOC("{'ociVersion':'1.0.2','process':{'args':['sh'],'cwd':'home/user'}," ROOT_OK "}",
               EINVAL, "process.cwd");
    REJECT_DOC("{'ociVersion':'1.0.2','process':{'args':['sh'],'cwd':'./x'}," ROOT_OK "}", EINVAL,
               "absolute");
}

static void test_empty_args(void **state)
{
    REJECT_DOC("{'ociVersion':'1.0.2','process':{'args':[],'cwd':'/'}," ROOT_OK "}", EINVAL,
               "process.args");
    REJECT_DOC("{'ociVersion':'1.0.2','process':{'cwd':'/'}," ROOT_OK "}", EINVAL, "process.args");
    REJECT_DOC("{'ociVersion':'1.0.2','process':{'args':[''],'cwd':'/'}," ROOT_OK "}", EINVAL,
               "process.args");
}

static void test_missing_root(void **state)
{
    REJECT_DOC("{'ociVersion':'1.0.2'," PROCESS_OK "}", EINVAL, "root.path");
    REJECT_DOC("{'ociVersion':'1.0.2'," PROCESS_OK ",'root':{}}", EINVAL, "root.path");
    REJECT_DOC("{'ociVersion':'1.0.2'," PROCESS_OK ",'root':{'path':''}}", EINVAL, "root.path");
}

static void test_missing_oci_version(void **state)
{
    REJECT_DOC("{" PROCESS_OK "," ROOT_OK "}", EINVAL, "ociVersion");
    REJECT_DOC("{'ociVersion':1," PROCESS_OK "," ROOT_OK "}", EINVAL, "ociVersion");
}

static void test_not_an_object_or_not_json(void **state)
{
    REJECT_DOC("[]", EINVAL, "object");
    REJECT_DOC("'config'", EINVAL, "config.json");
    REJECT_DOC("", EINVAL, "config.json");
    REJECT_DOC("{", EINVAL, "config.json");
    REJECT_DOC("{'ociVersion':'1.0.2',}", EINVAL, "config.json");
    /* a second document after the first */
    REJECT_DOC("{'ociVersion':'1.0.2'," PROCESS_OK "," ROOT_OK "} {}", EINVAL, "config.json");
}

static void test_env_form(void **state)
{
    REJECT_DOC(
        "{'ociVersion':'1','process':{'args':['a'],'cwd':'/','env':['A=1','NOEQUALS']}," ROOT_OK
        "}",
        EINVAL, "process.env[1]");
    REJECT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','env':['=x']}," ROOT_OK "}",
               EINVAL, "process.env[0]");
    ACCEPT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','env':['A=','B=c=d']}," ROOT_OK
               "}");
}

/* ---- syntax and types --------------------------------------------------------------------- */

static void test_duplicate_keys(void **state)
{
    REJECT_DOC("{'ociVersion':'1.0.2','ociVersion':'1.0.2'," PROCESS_OK "," ROOT_OK "}", EINVAL,
               "duplicate");
    /* nested: the second cwd must not silently win */
    REJECT_DOC("{'ociVersion':'1.0.2','process':{'args':['a'],'cwd':'/','cwd':'/tmp'}," ROOT_OK "}",
               EINVAL, "duplicate");
    REJECT("'linux':{'sysctl':{'net.a':'1','net.a':'2'}}", EINVAL, "duplicate");
}

static void test_wrong_types_name_the_path(void **state)
{
    static const struct {
        const char *doc; /* whole document when it starts with '{' */
        const char *path;
    } cases[] = {
        {"{'ociVersion':'1','process':{'args':'sh','cwd':'/'}," ROOT_OK "}", "process.args"},
        {"{'ociVersion':'1','process':{'args':['sh',7],'cwd':'/'}," ROOT_OK "}", "process.args[1]"},
        {"{'ociVersion':'1','process':{'args':['sh'],'cwd':5}," ROOT_OK "}", "process.cwd"},
        {"{'ociVersion':'1','process':{'args':['sh'],'cwd':'/','terminal':'yes'}," ROOT_OK "}",
         "process.terminal"},
        {"{'ociVersion':'1','process':{'args':['sh'],'cwd':'/','env':[1]}," ROOT_OK "}",
         "process.env[0]"},
        {"{'ociVersion':'1','process':{'args':['sh'],'cwd':'/','user':{'uid':'0'}}," ROOT_OK "}",
         "process.user.uid"},
        {"{'ociVersion':'1','process':{'args':['sh'],'cwd':'/','user':{'uid':1.5}}," ROOT_OK "}",
         "process.user.uid"},
        {"{'ociVersion':'1','process':{'args':['sh'],'cwd':'/','user':[]}," ROOT_OK "}",
         "process.user"},
        {"{'ociVersion':'1','process':{'args':['sh'],'cwd':'/"
         "','user':{'additionalGids':['1']}}," ROOT_OK "}",
         "process.user.additionalGids[0]"},
        {"{'ociVersion':'1','process':{'args':['sh'],'cwd':'/"
         "','capabilities':{'bounding':[1]}}," ROOT_OK "}",
         "process.capabilities.bounding[0]"},
        {"{'ociVersion':'1','process':{'args':['sh'],'cwd':'/','rlimits':[{'type':'RLIMIT_NOFILE',"
         "'soft':'1','hard':2}]}," ROOT_OK "}",
         "process.rlimits[0].soft"},
        {"{'ociVersion':'1','process':{'args':['sh'],'cwd':'/"
         "','consoleSize':{'height':-1}}," ROOT_OK "}",
         "process.consoleSize.height"},
        {"{'ociVersion':'1'," PROCESS_OK ",'root':{'path':1}}", "root.path"},
        {"{'ociVersion':'1'," PROCESS_OK ",'root':{'path':'r','readonly':1}}", "root.readonly"},
        {"'hostname':['a']", "config.hostname"},
        {"'annotations':{'a':1}", "config.annotations.a"},
        {"'mounts':{}", "config.mounts"},
        {"'mounts':[{'destination':'/a'},'x']", "mounts[1]"},
        {"'mounts':[{'destination':'/a'},{'destination':'/b','options':'ro'}]",
         "mounts[1].options"},
        {"'mounts':[{'destination':'/a','type':5}]", "mounts[0].type"},
        {"'hooks':{'prestart':[{'path':5}]}", "hooks.prestart[0].path"},
        {"'hooks':{'poststop':{}}", "hooks.poststop"},
        {"'hooks':{'createRuntime':[{'path':'/x','args':'a'}]}", "hooks.createRuntime[0].args"},
        {"'hooks':{'prestart':[{'path':'/x','timeout':'5'}]}", "hooks.prestart[0].timeout"},
        {"'linux':[]", "config.linux"},
        {"'linux':{'namespaces':[{'type':1}]}", "linux.namespaces[0].type"},
        {"'linux':{'namespaces':[{'type':'pid','path':1}]}", "linux.namespaces[0].path"},
        {"'linux':{'uidMappings':[{'containerID':'0','hostID':0,'size':1}]}",
         "linux.uidMappings[0].containerID"},
        {"'linux':{'devices':[{'path':'/dev/x','type':'c','major':'1','minor':1}]}",
         "linux.devices[0].major"},
        {"'linux':{'resources':{'memory':{'limit':'1G'}}}", "linux.resources.memory.limit"},
        {"'linux':{'resources':{'cpu':{'cpus':0}}}", "linux.resources.cpu.cpus"},
        {"'linux':{'resources':{'pids':{'limit':true}}}", "linux.resources.pids.limit"},
        {"'linux':{'resources':{'devices':[{'allow':'yes'}]}}", "linux.resources.devices[0].allow"},
        {"'linux':{'resources':{'unified':{'memory.max':1}}}",
         "linux.resources.unified.memory.max"},
        {"'linux':{'sysctl':{'net.ipv4.ip_forward':1},'namespaces':[{'type':'network'}]}",
         "linux.sysctl.net.ipv4.ip_forward"},
        {"'linux':{'maskedPaths':[1]}", "linux.maskedPaths[0]"},
        {"'linux':{'cgroupsPath':{}}", "linux.cgroupsPath"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool full = cases[i].doc[0] == '{';
        struct box_spec spec;
        struct box_err err;
        char *doc = full ? jq(cases[i].doc) : config_with(cases[i].doc);
        int r = parse_raw(doc, &spec, &err);
        if (r >= 0)
            fail_msg("accepted, want a type error naming %s: %s", cases[i].path, doc);
        if (!strstr(err.msg, cases[i].path))
            fail_msg("message `%s` does not name `%s`", err.msg, cases[i].path);
        box_spec_free(&spec);
        free(doc);
    }
}

static void test_unknown_fields_ignored(void **state)
{
    ACCEPT("'vendorExtension':{'a':[1,2,{'b':null}]},'solaris':{},'windows':{'x':1}");
    ACCEPT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','futureField':[1]},"
               "'root':{'path':'r','futureRoot':true}}");
    ACCEPT("'linux':{'personality':{'domain':'LINUX'},'newThing':1}");
    ACCEPT("'mounts':[{'destination':'/tmp','type':'tmpfs','source':'tmpfs','extra':{}}]");
}

static void test_nul_bytes_and_long_strings(void **state)
{
    /* jansson rejects \u0000 unless asked not to: a C string would cut there */
    REJECT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/a\\u0000b'}," ROOT_OK "}", EINVAL,
               NULL);
    REJECT_DOC("{'ociVersion':'1','process':{'args':['a\\u0000b'],'cwd':'/'}," ROOT_OK "}", EINVAL,
               NULL);
    /* a string past BOX_SPEC_MAX_STRING */
    size_t n = BOX_SPEC_MAX_STRING + 1;
    char *big = malloc(n + 64);
    assert_non_null(big);
    int off = sprintf(big, "'hostname':'");
    memset(big + off, 'h', n);
    strcpy(big + off + n, "'");
    REJECT(big, E2BIG, "config.hostname");
    free(big);
    /* validate: hostname longer than the kernel's 64 */
    REJECT("'hostname':'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',"
           "'linux':{'namespaces':[{'type':'uts'}]}",
           EINVAL, "hostname");
}

/* ---- numbers: rejected, never clamped ----------------------------------------------------- */

static void test_ids_out_of_range(void **state)
{
    REJECT_DOC(
        "{'ociVersion':'1','process':{'args':['a'],'cwd':'/','user':{'uid':4294967295}}," ROOT_OK
        "}",
        ERANGE, "process.user.uid");
    REJECT_DOC(
        "{'ociVersion':'1','process':{'args':['a'],'cwd':'/','user':{'gid':4294967295}}," ROOT_OK
        "}",
        ERANGE, "process.user.gid");
    REJECT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','user':{'uid':-1}}," ROOT_OK
               "}",
               ERANGE, "process.user.uid");
    REJECT_DOC(
        "{'ociVersion':'1','process':{'args':['a'],'cwd':'/','user':{'uid':4294967296}}," ROOT_OK
        "}",
        ERANGE, "process.user.uid");
    REJECT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','user':"
               "{'additionalGids':[4294967295]}}," ROOT_OK "}",
               EINVAL, "process.user.additionalGids[0]");
    REJECT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','user':{'umask':512}}," ROOT_OK
               "}",
               ERANGE, "process.user.umask");
    /* past what jansson can hold as an integer: a syntax error, not a wrap */
    REJECT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','user':"
               "{'uid':18446744073709551617}}," ROOT_OK "}",
               EINVAL, "config.json");

    struct box_spec spec;
    struct box_err err;
    assert_int_equal(check_text("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','user':"
                                "{'uid':4294967294,'gid':7,'umask':18,'additionalGids':[0,"
                                "4294967294]}}," ROOT_OK "}",
                                true, &spec, &err),
                     0);
    assert_true(spec.process.uid == 4294967294u);
    assert_true(spec.process.gid == 7);
    assert_true(spec.process.has_umask);
    assert_int_equal(spec.process.umask, 022);
    assert_int_equal(spec.process.n_additional_gids, 2);
    assert_true(spec.process.additional_gids[1] == 4294967294u);
    box_spec_free(&spec);
}

static void test_oom_score_adj_range(void **state)
{
    REJECT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','oomScoreAdj':1001}," ROOT_OK
               "}",
               ERANGE, "process.oomScoreAdj");
    REJECT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','oomScoreAdj':-1001}," ROOT_OK
               "}",
               ERANGE, "process.oomScoreAdj");
    struct box_spec spec;
    struct box_err err;
    assert_int_equal(check_text("{'ociVersion':'1','process':{'args':['a'],'cwd':'/',"
                                "'oomScoreAdj':-1000}," ROOT_OK "}",
                                true, &spec, &err),
                     0);
    assert_true(spec.process.has_oom_score_adj);
    assert_int_equal(spec.process.oom_score_adj, -1000);
    box_spec_free(&spec);
    assert_int_equal(check_text("{'ociVersion':'1','process':{'args':['a'],'cwd':'/',"
                                "'oomScoreAdj':1000}," ROOT_OK "}",
                                true, &spec, &err),
                     0);
    assert_int_equal(spec.process.oom_score_adj, 1000);
    box_spec_free(&spec);
}

#define RLIMIT_DOC(rl)                                                                             \
    "{'ociVersion':'1','process':{'args':['a'],'cwd':'/','rlimits':[" rl "]}," ROOT_OK "}"

static void test_rlimits(void **state)
{
    REJECT_DOC(RLIMIT_DOC("{'type':'RLIMIT_NOFILE','soft':-1,'hard':10}"), ERANGE,
               "process.rlimits[0].soft");
    REJECT_DOC(RLIMIT_DOC("{'type':'RLIMIT_NOFILE','soft':1,'hard':-10}"), ERANGE,
               "process.rlimits[0].hard");
    REJECT_DOC(RLIMIT_DOC("{'type':'RLIMIT_NOFILE','soft':11,'hard':10}"), EINVAL,
               "process.rlimits[0]");
    REJECT_DOC(RLIMIT_DOC("{'type':'RLIMIT_FOO','soft':1,'hard':1}"), EINVAL,
               "process.rlimits[0].type");
    REJECT_DOC(RLIMIT_DOC("{'soft':1,'hard':1}"), EINVAL, "process.rlimits[0].type");
    REJECT_DOC(RLIMIT_DOC("{'type':'RLIMIT_NOFILE','soft':1,'hard':1},"
                          "{'type':'RLIMIT_NOFILE','soft':1,'hard':1}"),
               EINVAL, "process.rlimits[1].type");
    REJECT_DOC(RLIMIT_DOC("{'type':'RLIMIT_NOFILE','hard':1}"), EINVAL, "process.rlimits[0]");
    REJECT_DOC(RLIMIT_DOC("{'type':'RLIMIT_NOFILE','soft':1}"), EINVAL, "process.rlimits[0]");

    struct box_spec spec;
    struct box_err err;
    assert_int_equal(check_text(RLIMIT_DOC("{'type':'RLIMIT_NOFILE','soft':1024,'hard':4096},"
                                           "{'type':'RLIMIT_CORE','soft':0,'hard':"
                                           "9223372036854775807}"),
                                true, &spec, &err),
                     0);
    assert_int_equal(spec.process.n_rlimits, 2);
    assert_int_equal(spec.process.rlimits[0].resource, RLIMIT_NOFILE);
    assert_true(spec.process.rlimits[0].soft == 1024 && spec.process.rlimits[0].hard == 4096);
    assert_int_equal(spec.process.rlimits[1].resource, RLIMIT_CORE);
    assert_true(spec.process.rlimits[1].hard == RLIM_INFINITY);
    box_spec_free(&spec);

    /* UINT64_MAX, as Go writes RLIM_INFINITY (docker --ulimit core=-1), is
     * no limit; jansson alone would refuse the whole document. */
    assert_int_equal(check_text(RLIMIT_DOC("{'type':'RLIMIT_CORE','soft':18446744073709551615,"
                                           "'hard':18446744073709551615}"),
                                true, &spec, &err),
                     0);
    assert_true(spec.process.rlimits[0].soft == RLIM_INFINITY &&
                spec.process.rlimits[0].hard == RLIM_INFINITY);
    box_spec_free(&spec);
    /* the same digits inside a string are left alone */
    assert_int_equal(check_text("{'ociVersion':'1','process':{'args':['a','18446744073709551615'],"
                                "'cwd':'/'}," ROOT_OK "}",
                                true, &spec, &err),
                     0);
    assert_string_equal(spec.process.args[1], "18446744073709551615");
    box_spec_free(&spec);
    /* one more digit is still too big, and the error keeps its column */
    REJECT_DOC(RLIMIT_DOC("{'type':'RLIMIT_CORE','soft':1,'hard':184467440737095516150}"), EINVAL,
               "config.json: line 1 column");
    REJECT_DOC(RLIMIT_DOC("{'type':'RLIMIT_CORE','soft':1,'hard':-18446744073709551615}"), EINVAL,
               "config.json: line 1 column");
}

/* Regression test, once a bug (spec.c parse_rlimits): a rlimit without "hard" dereferences err to
 * read err->code, so a caller that passes err == NULL (which box_err_set and
 * every other parser allow) crashes. Run in a child to survive the crash. */
static void test_rlimit_missing_hard_with_null_err(void **state)
{
    char *doc = jq(RLIMIT_DOC("{'type':'RLIMIT_NOFILE','soft':1}"));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka catches these to fail a test; here the child must just die */
        static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            signal(sigs[i], SIG_DFL);
        struct box_spec spec;
        int r = box_spec_parse(doc, strlen(doc), &spec, NULL);
        _exit(r == -EINVAL ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    free(doc);
    if (WIFSIGNALED(status))
        fail_msg(
            "regression: box_spec_parse(..., err=NULL) on a rlimit without `hard` was killed by "
            "signal %d (NULL dereference of err in parse_rlimits)",
            WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Regression test, once a bug (spec.c parse_rlimits): the "soft and hard are required" path returns
 * err->code when it is set, so an err reused from an earlier failure makes
 * the parser return that stale code and message instead of its own. */
static void test_rlimit_missing_hard_with_reused_err(void **state)
{
    char *doc = jq(RLIMIT_DOC("{'type':'RLIMIT_NOFILE','soft':1}"));
    struct box_spec spec;
    struct box_err err;
    box_err_set(&err, EEXIST, "container `old` already exists");
    int r = box_spec_parse(doc, strlen(doc), &spec, &err);
    free(doc);
    box_spec_free(&spec);
    if (r != -EINVAL || !strstr(err.msg, "process.rlimits[0]"))
        fail_msg(
            "regression: with a reused err, a rlimit without `hard` returns %d `%s`, want -EINVAL "
            "naming process.rlimits[0]",
            r, err.msg);
}

/* ---- bounds ------------------------------------------------------------------------------- */

static void test_deep_nesting_rejected(void **state)
{
    const size_t depth = 100000;
    const char *head = "{\"ociVersion\":\"1\",\"x\":";
    size_t hl = strlen(head);
    char *doc = malloc(hl + 2 * depth + 2);
    assert_non_null(doc);
    memcpy(doc, head, hl);
    memset(doc + hl, '[', depth);
    memset(doc + hl + depth, ']', depth);
    doc[hl + 2 * depth] = '}';
    doc[hl + 2 * depth + 1] = '\0';
    struct box_spec spec;
    struct box_err err;
    int r = parse_raw(doc, &spec, &err);
    assert_int_equal(r, -EINVAL);
    assert_non_null(strstr(err.msg, "config.json"));
    box_spec_free(&spec);
    /* the same with objects, well formed but for the depth */
    size_t n = hl, levels = depth / 5;
    memcpy(doc, head, hl);
    for (size_t i = 0; i < levels; i++, n += 5)
        memcpy(doc + n, "{\"a\":", 5);
    doc[n++] = '1';
    memset(doc + n, '}', levels + 1);
    doc[n + levels + 1] = '\0';
    r = parse_raw(doc, &spec, &err);
    assert_int_equal(r, -EINVAL);
    box_spec_free(&spec);
    free(doc);
}

static void test_size_limit(void **state)
{
    /* a valid document of exactly the limit, padded with whitespace */
    char *base = config_with(NULL);
    size_t bl = strlen(base);
    size_t total = BOX_SPEC_MAX_BYTES;
    char *doc = malloc(total + 2);
    assert_non_null(doc);
    memset(doc, ' ', total + 1);
    memcpy(doc, base, bl);
    doc[total + 1] = '\0';
    struct box_spec spec;
    struct box_err err;
    box_err_clear(&err);
    assert_int_equal(box_spec_parse(doc, total, &spec, &err), 0);
    box_spec_free(&spec);
    /* one byte more */
    box_err_clear(&err);
    assert_int_equal(box_spec_parse(doc, total + 1, &spec, &err), -EFBIG);
    assert_int_equal(err.code, EFBIG);
    assert_non_null(strstr(err.msg, "config.json"));
    box_spec_free(&spec);
    free(doc);
    free(base);
}

static char *many_mounts(size_t n)
{
    const char *item = "{\"destination\":\"/m\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},";
    size_t il = strlen(item);
    char *buf = malloc(n * il + 64);
    assert_non_null(buf);
    char *p = buf + sprintf(buf, "\"mounts\":[");
    for (size_t i = 0; i < n; i++, p += il)
        memcpy(p, item, il);
    p[-1] = ']';
    *p = '\0';
    return buf;
}

static void test_mounts_item_limit(void **state)
{
    char *m = many_mounts(BOX_SPEC_MAX_ITEMS + 1);
    REJECT(m, E2BIG, "config.mounts");
    free(m);
    m = many_mounts(BOX_SPEC_MAX_ITEMS);
    struct box_spec spec;
    struct box_err err;
    char *doc = config_with(m);
    assert_int_equal(parse_raw(doc, &spec, &err), 0);
    assert_int_equal(spec.n_mounts, BOX_SPEC_MAX_ITEMS);
    box_spec_free(&spec);
    free(doc);
    free(m);
}

static void test_other_item_limits(void **state)
{
    /* 17 namespaces */
    char buf[2048];
    char *p = buf + sprintf(buf, "'linux':{'namespaces':[");
    for (int i = 0; i < 17; i++)
        p += sprintf(p, "%s{'type':'pid'}", i ? "," : "");
    sprintf(p, "]}");
    REJECT(buf, E2BIG, "linux.namespaces");
    /* 65 rlimits */
    p = buf + sprintf(buf, "{'ociVersion':'1','process':{'args':['a'],'cwd':'/','rlimits':[");
    for (int i = 0; i < 65; i++)
        p += sprintf(p, "%s{}", i ? "," : "");
    sprintf(p, "]}," ROOT_OK "}");
    REJECT_DOC(buf, E2BIG, "process.rlimits");
}

/* ---- capabilities ------------------------------------------------------------------------- */

static void test_capability_names(void **state)
{
    static const struct {
        const char *name;
        int cap;
    } known[] = {
        {"CAP_CHOWN", CAP_CHOWN},
        {"CAP_KILL", CAP_KILL},
        {"CAP_NET_BIND_SERVICE", CAP_NET_BIND_SERVICE},
        {"CAP_NET_RAW", CAP_NET_RAW},
        {"CAP_SYS_ADMIN", CAP_SYS_ADMIN},
        {"CAP_MKNOD", CAP_MKNOD},
        {"CAP_AUDIT_WRITE", CAP_AUDIT_WRITE},
        {"CAP_SETFCAP", CAP_SETFCAP},
        {"CAP_SYSLOG", CAP_SYSLOG},
        {"CAP_AUDIT_READ", CAP_AUDIT_READ},
        {"CAP_PERFMON", CAP_PERFMON},
        {"CAP_BPF", CAP_BPF},
        {"CAP_CHECKPOINT_RESTORE", CAP_CHECKPOINT_RESTORE},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        assert_int_equal(box_cap_from_name(known[i].name), known[i].cap);
        assert_string_equal(box_cap_name(known[i].cap), known[i].name);
    }
    assert_int_equal(BOX_CAP_LAST, CAP_LAST_CAP);
    for (int c = 0; c <= BOX_CAP_LAST; c++) {
        const char *n = box_cap_name(c);
        assert_non_null(n);
        assert_int_equal(box_cap_from_name(n), c);
    }
    assert_int_equal(box_cap_from_name("cap_sys_admin"), CAP_SYS_ADMIN);
    assert_int_equal(box_cap_from_name("SYS_ADMIN"), -EINVAL);
    assert_int_equal(box_cap_from_name("CAP_FOO"), -EINVAL);
    assert_int_equal(box_cap_from_name(""), -EINVAL);
    assert_null(box_cap_name(-1));
    assert_null(box_cap_name(BOX_CAP_LAST + 1));
}

static void test_capabilities_in_config(void **state)
{
    struct box_spec spec;
    struct box_err err;
    assert_int_equal(check_text("{'ociVersion':'1','process':{'args':['a'],'cwd':'/',"
                                "'capabilities':{'bounding':['CAP_CHOWN','CAP_KILL',"
                                "'CAP_CHECKPOINT_RESTORE'],'effective':['CAP_KILL'],"
                                "'ambient':[]}}," ROOT_OK "}",
                                true, &spec, &err),
                     0);
    assert_true(spec.process.has_caps);
    assert_true(spec.process.caps.bounding ==
                ((1ULL << CAP_CHOWN) | (1ULL << CAP_KILL) | (1ULL << CAP_CHECKPOINT_RESTORE)));
    assert_true(spec.process.caps.effective == (1ULL << CAP_KILL));
    assert_true(spec.process.caps.permitted == 0);
    assert_true(spec.process.caps.ambient == 0);
    box_spec_free(&spec);
    REJECT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','capabilities':"
               "{'permitted':['CAP_CHOWN','CAP_FOO']}}," ROOT_OK "}",
               EINVAL, "process.capabilities.permitted[1]");
    REJECT_DOC("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','capabilities':"
               "{'permitted':['CAP_CHOWN','CAP_FOO']}}," ROOT_OK "}",
               EINVAL, "CAP_FOO");
}

/* ---- namespaces and their cross-field rules ----------------------------------------------- */

static void test_namespaces(void **state)
{
    struct box_spec spec;
    struct box_err err;
    assert_int_equal(check_text("{'ociVersion':'1'," PROCESS_OK "," ROOT_OK ",'linux':{"
                                "'namespaces':[{'type':'pid'},{'type':'network','path':"
                                "'/var/run/netns/x'},{'type':'mount'},{'type':'ipc'},"
                                "{'type':'uts'},{'type':'cgroup'},{'type':'time'}]}}",
                                true, &spec, &err),
                     0);
    assert_int_equal(spec.n_namespaces, 7);
    assert_int_equal(spec.namespaces[0].type, CLONE_NEWPID);
    assert_int_equal(spec.namespaces[1].type, CLONE_NEWNET);
    assert_string_equal(spec.namespaces[1].path, "/var/run/netns/x");
    assert_int_equal(spec.namespaces[6].type, CLONE_NEWTIME);
    assert_non_null(box_spec_namespace(&spec, CLONE_NEWUTS));
    assert_null(box_spec_namespace(&spec, CLONE_NEWUSER));
    box_spec_free(&spec);

    REJECT("'linux':{'namespaces':[{'type':'pid'},{'type':'mount'},{'type':'pid'}]}", EINVAL,
           "linux.namespaces[2].type");
    REJECT("'linux':{'namespaces':[{'type':'pid'},{'type':'pid','path':'/proc/1/ns/pid'}]}", EINVAL,
           "listed twice");
    REJECT("'linux':{'namespaces':[{'type':'pid'},{'type':'pids'}]}", EINVAL,
           "linux.namespaces[1].type");
    REJECT("'linux':{'namespaces':[{'path':'/proc/1/ns/pid'}]}", EINVAL,
           "linux.namespaces[0].type");
    REJECT("'linux':{'namespaces':[{'type':'net','path':'proc/1/ns/net'}]}", EINVAL,
           "linux.namespaces[0]");
    REJECT("'linux':{'namespaces':[{'type':'network','path':'proc/1/ns/net'}]}", EINVAL,
           "linux.namespaces[0].path");

    assert_string_equal(box_ns_name(CLONE_NEWNET), "network");
    assert_int_equal(box_ns_from_name("mount"), CLONE_NEWNS);
    assert_int_equal(box_ns_from_name("net"), -EINVAL);
}

/* Regression test, once a bug (spec.c parse_namespaces): ns->path is filled before the entry is
 * counted in n_namespaces; when the entry is then refused (listed twice,
 * unknown type, relative path) box_spec_free never frees that path. */
static void test_namespace_error_does_not_leak(void **state)
{
    char *doc = config_with("'linux':{'namespaces':[{'type':'pid'},"
                            "{'type':'pid','path':'/proc/1/ns/pid-and-some-padding'}]}");
    struct box_spec spec;
    struct box_err err;
    /* warm up whatever is allocated once */
    parse_raw(doc, &spec, &err);
    box_spec_free(&spec);
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(parse_raw(doc, &spec, &err), -EINVAL);
        box_spec_free(&spec);
    }
    struct mallinfo2 after = mallinfo2();
    free(doc);
    long long grown = (long long)after.uordblks - (long long)before.uordblks;
    if (grown > 4096)
        fail_msg(
            "regression: 1000 refused namespace lists leaked %lld bytes (linux.namespaces[].path "
            "allocated before the entry is counted)",
            grown);
}

static void test_hostname_needs_uts(void **state)
{
    REJECT("'hostname':'box'", EINVAL, "hostname");
    REJECT("'hostname':'box','linux':{'namespaces':[{'type':'pid'}]}", EINVAL, "uts");
    /* joining an existing uts namespace does not allow setting it either */
    REJECT("'hostname':'box','linux':{'namespaces':[{'type':'uts','path':'/proc/1/ns/uts'}]}",
           EINVAL, "hostname");
    REJECT("'domainname':'example.org'", EINVAL, "domainname");
    ACCEPT("'hostname':'box','domainname':'example.org','linux':{'namespaces':[{'type':'uts'}]}");
    /* an empty hostname asks for nothing */
    ACCEPT("'hostname':''");
}

static void test_userns_needs_mappings(void **state)
{
    REJECT("'linux':{'namespaces':[{'type':'user'}]}", EINVAL, "linux.uidMappings");
    REJECT("'linux':{'namespaces':[{'type':'user'}],'uidMappings':[{'containerID':0,"
           "'hostID':1000,'size':1}]}",
           EINVAL, "mappings");
    REJECT("'linux':{'uidMappings':[{'containerID':0,'hostID':1000,'size':1}],"
           "'gidMappings':[{'containerID':0,'hostID':1000,'size':1}]}",
           EINVAL, "user namespace");
    REJECT("'linux':{'namespaces':[{'type':'user'}],'uidMappings':[{'containerID':0,"
           "'hostID':1000}],'gidMappings':[{'containerID':0,'hostID':1000,'size':1}]}",
           EINVAL, "linux.uidMappings[0]");
    REJECT("'linux':{'namespaces':[{'type':'user'}],'uidMappings':[{'containerID':0,"
           "'hostID':1000,'size':0}],'gidMappings':[{'containerID':0,'hostID':1000,'size':1}]}",
           ERANGE, "linux.uidMappings[0].size");
    /* joining an existing user namespace needs no mappings */
    ACCEPT("'linux':{'namespaces':[{'type':'user','path':'/proc/1/ns/user'}]}");

    struct box_spec spec;
    struct box_err err;
    char *doc = config_with("'linux':{'namespaces':[{'type':'user'}],'uidMappings':[{'containerID'"
                            ":0,'hostID':100000,'size':65536}],'gidMappings':[{'containerID':0,"
                            "'hostID':100000,'size':65536},{'containerID':65536,'hostID':5,"
                            "'size':1}]}");
    assert_int_equal(parse_raw(doc, &spec, &err), 0);
    assert_int_equal(box_spec_validate(&spec, &err), 0);
    assert_int_equal(spec.n_uid_mappings, 1);
    assert_int_equal(spec.n_gid_mappings, 2);
    assert_int_equal(spec.uid_mappings[0].host_id, 100000);
    assert_int_equal(spec.uid_mappings[0].size, 65536);
    assert_int_equal(spec.gid_mappings[1].container_id, 65536);
    box_spec_free(&spec);
    free(doc);
}

static void test_cgroups_path(void **state)
{
    static const char *const bad[] = {"..", "../x", "/a/../b", "a/..", "/a/b/..", "/../x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char extra[128];
        snprintf(extra, sizeof(extra), "'linux':{'cgroupsPath':'%s'}", bad[i]);
        REJECT(extra, EINVAL, "linux.cgroupsPath");
    }
    REJECT("'linux':{'cgroupsPath':'system.slice:box:abc'}", EINVAL, "systemd");
    ACCEPT("'linux':{'cgroupsPath':'/a/..b/c..'}");
    ACCEPT("'linux':{'cgroupsPath':'relative/x'}");
    ACCEPT("'linux':{'cgroupsPath':'/box/abc'}");
}

/* The profile itself is tested in test_seccomp.c; here, that config.json
 * carries it and its errors. */
static void test_seccomp_parsed(void **state)
{
    struct box_spec spec;
    struct box_err err;
    assert_int_equal(check_text("{'ociVersion':'1.0.2'," PROCESS_OK "," ROOT_OK
                                ",'linux':{'seccomp':{'defaultAction':'SCMP_ACT_ALLOW',"
                                "'syscalls':[{'names':['mkdir'],'action':'SCMP_ACT_ERRNO'}]}}}",
                                true, &spec, &err),
                     0);
    assert_non_null(spec.seccomp);
    box_spec_free(&spec);
    assert_int_equal(
        check_text("{'ociVersion':'1.0.2'," PROCESS_OK "," ROOT_OK "}", true, &spec, &err), 0);
    assert_null(spec.seccomp);
    box_spec_free(&spec);
    REJECT("'linux':{'seccomp':{}}", EINVAL, "linux.seccomp.defaultAction: required");
    REJECT("'linux':{'seccomp':[]}", EINVAL, "linux.seccomp");
    REJECT("'linux':{'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['mkdir'],"
           "'action':'SCMP_ACT_FOO'}]}}",
           EINVAL, "linux.seccomp.syscalls[0].action: unknown action `SCMP_ACT_FOO`");
    ACCEPT("'linux':{'seccomp':null}");
}

static void test_sysctl_needs_namespace(void **state)
{
    REJECT("'linux':{'sysctl':{'net.ipv4.ip_forward':'1'}}", EINVAL,
           "linux.sysctl.net.ipv4.ip_forward");
    ACCEPT("'linux':{'sysctl':{'net.ipv4.ip_forward':'1'},'namespaces':[{'type':'network'}]}");
    REJECT("'linux':{'sysctl':{'kernel.shmmax':'1'}}", EINVAL, "ipc");
    REJECT("'linux':{'sysctl':{'fs.mqueue.queues_max':'1'}}", EINVAL, "ipc");
    ACCEPT("'linux':{'sysctl':{'kernel.shmmax':'1','kernel.msgmax':'8192','fs.mqueue.msg_max':"
           "'10'},'namespaces':[{'type':'ipc'}]}");
    REJECT("'linux':{'sysctl':{'kernel.domainname':'x'}}", EINVAL, "uts");
    ACCEPT("'linux':{'sysctl':{'kernel.domainname':'x'},'namespaces':[{'type':'uts'}]}");
    /* not namespaced at all: it would change the host */
    REJECT("'linux':{'sysctl':{'vm.swappiness':'0'},'namespaces':[{'type':'network'},"
           "{'type':'ipc'},{'type':'uts'}]}",
           EPERM, "linux.sysctl.vm.swappiness");
    REJECT("'linux':{'sysctl':{'kernel.panic':'1'}}", EPERM, "kernel.panic");
    /* the slash spelling must not slip past the namespace checks */
    REJECT("'linux':{'sysctl':{'net/ipv4/ip_forward':'1'}}", EPERM, "net/ipv4");
}

static void test_sysctl_keys_validated(void **state)
{
    REJECT("'linux':{'sysctl':{'net.ipv4/../../../kernel/panic':'1'},'namespaces':[{'type':"
           "'network'}]}",
           EINVAL, "linux.sysctl");
    REJECT("'linux':{'sysctl':{'/etc/passwd':'1'}}", EINVAL, "linux.sysctl");
    REJECT("'linux':{'sysctl':{'.x':'1'}}", EINVAL, "linux.sysctl");
    REJECT("'linux':{'sysctl':{'':'1'}}", EINVAL, "linux.sysctl");
}

/* ---- other sections ----------------------------------------------------------------------- */

static void test_hooks(void **state)
{
    struct box_spec spec;
    struct box_err err;
    char *doc = config_with("'hooks':{'prestart':[{'path':'/bin/a'},{'path':'/bin/b','args':["
                            "'b','-x'],'env':['K=V'],'timeout':5}],'poststop':[{'path':'/c'}]}");
    assert_int_equal(parse_raw(doc, &spec, &err), 0);
    free(doc);
    assert_int_equal(spec.n_hooks[BOX_HOOK_PRESTART], 2);
    assert_int_equal(spec.n_hooks[BOX_HOOK_POSTSTOP], 1);
    assert_int_equal(spec.n_hooks[BOX_HOOK_CREATE_RUNTIME], 0);
    const struct box_hook *h = &spec.hooks[BOX_HOOK_PRESTART][1];
    assert_string_equal(h->path, "/bin/b");
    assert_string_equal(h->args[1], "-x");
    assert_null(h->args[2]);
    assert_string_equal(h->env[0], "K=V");
    assert_int_equal(h->timeout, 5);
    assert_null(spec.hooks[BOX_HOOK_PRESTART][0].args);
    assert_int_equal(spec.hooks[BOX_HOOK_PRESTART][0].timeout, 0);
    box_spec_free(&spec);

    REJECT("'hooks':{'prestart':[{'path':'rel/hook'}]}", EINVAL, "hooks.prestart[0].path");
    REJECT("'hooks':{'poststart':[{'args':['x']}]}", EINVAL, "hooks.poststart[0].path");
    REJECT("'hooks':{'startContainer':[{'path':'/x','timeout':0}]}", ERANGE,
           "hooks.startContainer[0].timeout");
    REJECT("'hooks':{'createContainer':[{'path':'/x','timeout':-5}]}", ERANGE,
           "hooks.createContainer[0].timeout");
    REJECT("'hooks':{'prestart':['x']}", EINVAL, "hooks.prestart[0]");
}

static void test_devices(void **state)
{
    struct box_spec spec;
    struct box_err err;
    char *doc = config_with("'linux':{'devices':[{'path':'/dev/fuse','type':'c','major':10,"
                            "'minor':229,'fileMode':438,'uid':0,'gid':0},{'path':'/dev/fifo',"
                            "'type':'p'}]}");
    assert_int_equal(parse_raw(doc, &spec, &err), 0);
    free(doc);
    assert_int_equal(spec.n_devices, 2);
    assert_int_equal(spec.devices[0].type, 'c');
    assert_int_equal(spec.devices[0].major, 10);
    assert_int_equal(spec.devices[0].minor, 229);
    assert_true(spec.devices[0].has_mode);
    assert_int_equal(spec.devices[0].mode, 0666);
    assert_int_equal(spec.devices[1].type, 'p');
    assert_false(spec.devices[1].has_mode);
    box_spec_free(&spec);

    REJECT("'linux':{'devices':[{'path':'/dev/x','type':'x','major':1,'minor':1}]}", EINVAL,
           "linux.devices[0].type");
    REJECT("'linux':{'devices':[{'path':'/dev/x','type':'cb','major':1,'minor':1}]}", EINVAL,
           "linux.devices[0].type");
    REJECT("'linux':{'devices':[{'path':'/dev/x','type':'c','minor':1}]}", EINVAL,
           "linux.devices[0]");
    REJECT("'linux':{'devices':[{'path':'dev/x','type':'c','major':1,'minor':1}]}", EINVAL,
           "linux.devices[0].path");
    REJECT("'linux':{'devices':[{'path':'/dev/x','type':'c','major':4096,'minor':1}]}", ERANGE,
           "linux.devices[0].major");
    REJECT("'linux':{'devices':[{'path':'/dev/x','type':'c','major':1,'minor':1,'fileMode':"
           "65536}]}",
           ERANGE, "linux.devices[0].fileMode");
    /* st_mode with the type bits, as podman sends it: 8630 is S_IFCHR|0666 */
    assert_int_equal(check_text("{'ociVersion':'1.0.2'," PROCESS_OK "," ROOT_OK
                                ",'linux':{'devices':[{'path':'/dev/x','type':'c','major':1,"
                                "'minor':1,'fileMode':8630}]}}",
                                true, &spec, &err),
                     0);
    assert_int_equal(spec.devices[0].mode, 0666);
    box_spec_free(&spec);
}

static void test_blockio(void **state)
{
    struct box_spec spec;
    struct box_err err;
    assert_int_equal(check_text("{'ociVersion':'1.0.2'," PROCESS_OK "," ROOT_OK
                                ",'linux':{'resources':{'blockIO':{'weight':500,"
                                "'throttleReadBpsDevice':[{'major':8,'minor':0,'rate':1024}],"
                                "'throttleWriteIOPSDevice':[{'major':8,'minor':16,'rate':7}]}}}}",
                                true, &spec, &err),
                     0);
    assert_int_equal(spec.resources.blkio_weight, 500);
    assert_int_equal(spec.resources.n_throttle[BOX_THROTTLE_READ_BPS], 1);
    assert_int_equal(spec.resources.throttle[BOX_THROTTLE_READ_BPS][0].value, 1024);
    assert_int_equal(spec.resources.throttle[BOX_THROTTLE_WRITE_IOPS][0].minor, 16);
    assert_int_equal(spec.resources.n_throttle[BOX_THROTTLE_WRITE_BPS], 0);
    box_spec_free(&spec);
    REJECT("'linux':{'resources':{'blockIO':{'weight':5}}}", ERANGE,
           "linux.resources.blockIO.weight");
    /* what docker sends for "not set" */
    ACCEPT("'linux':{'resources':{'blockIO':{'weight':0,'leafWeight':0,'weightDevice':[]}}}");
    REJECT("'linux':{'resources':{'blockIO':{'throttleReadBpsDevice':[{'major':8,'minor':0}]}}}",
           EINVAL, "throttleReadBpsDevice[0]");
    REJECT("'linux':{'resources':{'blockIO':{'throttleReadBpsDevice':[{'major':8,'minor':0,"
           "'rate':-1}]}}}",
           ERANGE, "throttleReadBpsDevice[0].rate");
}

static void test_resources(void **state)
{
    struct box_spec spec;
    struct box_err err;
    char *doc = config_with(
        "'linux':{'resources':{'memory':{'limit':536870912,'swap':-1,'swappiness':10},"
        "'cpu':{'shares':1024,'quota':50000,'period':100000,'cpus':'0-1'},'pids':{'limit':-1},"
        "'devices':[{'allow':false,'access':'rwm'},{'allow':true,'type':'c','major':1,"
        "'minor':3,'access':'rw'}],'unified':{'io.weight':'100'}}}");
    assert_int_equal(parse_raw(doc, &spec, &err), 0);
    free(doc);
    const struct box_resources *r = &spec.resources;
    assert_true(spec.has_resources);
    assert_true(r->mem_limit == 536870912);
    assert_true(r->mem_swap == -1);
    assert_true(r->mem_swappiness == 10);
    assert_true(r->mem_reservation == BOX_UNSET);
    assert_true(r->cpu_shares == 1024);
    assert_true(r->cpu_quota == 50000);
    assert_true(r->cpu_period == 100000);
    assert_true(r->cpu_rt_period == BOX_UNSET);
    assert_string_equal(r->cpu_cpus, "0-1");
    assert_true(r->pids_limit == -1);
    assert_int_equal(r->n_dev_rules, 2);
    assert_false(r->dev_rules[0].allow);
    assert_int_equal(r->dev_rules[0].type, 'a');
    assert_true(r->dev_rules[0].major == -1 && r->dev_rules[0].minor == -1);
    assert_int_equal(r->dev_rules[1].type, 'c');
    assert_string_equal(r->dev_rules[1].access, "rw");
    assert_int_equal(r->n_unified, 1);
    assert_string_equal(r->unified[0].key, "io.weight");
    box_spec_free(&spec);

    REJECT("'linux':{'resources':{'cpu':{'shares':262145}}}", ERANGE, "linux.resources.cpu.shares");
    REJECT("'linux':{'resources':{'memory':{'swappiness':101}}}", ERANGE,
           "linux.resources.memory.swappiness");
    REJECT("'linux':{'resources':{'memory':{'limit':-2}}}", ERANGE, "linux.resources.memory.limit");
    REJECT("'linux':{'resources':{'cpu':{'period':1000001}}}", ERANGE,
           "linux.resources.cpu.period");
    REJECT("'linux':{'resources':{'devices':[{'access':'rwm'}]}}", EINVAL,
           "linux.resources.devices[0].allow");
    REJECT("'linux':{'resources':{'devices':[{'allow':true,'access':'rwx'}]}}", EINVAL,
           "linux.resources.devices[0].access");
    REJECT("'linux':{'resources':{'devices':[{'allow':true,'type':'u'}]}}", EINVAL,
           "linux.resources.devices[0].type");
    REJECT("'linux':{'resources':{'unified':{'../../release_agent':'x'}}}", EINVAL,
           "linux.resources.unified");
    REJECT("'linux':{'resources':{'unified':{'.hidden':'x'}}}", EINVAL, "linux.resources.unified");
}

static void test_misc_linux_fields(void **state)
{
    struct box_spec spec;
    struct box_err err;
    char *doc = config_with("'linux':{'rootfsPropagation':'rslave','maskedPaths':['/proc/kcore',"
                            "'/proc/keys'],'readonlyPaths':['/proc/sys'],'mountLabel':'lbl'},"
                            "'annotations':{'a':'b'}");
    assert_int_equal(parse_raw(doc, &spec, &err), 0);
    free(doc);
    assert_true(spec.rootfs_propagation == (MS_SLAVE | MS_REC));
    assert_int_equal(spec.n_masked_paths, 2);
    assert_string_equal(spec.masked_paths[1], "/proc/keys");
    assert_null(spec.masked_paths[2]);
    assert_int_equal(spec.n_readonly_paths, 1);
    assert_string_equal(spec.mount_label, "lbl");
    box_spec_free(&spec);
    REJECT("'linux':{'rootfsPropagation':'sideways'}", EINVAL, "linux.rootfsPropagation");
}

static void test_spec_load(void **state)
{
    char dir[] = "/tmp/box-unit-spec-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    struct box_spec spec;
    struct box_err err = {0};
    assert_int_equal(box_spec_load(dfd, &spec, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "config.json"));
    box_spec_free(&spec);
    char *doc = config_with(NULL);
    assert_int_equal(box_write_file_atomic(dfd, "config.json", doc, strlen(doc), 0600, &err), 0);
    free(doc);
    assert_int_equal(box_spec_load(dfd, &spec, &err), 0);
    assert_string_equal(spec.root_path, "rootfs");
    box_spec_free(&spec);
    unlinkat(dfd, "config.json", 0);
    close(dfd);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_config),
        cmocka_unit_test(test_missing_process),
        cmocka_unit_test(test_missing_or_relative_cwd),
        cmocka_unit_test(test_empty_args),
        cmocka_unit_test(test_missing_root),
        cmocka_unit_test(test_missing_oci_version),
        cmocka_unit_test(test_not_an_object_or_not_json),
        cmocka_unit_test(test_env_form),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_wrong_types_name_the_path),
        cmocka_unit_test(test_unknown_fields_ignored),
        cmocka_unit_test(test_nul_bytes_and_long_strings),
        cmocka_unit_test(test_ids_out_of_range),
        cmocka_unit_test(test_oom_score_adj_range),
        cmocka_unit_test(test_rlimits),
        cmocka_unit_test(test_rlimit_missing_hard_with_null_err),
        cmocka_unit_test(test_rlimit_missing_hard_with_reused_err),
        cmocka_unit_test(test_deep_nesting_rejected),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_mounts_item_limit),
        cmocka_unit_test(test_other_item_limits),
        cmocka_unit_test(test_capability_names),
        cmocka_unit_test(test_capabilities_in_config),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_namespace_error_does_not_leak),
        cmocka_unit_test(test_hostname_needs_uts),
        cmocka_unit_test(test_userns_needs_mappings),
        cmocka_unit_test(test_cgroups_path),
        cmocka_unit_test(test_seccomp_parsed),
        cmocka_unit_test(test_sysctl_needs_namespace),
        cmocka_unit_test(test_sysctl_keys_validated),
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_blockio),
        cmocka_unit_test(test_misc_linux_fields),
        cmocka_unit_test(test_spec_load),
    };
    return cmocka_run_group_tests_name("spec", tests, NULL, NULL);
}
