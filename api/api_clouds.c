/* Given clouds in physical units -> a pipeline of the run (the layout
 * hg_pipeline_init makes from a dataset), for halograph_nelbo and
 * halograph_likelihood_profile. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

/* Checks cloud i (x [N, F], mask [N] or NULL) and writes its pipeline
 * rows: physical units with log10 mass, padding rows zero. */
static hg_status put_cloud(const hg_run *r, int64_t i, const float *x, const float *mask, int64_t N, int64_t F,
                           int mass_col, float *px, float *pm) {
    double L = r->norm.box;
    int64_t real = 0;
    for (int64_t j = 0; j < N; j++) {
        float m = mask ? mask[j] : 1.0f;
        if (m != 0.0f && m != 1.0f)
            return hg_error(HG_ERR_INVALID, "mask: cloud %lld, halo %lld: %g is not 0 or 1", (long long)i,
                            (long long)j, (double)m);
        pm[j] = m;
        real += m == 1.0f;
        for (int64_t f = 0; f < F; f++) {
            double v = x[j * F + f];
            const char *name = r->feature_names[f];
            if (m == 0.0f) {
                px[j * F + f] = 0.0f;
                continue;
            }
            if (!isfinite(v))
                return hg_error(HG_ERR_NUMERIC, "x: cloud %lld, halo %lld, feature %s: %g is not finite",
                                (long long)i, (long long)j, name, v);
            if (f < 3 && L > 0 && !(v >= 0 && v < L))
                return hg_error(HG_ERR_INVALID, "x: cloud %lld, halo %lld, feature %s: %g is outside the box "
                                "[0, %g) Mpc/h", (long long)i, (long long)j, name, v, L);
            if (f == mass_col) {
                if (!(v > 0))
                    return hg_error(HG_ERR_INVALID, "x: cloud %lld, halo %lld: mass %g is not > 0 (linear "
                                    "Msun/h expected)", (long long)i, (long long)j, v);
                v = log10(v);
            }
            px[j * F + f] = (float)v;
        }
    }
    if (real == 0) return hg_error(HG_ERR_INVALID, "mask: cloud %lld has no real halo", (long long)i);
    return hg_ok();
}

hg_status hg_api_clouds_pipeline(const hg_run *r, const float *x, int64_t n, int64_t N, int64_t F,
                                 const float *mask, const float *cond, hg_pipeline *pl) {
    const hg_config *c = &r->cfg;
    memset(pl, 0, sizeof *pl);
    int64_t C = c->n_cond;
    if (!x) return hg_error(HG_ERR_INVALID, "x: NULL clouds");
    if (n < 1) return hg_error(HG_ERR_INVALID, "x: %lld clouds (need at least 1)", (long long)n);
    if (N != c->n_particles || F != c->n_features)
        return hg_error(HG_ERR_INVALID, "x: clouds of shape [%lld, %lld] but the run's are [%d, %d] "
                        "(haloes, features)", (long long)N, (long long)F, c->n_particles, c->n_features);
    if (C > 0 && !cond) return hg_error(HG_ERR_INVALID, "cond: NULL but the model has %lld parameters", (long long)C);
    for (int64_t i = 0; i < n * C; i++)
        if (!isfinite(cond[i]))
            return hg_error(HG_ERR_NUMERIC, "cond: cloud %lld, %s: %g is not finite", (long long)(i / C),
                            c->conditioning[i % C], (double)cond[i]);
    hg_run_pipeline_config(c, &pl->cfg);
    pl->split = HG_SPLIT_TEST;
    pl->norm = r->norm;
    pl->box_size = r->norm.box;
    pl->n_clouds = n;
    pl->n_points = N;
    pl->n_features = F;
    pl->n_cond = C;
    pl->mass_col = F == 7 ? 6 : -1;
    pl->x = malloc(sizeof(float) * (size_t)(n * N * F));
    pl->mask = malloc(sizeof(float) * (size_t)(n * N));
    pl->cond = malloc(sizeof(float) * (size_t)(n * C + 1));
    pl->sims = malloc(sizeof(int32_t) * (size_t)n);
    if (!pl->x || !pl->mask || !pl->cond || !pl->sims) {
        hg_pipeline_free(pl);
        return hg_error(HG_ERR_NOMEM, "x: out of memory for %lld clouds", (long long)n);
    }
    if (C > 0) memcpy(pl->cond, cond, sizeof(float) * (size_t)(n * C));
    hg_status s = hg_ok();
    for (int64_t i = 0; i < n && s.code == HG_OK; i++) {
        pl->sims[i] = -1;
        s = put_cloud(r, i, x + i * N * F, mask ? mask + i * N : NULL, N, F, pl->mass_col, pl->x + i * N * F,
                      pl->mask + i * N);
    }
    if (s.code) hg_pipeline_free(pl);
    return s;
}
