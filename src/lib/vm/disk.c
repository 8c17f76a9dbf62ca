#include "lib/vm/disk.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR BOX_VM_DISK_SECTOR

/* C12A7328-F81F-11D2-BA4B-00A0C93EC93B as stored on disk (first three
 * fields little-endian). */
static const unsigned char esp_guid[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
                                           0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};

uint32_t box_vm_crc32(const void *data, size_t len)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const unsigned char *p = data;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int read_at(int fd, uint64_t off, void *buf, size_t len, const char *what,
                   struct box_err *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return box_err_sys(err, errno, "read %s at byte %llu", what,
                               (unsigned long long)(off + done));
        if (n == 0)
            return box_err_set(err, EINVAL, "%s at byte %llu: past the end of the image", what,
                               (unsigned long long)off);
        done += (size_t)n;
    }
    return 0;
}

static int check_mbr(int fd, struct box_vm_disk_info *info, struct box_err *err)
{
    unsigned char mbr[SECTOR];
    int r = read_at(fd, 0, mbr, SECTOR, "MBR", err);
    if (r < 0)
        return r;
    if (mbr[510] != 0x55 || mbr[511] != 0xaa)
        return box_err_set(err, EINVAL,
                           "MBR: bytes 510-511 are %02x %02x, not 55 aa (the region rejects "
                           "such an image)",
                           mbr[510], mbr[511]);
    /* UEFI 2.10 5.2.3: the protective MBR has one partition of type 0xee. */
    info->protective_mbr = mbr[446 + 4] == 0xee;
    if (!info->protective_mbr)
        return box_err_set(err, EINVAL,
                           "MBR: partition 1 has type %02x, not ee (no protective MBR, so no GPT)",
                           mbr[446 + 4]);
    return 0;
}

struct gpt {
    uint64_t my_lba, alt_lba, first_usable, last_usable, entries_lba;
    uint32_t nentries, entry_size, entries_crc;
};

/* Reads and checks the header at lba; `which` names it in messages. */
static int read_gpt_header(int fd, uint64_t lba, uint64_t nsectors, const char *which,
                           struct gpt *g, struct box_err *err)
{
    unsigned char h[SECTOR];
    int r = read_at(fd, lba * SECTOR, h, SECTOR, which, err);
    if (r < 0)
        return r;
    if (memcmp(h, "EFI PART", 8) != 0)
        return box_err_set(err, EINVAL, "%s at LBA %llu: no \"EFI PART\" signature", which,
                           (unsigned long long)lba);
    uint32_t hsize = le32(h + 12);
    if (hsize < 92 || hsize > SECTOR)
        return box_err_set(err, EINVAL, "%s: header size %u is outside 92..512", which, hsize);
    uint32_t stored = le32(h + 16);
    memset(h + 16, 0, 4);
    uint32_t crc = box_vm_crc32(h, hsize);
    if (crc != stored)
        return box_err_set(err, EINVAL, "%s: header CRC32 is %08x, computed %08x", which, stored,
                           crc);
    g->my_lba = le64(h + 24);
    g->alt_lba = le64(h + 32);
    g->first_usable = le64(h + 40);
    g->last_usable = le64(h + 48);
    g->entries_lba = le64(h + 72);
    g->nentries = le32(h + 80);
    g->entry_size = le32(h + 84);
    g->entries_crc = le32(h + 88);
    if (g->my_lba != lba)
        return box_err_set(err, EINVAL, "%s: says it is at LBA %llu, found at LBA %llu", which,
                           (unsigned long long)g->my_lba, (unsigned long long)lba);
    if (g->nentries == 0 || g->nentries > BOX_VM_GPT_MAX_ENTRIES)
        return box_err_set(err, EINVAL, "%s: %u partition entries (expected 1..%u)", which,
                           g->nentries, BOX_VM_GPT_MAX_ENTRIES);
    if (g->entry_size < 128 || g->entry_size > BOX_VM_GPT_MAX_ENTRY_SZ || g->entry_size % 8)
        return box_err_set(err, EINVAL,
                           "%s: partition entry size %u is not a multiple of 8 in "
                           "128..4096",
                           which, g->entry_size);
    uint64_t array_sectors = ((uint64_t)g->nentries * g->entry_size + SECTOR - 1) / SECTOR;
    if (g->last_usable >= nsectors || g->first_usable > g->last_usable ||
        g->entries_lba >= nsectors || g->entries_lba + array_sectors > nsectors)
        return box_err_set(err, EINVAL, "%s: LBAs point past the end of the image (%llu sectors)",
                           which, (unsigned long long)nsectors);
    return 0;
}

