/* VJP rules of reductions, matmul, layout ops (reshape, transpose,
 * broadcast_to, slice, concat, pad), gather/scatter and cast. */
#include <stdint.h>
#include <stdlib.h>

#include "passes/grad_internal.h"

static void reduce_axes(const hg_node *n, int rank, int *axes, int *na) {
    *na = 0;
    if (n->attrs.naxes == 0) {
        for (int i = 0; i < rank; i++) axes[(*na)++] = i;
        return;
    }
    for (int i = 0; i < n->attrs.naxes; i++) {
        int64_t a = n->attrs.axes[i];
        axes[(*na)++] = (int)(a < 0 ? a + rank : a);
    }
}

void hg_vjp_sum(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    gx[0] = hg_vjp_unreduce(g, n, gy, hg_value_shape(g, n->in[0]));
}

void hg_vjp_mean(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                 const int *need, hg_value *gx) {
    int64_t nx = hg_shape_numel(hg_value_shape(g, n->in[0]));
    int64_t ny = hg_shape_numel(hg_value_shape(g, y));
    double count = ny ? (double)nx / (double)ny : 0.0;
    hg_value full = hg_vjp_unreduce(g, n, gy, hg_value_shape(g, n->in[0]));
    gx[0] = hg_mul_s(g, full, count ? 1.0 / count : 0.0);
}

/* max: the elements equal to the maximum share the gradient equally. */
void hg_vjp_max(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    hg_value x = n->in[0];
    hg_shape xs = hg_value_shape(g, x);
    hg_dtype t = hg_value_dtype(g, x);
    int axes[HG_MAX_RANK], na;
    reduce_axes(n, xs.rank, axes, &na);
    hg_value mask = hg_cast(g, hg_binary(g, HG_OP_eq, x, hg_vjp_unreduce(g, n, y, xs)), t);
    hg_value cnt = hg_reduce(g, HG_OP_sum, mask, na, axes, n->attrs.keepdims);
    hg_value share = hg_div(g, gy, cnt);
    gx[0] = hg_mul(g, mask, hg_vjp_unreduce(g, n, share, xs));
}

/* C = op(A) op(B) with op = transpose of the last two dims when flagged:
 * dA = gC op(B)^T (or its transpose), dB = op(A)^T gC (or its transpose);
 * broadcast batch dims are summed back. */
void hg_vjp_matmul(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                   const int *need, hg_value *gx) {
    hg_value a = n->in[0], b = n->in[1];
    int ta = n->attrs.trans_a, tb = n->attrs.trans_b;
    if (need[0]) {
        hg_value d = ta ? hg_matmul(g, b, gy, tb, 1) : hg_matmul(g, gy, b, 0, !tb);
        gx[0] = hg_unbroadcast(g, d, hg_value_shape(g, a));
    }
    if (need[1]) {
        hg_value d = tb ? hg_matmul(g, gy, a, 1, ta) : hg_matmul(g, a, gy, !ta, 0);
        gx[1] = hg_unbroadcast(g, d, hg_value_shape(g, b));
    }
}

void hg_vjp_reshape(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                    const int *need, hg_value *gx) {
    gx[0] = hg_reshape(g, gy, hg_value_shape(g, n->in[0]));
}

void hg_vjp_transpose(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                      const int *need, hg_value *gx) {
    int inv[HG_MAX_RANK];
    for (int i = 0; i < n->shape.rank; i++) inv[n->attrs.perm[i]] = i;
    gx[0] = hg_transpose(g, gy, inv);
}

void hg_vjp_broadcast_to(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                         const int *need, hg_value *gx) {
    gx[0] = hg_unbroadcast(g, gy, hg_value_shape(g, n->in[0]));
}

/* Index constant [lead dims of cur..., count] with values start + i*step
 * along the last axis. */
static hg_value strided_index(hg_graph *g, hg_shape cur, int axis, int64_t start,
                              int64_t step) {
    hg_shape s;
    s.rank = axis + 1;
    for (int i = 0; i < axis; i++) s.dim[i] = cur.dim[i];
    s.dim[axis] = cur.dim[axis];
    int64_t total = hg_shape_numel(s), cnt = cur.dim[axis];
    int32_t *d = malloc((size_t)(total ? total : 1) * sizeof *d);
    if (!d) {
        if (g->err.code == HG_OK) g->err = hg_error(HG_ERR_NOMEM, "hg_grad: slice index");
        return HG_NONE;
    }
    for (int64_t i = 0; i < total; i++) d[i] = (int32_t)(start + (i % cnt) * step);
    hg_value v = hg_constant(g, HG_I32, s, d);
    free(d);
    return v;
}

