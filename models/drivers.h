/* halograph drivers: training (SPEC 5), ancestral sampling (SPEC 3.5),
 * NELBO and likelihood profiles (SPEC 3.6) — the host loops around the
 * graph kinds of models/models.h, run through runtime/program.h. The
 * `halograph train | sample | likelihood | nelbo` commands are thin
 * wrappers (tools/cmd_*.c); nothing here prints or exits.
 *
 * A run directory RUN holds:
 *   RUN/config.yaml     the training config (hg_config_to_yaml)
 *   RUN/run.yaml        provenance: dataset path and checksum, box_size
 *                       (Mpc/h), redshift, conditioning and feature names
 *   RUN/norm.h5         the train-split standardisation (hg_norm_save)
 *   RUN/checkpoint.h5   the latest checkpoint (runtime.h; atomic): every
 *                       parameter and optimiser tensor, step, seed, config
 *                       YAML, norm (with the box side), dataset checksum
 *   RUN/metrics.csv     step,loss,loss_diff,loss_klz,loss_recon,val_loss,lr,seconds
 *                       (step = updates done after that row's step; val_loss
 *                       empty except every val_every steps and at the end)
 *
 * Random numbers (bit-identical resume and reruns):
 *   parameters     hg_mb_init_params(seed)
 *   training step  graph inputs seed = config seed, step = k (0-based index
 *                  of the update), replica 0; batch k = hg_pipeline_train_batch
 *                  (pipeline seed = config seed XOR 0x5bd1e995, so its
 *                  Philox keys differ from the graph's), so resuming from a
 *                  checkpoint at step k continues exactly as if uninterrupted
 *   validation     "loss" graph, seed = config seed, replicas 1..R, step =
 *                  val batch index: the same noise at every evaluation
 *   sampling       z_1 from hg_rng_normal(seed, stream HG_SAMPLE_Z1_STREAM,
 *                  0, chunk, element); step graph inputs seed, step = i,
 *                  replica = chunk (the index of the batch of samples)
 *   NELBO/profile  seed, replica r (or batch row r), chunk k: the same at
 *                  every theta (common random numbers, SPEC 3.6)
 */
#ifndef HG_DRIVERS_H
#define HG_DRIVERS_H

#include <signal.h>
#include <stdint.h>

#include "models/models.h"
#include <stdio.h>

#include "runtime/comm.h"
#include "runtime/profile.h"
#include "runtime/program.h"
#include "runtime/runtime.h"

#define HG_PATH_MAX 4096
#define HG_SAMPLE_Z1_STREAM 0x7ffffff0u
#define HG_PIPELINE_SEED_XOR 0x5bd1e995u

/* ================================================================ runs */

/* An opened run directory (a trained model ready to use). */
typedef struct {
    char dir[HG_PATH_MAX];
    hg_config cfg;          /* parsed from the checkpoint's config YAML */
    char *config_yaml;      /* owned */
    hg_tensor_map state;    /* parameters (and optimiser state) of the checkpoint; with
                               training.ema_decay on, the parameters are the EMA's */
    int ema;                /* 1: the parameters are the EMA weights (ema/<path>) */
    int weights_only;       /* 1: exported weights (hg_run_export), no optimiser state */
    int64_t step;           /* training steps done */
    hg_norm norm;           /* train-split standardisation; norm.box = box side L */
    double redshift;
    uint64_t dataset_checksum;
    char dataset_path[HG_PATH_MAX];
    char feature_names[HG_MAX_FEATURES][HG_DS_NAME_MAX];
} hg_run;

/* Opens RUN: loads RUN/checkpoint.h5 (must have norm stats and a config),
 * RUN/run.yaml, and checks RUN/config.yaml (when present) is compatible
 * with the checkpoint's config and that the checkpoint holds every
 * parameter of the model with the right dtype and shape.
 * Errors: HG_ERR_IO (not a directory, no checkpoint: "not a training run
 * directory"), HG_ERR_FORMAT (not a checkpoint), HG_ERR_INVALID
 * (incompatible config, missing or mis-shaped parameters, listed). */
hg_status hg_run_open(const char *dir, hg_run *r);
void hg_run_free(hg_run *r);

/* The files of a run directory (what train writes and the run's readers
 * read): "DIR/checkpoint.h5", "DIR/config.yaml", "DIR/run.yaml",
 * "DIR/norm.h5", "DIR/metrics.csv", into paths (at most max); returns the
 * count (HG_RUN_MAX_FILES). Whether they exist is not checked. Commands
 * reading a run refuse an output equal to any of them (tools/cli.h). */
