/* Input pipeline (runtime/pipeline.c, norm.c; SPEC 1-2): selection,
 * log10 mass, train-split standardisation, batches, masks, shuffling and
 * both augmentations. Expected values come from brute force over the
 * synthetic dataset built here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

#define S_ 10
#define N_ 40
#define L_ 100.0

static uint64_t lcg_state;
static double lcg(void) { /* uniform [0, 1), Knuth's MMIX LCG */
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) * (1.0 / 9007199254740992.0);
}

/* S_ clouds of N_ haloes in a box of side L_: positions uniform (y only in
 * the lower half so the axes have different stds), velocities uniform
 * +-500, masses strictly descending; parameters Omega_m, h, sigma_8.
 * counts[pad_sim] = pad_count (rows beyond are zero) when pad_sim >= 0. */
static void make_ds(hg_dataset *ds, int pad_sim, int pad_count) {
    hg_dataset_init(ds);
    lcg_state = 12345;
    hg_tensor_alloc(&ds->halos, HG_F32, hg_shape_of(3, (int64_t)S_, (int64_t)N_, (int64_t)7));
    hg_tensor_alloc(&ds->counts, HG_I32, hg_shape_of(1, (int64_t)S_));
    hg_tensor_alloc(&ds->cosmology, HG_F32, hg_shape_of(2, (int64_t)S_, (int64_t)3));
    float *x = ds->halos.data;
    for (int s = 0; s < S_; s++) {
        int cnt = s == pad_sim ? pad_count : N_;
        ((int32_t *)ds->counts.data)[s] = cnt;
        for (int r = 0; r < cnt; r++) {
            float *row = x + (s * N_ + r) * 7;
            row[0] = (float)(lcg() * L_);
            row[1] = (float)(lcg() * L_ * 0.5);
            row[2] = (float)(lcg() * L_);
            for (int k = 3; k < 6; k++) row[k] = (float)(lcg() * 1000 - 500);
            row[6] = (float)(1e13 * pow(10, 2.0 * (N_ - r) / N_) * (1 + 0.1 * s));
        }
        float *c = (float *)ds->cosmology.data + s * 3;
        c[0] = 0.1f + 0.03f * s;
        c[1] = 0.7f;
        c[2] = 0.6f + 0.04f * s;
    }
    const char *fn[7] = {"x", "y", "z", "vx", "vy", "vz", "M"};
    for (int f = 0; f < 7; f++) strcpy(ds->feature_names[f], fn[f]);
    ds->n_features = 7;
    strcpy(ds->param_names[0], "Omega_m");
    strcpy(ds->param_names[1], "h");
    strcpy(ds->param_names[2], "sigma_8");
    ds->n_params = 3;
    ds->box_size = L_;
    double fr[3] = {0.6, 0.2, 0.2};
    hg_dataset_make_splits(ds, fr, 1);
}

static void cfg_plain(hg_pipeline_config *c) {
    hg_pipeline_config_default(c);
    c->augment_rotations = 0;
    c->augment_translations = 0;
}

/* Physical feature f of halo r of sim s (log10 for the mass). */
static double orig(const hg_dataset *ds, int s, int r, int f) {
    double v = ((const float *)ds->halos.data)[(s * N_ + r) * 7 + f];
    return f == 6 ? log10(v) : v;
}

HG_TEST(norm_is_train_split_population_stats) {
    hg_dataset ds;
    make_ds(&ds, -1, 0);
    hg_pipeline_config c;
    cfg_plain(&c);
    c.n_particles = 25;
    hg_norm nm;
    HG_CHECK_OK(hg_norm_compute(&ds, &c, &nm));
    HG_CHECK(nm.n_features == 7 && nm.box == L_);
    for (int f = 0; f < 7; f++) {
        double sum = 0, ss = 0;
        int n = 0;
        for (int i = 0; i < ds.split_n[0]; i++)
            for (int r = 0; r < 25; r++) {
                sum += orig(&ds, ds.split[0][i], r, f);
                n++;
            }
        double mean = sum / n;
        for (int i = 0; i < ds.split_n[0]; i++)
            for (int r = 0; r < 25; r++) ss += pow(orig(&ds, ds.split[0][i], r, f) - mean, 2);
        HG_CHECK_REL(nm.mean[f], mean, 1e-9);
        HG_CHECK_REL(nm.std[f], sqrt(ss / n), 1e-9); /* population std (divide by n) */
    }
    hg_dataset_free(&ds);
}

