/* Periodic linked cells and ordered-pair counting in r and (r, mu) bins
 * (SPEC 6). See models/eval.h. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "models/eval.h"

double hg_eval_wrap(double x, double box) {
    double y = fmod(x, box);
    if (y < 0) y += box;
    if (y >= box) y = 0; /* x == L, or a tiny negative x rounding up to L */
    return y;
}

int hg_eval_cell_of(const hg_eval_cells *c, double x) {
    int i = (int)(x / c->w);
    if (i < 0) i = 0;
    if (i >= c->nc) i = c->nc - 1;
    return i;
}

void hg_eval_cells_free(hg_eval_cells *c) {
    free(c->p);
    free(c->start);
    memset(c, 0, sizeof *c);
}

hg_status hg_eval_cells_build(hg_eval_cells *c, const float *pts, int64_t n, int stride,
                              double box, int nc) {
    memset(c, 0, sizeof *c);
    if (n < 0 || stride < 3 || !(box > 0) || !isfinite(box) || nc < 1)
        return hg_error(HG_ERR_INVALID, "cell list: bad arguments (n %lld, stride %d, box %g, nc %d)",
                        (long long)n, stride, box, nc);
    int64_t ncell = (int64_t)nc * nc * nc;
    c->nc = nc;
    c->box = box;
    c->w = box / nc;
    c->n = n;
    c->p = malloc(sizeof(double) * 3 * (size_t)(n > 0 ? n : 1));
    c->start = calloc((size_t)ncell + 1, sizeof(int64_t));
    double *tmp = malloc(sizeof(double) * 3 * (size_t)(n > 0 ? n : 1));
    int64_t *cell = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    if (!c->p || !c->start || !tmp || !cell) {
        free(tmp);
        free(cell);
        hg_eval_cells_free(c);
        return hg_error(HG_ERR_NOMEM, "cell list: out of memory for %lld points", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        int ix[3];
        for (int d = 0; d < 3; d++) {
            float v = pts[i * stride + d];
            if (!isfinite(v)) {
                free(tmp);
                free(cell);
                hg_eval_cells_free(c);
                return hg_error(HG_ERR_NUMERIC, "point %lld: coordinate %d is not finite",
                                (long long)i, d);
            }
            tmp[3 * i + d] = hg_eval_wrap((double)v, box);
            ix[d] = hg_eval_cell_of(c, tmp[3 * i + d]);
        }
        cell[i] = ((int64_t)ix[0] * nc + ix[1]) * nc + ix[2];
        c->start[cell[i] + 1]++;
    }
    for (int64_t k = 0; k < ncell; k++) c->start[k + 1] += c->start[k];
    int64_t *fill = malloc(sizeof(int64_t) * (size_t)ncell);
    if (!fill) {
        free(tmp);
        free(cell);
        hg_eval_cells_free(c);
        return hg_error(HG_ERR_NOMEM, "cell list: out of memory for %lld cells", (long long)ncell);
    }
    memcpy(fill, c->start, sizeof(int64_t) * (size_t)ncell);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = fill[cell[i]]++;
        memcpy(c->p + 3 * k, tmp + 3 * i, 3 * sizeof(double));
    }
    free(fill);
    free(tmp);
    free(cell);
    return hg_ok();
}

hg_status hg_eval_check_edges(const double *edges, int n_edges, const char *what) {
    if (!edges || n_edges < 2)
        return hg_error(HG_ERR_INVALID, "%s: need at least 2 bin edges, got %d", what, n_edges);
    for (int i = 0; i < n_edges; i++) {
        if (!isfinite(edges[i]))
            return hg_error(HG_ERR_INVALID, "%s: edge %d is not finite", what, i);
        if (i > 0 && !(edges[i] > edges[i - 1]))
            return hg_error(HG_ERR_INVALID, "%s: edges not strictly increasing at %d (%g after %g)",
                            what, i, edges[i], edges[i - 1]);
    }
    return hg_ok();
}

