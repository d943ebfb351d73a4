/* Config (SPEC 7): defaults, the bundled configs, errors naming the key,
 * YAML round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

static hg_status load_cfg(const char *name, hg_config *c) {
    char p[1024];
    snprintf(p, sizeof p, "%s/configs/%s", hg_test_srcdir(), name);
    return hg_config_load(p, c);
}

HG_TEST(defaults_are_spec7) {
    hg_config c;
    hg_config_default(&c);
    HG_CHECK(c.n_particles == 5000 && c.n_features == 7 && c.n_cond == 2);
    HG_CHECK(!strcmp(c.conditioning[0], "Omega_m") && !strcmp(c.conditioning[1], "sigma_8"));
    HG_CHECK(c.noise_schedule == HG_SCHED_LEARNED_LINEAR);
    HG_CHECK(c.gamma_min == -8.0 && c.gamma_max == 14.0 && c.noise_scale == 1e-3);
    HG_CHECK(c.timesteps == 0 && c.antithetic_time_sampling && c.embed_context);
    HG_CHECK(c.d_context_embedding == 16 && c.d_t_embedding == 16 && !c.use_encdec);
    HG_CHECK(c.score == HG_SCORE_TRANSFORMER && c.d_model == 256 && c.d_mlp == 1024);
    HG_CHECK(c.n_layers == 6 && c.n_heads == 4 && !c.induced_attention && c.n_inducing_points == 32);
    HG_CHECK(c.k == 20 && c.hidden_size == 128 && c.latent_size == 16 && c.num_mlp_layers == 4);
    HG_CHECK(c.message_passing_steps == 4 && c.attention && c.relative_updates && c.use_pbc);
    HG_CHECK(c.batch_size == 16 && c.n_train_steps == 301000 && c.warmup_steps == 5000);
    HG_CHECK(c.learning_rate == 3e-4 && c.weight_decay == 1e-4 && c.grad_clip == 0.5 && c.seed == 52);
    HG_CHECK_OK(hg_config_validate(&c, "defaults"));
}

HG_TEST(bundled_configs_load) {
    hg_config c, d;
    hg_config_default(&d);
    HG_CHECK_OK(load_cfg("paper-transformer.yaml", &c));
    HG_CHECK(memcmp(&c, &d, sizeof c) == 0); /* exactly the SPEC 7 defaults */
    HG_CHECK_OK(load_cfg("paper-graph.yaml", &c));
    HG_CHECK(c.score == HG_SCORE_GRAPH && c.n_features == 3 && c.n_particles == 5000 && c.batch_size == 16);
    HG_CHECK_OK(load_cfg("demo-transformer.yaml", &c));
    HG_CHECK(c.score == HG_SCORE_TRANSFORMER && c.n_particles == 640 && c.n_features == 7);
    HG_CHECK(c.batch_size == 8 && c.d_model == 128 && c.d_mlp == 512 && c.n_layers == 4 && c.n_heads == 4);
    HG_CHECK_OK(load_cfg("demo-graph.yaml", &c));
    HG_CHECK(c.score == HG_SCORE_GRAPH && c.n_particles == 640 && c.k == 20 && c.hidden_size == 128);
    HG_CHECK(c.latent_size == 16 && c.num_mlp_layers == 4 && c.message_passing_steps == 4);
}

HG_TEST(partial_and_types) {
    hg_config c;
    HG_CHECK_OK(hg_config_parse("vdm: {noise_schedule: learned_net, timesteps: 10}\n"
                                "data: {conditioning: []}\nscore: {kind: graph, k: 7, norm: none}\n",
                                "t.yaml", &c));
    HG_CHECK(c.noise_schedule == HG_SCHED_LEARNED_NET && c.timesteps == 10 && c.n_cond == 0);
    HG_CHECK(c.score == HG_SCORE_GRAPH && c.k == 7 && c.layer_norm == 0 && c.d_model == 256);
    HG_CHECK_OK(hg_config_parse("", "empty.yaml", &c));
    HG_CHECK(c.n_particles == 5000);
}

