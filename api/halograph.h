/* halograph.h: the public C API of libhalograph (issue 17; docs/api.md).
 *
 * A small, stable interface over what the `halograph` command line does:
 * open a training run, sample point clouds of haloes (SPEC 3.5), compute
 * NELBOs and likelihood profiles (SPEC 3.6), train (SPEC 5), export a
 * graph as ONNX, profile the kernels of a graph kind (`halograph
 * profile`), read a dataset (SPEC 1) and compute the two-point
 * correlation function (SPEC 6). Link with `pkg-config --cflags --libs
 * halograph` (or CMake: find_package(halograph) -> halograph::halograph).
 *
 * Conventions
 *   - Every fallible function returns an int: HALOGRAPH_OK (0) or one of
 *     the HALOGRAPH_ERR_* codes. The message of the last failure on the
 *     calling thread is halograph_last_error() (a thread-local buffer: the
 *     library's only mutable global state; successful calls leave it
 *     unchanged). Arguments are checked before anything is computed or
 *     written: a failed call changes no output file and leaves its output
 *     arrays unspecified.
 *   - Handles (halograph_run, halograph_dataset, halograph_profile) are
 *     opaque; each is owned by the caller and freed with its *_close
 *     function (NULL is a no-op). Functions returning an int refuse a NULL
 *     run handle (HALOGRAPH_ERR_INVALID).
 *     A handle may be used by one thread at a time; different handles may
 *     be used from different threads.
 *   - Arrays are dense, row-major, caller-allocated; shapes are written
 *     [n, N, F] (n clouds, N haloes per cloud, F features per halo).
 *   - Clouds are in physical units, the dataset's: positions x, y, z in
 *     [0, L) Mpc/h, velocities vx, vy, vz in km/s (peculiar), and (F = 7)
 *     the halo mass M in Msun/h, LINEAR (not log10). L is the box side.
 *   - Conditioning vectors are [C] or [n, C] floats in the order of
 *     halograph_run_cond_name (e.g. Omega_m, sigma_8).
 *   - Long calls take a progress callback (may be NULL); returning nonzero
 *     from it stops the call with HALOGRAPH_ERR_INTERRUPTED.
 *   - Results are bit-identical to the CLI's for the same run, inputs,
 *     seed and backend (the same drivers, models/drivers.h).
 */
#ifndef HALOGRAPH_H
#define HALOGRAPH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HALOGRAPH_VERSION_MAJOR 0

/* Return codes (the same values as the library's internal status codes). */
enum {
    HALOGRAPH_OK = 0,
    HALOGRAPH_ERR_INVALID = 1,     /* bad argument, shape, name, config */
    HALOGRAPH_ERR_IO = 2,          /* file missing, unreadable, not writable */
    HALOGRAPH_ERR_FORMAT = 3,      /* file readable but malformed */
    HALOGRAPH_ERR_NUMERIC = 4,     /* NaN / Inf where a finite number is required */
    HALOGRAPH_ERR_UNSUPPORTED = 5, /* valid request this build cannot do */
    HALOGRAPH_ERR_NOMEM = 6,
    HALOGRAPH_ERR_INTERRUPTED = 7  /* a progress callback asked to stop */
};

/* The library version, "MAJOR.MINOR.PATCH" (static storage). */
const char *halograph_version(void);

/* The message of the last failed call on this thread ("" if none); valid
 * until the next failing call on this thread. */
const char *halograph_last_error(void);

/* Progress of a long call: `done` of `total` units (sampler steps, NELBO
 * graph calls, training steps); `loss` is the training loss of the step
 * (NaN outside training). Return 0 to continue, nonzero to stop. */
typedef int (*halograph_progress_fn)(void *user, int64_t done, int64_t total, double loss);

/* OpenMP threads of every later call of this process (n >= 1; the default
 * is all cores). Errors: HALOGRAPH_ERR_INVALID. */
int halograph_set_threads(int n);

/* ================================================================= runs */

typedef struct halograph_run halograph_run;

