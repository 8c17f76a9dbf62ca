#include "lib/vm/build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/image/fetch.h"
#include "lib/vm/disk.h"
#include "lib/vm/facts.h"
#include "lib/vm/spawn.h"

#define TAIL_LINES   15
#define SIDE_MAX     256
#define QEMU_IMG_MAX (64u * 1024u)

/* Variables box vm build sets itself: a --var for one would be ignored or
 * would break the build, so it is refused. */
static const char *const reserved[] = {"base_image",     "base_image_checksum",
                                       "build_password", "output_directory",
                                       "vm_name",        "facts_file"};

/* Templates whose distribution is not Debian by default. */
static const struct {
    const char *template_name, *distro;
} default_distro[] = {{"nvidia-gpu-firmware1", "ubuntu"}};

static unsigned long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long)ts.tv_sec * 1000ul + (unsigned long)ts.tv_nsec / 1000000ul;
}

static void list_templates(const char *dir, char *out, size_t size)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d)) && used + 2 < size) {
        size_t n = strlen(e->d_name);
        if (n <= 8 || strcmp(e->d_name + n - 8, ".pkr.hcl") != 0)
            continue;
        int w =
            snprintf(out + used, size - used, "%s%.*s", used ? ", " : "", (int)(n - 8), e->d_name);
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
    }
    closedir(d);
}

int box_vm_template_check(const char *dir, const char *name, struct box_err *err)
{
    size_t n = strlen(name);
    bool ok = n > 0 && n <= 63 &&
              ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'));
    ok = ok && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
    char avail[512], path[PATH_MAX];
    if (ok) {
        snprintf(path, sizeof(path), "%s/%s.pkr.hcl", dir, name);
        if (access(path, R_OK) == 0)
            return 0;
    }
    list_templates(dir, avail, sizeof(avail));
    return box_err_set(err, ok ? ENOENT : EINVAL, "template `%.80s`: %s in `%s` (available: %s)",
                       name, ok ? "no such template" : "not a template name", dir,
                       *avail ? avail : "none");
}

int box_vm_var_check(const char *kv, struct box_err *err)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
    if (!eq || klen == 0 || klen > 64 || !((kv[0] >= 'a' && kv[0] <= 'z') || kv[0] == '_') ||
        strspn(kv, "abcdefghijklmnopqrstuvwxyz0123456789_") != klen)
        return box_err_set(err, EINVAL,
                           "--var `%.80s`: expected key=value with a key of "
                           "[a-z_][a-z0-9_]*",
                           kv);
    for (size_t i = 0; i < BOX_ARRAY_SIZE(reserved); i++)
        if (strlen(reserved[i]) == klen && strncmp(reserved[i], kv, klen) == 0)
            return box_err_set(err, EINVAL, "--var `%s`: set by box vm build itself", reserved[i]);
    const char *v = eq + 1;
    if (strlen(v) > BOX_VM_VAR_VALUE_MAX)
        return box_err_set(err, EINVAL, "--var `%.*s`: value longer than %u bytes", (int)klen, kv,
                           BOX_VM_VAR_VALUE_MAX);
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            return box_err_set(err, EINVAL,
                               "--var `%.*s`: value has a control or non-ASCII "
                               "byte",
                               (int)klen, kv);
    if (klen == 6 && strncmp(kv, "distro", 6) == 0 && strcmp(v, "debian") && strcmp(v, "ubuntu"))
        return box_err_set(err, EINVAL, "--var distro: `%.40s` is not debian or ubuntu", v);
    return 0;
}

static const char *pick_distro(const struct box_vm_build_opts *o)
{
    for (size_t i = 0; i < o->nvars; i++)
        if (strncmp(o->vars[i], "distro=", 7) == 0)
            return o->vars[i] + 7;
    for (size_t i = 0; i < BOX_ARRAY_SIZE(default_distro); i++)
        if (strcmp(default_distro[i].template_name, o->template_name) == 0)
            return default_distro[i].distro;
    return "debian";
}

