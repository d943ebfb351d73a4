/* NELBO and likelihood profiles (SPEC 3.6; models/drivers.h): grids, the
 * 68% interval, and the host loops over grid points, replicas and chunks of
 * diffusion terms of the "nelbo" graph. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/drivers.h"

hg_status hg_parse_grid(const char *s, double *lo, double *hi, int *n) {
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf)
        return hg_error(HG_ERR_INVALID, "--grid: too long");
    char *p1 = strchr(buf, ':'), *p2 = p1 ? strchr(p1 + 1, ':') : NULL;
    if (!p1 || !p2 || strchr(p2 + 1, ':'))
        return hg_error(HG_ERR_INVALID, "--grid '%s' is not LO:HI:N", s);
    *p1 = *p2 = 0;
    char *e1, *e2, *e3;
    errno = 0;
    double a = strtod(buf, &e1), b = strtod(p1 + 1, &e2);
    long k = strtol(p2 + 1, &e3, 10);
    if (errno || e1 == buf || *e1 || e2 == p1 + 1 || *e2 || e3 == p2 + 1 || *e3 || !isfinite(a) || !isfinite(b))
        return hg_error(HG_ERR_INVALID, "--grid '%s' is not LO:HI:N (two numbers and an integer)", s);
    if (k < 2 || k > 100000) return hg_error(HG_ERR_INVALID, "--grid '%s': N = %ld must be in [2, 100000]", s, k);
    if (!(a < b)) return hg_error(HG_ERR_INVALID, "--grid '%s': LO %g must be below HI %g", s, a, b);
    *lo = a;
    *hi = b;
    *n = (int)k;
    return hg_ok();
}

int hg_default_grid(const char *param, double *lo, double *hi, int *n) {
    if (!strcmp(param, "Omega_m")) {
        *lo = 0.1, *hi = 0.5, *n = 30;
        return 0;
    }
    if (!strcmp(param, "sigma_8")) {
        *lo = 0.6, *hi = 1.0, *n = 30;
        return 0;
    }
    return -1;
}

hg_status hg_profile_interval(const double *grid, const double *logl, int n, hg_interval *iv) {
    return hg_profile_interval_at(grid, logl, n, HG_DELTA_CHI2_68, iv);
}

hg_status hg_profile_interval_at(const double *grid, const double *logl, int n, double delta_chi2,
                                 hg_interval *iv) {
    memset(iv, 0, sizeof *iv);
    if (n < 1) return hg_error(HG_ERR_INVALID, "profile: empty grid");
    for (int i = 0; i < n; i++) {
        if (!isfinite(logl[i]) || !isfinite(grid[i]))
            return hg_error(HG_ERR_NUMERIC, "profile: grid point %d: theta %g, log-likelihood %g", i, grid[i], logl[i]);
        if (i && !(grid[i] > grid[i - 1]))
            return hg_error(HG_ERR_INVALID, "profile: grid not increasing at point %d", i);
    }
    int b = 0;
    for (int i = 1; i < n; i++)
        if (logl[i] > logl[b]) b = i;
    double mx = logl[b], thr = -delta_chi2;
#define D2(i) (2.0 * (logl[i] - mx))
    int j = b;
    while (j > 0 && D2(j - 1) >= thr) j--;
    if (j == 0) {
        iv->lo = grid[0];
        iv->lo_open = 1;
    } else {
        double d0 = D2(j - 1), d1 = D2(j); /* d0 < thr <= d1 */
        iv->lo = grid[j - 1] + (thr - d0) / (d1 - d0) * (grid[j] - grid[j - 1]);
    }
    j = b;
    while (j < n - 1 && D2(j + 1) >= thr) j++;
    if (j == n - 1) {
        iv->hi = grid[n - 1];
        iv->hi_open = 1;
    } else {
        double d0 = D2(j), d1 = D2(j + 1); /* d0 >= thr > d1 */
        iv->hi = grid[j] + (d0 - thr) / (d0 - d1) * (grid[j + 1] - grid[j]);
    }
