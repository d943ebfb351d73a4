/* Shape and dtype rules of every op (the "shape rule" column of the op
 * table). hg_infer is used by the builder, the parser and the verifier. */
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"

#define FAIL(...)                                                             \
    do {                                                                      \
        snprintf(msg, msgn, __VA_ARGS__);                                     \
        return -1;                                                            \
    } while (0)

typedef struct {
    const hg_graph *g;
    int n_in;
    const hg_value *in;
} args;

static hg_dtype dt(const args *a, int i) { return a->g->nodes[a->in[i]].dtype; }
static hg_shape sh(const args *a, int i) { return a->g->nodes[a->in[i]].shape; }

static int is_cmp(hg_op op) { return op >= HG_OP_eq && op <= HG_OP_ge; }

/* The dtype the op table's dtypes set constrains (hg_op_info.dtypes): the
 * output for leaves, iota and random_* (`given`), where's branches, else
 * input 0. */
static hg_dtype data_dtype(const args *a, hg_op op, const hg_dtype *given) {
    if (a->n_in == 0 || op == HG_OP_random_uniform || op == HG_OP_random_normal)
        return *given;
    return dt(a, op == HG_OP_where ? 1 : 0);
}

/* Ops whose output dtype/shape is given by the caller, not inferred. */
static int shape_given(hg_op op) {
    return (hg_op_table[op].flags & HG_OPF_LEAF) || op == HG_OP_reshape ||
           op == HG_OP_broadcast_to || op == HG_OP_slice || op == HG_OP_iota ||
           op == HG_OP_cast || op == HG_OP_random_uniform || op == HG_OP_random_normal;
}

static int check_given(const hg_shape *s, char *msg, size_t msgn) {
    if (s->rank < 0 || s->rank > HG_MAX_RANK) FAIL("rank %d out of range 0..%d", s->rank, HG_MAX_RANK);
    for (int i = 0; i < s->rank; i++)
        if (s->dim[i] < 0) FAIL("negative dimension %lld", (long long)s->dim[i]);
    return 0;
}

static int infer_reduce(const args *a, const hg_attrs *at, hg_op op, hg_dtype *dtype,
                        hg_shape *shape, char *msg, size_t msgn) {
    hg_shape x = sh(a, 0);
    hg_dtype t = dt(a, 0);
    int red[HG_MAX_RANK] = {0};
    if (at->naxes < 0 || at->naxes > x.rank) FAIL("naxes %d out of range for rank %d", at->naxes, x.rank);
    if (at->naxes == 0)
        for (int i = 0; i < x.rank; i++) red[i] = 1;
    for (int i = 0; i < at->naxes; i++) {
        int64_t ax = at->axes[i];
        if (ax < 0 || ax >= x.rank) FAIL("axis %lld out of range for rank %d", (long long)ax, x.rank);
        if (red[ax]) FAIL("axis %lld repeated", (long long)ax);
        red[ax] = 1;
    }
    hg_shape o;
    memset(&o, 0, sizeof o);
    for (int i = 0; i < x.rank; i++) {
        if (red[i] && !at->keepdims) continue;
        o.dim[o.rank++] = red[i] ? 1 : x.dim[i];
    }
    *dtype = t;
    *shape = o;
    return 0;
}

static int infer_matmul(const args *a, const hg_attrs *at, hg_dtype *dtype,
                        hg_shape *shape, char *msg, size_t msgn) {
    hg_shape x = sh(a, 0), y = sh(a, 1);
    if (dt(a, 0) != dt(a, 1))
        FAIL("matmul needs two inputs of the same dtype (got %s, %s)",
             hg_dtype_name(dt(a, 0)), hg_dtype_name(dt(a, 1)));
    if (x.rank < 2 || y.rank < 2) FAIL("matmul needs rank >= 2 (got %d and %d)", x.rank, y.rank);
    int64_t m = at->trans_a ? x.dim[x.rank - 1] : x.dim[x.rank - 2];
    int64_t ka = at->trans_a ? x.dim[x.rank - 2] : x.dim[x.rank - 1];
    int64_t kb = at->trans_b ? y.dim[y.rank - 1] : y.dim[y.rank - 2];
    int64_t n = at->trans_b ? y.dim[y.rank - 2] : y.dim[y.rank - 1];
    if (ka != kb) FAIL("matmul contraction sizes differ: %lld vs %lld", (long long)ka, (long long)kb);
    hg_shape bx = x, by = y, bo;
    bx.rank -= 2;
    by.rank -= 2;
    if (hg_shape_broadcast(bx, by, &bo)) FAIL("matmul batch dimensions do not broadcast");
    bo.dim[bo.rank++] = m;
    bo.dim[bo.rank++] = n;
    *dtype = dt(a, 0);
    *shape = bo;
    return 0;
}