struct job {
    const struct box_vm_build_opts *o;
    const char *distro;
    char work[PATH_MAX], base[PATH_MAX], name[256];
    char base_sha[65], password[SIDE_MAX];
    unsigned long deadline;
};

/* SIGINT/SIGTERM that arrived between two tools (the caller keeps them
 * blocked; spawn.c reads them while a tool runs). */
static int interrupted(struct box_err *err)
{
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigpending(&pending) < 0 ||
        (!sigismember(&pending, SIGINT) && !sigismember(&pending, SIGTERM)))
        return 0;
    struct timespec zero = {0, 0};
    sigtimedwait(&set, NULL, &zero);
    return box_err_set(err, EINTR, "interrupted");
}

static unsigned remaining_ms(const struct job *j, struct box_err *err, int *r)
{
    unsigned long t = now_ms();
    if (t >= j->deadline) {
        *r = box_err_set(err, ETIMEDOUT, "build of `%s`: timed out after %u s", j->o->template_name,
                         j->o->timeout_s);
        return 0;
    }
    return (unsigned)(j->deadline - t);
}

/* Runs a tool to completion; any end but a zero exit is an error that
 * carries the tail of its output. */
static int run_tool(struct job *j, const char *what, const char *const *argv,
                    const char *const *env, unsigned long *ms, struct box_err *err)
{
    int r = 0;
    unsigned left = remaining_ms(j, err, &r);
    if (r < 0)
        return r;
    struct box_vm_spawn_opts so = {.argv = argv,
                                   .env = env,
                                   .cwd = j->work,
                                   .timeout_ms = left,
                                   .grace_ms = 10000,
                                   .capture_max = 256 * 1024,
                                   .tee_fd = j->o->log_fd};
    struct box_vm_spawn_result sr;
    r = box_vm_spawn_run(&so, &sr, err);
    if (r < 0)
        return box_err_prefix(err, "%s", what);
    if (ms)
        *ms = sr.elapsed_ms;
    if (sr.end != BOX_VM_SPAWN_EXITED || sr.status != 0) {
        char how[160];
        box_vm_spawn_describe(&sr, left, how, sizeof(how));
        int code = sr.end == BOX_VM_SPAWN_INTERRUPTED ? EINTR
                   : sr.end == BOX_VM_SPAWN_TIMED_OUT ? ETIMEDOUT
                                                      : EIO;
        r = box_err_set(err, code, "%s: %s; last output:\n%.1500s", what, how,
                        box_vm_spawn_tail(&sr, TAIL_LINES));
    }
    box_vm_spawn_result_free(&sr);
    return r;
}

/* Reads "<base><suffix>": one line, of the characters in `allowed`. */
static int read_side(const char *base, const char *suffix, const char *allowed, char *out,
                     size_t size, struct box_err *err)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s%s", base, suffix);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r = box_read_file(AT_FDCWD, path, SIDE_MAX, &text, &len, err);
    if (r < 0)
        return box_err_prefix(err, "base image");
    size_t n = strspn(text, allowed);
    if (n == 0 || n >= size || (text[n] && !strchr(" \n", text[n])))
        return box_err_set(err, EINVAL, "`%s`: not in the expected format", path);
    memcpy(out, text, n);
    out[n] = '\0';
    return 0;
}

static int ensure_base(struct job *j, struct box_vm_build_result *res, struct box_err *err)
{
    const struct box_vm_build_opts *o = j->o;
    if (o->base_image)
        snprintf(j->base, sizeof(j->base), "%s", o->base_image);
    else
        snprintf(j->base, sizeof(j->base), "%s/base-%s.img", o->output_dir, j->distro);
    if (access(j->base, R_OK) != 0) {
        if (o->base_image)
            return box_err_sys(err, errno, "base image `%s`", j->base);
        char script[PATH_MAX];
        snprintf(script, sizeof(script), "%s/base/build-base.sh", o->templates_dir);
        const char *argv[] = {script, "--distro", j->distro, "--output", j->base, NULL};
        int r = run_tool(j, "build-base.sh", argv, NULL, &res->base_ms, err);
        if (r < 0)
            return r;
        res->base_built = true;
    }
    int r =
        read_side(j->base, ".sha256", "0123456789abcdef", j->base_sha, sizeof(j->base_sha), err);
    if (r >= 0 && strlen(j->base_sha) != 64)
        r = box_err_set(err, EINVAL, "`%s.sha256`: not a SHA-256", j->base);
    if (r >= 0)
        r = read_side(j->base, ".build-password", "0123456789abcdef", j->password,
                      sizeof(j->password), err);
    return r;
}

