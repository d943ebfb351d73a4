/* The training input pipeline (SPEC 1-2): N most massive haloes, first F
 * features, log10 mass, train-split standardisation, cube-symmetry and
 * periodic-translation augmentations in physical units, seeded shuffling
 * from a counter-based RNG, masks, batches of any size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

#define STREAM_SHUFFLE 1u
#define STREAM_ROTATE 2u
#define STREAM_TRANSLATE 3u

void hg_pipeline_config_default(hg_pipeline_config *c) {
    memset(c, 0, sizeof *c);
    c->augment_rotations = 1;
    c->augment_translations = 1;
    c->seed = 52;
}

void hg_batch_free(hg_batch *b) {
    hg_tensor_free(&b->x);
    hg_tensor_free(&b->cond);
    hg_tensor_free(&b->mask);
    hg_tensor_free(&b->sims);
    b->n_real = 0;
}

/* Resolved selection: N, F, mass column, conditioning columns. */
typedef struct {
    int64_t N, F;
    int mass_col; /* in the selected features; -1: none */
    int n_cond;
    int cond_col[HG_PIPE_MAX_COND];
    char cond_names[HG_PIPE_MAX_COND][HG_DS_NAME_MAX];
} selection;

static hg_status resolve(const hg_dataset *ds, const hg_pipeline_config *cfg, selection *sel) {
    memset(sel, 0, sizeof *sel);
    int64_t np = hg_dataset_n_points(ds);
    if (np < 1) return hg_error(HG_ERR_INVALID, "pipeline: dataset has no haloes");
    if (cfg->n_particles < 0 || cfg->n_particles > np)
        return hg_error(HG_ERR_INVALID, "pipeline: n_particles %d not in [1, %lld] (points per cloud in the dataset)",
                        cfg->n_particles, (long long)np);
    if (cfg->n_features < 0 || cfg->n_features > ds->n_features)
        return hg_error(HG_ERR_INVALID, "pipeline: n_features %d not in [1, %d] (features in the dataset)",
                        cfg->n_features, ds->n_features);
    sel->N = cfg->n_particles ? cfg->n_particles : np;
    sel->F = cfg->n_features ? cfg->n_features : ds->n_features;
    sel->mass_col = -1;
    if (sel->F == 7) {
        if (strcmp(ds->feature_names[6], "M"))
            return hg_error(HG_ERR_INVALID, "pipeline: 7 features but feature 6 is '%s', not the mass 'M'",
                            ds->feature_names[6]);
        sel->mass_col = 6;
    }
    if (sel->F >= 3 && (strcmp(ds->feature_names[0], "x") || strcmp(ds->feature_names[1], "y") ||
                        strcmp(ds->feature_names[2], "z")))
        return hg_error(HG_ERR_INVALID, "pipeline: the first three features must be x, y, z");
    if (cfg->n_cond < 0 || cfg->n_cond > HG_PIPE_MAX_COND)
        return hg_error(HG_ERR_INVALID, "pipeline: %d conditioning names (at most %d)", cfg->n_cond, HG_PIPE_MAX_COND);
    if (cfg->n_cond == 0) {
        sel->n_cond = 2;
        strcpy(sel->cond_names[0], "Omega_m");
        strcpy(sel->cond_names[1], "sigma_8");
    } else {
        sel->n_cond = cfg->n_cond;
        for (int i = 0; i < cfg->n_cond; i++) snprintf(sel->cond_names[i], HG_DS_NAME_MAX, "%s", cfg->cond_names[i]);
    }
    for (int i = 0; i < sel->n_cond; i++) {
        sel->cond_col[i] = -1;
        for (int j = 0; j < ds->n_params; j++)
            if (!strcmp(ds->param_names[j], sel->cond_names[i])) sel->cond_col[i] = j;
        if (sel->cond_col[i] < 0) {
            char have[512] = "";
            for (int j = 0; j < ds->n_params; j++)
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", j ? ", " : "", ds->param_names[j]);
            return hg_error(HG_ERR_INVALID, "pipeline: conditioning '%s' is not a parameter of the dataset (%s)",
                            sel->cond_names[i], have);
        }
    }
    return hg_ok();
}