static int infer_concat(const args *a, const hg_attrs *at, hg_dtype *dtype,
                        hg_shape *shape, char *msg, size_t msgn) {
    hg_shape o = sh(a, 0);
    if (at->axis < 0 || at->axis >= o.rank) FAIL("concat axis %d out of range for rank %d", at->axis, o.rank);
    for (int i = 1; i < a->n_in; i++) {
        hg_shape s = sh(a, i);
        if (dt(a, i) != dt(a, 0)) FAIL("concat input %d has dtype %s, input 0 %s", i, hg_dtype_name(dt(a, i)), hg_dtype_name(dt(a, 0)));
        if (s.rank != o.rank) FAIL("concat input %d has rank %d, input 0 rank %d", i, s.rank, o.rank);
        for (int d = 0; d < o.rank; d++)
            if (d != at->axis && s.dim[d] != o.dim[d])
                FAIL("concat input %d dim %d is %lld, expected %lld", i, d, (long long)s.dim[d], (long long)o.dim[d]);
        o.dim[at->axis] += s.dim[at->axis];
    }
    *dtype = dt(a, 0);
    *shape = o;
    return 0;
}

static int infer_gather(const args *a, const hg_attrs *at, hg_dtype *dtype,
                        hg_shape *shape, char *msg, size_t msgn) {
    hg_shape x = sh(a, 0), idx = sh(a, 1);
    int ax = at->axis;
    if (dt(a, 1) != HG_I32) FAIL("gather index must be i32, got %s", hg_dtype_name(dt(a, 1)));
    if (ax < 0 || ax >= x.rank) FAIL("gather axis %d out of range for rank %d", ax, x.rank);
    if (idx.rank < ax) FAIL("gather index rank %d < axis %d", idx.rank, ax);
    for (int i = 0; i < ax; i++)
        if (idx.dim[i] != x.dim[i]) FAIL("gather index batch dim %d is %lld, data has %lld", i, (long long)idx.dim[i], (long long)x.dim[i]);
    hg_shape o;
    memset(&o, 0, sizeof o);
    o.rank = idx.rank + x.rank - ax - 1;
    if (o.rank > HG_MAX_RANK) FAIL("gather result rank %d > %d", o.rank, HG_MAX_RANK);
    int r = 0;
    for (int i = 0; i < idx.rank; i++) o.dim[r++] = idx.dim[i];
    for (int i = ax + 1; i < x.rank; i++) o.dim[r++] = x.dim[i];
    *dtype = dt(a, 0);
    *shape = o;
    return 0;
}

static int infer_scatter(const args *a, const hg_attrs *at, hg_dtype *dtype,
                         hg_shape *shape, char *msg, size_t msgn) {
    hg_shape src = sh(a, 0), idx = sh(a, 1);
    int ax = at->axis;
    if (dt(a, 1) != HG_I32) FAIL("scatter index must be i32, got %s", hg_dtype_name(dt(a, 1)));
    if (ax < 0 || ax > idx.rank) FAIL("scatter axis %d out of range for index rank %d", ax, idx.rank);
    if (idx.rank <= ax) FAIL("scatter index rank %d must exceed axis %d", idx.rank, ax);
    if (src.rank < idx.rank) FAIL("scatter source rank %d < index rank %d", src.rank, idx.rank);
    for (int i = 0; i < idx.rank; i++)
        if (idx.dim[i] != src.dim[i]) FAIL("scatter index dim %d is %lld, source has %lld", i, (long long)idx.dim[i], (long long)src.dim[i]);
    if (at->size < 0) FAIL("scatter size %lld < 0", (long long)at->size);
    hg_shape o;
    memset(&o, 0, sizeof o);
    for (int i = 0; i < ax; i++) o.dim[o.rank++] = src.dim[i];
    o.dim[o.rank++] = at->size;
    for (int i = idx.rank; i < src.rank; i++) o.dim[o.rank++] = src.dim[i];
    *dtype = dt(a, 0);
    *shape = o;
    return 0;
}