/* A failed build keeps the guest's console next to where the image would
 * have gone: the one diagnostic the packer output does not show. */
static void keep_serial_log(struct job *j, struct box_vm_build_result *res)
{
    char from[PATH_MAX + 16];
    snprintf(from, sizeof(from), "%s/serial.log", j->work);
    snprintf(res->serial_log, sizeof(res->serial_log), "%s/%s.serial.log", j->o->output_dir,
             j->name);
    if (rename(from, res->serial_log) != 0)
        res->serial_log[0] = '\0';
}

static int run_packer(struct job *j, struct box_vm_build_result *res, struct box_err *err)
{
    const struct box_vm_build_opts *o = j->o;
    char tmpl[PATH_MAX], a_base[PATH_MAX + 16], a_sha[96], a_out[PATH_MAX + 24], a_name[300],
        a_facts[PATH_MAX + 24], a_distro[32], a_serial[PATH_MAX + 24], env_pw[SIDE_MAX + 32],
        env_cache[PATH_MAX + 32];
    snprintf(tmpl, sizeof(tmpl), "%s/%s.pkr.hcl", o->templates_dir, o->template_name);
    snprintf(a_base, sizeof(a_base), "base_image=%s", j->base);
    /* Checked by verify_base() already. */
    snprintf(a_sha, sizeof(a_sha), "base_image_checksum=none");
    snprintf(a_out, sizeof(a_out), "output_directory=%s/out", j->work);
    snprintf(a_name, sizeof(a_name), "vm_name=%s", j->name);
    snprintf(a_facts, sizeof(a_facts), "facts_file=%s/facts.env", j->work);
    snprintf(a_distro, sizeof(a_distro), "distro=%s", j->distro);
    snprintf(a_serial, sizeof(a_serial), "serial_log=%s/serial.log", j->work);
    /* The password travels in the environment, never on a command line. */
    snprintf(env_pw, sizeof(env_pw), "PKR_VAR_build_password=%s", j->password);
    snprintf(env_cache, sizeof(env_cache), "PACKER_CACHE_DIR=%s/cache", j->work);
    const char *env[] = {env_pw, env_cache, "CHECKPOINT_DISABLE=1", NULL};
    const char *argv[16 + 2 * BOX_VM_VARS_MAX] = {o->packer ? o->packer : "packer", "build",
                                                  "-color=false"};
    size_t n = 3;
    const char *fixed[] = {a_base, a_sha, a_out, a_name, a_facts, a_distro, a_serial};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(fixed); i++) {
        argv[n++] = "-var";
        argv[n++] = fixed[i];
    }
    for (size_t i = 0; i < o->nvars; i++) {
        if (strncmp(o->vars[i], "distro=", 7) == 0)
            continue;
        argv[n++] = "-var";
        argv[n++] = o->vars[i];
    }
    argv[n++] = tmpl;
    argv[n] = NULL;
    int r = run_tool(j, "packer build", argv, env, &res->packer_ms, err);
    explicit_bzero(env_pw, sizeof(env_pw));
    if (r < 0)
        keep_serial_log(j, res);
    return r;
}

