/* `halograph sample`: generates point clouds with a trained model (SPEC 3.5). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/drivers.h"
#include "tools/cli.h"

static const char *USAGE =
    "usage: halograph sample --run RUN --n M --steps T\n"
    "                        (--cond Omega_m=V,sigma_8=V | --cond-from D.h5:SPLIT [--index I])\n"
    "                        [--seed S] [--batch B] [--backend NAME] [--threads N] [--profile]\n"
    "                        --out S.h5\n\n"
    "Generates M point clouds with the model of the training run RUN (its latest\n"
    "checkpoint) by ancestral sampling over T steps (SPEC 3.5; the paper uses T = 500).\n"
    "  --cond LIST        the conditioning of every cloud, each parameter NAME=VALUE\n"
    "  --cond-from D:SPLIT  the conditioning of the clouds of that split of dataset D,\n"
    "                     one per sample, cycling through the split in order; with\n"
    "                     --index I every sample takes the conditioning of cloud I\n"
    "  --seed S           random seed (default 0); the same seed gives the same clouds\n"
    "  --batch B          clouds per graph call (default: min(M, training batch size))\n"
    "  --backend NAME     " HG_CLI_BACKENDS "\n"
    "  --profile          print the per-kernel profiles of the sampling graphs at the end\n"
    "  --threads N        OpenMP threads (default: all cores)\n"
    "Writes S.h5 atomically: /samples f32 [M, N, F] in physical units (positions in\n"
    "[0, L) Mpc/h, velocities km/s, mass in Msun/h, linear), /cond f32 [M, C]\n"
    "(attribute names), /sims i32 [M] (dataset index of the conditioning's cloud, -1\n"
    "for --cond), and attributes box_size, redshift, seed, steps and the run's\n"
    "provenance (run_dir, config, checkpoint_step, dataset, dataset_checksum).\n";


static int run_sample(int argc, char **argv) {
    const char *cmd = "sample";
    if (hg_cli_wants_help(argc, argv)) {
        hg_cli_usage(USAGE, stdout);
        return HG_EXIT_OK;
    }
    const char *run_dir = NULL, *cond_s = NULL, *cond_from = NULL, *out = NULL, *backend = NULL;
    long n = 0, steps = 0, seed = 0, batch = 0, threads = 0, index = -1;
    int profile = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--profile")) profile = 1;
        else if (!strcmp(a, "--run") && has) run_dir = argv[++i];
        else if (!strcmp(a, "--cond") && has) cond_s = argv[++i];
        else if (!strcmp(a, "--cond-from") && has) cond_from = argv[++i];
        else if (!strcmp(a, "--out") && has) out = argv[++i];
        else if (!strcmp(a, "--backend") && has) backend = argv[++i];
        else if (!strcmp(a, "--n") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 1000000, &n))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--n: '%s' is not an integer in [1, 1e6]", argv[i]);
        } else if (!strcmp(a, "--steps") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 1000000, &steps))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--steps: '%s' is not an integer in [1, 1e6]", argv[i]);
        } else if (!strcmp(a, "--seed") && has) {
            if (hg_cli_parse_int(argv[++i], 0, 0xffffffffL, &seed))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--seed: '%s' is not an integer in [0, 2^32)", argv[i]);
        } else if (!strcmp(a, "--batch") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 100000, &batch))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--batch: '%s' is not an integer >= 1", argv[i]);
        } else if (!strcmp(a, "--index") && has) {
            if (hg_cli_parse_int(argv[++i], 0, 2000000000L, &index))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--index: '%s' is not an integer >= 0", argv[i]);
        } else if (!strcmp(a, "--threads") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 4096, &threads))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--threads: '%s' is not an integer in [1, 4096]", argv[i]);
        } else {
            return hg_cli_bad_arg(cmd, a, !has,
                                  "--run --cond --cond-from --out --backend --n --steps --seed --batch --index --threads");
        }
    }
    if (!run_dir || !n || !steps || !out)
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--run, --n, --steps and --out are required (see halograph sample --help)");
    if (cond_s && cond_from)
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--cond and --cond-from exclude each other");
    if (index >= 0 && !cond_from) return hg_cli_fail(cmd, HG_EXIT_USAGE, "--index needs --cond-from");
    if (backend && !hg_cli_backend_known(backend))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--backend: unknown backend '%s' (available: %s)", backend,
                           hg_program_backends());
    hg_status ps = cond_s ? hg_parse_cond(cond_s, NULL, NULL) : hg_ok();
    if (ps.code) return hg_cli_fail(cmd, HG_EXIT_USAGE, "%s", ps.msg);
    char from_path[HG_PATH_MAX] = "";
    hg_split from_split;
    if (cond_from) {
        ps = hg_parse_data_split(cond_from, from_path, sizeof from_path, &from_split);
        if (ps.code) return hg_cli_fail(cmd, HG_EXIT_USAGE, "--cond-from: %s", ps.msg);
    }
    hg_cli_inputs in = {0};
    hg_cli_inputs_add_run(&in, run_dir);
    if (cond_from) hg_cli_inputs_add(&in, from_path);
    int rc = hg_cli_check_output(cmd, out, &in);
    hg_cli_inputs_free(&in);
    if (rc) return rc;
    if (threads) omp_set_num_threads((int)threads);

    hg_comm comm;
    if ((rc = hg_cli_mpi_begin(cmd, &comm))) return rc;
    hg_run r;
    hg_status s = hg_run_open(run_dir, &r);
    if (s.code) {
        hg_run_free(&r);
        return hg_cli_mpi_end(cmd, &comm, s);
    }
    int C = r.cfg.n_cond;
    float *cond = calloc((size_t)n * (size_t)(C ? C : 1), sizeof(float));
    int32_t *sims = malloc(sizeof(int32_t) * (size_t)n);
    char source[HG_PATH_MAX + 64] = "";
    if (!cond || !sims) s = hg_error(HG_ERR_NOMEM, "--n %ld: out of memory for the conditioning", n);
    if (s.code == HG_OK && C > 0 && !cond_s && !cond_from)
        s = hg_error(HG_ERR_INVALID, "the model is conditioned on %d parameters: give --cond or --cond-from", C);
    for (long i = 0; i < n && s.code == HG_OK; i++) sims[i] = -1;
    if (s.code == HG_OK && cond_s) {
        double v[HG_MAX_COND];
        s = hg_parse_cond(cond_s, &r.cfg, v);
        for (long i = 0; i < n && s.code == HG_OK; i++)
            for (int k = 0; k < C; k++) cond[i * C + k] = (float)v[k];
        snprintf(source, sizeof source, "--cond %s", cond_s);
    } else if (s.code == HG_OK && cond_from) {
        char path[HG_PATH_MAX];
        hg_split split;
        s = hg_parse_data_split(cond_from, path, sizeof path, &split);
        hg_dataset ds;
        hg_dataset_init(&ds);
        if (s.code == HG_OK) s = hg_dataset_load(path, &ds);
        /* the conditioning columns of the model, by name */
        int col[HG_MAX_COND];
        for (int k = 0; k < C && s.code == HG_OK; k++) {
            col[k] = -1;
            for (int j = 0; j < ds.n_params; j++)
                if (!strcmp(ds.param_names[j], r.cfg.conditioning[k])) col[k] = j;
            if (col[k] < 0)
                s = hg_error(HG_ERR_INVALID, "%s has no parameter '%s' (the model's conditioning)", path,
                             r.cfg.conditioning[k]);
        }
        int64_t ns = s.code == HG_OK ? ds.split_n[split] : 0;
        if (s.code == HG_OK && ns < 1) s = hg_error(HG_ERR_INVALID, "%s: the %s split is empty", path, hg_split_name(split));
        if (s.code == HG_OK && index >= ns)
            s = hg_error(HG_ERR_INVALID, "--index %ld: the %s split of %s has %lld clouds", index,
                         hg_split_name(split), path, (long long)ns);
        for (long i = 0; i < n && s.code == HG_OK; i++) {
            int32_t sim = ds.split[split][index >= 0 ? index : i % ns];
            sims[i] = sim;
            for (int k = 0; k < C; k++)
                cond[i * C + k] = ((const float *)ds.cosmology.data)[(int64_t)sim * ds.n_params + col[k]];
        }
        if (index >= 0) snprintf(source, sizeof source, "%s index %ld", cond_from, index);
        else snprintf(source, sizeof source, "%s (cycling)", cond_from);
        hg_dataset_free(&ds);
    }
    hg_sample_options o;
    memset(&o, 0, sizeof o);
    o.n = (int)n;
    o.steps = (int)steps;
    o.batch = (int)batch;
    o.seed = (uint32_t)seed;
    o.backend = backend;
    o.profile = profile ? stdout : NULL;
    o.cond = C ? cond : NULL;
    hg_cli_counter pg = hg_cli_counter_make("sampling: step");
    if (comm.rank == 0) o.progress = hg_cli_counter_progress;
    else o.profile = NULL;
    o.user = &pg;
    o.interrupt = hg_cli_catch_interrupt(0);
    o.comm = &comm;
    hg_tensor smp;
    memset(&smp, 0, sizeof smp);
    if (s.code == HG_OK) s = hg_sample_generate(&r, &o, &smp);
    if (s.code == HG_OK && comm.rank == 0) s = hg_sample_save(out, &r, &o, &smp, sims, source);
    if (s.code == HG_OK && comm.rank == 0)
        printf("wrote %s: %ld clouds x %lld points x %d features, T = %ld steps, seed %ld (run %s, step %lld)\n", out,
               n, (long long)r.cfg.n_particles, r.cfg.n_features, steps, seed, run_dir, (long long)r.step);
    hg_tensor_free(&smp);
    free(cond);
    free(sims);
    hg_run_free(&r);
    return hg_cli_mpi_end(cmd, &comm, s);
}

HG_COMMAND(sample, "sample", "generate point clouds with a trained model (ancestral sampling)", run_sample)
