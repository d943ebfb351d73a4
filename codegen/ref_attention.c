/* Reference kernels of attention_lse and attention_grad (ir/ir.h op list):
 * obviously correct and materialising, the oracle of the fused kernels
 * (codegen/attention_fused.c, tests/test_attention_fused.c).
 *
 * Per (batch, head), in double whatever the dtype: logits
 * S = scale Q K^T with masked entries (mask == 0) set to the most negative
 * finite value of the dtype, exactly as the attention op defines them
 * (codegen/ref_composite.c), P = softmax(S) over keys (so a fully masked
 * row is uniform, 1/Nk). Then
 *   attention_lse   lse_i = m_i + log sum_j exp(S_ij - m_i), m_i = max_j S_ij,
 *                   or -inf for a fully masked row (the op's definition);
 *   attention_grad  dV = P^T dO; dP = dO V^T; dS = P (dP - rowsum(dP P)),
 *                   0 where masked; dQ = scale dS K; dK = scale dS^T Q.
 * attention_grad recomputes P from q, k and the mask: it reads neither o
 * nor lse (inputs 4, 5), so it checks the fused kernels' use of them
 * independently. Each output is rounded once to the dtype. Scratch: two
 * [Nq, Nk] doubles per thread; OpenMP over batch * heads. */
#include "codegen/ref_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

void hg_ref_mask_strides(hg_shape ms, int64_t *st) {
    int64_t mst[HG_MAX_RANK];
    hg_ref_strides(ms, mst);
    for (int d = 0; d < 4; d++) {
        int id = d - (4 - ms.rank);
        st[d] = (id >= 0 && ms.dim[id] != 1) ? mst[id] : 0;
    }
}

static double at(const hg_tensor *t, int64_t i) {
    return t->dtype == HG_F32 ? (double)((const float *)t->data)[i]
                              : ((const double *)t->data)[i];
}

static void put(hg_tensor *t, int64_t i, double x) {
    if (t->dtype == HG_F32) ((float *)t->data)[i] = (float)x;
    else ((double *)t->data)[i] = x;
}

typedef struct {
    int64_t B, H, Nq, Nk, D, Dv, mst[4];
    double scale, lowest;
} dims;

/* P (and the keep flags) of head bh into p[Nq * Nk], keep[Nq * Nk];
 * lse[Nq] if non-NULL. */
static void probs(const dims *d, const hg_tensor *const *in, int64_t bh, double *p, char *keep,
                  double *lse) {
    const hg_tensor *q = in[0], *k = in[1], *mask = in[3];
    int64_t b = bh / d->H, h = bh % d->H;
    for (int64_t i = 0; i < d->Nq; i++) {
        double *row = p + i * d->Nk, m = -INFINITY;
        int any = 0;
        for (int64_t j = 0; j < d->Nk; j++) {
            int64_t mi = b * d->mst[0] + h * d->mst[1] + i * d->mst[2] + j * d->mst[3];
            keep[i * d->Nk + j] = at(mask, mi) != 0;
            double s = d->lowest;
            if (keep[i * d->Nk + j]) {
                s = 0;
                for (int64_t c = 0; c < d->D; c++)
                    s += at(q, (bh * d->Nq + i) * d->D + c) * at(k, (bh * d->Nk + j) * d->D + c);
                s *= d->scale;
                any = 1;
            }
            row[j] = s;
            if (s > m) m = s;
        }
        double sum = 0;
        for (int64_t j = 0; j < d->Nk; j++) sum += exp(row[j] - m);
        for (int64_t j = 0; j < d->Nk; j++) row[j] = exp(row[j] - m) / sum;
        if (lse) lse[i] = any ? m + log(sum) : -INFINITY;
    }
}

