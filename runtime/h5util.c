/* HDF5 helpers for runtime/ (see h5_internal.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/h5_internal.h"
#include "runtime/h5file.h"

void hg_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
    /* keep the innermost (first) description */
    char *buf = data;
    if (n == 0 && e->desc) snprintf(buf, 200, "%s", e->desc);
    return 0;
}

hg_status hg_h5_error(hg_code code, const char *path, const char *fmt, ...) {
    char what[300], h5[200] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, h5);
    H5Eclear2(H5E_DEFAULT);
    if (h5[0]) return hg_error(code, "%s: %s (HDF5: %s)", path, what, h5);
    return hg_error(code, "%s: %s", path, what);
}

hg_status hg_h5_mem_create(const char *name, hid_t *file) {
    hg_h5_quiet();
    *file = -1;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0) {
        if (fapl >= 0) H5Pclose(fapl);
        return hg_h5_error(HG_ERR_NOMEM, name, "cannot set up an in-memory HDF5 file");
    }
    *file = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (*file < 0) return hg_h5_error(HG_ERR_NOMEM, name, "cannot create an in-memory HDF5 file");
    return hg_ok();
}

hg_status hg_h5_mem_commit(hid_t file, const char *path, hg_status s) {
    void *img = NULL;
    ssize_t n = 0;
    if (s.code == HG_OK && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        s = hg_h5_error(HG_ERR_NOMEM, path, "cannot finish the in-memory HDF5 file");
    if (s.code == HG_OK) {
        n = H5Fget_file_image(file, NULL, 0);
        img = n > 0 ? malloc((size_t)n) : NULL;
        if (!img) s = hg_error(HG_ERR_NOMEM, "%s: out of memory for the %lld-byte HDF5 image", path, (long long)n);
        else if (H5Fget_file_image(file, img, (size_t)n) != n)
            s = hg_h5_error(HG_ERR_NOMEM, path, "cannot take the HDF5 image");
    }
    /* in memory: the close cannot meet an I/O error */
    if (H5Fclose(file) < 0 && s.code == HG_OK) s = hg_h5_error(HG_ERR_NOMEM, path, "cannot close the HDF5 file");
    if (s.code == HG_OK) s = hg_atomic_write(path, img, (size_t)n);
    free(img);
    return s;
}

hg_status hg_h5_create(const char *path, hid_t *file) { return hg_h5_mem_create(path, file); }

hg_status hg_h5_open_read(const char *path, hid_t *file) {
    hg_h5_quiet();
    struct stat st;
    if (access(path, R_OK) != 0 || stat(path, &st) != 0)
        return hg_error(HG_ERR_IO, "%s: cannot open: no such readable file", path);
    if (!S_ISREG(st.st_mode)) return hg_error(HG_ERR_IO, "%s: not a regular file (an HDF5 input must be one)", path);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return hg_error(HG_ERR_FORMAT, "%s: not an HDF5 file (or truncated)", path);
    }
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0) return hg_h5_error(HG_ERR_FORMAT, path, "cannot open HDF5 file");
    return hg_ok();
}

/* ------------------------------------------------------------ attributes */

static hid_t vlen_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static hg_status write_attr(const char *path, hid_t obj, const char *name, hid_t ftype,
                            hid_t mtype, int n, int scalar, const void *buf) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hsize_t d = (hsize_t)n;
    hid_t sp = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &d, NULL);
    hid_t a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, mtype, buf);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    if (rc < 0) return hg_h5_error(HG_ERR_IO, path, "cannot write attribute '%s'", name);
    return hg_ok();
}

hg_status hg_h5_attr_str(const char *path, hid_t obj, const char *name, const char *v) {
    hid_t t = vlen_str_type();
    const char *p = v ? v : "";
    hg_status s = write_attr(path, obj, name, t, t, 1, 1, &p);
    H5Tclose(t);
    return s;
}

hg_status hg_h5_attr_strs(const char *path, hid_t obj, const char *name, const char *const *v, int n) {
    hid_t t = vlen_str_type();
    hg_status s = write_attr(path, obj, name, t, t, n, 0, v);
    H5Tclose(t);
    return s;
}

