/* VJP rules of the elementwise ops (unary, binary with numpy broadcasting,
 * where). x = n->in[0], y = the node's output, gy its cotangent. Every rule
 * is built from differentiable ops (plus comparisons, whose derivative is
 * zero almost everywhere) so it can be differentiated again. */
#include <math.h>

#include "passes/grad_internal.h"

#define X0 (n->in[0])
#define X1 (n->in[1])

static hg_value sc(hg_graph *g, hg_value like, double v) {
    return hg_scalar(g, hg_value_dtype(g, like), v);
}

/* gx[0] = gy * d for unary rules. */
static void unary_out(hg_graph *g, hg_value gy, hg_value d, hg_value *gx) {
    gx[0] = hg_mul(g, gy, d);
}

void hg_vjp_neg(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    gx[0] = hg_neg(g, gy);
}

/* d|x|/dx = sign(x) (0 at 0); sign is piecewise constant. */
void hg_vjp_abs(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    unary_out(g, gy, hg_unary(g, HG_OP_sign, X0), gx);
}

void hg_vjp_exp(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    unary_out(g, gy, y, gx);
}

void hg_vjp_log(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    gx[0] = hg_div(g, gy, X0);
}

void hg_vjp_log1p(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                  const int *need, hg_value *gx) {
    gx[0] = hg_div(g, gy, hg_add_s(g, X0, 1.0));
}

/* d expm1(x) = exp(x) = y + 1 */
void hg_vjp_expm1(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                  const int *need, hg_value *gx) {
    unary_out(g, gy, hg_add_s(g, y, 1.0), gx);
}

/* d sqrt(x) = 1 / (2 sqrt(x)) */
void hg_vjp_sqrt(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                 const int *need, hg_value *gx) {
    gx[0] = hg_div(g, gy, hg_mul_s(g, y, 2.0));
}

/* d x^-1/2 = -0.5 x^-3/2 = -0.5 y / x */
void hg_vjp_rsqrt(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                  const int *need, hg_value *gx) {
    gx[0] = hg_mul_s(g, hg_div(g, hg_mul(g, gy, y), X0), -0.5);
}

void hg_vjp_square(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                   const int *need, hg_value *gx) {
    unary_out(g, gy, hg_mul_s(g, X0, 2.0), gx);
}

/* d (1/x) = -1/x^2 = -y^2 */
void hg_vjp_reciprocal(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                       const int *need, hg_value *gx) {
    gx[0] = hg_neg(g, hg_mul(g, gy, hg_square(g, y)));
}

void hg_vjp_sin(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    unary_out(g, gy, hg_unary(g, HG_OP_cos, X0), gx);
}

void hg_vjp_cos(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    gx[0] = hg_neg(g, hg_mul(g, gy, hg_unary(g, HG_OP_sin, X0)));
}

/* d tanh = 1 - y^2 */
void hg_vjp_tanh(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                 const int *need, hg_value *gx) {
    unary_out(g, gy, hg_sub(g, sc(g, y, 1.0), hg_square(g, y)), gx);
}

/* d sigmoid = y (1 - y) */
void hg_vjp_sigmoid(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                    const int *need, hg_value *gx) {
    unary_out(g, gy, hg_mul(g, y, hg_sub(g, sc(g, y, 1.0), y)), gx);
}

/* d softplus = sigmoid(x) */
void hg_vjp_softplus(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                     const int *need, hg_value *gx) {
    unary_out(g, gy, hg_sigmoid(g, X0), gx);
}

/* gelu_tanh(x) = 0.5 x (1 + t), t = tanh(u), u = c (x + a x^3):
 * d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2). */
void hg_vjp_gelu_tanh(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                      const int *need, hg_value *gx) {
    const double c = sqrt(2.0 / M_PI), a = 0.044715;
    hg_value x = X0;
    hg_value x2 = hg_square(g, x);
    hg_value u = hg_mul_s(g, hg_add(g, x, hg_mul_s(g, hg_mul(g, x2, x), a)), c);
    hg_value t = hg_tanh(g, u);
    hg_value left = hg_mul_s(g, hg_add_s(g, t, 1.0), 0.5);
    hg_value sech2 = hg_sub(g, sc(g, x, 1.0), hg_square(g, t));
    hg_value du = hg_mul_s(g, hg_add_s(g, hg_mul_s(g, x2, 3.0 * a), 1.0), c);
    hg_value right = hg_mul(g, hg_mul_s(g, x, 0.5), hg_mul(g, sech2, du));
    unary_out(g, gy, hg_add(g, left, right), gx);
}

/* d erf = 2/sqrt(pi) exp(-x^2) */
void hg_vjp_erf(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    hg_value e = hg_exp(g, hg_neg(g, hg_square(g, X0)));
    unary_out(g, gy, hg_mul_s(g, e, 2.0 / sqrt(M_PI)), gx);
}