HG_TEST(errors_name_the_key) {
    hg_config c;
    HG_CHECK_ERR(hg_config_parse("score: {d_modl: 3}\n", "a.yaml", &c), "score.d_modl: unknown key");
    HG_CHECK_ERR(hg_config_parse("score: {d_model: 100, n_heads: 3}\n", "a.yaml", &c),
                 "score.n_heads: d_model 100 is not divisible by n_heads 3");
    HG_CHECK_ERR(hg_config_parse("score: {d_model: big}\n", "a.yaml", &c), "score.d_model");
    HG_CHECK_ERR(hg_config_parse("score: {d_model: 2.5}\n", "a.yaml", &c), "not an integer");
    HG_CHECK_ERR(hg_config_parse("score: {d_model: -4}\n", "a.yaml", &c), "score.d_model");
    HG_CHECK_ERR(hg_config_parse("data: {n_features: 5}\n", "a.yaml", &c), "data.n_features");
    HG_CHECK_ERR(hg_config_parse("data: {n_particles: 20}\nscore: {kind: graph, k: 20}\n", "a.yaml", &c),
                 "score.k");
    HG_CHECK_ERR(hg_config_parse("vdm: {noise_schedule: cubic}\n", "a.yaml", &c), "vdm.noise_schedule");
    HG_CHECK_ERR(hg_config_parse("vdm: {gamma_min: 20}\n", "a.yaml", &c), "vdm.gamma_min");
    HG_CHECK_ERR(hg_config_parse("vdm: {embed_context: maybe}\n", "a.yaml", &c), "vdm.embed_context");
    HG_CHECK_ERR(hg_config_parse("training: {warmup_steps: 10, n_train_steps: 5}\n", "a.yaml", &c),
                 "training.warmup_steps");
    HG_CHECK_ERR(hg_config_parse("training: {batch_size: 0}\n", "a.yaml", &c), "training.batch_size");
    HG_CHECK_ERR(hg_config_parse("optimizer: {lr: 1}\n", "a.yaml", &c), "optimizer: unknown section");
    HG_CHECK_ERR(hg_config_parse("data: {conditioning: Omega_m}\n", "a.yaml", &c), "data.conditioning");
    HG_CHECK_ERR(hg_config_parse("score: [1, 2\n", "bad.yaml", &c), "bad.yaml");
    HG_CHECK_ERR(hg_config_parse("score: {adanorm: true, induced_attention: true}\n", "a.yaml", &c),
                 "score.adanorm");
    HG_CHECK_ERR(hg_config_parse("score: {kind: graph}\nvdm: {use_encdec: true}\n", "a.yaml", &c),
                 "vdm.use_encdec");
    /* repeated keys and sections: an error naming the key and its line, not
     * a silent "last one wins" */
    HG_CHECK_ERR(hg_config_parse("training:\n  seed: 1\n  seed: 2\n", "d.yaml", &c),
                 "d.yaml:3: training.seed: key appears twice");
    HG_CHECK_ERR(hg_config_parse("data: {n_particles: 64}\nvdm: {}\ndata: {n_features: 3}\n", "d.yaml",
                                 &c), "d.yaml:3: data: section appears twice");
    char p[1024];
    snprintf(p, sizeof p, "%s/does-not-exist.yaml", hg_test_tmpdir());
    HG_CHECK_ERR(hg_config_load(p, &c), "does-not-exist.yaml");
}

HG_TEST(yaml_round_trip) {
    hg_config c, d;
    HG_CHECK_OK(hg_config_parse("vdm: {noise_schedule: linear, gamma_min: -6.25, noise_scale: 0.002}\n"
                                "training: {learning_rate: 1.0e-3, seed: 7}\n"
                                "score: {kind: graph, attention: false}\n", "r.yaml", &c));
    char *y = hg_config_to_yaml(&c);
    HG_CHECK(y != NULL);
    hg_status s = hg_config_parse(y, "written", &d);
    free(y);
    HG_CHECK_OK(s);
    HG_CHECK(memcmp(&c, &d, sizeof c) == 0);
    HG_CHECK(d.gamma_min == -6.25 && d.learning_rate == 1e-3 && d.seed == 7 && !d.attention);
}
