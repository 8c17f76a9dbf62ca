/* config.json mount options (lib/runtime/spec.h): flags, propagation, data,
 * and the options refused rather than silently dropped. */
#include "spec_helpers.h"

/* ---- mount options ------------------------------------------------------------------------ */

static int parse_opts(const char *sq, struct box_mount *m, struct box_err *err)
{
    memset(m, 0, sizeof(*m));
    box_err_clear(err);
    char *t = jq(sq);
    json_error_t je;
    json_t *o = json_loads(t, 0, &je);
    free(t);
    assert_non_null(o);
    int r = box_mount_parse_options(m, o, "mounts[3]", err);
    json_decref(o);
    return r;
}

static void test_mount_options_flags(void **state)
{
    struct box_mount m;
    struct box_err err;
    assert_int_equal(parse_opts("['bind']", &m, &err), 0);
    assert_true(m.bind);
    assert_true(m.flags == MS_BIND);
    assert_int_equal(parse_opts("['rbind']", &m, &err), 0);
    assert_true(m.bind);
    assert_true(m.flags == (MS_BIND | MS_REC));
    assert_int_equal(parse_opts("['ro']", &m, &err), 0);
    assert_true(m.flags == MS_RDONLY);
    assert_false(m.bind);
    /* the last of ro/rw wins, and rw is remembered as cleared */
    assert_int_equal(parse_opts("['ro','rw']", &m, &err), 0);
    assert_true((m.flags & MS_RDONLY) == 0);
    assert_true(m.clear_flags & MS_RDONLY);
    assert_int_equal(parse_opts("['rw','ro']", &m, &err), 0);
    assert_true(m.flags & MS_RDONLY);
    assert_true((m.clear_flags & MS_RDONLY) == 0);
    assert_int_equal(parse_opts("['nosuid','nodev','noexec','noatime','nodiratime']", &m, &err), 0);
    assert_true(m.flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME));
    assert_int_equal(parse_opts("['suid','dev','exec']", &m, &err), 0);
    assert_true(m.flags == 0);
    assert_true(m.clear_flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC));
    assert_int_equal(parse_opts("['rbind','ro','nosuid']", &m, &err), 0);
    assert_true(m.flags == (MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID));
    assert_null(m.data);
    assert_int_equal(parse_opts("['strictatime','relatime','sync','dirsync']", &m, &err), 0);
    assert_true(m.flags == (MS_STRICTATIME | MS_RELATIME | MS_SYNCHRONOUS | MS_DIRSYNC));
    /* an absent list changes nothing */
    memset(&m, 0, sizeof(m));
    assert_int_equal(box_mount_parse_options(&m, NULL, "mounts[0]", &err), 0);
    assert_true(m.flags == 0 && !m.bind && !m.data);
}

static void test_mount_options_propagation(void **state)
{
    static const struct {
        const char *opt;
        unsigned long flag;
    } cases[] = {
        {"['private']", MS_PRIVATE},       {"['rprivate']", MS_PRIVATE | MS_REC},
        {"['shared']", MS_SHARED},         {"['rshared']", MS_SHARED | MS_REC},
        {"['slave']", MS_SLAVE},           {"['rslave']", MS_SLAVE | MS_REC},
        {"['unbindable']", MS_UNBINDABLE}, {"['runbindable']", MS_UNBINDABLE | MS_REC},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct box_mount m;
        struct box_err err;
        assert_int_equal(parse_opts(cases[i].opt, &m, &err), 0);
        if (m.propagation != cases[i].flag)
            fail_msg("%s: propagation %#lx, want %#lx", cases[i].opt, m.propagation, cases[i].flag);
        /* propagation is not a mount flag and not filesystem data */
        assert_true(m.flags == 0);
        assert_null(m.data);
    }
    struct box_mount m;
    struct box_err err;
    assert_int_equal(parse_opts("['rbind','rslave']", &m, &err), 0);
    assert_true(m.flags == (MS_BIND | MS_REC));
    assert_true(m.propagation == (MS_SLAVE | MS_REC));
}

static void test_mount_options_data(void **state)
{
    struct box_mount m;
    struct box_err err;
    assert_int_equal(parse_opts("['nosuid','mode=755','size=65536k','noexec','uid=5']", &m, &err),
                     0);
    assert_non_null(m.data);
    assert_string_equal(m.data, "mode=755,size=65536k,uid=5");
    assert_true(m.flags == (MS_NOSUID | MS_NOEXEC));
    free(m.data);
    assert_int_equal(parse_opts("['newinstance','ptmxmode=0666']", &m, &err), 0);
    assert_string_equal(m.data, "newinstance,ptmxmode=0666");
    free(m.data);
}

static void test_mount_options_unsupported(void **state)
{
    static const char *const opts[] = {"idmap", "ridmap", "rro"};
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        char sq[64];
        snprintf(sq, sizeof(sq), "['rbind','%s']", opts[i]);
        struct box_mount m;
        struct box_err err;
        int r = parse_opts(sq, &m, &err);
        if (r != -EOPNOTSUPP)
            fail_msg("%s: %d, want -EOPNOTSUPP", opts[i], r);
        assert_non_null(strstr(err.msg, opts[i]));
        assert_non_null(strstr(err.msg, "mounts[3].options[1]"));
        free(m.data);
    }
    /* tmpcopyup is a flag of its own, never filesystem data */
    struct box_mount t;
    struct box_err terr;
    assert_int_equal(parse_opts("['nosuid','tmpcopyup','mode=755']", &t, &terr), 0);
    assert_true(t.tmpcopyup);
    assert_string_equal(t.data, "mode=755");
    free(t.data);
    /* idmapped mounts through the mount's own fields */
    REJECT("'mounts':[{'destination':'/a','source':'/b','options':['bind'],"
           "'uidMappings':[{'containerID':0,'hostID':1000,'size':1}]}]",
           EOPNOTSUPP, "mounts[0]");
}

