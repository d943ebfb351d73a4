/* Builder and shape rules: shapes worked out by hand. */
#include <string.h>

#include "tests/hg_test.h"

HG_LABELS(fast)

#define S(...) hg_shape_of(__VA_ARGS__)

static int shape_is(const hg_graph *g, hg_value v, hg_shape want) {
    return v != HG_NONE && hg_shape_eq(hg_value_shape(g, v), want);
}

HG_TEST(broadcast_rules) {
    hg_shape o;
    HG_CHECK(hg_shape_broadcast(S(2, (int64_t)3, (int64_t)1), S(1, (int64_t)4), &o) == 0);
    HG_CHECK(hg_shape_eq(o, S(2, (int64_t)3, (int64_t)4)));
    HG_CHECK(hg_shape_broadcast(hg_shape_scalar(), S(1, (int64_t)5), &o) == 0);
    HG_CHECK(hg_shape_eq(o, S(1, (int64_t)5)));
    HG_CHECK(hg_shape_broadcast(S(1, (int64_t)3), S(1, (int64_t)4), &o) == -1);
    HG_CHECK(hg_shape_broadcast(S(3, (int64_t)2, (int64_t)1, (int64_t)4), S(2, (int64_t)3, (int64_t)1), &o) == 0);
    HG_CHECK(hg_shape_eq(o, S(3, (int64_t)2, (int64_t)3, (int64_t)4)));
}

HG_TEST(elementwise_and_compare_shapes) {
    hg_graph *g = hg_graph_new();
    hg_value a = hg_input(g, "a", HG_F32, S(2, (int64_t)3, (int64_t)1));
    hg_value b = hg_input(g, "b", HG_F32, S(1, (int64_t)4));
    hg_value c = hg_add(g, a, b);
    HG_CHECK(shape_is(g, c, S(2, (int64_t)3, (int64_t)4)));
    hg_value lt = hg_binary(g, HG_OP_lt, a, b);
    HG_CHECK(hg_value_dtype(g, lt) == HG_BOOL);
    hg_value w = hg_where(g, lt, a, b);
    HG_CHECK(shape_is(g, w, S(2, (int64_t)3, (int64_t)4)));
    HG_CHECK(hg_graph_status(g).code == HG_OK);
    hg_graph_free(g);
}

HG_TEST(reduce_shapes) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, S(3, (int64_t)2, (int64_t)3, (int64_t)4));
    int ax[2] = {0, -1};
    HG_CHECK(shape_is(g, hg_reduce(g, HG_OP_sum, x, 2, ax, 0), S(1, (int64_t)3)));
    HG_CHECK(shape_is(g, hg_reduce(g, HG_OP_max, x, 2, ax, 1), S(3, (int64_t)1, (int64_t)3, (int64_t)1)));
    HG_CHECK(shape_is(g, hg_sum_all(g, x), hg_shape_scalar()));
    hg_graph_free(g);
}

HG_TEST(matmul_shapes) {
    hg_graph *g = hg_graph_new();
    hg_value a = hg_input(g, "a", HG_F32, S(3, (int64_t)5, (int64_t)2, (int64_t)3));
    hg_value b = hg_input(g, "b", HG_F32, S(2, (int64_t)3, (int64_t)4));
    HG_CHECK(shape_is(g, hg_matmul(g, a, b, 0, 0), S(3, (int64_t)5, (int64_t)2, (int64_t)4)));
    HG_CHECK(shape_is(g, hg_matmul(g, a, a, 1, 0), S(3, (int64_t)5, (int64_t)3, (int64_t)3)));
    HG_CHECK(shape_is(g, hg_matmul(g, a, a, 0, 1), S(3, (int64_t)5, (int64_t)2, (int64_t)2)));
    HG_CHECK(hg_graph_status(g).code == HG_OK);
    HG_CHECK(hg_matmul(g, a, a, 0, 0) == HG_NONE);
    HG_CHECK(strstr(hg_graph_status(g).msg, "contraction") != NULL);
    hg_graph_free(g);
}

