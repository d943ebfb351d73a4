/* halograph evaluation statistics (SPEC 6): the paper's checks on
 * generated point clouds of haloes in a periodic box.
 *
 * Everything here is pure C on float arrays (no graphs, no files):
 *   - pair counts with periodic linked cells (eval_pairs.c),
 *   - the two-point correlation function, real space and redshift space
 *     multipoles (eval_xi.c),
 *   - velocity histograms and the halo mass function (eval_hist.c),
 *   - k-nearest-neighbour CDFs (eval_knn.c),
 *   - residuals and summary distances between a true cloud and a set of
 *     generated clouds (eval_compare.c),
 *   - one call computing every statistic of one cloud (eval_cloud.c).
 *
 * Conventions used throughout:
 *   - A cloud is `pts` float [n, stride], row-major, columns in SPEC 1 order:
 *     x, y, z (Mpc/h), then optionally vx, vy, vz (km/s, peculiar), then
 *     optionally the halo mass M (Msun/h, LINEAR, not log10: the same units
 *     as the dataset's /halos; the samples file written by `halograph
 *     sample` stores linear mass too). stride >= 3; velocities need
 *     stride >= 6 and mass stride >= 7.
 *   - The box is periodic with side L (`box`, Mpc/h). Positions are wrapped
 *     into [0, L) first (x mod L; a coordinate exactly L becomes 0).
 *     Separations use the minimum image: d = (x_j - x_i) - L round(.../L).
 *   - A separation r falls in bin b when edges[b] <= r < edges[b+1]
 *     (edges strictly increasing, n_edges >= 2, n_edges - 1 bins); r
 *     outside [edges[0], edges[n_edges-1]) is not counted.
 *   - Default r edges (SPEC 6): linspace(0.5, 120, 60) Mpc/h, i.e. 60 edges
 *     and 59 bins.
 *
 * Thread use: pair counting and k-NN queries use OpenMP threads (the
 * OMP_NUM_THREADS / omp_set_num_threads setting); counts are integers
 * summed per thread, so every result is identical for any thread count.
 */
#ifndef HG_EVAL_H
#define HG_EVAL_H

#include <stdint.h>

#include "ir/ir.h"

/* ------------------------------------------------------------ bins, helpers */

#define HG_EVAL_R_LO 0.5          /* SPEC 6 default r edges: linspace(0.5, 120, 60) */
#define HG_EVAL_R_HI 120.0
#define HG_EVAL_R_NEDGES 60
#define HG_EVAL_N_MU 200          /* mu bins on [-1, 1] for the multipoles */
#define HG_EVAL_KNN_K 8           /* k = 1..8 */
#define HG_EVAL_KNN_QUERIES 100000
#define HG_EVAL_KNN_SEED 20231117u /* fixed seed of the random query points */

/* numpy.linspace(lo, hi, n): out[i] = lo + i (hi - lo) / (n - 1), last
 * exactly hi. n >= 2. */
void hg_eval_linspace(double lo, double hi, int n, double *out);

/* Checks that edges[n_edges] is strictly increasing, finite, n_edges >= 2
 * and edges[0] >= 0. `what` names the bins in the message. */
hg_status hg_eval_check_edges(const double *edges, int n_edges, const char *what);

/* Hubble rate H(z) = 100 sqrt(Om (1+z)^3 + 1 - Om) in km/s/(Mpc/h)
 * (flat LambdaCDM, SPEC 6). */
double hg_eval_hubble(double omega_m, double redshift);

/* ------------------------------------------------------------ pair counts */

/* Ordered-pair counts of the minimum-image separations: counts[b] = the
 * number of ordered pairs (i, j), i != j, with r_ij in bin b (so every
 * unordered pair counts twice; duplicate points give r = 0).
 * pts float [n, stride] (columns 0..2 used), box L > 0, edges[n_edges],
 * counts int64 [n_edges - 1] (overwritten). Cost O(n * neighbours) with
 * periodic linked cells of width >= the largest edge; exact integers, equal
 * to an O(n^2) brute-force count. Errors: HG_ERR_INVALID (bad sizes or
 * edges), HG_ERR_NUMERIC (a non-finite coordinate, naming the point),
 * HG_ERR_NOMEM. */
