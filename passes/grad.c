/* Reverse-mode autodiff driver (DESIGN.md "Autodiff is graph-to-graph"):
 * walks the graph backwards from the loss, calls the VJP rule of each node
 * that lies on a path from a wrt value to the loss, and sums the
 * contributions per value with `add`. */
#include <stdlib.h>
#include <string.h>

#include "passes/grad_internal.h"

/* One rule per differentiable op, indexed by op. tests/test_grad.c checks
 * that every HG_OPF_DIFF op has an entry. */
static const hg_vjp_fn vjp_table[HG_NUM_OPS] = {
    [HG_OP_neg] = hg_vjp_neg,
    [HG_OP_abs] = hg_vjp_abs,
    [HG_OP_exp] = hg_vjp_exp,
    [HG_OP_log] = hg_vjp_log,
    [HG_OP_log1p] = hg_vjp_log1p,
    [HG_OP_expm1] = hg_vjp_expm1,
    [HG_OP_sqrt] = hg_vjp_sqrt,
    [HG_OP_rsqrt] = hg_vjp_rsqrt,
    [HG_OP_square] = hg_vjp_square,
    [HG_OP_reciprocal] = hg_vjp_reciprocal,
    [HG_OP_sin] = hg_vjp_sin,
    [HG_OP_cos] = hg_vjp_cos,
    [HG_OP_tanh] = hg_vjp_tanh,
    [HG_OP_sigmoid] = hg_vjp_sigmoid,
    [HG_OP_softplus] = hg_vjp_softplus,
    [HG_OP_gelu_tanh] = hg_vjp_gelu_tanh,
    [HG_OP_erf] = hg_vjp_erf,
    [HG_OP_floor] = hg_vjp_zero,
    [HG_OP_round] = hg_vjp_zero,
    [HG_OP_add] = hg_vjp_add,
    [HG_OP_sub] = hg_vjp_sub,
    [HG_OP_mul] = hg_vjp_mul,
    [HG_OP_div] = hg_vjp_div,
    [HG_OP_pow] = hg_vjp_pow,
    [HG_OP_maximum] = hg_vjp_maximum,
    [HG_OP_minimum] = hg_vjp_minimum,
    [HG_OP_floor_mod] = hg_vjp_floor_mod,
    [HG_OP_where] = hg_vjp_where,
    [HG_OP_sum] = hg_vjp_sum,
    [HG_OP_mean] = hg_vjp_mean,
    [HG_OP_max] = hg_vjp_max,
    [HG_OP_matmul] = hg_vjp_matmul,
    [HG_OP_reshape] = hg_vjp_reshape,
    [HG_OP_transpose] = hg_vjp_transpose,
    [HG_OP_broadcast_to] = hg_vjp_broadcast_to,
    [HG_OP_slice] = hg_vjp_slice,
    [HG_OP_concat] = hg_vjp_concat,
    [HG_OP_pad] = hg_vjp_pad,
    [HG_OP_gather] = hg_vjp_gather,
    [HG_OP_scatter_add] = hg_vjp_scatter_add,
    [HG_OP_scatter_max] = hg_vjp_scatter_max,
    [HG_OP_cast] = hg_vjp_cast,
    [HG_OP_layer_norm] = hg_vjp_layer_norm,
    [HG_OP_softmax] = hg_vjp_softmax,
    [HG_OP_attention] = hg_vjp_attention,
    [HG_OP_attention_lse] = hg_vjp_decomposed,
    [HG_OP_attention_grad] = hg_vjp_decomposed,
};

int hg_grad_has_rule(hg_op op) {
    return (int)op >= 0 && op < HG_NUM_OPS && vjp_table[op] != NULL;
}

hg_value hg_vjp_splat(hg_graph *g, hg_dtype t, hg_shape s, double v) {
    hg_value c = hg_scalar(g, t, v);
    return s.rank == 0 ? c : hg_broadcast_to(g, c, s);
}

hg_value hg_unbroadcast(hg_graph *g, hg_value x, hg_shape target) {
    if (x == HG_NONE) return HG_NONE;
    hg_shape xs = hg_value_shape(g, x);
    if (hg_shape_eq(xs, target)) return x;
    int lead = xs.rank - target.rank;
    int axes[HG_MAX_RANK], na = 0;
    for (int i = 0; i < xs.rank; i++) {
        if (i < lead || (target.dim[i - lead] == 1 && xs.dim[i] != 1)) axes[na++] = i;
    }
    hg_value r = na ? hg_reduce(g, HG_OP_sum, x, na, axes, 0) : x;
    if (r == HG_NONE) return HG_NONE;
    return hg_shape_eq(hg_value_shape(g, r), target) ? r : hg_reshape(g, r, target);
}