static void copy_name(const unsigned char *e, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < 36 && k + 1 < size; i++) {
        uint16_t ch = le16(e + 56 + 2 * i);
        if (ch == 0)
            break;
        out[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[k] = '\0';
}

static int check_entries(int fd, const struct gpt *g, struct box_vm_disk_info *info,
                         struct box_err *err)
{
    size_t len = (size_t)g->nentries * g->entry_size;
    _cleanup_free_ unsigned char *a = malloc(len);
    if (!a)
        return box_err_set(err, ENOMEM, "GPT partition entries");
    int r = read_at(fd, g->entries_lba * SECTOR, a, len, "GPT partition entries", err);
    if (r < 0)
        return r;
    uint32_t crc = box_vm_crc32(a, len);
    if (crc != g->entries_crc)
        return box_err_set(err, EINVAL, "GPT partition entries: CRC32 is %08x, computed %08x",
                           g->entries_crc, crc);
    static const unsigned char zero[16];
    for (uint32_t i = 0; i < g->nentries; i++) {
        const unsigned char *e = a + (size_t)i * g->entry_size;
        if (memcmp(e, zero, 16) == 0)
            continue;
        info->nparts++;
        uint64_t first = le64(e + 32), last = le64(e + 40);
        if (first < g->first_usable || last > g->last_usable || first > last)
            return box_err_set(err, EINVAL,
                               "GPT partition %u: LBAs %llu..%llu are outside the usable "
                               "%llu..%llu",
                               i + 1, (unsigned long long)first, (unsigned long long)last,
                               (unsigned long long)g->first_usable,
                               (unsigned long long)g->last_usable);
        if (memcmp(e, esp_guid, 16) == 0 && !info->esp.esp) {
            info->esp = (struct box_vm_disk_part){
                .index = i + 1, .first_lba = first, .last_lba = last, .esp = true};
            copy_name(e, info->esp.name, sizeof(info->esp.name));
        }
    }
    if (!info->esp.esp)
        return box_err_set(err, EINVAL,
                           "GPT: no EFI system partition (type C12A7328-F81F-11D2-BA4B-"
                           "00A0C93EC93B) among %u partitions: the image cannot boot UEFI",
                           info->nparts);
    return 0;
}

/* The ESP's first sector must be a FAT boot sector (Microsoft FAT spec, 2000:
 * BPB fields, "FAT12/16" at 54 or "FAT32" at 82, 55 aa at 510). */
static int check_esp_fat(int fd, struct box_vm_disk_info *info, struct box_err *err)
{
    unsigned char b[SECTOR];
    int r = read_at(fd, info->esp.first_lba * SECTOR, b, SECTOR, "EFI system partition", err);
    if (r < 0)
        return r;
    uint16_t bps = le16(b + 11);
    unsigned spc = b[13];
    char what[64];
    snprintf(what, sizeof(what), "EFI system partition (GPT partition %u)", info->esp.index);
    if (b[510] != 0x55 || b[511] != 0xaa)
        return box_err_set(err, EINVAL, "%s: no FAT boot sector (bytes 510-511 %02x %02x)", what,
                           b[510], b[511]);
    if ((bps != 512 && bps != 1024 && bps != 2048 && bps != 4096) || spc == 0 ||
        (spc & (spc - 1)) || le16(b + 14) == 0 || b[16] == 0)
        return box_err_set(err, EINVAL,
                           "%s: not FAT formatted (bytes per sector %u, sectors "
                           "per cluster %u)",
                           what, bps, spc);
    const unsigned char *type = NULL, *label = NULL;
    if (memcmp(b + 82, "FAT32   ", 8) == 0) {
        type = b + 82;
        label = b + 71;
    } else if (memcmp(b + 54, "FAT1", 4) == 0 && (b[58] == '2' || b[58] == '6')) {
        type = b + 54;
        label = b + 43;
    } else {
        return box_err_set(err, EINVAL, "%s: no FAT12/16/32 file system type in the boot sector",
                           what);
    }
    memcpy(info->esp_fs, type, 5);
    info->esp_fs[5] = '\0';
    memcpy(info->esp_label, label, 11);
    for (int i = 10; i >= 0 && info->esp_label[i] == ' '; i--)
        info->esp_label[i] = '\0';
    info->esp_label[11] = '\0';
    return 0;
}

int box_vm_disk_check(int fd, struct box_vm_disk_info *info, struct box_err *err)
{
    memset(info, 0, sizeof(*info));
    struct stat st;
    if (fstat(fd, &st) < 0)
        return box_err_sys(err, errno, "stat");
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return box_err_set(err, EINVAL, "not a regular file or block device");
    info->size = (uint64_t)st.st_size;
    if (info->size % SECTOR)
        return box_err_set(err, EINVAL,
                           "size %llu is not a multiple of 512 bytes (a raw disk "
                           "is whole sectors)",
                           (unsigned long long)info->size);
    uint64_t nsectors = info->size / SECTOR;
    if (nsectors < 68)
        return box_err_set(err, EINVAL, "size %llu bytes is too small for a GPT disk",
                           (unsigned long long)info->size);
    int r = check_mbr(fd, info, err);
    if (r < 0)
        return r;
    struct gpt primary, backup;
    r = read_gpt_header(fd, 1, nsectors, "primary GPT header", &primary, err);
    if (r < 0)
        return r;
    r = check_entries(fd, &primary, info, err);
    if (r < 0)
        return r;
    /* A backup header that is missing or off the last sector is what a
     * truncated copy or a resize without sgdisk -e leaves. */
    if (primary.alt_lba != nsectors - 1)
        return box_err_set(err, EINVAL,
                           "primary GPT header: backup header at LBA %llu, but the "
                           "last sector is %llu (truncated or resized image)",
                           (unsigned long long)primary.alt_lba, (unsigned long long)(nsectors - 1));
    r = read_gpt_header(fd, nsectors - 1, nsectors, "backup GPT header", &backup, err);
    if (r < 0)
        return r;
    if (backup.entries_crc != primary.entries_crc || backup.nentries != primary.nentries)
        return box_err_set(err, EINVAL,
                           "backup GPT header: its partition entries differ from "
                           "the primary's");
    return check_esp_fat(fd, info, err);
}
