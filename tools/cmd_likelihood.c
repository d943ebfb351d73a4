/* `halograph likelihood` (SPEC 3.6 likelihood profile of one cloud) and
 * `halograph nelbo` (per-cloud NELBO of a split at the true conditioning). */
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/drivers.h"
#include "tools/cli.h"

static const char *USAGE_L =
    "usage: halograph likelihood --run RUN --data D.h5 [--split test] --index I\n"
    "                            --param NAME [--grid LO:HI:N] [--steps S] [--replicas K]\n"
    "                            [--seed S] [--backend NAME] [--threads N] --out P.h5\n\n"
    "Likelihood profile (SPEC 3.6) of cloud I of the split (default test) of dataset D\n"
    "under the model of run RUN: log p(x | theta) >= -NELBO, estimated as -mean over K\n"
    "replicas of the NELBO with S diffusion terms, scanning parameter NAME over\n"
    "linspace(LO, HI, N) with the other parameters at their true values. The noise\n"
    "of replica r is the same at every grid point (common random numbers).\n"
    "  --param NAME   a conditioning parameter of the model (Omega_m, sigma_8)\n"
    "  --grid LO:HI:N default 0.1:0.5:30 for Omega_m, 0.6:1.0:30 for sigma_8\n"
    "  --steps S      diffusion terms of the NELBO (default 50)\n"
    "  --replicas K   noise replicas (default 16)\n"
    "  --seed S       noise seed (default 0)\n"
    "  --backend NAME " HG_CLI_BACKENDS "\n"
    "Writes P.h5 atomically: /grid f64 [N], /loglik f64 [N] (mean over replicas),\n"
    "/loglik_replicas f64 [N, K], attributes param, true_value, best, max_loglik,\n"
    "lo68, hi68 (2 (logL - max) >= -0.989, linear interpolation; lo_open/hi_open = 1\n"
    "when the interval reaches the end of the grid), and the run's provenance.\n"
    "Prints the profile, the maximum and the 68% interval.\n";

static const char *USAGE_N =
    "usage: halograph nelbo --run RUN --data D.h5 [--split test] [--steps S] [--replicas K]\n"
    "                       [--seed S] [--batch B] [--backend NAME] [--threads N] --out E.h5\n\n"
    "The NELBO (SPEC 3.6: masked sums over points and features, in standardised units)\n"
    "of every cloud of the split (default test) of dataset D at its true conditioning,\n"
    "under the model of run RUN, averaged over K noise replicas (default 1) with S\n"
    "diffusion terms (default 50).\n"
    "Writes E.h5 atomically: /nelbo f64 [n], /nelbo_parts f64 [n, 3] (recon, klz,\n"
    "diff), /nelbo_replicas f64 [n, K], /sims i32 [n] (dataset indices), /cond f32\n"
    "[n, C] (attribute names), attributes split, steps, replicas, seed and the run's\n"
    "provenance. Prints the mean and the per-point mean.\n"
    "  --backend NAME " HG_CLI_BACKENDS "\n";


static const char *USAGE_C =
    "usage: halograph coverage --run RUN --data D.h5 [--split test] --param NAME\n"
    "                          [--grid LO:HI:N] [--steps S] [--replicas K] [--max-clouds M]\n"
    "                          [--seed S] [--backend NAME] [--threads N] --out C.h5\n\n"
    "Calibration of the likelihood profiles (SPEC 3.6) over a whole split: profiles\n"
    "parameter NAME for every cloud of the split (default test; the first M with\n"
    "--max-clouds) exactly as `halograph likelihood --index I` does (same grid, S, K,\n"
    "seed: common random numbers), and reports the fraction of 68% and 95% intervals\n"
    "(2 (logL - max) >= -0.989 / -3.841) containing the true value, the mean bias\n"
    "(maximum-likelihood value - truth) and the mean 68% width.\n"
    "  --grid LO:HI:N default 0.1:0.5:30 for Omega_m, 0.6:1.0:30 for sigma_8 (SPEC 3.6)\n"
    "  --steps S      diffusion terms of the NELBO (default 50)\n"
    "  --replicas K   noise replicas (default 16)\n"
    "  --max-clouds M profile only the first M clouds of the split (for speed)\n"
    "  --backend NAME " HG_CLI_BACKENDS "\n"
    "Writes C.h5 atomically: /grid f64 [G], /loglik f64 [M, G], /truth, /best, /lo68,\n"
    "/hi68, /lo95, /hi95 f64 [M], /open68, /open95 i32 [M] (1: the interval reaches a grid\n"
    "end), /sims i32 [M], attributes param, frac68, frac95, mean_bias, mean_width68 and\n"
    "the run's provenance. tools/plot_coverage.py C.h5 --out C.png draws true vs\n"
    "maximum-likelihood value with the intervals.\n";

