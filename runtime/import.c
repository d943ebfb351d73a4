/* Import of the reference layout (SPEC 1): haloes as .npy
 * [n_sims, n_points, F] plus a cosmology table (CSV, with or without index
 * column, or Quijote's whitespace parameter table) -> hg_dataset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static const char *const FEAT_NAMES[7] = {"x", "y", "z", "vx", "vy", "vz", "M"};
static const char *const FEAT_UNITS[7] = {"Mpc/h", "Mpc/h", "Mpc/h", "km/s", "km/s", "km/s", "Msun/h"};

void hg_import_options_default(hg_import_options *o) {
    memset(o, 0, sizeof *o);
    o->split[0] = 0.8;
    o->split[1] = 0.1;
    o->split[2] = 0.1;
    o->seed = 52;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

typedef struct {
    float m;
    int32_t i;
} mass_key;

static int cmp_mass_desc(const void *a, const void *b) {
    const mass_key *x = a, *y = b;
    if (x->m != y->m) return x->m < y->m ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i); /* stable */
}

/* Converts, checks and wraps the halo array into ds->halos (f32). */
static hg_status load_halos(const hg_import_options *o, hg_dataset *ds) {
    const char *hp = o->halos_path;
    hg_tensor raw;
    HG_TRY(hg_npy_read(hp, &raw));
    char sb[96];
    hg_status s = hg_ok();
    if (raw.dtype != HG_F32 && raw.dtype != HG_F64) {
        s = hg_error(HG_ERR_FORMAT, "%s: wrong dtype %s: haloes must be float32 or float64", hp, hg_dtype_name(raw.dtype));
        goto done;
    }
    if (raw.shape.rank != 3) {
        s = hg_error(HG_ERR_FORMAT, "%s: wrong rank: shape %s, expected 3-D [n_sims, n_points, n_features]", hp,
                     hg_shape_str(raw.shape, sb, sizeof sb));
        goto done;
    }
    int64_t S = raw.shape.dim[0], N = raw.shape.dim[1], F = raw.shape.dim[2];
    if (S < 1 || N < 1) {
        s = hg_error(HG_ERR_FORMAT, "%s: empty array %s", hp, hg_shape_str(raw.shape, sb, sizeof sb));
        goto done;
    }
    if (F != 3 && F != 6 && F != 7) {
        s = hg_error(HG_ERR_FORMAT, "%s: %lld feature columns; expected 3 (x,y,z), 6 (+vx,vy,vz) or 7 (+M)", hp,
                     (long long)F);
        goto done;
    }
    s = hg_tensor_alloc(&ds->halos, HG_F32, raw.shape);
    if (s.code) goto done;
    float *out = ds->halos.data;
    const double L = o->box_size;
    for (int64_t sim = 0; sim < S; sim++)
        for (int64_t r = 0; r < N; r++)
            for (int64_t f = 0; f < F; f++) {
                int64_t k = (sim * N + r) * F + f;
                double v = hg_tensor_get(&raw, k);
                float vf = (float)v;
                if (!isfinite(v) || !isfinite(vf)) {
                    s = hg_error(HG_ERR_NUMERIC, "%s: sim %lld, halo %lld, column %s: %s value", hp,
                                 (long long)sim, (long long)r, FEAT_NAMES[f],
                                 isnan(v) ? "NaN" : isfinite(v) ? "float32-overflowing" : "infinite");
                    goto done;
                }
                if (f < 3) {
                    if (v < 0 || v > L) {
                        s = hg_error(HG_ERR_INVALID, "%s: sim %lld, halo %lld, column %s = %.9g outside the box [0, %g]",
                                     hp, (long long)sim, (long long)r, FEAT_NAMES[f], v, L);
                        goto done;
                    }
                    if (vf >= (float)L || v == L) vf = 0; /* periodic: L is 0 */
                }
                if (F == 7 && f == 6 && !(v > 0)) {
                    s = hg_error(HG_ERR_INVALID, "%s: sim %lld, halo %lld, column M = %.9g: mass must be > 0", hp,
                                 (long long)sim, (long long)r, v);
                    goto done;
                }
                out[k] = vf;
            }
    for (int64_t f = 0; f < F; f++) {
        snprintf(ds->feature_names[f], HG_DS_NAME_MAX, "%s", FEAT_NAMES[f]);
        snprintf(ds->feature_units[f], HG_DS_NAME_MAX, "%s", FEAT_UNITS[f]);
    }
    ds->n_features = (int)F;
    if (F == 7) { /* most massive first (stable) */
        mass_key *key = malloc(sizeof *key * (size_t)N);
        float *tmp = malloc(sizeof(float) * (size_t)(N * F));
        if (!key || !tmp) {
            free(key);
            free(tmp);
            s = hg_error(HG_ERR_NOMEM, "%s: out of memory", hp);
            goto done;
        }
        for (int64_t sim = 0; sim < S; sim++) {
            float *c = out + sim * N * F;
            for (int64_t r = 0; r < N; r++) key[r] = (mass_key){c[r * F + 6], (int32_t)r};
            qsort(key, (size_t)N, sizeof *key, cmp_mass_desc);
            for (int64_t r = 0; r < N; r++) memcpy(tmp + r * F, c + key[r].i * F, sizeof(float) * F);
            memcpy(c, tmp, sizeof(float) * (size_t)(N * F));
        }
        free(key);
        free(tmp);
    }
    s = hg_tensor_alloc(&ds->counts, HG_I32, hg_shape_of(1, S));
    if (s.code) goto done;
    for (int64_t i = 0; i < S; i++) ((int32_t *)ds->counts.data)[i] = (int32_t)N;
done:
    hg_tensor_free(&raw);
    return s;
}