hg_value hg_vjp_unreduce(hg_graph *g, const hg_node *n, hg_value gy, hg_shape full) {
    hg_shape keep = full;
    if (n->attrs.naxes == 0) {
        for (int i = 0; i < keep.rank; i++) keep.dim[i] = 1;
    } else {
        for (int i = 0; i < n->attrs.naxes; i++) {
            int64_t a = n->attrs.axes[i];
            if (a < 0) a += full.rank;
            if (a >= 0 && a < full.rank) keep.dim[a] = 1;
        }
    }
    hg_value r = hg_shape_eq(hg_value_shape(g, gy), keep) ? gy : hg_reshape(g, gy, keep);
    return hg_shape_eq(keep, full) ? r : hg_broadcast_to(g, r, full);
}

hg_value hg_vjp_sum_last(hg_graph *g, hg_value x) {
    int ax = -1;
    return hg_reduce(g, HG_OP_sum, x, 1, &ax, 1);
}

hg_value hg_vjp_mean_last(hg_graph *g, hg_value x) {
    int ax = -1;
    return hg_reduce(g, HG_OP_mean, x, 1, &ax, 1);
}

static int carries_grad(const hg_graph *g, hg_value v) {
    return hg_dtype_is_float(g->nodes[v].dtype);
}

/* The reverse sweep of hg_grad over the nodes lo..y (nodes below lo are
 * leaves: nothing propagates through them): seeds y with gy (HG_NONE:
 * ones), runs the VJP rule of every node on a path from a wrt value to y
 * and sets out[j] to the summed cotangent of wrt[j] (HG_NONE if no path).
 * Ids are checked by the caller. */
static hg_status backprop(hg_graph *g, int lo, hg_value y, hg_value gy, int n_wrt,
                          const hg_value *wrt, hg_value *out) {
    int n0 = y + 1;
    char *dep = calloc((size_t)n0 + 1, 1);
    hg_value *acc = malloc(((size_t)n0 + 1) * sizeof *acc);
    if (!dep || !acc) {
        free(dep);
        free(acc);
        return hg_error(HG_ERR_NOMEM, "hg_grad: out of memory");
    }
    /* dep[i]: node i depends differentiably on some wrt value. */
    for (int i = 0; i <= y; i++) acc[i] = HG_NONE;
    for (int j = 0; j < n_wrt; j++)
        if (wrt[j] <= y) dep[wrt[j]] = 1;
    for (int i = lo; i <= y; i++) {
        const hg_node *nd = &g->nodes[i];
        if (dep[i] || !(hg_op_table[nd->op].flags & HG_OPF_DIFF) || !carries_grad(g, i))
            continue;
        for (int k = 0; k < nd->n_in; k++)
            if (dep[nd->in[k]]) dep[i] = 1;
    }

    hg_status st = hg_ok();
    if (dep[y])
        acc[y] = gy != HG_NONE ? gy : hg_vjp_splat(g, g->nodes[y].dtype, g->nodes[y].shape, 1.0);
    for (int i = y; i >= lo && st.code == HG_OK; i--) {
        if (acc[i] == HG_NONE) continue;
        hg_node nd = g->nodes[i]; /* copy: builders may move g->nodes */
        if (!(hg_op_table[nd.op].flags & HG_OPF_DIFF)) continue;
        int need[HG_MAX_INPUTS], any = 0;
        hg_value gx[HG_MAX_INPUTS];
        for (int k = 0; k < nd.n_in; k++) {
            need[k] = dep[nd.in[k]] && carries_grad(g, nd.in[k]);
            any |= need[k];
            gx[k] = HG_NONE;
        }
        if (!any) continue;
        if (!vjp_table[nd.op]) {
            st = hg_error(HG_ERR_UNSUPPORTED, "hg_grad: node %%%d: no VJP rule for op %s", i,
                          hg_op_table[nd.op].name);
            break;
        }
        vjp_table[nd.op](g, &nd, i, acc[i], need, gx);
        st = hg_graph_status(g);
        for (int k = 0; k < nd.n_in && st.code == HG_OK; k++) {
            if (!need[k] || gx[k] == HG_NONE) continue;
            hg_value in = nd.in[k];
            const hg_node *gn = &g->nodes[gx[k]];
            if (gn->dtype != g->nodes[in].dtype || !hg_shape_eq(gn->shape, g->nodes[in].shape)) {
                char a[64], b[64];
                st = hg_error(HG_ERR_INVALID,
                              "hg_grad: node %%%d (%s): VJP of input %d is %s%s, expected %s%s",
                              i, hg_op_table[nd.op].name, k, hg_dtype_name(gn->dtype),
                              hg_shape_str(gn->shape, a, sizeof a),
                              hg_dtype_name(g->nodes[in].dtype),
                              hg_shape_str(g->nodes[in].shape, b, sizeof b));
                break;
            }
            acc[in] = acc[in] == HG_NONE ? gx[k] : hg_add(g, acc[in], gx[k]);
            st = hg_graph_status(g);
        }
    }
    for (int j = 0; j < n_wrt; j++) out[j] = wrt[j] <= y ? acc[wrt[j]] : HG_NONE;
    free(dep);
    free(acc);
    return st;
}

