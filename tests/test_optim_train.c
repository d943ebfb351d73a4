/* End to end: a small MLP regression trained with the compiled training
 * step (hg_train_step_graph) on the reference interpreter lowers its loss
 * 100x, and two runs with the same seed are bit-identical. */
#include <string.h>

#include "codegen/codegen.h"
#include "passes/passes.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

#define NPTS 32
#define HID 16
#define STEPS 600

typedef struct {
    hg_graph *train;
    hg_tensor_map state, in, out;
    double first_loss, last_loss;
} run_t;

static hg_graph *mlp(hg_value *loss, hg_value *params, int *np) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)NPTS, (int64_t)2));
    hg_value y = hg_input(g, "y", HG_F32, hg_shape_of(2, (int64_t)NPTS, (int64_t)1));
    const int64_t dims[4] = {2, HID, HID, 1};
    hg_value h = x;
    *np = 0;
    for (int l = 0; l < 3; l++) {
        char name[64];
        snprintf(name, sizeof name, "mlp/layer_%d/kernel", l);
        hg_value w = hg_state(g, name, HG_F32, hg_shape_of(2, dims[l], dims[l + 1]));
        snprintf(name, sizeof name, "mlp/layer_%d/bias", l);
        hg_value b = hg_state(g, name, HG_F32, hg_shape_of(1, dims[l + 1]));
        params[(*np)++] = w;
        params[(*np)++] = b;
        h = hg_add(g, hg_matmul(g, h, w, 0, 0), b);
        if (l < 2) h = hg_tanh(g, h);
    }
    *loss = hg_reduce(g, HG_OP_mean, hg_square(g, hg_sub(g, h, y)), 0, NULL, 0);
    return g;
}

/* Trains from parameters drawn from Philox with `seed`. 0 on success. */
static int train(uint32_t seed, run_t *r) {
    hg_value loss, params[8];
    int np;
    hg_graph *m = mlp(&loss, params, &np);
    hg_optim_config cfg;
    hg_optim_config_default(&cfg);
    cfg.lr = 0.02;
    cfg.warmup_steps = 20;
    cfg.total_steps = STEPS;
    cfg.clip = HG_CLIP_GLOBAL_NORM;
    cfg.clip_value = 1.0;
    memset(r, 0, sizeof *r);
    if (hg_train_step_graph(m, loss, np, params, &cfg, &r->train).code) return -1;
    hg_map_init(&r->state), hg_map_init(&r->in), hg_map_init(&r->out);
    for (int i = 0; i < np; i++) {
        const hg_node *p = &m->nodes[params[i]];
        hg_tensor *t;
        if (hg_map_alloc(&r->state, p->attrs.name, p->dtype, p->shape, &t).code) return -1;
        double fan_in = (double)p->shape.dim[0];
        if (p->shape.rank == 2)
            for (int64_t e = 0; e < hg_shape_numel(p->shape); e++)
                hg_tensor_set(t, e, hg_rng_normal(seed, (uint32_t)i, 0, 0, (uint64_t)e) / sqrt(fan_in));
    }
    hg_graph_free(m);
    if (hg_optim_init_state(r->train, &r->state).code) return -1;
    hg_tensor *x, *y;
    if (hg_map_alloc(&r->in, "x", HG_F32, hg_shape_of(2, (int64_t)NPTS, (int64_t)2), &x).code ||
        hg_map_alloc(&r->in, "y", HG_F32, hg_shape_of(2, (int64_t)NPTS, (int64_t)1), &y).code)
        return -1;
    for (int i = 0; i < NPTS; i++) {
        double a = -1 + 2.0 * (i % 8) / 7, b = -1 + 2.0 * (i / 8) / 3;
        hg_tensor_set(x, 2 * i, a);
        hg_tensor_set(x, 2 * i + 1, b);
        hg_tensor_set(y, i, sin(2 * a) * 0.8 + 0.5 * b * b - 0.3 * a * b);
    }
    for (int s = 0; s < STEPS; s++) {
        if (hg_ref_run(r->train, &r->state, &r->in, &r->out, NULL).code) return -1;
        double l = hg_tensor_get(hg_map_get(&r->out, "loss"), 0);
        if (s == 0) r->first_loss = l;
        r->last_loss = l;
    }
    return 0;
}

static void release(run_t *r) {
    hg_map_free(&r->state), hg_map_free(&r->in), hg_map_free(&r->out);
    hg_graph_free(r->train);
}

HG_TEST(mlp_regression_loss_drops_100x_bit_identically) {
    run_t a, b;
    HG_CHECK(train(52, &a) == 0);
    HG_CHECK(train(52, &b) == 0);
    fprintf(stderr, "loss %g -> %g\n", a.first_loss, a.last_loss);
    HG_CHECK(a.last_loss < a.first_loss / 100);
    HG_CHECK(hg_tensor_get(hg_map_get(&a.state, "opt/step"), 0) == STEPS);
    HG_CHECK(a.state.n == b.state.n);
    for (int i = 0; i < a.state.n; i++) {
        hg_tensor *tb = hg_map_get(&b.state, a.state.e[i].name);
        HG_CHECK(tb && !memcmp(a.state.e[i].t.data, tb->data, hg_tensor_bytes(tb)));
    }
    HG_CHECK(a.last_loss == b.last_loss);
    release(&a);
    release(&b);
}
