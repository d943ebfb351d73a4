/* Evaluation statistics (SPEC 6, models/eval.h): pair counts against brute
 * force, xi of uniform clouds, multipoles, RSD shift, histograms, mass
 * function, k-NN CDFs (brute force and a lattice in closed form), residuals. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "hg_test.h"
#include "models/eval.h"

HG_LABELS(fast)

/* The test's own generator (xorshift64*), independent of the library. */
static double urand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

static float *uniform_cloud(int64_t n, int stride, double box, uint64_t seed) {
    float *p = calloc((size_t)(n * stride), sizeof(float));
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++)
        for (int d = 0; d < 3; d++) {
            float v = (float)(box * urand(&s));
            p[i * stride + d] = v < (float)box ? v : 0.0f;
        }
    return p;
}

/* O(n^2) reference: minimum image, r bin by linear scan, mu bin. */
static void brute_pairs(const float *p, int64_t n, int stride, double box, const double *e,
                        int ne, int n_mu, int64_t *counts) {
    int nb = ne - 1;
    memset(counts, 0, sizeof(int64_t) * nb * (n_mu ? n_mu : 1));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            if (i == j) continue;
            double d[3];
            for (int k = 0; k < 3; k++) {
                double xi = fmod((double)p[i * stride + k], box), xj = fmod((double)p[j * stride + k], box);
                d[k] = xj - xi;
                d[k] -= box * round(d[k] / box);
            }
            double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            for (int b = 0; b < nb; b++)
                if (r >= e[b] && r < e[b + 1]) {
                    if (!n_mu) {
                        counts[b]++;
                    } else {
                        double mu = r > 0 ? d[2] / r : 0;
                        int m = (int)floor((mu + 1) / 2 * n_mu);
                        if (m >= n_mu) m = n_mu - 1;
                        counts[b * n_mu + m]++;
                    }
                }
        }
}

static int check_against_brute(const float *p, int64_t n, int stride, double box, const double *e,
                               int ne, int n_mu) {
    int nb = ne - 1, per = nb * (n_mu ? n_mu : 1);
    int64_t *a = calloc(per, sizeof(int64_t)), *b = calloc(per, sizeof(int64_t));
    hg_status s = n_mu ? hg_eval_pair_counts_smu(p, n, stride, box, e, ne, n_mu, a)
                       : hg_eval_pair_counts(p, n, stride, box, e, ne, a);
    int bad = s.code != HG_OK;
    if (bad) fprintf(stderr, "pair counts failed: %s\n", s.msg);
    brute_pairs(p, n, stride, box, e, ne, n_mu, b);
    int64_t total = 0;
    for (int k = 0; k < per && !bad; k++) {
        total += b[k];
        if (a[k] != b[k]) {
            fprintf(stderr, "bin %d: cell list %lld, brute force %lld\n", k, (long long)a[k],
                    (long long)b[k]);
            bad = 1;
        }
    }
    if (!bad && total == 0) {
        fprintf(stderr, "no pairs at all: the test would be vacuous\n");
        bad = 1;
    }
    free(a);
    free(b);
    return !bad;
}

HG_TEST(pairs_random_equal_brute_force) {
    double box = 100;
    int64_t n = 600;
    float *p = uniform_cloud(n, 4, box, 1);
    /* points exactly at 0 and at L - eps, and pairs straddling every face */
    float lm = nextafterf((float)box, 0.0f);
    float special[][3] = {{0, 0, 0}, {lm, lm, lm}, {0, 50, 50}, {lm, 50, 50}, {50, 0.0f, 3},
                          {50, lm, 97}, {0.25f, 99.5f, 0}, {99.75f, 0.5f, lm}};
    for (int i = 0; i < 8; i++) memcpy(p + 4 * i, special[i], sizeof special[i]);
    double e[21];
    /* several grids: rmax 30 -> 3 cells/side, 45 -> 2, 60 -> 1, 9 -> 11 */
    double rmax[] = {30, 45, 60, 9};
    for (int t = 0; t < 4; t++) {
        hg_eval_linspace(0.0, rmax[t], 21, e);
        HG_CHECK(check_against_brute(p, n, 4, box, e, 21, 0));
    }
    /* the boundary pairs are counted: (0,0,0)-(L-eps,...) is at r ~ sqrt(3) eps */
    double e2[2] = {0.0, 1e-3};
    int64_t c;
    HG_CHECK_OK(hg_eval_pair_counts(p, 8, 4, box, e2, 2, &c));
    HG_CHECK(c == 4); /* (0,0,0)~(lm,lm,lm) and (0,50,50)~(lm,50,50), both orders */
    free(p);
}

