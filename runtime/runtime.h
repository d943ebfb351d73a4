/* halograph runtime: files (.npy, CSV tables, HDF5 datasets and
 * checkpoints), the training input pipeline, and (sections added by other
 * modules) the program executor and the profiler.
 *
 * Every function returns an hg_status naming the file, row, column or
 * tensor at fault; nothing here prints or exits. HDF5's own error printing
 * is switched off (H5Eset_auto2) by every function that touches HDF5.
 */
#ifndef HG_RUNTIME_H
#define HG_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* ============================================================ checksums */

#define HG_FNV_OFFSET 0xcbf29ce484222325ULL
/* FNV-1a 64-bit hash of n bytes continuing from h (start with
 * HG_FNV_OFFSET). Integrity checks of datasets and checkpoints; not
 * cryptographic. */
uint64_t hg_fnv1a64(uint64_t h, const void *p, size_t n);

/* ================================================================ .npy */

/* Reads a numpy .npy file (format versions 1.0, 2.0, 3.0) into an owned
 * tensor (*out is overwritten; free with hg_tensor_free).
 * Accepted: little-endian or byte-order-free '<f4' -> HG_F32, '<f8' ->
 * HG_F64, '<i4' -> HG_I32, '|b1' -> HG_BOOL; C order; rank 0..HG_MAX_RANK.
 * Errors: HG_ERR_IO (missing/unreadable), HG_ERR_UNSUPPORTED (big-endian
 * '>..', Fortran order, other dtypes: named in the message), HG_ERR_FORMAT
 * (bad magic, unknown version, malformed header dictionary, truncated:
 * fewer data bytes than the shape needs, or trailing bytes). Messages
 * start with the path. */
hg_status hg_npy_read(const char *path, hg_tensor *out);

/* Writes t as a .npy v1.0 file (little-endian, C order). Atomic: writes
 * "<path>.tmp.<pid>" in the same directory, fsyncs, renames over path.
 * Errors: HG_ERR_IO. */
hg_status hg_npy_write(const char *path, const hg_tensor *t);

/* ============================================================ CSV tables */

#define HG_TABLE_MAX_COLS 64
#define HG_TABLE_NAME_MAX 64

/* A numeric table: named columns of doubles, row-major values[r * n_cols + c]. */
typedef struct {
    int n_rows, n_cols;
    char names[HG_TABLE_MAX_COLS][HG_TABLE_NAME_MAX];
    double *values; /* owned; n_rows * n_cols */
} hg_table;

/* Reads a comma-separated table with a header line. A leading index column
 * (header field empty, or named "index"/"row"/"Unnamed: 0", as pandas
 * writes it) is dropped. CRLF line ends, a UTF-8 BOM, blank trailing lines
 * and spaces around fields are tolerated. Every value must parse fully as a
 * finite number. Errors (HG_ERR_IO / HG_ERR_FORMAT / HG_ERR_NUMERIC) name
 * "path:line: column NAME": wrong field count, empty or non-numeric field,
 * NaN/Inf, duplicate column names, no data rows. */
hg_status hg_table_read_csv(const char *path, hg_table *out);

/* Reads a whitespace-separated table whose header is a comment line
 * "#name1 name2 ..." (Quijote's latin_hypercube_params.txt). Lines
 * starting with '#' after the header are skipped. Errors as above. */
hg_status hg_table_read_whitespace(const char *path, hg_table *out);

/* Index of column `name`, -1 if absent. */
int hg_table_col(const hg_table *t, const char *name);
void hg_table_free(hg_table *t);

/* =============================================================== datasets */

#define HG_DS_MAX_FEATURES 16
#define HG_DS_MAX_PARAMS 32
#define HG_DS_NAME_MAX 64
#define HG_DS_TEXT_MAX 512

typedef enum { HG_SPLIT_TRAIN = 0, HG_SPLIT_VAL, HG_SPLIT_TEST, HG_NUM_SPLITS } hg_split;
const char *hg_split_name(hg_split s); /* "train", "val", "test" */