void hg_vjp_decomposed(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                       const int *need, hg_value *gx) {
    (void)y;
    hg_value in[HG_MAX_INPUTS], wrt[HG_MAX_INPUTS], out[HG_MAX_INPUTS];
    int slot[HG_MAX_INPUTS], nw = 0;
    /* a proxy per needed input keeps repeated inputs (q = k) apart */
    for (int k = 0; k < n->n_in; k++) {
        in[k] = n->in[k];
        if (!need[k]) continue;
        in[k] = hg_reshape(g, n->in[k], hg_value_shape(g, n->in[k]));
        slot[nw] = k;
        wrt[nw++] = in[k];
    }
    int lo = g->n_nodes;
    hg_value yd = hg_decompose_node(g, n->op, in, &n->attrs);
    if (hg_graph_status(g).code != HG_OK) return;
    hg_status st = backprop(g, lo, yd, gy, nw, wrt, out);
    if (st.code != HG_OK) {
        if (g->err.code == HG_OK) g->err = st;
        return;
    }
    for (int j = 0; j < nw; j++) gx[slot[j]] = out[j];
}

hg_status hg_grad(hg_graph *g, hg_value loss, int n_wrt, const hg_value *wrt,
                  hg_value *grads) {
    if (!g) return hg_error(HG_ERR_INVALID, "hg_grad: graph is NULL");
    HG_TRY(hg_status_prefix(hg_graph_status(g), "hg_grad: graph has an error"));
    int n0 = g->n_nodes;
    if (loss < 0 || loss >= n0)
        return hg_error(HG_ERR_INVALID, "hg_grad: loss %%%d is not a node (graph has %d)",
                        (int)loss, n0);
    if (!carries_grad(g, loss))
        return hg_error(HG_ERR_INVALID, "hg_grad: loss %%%d has dtype %s, not float",
                        (int)loss, hg_dtype_name(g->nodes[loss].dtype));
    if (n_wrt < 0 || (n_wrt > 0 && (!wrt || !grads)))
        return hg_error(HG_ERR_INVALID, "hg_grad: bad wrt list (n_wrt %d)", n_wrt);
    for (int j = 0; j < n_wrt; j++) {
        if (wrt[j] < 0 || wrt[j] >= n0)
            return hg_error(HG_ERR_INVALID, "hg_grad: wrt[%d] = %%%d is not a node", j,
                            (int)wrt[j]);
        if (!carries_grad(g, wrt[j]))
            return hg_error(HG_ERR_INVALID, "hg_grad: wrt[%d] = %%%d has dtype %s, not float",
                            j, (int)wrt[j], hg_dtype_name(g->nodes[wrt[j]].dtype));
    }

    hg_value *acc = malloc(((size_t)(n_wrt ? n_wrt : 1)) * sizeof *acc);
    if (!acc) return hg_error(HG_ERR_NOMEM, "hg_grad: out of memory");
    hg_status st = backprop(g, 0, loss, HG_NONE, n_wrt, wrt, acc);
    for (int j = 0; j < n_wrt && st.code == HG_OK; j++) {
        hg_value w = wrt[j];
        grads[j] = acc[j] != HG_NONE ? acc[j]
                                     : hg_vjp_splat(g, g->nodes[w].dtype, g->nodes[w].shape, 0.0);
        st = hg_graph_status(g);
    }
    free(acc);
    return st.code == HG_OK ? st : hg_status_prefix(st, "hg_grad");
}