static int infer_attention(const args *a, hg_dtype *dtype, hg_shape *shape, char *msg, size_t msgn) {
    hg_shape q = sh(a, 0), k = sh(a, 1), v = sh(a, 2), m = sh(a, 3);
    for (int i = 1; i < 4; i++)
        if (dt(a, i) != dt(a, 0)) FAIL("attention input %d has dtype %s, q has %s", i, hg_dtype_name(dt(a, i)), hg_dtype_name(dt(a, 0)));
    if (q.rank != 4 || k.rank != 4 || v.rank != 4) FAIL("attention q, k, v must be rank 4 [B,H,N,D]");
    if (k.dim[0] != q.dim[0] || k.dim[1] != q.dim[1] || v.dim[0] != q.dim[0] || v.dim[1] != q.dim[1])
        FAIL("attention batch/head dims of q, k, v differ");
    if (k.dim[3] != q.dim[3]) FAIL("attention key size %lld != query size %lld", (long long)k.dim[3], (long long)q.dim[3]);
    if (v.dim[2] != k.dim[2]) FAIL("attention values have %lld keys, keys %lld", (long long)v.dim[2], (long long)k.dim[2]);
    hg_shape lg = hg_shape_of(4, q.dim[0], q.dim[1], q.dim[2], k.dim[2]), b;
    if (m.rank > 4 || hg_shape_broadcast(m, lg, &b) || !hg_shape_eq(b, lg))
        FAIL("attention mask does not broadcast to [B,H,Nq,Nk]");
    *dtype = dt(a, 0);
    *shape = hg_shape_of(4, q.dim[0], q.dim[1], q.dim[2], v.dim[3]);
    return 0;
}

/* attention_lse: [B, H, Nq]; attention_grad: the shape of q, k or v
 * (attrs.axis), with o, lse and do of the forward's shapes. */
static int infer_attention_aux(const args *a, hg_op op, const hg_attrs *at, hg_dtype *dtype,
                               hg_shape *shape, char *msg, size_t msgn) {
    hg_dtype t;
    hg_shape o;
    if (infer_attention(a, &t, &o, msg, msgn)) return -1;
    *dtype = t;
    if (op == HG_OP_attention_lse) {
        *shape = hg_shape_of(3, o.dim[0], o.dim[1], o.dim[2]);
        return 0;
    }
    hg_shape lse = hg_shape_of(3, o.dim[0], o.dim[1], o.dim[2]);
    for (int i = 4; i < 7; i++)
        if (dt(a, i) != t) FAIL("attention_grad input %d has dtype %s, q has %s", i, hg_dtype_name(dt(a, i)), hg_dtype_name(t));
    if (!hg_shape_eq(sh(a, 4), o)) FAIL("attention_grad o (input 4) is not the attention output's shape");
    if (!hg_shape_eq(sh(a, 5), lse)) FAIL("attention_grad lse (input 5) must be [B,H,Nq]");
    if (!hg_shape_eq(sh(a, 6), o)) FAIL("attention_grad do (input 6) is not the attention output's shape");
    if (at->axis < 0 || at->axis > 2) FAIL("attention_grad axis %d must be 0 (dq), 1 (dk) or 2 (dv)", at->axis);
    *shape = sh(a, at->axis);
    return 0;
}

