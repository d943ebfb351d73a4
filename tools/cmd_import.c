/* halograph import: reference-layout halo catalogues (.npy + cosmology
 * table) -> an HDF5 dataset (runtime.h, SPEC 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "tools/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: halograph import --halos H.npy (--cosmology C.csv | --params-table P.txt [--params-offset K])\n"
            "                        --box L [--redshift Z] [--split 0.8,0.1,0.1] [--seed S]\n"
            "                        [--source TEXT] [--licence TEXT] [--require Omega_m,sigma_8] --out D.h5\n\n"
            "Imports halo catalogues in the reference layout into an HDF5 dataset.\n"
            "  --halos H.npy        float32/float64 [n_sims, n_points, F], F = 3 (x,y,z), 6 (+vx,vy,vz) or 7 (+M);\n"
            "                       positions in [0, L] (L wraps to 0); each cloud is re-sorted by mass, most massive first\n"
            "  --cosmology C.csv    one row per simulation, header with parameter names; a leading index column is dropped\n"
            "  --params-table P     whitespace table with a '#name ...' header (Quijote LH); row K+i is simulation i\n"
            "  --box L              periodic box side in Mpc/h (required)\n"
            "  --redshift Z         default 0\n"
            "  --split a,b,c        train,val,test fractions (default 0.8,0.1,0.1), drawn with --seed (default 52)\n"
            "  --require LIST       parameters that must be present (default Omega_m,sigma_8; '' for none)\n"
            "  --out D.h5           written atomically (temporary file + rename)\n");
}

/* Three comma-separated fractions >= 0 summing to 1 (+-1e-6, as
 * hg_dataset_make_splits requires). */
static int parse_split(const char *s, double f[3]) {
    char buf[128];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf) return -1;
    int n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n == 3 || hg_cli_parse_double(tok, &f[n]) || f[n] < 0) return -1;
        n++;
    }
    return n == 3 && fabs(f[0] + f[1] + f[2] - 1) <= 1e-6 ? 0 : -1;
}

static const char *VALUE_OPTIONS = "--halos --cosmology --params-table --params-offset --box --redshift --split "
                                   "--seed --source --licence --license --require --out";

static int run_import(int argc, char **argv) {
    const char *cmd = "import";
    if (hg_cli_wants_help(argc, argv)) {
        usage(stdout);
        return HG_EXIT_OK;
    }
    hg_import_options o;
    hg_import_options_default(&o);
    const char *out = NULL;
    int have_box = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return hg_cli_bad_arg(cmd, a, 1, VALUE_OPTIONS);
        const char *v = argv[++i];
        long lv;
        if (!strcmp(a, "--halos")) o.halos_path = v;
        else if (!strcmp(a, "--cosmology")) o.cosmology_path = v;
        else if (!strcmp(a, "--params-table")) o.params_path = v;
        else if (!strcmp(a, "--params-offset")) {
            if (hg_cli_parse_int(v, 0, 1L << 30, &lv)) return hg_cli_fail(cmd, HG_EXIT_USAGE, "--params-offset: bad value '%s'", v);
            o.params_offset = lv;
        } else if (!strcmp(a, "--box")) {
            if (hg_cli_parse_double(v, &o.box_size) || !(o.box_size > 0))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--box: '%s' is not a positive number", v);
            have_box = 1;
        } else if (!strcmp(a, "--redshift")) {
            if (hg_cli_parse_double(v, &o.redshift) || o.redshift < 0)
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--redshift: '%s' is not a number >= 0", v);
        } else if (!strcmp(a, "--split")) {
            if (parse_split(v, o.split))
                return hg_cli_fail(cmd, HG_EXIT_USAGE,
                                   "--split: '%s' is not three comma-separated fractions >= 0 summing to 1", v);
        } else if (!strcmp(a, "--seed")) {
            if (hg_cli_parse_int(v, 0, 0x7fffffffL, &lv)) return hg_cli_fail(cmd, HG_EXIT_USAGE, "--seed: bad value '%s'", v);
            o.seed = (uint64_t)lv;
        } else if (!strcmp(a, "--source")) o.source = v;
        else if (!strcmp(a, "--licence") || !strcmp(a, "--license")) o.licence = v;
        else if (!strcmp(a, "--require")) o.required_params = v;
        else if (!strcmp(a, "--out")) out = v;
        else return hg_cli_bad_arg(cmd, a, 0, VALUE_OPTIONS);
    }
    if (!o.halos_path) return hg_cli_fail(cmd, HG_EXIT_USAGE, "--halos is required");
    if (!o.cosmology_path == !o.params_path)
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "give exactly one of --cosmology and --params-table");
    if (!have_box) return hg_cli_fail(cmd, HG_EXIT_USAGE, "--box is required (periodic box side in Mpc/h)");
    if (!out) return hg_cli_fail(cmd, HG_EXIT_USAGE, "--out is required");
    hg_cli_inputs in = {0};
    hg_cli_inputs_add(&in, o.halos_path);
    hg_cli_inputs_add(&in, o.cosmology_path);
    hg_cli_inputs_add(&in, o.params_path);
    int rc = hg_cli_check_output(cmd, out, &in);
    hg_cli_inputs_free(&in);
    if (rc) return rc;
    hg_dataset ds;
    hg_dataset_init(&ds);
    hg_status s = hg_import(&o, &ds);
    if (s.code == HG_OK) s = hg_dataset_save(out, &ds);
    if (s.code != HG_OK) {
        hg_dataset_free(&ds);
        return hg_cli_status(cmd, s);
    }
    printf("wrote %s: %lld simulations x %lld haloes x %d features, %d parameters, box %g Mpc/h, "
           "split %lld/%lld/%lld, checksum %016llx\n",
           out, (long long)hg_dataset_n_sims(&ds), (long long)hg_dataset_n_points(&ds), ds.n_features, ds.n_params,
           ds.box_size, (long long)ds.split_n[0], (long long)ds.split_n[1], (long long)ds.split_n[2],
           (unsigned long long)ds.checksum);
    hg_dataset_free(&ds);
    return HG_EXIT_OK;
}

HG_COMMAND(import, "import", "import halo catalogues (.npy + cosmology table) into an HDF5 dataset", run_import)
