/* box vm check IMAGE [--json]: is this a raw disk the region will import
 * and boot (55 aa at 510, GPT, an EFI system partition with FAT)? */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/vm/disk.h"
#include "tools/vm/image_cmds.h"

static const char usage[] = "Usage: box vm check IMAGE [--json]\n";

int box_vm_cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            json = true;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        } else {
            fputs(usage, stderr);
            return BOX_VM_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "box vm check: expected one IMAGE\n%s", usage);
        return BOX_VM_EXIT_USAGE;
    }
    const char *image = argv[optind];
    struct box_err err = {0};
    struct box_vm_disk_info info;
    int fd = open(image, O_RDONLY | O_CLOEXEC);
    int r = fd < 0 ? box_err_sys(&err, errno, "open") : box_vm_disk_check(fd, &info, &err);
    if (fd >= 0)
        close(fd);
    if (r < 0) {
        if (json)
            box_vm_print_json(
                json_pack("{s:s, s:b, s:s}", "image", image, "ok", 0, "error", err.msg));
        fprintf(stderr, "box vm check: `%s`: %s\n", image, err.msg);
        return BOX_VM_EXIT_FAIL;
    }
    if (json) {
        box_vm_print_json(
            json_pack("{s:s, s:b, s:I, s:i, s:{s:i, s:I, s:I, s:s, s:s}}", "image", image, "ok", 1,
                      "size", (json_int_t)info.size, "partitions", (int)info.nparts, "esp", "index",
                      (int)info.esp.index, "first_lba", (json_int_t)info.esp.first_lba, "last_lba",
                      (json_int_t)info.esp.last_lba, "fs", info.esp_fs, "label", info.esp_label));
    } else {
        printf("%s: ok: %llu bytes, MBR 55 aa (protective), GPT with %u partitions, EFI system "
               "partition %u (%s%s%s%s, %llu MiB)\n",
               image, (unsigned long long)info.size, info.nparts, info.esp.index, info.esp_fs,
               *info.esp_label ? ", label \"" : "", info.esp_label, *info.esp_label ? "\"" : "",
               (unsigned long long)((info.esp.last_lba - info.esp.first_lba + 1) / 2048));
    }
    return 0;
}
