/* numpy .npy files (format 1.0/2.0/3.0, numpy.lib.format): read into and
 * write from hg_tensor. Layout: magic "\x93NUMPY", major, minor, header
 * length (u16 for 1.x, u32 for 2.x/3.x, little-endian), a Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (a, b), }
 * padded with spaces and ended by '\n', then the raw array bytes. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/runtime.h"

/* ------------------------------------------------------ header parsing */

typedef struct {
    const char *s;
    size_t i, n;
} cursor;

static void skip_ws(cursor *c) {
    while (c->i < c->n && isspace((unsigned char)c->s[c->i])) c->i++;
}

static int peek(cursor *c) {
    skip_ws(c);
    return c->i < c->n ? (unsigned char)c->s[c->i] : -1;
}

static int expect(cursor *c, char ch) {
    if (peek(c) != ch) return -1;
    c->i++;
    return 0;
}

/* Python string literal in '' or "" (no escapes needed by numpy headers). */
static int parse_str(cursor *c, char *out, size_t n) {
    int q = peek(c);
    if (q != '\'' && q != '"') return -1;
    c->i++;
    size_t k = 0;
    while (c->i < c->n && c->s[c->i] != q) {
        if (k + 1 < n) out[k++] = c->s[c->i];
        c->i++;
    }
    if (c->i >= c->n) return -1;
    c->i++;
    out[k] = 0;
    return 0;
}

static int parse_word(cursor *c, char *out, size_t n) {
    skip_ws(c);
    size_t k = 0;
    while (c->i < c->n && (isalnum((unsigned char)c->s[c->i]) || c->s[c->i] == '_')) {
        if (k + 1 < n) out[k++] = c->s[c->i];
        c->i++;
    }
    out[k] = 0;
    return k ? 0 : -1;
}

static int parse_shape(cursor *c, hg_shape *sh) {
    if (expect(c, '(')) return -1;
    sh->rank = 0;
    for (;;) {
        int ch = peek(c);
        if (ch == ')') {
            c->i++;
            return 0;
        }
        if (!isdigit(ch)) return -1;
        int64_t v = 0;
        while (c->i < c->n && isdigit((unsigned char)c->s[c->i])) {
            if (v > (INT64_MAX - 9) / 10) return -1;
            v = v * 10 + (c->s[c->i] - '0');
            c->i++;
        }
        if (c->i < c->n && (c->s[c->i] == 'L')) c->i++; /* Python 2 longs */
        if (sh->rank >= HG_MAX_RANK) return -2;
        sh->dim[sh->rank++] = v;
        ch = peek(c);
        if (ch == ',') c->i++;
        else if (ch != ')') return -1;
    }
}

/* Parses the header dict; fills descr, fortran, shape. */
static hg_status parse_header(const char *path, const char *h, size_t n,
                              char *descr, size_t dn, int *fortran, hg_shape *sh) {
    cursor c = {h, 0, n};
    int have_descr = 0, have_fo = 0, have_shape = 0;
    if (expect(&c, '{')) return hg_error(HG_ERR_FORMAT, "%s: bad .npy header: no '{'", path);
    for (;;) {
        int ch = peek(&c);
        if (ch == '}') {
            c.i++;
            break;
        }
        char key[64];
        if (parse_str(&c, key, sizeof key) || expect(&c, ':'))
            return hg_error(HG_ERR_FORMAT, "%s: bad .npy header: malformed dictionary near byte %zu", path, c.i);
        if (!strcmp(key, "descr")) {
            if (peek(&c) == '[')
                return hg_error(HG_ERR_UNSUPPORTED, "%s: structured dtype (record array) is not supported", path);
            if (parse_str(&c, descr, dn))
                return hg_error(HG_ERR_FORMAT, "%s: bad .npy header: 'descr' is not a string", path);
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            char w[16];
            if (parse_word(&c, w, sizeof w) || (strcmp(w, "True") && strcmp(w, "False")))
                return hg_error(HG_ERR_FORMAT, "%s: bad .npy header: 'fortran_order' is not True/False", path);
            *fortran = !strcmp(w, "True");
            have_fo = 1;
        } else if (!strcmp(key, "shape")) {
            int r = parse_shape(&c, sh);
            if (r == -2)
                return hg_error(HG_ERR_UNSUPPORTED, "%s: rank above %d is not supported", path, HG_MAX_RANK);
            if (r) return hg_error(HG_ERR_FORMAT, "%s: bad .npy header: 'shape' is not a tuple of integers", path);
            have_shape = 1;
        } else {
            return hg_error(HG_ERR_FORMAT, "%s: bad .npy header: unknown key '%s'", path, key);
        }
        ch = peek(&c);
        if (ch == ',') c.i++;
        else if (ch != '}')
            return hg_error(HG_ERR_FORMAT, "%s: bad .npy header: expected ',' or '}' near byte %zu", path, c.i);
    }
    if (!have_descr || !have_fo || !have_shape)
        return hg_error(HG_ERR_FORMAT, "%s: bad .npy header: missing '%s'", path,
                        !have_descr ? "descr" : !have_fo ? "fortran_order" : "shape");
    return hg_ok();
}

