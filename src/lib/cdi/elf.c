#include "lib/cdi/elf.h"

#include <elf.h>
#include <endian.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Real libraries have a dozen program headers and a few dozen dynamic
 * entries; these bounds only stop a hostile file from making us loop. */
#define ELF_PHNUM_MAX 256
#define ELF_DYN_MAX   4096
#define ELF_DYN_CHUNK 64
/* The ELF header and the program headers of a library lie in its first
 * page: one read serves them, instead of one per header. */
#define ELF_HEAD 4096

#if __BYTE_ORDER == __LITTLE_ENDIAN
#define ELF_NATIVE_DATA ELFDATA2LSB
#else
#define ELF_NATIVE_DATA ELFDATA2MSB
#endif

/* The fields box uses, the same for ELF32 and ELF64. */
struct phdr {
    uint32_t type;
    uint64_t offset, vaddr, filesz;
};

struct elf {
    int fd;
    const char *what;
    uint64_t size; /* of the file */
    bool is64;
    uint16_t machine;
    uint64_t phoff;
    uint16_t phnum;
    struct phdr ph[ELF_PHNUM_MAX];
    size_t head_len; /* bytes of the file's start held in head */
    unsigned char head[ELF_HEAD];
};

static int bad(struct box_err *err, const char *what, const char *why)
{
    return box_err_set(err, ENOEXEC, "`%s`: not a usable ELF file: %s", what, why);
}