/* Physical-unit features of cloud `s` (first N rows, first F columns,
 * log10 mass) into x[N*F] and its mask into m[N]; returns the real count. */
static int64_t extract(const hg_dataset *ds, const selection *sel, int64_t s, float *x, float *m) {
    int64_t NP = hg_dataset_n_points(ds), FD = ds->n_features;
    int64_t cnt = ds->counts.data ? ((const int32_t *)ds->counts.data)[s] : NP;
    if (cnt > sel->N) cnt = sel->N;
    const float *src = (const float *)ds->halos.data + s * NP * FD;
    for (int64_t r = 0; r < sel->N; r++) {
        for (int64_t f = 0; f < sel->F; f++) {
            float v = r < cnt ? src[r * FD + f] : 0.0f;
            if (f == sel->mass_col && r < cnt) v = (float)log10((double)v);
            x[r * sel->F + f] = v;
        }
        if (m) m[r] = r < cnt ? 1.0f : 0.0f;
    }
    return cnt;
}

hg_status hg_norm_compute(const hg_dataset *ds, const hg_pipeline_config *cfg, hg_norm *out) {
    selection sel;
    HG_TRY(resolve(ds, cfg, &sel));
    int64_t n = ds->split_n[HG_SPLIT_TRAIN];
    if (n < 1) return hg_error(HG_ERR_INVALID, "normalisation: the train split is empty");
    float *x = malloc(sizeof(float) * (size_t)(sel.N * sel.F));
    if (!x) return hg_error(HG_ERR_NOMEM, "normalisation: out of memory");
    double sum[HG_DS_MAX_FEATURES] = {0}, ss[HG_DS_MAX_FEATURES] = {0};
    int64_t count = 0;
    /* two passes (mean, then squared deviations) for accuracy */
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < n; i++) {
            int64_t cnt = extract(ds, &sel, ds->split[HG_SPLIT_TRAIN][i], x, NULL);
            if (pass == 0) count += cnt;
            for (int64_t r = 0; r < cnt; r++)
                for (int64_t f = 0; f < sel.F; f++) {
                    double v = x[r * sel.F + f];
                    if (pass == 0) sum[f] += v;
                    else ss[f] += (v - sum[f]) * (v - sum[f]);
                }
            if (pass == 0 && i == n - 1)
                for (int64_t f = 0; f < sel.F; f++) sum[f] /= (double)(count ? count : 1);
        }
    free(x);
    if (count == 0) return hg_error(HG_ERR_INVALID, "normalisation: the train split has no haloes");
    memset(out, 0, sizeof *out);
    out->n_features = (int)sel.F;
    out->box = ds->box_size;
    for (int64_t f = 0; f < sel.F; f++) {
        out->mean[f] = sum[f];
        out->std[f] = sqrt(ss[f] / (double)count);
    }
    return hg_ok();
}

void hg_pipeline_free(hg_pipeline *p) {
    free(p->x);
    free(p->mask);
    free(p->cond);
    free(p->sims);
    memset(p, 0, sizeof *p);
}

