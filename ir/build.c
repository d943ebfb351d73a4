/* Typed builder helpers on top of hg_add_node (shape inference does the
 * checking; errors are sticky in the graph). */
#include <string.h>

#include "ir/ir.h"

static hg_attrs no_attrs(void) {
    hg_attrs a;
    memset(&a, 0, sizeof a);
    return a;
}

static int bad(hg_graph *g, hg_value v) { return !g || g->err.code || v == HG_NONE; }

hg_value hg_unary(hg_graph *g, hg_op op, hg_value x) {
    if (bad(g, x)) return HG_NONE;
    return hg_add_node(g, op, HG_F32, hg_shape_scalar(), 1, &x, NULL);
}

hg_value hg_binary(hg_graph *g, hg_op op, hg_value x, hg_value y) {
    if (bad(g, x) || y == HG_NONE) return HG_NONE;
    hg_value in[2] = {x, y};
    return hg_add_node(g, op, HG_F32, hg_shape_scalar(), 2, in, NULL);
}

hg_value hg_neg(hg_graph *g, hg_value x) { return hg_unary(g, HG_OP_neg, x); }
hg_value hg_exp(hg_graph *g, hg_value x) { return hg_unary(g, HG_OP_exp, x); }
hg_value hg_log(hg_graph *g, hg_value x) { return hg_unary(g, HG_OP_log, x); }
hg_value hg_sqrt(hg_graph *g, hg_value x) { return hg_unary(g, HG_OP_sqrt, x); }
hg_value hg_square(hg_graph *g, hg_value x) { return hg_unary(g, HG_OP_square, x); }
hg_value hg_sigmoid(hg_graph *g, hg_value x) { return hg_unary(g, HG_OP_sigmoid, x); }
hg_value hg_tanh(hg_graph *g, hg_value x) { return hg_unary(g, HG_OP_tanh, x); }
hg_value hg_gelu(hg_graph *g, hg_value x) { return hg_unary(g, HG_OP_gelu_tanh, x); }
hg_value hg_add(hg_graph *g, hg_value x, hg_value y) { return hg_binary(g, HG_OP_add, x, y); }
hg_value hg_sub(hg_graph *g, hg_value x, hg_value y) { return hg_binary(g, HG_OP_sub, x, y); }
hg_value hg_mul(hg_graph *g, hg_value x, hg_value y) { return hg_binary(g, HG_OP_mul, x, y); }
hg_value hg_div(hg_graph *g, hg_value x, hg_value y) { return hg_binary(g, HG_OP_div, x, y); }

hg_value hg_add_s(hg_graph *g, hg_value x, double s) {
    if (bad(g, x)) return HG_NONE;
    return hg_add(g, x, hg_scalar(g, g->nodes[x].dtype, s));
}

hg_value hg_mul_s(hg_graph *g, hg_value x, double s) {
    if (bad(g, x)) return HG_NONE;
    return hg_mul(g, x, hg_scalar(g, g->nodes[x].dtype, s));
}

hg_value hg_where(hg_graph *g, hg_value c, hg_value x, hg_value y) {
    if (bad(g, c) || x == HG_NONE || y == HG_NONE) return HG_NONE;
    hg_value in[3] = {c, x, y};
    return hg_add_node(g, HG_OP_where, HG_F32, hg_shape_scalar(), 3, in, NULL);
}

hg_value hg_reduce(hg_graph *g, hg_op op, hg_value x, int naxes, const int *axes, int keepdims) {
    if (bad(g, x)) return HG_NONE;
    hg_attrs a = no_attrs();
    int rank = g->nodes[x].shape.rank;
    if (naxes < 0 || naxes > HG_MAX_RANK) naxes = -1;
    a.naxes = naxes;
    for (int i = 0; i < naxes; i++) a.axes[i] = axes[i] < 0 ? axes[i] + rank : axes[i];
    a.keepdims = keepdims != 0;
    return hg_add_node(g, op, HG_F32, hg_shape_scalar(), 1, &x, &a);
}

hg_value hg_sum_all(hg_graph *g, hg_value x) { return hg_reduce(g, HG_OP_sum, x, 0, NULL, 0); }