/* Reads exactly len bytes at off, which must lie inside the file. */
static int read_at(const struct elf *e, uint64_t off, void *buf, size_t len, struct box_err *err)
{
    if (off > e->size || len > e->size - off)
        return bad(err, e->what, "an offset points past the end of the file");
    if (off <= e->head_len && len <= e->head_len - off) {
        memcpy(buf, e->head + off, len);
        return 0;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(e->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return box_err_sys(err, errno, "read `%s`", e->what);
        if (n == 0)
            return bad(err, e->what, "truncated");
        done += (size_t)n;
    }
    return 0;
}

static int read_header(struct elf *e, struct box_err *err)
{
    size_t want = e->size < ELF_HEAD ? (size_t)e->size : ELF_HEAD;
    int r = read_at(e, 0, e->head, want, err);
    if (r < 0)
        return r;
    e->head_len = want;
    unsigned char ident[EI_NIDENT];
    r = read_at(e, 0, ident, sizeof(ident), err);
    if (r < 0)
        return r;
    if (memcmp(ident, ELFMAG, SELFMAG) != 0)
        return bad(err, e->what, "no ELF magic");
    if (ident[EI_DATA] != ELF_NATIVE_DATA)
        return bad(err, e->what, "not in the host's byte order");
    if (ident[EI_CLASS] == ELFCLASS64) {
        Elf64_Ehdr h;
        if ((r = read_at(e, 0, &h, sizeof(h), err)) < 0)
            return r;
        if (h.e_phentsize != sizeof(Elf64_Phdr))
            return bad(err, e->what, "unexpected program header size");
        e->is64 = true;
        e->machine = h.e_machine;
        e->phoff = h.e_phoff;
        e->phnum = h.e_phnum;
    } else if (ident[EI_CLASS] == ELFCLASS32) {
        Elf32_Ehdr h;
        if ((r = read_at(e, 0, &h, sizeof(h), err)) < 0)
            return r;
        if (h.e_phentsize != sizeof(Elf32_Phdr))
            return bad(err, e->what, "unexpected program header size");
        e->is64 = false;
        e->machine = h.e_machine;
        e->phoff = h.e_phoff;
        e->phnum = h.e_phnum;
    } else {
        return bad(err, e->what, "unknown ELF class");
    }
    if (e->phnum > ELF_PHNUM_MAX)
        return bad(err, e->what, "too many program headers");
    return 0;
}

static int read_phdrs(struct elf *e, struct box_err *err)
{
    for (uint16_t i = 0; i < e->phnum; i++) {
        int r;
        if (e->is64) {
            Elf64_Phdr p;
            r = read_at(e, e->phoff + (uint64_t)i * sizeof(p), &p, sizeof(p), err);
            e->ph[i] = (struct phdr){p.p_type, p.p_offset, p.p_vaddr, p.p_filesz};
        } else {
            Elf32_Phdr p;
            r = read_at(e, e->phoff + (uint64_t)i * sizeof(p), &p, sizeof(p), err);
            e->ph[i] = (struct phdr){p.p_type, p.p_offset, p.p_vaddr, p.p_filesz};
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* The file offset of a virtual address, through the PT_LOAD that maps it. */
static int vaddr_offset(const struct elf *e, uint64_t addr, uint64_t *off)
{
    for (uint16_t i = 0; i < e->phnum; i++) {
        const struct phdr *p = &e->ph[i];
        if (p->type == PT_LOAD && addr >= p->vaddr && addr - p->vaddr < p->filesz) {
            *off = p->offset + (addr - p->vaddr);
            return *off >= p->offset ? 0 : -1;
        }
    }
    return -1;
}

struct dyn_found {
    bool has_soname, has_strtab, has_strsz;
    uint64_t soname, strtab, strsz;
};

static int scan_dynamic(const struct elf *e, const struct phdr *dp, struct dyn_found *f,
                        struct box_err *err)
{
    size_t entsz = e->is64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn);
    uint64_t count = dp->filesz / entsz;
    if (count > ELF_DYN_MAX)
        count = ELF_DYN_MAX;
    for (uint64_t i = 0; i < count; i += ELF_DYN_CHUNK) {
        union {
            Elf64_Dyn d64[ELF_DYN_CHUNK];
            Elf32_Dyn d32[ELF_DYN_CHUNK];
        } buf;
        size_t n = count - i < ELF_DYN_CHUNK ? (size_t)(count - i) : ELF_DYN_CHUNK;
        int r = read_at(e, dp->offset + i * entsz, &buf, n * entsz, err);
        if (r < 0)
            return r;
        for (size_t j = 0; j < n; j++) {
            int64_t tag = e->is64 ? buf.d64[j].d_tag : buf.d32[j].d_tag;
            uint64_t val = e->is64 ? buf.d64[j].d_un.d_val : buf.d32[j].d_un.d_val;
            if (tag == DT_NULL)
                return 0;
            if (tag == DT_SONAME)
                f->has_soname = true, f->soname = val;
            else if (tag == DT_STRTAB)
                f->has_strtab = true, f->strtab = val;
            else if (tag == DT_STRSZ)
                f->has_strsz = true, f->strsz = val;
        }
    }
    return 0;
}

/* A SONAME becomes a file name next to the library: it must be one. */
static bool plain_name(const char *s)
{
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static int read_soname(const struct elf *e, const struct phdr *dp, struct box_elf_info *info,
                       struct box_err *err)
{
    struct dyn_found f = {0};
    int r = scan_dynamic(e, dp, &f, err);
    if (r < 0 || !f.has_soname)
        return r;
    uint64_t strtab;
    if (!f.has_strtab || vaddr_offset(e, f.strtab, &strtab) < 0)
        return bad(err, e->what, "DT_STRTAB is missing or not mapped by a PT_LOAD");
    if (f.has_strsz && f.soname >= f.strsz)
        return bad(err, e->what, "DT_SONAME lies outside the string table");
    if (strtab + f.soname < strtab || strtab + f.soname >= e->size)
        return bad(err, e->what, "DT_SONAME points past the end of the file");
    uint64_t at = strtab + f.soname;
    size_t len = sizeof(info->soname);
    if (e->size - at < len)
        len = (size_t)(e->size - at);
    char buf[BOX_ELF_SONAME_MAX];
    if ((r = read_at(e, at, buf, len, err)) < 0)
        return r;
    if (!memchr(buf, '\0', len))
        return bad(err, e->what, "DT_SONAME is not terminated within 255 bytes");
    if (!plain_name(buf))
        return bad(err, e->what, "DT_SONAME is not a plain file name");
    memcpy(info->soname, buf, strlen(buf) + 1);
    return 0;
}

int box_elf_read(int fd, const char *what, struct box_elf_info *info, struct box_err *err)
{
    memset(info, 0, sizeof(*info));
    struct stat st;
    if (fstat(fd, &st) < 0)
        return box_err_sys(err, errno, "stat `%s`", what);
    if (!S_ISREG(st.st_mode))
        return bad(err, what, "not a regular file");
    struct elf e = {.fd = fd, .what = what, .size = (uint64_t)st.st_size};
    int r = read_header(&e, err);
    if (r < 0 || (r = read_phdrs(&e, err)) < 0)
        return r;
    info->is64 = e.is64;
    info->machine = e.machine;
    const struct phdr *dyn = NULL;
    for (uint16_t i = 0; i < e.phnum; i++) {
        if (e.ph[i].type == PT_INTERP)
            info->has_interp = true;
        else if (e.ph[i].type == PT_DYNAMIC && !dyn)
            dyn = &e.ph[i];
    }
    info->has_dynamic = dyn != NULL;
    return dyn ? read_soname(&e, dyn, info, err) : 0;
}
