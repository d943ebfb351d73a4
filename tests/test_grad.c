/* Autodiff (passes/grad.c): central finite differences in f64 for every
 * differentiable op over at least three shapes / broadcast patterns each,
 * first and second order; the VJP-table coverage check; tie rules;
 * gradient cuts. */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "passes/passes.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

#define S0 {.rank = 0}
#define S1(a) {.rank = 1, .dim = {a}}
#define S2(a, b) {.rank = 2, .dim = {a, b}}
#define S3(a, b, c) {.rank = 3, .dim = {a, b, c}}
#define S4(a, b, c, d) {.rank = 4, .dim = {a, b, c, d}}

enum { IN_F = 0, IN_CF, IN_I, IN_B }; /* differentiated f64, f64 const, i32 const, bool const */

typedef struct {
    hg_op op;
    int n_in;
    hg_shape s[7];
    int kind[7];
    double lo[7], hi[7];
    const void *data[7]; /* constants (IN_CF/IN_I/IN_B) or fixed IN_F values */
    hg_attrs at;
    hg_shape out;     /* ops whose output shape is given */
    int out_f32;      /* cast case: output f32 */
} opcase;

#define R2 .lo = {-2, -2, -2, -2, -2, -2, -2}, .hi = {2, 2, 2, 2, 2, 2, 2}
#define UN(o, l, h)                                                                 \
    {.op = HG_OP_##o, .n_in = 1, .s = {S0}, .lo = {l}, .hi = {h}},                  \
    {.op = HG_OP_##o, .n_in = 1, .s = {S1(4)}, .lo = {l}, .hi = {h}},               \
    {.op = HG_OP_##o, .n_in = 1, .s = {S2(2, 3)}, .lo = {l}, .hi = {h}}
#define BIN(o, l0, h0, l1, h1)                                                      \
    {.op = HG_OP_##o, .n_in = 2, .s = {S2(2, 3), S2(2, 3)}, .lo = {l0, l1}, .hi = {h0, h1}}, \
    {.op = HG_OP_##o, .n_in = 2, .s = {S2(2, 3), S1(3)}, .lo = {l0, l1}, .hi = {h0, h1}},    \
    {.op = HG_OP_##o, .n_in = 2, .s = {S2(2, 1), S2(1, 3)}, .lo = {l0, l1}, .hi = {h0, h1}}, \
    {.op = HG_OP_##o, .n_in = 2, .s = {S0, S2(2, 3)}, .lo = {l0, l1}, .hi = {h0, h1}}

static const uint8_t cond6[] = {1, 0, 0, 1, 1, 0};
static const uint8_t cond3[] = {0, 1, 1};
static const int32_t gidx_a[] = {4, 0, 4};
static const int32_t gidx_b[] = {3, -1, 0, 1, 1, 2};
static const int32_t gidx_c[] = {2, 0, 1, 1, 0, 0, 2, 2};
static const int32_t sidx_a[] = {1, 0, 1, 3};
static const int32_t sidx_b[] = {1, 1, 0, 0, 5, 1};
static const int32_t sidx_c[] = {2, 0, 0, 2};
static const double mask_ones[6] = {1, 1, 1, 1, 1, 1};
static const double mask_row[3] = {1, 0, 1};
static const double mask_b[24] = {1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0,
                                  0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1};

/* attention(q, k, v, mask) and attention_lse: three shapes and masks */
#define ATT3(o)                                                                              \
    {.op = HG_OP_##o, .n_in = 4, .s = {S4(1, 1, 2, 3), S4(1, 1, 3, 3), S4(1, 1, 3, 2), S4(1, 1, 2, 3)}, \
     .kind = {IN_F, IN_F, IN_F, IN_CF}, .data = {0, 0, 0, mask_ones}, R2, .at = {.scale = 0.7}},  \
    {.op = HG_OP_##o, .n_in = 4, .s = {S4(1, 2, 2, 2), S4(1, 2, 3, 2), S4(1, 2, 3, 1), S4(1, 1, 1, 3)}, \
     .kind = {IN_F, IN_F, IN_F, IN_CF}, .data = {0, 0, 0, mask_row}, R2, .at = {.scale = 1.0}},   \
    {.op = HG_OP_##o, .n_in = 4, .s = {S4(2, 2, 3, 2), S4(2, 2, 4, 2), S4(2, 2, 4, 3), S4(2, 1, 3, 4)}, \
     .kind = {IN_F, IN_F, IN_F, IN_CF}, .data = {0, 0, 0, mask_b}, R2, .at = {.scale = 0.5}}

static const opcase cases[] = {
    UN(neg, -2, 2), UN(abs, -2, 2), UN(exp, -2, 2), UN(log, 0.3, 3), UN(log1p, -0.5, 2),
    UN(expm1, -2, 2), UN(sqrt, 0.3, 3), UN(rsqrt, 0.3, 3), UN(square, -2, 2),
    UN(reciprocal, 0.3, 3), UN(sin, -3, 3), UN(cos, -3, 3), UN(tanh, -2, 2),
    UN(sigmoid, -3, 3), UN(softplus, -3, 3), UN(gelu_tanh, -3, 3), UN(erf, -2, 2),
    UN(floor, -3, 3), UN(round, -3, 3),
    BIN(add, -2, 2, -2, 2), BIN(sub, -2, 2, -2, 2), BIN(mul, -2, 2, -2, 2),
    BIN(div, -2, 2, 0.5, 2), BIN(pow, 0.5, 2, -1.5, 1.5), BIN(maximum, -2, 2, -2, 2),
    BIN(minimum, -2, 2, -2, 2), BIN(floor_mod, -3, 3, 0.7, 1.9),
    {.op = HG_OP_floor_mod, .n_in = 2, .s = {S2(2, 3), S1(3)}, .lo = {-3, -1.9}, .hi = {3, -0.7}},
    /* where(c, x, y) */
    {.op = HG_OP_where, .n_in = 3, .s = {S2(2, 3), S2(2, 3), S2(2, 3)}, .kind = {IN_B},
     .data = {cond6}, R2},
    {.op = HG_OP_where, .n_in = 3, .s = {S2(2, 3), S1(3), S0}, .kind = {IN_B}, .data = {cond6}, R2},
    {.op = HG_OP_where, .n_in = 3, .s = {S1(3), S2(2, 1), S2(2, 3)}, .kind = {IN_B},
     .data = {cond3}, R2},
    /* reductions */
    {.op = HG_OP_sum, .n_in = 1, .s = {S3(2, 3, 4)}, R2, .at = {.naxes = 1, .axes = {1}}},
    {.op = HG_OP_sum, .n_in = 1, .s = {S3(2, 3, 4)}, R2, .at = {.naxes = 2, .axes = {0, 2}, .keepdims = 1}},
    {.op = HG_OP_sum, .n_in = 1, .s = {S1(5)}, R2, .at = {.naxes = 0}},
    {.op = HG_OP_mean, .n_in = 1, .s = {S3(2, 3, 4)}, R2, .at = {.naxes = 1, .axes = {1}}},
    {.op = HG_OP_mean, .n_in = 1, .s = {S3(2, 3, 4)}, R2, .at = {.naxes = 2, .axes = {0, 2}, .keepdims = 1}},
    {.op = HG_OP_mean, .n_in = 1, .s = {S1(5)}, R2, .at = {.naxes = 0}},
    {.op = HG_OP_max, .n_in = 1, .s = {S3(2, 3, 4)}, R2, .at = {.naxes = 1, .axes = {1}}},
    {.op = HG_OP_max, .n_in = 1, .s = {S3(2, 3, 4)}, R2, .at = {.naxes = 2, .axes = {0, 2}, .keepdims = 1}},
    {.op = HG_OP_max, .n_in = 1, .s = {S1(5)}, R2, .at = {.naxes = 0}},
    /* matmul */
    {.op = HG_OP_matmul, .n_in = 2, .s = {S2(2, 3), S2(3, 4)}, R2},
    {.op = HG_OP_matmul, .n_in = 2, .s = {S2(3, 2), S2(3, 4)}, R2, .at = {.trans_a = 1}},
    {.op = HG_OP_matmul, .n_in = 2, .s = {S2(2, 3), S2(4, 3)}, R2, .at = {.trans_b = 1}},
    {.op = HG_OP_matmul, .n_in = 2, .s = {S3(2, 3, 2), S3(2, 4, 3)}, R2, .at = {.trans_a = 1, .trans_b = 1}},
    {.op = HG_OP_matmul, .n_in = 2, .s = {S3(2, 2, 3), S2(3, 4)}, R2},
    {.op = HG_OP_matmul, .n_in = 2, .s = {S4(2, 1, 2, 3), S3(3, 4, 3)}, R2, .at = {.trans_b = 1}},
    /* layout */
    {.op = HG_OP_reshape, .n_in = 1, .s = {S2(2, 3)}, R2, .out = S2(3, 2)},
    {.op = HG_OP_reshape, .n_in = 1, .s = {S1(6)}, R2, .out = S3(2, 1, 3)},
    {.op = HG_OP_reshape, .n_in = 1, .s = {S0}, R2, .out = S2(1, 1)},
    {.op = HG_OP_transpose, .n_in = 1, .s = {S2(2, 3)}, R2, .at = {.perm = {1, 0}}},
    {.op = HG_OP_transpose, .n_in = 1, .s = {S3(2, 3, 4)}, R2, .at = {.perm = {2, 0, 1}}},
    {.op = HG_OP_transpose, .n_in = 1, .s = {S4(1, 2, 3, 2)}, R2, .at = {.perm = {3, 1, 0, 2}}},
    {.op = HG_OP_broadcast_to, .n_in = 1, .s = {S1(3)}, R2, .out = S2(2, 3)},
    {.op = HG_OP_broadcast_to, .n_in = 1, .s = {S2(2, 1)}, R2, .out = S2(2, 3)},
    {.op = HG_OP_broadcast_to, .n_in = 1, .s = {S0}, R2, .out = S2(2, 2)},
    {.op = HG_OP_broadcast_to, .n_in = 1, .s = {S2(1, 3)}, R2, .out = S3(2, 2, 3)},
    {.op = HG_OP_slice, .n_in = 1, .s = {S1(5)}, R2, .at = {.starts = {1}, .steps = {1}}, .out = S1(3)},
    {.op = HG_OP_slice, .n_in = 1, .s = {S2(4, 6)}, R2, .at = {.starts = {1, 0}, .steps = {1, 2}}, .out = S2(2, 3)},
    {.op = HG_OP_slice, .n_in = 1, .s = {S2(3, 5)}, R2, .at = {.starts = {0, 1}, .steps = {2, 3}}, .out = S2(2, 2)},
    {.op = HG_OP_concat, .n_in = 2, .s = {S2(2, 3), S2(2, 2)}, R2, .at = {.axis = 1}},
    {.op = HG_OP_concat, .n_in = 3, .s = {S2(1, 3), S2(2, 3), S2(1, 3)}, R2, .at = {.axis = 0}},
    {.op = HG_OP_concat, .n_in = 2, .s = {S3(2, 1, 2), S3(2, 2, 2)}, R2, .at = {.axis = 1}},
    {.op = HG_OP_pad, .n_in = 1, .s = {S1(3)}, R2, .at = {.pad_lo = {1}, .pad_hi = {2}, .value = 0.5}},
    {.op = HG_OP_pad, .n_in = 1, .s = {S2(2, 3)}, R2, .at = {.pad_lo = {1, 0}, .pad_hi = {0, 2}}},
    {.op = HG_OP_pad, .n_in = 1, .s = {S3(2, 2, 2)}, R2, .at = {.pad_lo = {0, 1, 1}, .pad_hi = {1, 0, 0}}},
    /* gather / scatter */
    {.op = HG_OP_gather, .n_in = 2, .s = {S2(5, 2), S1(3)}, .kind = {IN_F, IN_I}, .data = {0, gidx_a}, R2},
    {.op = HG_OP_gather, .n_in = 2, .s = {S2(2, 4), S2(2, 3)}, .kind = {IN_F, IN_I}, .data = {0, gidx_b}, R2,
     .at = {.axis = 1}},
    {.op = HG_OP_gather, .n_in = 2, .s = {S3(2, 3, 2), S3(2, 2, 2)}, .kind = {IN_F, IN_I},
     .data = {0, gidx_c}, R2, .at = {.axis = 1}},
    {.op = HG_OP_scatter_add, .n_in = 2, .s = {S2(4, 2), S1(4)}, .kind = {IN_F, IN_I},
     .data = {0, sidx_a}, R2, .at = {.axis = 0, .size = 3}},
    {.op = HG_OP_scatter_add, .n_in = 2, .s = {S2(2, 3), S2(2, 3)}, .kind = {IN_F, IN_I},
     .data = {0, sidx_b}, R2, .at = {.axis = 1, .size = 2}},
    {.op = HG_OP_scatter_add, .n_in = 2, .s = {S3(2, 2, 2), S2(2, 2)}, .kind = {IN_F, IN_I},
     .data = {0, sidx_c}, R2, .at = {.axis = 1, .size = 3}},
    {.op = HG_OP_scatter_max, .n_in = 2, .s = {S2(4, 2), S1(4)}, .kind = {IN_F, IN_I},
     .data = {0, sidx_a}, R2, .at = {.axis = 0, .size = 3}},
    {.op = HG_OP_scatter_max, .n_in = 2, .s = {S2(2, 3), S2(2, 3)}, .kind = {IN_F, IN_I},
     .data = {0, sidx_b}, R2, .at = {.axis = 1, .size = 2}},
    {.op = HG_OP_scatter_max, .n_in = 2, .s = {S3(2, 2, 2), S2(2, 2)}, .kind = {IN_F, IN_I},
     .data = {0, sidx_c}, R2, .at = {.axis = 1, .size = 3}},
    /* cast f64 -> f64 (f32 round trips and integer cuts: separate cases) */
    {.op = HG_OP_cast, .n_in = 1, .s = {S0}, R2, .out = S0},
    {.op = HG_OP_cast, .n_in = 1, .s = {S1(3)}, R2, .out = S1(3)},
    {.op = HG_OP_cast, .n_in = 1, .s = {S2(2, 3)}, R2, .out = S2(2, 3)},
    /* composites */
    {.op = HG_OP_layer_norm, .n_in = 1, .s = {S1(4)}, R2, .at = {.eps = 1e-5}},
    {.op = HG_OP_layer_norm, .n_in = 1, .s = {S2(2, 3)}, R2, .at = {.eps = 1e-3}},
    {.op = HG_OP_layer_norm, .n_in = 1, .s = {S3(2, 2, 5)}, R2, .at = {.eps = 0.1}},
    {.op = HG_OP_softmax, .n_in = 1, .s = {S1(3)}, R2},
    {.op = HG_OP_softmax, .n_in = 1, .s = {S2(2, 4)}, R2},
    {.op = HG_OP_softmax, .n_in = 1, .s = {S3(2, 2, 3)}, R2},
    ATT3(attention),
    /* the attention backward (differentiated through its decomposition) */
    ATT3(attention_lse),
    /* attention_grad(q, k, v, mask, o, lse, do): o and lse are free inputs
     * here (the op's value does not depend on them: gradient 0) */
    {.op = HG_OP_attention_grad, .n_in = 7,
     .s = {S4(1, 1, 2, 3), S4(1, 1, 3, 3), S4(1, 1, 3, 2), S4(1, 1, 2, 3), S4(1, 1, 2, 2), S3(1, 1, 2), S4(1, 1, 2, 2)},
     .kind = {IN_F, IN_F, IN_F, IN_CF}, .data = {0, 0, 0, mask_ones}, R2, .at = {.scale = 0.7, .axis = 0}},
    {.op = HG_OP_attention_grad, .n_in = 7,
     .s = {S4(1, 2, 2, 2), S4(1, 2, 3, 2), S4(1, 2, 3, 1), S4(1, 1, 1, 3), S4(1, 2, 2, 1), S3(1, 2, 2), S4(1, 2, 2, 1)},
     .kind = {IN_F, IN_F, IN_F, IN_CF}, .data = {0, 0, 0, mask_row}, R2, .at = {.scale = 1.0, .axis = 1}},
    {.op = HG_OP_attention_grad, .n_in = 7,
     .s = {S4(2, 2, 3, 2), S4(2, 2, 4, 2), S4(2, 2, 4, 3), S4(2, 1, 3, 4), S4(2, 2, 3, 3), S3(2, 2, 3), S4(2, 2, 3, 3)},
     .kind = {IN_F, IN_F, IN_F, IN_CF}, .data = {0, 0, 0, mask_b}, R2, .at = {.scale = 0.5, .axis = 2}},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static double urand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* Random f64 constant in [-1, 1] of shape s. */
static hg_value rand_const(hg_graph *g, hg_shape s, uint64_t *rng) {
    int64_t n = hg_shape_numel(s);
    double *d = malloc((size_t)(n ? n : 1) * sizeof *d);
    for (int64_t i = 0; i < n; i++) d[i] = 2 * urand(rng) - 1;
    hg_value v = hg_constant(g, HG_F64, s, d);
    free(d);
    return v;
}

static hg_status run(const hg_graph *g, hg_tensor_map *in, hg_tensor_map *out) {
    hg_tensor_map st;
    hg_map_init(&st);
    hg_status s = hg_ref_run(g, &st, in, out, NULL);
    hg_map_free(&st);
    return s;
}

static double out_scalar(const hg_tensor_map *m, const char *name) {
    hg_tensor *t = hg_map_get(m, name);
    return t ? hg_tensor_get(t, 0) : NAN;
}

/* Ops a gradient graph may use besides differentiable ones and leaves:
 * piecewise-constant ops whose derivative is zero almost everywhere. */
static int allowed_in_grad(hg_op op) {
    unsigned f = hg_op_table[op].flags;
    return (f & (HG_OPF_DIFF | HG_OPF_LEAF)) || op == HG_OP_sign || op == HG_OP_eq ||
           op == HG_OP_ne || op == HG_OP_lt || op == HG_OP_le || op == HG_OP_gt ||
           op == HG_OP_ge || op == HG_OP_logical_and || op == HG_OP_logical_or ||
           op == HG_OP_logical_not;
}

/* First- and second-order finite-difference check of one case. */
static void check_case(int ci) {
    const opcase *c = &cases[ci];
    const char *opn = hg_op_table[c->op].name;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(ci + 1);
    hg_graph *g = hg_graph_new();
    hg_value ins[7], wrt[7];
    int nw = 0, widx[7];
    hg_tensor_map inputs;
    hg_map_init(&inputs);
    for (int k = 0; k < c->n_in; k++) {
        hg_shape s = c->s[k];
        if (c->kind[k] == IN_F) {
            char name[16];
            snprintf(name, sizeof name, "x%d", nw);
            ins[k] = hg_input(g, name, HG_F64, s);
            hg_tensor *t;
            HG_CHECK_OK(hg_map_alloc(&inputs, name, HG_F64, s, &t));
            for (int64_t i = 0; i < hg_shape_numel(s); i++)
                hg_tensor_set(t, i, c->lo[k] + (c->hi[k] - c->lo[k]) * urand(&rng));
            widx[nw] = k;
            wrt[nw++] = ins[k];
        } else {
            hg_dtype t = c->kind[k] == IN_CF ? HG_F64 : c->kind[k] == IN_I ? HG_I32 : HG_BOOL;
            ins[k] = hg_constant(g, t, s, c->data[k]);
        }
    }
    hg_value y = hg_add_node(g, c->op, HG_F64, c->out, c->n_in, ins, &c->at);
    hg_value loss = hg_sum_all(g, hg_mul(g, y, rand_const(g, hg_value_shape(g, y), &rng)));
    hg_set_output(g, "loss", loss);
    HG_CHECK_OK(hg_graph_status(g));
    int n_fwd = g->n_nodes;
    hg_value gr[7], h[7];
    HG_CHECK_OK(hg_grad(g, loss, nw, wrt, gr));
    hg_value s2 = HG_NONE;
    for (int i = 0; i < nw; i++) {
        char name[16];
        snprintf(name, sizeof name, "g%d", i);
        hg_set_output(g, name, gr[i]);
        hg_value term = hg_sum_all(g, hg_mul(g, gr[i], rand_const(g, hg_value_shape(g, gr[i]), &rng)));
        s2 = i == 0 ? term : hg_add(g, s2, term);
    }
    hg_set_output(g, "s", s2);
    HG_CHECK_OK(hg_grad(g, s2, nw, wrt, h));
    for (int i = 0; i < nw; i++) {
        char name[16];
        snprintf(name, sizeof name, "h%d", i);
        hg_set_output(g, name, h[i]);
    }
    HG_CHECK_OK(hg_graph_status(g));
    HG_CHECK_OK(hg_verify(g));
    for (int i = n_fwd; i < g->n_nodes; i++)
        if (!allowed_in_grad(g->nodes[i].op))
            HG_FAIL("case %d (%s): gradient graph uses non-differentiable op %s", ci, opn,
                    hg_op_table[g->nodes[i].op].name);

    hg_tensor_map out;
    hg_map_init(&out);
    HG_CHECK_OK(run(g, &inputs, &out));
    const double eps = 1e-5;
    for (int w = 0; w < nw; w++) {
        char xn[16], gn[16], hn[16];
        snprintf(xn, sizeof xn, "x%d", w);
        snprintf(gn, sizeof gn, "g%d", w);
        snprintf(hn, sizeof hn, "h%d", w);
        hg_tensor *x = hg_map_get(&inputs, xn);
        hg_tensor g1, g2;
        HG_CHECK_OK(hg_tensor_copy(&g1, hg_map_get(&out, gn)));
        HG_CHECK_OK(hg_tensor_copy(&g2, hg_map_get(&out, hn)));
        for (int64_t j = 0; j < hg_shape_numel(x->shape); j++) {
            double x0 = hg_tensor_get(x, j), lp, lm, sp, sm;
            hg_tensor_set(x, j, x0 + eps);
            hg_tensor_map o2;
            hg_map_init(&o2);
            HG_CHECK_OK(run(g, &inputs, &o2));
            lp = out_scalar(&o2, "loss");
            sp = out_scalar(&o2, "s");
            hg_tensor_set(x, j, x0 - eps);
            HG_CHECK_OK(run(g, &inputs, &o2));
            lm = out_scalar(&o2, "loss");
            sm = out_scalar(&o2, "s");
            hg_map_free(&o2);
            hg_tensor_set(x, j, x0);
            double fd1 = (lp - lm) / (2 * eps), fd2 = (sp - sm) / (2 * eps);
            double a1 = hg_tensor_get(&g1, j), a2 = hg_tensor_get(&g2, j);
            double m1 = fabs(fd1) > 1 ? fabs(fd1) : 1, m2 = fabs(fd2) > 1 ? fabs(fd2) : 1;
            if (!(fabs(a1 - fd1) <= 1e-6 * m1))
                HG_FAIL("case %d (%s) input %d elem %lld: grad %.12g, finite diff %.12g", ci, opn,
                        widx[w], (long long)j, a1, fd1);
            if (!(fabs(a2 - fd2) <= 1e-5 * m2))
                HG_FAIL("case %d (%s) input %d elem %lld: 2nd-order %.12g, finite diff %.12g", ci,
                        opn, widx[w], (long long)j, a2, fd2);
        }
        hg_tensor_free(&g1);
        hg_tensor_free(&g2);
    }
    hg_map_free(&out);
    hg_map_free(&inputs);
    hg_graph_free(g);
}

/* Runs the cases whose op is in [first, last]. */
static void check_ops(hg_op first, hg_op last) {
    int ran = 0;
    for (int i = 0; i < N_CASES; i++) {
        if (cases[i].op < first || cases[i].op > last) continue;
        check_case(i);
        if (hg_test_failed) return;
        ran++;
    }
    HG_CHECK(ran >= 3);
}

HG_TEST(every_diff_op_has_rule_and_cases) {
    for (int op = 0; op < HG_NUM_OPS; op++) {
        if (!(hg_op_table[op].flags & HG_OPF_DIFF)) continue;
        if (!hg_grad_has_rule((hg_op)op))
            HG_FAIL("differentiable op %s has no VJP rule", hg_op_table[op].name);
        int n = 0;
        for (int i = 0; i < N_CASES; i++) n += cases[i].op == op;
        if (n < 3) HG_FAIL("differentiable op %s has %d finite-difference cases (< 3)",
                           hg_op_table[op].name, n);
    }
    HG_CHECK(!hg_grad_has_rule(HG_OP_knn));
    HG_CHECK(!hg_grad_has_rule(HG_OP_stop_gradient));
    HG_CHECK(!hg_grad_has_rule(HG_OP_random_normal));
}

HG_TEST(fd_unary) { check_ops(HG_OP_neg, HG_OP_round); }
HG_TEST(fd_binary) { check_ops(HG_OP_add, HG_OP_floor_mod); }
HG_TEST(fd_where) { check_ops(HG_OP_where, HG_OP_where); }
HG_TEST(fd_reduce) { check_ops(HG_OP_sum, HG_OP_max); }
HG_TEST(fd_matmul) { check_ops(HG_OP_matmul, HG_OP_matmul); }
HG_TEST(fd_layout) { check_ops(HG_OP_reshape, HG_OP_pad); }
HG_TEST(fd_gather_scatter) { check_ops(HG_OP_gather, HG_OP_scatter_max); }
HG_TEST(fd_cast) { check_ops(HG_OP_cast, HG_OP_cast); }
HG_TEST(fd_composite) { check_ops(HG_OP_layer_norm, HG_OP_attention_grad); }

/* ------------------------------------------------- rules stated in passes.h */

static hg_tensor *feed(hg_tensor_map *m, const char *name, hg_dtype t, hg_shape s,
                       const double *v) {
    hg_tensor *x;
    if (hg_map_alloc(m, name, t, s, &x).code) return NULL;
    for (int64_t i = 0; i < hg_shape_numel(s); i++) hg_tensor_set(x, i, v[i]);
    return x;
}

HG_TEST(ties_share_gradient) {
    hg_graph *g = hg_graph_new();
    hg_shape s4 = hg_shape_of(1, (int64_t)4), s1 = hg_shape_of(1, (int64_t)1);
    hg_value x = hg_input(g, "x", HG_F64, s4);
    hg_value a = hg_input(g, "a", HG_F64, s1), b = hg_input(g, "b", HG_F64, s1);
    hg_value src = hg_input(g, "src", HG_F64, s4);
    int32_t idx[4] = {0, 0, 1, 1};
    double w[2] = {1, 10};
    hg_value segmax = hg_scatter_max(g, src, hg_constant(g, HG_I32, s4, idx), 0, 2);
    hg_value loss = hg_add(g, hg_reduce(g, HG_OP_max, x, 0, NULL, 0),
                           hg_sum_all(g, hg_binary(g, HG_OP_maximum, a, b)));
    loss = hg_add(g, loss, hg_sum_all(g, hg_mul(g, segmax, hg_constant(g, HG_F64, hg_shape_of(1, (int64_t)2), w))));
    hg_value wrt[4] = {x, a, b, src}, gr[4];
    HG_CHECK_OK(hg_grad(g, loss, 4, wrt, gr));
    hg_set_output(g, "gx", gr[0]);
    hg_set_output(g, "ga", gr[1]);
    hg_set_output(g, "gb", gr[2]);
    hg_set_output(g, "gs", gr[3]);
    hg_tensor_map in, out;
    hg_map_init(&in);
    hg_map_init(&out);
    double xv[4] = {1, 3, 3, 2}, av[1] = {2}, sv[4] = {5, 5, 1, 2};
    feed(&in, "x", HG_F64, s4, xv);
    feed(&in, "a", HG_F64, s1, av);
    feed(&in, "b", HG_F64, s1, av);
    feed(&in, "src", HG_F64, s4, sv);
    HG_CHECK_OK(run(g, &in, &out));
    const double ex[4] = {0, 0.5, 0.5, 0}, es[4] = {0.5, 0.5, 0, 10};
    for (int i = 0; i < 4; i++) {
        HG_CHECK_NEAR(hg_tensor_get(hg_map_get(&out, "gx"), i), ex[i], 0);
        HG_CHECK_NEAR(hg_tensor_get(hg_map_get(&out, "gs"), i), es[i], 0);
    }
    HG_CHECK_NEAR(hg_tensor_get(hg_map_get(&out, "ga"), 0), 0.5, 0);
    HG_CHECK_NEAR(hg_tensor_get(hg_map_get(&out, "gb"), 0), 0.5, 0);
    hg_map_free(&in);
    hg_map_free(&out);
    hg_graph_free(g);
}

/* stop_gradient, comparisons, integer casts, knn, random ops and iota cut
 * the gradient; f32 round trips pass it; unrelated wrt values get zeros. */
HG_TEST(gradient_cuts_and_casts) {
    hg_graph *g = hg_graph_new();
    hg_shape s3 = hg_shape_of(1, (int64_t)3);
    hg_value x = hg_input(g, "x", HG_F64, s3), z = hg_input(g, "z", HG_F64, s3);
    hg_value pos = hg_input(g, "pos", HG_F64, hg_shape_of(3, (int64_t)1, (int64_t)3, (int64_t)3));
    double rv[3] = {0.25, -0.5, 2};
    hg_value r = hg_constant(g, HG_F64, s3, rv);
    hg_value seed = hg_scalar(g, HG_I32, 7), zero = hg_scalar(g, HG_I32, 0);
    hg_value rnd = hg_random_normal(g, HG_F64, s3, seed, zero, zero);
    hg_value terms[7];
    terms[0] = hg_mul(g, hg_stop_gradient(g, x), x);                      /* d = x */
    terms[1] = hg_mul(g, hg_cast(g, hg_binary(g, HG_OP_gt, x, hg_scalar(g, HG_F64, 0)), HG_F64), x);
    terms[2] = hg_cast(g, hg_cast(g, hg_mul_s(g, x, 3.0), HG_I32), HG_F64); /* cut */
    terms[3] = hg_mul(g, hg_cast(g, hg_mul_s(g, hg_cast(g, x, HG_F32), 3.0), HG_F64), r); /* 3 r */
    terms[4] = hg_mul(g, rnd, x);                                           /* rnd */
    terms[5] = hg_mul(g, hg_iota(g, HG_F64, s3, 0), x);                     /* 0,1,2 */
    hg_value knn = hg_knn(g, pos, hg_fill(g, HG_F64, hg_shape_of(2, (int64_t)1, (int64_t)3), 1.0), 2, 0.0);
    terms[6] = hg_broadcast_to(g, hg_sum_all(g, hg_cast(g, knn, HG_F64)), s3);
    hg_value loss = hg_sum_all(g, terms[0]);
    for (int i = 1; i < 7; i++) loss = hg_add(g, loss, hg_sum_all(g, terms[i]));
    hg_set_output(g, "rnd", rnd);
    hg_value wrt[3] = {x, z, pos}, gr[3];
    HG_CHECK_OK(hg_grad(g, loss, 3, wrt, gr));
    hg_set_output(g, "gx", gr[0]);
    hg_set_output(g, "gz", gr[1]);
    hg_set_output(g, "gp", gr[2]);
    HG_CHECK_OK(hg_verify(g));
    hg_tensor_map in, out;
    hg_map_init(&in);
    hg_map_init(&out);
    double xv[3] = {-1.5, 0.5, 2.25}, pv[9] = {0, 0, 0, 1, 0, 0, 0, 2, 0};
    feed(&in, "x", HG_F64, s3, xv);
    feed(&in, "z", HG_F64, s3, xv);
    feed(&in, "pos", HG_F64, hg_shape_of(3, (int64_t)1, (int64_t)3, (int64_t)3), pv);
    HG_CHECK_OK(run(g, &in, &out));
    for (int i = 0; i < 3; i++) {
        double want = xv[i] + (xv[i] > 0) + 3 * rv[i] + hg_tensor_get(hg_map_get(&out, "rnd"), i) + i;
        HG_CHECK_NEAR(hg_tensor_get(hg_map_get(&out, "gx"), i), want, 1e-13);
        HG_CHECK_NEAR(hg_tensor_get(hg_map_get(&out, "gz"), i), 0.0, 0);
    }
    for (int i = 0; i < 9; i++) HG_CHECK_NEAR(hg_tensor_get(hg_map_get(&out, "gp"), i), 0.0, 0);
    hg_map_free(&in);
    hg_map_free(&out);
    hg_graph_free(g);
}

/* A non-scalar loss is differentiated as sum(loss); an intermediate wrt
 * value gets its own gradient. */
HG_TEST(nonscalar_loss_and_intermediate_wrt) {
    hg_graph *g = hg_graph_new();
    hg_shape s3 = hg_shape_of(1, (int64_t)3);
    hg_value x = hg_input(g, "x", HG_F64, s3);
    hg_value y = hg_mul_s(g, x, 3.0);
    hg_value l = hg_square(g, y); /* shape [3] */
    hg_value wrt[2] = {x, y}, gr[2];
    HG_CHECK_OK(hg_grad(g, l, 2, wrt, gr));
    hg_set_output(g, "gx", gr[0]);
    hg_set_output(g, "gy", gr[1]);
    hg_tensor_map in, out;
    hg_map_init(&in);
    hg_map_init(&out);
    double xv[3] = {1, -2, 0.5};
    feed(&in, "x", HG_F64, s3, xv);
    HG_CHECK_OK(run(g, &in, &out));
    for (int i = 0; i < 3; i++) {
        HG_CHECK_NEAR(hg_tensor_get(hg_map_get(&out, "gy"), i), 6 * xv[i], 1e-15);
        HG_CHECK_NEAR(hg_tensor_get(hg_map_get(&out, "gx"), i), 18 * xv[i], 1e-14);
    }
    hg_map_free(&in);
    hg_map_free(&out);
    hg_graph_free(g);
}

HG_TEST(bad_arguments_are_errors) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F64, hg_shape_of(1, (int64_t)3));
    hg_value i = hg_input(g, "i", HG_I32, hg_shape_of(1, (int64_t)3));
    hg_value l = hg_sum_all(g, x), li = hg_sum_all(g, i), gr[1];
    HG_CHECK_ERR(hg_grad(g, li, 1, &x, gr), "not float");
    HG_CHECK_ERR(hg_grad(g, l, 1, &i, gr), "not float");
    hg_value bad = 999;
    HG_CHECK_ERR(hg_grad(g, l, 1, &bad, gr), "not a node");
    HG_CHECK_ERR(hg_grad(g, 999, 1, &x, gr), "not a node");
    hg_graph_free(g);
}