HG_TEST(pairs_clustered_duplicates_equal_brute_force) {
    double box = 60;
    int64_t n = 500;
    float *p = calloc(n * 3, sizeof(float));
    uint64_t s = 77;
    /* 20 clusters of 25 points: 5 exact duplicates of the centre, the rest
     * within 2 Mpc/h, centres near corners and faces so clusters wrap */
    for (int c = 0; c < 20; c++) {
        double cen[3];
        for (int d = 0; d < 3; d++) /* odd: anywhere; even: distinct corners (+1 for the 9th, 10th) */
            cen[d] = (c % 2) ? box * urand(&s)
                             : box * ((((c / 2) >> d) & 1) ? 0.99 : 0.01) + (c / 2 >= 8 ? 1.0 : 0.0);
        for (int k = 0; k < 25; k++) {
            int64_t i = c * 25 + k;
            for (int d = 0; d < 3; d++) {
                double v = cen[d] + (k < 5 ? 0 : 4 * (urand(&s) - 0.5));
                v = fmod(v + box, box);
                p[i * 3 + d] = (float)v < (float)box ? (float)v : 0.0f;
            }
        }
    }
    double e[13];
    hg_eval_linspace(0.0, 12.0, 13, e); /* first bin includes r = 0 duplicates */
    HG_CHECK(check_against_brute(p, n, 3, box, e, 13, 0));
    hg_eval_linspace(0.5, 25.0, 13, e);
    HG_CHECK(check_against_brute(p, n, 3, box, e, 13, 0));
    /* (r, mu) counts */
    hg_eval_linspace(0.0, 12.0, 7, e);
    HG_CHECK(check_against_brute(p, n, 3, box, e, 7, 20));
    /* duplicates alone: 20 clusters x 5 x 4 ordered pairs at r = 0 exactly */
    double e0[2] = {0.0, 1e-9};
    int64_t c0;
    HG_CHECK_OK(hg_eval_pair_counts(p, n, 3, box, e0, 2, &c0));
    HG_CHECK(c0 == 20 * 5 * 4);
    free(p);
}

HG_TEST(pairs_smu_equal_brute_force_and_sum_to_r_counts) {
    double box = 80;
    int64_t n = 400;
    float *p = uniform_cloud(n, 3, box, 5);
    double e[9];
    hg_eval_linspace(1.0, 30.0, 9, e);
    HG_CHECK(check_against_brute(p, n, 3, box, e, 9, 200));
    int64_t smu[8 * 200], r[8];
    HG_CHECK_OK(hg_eval_pair_counts_smu(p, n, 3, box, e, 9, 200, smu));
    HG_CHECK_OK(hg_eval_pair_counts(p, n, 3, box, e, 9, r));
    for (int b = 0; b < 8; b++) {
        int64_t s = 0;
        for (int m = 0; m < 200; m++) s += smu[b * 200 + m];
        HG_CHECK(s == r[b]);
    }
    free(p);
}

