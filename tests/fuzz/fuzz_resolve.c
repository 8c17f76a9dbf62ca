/* libFuzzer target: the in-root resolver (lib/base/resolve.h) never leaves the
 * root. At startup a tree full of hostile symlinks (absolute, relative, with
 * "..", dangling, loops) is built at /tmp/boxfuzz-<pid>/root, next to a
 * sentinel directory /tmp/boxfuzz-<pid>/outside holding one file.
 *
 * Input: one mode byte, then the path (NUL-terminated here, bounded).
 *   bit 0: the fallback walker instead of openat2(RESOLVE_IN_ROOT)
 *   bit 1: O_NOFOLLOW
 *   bit 2: box_root_mkdirs instead of box_root_open
 * Properties: box_root_open returns an fd whose inode is one of the inodes the
 * tree had at startup (never the outside dir or its file); box_root_mkdirs
 * returns a directory below the root and never creates anything outside it;
 * no fd leaks. What mkdirs created is removed after each input.
 *
 * resolve.c is included, as in tests/unit/test_resolve.c, to switch between
 * the two resolution paths through its static have_openat2. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/resolve.c"

#define MAX_PATH_IN 256
/* mkdirs resolves every prefix, and the walker reopens every component of each
 * one: N components cost O(N^3) openat calls there, over a second at N = 120.
 * Short paths keep the fuzzer fast; nesting depth is what matters here. */
#define MAX_MKDIRS_IN 64
#define MAX_INODES    256

struct ino {
    dev_t dev;
    ino_t ino;
};

static char base[64], root[96], outside[96];
static int rootfd = -1;
static struct stat root_st, outside_st, secret_st;
static struct ino inodes[MAX_INODES];
static size_t n_inodes;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_resolve: setup: %s: %s\n", what, strerror(errno));
    abort();
}

static void must(int r, const char *what)
{
    if (r < 0)
        die(what);
}

static int ino_cmp(const void *a, const void *b)
{
    const struct ino *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static bool in_tree(const struct stat *st)
{
    struct ino key = {st->st_dev, st->st_ino};
    return bsearch(&key, inodes, n_inodes, sizeof(key), ino_cmp) != NULL;
}

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (n_inodes == MAX_INODES) {
        errno = EOVERFLOW;
        return -1;
    }
    inodes[n_inodes++] = (struct ino){st->st_dev, st->st_ino};
    return 0;
}

/* Removes what box_root_mkdirs created: anything whose inode was not there. */
static int prune(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (!in_tree(st) && remove(path) < 0) {
        fprintf(stderr, "fuzz_resolve: cannot remove `%s`: %s\n", path, strerror(errno));
        abort();
    }
    return 0;
}

static void cleanup(void)
{
    char cmd[128];
    if (base[0] && getpid() == (pid_t)strtol(base + strlen("/tmp/boxfuzz-"), NULL, 10)) {
        snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", base);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz_resolve: could not remove %s\n", base);
    }
}

static void link_at(int dirfd, const char *target, const char *name)
{
    must(symlinkat(target, dirfd, name), name);
}