hg_status hg_eval_pair_counts(const float *pts, int64_t n, int stride, double box,
                              const double *edges, int n_edges, int64_t *counts);

/* Ordered-pair counts in (r, mu) bins, mu = d_z / r (cosine to the line of
 * sight z, of the separation from i to j; r = 0 gives mu = 0). mu bins are
 * n_mu equal bins on [-1, 1] (mu = 1 goes into the last bin).
 * counts int64 [n_edges - 1][n_mu] row-major (overwritten). Summing over mu
 * gives hg_eval_pair_counts. Errors as hg_eval_pair_counts. */
hg_status hg_eval_pair_counts_smu(const float *pts, int64_t n, int stride, double box,
                                  const double *edges, int n_edges, int n_mu,
                                  int64_t *counts);

/* ------------------------------------------------------ correlation function */

/* Natural estimator with the analytic random-random count of the periodic
 * box (SPEC 6): xi[b] = DD[b] / (n (n - 1) V_b / L^3) - 1, with
 * V_b = 4/3 pi (edges[b+1]^3 - edges[b]^3). dd int64 [n_edges - 1],
 * xi double [n_edges - 1]. Needs n >= 2 and edges[last] <= L / 2 (larger
 * shells are not spheres inside the periodic box): else HG_ERR_INVALID. */
hg_status hg_eval_xi_from_counts(const int64_t *dd, int64_t n, double box,
                                 const double *edges, int n_edges, double *xi);

/* Legendre multipoles of the (r, mu) natural estimator:
 * xi(r, mu) = DD(r, mu) / RR(r, mu) - 1, RR(r, mu) = n (n - 1) V_b / L^3 *
 * (dmu / 2) (pairs isotropic, mu uniform on [-1, 1]), and
 * xi_l(r) = (2l + 1) / 2 sum_mu xi(r, mu) int_{mu bin} P_l(mu) dmu
 * for l = 0, 2, with the Legendre polynomial integrated exactly over each mu
 * bin (so an isotropic xi gives xi_2 = 0 exactly; a midpoint rule would
 * not). dd int64 [n_edges - 1][n_mu]; xi0, xi2 double [n_edges - 1].
 * Errors as hg_eval_xi_from_counts. */
hg_status hg_eval_multipoles_from_counts(const int64_t *dd, int64_t n, double box,
                                         const double *edges, int n_edges, int n_mu,
                                         double *xi0, double *xi2);

/* Redshift-space positions (SPEC 6), line of sight z:
 * out[i] = (x, y, (z + v_z / (H(z) a)) mod L), a = 1 / (1 + redshift),
 * H from hg_eval_hubble, v_z in km/s -> a shift in Mpc/h; x, y wrapped into
 * [0, L) too. pts float [n, stride] with stride >= 6 (v_z = column 5),
 * out float [n, 3]. Errors: HG_ERR_INVALID (stride < 6, bad omega_m or
 * redshift), HG_ERR_NUMERIC (non-finite input, naming the point). */
hg_status hg_eval_rsd_positions(const float *pts, int64_t n, int stride, double box,
                                double omega_m, double redshift, float *out);

/* --------------------------------------------------------------- histograms */

/* Histogram of column `col` of pts float [n, stride] on edges[n_edges]:
 * counts double [n_edges - 1] (overwritten). Values below edges[0] go into
 * the first bin and values at or above the last edge into the last bin
 * (clamped, so the counts always sum to n: velocity tails are kept, not
 * dropped). If `log10_values`, log10 of the column is histogrammed (mass).
 * Errors: HG_ERR_NUMERIC for a non-finite value or (log10) a value <= 0,
 * naming the point; HG_ERR_INVALID for bad edges or col >= stride. */
