/* Reference knn (SPEC 4.2, ir.h op table): pos [B, N, 3], mask [B, N]
 * (nonzero = real point) -> i32 [B, N, k].
 *
 * Distances are computed in the dtype of pos: positions wrapped into
 * [0, L) (p - floor(p / L) L) when attrs.box = L > 0, dr = (p_i - p_j) +
 * 1e-5 per axis, periodic dr -= round_half_even(dr / L) L, d2 = (dr_x^2 +
 * dr_y^2) + dr_z^2. Row i lists the k real j with the smallest (d2, j)
 * (lexicographic: ties by lower index), self included, ascending; missing
 * entries and every entry of a padded i are -1. A pair whose d2 is NaN is
 * never a neighbour.
 *
 * Search: brute force when box == 0, N is small, or a batch has a
 * non-finite position; otherwise cell lists: nc^3 cells of side h = L / nc,
 * shells of cells at Chebyshev distance s = 0, 1, ... around i's cell until
 * the k-th best d2 is below (s h - margin)^2, a bound on the d2 of every
 * point outside the searched block (margin covers the 1e-5 shift and
 * rounding), or the block covers the box. The result equals brute force
 * exactly, ties included, because (d2, j) is a total order.
 * OpenMP over (batch, point); each row is written by one thread. */
#include "codegen/ref_internal.h"
#include "ir/elementwise.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KNN_BRUTE_MAX_N 256 /* at most this many points: brute force */

typedef struct {
    const double *w; /* wrapped positions [N, 3] (values exact in the dtype) */
    const uint8_t *real;
    int64_t N;
    double L;
    int periodic, f32;
    /* cell lists (nc == 0: brute force) */
    int nc;
    int nc_k; /* k, used to size the cells */
    double h;
    const int32_t *cstart; /* [nc^3 + 1] */
    const int32_t *cpts;   /* real points sorted by cell, then index */
} knn_batch;

static double dist2(const knn_batch *kb, int64_t i, int64_t j) {
    const double *pi = kb->w + 3 * i, *pj = kb->w + 3 * j;
    if (kb->f32) {
        float L = (float)kb->L, s = 0;
        for (int a = 0; a < 3; a++) {
            float dr = ((float)pi[a] - (float)pj[a]) + 1e-5f;
            if (kb->periodic)
                dr -= (float)hg_round_half_even((double)(dr / L)) * L;
            s += dr * dr;
        }
        return s;
    }
    double L = kb->L, s = 0;
    for (int a = 0; a < 3; a++) {
        double dr = (pi[a] - pj[a]) + 1e-5;
        if (kb->periodic) dr -= hg_round_half_even(dr / L) * L;
        s += dr * dr;
    }
    return s;
}

/* The k best (d2, j) so far, ascending. */
typedef struct {
    double *d;
    int32_t *j;
    int cnt, k;
} topk;

static void topk_push(topk *t, double d, int32_t j) {
    if (isnan(d)) return;
    int c = t->cnt;
    if (c == t->k) {
        if (d > t->d[c - 1] || (d == t->d[c - 1] && j > t->j[c - 1])) return;
        c--; /* drop the worst */
    }
    while (c > 0 && (t->d[c - 1] > d || (t->d[c - 1] == d && t->j[c - 1] > j))) {
        t->d[c] = t->d[c - 1];
        t->j[c] = t->j[c - 1];
        c--;
    }
    t->d[c] = d;
    t->j[c] = j;
    if (t->cnt < t->k) t->cnt++;
}

static void brute(const knn_batch *kb, int64_t i, topk *t) {
    t->cnt = 0;
    for (int64_t j = 0; j < kb->N; j++)
        if (kb->real[j]) topk_push(t, dist2(kb, i, j), (int32_t)j);
}

static int cell_coord(double w, double h, int nc) {
    int c = (int)(w / h);
    return c < 0 ? 0 : (c >= nc ? nc - 1 : c);
}