typedef struct {
    const char *run, *data, *split, *param, *grid, *out, *backend;
    long index, steps, replicas, seed, threads, batch, max_clouds;
    volatile sig_atomic_t *interrupt; /* set by SIGINT (after parsing) */
} args;

/* Parses the shared options of mode 0 (nelbo), 1 (likelihood) or 2
 * (coverage); returns -1 on success, else the exit code. */
static int parse(const char *cmd, int argc, char **argv, args *a, int mode) {
    int likelihood = mode >= 1;
    memset(a, 0, sizeof *a);
    a->split = "test";
    a->index = -1;
    a->steps = 50;
    a->replicas = likelihood ? 16 : 1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int has = i + 1 < argc;
        long *iv = NULL, lo = 0, hi = 0;
        const char *what = NULL;
        if (!strcmp(s, "--run") && has) a->run = argv[++i];
        else if (!strcmp(s, "--data") && has) a->data = argv[++i];
        else if (!strcmp(s, "--split") && has) a->split = argv[++i];
        else if (!strcmp(s, "--out") && has) a->out = argv[++i];
        else if (!strcmp(s, "--backend") && has) a->backend = argv[++i];
        else if (likelihood && !strcmp(s, "--param") && has) a->param = argv[++i];
        else if (likelihood && !strcmp(s, "--grid") && has) a->grid = argv[++i];
        else if (mode == 1 && !strcmp(s, "--index") && has) iv = &a->index, lo = 0, hi = 2000000000L, what = s;
        else if (mode == 2 && !strcmp(s, "--max-clouds") && has) iv = &a->max_clouds, lo = 1, hi = 2000000000L, what = s;
        else if (!likelihood && !strcmp(s, "--batch") && has) iv = &a->batch, lo = 1, hi = 100000, what = s;
        else if (!strcmp(s, "--steps") && has) iv = &a->steps, lo = 1, hi = 100000, what = s;
        else if (!strcmp(s, "--replicas") && has) iv = &a->replicas, lo = 1, hi = 100000, what = s;
        else if (!strcmp(s, "--seed") && has) iv = &a->seed, lo = 0, hi = 0xffffffffL, what = s;
        else if (!strcmp(s, "--threads") && has) iv = &a->threads, lo = 1, hi = 4096, what = s;
        else
            return hg_cli_bad_arg(cmd, s, !has,
                                  "--run --data --split --out --backend --param --grid --index --max-clouds "
                                  "--batch --steps --replicas --seed --threads");
        if (iv && hg_cli_parse_int(argv[++i], lo, hi, iv))
            return hg_cli_fail(cmd, HG_EXIT_USAGE, "%s: '%s' is not an integer in [%ld, %ld]", what, argv[i], lo, hi);
    }
    if (!a->run || !a->data || !a->out || (likelihood && !a->param) || (mode == 1 && a->index < 0))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "%s are required (see halograph %s --help)",
                           mode == 1   ? "--run, --data, --index, --param and --out"
                           : mode == 2 ? "--run, --data, --param and --out"
                                       : "--run, --data and --out",
                           cmd);
    hg_split sp;
    if (hg_cli_parse_split(a->split, &sp))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--split: expected train, val or test, got '%s'", a->split);
    if (a->backend && !hg_cli_backend_known(a->backend))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--backend: unknown backend '%s' (available: %s)", a->backend,
                           hg_program_backends());
    hg_cli_inputs in = {0};
    hg_cli_inputs_add_run(&in, a->run);
    hg_cli_inputs_add(&in, a->data);
    int rc = hg_cli_check_output(cmd, a->out, &in);
    hg_cli_inputs_free(&in);
    if (rc) return rc;
    if (a->threads) omp_set_num_threads((int)a->threads);
    a->interrupt = hg_cli_catch_interrupt(0);
    return -1;
}

