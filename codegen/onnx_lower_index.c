/* ONNX lowering of the index ops (ir/ir.h op table): gather, scatter_add,
 * scatter_max, knn. All exact (same values as the reference interpreter,
 * bit for bit, up to the order of float additions in scatter_add, which
 * ONNX Runtime performs in index order as the reference does).
 *
 * Notation: Bd = product of the batch dims (the axes before attrs.axis),
 * n = size of the indexed axis, E = product of the index dims after the
 * batch dims, R = product of the remaining (row) dims.
 *
 * gather: x -> [Bd * n, R]; index -> int64, out-of-range entries replaced
 *   by 0 and remembered in a `valid` mask; flat row = b n + idx; Gather
 *   (axis 0); rows of invalid entries set to 0 by Where; reshape.
 * scatter_add: rows of src [Bd * E, R] go to row b (n + 1) + idx of zeros
 *   [Bd (n + 1), R] by ScatterElements(axis 0, reduction "add"); indices
 *   outside [0, n) go to the dummy row b (n + 1) + n, sliced off after.
 * scatter_max (opset 17's ScatterElements has no "max": that arrived in
 *   opset 18): exact segment max without any shift. Every source row gets
 *   the key b (n + 1) + idx (dummy n as above); TopK (largest 0) over all
 *   Bd E keys sorts the rows by segment (the order inside a segment does
 *   not matter); a segmented inclusive prefix max by doubling (ceil(log2
 *   Bd E) rounds: m_i = max(m_i, m_{i-d}) where key_{i-d} == key_i) leaves
 *   each segment's max in its last row; those rows alone are added
 *   (ScatterElements "add") into zeros, so an empty segment is 0 and every
 *   other gets exactly 0 + max. NaN handling follows ONNX Max.
 * knn (f32 positions): positions wrapped p - L floor(p / L) (periodic);
 *   per axis dr = (p_i - p_j) + 1e-5, periodic dr - Round(dr / L) L (Round
 *   is half to even), d2 = (dr_x^2 + dr_y^2) + dr_z^2: the same f32
 *   operations in the same order as the reference, so d2 is bit-identical.
 *   Ties: ONNX leaves TopK's order among equal values unspecified, so no
 *   two candidates share a key: key_ij = double(d2_ij) (1 + j 2^-50) +
 *   j 2^-1060. For N < 2^24 this is exact: distinct f32 values differ
 *   relatively by >= 2^-24 while the factor moves a value by < 2^-26, and
 *   equal d2 get keys strictly increasing with j (steps of >= 4 ulps of
 *   double; the additive term separates d2 = 0), so ascending keys are the
 *   reference's (d2, j) order. Padded j and NaN d2 get key +inf. TopK
 *   (K = k <= N, largest 0, sorted 1) on the keys; entries whose key is
 *   +inf (fewer than k real points) and every entry of a padded i are -1.
 *   f64 positions are refused: their d2 already uses all of double's
 *   bits, so ties could not be encoded exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/onnx_internal.h"

/* Splits a gather/scatter node: Bd, n, E, R. */
static void dims_of(const hg_graph *g, int axis, hg_shape xs_or_out, hg_shape is,
                    int64_t *Bd, int64_t *n, int64_t *E, int64_t *R) {
    *Bd = 1;
    for (int i = 0; i < axis; i++) *Bd *= is.dim[i];
    *E = 1;
    for (int i = axis; i < is.rank; i++) *E *= is.dim[i];
    *n = xs_or_out.dim[axis];
    *R = 1;
    for (int i = axis + 1; i < xs_or_out.rank; i++) *R *= xs_or_out.dim[i];
}

/* idx (i32 [..]) as int64 [Bd, E], with the validity mask [Bd, E] and the
 * index with invalid entries replaced by `repl`. */
static const char *index_valid(hg_ox *x, const char *idx, int64_t Bd, int64_t E, int64_t n,
                               int64_t repl, const char **valid) {
    const char *ii = ox_reshape(x, ox_cast_onnx(x, idx, ONNX__TENSOR_PROTO__DATA_TYPE__INT64),
                                hg_shape_of(2, Bd, E));
    *valid = ox_op2(x, "And", ox_op2(x, "GreaterOrEqual", ii, ox_i64(x, 0)),
                    ox_op2(x, "Less", ii, ox_i64(x, n)));
    return ox_op3(x, "Where", *valid, ii, ox_i64(x, repl));
}

