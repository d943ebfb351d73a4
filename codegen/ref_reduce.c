/* Reference kernels of the reductions sum, mean, max (ir.h op table):
 * attrs.axes[naxes] (naxes = 0: all axes), attrs.keepdims. Empty
 * reduction: sum 0, mean NaN (0/0), max -inf (i32: INT32_MIN).
 *
 * Each output element accumulates its inputs in ascending input order in a
 * double (int64 for i32) accumulator, rounded once to the dtype at the
 * end; max propagates NaN. The input is viewed as [outer..., reduced...]
 * after a transposition of indices, so every output element is one
 * independent sequential loop (OpenMP over output elements). Float fast
 * paths (same sums, same order): trailing reduced dims read each output's
 * inputs as one contiguous run; a kept innermost dim accumulates a block of
 * neighbouring outputs at once (contiguous loads). */
#include "codegen/ref_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define LB 256 /* outputs per block in the column kernel */

/* acc <- acc op v for sum/mean (ascending adds) and max (NaN sticks). */
#define ACC(op, acc, v)                                                       \
    do {                                                                      \
        if (op == HG_OP_max) {                                                \
            if ((v) > (acc) || isnan(v)) (acc) = isnan(acc) ? (acc) : (v);    \
        } else {                                                              \
            (acc) += (v);                                                     \
        }                                                                     \
    } while (0)

/* Fast paths for floats, same sums in the same order as the generic loop:
 * contig: output o reduces x[o * n_red + j], j ascending;
 * column: the innermost input dim is kept, so LB neighbouring outputs
 * (along it) are accumulated together, each in its own double, while the
 * reduced index advances in ascending input order. */
#define DEF_FAST(T, SUF)                                                      \
    static void contig_##SUF(hg_op op, const T *x, T *y, int64_t n_out,      \
                             int64_t n_red) {                                 \
        _Pragma("omp parallel for schedule(static) if (n_out > 1 && n_out * n_red > 32768)") \
        for (int64_t o = 0; o < n_out; o++) {                                 \
            const T *p = x + o * n_red;                                       \
            double acc = op == HG_OP_max ? -INFINITY : 0.0;                   \
            for (int64_t j = 0; j < n_red; j++) {                             \
                double v = (double)p[j];                                      \
                ACC(op, acc, v);                                              \
            }                                                                 \
            if (op == HG_OP_mean) acc = acc / (double)n_red;                  \
            y[o] = (T)acc;                                                    \
        }                                                                     \
    }                                                                         \
    static void column_##SUF(hg_op op, const T *x, T *y, int no,             \
                             const int64_t *odim, const int64_t *ost, int nr, \
                             const int64_t *rdim, const int64_t *rst,         \
                             int64_t n_out, int64_t n_red) {                  \
        int64_t L = odim[no - 1], nq = n_out / L;                             \
        int64_t nlb = (L + LB - 1) / LB, units = nq * nlb;                    \
        _Pragma("omp parallel for schedule(static) if (units > 1 && n_out * n_red > 32768)") \
        for (int64_t u = 0; u < units; u++) {                                 \
            int64_t q = u / nlb, l0 = (u % nlb) * LB;                         \
            int64_t len = L - l0 < LB ? L - l0 : LB;                          \
            int64_t off = l0, rem = q;                                        \
            for (int d = no - 2; d >= 0; d--) {                               \
                off += (rem % odim[d]) * ost[d];                              \
                rem /= odim[d];                                               \
            }                                                                 \
            double acc[LB];                                                   \
            for (int64_t l = 0; l < len; l++)                                 \
                acc[l] = op == HG_OP_max ? -INFINITY : 0.0;                   \
            int64_t idx[HG_MAX_RANK] = {0};                                   \
            for (int64_t j = 0; j < n_red; j++) {                             \
                const T *p = x + off;                                         \
                if (op == HG_OP_max) {                                        \
                    for (int64_t l = 0; l < len; l++) {                       \
                        double v = (double)p[l];                              \
                        ACC(HG_OP_max, acc[l], v);                            \
                    }                                                         \
                } else {                                                      \
                    for (int64_t l = 0; l < len; l++) acc[l] += (double)p[l]; \
                }                                                             \
                for (int d = nr - 1; d >= 0; d--) {                           \
                    off += rst[d];                                            \
                    if (++idx[d] < rdim[d]) break;                            \
                    off -= rdim[d] * rst[d];                                  \
                    idx[d] = 0;                                               \
                }                                                             \
            }                                                                 \
            T *yo = y + q * L + l0;                                           \
            for (int64_t l = 0; l < len; l++)                                 \
                yo[l] = (T)(op == HG_OP_mean ? acc[l] / (double)n_red         \
                                             : acc[l]);                       \
        }                                                                     \
    }