/* Opens the run and the split of the dataset with the run's normalisation. */
static hg_status open_inputs(const args *a, hg_run *r, hg_dataset *ds, hg_pipeline *pl, hg_split *split) {
    memset(pl, 0, sizeof *pl);
    hg_dataset_init(ds);
    HG_TRY(hg_run_open(a->run, r));
    int k = -1;
    for (int i = 0; i < HG_NUM_SPLITS; i++)
        if (!strcmp(a->split, hg_split_name((hg_split)i))) k = i;
    if (k < 0) return hg_error(HG_ERR_INVALID, "--split '%s' is not train, val or test", a->split);
    *split = (hg_split)k;
    HG_TRY(hg_dataset_load(a->data, ds));
    if (fabs(ds->box_size - r->norm.box) > 1e-6 * r->norm.box)
        return hg_error(HG_ERR_INVALID, "%s: box %g Mpc/h differs from the box %g Mpc/h run %s was trained on",
                        a->data, ds->box_size, r->norm.box, a->run);
    hg_pipeline_config pc;
    hg_run_pipeline_config(&r->cfg, &pc);
    return hg_status_prefix(hg_pipeline_init(pl, ds, *split, &pc, &r->norm), "%s vs run %s", a->data, a->run);
}

/* The grid of --grid or the parameter's default; -1 on success, else the exit code. */
static int parse_grid(const char *cmd, const args *a, double *lo, double *hi, int *n) {
    if (a->grid) {
        hg_status s = hg_parse_grid(a->grid, lo, hi, n);
        if (s.code) return hg_cli_fail(cmd, HG_EXIT_USAGE, "%s", s.msg);
    } else if (hg_default_grid(a->param, lo, hi, n)) {
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--param %s has no default grid: give --grid LO:HI:N", a->param);
    }
    return -1;
}

/* linspace(lo, hi, n) into grid (the last point exactly hi). */
static void fill_grid(double *grid, double lo, double hi, int n) {
    for (int i = 0; i < n; i++) grid[i] = lo + (hi - lo) * i / (n - 1);
    grid[n - 1] = hi;
}

/* The NELBO options of the parsed arguments, with progress on pc. */
static void nelbo_opts(const args *a, hg_nelbo_options *o, hg_cli_counter *pc) {
    hg_nelbo_options_default(o);
    o->steps = (int)a->steps;
    o->replicas = (int)a->replicas;
    o->seed = (uint32_t)a->seed;
    o->backend = a->backend;
    o->interrupt = a->interrupt;
    *pc = hg_cli_counter_make("NELBO calls");
    o->progress = hg_cli_counter_progress;
    o->user = pc;
}

/* The index of conditioning parameter `name` in the run's config, or an error. */
static hg_status param_index(const hg_run *r, const char *name, int *param) {
    *param = -1;
    for (int i = 0; i < r->cfg.n_cond; i++)
        if (!strcmp(name, r->cfg.conditioning[i])) *param = i;
    if (*param < 0) return hg_error(HG_ERR_INVALID, "--param %s is not a conditioning parameter of the model", name);
    return hg_ok();
}

