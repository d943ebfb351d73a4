/* ONNX lowering of the op table (ir/ir.h) except the index ops
 * (codegen/onnx_lower_index.c). One switch over the opcodes; each case
 * emits standard opset-17 ops whose composition computes the op's
 * semantics. Exactness against the reference interpreter (which computes
 * float elementwise ops in double and rounds once):
 *   + - * / sqrt neg abs sign floor round(Round: half to even) where,
 *   comparisons, casts, data movement: exact.
 *   floor_mod (float): Mod(fmod=1) is exact; the result takes y's sign by
 *     adding y when the remainder is nonzero and its sign differs from y's
 *     (one rounding, as the reference). (i32: Mod(fmod=0), exact.)
 *   Transcendental ops of f32 values (exp log log1p expm1 rsqrt sin cos
 *     tanh sigmoid softplus gelu_tanh pow) are evaluated in f64 and rounded
 *     once to f32, as the reference does: ONNX Runtime's f32 kernels are
 *     fast approximations (its Sigmoid is 7% off at x = -14), and a 1-ulp
 *     difference in a scalar such as sigmoid(-gamma(1)) is amplified past
 *     1e-4 by the NELBO prior term's cancellation (v - log v - 1 at v ~ 1).
 *     erf stays f32 (ONNX Runtime has no f64 Erf kernel): a few ulps.
 *   log1p(x) = log(u) * (x / (u - 1)), u = 1 + x (x where u == 1, +inf at
 *     +inf) and expm1(x) = (u - 1) * (x / log(u)), u = exp(x) (x where
 *     u == 1, -1 where u - 1 == -1, +inf where u is +inf): Goldberg's
 *     corrections, a few ulps.
 *   softplus = max(x, 0) + log1p(exp(-|x|)) and sigmoid = 1 / (1 + e) for
 *   x >= 0, e / (1 + e) otherwise, e = exp(-|x|) (the reference's formulas);
 *   gelu_tanh = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); rsqrt =
 *   1 / sqrt: a few ulps from rounding each step in the dtype.
 *   matmul (MatMul, or Gemm for two rank-2 operands), layer_norm
 *   (LayerNormalization, scale 1, bias 0), softmax (Softmax axis -1),
 *   attention (MatMul, Mul by the scale, Where(mask != 0, ., lowest finite),
 *   Softmax, MatMul), reductions: summation order is the runtime's
 *   (relative differences of order 1e-6 in f32).
 *   maximum/minimum: Max/Min (NaN handling is the runtime's). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/onnx_internal.h"

static const char *sc(hg_ox *x, const hg_node *n, double v) {
    return ox_scalar(x, n->dtype, v);
}

/* log1p(a) in a's float dtype t. */
static const char *log1p_of(hg_ox *x, hg_dtype t, const char *a) {
    const char *u = ox_op2(x, "Add", a, ox_scalar(x, t, 1.0));
    const char *r = ox_op2(x, "Mul", ox_op1(x, "Log", u),
                           ox_op2(x, "Div", a, ox_op2(x, "Sub", u, ox_scalar(x, t, 1.0))));
    r = ox_op3(x, "Where", ox_op2(x, "Equal", u, ox_scalar(x, t, 1.0)), a, r);
    return ox_op3(x, "Where", ox_op2(x, "Equal", a, ox_scalar(x, t, INFINITY)), a, r);
}

static const char *expm1_of(hg_ox *x, hg_dtype t, const char *a) {
    const char *u = ox_op1(x, "Exp", a);
    const char *um1 = ox_op2(x, "Sub", u, ox_scalar(x, t, 1.0));
    const char *r = ox_op2(x, "Mul", um1, ox_op2(x, "Div", a, ox_op1(x, "Log", u)));
    r = ox_op3(x, "Where", ox_op2(x, "Equal", u, ox_scalar(x, t, 1.0)), a, r);
    r = ox_op3(x, "Where", ox_op2(x, "Equal", um1, ox_scalar(x, t, -1.0)),
               ox_scalar(x, t, -1.0), r);
    return ox_op3(x, "Where", ox_op2(x, "Equal", u, ox_scalar(x, t, INFINITY)), u, r);
}

