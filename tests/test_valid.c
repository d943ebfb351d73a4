/* Reader validation (issue 14: defects 3, 6-10): the whole layout of a
 * dataset and a checkpoint checked before use, format versions, checksums
 * over every dataset and every checkpoint tensor, empty clouds, the YAML
 * depth and size caps, config bounds, the model size estimate (checked
 * arithmetic) and non-finite weights at ONNX export. Expected checksums
 * are recomputed here from the FNV-1a definition, not by the library. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/onnx.h"
#include "models/eval.h"
#include "models/models.h"
#include "runtime/runtime.h"
#include "tests/checkpoint_fixture.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* 3 sims x 4 points x (x, y, z), box 10, counts 4, 3, 2; 2 params. */
static void make_ds(hg_dataset *ds) {
    hg_dataset_init(ds);
    hg_tensor_alloc(&ds->halos, HG_F32, HG_S3(3, 4, 3));
    float *x = ds->halos.data;
    for (int i = 0; i < 36; i++) x[i] = (float)((i * 7) % 10) + 0.5f;
    hg_tensor_alloc(&ds->counts, HG_I32, HG_S1(3));
    int32_t *c = ds->counts.data;
    c[0] = 4, c[1] = 3, c[2] = 2;
    hg_tensor_alloc(&ds->cosmology, HG_F32, HG_S2(3, 2));
    float *cv = ds->cosmology.data;
    for (int i = 0; i < 6; i++) cv[i] = 0.2f + 0.1f * (float)i;
    ds->n_features = 3;
    strcpy(ds->feature_names[0], "x");
    strcpy(ds->feature_names[1], "y");
    strcpy(ds->feature_names[2], "z");
    for (int i = 0; i < 3; i++) strcpy(ds->feature_units[i], "Mpc/h");
    ds->n_params = 2;
    strcpy(ds->param_names[0], "Omega_m");
    strcpy(ds->param_names[1], "sigma_8");
    ds->box_size = 10;
    double f[3] = {0.34, 0.33, 0.33};
    hg_dataset_make_splits(ds, f, 1);
}

static const char *saved_ds(const char *name) {
    hg_dataset ds;
    make_ds(&ds);
    const char *p = hg_test_path(name);
    hg_status s = hg_dataset_save(p, &ds);
    if (s.code) fprintf(stderr, "save: %s\n", s.msg);
    hg_dataset_free(&ds);
    return p;
}

static void set_str_attr(const char *path, const char *obj, const char *name, const char *v) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
    if (H5Aexists(o, name) > 0) H5Adelete(o, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(o, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Oclose(o);
    H5Fclose(f);
}

static void set_u64_attr(const char *path, const char *obj, const char *name, uint64_t v) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
    if (H5Aexists(o, name) > 0) H5Adelete(o, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(o, name, H5T_STD_U64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_UINT64, &v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Oclose(o);
    H5Fclose(f);
}

static void del_attr(const char *path, const char *obj, const char *name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete_by_name(f, obj, name, H5P_DEFAULT);
    H5Fclose(f);
}

static void del_link(const char *path, const char *name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, name, H5P_DEFAULT);
    H5Fclose(f);
}

/* Overwrites element `i` of an int32 dataset. */
static void poke_i32(const char *path, const char *name, int64_t i, int32_t v) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t at = (hsize_t)i, one = 1;
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, &at, NULL, &one, NULL);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    H5Dwrite(d, H5T_NATIVE_INT32, ms, sp, H5P_DEFAULT, &v);
    H5Sclose(ms);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
}

/* Flips bit `bit` of byte `byte` of a dataset's raw data (any dtype). */
static void flip_bit(const char *path, const char *name, size_t byte, int bit) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    hid_t sp = H5Dget_space(d);
    size_t n = (size_t)H5Sget_simple_extent_npoints(sp) * H5Tget_size(t);
    unsigned char *b = malloc(n);
    H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, b);
    b[byte] ^= (unsigned char)(1u << bit);
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, b);
    free(b);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
}

/* ---------------------------------------------------------------- datasets */

HG_TEST(dataset_without_counts_is_refused_naming_it) {
    const char *p = saved_ds("nocounts.h5");
    del_link(p, "counts");
    hg_dataset ds;
    hg_dataset_init(&ds);
    hg_status s = hg_dataset_load(p, &ds);
    HG_CHECK(s.code == HG_ERR_FORMAT && strstr(s.msg, p) && strstr(s.msg, "counts"));
    HG_CHECK(ds.halos.data == NULL && ds.counts.data == NULL);
}

