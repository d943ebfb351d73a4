/* Reference kernels of the reductions sum, mean, max (ir.h op table):
 * attrs.axes[naxes] (naxes = 0: all axes), attrs.keepdims. Empty
 * reduction: sum 0, mean NaN (0/0), max -inf (i32: INT32_MIN).
 *
 * Each output element accumulates its inputs in ascending input order in a
 * double (int64 for i32) accumulator, rounded once to the dtype at the
 * end; max propagates NaN. The input is viewed as [outer..., reduced...]
 * after a transposition of indices, so every output element is one
 * independent sequential loop (OpenMP over output elements). */
#include "codegen/ref_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

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
#pragma omp parallel for schedule(static) if (n_out > 64)
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
