/* box vm smoke IMAGE [--timeout S] [--marker M] [--accel auto|kvm|tcg]
 *                    [--serial-log FILE] [--json]
 * Boots the image under QEMU the way the region does (UEFI, q35,
 * virtio-scsi) and waits for the marker on its serial console. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/base/parse.h"
#include "lib/vm/smoke.h"
#include "tools/vm/image_cmds.h"

static const char usage[] =
    "Usage: box vm smoke IMAGE [--timeout S] [--marker M] [--accel auto|kvm|tcg]\n"
    "                          [--serial-log FILE] [--memory MIB] [--json]\n"
    "Boots IMAGE (UEFI/OVMF, q35, virtio-scsi; writes go to a throw-away overlay)\n"
    "and waits for M (default " BOX_VM_SMOKE_MARKER ") on its serial console.\n"
    "--accel auto uses KVM only when a probe guest really runs under it.\n";

static const char *accel_name(enum box_vm_accel a)
{
    return a == BOX_VM_ACCEL_KVM ? "kvm" : "tcg";
}

static int parse(int argc, char **argv, struct box_vm_smoke_opts *o, bool *json)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'}, {"marker", required_argument, NULL, 'm'},
        {"accel", required_argument, NULL, 'a'},   {"serial-log", required_argument, NULL, 's'},
        {"memory", required_argument, NULL, 'M'},  {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (box_parse_u64(optarg, 86400, &v) < 0 || v == 0)
                return fprintf(stderr, "box vm smoke: --timeout `%s`: seconds, 1..86400\n", optarg),
                       -1;
            o->timeout_s = (unsigned)v;
            break;
        case 'M':
            if (box_parse_u64(optarg, 65536, &v) < 0 || v < 256)
                return fprintf(stderr, "box vm smoke: --memory `%s`: MiB, 256..65536\n", optarg),
                       -1;
            o->memory_mib = (unsigned)v;
            break;
        case 'm':
            if (!*optarg || strlen(optarg) > 128 || strpbrk(optarg, "\r\n"))
                return fprintf(stderr, "box vm smoke: --marker: 1..128 bytes, one line\n"), -1;
            o->marker = optarg;
            break;
        case 'a':
            if (strcmp(optarg, "auto") == 0)
                o->accel = BOX_VM_ACCEL_AUTO;
            else if (strcmp(optarg, "kvm") == 0)
                o->accel = BOX_VM_ACCEL_KVM;
            else if (strcmp(optarg, "tcg") == 0)
                o->accel = BOX_VM_ACCEL_TCG;
            else
                return fprintf(stderr, "box vm smoke: --accel `%s`: auto, kvm or tcg\n", optarg),
                       -1;
            break;
        case 's':
            o->serial_log = optarg;
            break;
        case 'j':
            *json = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 1;
        default:
            fputs(usage, stderr);
            return -1;
        }
    }
    if (argc - optind != 1)
        return fprintf(stderr, "box vm smoke: expected one IMAGE\n%s", usage), -1;
    o->image = argv[optind];
    return 0;
}

int box_vm_cmd_smoke(int argc, char **argv)
{
    struct box_vm_smoke_opts o = {.timeout_s = 300};
    bool json = false;
    int p = parse(argc, argv, &o, &json);
    if (p != 0)
        return p > 0 ? 0 : BOX_VM_EXIT_USAGE;
    struct box_err err = {0};
    struct box_vm_smoke_result res;
    int r = box_vm_smoke(&o, &res, &err);
    if (res.kvm_probed && res.accel == BOX_VM_ACCEL_TCG && !json)
        fprintf(stderr, "box vm smoke: KVM not usable (%s); using TCG\n", res.kvm_reason);
    if (r < 0) {
        fprintf(stderr, "box vm smoke: `%s`: %s\n", o.image, err.msg);
        if (json)
            box_vm_print_json(json_pack("{s:s, s:b, s:s, s:s}", "image", o.image, "ok", 0, "accel",
                                        accel_name(res.accel), "error", err.msg));
        return r == -EINTR ? BOX_VM_EXIT_INTERRUPTED : BOX_VM_EXIT_FAIL;
    }
    if (json)
        box_vm_print_json(json_pack("{s:s, s:b, s:s, s:f, s:s}", "image", o.image, "ok", 1, "accel",
                                    accel_name(res.accel), "boot_seconds",
                                    (double)res.boot_ms / 1000.0, "marker_line", res.marker_line));
    else
        printf("%s: booted (UEFI, q35, virtio-scsi, %s) in %.1f s: %s\n", o.image,
               accel_name(res.accel), (double)res.boot_ms / 1000.0, res.marker_line);
    return 0;
}
