/* Decomposition of the composite ops (layer_norm, softmax, attention,
 * attention_lse, attention_grad) into
 * primitive ops (ir/ir.h op table: HG_OPF_COMPOSITE). A backend without a
 * kernel for a composite op runs its decomposition instead; the reference
 * interpreter's composite kernels are checked against it
 * (tests/test_ops_composite.c). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

static const int LAST[1] = {-1};

/* softmax over the last axis, max-shifted: e = exp(x - max); e / sum(e). */
static hg_value softmax_prim(hg_graph *g, hg_value x) {
    hg_value mx = hg_reduce(g, HG_OP_max, x, 1, LAST, 1);
    hg_value e = hg_exp(g, hg_sub(g, x, mx));
    return hg_div(g, e, hg_reduce(g, HG_OP_sum, e, 1, LAST, 1));
}

/* where(mask != 0, scale q k^T, lowest finite) for in = {q, k, v, mask, ...};
 * *keep (if non-NULL) = the bool mask != 0. */
static hg_value masked_logits(hg_graph *g, const hg_value *in, double scale, hg_value *keep_out) {
    hg_value q = in[0], k = in[1], mask = in[3];
    hg_dtype t = hg_value_dtype(g, q);
    hg_value logits = hg_mul_s(g, hg_matmul(g, q, k, 0, 1), scale);
    hg_value keep = hg_binary(g, HG_OP_ne, mask, hg_scalar(g, hg_value_dtype(g, mask), 0.0));
    if (keep_out) *keep_out = keep;
    hg_value lowest = hg_scalar(g, t, t == HG_F32 ? -(double)FLT_MAX : -DBL_MAX);
    return hg_where(g, keep, logits, lowest);
}

hg_value hg_decompose_node(hg_graph *g, hg_op op, const hg_value *in, const hg_attrs *attrs) {
    if (!g || g->err.code != HG_OK) return HG_NONE;
    switch (op) {
    case HG_OP_layer_norm: {
        /* (x - mean) / sqrt(var + eps), population variance (two passes) */
        hg_value x = in[0];
        hg_value xc = hg_sub(g, x, hg_reduce(g, HG_OP_mean, x, 1, LAST, 1));
        hg_value var = hg_reduce(g, HG_OP_mean, hg_square(g, xc), 1, LAST, 1);
        return hg_mul(g, xc, hg_unary(g, HG_OP_rsqrt, hg_add_s(g, var, attrs->eps)));
    }
    case HG_OP_softmax:
        return softmax_prim(g, in[0]);
    case HG_OP_attention:
        /* softmax(where(mask != 0, scale q k^T, lowest)) v */
        return hg_matmul(g, softmax_prim(g, masked_logits(g, in, attrs->scale, NULL)), in[2], 0, 0);
    case HG_OP_attention_lse: {
        /* m + log(sum(exp(x - m))) of the masked logits x, m = max(x);
         * -inf where no key is kept (fully masked row) */
        hg_value keep;
        hg_value x = masked_logits(g, in, attrs->scale, &keep);
        hg_dtype t = hg_value_dtype(g, x);
        hg_value mx = hg_reduce(g, HG_OP_max, x, 1, LAST, 1);
        hg_value lse = hg_add(g, mx, hg_log(g, hg_reduce(g, HG_OP_sum, hg_exp(g, hg_sub(g, x, mx)),
                                                       1, LAST, 1)));
        hg_value any = hg_reduce(g, HG_OP_max, hg_cast(g, keep, t), 1, LAST, 1);
        lse = hg_where(g, hg_binary(g, HG_OP_ne, any, hg_scalar(g, t, 0.0)), lse,
                       hg_scalar(g, t, -INFINITY));
        hg_shape s = hg_value_shape(g, lse);
        if (g->err.code != HG_OK) return HG_NONE;
        s.rank = 3;
        return hg_reshape(g, lse, s);
    }
    case HG_OP_attention_grad: {
        /* p = softmax of the masked logits (recomputed; o and lse unread):
         *   dv = p^T do, dp = do v^T, ds = p (dp - sum(dp p)) masked,
         *   dq = s ds k, dk = s ds^T q */
        hg_value q = in[0], k = in[1], v = in[2], gy = in[6], keep;
        hg_value p = softmax_prim(g, masked_logits(g, in, attrs->scale, &keep));
        if (attrs->axis == 2) return hg_matmul(g, p, gy, 1, 0);
        hg_dtype t = hg_value_dtype(g, q);
        hg_value dp = hg_matmul(g, gy, v, 0, 1);
        hg_value ds = hg_mul(g, p, hg_sub(g, dp, hg_reduce(g, HG_OP_sum, hg_mul(g, dp, p), 1, LAST, 1)));
        ds = hg_mul_s(g, hg_where(g, keep, ds, hg_scalar(g, t, 0.0)), attrs->scale);
        return attrs->axis == 0 ? hg_matmul(g, ds, k, 0, 0) : hg_matmul(g, ds, q, 1, 0);
    }
    default:
        if (g->err.code == HG_OK)
            g->err = hg_error(HG_ERR_INVALID, "hg_decompose_node: %s is not a composite op",
                              op >= 0 && op < HG_NUM_OPS ? hg_op_table[op].name : "(bad op)");
        return HG_NONE;
    }
}

