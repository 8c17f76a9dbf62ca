/* spec: a default config.json like runc's, and features: what box supports. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/base/fs.h"
#include "lib/runtime/seccomp.h"
#include "lib/runtime/spec.h"

static const char default_spec[] =
    "{\"ociVersion\":\"1.2.0\","
    "\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
    "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
    "\"TERM=xterm\"],\"cwd\":\"/\","
    "\"capabilities\":{"
    "\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
    "\"noNewPrivileges\":true},"
    "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
    "\"hostname\":\"box\","
    "\"mounts\":["
    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
    "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
    "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\","
    "\"gid=5\"]},"
    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
    "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],"
    "\"linux\":{"
    "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
    "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},"
    "{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"}],"
    "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\","
    "\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\","
    "\"/sys/firmware\",\"/proc/scsi\"],"
    "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\","
    "\"/proc/sysrq-trigger\"]}}";

/* --rootless: a user namespace mapping the caller, no device cgroup rules,
 * sysfs bound from the host (cf. runc spec --rootless). */
static void make_rootless(json_t *doc)
{
    json_t *lx = json_object_get(doc, "linux");
    json_object_del(lx, "resources");
    json_t *ns = json_object_get(lx, "namespaces");
    json_array_clear(ns);
    const char *types[] = {"pid", "ipc", "uts", "mount", "user", "cgroup"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        json_array_append_new(ns, json_pack("{s:s}", "type", types[i]));
    json_object_set_new(
        lx, "uidMappings",
        json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", (int)getuid(), "size", 1));
    json_object_set_new(
        lx, "gidMappings",
        json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", (int)getgid(), "size", 1));
    json_t *mounts = json_object_get(doc, "mounts");
    size_t i;
    json_t *m;
    json_array_foreach(mounts, i, m)
    {
        const char *dest = json_string_value(json_object_get(m, "destination"));
        if (strcmp(dest, "/sys") == 0) {
            json_array_set_new(mounts, i,
                               json_pack("{s:s,s:s,s:s,s:[s,s,s,s,s]}", "destination", "/sys",
                                         "type", "none", "source", "/sys", "options", "rbind",
                                         "nosuid", "noexec", "nodev", "ro"));
        } else if (strcmp(dest, "/dev/pts") == 0) {
            json_t *opts = json_object_get(m, "options");
            json_array_remove(opts, json_array_size(opts) - 1); /* gid=5 */
        }
    }
    /* /sys/fs/cgroup from sysfs' rbind, and mqueue can stay. */
    json_array_remove(mounts, json_array_size(mounts) - 1);
}

int box_cmd_spec(struct box_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"bundle", required_argument, 0, 'b'},
                                         {"rootless", no_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *bundle = ".";
    bool rootless = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
        if (c == 'b') {
            bundle = optarg;
        } else if (c == 'r') {
            rootless = true;
        } else if (c == 'h') {
            fputs("usage: box spec [--rootless] [--bundle DIR]\n", stdout);
            return 0;
        } else {
            return box_cli_usage(cli, "spec", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return box_cli_usage(cli, "spec", "takes no arguments");
    json_t *doc = json_loads(default_spec, 0, NULL);
    if (rootless)
        make_rootless(doc);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    int dfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        free(text);
        return box_cli_fail(cli, "spec: bundle `%s`: %s", bundle, strerror(errno));
    }
    if (faccessat(dfd, "config.json", F_OK, 0) == 0) {
        close(dfd);
        free(text);
        return box_cli_fail(cli, "spec: `%s/config.json` already exists", bundle);
    }
    struct box_err err = {0};
    size_t len = strlen(text);
    text[len++] = '\n';
    int r = box_write_file_atomic(dfd, "config.json", text, len, 0644, &err);
    close(dfd);
    free(text);
    if (r < 0)
        return box_cli_fail_err(cli, &err);
    return 0;
}

int box_cmd_features(struct box_cli *cli, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") != 0)
        return box_cli_usage(cli, "features", "takes no arguments");
    json_t *f = json_object();
    json_object_set_new(f, "ociVersionMin", json_string("1.0.0"));
    json_object_set_new(f, "ociVersionMax", json_string("1.2.0"));
    json_t *hooks = json_array();
    for (int k = 0; k < BOX_HOOK_KINDS; k++)
        json_array_append_new(hooks, json_string(box_hook_kind_names[k]));
    json_object_set_new(f, "hooks", hooks);
    json_object_set_new(
        f, "mountOptions",
        json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]",
                  "async", "atime", "bind", "dev", "diratime", "dirsync", "exec", "lazytime",
                  "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "nolazytime",
                  "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime",
                  "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared",
                  "silent", "slave", "strictatime", "suid", "sync", "unbindable"));
    json_t *lx = json_object();
    json_object_set_new(lx, "namespaces",
                        json_pack("[s,s,s,s,s,s,s,s]", "cgroup", "ipc", "mount", "network", "pid",
                                  "time", "user", "uts"));
    json_t *caps = json_array();
    for (int c = 0; c <= BOX_CAP_LAST; c++)
        json_array_append_new(caps, json_string(box_cap_name(c)));
    json_object_set_new(lx, "capabilities", caps);
    json_object_set_new(lx, "cgroup",
                        json_pack("{s:b,s:b,s:b,s:b,s:b}", "v1", 1, "v2", 1, "systemd", 0,
                                  "systemdUser", 0, "rdma", 0));
    json_object_set_new(lx, "seccomp", box_seccomp_features());
    json_object_set_new(lx, "apparmor", json_pack("{s:b}", "enabled", 0));
    json_object_set_new(lx, "selinux", json_pack("{s:b}", "enabled", 0));
    json_object_set_new(lx, "intelRdt", json_pack("{s:b}", "enabled", 0));
    json_object_set_new(lx, "mountExtensions", json_pack("{s:{s:b}}", "idmap", "enabled", 0));
    json_object_set_new(f, "linux", lx);
    json_object_set_new(f, "annotations", json_pack("{s:s}", "io.box.version", BOX_VERSION));
    char *s = json_dumps(f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
    json_decref(f);
    return 0;
}
