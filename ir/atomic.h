/* Atomic file replacement (a sub-header of ir/ir.h; ir/atomic.c), below
 * every writer of files: the ONNX writer (codegen/), datasets,
 * checkpoints and the other writers of runtime/ and models/. */
#ifndef HG_ATOMIC_H
#define HG_ATOMIC_H

#include <stddef.h>
#include <stdio.h>

/* ============================================================ output files
 * What halograph promises about a user's files (README, "What halograph
 * promises about your files"), implemented in runtime/atomic.c:
 *  - an output is written to "<dest>.tmp.<pid>" in the destination's
 *    directory, fsynced, renamed over the destination and the directory
 *    fsynced: a crash leaves the old or the new file, never a mixture;
 *  - only a missing or regular file is replaced: an existing directory,
 *    device, FIFO or socket is refused (HG_ERR_INVALID), before and again
 *    at the rename; a symbolic link is written through (its final target
 *    is replaced atomically, the link stays); a dangling link is refused;
 *  - an existing destination keeps its permission bits;
 *  - a command's outputs are checked against its inputs (hg_output_check).
 * Test hook: the environment variable HG_FAULT_INJECT=KIND[@N][:NAME] makes
 * the writer of a temporary file (with file name NAME, or any) fail: KIND
 * enospc (ENOSPC once N bytes are written), kill (SIGKILL once N bytes are
 * written) or kill-before-rename (SIGKILL after the fsync). */

/* Refuses (HG_ERR_INVALID, one line naming both paths) an output path that
 * names the same file (device and inode, after following symbolic links
 * and hard links alike) as one of the n_inputs input paths (NULL entries
 * and inputs that do not exist are skipped), or an existing output that is
 * not a regular file or is a dangling symbolic link. Call it for every
 * output of a command before doing any work; the inputs of a run directory
 * are its files (models/drivers.h hg_run_files). */
hg_status hg_output_check(const char *out, const char *const *inputs, int n_inputs);
/* An output directory (created later if missing): refused when it exists
 * and is not a directory, or is one of the inputs. Check the files to be
 * written inside it with hg_output_check. */
hg_status hg_output_dir_check(const char *dir, const char *const *inputs, int n_inputs);

/* An output directory that a command fills with files of fixed names (a
 * training run, an export-weights directory): refused (HG_ERR_INVALID, one
 * line naming the directory and one of its entries) when it exists, holds
 * any entry and lacks `marker` (e.g. "checkpoint.h5"), since writing the
 * fixed names there (config.yaml, metrics.csv, ...) would replace files of
 * the user's. A missing or empty directory, or one with the marker (an
 * earlier output of the command), is fine. */
hg_status hg_output_dir_foreign_check(const char *dir, const char *marker);

/* An output file being written (opaque; see above). */
typedef struct hg_atomic_file hg_atomic_file;
/* Checks the destination, removes its stale temporary files (those of
 * dead processes, hg_atomic_remove_stale) and creates its own (O_EXCL).
 * Errors:
 * HG_ERR_INVALID (special file, dangling link), HG_ERR_IO (cannot create). */
hg_status hg_atomic_open(const char *path, hg_atomic_file **af);
/* The stream to write the contents to (owned by af). */
FILE *hg_atomic_stream(hg_atomic_file *af);
/* When s is OK and every write succeeded: fsync, rename into place, fsync
 * of the directory; otherwise removes the temporary file. Frees af.
 * Returns s if it failed, else the first error of the commit (HG_ERR_IO
 * naming the path and errno's text, e.g. "No space left on device"). */
hg_status hg_atomic_close(hg_atomic_file *af, hg_status s);
/* The whole file from memory: open, write n bytes, close. */
hg_status hg_atomic_write(const char *path, const void *buf, size_t n);

/* Lower level, for writers that create the temporary file themselves:
 * "<dest>.tmp.<pid>" into buf (dest = path, or its link target). */
void hg_atomic_temp_path(const char *path, char *buf, size_t n);
/* fsync(tmp), destination check, rename(tmp, dest), fsync(directory). On
 * failure the temp file is removed. */
hg_status hg_atomic_commit(const char *tmp, const char *path);

/* Removes the regular files "<name>.tmp.<pid>" of dir whose process no
 * longer exists (a writer killed before its rename). Files of live
 * processes and of this one are kept. n_removed may be NULL. */
hg_status hg_atomic_remove_stale(const char *dir, int *n_removed);

/* mkdir -p that records the directories it created, so that a command
 * that fails can remove them again (hg_mkdirs_undo: rmdir, deepest first,
 * only empty ones) or keep them (hg_mkdirs_keep). rec may be NULL;
 * initialise it with {0}. */
#define HG_MKDIRS_MAX 32
typedef struct {
    int n;
    char *made[HG_MKDIRS_MAX];
} hg_mkdirs_record;
hg_status hg_mkdirs(const char *dir, hg_mkdirs_record *rec);
void hg_mkdirs_undo(hg_mkdirs_record *rec);
void hg_mkdirs_keep(hg_mkdirs_record *rec);

#endif