HG_TEST(dataset_layout_errors_name_the_dataset) {
    static const char *required[] = {"halos", "cosmology", "split/train", "split/val", "split/test"};
    for (int i = 0; i < 5; i++) {
        const char *p = saved_ds("missing.h5");
        del_link(p, required[i]);
        hg_dataset ds;
        hg_dataset_init(&ds);
        HG_CHECK_ERR(hg_dataset_load(p, &ds), required[i]);
    }
    /* wrong dtype: counts as float */
    const char *p = saved_ds("f32counts.h5");
    del_link(p, "counts");
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t d = 3;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t ds5 = H5Dcreate2(f, "counts", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    float v[3] = {4, 3, 2};
    H5Dwrite(ds5, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds5);
    H5Sclose(sp);
    H5Fclose(f);
    hg_dataset ds;
    hg_dataset_init(&ds);
    HG_CHECK_ERR(hg_dataset_load(p, &ds), "/counts must be int32");
    /* a required attribute */
    p = saved_ds("nobox.h5");
    del_attr(p, ".", "box_size");
    HG_CHECK_ERR(hg_dataset_load(p, &ds), "box_size");
}

HG_TEST(dataset_claiming_more_bytes_than_stored_is_refused_before_allocating) {
    const char *p = saved_ds("forged.h5");
    del_link(p, "halos");
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t d[3] = {3, 1u << 20, 3}; /* 36 MiB claimed, never written */
    hid_t sp = H5Screate_simple(3, d, NULL);
    hid_t ds5 = H5Dcreate2(f, "halos", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds5);
    H5Sclose(sp);
    H5Fclose(f);
    hg_dataset ds;
    hg_dataset_init(&ds);
    HG_CHECK_ERR(hg_dataset_load(p, &ds), "claims");
    /* and a shape whose element count overflows */
    p = saved_ds("huge.h5");
    del_link(p, "halos");
    f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t e[3] = {3, (hsize_t)1 << 40, (hsize_t)1 << 30};
    sp = H5Screate_simple(3, e, NULL);
    ds5 = H5Dcreate2(f, "halos", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (ds5 >= 0) H5Dclose(ds5);
    H5Sclose(sp);
    H5Fclose(f);
    HG_CHECK(hg_dataset_load(p, &ds).code == HG_ERR_FORMAT);
}

HG_TEST(dataset_checksum_covers_counts_and_splits) {
    hg_dataset a;
    make_ds(&a);
    uint64_t want = fnv(HG_FNV_OFFSET, a.halos.data, 36 * 4);
    want = fnv(want, a.cosmology.data, 6 * 4);
    want = fnv(want, a.counts.data, 3 * 4);
    for (int k = 0; k < 3; k++) want = fnv(want, a.split[k], 4 * (size_t)a.split_n[k]);
    HG_CHECK(hg_dataset_checksum(&a) == want);
    hg_dataset_free(&a);
    /* a valid but different count is caught by the checksum */
    const char *p = saved_ds("count.h5");
    poke_i32(p, "counts", 2, 1);
    hg_dataset ds;
    hg_dataset_init(&ds);
    HG_CHECK_ERR(hg_dataset_load(p, &ds), "checksum mismatch");
    /* so is a moved split entry */
    p = saved_ds("split.h5");
    hg_dataset b;
    hg_dataset_init(&b);
    HG_CHECK_OK(hg_dataset_load(p, &b));
    int32_t moved = b.split[HG_SPLIT_TRAIN][0];
    hg_dataset_free(&b);
    poke_i32(p, "split/train", 0, moved == 0 ? 1 : 0);
    hg_status s = hg_dataset_load(p, &ds);
    HG_CHECK(s.code != HG_OK); /* checksum (or, if now duplicated, the split check) */
    /* format 2 requires the checksum attribute */
    p = saved_ds("nosum.h5");
    del_attr(p, ".", "checksum");
    HG_CHECK_ERR(hg_dataset_load(p, &ds), "checksum");
}

HG_TEST(dataset_format_versions) {
    hg_dataset ds;
    hg_dataset_init(&ds);
    const char *p = saved_ds("v3.h5");
    set_str_attr(p, ".", "format", "halograph-dataset-3");
    HG_CHECK_ERR(hg_dataset_load(p, &ds), "format 'halograph-dataset-3' is not supported");
    set_str_attr(p, ".", "format", "something-else");
    HG_CHECK_ERR(hg_dataset_load(p, &ds), "not a halograph dataset");
    del_attr(p, ".", "format");
    HG_CHECK_ERR(hg_dataset_load(p, &ds), "no 'format' attribute");
    /* a format-1 file: checksum over halos and cosmology only, still read */
    p = saved_ds("v1.h5");
    hg_dataset a;
    make_ds(&a);
    uint64_t v1 = fnv(fnv(HG_FNV_OFFSET, a.halos.data, 36 * 4), a.cosmology.data, 6 * 4);
    hg_dataset_free(&a);
    set_str_attr(p, ".", "format", "halograph-dataset-1");
    set_u64_attr(p, ".", "checksum", v1);
    HG_CHECK_OK(hg_dataset_load(p, &ds));
    HG_CHECK(ds.checksum == v1 && ((int32_t *)ds.counts.data)[2] == 2);
    hg_dataset_free(&ds);
}

HG_TEST(pipeline_refuses_a_cloud_without_haloes) {
    hg_dataset ds;
    make_ds(&ds);
    ((int32_t *)ds.counts.data)[ds.split[HG_SPLIT_TRAIN][0]] = 0;
    HG_CHECK_OK(hg_dataset_validate(&ds)); /* a legal file ... */
    hg_pipeline_config pc;
    hg_pipeline_config_default(&pc);
    strcpy(pc.cond_names[0], "Omega_m");
    pc.n_cond = 1;
    hg_pipeline pl;
    HG_CHECK_ERR(hg_pipeline_init(&pl, &ds, HG_SPLIT_TRAIN, &pc, NULL), "has no haloes"); /* ... no statistic */
    hg_dataset_free(&ds);
}

/* ------------------------------------------------------------- checkpoints */

static const char *saved_ck(const char *name) {
    hg_checkpoint ck;
    hg_checkpoint_init(&ck);
    make_state(&ck, 1.0f);
    const char *p = hg_test_path(name);
    hg_status s = hg_checkpoint_save(p, &ck);
    if (s.code) fprintf(stderr, "save: %s\n", s.msg);
    hg_checkpoint_free(&ck);
    return p;
}

HG_TEST(checkpoint_bit_flip_in_a_kernel_is_caught_naming_the_tensor) {
    const char *p = saved_ck("flip.h5");
    hg_checkpoint ck;
    hg_checkpoint_init(&ck);
    HG_CHECK_OK(hg_checkpoint_load(p, NULL, NULL, &ck));
    /* the stored checksum is FNV-1a of the raw bytes */
    const hg_tensor *k = hg_map_get(&ck.state, "score/layer_0/mha/query/kernel");
    uint64_t want = fnv(HG_FNV_OFFSET, k->data, 48);
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "state/score/layer_0/mha/query/kernel", H5P_DEFAULT);
    hid_t a = H5Aopen(d, "checksum", H5P_DEFAULT);
    uint64_t got = 0;
    H5Aread(a, H5T_NATIVE_UINT64, &got);
    H5Aclose(a);
    H5Dclose(d);
    H5Fclose(f);
    HG_CHECK(got == want);
    hg_checkpoint_free(&ck);
    flip_bit(p, "state/score/layer_0/mha/query/kernel", 17, 3);
    hg_status s = hg_checkpoint_load(p, NULL, NULL, &ck);
    HG_CHECK(s.code == HG_ERR_FORMAT && strstr(s.msg, "tensor 'score/layer_0/mha/query/kernel' is corrupted"));
    HG_CHECK(ck.state.n == 0);
    /* the optimizer moments, the bool and the normalisation too */
    static const char *others[] = {"state/opt/m/score/layer_0/mha/query/kernel", "state/flags/active", "norm/std"};
    for (int i = 0; i < 3; i++) {
        p = saved_ck("flip2.h5");
        flip_bit(p, others[i], 0, 0);
        HG_CHECK_ERR(hg_checkpoint_load(p, NULL, NULL, &ck), "is corrupted");
    }
}

HG_TEST(checkpoint_format_versions) {
    hg_checkpoint ck;
    hg_checkpoint_init(&ck);
    const char *p = saved_ck("nosum.h5");
    del_attr(p, "state/vdm/gamma/w", "checksum");
    HG_CHECK_ERR(hg_checkpoint_load(p, NULL, NULL, &ck), "tensor 'vdm/gamma/w' has no checksum");
    /* format 1 had no checksums: still read */
    set_str_attr(p, ".", "format", "halograph-checkpoint-1");
    HG_CHECK_OK(hg_checkpoint_load(p, NULL, NULL, &ck));
    HG_CHECK(ck.state.n == 6 && ck.step == 1000);
    hg_checkpoint_free(&ck);
    set_str_attr(p, ".", "format", "halograph-checkpoint-7");
    HG_CHECK_ERR(hg_checkpoint_load(p, NULL, NULL, &ck), "'halograph-checkpoint-7' is not supported");
    p = saved_ck("neg.h5");
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    int64_t neg = -5;
    hid_t a = H5Aopen(f, "step", H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &neg);
    H5Aclose(a);
    H5Fclose(f);
    HG_CHECK_ERR(hg_checkpoint_load(p, NULL, NULL, &ck), "'step' = -5 is negative");
}

/* ------------------------------------------------------------------ configs */

HG_TEST(deeply_nested_yaml_is_refused_at_once) {
    size_t depth = 200000;
    char *t = malloc(2 * depth + 16);
    strcpy(t, "data: ");
    size_t n = strlen(t);
    memset(t + n, '[', depth);
    memset(t + n + depth, ']', depth);
    t[n + 2 * depth] = 0;
    hg_config c;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    HG_CHECK_ERR(hg_config_parse(t, "deep.yaml", &c), "nesting deeper than 32 levels");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    HG_CHECK(sec < 2.0); /* was 126 s; milliseconds now, 2 s even under load */
    free(t);
    /* block nesting counts too; 32 levels are fine */
    char buf[4096] = "score:\n  kind: transformer\nx:";
    for (int i = 0; i < 40; i++) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), " [");
    HG_CHECK_ERR(hg_config_parse(buf, "deep2.yaml", &c), "nesting deeper");
    strcpy(buf, "data: {conditioning: [Omega_m]}\n");
    HG_CHECK_OK(hg_config_parse(buf, "ok.yaml", &c));
}

