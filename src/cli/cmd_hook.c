/* hook: the createContainer hooks named by the specs of `box cdi generate`.
 *   box hook create-symlinks --link TARGET::LINK ...
 *   box hook update-ldcache --folder DIR ... [--ldconfig PATH]
 * Each reads the OCI state on stdin to find the container's root. */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/base/fs.h"
#include "lib/cdi/hook.h"

static const char hook_usage[] =
    "usage: box hook create-symlinks --link TARGET::LINK [--link ...]\n"
    "       box hook update-ldcache --folder DIR [--folder ...] [--ldconfig PATH]\n"
    "\n"
    "createContainer hooks for CDI specs written by `box cdi generate`; the OCI\n"
    "state on stdin names the container's root.\n";

struct hook_args {
    char *items[BOX_HOOK_ARGS_MAX];
    size_t n;
    const char *ldconfig;
};

static int parse(struct box_cli *cli, const char *verb, const char *item_opt, int argc, char **argv,
                 struct hook_args *a)
{
    const struct option opts[] = {
        {item_opt, required_argument, 0, 'i'},
        {"ldconfig", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'i' && a->n < BOX_HOOK_ARGS_MAX) {
            a->items[a->n++] = optarg;
        } else if (c == 'i') {
            return box_cli_usage(cli, "hook", "%s: more than %d --%s", verb, BOX_HOOK_ARGS_MAX,
                                 item_opt);
        } else if (c == 'l' && strcmp(verb, "update-ldcache") == 0) {
            a->ldconfig = optarg;
        } else if (c == 'h') {
            fputs(hook_usage, stdout);
            return -1;
        } else {
            return box_cli_usage(cli, "hook", "%s: unknown option `%s`", verb, argv[optind - 1]);
        }
    }
    if (optind < argc)
        return box_cli_usage(cli, "hook", "%s: unexpected argument `%s`", verb, argv[optind]);
    return 0;
}

/* The container's root, from the state on stdin. */
static int open_root(struct box_cli *cli, const char *verb)
{
    _cleanup_free_ char *state = NULL;
    size_t len = 0;
    int r = box_read_fd(0, BOX_HOOK_STATE_MAX, &state, &len);
    if (r < 0) {
        box_cli_fail(cli, "hook %s: read the state from stdin: %s", verb, strerror(-r));
        return -1;
    }
    char root[PATH_MAX];
    struct box_err err = {0};
    if (box_cdi_hook_rootfs(state, len, root, &err) < 0) {
        box_err_prefix(&err, "hook %s", verb);
        box_cli_fail_err(cli, &err);
        return -1;
    }
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        box_cli_fail(cli, "hook %s: open the root `%s`: %s", verb, root, strerror(errno));
    return fd;
}

int box_cmd_hook(struct box_cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(hook_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    const char *verb = argv[1];
    bool links = strcmp(verb, "create-symlinks") == 0;
    if (!links && strcmp(verb, "update-ldcache") != 0)
        return box_cli_usage(cli, "hook", "unknown hook `%s`", verb);
    static struct hook_args a;
    int r = parse(cli, verb, links ? "link" : "folder", argc - 1, argv + 1, &a);
    if (r != 0)
        return r < 0 ? 0 : r;
    _cleanup_close_ int rootfd = open_root(cli, verb);
    if (rootfd < 0)
        return 1;
    struct box_err err = {0};
    r = links ? box_cdi_hook_symlinks(rootfd, a.items, a.n, &err)
              : box_cdi_hook_ldcache(rootfd, a.items, a.n, a.ldconfig, &err);
    if (r < 0) {
        box_err_prefix(&err, "hook %s", verb);
        return box_cli_fail_err(cli, &err);
    }
    return 0;
}
