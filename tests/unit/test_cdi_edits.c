/* CDI edits on a config.json and the spec directories that resolve
 * device names: the reference order, replacement rules, conflicts,
 * priorities, trust, and what is left when something fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/cdi/cdi.h"

static char *jq(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

static json_t *js(const char *s)
{
    char *t = jq(s);
    json_error_t e;
    json_t *j = json_loads(t, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s: %s", t, e.text);
    free(t);
    return j;
}

static void assert_json(json_t *got, const char *want)
{
    json_t *w = js(want);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        char *x = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("got  %s\nwant %s", g, x);
    }
    json_decref(w);
}

static int apply1(json_t *cfg, const char *edits, struct box_err *err)
{
    json_t *e = js(edits);
    int r = box_cdi_edits_apply(cfg, &e, NULL, 1, NULL, err);
    json_decref(e);
    return r;
}

static void test_env_replaces_then_appends(void **state)
{
    json_t *cfg = js("{'process':{'env':['PATH=/bin','NVIDIA_VISIBLE_DEVICES=all']}}");
    struct box_err err = {0};
    assert_int_equal(apply1(cfg, "{'env':['NVIDIA_VISIBLE_DEVICES=void','NEW=1']}", &err), 0);
    assert_json(json_object_get(json_object_get(cfg, "process"), "env"),
                "['PATH=/bin','NVIDIA_VISIBLE_DEVICES=void','NEW=1']");
    json_decref(cfg);
}

static void test_device_nodes(void **state)
{
    json_t *cfg = js("{'process':{'user':{'uid':1000,'gid':0}},'linux':{'devices':[{'path':"
                     "'/dev/x','type':'c','major':1,'minor':1}],'resources':{'devices':[{'allow':"
                     "false,'access':'rwm'}]}}}");
    struct box_err err = {0};
    assert_int_equal(apply1(cfg,
                            "{'deviceNodes':[{'path':'/dev/x','type':'c','major':195,'minor':0,"
                            "'permissions':'rw'},{'path':'/dev/null2','hostPath':'/dev/null'},"
                            "{'path':'/dev/p','type':'p'}]}",
                            &err),
                     0);
    json_t *lx = json_object_get(cfg, "linux");
    /* Same path replaced; missing numbers and mode from the host's node;
     * the container's uid owns them; rules only for b and c. */
    assert_json(json_object_get(lx, "devices"),
                "[{'path':'/dev/x','type':'c','major':195,'minor':0,'uid':1000},"
                "{'path':'/dev/null2','type':'c','major':1,'minor':3,'fileMode':438,'uid':1000},"
                "{'path':'/dev/p','type':'p','uid':1000}]");
    assert_json(json_object_get(json_object_get(lx, "resources"), "devices"),
                "[{'allow':false,'access':'rwm'},"
                "{'allow':true,'type':'c','major':195,'minor':0,'access':'rw'},"
                "{'allow':true,'type':'c','major':1,'minor':3,'access':'rwm'}]");
    json_decref(cfg);
}

static void test_failure_leaves_config_alone(void **state)
{
    json_t *cfg = js("{'process':{'env':['A=1']}}");
    json_t *before = json_deep_copy(cfg);
    struct box_err err = {0};
    assert_true(apply1(cfg, "{'env':['B=2'],'deviceNodes':[{'path':'/dev/nope-box-test'}]}", &err) <
                0);
    assert_non_null(strstr(err.msg, "/dev/nope-box-test"));
    assert_true(json_equal(cfg, before));
    assert_true(apply1(cfg, "{'deviceNodes':[{'path':'/x','hostPath':'/etc/hostname'}]}", &err) <
                0);
    assert_non_null(strstr(err.msg, "not a device node"));
    assert_true(json_equal(cfg, before));
    json_decref(before);
    json_decref(cfg);
}

static void test_mounts_replace_and_sort(void **state)
{
    json_t *cfg = js("{'mounts':[{'destination':'/a/b/c','source':'x'},{'destination':'/proc',"
                     "'type':'proc','source':'proc'},{'destination':'/a','source':'old'}]}");
    struct box_err err = {0};
    assert_int_equal(apply1(cfg,
                            "{'mounts':[{'hostPath':'/h1','containerPath':'/a','options':['bind']},"
                            "{'hostPath':'/h2','containerPath':'/z/y','type':'bind'}]}",
                            &err),
                     0);
    assert_json(json_object_get(cfg, "mounts"),
                "[{'destination':'/proc','type':'proc','source':'proc'},"
                "{'destination':'/a','source':'/h1','options':['bind']},"
                "{'destination':'/z/y','source':'/h2','type':'bind'},"
                "{'destination':'/a/b/c','source':'x'}]");
    json_decref(cfg);
}