/* A halo dataset (SPEC 1), as stored in HDF5:
 *   /halos       f32 [n_sims, n_points, n_features], each cloud sorted by
 *                mass descending (when a mass column exists); rows at or
 *                beyond counts[s] are padding (zeros)
 *   /counts      i32 [n_sims]  number of real haloes per cloud
 *   /cosmology   f32 [n_sims, C], attribute `names` (strings)
 *   /split/train, /split/val, /split/test   i32 index lists (ascending)
 *   file attributes: box_size (f64, Mpc/h), redshift (f64), feature_names,
 *   feature_units (strings), source, licence (string), split_seed (u64),
 *   split_fractions (f64[3]), checksum (u64, hg_dataset_checksum),
 *   format ("halograph-dataset-2").
 * Every dataset above is required; so are box_size, redshift,
 * feature_names, the cosmology names and (version 2) checksum. Version 1
 * files ("halograph-dataset-1", checksum over halos and cosmology only)
 * are still read; a file naming any other version is refused.
 * Positions are in [0, box_size). */
typedef struct {
    hg_tensor halos;     /* f32 [n_sims, n_points, n_features] */
    hg_tensor counts;    /* i32 [n_sims] */
    hg_tensor cosmology; /* f32 [n_sims, n_params] */
    int n_features, n_params;
    char feature_names[HG_DS_MAX_FEATURES][HG_DS_NAME_MAX];
    char feature_units[HG_DS_MAX_FEATURES][HG_DS_NAME_MAX];
    char param_names[HG_DS_MAX_PARAMS][HG_DS_NAME_MAX];
    double box_size;     /* Mpc/h */
    double redshift;
    char source[HG_DS_TEXT_MAX];
    char licence[HG_DS_TEXT_MAX];
    uint64_t split_seed;
    double split_fractions[HG_NUM_SPLITS];
    int32_t *split[HG_NUM_SPLITS]; /* owned index lists into the sims */
    int64_t split_n[HG_NUM_SPLITS];
    uint64_t checksum;   /* as stored / as computed at save */
} hg_dataset;

/* Zero-initialises (no allocation). */
void hg_dataset_init(hg_dataset *ds);
void hg_dataset_free(hg_dataset *ds);
int64_t hg_dataset_n_sims(const hg_dataset *ds);
int64_t hg_dataset_n_points(const hg_dataset *ds);

/* FNV-1a 64-bit hash (hg_fnv1a64) over the raw bytes, little-endian as in
 * memory, of halos, cosmology, counts, then the train, val and test
 * index lists (each part skipped when NULL). Identifies the data a run
 * was trained on. (Format 1 files hashed halos and cosmology only; their
 * loaded ds->checksum keeps that value.) */
uint64_t hg_dataset_checksum(const hg_dataset *ds);

/* Fills ds->split with a seeded random partition of the n_sims clouds:
 * n_val = round(f[1] n), n_test = round(f[2] n), n_train = the rest; the
 * permutation is a Fisher-Yates shuffle driven by hg_rng_uniform(s32,
 * stream 7, 0, 0, i) with s32 = low ^ high word of seed; each list is
 * then sorted ascending. Fractions
 * must be >= 0 and sum to 1 (+-1e-6); the train split must be non-empty.
 * Errors: HG_ERR_INVALID. */
hg_status hg_dataset_make_splits(hg_dataset *ds, const double fractions[3],
                                 uint64_t seed);

/* Checks contents (SPEC 1): finite values, positions (features 0..2 when
 * named x,y,z) in [0, box_size), mass column ("M") > 0 for real rows,
 * counts in [0, n_points], split indices in range and disjoint, names
 * present. Errors name sim/row/column: HG_ERR_NUMERIC, HG_ERR_INVALID. */
hg_status hg_dataset_validate(const hg_dataset *ds);

/* Loads a dataset written by hg_dataset_save (or by h5py in that layout).
 * *ds must be initialised; previous contents are freed. Before reading
 * any data it checks the format version and the whole layout (every
 * required dataset with its dtype, rank and consistent dimensions; sizes
 * within the supported limits; stored bytes matching the shapes; required
 * attributes); then it verifies the stored checksum and the contents
 * (hg_dataset_validate). Errors: HG_ERR_IO, HG_ERR_FORMAT, HG_ERR_INVALID,
 * HG_ERR_NUMERIC, each message starting with the path and naming the
 * dataset or attribute. */
