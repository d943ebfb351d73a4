/* Halo datasets (SPEC 1) in HDF5: layout in runtime.h. Load, save
 * (atomic), validation, checksum and seeded splits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/h5_internal.h"

/* Format versions: 1 (checksum over halos and cosmology only, /counts
 * written but not hashed), 2 (checksum over every dataset, required). */
#define HG_DS_FORMAT "halograph-dataset-2"
#define HG_DS_FORMAT_PREFIX "halograph-dataset-"
#define HG_DS_VERSION 2
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

/* The version-1 hash: halos then cosmology. */
static uint64_t checksum_v1(const hg_dataset *ds) {
    uint64_t h = HG_FNV_OFFSET;
    if (ds->halos.data) h = hg_fnv1a64(h, ds->halos.data, hg_tensor_bytes(&ds->halos));
    if (ds->cosmology.data) h = hg_fnv1a64(h, ds->cosmology.data, hg_tensor_bytes(&ds->cosmology));
    return h;
}

uint64_t hg_dataset_checksum(const hg_dataset *ds) {
    uint64_t h = checksum_v1(ds);
    if (ds->counts.data) h = hg_fnv1a64(h, ds->counts.data, hg_tensor_bytes(&ds->counts));
    for (int k = 0; k < HG_NUM_SPLITS; k++)
        if (ds->split[k]) h = hg_fnv1a64(h, ds->split[k], sizeof(int32_t) * (size_t)ds->split_n[k]);
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
    HG_TRY(hg_h5_write_tensor(path, f, "counts", &ds->counts));
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
    if (!ds->counts.data) { /* every row real */
        HG_TRY(hg_tensor_alloc(&ds->counts, HG_I32, hg_shape_of(1, hg_dataset_n_sims(ds))));
        for (int64_t i = 0; i < hg_dataset_n_sims(ds); i++)
            ((int32_t *)ds->counts.data)[i] = (int32_t)hg_dataset_n_points(ds);
    }
    ds->checksum = hg_dataset_checksum(ds);
    char tmp[4096];
    hg_atomic_temp_path(path, tmp, sizeof tmp);
    hid_t f;
    HG_TRY(hg_h5_create(tmp, &f));
    hg_status s = write_all(path, f, ds);
    return hg_h5_finish(f, tmp, path, s);
}

/* ------------------------------------------------------------------ load */

/* The format attribute: "halograph-dataset-<v>" with a version this build
 * reads (1 or 2). */
static hg_status check_format(const char *path, hid_t f, int *version) {
    if (!hg_h5_has_attr(f, "format"))
        return hg_error(HG_ERR_FORMAT, "%s: not a halograph dataset (no 'format' attribute; expected '%s')", path,
                        HG_DS_FORMAT);
    char *fmt = NULL;
    HG_TRY(hg_h5_read_attr_str(path, f, "format", &fmt));
    char got[80];
    snprintf(got, sizeof got, "%s", fmt);
    free(fmt);
    size_t L = strlen(HG_DS_FORMAT_PREFIX);
    char *end = NULL;
    long v = strncmp(got, HG_DS_FORMAT_PREFIX, L) ? -1 : strtol(got + L, &end, 10);
    if (v < 0 || !end || *end || end == got + L)
        return hg_error(HG_ERR_FORMAT, "%s: not a halograph dataset (format '%s', expected '%s')", path, got,
                        HG_DS_FORMAT);
    if (v < 1 || v > HG_DS_VERSION)
        return hg_error(HG_ERR_FORMAT, "%s: dataset format '%s' is not supported by this halograph (reads versions 1 to %d)",
                        path, got, HG_DS_VERSION);
    *version = (int)v;
    return hg_ok();
}

/* Dataset `name` must exist with dtype dt and rank `rank`; its shape is
 * returned. */
static hg_status expect(const char *path, hid_t f, const char *name, hg_dtype dt, int rank, const char *layout,
                        hg_shape *sh) {
    hg_dtype got;
    hg_status s = hg_h5_inspect(path, f, name, &got, sh);
    if (s.code) return hg_error(s.code, "%s (required: /%s %s)", s.msg, name, layout);
    if (got != dt || sh->rank != rank) {
        char b[96];
        return hg_error(HG_ERR_FORMAT, "%s: /%s must be %s, got %s %s", path, name, layout, hg_dtype_name(got),
                        hg_shape_str(*sh, b, sizeof b));
    }
    return hg_ok();
}

/* The whole layout (runtime.h), checked before any data is read: required
 * datasets, dtypes, ranks, dimensions consistent with each other and
 * within the supported ranges, required attributes. */