/* slice: the gradient is placed back at the sliced positions, zeros
 * elsewhere: strided axes by scatter_add with a constant index, the rest by
 * one zero pad. */
void hg_vjp_slice(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                  const int *need, hg_value *gx) {
    hg_shape xs = hg_value_shape(g, n->in[0]);
    hg_value cur = gy;
    int64_t lo[HG_MAX_RANK], hi[HG_MAX_RANK];
    int any_pad = 0;
    for (int a = 0; a < xs.rank; a++) {
        int64_t st = n->attrs.starts[a], step = n->attrs.steps[a] > 0 ? n->attrs.steps[a] : 1;
        lo[a] = hi[a] = 0;
        if (step == 1 || n->shape.dim[a] <= 1) {
            lo[a] = st;
            hi[a] = xs.dim[a] - st - n->shape.dim[a];
            any_pad |= lo[a] != 0 || hi[a] != 0;
        } else {
            hg_value idx = strided_index(g, hg_value_shape(g, cur), a, st, step);
            cur = hg_scatter_add(g, cur, idx, a, xs.dim[a]);
        }
    }
    gx[0] = any_pad ? hg_pad(g, cur, lo, hi, 0.0) : cur;
}

void hg_vjp_concat(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                   const int *need, hg_value *gx) {
    int axis = n->attrs.axis < 0 ? n->attrs.axis + n->shape.rank : n->attrs.axis;
    int64_t off = 0;
    for (int k = 0; k < n->n_in; k++) {
        int64_t len = hg_value_shape(g, n->in[k]).dim[axis];
        if (need[k]) gx[k] = hg_slice_axis(g, gy, axis, off, len);
        off += len;
    }
}

void hg_vjp_pad(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                const int *need, hg_value *gx) {
    hg_shape xs = hg_value_shape(g, n->in[0]);
    gx[0] = hg_slice(g, gy, n->attrs.pad_lo, xs.dim);
}

/* gather and scatter_add are each other's adjoint. */
void hg_vjp_gather(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                   const int *need, hg_value *gx) {
    hg_shape xs = hg_value_shape(g, n->in[0]);
    int axis = n->attrs.axis < 0 ? n->attrs.axis + xs.rank : n->attrs.axis;
    gx[0] = hg_scatter_add(g, gy, n->in[1], axis, xs.dim[axis]);
}

void hg_vjp_scatter_add(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                        const int *need, hg_value *gx) {
    gx[0] = hg_gather(g, gy, n->in[1], n->attrs.axis);
}

/* scatter_max: the gradient of each segment goes to the source elements
 * equal to its maximum, split equally among ties. Elements with an index
 * out of range get 0. */
void hg_vjp_scatter_max(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                        const int *need, hg_value *gx) {
    hg_value src = n->in[0], idx = n->in[1];
    int axis = n->attrs.axis;
    hg_dtype t = hg_value_dtype(g, src);
    hg_value mask = hg_cast(g, hg_binary(g, HG_OP_eq, src, hg_gather(g, y, idx, axis)), t);
    hg_value cnt = hg_scatter_add(g, mask, idx, axis, n->attrs.size);
    hg_value denom = hg_binary(g, HG_OP_maximum, hg_gather(g, cnt, idx, axis),
                               hg_scalar(g, t, 1.0));
    gx[0] = hg_div(g, hg_mul(g, mask, hg_gather(g, gy, idx, axis)), denom);
}

/* cast: float -> float passes the gradient (cast back); integer or bool
 * casts carry none (the driver never asks for them). */
void hg_vjp_cast(hg_graph *g, const hg_node *n, hg_value y, hg_value gy,
                 const int *need, hg_value *gx) {
    hg_dtype tx = hg_value_dtype(g, n->in[0]);
    if (!hg_dtype_is_float(tx) || !hg_dtype_is_float(n->dtype)) return;
    gx[0] = tx == n->dtype ? gy : hg_cast(g, gy, tx);
}
