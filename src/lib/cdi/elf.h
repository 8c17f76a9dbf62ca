/* A bounded reader of the two things box needs from an ELF file: the SONAME
 * of a shared library (for the soname links of CDI library mounts) and
 * whether a program asks for an interpreter (a hook only runs a static host
 * binary inside a container root). Reads through pread(2) and never trusts
 * an offset, a size or a count found in the file. */
#ifndef BOX_CDI_ELF_H
#define BOX_CDI_ELF_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/base/err.h"

#define BOX_ELF_SONAME_MAX 256

struct box_elf_info {
    bool is64;                       /* ELFCLASS64 */
    uint16_t machine;                /* e_machine: EM_X86_64, EM_AARCH64, ... */
    bool has_interp;                 /* a PT_INTERP program header */
    bool has_dynamic;                /* a PT_DYNAMIC program header */
    char soname[BOX_ELF_SONAME_MAX]; /* DT_SONAME, "" when there is none */
};

/* Reads the ELF file open at fd (native byte order, 32 or 64 bits).
 * -ENOEXEC with err naming `what` when it is not such a file or is
 * malformed; -errno on read errors. */
int box_elf_read(int fd, const char *what, struct box_elf_info *info, struct box_err *err);

#endif
