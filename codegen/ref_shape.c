/* Reference kernels of the data-movement ops (ir.h op table): reshape,
 * stop_gradient, transpose, broadcast_to, slice, concat, pad, gather,
 * scatter_add, scatter_max, iota, cast. All but scatter_*, iota and cast
 * are byte moves and work for every dtype.
 *
 * gather: x[B..., n, R...], idx[B..., E...] -> out[B..., E..., R...], an
 * index outside [0, n) gives 0. scatter_add/max: src[B..., E..., R...],
 * idx[B..., E...] -> out[B..., size, R...]; out-of-range indices are
 * dropped, contributions are applied in ascending e (so sums are
 * deterministic), scatter_max propagates NaN and leaves 0 in a segment
 * that receives nothing. cast: the formulas of ir/elementwise.def
 * (HG_EW_CAST): float -> i32 truncates toward 0, NaN -> 0 and
 * out-of-range values saturate to INT32_MIN/INT32_MAX; -> bool is x != 0
 * (NaN -> 1); bool -> number is 0/1. */
#include "codegen/ref_internal.h"
#include "ir/elementwise.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void hg_ref_strides(hg_shape s, int64_t *strides) {
    int64_t st = 1;
    for (int d = s.rank - 1; d >= 0; d--) {
        strides[d] = st;
        st *= s.dim[d];
    }
}

static void copy_elem(char *dst, const char *src, size_t es) {
    switch (es) {
    case 1: *dst = *src; break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, es); break;
    }
}

/* out (shape os, row-major) [o] = src[base + sum_d idx_d * st[d]]. */
static void strided_copy(char *out, hg_shape os, const char *src, int64_t base,
                         const int64_t *st, size_t es) {
    int64_t total = hg_shape_numel(os);
    if (total == 0) return;
    int r = os.rank;
    if (r == 0) {
        copy_elem(out, src + base * (int64_t)es, es);
        return;
    }
    int64_t inner = os.dim[r - 1], ist = st[r - 1];
    int64_t rows = total / inner;
#pragma omp parallel for schedule(static) if (total > 65536)
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = base, rem = row;
        for (int d = r - 2; d >= 0; d--) {
            off += (rem % os.dim[d]) * st[d];
            rem /= os.dim[d];
        }
        char *o = out + (size_t)(row * inner) * es;
        if (ist == 1) {
            memcpy(o, src + (size_t)off * es, (size_t)inner * es);
        } else {
            for (int64_t j = 0; j < inner; j++)
                copy_elem(o + (size_t)j * es, src + (size_t)(off + j * ist) * es, es);
        }
    }
}

static hg_status transpose(const hg_node *n, const hg_tensor *x, hg_tensor *out) {
    int64_t xst[HG_MAX_RANK], st[HG_MAX_RANK];
    hg_ref_strides(x->shape, xst);
    for (int d = 0; d < out->shape.rank; d++) st[d] = xst[n->attrs.perm[d]];
    strided_copy(out->data, out->shape, x->data, 0, st, hg_dtype_size(x->dtype));
    return hg_ok();
}

static hg_status broadcast_to(const hg_tensor *x, hg_tensor *out) {
    int64_t xst[HG_MAX_RANK], st[HG_MAX_RANK];
    hg_ref_strides(x->shape, xst);
    int r = out->shape.rank, off = r - x->shape.rank;
    for (int d = 0; d < r; d++) {
        int id = d - off;
        st[d] = (id >= 0 && x->shape.dim[id] != 1) ? xst[id] : 0;
    }
    strided_copy(out->data, out->shape, x->data, 0, st, hg_dtype_size(x->dtype));
    return hg_ok();
}