hg_status hg_eval_histogram(const float *pts, int64_t n, int stride, int col,
                            int log10_values, const double *edges, int n_edges,
                            double *counts);

/* Halo mass function from column 6 (linear mass, Msun/h) on log10 M edges:
 * diff[b] = number of haloes with edges[b] <= log10 M < edges[b+1] (NOT
 * clamped: haloes outside the edges are not counted here), cum[b] = number
 * of haloes with log10 M >= edges[b] (all haloes above, also beyond the last
 * edge), for b = 0..n_edges-2. diff, cum double [n_edges - 1]. stride >= 7.
 * Errors as hg_eval_histogram. */
hg_status hg_eval_mass_function(const float *pts, int64_t n, int stride,
                                const double *edges, int n_edges, double *diff,
                                double *cum);

/* ------------------------------------------------------------------- k-NN */

/* The query points of the k-NN CDFs: q float [n_query, 3] uniform in
 * [0, L)^3, coordinate d of query i = L * hg_rng_uniform(seed, 0, 0, 0,
 * 3 i + d) (rounded to float; a value rounding up to L becomes 0). */
void hg_eval_knn_queries(uint32_t seed, int64_t n_query, double box, float *q);

/* k-nearest-neighbour CDFs (SPEC 6): for every query point the periodic
 * distances d_1 <= ... <= d_kmax to the kmax nearest points of the cloud;
 * cdf[k-1][e] = fraction of queries with d_k <= r_edges[e], k = 1..kmax,
 * evaluated at every edge (cdf double [kmax][n_edges], row-major). If the
 * cloud has fewer than k points, d_k = infinity (cdf 0). Queries q float
 * [n_query, 3] (hg_eval_knn_queries), pts float [n, stride]. Exact search
 * with periodic linked cells (rings of cells until the k-th distance is
 * certain), threaded. Errors: HG_ERR_INVALID, HG_ERR_NUMERIC, HG_ERR_NOMEM. */
hg_status hg_eval_knn_cdf(const float *pts, int64_t n, int stride, double box,
                          const float *q, int64_t n_query, int kmax,
                          const double *r_edges, int n_edges, double *cdf);

/* ------------------------------------------------------------- comparison */

/* Residuals of one statistic (SPEC 6) with n_bins bins: truth[n_bins], gen
 * [m][n_bins] (m generated clouds, row-major), outputs mean[n_bins],
 * std[n_bins] (POPULATION std over the m generated clouds, numpy's default
 * ddof = 0), residual[n_bins] = (truth - mean) / std. A bin whose std is 0 (or at most 1e-9 |mean|: rounding),
 * or where any input is non-finite, is EXCLUDED: its residual is NaN and it
 * does not enter the summary distance. *summary = mean of residual^2 over
 * the bins used (NaN if none), *n_used = their number. m >= 2, else
 * HG_ERR_INVALID. Any output pointer except mean/std/residual may be NULL. */
hg_status hg_eval_compare(const double *truth, const double *gen, int m, int n_bins,
                          double *mean, double *std, double *residual,
                          double *summary, int *n_used);

/* ------------------------------------------------------- one cloud, all stats */

/* Options of hg_eval_cloud (hg_eval_options_default gives SPEC 6). */
typedef struct {
    double box;            /* L, Mpc/h (no default: from the data) */
    double redshift;       /* from the data */
    double omega_m;        /* Omega_m of the cloud's cosmology (RSD) */
    const double *r_edges; int n_r_edges;       /* SPEC 6 default if NULL */
    int n_mu;                                    /* 200 */
    const double *v_edges; int n_v_edges;        /* default linspace(-1500, 1500, 61) km/s */
    const double *m_edges; int n_m_edges;        /* log10 M; required if stride >= 7 */
    int knn_kmax;                                /* 8 */
    const float *knn_queries; int64_t n_knn_queries; /* hg_eval_knn_queries, 10^5 */
} hg_eval_options;

