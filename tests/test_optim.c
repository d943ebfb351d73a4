/* Optimizers (passes/optim.c, passes/train_step.c): AdamW exactly as
 * SPEC 5 over three steps, SGD with momentum, clipping, learning-rate
 * schedules. Expected values are computed here from the formulas. */
#include <string.h>

#include "codegen/codegen.h"
#include "passes/passes.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

static double get(const hg_tensor_map *m, const char *name, int i) {
    hg_tensor *t = hg_map_get(m, name);
    return t ? hg_tensor_get(t, i) : NAN;
}

/* loss = sum((p1 - (3, -1))^2) + 0.5 p2^2; grads 2 (p1 - c), p2. */
static hg_graph *two_param_model(hg_value *loss, hg_value *params) {
    hg_graph *g = hg_graph_new();
    double c[2] = {3, -1};
    hg_value p1 = hg_state(g, "model/p1", HG_F64, hg_shape_of(1, (int64_t)2));
    hg_value p2 = hg_state(g, "model/p2", HG_F64, hg_shape_scalar());
    hg_value d = hg_sub(g, p1, hg_constant(g, HG_F64, hg_shape_of(1, (int64_t)2), c));
    *loss = hg_add(g, hg_sum_all(g, hg_square(g, d)), hg_mul_s(g, hg_square(g, p2), 0.5));
    hg_set_output(g, "aux", hg_sum_all(g, p1));
    params[0] = p1;
    params[1] = p2;
    return g;
}

static void init_params(hg_tensor_map *st, const double *p) {
    hg_tensor *t;
    hg_map_alloc(st, "model/p1", HG_F64, hg_shape_of(1, (int64_t)2), &t);
    hg_tensor_set(t, 0, p[0]);
    hg_tensor_set(t, 1, p[1]);
    hg_map_alloc(st, "model/p2", HG_F64, hg_shape_scalar(), &t);
    hg_tensor_set(t, 0, p[2]);
}

static double lr_ref(double peak, double W, double D, double k) {
    if (k < W) return peak * k / W;
    double t = k - W < D - W ? k - W : D - W;
    return peak * 0.5 * (1 + cos(M_PI * t / (D - W)));
}

HG_TEST(adamw_three_steps_match_spec5) {
    hg_value loss, params[2];
    hg_graph *m = two_param_model(&loss, params);
    hg_optim_config cfg;
    hg_optim_config_default(&cfg);
    cfg.lr = 0.1;
    cfg.warmup_steps = 2;
    cfg.total_steps = 10;
    cfg.weight_decay = 1e-2;
    cfg.clip = HG_CLIP_ELEMENTWISE;
    cfg.clip_value = 0.5;
    hg_graph *t = NULL;
    HG_CHECK_OK(hg_train_step_graph(m, loss, 2, params, &cfg, &t));
    HG_CHECK_OK(hg_verify(t));
    HG_CHECK(hg_find_output(t, "loss") != HG_NONE && hg_find_output(t, "aux") != HG_NONE);
    HG_CHECK(hg_find_state(t, "opt/m/model/p1") != HG_NONE);
    HG_CHECK(hg_find_state(t, "opt/v/model/p2") != HG_NONE);
    hg_tensor_map st, in, out;
    hg_map_init(&st), hg_map_init(&in), hg_map_init(&out);
    double p[3] = {0.5, -0.8, 0.2}, mm[3] = {0}, vv[3] = {0};
    const double c[3] = {3, -1, 0};
    init_params(&st, p);
    HG_CHECK_OK(hg_optim_init_state(t, &st));
    HG_CHECK(get(&st, "opt/step", 0) == 0 && get(&st, "opt/v/model/p1", 1) == 0);
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 1e-2;
    for (int k = 0; k < 3; k++) {
        double want_loss = (p[0] - 3) * (p[0] - 3) + (p[1] + 1) * (p[1] + 1) + 0.5 * p[2] * p[2];
        HG_CHECK_OK(hg_ref_run(t, &st, &in, &out, NULL));
        HG_CHECK_REL(get(&out, "loss", 0), want_loss, 1e-15);
        HG_CHECK_REL(get(&out, "aux", 0), p[0] + p[1], 1e-15);
        double lr = lr_ref(0.1, 2, 10, k);
        if (k == 0) HG_CHECK(lr == 0);
        for (int i = 0; i < 3; i++) {
            double gr = i < 2 ? 2 * (p[i] - c[i]) : p[2];
            gr = gr > 0.5 ? 0.5 : gr < -0.5 ? -0.5 : gr;
            mm[i] = b1 * mm[i] + (1 - b1) * gr;
            vv[i] = b2 * vv[i] + (1 - b2) * gr * gr;
            double mh = mm[i] / (1 - pow(b1, k + 1)), vh = vv[i] / (1 - pow(b2, k + 1));
            p[i] = p[i] - lr * (mh / (sqrt(vh) + eps) + wd * p[i]);
        }
        HG_CHECK_REL(get(&st, "model/p1", 0), p[0], 1e-14);
        HG_CHECK_REL(get(&st, "model/p1", 1), p[1], 1e-14);
        HG_CHECK_REL(get(&st, "model/p2", 0), p[2], 1e-14);
        HG_CHECK_REL(get(&st, "opt/m/model/p1", 0), mm[0], 1e-14);
        HG_CHECK_REL(get(&st, "opt/v/model/p2", 0), vv[2], 1e-14);
        HG_CHECK(get(&st, "opt/step", 0) == k + 1);
        if (k == 0) HG_CHECK(get(&st, "model/p1", 0) == 0.5); /* lr(0) = 0 */
    }
    hg_map_free(&st), hg_map_free(&in), hg_map_free(&out);
    hg_graph_free(t);
    hg_graph_free(m);
}