HG_TEST(standardised_train_features_have_mean_0_std_1) {
    hg_dataset ds;
    make_ds(&ds, -1, 0);
    hg_pipeline_config c;
    cfg_plain(&c);
    hg_pipeline p;
    HG_CHECK_OK(hg_pipeline_init(&p, &ds, HG_SPLIT_TRAIN, &c, NULL));
    double sum[7] = {0}, ss[7] = {0};
    int64_t n = 0;
    for (int64_t b = 0; b < hg_pipeline_n_eval_batches(&p, 4); b++) {
        hg_batch bt;
        HG_CHECK_OK(hg_pipeline_eval_batch(&p, b, 4, &bt));
        const float *x = bt.x.data, *m = bt.mask.data;
        for (int i = 0; i < 4 * N_; i++) {
            if (m[i] == 0) continue;
            for (int f = 0; f < 7; f++) {
                sum[f] += x[i * 7 + f];
                ss[f] += (double)x[i * 7 + f] * x[i * 7 + f];
            }
            n++;
        }
        hg_batch_free(&bt);
    }
    HG_CHECK(n == ds.split_n[0] * N_);
    for (int f = 0; f < 7; f++) {
        double mean = sum[f] / n, var = ss[f] / n - mean * mean;
        HG_CHECK_NEAR(mean, 0, 1e-5);
        HG_CHECK_NEAR(sqrt(var), 1, 1e-5);
    }
    /* validation uses the train statistics: its mean is not exactly 0 */
    hg_pipeline v;
    HG_CHECK_OK(hg_pipeline_init(&v, &ds, HG_SPLIT_VAL, &c, &p.norm));
    HG_CHECK(!memcmp(&v.norm, &p.norm, sizeof p.norm));
    hg_pipeline_free(&v);
    hg_pipeline_free(&p);
    hg_dataset_free(&ds);
}

HG_TEST(selection_log_mass_and_conditioning) {
    hg_dataset ds;
    make_ds(&ds, -1, 0);
    hg_pipeline_config c;
    cfg_plain(&c);
    c.n_particles = 10;
    c.n_cond = 2;
    strcpy(c.cond_names[0], "sigma_8");
    strcpy(c.cond_names[1], "Omega_m");
    hg_pipeline p;
    HG_CHECK_OK(hg_pipeline_init(&p, &ds, HG_SPLIT_TEST, &c, NULL));
    hg_batch b;
    HG_CHECK_OK(hg_pipeline_eval_batch(&p, 0, 2, &b));
    HG_CHECK(b.x.shape.rank == 3 && b.x.shape.dim[0] == 2 && b.x.shape.dim[1] == 10 && b.x.shape.dim[2] == 7);
    HG_CHECK(b.cond.shape.dim[1] == 2 && b.mask.shape.dim[1] == 10);
    hg_norm_invert(&p.norm, b.x.data, 20);
    for (int i = 0; i < 2; i++) {
        int s = ((int32_t *)b.sims.data)[i];
        HG_CHECK(s == ds.split[HG_SPLIT_TEST][i]);
        for (int r = 0; r < 10; r++)
            for (int f = 0; f < 7; f++)
                HG_CHECK_NEAR(((float *)b.x.data)[(i * 10 + r) * 7 + f], orig(&ds, s, r, f),
                              1e-4 * fmax(1, fabs(orig(&ds, s, r, f))));
        HG_CHECK(((float *)b.cond.data)[i * 2 + 0] == 0.6f + 0.04f * s);
        HG_CHECK(((float *)b.cond.data)[i * 2 + 1] == 0.1f + 0.03f * s);
        for (int r = 0; r < 10; r++) HG_CHECK(((float *)b.mask.data)[i * 10 + r] == 1);
    }
    hg_batch_free(&b);
    hg_pipeline_free(&p);
    /* positions only */
    c.n_features = 3;
    HG_CHECK_OK(hg_pipeline_init(&p, &ds, HG_SPLIT_TRAIN, &c, NULL));
    HG_CHECK(p.n_features == 3 && p.mass_col == -1 && p.norm.n_features == 3);
    hg_pipeline_free(&p);
    /* errors */
    strcpy(c.cond_names[1], "w_0");
    HG_CHECK_ERR(hg_pipeline_init(&p, &ds, HG_SPLIT_TRAIN, &c, NULL), "conditioning 'w_0' is not a parameter of the dataset (Omega_m, h, sigma_8)");
    cfg_plain(&c);
    c.n_particles = N_ + 1;
    HG_CHECK_ERR(hg_pipeline_init(&p, &ds, HG_SPLIT_TRAIN, &c, NULL), "n_particles 41 not in [1, 40]");
    hg_dataset_free(&ds);
}

