/* Halo datasets (SPEC 1) in HDF5: layout in runtime.h. Load, save
 * (atomic), validation, checksum and seeded splits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/h5_internal.h"

#define HG_DS_FORMAT "halograph-dataset-1"
#define HG_SPLIT_STREAM 7u

const char *hg_split_name(hg_split s) {
    switch (s) {
    case HG_SPLIT_TRAIN: return "train";
    case HG_SPLIT_VAL: return "val";
    case HG_SPLIT_TEST: return "test";
    default: return "?";
    }
}

void hg_dataset_init(hg_dataset *ds) { memset(ds, 0, sizeof *ds); }

void hg_dataset_free(hg_dataset *ds) {
    hg_tensor_free(&ds->halos);
    hg_tensor_free(&ds->counts);
    hg_tensor_free(&ds->cosmology);
    for (int i = 0; i < HG_NUM_SPLITS; i++) free(ds->split[i]);
    hg_dataset_init(ds);
}

int64_t hg_dataset_n_sims(const hg_dataset *ds) { return ds->halos.shape.rank == 3 ? ds->halos.shape.dim[0] : 0; }
int64_t hg_dataset_n_points(const hg_dataset *ds) { return ds->halos.shape.rank == 3 ? ds->halos.shape.dim[1] : 0; }

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t hg_dataset_checksum(const hg_dataset *ds) {
    uint64_t h = 0xcbf29ce484222325ULL;
    if (ds->halos.data) h = fnv1a(h, ds->halos.data, hg_tensor_bytes(&ds->halos));
    if (ds->cosmology.data) h = fnv1a(h, ds->cosmology.data, hg_tensor_bytes(&ds->cosmology));
    return h;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

hg_status hg_dataset_make_splits(hg_dataset *ds, const double f[3], uint64_t seed) {
    int64_t n = hg_dataset_n_sims(ds);
    if (n <= 0) return hg_error(HG_ERR_INVALID, "splits: dataset has no simulations");
    double sum = 0;
    for (int i = 0; i < 3; i++) {
        if (!(f[i] >= 0 && f[i] <= 1))
            return hg_error(HG_ERR_INVALID, "split fractions: %s fraction %g is not in [0, 1]",
                            hg_split_name((hg_split)i), f[i]);
        sum += f[i];
    }
    if (fabs(sum - 1) > 1e-6) return hg_error(HG_ERR_INVALID, "split fractions %g,%g,%g do not sum to 1", f[0], f[1], f[2]);
    int64_t nv = llround(f[1] * (double)n), nt = llround(f[2] * (double)n);
    int64_t ntr = n - nv - nt;
    if (ntr <= 0)
        return hg_error(HG_ERR_INVALID, "split %g,%g,%g of %lld simulations leaves the train split empty", f[0], f[1],
                        f[2], (long long)n);
    int32_t *perm = malloc(sizeof *perm * (size_t)n);
    if (!perm) return hg_error(HG_ERR_NOMEM, "splits: out of memory");
    for (int64_t i = 0; i < n; i++) perm[i] = (int32_t)i;
    uint32_t s32 = (uint32_t)(seed ^ (seed >> 32));
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(hg_rng_uniform(s32, HG_SPLIT_STREAM, 0, 0, (uint64_t)i) * (double)(i + 1));
        if (j > i) j = i;
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int64_t cnt[3] = {ntr, nv, nt}, off = 0;
    for (int k = 0; k < 3; k++) {
        free(ds->split[k]);
        ds->split[k] = malloc(sizeof(int32_t) * (size_t)(cnt[k] ? cnt[k] : 1));
        if (!ds->split[k]) {
            free(perm);
            return hg_error(HG_ERR_NOMEM, "splits: out of memory");
        }
        memcpy(ds->split[k], perm + off, sizeof(int32_t) * (size_t)cnt[k]);
        qsort(ds->split[k], (size_t)cnt[k], sizeof(int32_t), cmp_i32);
        ds->split_n[k] = cnt[k];
        ds->split_fractions[k] = f[k];
        off += cnt[k];
    }
    ds->split_seed = seed;
    free(perm);
    return hg_ok();
}

hg_status hg_dataset_validate(const hg_dataset *ds) {
    const hg_tensor *h = &ds->halos;
    if (h->dtype != HG_F32 || h->shape.rank != 3 || !h->data)
        return hg_error(HG_ERR_INVALID, "dataset: halos must be f32 [n_sims, n_points, n_features]");
    int64_t S = h->shape.dim[0], N = h->shape.dim[1], F = h->shape.dim[2];
    if (S < 1 || N < 1 || F < 1) return hg_error(HG_ERR_INVALID, "dataset: halos shape has a zero dimension");
    if (F != ds->n_features || F > HG_DS_MAX_FEATURES)
        return hg_error(HG_ERR_INVALID, "dataset: %lld feature columns but %d feature names", (long long)F,
                        ds->n_features);
    const hg_tensor *c = &ds->cosmology;
    if (c->dtype != HG_F32 || c->shape.rank != 2 || c->shape.dim[0] != S || c->shape.dim[1] != ds->n_params)
        return hg_error(HG_ERR_INVALID, "dataset: cosmology must be f32 [%lld, %d] (one row per simulation)",
                        (long long)S, ds->n_params);
    if (ds->counts.data && (ds->counts.dtype != HG_I32 || ds->counts.shape.rank != 1 || ds->counts.shape.dim[0] != S))
        return hg_error(HG_ERR_INVALID, "dataset: counts must be i32 [%lld]", (long long)S);
    if (!(ds->box_size > 0) || !isfinite(ds->box_size))
        return hg_error(HG_ERR_INVALID, "dataset: box size %g must be positive", ds->box_size);
    if (!isfinite(ds->redshift)) return hg_error(HG_ERR_INVALID, "dataset: redshift is not finite");
    for (int i = 0; i < ds->n_features; i++)
        if (!ds->feature_names[i][0]) return hg_error(HG_ERR_INVALID, "dataset: feature %d has no name", i);
    for (int i = 0; i < ds->n_params; i++)
        if (!ds->param_names[i][0]) return hg_error(HG_ERR_INVALID, "dataset: parameter %d has no name", i);
    int pos = F >= 3 && !strcmp(ds->feature_names[0], "x") && !strcmp(ds->feature_names[1], "y") &&
              !strcmp(ds->feature_names[2], "z");
    int mcol = -1;
    for (int i = 0; i < F; i++)
        if (!strcmp(ds->feature_names[i], "M")) mcol = i;
    const float *x = h->data;
    const char *ax = "xyz";
    for (int64_t s = 0; s < S; s++) {
        int64_t cnt = ds->counts.data ? ((const int32_t *)ds->counts.data)[s] : N;
        if (cnt < 0 || cnt > N)
            return hg_error(HG_ERR_INVALID, "dataset: sim %lld: count %lld not in [0, %lld]", (long long)s,
                            (long long)cnt, (long long)N);
        for (int64_t r = 0; r < cnt; r++) {
            const float *row = x + (s * N + r) * F;
            for (int64_t f = 0; f < F; f++) {
                if (!isfinite(row[f]))
                    return hg_error(HG_ERR_NUMERIC, "dataset: sim %lld, halo %lld, column %s: non-finite value",
                                    (long long)s, (long long)r, ds->feature_names[f]);
                if (pos && f < 3 && !(row[f] >= 0 && row[f] < ds->box_size))
                    return hg_error(HG_ERR_INVALID,
                                    "dataset: sim %lld, halo %lld, column %c = %.9g outside [0, %g)", (long long)s,
                                    (long long)r, ax[f], row[f], ds->box_size);
            }
            if (mcol >= 0 && !(row[mcol] > 0))
                return hg_error(HG_ERR_INVALID, "dataset: sim %lld, halo %lld, column M = %g: mass must be > 0",
                                (long long)s, (long long)r, row[mcol]);
            if (mcol >= 0 && r > 0 && row[mcol] > row[mcol - F])
                return hg_error(HG_ERR_INVALID, "dataset: sim %lld, halo %lld: not sorted by mass descending (M %g after %g)",
                                (long long)s, (long long)r, row[mcol], row[mcol - F]);
        }
    }
    const float *cv = c->data;
    for (int64_t s = 0; s < S; s++)
        for (int j = 0; j < ds->n_params; j++)
            if (!isfinite(cv[s * ds->n_params + j]))
                return hg_error(HG_ERR_NUMERIC, "dataset: sim %lld, parameter %s: non-finite value", (long long)s,
                                ds->param_names[j]);
    char *seen = calloc((size_t)S, 1);
    if (!seen) return hg_error(HG_ERR_NOMEM, "dataset: out of memory");
    hg_status st = hg_ok();
    for (int k = 0; k < HG_NUM_SPLITS && st.code == HG_OK; k++) {
        if (ds->split_n[k] && !ds->split[k]) st = hg_error(HG_ERR_INVALID, "dataset: split %s missing", hg_split_name(k));
        for (int64_t i = 0; st.code == HG_OK && i < ds->split_n[k]; i++) {
            int32_t v = ds->split[k][i];
            if (v < 0 || v >= S)
                st = hg_error(HG_ERR_INVALID, "dataset: split %s entry %lld = %d not in [0, %lld)",
                              hg_split_name(k), (long long)i, v, (long long)S);
            else if (seen[v])
                st = hg_error(HG_ERR_INVALID, "dataset: simulation %d is in two splits (or twice in %s)", v,
                              hg_split_name(k));
            else
                seen[v] = 1;
        }
    }
    free(seen);
    if (st.code == HG_OK && ds->split_n[HG_SPLIT_TRAIN] == 0)
        st = hg_error(HG_ERR_INVALID, "dataset: the train split is empty");
    return st;
}

/* ------------------------------------------------------------------ save */