static void cells_search(const knn_batch *kb, int64_t i, topk *t) {
    int nc = kb->nc;
    int ci[3];
    for (int a = 0; a < 3; a++) ci[a] = cell_coord(kb->w[3 * i + a], kb->h, nc);
    double margin = 2e-5 + kb->L * 1e-5;
    t->cnt = 0;
    for (int s = 0;; s++) {
        if (2 * s + 1 > nc) { /* the shell would wrap onto itself */
            brute(kb, i, t);
            return;
        }
        for (int dx = -s; dx <= s; dx++)
            for (int dy = -s; dy <= s; dy++)
                for (int dz = -s; dz <= s; dz++) {
                    int m = abs(dx) > abs(dy) ? abs(dx) : abs(dy);
                    if (abs(dz) > m) m = abs(dz);
                    if (m != s) continue;
                    int cx = (ci[0] + dx + nc) % nc, cy = (ci[1] + dy + nc) % nc,
                        cz = (ci[2] + dz + nc) % nc;
                    int c = (cx * nc + cy) * nc + cz;
                    for (int32_t p = kb->cstart[c]; p < kb->cstart[c + 1]; p++) {
                        int32_t j = kb->cpts[p];
                        topk_push(t, dist2(kb, i, j), j);
                    }
                }
        if (2 * s + 1 == nc) return; /* every cell searched */
        double reach = s * kb->h - margin;
        if (t->cnt == t->k && reach > 0 && t->d[t->k - 1] < reach * reach) return;
    }
}

/* Builds the wrapped positions and, when worthwhile, the cell lists of
 * batch b. Returns 0, or -1 on OOM. */
static int prepare(const hg_tensor *pos, const hg_tensor *mask, int64_t b,
                   int k, double L, double *w, uint8_t *real, knn_batch *kb,
                   int32_t **cstart, int32_t **cpts) {
    int64_t N = pos->shape.dim[1];
    int f32 = pos->dtype == HG_F32;
    int64_t nreal = 0;
    int finite = 1;
    for (int64_t j = 0; j < N; j++) {
        double m = f32 ? ((const float *)mask->data)[b * N + j]
                       : ((const double *)mask->data)[b * N + j];
        real[j] = m != 0;
        nreal += real[j];
        for (int a = 0; a < 3; a++) {
            int64_t o = (b * N + j) * 3 + a;
            double p;
            if (f32) {
                float pf = ((const float *)pos->data)[o];
                if (L > 0) pf = pf - floorf(pf / (float)L) * (float)L;
                p = pf;
            } else {
                p = ((const double *)pos->data)[o];
                if (L > 0) p = p - floor(p / L) * L;
            }
            if (real[j] && !isfinite(p)) finite = 0;
            w[3 * j + a] = p;
        }
    }
    kb->w = w;
    kb->real = real;
    kb->N = N;
    kb->L = L;
    kb->periodic = L > 0;
    kb->f32 = f32;
    kb->nc = 0;
    kb->nc_k = k;
    *cstart = *cpts = NULL;
    if (L <= 0 || N <= KNN_BRUTE_MAX_N || !finite) return 0;
    /* cell side about half the expected k-th neighbour distance r_k
     * (4/3 pi r_k^3 nreal / L^3 = k), so shells 0..2 usually suffice:
     * nc = 2 L / r_k */
    int kk = kb->nc_k > 0 ? kb->nc_k : 1;
    int nc = (int)(2.0 * cbrt(4.18879020478639 * (double)nreal / kk));
    if (nc > 128) nc = 128;
    if (nc < 3) return 0;
    double h = L / nc;
    size_t ncell = (size_t)nc * nc * nc;
    int32_t *cs = calloc(ncell + 1, sizeof *cs);
    int32_t *cp = malloc(((size_t)nreal + 1) * sizeof *cp);
    int32_t *cell = malloc(((size_t)N + 1) * sizeof *cell);
    if (!cs || !cp || !cell) {
        free(cs);
        free(cp);
        free(cell);
        return -1;
    }
    for (int64_t j = 0; j < N; j++) {
        if (!real[j]) continue;
        int c = (cell_coord(w[3 * j], h, nc) * nc + cell_coord(w[3 * j + 1], h, nc)) * nc +
                cell_coord(w[3 * j + 2], h, nc);
        cell[j] = c;
        cs[c + 1]++;
    }
    for (size_t c = 0; c < ncell; c++) cs[c + 1] += cs[c];
    int32_t *fill = malloc((ncell + 1) * sizeof *fill);
    if (!fill) {
        free(cs);
        free(cp);
        free(cell);
        return -1;
    }
    memcpy(fill, cs, (ncell + 1) * sizeof *fill);
    for (int64_t j = 0; j < N; j++)
        if (real[j]) cp[fill[cell[j]]++] = (int32_t)j;
    free(fill);
    free(cell);
    kb->nc = nc;
    kb->h = h;
    kb->cstart = cs;
    kb->cpts = cp;
    *cstart = cs;
    *cpts = cp;
    return 0;
}

