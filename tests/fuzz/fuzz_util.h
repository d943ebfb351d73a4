/* Shared by the libFuzzer targets of tests/fuzz: the input as a
 * NUL-terminated string or as a temp file (the readers under test take
 * paths). Each process writes its own file in /dev/shm (or TMPDIR). */
#ifndef HG_FUZZ_UTIL_H
#define HG_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A malloc'd NUL-terminated copy of the input (caller frees). */
static inline char *hg_fuzz_string(const uint8_t *data, size_t n) {
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, data, n);
    s[n] = 0;
    return s;
}

/* The path of this process's temp file with suffix `ext` (".npy"). */
static inline const char *hg_fuzz_path(const char *ext) {
    static char path[256];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(path, sizeof path, "%s/hgfuzz-%ld%s", dir, (long)getpid(), ext);
    return path;
}

/* Writes the input to hg_fuzz_path(ext) and returns that path. */
static inline const char *hg_fuzz_file(const uint8_t *data, size_t n, const char *ext) {
    const char *p = hg_fuzz_path(ext);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    fclose(f);
    return p;
}

/* A property the code under test must keep: abort (a libFuzzer crash) when not. */
#define HG_FUZZ_ASSERT(c)                                                         \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                              \
        }                                                                         \
    } while (0)

#endif
