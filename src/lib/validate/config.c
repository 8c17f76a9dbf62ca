#include "lib/validate/config.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/parse.h"
#include "lib/base/resolve.h"

#define DB_MAX      (1u << 20) /* /etc/passwd, /etc/group */
#define ID_MAX      4294967294ull
#define DEFAULT_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Reads a file of the image through the in-root resolver; *text is NULL
 * when the file does not exist. */
static int read_in_root(int rootfs_fd, const char *path, char **text, struct box_err *err)
{
    *text = NULL;
    struct box_err e2 = {0};
    _cleanup_close_ int fd = box_root_open(rootfs_fd, path, O_RDONLY | O_NOCTTY, &e2);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return box_err_sys(err, -fd, "image file `%s`", path);
    size_t len;
    int r = box_read_fd(fd, DB_MAX, text, &len);
    if (r < 0)
        return box_err_sys(err, -r, "image file `%s` (at most %u bytes)", path, DB_MAX);
    return 0;
}

/* Finds the entry whose field 0 (name) or field 2 (id) equals key; copies
 * up to 7 fields. */
static bool db_find(char *text, const char *key, bool by_id, char *fields[7])
{
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        size_t n = 0;
        char *p = line;
        while (n < 7) {
            fields[n++] = p;
            p = strchr(p, ':');
            if (!p)
                break;
            *p++ = '\0';
        }
        if (n < 4)
            continue;
        for (size_t i = n; i < 7; i++)
            fields[i] = "";
        if (strcmp(fields[by_id ? 2 : 0], key) == 0)
            return true;
    }
    return false;
}

static int lookup(int rootfs_fd, const char *db, const char *key, bool by_id, uint32_t *id,
                  uint32_t *gid, char *home, size_t home_size, struct box_err *err)
{
    _cleanup_free_ char *text = NULL;
    int r = read_in_root(rootfs_fd, db, &text, err);
    if (r < 0)
        return r;
    char *f[7];
    if (!text || !db_find(text, key, by_id, f))
        return -ENOENT;
    uint64_t v;
    if (box_parse_u64(f[2], ID_MAX, &v) < 0)
        return box_err_set(err, EINVAL, "image file `%s`: entry `%.64s` has a bad id", db, key);
    *id = (uint32_t)v;
    if (gid && box_parse_u64(f[3], ID_MAX, &v) < 0)
        return box_err_set(err, EINVAL, "image file `%s`: entry `%.64s` has a bad group id", db,
                           key);
    if (gid)
        *gid = (uint32_t)v;
    if (home)
        snprintf(home, home_size, "%s", f[5][0] == '/' ? f[5] : "/");
    return 0;
}

static bool numeric(const char *s, uint32_t *out)
{
    uint64_t v;
    if (box_parse_u64(s, ID_MAX, &v) < 0)
        return false;
    *out = (uint32_t)v;
    return true;
}

int box_validate_user(int rootfs_fd, const char *spec, struct box_user *u, struct box_err *err)
{
    memset(u, 0, sizeof(*u));
    strcpy(u->home, "/");
    if (!spec || !*spec)
        return 0;
    char buf[512];
    if (strlen(spec) >= sizeof(buf))
        return box_err_set(err, EINVAL, "config.User: longer than %zu bytes", sizeof(buf) - 1);
    strcpy(buf, spec);
    char *group = strchr(buf, ':');
    if (group)
        *group++ = '\0';
    bool num = numeric(buf, &u->uid);
    char key[24];
    if (num)
        snprintf(key, sizeof(key), "%u", u->uid);
    int r = lookup(rootfs_fd, "/etc/passwd", num ? key : buf, num, &u->uid, &u->gid, u->home,
                   sizeof(u->home), err);
    if (r == -ENOENT && !num)
        return box_err_set(err, ENOENT, "config.User: no user `%.64s` in the image's /etc/passwd",
                           buf);
    if (r < 0 && r != -ENOENT)
        return r;
    if (!group)
        return 0;
    if (!*group)
        return box_err_set(err, EINVAL, "config.User: `%.64s`: empty group", spec);
    if (numeric(group, &u->gid))
        return 0;
    r = lookup(rootfs_fd, "/etc/group", group, false, &u->gid, NULL, NULL, 0, err);
    if (r == -ENOENT)
        return box_err_set(err, ENOENT, "config.User: no group `%.64s` in the image's /etc/group",
                           group);
    return r;
}

static json_t *strv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static bool env_has(const struct box_oci_image *img, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < img->nenv; i++)
        if (strncmp(img->env[i], name, n) == 0 && img->env[i][n] == '=')
            return true;
    return false;
}

