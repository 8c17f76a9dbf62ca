#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/base/parse.h"
#include "lib/cdi/cdi.h"
#include "lib/runtime/container.h"

static const char create_usage[] =
    "usage: box create [options] ID\n"
    "  -b, --bundle DIR          the bundle (default: the current directory)\n"
    "      --pid-file FILE       write the init's pid to FILE\n"
    "      --console-socket SOCK send the pty master to this unix socket\n"
    "      --no-pivot            use MS_MOVE and chroot instead of pivot_root\n"
    "      --preserve-fds N      pass fds 3..3+N-1 to the program (after the\n"
    "                            LISTEN_FDS ones, when LISTEN_PID is box's pid)\n"
    "      --device NAME         add a CDI device (vendor/class=name); repeatable\n"
    "      --cdi-spec-dir DIR    search CDI specs here instead of /etc/cdi, /var/run/cdi;\n"
    "                            repeatable, a later directory wins\n";

static const char run_usage[] =
    "usage: box run [options] ID\n"
    "  -b, --bundle DIR          the bundle (default: the current directory)\n"
    "  -d, --detach              return once the program has started\n"
    "      --pid-file FILE       write the init's pid to FILE\n"
    "      --console-socket SOCK send the pty master to this unix socket\n"
    "      --no-pivot            use MS_MOVE and chroot instead of pivot_root\n"
    "      --preserve-fds N      pass fds 3..3+N-1 to the program (after the\n"
    "                            LISTEN_FDS ones, when LISTEN_PID is box's pid)\n"
    "      --device NAME         add a CDI device (vendor/class=name); repeatable\n"
    "      --cdi-spec-dir DIR    search CDI specs here instead of /etc/cdi, /var/run/cdi;\n"
    "                            repeatable, a later directory wins\n";

/* Appends a repeatable option's value to a bounded list. */
int box_cli_add_repeated(struct box_cli *cli, const char *cmd, const char *opt, const char **list,
                         size_t *n, size_t max, const char *value)
{
    if (*n == max)
        return -box_cli_usage(cli, cmd, "%s: given more than %zu times", opt, max);
    if (!*value)
        return -box_cli_usage(cli, cmd, "%s: must not be empty", opt);
    list[(*n)++] = value;
    return 0;
}

/* sd_listen_fds(3): the caller passes LISTEN_FDS descriptors from fd 3 when
 * LISTEN_PID is our pid; otherwise (unset, malformed, meant for another
 * process) there are none, and the fds are strays like any other. */
static unsigned listen_fds(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    uint64_t p, n;
    if (!pid || !fds || box_parse_u64(pid, INT_MAX, &p) < 0 || p != (uint64_t)getpid() ||
        box_parse_u64(fds, 65536, &n) < 0)
        return 0;
    return (unsigned)n;
}

int box_cli_parse_create(struct box_cli *cli, const char *cmd, int argc, char **argv,
                         struct box_create_opts *o, bool *detach)
{
    static const struct option opts[] = {
        {"bundle", required_argument, 0, 'b'},
        {"pid-file", required_argument, 0, 'p'},
        {"console-socket", required_argument, 0, 'c'},
        {"no-pivot", no_argument, 0, 'n'},
        {"preserve-fds", required_argument, 0, 'P'},
        {"detach", no_argument, 0, 'd'},
        {"no-new-keyring", no_argument, 0, 'k'},
        {"keep", no_argument, 0, 'K'},
        {"device", required_argument, 0, 'D'},
        {"cdi-spec-dir", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    /* Static: the lists outlive this call, as argv does. */
    static const char *devices[BOX_CDI_MAX_REQUESTS], *dirs[BOX_CDI_MAX_DIRS];
    bool is_run = strcmp(cmd, "run") == 0;
    int c;
    opterr = 0;
    memset(o, 0, sizeof(*o));
    o->root = cli->root;
    o->bundle = ".";
    while ((c = getopt_long(argc, argv, is_run ? "b:dh" : "b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->bundle = optarg;
            break;
        case 'p':
            o->pid_file = optarg;
            break;
        case 'c':
            o->console_socket = optarg;
            break;
        case 'n':
            o->no_pivot = true;
            break;
        case 'P': {
            uint64_t n;
            if (box_parse_u64(optarg, 65536, &n) < 0)
                return -box_cli_usage(cli, cmd,
                                      "--preserve-fds: `%s` is not a number in [0, 65536]", optarg);
            o->preserve_fds = (unsigned)n;
            break;
        }
        case 'd':
            if (!is_run)
                return -box_cli_usage(cli, cmd, "unknown option `--detach`");
            *detach = true;
            break;
        case 'D':
            if (box_cli_add_repeated(cli, cmd, "--device", devices, &o->n_cdi_devices,
                                     BOX_CDI_MAX_REQUESTS, optarg) < 0)
                return -1;
            o->cdi_devices = devices;
            break;
        case 'S':
            if (box_cli_add_repeated(cli, cmd, "--cdi-spec-dir", dirs, &o->n_cdi_spec_dirs,
                                     BOX_CDI_MAX_DIRS, optarg) < 0)
                return -1;
            o->cdi_spec_dirs = dirs;
            break;
        case 'k':
        case 'K':
            break;
        case 'h':
            fputs(is_run ? run_usage : create_usage, stdout);
            return 1;
        default:
            return -box_cli_usage(cli, cmd, "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return -box_cli_usage(cli, cmd, "expects exactly one container id");
    o->id = argv[optind];
    o->listen_fds = listen_fds();
    if (cli->systemd_cgroup)
        return -box_cli_fail(cli, "--systemd-cgroup: the systemd cgroup driver is not supported; "
                                  "use cgroupfs");
    return 0;
}

int box_cmd_create(struct box_cli *cli, int argc, char **argv)
{
    struct box_create_opts o;
    bool detach = false;
    int r = box_cli_parse_create(cli, "create", argc, argv, &o, &detach);
    if (r != 0)
        return r > 0 ? 0 : -r;
    struct box_err err = {0};
    if (box_container_create(&o, NULL, &err) < 0)
        return box_cli_fail_err(cli, &err);
    return 0;
}
