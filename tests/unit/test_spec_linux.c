/* config.json: process.scheduler and ioPriority, linux.personality and
 * timeOffsets, hugepageLimits and per-device blkio weights
 * (lib/runtime/spec_sched.c, spec_linux.c). */
#include "spec_helpers.h"

static void test_sched_ioprio_personality_time(void **state)
{
    struct box_spec spec;
    struct box_err err;
    assert_int_equal(
        check_text("{'ociVersion':'1','process':{'args':['a'],'cwd':'/','scheduler':{"
                   "'policy':'SCHED_DEADLINE','runtime':10,'deadline':20,'period':30,"
                   "'flags':['SCHED_FLAG_RESET_ON_FORK','SCHED_FLAG_RECLAIM']},"
                   "'ioPriority':{'class':'IOPRIO_CLASS_RT','priority':3}}," ROOT_OK
                   ",'linux':{'namespaces':[{'type':'time'}],'personality':{'domain':'LINUX32'},"
                   "'timeOffsets':{'monotonic':{'secs':-5,'nanosecs':7},'boottime':{'secs':9}}}}",
                   true, &spec, &err),
        0);
    assert_true(spec.process.has_sched);
    assert_int_equal(spec.process.sched.policy, 6);
    assert_int_equal(spec.process.sched.flags, 3);
    assert_int_equal(spec.process.sched.deadline, 20);
    assert_int_equal(spec.process.ioprio, (1 << 13) | 3);
    assert_true(spec.has_personality);
    assert_int_equal(spec.personality, 8);
    assert_true(spec.has_time_offsets);
    assert_int_equal(spec.monotonic_secs, -5);
    assert_int_equal(spec.monotonic_nsecs, 7);
    assert_int_equal(spec.boottime_secs, 9);
    box_spec_free(&spec);
#define PROC(x) "{'ociVersion':'1','process':{'args':['a'],'cwd':'/'," x "}," ROOT_OK "}"
    REJECT_DOC(PROC("'scheduler':{'policy':'SCHED_ISO'}"), EINVAL, "process.scheduler.policy");
    REJECT_DOC(PROC("'scheduler':{'policy':'SCHED_RR'}"), EINVAL, "process.scheduler.priority");
    REJECT_DOC(PROC("'scheduler':{'policy':'SCHED_RR','priority':100}"), ERANGE,
               "process.scheduler.priority");
    REJECT_DOC(PROC("'scheduler':{'policy':'SCHED_OTHER','runtime':1}"), EINVAL, "SCHED_DEADLINE");
    REJECT_DOC(PROC("'scheduler':{'policy':'SCHED_DEADLINE','runtime':30,'deadline':20}"), EINVAL,
               "SCHED_DEADLINE");
    REJECT_DOC(PROC("'scheduler':{'policy':'SCHED_OTHER','flags':[1]}"), EINVAL,
               "process.scheduler.flags[0]");
    REJECT_DOC(PROC("'ioPriority':{'priority':1}"), EINVAL, "process.ioPriority.class");
    REJECT_DOC(PROC("'ioPriority':{'class':'IOPRIO_CLASS_BE','priority':-1}"), ERANGE,
               "process.ioPriority.priority");
#undef PROC
    REJECT("'linux':{'personality':{'domain':'SVR4'}}", EINVAL, "linux.personality.domain");
    REJECT("'linux':{'personality':{'domain':'LINUX','flags':['X']}}", EINVAL,
           "linux.personality.flags");
    REJECT("'linux':{'timeOffsets':{'realtime':{'secs':1}}}", EINVAL, "linux.timeOffsets.realtime");
    REJECT("'linux':{'timeOffsets':{'boottime':{'nanosecs':1000000000}}}", ERANGE,
           "linux.timeOffsets.boottime.nanosecs");
    REJECT_DOC("{'ociVersion':'1'," PROCESS_OK "," ROOT_OK
               ",'linux':{'timeOffsets':{'boottime':{'secs':1}}}}",
               EINVAL, "need a new time namespace");
    REJECT("'linux':{'intelRdt':{'closID':'x'}}", EOPNOTSUPP, "linux.intelRdt");
    ACCEPT("'linux':{'intelRdt':null}");
}

static void test_hugetlb_and_weight_devices(void **state)
{
    struct box_spec spec;
    struct box_err err;
    assert_int_equal(check_text("{'ociVersion':'1'," PROCESS_OK "," ROOT_OK
                                ",'linux':{'resources':{'hugepageLimits':[{'pageSize':'2MB',"
                                "'limit':4194304},{'pageSize':'1GB','limit':0}],'blockIO':{"
                                "'weightDevice':[{'major':8,'minor':0,'weight':300},"
                                "{'major':8,'minor':16,'leafWeight':20}]}}}}",
                                true, &spec, &err),
                     0);
    assert_int_equal(spec.resources.n_hugetlb, 2);
    assert_string_equal(spec.resources.hugetlb[0].page_size, "2MB");
    assert_int_equal(spec.resources.hugetlb[0].limit, 4194304);
    assert_int_equal(spec.resources.n_weight_dev, 2);
    assert_int_equal(spec.resources.weight_dev[0].value, 300);
    assert_int_equal(spec.resources.weight_dev[1].leaf, 20);
    box_spec_free(&spec);
#define HUGE(x) "'linux':{'resources':{'hugepageLimits':[" x "]}}"
    REJECT(HUGE("{'pageSize':'2mb','limit':1}"), EINVAL, "hugepageLimits[0].pageSize");
    REJECT(HUGE("{'pageSize':'02MB','limit':1}"), EINVAL, "hugepageLimits[0].pageSize");
    REJECT(HUGE("{'pageSize':'MB','limit':1}"), EINVAL, "hugepageLimits[0].pageSize");
    REJECT(HUGE("{'pageSize':'2MB'}"), EINVAL, "hugepageLimits[0].limit");
    REJECT(HUGE("{'pageSize':'2MB','limit':1},{'pageSize':'2MB','limit':2}"), EINVAL,
           "listed twice");
#undef HUGE
    REJECT("'linux':{'resources':{'blockIO':{'weightDevice':[{'major':8,'minor':0}]}}}", EINVAL,
           "weightDevice[0]: weight or leafWeight is required");
    REJECT("'linux':{'resources':{'blockIO':{'weightDevice':[{'major':8,'weight':10}]}}}", EINVAL,
           "weightDevice[0]: major and minor");
    REJECT("'linux':{'resources':{'blockIO':{'weightDevice':[{'major':8,'minor':0,'weight':5}]}}}",
           ERANGE, "weightDevice[0]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sched_ioprio_personality_time),
        cmocka_unit_test(test_hugetlb_and_weight_devices),
    };
    return cmocka_run_group_tests_name("spec linux", tests, NULL, NULL);
}