hg_status hg_pipeline_init(hg_pipeline *p, const hg_dataset *ds, hg_split split,
                           const hg_pipeline_config *cfg, const hg_norm *norm) {
    memset(p, 0, sizeof *p);
    if ((int)split < 0 || split >= HG_NUM_SPLITS) return hg_error(HG_ERR_INVALID, "pipeline: bad split %d", (int)split);
    selection sel;
    HG_TRY(resolve(ds, cfg, &sel));
    int64_t n = ds->split_n[split];
    if (n < 1) return hg_error(HG_ERR_INVALID, "pipeline: the %s split is empty", hg_split_name(split));
    for (int64_t i = 0; i < n && ds->counts.data; i++) {
        int32_t sim = ds->split[split][i];
        if (((const int32_t *)ds->counts.data)[sim] < 1)
            return hg_error(HG_ERR_INVALID, "pipeline: %s split: simulation %d has no haloes (count 0); "
                            "every cloud needs at least one point", hg_split_name(split), sim);
    }
    if (norm) {
        if (norm->n_features != sel.F)
            return hg_error(HG_ERR_INVALID, "pipeline: normalisation has %d features, the pipeline selects %lld",
                            norm->n_features, (long long)sel.F);
        p->norm = *norm;
    } else {
        HG_TRY(hg_norm_compute(ds, cfg, &p->norm));
    }
    if (p->norm.box == 0) p->norm.box = ds->box_size;
    p->cfg = *cfg;
    p->split = split;
    p->box_size = ds->box_size;
    p->n_clouds = n;
    p->n_points = sel.N;
    p->n_features = sel.F;
    p->n_cond = sel.n_cond;
    p->mass_col = sel.mass_col;
    p->x = malloc(sizeof(float) * (size_t)(n * sel.N * sel.F));
    p->mask = malloc(sizeof(float) * (size_t)(n * sel.N));
    p->cond = malloc(sizeof(float) * (size_t)(n * sel.n_cond));
    p->sims = malloc(sizeof(int32_t) * (size_t)n);
    if (!p->x || !p->mask || !p->cond || !p->sims) {
        hg_pipeline_free(p);
        return hg_error(HG_ERR_NOMEM, "pipeline: out of memory for the %s split (%lld clouds x %lld points x %lld "
                        "features: data.n_particles, data.n_features)",
                        hg_split_name(split), (long long)n, (long long)sel.N, (long long)sel.F);
    }
    const float *cv = ds->cosmology.data;
    for (int64_t i = 0; i < n; i++) {
        int32_t s = ds->split[split][i];
        p->sims[i] = s;
        extract(ds, &sel, s, p->x + i * sel.N * sel.F, p->mask + i * sel.N);
        for (int c = 0; c < sel.n_cond; c++) p->cond[i * sel.n_cond + c] = cv[(int64_t)s * ds->n_params + sel.cond_col[c]];
    }
    return hg_ok();
}

/* ----------------------------------------------------------- augmentation */

void hg_cube_symmetry(double u_perm, double u_sign, double R[3][3]) {
    static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    int pi = (int)floor(u_perm * 6);
    int si = (int)floor(u_sign * 8);
    if (pi < 0) pi = 0;
    if (pi > 5) pi = 5;
    if (si < 0) si = 0;
    if (si > 7) si = 7;
    double s[3];
    for (int j = 0; j < 3; j++) s[j] = (si >> j) & 1 ? -1.0 : 1.0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) R[i][j] = (perms[pi][i] == j) ? s[j] : 0.0;
}

/* Wraps into [0, L): v - L floor(v / L), with a float result equal to L
 * (rounding) mapped to 0. */
static float wrap(double v, double L) {
    double w = v - L * floor(v / L);
    float f = (float)w;
    if (f >= (float)L || f < 0) f = 0;
    return f;
}

/* v[0..2] <- R v (row vector times R^T). */
static void rot3(const double R[3][3], const double in[3], double out[3]) {
    for (int i = 0; i < 3; i++) out[i] = R[i][0] * in[0] + R[i][1] * in[1] + R[i][2] * in[2];
}

/* Augments one cloud in place. x holds physical units on entry (or
 * normalised units for the reference rotation) and normalised units on
 * exit. */
