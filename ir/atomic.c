/* Atomic file replacement: write to a temporary file in the destination's
 * directory, fsync it, rename it over the destination, fsync the directory
 * (so the rename itself is durable). Used by every writer of runtime/. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/ir.h"

void hg_atomic_temp_path(const char *path, char *buf, size_t n) {
    snprintf(buf, n, "%s.tmp.%ld", path, (long)getpid());
}

static hg_status fsync_path(const char *path, int is_dir) {
    int fd = open(path, is_dir ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
    if (fd < 0) return hg_error(HG_ERR_IO, "%s: cannot open for fsync: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    /* Some file systems refuse fsync on directories (EINVAL): not an error. */
    if (rc != 0 && !(is_dir && (e == EINVAL || e == EBADF)))
        return hg_error(HG_ERR_IO, "%s: fsync failed: %s", path, strerror(e));
    return hg_ok();
}

hg_status hg_atomic_commit(const char *tmp, const char *path) {
    hg_status s = fsync_path(tmp, 0);
    if (s.code != HG_OK) {
        unlink(tmp);
        return s;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return hg_error(HG_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp, strerror(e));
    }
    char *dup = strdup(path);
    if (!dup) return hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
    s = fsync_path(dirname(dup), 1);
    free(dup);
    return s;
}
