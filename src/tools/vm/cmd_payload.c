/* box vm payload --facts FILE --uri URL [--name N] [--description D]
 *                [--tag K=V]... [--gpu-model M]... [--virtualization V] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vm/payload.h"
#include "tools/vm/vm.h"

static const char help[] =
    "usage: box vm payload --facts FILE --uri URL [--name N] [--description D]\n"
    "                      [--tag NAME=VALUE]... [--gpu-model M]... [--virtualization V]\n"
    "\n"
    "Writes on standard output the image create request for the image that FILE\n"
    "(the facts written by `box vm build`) describes: os and architecture from the\n"
    "image, the NVIDIA driver version of the built module, softwareVersions from\n"
    "the installed packages (kubelet -> kubernetes). An image with an NVIDIA driver\n"
    "needs --gpu-model for each GPU model it is meant for (letters, digits, '_').\n"
    "The name defaults to <distro><version>-<template>-<first 8 of sha256>;\n"
    "virtualization to virtualized. The output passes `box vm validate`.\n";

#define MAX_ITEMS 64

struct payload_args {
    const char *facts;
    struct box_vm_payload_opts o;
    struct box_vm_tag tags[MAX_ITEMS];
    const char *models[MAX_ITEMS];
};

static int add_tag(struct payload_args *a, char *arg)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return vm_usage("payload", "--tag `%s`: not NAME=VALUE", arg);
    if (a->o.ntags >= MAX_ITEMS)
        return vm_usage("payload", "more than %d --tag", MAX_ITEMS);
    *eq = '\0';
    a->tags[a->o.ntags++] = (struct box_vm_tag){arg, eq + 1};
    return 0;
}

static int parse(int argc, char **argv, struct payload_args *a)
{
    static const struct option opts[] = {
        {"facts", required_argument, 0, 'f'},
        {"uri", required_argument, 0, 'u'},
        {"name", required_argument, 0, 'n'},
        {"description", required_argument, 0, 'd'},
        {"tag", required_argument, 0, 't'},
        {"gpu-model", required_argument, 0, 'g'},
        {"virtualization", required_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c, r = 0;
    opterr = 0;
    optind = 1;
    while (r == 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            a->facts = optarg;
            break;
        case 'u':
            a->o.uri = optarg;
            break;
        case 'n':
            a->o.name = optarg;
            break;
        case 'd':
            a->o.description = optarg;
            break;
        case 'v':
            a->o.virtualization = optarg;
            break;
        case 't':
            r = add_tag(a, optarg);
            break;
        case 'g':
            if (a->o.nmodels >= MAX_ITEMS)
                return vm_usage("payload", "more than %d --gpu-model", MAX_ITEMS);
            a->models[a->o.nmodels++] = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return -1;
        default:
            return vm_usage("payload", "unknown option or missing value `%s`", argv[optind - 1]);
        }
    }
    if (r)
        return r;
    if (optind != argc)
        return vm_usage("payload", "unexpected argument `%s`", argv[optind]);
    if (!a->facts || !a->o.uri)
        return vm_usage("payload", "--facts and --uri are required");
    a->o.tags = a->tags;
    a->o.models = a->models;
    return 0;
}

int vm_cmd_payload(int argc, char **argv)
{
    struct payload_args a = {0};
    int r = parse(argc, argv, &a);
    if (r)
        return r < 0 ? 0 : r;
    struct box_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    if (vm_read_input(a.facts, BOX_VM_FACTS_MAX, &buf, &len, &err) < 0) {
        err.code = EINVAL; /* a local input problem: exit 1, whatever the errno */
        return vm_fail("payload", false, &err);
    }
    struct box_vm_facts facts;
    r = box_vm_facts_parse(buf, len, &facts, &err);
    free(buf);
    if (r < 0) {
        box_err_prefix(&err, "`%s`", a.facts);
        return vm_fail("payload", false, &err);
    }
    json_t *doc = NULL;
    struct box_vm_notes notes = {0};
    r = box_vm_payload_build(&facts, &a.o, &doc, &notes, &err);
    box_vm_facts_free(&facts);
    if (r < 0)
        return vm_fail("payload", false, &err);
    for (size_t i = 0; i < notes.n; i++)
        fprintf(stderr, "box vm payload: note: %s\n", notes.text[i]);
    vm_print_json(doc);
    json_decref(doc);
    return 0;
}