static hg_status common_attrs(hg_out *w, const args *a, const hg_run *r, const hg_dataset *ds) {
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)ds->checksum);
    HG_TRY(hg_out_provenance(w, r));
    HG_TRY(hg_out_attr_str(w, "/", "data", a->data));
    HG_TRY(hg_out_attr_str(w, "/", "data_checksum", buf));
    HG_TRY(hg_out_attr_str(w, "/", "split", a->split));
    HG_TRY(hg_out_attr_i64(w, "/", "steps", a->steps));
    HG_TRY(hg_out_attr_i64(w, "/", "replicas", a->replicas));
    return hg_out_attr_i64(w, "/", "seed", a->seed);
}

static int run_likelihood(int argc, char **argv) {
    const char *cmd = "likelihood";
    if (hg_cli_wants_help(argc, argv)) {
        hg_cli_usage(USAGE_L, stdout);
        return HG_EXIT_OK;
    }
    args a;
    int rc = parse(cmd, argc, argv, &a, 1);
    if (rc >= 0) return rc;
    double lo, hi;
    int n;
    if ((rc = parse_grid(cmd, &a, &lo, &hi, &n)) >= 0) return rc;
    hg_run r;
    hg_dataset ds;
    hg_pipeline pl;
    hg_split split;
    hg_batch bt;
    memset(&bt, 0, sizeof bt);
    double *grid = malloc(sizeof(double) * (size_t)n), *logl = malloc(sizeof(double) * (size_t)n);
    double *rep = malloc(sizeof(double) * (size_t)n * (size_t)a.replicas);
    hg_comm comm;
    int rc0 = hg_cli_mpi_begin(cmd, &comm);
    if (rc0) return rc0;
    int root = comm.rank == 0;
    hg_status s = open_inputs(&a, &r, &ds, &pl, &split);
    int param = -1;
    if (s.code == HG_OK) s = param_index(&r, a.param, &param);
    if (s.code == HG_OK && a.index >= pl.n_clouds)
        s = hg_error(HG_ERR_INVALID, "--index %ld: the %s split has %lld clouds", a.index, a.split,
                     (long long)pl.n_clouds);
    if (s.code == HG_OK && (!grid || !logl || !rep)) s = hg_error(HG_ERR_NOMEM, "likelihood");
    if (s.code == HG_OK) s = hg_pipeline_eval_batch(&pl, a.index, 1, &bt);
    hg_interval iv;
    memset(&iv, 0, sizeof iv);
    if (s.code == HG_OK) {
        fill_grid(grid, lo, hi, n);
        hg_nelbo_options o;
        hg_cli_counter pc;
        nelbo_opts(&a, &o, &pc);
        o.comm = &comm;
        if (!root) o.progress = NULL;
        s = hg_likelihood_profile(&r, bt.x.data, bt.mask.data, bt.cond.data, param, grid, n, &o, logl, rep);
    }
    if (s.code == HG_OK && root) s = hg_profile_interval(grid, logl, n, &iv);
    double truth = s.code == HG_OK ? ((float *)bt.cond.data)[param] : 0;
    if (s.code == HG_OK && root) {
        hg_out *w = NULL;
        hg_tensor tg = {HG_F64, hg_shape_of(1, (int64_t)n), grid, 0};
        hg_tensor tl = {HG_F64, hg_shape_of(1, (int64_t)n), logl, 0};
        hg_tensor tr = {HG_F64, hg_shape_of(2, (int64_t)n, (int64_t)a.replicas), rep, 0};
        s = hg_out_create(a.out, &w);
        if (s.code == HG_OK) s = hg_out_tensor(w, "grid", &tg);
        if (s.code == HG_OK) s = hg_out_tensor(w, "loglik", &tl);
        if (s.code == HG_OK) s = hg_out_tensor(w, "loglik_replicas", &tr);
        if (s.code == HG_OK) s = hg_out_attr_str(w, "/", "format", "halograph-profile-1");
        if (s.code == HG_OK) s = common_attrs(w, &a, &r, &ds);
        if (s.code == HG_OK) s = hg_out_attr_i64(w, "/", "index", a.index);
        if (s.code == HG_OK) s = hg_out_attr_i64(w, "/", "simulation", ((int32_t *)bt.sims.data)[0]);
        if (s.code == HG_OK) s = hg_out_attr_str(w, "/", "param", a.param);
        if (s.code == HG_OK) s = hg_out_attr_f64(w, "/", "true_value", truth);
        if (s.code == HG_OK) s = hg_out_attr_f64(w, "/", "best", iv.best);
        if (s.code == HG_OK) s = hg_out_attr_f64(w, "/", "max_loglik", iv.max_logl);
        if (s.code == HG_OK) s = hg_out_attr_f64(w, "/", "lo68", iv.lo);
        if (s.code == HG_OK) s = hg_out_attr_f64(w, "/", "hi68", iv.hi);
        if (s.code == HG_OK) s = hg_out_attr_i64(w, "/", "lo_open", iv.lo_open);
        if (s.code == HG_OK) s = hg_out_attr_i64(w, "/", "hi_open", iv.hi_open);
        if (s.code == HG_OK) s = hg_out_attr_f64(w, "/", "delta_chi2", HG_DELTA_CHI2_68);
        if (w) {
            hg_status s2 = hg_out_close(w, s.code == HG_OK);
            if (s.code == HG_OK) s = s2;
        }
    }
    if (s.code == HG_OK && root) {
        printf("likelihood profile of %s cloud %ld (simulation %d) in %s, %s true value %.4g\n", a.split, a.index,
               ((int32_t *)bt.sims.data)[0], a.data, a.param, truth);
        printf("%12s %16s %16s\n", a.param, "log L (mean)", "2 (logL - max)");
        for (int i = 0; i < n; i++)
            printf("%12.5g %16.6f %16.4f%s\n", grid[i], logl[i], 2 * (logl[i] - iv.max_logl),
                   i == iv.best_index ? "  <- max" : "");
        printf("maximum at %s = %.5g (log L = %.6f); 68%% interval [%.5g%s, %.5g%s]; true %.5g %s\n", a.param,
               iv.best, iv.max_logl, iv.lo, iv.lo_open ? " (grid edge)" : "", iv.hi,
               iv.hi_open ? " (grid edge)" : "", truth, truth >= iv.lo && truth <= iv.hi ? "(inside)" : "(outside)");
        printf("wrote %s\n", a.out);
    }
    hg_batch_free(&bt);
    hg_pipeline_free(&pl);
    hg_dataset_free(&ds);
    hg_run_free(&r);
    free(grid);
    free(logl);
    free(rep);
    return hg_cli_mpi_end(cmd, &comm, s);
}

