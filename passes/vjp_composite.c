/* VJP rules of the composite ops (layer_norm, softmax, attention), built
 * from primitive and composite differentiable ops so that they can be
 * differentiated again. */
#include "passes/grad_internal.h"

/* y = (x - mean) rstd, rstd = 1 / sqrt(var + eps) over the last axis:
 * dx = rstd (gy - mean(gy) - y mean(gy y)). rstd is recomputed from x. */
void hg_vjp_layer_norm(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                       const int *need, hg_value *gx) {
    hg_value x = n->in[0];
    hg_value xc = hg_sub(g, x, hg_vjp_mean_last(g, x));
    hg_value var = hg_vjp_mean_last(g, hg_square(g, xc));
    hg_value rstd = hg_unary(g, HG_OP_rsqrt, hg_add_s(g, var, n->attrs.eps));
    hg_value inner = hg_sub(g, hg_sub(g, gy, hg_vjp_mean_last(g, gy)),
                            hg_mul(g, y, hg_vjp_mean_last(g, hg_mul(g, gy, y))));
    gx[0] = hg_mul(g, inner, rstd);
}

/* y = softmax(x) over the last axis: dx = y (gy - sum(gy y)). */
void hg_vjp_softmax(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                    const int *need, hg_value *gx) {
    gx[0] = hg_mul(g, y, hg_sub(g, gy, hg_vjp_sum_last(g, hg_mul(g, gy, y))));
}

/* out = softmax(where(mask != 0, s q k^T, lowest)) v: the gradients are
 * attention_grad nodes (axis 0, 1, 2: dq, dk, dv) reading q, k, v, mask,
 * out, lse = attention_lse(q, k, v, mask) and gy, so a backend computes
 * them together in O(N) memory (FlashAttention-2; passes/attention_group.c
 * makes them one kernel) and a backend without them runs their
 * decomposition (passes/decompose.c: the formulas, with p recomputed). The
 * mask gets no gradient. The two ops are differentiated again through that
 * decomposition (grad.c hg_vjp_decomposed). */
void hg_vjp_attention(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                      const int *need, hg_value *gx) {
    hg_value q = n->in[0], k = n->in[1], v = n->in[2], mask = n->in[3];
    hg_value in[7] = {q, k, v, mask, y, hg_attention_lse(g, q, k, v, mask, n->attrs.scale), gy};
    for (int a = 0; a < 3; a++)
        if (need[a]) gx[a] = hg_attention_grad(g, in, a, n->attrs.scale);
}