hg_status hg_dataset_load(const char *path, hg_dataset *ds);

/* Writes ds (after hg_dataset_validate) atomically: temp file in the same
 * directory, fsync, rename. Sets ds->checksum. */
hg_status hg_dataset_save(const char *path, hg_dataset *ds);

/* ------------------------------------------------------------- importer */

/* What `halograph import` reads (the reference layout, SPEC 1). */
typedef struct {
    const char *halos_path;     /* .npy [n_sims, n_points, F], F in 3..7; x,y,z[,vx,vy,vz][,M] */
    const char *cosmology_path; /* CSV, or NULL when params_path is given */
    const char *params_path;    /* whitespace table (Quijote LH), or NULL */
    int64_t params_offset;      /* params table row of sim 0 (default 0) */
    double box_size;            /* > 0, required (Mpc/h) */
    double redshift;            /* default 0 */
    double split[3];            /* default 0.8, 0.1, 0.1 */
    uint64_t seed;              /* split seed */
    const char *source;         /* NULL: "imported from <halos file name>" */
    const char *licence;        /* NULL: "unspecified" */
    const char *required_params;/* comma list that must be columns; NULL: "Omega_m,sigma_8", "": none */
} hg_import_options;

void hg_import_options_default(hg_import_options *o);

/* Reads, validates and converts the inputs into *ds (initialised by the
 * caller): f64 input converted to f32; positions equal to box_size wrap to
 * 0; each cloud stably re-sorted by mass descending (7 features); splits
 * drawn. Validation errors (never a crash) name file and sim/row/column:
 * wrong dtype or rank, truncated/bad .npy, NaN/Inf, position outside
 * [0, L], mass <= 0, row-count mismatch between haloes and cosmology,
 * non-numeric or missing columns, box_size <= 0. Feature columns: 3
 * (x,y,z), 6 (+vx,vy,vz) or 7 (+M); units Mpc/h, km/s, Msun/h. */
hg_status hg_import(const hg_import_options *o, hg_dataset *ds);

/* ========================================== normalisation, input pipeline */

/* Per-feature standardisation statistics (SPEC 1): mean and population std
 * over every cloud and real point of the training split, computed on the
 * pipeline's features (after N selection, F selection and log10 mass). */
typedef struct {
    int n_features;
    double mean[HG_DS_MAX_FEATURES];
    double std[HG_DS_MAX_FEATURES];
    double box; /* box side L (Mpc/h) of the data, for wrapping positions (0: unknown) */
} hg_norm;

/* x' = (x - mean + 1e-7) / (std + 1e-7), elementwise over rows of F values
 * (n_rows * F floats, in place); hg_norm_invert is its exact inverse
 * x = x' (std + 1e-7) + mean - 1e-7. */
void hg_norm_apply(const hg_norm *nm, float *x, int64_t n_rows);
void hg_norm_invert(const hg_norm *nm, float *x, int64_t n_rows);
/* Standalone HDF5 file with /norm/mean and /norm/std (f64 [F]) and
 * /norm attribute box_size, for a run directory. Atomic. The dataset file
 * itself stores no statistics: they depend on the run's N and F. */
hg_status hg_norm_save(const char *path, const hg_norm *nm);
hg_status hg_norm_load(const char *path, hg_norm *nm);

#define HG_PIPE_MAX_COND 16

/* Pipeline options (config section `data`, SPEC 1-2 and 7). */
typedef struct {
    int n_particles;                 /* N: keep the N most massive (0 = all rows) */
    int n_features;                  /* F: keep the first F columns (0 = all) */
    int n_cond;                      /* conditioning names (0 = Omega_m, sigma_8) */
    char cond_names[HG_PIPE_MAX_COND][HG_DS_NAME_MAX];
    int augment_rotations;           /* SPEC 2 cube symmetries (default 1) */
    int augment_translations;        /* SPEC 2 periodic shifts (default 1) */
    int rotation_per_cloud;          /* option: one rotation per cloud (default 0: per batch) */
    int augment_in_normalised_coords;/* option: the reference's x' @ R^T (default 0) */
    uint32_t seed;                   /* shuffling and augmentation seed */
} hg_pipeline_config;

