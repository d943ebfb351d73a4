/* Velocity component histograms and the halo mass function (SPEC 6).
 * See models/eval.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/eval.h"

/* Value of column col of point i, log10 if asked; checks finiteness. */
static hg_status value_of(const float *pts, int64_t i, int stride, int col, int log10_values,
                          double *out) {
    double v = pts[i * stride + col];
    if (!isfinite(v))
        return hg_error(HG_ERR_NUMERIC, "point %lld: column %d is not finite", (long long)i, col);
    if (log10_values) {
        if (!(v > 0))
            return hg_error(HG_ERR_NUMERIC, "point %lld: column %d = %g, log10 needs a positive value",
                            (long long)i, col, v);
        v = log10(v);
    }
    *out = v;
    return hg_ok();
}

/* Bin with clamping: 0 below, n_edges-2 at or above the last edge. */
static int clamped_bin(const double *edges, int n_edges, double v) {
    int nb = n_edges - 1;
    if (v < edges[1]) return 0;
    if (v >= edges[nb - 1]) return nb - 1;
    int lo = 1, hi = nb - 1; /* edges[lo] <= v < edges[hi] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (v >= edges[mid])
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

hg_status hg_eval_histogram(const float *pts, int64_t n, int stride, int col,
                            int log10_values, const double *edges, int n_edges,
                            double *counts) {
    HG_TRY(hg_eval_check_edges(edges, n_edges, "histogram"));
    if (col < 0 || col >= stride)
        return hg_error(HG_ERR_INVALID, "histogram: column %d but the cloud has %d columns", col, stride);
    memset(counts, 0, sizeof(double) * (size_t)(n_edges - 1));
    for (int64_t i = 0; i < n; i++) {
        double v = 0;
        HG_TRY(value_of(pts, i, stride, col, log10_values, &v));
        counts[clamped_bin(edges, n_edges, v)] += 1.0;
    }
    return hg_ok();
}

hg_status hg_eval_mass_function(const float *pts, int64_t n, int stride,
                                const double *edges, int n_edges, double *diff,
                                double *cum) {
    HG_TRY(hg_eval_check_edges(edges, n_edges, "mass function: log10 M"));
    if (stride < 7)
        return hg_error(HG_ERR_INVALID, "mass function: the cloud has %d columns, the mass is column 6",
                        stride);
    int nb = n_edges - 1;
    memset(diff, 0, sizeof(double) * (size_t)nb);
    memset(cum, 0, sizeof(double) * (size_t)nb);
    for (int64_t i = 0; i < n; i++) {
        double v = 0;
        HG_TRY(value_of(pts, i, stride, 6, 1, &v));
        for (int b = 0; b < nb; b++) {
            if (v >= edges[b]) cum[b] += 1.0;
            if (v >= edges[b] && v < edges[b + 1]) diff[b] += 1.0;
        }
    }
    return hg_ok();
}

hg_status hg_eval_default_m_edges(const float *pts, int64_t n, int stride,
                                  double **out, int *n_edges) {
    *out = NULL;
    *n_edges = 0;
    if (stride < 7 || n < 1)
        return hg_error(HG_ERR_INVALID, "mass edges: need a cloud with a mass column and >= 1 point");
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double v = 0;
        HG_TRY(value_of(pts, i, stride, 6, 1, &v));
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    long a = (long)floor(10 * lo), b = (long)ceil(10 * hi);
    if (b <= a) b = a + 1;
    if ((double)b / 10 <= hi) b++; /* max exactly on an edge: keep it inside */
    int ne = (int)(b - a + 1);
    double *e = malloc(sizeof(double) * (size_t)ne);
    if (!e) return hg_error(HG_ERR_NOMEM, "mass edges: out of memory");
    for (int i = 0; i < ne; i++) e[i] = (double)(a + i) / 10.0;
    *out = e;
    *n_edges = ne;
    return hg_ok();
}