static hg_status load_cosmology(const hg_import_options *o, hg_dataset *ds) {
    int64_t S = hg_dataset_n_sims(ds);
    hg_table tb;
    const char *cp = o->cosmology_path ? o->cosmology_path : o->params_path;
    if (o->cosmology_path) HG_TRY(hg_table_read_csv(cp, &tb));
    else HG_TRY(hg_table_read_whitespace(cp, &tb));
    hg_status s = hg_ok();
    int64_t first = o->cosmology_path ? 0 : o->params_offset;
    if (o->cosmology_path && tb.n_rows != S) {
        s = hg_error(HG_ERR_FORMAT, "%s: row-count mismatch: %d cosmology rows, but %s has %lld simulations", cp,
                     tb.n_rows, o->halos_path, (long long)S);
        goto done;
    }
    if (!o->cosmology_path && (first < 0 || first + S > tb.n_rows)) {
        s = hg_error(HG_ERR_FORMAT, "%s: row-count mismatch: rows %lld..%lld needed for %lld simulations, table has %d",
                     cp, (long long)first, (long long)(first + S - 1), (long long)S, tb.n_rows);
        goto done;
    }
    if (tb.n_cols > HG_DS_MAX_PARAMS) {
        s = hg_error(HG_ERR_FORMAT, "%s: %d columns, at most %d supported", cp, tb.n_cols, HG_DS_MAX_PARAMS);
        goto done;
    }
    const char *req = o->required_params ? o->required_params : "Omega_m,sigma_8";
    char buf[512];
    snprintf(buf, sizeof buf, "%s", req);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
        if (*tok && hg_table_col(&tb, tok) < 0) {
            s = hg_error(HG_ERR_FORMAT, "%s: missing column '%s' (required parameter)", cp, tok);
            goto done;
        }
    s = hg_tensor_alloc(&ds->cosmology, HG_F32, hg_shape_of(2, S, (int64_t)tb.n_cols));
    if (s.code) goto done;
    for (int64_t r = 0; r < S; r++)
        for (int c = 0; c < tb.n_cols; c++)
            ((float *)ds->cosmology.data)[r * tb.n_cols + c] = (float)tb.values[(first + r) * tb.n_cols + c];
    ds->n_params = tb.n_cols;
    for (int c = 0; c < tb.n_cols; c++) snprintf(ds->param_names[c], HG_DS_NAME_MAX, "%s", tb.names[c]);
done:
    hg_table_free(&tb);
    return s;
}

hg_status hg_import(const hg_import_options *o, hg_dataset *ds) {
    hg_dataset_free(ds);
    if (!o->halos_path) return hg_error(HG_ERR_INVALID, "import: no haloes file given");
    if (!o->cosmology_path == !o->params_path)
        return hg_error(HG_ERR_INVALID, "import: give exactly one of a cosmology CSV and a parameter table");
    if (!(o->box_size > 0) || !isfinite(o->box_size))
        return hg_error(HG_ERR_INVALID, "import: the box size is required and must be positive (got %g)", o->box_size);
    hg_status s = load_halos(o, ds);
    if (s.code == HG_OK) s = load_cosmology(o, ds);
    if (s.code == HG_OK) {
        ds->box_size = o->box_size;
        ds->redshift = o->redshift;
        if (o->source) snprintf(ds->source, sizeof ds->source, "%s", o->source);
        else snprintf(ds->source, sizeof ds->source, "imported from %s", base_name(o->halos_path));
        snprintf(ds->licence, sizeof ds->licence, "%s", o->licence ? o->licence : "unspecified");
        s = hg_dataset_make_splits(ds, o->split, o->seed);
    }
    if (s.code == HG_OK) s = hg_dataset_validate(ds);
    if (s.code == HG_OK) ds->checksum = hg_dataset_checksum(ds);
    if (s.code) hg_dataset_free(ds);
    return s;
}
