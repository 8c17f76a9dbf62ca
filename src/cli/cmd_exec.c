#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/base/parse.h"
#include "lib/runtime/container.h"
#include "lib/runtime/spec.h"

static const char exec_usage[] =
    "usage: box exec [options] ID [COMMAND [ARGS...]]\n"
    "  -p, --process FILE        the process as an OCI process JSON object\n"
    "  -t, --tty                 allocate a pty (needs --console-socket)\n"
    "      --console-socket SOCK send the pty master to this unix socket\n"
    "      --cwd DIR             working directory inside the container\n"
    "  -e, --env K=V             add to the environment (repeatable)\n"
    "  -u, --user UID[:GID]      run as this user\n"
    "  -g, --additional-gids G   supplementary group (repeatable)\n"
    "  -c, --cap CAP             add a capability (repeatable)\n"
    "  -d, --detach              return once the program has started\n"
    "      --pid-file FILE       write the process's pid to FILE\n"
    "      --preserve-fds N      pass fds 3..3+N-1 to the program\n"
    "      --no-new-privs        set no_new_privs\n"
    "exit status: the process's (128+N when killed by signal N); 255 when box fails\n";

/* Appends s to a NULL-terminated vector. */
static int push(char ***v, size_t *n, char *s)
{
    char **nv = realloc(*v, (*n + 2) * sizeof(char *));
    if (!nv)
        return -1;
    nv[(*n)++] = s;
    nv[*n] = NULL;
    *v = nv;
    return 0;
}

static int parse_opt(struct box_cli *cli, int c, struct box_exec_opts *o, size_t *n_env,
                     size_t *n_caps)
{
    uint64_t v;
    bool has_gid;
    uint32_t g, unused;
    switch (c) {
    case 'p':
        o->process_file = optarg;
        return 0;
    case 't':
        o->tty = true;
        return 0;
    case 'C':
        o->console_socket = optarg;
        return 0;
    case 'w':
        o->cwd = optarg;
        return 0;
    case 'e':
        if (!strchr(optarg, '=') || optarg[0] == '=')
            return box_cli_usage(cli, "exec", "--env: `%s` must have the form KEY=VALUE", optarg);
        return push(&o->env, n_env, optarg) < 0 ? box_cli_fail(cli, "out of memory") : 0;
    case 'u':
        if (box_parse_user(optarg, &o->uid, &o->gid, &o->has_gid) < 0)
            return box_cli_usage(cli, "exec", "--user: `%s` is not UID[:GID] (0..4294967294)",
                                 optarg);
        o->has_user = true;
        return 0;
    case 'g':
        if (box_parse_user(optarg, &g, &unused, &has_gid) < 0 || has_gid)
            return box_cli_usage(cli, "exec", "--additional-gids: `%s` is not a group id", optarg);
        o->gids = realloc(o->gids, (o->n_gids + 1) * sizeof(uint32_t));
        if (!o->gids)
            return box_cli_fail(cli, "out of memory");
        o->gids[o->n_gids++] = g;
        return 0;
    case 'c':
        if (box_cap_from_name(optarg) < 0)
            return box_cli_usage(cli, "exec", "--cap: unknown capability `%s`", optarg);
        return push(&o->caps, n_caps, optarg) < 0 ? box_cli_fail(cli, "out of memory") : 0;
    case 'd':
        o->detach = true;
        return 0;
    case 'P':
        o->pid_file = optarg;
        return 0;
    case 'f':
        if (box_parse_u64(optarg, 65536, &v) < 0)
            return box_cli_usage(cli, "exec", "--preserve-fds: `%s` is not a number in [0, 65536]",
                                 optarg);
        o->preserve_fds = (unsigned)v;
        return 0;
    case 'n':
        o->no_new_privs = true;
        return 0;
    default:
        return box_cli_usage(cli, "exec", "unknown option `%s`", optarg ? optarg : "?");
    }
}

int box_cmd_exec(struct box_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"process", required_argument, 0, 'p'},
        {"tty", no_argument, 0, 't'},
        {"console-socket", required_argument, 0, 'C'},
        {"cwd", required_argument, 0, 'w'},
        {"env", required_argument, 0, 'e'},
        {"user", required_argument, 0, 'u'},
        {"additional-gids", required_argument, 0, 'g'},
        {"cap", required_argument, 0, 'c'},
        {"detach", no_argument, 0, 'd'},
        {"pid-file", required_argument, 0, 'P'},
        {"preserve-fds", required_argument, 0, 'f'},
        {"no-new-privs", no_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct box_exec_opts o = {.root = cli->root};
    size_t n_env = 0, n_caps = 0;
    int c, r = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+p:te:u:g:c:dh", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(exec_usage, stdout);
            goto out;
        }
        if (c == '?') {
            box_cli_usage(cli, "exec", "unknown option `%s`", argv[optind - 1]);
            r = 255;
            goto out;
        }
        if (parse_opt(cli, c, &o, &n_env, &n_caps) != 0) {
            r = 255;
            goto out;
        }
    }
    if (optind >= argc) {
        box_cli_usage(cli, "exec", "expects a container id");
        r = 255;
        goto out;
    }
    o.id = argv[optind];
    o.args = argv + optind + 1;
    if (!o.process_file && !o.args[0]) {
        box_cli_usage(cli, "exec", "expects a command after the id (or --process FILE)");
        r = 255;
        goto out;
    }
    struct box_err err = {0};
    int code = 0;
    if (box_container_exec(&o, &code, &err) < 0) {
        box_cli_fail_err(cli, &err);
        r = 255; /* runc's status when the runtime itself fails */
        goto out;
    }
    r = code;
out:
    free(o.env);
    free(o.caps);
    free(o.gids);
    return r;
}