static int run_nelbo(int argc, char **argv) {
    const char *cmd = "nelbo";
    if (hg_cli_wants_help(argc, argv)) {
        hg_cli_usage(USAGE_N, stdout);
        return HG_EXIT_OK;
    }
    args a;
    int rc = parse(cmd, argc, argv, &a, 0);
    if (rc >= 0) return rc;
    hg_comm comm;
    if ((rc = hg_cli_mpi_begin(cmd, &comm))) return rc;
    hg_run r;
    hg_dataset ds;
    hg_pipeline pl;
    hg_split split;
    hg_status s = open_inputs(&a, &r, &ds, &pl, &split);
    int64_t n = s.code == HG_OK ? pl.n_clouds : 0, K = a.replicas;
    double *nel = malloc(sizeof(double) * (size_t)(n ? n : 1));
    double *parts = malloc(sizeof(double) * 3 * (size_t)(n ? n : 1));
    double *rep = malloc(sizeof(double) * (size_t)((n ? n : 1) * K));
    if (s.code == HG_OK && (!nel || !parts || !rep)) s = hg_error(HG_ERR_NOMEM, "nelbo");
    if (s.code == HG_OK) {
        hg_nelbo_options o;
        hg_cli_counter pc;
        nelbo_opts(&a, &o, &pc);
        o.batch = (int)a.batch;
        o.comm = &comm;
        if (comm.rank != 0) o.progress = NULL;
        s = hg_nelbo_split(&r, &pl, &o, nel, parts, rep);
    }
    double mean = 0, pts = 0;
    if (s.code == HG_OK && comm.rank == 0) {
        int64_t C = pl.n_cond;
        for (int64_t i = 0; i < n; i++) {
            mean += nel[i] / n;
            double cnt = 0;
            for (int64_t j = 0; j < pl.n_points; j++) cnt += pl.mask[i * pl.n_points + j];
            pts += cnt / n;
        }
        hg_tensor tn = {HG_F64, hg_shape_of(1, n), nel, 0};
        hg_tensor tp = {HG_F64, hg_shape_of(2, n, (int64_t)3), parts, 0};
        hg_tensor trp = {HG_F64, hg_shape_of(2, n, K), rep, 0};
        hg_tensor ts = {HG_I32, hg_shape_of(1, n), pl.sims, 0};
        hg_tensor tc = {HG_F32, hg_shape_of(2, n, C), pl.cond, 0};
        const char *names[HG_PIPE_MAX_COND], *pn[3] = {"recon", "klz", "diff"};
        for (int i = 0; i < C; i++) names[i] = pl.cfg.n_cond ? pl.cfg.cond_names[i] : (i ? "sigma_8" : "Omega_m");
        hg_out *w = NULL;
        s = hg_out_create(a.out, &w);
        if (s.code == HG_OK) s = hg_out_tensor(w, "nelbo", &tn);
        if (s.code == HG_OK) s = hg_out_tensor(w, "nelbo_parts", &tp);
        if (s.code == HG_OK) s = hg_out_attr_strs(w, "nelbo_parts", "names", pn, 3);
        if (s.code == HG_OK) s = hg_out_tensor(w, "nelbo_replicas", &trp);
        if (s.code == HG_OK) s = hg_out_tensor(w, "sims", &ts);
        if (s.code == HG_OK) s = hg_out_tensor(w, "cond", &tc);
        if (s.code == HG_OK) s = hg_out_attr_strs(w, "cond", "names", names, (int)C);
        if (s.code == HG_OK) s = hg_out_attr_str(w, "/", "format", "halograph-nelbo-1");
        if (s.code == HG_OK) s = common_attrs(w, &a, &r, &ds);
        if (s.code == HG_OK) s = hg_out_attr_f64(w, "/", "mean_nelbo", mean);
        if (w) {
            hg_status s2 = hg_out_close(w, s.code == HG_OK);
            if (s.code == HG_OK) s = s2;
        }
    }
    if (s.code == HG_OK && comm.rank == 0)
        printf("NELBO of %lld %s clouds (S = %ld, K = %lld): mean %.6g, per point %.6g\nwrote %s\n", (long long)n,
               a.split, a.steps, (long long)K, mean, mean / (pts > 0 ? pts : 1), a.out);
    hg_pipeline_free(&pl);
    hg_dataset_free(&ds);
    hg_run_free(&r);
    free(nel);
    free(parts);
    free(rep);
    return hg_cli_mpi_end(cmd, &comm, s);
}

