/* Bounded reading of text input files (ir.h, "text input files"): every
 * text a user hands to halograph (YAML configs, CSV and whitespace tables,
 * graph text files, run files) is read here, at most HG_TEXT_MAX_BYTES. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/ir.h"

hg_status hg_read_text_file(const char *path, size_t max, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    /* O_NONBLOCK: a FIFO without a writer must not hang the open */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return hg_error(HG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hg_error(HG_ERR_IO, "%s: cannot inspect: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return hg_error(HG_ERR_IO, "%s: is a directory, not a text file", path);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > (uint64_t)max) {
        close(fd);
        return hg_error(HG_ERR_FORMAT, "%s: %lld bytes, over the %zu-byte limit of a text input", path,
                        (long long)st.st_size, max);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536, n = 0;
    char *buf = malloc(cap + 1);
    hg_status s = hg_ok();
    while (buf && s.code == HG_OK) {
        if (n == cap) {
            if (cap > max) break;
            size_t nc = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(buf, nc + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = nc;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) s = hg_error(HG_ERR_IO, "%s: read error: %s", path, strerror(errno));
        if (r <= 0) break;
        /* a device such as /dev/zero or /dev/urandom: refused at its first NUL */
        char *nul = memchr(buf + n, 0, (size_t)r);
        if (nul) s = hg_error(HG_ERR_FORMAT, "%s: binary data (a NUL byte at offset %zu): not a text file", path,
                              n + (size_t)(nul - (buf + n)));
        n += (size_t)r;
        if (n > max)
            s = hg_error(HG_ERR_FORMAT, "%s: more than %zu bytes, over the limit of a text input%s", path, max,
                         S_ISREG(st.st_mode) ? "" : " (not a regular file: read up to the limit)");
    }
    close(fd);
    if (!buf) return hg_error(HG_ERR_NOMEM, "%s: out of memory reading the file", path);
    if (s.code != HG_OK) {
        free(buf);
        return s;
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return hg_ok();
}