HG_TEST(pairs_identical_for_any_thread_count) {
    double box = 200;
    int64_t n = 3000;
    float *p = uniform_cloud(n, 3, box, 9);
    double e[60];
    hg_eval_linspace(0.5, 60, 60, e);
    int64_t a[59], b[59];
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    HG_CHECK_OK(hg_eval_pair_counts(p, n, 3, box, e, 60, a));
    omp_set_num_threads(3);
    HG_CHECK_OK(hg_eval_pair_counts(p, n, 3, box, e, 60, b));
    omp_set_num_threads(nt);
    HG_CHECK(memcmp(a, b, sizeof a) == 0);
    free(p);
}

HG_TEST(xi_by_hand) {
    /* n = 10, L = 10, shell [1, 2): V = 4/3 pi 7, RR = 90 V / 1000 */
    double e[2] = {1, 2}, xi;
    int64_t dd = 5;
    HG_CHECK_OK(hg_eval_xi_from_counts(&dd, 10, 10.0, e, 2, &xi));
    HG_CHECK_NEAR(xi, 5.0 / (90.0 * (4.0 / 3.0 * M_PI * 7.0) / 1000.0) - 1.0, 1e-12);
    double big[2] = {1, 6};
    HG_CHECK_ERR(hg_eval_xi_from_counts(&dd, 10, 10.0, big, 2, &xi), "half the box");
    HG_CHECK_ERR(hg_eval_xi_from_counts(&dd, 1, 10.0, e, 2, &xi), "at least 2 points");
}

HG_TEST(xi_uniform_cloud_consistent_with_zero) {
    double box = 200;
    int64_t n = 5000;
    float *p = uniform_cloud(n, 3, box, 11);
    double e[11];
    hg_eval_linspace(5.0, 50.0, 11, e);
    int64_t dd[10];
    double xi[10];
    HG_CHECK_OK(hg_eval_pair_counts(p, n, 3, box, e, 11, dd));
    HG_CHECK_OK(hg_eval_xi_from_counts(dd, n, box, e, 11, xi));
    double chi2 = 0;
    for (int b = 0; b < 10; b++) {
        /* ordered pairs come in twos: var(DD) = 4 RR/2, so sigma(xi) = sqrt(2 / RR) */
        double v = 4.0 / 3.0 * M_PI * (pow(e[b + 1], 3) - pow(e[b], 3));
        double rr = (double)n * (n - 1) * v / (box * box * box);
        double sig = sqrt(2.0 / rr);
        HG_CHECK(fabs(xi[b]) < 4 * sig);
        chi2 += (xi[b] / sig) * (xi[b] / sig);
    }
    HG_CHECK(chi2 < 10 * 3.0); /* mean 10 if uncorrelated; loose */
    /* redshift-space multipoles of the same cloud with zero velocity: xi_0
     * equals the real-space xi, xi_2 is noise around 0 */
    int64_t *smu = calloc(10 * 200, sizeof(int64_t));
    double x0[10], x2[10];
    HG_CHECK_OK(hg_eval_pair_counts_smu(p, n, 3, box, e, 11, 200, smu));
    HG_CHECK_OK(hg_eval_multipoles_from_counts(smu, n, box, e, 11, 200, x0, x2));
    for (int b = 0; b < 10; b++) {
        HG_CHECK_NEAR(x0[b], xi[b], 1e-12);
        double v = 4.0 / 3.0 * M_PI * (pow(e[b + 1], 3) - pow(e[b], 3));
        double rr = (double)n * (n - 1) * v / (box * box * box);
        HG_CHECK(fabs(x2[b]) < 5 * 5 * sqrt(2.0 / rr)); /* std of xi_2 is sqrt(5) x that of xi_0 */
    }
    free(smu);
    free(p);
}

