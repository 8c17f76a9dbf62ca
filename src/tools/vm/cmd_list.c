/* box vm list [--scope owned|available] [--status S]... [--global] [--json] */
#include <stdio.h>
#include <string.h>

#include "tools/vm/vm.h"

static const char help[] =
    "usage: box vm list [--scope owned|available] [--status S]... [--global]\n"
    "                   [--env-file F] [--timeout S] [--retries N] [--json]\n"
    "\n"
    "Lists the region's images with the v2 API, for NSCALE_ORGANIZATION_ID when it\n"
    "is set (--global: without it, which lists global images only). --scope owned:\n"
    "the organization's own images; available: those plus the global ones. --status\n"
    "(pending, creating, ready, failed) filters, and may be repeated. An organization\n"
    "the token cannot read is dropped by the server without an error: an empty list\n"
    "does not prove the organization is empty, and a working list does not prove\n"
    "permission to register.\n";

static const char *str_at(json_t *img, const char *a, const char *b)
{
    const char *s = json_string_value(json_object_get(json_object_get(img, a), b));
    return s ? s : "-";
}

static void print_table(json_t *images)
{
    printf("%-36s  %-40s  %-8s  %-8s  %-16s  %s\n", "ID", "NAME", "STATE", "ARCH", "OS", "GPU");
    size_t i;
    json_t *img;
    json_array_foreach(images, i, img)
    {
        json_t *spec = json_object_get(img, "spec");
        char os[64], gpu[96] = "-";
        snprintf(os, sizeof(os), "%s %s", str_at(spec, "os", "distro"),
                 str_at(spec, "os", "version"));
        if (json_object_get(spec, "gpu"))
            snprintf(gpu, sizeof(gpu), "%s %s", str_at(spec, "gpu", "vendor"),
                     str_at(spec, "gpu", "driver"));
        const char *arch = json_string_value(json_object_get(spec, "architecture"));
        printf("%-36s  %-40s  %-8s  %-8s  %-16s  %s\n", str_at(img, "metadata", "id"),
               str_at(img, "metadata", "name"), str_at(img, "status", "state"), arch ? arch : "-",
               os, gpu);
    }
}

static int parse(int argc, char **argv, struct vm_api_opts *a, struct box_vm_list_query *q,
                 bool *global)
{
    static const struct option opts[] = {
        {"scope", required_argument, 0, 's'},
        {"status", required_argument, 0, 'S'},
        {"global", no_argument, 0, 'g'},
        VM_API_LONG_OPTS,
        {0, 0, 0, 0},
    };
    static const char *const states[] = {"pending", "creating", "ready", "failed"};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int r = vm_api_opt("list", a, c, optarg);
        if (r < 0)
            return BOX_VM_EXIT_INVALID;
        if (r > 0)
            continue;
        size_t k = 0;
        switch (c) {
        case 's':
            if (strcmp(optarg, "owned") != 0 && strcmp(optarg, "available") != 0)
                return vm_usage("list", "--scope `%s`: not owned or available", optarg);
            q->scope = optarg;
            break;
        case 'S':
            while (k < BOX_ARRAY_SIZE(states) && strcmp(optarg, states[k]) != 0)
                k++;
            if (k == BOX_ARRAY_SIZE(states))
                return vm_usage("list", "--status `%s`: not pending, creating, ready or failed",
                                optarg);
            if (q->nstatuses >= BOX_VM_STATUSES_MAX)
                return vm_usage("list", "at most %d --status", BOX_VM_STATUSES_MAX);
            q->statuses[q->nstatuses++] = states[k];
            break;
        case 'g':
            *global = true;
            break;
        case VM_OPT_HELP:
            fputs(help, stdout);
            return -1;
        default:
            return vm_usage("list", "unknown option or missing value `%s`", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return vm_usage("list", "unexpected argument `%s`", argv[optind]);
    if (*global && q->scope)
        return vm_usage("list", "--scope needs an organization; it cannot go with --global");
    return 0;
}

int vm_cmd_list(int argc, char **argv)
{
    struct vm_api_opts a = {.retries = -1};
    struct box_vm_list_query q = {0};
    bool global = false;
    int r = parse(argc, argv, &a, &q, &global);
    if (r)
        return r < 0 ? 0 : r;
    struct box_vm_settings s = {0};
    struct box_vm_client c;
    unsigned need = BOX_VM_NEED_TOKEN | BOX_VM_NEED_ENDPOINT | BOX_VM_NEED_REGION;
    if (!global)
        need |= BOX_VM_NEED_ORGANIZATION;
    r = vm_client_setup("list", &a, need, &s, &c);
    if (r) {
        box_vm_settings_free(&s);
        return r;
    }
    q.organization = !global;
    struct box_err err = {0};
    json_t *images = NULL;
    r = box_vm_list(&c, &q, &images, &err);
    if (r < 0) {
        box_vm_settings_free(&s);
        return vm_fail("list", a.json, &err);
    }
    if (c.attempts > 1)
        fprintf(stderr, "box vm list: answered after %d attempts\n", c.attempts);
    if (a.json) {
        json_t *doc =
            json_pack("{s:b, s:O, s:i}", "ok", 1, "images", images, "attempts", c.attempts);
        vm_print_json(doc);
        json_decref(doc);
    } else {
        print_table(images);
    }
    json_decref(images);
    box_vm_settings_free(&s);
    return 0;
}