/* Opens the training run directory `dir` (its latest checkpoint, config
 * and normalisation; `halograph train` writes it), or a weights directory
 * of `halograph export-weights` such as the shipped
 * data/pretrained/default. *out is NULL on
 * failure. Errors: IO (no such directory, "not a training run
 * directory"), FORMAT, INVALID (checkpoint incompatible with the config). */
int halograph_run_open(const char *dir, halograph_run **out);
void halograph_run_close(halograph_run *run);

/* The run's cloud shape and metadata: N haloes per cloud, F features,
 * C conditioning parameters, box side L (Mpc/h), redshift, training steps
 * done. Any pointer may be NULL. */
void halograph_run_info(const halograph_run *run, int *n_points, int *n_features, int *n_cond,
                        double *box, double *redshift, int64_t *steps_done);
/* Name of conditioning parameter i (0 <= i < C) / of feature i
 * (0 <= i < F), or NULL when out of range. Owned by the handle. */
const char *halograph_run_cond_name(const halograph_run *run, int i);
const char *halograph_run_feature_name(const halograph_run *run, int i);

/* Selects the backend of the run's later calls ("ref", "fast", "jit";
 * NULL: the default, jit). Errors: INVALID (unknown backend, listing
 * the available ones). */
int halograph_run_set_backend(halograph_run *run, const char *backend);

/* Profiles the kernels of the run's later halograph_sample calls: each
 * call then writes the per-kernel tables of its sample-step and
 * sample-decode graphs (what `halograph sample --profile` prints: total
 * and mean times, GFLOP/s, GB/s per kernel) to the text file `path`,
 * replacing it atomically once the call succeeds. NULL turns profiling
 * off. Errors: INVALID (path is one of the run's files or its directory). */
int halograph_run_set_profile(halograph_run *run, const char *path);

/* Parses a conditioning "Omega_m=0.3,sigma_8=0.8" (each parameter of the
 * run exactly once, finite values; the CLI's --cond) into cond[C] in the
 * run's order. Errors: INVALID naming the offending item. */
int halograph_run_parse_cond(const halograph_run *run, const char *spec, float *cond);

/* Generates n clouds by ancestral sampling over `steps` steps (SPEC 3.5;
 * the paper uses 500) with seed `seed`: out f32 [n, N, F] in physical
 * units. cond f32 [n, C] (NULL when C = 0). The same (run, n, steps, seed,
 * cond, backend) gives the same bits as `halograph sample`. Progress
 * counts sampler steps over all batches (clouds are sampled in batches of
 * the training batch size: total = steps x ceil(n / batch)). Errors: INVALID (n < 1, steps < 1, NULL cond
 * with C > 0, non-finite cond), NUMERIC (non-finite generated value),
 * INTERRUPTED. */
int halograph_sample(halograph_run *run, int n, int steps, uint32_t seed, const float *cond, float *out,
                     halograph_progress_fn progress, void *user);

/* NELBO (SPEC 3.6, in standardised units, masked sums over points and
 * features) of each of n given clouds x f32 [n, N, F] (physical units;
 * N, F as given must equal the run's) at conditioning cond f32 [n, C],
 * averaged over `replicas` noise replicas with `steps` diffusion terms
 * (CLI defaults: 50 steps, 1 replica) and noise seed `seed`: out f64 [n].
 * mask f32 [n, N] (1 real halo, 0 padding; NULL: every row real). Equal to
 * `halograph nelbo` for the clouds of a dataset split. Errors: INVALID
 * (shape differs from the run's, steps/replicas < 1, mask not 0/1, a cloud
 * with no real halo, non-positive mass), NUMERIC (a non-finite input,
 * naming cloud, halo and feature), INTERRUPTED. */
int halograph_nelbo(halograph_run *run, const float *x, int64_t n, int64_t N, int64_t F, const float *mask,
                    const float *cond, int steps, int replicas, uint32_t seed, double *out,
                    halograph_progress_fn progress, void *user);