HG_TEST(multipoles_of_synthetic_counts) {
    /* DD(r, mu) = A (1 + c P_2(mu_mid)): xi_0 = A / RR_mu - 1,
     * xi_2 = c A / RR_mu (continuum limit; 200 bins: error O(1e-4)). */
    int n_mu = 200;
    double e[2] = {10, 20}, box = 100;
    int64_t n = 1000;
    double v = 4.0 / 3.0 * M_PI * (8000.0 - 1000.0);
    double rr_mu = (double)n * (n - 1) * v / 1e6 / n_mu;
    double A = 1e9, c = 0.3;
    int64_t *dd = calloc(n_mu, sizeof(int64_t));
    for (int m = 0; m < n_mu; m++) {
        double mu = -1 + (m + 0.5) * 2.0 / n_mu;
        dd[m] = llround(A * (1 + c * 0.5 * (3 * mu * mu - 1)));
    }
    double x0, x2;
    HG_CHECK_OK(hg_eval_multipoles_from_counts(dd, n, box, e, 2, n_mu, &x0, &x2));
    HG_CHECK_REL(x0, A / rr_mu - 1, 1e-4);
    HG_CHECK_REL(x2, c * A / rr_mu, 1e-3);
    /* isotropic counts: xi_2 exactly 0 (exact Legendre integrals) */
    for (int m = 0; m < n_mu; m++) dd[m] = 12345;
    HG_CHECK_OK(hg_eval_multipoles_from_counts(dd, n, box, e, 2, n_mu, &x0, &x2));
    HG_CHECK_NEAR(x2, 0.0, 1e-12);
    HG_CHECK_NEAR(x0, 12345.0 / rr_mu - 1, 1e-9);
    free(dd);
}

HG_TEST(rsd_shift_known_velocities_and_wrap) {
    double box = 100, z = 0.5, om = 0.3;
    /* H = 100 sqrt(0.3 * 1.5^3 + 0.7) = 100 sqrt(1.7125) = 130.8625..., a = 2/3 */
    double H = 100 * sqrt(1.7125);
    HG_CHECK_NEAR(hg_eval_hubble(om, z), H, 1e-9);
    double shift = 1000.0 / (H * (2.0 / 3.0)); /* 11.4625... Mpc/h for 1000 km/s */
    HG_CHECK_NEAR(shift, 11.46242, 1e-4);
    float pts[4][6] = {{10, 20, 30, 500, -700, 1000},   /* plain shift */
                       {1, 2, 95, 0, 0, 1000},           /* wraps over L */
                       {3, 4, 5, 0, 0, -1000},           /* wraps below 0 */
                       {100, 0, 50, 0, 0, 0}};          /* x = L wraps to 0, no shift */
    float out[4][3];
    HG_CHECK_OK(hg_eval_rsd_positions(&pts[0][0], 4, 6, box, om, z, &out[0][0]));
    HG_CHECK_NEAR(out[0][0], 10, 0);
    HG_CHECK_NEAR(out[0][1], 20, 0);
    HG_CHECK_NEAR(out[0][2], 30 + shift, 1e-4);
    HG_CHECK_NEAR(out[1][2], 95 + shift - 100, 1e-4);
    HG_CHECK_NEAR(out[2][2], 5 - shift + 100, 1e-4);
    HG_CHECK_NEAR(out[3][0], 0, 0);
    HG_CHECK_NEAR(out[3][2], 50, 0);
    /* at z = 0, H a = 100: v = 250 km/s moves by 2.5 Mpc/h */
    float p0[6] = {1, 1, 1, 0, 0, 250}, o0[3];
    HG_CHECK_OK(hg_eval_rsd_positions(p0, 1, 6, box, 0.3, 0.0, o0));
    HG_CHECK_NEAR(o0[2], 3.5, 1e-6);
    HG_CHECK_ERR(hg_eval_rsd_positions(p0, 1, 3, box, 0.3, 0.0, o0), "need >= 6");
    p0[5] = NAN;
    HG_CHECK_ERR(hg_eval_rsd_positions(p0, 1, 6, box, 0.3, 0.0, o0), "not finite");
}

