/* Files of the evaluation: the samples file (generated clouds) and the
 * result-file writer for stats.h5 / xi.h5. See models/eval.h. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/eval.h"
#include "runtime/h5file.h"
#include "runtime/runtime.h"

static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* ------------------------------------------------------------------ reading */

static hg_status read_f32(const char *path, hid_t f, const char *name, int rank, hsize_t *dims,
                          float **out) {
    *out = NULL;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
        return hg_error(HG_ERR_FORMAT, "%s: missing dataset %s", path, name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return hg_error(HG_ERR_FORMAT, "%s: cannot open dataset %s", path, name);
    hid_t sp = H5Dget_space(d);
    int r = H5Sget_simple_extent_ndims(sp);
    hg_status s = hg_ok();
    if (r != rank) {
        s = hg_error(HG_ERR_FORMAT, "%s: %s has rank %d, expected %d", path, name, r, rank);
    } else {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        hid_t t = H5Dget_type(d);
        if (H5Tget_class(t) != H5T_FLOAT)
            s = hg_error(HG_ERR_FORMAT, "%s: %s is not a floating-point dataset", path, name);
        H5Tclose(t);
        /* checked element count, and stored bytes that really hold it (a
         * forged shape must not size the buffer H5Dread fills) */
        size_t cnt = 1;
        for (int i = 0; i < rank && s.code == HG_OK; i++)
            if (__builtin_mul_overflow(cnt, (size_t)dims[i], &cnt) || cnt > ((size_t)1 << 34))
                s = hg_error(HG_ERR_FORMAT, "%s: %s: shape too large", path, name);
        if (s.code == HG_OK) {
            hid_t pl = H5Dget_create_plist(d);
            int filtered = pl >= 0 && H5Pget_layout(pl) == H5D_CHUNKED && H5Pget_nfilters(pl) > 0;
            if (pl >= 0) H5Pclose(pl);
            hid_t ft = H5Dget_type(d);
            size_t esz = H5Tget_size(ft);
            H5Tclose(ft);
            if (!filtered && H5Dget_storage_size(d) < (hsize_t)cnt * esz)
                s = hg_error(HG_ERR_FORMAT, "%s: %s: the file stores fewer bytes than its shape needs (truncated or forged)",
                             path, name);
        }
        if (s.code == HG_OK) {
            *out = malloc(sizeof(float) * (cnt ? cnt : 1));
            if (!*out)
                s = hg_error(HG_ERR_NOMEM, "%s: out of memory for %s", path, name);
            else if (cnt && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
                s = hg_error(HG_ERR_FORMAT, "%s: cannot read %s", path, name);
        }
    }
    H5Sclose(sp);
    H5Dclose(d);
    if (s.code != HG_OK) {
        free(*out);
        *out = NULL;
    }
    return s;
}

static hg_status read_attr_f64(const char *path, hid_t obj, const char *name, double *v) {
    if (H5Aexists(obj, name) <= 0) return hg_error(HG_ERR_FORMAT, "%s: missing attribute %s", path, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    herr_t rc = n == 1 ? H5Aread(a, H5T_NATIVE_DOUBLE, v) : -1;
    H5Sclose(sp);
    H5Aclose(a);
    if (rc < 0) return hg_error(HG_ERR_FORMAT, "%s: attribute %s is not one number", path, name);
    return hg_ok();
}

/* 1-D (or scalar) string attribute, variable- or fixed-length. */
static hg_status read_attr_names(const char *path, hid_t obj, const char *name,
                                 char (*out)[HG_EVAL_NAME_MAX], int max, int *n_out) {
    if (H5Aexists(obj, name) <= 0) return hg_error(HG_ERR_FORMAT, "%s: missing attribute %s", path, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    hg_status s = hg_ok();
    if (H5Tget_class(t) != H5T_STRING || n < 0 || n > max) {
        s = hg_error(HG_ERR_FORMAT, "%s: attribute %s is not a list of at most %d strings", path, name, max);
    } else if (H5Tis_variable_str(t) > 0) {
        char **v = calloc((size_t)(n ? n : 1), sizeof(char *));
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (!v || H5Aread(a, mt, v) < 0) {
            s = hg_error(HG_ERR_FORMAT, "%s: cannot read attribute %s", path, name);
        } else {
            for (hssize_t i = 0; i < n; i++) snprintf(out[i], HG_EVAL_NAME_MAX, "%s", v[i] ? v[i] : "");
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
        }
        H5Tclose(mt);
        free(v);
    } else {
        size_t sz = H5Tget_size(t);
        char *buf = calloc((size_t)(n ? n : 1), sz + 1);
        hid_t mt = H5Tcopy(t);
        if (!buf || H5Aread(a, mt, buf) < 0) {
            s = hg_error(HG_ERR_FORMAT, "%s: cannot read attribute %s", path, name);
        } else {
            for (hssize_t i = 0; i < n; i++) {
                size_t len = strnlen(buf + i * sz, sz);
                if (len >= HG_EVAL_NAME_MAX) len = HG_EVAL_NAME_MAX - 1;
                memcpy(out[i], buf + i * sz, len);
                out[i][len] = 0;
            }
        }
        H5Tclose(mt);
        free(buf);
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    if (s.code == HG_OK) *n_out = (int)n;
    return s;
}

void hg_eval_samples_free(hg_eval_samples *s) {
    free(s->samples);
    free(s->cond);
    memset(s, 0, sizeof *s);
}

hg_status hg_eval_samples_load(const char *path, hg_eval_samples *s) {
    memset(s, 0, sizeof *s);
    quiet();
    if (access(path, R_OK) != 0) return hg_error(HG_ERR_IO, "%s: cannot open: no such readable file", path);
    if (H5Fis_hdf5(path) <= 0) return hg_error(HG_ERR_FORMAT, "%s: not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return hg_error(HG_ERR_FORMAT, "%s: cannot open HDF5 file", path);
    hsize_t ds[3], dc[2];
    hg_status st = read_f32(path, f, "samples", 3, ds, &s->samples);
    if (st.code == HG_OK) st = read_f32(path, f, "cond", 2, dc, &s->cond);
    if (st.code == HG_OK) {
        s->m = (int64_t)ds[0];
        s->n = (int64_t)ds[1];
        s->f = (int64_t)ds[2];
        s->c = (int64_t)dc[1];
        if ((int64_t)dc[0] != s->m)
            st = hg_error(HG_ERR_FORMAT, "%s: /samples has %lld clouds but /cond %lld rows", path,
                          (long long)s->m, (long long)dc[0]);
        else if (s->f < 3)
            st = hg_error(HG_ERR_FORMAT, "%s: /samples has %lld features, need >= 3 (x, y, z)", path,
                          (long long)s->f);
        else if (s->c > HG_EVAL_MAX_COND)
            st = hg_error(HG_ERR_FORMAT, "%s: /cond has %lld columns (max %d)", path, (long long)s->c,
                          HG_EVAL_MAX_COND);
    }
    if (st.code == HG_OK) {
        hid_t d = H5Dopen2(f, "cond", H5P_DEFAULT);
        int nn = 0;
        st = read_attr_names(path, d, "names", s->cond_names, HG_EVAL_MAX_COND, &nn);
        H5Dclose(d);
        if (st.code == HG_OK && nn != s->c)
            st = hg_error(HG_ERR_FORMAT, "%s: /cond has %lld columns but %d names", path, (long long)s->c, nn);
    }
    if (st.code == HG_OK) st = read_attr_f64(path, f, "box_size", &s->box_size);
    if (st.code == HG_OK) st = read_attr_f64(path, f, "redshift", &s->redshift);
    if (st.code == HG_OK && !(s->box_size > 0))
        st = hg_error(HG_ERR_FORMAT, "%s: box_size %g is not positive", path, s->box_size);
    H5Fclose(f);
    if (st.code != HG_OK) hg_eval_samples_free(s);
    return st;
}

hg_status hg_eval_samples_save(const char *path, const hg_eval_samples *s) {
    hg_eval_writer w;
    HG_TRY(hg_eval_writer_open(&w, path));
    int64_t ds[3] = {s->m, s->n, s->f}, dc[2] = {s->m, s->c};
    hg_eval_write_f32(&w, "samples", 3, ds, s->samples);
    hg_eval_write_f32(&w, "cond", 2, dc, s->cond);
    const char *names[HG_EVAL_MAX_COND];
    for (int64_t i = 0; i < s->c && i < HG_EVAL_MAX_COND; i++) names[i] = s->cond_names[i];
    hg_eval_write_attr_strs(&w, "cond", "names", names, (int)s->c);
    hg_eval_write_attr_f64(&w, "/", "box_size", &s->box_size, 1);
    hg_eval_write_attr_f64(&w, "/", "redshift", &s->redshift, 1);
    return hg_eval_writer_close(&w);
}

/* ------------------------------------------------------------------ writing */

hg_status hg_eval_writer_open(hg_eval_writer *w, const char *path) {
    memset(w, 0, sizeof *w);
    w->file = -1;
    quiet();
    if (strlen(path) >= sizeof w->path) return hg_error(HG_ERR_INVALID, "output path too long: %s", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    /* built in memory, written at close; a destination that cannot be
     * replaced fails now */
    HG_TRY(hg_output_check(path, NULL, 0));
    hid_t f;
    HG_TRY(hg_h5_mem_create(path, &f));
    w->file = f;
    w->st = hg_ok();
    return hg_ok();
}

static void write_ds(hg_eval_writer *w, const char *name, int rank, const int64_t *dims,
                     hid_t ftype, hid_t mtype, const void *data) {
    if (w->st.code != HG_OK) return;
    hsize_t d[HG_MAX_RANK];
    for (int i = 0; i < rank; i++) d[i] = (hsize_t)dims[i];
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = rank ? H5Screate_simple(rank, d, NULL) : H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2((hid_t)w->file, name, ftype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    H5Pclose(lcpl);
    if (rc < 0) w->st = hg_error(HG_ERR_IO, "%s: cannot write dataset %s", w->path, name);
}

void hg_eval_write_f64(hg_eval_writer *w, const char *name, int rank, const int64_t *dims,
                       const double *data) {
    write_ds(w, name, rank, dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data);
}
void hg_eval_write_f32(hg_eval_writer *w, const char *name, int rank, const int64_t *dims,
                       const float *data) {
    write_ds(w, name, rank, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data);
}
void hg_eval_write_i64(hg_eval_writer *w, const char *name, int rank, const int64_t *dims,
                       const int64_t *data) {
    write_ds(w, name, rank, dims, H5T_STD_I64LE, H5T_NATIVE_INT64, data);
}

static void write_attr(hg_eval_writer *w, const char *obj, const char *name, hid_t ftype,
                       hid_t mtype, int n, int scalar, const void *buf) {
    if (w->st.code != HG_OK) return;
    hid_t o = H5Oopen((hid_t)w->file, obj, H5P_DEFAULT);
    if (o < 0) {
        w->st = hg_error(HG_ERR_IO, "%s: no object %s for attribute %s", w->path, obj, name);
        return;
    }
    if (H5Aexists(o, name) > 0) H5Adelete(o, name);
    hsize_t d = (hsize_t)n;
    hid_t sp = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &d, NULL);
    hid_t a = H5Acreate2(o, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, mtype, buf);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Oclose(o);
    if (rc < 0) w->st = hg_error(HG_ERR_IO, "%s: cannot write attribute %s of %s", w->path, name, obj);
}

void hg_eval_write_attr_f64(hg_eval_writer *w, const char *obj, const char *name, const double *v,
                            int n) {
    write_attr(w, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, n == 1, v);
}
void hg_eval_write_attr_i64(hg_eval_writer *w, const char *obj, const char *name, int64_t v) {
    write_attr(w, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, 1, &v);
}

static hid_t vlen_str(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

void hg_eval_write_attr_str(hg_eval_writer *w, const char *obj, const char *name, const char *v) {
    hid_t t = vlen_str();
    const char *p = v ? v : "";
    write_attr(w, obj, name, t, t, 1, 1, &p);
    H5Tclose(t);
}
void hg_eval_write_attr_strs(hg_eval_writer *w, const char *obj, const char *name,
                             const char *const *v, int n) {
    hid_t t = vlen_str();
    write_attr(w, obj, name, t, t, n, 0, v);
    H5Tclose(t);
}

hg_status hg_eval_writer_close(hg_eval_writer *w) {
    if (w->file < 0) return w->st;
    w->st = hg_h5_mem_commit((hid_t)w->file, w->path, w->st);
    w->file = -1;
    return w->st;
}

/* ------------------------------------------------------- simulation choice */

hg_status hg_eval_pick_sim(const void *dsv, const char *split, long index, int64_t *sim) {
    const hg_dataset *ds = dsv;
    int64_t n_sims = hg_dataset_n_sims(ds);
    if (!split) {
        if (index < 0 || index >= n_sims)
            return hg_error(HG_ERR_INVALID, "--index %ld out of range: the dataset has %lld simulations",
                            index, (long long)n_sims);
        *sim = index;
        return hg_ok();
    }
    for (int k = 0; k < HG_NUM_SPLITS; k++)
        if (!strcmp(split, hg_split_name((hg_split)k))) {
            if (index < 0 || index >= ds->split_n[k])
                return hg_error(HG_ERR_INVALID, "--index %ld out of range: split '%s' has %lld simulations",
                                index, split, (long long)ds->split_n[k]);
            *sim = ds->split[k][index];
            return hg_ok();
        }
    return hg_error(HG_ERR_INVALID, "unknown split '%s' (train, val or test)", split);
}

hg_status hg_eval_parse_linspace(const char *s, double **edges, int *n_edges) {
    *edges = NULL;
    *n_edges = 0;
    char *e1, *e2, *e3;
    double lo = strtod(s, &e1);
    if (e1 == s || *e1 != ':') goto bad;
    double hi = strtod(e1 + 1, &e2);
    if (e2 == e1 + 1 || *e2 != ':') goto bad;
    long n = strtol(e2 + 1, &e3, 10);
    if (e3 == e2 + 1 || *e3) goto bad;
    if (!isfinite(lo) || !isfinite(hi) || !(lo >= 0) || !(hi > lo) || n < 2 || n > 100000)
        return hg_error(HG_ERR_INVALID, "'%s': need 0 <= LO < HI (finite) and 2 <= N <= 100000", s);
    *edges = malloc(sizeof(double) * (size_t)n);
    if (!*edges) return hg_error(HG_ERR_NOMEM, "out of memory");
    hg_eval_linspace(lo, hi, (int)n, *edges);
    *n_edges = (int)n;
    return hg_ok();
bad:
    return hg_error(HG_ERR_INVALID, "'%s' is not LO:HI:N (e.g. 0.5:120:60)", s);
}