#define HG_RUN_MAX_FILES 5
int hg_run_files(const char *dir, char paths[][HG_PATH_MAX], int max);

/* Exports the weights of run r (opened with hg_run_open: the EMA weights
 * when training.ema_decay is on) into out_dir (created if absent), a run
 * directory that hg_run_open and every reader of runs accept:
 *   checkpoint.h5  the parameters only (no optimiser or EMA state), the
 *                  normalisation, config, step, seed, dataset checksum,
 *                  counters HG_WEIGHTS_ONLY_COUNTER = 1 and ema (0/1)
 *   config.yaml, norm.h5, and copies of r's run.yaml and metrics.csv
 *   COMMANDS       the text `commands` (not written when NULL)
 * every file atomically. *n_params: the scalars exported. Errors: file
 * errors (a new out_dir is removed again), HG_ERR_INVALID. */
hg_status hg_run_export(const hg_run *r, const char *out_dir, const char *commands, int64_t *n_params);

/* Builds graph kind `kind` for the run's config and normalisation, batch B
 * (opts may be NULL: run defaults). */
hg_status hg_run_build(const hg_run *r, const char *kind, int batch, const hg_model_opts *opts,
                       hg_model *out);

/* The input-pipeline settings of config c (N, F, conditioning names,
 * augmentations; seed = c->seed XOR HG_PIPELINE_SEED_XOR). */
void hg_run_pipeline_config(const hg_config *c, hg_pipeline_config *pc);

/* ============================================================ training */

typedef struct {
    int64_t step;        /* updates done (after this one) */
    int64_t first_step;  /* step this invocation started from */
    int64_t total;       /* target step */
    double loss, diff, klz, recon; /* training loss of this step (SPEC 3.2) */
    double val_loss;     /* NaN unless evaluated after this step */
    double lr;           /* lr(k) used by this update (SPEC 5) */
    double seconds;      /* wall time since this invocation started */
    double steps_per_s;  /* this invocation's average */
    int checkpointed;    /* 1 if a checkpoint was written after this step */
} hg_train_progress;

typedef struct {
    const char *config_path;  /* YAML; NULL with resume: RUN/config.yaml */
    const char *data_path;    /* dataset made by `halograph import` */
    const char *run_dir;      /* created if absent */
    int64_t steps;            /* train until this many updates (0: n_train_steps) */
    int resume;               /* continue RUN/checkpoint.h5 */
    const char *backend;      /* NULL: HG_BACKEND_DEFAULT (runtime/backend.h) */
    int64_t val_every;        /* validation loss every K steps (0: only at the end) */
    int64_t ckpt_every;       /* checkpoint every K steps (0: only at the end) */
    int val_replicas;         /* noise replicas per validation batch (4) */
    FILE *profile;            /* non-NULL: profile the train graph's kernels and print
                                 the table here at the end (issue 8, `train --profile`) */
    volatile sig_atomic_t *interrupt; /* nonzero: checkpoint and stop (may be NULL) */
    void (*progress)(void *user, const hg_train_progress *p); /* after every step */
    void *user;
    /* Data-parallel training (issue 15; NULL or one process: as without).
     * With P ranks every rank runs hg_train with the same options: each
     * global batch of config batch_size B (hg_pipeline_train_batch, drawn
     * whole on every rank) is split into contiguous row shards
     * (hg_comm_shard: the first B mod P ranks take one row more; B < P is
     * refused), each rank runs the "grad" graph on its rows with the
     * batch's noise (hg_model_opts batch_total/offset), the gradients
     * times shard/B and the loss parts are summed over the ranks in ONE
     * f32 allreduce per step (with the ranks' error and interrupt flags),
     * and every rank applies the same update (hg_model_build_update).
     * Validation batches are dealt round-robin. Rank 0 alone writes the
     * run's files and calls progress. */
    const hg_comm *comm;
} hg_train_options;

/* val_every 100, ckpt_every 100, val_replicas 4, everything else 0/NULL. */
void hg_train_options_default(hg_train_options *o);

typedef struct {
    int64_t step;         /* steps done at exit */
    double last_loss;     /* training loss of the last step (NaN if none) */
    double last_val_loss; /* NaN if none */
    char checkpoint[HG_PATH_MAX + 32]; /* last checkpoint written or loaded */
} hg_train_result;

