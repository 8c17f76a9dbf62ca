/* box: the OCI runtime's front door. Global options, then one verb. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "cli/cli.h"

static const char usage[] =
    "box: a fast, secure OCI runtime for GPU sandboxes\n"
    "\n"
    "usage: box [global options] COMMAND [options] ARGS\n"
    "\n"
    "commands:\n"
    "  create    create a container from a bundle (it waits for start)\n"
    "  start     run the user program of a created container\n"
    "  state     print the state of a container as JSON\n"
    "  kill      send a signal to a container's init (or all its processes)\n"
    "  delete    delete a container and everything it holds\n"
    "  run       create and start a container\n"
    "  exec      run a new process in a running container\n"
    "  pause     freeze every process of a container\n"
    "  resume    thaw a paused container\n"
    "  ps        list a container's processes\n"
    "  update    change a container's resource limits\n"
    "  events    a container's resource usage and OOM kills, as JSON lines\n"
    "  list      list containers\n"
    "  spec      write a default config.json\n"
    "  features  print the runtime's features as JSON\n"
    "  cdi       CDI devices: list, validate, inject, generate\n"
    "  hook      createContainer hooks named by generated CDI specs\n"
    "  bundle    GPU runtime bundle tarballs (box-bundle)\n"
    "  image     GPU validation images: build, manifest, publish (box-image)\n"
    "  validate  run GPU validation images and check their verdicts (box-validate)\n"
    "  vm        GPU VM images: build, check, smoke; the region API (box-vm)\n"
    "\n"
    "global options:\n"
    "  --root DIR             state directory (default /run/box)\n"
    "  --log FILE             also write errors to FILE\n"
    "  --log-format text|json format of --log lines\n"
    "  --debug                more detail in errors\n"
    "  --systemd-cgroup       use systemd to manage cgroups (not supported)\n"
    "  -v, --version          print the version\n"
    "  -h, --help             print this help\n";

static const struct {
    const char *name;
    int (*fn)(struct box_cli *, int, char **);
} commands[] = {
    {"create", box_cmd_create}, {"start", box_cmd_start},   {"state", box_cmd_state},
    {"kill", box_cmd_kill},     {"delete", box_cmd_delete}, {"run", box_cmd_run},
    {"exec", box_cmd_exec},     {"pause", box_cmd_pause},   {"resume", box_cmd_resume},
    {"ps", box_cmd_ps},         {"update", box_cmd_update}, {"list", box_cmd_list},
    {"ps-list", box_cmd_list},  {"spec", box_cmd_spec},     {"features", box_cmd_features},
    {"events", box_cmd_events}, {"cdi", box_cmd_cdi},       {"hook", box_cmd_hook},
};

/* Verbs that need heavy libraries live in separate executables beside box
 * (box-bundle, box-vm, ...), so that starting a container never loads them. */
static int hand_over(const char *verb, int argc, char **argv)
{
    char self[PATH_MAX], tool[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0) {
        perror("box: find own executable");
        return 1;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    snprintf(tool, sizeof(tool), "%s/box-%s", self, verb);
    argv[0] = tool;
    execv(tool, argv);
    fprintf(stderr, "box: %s: cannot run `%s`: %s\n", verb, tool, strerror(errno));
    (void)argc;
    return 1;
}

static void print_version(void)
{
    const struct scmp_version *v = seccomp_version();
    printf("box version %s\nspec: 1.2.0\nlibseccomp: %u.%u.%u\n", BOX_VERSION, v->major, v->minor,
           v->micro);
}

int main(int argc, char **argv)
{
    struct box_cli cli = {.root = "/run/box", .argv0 = argv[0]};
    /* Rootless: state lives in the user's runtime directory. */
    char user_root[PATH_MAX];
    if (geteuid() != 0) {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (xdg && *xdg)
            snprintf(user_root, sizeof(user_root), "%s/box", xdg);
        else
            snprintf(user_root, sizeof(user_root), "/tmp/box-%u", (unsigned)geteuid());
        cli.root = user_root;
    }
    static const struct option opts[] = {
        {"root", required_argument, 0, 'r'},
        {"log", required_argument, 0, 'l'},
        {"log-format", required_argument, 0, 'f'},
        {"debug", no_argument, 0, 'd'},
        {"systemd-cgroup", no_argument, 0, 's'},
        {"rootless", required_argument, 0, 'R'},
        {"criu", required_argument, 0, 'C'},
        {"version", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            cli.root = optarg;
            break;
        case 'l':
            cli.log_path = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
                return box_cli_fail(&cli, "--log-format: `%s` is not text or json", optarg);
            cli.log_json = strcmp(optarg, "json") == 0;
            break;
        case 'd':
            cli.debug = true;
            break;
        case 's':
            cli.systemd_cgroup = true;
            break;
        case 'R':
        case 'C':
            break; /* accepted for runc compatibility; no effect */
        case 'v':
            print_version();
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            return box_cli_fail(&cli, "unknown global option `%s` (see `box --help`)",
                                argv[optind - 1]);
        }
    }
    box_cli_set_log(&cli);
    if (!*cli.root)
        return box_cli_fail(&cli, "--root must not be empty");
    if (optind >= argc) {
        fputs(usage, stderr);
        return 1;
    }
    const char *verb = argv[optind];
    if (strcmp(verb, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(verb, "version") == 0) {
        print_version();
        return 0;
    }
    if (strcmp(verb, "bundle") == 0 || strcmp(verb, "image") == 0 ||
        strcmp(verb, "validate") == 0 || strcmp(verb, "vm") == 0)
        return hand_over(verb, argc - optind, argv + optind);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(verb, commands[i].name) == 0) {
            optind++;
            int sub_argc = argc - optind + 1;
            char **sub_argv = argv + optind - 1;
            optind = 0; /* reset getopt for the verb */
            return commands[i].fn(&cli, sub_argc, sub_argv);
        }
    }
    return box_cli_fail(&cli, "unknown command `%s` (see `box --help`)", verb);
}