static void grad_head(const dims *d, const hg_tensor *const *in, int axis, int64_t bh,
                      const double *p, const char *keep, double *ds, hg_tensor *out) {
    const hg_tensor *q = in[0], *k = in[1], *v = in[2], *dout = in[6];
    int64_t Nq = d->Nq, Nk = d->Nk;
    if (axis == 2) { /* dV[j, c] = sum_i P_ij dO_ic */
        for (int64_t j = 0; j < Nk; j++)
            for (int64_t c = 0; c < d->Dv; c++) {
                double acc = 0;
                for (int64_t i = 0; i < Nq; i++)
                    acc += p[i * Nk + j] * at(dout, (bh * Nq + i) * d->Dv + c);
                put(out, (bh * Nk + j) * d->Dv + c, acc);
            }
        return;
    }
    for (int64_t i = 0; i < Nq; i++) {
        double rs = 0;
        for (int64_t j = 0; j < Nk; j++) {
            double dp = 0;
            for (int64_t c = 0; c < d->Dv; c++)
                dp += at(dout, (bh * Nq + i) * d->Dv + c) * at(v, (bh * Nk + j) * d->Dv + c);
            ds[i * Nk + j] = dp;
            rs += dp * p[i * Nk + j];
        }
        for (int64_t j = 0; j < Nk; j++)
            ds[i * Nk + j] = keep[i * Nk + j] ? p[i * Nk + j] * (ds[i * Nk + j] - rs) : 0;
    }
    if (axis == 0) { /* dQ[i, c] = scale sum_j dS_ij K_jc */
        for (int64_t i = 0; i < Nq; i++)
            for (int64_t c = 0; c < d->D; c++) {
                double acc = 0;
                for (int64_t j = 0; j < Nk; j++) acc += ds[i * Nk + j] * at(k, (bh * Nk + j) * d->D + c);
                put(out, (bh * Nq + i) * d->D + c, d->scale * acc);
            }
    } else { /* dK[j, c] = scale sum_i dS_ij Q_ic */
        for (int64_t j = 0; j < Nk; j++)
            for (int64_t c = 0; c < d->D; c++) {
                double acc = 0;
                for (int64_t i = 0; i < Nq; i++) acc += ds[i * Nk + j] * at(q, (bh * Nq + i) * d->D + c);
                put(out, (bh * Nk + j) * d->D + c, d->scale * acc);
            }
    }
}

hg_status hg_ref_attention_aux(const hg_node *n, const hg_tensor *const *in, hg_tensor *out) {
    hg_dtype t = out->dtype;
    if (!hg_dtype_is_float(t))
        return hg_error(HG_ERR_UNSUPPORTED, "%s of %s", hg_op_table[n->op].name,
                        hg_dtype_name(t));
    for (int i = 0; i < n->n_in; i++)
        if (in[i]->dtype != t)
            return hg_error(HG_ERR_UNSUPPORTED, "%s dtypes must all be %s",
                            hg_op_table[n->op].name, hg_dtype_name(t));
    dims d = {in[0]->shape.dim[0], in[0]->shape.dim[1], in[0]->shape.dim[2],
              in[1]->shape.dim[2], in[0]->shape.dim[3], in[2]->shape.dim[3], {0},
              n->attrs.scale, t == HG_F32 ? -(double)FLT_MAX : -DBL_MAX};
    hg_ref_mask_strides(in[3]->shape, d.mst);
    int64_t nbh = d.B * d.H;
    int lse_op = n->op == HG_OP_attention_lse, axis = n->attrs.axis, failed = 0;
    if (nbh * d.Nq * d.Nk == 0) return hg_ok(); /* zero-filled output */
#pragma omp parallel
    {
        size_t nn = (size_t)(d.Nq * d.Nk);
        double *p = malloc(nn * sizeof *p), *ds = malloc(nn * sizeof *ds);
        double *lse = malloc((size_t)d.Nq * sizeof *lse);
        char *keep = malloc(nn);
        if (!p || !ds || !lse || !keep) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t bh = 0; bh < nbh; bh++) {
            if (!p || !ds || !lse || !keep) continue;
            probs(&d, in, bh, p, keep, lse_op ? lse : NULL);
            if (lse_op)
                for (int64_t i = 0; i < d.Nq; i++) put(out, bh * d.Nq + i, lse[i]);
            else
                grad_head(&d, in, axis, bh, p, keep, ds, out);
        }
        free(p);
        free(ds);
        free(lse);
        free(keep);
    }
    return failed ? hg_error(HG_ERR_NOMEM, "%s scratch", hg_op_table[n->op].name) : hg_ok();
}