void hg_pipeline_config_default(hg_pipeline_config *c);

/* A batch, ready as graph inputs. */
typedef struct {
    hg_tensor x;     /* f32 [B, N, F] standardised features */
    hg_tensor cond;  /* f32 [B, C] raw conditioning */
    hg_tensor mask;  /* f32 [B, N] 1 = real point, 0 = padding */
    hg_tensor sims;  /* i32 [B] dataset index of each cloud (-1: batch padding) */
    int n_real;      /* clouds of the batch that are real (< B only for eval padding) */
} hg_batch;

void hg_batch_free(hg_batch *b);

/* The clouds of one split, preprocessed (N, F, log10 mass) in physical
 * units, plus conditioning; owns its arrays. */
typedef struct {
    hg_pipeline_config cfg;
    hg_split split;
    hg_norm norm;
    double box_size;
    int64_t n_clouds, n_points, n_features, n_cond;
    float *x;        /* [n_clouds, N, F] physical (log10 M) */
    float *mask;     /* [n_clouds, N] */
    float *cond;     /* [n_clouds, C] */
    int32_t *sims;   /* [n_clouds] dataset indices */
    int mass_col;    /* index of the log10 mass feature, -1 if none */
} hg_pipeline;

/* Computes hg_norm over the train split of ds with cfg's N/F selection. */
hg_status hg_norm_compute(const hg_dataset *ds, const hg_pipeline_config *cfg,
                          hg_norm *out);

/* Prepares the clouds of `split`. `norm` (NULL: computed from the train
 * split) is copied. Errors: HG_ERR_INVALID (unknown conditioning name,
 * N or F larger than the dataset, empty split, a cloud of the split with
 * no haloes (count 0: losses and likelihoods are masked means over
 * points), norm F mismatch). */
hg_status hg_pipeline_init(hg_pipeline *p, const hg_dataset *ds, hg_split split,
                           const hg_pipeline_config *cfg, const hg_norm *norm);
void hg_pipeline_free(hg_pipeline *p);

/* Training batch number `step` (B clouds). The clouds are the positions
 * step*B .. step*B+B-1 of an endless stream made of successive epochs, each
 * epoch a fresh permutation of the split (Fisher-Yates driven by
 * hg_rng_uniform(seed, stream 1, epoch, 0, i)), so every batch is full and
 * a partial last batch of an epoch continues into the next epoch. The
 * batch depends only on (seed, step, B): reproducible and resumable.
 * Augmentations (SPEC 2) are applied when enabled, in physical units:
 * rotation p <- (p - L/2) R^T + L/2 wrapped into [0, L), v <- v R^T, with
 * R = hg_cube_symmetry(u0, u1), u_e = hg_rng_uniform(seed, stream 2,
 * step mod 2^32, replica 0 (per batch) or 1 + b (per cloud option), e);
 * then translation p <- (p + shift) mod L, shift_j = (hg_rng_uniform(seed,
 * stream 3, step, b, j) - 1/2) L; then standardisation. With
 * augment_in_normalised_coords the rotation is applied to the standardised
 * x' instead (the reference), and the translation un-normalises, shifts,
 * wraps and re-normalises. Padded rows (mask 0) are zero. */
hg_status hg_pipeline_train_batch(const hg_pipeline *p, int64_t step, int B,
                                  hg_batch *out);

/* Evaluation batch number `index` (no shuffling, no augmentation): clouds
 * index*B .. in split order. The last batch, when B does not divide the
 * split, is padded with copies of the split's first clouds whose masks are
 * all 0 and sims -1; n_real counts the real ones. Number of batches:
 * hg_pipeline_n_eval_batches = ceil(n_clouds / B). Error if index is out
 * of range. */
