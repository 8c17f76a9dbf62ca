/* hook: the createContainer hooks named by the specs of `box cdi generate`.
 *   box hook create-symlinks --link TARGET::LINK ...
 *   box hook update-ldcache --folder DIR ... [--ldconfig PATH]
 * Each reads the OCI state on stdin to find the container's root. box's own
 * init runs these same library calls in-process when a spec names box
 * itself (lib/runtime/hooks.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/base/fs.h"
#include "lib/cdi/hook.h"

static const char hook_usage[] =
    "usage: box hook create-symlinks --link TARGET::LINK [--link ...]\n"
    "       box hook update-ldcache --folder DIR [--folder ...] [--ldconfig PATH]\n"
    "\n"
    "createContainer hooks for CDI specs written by `box cdi generate`; the OCI\n"
    "state on stdin names the container's root. update-ldcache writes the root's\n"
    "/etc/ld.so.cache itself, or runs the given static host ldconfig chrooted.\n";

int box_cmd_hook(struct box_cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(hook_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    struct box_cdi_hook_req req;
    struct box_err err = {0};
    if (box_cdi_hook_parse(argc - 1, argv + 1, &req, &err) < 0)
        return box_cli_usage(cli, "hook", "%s", err.msg);
    if (req.help) {
        fputs(hook_usage, stdout);
        box_cdi_hook_req_free(&req);
        return 0;
    }
    _cleanup_free_ char *state = NULL;
    size_t len = 0;
    int r = box_read_fd(0, BOX_HOOK_STATE_MAX, &state, &len);
    if (r < 0) {
        box_cdi_hook_req_free(&req);
        return box_cli_fail(cli, "hook %s: read the state from stdin: %s", req.verb_name,
                            strerror(-r));
    }
    r = box_cdi_hook_run(&req, state, len, &err);
    box_cdi_hook_req_free(&req);
    return r < 0 ? box_cli_fail_err(cli, &err) : 0;
}