hg_status hg_ref_knn(const hg_node *n, const hg_tensor *const *in,
                     hg_tensor *out) {
    const hg_tensor *pos = in[0], *mask = in[1];
    if (!hg_dtype_is_float(pos->dtype) || mask->dtype != pos->dtype)
        return hg_error(HG_ERR_UNSUPPORTED, "knn positions/mask must be one float dtype");
    if (pos->shape.rank != 3 || pos->shape.dim[2] != 3)
        return hg_error(HG_ERR_INVALID, "knn positions must be [B, N, 3]");
    int64_t B = pos->shape.dim[0], N = pos->shape.dim[1];
    int k = n->attrs.k;
    double L = n->attrs.box;
    int32_t *o = out->data;
    for (int64_t i = 0; i < B * N * (int64_t)k; i++) o[i] = -1;
    if (B * N == 0 || k <= 0) return hg_ok();

    double *w = malloc((size_t)(B * N * 3) * sizeof *w);
    uint8_t *real = malloc((size_t)(B * N));
    knn_batch *kb = calloc((size_t)B, sizeof *kb);
    int32_t **cs = calloc((size_t)B, sizeof *cs), **cp = calloc((size_t)B, sizeof *cp);
    int bad = !w || !real || !kb || !cs || !cp;
    for (int64_t b = 0; b < B && !bad; b++)
        bad = prepare(pos, mask, b, k, L, w + b * N * 3, real + b * N, &kb[b],
                      &cs[b], &cp[b]) != 0;
    if (!bad) {
#pragma omp parallel
        {
            topk t = {malloc(((size_t)k + 1) * sizeof(double)),
                      malloc(((size_t)k + 1) * sizeof(int32_t)), 0, k};
            if (!t.d || !t.j) {
#pragma omp atomic write
                bad = 1;
            }
#pragma omp for schedule(dynamic, 64)
            for (int64_t bi = 0; bi < B * N; bi++) {
                int64_t b = bi / N, i = bi % N;
                if (!t.d || !t.j || !kb[b].real[i]) continue;
                if (kb[b].nc) cells_search(&kb[b], i, &t);
                else brute(&kb[b], i, &t);
                for (int c = 0; c < t.cnt; c++) o[bi * k + c] = t.j[c];
            }
            free(t.d);
            free(t.j);
        }
    }
    for (int64_t b = 0; cs && cp && b < B; b++) {
        free(cs[b]);
        free(cp[b]);
    }
    free(cs);
    free(cp);
    free(kb);
    free(real);
    free(w);
    if (bad) return hg_error(HG_ERR_NOMEM, "knn scratch (B=%lld, N=%lld)",
                             (long long)B, (long long)N);
    return hg_ok();
}
