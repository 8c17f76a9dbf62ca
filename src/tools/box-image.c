/* box-image: the GPU validation images, built offline into OCI image
 * layouts, listed in a workload manifest, and published to a registry.
 * `box image ARGS...` hands over to this program as `box-image image
 * ARGS...`; it also runs on its own.
 *
 * Exit status: 0 success (built, or up to date), 1 rejected input, 2 usage,
 * 3 any other failure (I/O, environment, registry). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/parse.h"
#include "lib/image/util.h"
#include "lib/oci/elfdeps.h"
#include "lib/oci/layout_write.h"
#include "tools/box-image.h"

#define SCHEMA       "box-image-fingerprint/1"
#define WORKLOAD     "/usr/local/bin/openshell-gpu-workload"
#define SANDBOX_ID   1000
#define MAX_ITEMS    64
#define INPUT_MAX    (64u << 20)
#define DEFAULT_APPS "sh,cat,echo,env,false,id,ls,pwd,sleep,true"

static const char build_usage[] =
    "Usage: box image build --name NAME --output DIR [OPTIONS]\n"
    "\n"
    "Builds one validation image into an OCI image layout, unless the layout\n"
    "already holds the same input fingerprint.\n"
    "\n"
    "  --busybox PATH         add PATH as /bin/busybox with applet links\n"
    "  --applets A,B,...      the links (default " DEFAULT_APPS ")\n"
    "  --add DEST=SRC         add the host file SRC at DEST\n"
    "  --elf DEST=SRC         add an executable and the shared libraries it needs\n"
    "  --lib NAME             add a shared library that is loaded at run time (by\n"
    "                         dlopen, or by a library the host injects), and what\n"
    "                         it needs\n"
    "  --lib-dir DIR          where --elf and --lib look for libraries (repeatable;\n"
    "                         default the multiarch and lib directories)\n"
    "  --lib-root DIR         look below DIR instead of the host's root\n"
    "  --input KEY=VALUE      an input of the fingerprint (a package version...)\n"
    "  --input-file PATH      a file of the fingerprint that is not in the image\n"
    "  --description TEXT     org.opencontainers.image.description\n"
    "  --source TEXT          org.opencontainers.image.source\n"
    "  --arch A               image architecture (default amd64)\n"
    "  --level N              gzip level 1..9 (default 9)\n"
    "  --force                build even when up to date\n"
    "\n"
    "Honours SOURCE_DATE_EPOCH (every mtime and `created`; default 0).\n";

struct build_args {
    const char *name, *output, *busybox, *applets, *description, *source, *arch, *lib_root;
    const char *add[MAX_ITEMS], *elf[MAX_ITEMS], *libs[MAX_ITEMS], *inputs[MAX_ITEMS],
        *input_files[MAX_ITEMS];
    const char *lib_dirs[16];
    size_t nadd, nelf, nlibs, ninputs, ninput_files, nlib_dirs;
    uint64_t level;
    int64_t epoch;
    bool force;
};

__attribute__((format(printf, 1, 2))) int box_image_usage(const char *fmt, ...)
{
    va_list ap;
    fputs("box-image: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'box image --help'.\n", stderr);
    return BOX_IMAGE_EXIT_USAGE;
}

int box_image_fail(const struct box_err *err)
{
    fprintf(stderr, "box-image: %s\n", err->msg);
    /* Data errors are the input's fault; the rest is the environment's. */
    switch (err->code) {
    case EINVAL:
    case EEXIST:
    case ENOEXEC:
    case EPERM:
    case ENOTDIR:
    case EFBIG:
    case E2BIG:
    case ENAMETOOLONG:
    case EBADMSG:
        return BOX_IMAGE_EXIT_REJECTED;
    default:
        return BOX_IMAGE_EXIT_ERROR;
    }
}

static int push(const char **v, size_t *n, size_t max, const char *opt, const char *arg)
{
    if (*n >= max)
        return box_image_usage("%s: at most %zu", opt, max);
    v[(*n)++] = arg;
    return 0;
}