/* Likelihood profile (SPEC 3.6) of one cloud x f32 [N, F] (physical
 * units; mask f32 [N] or NULL) over parameter `param` (a conditioning
 * name) at grid[n_grid] (finite), the other parameters at theta f32 [C]:
 * logl f64 [n_grid] = -mean over `replicas` replicas (CLI default 16) of
 * the NELBO with `steps` terms (50), the same noise at every grid point;
 * logl_rep f64 [n_grid, replicas] (may be NULL). Equal to `halograph
 * likelihood` for a cloud of a dataset. Errors: INVALID (unknown
 * parameter, shapes, options), NUMERIC, INTERRUPTED. */
int halograph_likelihood_profile(halograph_run *run, const float *x, int64_t N, int64_t F, const float *mask,
                                 const float *theta, const char *param, const double *grid, int n_grid,
                                 int steps, int replicas, uint32_t seed, double *logl, double *logl_rep,
                                 halograph_progress_fn progress, void *user);

/* Writes graph `kind` ("score", "sample-step", "sample-decode", "nelbo")
 * of the run, built for batch `batch` (nelbo: `nelbo_steps` terms, all in
 * one call), as an ONNX model at `path`, atomically (`halograph
 * export-onnx --run`). Errors: INVALID (kind, batch, path is one of the
 * run's files), IO. */
int halograph_export_onnx(halograph_run *run, const char *kind, int batch, int nelbo_steps, const char *path);

/* ============================================================ profiling */

typedef struct halograph_profile halograph_profile;

/* Profiles the kernels of graph `kind` ("train": one training step with
 * its AdamW update; "sample-step", "score", "nelbo") of the run's model,
 * built for batch `batch` (0: the config's training batch size) on the
 * run's backend, exactly as `halograph profile --config RUN/config.yaml
 * --graph kind` does (the same code, models/drivers.h hg_graph_profile_*):
 * parameters initialised from `seed` (< 0: the config's training.seed;
 * not the run's trained ones, so a train step never changes the run),
 * seeded random inputs, `warmup` untimed steps, then `iters` timed steps
 * with the kernel profiler attached (nelbo: `nelbo_steps` terms in one
 * call, 0 = 50). trace != 0 also keeps the events of
 * halograph_profile_write_trace. Progress counts warm-up plus timed
 * steps. *out (NULL on failure) is freed with halograph_profile_close and
 * does not refer to the run. Errors: INVALID (unknown kind, batch < 0,
 * iters < 1, warmup < 0, seed >= 2^32, NULL run or out, a model the size
 * estimate finds too large for the machine), NOMEM (e.g. the arena of a
 * huge batch), INTERRUPTED. */
int halograph_profile_graph(halograph_run *run, const char *kind, int batch, int iters, int warmup, int64_t seed,
                            int nelbo_steps, int trace, halograph_profile **out, halograph_progress_fn progress,
                            void *user);
void halograph_profile_close(halograph_profile *p);

/* n_kernels: kernels of the backend's schedule (one per graph node on ref
 * and fast; fusion groups on jit); n_rows: those called (each timed step
 * calls every kernel once, so calls = iters); iters, the batch built,
 * FLOPs of one step (SPEC 7 convention), compile seconds, backend name
 * (owned by the handle). Any pointer may be NULL. */
void halograph_profile_info(const halograph_profile *p, int *n_kernels, int *n_rows, int *iters, int *batch,
                            int64_t *flops_per_step, double *compile_seconds, const char **backend);
/* Wall seconds of each timed step, f64 [iters] in order (owned by the handle). */
const double *halograph_profile_step_seconds(const halograph_profile *p);

/* One kernel of the profile (`halograph profile`'s table row). */
typedef struct {
    const char *name;       /* op name ("matmul") or fusion group name; owned by the handle */
    const char *shape;      /* output dtype and shape, "f32[4,16]" */
    int kernel;             /* index in the schedule */
    int n_members;          /* graph nodes fused into it */
    int64_t calls;
    double total_seconds, mean_seconds, min_seconds, max_seconds; /* wall time */
    int64_t flops_per_call; /* SPEC 7 convention */
    int64_t bytes_per_call; /* inputs read + outputs written */
    double gflops, gbytes;  /* achieved GFLOP/s and GB/s */
    double share;           /* of the timed steps' wall time */
} halograph_profile_row;

