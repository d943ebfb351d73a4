/* Rematerialisation (passes.h hg_remat): which values are recomputed
 * (worked out by hand on small graphs), that values and updates are
 * unchanged bit for bit (ref and jit, the graph with copies against the
 * graph without), and that the planned arena of a training-style graph
 * does not grow and a copy's lifetime is shorter than the original's. */
#include "tests/hg_test.h"

#include <math.h>
#include <string.h>

#include "codegen/codegen.h"
#include "passes/passes.h"
#include "runtime/program.h"

HG_LABELS(fast)

/* Node of the copy: the first node of op `op` reading `x` in o after `after`. */
static int find_reader(const hg_graph *o, hg_op op, hg_value x, int after) {
    for (int i = after + 1; i < o->n_nodes; i++)
        if (o->nodes[i].op == op && o->nodes[i].n_in == 1 && o->nodes[i].in[0] == x) return i;
    return -1;
}

/* a = x + 1 (%1..), y = gelu(a); near: y * 2; 5 fillers on x; far: y * a.
 * a is live at the far user (it reads a), so y is recomputed there. */
HG_TEST(far_user_with_live_input_gets_a_copy) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)8));
    hg_value a = hg_add_s(g, x, 1.0);
    hg_value y = hg_gelu(g, a);
    hg_value near = hg_mul_s(g, y, 2.0);
    hg_value f = x;
    for (int i = 0; i < 5; i++) f = hg_exp(g, f);
    hg_value fa = hg_add(g, y, f);
    hg_value far = hg_mul(g, fa, a);
    hg_set_output(g, "near", near);
    hg_set_output(g, "far", far);
    HG_CHECK_OK(hg_graph_status(g));
    hg_graph *o = NULL;
    int copies = -1;
    int dist = (int)(fa - y); /* the far user's distance */
    HG_CHECK(dist >= 6);
    HG_CHECK_OK(hg_remat(g, dist - 1, 1, &o, &copies));
    HG_CHECK(copies == 1);
    HG_CHECK(o->n_nodes == g->n_nodes + 1);
    /* ids of o: the copy sits just before the far add, after the fillers */
    int c = find_reader(o, HG_OP_gelu_tanh, a, y);
    HG_CHECK(c > (int)f);
    HG_CHECK(o->nodes[c + 1].op == HG_OP_add && o->nodes[c + 1].in[0] == c);
    HG_CHECK(o->nodes[near].in[0] == y); /* the near user keeps the original */
    /* within the distance nothing is copied */
    hg_graph *o2 = NULL;
    HG_CHECK_OK(hg_remat(g, dist, 1, &o2, &copies));
    HG_CHECK(copies == 0 && o2->n_nodes == g->n_nodes);
    /* too small */
    hg_graph_free(o2);
    HG_CHECK_OK(hg_remat(g, dist - 1, 9, &o2, &copies));
    HG_CHECK(copies == 0);
    hg_graph_free(o2);
    hg_graph_free(o);
    hg_graph_free(g);
}

/* The input of y dead before the far user (a read only by gelu), y an
 * output, a random op: no copy (each would extend a lifetime or change a
 * draw). */
HG_TEST(no_copy_that_extends_a_lifetime) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)8));
    hg_value a = hg_add_s(g, x, 1.0);
    hg_value y = hg_gelu(g, a);
    hg_value f = x;
    for (int i = 0; i < 6; i++) f = hg_exp(g, f);
    hg_set_output(g, "far", hg_mul(g, y, f));
    hg_value y2 = hg_exp(g, x); /* x is an input: live anyway, but y2 is an output */
    for (int i = 0; i < 6; i++) f = hg_exp(g, f);
    hg_set_output(g, "y2", y2);
    hg_set_output(g, "far2", hg_mul(g, y2, hg_add(g, f, x)));
    HG_CHECK_OK(hg_graph_status(g));
    hg_graph *o = NULL;
    int copies = -1;
    HG_CHECK_OK(hg_remat(g, 3, 1, &o, &copies));
    HG_CHECK(copies == 0);
    hg_graph_free(o);
    hg_graph_free(g);
}

/* A two-layer MLP with its gradients: h = gelu(x W1 + b), out = h W2,
 * loss = sum(out^2); the backward reads h (dW2 = h^T dout) next to the
 * gelu VJP, which reads the pre-activation. */