HG_TEST(oversized_yaml_is_refused) {
    size_t n = (size_t)HG_CONFIG_MAX_BYTES + 10;
    char *t = malloc(n + 1);
    memset(t, '#', n);
    t[0] = '#';
    t[n] = 0;
    hg_config c;
    HG_CHECK_ERR(hg_config_parse(t, "big.yaml", &c), "larger than 1048576 bytes");
    free(t);
}

HG_TEST(config_sizes_outside_documented_bounds_name_the_key) {
    static const char *cases[][2] = {
        {"score: {n_layers: 100000}", "score.n_layers: 100000 outside the supported range [0, 64]"},
        {"score: {d_model: 1000000000}", "score.d_model: 1000000000 outside"},
        {"score: {num_mlp_layers: 65, kind: graph}", "score.num_mlp_layers: 65 outside"},
        {"data: {n_particles: 2000000}", "data.n_particles: 2000000 outside"},
        {"training: {batch_size: 100000}", "training.batch_size: 100000 outside"},
        {"vdm: {encdec_n_layers: 1000}", "vdm.encdec_n_layers: 1000 outside"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hg_config c;
        HG_CHECK_ERR(hg_config_parse(cases[i][0], "b.yaml", &c), cases[i][1]);
    }
}

/* The estimate is a lower bound of the real parameter count, within a
 * factor 2 for the shipped configs. */
HG_TEST(model_estimate_is_a_tight_lower_bound_of_the_parameters) {
    static const char *cfgs[] = {"configs/tiny-test.yaml", "configs/demo-transformer.yaml",
                                 "configs/paper-transformer.yaml", "configs/demo-graph.yaml",
                                 "configs/paper-graph.yaml"};
    for (int i = 0; i < 5; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", HG_SOURCE_DIR, cfgs[i]);
        hg_config c;
        HG_CHECK_OK(hg_config_load(path, &c));
        hg_model m;
        hg_model_opts o;
        hg_model_opts_default(&o, &c);
        HG_CHECK_OK(hg_model_build(&c, "score", 2, HG_F32, &o, &m));
        int64_t real = hg_mb_param_count(&m.mb);
        hg_model_size est;
        hg_model_estimate(&c, 2, 1, &est);
        if (!(est.params <= real && 2 * est.params >= real))
            fprintf(stderr, "%s: estimate %lld, real %lld\n", cfgs[i], (long long)est.params, (long long)real);
        HG_CHECK(est.params <= real && 2 * est.params >= real);
        HG_CHECK(est.state_bytes == 16 * est.params);
        hg_model_free(&m);
    }
}

HG_TEST(model_size_arithmetic_is_checked_and_names_the_key) {
    hg_config c;
    hg_config_default(&c);
    /* every size at its bound: the products still fit in int64 ... */
    c.n_particles = HG_CFG_MAX_POINTS;
    c.d_model = 16384;
    c.d_mlp = 65536;
    c.n_layers = HG_CFG_MAX_LAYERS;
    hg_model_size est;
    hg_model_estimate(&c, 65536, 1, &est);
    HG_CHECK(est.total_bytes < INT64_MAX && est.activation_bytes > ((int64_t)1 << 58));
    /* ... and beyond them (a batch of 2^40) they saturate instead of wrapping */
    hg_model_estimate(&c, (int64_t)1 << 40, 1, &est);
    HG_CHECK(est.total_bytes == INT64_MAX && est.activation_bytes == INT64_MAX && est.params > 0);
    HG_CHECK_ERR(hg_model_check_size(&c, (int64_t)1 << 40, 1, 0), "more than 2^63");
    /* a deep model over a small limit: the culprit is n_layers */
    hg_config_default(&c);
    c.n_layers = 64;
    hg_model_estimate(&c, 16, 1, &est);
    int64_t d = 256, dm = 1024, L = 64;
    int64_t dcc = 16 + 16;
    HG_CHECK(est.params == L * (4 * d * d + 2 * d * dm) + 2 * 7 * d + 24 * dcc * dcc + dcc * d);
    HG_CHECK_ERR(hg_model_check_size(&c, 16, 1, est.total_bytes - 1), "score.n_layers: the model needs at least");
    HG_CHECK_OK(hg_model_check_size(&c, 16, 1, est.total_bytes));
    /* hg_model_build refuses before building (a model no machine holds) */
    c.d_model = 16384;
    c.d_mlp = 65536;
    c.n_layers = 64;
    hg_model m;
    HG_CHECK_ERR(hg_model_build(&c, "train", 16, HG_F32, NULL, &m), "score.d_model: the model needs at least");
}

/* ---------------------------------------------------------------- ONNX */

HG_TEST(onnx_export_refuses_non_finite_weights) {
    hg_config c;
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/tiny-test.yaml", HG_SOURCE_DIR);
    HG_CHECK_OK(hg_config_load(path, &c));
    hg_model m;
    hg_model_opts o;
    hg_model_opts_default(&o, &c);
    HG_CHECK_OK(hg_model_build(&c, "score", 1, HG_F32, &o, &m));
    hg_tensor_map st;
    hg_map_init(&st);
    HG_CHECK_OK(hg_mb_init_params(&m.mb, 1, &st));
    const char *out = hg_test_path("nan.onnx");
    HG_CHECK_OK(hg_onnx_export(m.g, &st, NULL, out));
    remove(out);
    hg_tensor *t = &st.e[st.n / 2].t;
    hg_tensor_set(t, 0, NAN);
    hg_status s = hg_onnx_export(m.g, &st, NULL, out);
    HG_CHECK(s.code == HG_ERR_NUMERIC && strstr(s.msg, st.e[st.n / 2].name) && strstr(s.msg, "must be finite"));
    FILE *f = fopen(out, "rb");
    HG_CHECK(f == NULL); /* nothing written */
    if (f) fclose(f);
    hg_map_free(&st);
    hg_model_free(&m);
}

/* The samples reader of `eval` (models/eval_io.c) sized its buffer from the
 * file's shape: a forged shape must be refused, not read past. */
HG_TEST(samples_file_with_forged_shape_is_refused) {
    const char *p = hg_test_path("forged_samples.h5");
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d[3] = {4, 1u << 22, 7}; /* 470 MB claimed, nothing stored */
    hid_t sp = H5Screate_simple(3, d, NULL);
    hid_t ds = H5Dcreate2(f, "samples", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(f);
    hg_eval_samples s;
    HG_CHECK_ERR(hg_eval_samples_load(p, &s), "stores fewer bytes than its shape needs");
    HG_CHECK(s.samples == NULL);
}