static hg_status descr_dtype(const char *path, const char *d, hg_dtype *t) {
    size_t L = strlen(d);
    if (L < 2) return hg_error(HG_ERR_FORMAT, "%s: bad .npy dtype '%s'", path, d);
    char order = d[0];
    const char *code = d + 1;
    if (order == '>' && strcmp(code, "b1") && strcmp(code, "u1") && strcmp(code, "i1"))
        return hg_error(HG_ERR_UNSUPPORTED,
                        "%s: big-endian dtype '%s' is not supported (convert with arr.astype('<%s'))",
                        path, d, code);
    if (order != '<' && order != '|' && order != '=' && order != '>')
        return hg_error(HG_ERR_FORMAT, "%s: bad .npy dtype '%s'", path, d);
    if (!strcmp(code, "f4")) *t = HG_F32;
    else if (!strcmp(code, "f8")) *t = HG_F64;
    else if (!strcmp(code, "i4")) *t = HG_I32;
    else if (!strcmp(code, "b1")) *t = HG_BOOL;
    else
        return hg_error(HG_ERR_UNSUPPORTED,
                        "%s: dtype '%s' is not supported (float32 '<f4', float64 '<f8', int32 '<i4', bool '|b1')",
                        path, d);
    return hg_ok();
}

static uint32_t le32(const unsigned char *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

hg_status hg_npy_read(const char *path, hg_tensor *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return hg_error(HG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    hg_status s = hg_ok();
    char *hdr = NULL;
    unsigned char pre[12];
    /* the size the header claims is compared with the file's before any
     * allocation: a regular file is needed to know it */
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return hg_error(HG_ERR_IO, "%s: not a regular file (a .npy input must be one)", path);
    }
    size_t got = fread(pre, 1, 10, f);
    if (got < 8 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        s = hg_error(HG_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    int major = pre[6];
    size_t hlen, off;
    if (major == 1) {
        if (got < 10) goto truncated_header;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (got < 10 || fread(pre + 10, 1, 2, f) != 2) goto truncated_header;
        hlen = le32(pre + 8);
        off = 12;
    } else {
        s = hg_error(HG_ERR_FORMAT, "%s: unknown .npy format version %d.%d", path, major, pre[7]);
        goto done;
    }
    if (hlen > (1u << 24)) {
        s = hg_error(HG_ERR_FORMAT, "%s: bad .npy header length %zu", path, hlen);
        goto done;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) {
        s = hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(hdr, 1, hlen, f) != hlen) goto truncated_header;
    hdr[hlen] = 0;
    char descr[32] = "";
    int fortran = 0;
    hg_shape sh = {0};
    s = parse_header(path, hdr, hlen, descr, sizeof descr, &fortran, &sh);
    if (s.code) goto done;
    hg_dtype t = HG_F32;
    s = descr_dtype(path, descr, &t);
    if (s.code) goto done;
    int nontrivial = 0;
    for (int i = 0; i < sh.rank; i++) nontrivial += sh.dim[i] > 1;
    if (fortran && nontrivial > 1) {
        s = hg_error(HG_ERR_UNSUPPORTED,
                     "%s: Fortran-order (column-major) array is not supported (save with np.ascontiguousarray)",
                     path);
        goto done;
    }
    int64_t numel = 1;
    for (int i = 0; i < sh.rank; i++) {
        if (sh.dim[i] != 0 && numel > INT64_MAX / 16 / sh.dim[i]) {
            s = hg_error(HG_ERR_FORMAT, "%s: bad .npy header: shape too large", path);
            goto done;
        }
        numel *= sh.dim[i];
    }
    size_t need = (size_t)numel * hg_dtype_size(t);
    uint64_t have_bytes = (uint64_t)st.st_size - (uint64_t)(off + hlen);
    if ((uint64_t)st.st_size < off + hlen || have_bytes < need) {
        s = hg_error(HG_ERR_FORMAT, "%s: truncated: shape needs %zu data bytes after the %zu-byte header, file has %llu",
                     path, need, off + hlen, (unsigned long long)((uint64_t)st.st_size < off + hlen ? 0 : have_bytes));
        goto done;
    }
    if (have_bytes > need) {
        s = hg_error(HG_ERR_FORMAT, "%s: trailing bytes after the %zu data bytes of the array", path, need);
        goto done;
    }
    s = hg_tensor_alloc(out, t, sh);
    if (s.code) {
        s = hg_error(s.code, "%s: out of memory for the %zu data bytes of the array", path, need);
        goto done;
    }
    size_t have = need ? fread(out->data, 1, need, f) : 0;
    if (have != need) {
        s = hg_error(HG_ERR_FORMAT, "%s: truncated: shape needs %zu data bytes after the %zu-byte header, file has %zu",
                     path, need, off + hlen, have);
        goto done;
    }
    if (fgetc(f) != EOF) {
        s = hg_error(HG_ERR_FORMAT, "%s: trailing bytes after the %zu data bytes of the array", path, need);
        goto done;
    }
    if (t == HG_BOOL) {
        const unsigned char *b = out->data;
        for (int64_t i = 0; i < numel; i++)
            if (b[i] > 1) {
                s = hg_error(HG_ERR_FORMAT, "%s: bool element %lld has byte value %d", path, (long long)i, b[i]);
                goto done;
            }
    }
    goto done;
truncated_header:
    s = hg_error(HG_ERR_FORMAT, "%s: truncated .npy header", path);
done:
    free(hdr);
    fclose(f);
    if (s.code) hg_tensor_free(out);
    return s;
}

/* ------------------------------------------------------------- writing */

static const char *npy_descr(hg_dtype t) {
    switch (t) {
    case HG_F32: return "<f4";
    case HG_F64: return "<f8";
    case HG_I32: return "<i4";
    case HG_BOOL: return "|b1";
    default: return NULL;
    }
}

hg_status hg_npy_write(const char *path, const hg_tensor *t) {
    const char *d = npy_descr(t->dtype);
    if (!d) return hg_error(HG_ERR_INVALID, "%s: cannot write dtype %d as .npy", path, (int)t->dtype);
    char dict[1024];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", d);
    for (int i = 0; i < t->shape.rank; i++)
        k += snprintf(dict + k, sizeof dict - k, "%s%lld", i ? ", " : "", (long long)t->shape.dim[i]);
    if (t->shape.rank == 1) k += snprintf(dict + k, sizeof dict - k, ",");
    k += snprintf(dict + k, sizeof dict - k, "), }");
    /* numpy's layout (numpy.lib.format._write_array_header): room for the
     * first axis to grow to 21 digits, then spaces so that magic + length
     * + header + '\n' is a multiple of 64 (a whole 64 when already aligned). */
    if (t->shape.rank > 0) {
        char d0[32];
        int nd = snprintf(d0, sizeof d0, "%lld", (long long)t->shape.dim[0]);
        for (int i = nd; i < 21; i++) dict[k++] = ' ';
        dict[k] = 0;
    }
    size_t hl = (size_t)k + 1;
    size_t pad = 64 - (10 + hl) % 64;
    size_t total = 10 + hl + pad;
    hg_atomic_file *af;
    HG_TRY(hg_atomic_open(path, &af));
    FILE *f = hg_atomic_stream(af);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)((total - 10) & 0xff), (unsigned char)((total - 10) >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)k, f) == (size_t)k;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    size_t nb = hg_tensor_bytes(t);
    ok = ok && (nb == 0 || fwrite(t->data, 1, nb, f) == nb);
    /* a failed write is reported (with errno's text) by hg_atomic_close */
    return hg_atomic_close(af, hg_ok());
}
