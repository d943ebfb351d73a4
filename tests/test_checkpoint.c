/* HDF5 checkpoints (runtime/checkpoint.c, config_compat.c): round trip,
 * precise mismatch reports, config compatibility, atomicity under SIGKILL,
 * and h5py reading a written dataset and checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "tests/checkpoint_fixture.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

HG_TEST(round_trip_keeps_everything) {
    hg_checkpoint a, b;
    hg_checkpoint_init(&a);
    hg_checkpoint_init(&b);
    make_state(&a, 1.0f);
    const char *p = hg_test_path("ck.h5");
    HG_CHECK_OK(hg_checkpoint_save(p, &a));
    HG_CHECK_OK(hg_checkpoint_load(p, &a.state, CONFIG, &b));
    HG_CHECK(b.state.n == a.state.n);
    for (int i = 0; i < a.state.n; i++) {
        HG_CHECK(!strcmp(a.state.e[i].name, b.state.e[i].name)); /* insertion order kept */
        HG_CHECK(a.state.e[i].t.dtype == b.state.e[i].t.dtype);
        HG_CHECK(hg_shape_eq(a.state.e[i].t.shape, b.state.e[i].t.shape));
        HG_CHECK(!memcmp(a.state.e[i].t.data, b.state.e[i].t.data, hg_tensor_bytes(&a.state.e[i].t)));
    }
    HG_CHECK(b.step == 1000 && b.seed == 52 && b.dataset_checksum == 0x9fea2a724133a960ULL);
    HG_CHECK(!strcmp(b.config_yaml, CONFIG));
    HG_CHECK(b.n_counters == 2 && !strcmp(b.counter_names[0], "data_epoch") && b.counters[0] == 3 &&
             b.counters[1] == 1000);
    HG_CHECK(b.has_norm && b.norm.n_features == 2 && b.norm.mean[1] == 14.25 && b.norm.std[0] == 144.3 &&
             b.norm.box == 500);
    /* standalone norm file */
    hg_norm nm;
    HG_CHECK_OK(hg_norm_save(hg_test_path("norm.h5"), &a.norm));
    HG_CHECK_OK(hg_norm_load(hg_test_path("norm.h5"), &nm));
    HG_CHECK(nm.n_features == 2 && nm.mean[0] == 250.5 && nm.std[1] == 0.31 && nm.box == 500);
    hg_checkpoint_free(&a);
    hg_checkpoint_free(&b);
}

HG_TEST(load_reports_every_difference) {
    hg_checkpoint a, b;
    hg_checkpoint_init(&a);
    hg_checkpoint_init(&b);
    make_state(&a, 1.0f);
    const char *p = hg_test_path("ck2.h5");
    HG_CHECK_OK(hg_checkpoint_save(p, &a));
    hg_tensor_map want;
    hg_map_init(&want);
    hg_tensor *t;
    hg_map_alloc(&want, "score/layer_0/mha/query/kernel", HG_F32, hg_shape_of(2, (int64_t)3, (int64_t)4), &t);
    hg_map_alloc(&want, "score/layer_0/mha/query/bias", HG_F64, hg_shape_of(1, (int64_t)3), &t);
    hg_map_alloc(&want, "vdm/gamma/w", HG_F64, hg_shape_scalar(), &t);
    hg_map_alloc(&want, "score/layer_1/mha/query/kernel", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)3), &t);
    hg_map_alloc(&want, "opt/count", HG_I32, hg_shape_scalar(), &t);
    hg_map_alloc(&want, "flags/active", HG_BOOL, hg_shape_of(1, (int64_t)2), &t);
    hg_status s = hg_checkpoint_load(p, &want, NULL, &b);
    HG_CHECK(s.code == HG_ERR_INVALID);
    HG_CHECK(strstr(s.msg, "(4 differences)") != NULL);
    HG_CHECK(strstr(s.msg, "shape of score/layer_0/mha/query/kernel: stored [4,3] vs expected [3,4]") != NULL);
    HG_CHECK(strstr(s.msg, "dtype of score/layer_0/mha/query/bias: stored f32 vs expected f64") != NULL);
    HG_CHECK(strstr(s.msg, "missing tensor score/layer_1/mha/query/kernel") != NULL);
    HG_CHECK(strstr(s.msg, "unexpected tensor opt/m/score/layer_0/mha/query/kernel") != NULL);
    HG_CHECK(b.state.n == 0); /* nothing half-loaded */
    hg_map_free(&want);
    /* a dataset (or any other HDF5 file) is not a checkpoint */
    hg_dataset ds;
    hg_dataset_init(&ds);
    HG_CHECK_OK(hg_tensor_alloc(&ds.halos, HG_F32, hg_shape_of(3, (int64_t)2, (int64_t)1, (int64_t)3)));
    HG_CHECK_OK(hg_tensor_alloc(&ds.cosmology, HG_F32, hg_shape_of(2, (int64_t)2, (int64_t)1)));
    ds.n_features = 3;
    strcpy(ds.feature_names[0], "x");
    strcpy(ds.feature_names[1], "y");
    strcpy(ds.feature_names[2], "z");
    ds.n_params = 1;
    strcpy(ds.param_names[0], "Omega_m");
    ds.box_size = 10;
    double fr[3] = {1, 0, 0};
    HG_CHECK_OK(hg_dataset_make_splits(&ds, fr, 1));
    HG_CHECK_OK(hg_dataset_save(hg_test_path("ds.h5"), &ds));
    HG_CHECK_ERR(hg_checkpoint_load(hg_test_path("ds.h5"), NULL, NULL, &b), "not a halograph checkpoint");
    hg_dataset_free(&ds);
    hg_checkpoint_free(&a);
    hg_checkpoint_free(&b);
}