static hg_status check_layout(const char *path, hid_t f, int version) {
    hg_shape h, c, sh;
    HG_TRY(expect(path, f, "halos", HG_F32, 3, "float32 [n_sims, n_points, n_features]", &h));
    int64_t S = h.dim[0], N = h.dim[1], F = h.dim[2];
    if (S < 1 || N < 1 || F < 1 || F > HG_DS_MAX_FEATURES || S > INT32_MAX || N > INT32_MAX)
        return hg_error(HG_ERR_FORMAT, "%s: /halos shape [%lld, %lld, %lld]: need n_sims, n_points >= 1 and 1 <= n_features <= %d",
                        path, (long long)S, (long long)N, (long long)F, HG_DS_MAX_FEATURES);
    HG_TRY(expect(path, f, "counts", HG_I32, 1, "int32 [n_sims] (real haloes per cloud)", &sh));
    if (sh.dim[0] != S)
        return hg_error(HG_ERR_FORMAT, "%s: /counts has %lld entries, /halos has %lld simulations", path,
                        (long long)sh.dim[0], (long long)S);
    HG_TRY(expect(path, f, "cosmology", HG_F32, 2, "float32 [n_sims, n_params]", &c));
    if (c.dim[0] != S || c.dim[1] > HG_DS_MAX_PARAMS)
        return hg_error(HG_ERR_FORMAT, "%s: /cosmology shape [%lld, %lld]: need [%lld, <= %d]", path,
                        (long long)c.dim[0], (long long)c.dim[1], (long long)S, HG_DS_MAX_PARAMS);
    int64_t total = 0;
    for (int k = 0; k < HG_NUM_SPLITS; k++) {
        char name[32];
        snprintf(name, sizeof name, "split/%s", hg_split_name(k));
        HG_TRY(expect(path, f, name, HG_I32, 1, "int32 [n] (simulation indices)", &sh));
        total += sh.dim[0];
    }
    if (total > S)
        return hg_error(HG_ERR_FORMAT, "%s: the splits list %lld simulations, the dataset has %lld", path,
                        (long long)total, (long long)S);
    static const char *attrs[] = {"box_size", "redshift", "feature_names"};
    for (int i = 0; i < 3; i++)
        if (!hg_h5_has_attr(f, attrs[i]))
            return hg_error(HG_ERR_FORMAT, "%s: missing attribute '%s'", path, attrs[i]);
    if (version >= 2 && !hg_h5_has_attr(f, "checksum"))
        return hg_error(HG_ERR_FORMAT, "%s: missing attribute 'checksum' (required by format version %d)", path,
                        version);
    return hg_ok();
}

static hg_status read_text_attr(const char *path, hid_t f, const char *name, char *out, size_t n) {
    if (!hg_h5_has_attr(f, name)) return hg_ok();
    char *txt = NULL;
    HG_TRY(hg_h5_read_attr_str(path, f, name, &txt));
    snprintf(out, n, "%s", txt);
    free(txt);
    return hg_ok();
}

static hg_status load_all(const char *path, hid_t f, hg_dataset *ds) {
    int version = 0;
    HG_TRY(check_format(path, f, &version));
    HG_TRY(check_layout(path, f, version));
    HG_TRY(hg_h5_read_tensor(path, f, "halos", &ds->halos));
    HG_TRY(hg_h5_read_tensor(path, f, "counts", &ds->counts));
    HG_TRY(hg_h5_read_tensor(path, f, "cosmology", &ds->cosmology));
    int64_t F = ds->halos.shape.dim[2];
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
    HG_TRY(read_text_attr(path, f, "source", ds->source, sizeof ds->source));
    HG_TRY(read_text_attr(path, f, "licence", ds->licence, sizeof ds->licence));
    if (hg_h5_has_attr(f, "split_seed")) HG_TRY(hg_h5_read_attr_u64(path, f, "split_seed", &ds->split_seed));
    if (hg_h5_has_attr(f, "split_fractions"))
        HG_TRY(hg_h5_read_attr_f64(path, f, "split_fractions", ds->split_fractions, 3));
    for (int k = 0; k < HG_NUM_SPLITS; k++) {
        char name[32];
        snprintf(name, sizeof name, "split/%s", hg_split_name(k));
        hg_tensor t;
        HG_TRY(hg_h5_read_tensor(path, f, name, &t));
        ds->split[k] = t.data; /* take the buffer */
        ds->split_n[k] = t.shape.dim[0];
    }
    /* version 1 hashed halos and cosmology only; its value still
     * identifies the data of runs trained on it */
    uint64_t sum = version >= 2 ? hg_dataset_checksum(ds) : checksum_v1(ds);
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
