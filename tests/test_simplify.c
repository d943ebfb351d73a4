/* hg_dce and hg_simplify (passes/simplify.c): dead code removal with an id
 * map, splat folding, identities, CSE, stream ids kept, results unchanged. */
#include <string.h>

#include "codegen/codegen.h"
#include "passes/passes.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

static hg_status run(const hg_graph *g, hg_tensor_map *st, const hg_tensor_map *in,
                     hg_tensor_map *out) {
    return hg_ref_run(g, st, in, out, NULL);
}

HG_TEST(dce_removes_dead_nodes_and_maps_ids) {
    hg_graph *g = hg_graph_new();
    hg_shape s = hg_shape_of(1, (int64_t)3);
    hg_value x = hg_input(g, "x", HG_F64, s);
    hg_value dead = hg_exp(g, x);
    hg_value unused = hg_input(g, "unused", HG_F64, s);
    hg_value seed = hg_input(g, "seed", HG_I32, hg_shape_scalar());
    hg_value zero = hg_scalar(g, HG_I32, 0);
    hg_value r0 = hg_random_normal(g, HG_F64, s, seed, zero, zero); /* dead */
    hg_value r1 = hg_random_uniform(g, HG_F64, s, seed, zero, zero);
    hg_value st = hg_state(g, "count", HG_I32, hg_shape_scalar());
    hg_value y = hg_add(g, hg_mul_s(g, x, 2.0), r1);
    hg_set_output(g, "y", y);
    hg_set_update(g, st, hg_add(g, st, hg_scalar(g, HG_I32, 1)));
    HG_CHECK_OK(hg_graph_status(g));
    hg_graph *o = NULL;
    hg_value map[64];
    HG_CHECK_OK(hg_dce(g, &o, map));
    HG_CHECK_OK(hg_verify(o));
    HG_CHECK(map[dead] == HG_NONE);
    HG_CHECK(map[r0] == HG_NONE);
    HG_CHECK(map[unused] != HG_NONE && o->nodes[map[unused]].op == HG_OP_input);
    HG_CHECK(map[r1] != HG_NONE && o->nodes[map[r1]].attrs.stream == g->nodes[r1].attrs.stream);
    HG_CHECK(o->next_stream == g->next_stream);
    HG_CHECK(hg_find_output(o, "y") == map[y]);
    HG_CHECK(o->n_updates == 1 && o->updates[0].state == map[st]);
    HG_CHECK(o->n_nodes == g->n_nodes - 2);
    /* same results */
    hg_tensor_map in, s1, s2, o1, o2;
    hg_map_init(&in), hg_map_init(&s1), hg_map_init(&s2), hg_map_init(&o1), hg_map_init(&o2);
    hg_tensor *t;
    HG_CHECK_OK(hg_map_alloc(&in, "x", HG_F64, s, &t));
    for (int i = 0; i < 3; i++) hg_tensor_set(t, i, i - 0.5);
    HG_CHECK_OK(hg_map_alloc(&in, "seed", HG_I32, hg_shape_scalar(), &t));
    hg_tensor_set(t, 0, 52);
    HG_CHECK_OK(hg_map_alloc(&in, "unused", HG_F64, s, &t));
    HG_CHECK_OK(hg_map_alloc(&s1, "count", HG_I32, hg_shape_scalar(), &t));
    HG_CHECK_OK(hg_map_alloc(&s2, "count", HG_I32, hg_shape_scalar(), &t));
    HG_CHECK_OK(run(g, &s1, &in, &o1));
    HG_CHECK_OK(run(o, &s2, &in, &o2));
    HG_CHECK(!memcmp(hg_map_get(&o1, "y")->data, hg_map_get(&o2, "y")->data, 3 * sizeof(double)));
    HG_CHECK(hg_tensor_get(hg_map_get(&s2, "count"), 0) == 1);
    hg_map_free(&in), hg_map_free(&s1), hg_map_free(&s2), hg_map_free(&o1), hg_map_free(&o2);
    hg_graph_free(o);
    hg_graph_free(g);
}