static hg_status slice(const hg_node *n, const hg_tensor *x, hg_tensor *out) {
    int64_t xst[HG_MAX_RANK], st[HG_MAX_RANK], base = 0;
    hg_ref_strides(x->shape, xst);
    for (int d = 0; d < x->shape.rank; d++) {
        int64_t step = n->attrs.steps[d] >= 1 ? n->attrs.steps[d] : 1;
        st[d] = xst[d] * step;
        base += n->attrs.starts[d] * xst[d];
    }
    strided_copy(out->data, out->shape, x->data, base, st, hg_dtype_size(x->dtype));
    return hg_ok();
}

static hg_status concat(const hg_node *n, const hg_tensor *const *in,
                        hg_tensor *out) {
    hg_shape os = out->shape;
    int ax = n->attrs.axis < 0 ? n->attrs.axis + os.rank : n->attrs.axis;
    size_t es = hg_dtype_size(out->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < ax; d++) outer *= os.dim[d];
    for (int d = ax + 1; d < os.rank; d++) inner *= os.dim[d];
    size_t orow = (size_t)(os.dim[ax] * inner) * es;
    size_t at = 0;
    for (int i = 0; i < n->n_in; i++) {
        size_t irow = (size_t)(in[i]->shape.dim[ax] * inner) * es;
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)out->data + o * orow + at,
                   (const char *)in[i]->data + o * irow, irow);
        at += irow;
    }
    return hg_ok();
}

/* Stores v into element i of a tensor of any dtype. */
static void set_elem(hg_tensor *t, int64_t i, double v) {
    switch (t->dtype) {
    case HG_F32: ((float *)t->data)[i] = (float)v; break;
    case HG_F64: ((double *)t->data)[i] = v; break;
    case HG_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    default: ((uint8_t *)t->data)[i] = v != 0; break;
    }
}

static hg_status pad(const hg_node *n, const hg_tensor *x, hg_tensor *out) {
    int64_t total = hg_shape_numel(out->shape);
    size_t es = hg_dtype_size(out->dtype);
    if (total == 0) return hg_ok();
    /* fill one element, replicate it */
    set_elem(out, 0, n->attrs.value);
    for (int64_t i = 1; i < total; i++)
        copy_elem((char *)out->data + i * es, out->data, es);
    int64_t nx = hg_shape_numel(x->shape);
    if (nx == 0) return hg_ok();
    /* x element (row-major) -> out element at idx + pad_lo */
    int r = x->shape.rank;
    int64_t ost[HG_MAX_RANK], base = 0;
    hg_ref_strides(out->shape, ost);
    for (int d = 0; d < r; d++) base += n->attrs.pad_lo[d] * ost[d];
    if (r == 0) {
        copy_elem(out->data, x->data, es);
        return hg_ok();
    }
    int64_t inner = x->shape.dim[r - 1], rows = nx / inner;
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = base, rem = row;
        for (int d = r - 2; d >= 0; d--) {
            off += (rem % x->shape.dim[d]) * ost[d];
            rem /= x->shape.dim[d];
        }
        memcpy((char *)out->data + (size_t)off * es,
               (const char *)x->data + (size_t)(row * inner) * es,
               (size_t)inner * es);
    }
    return hg_ok();
}

static int64_t prod(const hg_shape *s, int from, int to) {
    int64_t p = 1;
    for (int d = from; d < to; d++) p *= s->dim[d];
    return p;
}

static hg_status gather(const hg_node *n, const hg_tensor *x,
                        const hg_tensor *idx, hg_tensor *out) {
    if (idx->dtype != HG_I32)
        return hg_error(HG_ERR_UNSUPPORTED, "gather index must be i32");
    int a = n->attrs.axis < 0 ? n->attrs.axis + x->shape.rank : n->attrs.axis;
    int64_t nb = prod(&x->shape, 0, a), nn = x->shape.dim[a];
    int64_t R = prod(&x->shape, a + 1, x->shape.rank);
    int64_t E = prod(&idx->shape, a, idx->shape.rank);
    size_t es = hg_dtype_size(x->dtype), rb = (size_t)R * es;
    const int32_t *ix = idx->data;
#pragma omp parallel for schedule(static) if (nb * E * R > 65536)
    for (int64_t be = 0; be < nb * E; be++) {
        int64_t b = be / E;
        int32_t j = ix[be];
        char *dst = (char *)out->data + (size_t)be * rb;
        if (j >= 0 && j < nn)
            memcpy(dst, (const char *)x->data + (size_t)(b * nn + j) * rb, rb);
        else
            memset(dst, 0, rb); /* 0 in every dtype */
    }
    return hg_ok();
}