HG_TEST(histogram_and_mass_function_by_hand) {
    /* 5 haloes; velocities vx = -2000 (clamped into bin 0), -10, 0, 10, 5000 (clamped) */
    float p[5][7] = {{0, 0, 0, -2000, 0, 0, 1.1e13f}, {0, 0, 0, -10, 0, 0, 3e13f},
                     {0, 0, 0, 0, 0, 0, 1.2e14f},     {0, 0, 0, 10, 0, 0, 2e14f},
                     {0, 0, 0, 5000, 0, 0, 1.5e16f}};
    double ve[5] = {-100, -50, 0, 50, 100}, h[4];
    HG_CHECK_OK(hg_eval_histogram(&p[0][0], 5, 7, 3, 0, ve, 5, h));
    HG_CHECK(h[0] == 1 && h[1] == 1 && h[2] == 2 && h[3] == 1);
    /* log10 M: 13.04, 13.48, 14.08, 14.30, 16.18 on edges 13, 13.5, 14, 14.5 */
    double me[4] = {13.0, 13.5, 14.0, 14.5}, diff[3], cum[3];
    HG_CHECK_OK(hg_eval_mass_function(&p[0][0], 5, 7, me, 4, diff, cum));
    HG_CHECK(diff[0] == 2 && diff[1] == 0 && diff[2] == 2); /* 16 is beyond the edges */
    HG_CHECK(cum[0] == 5 && cum[1] == 3 && cum[2] == 3);
    double *de;
    int nde;
    HG_CHECK_OK(hg_eval_default_m_edges(&p[0][0], 5, 7, &de, &nde));
    HG_CHECK(nde == 33); /* 13.0 .. 16.2 in 0.1 dex */
    HG_CHECK_NEAR(de[0], 13.0, 1e-12);
    HG_CHECK_NEAR(de[nde - 1], 16.2, 1e-12);
    free(de);
    p[2][6] = -1;
    HG_CHECK_ERR(hg_eval_mass_function(&p[0][0], 5, 7, me, 4, diff, cum), "point 2");
    double bad[3] = {0, 1, 1};
    HG_CHECK_ERR(hg_eval_histogram(&p[0][0], 5, 7, 3, 0, bad, 3, h), "not strictly increasing");
}

/* O(n * n_query) reference for the k-NN CDF. */
static void brute_knn(const float *p, int64_t n, double box, const float *q, int64_t nq, int kmax,
                      const double *e, int ne, double *cdf) {
    double *d = malloc(sizeof(double) * n);
    memset(cdf, 0, sizeof(double) * kmax * ne);
    for (int64_t i = 0; i < nq; i++) {
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++) {
                double x = (double)p[3 * j + k] - (double)q[3 * i + k];
                x -= box * round(x / box);
                s += x * x;
            }
            d[j] = s;
        }
        for (int k = 0; k < kmax && k < n; k++) { /* selection of the k-th smallest */
            int64_t best = k;
            for (int64_t j = k + 1; j < n; j++)
                if (d[j] < d[best]) best = j;
            double t = d[k];
            d[k] = d[best];
            d[best] = t;
            for (int b = 0; b < ne; b++)
                if (sqrt(d[k]) <= e[b]) cdf[k * ne + b] += 1.0 / nq;
        }
    }
    free(d);
}

HG_TEST(knn_equals_brute_force) {
    double box = 100, e[25];
    hg_eval_linspace(0.5, 60, 25, e);
    int64_t nq = 1500;
    float *q = malloc(sizeof(float) * 3 * nq);
    hg_eval_knn_queries(7, nq, box, q);
    /* n = 5 (fewer points than k), 20 (2 cells/side), 300 (5), 2000 (10) */
    int64_t ns[] = {5, 20, 300, 2000};
    for (int t = 0; t < 4; t++) {
        float *p = uniform_cloud(ns[t], 3, box, 100 + t);
        double a[8 * 25], b[8 * 25];
        HG_CHECK_OK(hg_eval_knn_cdf(p, ns[t], 3, box, q, nq, 8, e, 25, a));
        brute_knn(p, ns[t], box, q, nq, 8, e, 25, b);
        for (int k = 0; k < 8 * 25; k++)
            if (fabs(a[k] - b[k]) > 1e-9)
                HG_FAIL("n %lld: cdf[%d][%d] = %g, brute force %g", (long long)ns[t], k / 25, k % 25,
                        a[k], b[k]);
        free(p);
    }
    free(q);
}

