#include "lib/cdi/hook.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/resolve.h"
#include "lib/cdi/elf.h"

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

/* ---- the state ------------------------------------------------------------- */

static int join(char out[PATH_MAX], const char *dir, const char *path, struct box_err *err)
{
    int n = path[0] == '/' ? snprintf(out, PATH_MAX, "%s", path)
                           : snprintf(out, PATH_MAX, "%s/%s", dir, path);
    if (n < 0 || n >= PATH_MAX)
        return box_err_set(err, ENAMETOOLONG, "state: root path too long");
    return 0;
}

/* root.path of the bundle's config.json (a hook under another runtime). */
static int root_from_config(const char *bundle, char out[PATH_MAX], struct box_err *err)
{
    char path[PATH_MAX];
    if (join(path, bundle, "config.json", err) < 0)
        return -err->code;
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = box_read_file(AT_FDCWD, path, BOX_HOOK_STATE_MAX * 16, &text, &len, err);
    if (r < 0)
        return r;
    json_t *cfg = json_loadb(text, len, 0, NULL);
    const char *root = json_string_value(json_object_get(json_object_get(cfg, "root"), "path"));
    r = root && *root ? join(out, bundle, root, err)
                      : box_err_set(err, EINVAL, "`%s`: no root.path", path);
    json_decref(cfg);
    return r;
}

int box_cdi_hook_rootfs(const char *state, size_t len, char out[PATH_MAX], struct box_err *err)
{
    if (len > BOX_HOOK_STATE_MAX)
        return box_err_set(err, EFBIG, "state: more than %u bytes", BOX_HOOK_STATE_MAX);
    json_error_t je;
    json_t *st = json_loadb(state, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(st)) {
        json_decref(st);
        return box_err_set(err, EINVAL, "state: not a JSON object: %s", je.text);
    }
    const char *bundle = json_string_value(json_object_get(st, "bundle"));
    const char *root = json_string_value(json_object_get(json_object_get(st, "root"), "path"));
    if (!root || !*root)
        root = json_string_value(json_object_get(st, "rootfs"));
    int r;
    if (root && *root && (root[0] == '/' || (bundle && bundle[0] == '/')))
        r = join(out, bundle ? bundle : "/", root, err);
    else if (bundle && bundle[0] == '/')
        r = root_from_config(bundle, out, err);
    else
        r = box_err_set(err, EINVAL, "state: neither an absolute `root.path` nor `bundle`");
    json_decref(st);
    return r;
}

/* ---- create-symlinks --------------------------------------------------------- */

/* An absolute path of plain components (no ".", "..", "//" or control
 * characters): what a spec may name inside the container. */
static bool clean_abs_path(const char *p)
{
    size_t n = strlen(p);
    if (n < 2 || n >= PATH_MAX || p[0] != '/' || p[n - 1] == '/')
        return false;
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return false;
    for (const char *c = p; c; c = strchr(c + 1, '/')) {
        size_t len = strcspn(c + 1, "/");
        if (len == 0 || (len == 1 && c[1] == '.') || (len == 2 && c[1] == '.' && c[2] == '.'))
            return false;
    }
    return true;
}

static int check_link(const char *arg, struct box_err *err)
{
    const char *sep = strstr(arg, "::");
    if (!sep || sep == arg || (size_t)(sep - arg) >= PATH_MAX)
        return box_err_set(err, EINVAL, "--link `%s`: not TARGET::LINK", arg);
    if (!clean_abs_path(sep + 2))
        return box_err_set(err, EINVAL, "--link `%s`: LINK must be a clean absolute path", arg);
    for (const char *c = arg; c < sep; c++)
        if ((unsigned char)*c < 0x20)
            return box_err_set(err, EINVAL, "--link `%s`: control character in TARGET", arg);
    return 0;
}

/* The link `name` in the directory dfd holding target: kept when it does,
 * made when nothing is there, replaced atomically otherwise. */
static int make_link(int dfd, const char *arg, const char *target, const char *name,
                     struct box_err *err)
{
    char have[PATH_MAX];
    ssize_t n = readlinkat(dfd, name, have, sizeof(have) - 1);
    if (n >= 0 && (have[n] = '\0', strcmp(have, target) == 0))
        return 0;
    if (n < 0 && errno == ENOENT) {
        if (symlinkat(target, dfd, name) == 0)
            return 0;
        if (errno != EEXIST)
            return box_err_sys(err, errno, "--link `%s`: symlink", arg);
    } else if (n < 0 && errno != EINVAL) {
        return box_err_sys(err, errno, "--link `%s`: read", arg);
    }
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return box_err_sys(err, errno, "--link `%s`: stat", arg);
    if (S_ISDIR(st.st_mode))
        return box_err_set(err, EISDIR, "--link `%s`: a directory is in the way", arg);
    /* Replaced atomically: the image's file or link goes, ours comes. */
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), ".%.200s.box-link.%d", name, (int)getpid());
    unlinkat(dfd, tmp, 0);
    if (symlinkat(target, dfd, tmp) < 0)
        return box_err_sys(err, errno, "--link `%s`: symlink", arg);
    if (renameat(dfd, tmp, dfd, name) < 0) {
        int e = errno;
        unlinkat(dfd, tmp, 0);
        return box_err_sys(err, e, "--link `%s`: replace", arg);
    }
    return 0;
}