/* Every SPEC 6 statistic of one cloud; arrays owned (hg_eval_stats_free).
 * Absent statistics (no velocities: stride < 6; no mass: stride < 7) have
 * NULL arrays. */
typedef struct {
    int n_r;                 /* number of r bins (n_r_edges - 1) */
    int64_t *npairs;         /* [n_r] real-space ordered pair counts */
    double *xi;              /* [n_r] real-space xi_0 */
    double *xi0_rsd, *xi2_rsd; /* [n_r] redshift-space multipoles */
    int n_v;                 /* velocity bins */
    double *vel[3];          /* [n_v] histograms of vx, vy, vz (counts) */
    int n_m;                 /* mass bins */
    double *mass_diff, *mass_cum; /* [n_m] counts per log10 M bin / above edge */
    int knn_kmax, n_knn;     /* n_knn = n_r_edges */
    double *knn;             /* [knn_kmax][n_knn] CDFs at the r edges */
} hg_eval_stats;

/* Fills *o with SPEC 6 defaults (box, redshift, omega_m = 0: must be set;
 * edges NULL = defaults; knn_queries NULL = none, k-NN skipped). */
void hg_eval_options_default(hg_eval_options *o);

/* Default velocity edges linspace(-1500, 1500, 61) km/s into out[61]. */
#define HG_EVAL_V_NEDGES 61
void hg_eval_default_v_edges(double *out);

/* Default log10 M edges for a true cloud: 0.1 dex bins from
 * floor(10 min log10 M) / 10 to ceil(10 max log10 M) / 10 (at least one
 * bin). *out is malloc'd (caller frees), *n_edges its length. pts float
 * [n, stride], stride >= 7, n >= 1. Errors as hg_eval_histogram. */
hg_status hg_eval_default_m_edges(const float *pts, int64_t n, int stride,
                                  double **out, int *n_edges);

/* Computes every statistic of the cloud pts float [n, stride] into *st
 * (zeroed first; free with hg_eval_stats_free even on error). */
hg_status hg_eval_cloud(const float *pts, int64_t n, int stride,
                        const hg_eval_options *o, hg_eval_stats *st);
void hg_eval_stats_free(hg_eval_stats *st);

/* ------------------------------------------------------ files (eval_io.c) */

#define HG_EVAL_MAX_COND 16
#define HG_EVAL_NAME_MAX 64

/* Generated clouds: the samples file written by `halograph sample` and read
 * by `halograph eval` (HDF5, h5py-readable):
 *   /samples  f32 [M, N, F]  physical units, SPEC 1 column order: x, y, z
 *             (Mpc/h, wrapped into [0, L)), vx, vy, vz (km/s), M (Msun/h,
 *             LINEAR mass, like the dataset's /halos: the sampler converts
 *             the model's log10 M back with 10^x)
 *   /cond     f32 [M, C]     conditioning of each cloud, attribute `names`
 *             (strings, e.g. ["Omega_m", "sigma_8"])
 *   file attributes box_size (f64, Mpc/h), redshift (f64); other objects
 *   and attributes (seed, provenance) are allowed and ignored here. */
typedef struct {
    int64_t m, n, f, c;
    float *samples; /* [m, n, f], owned */
    float *cond;    /* [m, c], owned */
    char cond_names[HG_EVAL_MAX_COND][HG_EVAL_NAME_MAX];
    double box_size, redshift;
} hg_eval_samples;

/* Reads a samples file (layout above) into *s (overwritten). Errors:
 * HG_ERR_IO (missing/unreadable), HG_ERR_FORMAT (missing object or
 * attribute, wrong rank/dtype, shape mismatch between /samples and /cond,
 * names count != C), each naming the path and object. */