#undef D2
    iv->best_index = b;
    iv->best = grid[b];
    iv->max_logl = mx;
    return hg_ok();
}

void hg_nelbo_options_default(hg_nelbo_options *o) {
    memset(o, 0, sizeof *o);
    o->steps = 50;
    o->replicas = 16;
}

/* Floats of the largest activation per cloud of the score network (the
 * attention logits of the transformer, the edge features of the graph
 * network), to size the batches of the nelbo graph. */
static double row_floats(const hg_config *c) {
    double N = c->n_particles;
    if (c->score == HG_SCORE_GRAPH) return N * c->k * (c->hidden_size > 64 ? c->hidden_size : 64);
    double w = c->d_mlp > c->d_model ? c->d_mlp : c->d_model;
    return N * N * c->n_heads + N * w;
}

/* Diffusion terms per call: o->terms_per_call, or the largest divisor of S
 * keeping M * rows below about 2^24 floats per large tensor. */
static int terms_per_call(const hg_config *c, const hg_nelbo_options *o, int rows) {
    int S = o->steps;
    if (o->terms_per_call > 0) return o->terms_per_call;
    double cap = (double)(1 << 24) / (row_floats(c) * rows);
    int best = 1;
    for (int m = 1; m <= S; m++)
        if (S % m == 0 && m <= cap) best = m;
    return best;
}

static hg_status check_opts(const hg_nelbo_options *o) {
    if (o->steps < 1) return hg_error(HG_ERR_INVALID, "nelbo: --steps %d < 1", o->steps);
    if (o->replicas < 1) return hg_error(HG_ERR_INVALID, "nelbo: --replicas %d < 1", o->replicas);
    if (o->terms_per_call < 0 || (o->terms_per_call > 0 && o->steps % o->terms_per_call))
        return hg_error(HG_ERR_INVALID, "nelbo: terms per call %d must divide the steps %d", o->terms_per_call,
                        o->steps);
    return hg_ok();
}

static hg_status put_i32(hg_tensor_map *m, const char *name, int64_t v) {
    hg_tensor *t;
    HG_TRY(hg_map_alloc(m, name, HG_I32, hg_shape_scalar(), &t));
    ((int32_t *)t->data)[0] = (int32_t)v;
    return hg_ok();
}

/* A nelbo program over B rows with M terms per call. */
static hg_status nelbo_program(const hg_run *r, const hg_nelbo_options *o, int B, int M, hg_program **p) {
    hg_model_opts mo;
    hg_model_opts_default(&mo, &r->cfg);
    mo.nelbo_steps = o->steps;
    mo.nelbo_terms_per_call = M;
    hg_model m;
    HG_TRY(hg_run_build(r, "nelbo", B, &mo, &m));
    hg_status s = hg_program_compile(m.g, o->backend, p);
    hg_model_free(&m);
    return s;
}

/* Sums the S/M chunk calls for the inputs in `in` (x, cond, mask, seed,
 * replica set); out f64 [B] per output name (NULL to skip). */
static hg_status nelbo_calls(hg_program *p, const hg_run *r, const hg_nelbo_options *o, int M, hg_tensor_map *in,
                             int B, double *nelbo, double *parts, int64_t *done, int64_t total) {
    hg_tensor_map res;
    hg_map_init(&res);
    for (int b = 0; b < B; b++) {
        nelbo[b] = 0;
        if (parts) parts[3 * b] = parts[3 * b + 1] = parts[3 * b + 2] = 0;
    }
    hg_status s = hg_ok();
    static const char *names[3] = {"nelbo_recon", "nelbo_klz", "nelbo_diff"};
    for (int k = 0; k < o->steps / M && s.code == HG_OK; k++) {
        if (o->interrupt && *o->interrupt) {
            s = hg_error(HG_ERR_INTERRUPTED, "interrupted (nothing written)");
            break;
        }
        s = put_i32(in, "step", k);
        if (s.code == HG_OK) s = hg_program_run(p, (hg_tensor_map *)&r->state, in, &res);
        if (s.code) break;
        const hg_tensor *t = hg_map_get(&res, "nelbo");
        for (int b = 0; b < B; b++) nelbo[b] += hg_tensor_get(t, b);
        for (int q = 0; q < 3 && parts; q++) {
            const hg_tensor *tq = hg_map_get(&res, names[q]);
            for (int b = 0; b < B; b++) parts[3 * b + q] += hg_tensor_get(tq, b);
        }
        (*done)++;
        if (o->progress) o->progress(o->user, *done, total);
    }
    hg_map_free(&res);
    return s;
}