static void test_hooks_gids_rdt_net(void **state)
{
    json_t *cfg = js("{'hooks':{'prestart':[{'path':'/p'}]},'process':{'user':{'uid':0,'gid':0,"
                     "'additionalGids':[5]}},'linux':{'intelRdt':{'closID':'old'}}}");
    json_t *e[2] = {js("{'hooks':[{'hookName':'createContainer','path':'/h','args':['h','x'],"
                       "'env':['E=1'],'timeout':5},{'hookName':'prestart','path':'/q'}],"
                       "'additionalGids':[0,5,6],'intelRdt':{'closID':'a'}}"),
                    js("{'additionalGids':[6,7],'intelRdt':{'closID':'b','schemata':['L3:0=f']},"
                       "'netDevices':[{'hostInterfaceName':'eth1','name':'net0'}]}")};
    struct box_err err = {0};
    struct box_cdi_apply_opts refuse = {.refuse_net_devices = true};
    json_t *before = json_deep_copy(cfg);
    assert_true(box_cdi_edits_apply(cfg, e, NULL, 2, &refuse, &err) < 0);
    assert_non_null(strstr(err.msg, "netDevices"));
    assert_true(json_equal(cfg, before));
    assert_int_equal(box_cdi_edits_apply(cfg, e, NULL, 2, NULL, &err), 0);
    assert_json(json_object_get(cfg, "hooks"),
                "{'prestart':[{'path':'/p'},{'path':'/q'}],'createContainer':[{'path':'/h',"
                "'args':['h','x'],'env':['E=1'],'timeout':5}]}");
    assert_json(
        json_object_get(json_object_get(json_object_get(cfg, "process"), "user"), "additionalGids"),
        "[5,6,7]");
    assert_json(json_object_get(json_object_get(cfg, "linux"), "intelRdt"),
                "{'closID':'b','schemata':['L3:0=f']}");
    assert_json(json_object_get(json_object_get(cfg, "linux"), "netDevices"),
                "{'eth1':{'name':'net0'}}");
    json_decref(e[0]);
    json_decref(e[1]);
    json_decref(before);
    json_decref(cfg);
}

/* ---- spec directories ------------------------------------------------------------------------ */

static char dirs[2][64];

static void put(int d, const char *name, const char *text, mode_t mode)
{
    char p[160];
    snprintf(p, sizeof(p), "%s/%s", dirs[d], name);
    char *t = jq(text);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(t, f);
    fclose(f);
    chmod(p, mode);
    free(t);
}

#define SPEC(kind, names_edits)                                                                    \
    "{'cdiVersion':'0.6.0','kind':'" kind "','devices':[" names_edits "]}"
#define D(name, env) "{'name':'" name "','containerEdits':{'env':['" env "']}}"

static int setup_dirs(void **state)
{
    for (int i = 0; i < 2; i++) {
        snprintf(dirs[i], sizeof(dirs[i]), "/tmp/box-cdi-unit-XXXXXX");
        assert_non_null(mkdtemp(dirs[i]));
    }
    return 0;
}

static int teardown_dirs(void **state)
{
    for (int i = 0; i < 2; i++)
        box_remove_tree(AT_FDCWD, dirs[i]);
    return 0;
}

static int inject(const char *config, const char *const *devices, size_t n, char **out,
                  struct box_err *err)
{
    const char *d[2] = {dirs[0], dirs[1]};
    struct box_cdi_inject_opts o = {.devices = devices, .n_devices = n, .dirs = d, .n_dirs = 2};
    char *t = jq(config);
    size_t len;
    int r = box_cdi_inject_text(t, strlen(t), &o, out, &len, err);
    free(t);
    return r;
}

