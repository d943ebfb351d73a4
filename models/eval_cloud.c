/* Every SPEC 6 statistic of one cloud. See models/eval.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/eval.h"

void hg_eval_options_default(hg_eval_options *o) {
    memset(o, 0, sizeof *o);
    o->n_mu = HG_EVAL_N_MU;
    o->knn_kmax = HG_EVAL_KNN_K;
}

void hg_eval_default_v_edges(double *out) {
    hg_eval_linspace(-1500.0, 1500.0, HG_EVAL_V_NEDGES, out);
}

void hg_eval_stats_free(hg_eval_stats *st) {
    free(st->npairs);
    free(st->xi);
    free(st->xi0_rsd);
    free(st->xi2_rsd);
    for (int d = 0; d < 3; d++) free(st->vel[d]);
    free(st->mass_diff);
    free(st->mass_cum);
    free(st->knn);
    memset(st, 0, sizeof *st);
}

#define ALLOC(ptr, count)                                                           \
    do {                                                                            \
        (ptr) = calloc((size_t)(count) > 0 ? (size_t)(count) : 1, sizeof *(ptr));   \
        if (!(ptr)) return hg_error(HG_ERR_NOMEM, "eval: out of memory");           \
    } while (0)

hg_status hg_eval_cloud(const float *pts, int64_t n, int stride, const hg_eval_options *o,
                        hg_eval_stats *st) {
    memset(st, 0, sizeof *st);
    double r_def[HG_EVAL_R_NEDGES], v_def[HG_EVAL_V_NEDGES];
    const double *re = o->r_edges, *ve = o->v_edges;
    int nre = o->n_r_edges, nve = o->n_v_edges;
    if (!re) {
        hg_eval_linspace(HG_EVAL_R_LO, HG_EVAL_R_HI, HG_EVAL_R_NEDGES, r_def);
        re = r_def;
        nre = HG_EVAL_R_NEDGES;
    }
    if (!ve) {
        hg_eval_default_v_edges(v_def);
        ve = v_def;
        nve = HG_EVAL_V_NEDGES;
    }
    int nr = nre - 1;
    st->n_r = nr;
    ALLOC(st->npairs, nr);
    ALLOC(st->xi, nr);
    HG_TRY(hg_status_prefix(hg_eval_pair_counts(pts, n, stride, o->box, re, nre, st->npairs),
                            "real-space xi"));
    HG_TRY(hg_status_prefix(hg_eval_xi_from_counts(st->npairs, n, o->box, re, nre, st->xi),
                            "real-space xi"));
    if (stride >= 6) {
        float *z = malloc(sizeof(float) * 3 * (size_t)(n > 0 ? n : 1));
        int64_t *dd = malloc(sizeof(int64_t) * (size_t)nr * (size_t)(o->n_mu > 0 ? o->n_mu : 1));
        if (!z || !dd) {
            free(z);
            free(dd);
            return hg_error(HG_ERR_NOMEM, "eval: out of memory for redshift space");
        }
        st->xi0_rsd = calloc((size_t)nr, sizeof(double));
        st->xi2_rsd = calloc((size_t)nr, sizeof(double));
        hg_status s = st->xi0_rsd && st->xi2_rsd
                          ? hg_eval_rsd_positions(pts, n, stride, o->box, o->omega_m, o->redshift, z)
                          : hg_error(HG_ERR_NOMEM, "eval: out of memory");
        if (s.code == HG_OK) s = hg_eval_pair_counts_smu(z, n, 3, o->box, re, nre, o->n_mu, dd);
        if (s.code == HG_OK)
            s = hg_eval_multipoles_from_counts(dd, n, o->box, re, nre, o->n_mu, st->xi0_rsd,
                                               st->xi2_rsd);
        free(z);
        free(dd);
        HG_TRY(hg_status_prefix(s, "redshift-space xi"));
        st->n_v = nve - 1;
        for (int d = 0; d < 3; d++) {
            ALLOC(st->vel[d], st->n_v);
            HG_TRY(hg_status_prefix(hg_eval_histogram(pts, n, stride, 3 + d, 0, ve, nve, st->vel[d]),
                                    "velocity histogram v%c", "xyz"[d]));
        }
    }
    if (stride >= 7) {
        if (!o->m_edges)
            return hg_error(HG_ERR_INVALID, "eval: the cloud has masses but no log10 M edges were given");
        st->n_m = o->n_m_edges - 1;
        ALLOC(st->mass_diff, st->n_m);
        ALLOC(st->mass_cum, st->n_m);
        HG_TRY(hg_status_prefix(hg_eval_mass_function(pts, n, stride, o->m_edges, o->n_m_edges,
                                                      st->mass_diff, st->mass_cum),
                                "mass function"));
    }
    if (o->knn_queries && o->n_knn_queries > 0) {
        st->knn_kmax = o->knn_kmax;
        st->n_knn = nre;
        ALLOC(st->knn, (int64_t)o->knn_kmax * nre);
        HG_TRY(hg_status_prefix(hg_eval_knn_cdf(pts, n, stride, o->box, o->knn_queries,
                                                o->n_knn_queries, o->knn_kmax, re, nre, st->knn),
                                "k-NN CDF"));
    }
    return hg_ok();
}