/* Bin of r: the b with edges[b] <= r < edges[b+1], or -1. */
static int find_bin(const double *edges, int n_edges, double r) {
    if (!(r >= edges[0]) || r >= edges[n_edges - 1]) return -1;
    int lo = 0, hi = n_edges - 1; /* edges[lo] <= r < edges[hi] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (r >= edges[mid])
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Cells per side for a search radius rmax: the widest grid whose cells are
 * at least rmax wide (with a relative margin so that rounding of the cell
 * index can never hide a pair), at most ~8 cells per point. */
static int cells_for_radius(double box, double rmax, int64_t n) {
    double nc = floor(box / (rmax * (1 + 1e-9)));
    if (!(nc >= 1)) nc = 1;
    double cap = cbrt((double)(8 * n + 27));
    if (nc > cap) nc = floor(cap);
    if (nc > 512) nc = 512;
    if (nc < 1) nc = 1;
    return (int)nc;
}

/* Shared kernel: n_mu == 0 counts r bins only. */
static hg_status count_pairs(const float *pts, int64_t n, int stride, double box,
                             const double *edges, int n_edges, int n_mu, int64_t *counts) {
    if (!pts && n > 0) return hg_error(HG_ERR_INVALID, "pair counts: NULL points");
    if (n < 0 || stride < 3)
        return hg_error(HG_ERR_INVALID, "pair counts: bad cloud shape [%lld, %d] (need >= 3 columns)",
                        (long long)n, stride);
    if (!(box > 0) || !isfinite(box))
        return hg_error(HG_ERR_INVALID, "pair counts: box size %g is not positive", box);
    HG_TRY(hg_eval_check_edges(edges, n_edges, "pair counts: r"));
    if (edges[0] < 0) return hg_error(HG_ERR_INVALID, "pair counts: negative r edge %g", edges[0]);
    if (n_mu < 0) return hg_error(HG_ERR_INVALID, "pair counts: bad number of mu bins %d", n_mu);
    int nb = n_edges - 1;
    int64_t per = (int64_t)nb * (n_mu > 0 ? n_mu : 1);
    memset(counts, 0, sizeof(int64_t) * (size_t)per);
    if (n < 2) return hg_ok();

    double rmax = edges[n_edges - 1];
    hg_eval_cells cl;
    HG_TRY(hg_eval_cells_build(&cl, pts, n, stride, box, cells_for_radius(box, rmax, n)));
    int nc = cl.nc;
    /* distinct neighbour offsets along one axis (fewer when nc < 3, so no
     * cell is visited twice) */
    int offs[3], n_off = 0;
    offs[n_off++] = 0;
    if (nc >= 2) offs[n_off++] = 1;
    if (nc >= 3) offs[n_off++] = -1;

    int nt = omp_get_max_threads();
    int64_t *acc = calloc((size_t)nt * (size_t)per, sizeof(int64_t));
    if (!acc) {
        hg_eval_cells_free(&cl);
        return hg_error(HG_ERR_NOMEM, "pair counts: out of memory for %d thread histograms", nt);
    }
    int64_t ncell = (int64_t)nc * nc * nc;
    const double *p = cl.p;
    const int64_t *st = cl.start;
#pragma omp parallel num_threads(nt)
    {
        int64_t *h = acc + (int64_t)omp_get_thread_num() * per;
#pragma omp for schedule(dynamic, 4)
        for (int64_t c = 0; c < ncell; c++) {
            int cx = (int)(c / ((int64_t)nc * nc)), cy = (int)((c / nc) % nc), cz = (int)(c % nc);
            for (int a = 0; a < n_off; a++)
                for (int b = 0; b < n_off; b++)
                    for (int e = 0; e < n_off; e++) {
                        int64_t c2 = ((int64_t)((cx + offs[a] + nc) % nc) * nc +
                                      (cy + offs[b] + nc) % nc) * nc + (cz + offs[e] + nc) % nc;
                        for (int64_t i = st[c]; i < st[c + 1]; i++) {
                            const double *pi = p + 3 * i;
                            for (int64_t j = st[c2]; j < st[c2 + 1]; j++) {
                                if (j == i) continue;
                                const double *pj = p + 3 * j;
                                double dx = pj[0] - pi[0], dy = pj[1] - pi[1], dz = pj[2] - pi[2];
                                dx -= box * round(dx / box);
                                dy -= box * round(dy / box);
                                dz -= box * round(dz / box);
                                double r = sqrt(dx * dx + dy * dy + dz * dz);
                                int bin = find_bin(edges, n_edges, r);
                                if (bin < 0) continue;
                                if (n_mu == 0) {
                                    h[bin]++;
                                } else {
                                    double mu = r > 0 ? dz / r : 0.0;
                                    int m = (int)floor((mu + 1.0) * 0.5 * n_mu);
                                    if (m < 0) m = 0;
                                    if (m >= n_mu) m = n_mu - 1;
                                    h[(int64_t)bin * n_mu + m]++;
                                }
                            }
                        }
                    }
        }
    }
    for (int t = 0; t < nt; t++)
        for (int64_t k = 0; k < per; k++) counts[k] += acc[(int64_t)t * per + k];
    free(acc);
    hg_eval_cells_free(&cl);
    return hg_ok();
}

hg_status hg_eval_pair_counts(const float *pts, int64_t n, int stride, double box,
                              const double *edges, int n_edges, int64_t *counts) {
    return count_pairs(pts, n, stride, box, edges, n_edges, 0, counts);
}

hg_status hg_eval_pair_counts_smu(const float *pts, int64_t n, int stride, double box,
                                  const double *edges, int n_edges, int n_mu,
                                  int64_t *counts) {
    if (n_mu < 1) return hg_error(HG_ERR_INVALID, "pair counts: need >= 1 mu bin, got %d", n_mu);
    return count_pairs(pts, n, stride, box, edges, n_edges, n_mu, counts);
}