hg_status hg_h5_attr_f64(const char *path, hid_t obj, const char *name, const double *v, int n, int scalar) {
    return write_attr(path, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, scalar, v);
}

hg_status hg_h5_attr_i64(const char *path, hid_t obj, const char *name, const int64_t *v, int n, int scalar) {
    return write_attr(path, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, n, scalar, v);
}

hg_status hg_h5_attr_u64(const char *path, hid_t obj, const char *name, uint64_t v) {
    return write_attr(path, obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, 1, &v);
}

int hg_h5_has_attr(hid_t obj, const char *name) { return H5Aexists(obj, name) > 0; }

/* Opens an attribute and returns its element count. */
static hg_status open_attr(const char *path, hid_t obj, const char *name, hid_t *a, hssize_t *n) {
    if (H5Aexists(obj, name) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return hg_error(HG_ERR_FORMAT, "%s: missing attribute '%s'", path, name);
    }
    *a = H5Aopen(obj, name, H5P_DEFAULT);
    if (*a < 0) return hg_h5_error(HG_ERR_FORMAT, path, "cannot open attribute '%s'", name);
    hid_t sp = H5Aget_space(*a);
    *n = H5Sget_simple_extent_npoints(sp);
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sclose(sp);
    if (rank > 1) {
        H5Aclose(*a);
        return hg_error(HG_ERR_FORMAT, "%s: attribute '%s' has rank %d, expected a scalar or a list", path, name, rank);
    }
    return hg_ok();
}

/* Reads all n strings of attribute a into malloc'd strings. */
static hg_status read_strs(const char *path, hid_t a, const char *name, hssize_t n, char **out) {
    hid_t ft = H5Aget_type(a);
    if (H5Tget_class(ft) != H5T_STRING) {
        H5Tclose(ft);
        return hg_error(HG_ERR_FORMAT, "%s: attribute '%s' is not a string", path, name);
    }
    hg_status s = hg_ok();
    if (H5Tis_variable_str(ft) > 0) {
        /* the file's character set (ASCII or UTF-8): HDF5 converts neither way */
        hid_t mt = vlen_str_type();
        H5Tset_cset(mt, H5Tget_cset(ft));
        char **tmp = calloc((size_t)n, sizeof *tmp);
        if (!tmp || H5Aread(a, mt, tmp) < 0) {
            s = hg_h5_error(HG_ERR_FORMAT, path, "cannot read attribute '%s'", name);
        } else {
            for (hssize_t i = 0; i < n; i++) {
                out[i] = strdup(tmp[i] ? tmp[i] : "");
                if (tmp[i]) H5free_memory(tmp[i]);
            }
        }
        free(tmp);
        H5Tclose(mt);
    } else {
        size_t sz = H5Tget_size(ft);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz);
        H5Tset_strpad(mt, H5T_STR_NULLPAD);
        H5Tset_cset(mt, H5Tget_cset(ft));
        char *buf = calloc((size_t)n * sz + 1, 1);
        if (!buf || H5Aread(a, mt, buf) < 0) {
            s = hg_h5_error(HG_ERR_FORMAT, path, "cannot read attribute '%s'", name);
        } else {
            for (hssize_t i = 0; i < n; i++) {
                out[i] = calloc(sz + 1, 1);
                if (out[i]) memcpy(out[i], buf + (size_t)i * sz, sz);
            }
        }
        free(buf);
        H5Tclose(mt);
    }
    H5Tclose(ft);
    for (hssize_t i = 0; s.code == HG_OK && i < n; i++)
        if (!out[i]) s = hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
    return s;
}

hg_status hg_h5_read_attr_str(const char *path, hid_t obj, const char *name, char **out) {
    *out = NULL;
    hid_t a;
    hssize_t n;
    HG_TRY(open_attr(path, obj, name, &a, &n));
    hg_status s = hg_ok();
    if (n != 1) s = hg_error(HG_ERR_FORMAT, "%s: attribute '%s' has %lld strings, expected 1", path, name, (long long)n);
    else s = read_strs(path, a, name, 1, out);
    H5Aclose(a);
    return s;
}

