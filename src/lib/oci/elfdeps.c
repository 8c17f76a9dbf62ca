/* ELF dynamic dependencies without running the loader. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/oci/elfdeps.h"

static int bad(struct box_err *err, const char *why)
{
    return box_err_set(err, ENOEXEC, "not a usable ELF file: %s", why);
}

/* The file offset of a virtual address, through the PT_LOAD segments. */
static int vaddr_to_off(const Elf64_Phdr *ph, size_t n, uint64_t v, uint64_t *off)
{
    for (size_t i = 0; i < n; i++) {
        if (ph[i].p_type == PT_LOAD && v >= ph[i].p_vaddr && v - ph[i].p_vaddr < ph[i].p_filesz) {
            *off = v - ph[i].p_vaddr + ph[i].p_offset;
            return 0;
        }
    }
    return -ENOEXEC;
}

static int read_dynamic(const unsigned char *buf, size_t len, const Elf64_Phdr *ph, size_t nph,
                        const Elf64_Phdr *dyn, struct box_elf_info *out, struct box_err *err)
{
    if (dyn->p_offset > len || dyn->p_filesz > len - dyn->p_offset)
        return bad(err, "PT_DYNAMIC outside the file");
    const Elf64_Dyn *d = (const Elf64_Dyn *)(buf + dyn->p_offset);
    size_t nd = dyn->p_filesz / sizeof(Elf64_Dyn);
    uint64_t strtab = 0, strsz = 0, needed[BOX_ELF_MAX_NEEDED];
    size_t nneeded = 0;
    for (size_t i = 0; i < nd && d[i].d_tag != DT_NULL; i++) {
        if (d[i].d_tag == DT_STRTAB)
            strtab = d[i].d_un.d_ptr;
        else if (d[i].d_tag == DT_STRSZ)
            strsz = d[i].d_un.d_val;
        else if (d[i].d_tag == DT_NEEDED) {
            if (nneeded == BOX_ELF_MAX_NEEDED)
                return bad(err, "too many DT_NEEDED entries");
            needed[nneeded++] = d[i].d_un.d_val;
        }
    }
    if (nneeded == 0)
        return 0;
    uint64_t off;
    if (!strtab || vaddr_to_off(ph, nph, strtab, &off) < 0 || off > len || strsz > len - off)
        return bad(err, "DT_STRTAB outside the file");
    const char *strs = (const char *)buf + off;
    for (size_t i = 0; i < nneeded; i++) {
        if (needed[i] >= strsz)
            return bad(err, "DT_NEEDED outside the string table");
        const char *name = strs + needed[i];
        size_t max = strsz - needed[i], l = strnlen(name, max);
        if (l == max || l == 0 || l >= sizeof(out->needed[0]) || strchr(name, '/'))
            return bad(err, "a DT_NEEDED name is empty, unterminated, too long or has a '/'");
        memcpy(out->needed[out->nneeded++], name, l + 1);
    }
    return 0;
}

