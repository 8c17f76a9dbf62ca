/* The state store (lib/runtime/state.h) in a temporary state root: container
 * directories, state.json round trips, and the (pid, start time) guard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/runtime/state.h"

struct fx {
    char dir[64];
    int rootfd;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/box-unit-state-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct box_err err = {0};
    f->rootfd = box_state_root_open(f->dir, false, &err);
    assert_true(f->rootfd >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    close(f->rootfd);
    box_remove_tree(AT_FDCWD, f->dir);
    free(f);
    return 0;
}

/* A child that has exited and been reaped: its pid names nothing now. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

static void test_state_root_open(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/a/b/run", f->dir);
    struct box_err err = {0};
    assert_int_equal(box_state_root_open(path, false, &err), -ENOENT);
    assert_non_null(strstr(err.msg, path));
    int fd = box_state_root_open(path, true, &err);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    close(fd);
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    struct box_err err = {0};
    struct box_container_dir dir;
    assert_int_equal(box_container_dir_create(f->rootfd, "c1", &dir, &err), 0);
    assert_string_equal(dir.id, "c1");
    json_t *ann = json_pack("{s:s}", "org.example/key", "value");
    json_t *cfg = json_pack("{s:s,s:{s:[s]}}", "ociVersion", "1.0.2", "process", "args", "sh");
    struct box_state st = {
        .id = "c1",
        .pid = 4242,
        .start_time = 123456789012ULL,
        .bundle = "/srv/bundles/c1",
        .rootfs = "/srv/bundles/c1/rootfs",
        .created = "2026-01-02T03:04:05.000000006Z",
        .owner = 1000,
        .cgroup = "/box/c1",
        .annotations = ann,
        .config = cfg,
    };
    assert_int_equal(box_state_write(dir.fd, &st, &err), 0);
    /* the file is private and no temp file is left beside it */
    struct stat sb;
    assert_int_equal(fstatat(dir.fd, BOX_STATE_FILE, &sb, 0), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    box_container_dir_close(&dir);
    assert_int_equal(dir.fd, -1);

    struct box_state back;
    assert_int_equal(box_state_read(f->rootfd, "c1", &back, &err), 0);
    assert_string_equal(back.id, "c1");
    assert_int_equal(back.pid, 4242);
    assert_true(back.start_time == 123456789012ULL);
    assert_string_equal(back.bundle, st.bundle);
    assert_string_equal(back.rootfs, st.rootfs);
    assert_string_equal(back.created, st.created);
    assert_int_equal(back.owner, 1000);
    assert_string_equal(back.cgroup, "/box/c1");
    assert_non_null(back.annotations);
    assert_true(json_equal(back.annotations, ann));
    assert_non_null(back.config);
    assert_true(json_equal(back.config, cfg));
    box_state_free(&back);
    assert_null(back.id);
    json_decref(ann);
    json_decref(cfg);

    /* rewriting replaces the whole state atomically */
    assert_int_equal(box_container_dir_open(f->rootfd, "c1", &dir, &err), 0);
    struct box_state st2 = {.id = "c1", .pid = 7, .start_time = 9};
    assert_int_equal(box_state_write(dir.fd, &st2, &err), 0);
    box_container_dir_close(&dir);
    assert_int_equal(box_state_read(f->rootfd, "c1", &back, &err), 0);
    assert_int_equal(back.pid, 7);
    assert_null(back.cgroup);
    assert_null(back.annotations);
    assert_string_equal(back.bundle, "");
    box_state_free(&back);
}