HG_TEST(eval_batches_pad_the_last_one) {
    hg_dataset ds;
    make_ds(&ds, -1, 0);
    hg_pipeline_config c;
    cfg_plain(&c);
    hg_pipeline p;
    HG_CHECK_OK(hg_pipeline_init(&p, &ds, HG_SPLIT_TRAIN, &c, NULL)); /* 6 clouds */
    HG_CHECK(hg_pipeline_n_eval_batches(&p, 4) == 2 && hg_pipeline_n_eval_batches(&p, 6) == 1 &&
             hg_pipeline_n_eval_batches(&p, 7) == 1);
    hg_batch b;
    HG_CHECK_OK(hg_pipeline_eval_batch(&p, 1, 4, &b));
    HG_CHECK(b.n_real == 2);
    const int32_t *sims = b.sims.data;
    HG_CHECK(sims[0] == ds.split[0][4] && sims[1] == ds.split[0][5] && sims[2] == -1 && sims[3] == -1);
    for (int i = 0; i < 4; i++)
        for (int r = 0; r < N_; r++) HG_CHECK(((float *)b.mask.data)[i * N_ + r] == (i < 2 ? 1.0f : 0.0f));
    for (int i = 0; i < 4 * N_ * 7; i++) HG_CHECK(isfinite(((float *)b.x.data)[i]));
    hg_batch_free(&b);
    HG_CHECK_OK(hg_pipeline_eval_batch(&p, 0, 6, &b));
    HG_CHECK(b.n_real == 6);
    hg_batch_free(&b);
    HG_CHECK_ERR(hg_pipeline_eval_batch(&p, 2, 4, &b), "out of range");
    hg_pipeline_free(&p);
    hg_dataset_free(&ds);
}

HG_TEST(masks_mark_padding_and_stats_skip_it) {
    hg_dataset ds;
    make_ds(&ds, -1, 0);
    int pad_sim = ds.split[0][1];
    hg_dataset_free(&ds);
    make_ds(&ds, pad_sim, 17);
    hg_pipeline_config c;
    cfg_plain(&c);
    c.n_particles = 30;
    hg_pipeline p;
    HG_CHECK_OK(hg_pipeline_init(&p, &ds, HG_SPLIT_TRAIN, &c, NULL));
    hg_batch b;
    HG_CHECK_OK(hg_pipeline_eval_batch(&p, 0, 3, &b));
    for (int r = 0; r < 30; r++) {
        HG_CHECK(((float *)b.mask.data)[0 * 30 + r] == 1);
        HG_CHECK(((float *)b.mask.data)[1 * 30 + r] == (r < 17 ? 1.0f : 0.0f));
        if (r >= 17)
            for (int f = 0; f < 7; f++) HG_CHECK(((float *)b.x.data)[(30 + r) * 7 + f] == 0);
    }
    hg_batch_free(&b);
    /* mean of x over the real train haloes only: 5 x 30 + 17 */
    double sum = 0;
    int n = 0;
    for (int i = 0; i < ds.split_n[0]; i++) {
        int s = ds.split[0][i];
        for (int r = 0; r < (s == pad_sim ? 17 : 30); r++, n++) sum += orig(&ds, s, r, 0);
    }
    HG_CHECK(n == 5 * 30 + 17);
    HG_CHECK_REL(p.norm.mean[0], sum / n, 1e-9);
    hg_pipeline_free(&p);
    hg_dataset_free(&ds);
}