static hg_status write_all(const char *path, hid_t f, hg_dataset *ds) {
    HG_TRY(hg_h5_write_tensor(path, f, "halos", &ds->halos));
    hg_tensor cnt = {0};
    if (ds->counts.data) {
        HG_TRY(hg_h5_write_tensor(path, f, "counts", &ds->counts));
    } else {
        HG_TRY(hg_tensor_alloc(&cnt, HG_I32, hg_shape_of(1, hg_dataset_n_sims(ds))));
        for (int64_t i = 0; i < hg_dataset_n_sims(ds); i++)
            ((int32_t *)cnt.data)[i] = (int32_t)hg_dataset_n_points(ds);
        hg_status s = hg_h5_write_tensor(path, f, "counts", &cnt);
        hg_tensor_free(&cnt);
        HG_TRY(s);
    }
    HG_TRY(hg_h5_write_tensor(path, f, "cosmology", &ds->cosmology));
    const char *pn[HG_DS_MAX_PARAMS], *fn[HG_DS_MAX_FEATURES], *fu[HG_DS_MAX_FEATURES];
    for (int i = 0; i < ds->n_params; i++) pn[i] = ds->param_names[i];
    for (int i = 0; i < ds->n_features; i++) {
        fn[i] = ds->feature_names[i];
        fu[i] = ds->feature_units[i];
    }
    hid_t c = H5Dopen2(f, "cosmology", H5P_DEFAULT);
    if (c < 0) return hg_h5_error(HG_ERR_IO, path, "cannot reopen /cosmology");
    hg_status s = hg_h5_attr_strs(path, c, "names", pn, ds->n_params);
    H5Dclose(c);
    HG_TRY(s);
    hid_t g = H5Gcreate2(f, "split", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return hg_h5_error(HG_ERR_IO, path, "cannot create group /split");
    for (int k = 0; k < HG_NUM_SPLITS && s.code == HG_OK; k++) {
        hg_tensor t = {HG_I32, hg_shape_of(1, ds->split_n[k]), ds->split[k], 0};
        s = hg_h5_write_tensor(path, g, hg_split_name(k), &t);
    }
    H5Gclose(g);
    HG_TRY(s);
    HG_TRY(hg_h5_attr_str(path, f, "format", HG_DS_FORMAT));
    HG_TRY(hg_h5_attr_f64(path, f, "box_size", &ds->box_size, 1, 1));
    HG_TRY(hg_h5_attr_f64(path, f, "redshift", &ds->redshift, 1, 1));
    HG_TRY(hg_h5_attr_strs(path, f, "feature_names", fn, ds->n_features));
    HG_TRY(hg_h5_attr_strs(path, f, "feature_units", fu, ds->n_features));
    HG_TRY(hg_h5_attr_str(path, f, "source", ds->source));
    HG_TRY(hg_h5_attr_str(path, f, "licence", ds->licence));
    HG_TRY(hg_h5_attr_u64(path, f, "split_seed", ds->split_seed));
    HG_TRY(hg_h5_attr_f64(path, f, "split_fractions", ds->split_fractions, 3, 0));
    HG_TRY(hg_h5_attr_u64(path, f, "checksum", ds->checksum));
    return hg_ok();
}

hg_status hg_dataset_save(const char *path, hg_dataset *ds) {
    HG_TRY(hg_status_prefix(hg_dataset_validate(ds), "%s", path));
    ds->checksum = hg_dataset_checksum(ds);
    char tmp[4096];
    hg_atomic_temp_path(path, tmp, sizeof tmp);
    hid_t f;
    HG_TRY(hg_h5_create(tmp, &f));
    hg_status s = write_all(path, f, ds);
    return hg_h5_finish(f, tmp, path, s);
}

/* ------------------------------------------------------------------ load */

static hg_status load_all(const char *path, hid_t f, hg_dataset *ds) {
    HG_TRY(hg_h5_read_tensor(path, f, "halos", &ds->halos));
    if (ds->halos.dtype != HG_F32 || ds->halos.shape.rank != 3)
        return hg_error(HG_ERR_FORMAT, "%s: /halos must be float32 [n_sims, n_points, n_features], got %s rank %d",
                        path, hg_dtype_name(ds->halos.dtype), ds->halos.shape.rank);
    int64_t S = ds->halos.shape.dim[0], F = ds->halos.shape.dim[2];
    if (hg_h5_exists(f, "counts")) {
        HG_TRY(hg_h5_read_tensor(path, f, "counts", &ds->counts));
        if (ds->counts.dtype != HG_I32 || ds->counts.shape.rank != 1 || ds->counts.shape.dim[0] != S)
            return hg_error(HG_ERR_FORMAT, "%s: /counts must be int32 [%lld]", path, (long long)S);
    }
    HG_TRY(hg_h5_read_tensor(path, f, "cosmology", &ds->cosmology));
    if (ds->cosmology.dtype != HG_F32 || ds->cosmology.shape.rank != 2 || ds->cosmology.shape.dim[0] != S)
        return hg_error(HG_ERR_FORMAT, "%s: /cosmology must be float32 [%lld, C]", path, (long long)S);
    hid_t c = H5Dopen2(f, "cosmology", H5P_DEFAULT);
    hg_status s = hg_h5_read_attr_names(path, c, "names", ds->param_names, HG_DS_MAX_PARAMS, &ds->n_params);
    H5Dclose(c);
    HG_TRY(hg_status_prefix(s, "/cosmology"));
    if (ds->n_params != ds->cosmology.shape.dim[1])
        return hg_error(HG_ERR_FORMAT, "%s: /cosmology has %lld columns but %d names", path,
                        (long long)ds->cosmology.shape.dim[1], ds->n_params);
    HG_TRY(hg_h5_read_attr_f64(path, f, "box_size", &ds->box_size, 1));
    HG_TRY(hg_h5_read_attr_f64(path, f, "redshift", &ds->redshift, 1));
    HG_TRY(hg_h5_read_attr_names(path, f, "feature_names", ds->feature_names, HG_DS_MAX_FEATURES, &ds->n_features));
    if (ds->n_features != F)
        return hg_error(HG_ERR_FORMAT, "%s: /halos has %lld features but feature_names has %d", path, (long long)F,
                        ds->n_features);
    int nu = 0;
    if (hg_h5_has_attr(f, "feature_units")) {
        HG_TRY(hg_h5_read_attr_names(path, f, "feature_units", ds->feature_units, HG_DS_MAX_FEATURES, &nu));
        if (nu != F) return hg_error(HG_ERR_FORMAT, "%s: feature_units has %d entries, expected %lld", path, nu, (long long)F);
    }
    char *txt = NULL;
    if (hg_h5_has_attr(f, "source")) {
        HG_TRY(hg_h5_read_attr_str(path, f, "source", &txt));
        snprintf(ds->source, sizeof ds->source, "%s", txt);
        free(txt);
    }
    if (hg_h5_has_attr(f, "licence")) {
        HG_TRY(hg_h5_read_attr_str(path, f, "licence", &txt));
        snprintf(ds->licence, sizeof ds->licence, "%s", txt);
        free(txt);
    }
    if (hg_h5_has_attr(f, "split_seed")) HG_TRY(hg_h5_read_attr_u64(path, f, "split_seed", &ds->split_seed));
    if (hg_h5_has_attr(f, "split_fractions"))
        HG_TRY(hg_h5_read_attr_f64(path, f, "split_fractions", ds->split_fractions, 3));
    for (int k = 0; k < HG_NUM_SPLITS; k++) {
        char name[32];
        snprintf(name, sizeof name, "split/%s", hg_split_name(k));
        hg_tensor t;
        HG_TRY(hg_h5_read_tensor(path, f, name, &t));
        if (t.dtype != HG_I32 || t.shape.rank != 1) {
            hg_tensor_free(&t);
            return hg_error(HG_ERR_FORMAT, "%s: /%s must be a 1-D int32 index list", path, name);
        }
        ds->split[k] = t.data; /* take the buffer */
        ds->split_n[k] = t.shape.dim[0];
    }
    uint64_t sum = hg_dataset_checksum(ds);
    if (hg_h5_has_attr(f, "checksum")) {
        HG_TRY(hg_h5_read_attr_u64(path, f, "checksum", &ds->checksum));
        if (ds->checksum != sum)
            return hg_error(HG_ERR_FORMAT, "%s: checksum mismatch: stored %016llx, data hashes to %016llx (file corrupted or edited)",
                            path, (unsigned long long)ds->checksum, (unsigned long long)sum);
    }
    ds->checksum = sum;
    return hg_status_prefix(hg_dataset_validate(ds), "%s", path);
}

hg_status hg_dataset_load(const char *path, hg_dataset *ds) {
    hg_dataset_free(ds);
    hid_t f;
    HG_TRY(hg_h5_open_read(path, &f));
    hg_status s = load_all(path, f, ds);
    H5Fclose(f);
    if (s.code) hg_dataset_free(ds);
    return s;
}
