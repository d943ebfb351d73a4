/* halograph inspect: what a dataset (or checkpoint) file holds. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "tools/cli.h"

static void print_dataset(const char *path, const hg_dataset *ds) {
    int64_t S = hg_dataset_n_sims(ds), N = hg_dataset_n_points(ds), F = ds->n_features;
    printf("dataset %s\n", path);
    printf("  halos      float32 [%lld, %lld, %lld] (sims, points, features), most massive first\n", (long long)S,
           (long long)N, (long long)F);
    printf("  cosmology  float32 [%lld, %d]\n", (long long)S, ds->n_params);
    printf("  box size   %g Mpc/h\n  redshift   %g\n", ds->box_size, ds->redshift);
    printf("  source     %s\n  licence    %s\n", ds->source, ds->licence);
    printf("  checksum   %016llx\n", (unsigned long long)ds->checksum);
    int64_t cmin = N, cmax = 0;
    for (int64_t s = 0; s < S; s++) {
        int64_t c = ds->counts.data ? ((const int32_t *)ds->counts.data)[s] : N;
        if (c < cmin) cmin = c;
        if (c > cmax) cmax = c;
    }
    printf("  haloes per cloud  %lld .. %lld%s\n", (long long)cmin, (long long)cmax,
           cmin == N ? " (no padding)" : " (padded)");
    printf("  splits (seed %llu):", (unsigned long long)ds->split_seed);
    for (int k = 0; k < HG_NUM_SPLITS; k++) printf(" %s %lld", hg_split_name(k), (long long)ds->split_n[k]);
    printf("\n  features:\n");
    const float *x = ds->halos.data;
    for (int64_t f = 0; f < F; f++) {
        double lo = INFINITY, hi = -INFINITY, sum = 0;
        int64_t n = 0;
        for (int64_t s = 0; s < S; s++) {
            int64_t c = ds->counts.data ? ((const int32_t *)ds->counts.data)[s] : N;
            for (int64_t r = 0; r < c; r++) {
                double v = x[(s * N + r) * F + f];
                if (v < lo) lo = v;
                if (v > hi) hi = v;
                sum += v;
                n++;
            }
        }
        printf("    %-4s [%-6s]  min %-12.6g max %-12.6g mean %.6g", ds->feature_names[f], ds->feature_units[f], lo,
               hi, n ? sum / n : NAN);
        if (!strcmp(ds->feature_names[f], "M")) printf("  (log10 %.3f .. %.3f)", log10(lo), log10(hi));
        printf("\n");
    }
    printf("  parameters:\n");
    const float *c = ds->cosmology.data;
    for (int j = 0; j < ds->n_params; j++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int64_t s = 0; s < S; s++) {
            double v = c[s * ds->n_params + j];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        printf("    %-10s %.6g .. %.6g\n", ds->param_names[j], lo, hi);
    }
}

static void print_checkpoint(const char *path, const hg_checkpoint *ck) {
    int64_t total = 0;
    printf("checkpoint %s\n  step %lld, seed %llu, dataset checksum %016llx\n", path, (long long)ck->step,
           (unsigned long long)ck->seed, (unsigned long long)ck->dataset_checksum);
    for (int i = 0; i < ck->n_counters; i++)
        printf("  counter %s = %lld\n", ck->counter_names[i], (long long)ck->counters[i]);
    if (ck->has_norm) {
        printf("  normalisation (%d features):", ck->norm.n_features);
        for (int f = 0; f < ck->norm.n_features; f++) printf(" %.4g+-%.4g", ck->norm.mean[f], ck->norm.std[f]);
        printf("\n");
    }
    printf("  state (%d tensors):\n", ck->state.n);
    for (int i = 0; i < ck->state.n; i++) {
        char sb[96];
        printf("    %-50s %s%s\n", ck->state.e[i].name, hg_dtype_name(ck->state.e[i].t.dtype),
               hg_shape_str(ck->state.e[i].t.shape, sb, sizeof sb));
        total += hg_shape_numel(ck->state.e[i].t.shape);
    }
    printf("  %lld values in total\n", (long long)total);
    printf("  config:\n%s\n", ck->config_yaml ? ck->config_yaml : "(none)");
}

/* Reads the root attribute "format" to tell datasets from checkpoints. */
static int file_kind(const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) <= 0) return -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    int kind = 0;
    if (H5Lexists(f, "state", H5P_DEFAULT) > 0) kind = 1;
    H5Fclose(f);
    return kind;
}

static int run_inspect(int argc, char **argv) {
    const char *cmd = "inspect";
    if (hg_cli_wants_help(argc, argv) || argc != 2) {
        FILE *f = argc == 2 ? stdout : stderr;
        fprintf(f, "usage: halograph inspect FILE.h5\n\n"
                   "Prints what a dataset holds (shapes, box, splits, feature and parameter ranges)\n"
                   "or, for a checkpoint, its step, counters, normalisation, state tensors and config.\n");
        return argc == 2 ? HG_EXIT_OK : HG_EXIT_USAGE;
    }
    const char *path = argv[1];
    if (file_kind(path) == 1) {
        hg_checkpoint ck;
        hg_checkpoint_init(&ck);
        hg_status s = hg_checkpoint_load(path, NULL, NULL, &ck);
        if (s.code) return hg_cli_status(cmd, s);
        print_checkpoint(path, &ck);
        hg_checkpoint_free(&ck);
        return HG_EXIT_OK;
    }
    hg_dataset ds;
    hg_dataset_init(&ds);
    hg_status s = hg_dataset_load(path, &ds);
    if (s.code) return hg_cli_status(cmd, s);
    print_dataset(path, &ds);
    hg_dataset_free(&ds);
    return HG_EXIT_OK;
}

HG_COMMAND(inspect, "inspect", "print what a dataset or checkpoint file holds", run_inspect)
