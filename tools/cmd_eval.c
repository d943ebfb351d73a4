/* `halograph eval`: every SPEC 6 statistic of generated clouds and of the
 * true cloud at the same conditioning, residuals and summary distances. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/eval.h"
#include "runtime/runtime.h"
#include "tools/cli.h"

static const char *USAGE =
    "usage: halograph eval --samples S.h5 --data D.h5 [--split test] [--index I]\n"
    "                      [--bins LO:HI:N] [--knn-queries Q] [--threads N] --out DIR\n\n"
    "Compares generated clouds (S.h5, written by `halograph sample`) with the true\n"
    "cloud of the same cosmology (SPEC 6): real-space xi_0(r); redshift-space xi_0,\n"
    "xi_2 (line of sight z, 200 mu bins); vx, vy, vz histograms; the mass function\n"
    "(differential and cumulative counts of log10 M); k-NN CDFs, k = 1..8, of the\n"
    "distances from Q random query points (default 100000, fixed seed).\n"
    "  --split NAME   train, val or test (default test)\n"
    "  --index I      the true simulation: number I within the split; the generated\n"
    "                 clouds with its conditioning are used. Without --index every\n"
    "                 generated cloud must share one conditioning, and the first\n"
    "                 simulation of the split with that cosmology is the truth.\n"
    "  --bins LO:HI:N r bin edges linspace(LO, HI, N) Mpc/h (default 0.5:120:60)\n"
    "The true cloud is the N most massive haloes (N = points per generated cloud).\n"
    "Per statistic and bin: residual = (true - mean_gen) / std_gen (population std\n"
    "over the generated clouds); summary distance = mean of residual^2 over the bins\n"
    "with std_gen > 0 (bins where every generated cloud agrees are excluded).\n"
    "Writes DIR/stats.h5 (one group per statistic: edges or r, true, gen [M, bins],\n"
    "mean, std, residual, attribute summary_distance; /positions with one true and\n"
    "one generated cloud) and DIR/summary.txt. Plot with tools/plot_eval.py.\n";

#define MAX_STATS 32

typedef struct {
    char name[32];
    const char *label, *x_name, *x_unit;
    double *x; /* owned copy */
    int nx, nb;
    double *truth;            /* [nb] */
    double *gen;              /* [m, nb] */
    double *mean, *std, *res; /* [nb] */
    double dist;
    int used;
} stat_t;

typedef struct {
    stat_t s[MAX_STATS];
    int n, m;
} stat_set;