/* Trains (SPEC 5): fresh (RUN must not hold a checkpoint) or resumed.
 * Writes RUN/config.yaml, RUN/run.yaml, RUN/norm.h5, a checkpoint at step 0
 * (fresh), every ckpt_every steps and at the end, and RUN/metrics.csv.
 * Errors: HG_ERR_INVALID (bad options, config, dataset/config mismatch,
 * fresh run into a RUN with a checkpoint, resume without one, checkpoint
 * incompatible with the config, target step <= the checkpoint's),
 * HG_ERR_NUMERIC ("non-finite loss nan at step K; last good checkpoint
 * PATH (step J)": nothing is saved), HG_ERR_INTERRUPTED (after saving a
 * checkpoint; the message names it), file errors. */
hg_status hg_train(const hg_train_options *o, hg_train_result *res);

/* SPEC 5 learning rate lr(k) of config c (k = updates already applied). */
double hg_train_lr(const hg_config *c, int64_t k);

/* ================================================ EMA of the parameters */

/* SPEC 5 option training.ema_decay = d in (0, 1): the state also holds
 * "ema/<path>" (f32, the parameter's shape) for every parameter, set to the
 * initial parameters at step 0 and after every update
 * ema <- d ema + (1 - d) p (evaluated in double, rounded to f32; p the
 * parameter after the update). Saved in checkpoints with the rest of the
 * state, so --resume continues it bit-identically. */
#define HG_EMA_PREFIX "ema/"
/* Checkpoint counter set to 1 in exported weights (parameters only, EMA
 * already applied when the option is on). */
#define HG_WEIGHTS_ONLY_COUNTER "weights_only"
/* Adds ema/<path> = copy of <path> for every parameter of mb. Errors:
 * HG_ERR_INVALID (a parameter missing from state), HG_ERR_NOMEM. */
hg_status hg_ema_init(const hg_mb *mb, hg_tensor_map *state);
/* One EMA step with decay d for every parameter of mb. Errors:
 * HG_ERR_INVALID (an ema/ or parameter tensor missing or mismatched). */
hg_status hg_ema_update(const hg_mb *mb, double decay, hg_tensor_map *state);
/* Overwrites every parameter of mb with its ema/<path> (the weights that
 * sample, likelihood, nelbo and export-onnx use when the option is on).
 * Errors: HG_ERR_INVALID naming `where` and the missing tensor. */
hg_status hg_ema_apply(const hg_mb *mb, hg_tensor_map *state, const char *where);

/* ============================================ profile of one graph kind */

/* `halograph profile` and halograph_profile_graph (issue 8, issue 17): one
 * graph kind of a config built for a batch, compiled for a backend, its
 * parameters initialised from the seed (hg_mb_init_params), optimiser
 * state zero, and seeded random inputs: z, x ~ N(0, 1) (graph-network
 * positions uniform in [0, L)), mask 1, gamma uniform in [gamma_min,
 * gamma_max], t = 0.5, s = 0.49, cond uniform in [0.1, 0.6), integer
 * inputs 0 (seed: the seed). RNG streams are keyed by the input's
 * position, so the data depend only on the seed. */
typedef struct {
    const char *kind;       /* "train", "sample-step", "score" or "nelbo" */
    int batch;              /* 0: training.batch_size */
    const char *backend;    /* NULL: HG_BACKEND_DEFAULT */
    uint32_t seed;
    int nelbo_steps;        /* 0: the model's default (50) */
    int nelbo_terms;        /* diffusion terms per nelbo call (0: all) */
    int profile;            /* attach the kernel profiler (runtime/profile.h) */
    int trace;              /* keep trace events (HG_PROFILE_TRACE; needs profile) */
} hg_graph_profile_options;

typedef struct {
    hg_model m;
    int built;
    hg_program *prog;
    hg_profile prof;        /* kernels = the program's schedule (with .profile) */
    int profiled;           /* the profiler is attached to the timed steps */
    hg_tensor_map state, in, out;
    int batch;              /* the batch built */
    int64_t flops;          /* FLOPs of one step (SPEC 7 convention) */
    double *times;          /* [n_times] wall seconds of the timed steps, in order */
    long n_times;
} hg_graph_profile;

/* Builds, compiles and fills the graph as described above. gp is zeroed
 * first; on error everything is freed (hg_graph_profile_free is still
 * safe). Errors: HG_ERR_INVALID (unknown kind, batch < 0, nelbo_terms
 * above the steps, trace without profile, build/backend errors),
 * HG_ERR_NOMEM. */