/* ii [Bd, E] + b * stride (no-op when Bd = 1). */
static const char *add_batch_offset(hg_ox *x, const char *ii, int64_t Bd, int64_t stride) {
    if (Bd == 1) return ii;
    int64_t *off = malloc((size_t)Bd * sizeof *off);
    if (!off) return ox_fail(x, HG_ERR_NOMEM, "onnx export: out of memory");
    for (int64_t b = 0; b < Bd; b++) off[b] = b * stride;
    const char *c = ox_i64_tensor(x, hg_shape_of(2, Bd, (int64_t)1), off);
    free(off);
    return ox_op2(x, "Add", ii, c);
}

void ox_lower_gather(hg_ox *x, hg_value v) {
    const hg_node *nd = &x->g->nodes[v];
    x->cur = v;
    hg_shape xs = hg_value_shape(x->g, nd->in[0]), is = hg_value_shape(x->g, nd->in[1]);
    int64_t Bd, n, E, R;
    dims_of(x->g, nd->attrs.axis, xs, is, &Bd, &n, &E, &R);
    if (n == 0) {
        ox_fail(x, HG_ERR_UNSUPPORTED, "gather from an empty axis");
        return;
    }
    const char *valid;
    const char *ii = index_valid(x, ox_in(x, v, 1), Bd, E, n, 0, &valid);
    ii = ox_reshape(x, add_batch_offset(x, ii, Bd, n), hg_shape_of(1, Bd * E));
    const char *xf = ox_reshape(x, ox_in(x, v, 0), hg_shape_of(2, Bd * n, R));
    const char *gt = ox_op2(x, "Gather", xf, ii);
    ox_attr_i(x, "axis", 0);
    gt = ox_op3(x, "Where", ox_reshape(x, valid, hg_shape_of(2, Bd * E, (int64_t)1)), gt,
                ox_scalar(x, nd->dtype, 0.0));
    x->names[v] = (char *)ox_reshape(x, gt, nd->shape);
}

/* [Bd (n + 1), R] zeros of dtype t. */
static const char *zeros(hg_ox *x, hg_dtype t, int64_t rows, int64_t R) {
    int64_t s[2] = {rows, R};
    return ox_op2(x, "Expand", ox_scalar(x, t, 0.0), ox_i64s(x, 2, s));
}

/* rows [Bd (n + 1), R] -> out shape, dropping each batch's dummy row. */
static const char *drop_dummy(hg_ox *x, const char *rows, int64_t Bd, int64_t n, int64_t R,
                              hg_shape out) {
    const char *r3 = ox_reshape(x, rows, hg_shape_of(3, Bd, n + 1, R));
    int64_t st[1] = {0}, en[1] = {n}, ax[1] = {1};
    const char *in[4] = {r3, ox_i64s(x, 1, st), ox_i64s(x, 1, en), ox_i64s(x, 1, ax)};
    return ox_reshape(x, ox_node(x, "Slice", NULL, 4, in), out);
}

/* Shifts a [T, ...] value down by d rows along axis 0, filling with `fill`. */
static const char *shift_down(hg_ox *x, const char *a, int rank, int64_t T, int64_t d,
                              const char *fill) {
    int64_t st[1] = {0}, en[1] = {T - d}, ax[1] = {0};
    const char *in[4] = {a, ox_i64s(x, 1, st), ox_i64s(x, 1, en), ox_i64s(x, 1, ax)};
    const char *s = ox_node(x, "Slice", NULL, 4, in);
    int64_t pads[2 * HG_MAX_RANK] = {0};
    pads[0] = d;
    const char *r = ox_op3(x, "Pad", s, ox_i64s(x, 2 * rank, pads), fill);
    ox_attr_s(x, "mode", "constant");
    return r;
}

/* Shifts a [T] value up by one, the last entry becoming `fill`. */
static const char *shift_up1(hg_ox *x, const char *a, int64_t T, const char *fill) {
    int64_t st[1] = {1}, en[1] = {T}, ax[1] = {0};
    const char *in[4] = {a, ox_i64s(x, 1, st), ox_i64s(x, 1, en), ox_i64s(x, 1, ax)};
    const char *s = ox_node(x, "Slice", NULL, 4, in);
    int64_t pads[2] = {0, 1};
    const char *r = ox_op3(x, "Pad", s, ox_i64s(x, 2, pads), fill);
    ox_attr_s(x, "mode", "constant");
    return r;
}

