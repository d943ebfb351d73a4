/* libhalograph datasets (read-only views of a loaded hg_dataset) and the
 * two-point correlation function (models/eval.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "models/eval.h"

struct halograph_dataset {
    hg_dataset ds;
};

int halograph_dataset_open(const char *path, halograph_dataset **out) {
    if (!out) return hg_api_fail(HALOGRAPH_ERR_INVALID, "dataset: NULL output handle");
    *out = NULL;
    if (!path) return hg_api_fail(HALOGRAPH_ERR_INVALID, "dataset: NULL path");
    halograph_dataset *h = calloc(1, sizeof *h);
    if (!h) return hg_api_fail(HALOGRAPH_ERR_NOMEM, "dataset %s: out of memory", path);
    hg_dataset_init(&h->ds);
    hg_status s = hg_dataset_load(path, &h->ds);
    if (s.code) {
        hg_dataset_free(&h->ds);
        free(h);
        return hg_api_status(s);
    }
    *out = h;
    return HALOGRAPH_OK;
}

void halograph_dataset_close(halograph_dataset *ds) {
    if (!ds) return;
    hg_dataset_free(&ds->ds);
    free(ds);
}

void halograph_dataset_info(const halograph_dataset *ds, int64_t *n_sims, int64_t *n_points, int *n_features,
                            int *n_params, double *box, double *redshift) {
    const hg_dataset *d = &ds->ds;
    if (n_sims) *n_sims = hg_dataset_n_sims(d);
    if (n_points) *n_points = hg_dataset_n_points(d);
    if (n_features) *n_features = d->n_features;
    if (n_params) *n_params = d->n_params;
    if (box) *box = d->box_size;
    if (redshift) *redshift = d->redshift;
}

const float *halograph_dataset_halos(const halograph_dataset *ds) { return ds->ds.halos.data; }
const int32_t *halograph_dataset_counts(const halograph_dataset *ds) { return ds->ds.counts.data; }
const float *halograph_dataset_cosmology(const halograph_dataset *ds) { return ds->ds.cosmology.data; }

const int32_t *halograph_dataset_split(const halograph_dataset *ds, const char *split, int64_t *n) {
    for (int k = 0; split && k < HG_NUM_SPLITS; k++)
        if (!strcmp(split, hg_split_name((hg_split)k))) {
            if (n) *n = ds->ds.split_n[k];
            return ds->ds.split[k];
        }
    if (n) *n = 0;
    return NULL;
}

const char *halograph_dataset_feature_name(const halograph_dataset *ds, int i) {
    return i >= 0 && i < ds->ds.n_features ? ds->ds.feature_names[i] : NULL;
}

const char *halograph_dataset_param_name(const halograph_dataset *ds, int i) {
    return i >= 0 && i < ds->ds.n_params ? ds->ds.param_names[i] : NULL;
}

int halograph_xi(const float *pts, int64_t n, int stride, double box, const double *edges, int n_edges,
                 double *xi, int64_t *npairs) {
    if (!pts || !edges || !xi) return hg_api_fail(HALOGRAPH_ERR_INVALID, "xi: NULL argument");
    if (n_edges < 2) return hg_api_fail(HALOGRAPH_ERR_INVALID, "xi: %d bin edges (need at least 2)", n_edges);
    if (stride < 3) return hg_api_fail(HALOGRAPH_ERR_INVALID, "xi: %d columns per point (need x, y, z)", stride);
    if (!(box > 0)) return hg_api_fail(HALOGRAPH_ERR_INVALID, "xi: box %g is not > 0", box);
    /* the pair counter wraps separations into the periodic box: a point outside it is the caller's error */
    for (int64_t i = 0; i < n; i++)
        for (int d = 0; d < 3; d++) {
            float v = pts[i * stride + d];
            if (v >= 0 && v < box) continue;
            if (!isfinite(v)) break; /* named by the pair counter */
            return hg_api_fail(HALOGRAPH_ERR_INVALID, "xi: point %lld, coordinate %d: %g is outside the box [0, %g)",
                               (long long)i, d, (double)v, box);
        }
    int64_t *dd = calloc((size_t)(n_edges - 1), sizeof *dd);
    if (!dd) return hg_api_fail(HALOGRAPH_ERR_NOMEM, "xi: out of memory");
    hg_status s = hg_eval_pair_counts(pts, n, stride, box, edges, n_edges, dd);
    if (s.code == HG_OK) s = hg_eval_xi_from_counts(dd, n, box, edges, n_edges, xi);
    if (s.code == HG_OK && npairs) memcpy(npairs, dd, sizeof *dd * (size_t)(n_edges - 1));
    free(dd);
    return hg_api_status(s);
}