/* floor, round: derivative 0 almost everywhere: no contribution. */
void hg_vjp_zero(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                 const int *need, hg_value *gx) {
}

/* ------------------------------------------------------------- binary */

static void to_inputs(hg_graph *g, const hg_node *n, const int *need, hg_value *gx,
                      hg_value d0, hg_value d1) {
    if (need[0]) gx[0] = hg_unbroadcast(g, d0, hg_value_shape(g, X0));
    if (need[1]) gx[1] = hg_unbroadcast(g, d1, hg_value_shape(g, X1));
}

void hg_vjp_add(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    to_inputs(g, n, need, gx, gy, gy);
}

void hg_vjp_sub(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    to_inputs(g, n, need, gx, gy, need[1] ? hg_neg(g, gy) : HG_NONE);
}

void hg_vjp_mul(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    to_inputs(g, n, need, gx, need[0] ? hg_mul(g, gy, X1) : HG_NONE,
              need[1] ? hg_mul(g, gy, X0) : HG_NONE);
}

/* d(x/y) = gy / y, -gy x / y^2 = -(gy / y) * out */
void hg_vjp_div(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    hg_value q = hg_div(g, gy, X1);
    to_inputs(g, n, need, gx, q, need[1] ? hg_neg(g, hg_mul(g, q, y)) : HG_NONE);
}

/* d x^p: p x^(p-1) (wrt x); x^p log x where x > 0, else 0 (wrt p). The
 * log is taken of where(x > 0, x, 1) so that no NaN appears even in the
 * unselected branch or its derivatives. */
void hg_vjp_pow(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    hg_value d0 = HG_NONE, d1 = HG_NONE;
    if (need[0]) {
        hg_value pm1 = hg_add_s(g, X1, -1.0);
        d0 = hg_mul(g, gy, hg_mul(g, X1, hg_binary(g, HG_OP_pow, X0, pm1)));
    }
    if (need[1]) {
        hg_value pos = hg_binary(g, HG_OP_gt, X0, sc(g, X0, 0.0));
        hg_value safe = hg_where(g, pos, X0, sc(g, X0, 1.0));
        hg_value lg = hg_where(g, pos, hg_log(g, safe), sc(g, X0, 0.0));
        d1 = hg_mul(g, gy, hg_mul(g, y, lg));
    }
    to_inputs(g, n, need, gx, d0, d1);
}

/* maximum / minimum: the gradient goes to the larger (smaller) input;
 * ties (x == y) give half to each. */
static void extremum(hg_graph *g, const hg_node *n, hg_value gy, const int *need,
                     hg_value *gx, hg_op win) {
    hg_value zero = sc(g, gy, 0.0);
    hg_value half = hg_mul_s(g, gy, 0.5);
    hg_value tie = hg_binary(g, HG_OP_eq, X0, X1);
    hg_value d0 = HG_NONE, d1 = HG_NONE;
    if (need[0])
        d0 = hg_where(g, hg_binary(g, win, X0, X1), gy, hg_where(g, tie, half, zero));
    if (need[1])
        d1 = hg_where(g, hg_binary(g, win, X1, X0), gy, hg_where(g, tie, half, zero));
    /* where broadcasts to the full output shape already (gy has it) */
    to_inputs(g, n, need, gx, d0, d1);
}

void hg_vjp_maximum(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                    const int *need, hg_value *gx) {
    extremum(g, n, gy, need, gx, HG_OP_gt);
}

void hg_vjp_minimum(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                    const int *need, hg_value *gx) {
    extremum(g, n, gy, need, gx, HG_OP_lt);
}

/* floor_mod(x, y) = x - y floor(x / y): d/dx = 1, d/dy = -floor(x / y)
 * (almost everywhere). */
void hg_vjp_floor_mod(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                      const int *need, hg_value *gx) {
    hg_value d1 = HG_NONE;
    if (need[1])
        d1 = hg_neg(g, hg_mul(g, gy, hg_unary(g, HG_OP_floor, hg_div(g, X0, X1))));
    to_inputs(g, n, need, gx, gy, d1);
}

/* where(c, a, b): gradient to a where c, to b elsewhere; c gets none. */
void hg_vjp_where(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                  const int *need, hg_value *gx) {
    hg_value c = n->in[0], a = n->in[1], b = n->in[2];
    hg_value zero = sc(g, gy, 0.0);
    if (need[1])
        gx[1] = hg_unbroadcast(g, hg_where(g, c, gy, zero), hg_value_shape(g, a));
    if (need[2])
        gx[2] = hg_unbroadcast(g, hg_where(g, c, zero, gy), hg_value_shape(g, b));
}