static void build_tree(void)
{
    snprintf(base, sizeof(base), "/tmp/boxfuzz-%d", (int)getpid());
    snprintf(root, sizeof(root), "%s/root", base);
    snprintf(outside, sizeof(outside), "%s/outside", base);
    char secret[128], hostabs[128];
    snprintf(secret, sizeof(secret), "%s/secret", outside);
    snprintf(hostabs, sizeof(hostabs), "%s", outside);
    if (mkdir(base, 0700) < 0 && errno == EEXIST)
        cleanup();
    mkdir(base, 0700);
    atexit(cleanup);
    must(mkdir(root, 0755), root);
    must(mkdir(outside, 0755), outside);
    int sfd = open(secret, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    must(sfd, secret);
    close(sfd);

    rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    must(rootfd, root);
    const char *dirs[] = {"etc", "a", "a/b", "a/b/c", "tmp"};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(dirs); i++)
        must(mkdirat(rootfd, dirs[i], 0755), dirs[i]);
    int f = openat(rootfd, "etc/passwd", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    must(f, "etc/passwd");
    close(f);
    link_at(rootfd, "/etc", "abs");                /* absolute, in-root meaning */
    link_at(rootfd, "a/b", "rel");                 /* relative */
    link_at(rootfd, "../../../outside", "rel2");   /* climbs past the root */
    link_at(rootfd, "/../outside", "absout");      /* absolute with .. */
    link_at(rootfd, "../", "dotdot");              /* the root's parent */
    link_at(rootfd, "/nonexistent/x", "dangling"); /* dangling */
    link_at(rootfd, "loop2", "loop1");             /* a loop */
    link_at(rootfd, "loop1", "loop2");
    link_at(rootfd, ".", "self");
    link_at(rootfd, "..", "up");
    link_at(rootfd, "/etc/passwd", "lf"); /* to a file */
    link_at(rootfd, hostabs, "hostabs");  /* the host path of outside */
    link_at(rootfd, "a/b/c", "deep");
    link_at(rootfd, "../../..", "a/b/up"); /* ".." chain from a subdir */
    link_at(rootfd, "/a/b/up/../..", "a/b/c/x");
    link_at(rootfd, "../../../../outside/secret", "a/b/c/s"); /* to the file outside */
    link_at(rootfd, "/proc/self/root", "magic");

    must(fstat(rootfd, &root_st), "stat root");
    must(stat(outside, &outside_st), "stat outside");
    must(stat(secret, &secret_st), "stat secret");
    must(nftw(root, collect, 16, FTW_PHYS), "walk root");
    qsort(inodes, n_inodes, sizeof(inodes[0]), ino_cmp);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    build_tree();
    return 0;
}

static int lowest_free_fd(void)
{
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (fd >= 0)
        close(fd);
    return fd;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        abort();
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void check_open_result(int fd, const char *path, int mode)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        abort();
    if ((st.st_dev == outside_st.st_dev && st.st_ino == outside_st.st_ino) ||
        (st.st_dev == secret_st.st_dev && st.st_ino == secret_st.st_ino) || !in_tree(&st)) {
        fprintf(stderr, "fuzz_resolve: mode %d: `%s` resolved outside the root (ino %lu)\n", mode,
                path, (unsigned long)st.st_ino);
        abort();
    }
}

/* A directory is below the root when walking ".." reaches the root's inode. */
static void check_below_root(int fd, const char *path, int mode)
{
    int cur = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    for (int steps = 0; steps <= MAX_PATH_IN; steps++) {
        struct stat st;
        if (cur < 0 || fstat(cur, &st) < 0)
            abort();
        if (st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino) {
            close(cur);
            return;
        }
        int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat ust;
        if (up < 0 || fstat(up, &ust) < 0)
            abort();
        close(cur);
        if (ust.st_dev == st.st_dev && ust.st_ino == st.st_ino)
            break; /* reached "/" */
        cur = up;
    }
    fprintf(stderr, "fuzz_resolve: mode %d: mkdirs `%s` returned a dir outside the root\n", mode,
            path);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_PATH_IN + 1)
        return 0;
    char path[MAX_PATH_IN + 1];
    int mode = data[0] & 7;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    int fd_watermark = lowest_free_fd();

    have_openat2 = (mode & 1) ? 0 : -1;
    if (mode & 4) {
        path[MAX_MKDIRS_IN] = '\0';
        int fd = box_root_mkdirs(rootfd, path, 0755, NULL);
        if (fd >= 0) {
            check_below_root(fd, path, mode);
            close(fd);
        }
        if (count_entries(outside) != 1 || count_entries(base) != 2) {
            fprintf(stderr, "fuzz_resolve: mode %d: mkdirs `%s` created something outside\n", mode,
                    path);
            abort();
        }
        if (nftw(root, prune, 16, FTW_PHYS | FTW_DEPTH) < 0)
            abort();
    } else {
        int flags = O_PATH | ((mode & 2) ? O_NOFOLLOW : 0);
        int fd = box_root_open(rootfd, path, flags, NULL);
        if (fd >= 0) {
            check_open_result(fd, path, mode);
            close(fd);
        }
    }
    if (lowest_free_fd() != fd_watermark) {
        fprintf(stderr, "fuzz_resolve: mode %d: `%s` leaked an fd\n", mode, path);
        abort();
    }
    return 0;
}