HG_TEST(gather_scatter_shapes) {
    hg_graph *g = hg_graph_new();
    hg_value n = hg_input(g, "n", HG_F32, S(3, (int64_t)2, (int64_t)10, (int64_t)16));
    hg_value idx = hg_input(g, "idx", HG_I32, S(2, (int64_t)2, (int64_t)40));
    hg_value e = hg_gather(g, n, idx, 1);
    HG_CHECK(shape_is(g, e, S(3, (int64_t)2, (int64_t)40, (int64_t)16)));
    hg_value s = hg_scatter_add(g, e, idx, 1, 10);
    HG_CHECK(shape_is(g, s, S(3, (int64_t)2, (int64_t)10, (int64_t)16)));
    hg_value t = hg_gather(g, n, hg_input(g, "i0", HG_I32, S(1, (int64_t)7)), 0);
    HG_CHECK(shape_is(g, t, S(3, (int64_t)7, (int64_t)10, (int64_t)16)));
    HG_CHECK(hg_graph_status(g).code == HG_OK);
    hg_graph_free(g);
}

HG_TEST(shape_ops) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, S(3, (int64_t)2, (int64_t)3, (int64_t)4));
    int perm[3] = {2, 0, 1};
    HG_CHECK(shape_is(g, hg_transpose(g, x, perm), S(3, (int64_t)4, (int64_t)2, (int64_t)3)));
    HG_CHECK(shape_is(g, hg_reshape(g, x, S(2, (int64_t)6, (int64_t)4)), S(2, (int64_t)6, (int64_t)4)));
    HG_CHECK(shape_is(g, hg_slice_axis(g, x, -1, 1, 2), S(3, (int64_t)2, (int64_t)3, (int64_t)2)));
    hg_value two[2] = {x, x};
    HG_CHECK(shape_is(g, hg_concat(g, 2, two, 1), S(3, (int64_t)2, (int64_t)6, (int64_t)4)));
    int64_t lo[3] = {0, 1, 0}, hi[3] = {1, 0, 2};
    HG_CHECK(shape_is(g, hg_pad(g, x, lo, hi, 0.0), S(3, (int64_t)3, (int64_t)4, (int64_t)6)));
    hg_value m = hg_input(g, "mask", HG_F32, S(2, (int64_t)2, (int64_t)3));
    hg_value p = hg_slice_axis(g, x, 2, 0, 3);
    hg_value k = hg_knn(g, p, m, 2, 10.0);
    HG_CHECK(shape_is(g, k, S(3, (int64_t)2, (int64_t)3, (int64_t)2)) && hg_value_dtype(g, k) == HG_I32);
    HG_CHECK(hg_graph_status(g).code == HG_OK);
    hg_graph_free(g);
}

HG_TEST(errors_are_sticky_and_named) {
    hg_graph *g = hg_graph_new();
    hg_value a = hg_input(g, "a", HG_F32, S(1, (int64_t)3));
    hg_value b = hg_input(g, "b", HG_F32, S(1, (int64_t)4));
    hg_value c = hg_add(g, a, b);
    HG_CHECK(c == HG_NONE);
    hg_status s = hg_graph_status(g);
    HG_CHECK(s.code == HG_ERR_INVALID);
    HG_CHECK(strstr(s.msg, "node %2 (add)") != NULL);
    HG_CHECK(strstr(s.msg, "[3]") && strstr(s.msg, "[4]"));
    HG_CHECK(hg_exp(g, c) == HG_NONE);
    HG_CHECK(hg_exp(g, a) == HG_NONE); /* sticky */
    HG_CHECK(!strcmp(hg_graph_status(g).msg, s.msg));
    hg_graph_free(g);
}