/* The transcendental ops; f32 values are evaluated in f64 (see above). */
static int in_double(hg_op op) {
    switch (op) {
    case HG_OP_exp: case HG_OP_log: case HG_OP_log1p: case HG_OP_expm1: case HG_OP_rsqrt:
    case HG_OP_sin: case HG_OP_cos: case HG_OP_tanh: case HG_OP_sigmoid: case HG_OP_softplus:
    case HG_OP_gelu_tanh: case HG_OP_pow:
        return 1;
    default:
        return 0;
    }
}

/* Unary op `op` on a, computed in dtype t. */
static const char *unary(hg_ox *x, hg_op op, hg_dtype t, const char *a) {
    switch (op) {
    case HG_OP_neg: return ox_op1(x, "Neg", a);
    case HG_OP_abs: return ox_op1(x, "Abs", a);
    case HG_OP_sign: return ox_op1(x, "Sign", a);
    case HG_OP_exp: return ox_op1(x, "Exp", a);
    case HG_OP_log: return ox_op1(x, "Log", a);
    case HG_OP_log1p: return log1p_of(x, t, a);
    case HG_OP_expm1: return expm1_of(x, t, a);
    case HG_OP_sqrt: return ox_op1(x, "Sqrt", a);
    case HG_OP_rsqrt: return ox_op1(x, "Reciprocal", ox_op1(x, "Sqrt", a));
    case HG_OP_square: return ox_op2(x, "Mul", a, a);
    case HG_OP_reciprocal: return ox_op1(x, "Reciprocal", a);
    case HG_OP_sin: return ox_op1(x, "Sin", a);
    case HG_OP_cos: return ox_op1(x, "Cos", a);
    case HG_OP_tanh: return ox_op1(x, "Tanh", a);
    case HG_OP_sigmoid: {
        /* 1 / (1 + e) for x >= 0, e / (1 + e) otherwise, e = exp(-|x|) */
        const char *e = ox_op1(x, "Exp", ox_op1(x, "Neg", ox_op1(x, "Abs", a)));
        const char *pos = ox_op1(x, "Reciprocal", ox_op2(x, "Add", e, ox_scalar(x, t, 1.0)));
        return ox_op3(x, "Where", ox_op2(x, "GreaterOrEqual", a, ox_scalar(x, t, 0.0)), pos,
                      ox_op2(x, "Mul", e, pos));
    }
    case HG_OP_softplus: {
        const char *e = ox_op1(x, "Exp", ox_op1(x, "Neg", ox_op1(x, "Abs", a)));
        return ox_op2(x, "Add", ox_op2(x, "Max", a, ox_scalar(x, t, 0.0)), log1p_of(x, t, e));
    }
    case HG_OP_gelu_tanh: {
        const char *x3 = ox_op2(x, "Mul", ox_op2(x, "Mul", a, a), a);
        const char *in = ox_op2(x, "Add", a, ox_op2(x, "Mul", x3, ox_scalar(x, t, 0.044715)));
        in = ox_op2(x, "Mul", in, ox_scalar(x, t, 0.79788456080286535588)); /* sqrt(2/pi) */
        const char *th = ox_op2(x, "Add", ox_op1(x, "Tanh", in), ox_scalar(x, t, 1.0));
        return ox_op2(x, "Mul", ox_op2(x, "Mul", a, ox_scalar(x, t, 0.5)), th);
    }
    case HG_OP_erf: return ox_op1(x, "Erf", a);
    case HG_OP_floor: return ox_op1(x, "Floor", a);
    case HG_OP_round: return ox_op1(x, "Round", a);
    case HG_OP_logical_not: return ox_op1(x, "Not", a);
    default: return NULL;
    }
}

static const char *floor_mod(hg_ox *x, const hg_node *n, const char *a, const char *b) {
    if (n->dtype == HG_I32) {
        const char *r = ox_op2(x, "Mod", a, b);
        ox_attr_i(x, "fmod", 0);
        return r;
    }
    const char *r = ox_op2(x, "Mod", a, b);
    ox_attr_i(x, "fmod", 1);
    const char *zero = sc(x, n, 0.0);
    const char *differ = ox_op2(x, "Xor", ox_op2(x, "Less", r, zero), ox_op2(x, "Less", b, zero));
    const char *fix = ox_op2(x, "And", ox_op1(x, "Not", ox_op2(x, "Equal", r, zero)), differ);
    return ox_op3(x, "Where", fix, ox_op2(x, "Add", r, b), r);
}

