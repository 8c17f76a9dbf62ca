/* The filesystem side of extraction: every directory, file, symlink and hard
 * link is created below dest_fd through openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) (fsx.h), files with O_EXCL, never over anything.
 *
 * Threaded mode queues the operations, in order, to one writer thread over a
 * bounded ring (the bytes are copied in), so that the kernel's share of
 * writing overlaps with decompression and hashing. It is meant for the tools
 * (box-bundle, box-validate), never for the runtime, which forks and clones.
 * A failure is reported by the next call, or by box_writer_finish(). */
#ifndef BOX_IMAGE_WRITER_H
#define BOX_IMAGE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"

struct box_writer;

int box_writer_open(int dest_fd, bool threaded, struct box_writer **out, struct box_err *err);
/* Stops the thread if one runs and releases everything (after an error too). */
void box_writer_free(struct box_writer *w);

int box_writer_mkdir(struct box_writer *w, const char *path, struct box_err *err);
/* One file at a time: begin, data..., end. */
int box_writer_file_begin(struct box_writer *w, const char *path, struct box_err *err);
int box_writer_file_data(struct box_writer *w, const void *buf, size_t len, struct box_err *err);
int box_writer_file_end(struct box_writer *w, uint32_t mode, int64_t mtime, struct box_err *err);
int box_writer_symlink(struct box_writer *w, const char *path, const char *target, int64_t mtime,
                       struct box_err *err);
int box_writer_link(struct box_writer *w, const char *src, const char *path, struct box_err *err);

/* Waits until every queued operation is done; the first failure, if any. */
int box_writer_finish(struct box_writer *w, struct box_err *err);

#endif