int box_cdi_hook_symlinks(int rootfd, char *const *links, size_t n, struct box_err *err)
{
    if (n > BOX_HOOK_ARGS_MAX)
        return box_err_set(err, E2BIG, "more than %d links", BOX_HOOK_ARGS_MAX);
    for (size_t i = 0; i < n; i++)
        if (check_link(links[i], err) < 0)
            return -err->code;
    /* Links of one directory come together: it is resolved once for them. */
    char dir[PATH_MAX] = "";
    _cleanup_close_ int dfd = -1;
    for (size_t i = 0; i < n; i++) {
        const char *arg = links[i], *sep = strstr(arg, "::");
        const char *link = sep + 2, *name = strrchr(link, '/') + 1;
        char target[PATH_MAX], here[PATH_MAX];
        snprintf(target, sizeof(target), "%.*s", (int)(sep - arg), arg);
        snprintf(here, sizeof(here), "%.*s", (int)(name - link), link);
        if (dfd < 0 || strcmp(here, dir) != 0) {
            if (dfd >= 0)
                close(box_steal_fd(&dfd));
            dfd = box_root_mkdirs(rootfd, here, 0755, err);
            if (dfd < 0)
                return box_err_prefix(err, "--link `%s`", arg);
            memcpy(dir, here, sizeof(dir));
        }
        int r = make_link(dfd, arg, target, name, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- update-ldcache ----------------------------------------------------------- */

/* An ELF program without an interpreter: it runs inside the root without
 * loading anything from there (Ubuntu's /sbin/ldconfig is a shell script:
 * run in the root, it would run the image's shell). */
static int open_static(const char *path, struct box_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return box_err_sys(err, errno, "ldconfig `%s`", path);
    struct box_elf_info info;
    int r = box_elf_read(fd, path, &info, err);
    if (r >= 0 && info.has_interp)
        r = box_err_set(err, ENOEXEC, "ldconfig `%s`: not a static program", path);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

static int write_conf(int rootfd, char *const *folders, size_t n, struct box_err *err)
{
    size_t size = 64;
    for (size_t i = 0; i < n; i++)
        size += strlen(folders[i]) + 1;
    _cleanup_free_ char *text = malloc(size);
    if (!text)
        return box_err_set(err, ENOMEM, "out of memory");
    size_t off = (size_t)snprintf(text, size, "# written by box hook update-ldcache\n");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(text + off, size - off, "%s\n", folders[i]);
    _cleanup_close_ int dfd = box_root_mkdirs(rootfd, "/etc/ld.so.conf.d", 0755, err);
    if (dfd < 0)
        return -err->code;
    return box_cdi_hook_write_if_changed(dfd, BOX_HOOK_CONF_NAME, text, off, err);
}

static void __attribute__((noreturn))
ldconfig_child(int rootfd, int exefd, char *const *folders, size_t n)
{
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
        dprintf(2, "ldconfig: enter the root: %s\n", strerror(errno));
        _exit(126);
    }
    char *argv[BOX_HOOK_ARGS_MAX + 2];
    argv[0] = "ldconfig";
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = folders[i];
    argv[n + 1] = NULL;
    char *envp[] = {NULL};
    syscall(SYS_execveat, exefd, "", argv, envp, AT_EMPTY_PATH);
    dprintf(2, "ldconfig: exec: %s\n", strerror(errno));
    _exit(127);
}

int box_cdi_hook_ldcache(int rootfd, char *const *folders, size_t n, const char *ldconfig,
                         struct box_err *err)
{
    if (n > BOX_HOOK_ARGS_MAX)
        return box_err_set(err, E2BIG, "more than %d folders", BOX_HOOK_ARGS_MAX);
    for (size_t i = 0; i < n; i++)
        if (!clean_abs_path(folders[i]) && strcmp(folders[i], "/") != 0)
            return box_err_set(err, EINVAL, "--folder `%s`: not a clean absolute path", folders[i]);
    /* The host's ldconfig is checked before anything is written. */
    _cleanup_close_ int exefd = ldconfig ? open_static(ldconfig, err) : -1;
    if (ldconfig && exefd < 0)
        return exefd;
    int r = write_conf(rootfd, folders, n, err);
    if (r < 0)
        return r;
    if (!ldconfig)
        return box_cdi_hook_ldcache_write(rootfd, folders, n, err);
    pid_t pid = fork();
    if (pid < 0)
        return box_err_sys(err, errno, "ldconfig: fork");
    if (pid == 0)
        ldconfig_child(rootfd, exefd, folders, n);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return box_err_sys(err, errno, "ldconfig: wait");
    if (WIFSIGNALED(status))
        return box_err_set(err, ECANCELED, "ldconfig: killed by signal %d", WTERMSIG(status));
    if (WEXITSTATUS(status) != 0)
        return box_err_set(err, ECANCELED, "ldconfig: exit status %d", WEXITSTATUS(status));
    return 0;
}

/* ---- the request -------------------------------------------------------------- */

bool box_cdi_hook_verb_known(const char *name)
{
    return strcmp(name, "create-symlinks") == 0 || strcmp(name, "update-ldcache") == 0;
}

/* The option `arg` names (after "--", up to any "="): the item option,
 * --ldconfig (update-ldcache only) or --help, an unambiguous prefix of one
 * being enough. 'i', 'l', 'h', or 0 when none or several match. */
static int option_of(const struct box_cdi_hook_req *req, const char *arg, size_t len)
{
    const char *names[] = {req->verb == BOX_CDI_HOOK_SYMLINKS ? "link" : "folder",
                           req->verb == BOX_CDI_HOOK_LDCACHE ? "ldconfig" : NULL, "help"};
    const int ids[] = {'i', 'l', 'h'};
    int found = 0, matches = 0;
    for (size_t i = 0; i < BOX_ARRAY_SIZE(names); i++) {
        if (!names[i] || strncmp(names[i], arg, len) != 0)
            continue;
        if (names[i][len] == '\0')
            return ids[i];
        found = ids[i];
        matches++;
    }
    return matches == 1 ? found : 0;
}

static int parse_one(struct box_cdi_hook_req *req, int argc, char *const *argv, int *i,
                     struct box_err *err)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "-h") == 0) {
        req->help = true;
        return 0;
    }
    if (strncmp(arg, "--", 2) != 0 || !arg[2])
        return box_err_set(err, EINVAL, "%s: unknown option `%s`", req->verb_name, arg);
    const char *eq = strchr(arg + 2, '=');
    size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    int opt = option_of(req, arg + 2, len);
    if (opt == 0 || (opt == 'h' && eq))
        return box_err_set(err, EINVAL, "%s: unknown option `%s`", req->verb_name, arg);
    if (opt == 'h') {
        req->help = true;
        return 0;
    }
    const char *value = eq ? eq + 1 : NULL;
    if (!value && *i + 1 >= argc)
        return box_err_set(err, EINVAL, "%s: unknown option `%s`", req->verb_name, arg);
    if (!value)
        value = argv[++*i];
    if (opt == 'l') {
        req->ldconfig = value;
        return 0;
    }
    if (req->n >= BOX_HOOK_ARGS_MAX)
        return box_err_set(err, EINVAL, "%s: more than %d --%s", req->verb_name, BOX_HOOK_ARGS_MAX,
                           req->verb == BOX_CDI_HOOK_SYMLINKS ? "link" : "folder");
    req->items[req->n++] = (char *)value;
    return 0;
}

