/* `halograph xi`: the two-point correlation function of one stored cloud
 * (SPEC 6), real space or redshift-space multipoles. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/eval.h"
#include "runtime/runtime.h"
#include "tools/cli.h"

static const char *USAGE =
    "usage: halograph xi --data D.h5 [--split train|val|test] --index I [--rsd]\n"
    "                    [--bins LO:HI:N] [--threads N] --out X.h5\n\n"
    "Two-point correlation function (SPEC 6) of one simulation of a dataset:\n"
    "periodic pair counts (ordered pairs i != j, minimum image) and the natural\n"
    "estimator with the analytic random-random count of the periodic box.\n"
    "  --index I      simulation number within --split (default: all simulations,\n"
    "                 in stored order)\n"
    "  --rsd          redshift space along z (v_z / (H a)), multipoles xi_0, xi_2\n"
    "                 from 200 mu bins; needs velocities and Omega_m in the data\n"
    "  --bins LO:HI:N r bin edges linspace(LO, HI, N) in Mpc/h (N edges, N-1 bins;\n"
    "                 default 0.5:120:60)\n"
    "Writes datasets r_edges, npairs, xi (real space) and, with --rsd, mu_edges,\n"
    "npairs_smu [bins, 200], xi_0, xi_2 (redshift space).\n";

static int run_xi(int argc, char **argv) {
    const char *cmd = "xi";
    if (hg_cli_wants_help(argc, argv)) {
        fputs(USAGE, stdout);
        return HG_EXIT_OK;
    }
    const char *data = NULL, *split = NULL, *out = NULL, *bins = NULL;
    long index = -1, threads = 0;
    int rsd = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--rsd")) {
            rsd = 1;
        } else if (!strcmp(a, "--data") && has) {
            data = argv[++i];
        } else if (!strcmp(a, "--split") && has) {
            split = argv[++i];
        } else if (!strcmp(a, "--out") && has) {
            out = argv[++i];
        } else if (!strcmp(a, "--bins") && has) {
            bins = argv[++i];
        } else if (!strcmp(a, "--index") && has) {
            if (hg_cli_parse_int(argv[++i], 0, 1L << 40, &index))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--index: not a non-negative integer: %s", argv[i]);
        } else if (!strcmp(a, "--threads") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 4096, &threads))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--threads: not a positive integer: %s", argv[i]);
        } else {
            return hg_cli_bad_arg(cmd, a, !has, "--data --split --out --bins --index --threads");
        }
    }
    if (!data || !out || index < 0)
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--data, --index and --out are required (see halograph xi --help)");
    hg_split sp;
    if (split && hg_cli_parse_split(split, &sp))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--split: expected train, val or test, got '%s'", split);
    hg_cli_inputs in = {0};
    hg_cli_inputs_add(&in, data);
    int rc = hg_cli_check_output(cmd, out, &in);
    hg_cli_inputs_free(&in);
    if (rc) return rc;
    if (threads > 0) omp_set_num_threads((int)threads);
    double *edges = NULL;
    int ne = 0;
    if (bins) {
        hg_status bs = hg_eval_parse_linspace(bins, &edges, &ne);
        if (bs.code != HG_OK) return hg_cli_fail(cmd, HG_EXIT_USAGE, "--bins: %s", bs.msg);
    } else {
        ne = HG_EVAL_R_NEDGES;
        edges = malloc(sizeof(double) * ne);
        if (!edges) return hg_cli_fail(cmd, HG_EXIT_FAIL, "out of memory");
        hg_eval_linspace(HG_EVAL_R_LO, HG_EVAL_R_HI, ne, edges);
    }

    hg_dataset ds;
    hg_dataset_init(&ds);
    int64_t sim = 0, *npairs = NULL, *smu = NULL;
    double *xi = NULL, *x0 = NULL, *x2 = NULL;
    float *cloud = NULL, *z = NULL;
    int nb = ne - 1, nmu = HG_EVAL_N_MU;
    hg_status s = hg_dataset_load(data, &ds);
    if (s.code == HG_OK) s = hg_eval_pick_sim(&ds, split, index, &sim);
    int64_t n = 0, F = ds.n_features, P = hg_dataset_n_points(&ds);
    double om = -1;
    if (s.code == HG_OK) {
        n = ((const int32_t *)ds.counts.data)[sim];
        cloud = (float *)ds.halos.data + sim * P * F;
        if (rsd) {
            for (int k = 0; k < ds.n_params; k++)
                if (!strcmp(ds.param_names[k], "Omega_m"))
                    om = ((const float *)ds.cosmology.data)[sim * ds.n_params + k];
            if (om < 0)
                s = hg_error(HG_ERR_INVALID, "%s: --rsd needs the cosmological parameter Omega_m", data);
            else if (F < 6)
                s = hg_error(HG_ERR_INVALID, "%s: --rsd needs velocities, the dataset has %lld features",
                             data, (long long)F);
        }
    }
    npairs = calloc((size_t)nb, sizeof(int64_t));
    xi = calloc((size_t)nb, sizeof(double));
    if (s.code == HG_OK && (!npairs || !xi)) s = hg_error(HG_ERR_NOMEM, "--bins: out of memory for %d bins", nb);
    if (s.code == HG_OK) s = hg_eval_pair_counts(cloud, n, (int)F, ds.box_size, edges, ne, npairs);
    if (s.code == HG_OK) s = hg_eval_xi_from_counts(npairs, n, ds.box_size, edges, ne, xi);
    if (s.code == HG_OK && rsd) {
        z = malloc(sizeof(float) * 3 * (size_t)(n ? n : 1));
        smu = malloc(sizeof(int64_t) * (size_t)nb * nmu);
        x0 = malloc(sizeof(double) * (size_t)nb);
        x2 = malloc(sizeof(double) * (size_t)nb);
        if (!z || !smu || !x0 || !x2)
            s = hg_error(HG_ERR_NOMEM, "%s: out of memory for the redshift-space counts of %lld haloes", data,
                         (long long)n);
        if (s.code == HG_OK) s = hg_eval_rsd_positions(cloud, n, (int)F, ds.box_size, om, ds.redshift, z);
        if (s.code == HG_OK) s = hg_eval_pair_counts_smu(z, n, 3, ds.box_size, edges, ne, nmu, smu);
        if (s.code == HG_OK) s = hg_eval_multipoles_from_counts(smu, n, ds.box_size, edges, ne, nmu, x0, x2);
    }
    if (s.code == HG_OK) {
        hg_eval_writer w;
        s = hg_eval_writer_open(&w, out);
        if (s.code == HG_OK) {
            int64_t de = ne, db = nb, dsm[2] = {nb, nmu}, dmu = nmu + 1;
            hg_eval_write_f64(&w, "r_edges", 1, &de, edges);
            hg_eval_write_i64(&w, "npairs", 1, &db, npairs);
            hg_eval_write_f64(&w, "xi", 1, &db, xi);
            if (rsd) {
                double mu[HG_EVAL_N_MU + 1];
                hg_eval_linspace(-1, 1, nmu + 1, mu);
                hg_eval_write_f64(&w, "mu_edges", 1, &dmu, mu);
                hg_eval_write_i64(&w, "npairs_smu", 2, dsm, smu);
                hg_eval_write_f64(&w, "xi_0", 1, &db, x0);
                hg_eval_write_f64(&w, "xi_2", 1, &db, x2);
                hg_eval_write_attr_f64(&w, "/", "omega_m", &om, 1);
            }
            hg_eval_write_attr_str(&w, "/", "data", data);
            hg_eval_write_attr_str(&w, "/", "split", split ? split : "all");
            hg_eval_write_attr_i64(&w, "/", "index", index);
            hg_eval_write_attr_i64(&w, "/", "simulation", sim);
            hg_eval_write_attr_i64(&w, "/", "n_points", n);
            hg_eval_write_attr_f64(&w, "/", "box_size", &ds.box_size, 1);
            hg_eval_write_attr_f64(&w, "/", "redshift", &ds.redshift, 1);
            hg_eval_write_attr_str(&w, "/", "estimator",
                                   "natural, analytic periodic RR: DD / (N (N-1) V_shell / L^3) - 1; "
                                   "DD = ordered pairs i != j, minimum image (SPEC 6)");
            s = hg_eval_writer_close(&w);
        }
    }
    if (s.code == HG_OK)
        printf("xi of simulation %lld (%lld haloes, %d bins%s) written to %s\n", (long long)sim,
               (long long)n, nb, rsd ? ", with redshift-space multipoles" : "", out);
    free(edges);
    free(npairs);
    free(xi);
    free(x0);
    free(x2);
    free(smu);
    free(z);
    hg_dataset_free(&ds);
    return s.code == HG_OK ? HG_EXIT_OK : hg_cli_status(cmd, s);
}

HG_COMMAND(xi, "xi", "two-point correlation function of one stored cloud (SPEC 6)", run_xi)
