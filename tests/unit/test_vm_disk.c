/* box_vm_disk_check on synthetic raw disks built in memory: a good GPT disk
 * with a FAT16 EFI system partition, and the same disk broken one way at a
 * time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/vm/disk.h"

#define SECTORS  8192u /* 4 MiB */
#define NENTRIES 128u
#define ESP_LBA  2048u
#define ESP_END  4095u

static const unsigned char esp_type[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
                                           0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};
static const unsigned char linux_type[16] = {0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
                                             0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4};

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static unsigned char *sector(unsigned char *d, uint64_t lba)
{
    return d + lba * 512;
}

static void write_header(unsigned char *d, uint64_t lba, uint64_t alt, uint64_t entries)
{
    unsigned char *h = sector(d, lba);
    memset(h, 0, 512);
    memcpy(h, "EFI PART", 8);
    put32(h + 8, 0x00010000);
    put32(h + 12, 92);
    put64(h + 24, lba);
    put64(h + 32, alt);
    put64(h + 40, 34);
    put64(h + 48, SECTORS - 34);
    memset(h + 56, 0x5a, 16); /* disk GUID */
    put64(h + 72, entries);
    put32(h + 80, NENTRIES);
    put32(h + 84, 128);
    put32(h + 88, box_vm_crc32(sector(d, entries), NENTRIES * 128));
    put32(h + 16, box_vm_crc32(h, 92));
}

/* Recomputes both headers after the entries changed. */
static void seal(unsigned char *d)
{
    memcpy(sector(d, SECTORS - 33), sector(d, 2), NENTRIES * 128);
    write_header(d, 1, SECTORS - 1, 2);
    write_header(d, SECTORS - 1, 1, SECTORS - 33);
}

static unsigned char *good_disk(void)
{
    unsigned char *d = calloc(SECTORS, 512);
    assert_non_null(d);
    d[446 + 4] = 0xee; /* protective MBR */
    put32(d + 446 + 8, 1);
    put32(d + 446 + 12, SECTORS - 1);
    d[510] = 0x55;
    d[511] = 0xaa;
    unsigned char *e = sector(d, 2);
    memcpy(e, esp_type, 16);
    memset(e + 16, 0x11, 16);
    put64(e + 32, ESP_LBA);
    put64(e + 40, ESP_END);
    const char *name = "EFI System";
    for (size_t i = 0; name[i]; i++)
        e[56 + 2 * i] = (unsigned char)name[i];
    e += 128;
    memcpy(e, linux_type, 16);
    memset(e + 16, 0x22, 16);
    put64(e + 32, ESP_END + 1);
    put64(e + 40, SECTORS - 34);
    /* FAT16 boot sector of the ESP */
    unsigned char *b = sector(d, ESP_LBA);
    b[0] = 0xeb;
    b[1] = 0x3c;
    b[2] = 0x90;
    b[11] = 0x00;
    b[12] = 0x02; /* 512 bytes per sector */
    b[13] = 4;    /* sectors per cluster */
    b[14] = 4;    /* reserved sectors */
    b[16] = 2;    /* FATs */
    memcpy(b + 43, "ESP        ", 11);
    memcpy(b + 54, "FAT16   ", 8);
    b[510] = 0x55;
    b[511] = 0xaa;
    seal(d);
    return d;
}

static int check(const unsigned char *d, size_t size, struct box_vm_disk_info *info,
                 struct box_err *err)
{
    int fd = memfd_create("disk", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, d, size), (ssize_t)size);
    int r = box_vm_disk_check(fd, info, err);
    close(fd);
    return r;
}

static void expect_error(const unsigned char *d, size_t size, const char *needle)
{
    struct box_vm_disk_info info;
    struct box_err err = {0};
    assert_int_equal(check(d, size, &info, &err), -EINVAL);
    if (!strstr(err.msg, needle))
        fail_msg("error `%s` does not mention `%s`", err.msg, needle);
}

static void test_crc32_vector(void **state)
{
    (void)state;
    assert_int_equal(box_vm_crc32("123456789", 9), 0xcbf43926u);
}

static void test_good(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    struct box_vm_disk_info info;
    struct box_err err = {0};
    if (check(d, SECTORS * 512, &info, &err) != 0)
        fail_msg("good disk rejected: %s", err.msg);
    assert_true(info.protective_mbr);
    assert_int_equal(info.nparts, 2);
    assert_int_equal(info.esp.index, 1);
    assert_int_equal(info.esp.first_lba, ESP_LBA);
    assert_int_equal(info.esp.last_lba, ESP_END);
    assert_string_equal(info.esp_fs, "FAT16");
    assert_string_equal(info.esp_label, "ESP");
    assert_string_equal(info.esp.name, "EFI System");
    free(d);
}

static void test_no_55aa(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    d[511] = 0x00;
    expect_error(d, SECTORS * 512, "bytes 510-511 are 55 00");
    free(d);
}

static void test_not_protective(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    d[446 + 4] = 0x83;
    expect_error(d, SECTORS * 512, "not ee");
    free(d);
}

static void test_bad_header_crc(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    sector(d, 1)[40] ^= 1; /* first usable LBA changed after sealing */
    expect_error(d, SECTORS * 512, "primary GPT header: header CRC32");
    free(d);
}

static void test_bad_entries_crc(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    sector(d, 2)[100] ^= 1;
    expect_error(d, SECTORS * 512, "partition entries: CRC32");
    free(d);
}

static void test_no_esp(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    memcpy(sector(d, 2), linux_type, 16);
    seal(d);
    expect_error(d, SECTORS * 512, "no EFI system partition");
    free(d);
}

static void test_esp_not_fat(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    memset(sector(d, ESP_LBA), 0, 512);
    expect_error(d, SECTORS * 512, "no FAT boot sector");
    free(d);
}

static void test_truncated(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    expect_error(d, (SECTORS - 8) * 512, "truncated or resized");
    free(d);
}

static void test_bad_backup(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    memset(sector(d, SECTORS - 1), 0, 512);
    expect_error(d, SECTORS * 512, "backup GPT header");
    free(d);
}

static void test_partition_out_of_range(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    put64(sector(d, 2) + 128 + 40, SECTORS + 100);
    seal(d);
    expect_error(d, SECTORS * 512, "outside the usable");
    free(d);
}

static void test_huge_entry_count(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    unsigned char *h = sector(d, 1);
    put32(h + 80, 1u << 30);
    put32(h + 16, 0);
    put32(h + 16, box_vm_crc32(h, 92));
    expect_error(d, SECTORS * 512, "partition entries (expected 1..1024)");
    free(d);
}

static void test_odd_size_and_tiny(void **state)
{
    (void)state;
    unsigned char *d = good_disk();
    expect_error(d, SECTORS * 512 - 100, "not a multiple of 512");
    expect_error(d, 4096, "too small");
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_vector),
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_no_55aa),
        cmocka_unit_test(test_not_protective),
        cmocka_unit_test(test_bad_header_crc),
        cmocka_unit_test(test_bad_entries_crc),
        cmocka_unit_test(test_no_esp),
        cmocka_unit_test(test_esp_not_fat),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_backup),
        cmocka_unit_test(test_partition_out_of_range),
        cmocka_unit_test(test_huge_entry_count),
        cmocka_unit_test(test_odd_size_and_tiny),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