hg_value hg_matmul(hg_graph *g, hg_value a_, hg_value b_, int trans_a, int trans_b) {
    if (bad(g, a_) || b_ == HG_NONE) return HG_NONE;
    hg_attrs a = no_attrs();
    a.trans_a = trans_a != 0;
    a.trans_b = trans_b != 0;
    hg_value in[2] = {a_, b_};
    return hg_add_node(g, HG_OP_matmul, HG_F32, hg_shape_scalar(), 2, in, &a);
}

hg_value hg_reshape(hg_graph *g, hg_value x, hg_shape s) {
    if (bad(g, x)) return HG_NONE;
    return hg_add_node(g, HG_OP_reshape, g->nodes[x].dtype, s, 1, &x, NULL);
}

hg_value hg_transpose(hg_graph *g, hg_value x, const int *perm) {
    if (bad(g, x)) return HG_NONE;
    hg_attrs a = no_attrs();
    for (int i = 0; i < g->nodes[x].shape.rank; i++) a.perm[i] = perm[i];
    return hg_add_node(g, HG_OP_transpose, HG_F32, hg_shape_scalar(), 1, &x, &a);
}

hg_value hg_broadcast_to(hg_graph *g, hg_value x, hg_shape s) {
    if (bad(g, x)) return HG_NONE;
    if (hg_shape_eq(g->nodes[x].shape, s)) return x;
    return hg_add_node(g, HG_OP_broadcast_to, g->nodes[x].dtype, s, 1, &x, NULL);
}

hg_value hg_slice(hg_graph *g, hg_value x, const int64_t *starts, const int64_t *sizes) {
    if (bad(g, x)) return HG_NONE;
    hg_attrs a = no_attrs();
    int rank = g->nodes[x].shape.rank;
    for (int i = 0; i < rank; i++) {
        a.starts[i] = starts[i];
        a.steps[i] = 1;
    }
    return hg_add_node(g, HG_OP_slice, g->nodes[x].dtype, hg_shape_make(rank, sizes), 1, &x, &a);
}

hg_value hg_slice_axis(hg_graph *g, hg_value x, int axis, int64_t start, int64_t size) {
    if (bad(g, x)) return HG_NONE;
    hg_shape s = g->nodes[x].shape;
    if (axis < 0) axis += s.rank;
    int64_t st[HG_MAX_RANK] = {0};
    if (axis >= 0 && axis < s.rank) {
        st[axis] = start;
        s.dim[axis] = size;
    }
    return hg_slice(g, x, st, s.dim);
}

hg_value hg_concat(hg_graph *g, int n, const hg_value *xs, int axis) {
    if (!g || g->err.code || n < 1) return HG_NONE;
    for (int i = 0; i < n; i++)
        if (xs[i] == HG_NONE) return HG_NONE;
    if (n == 1) return xs[0];
    hg_attrs a = no_attrs();
    int rank = g->nodes[xs[0]].shape.rank;
    a.axis = axis < 0 ? axis + rank : axis;
    return hg_add_node(g, HG_OP_concat, HG_F32, hg_shape_scalar(), n, xs, &a);
}

hg_value hg_pad(hg_graph *g, hg_value x, const int64_t *lo, const int64_t *hi, double value) {
    if (bad(g, x)) return HG_NONE;
    hg_attrs a = no_attrs();
    for (int i = 0; i < g->nodes[x].shape.rank; i++) {
        a.pad_lo[i] = lo[i];
        a.pad_hi[i] = hi[i];
    }
    a.value = value;
    return hg_add_node(g, HG_OP_pad, HG_F32, hg_shape_scalar(), 1, &x, &a);
}

hg_value hg_gather(hg_graph *g, hg_value x, hg_value idx, int axis) {
    if (bad(g, x) || idx == HG_NONE) return HG_NONE;
    hg_attrs a = no_attrs();
    a.axis = axis;
    hg_value in[2] = {x, idx};
    return hg_add_node(g, HG_OP_gather, HG_F32, hg_shape_scalar(), 2, in, &a);
}

static hg_value scatter(hg_graph *g, hg_op op, hg_value src, hg_value idx, int axis, int64_t size) {
    if (bad(g, src) || idx == HG_NONE) return HG_NONE;
    hg_attrs a = no_attrs();
    a.axis = axis;
    a.size = size;
    hg_value in[2] = {src, idx};
    return hg_add_node(g, op, HG_F32, hg_shape_scalar(), 2, in, &a);
}

hg_value hg_scatter_add(hg_graph *g, hg_value src, hg_value idx, int axis, int64_t size) {
    return scatter(g, HG_OP_scatter_add, src, idx, axis, size);
}

