/* Size of gradient graphs: forward + backward grows linearly with depth;
 * the simplified training step too. */
#include <stdio.h>
#include <stdlib.h>

#include "passes/passes.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

/* Builds a depth-L tanh MLP regression loss; returns the node count after
 * hg_grad (raw) and of the simplified training-step graph. */
static void mlp_counts(int depth, int *raw, int *train) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)8));
    hg_value y = hg_input(g, "y", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)8));
    hg_value params[200];
    int np = 0;
    hg_value h = x;
    for (int l = 0; l < depth; l++) {
        char name[64];
        snprintf(name, sizeof name, "mlp/layer_%d/kernel", l);
        hg_value w = hg_state(g, name, HG_F32, hg_shape_of(2, (int64_t)8, (int64_t)8));
        snprintf(name, sizeof name, "mlp/layer_%d/bias", l);
        hg_value b = hg_state(g, name, HG_F32, hg_shape_of(1, (int64_t)8));
        params[np++] = w;
        params[np++] = b;
        h = hg_tanh(g, hg_add(g, hg_matmul(g, h, w, 0, 0), b));
    }
    hg_value loss = hg_reduce(g, HG_OP_mean, hg_square(g, hg_sub(g, h, y)), 0, NULL, 0);
    hg_graph *c = hg_graph_clone(g);
    hg_value grads[200];
    *raw = *train = -1;
    if (hg_grad(c, loss, np, params, grads).code == HG_OK) *raw = c->n_nodes;
    hg_graph_free(c);
    if (np > 0) {
        hg_optim_config cfg;
        hg_optim_config_default(&cfg);
        hg_graph *t = NULL;
        if (hg_train_step_graph(g, loss, np, params, &cfg, &t).code == HG_OK) *train = t->n_nodes;
        hg_graph_free(t);
    }
    hg_graph_free(g);
}

HG_TEST(fifty_layer_mlp_is_linear) {
    int r0, r1, r25, r26, r50, t1, t2, t25, t50, t0;
    mlp_counts(0, &r0, &t0);
    mlp_counts(1, &r1, &t1);
    mlp_counts(2, &t0, &t2); /* t0 reused: raw count of depth 2 not needed */
    mlp_counts(25, &r25, &t25);
    mlp_counts(26, &r26, &t0);
    mlp_counts(50, &r50, &t50);
    HG_CHECK(r0 > 0 && r25 > 0 && r50 > 0 && t25 > 0 && t50 > 0);
    fprintf(stderr, "raw: %d %d %d; train: %d %d\n", r0, r25, r50, t25, t50);
    /* linear: equal increments per 25 layers (up to the first layer, which
     * needs no gradient w.r.t. its input), and a per-layer cost that does
     * not depend on depth */
    HG_CHECK(abs((r50 - r25) - (r25 - r0)) <= 8);
    HG_CHECK(r26 - r25 == (r50 - r25) / 25);
    HG_CHECK(abs((t50 - t25) - 25 * (t2 - t1)) <= 8);
    /* a loose absolute bound: under 40 nodes per layer for the raw graph */
    HG_CHECK(r50 - r25 < 25 * 40);
}