static void test_create_twice_is_eexist(void **state)
{
    struct fx *f = *state;
    struct box_err err = {0};
    struct box_container_dir a, b;
    assert_int_equal(box_container_dir_create(f->rootfd, "dup", &a, &err), 0);
    /* while the first one is held (locked) and after it is released */
    assert_int_equal(box_container_dir_create(f->rootfd, "dup", &b, &err), -EEXIST);
    assert_int_equal(err.code, EEXIST);
    assert_non_null(strstr(err.msg, "dup"));
    box_container_dir_close(&a);
    assert_int_equal(box_container_dir_create(f->rootfd, "dup", &b, &err), -EEXIST);
    /* a failed create leaves no temporary directory behind */
    int fd = openat(f->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    DIR *d = fdopendir(fd);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")))
            n++;
    closedir(d);
    assert_int_equal(n, 1);
}

static void test_open_missing_is_enoent(void **state)
{
    struct fx *f = *state;
    struct box_err err = {0};
    struct box_container_dir dir;
    assert_int_equal(box_container_dir_open(f->rootfd, "nope", &dir, &err), -ENOENT);
    assert_int_equal(err.code, ENOENT);
    assert_non_null(strstr(err.msg, "nope"));
    /* a symlink or a file in the state root is not a container */
    assert_int_equal(symlinkat("/tmp", f->rootfd, "link"), 0);
    assert_int_equal(box_container_dir_open(f->rootfd, "link", &dir, &err), -ENOENT);
    int fd = openat(f->rootfd, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(box_container_dir_open(f->rootfd, "file", &dir, &err), -ENOENT);

    struct box_state st;
    assert_int_equal(box_state_read(f->rootfd, "nope", &st, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "nope"));
}

static void test_remove(void **state)
{
    struct fx *f = *state;
    struct box_err err = {0};
    struct box_container_dir dir;
    assert_int_equal(box_container_dir_create(f->rootfd, "gone", &dir, &err), 0);
    struct box_state st = {.id = "gone", .pid = 1, .start_time = 1};
    assert_int_equal(box_state_write(dir.fd, &st, &err), 0);
    assert_int_equal(mkdirat(dir.fd, "sub", 0700), 0);
    assert_int_equal(box_container_dir_remove(&dir, &err), 0);
    struct stat sb;
    assert_int_equal(fstatat(f->rootfd, "gone", &sb, AT_SYMLINK_NOFOLLOW), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(box_container_dir_open(f->rootfd, "gone", &dir, &err), -ENOENT);
}

static void test_being_created_and_corrupt(void **state)
{
    struct fx *f = *state;
    struct box_err err = {0};
    struct box_container_dir dir;
    assert_int_equal(box_container_dir_create(f->rootfd, "new", &dir, &err), 0);
    /* no state.json yet: a container being created, pid 0 */
    struct box_state st;
    assert_int_equal(box_state_read(f->rootfd, "new", &st, &err), 0);
    assert_string_equal(st.id, "new");
    assert_int_equal(st.pid, 0);
    assert_int_equal(box_state_status(f->rootfd, &st), BOX_STATUS_CREATING);
    json_t *pub = box_state_to_public_json(f->rootfd, &st);
    assert_string_equal(json_string_value(json_object_get(pub, "status")), "creating");
    assert_int_equal(json_integer_value(json_object_get(pub, "pid")), 0);
    json_decref(pub);
    box_state_free(&st);
    /* a corrupt state is refused with the id named */
    assert_int_equal(box_write_file_atomic(dir.fd, BOX_STATE_FILE, "{\"pid\":", 7, 0600, &err), 0);
    assert_int_equal(box_state_read(f->rootfd, "new", &st, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "new"));
    box_state_free(&st);
    assert_int_equal(box_write_file_atomic(dir.fd, BOX_STATE_FILE, "[1]", 3, 0600, &err), 0);
    assert_int_equal(box_state_read(f->rootfd, "new", &st, &err), -EINVAL);
    box_state_free(&st);
    box_container_dir_close(&dir);
}

static void test_status(void **state)
{
    struct fx *f = *state;
    struct box_err err = {0};
    struct box_container_dir dir;
    assert_int_equal(box_container_dir_create(f->rootfd, "s", &dir, &err), 0);
    struct box_state st = {.id = "s"};

    /* a dead pid is stopped, whatever start time was recorded */
    st.pid = dead_pid();
    st.start_time = 1;
    assert_int_equal(box_state_status(f->rootfd, &st), BOX_STATUS_STOPPED);
    /* a live process with another start time is a recycled pid: stopped */
    st.pid = getpid();
    st.start_time = box_proc_start_time(getpid()) + 1;
    assert_int_equal(box_state_status(f->rootfd, &st), BOX_STATUS_STOPPED);
    /* the right process: created while exec.sock exists, then running */
    st.start_time = box_proc_start_time(getpid());
    assert_int_equal(box_state_status(f->rootfd, &st), BOX_STATUS_RUNNING);
    int fd = openat(dir.fd, BOX_EXEC_SOCK, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(box_state_status(f->rootfd, &st), BOX_STATUS_CREATED);
    json_t *pub = box_state_to_public_json(f->rootfd, &st);
    assert_string_equal(json_string_value(json_object_get(pub, "status")), "created");
    assert_string_equal(json_string_value(json_object_get(pub, "id")), "s");
    assert_string_equal(json_string_value(json_object_get(pub, "owner")), "root");
    assert_int_equal(json_integer_value(json_object_get(pub, "pid")), getpid());
    json_decref(pub);
    /* a zombie is stopped too */
    pid_t z = fork();
    assert_true(z >= 0);
    if (z == 0)
        _exit(0);
    uint64_t zt = 0;
    for (int i = 0; i < 1000; i++) {
        char path[64], buf[512] = "";
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)z);
        int sfd = open(path, O_RDONLY | O_CLOEXEC);
        if (sfd >= 0) {
            (void)!read(sfd, buf, sizeof(buf) - 1);
            close(sfd);
        }
        char *p = strrchr(buf, ')');
        if (p && p[1] == ' ' && p[2] == 'Z')
            break;
        usleep(2000);
    }
    zt = box_proc_start_time(z);
    assert_true(zt != 0);
    st.pid = z;
    st.start_time = zt;
    assert_int_equal(box_state_status(f->rootfd, &st), BOX_STATUS_STOPPED);
    assert_int_equal(box_pidfd_checked(z, zt), -ESRCH);
    waitpid(z, NULL, 0);
    box_container_dir_close(&dir);
    assert_string_equal(box_status_name(BOX_STATUS_STOPPED), "stopped");
}

static void test_proc_start_time(void **state)
{
    uint64_t self = box_proc_start_time(getpid());
    assert_true(self != 0);
    assert_true(box_proc_start_time(getpid()) == self);
    assert_true(box_proc_start_time(dead_pid()) == 0);
    assert_true(box_proc_start_time(INT32_MAX) == 0);
    assert_true(box_proc_start_time(-1) == 0);
    /* a child started after us: not earlier than us */
    int ready[2], go[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        char x;
        close(go[1]);
        /* a comm full of ") " must not shift the fields */
        prctl(PR_SET_NAME, "a) b 1 2 3 4 5", 0, 0, 0);
        (void)!write(ready[1], "r", 1);
        (void)!read(go[0], &x, 1);
        _exit(0);
    }
    char x;
    assert_int_equal(read(ready[0], &x, 1), 1);
    uint64_t ct = box_proc_start_time(c);
    assert_true(ct >= self);
    /* matches field 22 as counted from the end of /proc/<pid>/stat */
    char path[64], buf[1024] = "";
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)c);
    int sfd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(sfd >= 0);
    assert_true(read(sfd, buf, sizeof(buf) - 1) > 0);
    close(sfd);
    assert_non_null(strstr(buf, "(a) b 1 2 3 4 5)"));
    char *p = strrchr(buf, ')') + 2;
    unsigned long long want = 0;
    /* fields 3..21 skipped, 22 read */
    assert_int_equal(sscanf(p,
                            "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                            "%*s %*s %*s %*s %llu",
                            &want),
                     1);
    assert_true(ct == want);
    close(go[1]); /* EOF lets the child go */
    waitpid(c, NULL, 0);
    close(go[0]);
    close(ready[0]);
    close(ready[1]);
}

static void test_pidfd_checked(void **state)
{
    uint64_t t = box_proc_start_time(getpid());
    int fd = box_pidfd_checked(getpid(), t);
    assert_true(fd >= 0);
    /* a pidfd: readable-when-exited, and O_CLOEXEC */
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    assert_int_equal(box_pidfd_checked(getpid(), t + 1), -ESRCH);
    assert_int_equal(box_pidfd_checked(getpid(), 0), -ESRCH);
    assert_int_equal(box_pidfd_checked(dead_pid(), t), -ESRCH);
    assert_int_equal(box_pidfd_checked(0, t), -ESRCH);
    assert_int_equal(box_pidfd_checked(-1, t), -ESRCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_root_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_twice_is_eexist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_missing_is_enoent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_being_created_and_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test(test_proc_start_time),
        cmocka_unit_test(test_pidfd_checked),
    };
    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