HG_TEST(training_stream_shuffles_every_epoch_reproducibly) {
    hg_dataset ds;
    make_ds(&ds, -1, 0);
    hg_pipeline_config c;
    cfg_plain(&c);
    c.seed = 7;
    hg_pipeline p;
    HG_CHECK_OK(hg_pipeline_init(&p, &ds, HG_SPLIT_TRAIN, &c, NULL)); /* 6 clouds */
    int32_t stream[12];
    for (int st = 0; st < 3; st++) { /* B = 4 does not divide 6 */
        hg_batch b;
        HG_CHECK_OK(hg_pipeline_train_batch(&p, st, 4, &b));
        HG_CHECK(b.n_real == 4);
        memcpy(stream + 4 * st, b.sims.data, sizeof(int32_t) * 4);
        hg_batch_free(&b);
    }
    for (int e = 0; e < 2; e++) { /* each epoch holds every cloud once */
        for (int i = 0; i < 6; i++) {
            int hits = 0;
            for (int j = 0; j < 6; j++) hits += stream[6 * e + j] == ds.split[0][i];
            HG_CHECK(hits == 1);
        }
    }
    HG_CHECK(memcmp(stream, stream + 6, sizeof(int32_t) * 6) != 0); /* reshuffled */
    /* the same (seed, step) gives the same batch; B = 1 sees the same stream */
    hg_batch a, b2;
    HG_CHECK_OK(hg_pipeline_train_batch(&p, 1, 4, &a));
    HG_CHECK_OK(hg_pipeline_train_batch(&p, 1, 4, &b2));
    HG_CHECK(!memcmp(a.x.data, b2.x.data, hg_tensor_bytes(&a.x)));
    hg_batch_free(&a);
    hg_batch_free(&b2);
    for (int k = 0; k < 12; k++) {
        HG_CHECK_OK(hg_pipeline_train_batch(&p, k, 1, &a));
        HG_CHECK(((int32_t *)a.sims.data)[0] == stream[k]);
        hg_batch_free(&a);
    }
    hg_pipeline_free(&p);
    c.seed = 8;
    HG_CHECK_OK(hg_pipeline_init(&p, &ds, HG_SPLIT_TRAIN, &c, NULL));
    int32_t other[12];
    for (int k = 0; k < 12; k++) {
        HG_CHECK_OK(hg_pipeline_train_batch(&p, k, 1, &a));
        other[k] = ((int32_t *)a.sims.data)[0];
        hg_batch_free(&a);
    }
    HG_CHECK(memcmp(other, stream, sizeof other) != 0);
    hg_pipeline_free(&p);
    hg_dataset_free(&ds);
}

/* The 48 cube symmetries from the SPEC 2 definition, built here. */
static void all_symmetries(double R[48][3][3]) {
    const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int a = 0; a < 6; a++)
        for (int sg = 0; sg < 8; sg++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    R[a * 8 + sg][i][j] = (perms[a][i] == j) * (((sg >> j) & 1) ? -1.0 : 1.0);
}

/* Index of the symmetry mapping u to w (w = R u) for all rows; -1 if none. */
static int find_symmetry(const double *u, const double *w, int n, double tol) {
    double R[48][3][3];
    all_symmetries(R);
    for (int k = 0; k < 48; k++) {
        int ok = 1;
        for (int r = 0; r < n && ok; r++)
            for (int i = 0; i < 3 && ok; i++) {
                double v = R[k][i][0] * u[3 * r] + R[k][i][1] * u[3 * r + 1] + R[k][i][2] * u[3 * r + 2];
                ok = fabs(v - w[3 * r + i]) <= tol;
            }
        if (ok) return k;
    }
    return -1;
}

