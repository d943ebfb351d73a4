/* Atomic file replacement (a sub-header of ir/ir.h; ir/atomic.c), below
 * every writer of files: the ONNX writer (codegen/), datasets,
 * checkpoints and the other writers of runtime/ and models/. */
#ifndef HG_ATOMIC_H
#define HG_ATOMIC_H

#include <stddef.h>

/* "<path>.tmp.<pid>" into buf. */
void hg_atomic_temp_path(const char *path, char *buf, size_t n);
/* fsync(tmp), rename(tmp, path), fsync(directory of path). On failure the
 * temp file is removed. */
hg_status hg_atomic_commit(const char *tmp, const char *path);

#endif
