/* The cost model of the op table: FLOPs (SPEC 7 convention) and bytes. */
#include "ir/ir.h"

static int64_t numel(const hg_graph *g, hg_value v) { return hg_shape_numel(g->nodes[v].shape); }

/* mul_add (2) per multiply-add: mul_add M N K per batch matrix. */
static int64_t matmul_flops(const hg_graph *g, const hg_node *n, int64_t mul_add) {
    hg_shape a = g->nodes[n->in[0]].shape;
    int64_t k = n->attrs.trans_a ? a.dim[a.rank - 2] : a.dim[a.rank - 1];
    return mul_add * hg_shape_numel(n->shape) * k;
}

/* 2 B H Nq Nk (D + Dv) for the contractions + per_logit B H Nq Nk. */
static int64_t attention_flops(const hg_graph *g, const hg_node *n, int64_t per_logit) {
    hg_shape q = g->nodes[n->in[0]].shape, k = g->nodes[n->in[1]].shape, v = g->nodes[n->in[2]].shape;
    int64_t lg = q.dim[0] * q.dim[1] * q.dim[2] * k.dim[2];
    return 2 * lg * (q.dim[3] + v.dim[3]) + per_logit * lg;
}

static int64_t knn_flops(const hg_graph *g, const hg_node *n) {
    hg_shape p = g->nodes[n->in[0]].shape;
    return p.dim[0] * p.dim[1] * p.dim[1];
}

/* The op's FLOP rule (ir/op_traits.def). */
int64_t hg_node_flops(const hg_graph *g, hg_value v) {
    const hg_node *n = hg_node_at(g, v);
    if (!n) return 0;
    const hg_op_info *info = &hg_op_table[n->op];
    int64_t k = info->flops_k;
    switch (info->flops) {
    case HG_FLOPS_OUT: return k * hg_shape_numel(n->shape);
    case HG_FLOPS_IN: return k * numel(g, n->in[0]);
    case HG_FLOPS_MEAN: return numel(g, n->in[0]) + hg_shape_numel(n->shape);
    case HG_FLOPS_MATMUL: return matmul_flops(g, n, k);
    case HG_FLOPS_ATTENTION: return attention_flops(g, n, k);
    case HG_FLOPS_KNN: return k * knn_flops(g, n);
    default: return 0;
    }
}

/* The op's byte rule (ir/op_traits.def). */
int64_t hg_node_bytes(const hg_graph *g, hg_value v) {
    const hg_node *n = hg_node_at(g, v);
    if (!n || hg_op_table[n->op].bytes != HG_BYTES_IO) return 0;
    int64_t b = hg_shape_numel(n->shape) * (int64_t)hg_dtype_size(n->dtype);
    for (int i = 0; i < n->n_in; i++)
        b += numel(g, n->in[i]) * (int64_t)hg_dtype_size(g->nodes[n->in[i]].dtype);
    return b;
}
