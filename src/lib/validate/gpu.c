#include "lib/validate/gpu.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/fs.h"

#define CDI_SPEC_MAX (1u << 20)
#define CDI_KIND     "nvidia.com/gpu"

static bool dir_has(const char *dir, bool (*match)(const char *dir, const char *name))
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d)))
        found = match(dir, de->d_name);
    closedir(d);
    return found;
}

static bool any_entry(const char *dir, const char *name)
{
    (void)dir;
    return name[0] != '.';
}

/* /dev/nvidia0, /dev/nvidia1, ...: not nvidiactl or nvidia-uvm. */
static bool gpu_node(const char *dir, const char *name)
{
    (void)dir;
    return strncmp(name, "nvidia", 6) == 0 && name[6] >= '0' && name[6] <= '9';
}

static bool cdi_spec(const char *dir, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || name[0] == '.' ||
        (strcmp(dot, ".json") != 0 && strcmp(dot, ".yaml") != 0 && strcmp(dot, ".yml") != 0))
        return false;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *text = NULL;
    size_t len;
    struct box_err err;
    if (box_read_file(AT_FDCWD, path, CDI_SPEC_MAX, &text, &len, &err) < 0)
        return false;
    bool found = strstr(text, CDI_KIND) != NULL;
    free(text);
    return found;
}

bool box_gpu_present(const char *root, const char *const *dirs, size_t n, char *why,
                     size_t why_size)
{
    char a[4096], b[4096];
    snprintf(a, sizeof(a), "%s/proc/driver/nvidia/gpus", root);
    snprintf(b, sizeof(b), "%s/dev", root);
    if (!dir_has(a, any_entry) && !dir_has(b, gpu_node)) {
        snprintf(why, why_size,
                 "no NVIDIA GPU on this host (/proc/driver/nvidia/gpus is empty "
                 "or absent, no /dev/nvidiaN)");
        return false;
    }
    bool found = false;
    if (n == 0) {
        snprintf(a, sizeof(a), "%s/etc/cdi", root);
        snprintf(b, sizeof(b), "%s/var/run/cdi", root);
        found = dir_has(a, cdi_spec) || dir_has(b, cdi_spec);
    }
    for (size_t i = 0; !found && i < n; i++)
        found = dir_has(dirs[i], cdi_spec);
    if (!found) {
        snprintf(why, why_size,
                 "an NVIDIA GPU is present but no CDI spec for %s is in %s "
                 "(box cdi generate --output /etc/cdi/nvidia.yaml)",
                 CDI_KIND, n ? "the --cdi-spec-dir directories" : "/etc/cdi or /var/run/cdi");
        return false;
    }
    why[0] = '\0';
    return true;
}