hg_status hg_pipeline_eval_batch(const hg_pipeline *p, int64_t index, int B,
                                 hg_batch *out);
int64_t hg_pipeline_n_eval_batches(const hg_pipeline *p, int B);

/* The SPEC 2 cube symmetry drawn from two uniforms: permutation p =
 * index floor(u_perm * 6) of the 6 permutations in lexicographic order,
 * signs s from floor(u_sign * 8) bit j -> s[j] = -1. R[i][j] =
 * (p[i] == j) s[j]. */
void hg_cube_symmetry(double u_perm, double u_sign, double R[3][3]);

/* ============================================================ checkpoints */

#define HG_CK_MAX_COUNTERS 16

/* A training checkpoint, as stored in HDF5:
 *   /state/<path>   every tensor of `state` under its slash path
 *                   (e.g. /state/score/layer_0/mha/query/kernel,
 *                    /state/opt/m/score/...), native dtype and shape
 *                   /state has attribute `names`: the map's insertion
 *                   order (restored on load)
 *   /norm/mean, /norm/std   f64 [F] (when has_norm), /norm attribute box_size
 *   every tensor (each /state dataset, /norm/mean, /norm/std) carries
 *   attribute `checksum` (u64, hg_fnv1a64 of its raw bytes)
 *   attributes of /: format "halograph-checkpoint-2", step (i64),
 *   seed (u64), config (YAML text), dataset_checksum (u64),
 *   rng_counter_names (strings) + rng_counters (i64 array). */
typedef struct {
    hg_tensor_map state; /* names without a leading '/' */
    int64_t step;
    uint64_t seed;
    int n_counters;
    char counter_names[HG_CK_MAX_COUNTERS][HG_DS_NAME_MAX];
    int64_t counters[HG_CK_MAX_COUNTERS];
    char *config_yaml;   /* owned (malloc), may be NULL */
    int has_norm;
    hg_norm norm;
    uint64_t dataset_checksum;
} hg_checkpoint;

void hg_checkpoint_init(hg_checkpoint *ck);
void hg_checkpoint_free(hg_checkpoint *ck);
/* Sets (copies) the config text. */
hg_status hg_checkpoint_set_config(hg_checkpoint *ck, const char *yaml);
/* Sets or adds a named counter. */
hg_status hg_checkpoint_set_counter(hg_checkpoint *ck, const char *name, int64_t v);

/* Writes ck to path atomically: "<path>.tmp.<pid>" in the same directory,
 * H5Fflush + fsync of the file, rename over path, fsync of the directory.
 * A crash at any moment leaves either the old or the new file at path. */
hg_status hg_checkpoint_save(const char *path, const hg_checkpoint *ck);

/* Loads path into *ck (initialised by the caller; previous contents
 * freed). The format version must be 1 (no checksums, still read) or 2;
 * with 2 every tensor's checksum is verified (HG_ERR_FORMAT naming the
 * tensor: "path: tensor 'score/.../kernel' is corrupted: ..."). Attributes
 * are checked for presence, type and range (step >= 0). When `expected` is non-NULL, the stored state must hold exactly
 * its names, dtypes and shapes; otherwise HG_ERR_INVALID listing every
 * difference ("missing tensor X; unexpected tensor Y; shape of Z: stored
 * [a,b] vs expected [c,d]; dtype of W: ..."). When `expected_config` is
 * non-NULL, hg_config_compatible is applied to the stored config. */
hg_status hg_checkpoint_load(const char *path, const hg_tensor_map *expected,
                             const char *expected_config, hg_checkpoint *ck);

/* Compares two YAML configs key by key (flattened to "section.key"); the
 * keys that fix the model's parameters must agree: data.n_features,
 * data.conditioning, every vdm.* and score.* key. A key missing on one
 * side counts as different. Returns HG_OK or HG_ERR_INVALID listing each
 * difference ("score.d_model: checkpoint 256 vs config 128"). */
hg_status hg_config_compatible(const char *stored_yaml, const char *expected_yaml);

/* The atomic-file helpers, output checks and hg_mkdirs live
 * below codegen/ in ir/atomic.h (included by ir/ir.h). */

#endif
