/* Checkpoint test fixture shared by tests/test_checkpoint.c and
 * tests/test_checkpoint_slow.c: a config text and a small model state that
 * exercise every part of an hg_checkpoint (runtime/runtime.h). Header-only
 * with static definitions, so each test executable gets its own copy. */
#ifndef HG_TESTS_CHECKPOINT_FIXTURE_H
#define HG_TESTS_CHECKPOINT_FIXTURE_H

#include <stdint.h>

#include "runtime/runtime.h"

static const char *CONFIG = "data: {n_particles: 64, n_features: 7, conditioning: [Omega_m, sigma_8]}\n"
                            "vdm: {noise_schedule: learned_linear, gamma_min: -8.0, gamma_max: 14.0}\n"
                            "score: {kind: transformer, d_model: 256, n_layers: 2}\n"
                            "training: {batch_size: 16, learning_rate: 3.0e-4, seed: 52}\n";

/* A small model state: parameters, optimizer moments, a counter, a bool. */
static inline void make_state(hg_checkpoint *ck, float scale) {
    hg_tensor *t;
    hg_map_alloc(&ck->state, "score/layer_0/mha/query/kernel", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)3), &t);
    for (int i = 0; i < 12; i++) ((float *)t->data)[i] = scale * (float)(i - 5) / 7;
    hg_map_alloc(&ck->state, "score/layer_0/mha/query/bias", HG_F32, hg_shape_of(1, (int64_t)3), &t);
    for (int i = 0; i < 3; i++) ((float *)t->data)[i] = scale * (float)i;
    hg_map_alloc(&ck->state, "vdm/gamma/w", HG_F64, hg_shape_scalar(), &t);
    ((double *)t->data)[0] = scale * 22.0;
    hg_map_alloc(&ck->state, "opt/m/score/layer_0/mha/query/kernel", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)3), &t);
    for (int i = 0; i < 12; i++) ((float *)t->data)[i] = scale * 1e-3f * (float)i;
    hg_map_alloc(&ck->state, "opt/count", HG_I32, hg_shape_scalar(), &t);
    ((int32_t *)t->data)[0] = (int32_t)(scale * 100);
    hg_map_alloc(&ck->state, "flags/active", HG_BOOL, hg_shape_of(1, (int64_t)2), &t);
    ((uint8_t *)t->data)[1] = 1;
    ck->step = (int64_t)(scale * 1000);
    ck->seed = 52;
    ck->dataset_checksum = 0x9fea2a724133a960ULL;
    hg_checkpoint_set_config(ck, CONFIG);
    hg_checkpoint_set_counter(ck, "data_epoch", 3);
    hg_checkpoint_set_counter(ck, "rng_step", (int64_t)(scale * 1000));
    ck->has_norm = 1;
    ck->norm.n_features = 2;
    ck->norm.mean[0] = 250.5;
    ck->norm.mean[1] = 14.25;
    ck->norm.std[0] = 144.3;
    ck->norm.std[1] = 0.31;
    ck->norm.box = 500;
}

#endif
