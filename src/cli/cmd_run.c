#include <stdio.h>

#include "cli/cli.h"
#include "lib/runtime/container.h"

int box_cmd_run(struct box_cli *cli, int argc, char **argv)
{
    struct box_create_opts o;
    bool detach = false;
    int r = box_cli_parse_create(cli, "run", argc, argv, &o, &detach);
    if (r != 0)
        return r > 0 ? 0 : -r;
    struct box_err err = {0};
    int code = 0;
    fflush(stdout);
    if (box_container_run(&o, detach, &code, box_cli_warn, &err) < 0)
        return box_cli_fail_err(cli, &err);
    return code;
}
