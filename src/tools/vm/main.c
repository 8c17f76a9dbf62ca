/* box-vm: GPU VM images. `box vm ARGS...` hands over to this program with
 * argv[0] set to its path; it also runs on its own as `box-vm ARGS...`.
 * This table holds the image-building verbs (build, check, smoke). */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/vm/image_cmds.h"

static const char usage[] =
    "Usage: box vm COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  build TEMPLATE [--var k=v]... [--output-dir D] [--timeout S] [--base IMG] [--name N]\n"
    "                 build a raw UEFI image from images/vm/TEMPLATE.pkr.hcl with packer\n"
    "  check IMAGE    MBR 55 aa, GPT (headers and CRCs), an EFI system partition with FAT\n"
    "  smoke IMAGE    boot under QEMU (OVMF, q35, virtio-scsi) and wait for a serial marker\n"
    "\n"
    "`box vm COMMAND --help` for a command's options.\n";

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"build", box_vm_cmd_build},
    {"check", box_vm_cmd_check},
    {"smoke", box_vm_cmd_smoke},
};

const char *box_vm_templates_dir(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("BOX_VM_TEMPLATES");
    if (env && *env)
        return env;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return "images/vm";
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(dir, sizeof(dir), "%s/../images/vm", self);
    return dir;
}

void box_vm_print_json(struct json_t *v)
{
    if (!v)
        return;
    json_dumpf(v, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(v);
}

int main(int argc, char **argv)
{
    int i = 1;
    if (i < argc && strcmp(argv[i], "vm") == 0)
        i++;
    if (i >= argc) {
        fputs(usage, stderr);
        return BOX_VM_EXIT_USAGE;
    }
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "help")) {
        fputs(usage, stdout);
        return 0;
    }
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
        if (strcmp(argv[i], commands[c].name) == 0)
            return commands[c].run(argc - i, argv + i);
    fprintf(stderr, "box vm: unknown command `%s` (see `box vm --help`)\n", argv[i]);
    return BOX_VM_EXIT_USAGE;
}