hg_status hg_h5_read_attr_names(const char *path, hid_t obj, const char *name,
                                char (*out)[HG_DS_NAME_MAX], int max, int *n_out) {
    hid_t a;
    hssize_t n;
    HG_TRY(open_attr(path, obj, name, &a, &n));
    if (n > max) {
        H5Aclose(a);
        return hg_error(HG_ERR_FORMAT, "%s: attribute '%s' has %lld names, at most %d supported", path, name,
                        (long long)n, max);
    }
    char **tmp = calloc((size_t)(n ? n : 1), sizeof *tmp);
    hg_status s = tmp ? read_strs(path, a, name, n, tmp) : hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
    H5Aclose(a);
    for (hssize_t i = 0; s.code == HG_OK && i < n; i++) {
        if (strlen(tmp[i]) >= HG_DS_NAME_MAX)
            s = hg_error(HG_ERR_FORMAT, "%s: attribute '%s': name '%.40s...' too long", path, name, tmp[i]);
        else
            strcpy(out[i], tmp[i]);
    }
    for (hssize_t i = 0; tmp && i < n; i++) free(tmp[i]);
    free(tmp);
    if (s.code == HG_OK) *n_out = (int)n;
    return s;
}

static hg_status read_num_attr(const char *path, hid_t obj, const char *name, hid_t mt, void *v, int n) {
    hid_t a;
    hssize_t cnt;
    HG_TRY(open_attr(path, obj, name, &a, &cnt));
    hid_t ft = H5Aget_type(a);
    H5T_class_t cl = H5Tget_class(ft);
    H5Tclose(ft);
    hg_status s = hg_ok();
    if (cl != H5T_FLOAT && cl != H5T_INTEGER)
        s = hg_error(HG_ERR_FORMAT, "%s: attribute '%s' is not numeric", path, name);
    else if (cnt != n)
        s = hg_error(HG_ERR_FORMAT, "%s: attribute '%s' has %lld values, expected %d", path, name, (long long)cnt, n);
    else if (H5Aread(a, mt, v) < 0)
        s = hg_h5_error(HG_ERR_FORMAT, path, "cannot read attribute '%s'", name);
    H5Aclose(a);
    return s;
}

hg_status hg_h5_read_attr_f64(const char *path, hid_t obj, const char *name, double *v, int n) {
    return read_num_attr(path, obj, name, H5T_NATIVE_DOUBLE, v, n);
}
hg_status hg_h5_read_attr_i64(const char *path, hid_t obj, const char *name, int64_t *v, int n) {
    return read_num_attr(path, obj, name, H5T_NATIVE_INT64, v, n);
}
hg_status hg_h5_read_attr_u64(const char *path, hid_t obj, const char *name, uint64_t *v) {
    return read_num_attr(path, obj, name, H5T_NATIVE_UINT64, v, 1);
}

/* -------------------------------------------------------------- datasets */

static hid_t bool_type(void) {
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t f = 0, tr = 1;
    H5Tenum_insert(t, "FALSE", &f);
    H5Tenum_insert(t, "TRUE", &tr);
    return t;
}

hg_status hg_h5_write_tensor(const char *path, hid_t loc, const char *name, const hg_tensor *t) {
    hid_t ft, mt, own = -1;
    switch (t->dtype) {
    case HG_F32: ft = H5T_IEEE_F32LE; mt = H5T_NATIVE_FLOAT; break;
    case HG_F64: ft = H5T_IEEE_F64LE; mt = H5T_NATIVE_DOUBLE; break;
    case HG_I32: ft = H5T_STD_I32LE; mt = H5T_NATIVE_INT32; break;
    case HG_BOOL: own = ft = mt = bool_type(); break;
    default: return hg_error(HG_ERR_INVALID, "%s: %s: unknown dtype", path, name);
    }
    hsize_t d[HG_MAX_RANK];
    for (int i = 0; i < t->shape.rank; i++) d[i] = (hsize_t)t->shape.dim[i];
    hid_t sp = t->shape.rank ? H5Screate_simple(t->shape.rank, d, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2(loc, name, ft, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : (hg_shape_numel(t->shape) ? H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) : 0);
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(lcpl);
    H5Sclose(sp);
    if (own >= 0) H5Tclose(own);
    if (rc < 0) return hg_h5_error(HG_ERR_IO, path, "cannot write dataset '%s'", name);
    return hg_ok();
}

int hg_h5_exists(hid_t loc, const char *name) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", name);
    /* check each prefix: H5Lexists fails if an intermediate link is missing */
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            htri_t e = H5Lexists(loc, buf, H5P_DEFAULT);
            *p = c;
            if (e <= 0) {
                H5Eclear2(H5E_DEFAULT);
                return 0;
            }
            if (!c) return 1;
        }
    }
}

