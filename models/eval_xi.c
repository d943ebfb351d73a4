/* Two-point correlation function: natural estimator with the analytic RR of
 * the periodic box, Legendre multipoles, redshift-space positions (SPEC 6).
 * See models/eval.h. */
#include <math.h>

#include "models/eval.h"

void hg_eval_linspace(double lo, double hi, int n, double *out) {
    for (int i = 0; i < n; i++) out[i] = lo + (hi - lo) * i / (double)(n - 1);
    if (n >= 2) out[n - 1] = hi;
}

double hg_eval_hubble(double omega_m, double redshift) {
    double a3 = (1 + redshift) * (1 + redshift) * (1 + redshift);
    return 100.0 * sqrt(omega_m * a3 + 1 - omega_m);
}

static hg_status check_xi_args(int64_t n, double box, const double *edges, int n_edges) {
    HG_TRY(hg_eval_check_edges(edges, n_edges, "xi: r"));
    if (!(box > 0) || !isfinite(box))
        return hg_error(HG_ERR_INVALID, "xi: box size %g is not positive", box);
    if (edges[0] < 0) return hg_error(HG_ERR_INVALID, "xi: negative r edge %g", edges[0]);
    if (edges[n_edges - 1] > box / 2)
        return hg_error(HG_ERR_INVALID,
                        "xi: largest r edge %g exceeds half the box (%g): the analytic RR of "
                        "the periodic box needs shells inside the minimum-image cube",
                        edges[n_edges - 1], box / 2);
    if (n < 2) return hg_error(HG_ERR_INVALID, "xi: need at least 2 points, got %lld", (long long)n);
    return hg_ok();
}

/* Expected ordered pairs of a uniform cloud in shell b: n (n-1) V_b / L^3. */
static double rr_shell(int64_t n, double box, const double *edges, int b) {
    double r0 = edges[b], r1 = edges[b + 1];
    double v = 4.0 / 3.0 * M_PI * (r1 * r1 * r1 - r0 * r0 * r0);
    return (double)n * (double)(n - 1) * v / (box * box * box);
}

hg_status hg_eval_xi_from_counts(const int64_t *dd, int64_t n, double box,
                                 const double *edges, int n_edges, double *xi) {
    HG_TRY(check_xi_args(n, box, edges, n_edges));
    for (int b = 0; b < n_edges - 1; b++) xi[b] = (double)dd[b] / rr_shell(n, box, edges, b) - 1.0;
    return hg_ok();
}

/* int_a^b P_l(mu) dmu for l = 0, 2. */
static double legendre_integral(int l, double a, double b) {
    if (l == 0) return b - a;
    return 0.5 * ((b * b * b - b) - (a * a * a - a)); /* P_2 = (3 mu^2 - 1) / 2 */
}

hg_status hg_eval_multipoles_from_counts(const int64_t *dd, int64_t n, double box,
                                         const double *edges, int n_edges, int n_mu,
                                         double *xi0, double *xi2) {
    HG_TRY(check_xi_args(n, box, edges, n_edges));
    if (n_mu < 1) return hg_error(HG_ERR_INVALID, "xi multipoles: need >= 1 mu bin, got %d", n_mu);
    double dmu = 2.0 / n_mu;
    for (int b = 0; b < n_edges - 1; b++) {
        double rr = rr_shell(n, box, edges, b) * dmu / 2.0;
        double s0 = 0, s2 = 0;
        for (int m = 0; m < n_mu; m++) {
            double lo = -1.0 + m * dmu, hi = (m == n_mu - 1) ? 1.0 : -1.0 + (m + 1) * dmu;
            double x = (double)dd[(int64_t)b * n_mu + m] / rr - 1.0;
            s0 += x * legendre_integral(0, lo, hi);
            s2 += x * legendre_integral(2, lo, hi);
        }
        xi0[b] = 0.5 * s0;
        xi2[b] = 2.5 * s2;
    }
    return hg_ok();
}

hg_status hg_eval_rsd_positions(const float *pts, int64_t n, int stride, double box,
                                double omega_m, double redshift, float *out) {
    if (stride < 6)
        return hg_error(HG_ERR_INVALID, "redshift space: the cloud has %d columns, need >= 6 "
                        "(x, y, z, vx, vy, vz)", stride);
    if (!(box > 0) || !isfinite(box))
        return hg_error(HG_ERR_INVALID, "redshift space: box size %g is not positive", box);
    if (!(omega_m >= 0 && omega_m <= 1))
        return hg_error(HG_ERR_INVALID, "redshift space: Omega_m = %g outside [0, 1]", omega_m);
    if (!(redshift > -1) || !isfinite(redshift))
        return hg_error(HG_ERR_INVALID, "redshift space: bad redshift %g", redshift);
    double a = 1.0 / (1.0 + redshift);
    double scale = 1.0 / (hg_eval_hubble(omega_m, redshift) * a); /* (km/s) -> Mpc/h */
    for (int64_t i = 0; i < n; i++) {
        const float *p = pts + i * stride;
        for (int d = 0; d < 6; d++)
            if (!isfinite(p[d]))
                return hg_error(HG_ERR_NUMERIC, "redshift space: point %lld column %d is not finite",
                                (long long)i, d);
        float *o = out + 3 * i;
        o[0] = (float)hg_eval_wrap(p[0], box);
        o[1] = (float)hg_eval_wrap(p[1], box);
        o[2] = (float)hg_eval_wrap((double)p[2] + (double)p[5] * scale, box);
        for (int d = 0; d < 3; d++)
            if (o[d] >= (float)box) o[d] = 0.0f; /* double just below L rounding to L in float */
    }
    return hg_ok();
}