/* qemu-img must see a raw image of exactly the file's size. */
static int check_qemu_img(struct job *j, const char *image, uint64_t size, struct box_err *err)
{
    const char *argv[] = {"qemu-img", "info", "--output=json", image, NULL};
    int r = 0;
    unsigned left = remaining_ms(j, err, &r);
    if (r < 0)
        return r;
    struct box_vm_spawn_opts so = {.argv = argv,
                                   .timeout_ms = left < 60000 ? left : 60000,
                                   .capture_max = QEMU_IMG_MAX,
                                   .tee_fd = -1};
    struct box_vm_spawn_result sr;
    r = box_vm_spawn_run(&so, &sr, err);
    if (r < 0)
        return box_err_prefix(err, "qemu-img info");
    json_t *info = NULL;
    if (sr.end == BOX_VM_SPAWN_EXITED && sr.status == 0 && !sr.truncated)
        info = json_loadb(sr.output, sr.len, 0, NULL);
    const char *fmt = json_string_value(json_object_get(info, "format"));
    json_int_t vsize = json_integer_value(json_object_get(info, "virtual-size"));
    if (!info)
        r = box_err_set(err, EIO, "qemu-img info `%s`: no JSON answer: %.300s", image,
                        box_vm_spawn_tail(&sr, 3));
    else if (!fmt || strcmp(fmt, "raw") != 0)
        r = box_err_set(err, EINVAL, "`%s`: qemu-img says format `%s`, not raw", image,
                        fmt ? fmt : "?");
    else if ((uint64_t)vsize != size)
        r = box_err_set(err, EINVAL, "`%s`: virtual size %lld differs from the file size %llu",
                        image, (long long)vsize, (unsigned long long)size);
    json_decref(info);
    box_vm_spawn_result_free(&sr);
    return r;
}