static int parse_build_args(int argc, char **argv, struct build_args *a)
{
    enum {
        O_NAME = 0x100,
        O_OUT,
        O_BB,
        O_APP,
        O_ADD,
        O_ELF,
        O_IN,
        O_INF,
        O_DESC,
        O_SRC,
        O_ARCH,
        O_LVL,
        O_FORCE,
        O_LIBDIR,
        O_LIBROOT,
        O_LIB
    };
    static const struct option opts[] = {
        {"name", 1, 0, O_NAME},        {"output", 1, 0, O_OUT},     {"busybox", 1, 0, O_BB},
        {"applets", 1, 0, O_APP},      {"add", 1, 0, O_ADD},        {"elf", 1, 0, O_ELF},
        {"input", 1, 0, O_IN},         {"input-file", 1, 0, O_INF}, {"description", 1, 0, O_DESC},
        {"source", 1, 0, O_SRC},       {"arch", 1, 0, O_ARCH},      {"level", 1, 0, O_LVL},
        {"force", 0, 0, O_FORCE},      {"lib", 1, 0, O_LIB},        {"lib-dir", 1, 0, O_LIBDIR},
        {"lib-root", 1, 0, O_LIBROOT}, {"help", 0, 0, 'h'},         {0, 0, 0, 0},
    };
    *a = (struct build_args){.applets = DEFAULT_APPS, .arch = "amd64", .level = 9, .lib_root = ""};
    int c, rc = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_NAME:
            a->name = optarg;
            break;
        case O_OUT:
            a->output = optarg;
            break;
        case O_BB:
            a->busybox = optarg;
            break;
        case O_APP:
            a->applets = optarg;
            break;
        case O_ADD:
            rc = push(a->add, &a->nadd, MAX_ITEMS, "--add", optarg);
            break;
        case O_ELF:
            rc = push(a->elf, &a->nelf, MAX_ITEMS, "--elf", optarg);
            break;
        case O_IN:
            rc = push(a->inputs, &a->ninputs, MAX_ITEMS, "--input", optarg);
            break;
        case O_INF:
            rc = push(a->input_files, &a->ninput_files, MAX_ITEMS, "--input-file", optarg);
            break;
        case O_LIB:
            if (!*optarg || strchr(optarg, '/'))
                rc = box_image_usage("--lib: `%s` is not a library name (libdl.so.2)", optarg);
            else
                rc = push(a->libs, &a->nlibs, MAX_ITEMS, "--lib", optarg);
            break;
        case O_LIBDIR:
            rc = push(a->lib_dirs, &a->nlib_dirs, 16, "--lib-dir", optarg);
            break;
        case O_LIBROOT:
            a->lib_root = optarg;
            break;
        case O_DESC:
            a->description = optarg;
            break;
        case O_SRC:
            a->source = optarg;
            break;
        case O_ARCH:
            a->arch = optarg;
            break;
        case O_FORCE:
            a->force = true;
            break;
        case O_LVL:
            if (box_parse_u64(optarg, 9, &a->level) < 0 || a->level < 1)
                rc = box_image_usage("--level: `%s` is not 1..9", optarg);
            break;
        case 'h':
            fputs(build_usage, stdout);
            return -1;
        default:
            return box_image_usage("build: unknown option `%s`", argv[optind - 1]);
        }
    }
    if (rc)
        return rc;
    if (optind < argc)
        return box_image_usage("build: unexpected argument `%s`", argv[optind]);
    if (!a->name || !a->output)
        return box_image_usage("build: --name and --output are required");
    if (box_image_name_valid(a->name) < 0)
        return box_image_usage("--name `%s`: use 1..64 of [a-z0-9-], starting with a letter",
                               a->name);
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde && box_parse_i64(sde, 0, INT32_MAX, &a->epoch) < 0)
        return box_image_usage("SOURCE_DATE_EPOCH `%s` is not a number of seconds", sde);
    return 0;
}

int box_image_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 64 || name[0] < 'a' || name[0] > 'z')
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-'))
            return -EINVAL;
    return 0;
}

/* DEST=SRC into its halves (in a copy owned by the caller). */
static int split_pair(const char *opt, const char *arg, char **dest, char **src,
                      struct box_err *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return box_err_set(err, EINVAL, "%s `%s`: expected DEST=SRC", opt, arg);
    *dest = strndup(arg, (size_t)(eq - arg));
    *src = strdup(eq + 1);
    if (!*dest || !*src)
        return box_err_set(err, ENOMEM, "%s: out of memory", opt);
    return 0;
}

