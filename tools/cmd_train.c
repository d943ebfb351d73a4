/* `halograph train`: trains a model on a dataset (SPEC 5) with the
 * training driver of models/drivers.h. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/drivers.h"
#include "tools/cli.h"

static const char *USAGE =
    "usage: halograph train --config C.yaml --data D.h5 --out RUN [--steps N] [--resume]\n"
    "                       [--backend NAME] [--threads N] [--val-every K] [--ckpt-every K]\n"
    "                       [--profile] [--step-timeout S]\n"
    "       mpirun -np P halograph train ...   (data-parallel, built with MPI)\n\n"
    "Trains the diffusion model of config C (SPEC 3, 4, 7) on the train split of the\n"
    "dataset D (made by `halograph import`) with AdamW and the warmup-cosine schedule\n"
    "(SPEC 5). One step = forward + backward + clipping + update of one batch.\n"
    "  --steps N        train until N updates are done (default: training.n_train_steps\n"
    "                   of the config; the learning-rate schedule always uses that value)\n"
    "  --resume         continue RUN/checkpoint.h5 (--config optional: RUN/config.yaml);\n"
    "                   the result is bit-identical to an uninterrupted run\n"
    "  --backend NAME   " HG_CLI_BACKENDS "\n"
    "  --threads N      OpenMP threads (default: all cores)\n"
    "  --val-every K    validation loss on the val split every K steps (default 100;\n"
    "                   0: only at the end)\n"
    "  --ckpt-every K   checkpoint every K steps (default 100; 0: only at the end)\n"
    "  --profile        print the per-kernel profile of the train graph at the end\n"
    "  --step-timeout S under mpirun: a rank that does not reach a step's gradient\n"
    "                   allreduce within S seconds (default 600) ends the job, naming it\n"
    "Under mpirun each batch of training.batch_size B is split into contiguous row\n"
    "shards (the first B mod P ranks take one row more; P > B is refused), gradients\n"
    "are averaged in one allreduce per step; rank 0 writes the run's files.\n"
    "Writes RUN/config.yaml, RUN/run.yaml (data provenance), RUN/norm.h5,\n"
    "RUN/checkpoint.h5 (atomic; at step 0, every K steps and at the end) and\n"
    "RUN/metrics.csv (step,loss,loss_diff,loss_klz,loss_recon,val_loss,lr,seconds).\n"
    "Ctrl-C (or SIGTERM) saves a checkpoint and exits with status 130; a NaN/Inf loss stops with\n"
    "exit 1 naming the step and the last good checkpoint.\n";


typedef struct {
    int tty;
    double last_print;
} progress_state;

static void fmt_time(double s, char *buf, size_t n) {
    if (!isfinite(s) || s < 0) {
        snprintf(buf, n, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

static void on_progress(void *user, const hg_train_progress *p) {
    progress_state *ps = user;
    double eta = p->steps_per_s > 0 ? (double)(p->total - p->step) / p->steps_per_s : NAN;
    char e[32], el[32];
    fmt_time(eta, e, sizeof e);
    fmt_time(p->seconds, el, sizeof el);
    int event = !isnan(p->val_loss) || p->step == p->total;
    if (ps->tty) {
        int width = 24, done = (int)((double)width * (double)p->step / (double)p->total);
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r[%s] %lld/%lld loss %.4f (diff %.4f klz %.4f recon %.4f) %.2f step/s ETA %s  ", bar,
                (long long)p->step, (long long)p->total, p->loss, p->diff, p->klz, p->recon, p->steps_per_s, e);
        if (event) {
            fputc('\n', stderr);
            if (!isnan(p->val_loss))
                fprintf(stderr, "step %lld: val_loss %.6g%s\n", (long long)p->step, p->val_loss,
                        p->checkpointed ? " (checkpoint saved)" : "");
        }
        fflush(stderr);
        return;
    }
    if (!event && !p->checkpointed && p->seconds - ps->last_print < 10.0 && p->step != p->first_step + 1) return;
    ps->last_print = p->seconds;
    printf("step %lld/%lld loss %.6g diff %.6g klz %.6g recon %.6g lr %.3g %.2f step/s elapsed %s ETA %s",
           (long long)p->step, (long long)p->total, p->loss, p->diff, p->klz, p->recon, p->lr, p->steps_per_s, el,
           e);
    if (!isnan(p->val_loss)) printf(" val_loss %.6g", p->val_loss);
    if (p->checkpointed) printf(" [checkpoint]");
    printf("\n");
    fflush(stdout);
}

static int run_train(int argc, char **argv) {
    const char *cmd = "train";
    if (hg_cli_wants_help(argc, argv)) {
        hg_cli_usage(USAGE, stdout);
        return HG_EXIT_OK;
    }
    hg_train_options o;
    hg_train_options_default(&o);
    long threads = 0;
    double timeout = HG_COMM_TIMEOUT_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        long v;
        if (!strcmp(a, "--resume")) o.resume = 1;
        else if (!strcmp(a, "--profile")) o.profile = stdout;
        else if (!strcmp(a, "--config") && has) o.config_path = argv[++i];
        else if (!strcmp(a, "--data") && has) o.data_path = argv[++i];
        else if (!strcmp(a, "--out") && has) o.run_dir = argv[++i];
        else if (!strcmp(a, "--backend") && has) o.backend = argv[++i];
        else if (!strcmp(a, "--steps") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 2000000000L, &v))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--steps: '%s' is not an integer in [1, 2e9]", argv[i]);
            o.steps = v;
        } else if (!strcmp(a, "--threads") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 4096, &threads))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--threads: '%s' is not an integer in [1, 4096]", argv[i]);
        } else if (!strcmp(a, "--step-timeout") && has) {
            if (hg_cli_parse_double(argv[++i], &timeout) || !(timeout > 0) || timeout > 1e7)
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--step-timeout: '%s' is not a number of seconds in (0, 1e7]",
                                   argv[i]);
        } else if (!strcmp(a, "--val-every") && has) {
            if (hg_cli_parse_int(argv[++i], 0, 2000000000L, &v))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--val-every: '%s' is not an integer >= 0", argv[i]);
            o.val_every = v;
        } else if (!strcmp(a, "--ckpt-every") && has) {
            if (hg_cli_parse_int(argv[++i], 0, 2000000000L, &v))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--ckpt-every: '%s' is not an integer >= 0", argv[i]);
            o.ckpt_every = v;
        } else {
            return hg_cli_bad_arg(cmd, a, !has, "--config --data --out --backend --steps --threads --val-every --ckpt-every --step-timeout");
        }
    }
    if (!o.data_path || !o.run_dir || (!o.config_path && !o.resume))
        return hg_cli_fail(cmd, HG_EXIT_USAGE,
                           "--data, --out and --config (unless --resume) are required (see halograph train --help)");
    if (o.backend && !hg_cli_backend_known(o.backend))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--backend: unknown backend '%s' (available: %s)", o.backend,
                           hg_program_backends());
    /* the run's files are the outputs; --config RUN/config.yaml is read and
     * kept as it is (models/train.c), every other input must differ */
    hg_cli_inputs in = {0};
    char files[HG_RUN_MAX_FILES][HG_PATH_MAX];
    int nf = hg_run_files(o.run_dir, files, HG_RUN_MAX_FILES);
    hg_cli_inputs_add(&in, o.data_path);
    int rc = hg_cli_check_output_dir(cmd, o.run_dir, &in);
    hg_cli_inputs_add(&in, o.config_path);
    for (int i = 0; i < nf && !rc; i++) {
        if (!strcmp(files[i] + strlen(files[i]) - 11, "config.yaml")) {
            hg_cli_inputs only_data = {0};
            hg_cli_inputs_add(&only_data, o.data_path);
            rc = hg_cli_check_output(cmd, files[i], &only_data);
            hg_cli_inputs_free(&only_data);
        } else {
            rc = hg_cli_check_output(cmd, files[i], &in);
        }
    }
    hg_cli_inputs_free(&in);
    if (rc) return rc;
    if (threads) omp_set_num_threads((int)threads);
    hg_comm comm;
    if ((rc = hg_cli_mpi_begin(cmd, &comm))) return rc;
    comm.timeout_s = timeout;
    o.comm = &comm;
    if (comm.rank != 0) o.profile = NULL;
    progress_state ps = {isatty(STDERR_FILENO), -1e9};
    o.interrupt = hg_cli_catch_interrupt(1);
    o.progress = on_progress;
    o.user = &ps;
    hg_train_result r;
    hg_status s = hg_train(&o, &r);
    if (s.code && ps.tty && comm.rank == 0) fputc('\n', stderr);
    if (s.code || comm.rank != 0) return hg_cli_mpi_end(cmd, &comm, s);
    hg_cli_mpi_end(cmd, &comm, s);
    printf("trained to step %lld: loss %.6g", (long long)r.step, r.last_loss);
    if (!isnan(r.last_val_loss)) printf(", val_loss %.6g", r.last_val_loss);
    printf("\ncheckpoint: %s\nmetrics: %s/metrics.csv\n", r.checkpoint, o.run_dir);
    return HG_EXIT_OK;
}

HG_COMMAND(train, "train", "train a diffusion model on a dataset (checkpoints, metrics, resume)", run_train)