static hg_status add_stat(stat_set *ss, const char *name, const char *label, const char *x_name,
                          const char *x_unit, const double *x, int nx, int nb) {
    if (ss->n >= MAX_STATS) return hg_error(HG_ERR_INVALID, "eval: too many statistics");
    stat_t *t = &ss->s[ss->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->label = label;
    t->x_name = x_name;
    t->x_unit = x_unit;
    t->nx = nx;
    t->nb = nb;
    t->x = malloc(sizeof(double) * (size_t)nx);
    t->truth = calloc((size_t)nb, sizeof(double));
    t->gen = calloc((size_t)nb * (size_t)ss->m, sizeof(double));
    t->mean = calloc((size_t)nb, sizeof(double));
    t->std = calloc((size_t)nb, sizeof(double));
    t->res = calloc((size_t)nb, sizeof(double));
    if (!t->x || !t->truth || !t->gen || !t->mean || !t->std || !t->res)
        return hg_error(HG_ERR_NOMEM, "eval: out of memory");
    memcpy(t->x, x, sizeof(double) * (size_t)nx);
    return hg_ok();
}

static void free_stats(stat_set *ss) {
    for (int i = 0; i < ss->n; i++) {
        stat_t *t = &ss->s[i];
        free(t->x);
        free(t->truth);
        free(t->gen);
        free(t->mean);
        free(t->std);
        free(t->res);
    }
    ss->n = 0;
}

/* Copies the values of one cloud's statistics into row `row` (-1 = truth). */
static void put(stat_set *ss, const hg_eval_stats *st, int row) {
    for (int i = 0; i < ss->n; i++) {
        stat_t *t = &ss->s[i];
        const double *src = NULL;
        if (!strcmp(t->name, "xi0")) src = st->xi;
        else if (!strcmp(t->name, "xi0_rsd")) src = st->xi0_rsd;
        else if (!strcmp(t->name, "xi2_rsd")) src = st->xi2_rsd;
        else if (!strcmp(t->name, "vel_x")) src = st->vel[0];
        else if (!strcmp(t->name, "vel_y")) src = st->vel[1];
        else if (!strcmp(t->name, "vel_z")) src = st->vel[2];
        else if (!strcmp(t->name, "mass_diff")) src = st->mass_diff;
        else if (!strcmp(t->name, "mass_cum")) src = st->mass_cum;
        else if (!strncmp(t->name, "knn_k", 5)) src = st->knn + (int64_t)(atoi(t->name + 5) - 1) * st->n_knn;
        double *dst = row < 0 ? t->truth : t->gen + (int64_t)row * t->nb;
        memcpy(dst, src, sizeof(double) * (size_t)t->nb);
    }
}

static int close_enough(double a, double b) {
    double m = fabs(b) > 1 ? fabs(b) : 1;
    return fabs(a - b) <= 1e-4 * m;
}

typedef struct {
    const char *samples_path, *data_path, *split, *out, *bins;
    long index, queries, threads;
} eval_args;

/* Everything after argument parsing; frees what it allocates. */
static hg_status evaluate(const eval_args *a) {
    hg_eval_samples sm;
    hg_dataset ds;
    hg_dataset_init(&ds);
    stat_set ss;
    memset(&ss, 0, sizeof ss);
    double *r_edges = NULL, *m_edges = NULL;
    int n_re = 0, n_me = 0;
    float *truth = NULL, *q = NULL, *gen_cloud = NULL;
    int *sel = NULL;
    hg_eval_stats st;
    memset(&st, 0, sizeof st);
    FILE *txt = NULL;
    char *txt_buf = NULL;
    size_t txt_len = 0;
    char path[1200];
    hg_mkdirs_record made = {0}; /* DIR when this command creates it */
    int wrote_stats = 0;

    hg_status s = hg_eval_samples_load(a->samples_path, &sm);
    if (s.code != HG_OK) return s;
    s = hg_dataset_load(a->data_path, &ds);
    if (s.code != HG_OK) goto done;

    /* units and sizes must agree */
    int64_t F = sm.f, Fd = ds.n_features, P = hg_dataset_n_points(&ds), C = sm.c;
    if (Fd < F) {
        s = hg_error(HG_ERR_INVALID, "%s: the samples have %lld features but the dataset only %lld",
                     a->samples_path, (long long)F, (long long)Fd);
        goto done;
    }
    if (!close_enough(sm.box_size, ds.box_size) || !close_enough(sm.redshift, ds.redshift)) {
        s = hg_error(HG_ERR_INVALID, "samples box %g Mpc/h at z = %g but dataset box %g at z = %g",
                     sm.box_size, sm.redshift, ds.box_size, ds.redshift);
        goto done;
    }
    int col[HG_EVAL_MAX_COND], om_col = -1;
    for (int j = 0; j < C; j++) {
        col[j] = -1;
        for (int k = 0; k < ds.n_params; k++)
            if (!strcmp(ds.param_names[k], sm.cond_names[j])) col[j] = k;
        if (col[j] < 0) {
            s = hg_error(HG_ERR_INVALID, "%s: conditioning '%s' is not a parameter of %s", a->samples_path,
                         sm.cond_names[j], a->data_path);
            goto done;
        }
    }
    for (int k = 0; k < ds.n_params; k++)
        if (!strcmp(ds.param_names[k], "Omega_m")) om_col = k;
    const float *cosmo = ds.cosmology.data, *cond = sm.cond;
    int64_t np = ds.n_params;

    /* the true simulation and the generated clouds at its conditioning */
    int64_t sim = -1;
    if (a->index >= 0) {
        s = hg_eval_pick_sim(&ds, a->split, a->index, &sim);
        if (s.code != HG_OK) goto done;
    } else {
        for (int64_t i = 1; i < sm.m; i++)
            for (int j = 0; j < C; j++)
                if (!close_enough(cond[i * C + j], cond[j])) {
                    s = hg_error(HG_ERR_INVALID, "%s: the generated clouds have several conditionings "
                                 "(cloud %lld differs from cloud 0 in %s): choose one with --index",
                                 a->samples_path, (long long)i, sm.cond_names[j]);
                    goto done;
                }
        int k = 0;
        for (hg_split sp = 0; sp < HG_NUM_SPLITS; sp++)
            if (!strcmp(a->split, hg_split_name(sp))) k = (int)sp;
        for (int64_t t = 0; t < ds.split_n[k] && sim < 0; t++) {
            int64_t c = ds.split[k][t], ok = 1;
            for (int j = 0; j < C; j++) ok &= close_enough(cond[j], cosmo[c * np + col[j]]);
            if (ok) sim = c;
        }
        if (sim < 0) {
            s = hg_error(HG_ERR_INVALID, "no simulation of split '%s' has the conditioning of the generated "
                         "clouds (%s = %g, ...)", a->split, sm.cond_names[0], cond[0]);
            goto done;
        }
    }
    sel = malloc(sizeof(int) * (size_t)(sm.m ? sm.m : 1));
    int m = 0;
    for (int64_t i = 0; sel && i < sm.m; i++) {
        int ok = 1;
        for (int j = 0; j < C; j++) ok &= close_enough(cond[i * C + j], cosmo[sim * np + col[j]]);
        if (ok) sel[m++] = (int)i;
    }
    if (!sel) {
        s = hg_error(HG_ERR_NOMEM, "%s: out of memory for the statistics of %d generated clouds", a->samples_path, (int)sm.m);
        goto done;
    }
    if (m < 2) {
        s = hg_error(HG_ERR_INVALID, "%s: %d generated cloud(s) have the conditioning of simulation %lld "
                     "(%s = %g); residuals need at least 2", a->samples_path, m, (long long)sim,
                     sm.cond_names[0], cosmo[sim * np + col[0]]);
        goto done;
    }
    double om = om_col >= 0 ? cosmo[sim * np + om_col] : -1;
    if (F >= 6 && om_col < 0) {
        s = hg_error(HG_ERR_INVALID, "%s: redshift space needs the parameter Omega_m", a->data_path);
        goto done;
    }

    /* the true cloud: the N most massive haloes (stored first), first F columns */
    int64_t cnt = ((const int32_t *)ds.counts.data)[sim];
    int64_t nt = cnt < sm.n ? cnt : sm.n, N = sm.n;
    truth = malloc(sizeof(float) * (size_t)(nt * F + 1));
    if (!truth) {
        s = hg_error(HG_ERR_NOMEM, "%s: out of memory for the statistics of %d generated clouds", a->samples_path, (int)sm.m);
        goto done;
    }
    for (int64_t i = 0; i < nt; i++)
        memcpy(truth + i * F, (const float *)ds.halos.data + (sim * P + i) * Fd, sizeof(float) * (size_t)F);

    /* bins */
    if (a->bins) {
        s = hg_eval_parse_linspace(a->bins, &r_edges, &n_re);
        if (s.code != HG_OK) goto done;
    } else {
        n_re = HG_EVAL_R_NEDGES;
        r_edges = malloc(sizeof(double) * (size_t)n_re);
        if (!r_edges) {
            s = hg_error(HG_ERR_NOMEM, "%s: out of memory for the statistics of %d generated clouds", a->samples_path, (int)sm.m);
            goto done;
        }
        hg_eval_linspace(HG_EVAL_R_LO, HG_EVAL_R_HI, n_re, r_edges);
    }
    if (F >= 7) {
        s = hg_status_prefix(hg_eval_default_m_edges(truth, nt, (int)F, &m_edges, &n_me), "true cloud");
        if (s.code != HG_OK) goto done;
    }
    double v_edges[HG_EVAL_V_NEDGES];
    hg_eval_default_v_edges(v_edges);
    q = malloc(sizeof(float) * 3 * (size_t)a->queries);
    if (!q) {
        s = hg_error(HG_ERR_NOMEM, "--knn-queries %ld: out of memory for the query points", a->queries);
        goto done;
    }
    hg_eval_knn_queries(HG_EVAL_KNN_SEED, a->queries, ds.box_size, q);

    hg_eval_options o;
    hg_eval_options_default(&o);
    o.box = ds.box_size;
    o.redshift = ds.redshift;
    o.omega_m = om;
    o.r_edges = r_edges;
    o.n_r_edges = n_re;
    o.v_edges = v_edges;
    o.n_v_edges = HG_EVAL_V_NEDGES;
    o.m_edges = m_edges;
    o.n_m_edges = n_me;
    o.knn_queries = q;
    o.n_knn_queries = a->queries;

    /* statistic table */
    ss.m = m;
    int nb = n_re - 1;
    s = add_stat(&ss, "xi0", "real-space xi_0", "edges", "Mpc/h", r_edges, n_re, nb);
    if (s.code == HG_OK && F >= 6) {
        s = add_stat(&ss, "xi0_rsd", "redshift-space xi_0", "edges", "Mpc/h", r_edges, n_re, nb);
        if (s.code == HG_OK) s = add_stat(&ss, "xi2_rsd", "redshift-space xi_2", "edges", "Mpc/h", r_edges, n_re, nb);
        const char *vn[3] = {"vel_x", "vel_y", "vel_z"}, *vl[3] = {"v_x counts", "v_y counts", "v_z counts"};
        for (int d = 0; d < 3 && s.code == HG_OK; d++)
            s = add_stat(&ss, vn[d], vl[d], "edges", "km/s", v_edges, HG_EVAL_V_NEDGES, HG_EVAL_V_NEDGES - 1);
    }
    if (s.code == HG_OK && F >= 7) {
        s = add_stat(&ss, "mass_diff", "haloes per log10 M bin", "edges", "log10(M / (Msun/h))", m_edges,
                     n_me, n_me - 1);
        if (s.code == HG_OK)
            s = add_stat(&ss, "mass_cum", "haloes with log10 M >= edge", "edges", "log10(M / (Msun/h))",
                         m_edges, n_me, n_me - 1);
    }
    for (int k = 1; k <= HG_EVAL_KNN_K && s.code == HG_OK; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "knn_k%d", k);
        s = add_stat(&ss, nm, "k-NN CDF at r", "r", "Mpc/h", r_edges, n_re, n_re);
    }
    if (s.code != HG_OK) goto done;

    /* statistics of every cloud */
    s = hg_status_prefix(hg_eval_cloud(truth, nt, (int)F, &o, &st), "true cloud (simulation %lld)",
                         (long long)sim);
    if (s.code != HG_OK) goto done;
    put(&ss, &st, -1);
    hg_eval_stats_free(&st);
    for (int i = 0; i < m; i++) {
        s = hg_status_prefix(hg_eval_cloud(sm.samples + (int64_t)sel[i] * N * F, N, (int)F, &o, &st),
                             "generated cloud %d", sel[i]);
        if (s.code != HG_OK) goto done;
        put(&ss, &st, i);
        hg_eval_stats_free(&st);
    }
    for (int i = 0; i < ss.n && s.code == HG_OK; i++) {
        stat_t *t = &ss.s[i];
        s = hg_eval_compare(t->truth, t->gen, m, t->nb, t->mean, t->std, t->res, &t->dist, &t->used);
    }
    if (s.code != HG_OK) goto done;

    /* stats.h5 */
    s = hg_mkdirs(a->out, &made);
    if (s.code != HG_OK) goto done;
    snprintf(path, sizeof path, "%s/stats.h5", a->out);
    hg_eval_writer w;
    s = hg_eval_writer_open(&w, path);
    if (s.code != HG_OK) goto done;
    const char *names[MAX_STATS];
    double dists[MAX_STATS];
    for (int i = 0; i < ss.n; i++) {
        stat_t *t = &ss.s[i];
        char nm[96];
        int64_t dx = t->nx, db = t->nb, dg[2] = {m, t->nb};
        snprintf(nm, sizeof nm, "%s/%s", t->name, t->x_name);
        hg_eval_write_f64(&w, nm, 1, &dx, t->x);
        snprintf(nm, sizeof nm, "%s/true", t->name);
        hg_eval_write_f64(&w, nm, 1, &db, t->truth);
        snprintf(nm, sizeof nm, "%s/gen", t->name);
        hg_eval_write_f64(&w, nm, 2, dg, t->gen);
        snprintf(nm, sizeof nm, "%s/mean", t->name);
        hg_eval_write_f64(&w, nm, 1, &db, t->mean);
        snprintf(nm, sizeof nm, "%s/std", t->name);
        hg_eval_write_f64(&w, nm, 1, &db, t->std);
        snprintf(nm, sizeof nm, "%s/residual", t->name);
        hg_eval_write_f64(&w, nm, 1, &db, t->res);
        hg_eval_write_attr_f64(&w, t->name, "summary_distance", &t->dist, 1);
        hg_eval_write_attr_i64(&w, t->name, "n_bins_used", t->used);
        hg_eval_write_attr_str(&w, t->name, "label", t->label);
        hg_eval_write_attr_str(&w, t->name, "x_unit", t->x_unit);
        names[i] = t->name;
        dists[i] = t->dist;
    }
    int64_t dn = ss.n;
    hg_eval_write_f64(&w, "summary/distance", 1, &dn, dists);
    hg_eval_write_attr_strs(&w, "summary/distance", "statistics", names, ss.n);
    int64_t dpt[2] = {nt, 3}, dpg[2] = {N, 3};
    float *tp = malloc(sizeof(float) * 3 * (size_t)(nt + 1));
    gen_cloud = malloc(sizeof(float) * 3 * (size_t)(N + 1));
    if (tp && gen_cloud) {
        for (int64_t i = 0; i < nt; i++) memcpy(tp + 3 * i, truth + i * F, 3 * sizeof(float));
        for (int64_t i = 0; i < N; i++)
            memcpy(gen_cloud + 3 * i, sm.samples + ((int64_t)sel[0] * N + i) * F, 3 * sizeof(float));
        hg_eval_write_f32(&w, "positions/true", 2, dpt, tp);
        hg_eval_write_f32(&w, "positions/generated", 2, dpg, gen_cloud);
    } else {
        w.st = hg_error(HG_ERR_NOMEM, "out of memory");
    }
    free(tp);
    const char *cn[HG_EVAL_MAX_COND];
    double cv[HG_EVAL_MAX_COND];
    for (int j = 0; j < ds.n_params && j < HG_EVAL_MAX_COND; j++) {
        cn[j] = ds.param_names[j];
        cv[j] = cosmo[sim * np + j];
    }
    int ncp = ds.n_params < HG_EVAL_MAX_COND ? ds.n_params : HG_EVAL_MAX_COND;
    hg_eval_write_attr_strs(&w, "/", "cosmology_names", cn, ncp);
    hg_eval_write_attr_f64(&w, "/", "cosmology", cv, ncp);
    hg_eval_write_attr_f64(&w, "/", "box_size", &ds.box_size, 1);
    hg_eval_write_attr_f64(&w, "/", "redshift", &ds.redshift, 1);
    hg_eval_write_attr_str(&w, "/", "samples", a->samples_path);
    hg_eval_write_attr_str(&w, "/", "data", a->data_path);
    hg_eval_write_attr_str(&w, "/", "split", a->split);
    hg_eval_write_attr_i64(&w, "/", "index", a->index);
    hg_eval_write_attr_i64(&w, "/", "simulation", sim);
    hg_eval_write_attr_i64(&w, "/", "n_generated", m);
    hg_eval_write_attr_i64(&w, "/", "n_points", N);
    hg_eval_write_attr_i64(&w, "/", "n_points_true", nt);
    hg_eval_write_attr_i64(&w, "/", "n_features", F);
    hg_eval_write_attr_i64(&w, "/", "knn_queries", a->queries);
    hg_eval_write_attr_i64(&w, "/", "knn_seed", HG_EVAL_KNN_SEED);
    hg_eval_write_attr_i64(&w, "/", "std_ddof", 0);
    hg_eval_write_attr_str(&w, "/", "residual_definition",
                           "residual = (true - mean_gen) / std_gen, std_gen the population std over the "
                           "generated clouds; summary_distance = mean of residual^2 over bins with "
                           "std_gen > 0 and finite values (others excluded, residual NaN) (SPEC 6)");
    s = hg_eval_writer_close(&w);
    if (s.code != HG_OK) goto done;
    wrote_stats = 1;

    /* summary.txt: composed in memory, written atomically */
    snprintf(path, sizeof path, "%s/summary.txt", a->out);
    txt = open_memstream(&txt_buf, &txt_len);
    if (!txt) {
        s = hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    fprintf(txt, "halograph eval: %s vs %s, split %s, index %ld (simulation %lld)\n", a->samples_path,
            a->data_path, a->split, a->index, (long long)sim);
    fprintf(txt, "cosmology:");
    for (int j = 0; j < ncp; j++) fprintf(txt, " %s=%.5g", cn[j], cv[j]);
    fprintf(txt, "\nbox %g Mpc/h, redshift %g; %d generated clouds x %lld points (%lld features); "
                 "true cloud: %lld most massive haloes\n",
            ds.box_size, ds.redshift, m, (long long)N, (long long)F, (long long)nt);
    fprintf(txt, "summary distance = mean over bins of ((true - mean_gen) / std_gen)^2, std_gen the\n"
                 "population std over the generated clouds; bins with std_gen = 0 are excluded.\n"
                 "About 1 when the truth looks like a draw from the model.\n\n");
    fprintf(txt, "%-12s %14s %10s\n", "statistic", "distance", "bins used");
    for (int i = 0; i < ss.n; i++)
        fprintf(txt, "%-12s %14.4g %6d/%d\n", ss.s[i].name, ss.s[i].dist, ss.s[i].used, ss.s[i].nb);
    if (fclose(txt)) s = hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
    txt = NULL;
    if (s.code == HG_OK) s = hg_atomic_write(path, txt_buf, txt_len);
    if (s.code == HG_OK) {
        printf("evaluated %d generated clouds against simulation %lld (split %s, index %ld)\n", m,
               (long long)sim, a->split, a->index);
        for (int i = 0; i < ss.n; i++)
            printf("  %-12s summary distance %10.4g (%d/%d bins)\n", ss.s[i].name, ss.s[i].dist,
                   ss.s[i].used, ss.s[i].nb);
        printf("wrote %s/stats.h5 and %s/summary.txt\n", a->out, a->out);
    }
done:
    if (txt) fclose(txt);
    free(txt_buf);
    if (s.code != HG_OK && made.n > 0) {
        /* a directory this failed command created: leave nothing behind */
        if (wrote_stats) {
            snprintf(path, sizeof path, "%s/stats.h5", a->out);
            unlink(path);
        }
        hg_mkdirs_undo(&made);
    }
    hg_mkdirs_keep(&made);
    hg_eval_stats_free(&st);
    free_stats(&ss);
    free(r_edges);
    free(m_edges);
    free(truth);
    free(q);
    free(gen_cloud);
    free(sel);
    hg_eval_samples_free(&sm);
    hg_dataset_free(&ds);
    return s;
}

static int run_eval(int argc, char **argv) {
    const char *cmd = "eval";
    if (hg_cli_wants_help(argc, argv)) {
        fputs(USAGE, stdout);
        return HG_EXIT_OK;
    }
    eval_args a = {.split = "test", .index = -1, .queries = HG_EVAL_KNN_QUERIES};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(s, "--samples") && has) {
            a.samples_path = argv[++i];
        } else if (!strcmp(s, "--data") && has) {
            a.data_path = argv[++i];
        } else if (!strcmp(s, "--split") && has) {
            a.split = argv[++i];
        } else if (!strcmp(s, "--out") && has) {
            a.out = argv[++i];
        } else if (!strcmp(s, "--bins") && has) {
            a.bins = argv[++i];
        } else if (!strcmp(s, "--index") && has) {
            if (hg_cli_parse_int(argv[++i], 0, 1L << 40, &a.index))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--index: not a non-negative integer: %s", argv[i]);
        } else if (!strcmp(s, "--knn-queries") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 100000000, &a.queries))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--knn-queries: not a positive integer: %s", argv[i]);
        } else if (!strcmp(s, "--threads") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 4096, &a.threads))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--threads: not a positive integer: %s", argv[i]);
        } else {
            return hg_cli_bad_arg(cmd, s, !has, "--samples --data --split --out --bins --index --knn-queries --threads");
        }
    }
    if (!a.samples_path || !a.data_path || !a.out)
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--samples, --data and --out are required (see halograph eval --help)");
    if (strcmp(a.split, "train") && strcmp(a.split, "val") && strcmp(a.split, "test"))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--split: expected train, val or test, got '%s'", a.split);
    if (a.bins) {
        double *e = NULL;
        int ne = 0;
        hg_status bs = hg_eval_parse_linspace(a.bins, &e, &ne);
        free(e);
        if (bs.code != HG_OK) return hg_cli_fail(cmd, HG_EXIT_USAGE, "--bins: %s", bs.msg);
    }
    /* DIR and the two files written in it, against the inputs */
    hg_cli_inputs in = {0};
    hg_cli_inputs_add(&in, a.samples_path);
    hg_cli_inputs_add(&in, a.data_path);
    int rc = hg_cli_check_output_dir(cmd, a.out, &in);
    const char *names[2] = {"stats.h5", "summary.txt"};
    for (int k = 0; k < 2 && !rc; k++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", a.out, names[k]);
        rc = hg_cli_check_output(cmd, p, &in);
    }
    hg_cli_inputs_free(&in);
    if (rc) return rc;
    if (a.threads > 0) omp_set_num_threads((int)a.threads);
    hg_status s = evaluate(&a);
    return s.code == HG_OK ? HG_EXIT_OK : hg_cli_status(cmd, s);
}

HG_COMMAND(eval, "eval", "SPEC 6 statistics of generated vs true clouds, residuals (stats.h5)", run_eval)
