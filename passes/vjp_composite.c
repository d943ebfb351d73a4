/* VJP rules of the composite ops (layer_norm, softmax, attention), built
 * from primitive and composite differentiable ops so that they can be
 * differentiated again. */
#include <float.h>

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

/* out = softmax(where(mask != 0, s q k^T, lowest)) v. The probabilities p
 * are recomputed from q and k (softmax of the masked logits), then
 *   dv = p^T dout, dp = dout v^T, ds = p (dp - sum(dp p)) masked,
 *   dq = s ds k, dk = s ds^T q. The mask gets no gradient. */
void hg_vjp_attention(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                      const int *need, hg_value *gx) {
    hg_value q = n->in[0], k = n->in[1], v = n->in[2], mask = n->in[3];
    hg_dtype t = hg_value_dtype(g, q);
    double scale = n->attrs.scale;
    hg_value zero = hg_scalar(g, t, 0.0);
    hg_value keep = hg_binary(g, HG_OP_ne, mask, hg_scalar(g, hg_value_dtype(g, mask), 0.0));
    hg_value logits = hg_mul_s(g, hg_matmul(g, q, k, 0, 1), scale);
    hg_value lowest = hg_scalar(g, t, t == HG_F32 ? -(double)FLT_MAX : -DBL_MAX);
    hg_value p = hg_softmax(g, hg_where(g, keep, logits, lowest));
    if (need[2]) gx[2] = hg_unbroadcast(g, hg_matmul(g, p, gy, 1, 0), hg_value_shape(g, v));
    if (!need[0] && !need[1]) return;
    hg_value dp = hg_matmul(g, gy, v, 0, 1);
    hg_value ds = hg_mul(g, p, hg_sub(g, dp, hg_vjp_sum_last(g, hg_mul(g, dp, p))));
    ds = hg_mul_s(g, hg_where(g, keep, ds, zero), scale);
    if (need[0]) gx[0] = hg_unbroadcast(g, hg_matmul(g, ds, k, 0, 0), hg_value_shape(g, q));
    if (need[1]) gx[1] = hg_unbroadcast(g, hg_matmul(g, ds, q, 1, 0), hg_value_shape(g, k));
}