HG_TEST(sgd_momentum_two_steps) {
    hg_value loss, params[2];
    hg_graph *m = two_param_model(&loss, params);
    hg_optim_config cfg;
    hg_optim_config_default(&cfg);
    cfg.kind = HG_OPTIM_SGD;
    cfg.schedule = HG_LR_CONSTANT;
    cfg.lr = 0.05;
    cfg.momentum = 0.9;
    cfg.weight_decay = 0.1;
    cfg.clip = HG_CLIP_NONE;
    hg_graph *t = NULL;
    HG_CHECK_OK(hg_train_step_graph(m, loss, 2, params, &cfg, &t));
    hg_tensor_map st, in, out;
    hg_map_init(&st), hg_map_init(&in), hg_map_init(&out);
    double p[3] = {0.5, -0.8, 0.2}, mm[3] = {0};
    const double c[3] = {3, -1, 0};
    init_params(&st, p);
    HG_CHECK_OK(hg_optim_init_state(t, &st));
    for (int k = 0; k < 2; k++) {
        HG_CHECK_OK(hg_ref_run(t, &st, &in, &out, NULL));
        for (int i = 0; i < 3; i++) {
            double gr = (i < 2 ? 2 * (p[i] - c[i]) : p[2]) + 0.1 * p[i];
            mm[i] = 0.9 * mm[i] + gr;
            p[i] -= 0.05 * mm[i];
        }
        HG_CHECK_REL(get(&st, "model/p1", 0), p[0], 1e-15);
        HG_CHECK_REL(get(&st, "model/p1", 1), p[1], 1e-15);
        HG_CHECK_REL(get(&st, "model/p2", 0), p[2], 1e-15);
        HG_CHECK_REL(get(&st, "opt/m/model/p2", 0), mm[2], 1e-15);
    }
    hg_map_free(&st), hg_map_free(&in), hg_map_free(&out);
    hg_graph_free(t);
    hg_graph_free(m);
}

/* Clipping of gradient values fed as inputs: elementwise to [-c, c], and
 * by the global norm over several tensors of mixed dtypes. */
HG_TEST(clipping_elementwise_and_global_norm) {
    hg_graph *g = hg_graph_new();
    hg_value a = hg_input(g, "a", HG_F64, hg_shape_of(1, (int64_t)3));
    hg_value b = hg_input(g, "b", HG_F32, hg_shape_of(1, (int64_t)1));
    hg_optim_config cfg;
    hg_optim_config_default(&cfg);
    hg_value in2[2] = {a, b}, el[2], gn[2], gn_big[2];
    cfg.clip = HG_CLIP_ELEMENTWISE;
    cfg.clip_value = 0.5;
    HG_CHECK_OK(hg_clip_gradients(g, &cfg, 2, in2, el));
    cfg.clip = HG_CLIP_GLOBAL_NORM;
    cfg.clip_value = 6.5; /* norm is 13 -> scale 0.5 */
    HG_CHECK_OK(hg_clip_gradients(g, &cfg, 2, in2, gn));
    cfg.clip_value = 20; /* above the norm: unchanged */
    HG_CHECK_OK(hg_clip_gradients(g, &cfg, 2, in2, gn_big));
    hg_set_output(g, "el_a", el[0]);
    hg_set_output(g, "el_b", el[1]);
    hg_set_output(g, "gn_a", gn[0]);
    hg_set_output(g, "gn_b", gn[1]);
    hg_set_output(g, "big_a", gn_big[0]);
    hg_set_output(g, "big_b", gn_big[1]);
    HG_CHECK_OK(hg_verify(g));
    hg_tensor_map st, in, out;
    hg_map_init(&st), hg_map_init(&in), hg_map_init(&out);
    hg_tensor *t;
    double av[3] = {3, -4, 0.25}; /* with b = 12: sum of squares 9+16+144+0.0625 */
    HG_CHECK_OK(hg_map_alloc(&in, "a", HG_F64, hg_shape_of(1, (int64_t)3), &t));
    for (int i = 0; i < 3; i++) hg_tensor_set(t, i, av[i]);
    HG_CHECK_OK(hg_map_alloc(&in, "b", HG_F32, hg_shape_of(1, (int64_t)1), &t));
    hg_tensor_set(t, 0, 12);
    HG_CHECK_OK(hg_ref_run(g, &st, &in, &out, NULL));
    HG_CHECK(get(&out, "el_a", 0) == 0.5 && get(&out, "el_a", 1) == -0.5 && get(&out, "el_a", 2) == 0.25);
    HG_CHECK(get(&out, "el_b", 0) == 0.5);
    double norm = sqrt(9 + 16 + 0.0625 + 144), s = 6.5 / norm;
    for (int i = 0; i < 3; i++) HG_CHECK_REL(get(&out, "gn_a", i), av[i] * s, 1e-15);
    HG_CHECK_REL(get(&out, "gn_b", 0), 12 * s, 1e-7);
    for (int i = 0; i < 3; i++) HG_CHECK(get(&out, "big_a", i) == av[i]);
    HG_CHECK(get(&out, "big_b", 0) == 12);
    hg_map_free(&st), hg_map_free(&in), hg_map_free(&out);
    hg_graph_free(g);
}