hg_status hg_graph_profile_open(const hg_config *c, const hg_graph_profile_options *o, hg_graph_profile *gp);
/* Runs `warmup` steps without the profiler, then `iters` timed steps
 * (between hg_profile_step_begin/_end when the profiler is attached),
 * their wall times in gp->times. interrupt (may be NULL) nonzero stops
 * between steps (HG_ERR_INTERRUPTED); progress (may be NULL) is called
 * after each step with done/total counting warm-up and timed steps.
 * Errors: HG_ERR_INVALID (iters or warmup < 0), HG_ERR_NOMEM, the
 * program's run errors, HG_ERR_INTERRUPTED. */
hg_status hg_graph_profile_run(hg_graph_profile *gp, long warmup, long iters, volatile sig_atomic_t *interrupt,
                               void (*progress)(void *user, int64_t done, int64_t total), void *user);
void hg_graph_profile_free(hg_graph_profile *gp);
/* 1 if kind is one of the profiled graph kinds (HG_GRAPH_PROFILE_KINDS). */
int hg_graph_profile_kind_known(const char *kind);
#define HG_GRAPH_PROFILE_KINDS "train, sample-step, score or nelbo"

/* ============================================================ sampling */

typedef struct {
    int n;                  /* M clouds */
    int steps;              /* T >= 1 */
    int batch;              /* clouds per graph call (0: min(M, batch_size)) */
    uint32_t seed;
    const char *backend;    /* NULL: HG_BACKEND_DEFAULT (runtime/backend.h) */
    const float *cond;      /* [M, C] raw conditioning (NULL when C = 0) */
    FILE *profile;          /* non-NULL: profile the sample-step and sample-decode
                               kernels and print their tables here at the end */
    volatile sig_atomic_t *interrupt;
    void (*progress)(void *user, int64_t done, int64_t total); /* sampler steps */
    void *user;
    /* P > 1 ranks (issue 15; NULL: one process): the chunks of B clouds
     * are dealt contiguously (hg_comm_gather_rows, unit B), each rank
     * samples its own, rank 0 gathers *out (bit-identical to one process:
     * every chunk draws the same numbers wherever it runs); on the other
     * ranks *out holds only their rows. */
    const hg_comm *comm;
} hg_sample_options;

/* SPEC 3.5 ancestral sampling: for each chunk of B clouds, z_1 ~ N(0, I),
 * T calls of the "sample-step" graph (t = (T-i)/T, s = (T-i-1)/T, step i),
 * then "sample-decode". Output *out f32 [M, N, F] in physical units:
 * positions in [0, L), velocities km/s, and (F = 7) the mass column as
 * LINEAR mass Msun/h (10^log10 M), the dataset's units. Errors:
 * HG_ERR_INVALID (bad options), HG_ERR_NUMERIC (a non-finite value in a
 * generated cloud, naming it), HG_ERR_INTERRUPTED. */
hg_status hg_sample_generate(const hg_run *r, const hg_sample_options *o, hg_tensor *out);

/* Writes the samples file atomically (temp + rename):
 *   /samples f32 [M, N, F] (attribute feature_names),
 *   /cond f32 [M, C] (attribute names), /sims i32 [M] (dataset index of the
 *   conditioning's cloud, -1 for given values);
 *   attributes of /: format "halograph-samples-1", box_size, redshift,
 *   seed, steps, run_dir, config (YAML), checkpoint_step,
 *   dataset_checksum, dataset, cond_source. */
hg_status hg_sample_save(const char *path, const hg_run *r, const hg_sample_options *o,
                         const hg_tensor *samples, const int32_t *sims, const char *cond_source);

/* Parses "Omega_m=0.3,sigma_8=0.8": every conditioning name of c exactly
 * once, finite values -> cond[C] in config order. Errors name the field.
 * With c NULL only the syntax is checked (NAME=finite number items, no
 * name twice; cond unused): what the CLI refuses as a usage error before
 * opening the run. */
hg_status hg_parse_cond(const char *s, const hg_config *c, double *cond);

/* Parses "PATH:SPLIT" (SPLIT train|val|test; the last ':' splits). */
hg_status hg_parse_data_split(const char *s, char *path, size_t n, hg_split *split);

/* ===================================================== NELBO, likelihood */

/* Parses a grid "lo:hi:n" (n >= 2, lo < hi, finite) into linspace. */
hg_status hg_parse_grid(const char *s, double *lo, double *hi, int *n);
/* Default SPEC 3.6 grid of a parameter: Omega_m (0.1, 0.5, 30), sigma_8
 * (0.6, 1.0, 30). -1 if the parameter has no default. */