hg_status hg_likelihood_profile(const hg_run *r, const float *x, const float *mask, const float *theta, int param,
                                const double *grid, int n_grid, const hg_nelbo_options *o, double *logl,
                                double *logl_rep) {
    const hg_config *c = &r->cfg;
    HG_TRY(check_opts(o));
    int C = c->n_cond;
    if (C == 0) return hg_error(HG_ERR_INVALID, "likelihood: the model has no conditioning to scan");
    if (param < 0 || param >= C) return hg_error(HG_ERR_INVALID, "likelihood: parameter index %d", param);
    if (n_grid < 1) return hg_error(HG_ERR_INVALID, "likelihood: empty grid");
    int K = o->replicas, M = terms_per_call(c, o, K);
    int64_t N = c->n_particles, F = c->n_features;
    hg_program *p = NULL;
    HG_TRY(nelbo_program(r, o, K, M, &p));
    hg_tensor_map in;
    hg_map_init(&in);
    hg_tensor *tx, *tm, *tc;
    hg_status s = hg_map_alloc(&in, "x", HG_F32, hg_shape_of(3, (int64_t)K, N, F), &tx);
    if (s.code == HG_OK) s = hg_map_alloc(&in, "mask", HG_F32, hg_shape_of(2, (int64_t)K, N), &tm);
    if (s.code == HG_OK) s = hg_map_alloc(&in, "cond", HG_F32, hg_shape_of(2, (int64_t)K, (int64_t)C), &tc);
    if (s.code == HG_OK) s = put_i32(&in, "seed", o->seed);
    if (s.code == HG_OK) s = put_i32(&in, "replica", 0);
    double *nel = malloc(sizeof(double) * (size_t)K);
    if (!nel && s.code == HG_OK) s = hg_error(HG_ERR_NOMEM, "likelihood");
    if (s.code == HG_OK) {
        for (int k = 0; k < K; k++) {
            memcpy((float *)tx->data + (int64_t)k * N * F, x, sizeof(float) * (size_t)(N * F));
            memcpy((float *)tm->data + (int64_t)k * N, mask, sizeof(float) * (size_t)N);
        }
    }
    int64_t g0, g1; /* this rank's grid points */
    hg_comm_my_rows(o->comm, n_grid, 1, &g0, &g1);
    int64_t done = 0, total = (g1 - g0) * (o->steps / M);
    for (int g = (int)g0; g < g1 && s.code == HG_OK; g++) {
        for (int k = 0; k < K; k++)
            for (int q = 0; q < C; q++) ((float *)tc->data)[k * C + q] = q == param ? (float)grid[g] : theta[q];
        s = nelbo_calls(p, r, o, M, &in, K, nel, NULL, &done, total);
        if (s.code) break;
        double sum = 0;
        for (int k = 0; k < K; k++) {
            if (logl_rep) logl_rep[(int64_t)g * K + k] = -nel[k];
            sum += -nel[k];
        }
        logl[g] = sum / K;
        if (!isfinite(logl[g]))
            s = hg_error(HG_ERR_NUMERIC, "likelihood: log-likelihood %g at grid point %d (%s = %g)", logl[g], g,
                         c->conditioning[param], grid[g]);
    }
    free(nel);
    hg_map_free(&in);
    hg_program_free(p);
    s = hg_comm_agree(o->comm, s, "likelihood profile");
    if (s.code == HG_OK) s = hg_comm_gather_rows(o->comm, logl, n_grid, 1, sizeof(double), "gather of the profile");
    if (s.code == HG_OK && logl_rep)
        s = hg_comm_gather_rows(o->comm, logl_rep, n_grid, 1, (int64_t)K * (int64_t)sizeof(double),
                                "gather of the replica profiles");
    return s;
}