HG_TEST(config_compatibility) {
    HG_CHECK_OK(hg_config_compatible(CONFIG, CONFIG));
    /* training keys and n_particles may change; numbers compare by value */
    HG_CHECK_OK(hg_config_compatible(CONFIG,
                                     "data: {n_particles: 640, n_features: 7, conditioning: [Omega_m, sigma_8]}\n"
                                     "vdm: {noise_schedule: learned_linear, gamma_min: -8, gamma_max: 1.4e1}\n"
                                     "score:\n  kind: transformer\n  d_model: 256\n  n_layers: 2\n"
                                     "training: {batch_size: 4, learning_rate: 0.0003, seed: 1}\n"));
    hg_status s = hg_config_compatible(CONFIG,
                                       "data: {n_features: 3, conditioning: [Omega_m]}\n"
                                       "vdm: {noise_schedule: learned_linear, gamma_min: -8.0, gamma_max: 14.0}\n"
                                       "score: {kind: transformer, d_model: 128, n_layers: 2, adanorm: true}\n");
    HG_CHECK(s.code == HG_ERR_INVALID);
    HG_CHECK(strstr(s.msg, "data.n_features: checkpoint 7 vs config 3") != NULL);
    HG_CHECK(strstr(s.msg, "data.conditioning: checkpoint [Omega_m, sigma_8] vs config [Omega_m]") != NULL);
    HG_CHECK(strstr(s.msg, "score.d_model: checkpoint 256 vs config 128") != NULL);
    HG_CHECK(strstr(s.msg, "score.adanorm: config true, absent in the checkpoint") != NULL);
    HG_CHECK_ERR(hg_config_compatible(CONFIG, "score: [unclosed\n"), "YAML error at line");
    /* through the loader */
    hg_checkpoint a, b;
    hg_checkpoint_init(&a);
    hg_checkpoint_init(&b);
    make_state(&a, 1.0f);
    HG_CHECK_OK(hg_checkpoint_save(hg_test_path("ck3.h5"), &a));
    HG_CHECK_ERR(hg_checkpoint_load(hg_test_path("ck3.h5"), NULL, "score: {kind: graph}\n", &b), "score.kind: checkpoint transformer vs config graph");
    hg_checkpoint_free(&a);
    hg_checkpoint_free(&b);
}

HG_TEST(bad_names_and_files_refused) {
    hg_checkpoint a, b;
    hg_checkpoint_init(&a);
    hg_checkpoint_init(&b);
    hg_tensor *t;
    hg_map_alloc(&a.state, "score//w", HG_F32, hg_shape_of(1, (int64_t)2), &t);
    const char *p = hg_test_path("badname.h5");
    HG_CHECK_ERR(hg_checkpoint_save(p, &a), "not a valid slash path");
    HG_CHECK(access(p, F_OK) != 0); /* nothing left behind */
    char tmp[1100];
    hg_atomic_temp_path(p, tmp, sizeof tmp);
    HG_CHECK(access(tmp, F_OK) != 0);
    HG_CHECK(hg_checkpoint_load(hg_test_path("missing.h5"), NULL, NULL, &b).code == HG_ERR_IO);
    FILE *f = fopen(hg_test_path("garbage.h5"), "wb");
    fputs("not hdf5 at all", f);
    fclose(f);
    HG_CHECK_ERR(hg_checkpoint_load(hg_test_path("garbage.h5"), NULL, NULL, &b), "not an HDF5 file");
    hg_checkpoint_free(&a);
}
