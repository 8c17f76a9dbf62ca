/* box vm build TEMPLATE [--var k=v]... [--output-dir D] [--timeout S]
 *                       [--base IMG] [--name N] [--quiet]
 * Builds images/vm/TEMPLATE.pkr.hcl into D/<name> with its .sha256 and
 * .facts.json. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/parse.h"
#include "lib/vm/build.h"
#include "tools/vm/image_cmds.h"

static const char usage[] =
    "Usage: box vm build TEMPLATE [--var k=v]... [--output-dir D] [--timeout S]\n"
    "                             [--base IMG] [--name N] [--templates DIR] [--quiet]\n"
    "Builds images/vm/TEMPLATE.pkr.hcl with packer (QEMU, TCG, UEFI, virtio-scsi) into\n"
    "D/N (default D: vm-images, N: TEMPLATE-<os>.raw), with N.sha256 and N.facts.json.\n"
    "The base image D/base-<distro>.img is built first when missing (--base: use IMG).\n"
    "  --var k=v     a template variable (distro=debian|ubuntu, kubernetes_version, ...)\n"
    "  --timeout S   the whole build, seconds (default 3600)\n"
    "  --quiet       do not copy packer's output to stderr\n";

static int fail_usage(const char *what, const char *arg)
{
    fprintf(stderr, "box vm build: %s%s\n", what, arg);
    fputs(usage, stderr);
    return BOX_VM_EXIT_USAGE;
}

static int parse(int argc, char **argv, struct box_vm_build_opts *o)
{
    static const struct option opts[] = {{"var", required_argument, NULL, 'v'},
                                         {"output-dir", required_argument, NULL, 'o'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"base", required_argument, NULL, 'b'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"templates", required_argument, NULL, 'T'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            if (o->nvars >= BOX_VM_VARS_MAX)
                return fail_usage("more than 32 --var options", "");
            o->vars[o->nvars++] = optarg;
            break;
        case 'o':
            o->output_dir = optarg;
            break;
        case 't':
            if (box_parse_u64(optarg, 86400, &v) < 0 || v == 0)
                return fail_usage("--timeout: seconds, 1..86400, not ", optarg);
            o->timeout_s = (unsigned)v;
            break;
        case 'b':
            o->base_image = optarg;
            break;
        case 'n':
            o->image_name = optarg;
            break;
        case 'T':
            o->templates_dir = optarg;
            break;
        case 'q':
            o->log_fd = -1;
            break;
        case 'h':
            fputs(usage, stdout);
            return 1;
        default:
            fputs(usage, stderr);
            return BOX_VM_EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return fail_usage("expected one TEMPLATE", "");
    o->template_name = argv[optind];
    return 0;
}

int box_vm_cmd_build(int argc, char **argv)
{
    struct box_vm_build_opts o = {.output_dir = "vm-images", .timeout_s = 3600, .log_fd = 2};
    int p = parse(argc, argv, &o);
    if (p != 0)
        return p == 1 ? 0 : p;
    if (!o.templates_dir)
        o.templates_dir = box_vm_templates_dir();
    const char *packer = getenv("BOX_VM_PACKER");
    if (packer && *packer)
        o.packer = packer;
    struct box_err err = {0};
    /* Argument errors before anything runs: exit 2, nothing created. */
    int r = box_vm_template_check(o.templates_dir, o.template_name, &err);
    for (size_t i = 0; r >= 0 && i < o.nvars; i++)
        r = box_vm_var_check(o.vars[i], &err);
    if (r < 0) {
        fprintf(stderr, "box vm build: %s\n", err.msg);
        return BOX_VM_EXIT_USAGE;
    }
    /* Held for the build (see build.h); a Ctrl-C never skips the cleanup. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, &old);
    struct box_vm_build_result res;
    r = box_vm_build(&o, &res, &err);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (r < 0) {
        fprintf(stderr, "box vm build: %s: %s\n", o.template_name, err.msg);
        if (res.serial_log[0])
            fprintf(stderr, "box vm build: the guest's serial console is in `%s`\n",
                    res.serial_log);
        return r == -EINTR ? BOX_VM_EXIT_INTERRUPTED : BOX_VM_EXIT_FAIL;
    }
    printf("image:  %s\nsha256: %s\nfacts:  %s\nsize:   %llu bytes\n", res.image, res.sha256,
           res.facts_file, (unsigned long long)res.size);
    printf("time:   %.1f s (base image %s%.1f s, packer %.1f s)\n", (double)res.total_ms / 1000.0,
           res.base_built ? "built in " : "reused, ", (double)res.base_ms / 1000.0,
           (double)res.packer_ms / 1000.0);
    return 0;
}