static int process_json(const struct box_oci_image *img, char *const *command,
                        const struct box_user *u, json_t **out, struct box_err *err)
{
    json_t *args = json_array();
    if (command) {
        json_decref(args);
        args = strv_json(command);
    } else {
        for (size_t i = 0; i < img->nentrypoint; i++)
            json_array_append_new(args, json_string(img->entrypoint[i]));
        for (size_t i = 0; i < img->ncmd; i++)
            json_array_append_new(args, json_string(img->cmd[i]));
    }
    if (json_array_size(args) == 0) {
        json_decref(args);
        return box_err_set(err, EINVAL,
                           "the image has no Entrypoint or Cmd and the workload "
                           "names no command");
    }
    json_t *env = json_array();
    for (size_t i = 0; i < img->nenv; i++)
        json_array_append_new(env, json_string(img->env[i]));
    if (!env_has(img, "PATH"))
        json_array_append_new(env, json_string(DEFAULT_ENV));
    if (!env_has(img, "HOME"))
        json_array_append_new(env, json_pack("s++", "HOME", "=", u->home));
    char cwd[4200];
    const char *wd = img->workdir ? img->workdir : "/";
    snprintf(cwd, sizeof(cwd), "%s%s", wd[0] == '/' ? "" : "/", wd);
    /* No capabilities: a validation workload needs none. */
    *out = json_pack("{s:b,s:{s:I,s:I},s:o,s:o,s:s,s:{s:[],s:[],s:[]},s:[{s:s,s:i,s:i}],s:b}",
                     "terminal", 0, "user", "uid", (json_int_t)u->uid, "gid", (json_int_t)u->gid,
                     "args", args, "env", env, "cwd", cwd, "capabilities", "bounding", "effective",
                     "permitted", "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024,
                     "noNewPrivileges", 1);
    return *out ? 0 : box_err_set(err, ENOMEM, "config.json");
}

static json_t *mount_json(const char *dest, const char *type, const char *src, const char *opts)
{
    json_t *o = json_array();
    _cleanup_free_ char *copy = strdup(opts);
    for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
         t = strtok_r(NULL, ",", &save))
        json_array_append_new(o, json_string(t));
    return json_pack("{s:s,s:s,s:s,s:o}", "destination", dest, "type", type, "source", src,
                     "options", o);
}

static json_t *mounts_json(void)
{
    json_t *m = json_array();
    json_array_append_new(
        m, json_pack("{s:s,s:s,s:s}", "destination", "/proc", "type", "proc", "source", "proc"));
    json_array_append_new(
        m, mount_json("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
    json_array_append_new(m, mount_json("/dev/pts", "devpts", "devpts",
                                        "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"));
    json_array_append_new(
        m, mount_json("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
    json_array_append_new(m, mount_json("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
    json_array_append_new(m, mount_json("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
    json_array_append_new(
        m, mount_json("/tmp", "tmpfs", "tmpfs", "nosuid,nodev,mode=1777,size=65536k"));
    return m;
}

static json_t *linux_json(void)
{
    static const char *masked[] = {"/proc/acpi",
                                   "/proc/asound",
                                   "/proc/kcore",
                                   "/proc/keys",
                                   "/proc/latency_stats",
                                   "/proc/timer_list",
                                   "/proc/timer_stats",
                                   "/proc/sched_debug",
                                   "/sys/firmware",
                                   "/proc/scsi",
                                   NULL};
    static const char *ro[] = {"/proc/bus",           "/proc/fs", "/proc/irq", "/proc/sys",
                               "/proc/sysrq-trigger", NULL};
    json_t *ns = json_array();
    static const char *types[] = {"pid", "network", "ipc", "uts", "mount", "cgroup"};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(types); i++)
        json_array_append_new(ns, json_pack("{s:s}", "type", types[i]));
    return json_pack("{s:{s:[{s:b,s:s}]},s:o,s:o,s:o}", "resources", "devices", "allow", 0,
                     "access", "rwm", "namespaces", ns, "maskedPaths",
                     strv_json((char *const *)masked), "readonlyPaths",
                     strv_json((char *const *)ro));
}

static int mountpoints(int rootfs_fd, struct box_err *err)
{
    static const char *dirs[] = {"/proc", "/dev", "/sys", "/tmp"};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(dirs); i++) {
        int fd = box_root_mkdirs(rootfs_fd, dirs[i], 0755, err);
        if (fd < 0)
            return box_err_prefix(err, "mount point `%s` in the image", dirs[i]);
        close(fd);
    }
    return 0;
}

int box_validate_config(int bundle_fd, int rootfs_fd, const struct box_oci_image *img,
                        char *const *command, const char *hostname, struct box_err *err)
{
    struct box_user u;
    int r = box_validate_user(rootfs_fd, img->user, &u, err);
    if (r < 0)
        return r;
    if ((r = mountpoints(rootfs_fd, err)) < 0)
        return r;
    json_t *proc = NULL;
    if ((r = process_json(img, command, &u, &proc, err)) < 0)
        return r;
    json_t *doc = json_pack("{s:s,s:o,s:{s:s,s:b},s:s,s:o,s:o}", "ociVersion", "1.0.2", "process",
                            proc, "root", "path", "rootfs", "readonly", 1, "hostname", hostname,
                            "mounts", mounts_json(), "linux", linux_json());
    if (!doc)
        return box_err_set(err, ENOMEM, "config.json");
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!text)
        return box_err_set(err, ENOMEM, "config.json");
    r = box_write_file_atomic(bundle_fd, "config.json", text, strlen(text), 0644, err);
    free(text);
    return r;
}