static hg_graph *mlp_grad_graph(int64_t rows, int64_t d) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(2, rows, d));
    hg_value p[3] = {hg_state(g, "w1", HG_F32, hg_shape_of(2, d, d)),
                     hg_state(g, "b1", HG_F32, hg_shape_of(1, d)),
                     hg_state(g, "w2", HG_F32, hg_shape_of(2, d, d))};
    hg_value h = hg_gelu(g, hg_add(g, hg_matmul(g, x, p[0], 0, 0), p[1]));
    hg_value h2 = hg_gelu(g, hg_matmul(g, h, p[2], 0, 0));
    hg_value loss = hg_sum_all(g, hg_square(g, h2));
    hg_value gr[3];
    if (hg_grad(g, loss, 3, p, gr).code != HG_OK) return g;
    hg_set_output(g, "loss", loss);
    hg_set_output(g, "g_w1", gr[0]);
    hg_set_output(g, "g_b1", gr[1]);
    hg_set_output(g, "g_w2", gr[2]);
    return g;
}

/* inputs into in, states into st */
static void fill(hg_tensor_map *in, hg_tensor_map *st, const hg_graph *g) {
    for (int v = 0; v < g->n_nodes; v++) {
        const hg_node *nd = &g->nodes[v];
        if (nd->op != HG_OP_input && nd->op != HG_OP_state) continue;
        hg_tensor *t;
        hg_tensor_map *m = nd->op == HG_OP_input ? in : st;
        if (hg_map_alloc(m, nd->attrs.name, nd->dtype, nd->shape, &t).code != HG_OK) return;
        int64_t n = hg_shape_numel(nd->shape);
        for (int64_t i = 0; i < n; i++) hg_tensor_set(t, i, 0.3 * sin(0.7 * (double)i + v));
    }
}

/* outputs of g on backend be ("ref" runs hg_ref_run) */
static hg_status run_on(const char *be, const hg_graph *g, hg_tensor_map *out) {
    hg_tensor_map st, in;
    hg_map_init(&st);
    hg_map_init(&in);
    fill(&in, &st, g);
    hg_status s;
    if (!strcmp(be, "ref")) s = hg_ref_run(g, &st, &in, out, NULL);
    else {
        hg_program *p = NULL;
        s = hg_program_compile(g, be, &p);
        if (s.code == HG_OK) s = hg_program_run(p, &st, &in, out);
        hg_program_free(p);
    }
    hg_map_free(&st);
    hg_map_free(&in);
    return s;
}

static int same_outputs(const hg_tensor_map *a, const hg_tensor_map *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++) {
        hg_tensor *t = hg_map_get(b, a->e[i].name);
        if (!t || hg_tensor_bytes(t) != hg_tensor_bytes(&a->e[i].t) ||
            memcmp(t->data, a->e[i].t.data, hg_tensor_bytes(t)) != 0)
            return 0;
    }
    return 1;
}

HG_TEST(mlp_gradients_bit_identical_and_arena_not_larger) {
    hg_graph *g = mlp_grad_graph(40, 24); /* 960 elements: below program.c's threshold */
    HG_CHECK_OK(hg_graph_status(g));
    hg_graph *o = NULL;
    int copies = 0;
    HG_CHECK_OK(hg_remat(g, 2, 1, &o, &copies));
    HG_CHECK(copies >= 1);
    HG_CHECK_OK(hg_verify(o));
    static const char *const be[2] = {"ref", "jit"};
    for (int b = 0; b < 2; b++) {
        hg_tensor_map x, y;
        hg_map_init(&x);
        hg_map_init(&y);
        HG_CHECK_OK(run_on(be[b], g, &x));
        HG_CHECK_OK(run_on(be[b], o, &y));
        if (!same_outputs(&x, &y)) HG_FAIL("%s: outputs differ with the copies", be[b]);
        hg_map_free(&x);
        hg_map_free(&y);
    }
    hg_schedule s0, s1;
    hg_mem_plan p0, p1;
    HG_CHECK_OK(hg_schedule_nodes(g, &s0));
    HG_CHECK_OK(hg_schedule_nodes(o, &s1));
    HG_CHECK_OK(hg_memplan_schedule(g, &s0, &p0));
    HG_CHECK_OK(hg_memplan_schedule(o, &s1, &p1));
    HG_CHECK(p1.live_bytes_max <= p0.live_bytes_max);
    HG_CHECK(p1.arena_bytes <= p0.arena_bytes);
    hg_memplan_free(&p0);
    hg_memplan_free(&p1);
    hg_schedule_free(&s0);
    hg_schedule_free(&s1);
    hg_graph_free(o);
    hg_graph_free(g);
}