/* Per-cloud results of `coverage`. */
typedef struct {
    double *truth, *best, *lo68, *hi68, *lo95, *hi95, *logl;
    int32_t *open68, *open95, *sims;
} coverage_rows;

static hg_status coverage_save(const args *a, const hg_run *r, const hg_dataset *ds, const double *grid, int G,
                               int64_t M, const coverage_rows *c, const double summary[4]) {
    hg_out *w = NULL;
    hg_status s = hg_out_create(a->out, &w);
    struct {
        const char *name;
        void *data;
        hg_dtype t;
    } cols[] = {{"truth", c->truth, HG_F64}, {"best", c->best, HG_F64}, {"lo68", c->lo68, HG_F64},
                {"hi68", c->hi68, HG_F64},   {"lo95", c->lo95, HG_F64}, {"hi95", c->hi95, HG_F64},
                {"open68", c->open68, HG_I32}, {"open95", c->open95, HG_I32}, {"sims", c->sims, HG_I32}};
    hg_tensor tg = {HG_F64, hg_shape_of(1, (int64_t)G), (void *)grid, 0};
    hg_tensor tl = {HG_F64, hg_shape_of(2, M, (int64_t)G), c->logl, 0};
    if (s.code == HG_OK) s = hg_out_tensor(w, "grid", &tg);
    if (s.code == HG_OK) s = hg_out_tensor(w, "loglik", &tl);
    for (size_t i = 0; s.code == HG_OK && i < sizeof cols / sizeof cols[0]; i++) {
        hg_tensor t = {cols[i].t, hg_shape_of(1, M), cols[i].data, 0};
        s = hg_out_tensor(w, cols[i].name, &t);
    }
    if (s.code == HG_OK) s = hg_out_attr_str(w, "/", "format", "halograph-coverage-1");
    if (s.code == HG_OK) s = common_attrs(w, a, r, ds);
    if (s.code == HG_OK) s = hg_out_attr_str(w, "/", "param", a->param);
    const char *names[4] = {"frac68", "frac95", "mean_bias", "mean_width68"};
    for (int i = 0; s.code == HG_OK && i < 4; i++) s = hg_out_attr_f64(w, "/", names[i], summary[i]);
    if (s.code == HG_OK) s = hg_out_attr_f64(w, "/", "delta_chi2_68", HG_DELTA_CHI2_68);
    if (s.code == HG_OK) s = hg_out_attr_f64(w, "/", "delta_chi2_95", HG_DELTA_CHI2_95);
    if (w) {
        hg_status s2 = hg_out_close(w, s.code == HG_OK);
        if (s.code == HG_OK) s = s2;
    }
    return s;
}