/* Element count of a dataspace, refusing a product that overflows or that
 * exceeds what a tensor can hold (HG_H5_MAX_BYTES). */
static hg_status checked_numel(const char *path, const char *name, const hsize_t *d, int rank, size_t esz,
                               int64_t *numel) {
    uint64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (d[i] > (hsize_t)INT64_MAX || (d[i] && n > UINT64_MAX / d[i]))
            return hg_error(HG_ERR_FORMAT, "%s: dataset '%s': shape overflows a 64-bit element count", path, name);
        n *= d[i];
    }
    if (n > HG_H5_MAX_BYTES / esz)
        return hg_error(HG_ERR_FORMAT, "%s: dataset '%s': %llu elements of %zu bytes exceed the %llu-byte limit of a tensor",
                        path, name, (unsigned long long)n, esz, (unsigned long long)HG_H5_MAX_BYTES);
    *numel = (int64_t)n;
    return hg_ok();
}

/* Inspects an open dataset: supported type, rank, bounded size, and (for
 * unfiltered layouts) storage that really holds every element, so that a
 * few-byte file cannot claim gigabytes of fill values. */
static hg_status inspect_open(const char *path, const char *name, hid_t ds, hg_dtype *dt, hid_t *mt, hid_t *own,
                              hg_shape *sh) {
    hid_t ft = H5Dget_type(ds);
    H5T_class_t cl = H5Tget_class(ft);
    size_t sz = H5Tget_size(ft);
    *mt = -1;
    *own = -1;
    if (cl == H5T_FLOAT && sz == 4) { *dt = HG_F32; *mt = H5T_NATIVE_FLOAT; }
    else if (cl == H5T_FLOAT && sz == 8) { *dt = HG_F64; *mt = H5T_NATIVE_DOUBLE; }
    else if (cl == H5T_INTEGER && sz == 4 && H5Tget_sign(ft) == H5T_SGN_2) { *dt = HG_I32; *mt = H5T_NATIVE_INT32; }
    else if (cl == H5T_ENUM && sz == 1) { *dt = HG_BOOL; *own = *mt = bool_type(); }
    H5Tclose(ft);
    if (*mt < 0)
        return hg_error(HG_ERR_FORMAT, "%s: dataset '%s' has an unsupported type (class %d, %zu bytes)", path, name,
                        (int)cl, sz);
    hg_status s = hg_ok();
    hid_t sp = H5Dget_space(ds);
    int rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    hsize_t d[HG_MAX_RANK + 1];
    int64_t numel = 0;
    if (rank < 0 || rank > HG_MAX_RANK)
        s = hg_error(HG_ERR_FORMAT, "%s: dataset '%s' has rank %d (at most %d)", path, name, rank, HG_MAX_RANK);
    else if (H5Sget_simple_extent_dims(sp, d, NULL) < 0)
        s = hg_h5_error(HG_ERR_FORMAT, path, "cannot read the shape of dataset '%s'", name);
    else
        s = checked_numel(path, name, d, rank, hg_dtype_size(*dt), &numel);
    if (sp >= 0) H5Sclose(sp);
    if (s.code == HG_OK) {
        memset(sh, 0, sizeof *sh);
        sh->rank = rank;
        for (int i = 0; i < rank; i++) sh->dim[i] = (int64_t)d[i];
        hid_t dcpl = H5Dget_create_plist(ds);
        int filtered = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_nfilters(dcpl) > 0;
        if (dcpl >= 0) H5Pclose(dcpl);
        hsize_t stored = H5Dget_storage_size(ds);
        uint64_t need = (uint64_t)numel * hg_dtype_size(*dt);
        if (!filtered && stored < need)
            s = hg_error(HG_ERR_FORMAT, "%s: dataset '%s' claims %llu bytes but stores %llu (truncated or forged)", path,
                         name, (unsigned long long)need, (unsigned long long)stored);
    }
    if (s.code && *own >= 0) {
        H5Tclose(*own);
        *own = -1;
    }
    return s;
}