hg_status hg_decompose(const hg_graph *g, hg_graph **out, hg_value *map) {
    return hg_decompose_some(g, NULL, out, map);
}

hg_status hg_decompose_some(const hg_graph *g, int (*keep)(hg_op op), hg_graph **out,
                            hg_value *map) {
    *out = NULL;
    HG_TRY(hg_status_prefix(hg_graph_status(g), "hg_decompose: graph has an error"));
    int n = g->n_nodes;
    hg_value *m = malloc(((size_t)n + 1) * sizeof *m);
    hg_graph *o = hg_graph_new();
    if (!m || !o) {
        free(m);
        hg_graph_free(o);
        return hg_error(HG_ERR_NOMEM, "hg_decompose: out of memory");
    }
    for (int i = 0; i < n; i++) {
        const hg_node *nd = &g->nodes[i];
        hg_value in[HG_MAX_INPUTS];
        for (int k = 0; k < nd->n_in; k++) in[k] = m[nd->in[k]];
        if ((hg_op_table[nd->op].flags & HG_OPF_COMPOSITE) && !(keep && keep(nd->op)))
            m[i] = hg_decompose_node(o, nd->op, in, &nd->attrs);
        else if (nd->op == HG_OP_constant)
            m[i] = hg_constant(o, nd->dtype, nd->shape, nd->data);
        else if (nd->op == HG_OP_input)
            m[i] = hg_input(o, nd->attrs.name, nd->dtype, nd->shape);
        else if (nd->op == HG_OP_state)
            m[i] = hg_state(o, nd->attrs.name, nd->dtype, nd->shape);
        else
            m[i] = hg_add_node(o, nd->op, nd->dtype, nd->shape, nd->n_in, in, &nd->attrs);
        if (m[i] == HG_NONE) break;
    }
    hg_status st = hg_graph_status(o);
    for (int i = 0; st.code == HG_OK && i < g->n_outputs; i++)
        if (hg_set_output(o, g->outputs[i].name, m[g->outputs[i].value])) st = hg_graph_status(o);
    for (int i = 0; st.code == HG_OK && i < g->n_updates; i++)
        if (hg_set_update(o, m[g->updates[i].state], m[g->updates[i].value]))
            st = hg_graph_status(o);
    if (o->next_stream < g->next_stream) o->next_stream = g->next_stream;
    if (st.code != HG_OK) {
        free(m);
        hg_graph_free(o);
        return hg_status_prefix(st, "hg_decompose");
    }
    if (map) memcpy(map, m, (size_t)n * sizeof *map);
    free(m);
    *out = o;
    return hg_ok();
}
