/* Checks on a raw disk image before it is booted or registered: the region
 * reads bytes 510-511 and wants 55 aa (an MBR or a protective MBR), imports
 * it as a UEFI disk, and so it needs a GPT (both headers and the entry array
 * intact, CRC32 as UEFI 2.10 section 5.3 defines them) with an EFI system
 * partition holding a FAT file system. Everything read is bounded and
 * checked against the file's size; nothing is written. */
#ifndef BOX_VM_DISK_H
#define BOX_VM_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/base/err.h"

#define BOX_VM_DISK_SECTOR      512u
#define BOX_VM_GPT_MAX_ENTRIES  1024u
#define BOX_VM_GPT_MAX_ENTRY_SZ 4096u

struct box_vm_disk_part {
    uint32_t index; /* 1-based, as sfdisk and the kernel count */
    uint64_t first_lba, last_lba;
    bool esp;
    char name[73]; /* UTF-16LE name, ASCII part only */
};

struct box_vm_disk_info {
    uint64_t size;       /* bytes */
    bool protective_mbr; /* partition 1 of the MBR has type 0xee */
    uint32_t nparts;     /* used GPT entries */
    struct box_vm_disk_part esp;
    char esp_fs[9]; /* "FAT12", "FAT16" or "FAT32" */
    char esp_label[12];
};

/* Checks the image open on fd; fills info as far as it got. -EINVAL (with
 * err naming the structure and the byte offset) when the image is not a
 * UEFI-bootable raw disk, another -errno on I/O errors. */
int box_vm_disk_check(int fd, struct box_vm_disk_info *info, struct box_err *err);

/* CRC32 (IEEE 802.3, as GPT uses it). */
uint32_t box_vm_crc32(const void *data, size_t len);

#endif