static const char *binary(hg_ox *x, const hg_node *n, const char *a, const char *b) {
    switch (n->op) {
    case HG_OP_add: return ox_op2(x, "Add", a, b);
    case HG_OP_sub: return ox_op2(x, "Sub", a, b);
    case HG_OP_mul: return ox_op2(x, "Mul", a, b);
    case HG_OP_div: return ox_op2(x, "Div", a, b);
    case HG_OP_pow:
        if (n->dtype == HG_F32)
            return ox_cast(x, ox_op2(x, "Pow", ox_cast(x, a, HG_F64), ox_cast(x, b, HG_F64)),
                           HG_F32);
        return ox_op2(x, "Pow", a, b);
    case HG_OP_maximum: return ox_op2(x, "Max", a, b);
    case HG_OP_minimum: return ox_op2(x, "Min", a, b);
    case HG_OP_floor_mod: return floor_mod(x, n, a, b);
    case HG_OP_eq: return ox_op2(x, "Equal", a, b);
    case HG_OP_ne: return ox_op1(x, "Not", ox_op2(x, "Equal", a, b));
    case HG_OP_lt: return ox_op2(x, "Less", a, b);
    case HG_OP_le: return ox_op2(x, "LessOrEqual", a, b);
    case HG_OP_gt: return ox_op2(x, "Greater", a, b);
    case HG_OP_ge: return ox_op2(x, "GreaterOrEqual", a, b);
    case HG_OP_logical_and: return ox_op2(x, "And", a, b);
    case HG_OP_logical_or: return ox_op2(x, "Or", a, b);
    default: return NULL;
    }
}

static const char *reduce(hg_ox *x, const hg_node *n, const char *a) {
    hg_shape is = hg_value_shape(x->g, n->in[0]);
    if (is.rank == 0) return ox_op1(x, "Identity", a);
    int64_t axes[HG_MAX_RANK];
    int na = n->attrs.naxes;
    if (na == 0) {
        na = is.rank;
        for (int i = 0; i < na; i++) axes[i] = i;
    } else {
        for (int i = 0; i < na; i++)
            axes[i] = n->attrs.axes[i] < 0 ? n->attrs.axes[i] + is.rank : n->attrs.axes[i];
    }
    const char *r;
    if (n->op == HG_OP_sum) {
        r = ox_op2(x, "ReduceSum", a, ox_i64s(x, na, axes));
    } else {
        r = ox_op1(x, n->op == HG_OP_mean ? "ReduceMean" : "ReduceMax", a);
        ox_attr_ints(x, "axes", na, axes);
    }
    ox_attr_i(x, "keepdims", n->attrs.keepdims ? 1 : 0);
    return r;
}

/* Swaps the last two axes of a rank-r value. */
static const char *swap_last2(hg_ox *x, const char *a, int r) {
    int64_t perm[HG_MAX_RANK];
    for (int i = 0; i < r; i++) perm[i] = i;
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    const char *t = ox_op1(x, "Transpose", a);
    ox_attr_ints(x, "perm", r, perm);
    return t;
}

static const char *matmul(hg_ox *x, const hg_node *n, const char *a, const char *b) {
    int ra = hg_value_shape(x->g, n->in[0]).rank, rb = hg_value_shape(x->g, n->in[1]).rank;
    if (ra < 2 || rb < 2)
        return ox_fail(x, HG_ERR_UNSUPPORTED, "rank-%d x rank-%d matmul", ra, rb);
    if (ra == 2 && rb == 2 && hg_dtype_is_float(n->dtype)) {
        const char *r = ox_op2(x, "Gemm", a, b);
        ox_attr_i(x, "transA", n->attrs.trans_a ? 1 : 0);
        ox_attr_i(x, "transB", n->attrs.trans_b ? 1 : 0);
        return r;
    }
    if (n->attrs.trans_a) a = swap_last2(x, a, ra);
    if (n->attrs.trans_b) b = swap_last2(x, b, rb);
    return ox_op2(x, "MatMul", a, b);
}