static int infer_given(const args *a, hg_op op, const hg_attrs *at, hg_dtype *dtype,
                       hg_shape *shape, char *msg, size_t msgn) {
    if (check_given(shape, msg, msgn)) return -1;
    switch (op) {
    case HG_OP_constant:
        return 0;
    case HG_OP_input:
    case HG_OP_state:
        if (!at->name[0]) FAIL("%s needs a name", hg_op_table[op].name);
        return 0;
    case HG_OP_reshape:
        if (*dtype != dt(a, 0)) FAIL("reshape cannot change dtype");
        if (hg_shape_numel(*shape) != hg_shape_numel(sh(a, 0)))
            FAIL("reshape changes the element count (%lld -> %lld)",
                 (long long)hg_shape_numel(sh(a, 0)), (long long)hg_shape_numel(*shape));
        return 0;
    case HG_OP_broadcast_to: {
        hg_shape b;
        if (*dtype != dt(a, 0)) FAIL("broadcast_to cannot change dtype");
        if (hg_shape_broadcast(sh(a, 0), *shape, &b) || !hg_shape_eq(b, *shape))
            FAIL("input does not broadcast to the target shape");
        return 0;
    }
    case HG_OP_slice: {
        hg_shape x = sh(a, 0);
        if (*dtype != dt(a, 0)) FAIL("slice cannot change dtype");
        if (shape->rank != x.rank) FAIL("slice rank %d != input rank %d", shape->rank, x.rank);
        for (int i = 0; i < x.rank; i++) {
            if (at->steps[i] < 1) FAIL("slice step %lld < 1 on axis %d", (long long)at->steps[i], i);
            if (at->starts[i] < 0) FAIL("slice start %lld < 0 on axis %d", (long long)at->starts[i], i);
            if (shape->dim[i] > 0 && at->starts[i] + (shape->dim[i] - 1) * at->steps[i] >= x.dim[i])
                FAIL("slice runs past the end of axis %d (size %lld)", i, (long long)x.dim[i]);
        }
        return 0;
    }
    case HG_OP_iota:
        if (at->axis < 0 || at->axis >= shape->rank) FAIL("iota axis %d out of range for rank %d", at->axis, shape->rank);
        return 0;
    case HG_OP_cast:
        if (!hg_shape_eq(*shape, sh(a, 0))) FAIL("cast cannot change the shape");
        return 0;
    case HG_OP_random_uniform:
    case HG_OP_random_normal:
        for (int i = 0; i < 3; i++)
            if (dt(a, i) != HG_I32 || sh(a, i).rank != 0)
                FAIL("random input %d (seed, step, replica) must be an i32 scalar", i);
        if (at->stream < 0) FAIL("random stream id %d < 0", at->stream);
        return 0;
    default:
        FAIL("internal: op %s has no given-shape rule", hg_op_table[op].name);
    }
}

