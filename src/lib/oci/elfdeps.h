/* The shared libraries an ELF executable needs, found the way the dynamic
 * loader finds them when no ld.so.cache and no RUNPATH are present: its
 * PT_INTERP, then the DT_NEEDED names of the program and, transitively, of
 * every library, each looked up in a list of directories. It reads the
 * files; it never runs them (unlike ldd, which runs the loader).
 *
 * Only 64-bit little-endian ELF is read (x86-64, aarch64). */
#ifndef BOX_OCI_ELFDEPS_H
#define BOX_OCI_ELFDEPS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/base/err.h"

#define BOX_ELF_MAX_LIBS   64
#define BOX_ELF_MAX_NEEDED 128
#define BOX_ELF_FILE_MAX   (256u << 20)

struct box_elf_info {
    char interp[PATH_MAX]; /* "" for a static executable */
    char needed[BOX_ELF_MAX_NEEDED][256];
    size_t nneeded;
};

/* Parses an ELF image in memory. -ENOEXEC for anything that is not a
 * well-formed 64-bit little-endian ELF file; every offset is bounds-checked. */
int box_elf_parse(const unsigned char *buf, size_t len, struct box_elf_info *out,
                  struct box_err *err);

struct box_elf_lib {
    char name[256];      /* the DT_NEEDED name */
    char path[PATH_MAX]; /* where it was found, below root, starting with '/' */
};

struct box_elf_deps {
    char interp[PATH_MAX];
    struct box_elf_lib libs[BOX_ELF_MAX_LIBS];
    size_t n;
};

/* The closure of `program` (a host path). Libraries are looked up as
 * root + dir + "/" + name for each dir in turn (root "" is the host). A name
 * for which `refuse` returns true is an error (driver libraries never enter
 * an image); refuse may be NULL. */
int box_elf_deps(const char *program, const char *root, const char *const *dirs, size_t ndirs,
                 bool (*refuse)(const char *name), struct box_elf_deps *out, struct box_err *err);

/* libcuda, libnvidia-*, libcudadebugger, libnvcuvid: what the host's driver
 * provides and CDI injects. */
bool box_elf_is_driver_lib(const char *name);

#endif