hg_status hg_nelbo_split(const hg_run *r, const hg_pipeline *pl, const hg_nelbo_options *o, double *nelbo,
                         double *parts, double *rep) {
    const hg_config *c = &r->cfg;
    HG_TRY(check_opts(o));
    int64_t n = pl->n_clouds;
    int B = o->batch > 0 ? o->batch : (n < c->batch_size ? (int)n : c->batch_size);
    int M = terms_per_call(c, o, B), K = o->replicas;
    hg_program *p = NULL;
    HG_TRY(nelbo_program(r, o, B, M, &p));
    int64_t nb = hg_pipeline_n_eval_batches(pl, B);
    int64_t c0, c1; /* this rank's clouds: whole batches */
    hg_comm_my_rows(o->comm, n, B, &c0, &c1);
    int64_t b0 = c0 / B, b1 = (c1 + B - 1) / B;
    if (b1 > nb) b1 = nb;
    int64_t done = 0, total = (b1 - b0) * K * (o->steps / M);
    double *nel = malloc(sizeof(double) * (size_t)B), *pt = malloc(sizeof(double) * 3 * (size_t)B);
    hg_tensor_map in;
    hg_map_init(&in);
    hg_status s = nel && pt ? hg_ok() : hg_error(HG_ERR_NOMEM, "nelbo");
    for (int64_t i = 0; i < n && s.code == HG_OK; i++) {
        nelbo[i] = 0;
        for (int q = 0; q < 3 && parts; q++) parts[3 * i + q] = 0;
    }
    for (int64_t bi = b0; bi < b1 && s.code == HG_OK; bi++) {
        hg_batch bt;
        memset(&bt, 0, sizeof bt);
        s = hg_pipeline_eval_batch(pl, bi, B, &bt);
        if (s.code == HG_OK) {
            hg_tensor x = bt.x, mk = bt.mask, cd = bt.cond;
            x.owned = mk.owned = cd.owned = 0;
            s = hg_map_put(&in, "x", &x);
            if (s.code == HG_OK) s = hg_map_put(&in, "mask", &mk);
            if (s.code == HG_OK && c->n_cond > 0) s = hg_map_put(&in, "cond", &cd);
            if (s.code == HG_OK) s = put_i32(&in, "seed", o->seed);
        }
        for (int k = 0; k < K && s.code == HG_OK; k++) {
            s = put_i32(&in, "replica", k);
            if (s.code == HG_OK) s = nelbo_calls(p, r, o, M, &in, B, nel, pt, &done, total);
            for (int b = 0; b < B && s.code == HG_OK; b++) {
                int64_t i = bi * B + b;
                if (i >= n) break;
                nelbo[i] += nel[b] / K;
                if (rep) rep[i * K + k] = nel[b];
                for (int q = 0; q < 3 && parts; q++) parts[3 * i + q] += pt[3 * b + q] / K;
            }
        }
        hg_batch_free(&bt);
    }
    for (int64_t i = c0; i < c1 && s.code == HG_OK; i++)
        if (!isfinite(nelbo[i])) s = hg_error(HG_ERR_NUMERIC, "nelbo: cloud %lld: NELBO %g", (long long)i, nelbo[i]);
    free(nel);
    free(pt);
    hg_map_free(&in);
    hg_program_free(p);
    s = hg_comm_agree(o->comm, s, "NELBO");
    if (s.code == HG_OK) s = hg_comm_gather_rows(o->comm, nelbo, n, B, sizeof(double), "gather of the NELBOs");
    if (s.code == HG_OK && parts)
        s = hg_comm_gather_rows(o->comm, parts, n, B, 3 * sizeof(double), "gather of the NELBO parts");
    if (s.code == HG_OK && rep)
        s = hg_comm_gather_rows(o->comm, rep, n, B, (int64_t)K * (int64_t)sizeof(double), "gather of the replicas");
    return s;
}