static int run_coverage(int argc, char **argv) {
    const char *cmd = "coverage";
    if (hg_cli_wants_help(argc, argv)) {
        hg_cli_usage(USAGE_C, stdout);
        return HG_EXIT_OK;
    }
    args a;
    int rc = parse(cmd, argc, argv, &a, 2);
    if (rc >= 0) return rc;
    double lo, hi;
    int G;
    if ((rc = parse_grid(cmd, &a, &lo, &hi, &G)) >= 0) return rc;
    hg_run r;
    hg_dataset ds;
    hg_pipeline pl;
    hg_split split;
    hg_status s = open_inputs(&a, &r, &ds, &pl, &split);
    int param = -1;
    if (s.code == HG_OK) s = param_index(&r, a.param, &param);
    int64_t M = s.code == HG_OK ? pl.n_clouds : 0;
    if (a.max_clouds && M > a.max_clouds) M = a.max_clouds;
    if (s.code == HG_OK && M < 1) s = hg_error(HG_ERR_INVALID, "the %s split of %s has no clouds", a.split, a.data);
    size_t m1 = (size_t)(M > 0 ? M : 1);
    coverage_rows c;
    double *f64[7] = {NULL};
    for (int i = 0; i < 7; i++) f64[i] = malloc(sizeof(double) * m1 * (i == 6 ? (size_t)G : 1));
    c.truth = f64[0], c.best = f64[1], c.lo68 = f64[2], c.hi68 = f64[3], c.lo95 = f64[4], c.hi95 = f64[5];
    c.logl = f64[6];
    c.open68 = malloc(sizeof(int32_t) * m1), c.open95 = malloc(sizeof(int32_t) * m1);
    c.sims = malloc(sizeof(int32_t) * m1);
    double *grid = malloc(sizeof(double) * (size_t)G), *rep = malloc(sizeof(double) * (size_t)G * (size_t)a.replicas);
    int ok_alloc = grid && rep && c.open68 && c.open95 && c.sims;
    for (int i = 0; i < 7; i++) ok_alloc = ok_alloc && f64[i];
    if (s.code == HG_OK && !ok_alloc) s = hg_error(HG_ERR_NOMEM, "coverage");
    if (s.code == HG_OK) fill_grid(grid, lo, hi, G);
    double summary[4] = {0, 0, 0, 0}; /* frac68, frac95, mean bias, mean 68% width */
    if (s.code == HG_OK)
        printf("coverage of %s in the %s split of %s: %lld clouds, grid %g:%g:%d, S = %ld, K = %ld\n"
               "%6s %6s %10s %10s %23s %23s\n",
               a.param, a.split, a.data, (long long)M, lo, hi, G, a.steps, a.replicas, "index", "sim", "true",
               "max-like", "68% interval", "95% interval");
    for (int64_t i = 0; s.code == HG_OK && i < M; i++) {
        hg_batch bt;
        memset(&bt, 0, sizeof bt);
        s = hg_pipeline_eval_batch(&pl, i, 1, &bt);
        hg_nelbo_options o;
        hg_cli_counter pc;
        nelbo_opts(&a, &o, &pc);
        double *row = c.logl + i * G;
        if (s.code == HG_OK)
            s = hg_likelihood_profile(&r, bt.x.data, bt.mask.data, bt.cond.data, param, grid, G, &o, row, rep);
        hg_interval i68, i95;
        if (s.code == HG_OK) s = hg_profile_interval_at(grid, row, G, HG_DELTA_CHI2_68, &i68);
        if (s.code == HG_OK) s = hg_profile_interval_at(grid, row, G, HG_DELTA_CHI2_95, &i95);
        if (s.code == HG_OK) {
            c.truth[i] = ((float *)bt.cond.data)[param];
            c.sims[i] = ((int32_t *)bt.sims.data)[0];
            c.best[i] = i68.best;
            c.lo68[i] = i68.lo, c.hi68[i] = i68.hi, c.open68[i] = i68.lo_open || i68.hi_open;
            c.lo95[i] = i95.lo, c.hi95[i] = i95.hi, c.open95[i] = i95.lo_open || i95.hi_open;
            summary[0] += (c.truth[i] >= i68.lo && c.truth[i] <= i68.hi) / (double)M;
            summary[1] += (c.truth[i] >= i95.lo && c.truth[i] <= i95.hi) / (double)M;
            summary[2] += (c.best[i] - c.truth[i]) / (double)M;
            summary[3] += (i68.hi - i68.lo) / (double)M;
            printf("%6lld %6d %10.5g %10.5g [%9.5g, %9.5g]%s [%9.5g, %9.5g]%s\n", (long long)i, c.sims[i], c.truth[i],
                   c.best[i], c.lo68[i], c.hi68[i], c.open68[i] ? "*" : " ", c.lo95[i], c.hi95[i],
                   c.open95[i] ? "*" : " ");
            fflush(stdout);
        }
        hg_batch_free(&bt);
    }
    if (s.code == HG_OK) s = coverage_save(&a, &r, &ds, grid, G, M, &c, summary);
    if (s.code == HG_OK)
        printf("(* = the interval reaches a grid end)\n"
               "%s: truth inside the 68%% interval for a fraction %.3g of the %lld clouds (%.0f), inside the 95%%\n"
               "interval for %.3g (%.0f); mean bias (max-likelihood - true) %.5g, mean 68%% width %.5g\nwrote %s\n",
               a.param, summary[0], (long long)M, summary[0] * (double)M, summary[1], summary[1] * (double)M,
               summary[2], summary[3], a.out);
    hg_pipeline_free(&pl);
    hg_dataset_free(&ds);
    hg_run_free(&r);
    for (int i = 0; i < 7; i++) free(f64[i]);
    free(c.open68);
    free(c.open95);
    free(c.sims);
    free(grid);
    free(rep);
    return s.code ? hg_cli_status(cmd, s) : HG_EXIT_OK;
}

HG_COMMAND(likelihood, "likelihood", "likelihood profile of one cloud over a parameter grid (SPEC 3.6)",
           run_likelihood)
HG_COMMAND(nelbo, "nelbo", "per-cloud NELBO of a dataset split at the true conditioning (SPEC 3.6)", run_nelbo)
HG_COMMAND(coverage, "coverage", "likelihood-profile calibration over a split: 68%/95% coverage and bias (SPEC 3.6)",
           run_coverage)