int hg_infer(const hg_graph *g, hg_op op, int n_in, const hg_value *in,
             const hg_attrs *at, hg_dtype *dtype, hg_shape *shape,
             char *msg, size_t msgn) {
    if ((unsigned)op >= HG_NUM_OPS) FAIL("unknown op %d", (int)op);
    const hg_op_info *info = &hg_op_table[op];
    if (info->arity >= 0 ? n_in != info->arity : (n_in < 1 || n_in > HG_MAX_INPUTS))
        FAIL("%s takes %d inputs, got %d", info->name, info->arity, n_in);
    for (int i = 0; i < n_in; i++)
        if (in[i] < 0 || in[i] >= g->n_nodes) FAIL("input %d refers to undefined value %%%d", i, in[i]);
    args a = {g, n_in, in};
    if (shape_given(op) && (unsigned)*dtype >= HG_NUM_DTYPES) FAIL("bad dtype %d", (int)*dtype);
    /* the op table's dtype rule (ir/op_traits.def, ir/elementwise.def) */
    hg_dtype data = data_dtype(&a, op, dtype);
    if (!(info->dtypes & HG_DTS(data)))
        FAIL("%s is not defined for %s", info->name, hg_dtype_name(data));
    if (shape_given(op)) return infer_given(&a, op, at, dtype, shape, msg, msgn);

    unsigned fl = info->flags;
    if ((fl & HG_OPF_ELEMENTWISE) && n_in == 1) {
        *dtype = dt(&a, 0);
        *shape = sh(&a, 0);
        return 0;
    }
    if ((fl & HG_OPF_ELEMENTWISE) && n_in == 2) {
        hg_dtype t = dt(&a, 0);
        if (dt(&a, 1) != t) FAIL("%s inputs have different dtypes (%s, %s)", info->name, hg_dtype_name(t), hg_dtype_name(dt(&a, 1)));
        if (hg_shape_broadcast(sh(&a, 0), sh(&a, 1), shape)) {
            char b0[64], b1[64];
            FAIL("%s shapes %s and %s do not broadcast", info->name,
                 hg_shape_str(sh(&a, 0), b0, sizeof b0), hg_shape_str(sh(&a, 1), b1, sizeof b1));
        }
        *dtype = is_cmp(op) ? HG_BOOL : t;
        return 0;
    }
    switch (op) {
    case HG_OP_where: {
        hg_shape s;
        if (dt(&a, 0) != HG_BOOL) FAIL("where condition must be bool, got %s", hg_dtype_name(dt(&a, 0)));
        if (dt(&a, 1) != dt(&a, 2)) FAIL("where branches have different dtypes");
        if (hg_shape_broadcast(sh(&a, 0), sh(&a, 1), &s) || hg_shape_broadcast(s, sh(&a, 2), shape))
            FAIL("where shapes do not broadcast");
        *dtype = dt(&a, 1);
        return 0;
    }
    case HG_OP_sum:
    case HG_OP_mean:
    case HG_OP_max:
        return infer_reduce(&a, at, op, dtype, shape, msg, msgn);
    case HG_OP_matmul:
        return infer_matmul(&a, at, dtype, shape, msg, msgn);
    case HG_OP_transpose: {
        hg_shape x = sh(&a, 0), o = x;
        int seen[HG_MAX_RANK] = {0};
        for (int i = 0; i < x.rank; i++) {
            int64_t p = at->perm[i];
            if (p < 0 || p >= x.rank || seen[p]) FAIL("perm is not a permutation of 0..%d", x.rank - 1);
            seen[p] = 1;
            o.dim[i] = x.dim[p];
        }
        *dtype = dt(&a, 0);
        *shape = o;
        return 0;
    }
    case HG_OP_concat:
        return infer_concat(&a, at, dtype, shape, msg, msgn);
    case HG_OP_pad: {
        hg_shape o = sh(&a, 0);
        for (int i = 0; i < o.rank; i++) {
            if (at->pad_lo[i] < 0 || at->pad_hi[i] < 0) FAIL("negative padding on axis %d", i);
            o.dim[i] += at->pad_lo[i] + at->pad_hi[i];
        }
        *dtype = dt(&a, 0);
        *shape = o;
        return 0;
    }
    case HG_OP_gather:
        return infer_gather(&a, at, dtype, shape, msg, msgn);
    case HG_OP_scatter_add:
    case HG_OP_scatter_max:
        return infer_scatter(&a, at, dtype, shape, msg, msgn);
    case HG_OP_stop_gradient:
        *dtype = dt(&a, 0);
        *shape = sh(&a, 0);
        return 0;
    case HG_OP_knn: {
        hg_shape p = sh(&a, 0), m = sh(&a, 1);
        if (dt(&a, 1) != dt(&a, 0)) FAIL("knn needs a mask of the positions' dtype");
        if (p.rank != 3 || p.dim[2] != 3) FAIL("knn positions must be [B,N,3]");
        if (m.rank != 2 || m.dim[0] != p.dim[0] || m.dim[1] != p.dim[1]) FAIL("knn mask must be [B,N]");
        if (at->k < 1 || at->k > p.dim[1]) FAIL("knn k = %d must be in 1..N = %lld", at->k, (long long)p.dim[1]);
        if (!(at->box >= 0)) FAIL("knn box %g must be >= 0", at->box);
        *dtype = HG_I32;
        *shape = hg_shape_of(3, p.dim[0], p.dim[1], (int64_t)at->k);
        return 0;
    }
    case HG_OP_layer_norm:
    case HG_OP_softmax:
        if (sh(&a, 0).rank < 1) FAIL("%s needs rank >= 1", info->name);
        if (op == HG_OP_layer_norm && !(at->eps > 0)) FAIL("layer_norm eps %g must be > 0", at->eps);
        *dtype = dt(&a, 0);
        *shape = sh(&a, 0);
        return 0;
    case HG_OP_attention:
        return infer_attention(&a, dtype, shape, msg, msgn);
    case HG_OP_attention_lse:
    case HG_OP_attention_grad:
        return infer_attention_aux(&a, op, at, dtype, shape, msg, msgn);
    default:
        FAIL("internal: no shape rule for op %s", info->name);
    }
}
