/* The on-disk cache of compiled kernels (jit_internal.h, jit.h).
 *
 * One file per object: <dir>/<key as 16 hex digits>.hgjit, where the key
 * is the FNV-1a 64 hash of the key text (emitter version, host CPU name,
 * CPU feature string, the signatures of the kernels in the object). Layout
 * (little-endian, as the host):
 *   char     magic[8] = "HGJITOB1"
 *   uint64   key
 *   uint64   key text length K
 *   uint64   object length N
 *   uint64   checksum: FNV-1a 64 over the key text then the object
 *   char     key text[K]
 *   char     object[N]
 * A file whose magic, key, key text, lengths (the file must be exactly
 * 40 + K + N bytes) or checksum disagree is a miss: the kernels are
 * recompiled and the file replaced; its bytes never reach LLVM. Files are
 * written to a temp file and renamed into place (atomic). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codegen/jit/jit_internal.h"
#include "ir/atomic.h"

#define MAGIC "HGJITOB1"
#define HEADER 40

static void file_path(const char *dir, uint64_t key, char *buf, size_t n) {
    snprintf(buf, n, "%s/%016llx.hgjit", dir, (unsigned long long)key);
}

int hg_jit_cache_read(const char *dir, uint64_t key, const char *key_text, char **obj,
                      size_t *n) {
    char path[4096];
    file_path(dir, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char h[HEADER];
    uint64_t fk, kl, ol, ck;
    size_t tl = strlen(key_text);
    int ok = fread(h, 1, HEADER, f) == HEADER && memcmp(h, MAGIC, 8) == 0;
    if (ok) {
        memcpy(&fk, h + 8, 8);
        memcpy(&kl, h + 16, 8);
        memcpy(&ol, h + 24, 8);
        memcpy(&ck, h + 32, 8);
        ok = fk == key && kl == tl && ol > 0 && ol < ((uint64_t)1 << 34);
    }
    char *kt = NULL, *o = NULL;
    if (ok) {
        kt = malloc(tl + 1);
        o = malloc((size_t)ol);
        ok = kt && o && fread(kt, 1, tl, f) == tl && memcmp(kt, key_text, tl) == 0 &&
             fread(o, 1, (size_t)ol, f) == ol && fgetc(f) == EOF;
    }
    if (ok) {
        uint64_t c = hg_jit_fnv(hg_jit_fnv(HG_FNV_INIT, key_text, tl), o, (size_t)ol);
        ok = c == ck;
    }
    fclose(f);
    free(kt);
    if (!ok) {
        free(o);
        return 0;
    }
    *obj = o;
    *n = (size_t)ol;
    return 1;
}

/* mkdir -p */
static hg_status make_dirs(const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1;; s++) {
        int end = *s == 0;
        if (*s == '/' || end) {
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return hg_error(HG_ERR_IO, "%s: cannot create the JIT cache directory: %s", p,
                                strerror(errno));
            if (end) break;
            *s = '/';
        }
    }
    return hg_ok();
}

hg_status hg_jit_cache_write(const char *dir, uint64_t key, const char *key_text,
                             const char *obj, size_t n) {
    HG_TRY(make_dirs(dir));
    char path[4096], tmp[4200];
    file_path(dir, key, path, sizeof path);
    hg_atomic_temp_path(path, tmp, sizeof tmp);
    FILE *f = fopen(tmp, "wb");
    if (!f) return hg_error(HG_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    uint64_t tl = strlen(key_text), ol = n;
    uint64_t ck = hg_jit_fnv(hg_jit_fnv(HG_FNV_INIT, key_text, (size_t)tl), obj, n);
    unsigned char h[HEADER];
    memcpy(h, MAGIC, 8);
    memcpy(h + 8, &key, 8);
    memcpy(h + 16, &tl, 8);
    memcpy(h + 24, &ol, 8);
    memcpy(h + 32, &ck, 8);
    int ok = fwrite(h, 1, HEADER, f) == HEADER && fwrite(key_text, 1, (size_t)tl, f) == tl &&
             fwrite(obj, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        remove(tmp);
        return hg_error(HG_ERR_IO, "%s: write failed", tmp);
    }
    return hg_atomic_commit(tmp, path);
}