static double lr_at(const hg_optim_config *cfg, int step) {
    hg_graph *g = hg_graph_new();
    hg_value k = hg_input(g, "k", HG_I32, hg_shape_scalar());
    hg_set_output(g, "lr", hg_optim_lr(g, cfg, k));
    hg_tensor_map st, in, out;
    hg_map_init(&st), hg_map_init(&in), hg_map_init(&out);
    hg_tensor *t;
    double r = NAN;
    if (hg_graph_status(g).code == HG_OK &&
        hg_map_alloc(&in, "k", HG_I32, hg_shape_scalar(), &t).code == HG_OK) {
        hg_tensor_set(t, 0, step);
        if (hg_ref_run(g, &st, &in, &out, NULL).code == HG_OK) r = get(&out, "lr", 0);
    }
    hg_map_free(&st), hg_map_free(&in), hg_map_free(&out);
    hg_graph_free(g);
    return r;
}

HG_TEST(warmup_cosine_schedule_values) {
    hg_optim_config cfg;
    hg_optim_config_default(&cfg); /* peak 3e-4, W 5000, D 301000 */
    HG_CHECK(lr_at(&cfg, 0) == 0);
    HG_CHECK_NEAR(lr_at(&cfg, 2500), 1.5e-4, 1e-19);         /* mid-warmup */
    HG_CHECK_NEAR(lr_at(&cfg, 4999), 3e-4 * 4999 / 5000, 1e-19);
    HG_CHECK_NEAR(lr_at(&cfg, 5000), 3e-4, 1e-19);           /* end of warmup */
    HG_CHECK_NEAR(lr_at(&cfg, 153000), 1.5e-4, 1e-18);       /* half-way down */
    HG_CHECK_NEAR(lr_at(&cfg, 301000), 0.0, 1e-19);          /* the end */
    HG_CHECK_NEAR(lr_at(&cfg, 400000), 0.0, 1e-19);          /* past the end */
    cfg.schedule = HG_LR_CONSTANT;
    cfg.lr = 0.125;
    HG_CHECK(lr_at(&cfg, 0) == 0.125 && lr_at(&cfg, 77) == 0.125);
}

HG_TEST(bad_configs_are_errors) {
    hg_optim_config cfg;
    hg_optim_config_default(&cfg);
    cfg.total_steps = cfg.warmup_steps;
    HG_CHECK_ERR(hg_optim_config_check(&cfg), "total_steps");
    hg_optim_config_default(&cfg);
    cfg.beta2 = 1.0;
    HG_CHECK_ERR(hg_optim_config_check(&cfg), "beta2");
    hg_optim_config_default(&cfg);
    cfg.clip_value = 0;
    HG_CHECK_ERR(hg_optim_config_check(&cfg), "clip_value");
    hg_value loss, params[2];
    hg_graph *m = two_param_model(&loss, params), *t = NULL;
    hg_optim_config_default(&cfg);
    hg_value x = hg_input(m, "x", HG_F64, hg_shape_scalar());
    hg_value notstate[1] = {x};
    HG_CHECK_ERR(hg_train_step_graph(m, loss, 1, notstate, &cfg, &t), "not a float state");
    hg_value twice[2] = {params[0], params[0]};
    HG_CHECK_ERR(hg_train_step_graph(m, loss, 2, twice, &cfg, &t), "twice");
    HG_CHECK_ERR(hg_train_step_graph(m, params[0], 1, params, &cfg, &t), "rank-0");
    HG_CHECK(t == NULL);
    hg_graph_free(m);
}