static const char *slice(hg_ox *x, const hg_node *n, const char *a) {
    int r = n->shape.rank;
    int64_t st[HG_MAX_RANK], en[HG_MAX_RANK], ax[HG_MAX_RANK], sp[HG_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int64_t d = n->shape.dim[i], s = n->attrs.starts[i], step = n->attrs.steps[i];
        st[i] = s;
        en[i] = d ? s + (d - 1) * step + 1 : s;
        ax[i] = i;
        sp[i] = step;
    }
    if (r == 0) return ox_op1(x, "Identity", a);
    const char *in[5] = {a, ox_i64s(x, r, st), ox_i64s(x, r, en), ox_i64s(x, r, ax),
                         ox_i64s(x, r, sp)};
    return ox_node(x, "Slice", NULL, 5, in);
}

static const char *pad(hg_ox *x, const hg_node *n, const char *a) {
    int r = n->shape.rank;
    int64_t p[2 * HG_MAX_RANK];
    for (int i = 0; i < r; i++) {
        p[i] = n->attrs.pad_lo[i];
        p[r + i] = n->attrs.pad_hi[i];
    }
    if (r == 0) return ox_op1(x, "Identity", a);
    const char *r3 = ox_op3(x, "Pad", a, ox_i64s(x, 2 * r, p), sc(x, n, n->attrs.value));
    ox_attr_s(x, "mode", "constant");
    return r3;
}

/* iota as an initializer holding the indices along attrs.axis. */
static const char *iota(hg_ox *x, hg_value v, const hg_node *n) {
    int64_t total = hg_shape_numel(n->shape);
    size_t es = hg_dtype_size(n->dtype);
    char *data = ox_alloc(x, (size_t)total * es);
    if (!data) return NULL;
    int ax = n->attrs.axis;
    int64_t inner = 1;
    for (int i = ax + 1; i < n->shape.rank; i++) inner *= n->shape.dim[i];
    int64_t dim = n->shape.rank ? n->shape.dim[ax] : 1;
    for (int64_t i = 0; i < total; i++) {
        int64_t k = dim ? (i / inner) % dim : 0;
        switch (n->dtype) {
        case HG_F32: ((float *)data)[i] = (float)k; break;
        case HG_F64: ((double *)data)[i] = (double)k; break;
        case HG_I32: ((int32_t *)data)[i] = (int32_t)k; break;
        default: ((uint8_t *)data)[i] = k != 0; break;
        }
    }
    const char *name = ox_printf(x, "iota/%d", (int)v);
    return name ? ox_init_ref(x, name, n->dtype, n->shape, data) : NULL;
}

static const char *attention(hg_ox *x, const hg_node *n) {
    const char *q = ox_in(x, x->cur, 0), *k = ox_in(x, x->cur, 1);
    const char *v = ox_in(x, x->cur, 2), *m = ox_in(x, x->cur, 3);
    const char *s = ox_op2(x, "MatMul", q, swap_last2(x, k, 4));
    s = ox_op2(x, "Mul", s, sc(x, n, n->attrs.scale));
    double lowest = n->dtype == HG_F32 ? -(double)FLT_MAX : -DBL_MAX;
    const char *keep = ox_op1(x, "Not", ox_op2(x, "Equal", m, sc(x, n, 0.0)));
    s = ox_op3(x, "Where", keep, s, sc(x, n, lowest));
    const char *p = ox_op1(x, "Softmax", s);
    ox_attr_i(x, "axis", -1);
    return ox_op2(x, "MatMul", p, v);
}

