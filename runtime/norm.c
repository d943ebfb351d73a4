/* Standardisation statistics (SPEC 1): apply/invert and HDF5 storage. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/h5_internal.h"

#define HG_NORM_EPS 1e-7

void hg_norm_apply(const hg_norm *nm, float *x, int64_t n_rows) {
    int F = nm->n_features;
    for (int64_t r = 0; r < n_rows; r++)
        for (int f = 0; f < F; f++) {
            float *p = &x[r * F + f];
            *p = (float)(((double)*p - nm->mean[f] + HG_NORM_EPS) / (nm->std[f] + HG_NORM_EPS));
        }
}

void hg_norm_invert(const hg_norm *nm, float *x, int64_t n_rows) {
    int F = nm->n_features;
    for (int64_t r = 0; r < n_rows; r++)
        for (int f = 0; f < F; f++) {
            float *p = &x[r * F + f];
            *p = (float)((double)*p * (nm->std[f] + HG_NORM_EPS) + nm->mean[f] - HG_NORM_EPS);
        }
}

hg_status hg_h5_write_norm(const char *path, hid_t loc, const hg_norm *nm) {
    if (nm->n_features < 1 || nm->n_features > HG_DS_MAX_FEATURES)
        return hg_error(HG_ERR_INVALID, "%s: normalisation has %d features", path, nm->n_features);
    hg_tensor m = {HG_F64, hg_shape_of(1, (int64_t)nm->n_features), (void *)nm->mean, 0};
    hg_tensor s = {HG_F64, hg_shape_of(1, (int64_t)nm->n_features), (void *)nm->std, 0};
    HG_TRY(hg_h5_write_tensor_sum(path, loc, "norm/mean", &m));
    HG_TRY(hg_h5_write_tensor_sum(path, loc, "norm/std", &s));
    hid_t g = H5Gopen2(loc, "norm", H5P_DEFAULT);
    if (g < 0) return hg_h5_error(HG_ERR_IO, path, "cannot open group norm");
    hg_status st = hg_h5_attr_f64(path, g, "box_size", &nm->box, 1, 1);
    H5Gclose(g);
    return st;
}

hg_status hg_h5_read_norm(const char *path, hid_t loc, hg_norm *nm) {
    memset(nm, 0, sizeof *nm);
    hg_tensor m, s;
    HG_TRY(hg_h5_read_tensor(path, loc, "norm/mean", &m));
    hg_status st = hg_h5_read_tensor(path, loc, "norm/std", &s);
    if (st.code) {
        hg_tensor_free(&m);
        return st;
    }
    if (m.dtype != HG_F64 || s.dtype != HG_F64 || m.shape.rank != 1 || !hg_shape_eq(m.shape, s.shape) ||
        m.shape.dim[0] < 1 || m.shape.dim[0] > HG_DS_MAX_FEATURES) {
        st = hg_error(HG_ERR_FORMAT, "%s: norm/mean and norm/std must be float64 [F] with 1 <= F <= %d", path,
                      HG_DS_MAX_FEATURES);
    } else {
        nm->n_features = (int)m.shape.dim[0];
        memcpy(nm->mean, m.data, sizeof(double) * nm->n_features);
        memcpy(nm->std, s.data, sizeof(double) * nm->n_features);
        for (int f = 0; f < nm->n_features && st.code == HG_OK; f++)
            if (!isfinite(nm->mean[f]) || !(nm->std[f] >= 0) || !isfinite(nm->std[f]))
                st = hg_error(HG_ERR_NUMERIC, "%s: normalisation feature %d: mean %g std %g", path, f, nm->mean[f],
                              nm->std[f]);
        hid_t g = H5Gopen2(loc, "norm", H5P_DEFAULT);
        if (st.code == HG_OK && g >= 0 && hg_h5_has_attr(g, "box_size"))
            st = hg_h5_read_attr_f64(path, g, "box_size", &nm->box, 1);
        if (g >= 0) H5Gclose(g);
    }
    hg_tensor_free(&m);
    hg_tensor_free(&s);
    return st;
}

hg_status hg_norm_save(const char *path, const hg_norm *nm) {
    char tmp[4096];
    hg_atomic_temp_path(path, tmp, sizeof tmp);
    hid_t f;
    HG_TRY(hg_h5_create(tmp, &f));
    hg_status s = hg_h5_write_norm(path, f, nm);
    if (s.code == HG_OK) s = hg_h5_attr_str(path, f, "format", "halograph-norm-1");
    return hg_h5_finish(f, tmp, path, s);
}

hg_status hg_norm_load(const char *path, hg_norm *nm) {
    hid_t f;
    HG_TRY(hg_h5_open_read(path, &f));
    hg_status s = hg_h5_read_norm(path, f, nm);
    H5Fclose(f);
    return s;
}