void ox_lower_scatter(hg_ox *x, hg_value v) {
    const hg_node *nd = &x->g->nodes[v];
    x->cur = v;
    hg_shape is = hg_value_shape(x->g, nd->in[1]);
    int64_t Bd, n, E, R;
    dims_of(x->g, nd->attrs.axis, nd->shape, is, &Bd, &n, &E, &R);
    hg_dtype t = nd->dtype;
    int64_t T = Bd * E, rows = Bd * (n + 1);
    const char *valid;
    const char *ii = index_valid(x, ox_in(x, v, 1), Bd, E, n, n, &valid);
    ii = ox_reshape(x, add_batch_offset(x, ii, Bd, n + 1), hg_shape_of(2, T, (int64_t)1));
    const char *src = ox_reshape(x, ox_in(x, v, 0), hg_shape_of(2, T, R));
    int64_t tr[2] = {T, R};
    const char *out;
    if (nd->op == HG_OP_scatter_add || T == 0) {
        const char *in[3] = {zeros(x, t, rows, R), ox_op2(x, "Expand", ii, ox_i64s(x, 2, tr)),
                             src};
        out = ox_node(x, "ScatterElements", NULL, 3, in);
        ox_attr_i(x, "axis", 0);
        ox_attr_s(x, "reduction", "add");
    } else {
        /* sort rows by segment key */
        const char *key = ox_reshape(x, ii, hg_shape_of(1, T));
        const char *in[2] = {key, ox_i64s(x, 1, &T)};
        const char *sk = ox_node(x, "TopK", NULL, 2, in);
        Onnx__NodeProto *topk = x->last;
        ox_attr_i(x, "axis", 0);
        ox_attr_i(x, "largest", 0);
        ox_attr_i(x, "sorted", 1);
        const char *perm = ox_tmp(x, "perm");
        if (topk && perm) { /* second output: the indices */
            char **o = ox_alloc(x, 2 * sizeof *o);
            if (o) {
                o[0] = topk->output[0];
                o[1] = (char *)perm;
                topk->output = o;
                topk->n_output = 2;
            }
        }
        const char *m = ox_op2(x, "Gather", src, perm);
        ox_attr_i(x, "axis", 0);
        double lo = hg_dtype_is_float(t) ? -INFINITY : (double)INT32_MIN;
        const char *fill_v = ox_scalar(x, t, lo);
        const char *fill_k = ox_i64(x, -1);
        for (int64_t d = 1; d < T; d *= 2) {
            const char *pk = shift_down(x, sk, 1, T, d, fill_k);
            const char *pm = shift_down(x, m, 2, T, d, fill_v);
            const char *same = ox_reshape(x, ox_op2(x, "Equal", sk, pk),
                                          hg_shape_of(2, T, (int64_t)1));
            m = ox_op3(x, "Where", same, ox_op2(x, "Max", m, pm), m);
        }
        const char *last = ox_op1(x, "Not", ox_op2(x, "Equal", sk, shift_up1(x, sk, T, fill_k)));
        const char *contrib = ox_op3(x, "Where", ox_reshape(x, last, hg_shape_of(2, T, (int64_t)1)),
                                     m, ox_scalar(x, t, 0.0));
        const char *sk2 = ox_op2(x, "Expand", ox_reshape(x, sk, hg_shape_of(2, T, (int64_t)1)),
                                 ox_i64s(x, 2, tr));
        const char *in3[3] = {zeros(x, t, rows, R), sk2, contrib};
        out = ox_node(x, "ScatterElements", NULL, 3, in3);
        ox_attr_i(x, "axis", 0);
        ox_attr_s(x, "reduction", "add");
    }
    x->names[v] = (char *)drop_dummy(x, out, Bd, n, R, nd->shape);
}