HG_TEST(cube_symmetry_matches_spec_definition) {
    double R[3][3];
    /* u_perm in [1/6, 2/6): p = (0, 2, 1); u_sign 0.3 -> 2 = bit 1 -> s = (1, -1, 1) */
    hg_cube_symmetry(0.2, 0.3, R);
    double want[3][3] = {{1, 0, 0}, {0, 0, 1}, {0, -1, 0}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) HG_CHECK(R[i][j] == want[i][j]);
    /* every (u_perm, u_sign) cell gives a distinct signed permutation */
    double all[48][3][3];
    for (int a = 0; a < 6; a++)
        for (int s = 0; s < 8; s++) hg_cube_symmetry((a + 0.5) / 6, (s + 0.5) / 8, all[a * 8 + s]);
    for (int x = 0; x < 48; x++) {
        for (int y = 0; y < x; y++) HG_CHECK(memcmp(all[x], all[y], sizeof all[x]) != 0);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                double d = 0;
                for (int k = 0; k < 3; k++) d += all[x][i][k] * all[x][j][k];
                HG_CHECK(d == (i == j)); /* orthogonal */
            }
    }
}

static double pdist(const float *a, const float *b, double L) {
    double s = 0;
    for (int k = 0; k < 3; k++) {
        double d = fabs((double)a[k] - b[k]);
        if (d > L / 2) d = L - d;
        s += d * d;
    }
    return sqrt(s);
}

/* Runs 8 augmented training batches and checks SPEC 2's invariants;
 * returns how many distinct symmetries were seen within one batch (max). */
static int check_augmented(int per_cloud, int *distinct_ok) {
    hg_dataset ds;
    make_ds(&ds, -1, 0);
    hg_pipeline_config c;
    hg_pipeline_config_default(&c);
    c.rotation_per_cloud = per_cloud;
    c.n_particles = 20;
    hg_pipeline p;
    hg_status st = hg_pipeline_init(&p, &ds, HG_SPLIT_TRAIN, &c, NULL);
    if (st.code) return -100;
    int max_distinct = 0, bad = 0, moved = 0;
    for (int step = 0; step < 8; step++) {
        hg_batch b;
        if (hg_pipeline_train_batch(&p, step, 3, &b).code) return -100;
        hg_norm_invert(&p.norm, b.x.data, 3 * 20);
        int syms[3];
        for (int i = 0; i < 3; i++) {
            int s = ((int32_t *)b.sims.data)[i];
            const float *x = (const float *)b.x.data + i * 20 * 7;
            float o[20 * 7];
            double vo[60], va[60];
            for (int r = 0; r < 20; r++)
                for (int f = 0; f < 7; f++) o[r * 7 + f] = (float)orig(&ds, s, r, f);
            for (int r = 0; r < 20; r++) {
                for (int k = 0; k < 3; k++) {
                    bad += !(x[r * 7 + k] >= 0 && x[r * 7 + k] < L_); /* in the box */
                    moved += fabs(x[r * 7 + k] - o[r * 7 + k]) > 1e-3;
                    vo[3 * r + k] = o[r * 7 + 3 + k];
                    va[3 * r + k] = x[r * 7 + 3 + k];
                }
                bad += fabs(x[r * 7 + 6] - o[r * 7 + 6]) > 1e-4; /* mass untouched */
                for (int q = 0; q < r; q++) /* every periodic pair distance kept */
                    bad += fabs(pdist(x + r * 7, x + q * 7, L_) - pdist(o + r * 7, o + q * 7, L_)) > 2e-3;
            }
            syms[i] = find_symmetry(vo, va, 20, 2e-3); /* velocities rotate by a cube symmetry */
            bad += syms[i] < 0;
        }
        int distinct = 1 + (syms[1] != syms[0]) + (syms[2] != syms[0] && syms[2] != syms[1]);
        if (distinct > max_distinct) max_distinct = distinct;
        hg_batch_free(&b);
    }
    *distinct_ok = bad == 0 && moved > 0;
    if (bad) fprintf(stderr, "%d invariant violations\n", bad);
    hg_pipeline_free(&p);
    hg_dataset_free(&ds);
    return max_distinct;
}

