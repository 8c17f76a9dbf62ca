/* box vm validate PAYLOAD [--allow-unknown] [--json] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "tools/vm/vm.h"

static const char help[] =
    "usage: box vm validate PAYLOAD [--allow-unknown] [--json]\n"
    "\n"
    "Checks an image create request (PAYLOAD is a file, or - for standard input)\n"
    "against the region API's schema and the rules its server adds. Every problem\n"
    "is named by its JSON pointer. Unknown fields are errors unless --allow-unknown\n"
    "(the server ignores them silently). Exit 0 only for a payload the server\n"
    "would accept; 1 otherwise.\n";

int vm_cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"allow-unknown", no_argument, 0, 'u'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct box_vm_validate_opts vo = {0};
    bool json = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            vo.allow_unknown = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            return vm_usage("validate", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return vm_usage("validate", "give exactly one PAYLOAD file");
    const char *path = argv[optind];
    struct box_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    if (vm_read_input(path, BOX_VM_PAYLOAD_MAX, &buf, &len, &err) < 0) {
        err.code = EINVAL; /* a local input problem: exit 1, whatever the errno */
        return vm_fail("validate", json, &err);
    }
    struct box_vm_report *rep = calloc(1, sizeof(*rep));
    if (!rep) {
        free(buf);
        return 4;
    }
    int r = box_vm_validate_buf(buf, len, &vo, rep, NULL, &err);
    free(buf);
    vm_print_report(path, rep, json);
    free(rep);
    return r < 0 ? BOX_VM_EXIT_INVALID : 0;
}