hg_status hg_h5_inspect(const char *path, hid_t loc, const char *name, hg_dtype *dtype, hg_shape *shape) {
    if (!hg_h5_exists(loc, name)) return hg_error(HG_ERR_FORMAT, "%s: missing dataset '%s'", path, name);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return hg_h5_error(HG_ERR_FORMAT, path, "'%s' is not a dataset", name);
    hid_t mt, own;
    hg_status s = inspect_open(path, name, ds, dtype, &mt, &own, shape);
    if (own >= 0) H5Tclose(own);
    H5Dclose(ds);
    return s;
}

hg_status hg_h5_read_tensor(const char *path, hid_t loc, const char *name, hg_tensor *t) {
    memset(t, 0, sizeof *t);
    if (!hg_h5_exists(loc, name)) return hg_error(HG_ERR_FORMAT, "%s: missing dataset '%s'", path, name);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return hg_h5_error(HG_ERR_FORMAT, path, "'%s' is not a dataset", name);
    hid_t mt, own;
    hg_dtype dt;
    hg_shape sh;
    hg_status s = inspect_open(path, name, ds, &dt, &mt, &own, &sh);
    if (s.code == HG_OK) {
        s = hg_tensor_alloc(t, dt, sh);
        if (s.code != HG_OK) s = hg_status_prefix(s, "%s: dataset '%s'", path, name);
    }
    if (s.code == HG_OK && hg_shape_numel(sh) && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0) {
        hg_tensor_free(t);
        s = hg_h5_error(HG_ERR_FORMAT, path, "cannot read dataset '%s'", name);
    }
    H5Dclose(ds);
    if (own >= 0) H5Tclose(own);
    return s;
}

/* ------------------------------------------------------- tensor checksums */

hg_status hg_h5_write_tensor_sum(const char *path, hid_t loc, const char *name, const hg_tensor *t) {
    HG_TRY(hg_h5_write_tensor(path, loc, name, t));
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return hg_h5_error(HG_ERR_IO, path, "cannot reopen dataset '%s'", name);
    hg_status s = hg_h5_attr_u64(path, ds, HG_H5_SUM_ATTR, hg_fnv1a64(HG_FNV_OFFSET, t->data, hg_tensor_bytes(t)));
    H5Dclose(ds);
    return s;
}

hg_status hg_h5_verify_sum(const char *path, hid_t loc, const char *name, const hg_tensor *t, int required) {
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return hg_h5_error(HG_ERR_FORMAT, path, "cannot reopen dataset '%s'", name);
    hg_status s = hg_ok();
    if (!hg_h5_has_attr(ds, HG_H5_SUM_ATTR)) {
        if (required) s = hg_error(HG_ERR_FORMAT, "%s: tensor '%s' has no checksum attribute", path, name);
    } else {
        uint64_t want = 0, got = hg_fnv1a64(HG_FNV_OFFSET, t->data, hg_tensor_bytes(t));
        s = hg_h5_read_attr_u64(path, ds, HG_H5_SUM_ATTR, &want);
        if (s.code == HG_OK && want != got)
            s = hg_error(HG_ERR_FORMAT,
                         "%s: tensor '%s' is corrupted: checksum stored %016llx, data hashes to %016llx", path, name,
                         (unsigned long long)want, (unsigned long long)got);
    }
    H5Dclose(ds);
    return s;
}

hg_status hg_h5_finish(hid_t file, const char *tmp, const char *path, hg_status s) {
    (void)tmp; /* hg_h5_create made an in-memory file: nothing at tmp */
    return hg_h5_mem_commit(file, path, s);
}