static void augment_cloud(const hg_pipeline *p, float *x, const float *m, const double R[3][3], int rotate,
                          const double shift[3], int translate) {
    int64_t N = p->n_points, F = p->n_features;
    double L = p->box_size, c = L / 2;
    int vel = F >= 6;
    if (p->cfg.augment_in_normalised_coords) {
        /* reference (SPEC 2 option): x' @ R^T on the standardised features,
         * translation through un-normalise / shift / wrap / re-normalise */
        hg_norm_apply(&p->norm, x, N);
        for (int64_t r = 0; r < N; r++) {
            float *row = x + r * F;
            double a[3], b[3];
            if (rotate) {
                for (int k = 0; k < 3; k++) a[k] = row[k];
                rot3(R, a, b);
                for (int k = 0; k < 3; k++) row[k] = (float)b[k];
                if (vel) {
                    for (int k = 0; k < 3; k++) a[k] = row[3 + k];
                    rot3(R, a, b);
                    for (int k = 0; k < 3; k++) row[3 + k] = (float)b[k];
                }
            }
        }
        if (translate) {
            hg_norm_invert(&p->norm, x, N);
            for (int64_t r = 0; r < N; r++)
                for (int k = 0; k < 3; k++) x[r * F + k] = wrap((double)x[r * F + k] + shift[k], L);
            hg_norm_apply(&p->norm, x, N);
        }
    } else {
        for (int64_t r = 0; r < N; r++) {
            float *row = x + r * F;
            double a[3], b[3];
            if (rotate) {
                for (int k = 0; k < 3; k++) a[k] = (double)row[k] - c;
                rot3(R, a, b);
                for (int k = 0; k < 3; k++) row[k] = wrap(b[k] + c, L);
                if (vel) {
                    for (int k = 0; k < 3; k++) a[k] = row[3 + k];
                    rot3(R, a, b);
                    for (int k = 0; k < 3; k++) row[3 + k] = (float)b[k];
                }
            }
            if (translate)
                for (int k = 0; k < 3; k++) row[k] = wrap((double)row[k] + shift[k], L);
        }
        hg_norm_apply(&p->norm, x, N);
    }
    for (int64_t r = 0; r < N; r++)
        if (m[r] == 0)
            for (int64_t f = 0; f < F; f++) x[r * F + f] = 0;
}

/* --------------------------------------------------------------- batches */

static hg_status alloc_batch(const hg_pipeline *p, int B, hg_batch *out) {
    memset(out, 0, sizeof *out);
    hg_status s = hg_tensor_alloc(&out->x, HG_F32, hg_shape_of(3, (int64_t)B, p->n_points, p->n_features));
    if (s.code == HG_OK) s = hg_tensor_alloc(&out->cond, HG_F32, hg_shape_of(2, (int64_t)B, p->n_cond));
    if (s.code == HG_OK) s = hg_tensor_alloc(&out->mask, HG_F32, hg_shape_of(2, (int64_t)B, p->n_points));
    if (s.code == HG_OK) s = hg_tensor_alloc(&out->sims, HG_I32, hg_shape_of(1, (int64_t)B));
    if (s.code) hg_batch_free(out);
    return s;
}

static void copy_cloud(const hg_pipeline *p, int64_t i, hg_batch *out, int b) {
    int64_t NF = p->n_points * p->n_features;
    memcpy((float *)out->x.data + b * NF, p->x + i * NF, sizeof(float) * (size_t)NF);
    memcpy((float *)out->mask.data + b * p->n_points, p->mask + i * p->n_points, sizeof(float) * (size_t)p->n_points);
    memcpy((float *)out->cond.data + b * p->n_cond, p->cond + i * p->n_cond, sizeof(float) * (size_t)p->n_cond);
    ((int32_t *)out->sims.data)[b] = p->sims[i];
}

/* Permutation of epoch e: Fisher-Yates with hg_rng_uniform(seed,
 * STREAM_SHUFFLE, e, 0, i). */
