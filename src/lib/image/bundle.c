#include "lib/image/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/image/fsx.h"

/* One streaming pass over one tarball. */
struct pass {
    const struct box_bundle_opts *o;
    const char *arch; /* NULL: inspect, no architecture or profile rules */
    bool inspect;
    struct box_tree tree;
    struct box_bundle_report *rep;
    bool have_top;
};

void box_bundle_opts_default(struct box_bundle_opts *o, const struct box_profile *profile)
{
    memset(o, 0, sizeof(*o));
    o->profile = profile;
    box_extract_limits_default(&o->limits);
    o->dlimits.max_out = 64ull << 30;
    o->dlimits.max_ratio = 200;
    o->dlimits.ratio_floor = 64ull << 20;
}

void box_bundle_report_free(struct box_bundle_report *r)
{
    box_manifest_free(r->manifest);
    r->manifest = NULL;
}

/* Paths reaching here are canonical: no control characters to escape. */
__attribute__((format(printf, 2, 3))) static int fail(struct box_err *err, const char *fmt, ...)
{
    char msg[BOX_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return box_err_set(err, BOX_EDATA, "%s", msg);
}

/* The path relative to the bundle directory, or NULL for the directory itself. */
static const char *rel_path(const struct pass *p, const char *path)
{
    size_t n = strlen(p->rep->top_dir);
    return path[n] == '/' ? path + n + 1 : NULL;
}

static int check_top(struct pass *p, const struct box_node *nd, struct box_err *err)
{
    const char *slash = strchr(nd->path, '/');
    size_t n = slash ? (size_t)(slash - nd->path) : strlen(nd->path);
    if (!p->have_top) {
        if (nd->path[0] == '.')
            return fail(err,
                        "expected a single top-level bundle directory: hidden top-level entry %s",
                        nd->path);
        memcpy(p->rep->top_dir, nd->path, n);
        p->rep->top_dir[n] = '\0';
        p->have_top = true;
    } else if (strncmp(nd->path, p->rep->top_dir, n) != 0 || p->rep->top_dir[n] != '\0') {
        char first[BOX_NAME_MAX + 1];
        snprintf(first, sizeof(first), "%.*s", (int)n, nd->path);
        return fail(err, "expected a single top-level bundle directory: unexpected entry %s",
                    first);
    }
    if (!slash && nd->type != BOX_NODE_DIR)
        return fail(err, "expected a single top-level bundle directory: %s is not a directory",
                    nd->path);
    return 0;
}

static const char *type_name(int type)
{
    return type == BOX_NODE_FILE ? "file" : type == BOX_NODE_SYMLINK ? "symlink" : "directory";
}

/* Payload entry `nd` against its manifest entry `want`; `full` when hashed. */
static int compare(const struct box_node *want, const struct box_node *nd, bool full,
                   struct box_err *err)
{
    char esc[512];
    if (nd->type != want->type)
        return box_err_set(err, BOX_EDATA,
                           "missing manifest-listed payload path: %s (listed as %s, found a %s)",
                           want->path, type_name(want->type), type_name(nd->type));
    if (want->type == BOX_NODE_SYMLINK) {
        if (want->link && strcmp(want->link, nd->link) != 0)
            return box_err_set(err, BOX_EDATA, "symlink target mismatch: %s (listed %s, found %s)",
                               want->path, want->link, box_escape(nd->link, esc, sizeof(esc)));
        return 0;
    }
    if (!full)
        return 0;
    if (memcmp(want->sha256, nd->sha256, BOX_SHA256_LEN) != 0)
        return fail(err, "checksum mismatch: %s", want->path);
    if (want->size != nd->size)
        return fail(err, "size mismatch: %s", want->path);
    return 0;
}

/* Checks against the manifest as soon as both are known, so that a bundle
 * whose manifest comes first fails before its bad payload is written. */
static int early_check(struct pass *p, const struct box_node *nd, bool hashed, struct box_err *err)
{
    const char *rel = rel_path(p, nd->path);
    struct box_manifest *m = p->rep->manifest;
    if (!m || p->inspect || !rel || nd->type == BOX_NODE_DIR || !strcmp(rel, BOX_MANIFEST_NAME))
        return 0;
    const struct box_node *want = box_tree_get(&m->files, rel);
    if (!want)
        return fail(err, "unlisted payload path present on disk: %s", rel);
    return compare(want, nd, hashed, err);
}

static int on_begin(void *ud, const struct box_node *nd, struct box_err *err)
{
    struct pass *p = ud;
    int r = check_top(p, nd, err);
    if (r < 0)
        return r;
    const char *rel = rel_path(p, nd->path);
    if (rel && strcmp(rel, BOX_MANIFEST_NAME) == 0) {
        if (nd->type != BOX_NODE_FILE || (nd->flags & BOX_NODE_HARDLINK))
            return box_err_set(err, BOX_EDATA, "manifest.json is not a regular file");
        if (nd->size > BOX_MANIFEST_MAX_BYTES)
            return box_err_set(err, BOX_EDATA, "manifest.json larger than %u bytes",
                               BOX_MANIFEST_MAX_BYTES);
        return BOX_EXTRACT_CAPTURE;
    }
    return early_check(p, nd, false, err);
}

static int on_end(void *ud, const struct box_node *nd, const char *data, size_t len,
                  struct box_err *err)
{
    struct pass *p = ud;
    const char *rel = rel_path(p, nd->path);
    if (!rel || strcmp(rel, BOX_MANIFEST_NAME) != 0)
        return nd->type == BOX_NODE_FILE ? early_check(p, nd, true, err) : 0;
    const struct box_profile *prof = p->o->profile;
    struct box_manifest_rules rules = {
        .arch = p->arch,
        .components = prof && !p->inspect ? prof->components : NULL,
        .ncomponents = prof && !p->inspect ? prof->ncomponents : 0,
    };
    int r = box_manifest_parse(data, len, &rules, &p->rep->manifest, err);
    if (r < 0)
        return r;
    if (p->inspect)
        return -ECANCELED; /* the manifest is all inspect needs */
    /* The contract's order: required assets missing from the manifest are
     * reported before unlisted payload. */
    if (prof && (r = box_profile_check_listed(prof, p->rep->manifest, err)) < 0)
        return r;
    /* Entries that came before the manifest. */
    for (size_t i = 0; i < p->tree.count; i++) {
        const struct box_node *seen = p->tree.nodes[i];
        if (seen != nd && (r = early_check(p, seen, seen->flags & BOX_NODE_HASHED, err)) < 0)
            return r;
    }
    return 0;
}

static int check_symlinks(struct pass *p, struct box_err *err)
{
    for (size_t i = 0; i < p->tree.count; i++) {
        const struct box_node *nd = p->tree.nodes[i];
        if (nd->type != BOX_NODE_SYMLINK)
            continue;
        int r = box_tree_resolve_symlink(&p->tree, nd, 1);
        if (r < 0) {
            char e1[512], e2[512];
            return box_err_set(
                err, BOX_EDATA, "%s: %s -> %s",
                r == -ELOOP ? "too many levels of symlinks" : "symlink escapes the bundle",
                box_escape(nd->path, e1, sizeof(e1)), box_escape(nd->link, e2, sizeof(e2)));
        }
    }
    return 0;
}

static int check_listed(struct pass *p, struct box_err *err)
{
    const struct box_manifest *m = p->rep->manifest;
    char full[2 * BOX_PATH_MAX + 2];
    for (size_t i = 0; i < m->files.count; i++) {
        const struct box_node *want = m->files.nodes[i];
        snprintf(full, sizeof(full), "%s/%s", p->rep->top_dir, want->path);
        const struct box_node *nd = box_tree_get(&p->tree, full);
        if (!nd)
            return fail(err, "missing manifest-listed payload path: %s", want->path);
        int r = compare(want, nd, true, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int check_unlisted(struct pass *p, struct box_err *err)
{
    for (size_t i = 0; i < p->tree.count; i++) {
        const struct box_node *nd = p->tree.nodes[i];
        const char *rel = rel_path(p, nd->path);
        if (!rel || nd->type == BOX_NODE_DIR || !strcmp(rel, BOX_MANIFEST_NAME))
            continue;
        if (!box_tree_get(&p->rep->manifest->files, rel))
            return fail(err, "unlisted payload path present on disk: %s", rel);
    }
    return 0;
}

/* The decision, once the whole stream has been read. */
static int final_checks(struct pass *p, struct box_err *err)
{
    if (!p->have_top)
        return box_err_set(err, BOX_EDATA,
                           "expected a single top-level bundle directory: empty tarball");
    if (!p->rep->manifest)
        return box_err_set(err, BOX_EDATA, "missing bundle manifest.json");
    int r = check_symlinks(p, err);
    if (r >= 0)
        r = check_listed(p, err);
    if (r >= 0 && p->o->profile)
        r = box_profile_check_listed(p->o->profile, p->rep->manifest, err);
    if (r >= 0)
        r = check_unlisted(p, err);
    if (r >= 0 && p->o->profile)
        r = box_profile_check_payload(p->o->profile, &p->tree, p->rep->top_dir, p->arch, err);
    return r;
}

static int open_tarball(const char *tarball, struct box_err *err)
{
    int fd = open(tarball, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT)
        return fail(err, "tarball not found: %s", tarball);
    if (fd < 0)
        return box_err_sys(err, errno, "open `%s`", tarball);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, "tarball is not a regular file: %s", tarball);
    }
    return fd;
}

static int check_arch(const char *arch, struct box_err *err)
{
    if (!box_arch_multiarch(arch))
        return fail(err, "unsupported runtime bundle architecture: %s", arch);
    return 0;
}

/* Reads one tarball; dest_fd -1 writes nothing. */
static int run_pass(struct pass *p, const char *tarball, int dest_fd, struct box_err *err)
{
    static const struct box_extract_ops ops = {.begin = on_begin, .end = on_end};
    _cleanup_close_ int fd = open_tarball(tarball, err);
    if (fd < 0)
        return fd;
    struct box_decomp *d;
    unsigned dflags = p->o->flags & BOX_BUNDLE_NO_FAST ? BOX_DECOMP_NO_FAST : 0;
    int r = box_decomp_open(fd, dflags, &p->o->dlimits, &d, err);
    if (r < 0)
        return r;
    struct box_extract_opts eo = {
        .src = d,
        .dest_fd = dest_fd,
        .keep = 1,
        .noun = "bundle",
        .flags = BOX_EXTRACT_ALLOW_HARDLINKS | BOX_EXTRACT_THREADED,
        .limits = p->o->limits,
        .capture_max = BOX_MANIFEST_MAX_BYTES,
        .ops = &ops,
        .ud = p,
    };
    r = box_extract_tar(&eo, &p->tree, &p->rep->stats, err);
    p->rep->compressed_bytes = box_decomp_bytes_in(d);
    p->rep->tar_bytes = box_decomp_bytes_out(d);
    box_decomp_free(d);
    if (r == -ECANCELED && p->inspect && p->rep->manifest)
        return 0;
    if (r >= 0 && p->inspect)
        r = box_err_set(err, BOX_EDATA, "missing bundle manifest.json");
    if (r >= 0)
        r = final_checks(p, err);
    return r;
}

static int finish(struct pass *p, int r, struct box_err *err)
{
    box_tree_free(&p->tree);
    if (r < 0 && err->code == BOX_EDATA)
        return box_err_prefix(err, BOX_BUNDLE_FAIL);
    return r;
}

int box_bundle_verify(const char *tarball, const char *arch, const struct box_bundle_opts *o,
                      struct box_bundle_report *rep, struct box_err *err)
{
    struct pass p = {.o = o, .arch = arch, .rep = rep};
    memset(rep, 0, sizeof(*rep));
    box_tree_init(&p.tree);
    int r = check_arch(arch, err);
    if (r >= 0)
        r = run_pass(&p, tarball, -1, err);
    return finish(&p, r, err);
}

int box_bundle_inspect(const char *tarball, const struct box_bundle_opts *o,
                       struct box_bundle_report *rep, struct box_err *err)
{
    struct pass p = {.o = o, .inspect = true, .rep = rep};
    memset(rep, 0, sizeof(*rep));
    box_tree_init(&p.tree);
    return finish(&p, run_pass(&p, tarball, -1, err), err);
}

/* Verifies and extracts one tarball below dest_fd (a private directory). */
static int stage_pass(const char *tarball, const char *arch, const struct box_bundle_opts *o,
                      int dest_fd, struct box_bundle_report *rep, struct box_err *err)
{
    struct pass p = {.o = o, .arch = arch, .rep = rep};
    memset(rep, 0, sizeof(*rep));
    box_tree_init(&p.tree);
    int r = check_arch(arch, err);
    if (r >= 0)
        r = run_pass(&p, tarball, dest_fd, err);
    if (r >= 0)
        r = box_extract_apply_dir_modes(dest_fd, &p.tree, err);
    /* The private directory becomes dest/<arch>: readable like any tree. */
    if (r >= 0 && fchmod(dest_fd, 0755) < 0)
        r = box_err_sys(err, errno, "set mode of the staged tree");
    return finish(&p, r, err);
}

#define STAGE_PREFIX ".box-stage-"

struct stage {
    const char *dest;
    int dfd;
    char created[4096]; /* the topmost directory of dest this run created, or "" */
    struct slot {
        char name[64]; /* private directory below dest */
        int fd;        /* its fd, flock()ed while it is ours */
        bool committed, had_old;
    } * slots;
    size_t n;
};

/* dest may not exist yet: create it, remembering what to remove on failure. */
static int open_dest(struct stage *s, struct box_err *err)
{
    struct stat st;
    if (lstat(s->dest, &st) == 0) {
        if (S_ISLNK(st.st_mode))
            return box_err_set(err, ELOOP, "destination `%s` is a symlink", s->dest);
        if (!S_ISDIR(st.st_mode))
            return box_err_set(err, ENOTDIR, "destination `%s` is not a directory", s->dest);
    } else if (errno == ENOENT) {
        char probe[sizeof(s->created)];
        snprintf(probe, sizeof(probe), "%s", s->dest);
        for (;;) {
            snprintf(s->created, sizeof(s->created), "%s", probe);
            char *slash = strrchr(probe, '/');
            if (!slash || slash == probe)
                break;
            *slash = '\0';
            if (access(probe, F_OK) == 0)
                break;
        }
        int r = box_mkdir_p(s->dest, 0755, err);
        if (r < 0)
            return r;
    } else {
        return box_err_sys(err, errno, "destination `%s`", s->dest);
    }
    s->dfd = open(s->dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s->dfd < 0)
        return box_err_sys(err, errno, "open destination `%s`", s->dest);
    return 0;
}

static void remove_created(struct stage *s)
{
    if (!s->created[0])
        return;
    char path[sizeof(s->created)];
    snprintf(path, sizeof(path), "%s", s->dest);
    while (rmdir(path) == 0 && strcmp(path, s->created) != 0) {
        char *slash = strrchr(path, '/');
        if (!slash)
            break;
        *slash = '\0';
    }
}

static int lock(int fd, int how, const char *what, struct box_err *err)
{
    while (flock(fd, how) < 0) {
        if (errno != EINTR)
            return box_err_sys(err, errno, "lock `%s`", what);
    }
    return 0;
}

/* Private directories left by a stager that died (their lock is free). */
static void clean_stale(struct stage *s)
{
    int fd = fcntl(s->dfd, F_DUPFD_CLOEXEC, 3);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, STAGE_PREFIX, strlen(STAGE_PREFIX)) != 0)
            continue;
        _cleanup_close_ int sfd =
            openat(s->dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd >= 0 && flock(sfd, LOCK_EX | LOCK_NB) == 0)
            box_remove_tree(s->dfd, de->d_name);
    }
    closedir(d);
}