void ox_lower_knn(hg_ox *x, hg_value v) {
    const hg_node *nd = &x->g->nodes[v];
    x->cur = v;
    hg_shape ps = hg_value_shape(x->g, nd->in[0]);
    hg_dtype t = hg_value_dtype(x->g, nd->in[0]);
    if (t != HG_F32) {
        ox_fail(x, HG_ERR_UNSUPPORTED,
                "%s positions: the exact tie order (lower index first) needs f32 "
                "distances encoded in a double key", hg_dtype_name(t));
        return;
    }
    int64_t B = ps.dim[0], N = ps.dim[1], k = nd->attrs.k;
    if (N >= ((int64_t)1 << 24)) {
        ox_fail(x, HG_ERR_UNSUPPORTED, "N = %lld points: the tie-breaking key needs N < 2^24",
                (long long)N);
        return;
    }
    double L = nd->attrs.box;
    const char *p = ox_in(x, v, 0);
    const char *Ls = L > 0 ? ox_scalar(x, t, L) : NULL;
    if (L > 0)
        p = ox_op2(x, "Sub", p, ox_op2(x, "Mul", ox_op1(x, "Floor", ox_op2(x, "Div", p, Ls)), Ls));
    const char *d2 = NULL;
    for (int a = 0; a < 3; a++) {
        int64_t st[1] = {a}, en[1] = {a + 1}, ax[1] = {2};
        const char *in[4] = {p, ox_i64s(x, 1, st), ox_i64s(x, 1, en), ox_i64s(x, 1, ax)};
        const char *pa = ox_node(x, "Slice", NULL, 4, in); /* [B, N, 1] */
        const char *pj = ox_reshape(x, pa, hg_shape_of(3, B, (int64_t)1, N));
        const char *dr = ox_op2(x, "Add", ox_op2(x, "Sub", pa, pj), ox_scalar(x, t, 1e-5));
        if (L > 0)
            dr = ox_op2(x, "Sub", dr,
                        ox_op2(x, "Mul", ox_op1(x, "Round", ox_op2(x, "Div", dr, Ls)), Ls));
        const char *sq = ox_op2(x, "Mul", dr, dr);
        d2 = d2 ? ox_op2(x, "Add", d2, sq) : sq;
    }
    /* key = double(d2) (1 + j 2^-50) + j 2^-1060 */
    double *f1 = malloc((size_t)N * sizeof *f1), *f2 = malloc((size_t)N * sizeof *f2);
    if (!f1 || !f2) {
        free(f1);
        free(f2);
        ox_fail(x, HG_ERR_NOMEM, "onnx export: out of memory");
        return;
    }
    for (int64_t j = 0; j < N; j++) {
        f1[j] = 1.0 + ldexp((double)j, -50);
        f2[j] = ldexp((double)j, -1060);
    }
    const char *c1 = ox_init_copy(x, NULL, HG_F64, hg_shape_of(1, N), f1);
    const char *c2 = ox_init_copy(x, NULL, HG_F64, hg_shape_of(1, N), f2);
    free(f1);
    free(f2);
    const char *key = ox_op2(x, "Add", ox_op2(x, "Mul", ox_cast(x, d2, HG_F64), c1), c2);
    const char *mask = ox_in(x, v, 1);
    const char *real = ox_op1(x, "Not", ox_op2(x, "Equal", mask, ox_scalar(x, t, 0.0))); /* [B, N] */
    const char *real_j = ox_reshape(x, real, hg_shape_of(3, B, (int64_t)1, N));
    const char *ok = ox_op2(x, "And", real_j, ox_op2(x, "Equal", d2, d2)); /* not NaN */
    key = ox_op3(x, "Where", ok, key, ox_scalar(x, HG_F64, INFINITY));
    if (k < 1 || k > N) {
        ox_fail(x, HG_ERR_INVALID, "k = %lld outside 1..N = %lld", (long long)k, (long long)N);
        return;
    }
    const char *in[2] = {key, ox_i64s(x, 1, &k)};
    const char *vals = ox_node(x, "TopK", NULL, 2, in);
    Onnx__NodeProto *topk = x->last;
    ox_attr_i(x, "axis", -1);
    ox_attr_i(x, "largest", 0);
    ox_attr_i(x, "sorted", 1);
    const char *idx = ox_tmp(x, "indices");
    if (topk && idx) {
        char **o = ox_alloc(x, 2 * sizeof *o);
        if (!o) return;
        o[0] = topk->output[0];
        o[1] = (char *)idx;
        topk->output = o;
        topk->n_output = 2;
    }
    const char *m1 = ox_scalar(x, HG_I32, -1.0);
    const char *r = ox_cast(x, idx, HG_I32);
    r = ox_op3(x, "Where", ox_op2(x, "Equal", vals, ox_scalar(x, HG_F64, INFINITY)), m1, r);
    r = ox_op3(x, "Where", ox_reshape(x, real, hg_shape_of(3, B, N, (int64_t)1)), r, m1);
    x->names[v] = (char *)r;
}
