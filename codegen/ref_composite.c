/* Reference kernels of the composite ops (ir.h op table): layer_norm,
 * softmax (both over the last axis) and attention.
 *
 * layer_norm: two passes per row in double: mean, then the population
 * variance of (x - mean); y = (x - mean) / sqrt(var + eps).
 * softmax: max-shifted, exp and sum in double: y = exp(x - m) / sum. A row
 * of all -inf (or containing +inf or NaN) gives NaN, as in numpy.
 * attention: per (batch, head), logits S = (Q K^T) * scale in the dtype
 * (hg_ref_gemm: ascending-k sums), masked entries (mask == 0) set to the
 * most negative finite value of the dtype, softmax over keys (exp in the
 * dtype, sum in double), O = P V. A fully masked query row therefore has
 * all logits equal and gets uniform weights: its output is the mean of V
 * over all keys. Only one [Nq, Nk] block per (batch, head) exists at a
 * time (one per thread); OpenMP over batch * heads. */
#include "codegen/ref_internal.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int64_t last_dim(const hg_tensor *t) {
    return t->shape.rank ? t->shape.dim[t->shape.rank - 1] : 1;
}

/* Row kernels typed per dtype: values are widened to double as they are
 * read, every sum runs in ascending j in double, each output is rounded
 * once to T. The softmax's last pass divides the stored (rounded) exp. */
#define DEF_ROWS(T, SUF)                                                      \
    static void layer_norm_rows_##SUF(const T *x, T *y, int64_t rows,         \
                                      int64_t C, double eps) {                \
        _Pragma("omp parallel for schedule(static) if (rows * C > 32768)")    \
        for (int64_t r = 0; r < rows; r++) {                                  \
            const T *xr = x + r * C;                                          \
            T *yr = y + r * C;                                                \
            double mean = 0, var = 0;                                         \
            for (int64_t j = 0; j < C; j++) mean += (double)xr[j];            \
            mean /= (double)C;                                                \
            for (int64_t j = 0; j < C; j++) {                                 \
                double d = (double)xr[j] - mean;                              \
                var += d * d;                                                 \
            }                                                                 \
            var /= (double)C;                                                 \
            double inv = 1.0 / sqrt(var + eps);                               \
            for (int64_t j = 0; j < C; j++)                                   \
                yr[j] = (T)(((double)xr[j] - mean) * inv);                    \
        }                                                                     \
    }                                                                         \
    static void softmax_rows_##SUF(const T *x, T *y, int64_t rows,            \
                                   int64_t C) {                               \
        _Pragma("omp parallel for schedule(static) if (rows * C > 32768)")    \
        for (int64_t r = 0; r < rows; r++) {                                  \
            const T *xr = x + r * C;                                          \
            T *yr = y + r * C;                                                \
            double m = -INFINITY, sum = 0;                                    \
            for (int64_t j = 0; j < C; j++) {                                 \
                double v = (double)xr[j];                                     \
                if (v > m || isnan(v)) m = isnan(m) ? m : v;                  \
            }                                                                 \
            for (int64_t j = 0; j < C; j++) {                                 \
                double e = exp((double)xr[j] - m);                            \
                yr[j] = (T)e;                                                 \
                sum += e;                                                     \
            }                                                                 \
            for (int64_t j = 0; j < C; j++)                                   \
                yr[j] = (T)((double)yr[j] / sum);                             \
        }                                                                     \
    }
DEF_ROWS(float, f32)
DEF_ROWS(double, f64)
#undef DEF_ROWS

static hg_status layer_norm(const hg_node *n, const hg_tensor *x, hg_tensor *out) {
    int64_t C = last_dim(x), total = hg_shape_numel(x->shape);
    if (C == 0 || total == 0) return hg_ok();
    if (x->dtype == HG_F32)
        layer_norm_rows_f32(x->data, out->data, total / C, C, n->attrs.eps);
    else
        layer_norm_rows_f64(x->data, out->data, total / C, C, n->attrs.eps);
    return hg_ok();
}

static hg_status softmax(const hg_tensor *x, hg_tensor *out) {
    int64_t C = last_dim(x), total = hg_shape_numel(x->shape);
    if (C == 0 || total == 0) return hg_ok();
    if (x->dtype == HG_F32)
        softmax_rows_f32(x->data, out->data, total / C, C);
    else
        softmax_rows_f64(x->data, out->data, total / C, C);
    return hg_ok();
}

/* Softmax of one row of logits in place; the exp in the dtype. */
static void softmax_row_f32(float *s, int64_t n) {
    float m = -FLT_MAX;
    int nan = 0;
    for (int64_t j = 0; j < n; j++) {
        if (s[j] > m) m = s[j];
        if (s[j] != s[j]) nan = 1;
    }
    double sum = 0;
    for (int64_t j = 0; j < n; j++) {
        s[j] = expf(s[j] - m);
        sum += s[j];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < n; j++) s[j] = nan ? NAN : s[j] * inv;
}