/* The base every image shares: the sandbox user, its home, /tmp. */
static int add_base(struct box_oci_rootfs *r, struct box_err *err)
{
    static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                                 "sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh\n";
    static const char group[] = "root:x:0:\nsandbox:x:1000:\n";
    int rc = box_oci_rootfs_add_dir(r, "/etc", 0755, 0, 0, err);
    if (rc == 0)
        rc = box_oci_rootfs_add_data(r, "/etc/passwd", passwd, strlen(passwd), 0644, err);
    if (rc == 0)
        rc = box_oci_rootfs_add_data(r, "/etc/group", group, strlen(group), 0644, err);
    if (rc == 0)
        rc = box_oci_rootfs_add_dir(r, "/root", 0700, 0, 0, err);
    if (rc == 0)
        rc = box_oci_rootfs_add_dir(r, "/home", 0755, 0, 0, err);
    if (rc == 0)
        rc = box_oci_rootfs_add_dir(r, "/home/sandbox", 0755, SANDBOX_ID, SANDBOX_ID, err);
    if (rc == 0)
        rc = box_oci_rootfs_add_dir(r, "/tmp", 01777, 0, 0, err);
    return rc;
}

static int add_busybox(struct box_oci_rootfs *r, const struct build_args *a, struct box_err *err)
{
    int rc = box_oci_rootfs_add_file(r, "/bin/busybox", a->busybox, 0755, err);
    _cleanup_free_ char *list = strdup(a->applets);
    if (rc < 0 || !list)
        return rc < 0 ? rc : box_err_set(err, ENOMEM, "--applets: out of memory");
    char *save = NULL;
    for (char *app = strtok_r(list, ",", &save); app && rc == 0; app = strtok_r(NULL, ",", &save)) {
        if (box_image_name_valid(app) < 0 && strcmp(app, "[") != 0)
            return box_err_set(err, EINVAL, "--applets: `%s` is not an applet name", app);
        char path[128];
        snprintf(path, sizeof(path), "/bin/%s", app);
        rc = box_oci_rootfs_add_symlink(r, path, "busybox", err);
    }
    return rc;
}

/* Where libraries are looked for, below a->lib_root. */
static const char *const *lib_dirs(const struct build_args *a, size_t *n)
{
    static const char *const default_dirs[] = {"/lib/x86_64-linux-gnu",
                                               "/usr/lib/x86_64-linux-gnu",
                                               "/lib/aarch64-linux-gnu",
                                               "/usr/lib/aarch64-linux-gnu",
                                               "/lib64",
                                               "/usr/lib64",
                                               "/lib",
                                               "/usr/lib"};
    *n = a->nlib_dirs ? a->nlib_dirs : BOX_ARRAY_SIZE(default_dirs);
    return a->nlib_dirs ? a->lib_dirs : default_dirs;
}

/* dest from src with the libraries it needs. loader: the image's dynamic
 * loader (the PT_INTERP of an executable added before, or ""); a library
 * that names it in DT_NEEDED gets it from there, not from another path. The
 * loader this ELF asks for, if any, is copied into loader. */
static int add_elf(struct box_oci_rootfs *r, const struct build_args *a, const char *dest,
                   const char *src, char loader[PATH_MAX], struct box_err *err)
{
    size_t ndirs;
    const char *const *dirs = lib_dirs(a, &ndirs);
    _cleanup_free_ struct box_elf_deps *deps = malloc(sizeof(*deps));
    if (!deps)
        return box_err_set(err, ENOMEM, "--elf: out of memory");
    int rc = box_elf_deps(src, a->lib_root, dirs, ndirs, box_elf_is_driver_lib, deps, err);
    if (rc == 0)
        rc = box_oci_rootfs_add_file(r, dest, src, 0755, err);
    char host[PATH_MAX * 2];
    if (rc == 0 && deps->interp[0] && !box_oci_rootfs_get(r, deps->interp)) {
        snprintf(host, sizeof(host), "%s%s", a->lib_root, deps->interp);
        rc = box_oci_rootfs_add_file(r, deps->interp, host, 0755, err);
    }
    if (rc == 0 && deps->interp[0])
        snprintf(loader, PATH_MAX, "%s", deps->interp);
    const char *loader_name = loader[0] ? strrchr(loader, '/') + 1 : NULL;
    for (size_t i = 0; rc == 0 && i < deps->n; i++) {
        if (box_oci_rootfs_get(r, deps->libs[i].path) ||
            (loader_name && strcmp(deps->libs[i].name, loader_name) == 0))
            continue;
        snprintf(host, sizeof(host), "%s%s", a->lib_root, deps->libs[i].path);
        rc = box_oci_rootfs_add_file(r, deps->libs[i].path, host, 0755, err);
    }
    return rc < 0 ? box_err_prefix(err, "--elf `%s`", dest) : 0;
}

