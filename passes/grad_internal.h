/* Internal to passes/: the VJP rule type and helpers shared by the rule
 * files (vjp_*.c) and the reverse-mode driver (grad.c). */
#ifndef HG_GRAD_INTERNAL_H
#define HG_GRAD_INTERNAL_H

#include "passes/passes.h"

/* A VJP rule. n: a copy of the node (its inputs n->in[]); y: the node's id
 * (its output value, usable in the rule); gy: the cotangent of y (same
 * dtype and shape as y); need[i]: nonzero if input i needs a gradient.
 * The rule sets gx[i] (preset to HG_NONE = no contribution) to a value of
 * input i's dtype and shape. Errors go to the graph's sticky error. Rules
 * use only differentiable ops (plus piecewise-constant ones) so the result
 * can be differentiated again. */
typedef void (*hg_vjp_fn)(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                          const int *need, hg_value *gx);

/* Scalar constant of dtype t broadcast to shape s (just the scalar when s
 * is rank 0). */
hg_value hg_vjp_splat(hg_graph *g, hg_dtype t, hg_shape s, double v);
/* x reduced with keepdims (as by `sum ... keepdims=1`) reshaped+broadcast
 * back: gy of a reduction node n (axes/keepdims attrs) broadcast to the
 * shape `full` of its input. */
hg_value hg_vjp_unreduce(hg_graph *g, const hg_node *n, hg_value gy, hg_shape full);
/* Sum over the last axis, keepdims. */
hg_value hg_vjp_sum_last(hg_graph *g, hg_value x);
/* Mean over the last axis, keepdims. */
hg_value hg_vjp_mean_last(hg_graph *g, hg_value x);

/* Rules, by file. */
#define HG_VJP_DECL(name)                                                     \
    void hg_vjp_##name(hg_graph *g, const hg_node *n, hg_value y, hg_value gy, \
                       const int *need, hg_value *gx);
/* vjp_elementwise.c */
HG_VJP_DECL(neg) HG_VJP_DECL(abs) HG_VJP_DECL(exp) HG_VJP_DECL(log)
HG_VJP_DECL(log1p) HG_VJP_DECL(expm1) HG_VJP_DECL(sqrt) HG_VJP_DECL(rsqrt)
HG_VJP_DECL(square) HG_VJP_DECL(reciprocal) HG_VJP_DECL(sin) HG_VJP_DECL(cos)
HG_VJP_DECL(tanh) HG_VJP_DECL(sigmoid) HG_VJP_DECL(softplus)
HG_VJP_DECL(gelu_tanh) HG_VJP_DECL(erf) HG_VJP_DECL(zero)
HG_VJP_DECL(add) HG_VJP_DECL(sub) HG_VJP_DECL(mul) HG_VJP_DECL(div)
HG_VJP_DECL(pow) HG_VJP_DECL(maximum) HG_VJP_DECL(minimum)
HG_VJP_DECL(floor_mod) HG_VJP_DECL(where)
/* vjp_shape.c */
HG_VJP_DECL(sum) HG_VJP_DECL(mean) HG_VJP_DECL(max) HG_VJP_DECL(matmul)
HG_VJP_DECL(reshape) HG_VJP_DECL(transpose) HG_VJP_DECL(broadcast_to)
HG_VJP_DECL(slice) HG_VJP_DECL(concat) HG_VJP_DECL(pad) HG_VJP_DECL(gather)
HG_VJP_DECL(scatter_add) HG_VJP_DECL(scatter_max) HG_VJP_DECL(cast)
/* vjp_composite.c */
HG_VJP_DECL(layer_norm) HG_VJP_DECL(softmax) HG_VJP_DECL(attention)
/* grad.c: the VJP of a composite op's decomposition (passes/decompose.c),
 * built in g and swept back to the op's inputs alone (attention_lse,
 * attention_grad: the second derivative of attention). */
HG_VJP_DECL(decomposed)
#undef HG_VJP_DECL

#endif