HG_TEST(duplicate_names_and_updates) {
    hg_graph *g = hg_graph_new();
    hg_value w = hg_state(g, "w", HG_F32, S(1, (int64_t)2));
    hg_value w2 = hg_add_s(g, w, 1.0);
    HG_CHECK(hg_set_update(g, w, w2) == 0);
    HG_CHECK(hg_set_output(g, "w2", w2) == 0);
    HG_CHECK(hg_find_output(g, "w2") == w2);
    HG_CHECK(hg_find_state(g, "w") == w);
    HG_CHECK(g->n_updates == 1);
    HG_CHECK(hg_state(g, "w", HG_F32, S(1, (int64_t)2)) == HG_NONE);
    HG_CHECK(strstr(hg_graph_status(g).msg, "duplicate") != NULL);
    hg_graph_free(g);
}

HG_TEST(random_streams_distinct) {
    hg_graph *g = hg_graph_new();
    hg_value seed = hg_input(g, "seed", HG_I32, hg_shape_scalar());
    hg_value step = hg_input(g, "step", HG_I32, hg_shape_scalar());
    hg_value r1 = hg_random_normal(g, HG_F32, S(1, (int64_t)4), seed, step, step);
    hg_value r2 = hg_random_uniform(g, HG_F32, S(1, (int64_t)4), seed, step, step);
    HG_CHECK(g->nodes[r1].attrs.stream != g->nodes[r2].attrs.stream);
    hg_graph *c = hg_graph_clone(g);
    HG_CHECK(c && c->nodes[r2].attrs.stream == g->nodes[r2].attrs.stream);
    hg_graph_free(c);
    hg_graph_free(g);
}

HG_TEST(tensor_map) {
    hg_tensor_map m;
    hg_map_init(&m);
    hg_tensor *t;
    HG_CHECK_OK(hg_map_alloc(&m, "a/b", HG_F64, S(2, (int64_t)2, (int64_t)2), &t));
    hg_tensor_set(t, 3, 2.5);
    HG_CHECK(hg_tensor_get(hg_map_get(&m, "a/b"), 3) == 2.5);
    HG_CHECK(hg_map_get(&m, "zz") == NULL);
    hg_tensor x;
    HG_CHECK_OK(hg_tensor_alloc(&x, HG_I32, S(1, (int64_t)3)));
    hg_tensor_set(&x, 1, 7);
    HG_CHECK_OK(hg_map_put(&m, "a/b", &x));
    HG_CHECK(m.n == 1 && x.data == NULL);
    HG_CHECK(hg_map_get(&m, "a/b")->dtype == HG_I32 && hg_tensor_get(hg_map_get(&m, "a/b"), 1) == 7);
    hg_map_free(&m);
}

HG_TEST(cost_model) {
    hg_graph *g = hg_graph_new();
    hg_value a = hg_input(g, "a", HG_F32, S(3, (int64_t)2, (int64_t)3, (int64_t)5));
    hg_value b = hg_input(g, "b", HG_F32, S(2, (int64_t)5, (int64_t)4));
    hg_value m = hg_matmul(g, a, b, 0, 0);     /* 2 batches x 3x4 outputs x 5 MACs */
    HG_CHECK(hg_node_flops(g, m) == 2 * 2 * 3 * 4 * 5);
    HG_CHECK(hg_node_bytes(g, m) == 4 * (30 + 20 + 24));
    hg_value e = hg_exp(g, m);
    HG_CHECK(hg_node_flops(g, e) == 24);
    int ax[1] = {2};
    HG_CHECK(hg_node_flops(g, hg_reduce(g, HG_OP_mean, e, 1, ax, 0)) == 24 + 6);
    HG_CHECK(hg_node_flops(g, hg_reshape(g, e, S(1, (int64_t)24))) == 0);
    HG_CHECK(hg_node_flops(g, a) == 0 && hg_node_bytes(g, a) == 0);
    hg_graph_free(g);
}