static void softmax_row_f64(double *s, int64_t n) {
    double m = -DBL_MAX;
    int nan = 0;
    for (int64_t j = 0; j < n; j++) {
        if (s[j] > m) m = s[j];
        if (s[j] != s[j]) nan = 1;
    }
    double sum = 0;
    for (int64_t j = 0; j < n; j++) {
        s[j] = exp(s[j] - m);
        sum += s[j];
    }
    double inv = 1.0 / sum;
    for (int64_t j = 0; j < n; j++) s[j] = nan ? NAN : s[j] * inv;
}

static hg_status attention(const hg_node *n, const hg_tensor *const *in,
                           hg_tensor *out) {
    const hg_tensor *q = in[0], *k = in[1], *v = in[2], *mask = in[3];
    hg_dtype t = out->dtype;
    if (q->shape.rank != 4 || k->shape.rank != 4 || v->shape.rank != 4 ||
        mask->shape.rank > 4)
        return hg_error(HG_ERR_INVALID, "attention needs rank-4 q, k, v");
    if (k->dtype != t || v->dtype != t || mask->dtype != t || q->dtype != t)
        return hg_error(HG_ERR_UNSUPPORTED, "attention dtypes must all be %s",
                        hg_dtype_name(t));
    int64_t B = q->shape.dim[0], H = q->shape.dim[1], Nq = q->shape.dim[2],
            D = q->shape.dim[3], Nk = k->shape.dim[2], Dv = v->shape.dim[3];
    if (B * H * Nq * Dv == 0) return hg_ok();
    int64_t mst[4];
    hg_ref_mask_strides(mask->shape, mst);
    size_t es = hg_dtype_size(t);
    double scale = n->attrs.scale;
    int64_t nbh = B * H;
    int failed = 0;
#pragma omp parallel
    {
        /* per-thread scratch: K^T [D, Nk] and logits [Nq, Nk] */
        char *kt = malloc((size_t)(D * Nk + 1) * es);
        char *s = malloc((size_t)(Nq * Nk + 1) * es);
        if (!kt || !s) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t bh = 0; bh < nbh; bh++) {
            if (!kt || !s) continue;
            int64_t b = bh / H, h = bh % H;
            const char *qp = (const char *)q->data + (size_t)(bh * Nq * D) * es;
            const char *kp = (const char *)k->data + (size_t)(bh * Nk * D) * es;
            const char *vp = (const char *)v->data + (size_t)(bh * Nk * Dv) * es;
            char *op = (char *)out->data + (size_t)(bh * Nq * Dv) * es;
            for (int64_t j = 0; j < Nk; j++)
                for (int64_t d = 0; d < D; d++)
                    memcpy(kt + (size_t)(d * Nk + j) * es,
                           kp + (size_t)(j * D + d) * es, es);
            memset(s, 0, (size_t)(Nq * Nk) * es);
            if (t == HG_F32)
                hg_ref_gemm_f32(Nq, Nk, D, (const float *)qp, D, 1,
                                (const float *)kt, (float *)s);
            else
                hg_ref_gemm_f64(Nq, Nk, D, (const double *)qp, D, 1,
                                (const double *)kt, (double *)s);
            int64_t mo = b * mst[0] + h * mst[1];
            for (int64_t i = 0; i < Nq; i++) {
                const char *mrow = (const char *)mask->data +
                                   (size_t)(mo + i * mst[2]) * es;
                if (t == HG_F32) {
                    float *row = (float *)s + i * Nk, sc = (float)scale;
                    const float *mr = (const float *)mrow;
                    for (int64_t j = 0; j < Nk; j++)
                        row[j] = mr[j * mst[3]] != 0 ? row[j] * sc : -FLT_MAX;
                    softmax_row_f32(row, Nk);
                } else {
                    double *row = (double *)s + i * Nk;
                    const double *mr = (const double *)mrow;
                    for (int64_t j = 0; j < Nk; j++)
                        row[j] = mr[j * mst[3]] != 0 ? row[j] * scale : -DBL_MAX;
                    softmax_row_f64(row, Nk);
                }
            }
            if (t == HG_F32)
                hg_ref_gemm_f32(Nq, Dv, Nk, (const float *)s, Nk, 1,
                                (const float *)vp, (float *)op);
            else
                hg_ref_gemm_f64(Nq, Dv, Nk, (const double *)s, Nk, 1,
                                (const double *)vp, (double *)op);
        }
        free(kt);
        free(s);
    }
    if (failed) return hg_error(HG_ERR_NOMEM, "attention scratch");
    return hg_ok();
}

hg_status hg_ref_composite(const hg_node *n, const hg_tensor *const *in,
                           hg_tensor *out) {
    if (!hg_dtype_is_float(out->dtype))
        return hg_error(HG_ERR_UNSUPPORTED, "%s of %s",
                        hg_op_table[n->op].name, hg_dtype_name(out->dtype));
    switch (n->op) {
    case HG_OP_layer_norm: return layer_norm(n, in[0], out);
    case HG_OP_softmax: return softmax(in[0], out);
    case HG_OP_attention: return attention(n, in, out);
    default: return hg_error(HG_ERR_INVALID, "not a composite op");
    }
}