int hg_default_grid(const char *param, double *lo, double *hi, int *n);

/* The maximum and 68% interval of a profile (SPEC 3.6): best = the grid
 * point of the largest logl; the interval is the connected run of grid
 * points around it where 2 (logl - max) >= -0.989, extended to each side
 * by linear interpolation of 2 (logl - max) between the last point inside
 * and the first outside; when the run reaches the end of the grid, that
 * end is the bound and *_open is 1. grid strictly increasing, n >= 1,
 * logl finite. */
typedef struct {
    int best_index;
    double best, max_logl;
    double lo, hi;
    int lo_open, hi_open;
} hg_interval;
#define HG_DELTA_CHI2_68 0.989
hg_status hg_profile_interval(const double *grid, const double *logl, int n, hg_interval *iv);
/* The same with another threshold: the interval where
 * 2 (logl - max) >= -delta_chi2 (HG_DELTA_CHI2_95: the 95% point of a
 * chi-square with 1 degree of freedom, for `coverage`). */
#define HG_DELTA_CHI2_95 3.841
hg_status hg_profile_interval_at(const double *grid, const double *logl, int n, double delta_chi2,
                                 hg_interval *iv);

typedef struct {
    int steps;            /* S (50) */
    int replicas;         /* K (16) */
    int terms_per_call;   /* diffusion terms per nelbo call (0: auto, a divisor of S) */
    int batch;            /* nelbo: clouds per call (0: auto) */
    uint32_t seed;        /* 0 by default */
    const char *backend;
    volatile sig_atomic_t *interrupt;
    void (*progress)(void *user, int64_t done, int64_t total);
    void *user;
    /* P > 1 ranks (issue 15; NULL: one process): the likelihood profile's
     * grid points, or hg_nelbo_split's batches, are dealt contiguously
     * (hg_comm_gather_rows) and the results gathered on rank 0,
     * bit-identical to one process; other ranks hold only their rows. */
    const hg_comm *comm;
} hg_nelbo_options;
void hg_nelbo_options_default(hg_nelbo_options *o);

/* Likelihood profile (SPEC 3.6) of one cloud: x f32 [N, F] standardised,
 * mask f32 [N], theta f32 [C] its true conditioning; parameter `param`
 * (index into the conditioning) scanned over grid[n_grid], the others at
 * theta. logl_rep f64 [n_grid, K] (-NELBO of replica r at grid point g),
 * logl f64 [n_grid] (mean over replicas). Replica r is batch row r of the
 * "nelbo" graph with seed o->seed, replica input 0: identical noise at
 * every grid point. */
hg_status hg_likelihood_profile(const hg_run *r, const float *x, const float *mask,
                                const float *theta, int param, const double *grid, int n_grid,
                                const hg_nelbo_options *o, double *logl, double *logl_rep);

/* NELBO (SPEC 3.6) of every cloud of a prepared pipeline split at its true
 * conditioning, averaged over K replicas (replica input r = 0..K-1).
 * nelbo f64 [n_clouds]; parts (may be NULL) f64 [n_clouds, 3]: recon,
 * klz, diff; rep (may be NULL) f64 [n_clouds, K]. */
hg_status hg_nelbo_split(const hg_run *r, const hg_pipeline *p, const hg_nelbo_options *o,
                         double *nelbo, double *parts, double *rep);

/* =================================================== small HDF5 writer */

/* Output files of the drivers: built in memory (runtime/h5file.h), written
 * atomically by hg_out_close(ok = 1) (hg_atomic_write: temporary file,
 * fsync, rename), discarded when ok = 0. hg_out_create already refuses a
 * destination that cannot be replaced (hg_output_check without inputs). */
typedef struct hg_out hg_out;
hg_status hg_out_create(const char *path, hg_out **out);
hg_status hg_out_tensor(hg_out *o, const char *name, const hg_tensor *t);
hg_status hg_out_attr_str(hg_out *o, const char *obj, const char *name, const char *v);
hg_status hg_out_attr_strs(hg_out *o, const char *obj, const char *name, const char *const *v, int n);
hg_status hg_out_attr_f64(hg_out *o, const char *obj, const char *name, double v);
hg_status hg_out_attr_i64(hg_out *o, const char *obj, const char *name, int64_t v);
/* Run provenance attributes on /: run_dir, config, checkpoint_step,
 * dataset, dataset_checksum (as a decimal string: u64), box_size, redshift. */
hg_status hg_out_provenance(hg_out *o, const hg_run *r);
hg_status hg_out_close(hg_out *o, int ok);

#endif