HG_TEST(knn_lattice_closed_form) {
    /* cubic lattice, spacing a = 10, in L = 80 (8^3 points at 5, 15, ...).
     * Distance to the nearest lattice point of a uniform query: the sphere of
     * radius r inside the cube cell, CDF_1(r) = V(r) / a^3 with
     * V = 4/3 pi r^3 for r <= a/2 and 4/3 pi r^3 - 6 pi h^2 (3r - h) / 3,
     * h = r - a/2, for a/2 <= r <= a/sqrt(2) (six caps cut off); CDF_1 = 1 for
     * r >= a sqrt(3)/2; the 2nd neighbour is never closer than a/2. */
    double box = 80, a = 10;
    float *p = malloc(sizeof(float) * 3 * 512);
    for (int i = 0; i < 512; i++) {
        p[3 * i] = (float)(5 + 10 * (i / 64));
        p[3 * i + 1] = (float)(5 + 10 * ((i / 8) % 8));
        p[3 * i + 2] = (float)(5 + 10 * (i % 8));
    }
    double e[12] = {1, 2, 3, 4, 4.9, 5.5, 6, 6.5, 7, 7.07, 8.7, 12};
    int64_t nq = 100000;
    float *q = malloc(sizeof(float) * 3 * nq);
    hg_eval_knn_queries(HG_EVAL_KNN_SEED, nq, box, q);
    double cdf[8 * 12];
    HG_CHECK_OK(hg_eval_knn_cdf(p, 512, 3, box, q, nq, 8, e, 12, cdf));
    for (int b = 0; b < 10; b++) {
        double r = e[b], v = 4.0 / 3.0 * M_PI * r * r * r;
        if (r > a / 2) {
            double h = r - a / 2;
            v -= 6 * M_PI * h * h * (3 * r - h) / 3;
        }
        double f = v / (a * a * a), sig = sqrt(f * (1 - f) / nq);
        if (fabs(cdf[b] - f) > 5 * sig + 1e-12)
            HG_FAIL("CDF_1(%g) = %g, closed form %g (sigma %g)", r, cdf[b], f, sig);
    }
    HG_CHECK(cdf[10] == 1.0 && cdf[11] == 1.0);
    for (int b = 0; b < 5; b++) HG_CHECK(cdf[12 + b] == 0.0); /* CDF_2(r < a/2) = 0 */
    free(p);
    free(q);
}

HG_TEST(compare_residuals_by_hand) {
    double truth[4] = {5, 7, 0, 1};
    /* 4 generated clouds x 4 bins */
    double gen[16] = {1, 7, 0, 1, 2, 7, 0, NAN, 3, 7, 2, 1, 4, 7, 2, 1};
    double mean[4], std[4], res[4], summ;
    int used;
    HG_CHECK_OK(hg_eval_compare(truth, gen, 4, 4, mean, std, res, &summ, &used));
    HG_CHECK_NEAR(mean[0], 2.5, 1e-12);
    HG_CHECK_NEAR(std[0], sqrt(1.25), 1e-12); /* population std */
    HG_CHECK_NEAR(res[0], 2.5 / sqrt(1.25), 1e-12);
    HG_CHECK(std[1] == 0 && isnan(res[1])); /* excluded: std 0 */
    HG_CHECK_NEAR(mean[2], 1, 1e-12);
    HG_CHECK_NEAR(std[2], 1, 1e-12);
    HG_CHECK_NEAR(res[2], -1, 1e-12);
    HG_CHECK(isnan(res[3])); /* excluded: non-finite generated value */
    HG_CHECK(used == 2);
    HG_CHECK_NEAR(summ, (5.0 + 1.0) / 2, 1e-12);
    HG_CHECK_ERR(hg_eval_compare(truth, gen, 1, 4, mean, std, res, &summ, &used), "at least 2");
    /* identical values whose mean rounds (std ~ 1e-17, not 0) are excluded too */
    double t1[1] = {0.3}, g1[3] = {-0.17002372, -0.17002372, -0.17002372};
    HG_CHECK_OK(hg_eval_compare(t1, g1, 3, 1, mean, std, res, &summ, &used));
    HG_CHECK(used == 0 && isnan(res[0]) && isnan(summ));
}