int box_cdi_hook_parse(int argc, char *const *argv, struct box_cdi_hook_req *req,
                       struct box_err *err)
{
    memset(req, 0, sizeof(*req));
    if (argc < 1 || !box_cdi_hook_verb_known(argv[0]))
        return box_err_set(err, EINVAL, "unknown hook `%s`", argc < 1 ? "" : argv[0]);
    req->verb_name = argv[0];
    req->verb =
        strcmp(argv[0], "create-symlinks") == 0 ? BOX_CDI_HOOK_SYMLINKS : BOX_CDI_HOOK_LDCACHE;
    int i = 1;
    for (; i < argc && !req->help; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (argv[i][0] != '-' || !argv[i][1])
            break;
        if (!req->items && !(req->items = calloc(BOX_HOOK_ARGS_MAX, sizeof(char *))))
            return box_err_set(err, ENOMEM, "out of memory");
        if (parse_one(req, argc, argv, &i, err) < 0) {
            box_cdi_hook_req_free(req);
            return -err->code;
        }
    }
    if (!req->help && i < argc) {
        box_err_set(err, EINVAL, "%s: unexpected argument `%s`", req->verb_name, argv[i]);
        box_cdi_hook_req_free(req);
        return -EINVAL;
    }
    return 0;
}

void box_cdi_hook_req_free(struct box_cdi_hook_req *req)
{
    free(req->items);
    req->items = NULL;
    req->n = 0;
}

int box_cdi_hook_run(const struct box_cdi_hook_req *req, const char *state, size_t len,
                     struct box_err *err)
{
    if (req->help)
        return 0;
    char root[PATH_MAX];
    if (box_cdi_hook_rootfs(state, len, root, err) < 0)
        return box_err_prefix(err, "hook %s", req->verb_name);
    _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return box_err_sys(err, errno, "hook %s: open the root `%s`", req->verb_name, root);
    int r = req->verb == BOX_CDI_HOOK_SYMLINKS
                ? box_cdi_hook_symlinks(rootfd, req->items, req->n, err)
                : box_cdi_hook_ldcache(rootfd, req->items, req->n, req->ldconfig, err);
    return r < 0 ? box_err_prefix(err, "hook %s", req->verb_name) : 0;
}
