/* box vm delete ID [--json] */
#include <stdio.h>

#include "tools/vm/vm.h"

static const char help[] = "usage: box vm delete ID [--env-file F] [--timeout S] [--json]\n"
                           "\n"
                           "Deletes an image of the organization (v1 API; needs region:images\n"
                           "delete there). The server accepts the deletion (202) and carries it\n"
                           "out afterwards. A DELETE cut after sending is not sent again.\n";

int vm_cmd_delete(int argc, char **argv)
{
    static const struct option opts[] = {VM_API_LONG_OPTS, {0, 0, 0, 0}};
    struct vm_api_opts a = {.retries = -1};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int r = vm_api_opt("delete", &a, c, optarg);
        if (r < 0)
            return BOX_VM_EXIT_INVALID;
        if (r > 0)
            continue;
        if (c == VM_OPT_HELP) {
            fputs(help, stdout);
            return 0;
        }
        return vm_usage("delete", "unknown option or missing value `%s`", argv[optind - 1]);
    }
    if (argc - optind != 1)
        return vm_usage("delete", "give exactly one image ID");
    const char *id = argv[optind];
    if (!box_vm_is_uuid(id))
        return vm_usage("delete", "image id `%.64s` is not a UUID", id);
    struct box_vm_settings s = {0};
    struct box_vm_client cl;
    int r = vm_client_setup("delete", &a,
                            BOX_VM_NEED_TOKEN | BOX_VM_NEED_ENDPOINT | BOX_VM_NEED_ORGANIZATION |
                                BOX_VM_NEED_REGION,
                            &s, &cl);
    if (r) {
        box_vm_settings_free(&s);
        return r;
    }
    struct box_err err = {0};
    r = box_vm_delete(&cl, id, &err);
    box_vm_settings_free(&s);
    if (r < 0)
        return vm_fail("delete", a.json, &err);
    if (a.json) {
        json_t *doc = json_pack("{s:b, s:s, s:s}", "ok", 1, "id", id, "result", "accepted");
        vm_print_json(doc);
        json_decref(doc);
    } else {
        printf("deletion of image %s accepted\n", id);
    }
    return 0;
}