static void test_registry(void **state)
{
    put(0, "a.json", SPEC("v.com/c", D("x", "X=low") "," D("conflict", "C=1")), 0644);
    put(0, "b.yaml",
        "cdiVersion: '0.6.0'\nkind: v.com/c\ndevices:\n- name: conflict\n"
        "  containerEdits: {env: [C=2]}\n- name: y\n  containerEdits: {env: [Y=1]}\n",
        0644);
    put(1, "a.json", SPEC("v.com/c", D("x", "X=high")), 0644);
    put(1, "open.json", SPEC("v.com/c", D("open", "O=1")), 0666);
    put(1, "broken.json", "{'cdiVersion':'0.6.0','kind':'v.com/c','devices':[],'zz':1}", 0644);
    put(1, "ignored.txt", "not a spec", 0644);
    struct box_cdi_registry reg;
    struct box_err err = {0};
    const char *d[2] = {dirs[0], dirs[1]};
    assert_int_equal(box_cdi_registry_load(&reg, d, 2, &err), 0);
    assert_int_equal(reg.n_specs, 3);
    assert_int_equal(reg.n_errors, 2); /* broken.json, open.json */
    const struct box_cdi_entry *e = box_cdi_registry_find(&reg, "v.com/c=x");
    assert_non_null(e);
    assert_int_equal(e->spec->priority, 1); /* the later directory wins */
    e = box_cdi_registry_find(&reg, "v.com/c=conflict");
    assert_non_null(e);
    assert_non_null(e->other);
    assert_null(box_cdi_registry_find(&reg, "v.com/c=open"));
    assert_true(box_cdi_registry_has_kind(&reg, "v.com/c"));
    assert_false(box_cdi_registry_has_kind(&reg, "nvidia.com/gpu"));
    box_cdi_registry_free(&reg);

    char *out = NULL;
    const char *want_x[] = {"v.com/c=x"};
    assert_int_equal(inject("{'process':{'env':[]}}", want_x, 1, &out, &err), 1);
    assert_non_null(strstr(out, "X=high"));
    free(out);
    const char *want_conflict[] = {"v.com/c=conflict"};
    assert_true(inject("{}", want_conflict, 1, &out, &err) < 0);
    assert_non_null(strstr(err.msg, "a.json"));
    assert_non_null(strstr(err.msg, "b.yaml"));
    const char *want_missing[] = {"v.com/c=x", "v.com/c=nope", "v.com/c=open"};
    assert_true(inject("{}", want_missing, 3, &out, &err) < 0);
    assert_non_null(strstr(err.msg, "unresolvable CDI devices `v.com/c=nope`, `v.com/c=open`"));
    assert_non_null(strstr(err.msg, dirs[0]));
    assert_non_null(strstr(err.msg, dirs[1]));
}

static void test_requests(void **state)
{
    put(0, "nv.json",
        SPEC("nvidia.com/gpu", D("0", "G=0") "," D("1", "G1=1") "," D("all", "ALL=1")), 0644);
    char *out = NULL;
    struct box_err err = {0};
    /* Nothing requested: nothing read, nothing written. */
    assert_int_equal(inject("{'process':{'env':['A=1']}}", NULL, 0, &out, &err), 0);
    assert_null(out);
    assert_int_equal(
        inject("{'process':{'env':['NVIDIA_VISIBLE_DEVICES=void']}}", NULL, 0, &out, &err), 0);
    assert_int_equal(
        inject("{'process':{'env':['NVIDIA_VISIBLE_DEVICES=0, 1']}}", NULL, 0, &out, &err), 1);
    assert_non_null(strstr(out, "G=0"));
    assert_non_null(strstr(out, "G1=1"));
    assert_null(strstr(out, "ALL=1"));
    free(out);
    assert_int_equal(
        inject("{'annotations':{'cdi.k8s.io/x':'nvidia.com/gpu=all'}}", NULL, 0, &out, &err), 1);
    assert_non_null(strstr(out, "ALL=1"));
    free(out);
    assert_true(inject("{'annotations':{'cdi.k8s.io/x':'gpu0'}}", NULL, 0, &out, &err) < 0);
    assert_non_null(strstr(err.msg, "config.annotations.cdi.k8s.io/x"));
    const char *bad[] = {"nvidia.com/gpu"};
    assert_true(inject("{}", bad, 1, &out, &err) < 0);
    assert_non_null(strstr(err.msg, "--device"));
    /* Without an nvidia.com/gpu spec the variable asks for nothing. */
    char p[160];
    snprintf(p, sizeof(p), "%s/nv.json", dirs[0]);
    unlink(p);
    assert_int_equal(
        inject("{'process':{'env':['NVIDIA_VISIBLE_DEVICES=all']}}", NULL, 0, &out, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_replaces_then_appends),
        cmocka_unit_test(test_device_nodes),
        cmocka_unit_test(test_failure_leaves_config_alone),
        cmocka_unit_test(test_mounts_replace_and_sort),
        cmocka_unit_test(test_hooks_gids_rdt_net),
        cmocka_unit_test_setup_teardown(test_registry, setup_dirs, teardown_dirs),
        cmocka_unit_test_setup_teardown(test_requests, setup_dirs, teardown_dirs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