HG_TEST(augmented_clouds_stay_in_box_and_keep_pair_distances) {
    int ok = 0;
    int d = check_augmented(0, &ok);
    HG_CHECK(ok);
    HG_CHECK(d == 1); /* one rotation per batch (reference) */
    d = check_augmented(1, &ok);
    HG_CHECK(ok);
    HG_CHECK(d > 1); /* option: one per cloud */
}

HG_TEST(reference_rotation_acts_on_normalised_coordinates) {
    hg_dataset ds;
    make_ds(&ds, -1, 0);
    hg_pipeline_config c;
    hg_pipeline_config_default(&c);
    c.augment_translations = 0;
    c.augment_in_normalised_coords = 1;
    hg_pipeline p;
    HG_CHECK_OK(hg_pipeline_init(&p, &ds, HG_SPLIT_TRAIN, &c, NULL));
    int nonidentity = 0;
    for (int step = 0; step < 6; step++) {
        hg_batch b;
        HG_CHECK_OK(hg_pipeline_train_batch(&p, step, 1, &b));
        int s = ((int32_t *)b.sims.data)[0];
        float o[N_ * 7];
        for (int r = 0; r < N_; r++)
            for (int f = 0; f < 7; f++) o[r * 7 + f] = (float)orig(&ds, s, r, f);
        hg_norm_apply(&p.norm, o, N_);
        double po[3 * N_], pa[3 * N_];
        for (int r = 0; r < N_; r++)
            for (int k = 0; k < 3; k++) {
                po[3 * r + k] = o[r * 7 + k];
                pa[3 * r + k] = ((float *)b.x.data)[r * 7 + k];
            }
        int k = find_symmetry(po, pa, N_, 1e-5); /* x' <- R x' on standardised positions */
        HG_CHECK(k >= 0);
        nonidentity += k != 0;
        hg_batch_free(&b);
    }
    HG_CHECK(nonidentity > 0);
    hg_pipeline_free(&p);
    hg_dataset_free(&ds);
}

HG_TEST(physical_rotation_is_about_the_box_centre) {
    hg_dataset ds;
    make_ds(&ds, -1, 0);
    hg_pipeline_config c;
    hg_pipeline_config_default(&c);
    c.augment_translations = 0;
    hg_pipeline p;
    HG_CHECK_OK(hg_pipeline_init(&p, &ds, HG_SPLIT_TRAIN, &c, NULL));
    double R[48][3][3];
    all_symmetries(R);
    int nonidentity = 0;
    for (int step = 0; step < 6; step++) {
        hg_batch b;
        HG_CHECK_OK(hg_pipeline_train_batch(&p, step, 1, &b));
        hg_norm_invert(&p.norm, b.x.data, N_);
        const float *x = b.x.data;
        int s = ((int32_t *)b.sims.data)[0];
        double vo[3 * N_], va[3 * N_];
        for (int r = 0; r < N_; r++)
            for (int k = 0; k < 3; k++) {
                vo[3 * r + k] = orig(&ds, s, r, 3 + k);
                va[3 * r + k] = x[r * 7 + 3 + k];
            }
        int k = find_symmetry(vo, va, N_, 2e-3);
        HG_CHECK(k >= 0);
        nonidentity += k != 0;
        for (int r = 0; r < N_; r++)
            for (int i = 0; i < 3; i++) {
                /* p' = (p - L/2) R^T + L/2, wrapped into [0, L) */
                double v = L_ / 2;
                for (int j = 0; j < 3; j++) v += R[k][i][j] * (orig(&ds, s, r, j) - L_ / 2);
                v -= L_ * floor(v / L_);
                double d = fabs(x[r * 7 + i] - v);
                HG_CHECK(fmin(d, L_ - d) < 2e-3);
            }
        hg_batch_free(&b);
    }
    HG_CHECK(nonidentity > 0);
    hg_pipeline_free(&p);
    hg_dataset_free(&ds);
}
