/* The cost model of the op table: FLOPs (SPEC 7 convention) and bytes. */
#include "ir/ir.h"

static int64_t numel(const hg_graph *g, hg_value v) { return hg_shape_numel(g->nodes[v].shape); }

static int64_t matmul_flops(const hg_graph *g, const hg_node *n) {
    hg_shape a = g->nodes[n->in[0]].shape;
    int64_t k = n->attrs.trans_a ? a.dim[a.rank - 2] : a.dim[a.rank - 1];
    return 2 * hg_shape_numel(n->shape) * k;
}

static int64_t attention_flops(const hg_graph *g, const hg_node *n) {
    hg_shape q = g->nodes[n->in[0]].shape, k = g->nodes[n->in[1]].shape, v = g->nodes[n->in[2]].shape;
    int64_t lg = q.dim[0] * q.dim[1] * q.dim[2] * k.dim[2];
    return 2 * lg * (q.dim[3] + v.dim[3]) + 7 * lg;
}

int64_t hg_node_flops(const hg_graph *g, hg_value v) {
    const hg_node *n = hg_node_at(g, v);
    if (!n) return 0;
    unsigned fl = hg_op_table[n->op].flags;
    if (fl & HG_OPF_LEAF) return 0;
    if (fl & (HG_OPF_ELEMENTWISE | HG_OPF_RANDOM)) return hg_shape_numel(n->shape);
    switch (n->op) {
    case HG_OP_sum:
    case HG_OP_max: return numel(g, n->in[0]);
    case HG_OP_mean: return numel(g, n->in[0]) + hg_shape_numel(n->shape);
    case HG_OP_matmul: return matmul_flops(g, n);
    case HG_OP_scatter_add:
    case HG_OP_scatter_max: return numel(g, n->in[0]);
    case HG_OP_layer_norm: return 7 * hg_shape_numel(n->shape);
    case HG_OP_softmax: return 5 * hg_shape_numel(n->shape);
    case HG_OP_attention: return attention_flops(g, n);
    case HG_OP_knn: {
        hg_shape p = g->nodes[n->in[0]].shape;
        return 9 * p.dim[0] * p.dim[1] * p.dim[1];
    }
    default: return 0;
    }
}

int64_t hg_node_bytes(const hg_graph *g, hg_value v) {
    const hg_node *n = hg_node_at(g, v);
    if (!n || (hg_op_table[n->op].flags & HG_OPF_LEAF)) return 0;
    int64_t b = hg_shape_numel(n->shape) * (int64_t)hg_dtype_size(n->dtype);
    for (int i = 0; i < n->n_in; i++)
        b += numel(g, n->in[i]) * (int64_t)hg_dtype_size(g->nodes[n->in[i]].dtype);
    return b;
}