#define DEF_SCATTER(T, SUF)                                                   \
    static void scatter_##SUF(int is_max, int64_t nb, int64_t E, int64_t R,   \
                              int64_t size, const T *src, const int32_t *ix,  \
                              T *out, uint8_t *hit) {                         \
        _Pragma("omp parallel for schedule(static) if (nb > 1)")              \
        for (int64_t b = 0; b < nb; b++) {                                    \
            for (int64_t e = 0; e < E; e++) {                                 \
                int32_t j = ix[b * E + e];                                    \
                if (j < 0 || j >= size) continue;                             \
                T *o = out + (b * size + j) * R;                              \
                const T *s = src + (b * E + e) * R;                           \
                if (!is_max) {                                                \
                    for (int64_t r = 0; r < R; r++) o[r] += s[r];             \
                    continue;                                                 \
                }                                                             \
                uint8_t *h = hit + b * size + j;                              \
                for (int64_t r = 0; r < R; r++) {                             \
                    T v = s[r];                                               \
                    if (!*h || (o[r] == o[r] && (v != v || v > o[r])))  \
                        o[r] = v; /* first, larger, or NaN (sticky) */   \
                }                                                             \
                *h = 1;                                                       \
            }                                                                 \
        }                                                                     \
    }

DEF_SCATTER(float, f32)
DEF_SCATTER(double, f64)
DEF_SCATTER(int32_t, i32)
#undef DEF_SCATTER

static hg_status scatter(const hg_node *n, const hg_tensor *src,
                         const hg_tensor *idx, hg_tensor *out) {
    if (idx->dtype != HG_I32)
        return hg_error(HG_ERR_UNSUPPORTED, "scatter index must be i32");
    if (src->dtype == HG_BOOL)
        return hg_error(HG_ERR_UNSUPPORTED, "scatter of bool");
    int a = n->attrs.axis < 0 ? n->attrs.axis + out->shape.rank : n->attrs.axis;
    int64_t nb = prod(&out->shape, 0, a), size = out->shape.dim[a];
    int64_t R = prod(&out->shape, a + 1, out->shape.rank);
    int64_t E = prod(&idx->shape, a, idx->shape.rank);
    int is_max = n->op == HG_OP_scatter_max;
    uint8_t *hit = NULL;
    if (is_max && nb * size > 0) {
        hit = calloc((size_t)(nb * size), 1);
        if (!hit) return hg_error(HG_ERR_NOMEM, "scatter_max flags");
    }
    switch (src->dtype) {
    case HG_F32:
        scatter_f32(is_max, nb, E, R, size, src->data, idx->data, out->data, hit);
        break;
    case HG_F64:
        scatter_f64(is_max, nb, E, R, size, src->data, idx->data, out->data, hit);
        break;
    default:
        scatter_i32(is_max, nb, E, R, size, src->data, idx->data, out->data, hit);
        break;
    }
    free(hit);
    return hg_ok();
}

static hg_status iota(const hg_node *n, hg_tensor *out) {
    hg_shape s = out->shape;
    int64_t total = hg_shape_numel(s);
    int a = n->attrs.axis < 0 ? n->attrs.axis + s.rank : n->attrs.axis;
    int64_t inner = prod(&s, a + 1, s.rank), len = s.rank ? s.dim[a] : 1;
    for (int64_t i = 0; i < total; i++) set_elem(out, i, (double)((i / inner) % len));
    return hg_ok();
}