/* --lib NAME: the first regular file of that name in the library
 * directories, at the same path in the image, with what it needs. */
static int add_lib(struct box_oci_rootfs *r, const struct build_args *a, const char *name,
                   char loader[PATH_MAX], struct box_err *err)
{
    size_t ndirs;
    const char *const *dirs = lib_dirs(a, &ndirs);
    for (size_t i = 0; i < ndirs; i++) {
        char dest[PATH_MAX], host[PATH_MAX * 2];
        struct stat st;
        snprintf(dest, sizeof(dest), "%s/%s", dirs[i], name);
        snprintf(host, sizeof(host), "%s%s", a->lib_root, dest);
        if (stat(host, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (box_oci_rootfs_get(r, dest))
            return 0;
        int rc = add_elf(r, a, dest, host, loader, err);
        return rc < 0 ? box_err_prefix(err, "--lib `%s`", name) : 0;
    }
    return box_err_set(err, ENOENT, "--lib `%s`: not found in the library directories", name);
}

static int build_rootfs(struct box_oci_rootfs *r, const struct build_args *a, struct box_err *err)
{
    char loader[PATH_MAX] = "";
    int rc = add_base(r, err);
    if (rc == 0 && a->busybox)
        rc = add_busybox(r, a, err);
    for (size_t i = 0; rc == 0 && i < a->nadd + a->nelf; i++) {
        bool elf = i >= a->nadd;
        const char *arg = elf ? a->elf[i - a->nadd] : a->add[i];
        _cleanup_free_ char *dest = NULL;
        _cleanup_free_ char *src = NULL;
        rc = split_pair(elf ? "--elf" : "--add", arg, &dest, &src, err);
        if (rc == 0)
            rc = elf ? add_elf(r, a, dest, src, loader, err)
                     : box_oci_rootfs_add_file(r, dest, src, 0, err);
    }
    for (size_t i = 0; rc == 0 && i < a->nlibs; i++)
        rc = add_lib(r, a, a->libs[i], loader, err);
    if (rc < 0)
        return rc;
    /* The contract: the workload is there, and it is the entrypoint. */
    const struct box_oci_entry *w = box_oci_rootfs_get(r, WORKLOAD);
    if (!w || w->type != BOX_OCI_FILE || !(w->mode & 0100))
        return box_err_set(err, EINVAL,
                           "the image has no executable `%s` (give it with --add or "
                           "--elf)",
                           WORKLOAD);
    return box_oci_rootfs_finish(r, err);
}

struct image_plan {
    struct box_oci_rootfs rootfs;
    struct box_oci_kv inputs[MAX_ITEMS], labels[4];
    struct box_oci_fpr_file files[MAX_ITEMS];
    char file_digests[MAX_ITEMS][BOX_OCI_DIGEST_LEN + 1];
    char *input_copies[MAX_ITEMS];
    const char *env[1], *entrypoint[1];
    struct box_oci_config cfg;
    char fingerprint[BOX_OCI_FPR_LEN + 1];
    char description[256];
};

static void plan_free(struct image_plan *p)
{
    box_oci_rootfs_free(&p->rootfs);
    for (size_t i = 0; i < MAX_ITEMS; i++)
        free(p->input_copies[i]);
}

static int plan_inputs(struct image_plan *p, const struct build_args *a, struct box_err *err)
{
    for (size_t i = 0; i < a->ninputs; i++) {
        char *copy = p->input_copies[i] = strdup(a->inputs[i]);
        char *eq = copy ? strchr(copy, '=') : NULL;
        if (!eq || eq == copy)
            return box_err_set(err, EINVAL, "--input `%s`: expected KEY=VALUE", a->inputs[i]);
        *eq = '\0';
        p->inputs[i] = (struct box_oci_kv){copy, eq + 1};
    }
    for (size_t i = 0; i < a->ninput_files; i++) {
        _cleanup_close_ int fd = open(a->input_files[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return box_err_sys(err, errno, "--input-file `%s`", a->input_files[i]);
        int rc = box_oci_digest_fd(fd, p->file_digests[i], NULL, err);
        if (rc < 0)
            return box_err_prefix(err, "--input-file `%s`", a->input_files[i]);
        p->files[i] = (struct box_oci_fpr_file){a->input_files[i], p->file_digests[i]};
    }
    return 0;
}

static int plan_image(struct image_plan *p, const struct build_args *a, struct box_err *err)
{
    int rc = build_rootfs(&p->rootfs, a, err);
    if (rc == 0)
        rc = plan_inputs(p, a, err);
    if (rc < 0)
        return rc;
    snprintf(p->description, sizeof(p->description), "%s",
             a->description ? a->description : "OpenShell GPU validation workload");
    p->labels[0] = (struct box_oci_kv){"org.opencontainers.image.title", a->name};
    p->labels[1] = (struct box_oci_kv){"org.opencontainers.image.description", p->description};
    p->labels[2] = (struct box_oci_kv){"org.opencontainers.image.source",
                                       a->source ? a->source : "e2e/gpu/images"};
    p->env[0] = "PATH=/usr/local/bin:/usr/bin:/bin";
    p->entrypoint[0] = WORKLOAD;
    p->cfg = (struct box_oci_config){.architecture = a->arch,
                                     .os = "linux",
                                     .user = "sandbox",
                                     .workdir = "/home/sandbox",
                                     .env = p->env,
                                     .nenv = 1,
                                     .entrypoint = p->entrypoint,
                                     .nentrypoint = 1,
                                     .labels = p->labels,
                                     .nlabels = 3,
                                     .created = a->epoch};
    /* The fingerprint covers the config without its revision label, which
     * is the fingerprint itself. */
    rc = box_oci_fingerprint(SCHEMA, a->name, p->inputs, a->ninputs, p->files, a->ninput_files,
                             &p->rootfs, &p->cfg, p->fingerprint, err);
    if (rc < 0)
        return rc;
    p->labels[3] = (struct box_oci_kv){"org.opencontainers.image.revision", p->fingerprint};
    p->cfg.nlabels = 4;
    return 0;
}

/* The stamp: what the layout was built from, for `manifest` and for the
 * next build's up-to-date check. */
static int write_stamp(int dirfd, const struct image_plan *p, const struct build_args *a,
                       const struct box_oci_written *w, struct box_err *err)
{
    json_t *inputs = json_object(), *files = json_object();
    for (size_t i = 0; i < a->ninputs; i++)
        json_object_set_new(inputs, p->inputs[i].key, json_string(p->inputs[i].value));
    for (size_t i = 0; i < a->ninput_files; i++)
        json_object_set_new(files, p->files[i].path, json_string(p->files[i].digest));
    for (size_t i = 0; i < p->rootfs.n; i++)
        if (p->rootfs.v[i].type == BOX_OCI_FILE) {
            char path[BOX_PATH_MAX + 2];
            snprintf(path, sizeof(path), "/%s", p->rootfs.v[i].path);
            json_object_set_new(files, path, json_string(p->rootfs.v[i].digest));
        }
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "schema", SCHEMA, "name", a->name,
                          "fingerprint", p->fingerprint, "manifest", w->manifest, "manifest_size",
                          (json_int_t)w->manifest_size, "inputs", inputs, "files", files);
    char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!s)
        return box_err_set(err, ENOMEM, "stamp: out of memory");
    int rc = box_write_file_atomic(dirfd, BOX_OCI_STAMP, s, strlen(s), 0644, err);
    free(s);
    return rc;
}

/* Up to date: the stamp names this fingerprint and the manifest it names
 * is in the layout. */
static bool up_to_date(const char *output, const char *fingerprint, char *manifest)
{
    struct box_image_stamp st;
    struct box_err err = {0};
    if (box_image_read_stamp(output, &st, &err) < 0 || strcmp(st.fingerprint, fingerprint) != 0)
        return false;
    char blob[PATH_MAX + 128];
    snprintf(blob, sizeof(blob), "%s/blobs/sha256/%s", output, st.manifest + 7);
    snprintf(manifest, BOX_OCI_DIGEST_LEN + 1, "%s", st.manifest);
    return access(blob, R_OK) == 0;
}

/* Writes into a fresh sibling directory and swaps it in, so that a reader
 * (and a failed build) only ever sees the old layout or the new one. */
static int write_layout(const struct image_plan *p, const struct build_args *a,
                        struct box_oci_written *w, struct box_err *err)
{
    char tmp[PATH_MAX], old[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", a->output) >= (int)sizeof(tmp) ||
        snprintf(old, sizeof(old), "%s.old-%d", a->output, (int)getpid()) >= (int)sizeof(old))
        return box_err_set(err, ENAMETOOLONG, "--output `%s`: too long", a->output);
    if (!mkdtemp(tmp))
        return box_err_sys(err, errno, "--output `%s`: create a temporary directory", a->output);
    chmod(tmp, 0755);
    int rc;
    {
        _cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = dfd < 0 ? box_err_sys(err, errno, "open `%s`", tmp) : 0;
        if (rc == 0)
            rc = box_oci_layout_write(dfd, &p->rootfs, &p->cfg, p->fingerprint, a->name,
                                      (int)a->level, w, err);
        if (rc == 0)
            rc = write_stamp(dfd, p, a, w, err);
    }
    bool had_old = rc == 0 && rename(a->output, old) == 0;
    if (rc == 0 && rename(tmp, a->output) < 0) {
        rc = box_err_sys(err, errno, "rename `%s` to `%s`", tmp, a->output);
        if (had_old)
            rename(old, a->output);
    }
    box_remove_tree(AT_FDCWD, rc == 0 ? old : tmp);
    return rc;
}

static int cmd_build(int argc, char **argv)
{
    struct build_args a;
    int rc = parse_build_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct box_err err = {0};
    _cleanup_free_ struct image_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return box_image_usage("out of memory");
    rc = plan_image(p, &a, &err);
    char manifest[BOX_OCI_DIGEST_LEN + 1];
    if (rc == 0 && !a.force && up_to_date(a.output, p->fingerprint, manifest)) {
        printf("%s: up to date: fingerprint %s, manifest %s\n", a.name, p->fingerprint, manifest);
        plan_free(p);
        return 0;
    }
    /* Interruptions wait until the layout is swapped in or cleaned away. */
    sigset_t block, saved;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &saved);
    struct box_oci_written w;
    if (rc == 0)
        rc = write_layout(p, &a, &w, &err);
    sigprocmask(SIG_SETMASK, &saved, NULL);
    if (rc == 0)
        printf("%s: built %s: fingerprint %s, manifest %s, layer %llu bytes (%llu uncompressed), "
               "%zu entries\n",
               a.name, a.output, p->fingerprint, w.manifest, (unsigned long long)w.layer_size,
               (unsigned long long)w.tar_size, p->rootfs.n);
    plan_free(p);
    return rc < 0 ? box_image_fail(&err) : 0;
}

static const char usage_text[] =
    "Usage: box image COMMAND [OPTIONS]\n"
    "\n"
    "The GPU validation images as OCI image layouts.\n"
    "\n"
    "Commands:\n"
    "  build     --name NAME --output DIR [...]   build one image (see build --help)\n"
    "  manifest  --output FILE --workload NAME=DIR,expect=pass|fail[,gpu]... [...]\n"
    "            write the workload manifest (schema_version 1) of built layouts\n"
    "  publish   --registry HOST:PORT --manifest FILE --output FILE [--tls-verify=false]\n"
    "            push every layout of a manifest with skopeo, resolve each back by\n"
    "            digest, and write the manifest with registry references\n"
    "\n"
    "Exit status: 0 ok, 1 input rejected, 2 usage error, 3 other failure.\n";

int main(int argc, char **argv)
{
    /* `box image ...` arrives as argv[1] = "image"; `box-image ...` without it. */
    if (argc > 1 && strcmp(argv[1], "image") == 0) {
        argc--;
        argv++;
    }
    if (argc < 2)
        return box_image_usage("a command is required (build, manifest, publish)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("box-image %s\n", BOX_VERSION);
        return 0;
    }
    if (strcmp(cmd, "build") == 0)
        return cmd_build(argc - 1, argv + 1);
    if (strcmp(cmd, "manifest") == 0)
        return box_image_cmd_manifest(argc - 1, argv + 1);
    if (strcmp(cmd, "publish") == 0)
        return box_image_cmd_publish(argc - 1, argv + 1);
    return box_image_usage("unknown command `%s`", cmd);
}
