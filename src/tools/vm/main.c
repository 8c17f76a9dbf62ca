/* box-vm: GPU VM images and the region API. `box vm ARGS...` hands over to
 * this program as `box-vm vm ARGS...`; it also runs on its own.
 *
 * The API verbs exit by failure class (lib/vm/api.h): 0 ok, 1 usage,
 * settings or a refused payload (400, 422), 2 authentication or permission
 * (401, 403), 3 not found (404), 4 server or network, 5 timeout, 6 outcome
 * unknown (a POST or DELETE cut after sending), 7 the image import failed.
 * The image verbs (build, check, smoke; image_cmds.h): 0 ok, 1 the image or
 * the build failed, 2 usage, 130 interrupted. */
#include <curl/curl.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/vm/image_cmds.h"
#include "tools/vm/vm.h"

#ifndef BOX_VERSION
#define BOX_VERSION "0.0.0"
#endif

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"build", box_vm_cmd_build, "build a raw UEFI image from images/vm/TEMPLATE.pkr.hcl"},
    {"check", box_vm_cmd_check, "check an image: MBR 55 aa, GPT and CRCs, a FAT ESP"},
    {"smoke", box_vm_cmd_smoke, "boot an image under QEMU (OVMF, q35) to a serial marker"},
    {"validate", vm_cmd_validate, "check an image create payload as the region would"},
    {"payload", vm_cmd_payload, "write the payload of a built image from its facts file"},
    {"list", vm_cmd_list, "list images (v2 API)"},
    {"register", vm_cmd_register, "register an image from a payload (POST)"},
    {"delete", vm_cmd_delete, "delete an image by id"},
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

static void usage(FILE *f)
{
    fputs("usage: box vm COMMAND [OPTIONS]  (`box vm COMMAND --help` for its options)\n\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < BOX_ARRAY_SIZE(commands); i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\nsettings: NSCALE_SERVICE_TOKEN, NSCALE_REGION_SERVICE_API_ENDPOINT,\n"
          "NSCALE_ORGANIZATION_ID, NSCALE_REGION_ID, from the environment or --env-file F\n"
          "(mode 0600). The token is never taken from the command line.\n"
          "\nexit status: 0 ok, 1 usage or invalid, 2 auth or permission, 3 not found,\n"
          "4 server or network, 5 timeout, 6 outcome unknown, 7 image import failed\n",
          f);
}

int main(int argc, char **argv)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    int i = 1;
    if (i < argc && strcmp(argv[i], "vm") == 0)
        i++;
    if (i >= argc) {
        usage(stderr);
        return BOX_VM_EXIT_INVALID;
    }
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[i], "--version")) {
        printf("box-vm %s\n", BOX_VERSION);
        return 0;
    }
    for (size_t c = 0; c < BOX_ARRAY_SIZE(commands); c++) {
        if (strcmp(argv[i], commands[c].name) != 0)
            continue;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int r = commands[c].fn(argc - i, argv + i);
        curl_global_cleanup();
        return r;
    }
    fprintf(stderr, "box vm: unknown command `%s` (see `box vm --help`)\n", argv[i]);
    return BOX_VM_EXIT_INVALID;
}
