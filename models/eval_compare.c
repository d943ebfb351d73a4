/* Residuals and summary distance between a true cloud's statistic and the
 * same statistic of m generated clouds (SPEC 6). See models/eval.h. */
#include <math.h>

#include "models/eval.h"

hg_status hg_eval_compare(const double *truth, const double *gen, int m, int n_bins,
                          double *mean, double *std, double *residual,
                          double *summary, int *n_used) {
    if (m < 2)
        return hg_error(HG_ERR_INVALID, "compare: need at least 2 generated clouds for a std, got %d", m);
    if (n_bins < 0) return hg_error(HG_ERR_INVALID, "compare: bad number of bins %d", n_bins);
    double sum2 = 0;
    int used = 0;
    for (int b = 0; b < n_bins; b++) {
        int finite = isfinite(truth[b]);
        double s = 0;
        for (int i = 0; i < m; i++) {
            double g = gen[(int64_t)i * n_bins + b];
            if (!isfinite(g)) finite = 0;
            s += g;
        }
        double mu = s / m, v = 0;
        for (int i = 0; i < m; i++) {
            double d = gen[(int64_t)i * n_bins + b] - mu;
            v += d * d;
        }
        double sd = sqrt(v / m); /* population std (ddof = 0) */
        mean[b] = mu;
        std[b] = sd;
        /* A std at the rounding level of the mean (identical generated
         * values summed in another order) counts as zero: excluded. */
        if (!finite || !(sd > 1e-9 * fabs(mu))) {
            residual[b] = NAN; /* excluded bin */
            continue;
        }
        residual[b] = (truth[b] - mu) / sd;
        sum2 += residual[b] * residual[b];
        used++;
    }
    if (summary) *summary = used ? sum2 / used : NAN;
    if (n_used) *n_used = used;
    return hg_ok();
}