static void epoch_perm(const hg_pipeline *p, int64_t epoch, int32_t *perm) {
    int64_t n = p->n_clouds;
    for (int64_t i = 0; i < n; i++) perm[i] = (int32_t)i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(hg_rng_uniform(p->cfg.seed, STREAM_SHUFFLE, (uint32_t)epoch, 0, (uint64_t)i) *
                              (double)(i + 1));
        if (j > i) j = i;
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

hg_status hg_pipeline_train_batch(const hg_pipeline *p, int64_t step, int B, hg_batch *out) {
    if (B < 1) return hg_error(HG_ERR_INVALID, "pipeline: batch size %d must be >= 1", B);
    if (step < 0) return hg_error(HG_ERR_INVALID, "pipeline: negative step %lld", (long long)step);
    if ((p->cfg.augment_rotations || p->cfg.augment_translations) && p->n_features < 3)
        return hg_error(HG_ERR_INVALID, "pipeline: augmentations need the x, y, z features");
    HG_TRY(alloc_batch(p, B, out));
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)p->n_clouds);
    if (!perm) {
        hg_batch_free(out);
        return hg_error(HG_ERR_NOMEM, "pipeline: out of memory");
    }
    int64_t cur_epoch = -1;
    uint32_t st = (uint32_t)step, seed = p->cfg.seed;
    double R[3][3];
    hg_cube_symmetry(hg_rng_uniform(seed, STREAM_ROTATE, st, 0, 0), hg_rng_uniform(seed, STREAM_ROTATE, st, 0, 1), R);
    for (int b = 0; b < B; b++) {
        int64_t k = step * (int64_t)B + b;
        int64_t epoch = k / p->n_clouds, pos = k % p->n_clouds;
        if (epoch != cur_epoch) {
            epoch_perm(p, epoch, perm);
            cur_epoch = epoch;
        }
        copy_cloud(p, perm[pos], out, b);
        if (p->cfg.rotation_per_cloud)
            hg_cube_symmetry(hg_rng_uniform(seed, STREAM_ROTATE, st, (uint32_t)b + 1, 0),
                             hg_rng_uniform(seed, STREAM_ROTATE, st, (uint32_t)b + 1, 1), R);
        double shift[3];
        for (int j = 0; j < 3; j++)
            shift[j] = (hg_rng_uniform(seed, STREAM_TRANSLATE, st, (uint32_t)b, (uint64_t)j) - 0.5) * p->box_size;
        int64_t NF = p->n_points * p->n_features;
        augment_cloud(p, (float *)out->x.data + b * NF, (const float *)out->mask.data + b * p->n_points, R,
                      p->cfg.augment_rotations, shift, p->cfg.augment_translations);
    }
    free(perm);
    out->n_real = B;
    return hg_ok();
}

int64_t hg_pipeline_n_eval_batches(const hg_pipeline *p, int B) {
    return B < 1 ? 0 : (p->n_clouds + B - 1) / B;
}

hg_status hg_pipeline_eval_batch(const hg_pipeline *p, int64_t index, int B, hg_batch *out) {
    if (B < 1) return hg_error(HG_ERR_INVALID, "pipeline: batch size %d must be >= 1", B);
    int64_t nb = hg_pipeline_n_eval_batches(p, B);
    if (index < 0 || index >= nb)
        return hg_error(HG_ERR_INVALID, "pipeline: eval batch %lld out of range [0, %lld) for the %s split",
                        (long long)index, (long long)nb, hg_split_name(p->split));
    HG_TRY(alloc_batch(p, B, out));
    int n_real = 0;
    int64_t NF = p->n_points * p->n_features;
    for (int b = 0; b < B; b++) {
        int64_t i = index * B + b;
        int real = i < p->n_clouds;
        copy_cloud(p, real ? i : (i % p->n_clouds), out, b);
        float *x = (float *)out->x.data + b * NF;
        float *m = (float *)out->mask.data + b * p->n_points;
        hg_norm_apply(&p->norm, x, p->n_points);
        if (!real) {
            for (int64_t r = 0; r < p->n_points; r++) m[r] = 0;
            ((int32_t *)out->sims.data)[b] = -1;
        } else {
            n_real++;
        }
        for (int64_t r = 0; r < p->n_points; r++)
            if (m[r] == 0 && real)
                for (int64_t f = 0; f < p->n_features; f++) x[r * p->n_features + f] = 0;
    }
    out->n_real = n_real;
    return hg_ok();
}