HG_TEST(cloud_all_statistics) {
    /* a 7-feature cloud: every statistic present, shapes as documented,
     * consistent with the single-statistic calls */
    double box = 300;
    int64_t n = 400;
    float *p = uniform_cloud(n, 7, box, 21);
    uint64_t s = 3;
    for (int64_t i = 0; i < n; i++) {
        for (int d = 3; d < 6; d++) p[i * 7 + d] = (float)(600 * (urand(&s) - 0.5));
        p[i * 7 + 6] = (float)pow(10, 13.5 + urand(&s));
    }
    hg_eval_options o;
    hg_eval_options_default(&o);
    o.box = box;
    o.redshift = 0;
    o.omega_m = 0.3;
    double *me;
    int nme;
    HG_CHECK_OK(hg_eval_default_m_edges(p, n, 7, &me, &nme));
    o.m_edges = me;
    o.n_m_edges = nme;
    float q[3000];
    hg_eval_knn_queries(1, 1000, box, q);
    o.knn_queries = q;
    o.n_knn_queries = 1000;
    hg_eval_stats st;
    HG_CHECK_OK(hg_eval_cloud(p, n, 7, &o, &st));
    HG_CHECK(st.n_r == 59 && st.n_v == 60 && st.n_m == nme - 1 && st.knn_kmax == 8 && st.n_knn == 60);
    HG_CHECK(st.xi0_rsd && st.xi2_rsd && st.vel[2] && st.mass_cum && st.knn);
    double tot = 0;
    for (int b = 0; b < st.n_v; b++) tot += st.vel[1][b];
    HG_CHECK(tot == n);
    HG_CHECK(st.mass_cum[0] == n);
    for (int e = 0; e < 60; e++) HG_CHECK(st.knn[e] >= st.knn[7 * 60 + e]); /* CDF_1 >= CDF_8 */
    HG_CHECK(st.knn[59] > 0);
    hg_eval_stats_free(&st);
    /* 3 features: only real-space xi and k-NN */
    float *p3 = uniform_cloud(n, 3, box, 22);
    o.m_edges = NULL;
    HG_CHECK_OK(hg_eval_cloud(p3, n, 3, &o, &st));
    HG_CHECK(st.xi && !st.xi0_rsd && !st.vel[0] && !st.mass_diff && st.knn);
    hg_eval_stats_free(&st);
    free(p3);
    free(me);
    free(p);
}

HG_TEST(errors_name_the_point) {
    float p[6] = {1, 2, 3, 4, NAN, 6};
    double e[2] = {0, 1};
    int64_t c;
    HG_CHECK_ERR(hg_eval_pair_counts(p, 2, 3, 10, e, 2, &c), "point 1");
    HG_CHECK_ERR(hg_eval_pair_counts(p, 2, 3, -1, e, 2, &c), "box size");
    HG_CHECK_ERR(hg_eval_pair_counts(p, 2, 2, 10, e, 2, &c), ">= 3 columns");
}