/* Row i (0 <= i < n_rows; sorted by total time, slowest first) into *row.
 * Errors: INVALID (i out of range, NULL row). */
int halograph_profile_row_get(const halograph_profile *p, int i, halograph_profile_row *row);
/* Writes the table `halograph profile` prints (every row; by_shape != 0:
 * one row per kernel signature, --by-shape) to the text file `path`,
 * atomically. Errors: INVALID (path is a directory, a device, one of the
 * run's files), IO. */
int halograph_profile_write(const halograph_profile *p, const char *path, int by_shape);
/* Writes the Chrome trace event file (`halograph profile --trace`; open in
 * Perfetto): needs trace != 0 at halograph_profile_graph. Errors: INVALID
 * (no trace kept, bad path as above), IO. */
int halograph_profile_write_trace(const halograph_profile *p, const char *path);

/* ============================================================= training */

/* Trains a run (`halograph train`, SPEC 5): config YAML `config` (NULL
 * when resuming: RUN/config.yaml), dataset `data` (from `halograph
 * import`), run directory `run_dir` (created; a fresh run must not hold a
 * checkpoint), until `steps` updates (0: the config's n_train_steps);
 * resume != 0 continues RUN/checkpoint.h5. backend NULL: the default.
 * Checkpoints every 100 steps and at the end; progress counts steps and
 * carries the loss; stopping from the callback saves a checkpoint first
 * (then HALOGRAPH_ERR_INTERRUPTED). Errors: INVALID, NUMERIC (non-finite
 * loss: nothing saved), IO, INTERRUPTED. */
int halograph_train(const char *config, const char *data, const char *run_dir, int64_t steps, int resume,
                    const char *backend, halograph_progress_fn progress, void *user);

/* ============================================================= datasets */

typedef struct halograph_dataset halograph_dataset;

/* Loads a dataset file (SPEC 1, `halograph import`), verifying its layout
 * and checksum. Errors: IO, FORMAT, INVALID, NUMERIC, naming the part. */
int halograph_dataset_open(const char *path, halograph_dataset **out);
void halograph_dataset_close(halograph_dataset *ds);

/* Sizes: n_sims clouds, n_points rows per cloud (padded), n_features,
 * n_params cosmological parameters, box side (Mpc/h), redshift. Any
 * pointer may be NULL. */
void halograph_dataset_info(const halograph_dataset *ds, int64_t *n_sims, int64_t *n_points, int *n_features,
                            int *n_params, double *box, double *redshift);
/* Read-only views owned by the handle (valid until it is closed):
 * halos f32 [n_sims, n_points, n_features] (rows >= counts[s] are zero
 * padding), counts i32 [n_sims], cosmology f32 [n_sims, n_params]. */
const float *halograph_dataset_halos(const halograph_dataset *ds);
const int32_t *halograph_dataset_counts(const halograph_dataset *ds);
const float *halograph_dataset_cosmology(const halograph_dataset *ds);
/* Indices i32 [*n] of split "train", "val" or "test" (NULL and *n = 0 for
 * another name). */
const int32_t *halograph_dataset_split(const halograph_dataset *ds, const char *split, int64_t *n);
/* Name of feature i / parameter i, or NULL out of range. */
const char *halograph_dataset_feature_name(const halograph_dataset *ds, int i);
const char *halograph_dataset_param_name(const halograph_dataset *ds, int i);

/* ============================================================ statistics */

/* Real-space two-point correlation function (SPEC 6) of n points
 * pts f32 [n, stride] (columns 0..2: positions, Mpc/h, in [0, box)) in a
 * periodic box of side `box`: natural estimator with the analytic periodic RR,
 * xi f64 [n_edges - 1] for separation bins [edges[b], edges[b+1]) (Mpc/h,
 * strictly increasing, last <= box / 2); npairs i64 [n_edges - 1] ordered
 * pair counts (may be NULL). Errors: INVALID (a point outside the box,
 * bad edges, box not > 0), NUMERIC. */
int halograph_xi(const float *pts, int64_t n, int stride, double box, const double *edges, int n_edges,
                 double *xi, int64_t *npairs);

#ifdef __cplusplus
}
#endif
#endif