/* One cast loop: out[i] = FN(x[i]), FN the formula of ir/elementwise.def. */
#define CAST_LOOP(TS, TD, FN)                                                 \
    do {                                                                      \
        const TS *px_ = (const TS *)x->data;                                  \
        TD *py_ = (TD *)out->data;                                            \
        _Pragma("omp parallel for schedule(static) if (total > 65536)")       \
        for (int64_t i = 0; i < total; i++) py_[i] = (TD)FN(px_[i]);          \
    } while (0)

static hg_status cast(const hg_tensor *x, hg_tensor *out) {
    int64_t total = hg_shape_numel(x->shape);
    hg_dtype st = x->dtype, dt = out->dtype;
    if (st == dt) {
        memcpy(out->data, x->data, hg_tensor_bytes(x));
        return hg_ok();
    }
#define PAIR(a, b) ((a) * HG_NUM_DTYPES + (b))
    switch (PAIR(st, dt)) {
    case PAIR(HG_F32, HG_F64): CAST_LOOP(float, double, hg_ew_cast_FLOAT_FLOAT); break;
    case PAIR(HG_F64, HG_F32): CAST_LOOP(double, float, hg_ew_cast_FLOAT_FLOAT); break;
    case PAIR(HG_F32, HG_I32): CAST_LOOP(float, int32_t, hg_ew_cast_FLOAT_INT); break;
    case PAIR(HG_F64, HG_I32): CAST_LOOP(double, int32_t, hg_ew_cast_FLOAT_INT); break;
    case PAIR(HG_F32, HG_BOOL): CAST_LOOP(float, uint8_t, hg_ew_cast_FLOAT_BOOL); break;
    case PAIR(HG_F64, HG_BOOL): CAST_LOOP(double, uint8_t, hg_ew_cast_FLOAT_BOOL); break;
    case PAIR(HG_I32, HG_F32): CAST_LOOP(int32_t, float, hg_ew_cast_INT_FLOAT); break;
    case PAIR(HG_I32, HG_F64): CAST_LOOP(int32_t, double, hg_ew_cast_INT_FLOAT); break;
    case PAIR(HG_I32, HG_BOOL): CAST_LOOP(int32_t, uint8_t, hg_ew_cast_INT_BOOL); break;
    case PAIR(HG_BOOL, HG_F32): CAST_LOOP(uint8_t, float, hg_ew_cast_BOOL_FLOAT); break;
    case PAIR(HG_BOOL, HG_F64): CAST_LOOP(uint8_t, double, hg_ew_cast_BOOL_FLOAT); break;
    case PAIR(HG_BOOL, HG_I32): CAST_LOOP(uint8_t, int32_t, hg_ew_cast_BOOL_INT); break;
    default:
        return hg_error(HG_ERR_UNSUPPORTED, "cast from %s to %s", hg_dtype_name(st), hg_dtype_name(dt));
    }
#undef PAIR
    return hg_ok();
}
#undef CAST_LOOP

hg_status hg_ref_shape(const hg_node *n, const hg_tensor *const *in,
                       hg_tensor *out) {
    switch (n->op) {
    case HG_OP_reshape:
    case HG_OP_stop_gradient:
        memcpy(out->data, in[0]->data, hg_tensor_bytes(out));
        return hg_ok();
    case HG_OP_transpose: return transpose(n, in[0], out);
    case HG_OP_broadcast_to: return broadcast_to(in[0], out);
    case HG_OP_slice: return slice(n, in[0], out);
    case HG_OP_concat: return concat(n, in, out);
    case HG_OP_pad: return pad(n, in[0], out);
    case HG_OP_gather: return gather(n, in[0], in[1], out);
    case HG_OP_scatter_add:
    case HG_OP_scatter_max: return scatter(n, in[0], in[1], out);
    case HG_OP_iota: return iota(n, out);
    case HG_OP_cast: return cast(in[0], out);
    default:
        return hg_error(HG_ERR_INVALID, "not a shape op");
    }
}