DEF_FAST(float, f32)
DEF_FAST(double, f64)
#undef DEF_FAST

hg_status hg_ref_reduce(const hg_node *n, const hg_tensor *const *in,
                        hg_tensor *out) {
    const hg_tensor *x = in[0];
    hg_dtype t = x->dtype;
    if (!(hg_dtype_is_float(t) || (t == HG_I32 && n->op != HG_OP_mean)))
        return hg_error(HG_ERR_UNSUPPORTED, "%s of %s",
                        hg_op_table[n->op].name, hg_dtype_name(t));
    int r = x->shape.rank;
    int red[HG_MAX_RANK] = {0};
    if (n->attrs.naxes == 0) {
        for (int d = 0; d < r; d++) red[d] = 1;
    } else {
        for (int i = 0; i < n->attrs.naxes; i++) {
            int64_t a = n->attrs.axes[i];
            if (a < 0) a += r;
            if (a < 0 || a >= r)
                return hg_error(HG_ERR_INVALID, "axis %lld out of range",
                                (long long)n->attrs.axes[i]);
            red[a] = 1;
        }
    }
    int64_t xst[HG_MAX_RANK];
    hg_ref_strides(x->shape, xst);
    /* kept dims (outer, in order) and reduced dims (inner, in order) */
    int64_t odim[HG_MAX_RANK], ost[HG_MAX_RANK], rdim[HG_MAX_RANK], rst[HG_MAX_RANK];
    int no = 0, nr = 0;
    int64_t n_out = 1, n_red = 1;
    for (int d = 0; d < r; d++) {
        if (red[d]) {
            rdim[nr] = x->shape.dim[d];
            rst[nr++] = xst[d];
            n_red *= x->shape.dim[d];
        } else {
            odim[no] = x->shape.dim[d];
            ost[no++] = xst[d];
            n_out *= x->shape.dim[d];
        }
    }
    hg_op op = n->op;
    if (t != HG_I32 && n_out > 0 && n_red > 0) {
        /* trailing reduced dims: each output is one contiguous run */
        int trailing = 1;
        for (int d = 0; d < r; d++)
            if (red[d] && d + nr < r) trailing = 0; /* reduced dim not at the end */
        for (int d = r - nr; d < r; d++)
            if (!red[d]) trailing = 0;
        if (trailing || nr == 0) {
            if (t == HG_F32) contig_f32(op, x->data, out->data, n_out, n_red);
            else contig_f64(op, x->data, out->data, n_out, n_red);
            return hg_ok();
        }
        if (!red[r - 1]) { /* innermost dim kept: blocks of outputs at once */
            if (t == HG_F32)
                column_f32(op, x->data, out->data, no, odim, ost, nr, rdim,
                           rst, n_out, n_red);
            else
                column_f64(op, x->data, out->data, no, odim, ost, nr, rdim,
                           rst, n_out, n_red);
            return hg_ok();
        }
    }
#pragma omp parallel for schedule(static) if (n_out > 64 && n_out * n_red > 32768)
    for (int64_t o = 0; o < n_out; o++) {
        int64_t base = 0, rem = o;
        for (int d = no - 1; d >= 0; d--) {
            base += (rem % odim[d]) * ost[d];
            rem /= odim[d];
        }
        int64_t idx[HG_MAX_RANK] = {0};
        int64_t off = base;
        double acc = op == HG_OP_max ? -INFINITY : 0.0;
        int64_t iacc = op == HG_OP_max ? INT32_MIN : 0;
        for (int64_t j = 0; j < n_red; j++) {
            if (t == HG_I32) {
                int64_t v = ((const int32_t *)x->data)[off];
                if (op == HG_OP_max) iacc = v > iacc ? v : iacc;
                else iacc += v;
            } else {
                double v = t == HG_F32 ? ((const float *)x->data)[off]
                                       : ((const double *)x->data)[off];
                if (op == HG_OP_max) {
                    if (v > acc || isnan(v)) acc = isnan(acc) ? acc : v;
                } else {
                    acc += v;
                }
            }
            /* next reduced index */
            for (int d = nr - 1; d >= 0; d--) {
                off += rst[d];
                if (++idx[d] < rdim[d]) break;
                off -= rdim[d] * rst[d];
                idx[d] = 0;
            }
        }
        if (op == HG_OP_mean) acc = acc / (double)n_red;
        if (t == HG_F32) ((float *)out->data)[o] = (float)acc;
        else if (t == HG_F64) ((double *)out->data)[o] = acc;
        else ((int32_t *)out->data)[o] = (int32_t)(uint32_t)(uint64_t)iacc;
    }
    return hg_ok();
}