HG_TEST(simplify_folds_splats_and_identities) {
    hg_graph *g = hg_graph_new();
    hg_shape s = hg_shape_of(2, (int64_t)2, (int64_t)3);
    hg_value x = hg_input(g, "x", HG_F32, s);
    hg_value zeros = hg_broadcast_to(g, hg_scalar(g, HG_F32, 0), s);
    hg_value ones = hg_fill(g, HG_F32, s, 1.0);
    hg_value y = hg_add(g, hg_mul(g, x, ones), zeros); /* -> x */
    hg_value six = hg_mul(g, hg_fill(g, HG_F32, s, 2.0), hg_fill(g, HG_F32, s, 3.0));
    hg_value nn = hg_neg(g, hg_neg(g, hg_exp(g, x)));      /* -> exp(x) */
    hg_value e2 = hg_exp(g, x);                             /* CSE with the one above */
    hg_value rs = hg_reshape(g, hg_reshape(g, x, hg_shape_of(1, (int64_t)6)), s); /* -> x */
    hg_set_output(g, "y", y);
    hg_set_output(g, "six", six);
    hg_set_output(g, "nn", nn);
    hg_set_output(g, "e2", e2);
    hg_set_output(g, "rs", rs);
    hg_graph *o = NULL;
    hg_value map[64];
    HG_CHECK_OK(hg_simplify(g, &o, map));
    HG_CHECK_OK(hg_verify(o));
    hg_value ox = map[x];
    HG_CHECK(hg_find_output(o, "y") == ox);
    HG_CHECK(hg_find_output(o, "rs") == ox);
    HG_CHECK(hg_find_output(o, "nn") == hg_find_output(o, "e2"));
    HG_CHECK(o->nodes[hg_find_output(o, "nn")].op == HG_OP_exp);
    const hg_node *sx = &o->nodes[hg_find_output(o, "six")];
    HG_CHECK(sx->op == HG_OP_broadcast_to);
    const hg_node *c = &o->nodes[sx->in[0]];
    HG_CHECK(c->op == HG_OP_constant && c->shape.rank == 0 && ((float *)c->data)[0] == 6.0f);
    /* x, scalar 6, broadcast, exp */
    HG_CHECK(o->n_nodes == 4);
    hg_graph_free(o);
    hg_graph_free(g);
}

/* x * 0 is not folded (inf * 0 = NaN); x * 1 with broadcasting is not
 * removed (the shape would change). */
HG_TEST(simplify_keeps_unsafe_rewrites) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F64, hg_shape_of(1, (int64_t)3));
    hg_value z = hg_mul(g, x, hg_scalar(g, HG_F64, 0.0));
    hg_value b = hg_mul(g, x, hg_fill(g, HG_F64, hg_shape_of(2, (int64_t)2, (int64_t)3), 1.0));
    hg_set_output(g, "z", z);
    hg_set_output(g, "b", b);
    hg_graph *o = NULL;
    HG_CHECK_OK(hg_simplify(g, &o, NULL));
    HG_CHECK(o->nodes[hg_find_output(o, "z")].op == HG_OP_mul);
    HG_CHECK(o->nodes[hg_find_output(o, "b")].op == HG_OP_mul);
    hg_graph_free(o);
    hg_graph_free(g);
}

/* A simplified gradient graph computes bit-identical results. */
HG_TEST(simplify_preserves_gradient_results) {
    hg_graph *g = hg_graph_new();
    hg_shape sx = hg_shape_of(2, (int64_t)3, (int64_t)4);
    hg_value x = hg_input(g, "x", HG_F32, sx);
    hg_value w = hg_state(g, "w", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)2));
    hg_value b = hg_state(g, "b", HG_F32, hg_shape_of(1, (int64_t)2));
    hg_value h = hg_layer_norm(g, hg_gelu(g, hg_add(g, hg_matmul(g, x, w, 0, 0), b)), 1e-5);
    hg_value loss = hg_reduce(g, HG_OP_mean, hg_square(g, hg_softmax(g, h)), 0, NULL, 0);
    hg_value wrt[3] = {x, w, b}, gr[3];
    HG_CHECK_OK(hg_grad(g, loss, 3, wrt, gr));
    hg_set_output(g, "gx", gr[0]);
    hg_set_output(g, "gw", gr[1]);
    hg_set_output(g, "gb", gr[2]);
    hg_graph *o = NULL;
    HG_CHECK_OK(hg_simplify(g, &o, NULL));
    HG_CHECK(o->n_nodes < g->n_nodes);
    hg_tensor_map in, st, o1, o2;
    hg_map_init(&in), hg_map_init(&st), hg_map_init(&o1), hg_map_init(&o2);
    hg_tensor *t;
    HG_CHECK_OK(hg_map_alloc(&in, "x", HG_F32, sx, &t));
    for (int i = 0; i < 12; i++) hg_tensor_set(t, i, 0.3 * i - 1.7);
    HG_CHECK_OK(hg_map_alloc(&st, "w", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)2), &t));
    for (int i = 0; i < 8; i++) hg_tensor_set(t, i, 0.1 * (i % 3) - 0.15 * i);
    HG_CHECK_OK(hg_map_alloc(&st, "b", HG_F32, hg_shape_of(1, (int64_t)2), &t));
    HG_CHECK_OK(run(g, &st, &in, &o1));
    HG_CHECK_OK(run(o, &st, &in, &o2));
    const char *names[3] = {"gx", "gw", "gb"};
    for (int k = 0; k < 3; k++) {
        hg_tensor *a = hg_map_get(&o1, names[k]), *c = hg_map_get(&o2, names[k]);
        HG_CHECK(a && c && !memcmp(a->data, c->data, hg_tensor_bytes(a)));
    }
    hg_map_free(&in), hg_map_free(&st), hg_map_free(&o1), hg_map_free(&o2);
    hg_graph_free(o);
    hg_graph_free(g);
}
