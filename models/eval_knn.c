/* k-nearest-neighbour CDFs of the distances from random query points to the
 * haloes, periodic (SPEC 6). See models/eval.h. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "models/eval.h"

#define KNN_MAX_K 64

void hg_eval_knn_queries(uint32_t seed, int64_t n_query, double box, float *q) {
    for (int64_t i = 0; i < n_query; i++)
        for (int d = 0; d < 3; d++) {
            float v = (float)(box * hg_rng_uniform(seed, 0, 0, 0, (uint64_t)(3 * i + d)));
            if (v >= (float)box) v = 0.0f;
            q[3 * i + d] = v;
        }
}

/* Inserts squared distance d2 into the ascending list best[0..*cnt) of at
 * most k entries. */
static void insert_best(double *best, int *cnt, int k, double d2) {
    int c = *cnt;
    if (c == k && d2 >= best[k - 1]) return;
    int i = (c < k) ? c : k - 1;
    while (i > 0 && best[i - 1] > d2) {
        best[i] = best[i - 1];
        i--;
    }
    best[i] = d2;
    if (c < k) *cnt = c + 1;
}

/* Squared distances of the k nearest cloud points to query x (wrapped),
 * ascending, into best[k]; returns how many were found (< k only if the
 * cloud has fewer than k points). Rings of cells at Chebyshev cell distance
 * s = 0, 1, ... are visited until the k-th distance is within s w (no
 * unvisited cell can hold a closer point) or every cell was visited. */
static int knn_query(const hg_eval_cells *cl, const double x[3], int k, double *best) {
    int nc = cl->nc, cnt = 0;
    double box = cl->box;
    int cq[3];
    for (int d = 0; d < 3; d++) cq[d] = hg_eval_cell_of(cl, x[d]);
    for (int s = 0;; s++) {
        if (2 * s - 1 >= nc) break; /* rings 0..s-1 already covered every cell */
        int lo = (nc == 2 * s) ? -s + 1 : -s; /* offsets -s and s coincide mod nc */
        for (int ox = lo; ox <= s; ox++)
            for (int oy = lo; oy <= s; oy++)
                for (int oz = lo; oz <= s; oz++) {
                    int ax = abs(ox), ay = abs(oy), az = abs(oz);
                    int m = ax > ay ? ax : ay;
                    if (az > m) m = az;
                    if (m != s) continue;
                    int64_t c = ((int64_t)((cq[0] + ox % nc + nc) % nc) * nc +
                                 (cq[1] + oy % nc + nc) % nc) * nc + (cq[2] + oz % nc + nc) % nc;
                    for (int64_t j = cl->start[c]; j < cl->start[c + 1]; j++) {
                        const double *p = cl->p + 3 * j;
                        double dx = p[0] - x[0], dy = p[1] - x[1], dz = p[2] - x[2];
                        dx -= box * round(dx / box);
                        dy -= box * round(dy / box);
                        dz -= box * round(dz / box);
                        insert_best(best, &cnt, k, dx * dx + dy * dy + dz * dz);
                    }
                }
        if (2 * s + 1 >= nc) break; /* every cell visited */
        double bound = s * cl->w * (1 - 1e-9);
        if (cnt == k && best[k - 1] <= bound * bound) break;
    }
    return cnt;
}

hg_status hg_eval_knn_cdf(const float *pts, int64_t n, int stride, double box,
                          const float *q, int64_t n_query, int kmax,
                          const double *r_edges, int n_edges, double *cdf) {
    if (kmax < 1 || kmax > KNN_MAX_K)
        return hg_error(HG_ERR_INVALID, "k-NN: k = %d outside 1..%d", kmax, KNN_MAX_K);
    if (n < 0 || stride < 3 || (!pts && n > 0))
        return hg_error(HG_ERR_INVALID, "k-NN: bad cloud shape [%lld, %d]", (long long)n, stride);
    if (n_query < 1 || !q)
        return hg_error(HG_ERR_INVALID, "k-NN: need >= 1 query point");
    if (!(box > 0) || !isfinite(box))
        return hg_error(HG_ERR_INVALID, "k-NN: box size %g is not positive", box);
    HG_TRY(hg_eval_check_edges(r_edges, n_edges, "k-NN: r"));
    for (int64_t i = 0; i < 3 * n_query; i++)
        if (!isfinite(q[i]))
            return hg_error(HG_ERR_NUMERIC, "k-NN: query %lld is not finite", (long long)(i / 3));

    int nc = (int)floor(cbrt((double)n / 2.0));
    if (nc < 1) nc = 1;
    if (nc > 256) nc = 256;
    hg_eval_cells cl;
    HG_TRY(hg_eval_cells_build(&cl, pts, n, stride, box, nc));

    int nt = omp_get_max_threads();
    int64_t per = (int64_t)kmax * (n_edges + 1);
    int64_t *acc = calloc((size_t)nt * (size_t)per, sizeof(int64_t));
    if (!acc) {
        hg_eval_cells_free(&cl);
        return hg_error(HG_ERR_NOMEM, "k-NN: out of memory");
    }
#pragma omp parallel num_threads(nt)
    {
        int64_t *h = acc + (int64_t)omp_get_thread_num() * per;
        double best[KNN_MAX_K];
#pragma omp for schedule(dynamic, 256)
        for (int64_t i = 0; i < n_query; i++) {
            double x[3];
            for (int d = 0; d < 3; d++) x[d] = hg_eval_wrap(q[3 * i + d], box);
            int cnt = knn_query(&cl, x, kmax, best);
            for (int k = 0; k < kmax; k++) {
                int idx = n_edges; /* never within any edge */
                if (k < cnt) {
                    double dk = sqrt(best[k]);
                    /* first edge e with dk <= r_edges[e] */
                    int lo = 0, hi = n_edges;
                    while (lo < hi) {
                        int mid = (lo + hi) / 2;
                        if (dk <= r_edges[mid])
                            hi = mid;
                        else
                            lo = mid + 1;
                    }
                    idx = lo;
                }
                h[(int64_t)k * (n_edges + 1) + idx]++;
            }
        }
    }
    for (int k = 0; k < kmax; k++) {
        int64_t run = 0;
        for (int e = 0; e < n_edges; e++) {
            for (int t = 0; t < nt; t++) run += acc[(int64_t)t * per + (int64_t)k * (n_edges + 1) + e];
            cdf[(int64_t)k * n_edges + e] = (double)run / (double)n_query;
        }
    }
    free(acc);
    hg_eval_cells_free(&cl);
    return hg_ok();
}