hg_status hg_eval_samples_load(const char *path, hg_eval_samples *s);
/* Writes *s in that layout, atomically (temp file + rename). */
hg_status hg_eval_samples_save(const char *path, const hg_eval_samples *s);
void hg_eval_samples_free(hg_eval_samples *s);

/* A result-file writer (HDF5 built in memory, written atomically on close:
 * runtime/h5file.h). Errors are sticky: after the first failure every call
 * does nothing and close returns that failure (nothing is written). Object names are slash
 * paths ("xi0/true"); intermediate groups are created. Attribute `obj` is
 * an existing object path, "/" for the file. */
typedef struct {
    int64_t file; /* hid_t */
    char path[1024];
    hg_status st;
} hg_eval_writer;

hg_status hg_eval_writer_open(hg_eval_writer *w, const char *path);
void hg_eval_write_f64(hg_eval_writer *w, const char *name, int rank, const int64_t *dims,
                       const double *data);
void hg_eval_write_f32(hg_eval_writer *w, const char *name, int rank, const int64_t *dims,
                       const float *data);
void hg_eval_write_i64(hg_eval_writer *w, const char *name, int rank, const int64_t *dims,
                       const int64_t *data);
void hg_eval_write_attr_f64(hg_eval_writer *w, const char *obj, const char *name, const double *v,
                            int n);
void hg_eval_write_attr_i64(hg_eval_writer *w, const char *obj, const char *name, int64_t v);
void hg_eval_write_attr_str(hg_eval_writer *w, const char *obj, const char *name, const char *v);
void hg_eval_write_attr_strs(hg_eval_writer *w, const char *obj, const char *name,
                             const char *const *v, int n);
/* Closes and writes the file (temporary file, fsync, rename); returns the
 * first error. */
hg_status hg_eval_writer_close(hg_eval_writer *w);

/* Dataset simulation number of `--split NAME --index I`: the I-th entry of
 * the split's index list (NAME "train", "val" or "test"), or, when split is
 * NULL, simulation I in stored order. ds is a runtime/runtime.h hg_dataset
 * (passed as void to keep this header free of the runtime). Errors:
 * HG_ERR_INVALID naming the split and its size. */
hg_status hg_eval_pick_sim(const void *ds, const char *split, long index, int64_t *sim);

/* Parses "LO:HI:N" into *edges = linspace(LO, HI, N) (N edges, malloc'd,
 * caller frees). Needs finite 0 <= LO < HI and 2 <= N <= 100000, else
 * HG_ERR_INVALID saying what is wrong. */
hg_status hg_eval_parse_linspace(const char *s, double **edges, int *n_edges);

/* ----------------------------------------- internal: periodic linked cells */

/* Shared by eval_pairs.c and eval_knn.c (not for other modules). The box
 * [0, L)^3 is cut into nc^3 cubic cells of width w = L / nc; points are
 * wrapped into [0, L) and stored sorted by cell: the points of cell c are
 * p[start[c] .. start[c+1]) (3 doubles each), cell c = (ix nc + iy) nc + iz. */
typedef struct {
    int nc;
    double box, w;
    int64_t n;
    double *p;      /* [n][3] wrapped coordinates, sorted by cell */
    int64_t *start; /* [nc^3 + 1] */
} hg_eval_cells;

/* x mod L in [0, L) (a result rounding to L becomes 0). */
double hg_eval_wrap(double x, double box);
/* Builds the cell list of pts float [n, stride] (columns 0..2) with nc
 * cells per side (nc >= 1). Errors: HG_ERR_NUMERIC (non-finite coordinate,
 * naming the point), HG_ERR_NOMEM. Free with hg_eval_cells_free. */
hg_status hg_eval_cells_build(hg_eval_cells *c, const float *pts, int64_t n, int stride,
                              double box, int nc);
void hg_eval_cells_free(hg_eval_cells *c);
/* Cell index (0..nc-1) of a wrapped coordinate along one axis. */
int hg_eval_cell_of(const hg_eval_cells *c, double x);

#endif