static int hash_file(const char *path, char hex[65], uint64_t *size, struct box_err *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return box_err_sys(err, errno, "open `%s`", path);
    unsigned char d[BOX_SHA256_LEN];
    int r = box_sha256_file(fd, d, size, err);
    if (r < 0)
        return box_err_prefix(err, "`%s`", path);
    for (size_t i = 0; i < BOX_SHA256_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

/* The base image is checked here, with OpenSSL, rather than by packer,
 * whose own hashing of a multi-GiB file takes minutes on a busy machine. */
static int verify_base(struct job *j, struct box_err *err)
{
    char got[65];
    uint64_t size;
    int r = hash_file(j->base, got, &size, err);
    if (r < 0)
        return box_err_prefix(err, "base image");
    if (strcmp(got, j->base_sha) != 0)
        return box_err_set(err, EINVAL, "base image `%s`: sha256 %s, but `%s.sha256` says %s",
                           j->base, got, j->base, j->base_sha);
    return 0;
}

static int check_image(struct job *j, const char *image, struct box_vm_build_result *res,
                       struct box_err *err)
{
    _cleanup_close_ int fd = open(image, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return box_err_sys(err, errno, "packer left no image at `%s`", image);
    struct box_vm_disk_info info;
    int r = box_vm_disk_check(fd, &info, err);
    if (r < 0)
        return box_err_prefix(err, "built image `%s`", image);
    r = check_qemu_img(j, image, info.size, err);
    if (r < 0)
        return r;
    return hash_file(image, res->sha256, &res->size, err);
}

static int write_side_files(struct job *j, struct box_vm_build_result *res, struct box_err *err)
{
    char report_path[PATH_MAX + 16];
    snprintf(report_path, sizeof(report_path), "%s/facts.env", j->work);
    _cleanup_free_ char *report = NULL;
    size_t len = 0;
    int r = box_read_file(AT_FDCWD, report_path, BOX_VM_FACTS_REPORT_MAX, &report, &len, err);
    if (r < 0)
        return box_err_prefix(err, "the guest's facts report");
    struct box_vm_facts_host host = {.image = j->name,
                                     .sha256 = res->sha256,
                                     .size = res->size,
                                     .template = j->o->template_name,
                                     .built_at = time(NULL)};
    json_t *facts = NULL;
    r = box_vm_facts_build(report, len, &host, &facts, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *text = json_dumps(facts, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(facts);
    if (!text)
        return box_err_set(err, ENOMEM, "facts JSON");
    size_t tlen = strlen(text);
    char line[PATH_MAX];
    int n = snprintf(line, sizeof(line), "%s  %s\n", res->sha256, j->name);
    _cleanup_close_ int dir = open(j->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return box_err_sys(err, errno, "open `%s`", j->work);
    text[tlen] = '\n';
    r = box_write_file_atomic(dir, "facts.json", text, tlen + 1, 0644, err);
    if (r >= 0)
        r = box_write_file_atomic(dir, "sha256", line, (size_t)n, 0644, err);
    return r;
}

/* Moves image, sha256 and facts into the output directory, in that order;
 * if a later move fails, the earlier ones are undone. */
static int place(struct job *j, struct box_vm_build_result *res, struct box_err *err)
{
    const char *out = j->o->output_dir;
    char from[3][PATH_MAX + 300];
    snprintf(from[0], sizeof(from[0]), "%s/out/%s", j->work, j->name);
    snprintf(from[1], sizeof(from[1]), "%s/sha256", j->work);
    snprintf(from[2], sizeof(from[2]), "%s/facts.json", j->work);
    snprintf(res->image, sizeof(res->image), "%s/%s", out, j->name);
    snprintf(res->sha256_file, sizeof(res->sha256_file), "%s/%s.sha256", out, j->name);
    snprintf(res->facts_file, sizeof(res->facts_file), "%s/%s.facts.json", out, j->name);
    const char *to[3] = {res->image, res->sha256_file, res->facts_file};
    for (int i = 0; i < 3; i++) {
        if (rename(from[i], to[i]) == 0)
            continue;
        int e = errno;
        while (--i >= 0)
            unlink(to[i]);
        return box_err_sys(err, e, "move the image into `%s`", out);
    }
    return 0;
}

static int make_work(struct job *j, struct box_err *err)
{
    const struct box_vm_build_opts *o = j->o;
    int r = box_mkdir_p(o->output_dir, 0755, err);
    if (r < 0)
        return r;
    snprintf(j->work, sizeof(j->work), "%s/.build-%s.XXXXXX", o->output_dir, o->template_name);
    if (!mkdtemp(j->work))
        return box_err_sys(err, errno, "create a work directory in `%s`", o->output_dir);
    const char *os_tag = strcmp(j->distro, "ubuntu") == 0 ? "ubuntu2204" : "debian12";
    if (o->image_name)
        snprintf(j->name, sizeof(j->name), "%s", o->image_name);
    else
        snprintf(j->name, sizeof(j->name), "%s-%s.raw", o->template_name, os_tag);
    return 0;
}

int box_vm_build(const struct box_vm_build_opts *o, struct box_vm_build_result *res,
                 struct box_err *err)
{
    memset(res, 0, sizeof(*res));
    int r = box_vm_template_check(o->templates_dir, o->template_name, err);
    for (size_t i = 0; r >= 0 && i < o->nvars; i++)
        r = box_vm_var_check(o->vars[i], err);
    if (r < 0)
        return r;
    if (o->image_name &&
        (strchr(o->image_name, '/') || o->image_name[0] == '.' || strlen(o->image_name) > 200))
        return box_err_set(err, EINVAL, "--name `%.80s`: a file name, not a path", o->image_name);
    struct job j = {.o = o, .distro = pick_distro(o)};
    unsigned long start = now_ms();
    j.deadline = start + (o->timeout_s ? o->timeout_s : 3600) * 1000ul;
    r = make_work(&j, err);
    if (r < 0)
        return r;
    r = ensure_base(&j, res, err);
    if (r >= 0)
        r = verify_base(&j, err);
    if (r >= 0)
        r = interrupted(err);
    if (r >= 0)
        r = run_packer(&j, res, err);
    explicit_bzero(j.password, sizeof(j.password));
    char image[PATH_MAX + 300];
    snprintf(image, sizeof(image), "%s/out/%s", j.work, j.name);
    if (r >= 0)
        r = check_image(&j, image, res, err);
    if (r >= 0)
        r = write_side_files(&j, res, err);
    if (r >= 0)
        r = interrupted(err);
    if (r >= 0)
        r = place(&j, res, err);
    box_remove_tree(AT_FDCWD, j.work);
    res->total_ms = now_ms() - start;
    return r;
}