hg_value hg_scatter_max(hg_graph *g, hg_value src, hg_value idx, int axis, int64_t size) {
    return scatter(g, HG_OP_scatter_max, src, idx, axis, size);
}

hg_value hg_iota(hg_graph *g, hg_dtype t, hg_shape s, int axis) {
    if (!g || g->err.code) return HG_NONE;
    hg_attrs a = no_attrs();
    a.axis = axis < 0 ? axis + s.rank : axis;
    return hg_add_node(g, HG_OP_iota, t, s, 0, NULL, &a);
}

hg_value hg_cast(hg_graph *g, hg_value x, hg_dtype t) {
    if (bad(g, x)) return HG_NONE;
    if (g->nodes[x].dtype == t) return x;
    return hg_add_node(g, HG_OP_cast, t, g->nodes[x].shape, 1, &x, NULL);
}

hg_value hg_stop_gradient(hg_graph *g, hg_value x) { return hg_unary(g, HG_OP_stop_gradient, x); }

hg_value hg_knn(hg_graph *g, hg_value pos, hg_value mask, int k, double box) {
    if (bad(g, pos) || mask == HG_NONE) return HG_NONE;
    hg_attrs a = no_attrs();
    a.k = k;
    a.box = box;
    hg_value in[2] = {pos, mask};
    return hg_add_node(g, HG_OP_knn, HG_I32, hg_shape_scalar(), 2, in, &a);
}

hg_value hg_layer_norm(hg_graph *g, hg_value x, double eps) {
    if (bad(g, x)) return HG_NONE;
    hg_attrs a = no_attrs();
    a.eps = eps;
    return hg_add_node(g, HG_OP_layer_norm, HG_F32, hg_shape_scalar(), 1, &x, &a);
}

hg_value hg_softmax(hg_graph *g, hg_value x) { return hg_unary(g, HG_OP_softmax, x); }

hg_value hg_attention(hg_graph *g, hg_value q, hg_value k, hg_value v, hg_value mask, double scale) {
    if (bad(g, q) || k == HG_NONE || v == HG_NONE || mask == HG_NONE) return HG_NONE;
    hg_attrs a = no_attrs();
    a.scale = scale;
    hg_value in[4] = {q, k, v, mask};
    return hg_add_node(g, HG_OP_attention, HG_F32, hg_shape_scalar(), 4, in, &a);
}

hg_value hg_attention_lse(hg_graph *g, hg_value q, hg_value k, hg_value v, hg_value mask,
                          double scale) {
    if (bad(g, q) || k == HG_NONE || v == HG_NONE || mask == HG_NONE) return HG_NONE;
    hg_attrs a = no_attrs();
    a.scale = scale;
    hg_value in[4] = {q, k, v, mask};
    return hg_add_node(g, HG_OP_attention_lse, HG_F32, hg_shape_scalar(), 4, in, &a);
}

hg_value hg_attention_grad(hg_graph *g, const hg_value *in, int axis, double scale) {
    if (!in || bad(g, in[0])) return HG_NONE;
    for (int i = 1; i < 7; i++)
        if (in[i] == HG_NONE) return HG_NONE;
    hg_attrs a = no_attrs();
    a.scale = scale;
    a.axis = axis;
    return hg_add_node(g, HG_OP_attention_grad, HG_F32, hg_shape_scalar(), 7, in, &a);
}

static hg_value random_op(hg_graph *g, hg_op op, hg_dtype t, hg_shape s, hg_value seed,
                          hg_value step, hg_value replica) {
    if (bad(g, seed) || step == HG_NONE || replica == HG_NONE) return HG_NONE;
    hg_attrs a = no_attrs();
    a.stream = g->next_stream;
    hg_value in[3] = {seed, step, replica};
    return hg_add_node(g, op, t, s, 3, in, &a);
}

hg_value hg_random_uniform(hg_graph *g, hg_dtype t, hg_shape s, hg_value seed,
                           hg_value step, hg_value replica) {
    return random_op(g, HG_OP_random_uniform, t, s, seed, step, replica);
}

hg_value hg_random_normal(hg_graph *g, hg_dtype t, hg_shape s, hg_value seed,
                          hg_value step, hg_value replica) {
    return random_op(g, HG_OP_random_normal, t, s, seed, step, replica);
}