/* dest/<arch> may be absent or a directory; never a symlink or a file. */
static int check_target(struct stage *s, const char *arch, struct box_err *err)
{
    struct stat st;
    if (fstatat(s->dfd, arch, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : box_err_sys(err, errno, "`%s/%s`", s->dest, arch);
    if (!S_ISDIR(st.st_mode))
        return box_err_set(err, ENOTDIR, "refusing to replace `%s/%s`: not a directory", s->dest,
                           arch);
    return 0;
}

static int make_slots(struct stage *s, struct box_bundle_item *items, size_t n, struct box_err *err)
{
    int r = lock(s->dfd, LOCK_EX, s->dest, err);
    if (r < 0)
        return r;
    clean_stale(s);
    for (size_t i = 0; i < n && r >= 0; i++) {
        struct slot *sl = &s->slots[i];
        char prefix[32];
        snprintf(prefix, sizeof(prefix), STAGE_PREFIX "%s-", items[i].arch);
        r = check_target(s, items[i].arch, err);
        if (r >= 0 && (r = box_fsx_mkdtemp_at(s->dfd, prefix, sl->name, sizeof(sl->name))) < 0)
            box_err_sys(err, -r, "create a staging directory in `%s`", s->dest);
        if (r < 0)
            break;
        sl->fd = openat(s->dfd, sl->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sl->fd < 0)
            r = box_err_sys(err, errno, "open `%s/%s`", s->dest, sl->name);
        else
            r = lock(sl->fd, LOCK_EX, sl->name, err);
        s->n = i + 1;
    }
    flock(s->dfd, LOCK_UN);
    return r;
}

/* renameat2(RENAME_EXCHANGE): a reader sees the old tree or the new one. */
static int swap_in(struct stage *s, struct slot *sl, const char *arch, struct box_err *err)
{
    for (int tries = 0; tries < 8; tries++) {
        if (renameat2(s->dfd, sl->name, s->dfd, arch, RENAME_EXCHANGE) == 0) {
            sl->committed = sl->had_old = true;
            return 0;
        }
        if (errno != ENOENT)
            break;
        if (renameat2(s->dfd, sl->name, s->dfd, arch, RENAME_NOREPLACE) == 0) {
            sl->committed = true;
            return 0;
        }
        if (errno != EEXIST)
            break;
    }
    return box_err_sys(err, errno, "replace `%s/%s`", s->dest, arch);
}

static void swap_back(struct stage *s, struct slot *sl, const char *arch)
{
    if (sl->had_old)
        renameat2(s->dfd, sl->name, s->dfd, arch, RENAME_EXCHANGE);
    else
        renameat2(s->dfd, arch, s->dfd, sl->name, RENAME_NOREPLACE);
    sl->committed = false;
}

static int commit_all(struct stage *s, struct box_bundle_item *items, struct box_err *err)
{
    int r = lock(s->dfd, LOCK_EX, s->dest, err);
    if (r < 0)
        return r;
    size_t i;
    for (i = 0; i < s->n && r >= 0; i++) {
        r = check_target(s, items[i].arch, err);
        if (r >= 0)
            r = swap_in(s, &s->slots[i], items[i].arch, err);
    }
    if (r < 0) /* all or nothing: undo the swaps already made */
        while (i-- > 0)
            if (s->slots[i].committed)
                swap_back(s, &s->slots[i], items[i].arch);
    flock(s->dfd, LOCK_UN);
    return r;
}

static void release(struct stage *s, struct box_bundle_item *items, bool ok)
{
    for (size_t i = 0; i < s->n; i++) {
        struct slot *sl = &s->slots[i];
        if (sl->fd >= 0)
            close(sl->fd);
        /* After a swap the slot name holds the old tree; else our own. */
        if (!sl->committed || sl->had_old) {
            int r = box_remove_tree(s->dfd, sl->name);
            if (ok && r < 0)
                items[i].report.cleanup_error = r;
        }
    }
    free(s->slots);
    if (s->dfd >= 0)
        close(s->dfd);
    if (!ok)
        remove_created(s);
}

static int check_items(const struct box_bundle_item *items, size_t n, struct box_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = check_arch(items[i].arch, err);
        if (r < 0)
            return r;
        for (size_t j = 0; j < i; j++)
            if (strcmp(items[i].arch, items[j].arch) == 0)
                return box_err_set(err, EINVAL, "architecture %s given twice", items[i].arch);
    }
    return 0;
}

int box_bundle_stage(const char *dest, struct box_bundle_item *items, size_t n,
                     const struct box_bundle_opts *o, size_t *failed, struct box_err *err)
{
    struct stage s = {.dest = dest, .dfd = -1};
    *failed = 0;
    int r = check_items(items, n, err);
    if (r < 0)
        return err->code == BOX_EDATA ? box_err_prefix(err, BOX_BUNDLE_FAIL) : r;
    s.slots = calloc(n, sizeof(*s.slots));
    if (!s.slots)
        return box_err_set(err, ENOMEM, "stage");
    for (size_t i = 0; i < n; i++)
        s.slots[i].fd = -1;
    r = open_dest(&s, err);
    if (r >= 0)
        r = make_slots(&s, items, n, err);
    for (size_t i = 0; r >= 0 && i < n; i++) {
        r = stage_pass(items[i].tarball, items[i].arch, o, s.slots[i].fd, &items[i].report, err);
        *failed = i;
    }
    if (r >= 0 && (o->flags & BOX_BUNDLE_SYNC) && syncfs(s.dfd) < 0)
        r = box_err_sys(err, errno, "sync `%s`", dest);
    if (r >= 0)
        r = commit_all(&s, items, err);
    for (size_t i = 0; r >= 0 && i < n; i++)
        snprintf(items[i].report.staged_path, sizeof(items[i].report.staged_path), "%s/%s/%s", dest,
                 items[i].arch, items[i].report.top_dir);
    release(&s, items, r >= 0);
    return r;
}