/* Regression test, once a bug (spec.c box_mount_parse_options): of the runtime-spec's recursive mount
 * options (config.md: rro, rrw, rnosuid, rnodev, rnoexec, ratime, ...) only
 * "rro" is refused; the others are appended to the filesystem data string.
 * For a bind mount that data is never used (rootfs.c mount_bind passes NULL),
 * so `"options": ["rbind", "rnosuid", "rnodev"]` silently yields a bind mount
 * without nosuid/nodev. They must be refused like rro (or applied). */
static void test_mount_recursive_options_not_silently_dropped(void **state)
{
    static const char *const opts[] = {"rnosuid", "rnodev",   "rnoexec",
                                       "rrw",     "rnoatime", "rnosymfollow"};
    char bad[256] = "";
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        char sq[64];
        snprintf(sq, sizeof(sq), "['rbind','%s']", opts[i]);
        struct box_mount m;
        struct box_err err;
        int r = parse_opts(sq, &m, &err);
        if (r == 0) {
            strncat(bad, " ", sizeof(bad) - strlen(bad) - 1);
            strncat(bad, opts[i], sizeof(bad) - strlen(bad) - 1);
            if (m.data) {
                strncat(bad, "(data=", sizeof(bad) - strlen(bad) - 1);
                strncat(bad, m.data, sizeof(bad) - strlen(bad) - 1);
                strncat(bad, ")", sizeof(bad) - strlen(bad) - 1);
            }
        }
        free(m.data);
    }
    if (bad[0])
        fail_msg("regression: recursive bind options accepted and dropped into fs data:%s", bad);
}

static void test_mount_options_malformed(void **state)
{
    struct box_mount m;
    struct box_err err;
    assert_int_equal(parse_opts("['ro','']", &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "mounts[3].options[1]"));
    assert_int_equal(parse_opts("['ro',1]", &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "mounts[3].options[1]"));
    assert_int_equal(parse_opts("['mode=755,uid=0']", &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "comma"));
    free(m.data);
    assert_int_equal(parse_opts("{'ro':true}", &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "mounts[3].options"));
    /* 257 options */
    char buf[257 * 5 + 8];
    char *p = buf;
    *p++ = '[';
    for (int i = 0; i < 257; i++)
        p += sprintf(p, "%s'ro'", i ? "," : "");
    strcpy(p, "]");
    assert_int_equal(parse_opts(buf, &m, &err), -E2BIG);
}

static void test_mounts_in_config(void **state)
{
    struct box_spec spec;
    struct box_err err;
    assert_int_equal(check_text("{'ociVersion':'1'," PROCESS_OK "," ROOT_OK ",'mounts':["
                                "{'destination':'/proc','type':'proc','source':'proc'},"
                                "{'destination':'/data','type':'bind','source':'/srv',"
                                "'options':['ro']},"
                                "{'destination':'/tmp','type':'tmpfs','source':'tmpfs',"
                                "'options':['nosuid','mode=1777']}]}",
                                true, &spec, &err),
                     0);
    assert_int_equal(spec.n_mounts, 3);
    assert_string_equal(spec.mounts[0].destination, "/proc");
    assert_string_equal(spec.mounts[0].type, "proc");
    assert_false(spec.mounts[0].bind);
    /* type "bind" makes a bind mount even without the option */
    assert_true(spec.mounts[1].bind);
    assert_true(spec.mounts[1].flags & MS_BIND);
    assert_true(spec.mounts[1].flags & MS_RDONLY);
    assert_string_equal(spec.mounts[2].data, "mode=1777");
    box_spec_free(&spec);

    REJECT("'mounts':[{'type':'tmpfs'}]", EINVAL, "mounts[0].destination");
    REJECT("'mounts':[{'destination':'','type':'tmpfs'}]", EINVAL, "mounts[0].destination");
    REJECT("'mounts':[{'destination':'/a','type':'tmpfs'},{'destination':'rel','type':'tmpfs'}]",
           EINVAL, "mounts[1].destination");
    REJECT("'mounts':[{'destination':'/a','options':['rbind']}]", EINVAL, "mounts[0].source");
    REJECT("'mounts':[{'destination':'/a','type':'bind','source':''}]", EINVAL, "mounts[0].source");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mount_options_flags),
        cmocka_unit_test(test_mount_options_propagation),
        cmocka_unit_test(test_mount_options_data),
        cmocka_unit_test(test_mount_options_unsupported),
        cmocka_unit_test(test_mount_recursive_options_not_silently_dropped),
        cmocka_unit_test(test_mount_options_malformed),
        cmocka_unit_test(test_mounts_in_config),
    };
    return cmocka_run_group_tests_name("spec mounts", tests, NULL, NULL);
}