static const char *layer_norm(hg_ox *x, const hg_node *n, const char *a) {
    if (n->shape.rank == 0)
        return ox_fail(x, HG_ERR_UNSUPPORTED, "layer_norm of a rank-0 value");
    int64_t D = n->shape.dim[n->shape.rank - 1];
    hg_shape s = hg_shape_of(1, D);
    size_t es = hg_dtype_size(n->dtype);
    char *ones = ox_alloc(x, (size_t)D * es), *zeros = ox_alloc(x, (size_t)D * es);
    if (!ones || !zeros) return NULL;
    for (int64_t i = 0; i < D; i++) {
        if (n->dtype == HG_F32) ((float *)ones)[i] = 1.0f;
        else ((double *)ones)[i] = 1.0;
    }
    const char *in[3] = {a, ox_init_ref(x, NULL, n->dtype, s, ones),
                         ox_init_ref(x, NULL, n->dtype, s, zeros)};
    const char *r = ox_node(x, "LayerNormalization", NULL, 3, in);
    ox_attr_i(x, "axis", -1);
    ox_attr_f(x, "epsilon", (float)n->attrs.eps);
    return r;
}

void ox_lower_node(hg_ox *x, hg_value v) {
    const hg_graph *g = x->g;
    const hg_node *n = &g->nodes[v];
    x->cur = v;
    const char *a = n->n_in > 0 ? ox_in(x, v, 0) : NULL;
    const char *b = n->n_in > 1 ? ox_in(x, v, 1) : NULL;
    unsigned fl = hg_op_table[n->op].flags;
    const char *r = NULL;
    switch (n->op) {
    case HG_OP_constant:
        r = ox_init_ref(x, ox_printf(x, "const/%d", (int)v), n->dtype, n->shape, n->data);
        break;
    case HG_OP_where: r = ox_op3(x, "Where", a, b, ox_in(x, v, 2)); break;
    case HG_OP_sum: case HG_OP_mean: case HG_OP_max: r = reduce(x, n, a); break;
    case HG_OP_matmul: r = matmul(x, n, a, b); break;
    case HG_OP_reshape: r = ox_reshape(x, a, n->shape); break;
    case HG_OP_transpose:
        r = ox_op1(x, "Transpose", a);
        ox_attr_ints(x, "perm", n->shape.rank, n->attrs.perm);
        break;
    case HG_OP_broadcast_to: r = ox_op2(x, "Expand", a, ox_i64s(x, n->shape.rank, n->shape.dim)); break;
    case HG_OP_slice: r = slice(x, n, a); break;
    case HG_OP_concat: {
        const char *in[HG_MAX_INPUTS];
        for (int i = 0; i < n->n_in; i++) in[i] = ox_in(x, v, i);
        r = ox_node(x, "Concat", NULL, n->n_in, in);
        ox_attr_i(x, "axis", n->attrs.axis);
        break;
    }
    case HG_OP_pad: r = pad(x, n, a); break;
    case HG_OP_gather: ox_lower_gather(x, v); return;
    case HG_OP_scatter_add: case HG_OP_scatter_max: ox_lower_scatter(x, v); return;
    case HG_OP_knn: ox_lower_knn(x, v); return;
    case HG_OP_iota: r = iota(x, v, n); break;
    case HG_OP_cast:
        r = hg_value_dtype(g, n->in[0]) == n->dtype ? ox_op1(x, "Identity", a)
                                                   : ox_cast(x, a, n->dtype);
        break;
    case HG_OP_stop_gradient: r = ox_op1(x, "Identity", a); break;
    case HG_OP_layer_norm: r = layer_norm(x, n, a); break;
    case HG_OP_softmax:
        r = ox_op1(x, "Softmax", a);
        ox_attr_i(x, "axis", -1);
        break;
    case HG_OP_attention: r = attention(x, n); break;
    default:
        if ((fl & HG_OPF_ELEMENTWISE) && n->n_in == 1 && n->dtype == HG_F32 && in_double(n->op))
            r = ox_cast(x, unary(x, n->op, HG_F64, ox_cast(x, a, HG_F64)), HG_F32);
        else if ((fl & HG_OPF_ELEMENTWISE) && n->n_in == 1) r = unary(x, n->op, n->dtype, a);
        else if ((fl & HG_OPF_ELEMENTWISE) && n->n_in == 2) r = binary(x, n, a, b);
        break;
    }
    if (!r && x->err.code == HG_OK)
        ox_fail(x, HG_ERR_UNSUPPORTED, "op %s has no ONNX lowering", hg_op_table[n->op].name);
    x->names[v] = (char *)r;
}