int box_elf_parse(const unsigned char *buf, size_t len, struct box_elf_info *out,
                  struct box_err *err)
{
    memset(out, 0, sizeof(*out));
    if (len < sizeof(Elf64_Ehdr) || memcmp(buf, ELFMAG, SELFMAG) != 0)
        return bad(err, "no ELF header");
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
        return bad(err, "not 64-bit little-endian");
    if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > len ||
        (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
        return bad(err, "program headers outside the file");
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(buf + eh->e_phoff);
    size_t nph = eh->e_phnum;
    for (size_t i = 0; i < nph; i++) {
        if (ph[i].p_type == PT_INTERP) {
            if (ph[i].p_offset > len || ph[i].p_filesz > len - ph[i].p_offset ||
                ph[i].p_filesz < 2 || ph[i].p_filesz > sizeof(out->interp))
                return bad(err, "PT_INTERP outside the file or too long");
            const char *s = (const char *)buf + ph[i].p_offset;
            if (s[0] != '/' || strnlen(s, ph[i].p_filesz) != ph[i].p_filesz - 1)
                return bad(err, "PT_INTERP is not an absolute, terminated path");
            memcpy(out->interp, s, ph[i].p_filesz);
        }
    }
    for (size_t i = 0; i < nph; i++)
        if (ph[i].p_type == PT_DYNAMIC)
            return read_dynamic(buf, len, ph, nph, &ph[i], out, err);
    return 0;
}

static int parse_file(const char *path, struct box_elf_info *info, struct box_err *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = box_read_file(AT_FDCWD, path, BOX_ELF_FILE_MAX, &data, &len, err);
    if (rc < 0)
        return rc;
    rc = box_elf_parse((const unsigned char *)data, len, info, err);
    free(data);
    return rc < 0 ? box_err_prefix(err, "`%s`", path) : 0;
}

bool box_elf_is_driver_lib(const char *name)
{
    static const char *const prefixes[] = {"libcuda.so", "libcudadebugger.so", "libnvidia-",
                                           "libnvcuvid.so", "libnvoptix.so"};
    for (size_t i = 0; i < BOX_ARRAY_SIZE(prefixes); i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static int find_lib(const char *name, const char *root, const char *const *dirs, size_t ndirs,
                    char *out, struct box_err *err)
{
    for (size_t i = 0; i < ndirs; i++) {
        char host[PATH_MAX * 2];
        struct stat st;
        snprintf(host, sizeof(host), "%s%s/%s", root, dirs[i], name);
        if (stat(host, &st) == 0 && S_ISREG(st.st_mode)) {
            snprintf(out, PATH_MAX, "%s/%s", dirs[i], name);
            return 0;
        }
    }
    return box_err_set(err, ENOENT, "`%s`: not found in the library directories", name);
}

static bool have(const struct box_elf_deps *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->libs[i].name, name) == 0)
            return true;
    return false;
}

/* Adds the libraries `info` needs that are not known yet; returns how many. */
static int add_needed(const struct box_elf_info *info, const char *who, const char *root,
                      const char *const *dirs, size_t ndirs, bool (*refuse)(const char *),
                      struct box_elf_deps *d, struct box_err *err)
{
    const char *interp_base = strrchr(d->interp, '/');
    for (size_t i = 0; i < info->nneeded; i++) {
        const char *name = info->needed[i];
        /* The loader satisfies its own soname (libc.so.6 lists it). */
        if (have(d, name) || (interp_base && strcmp(name, interp_base + 1) == 0))
            continue;
        if (refuse && refuse(name))
            return box_err_set(err, EPERM,
                               "`%s` (needed by `%s`) is a driver library: the "
                               "host provides it at run time, an image must not",
                               name, who);
        if (d->n == BOX_ELF_MAX_LIBS)
            return box_err_set(err, E2BIG, "`%s`: more than %d libraries", who, BOX_ELF_MAX_LIBS);
        struct box_elf_lib *l = &d->libs[d->n];
        int rc = find_lib(name, root, dirs, ndirs, l->path, err);
        if (rc < 0)
            return box_err_prefix(err, "needed by `%s`", who);
        snprintf(l->name, sizeof(l->name), "%s", name);
        d->n++;
    }
    return 0;
}

int box_elf_deps(const char *program, const char *root, const char *const *dirs, size_t ndirs,
                 bool (*refuse)(const char *name), struct box_elf_deps *out, struct box_err *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_free_ struct box_elf_info *info = malloc(sizeof(*info));
    if (!info)
        return box_err_set(err, ENOMEM, "`%s`: out of memory", program);
    int rc = parse_file(program, info, err);
    if (rc < 0)
        return rc;
    memcpy(out->interp, info->interp, sizeof(out->interp));
    rc = add_needed(info, program, root, dirs, ndirs, refuse, out, err);
    /* Breadth first over the list as it grows: each library once. */
    for (size_t i = 0; rc == 0 && i < out->n; i++) {
        char host[PATH_MAX * 2];
        snprintf(host, sizeof(host), "%s%s", root, out->libs[i].path);
        rc = parse_file(host, info, err);
        if (rc == 0)
            rc = add_needed(info, out->libs[i].name, root, dirs, ndirs, refuse, out, err);
    }
    return rc;
}
