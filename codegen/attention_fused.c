/* Fused attention forward and backward in O(N) memory (FlashAttention-2,
 * Dao 2023, Algorithms 1 and 2), f32, for the fast backend and what builds
 * on it (codegen/fast_internal.h; DESIGN.md "Key decisions: multi-output").
 *
 * Two implementations of the same algorithm: on a host with AVX-512F
 * (head dims multiples of 16 up to 64) the register-blocked tile kernels
 * of codegen/attention_tile.c; otherwise, or with HG_ATTENTION_PORTABLE=1
 * in the environment, the portable path below. Portable path: per (batch,
 * head), query rows in tiles of BQ and keys in tiles of BK: the tile
 * products are oneDNN sgemm calls (row-major), the online softmax of a
 * tile is a vectorised row loop (target_clones: AVX-512 where the host
 * has it, AVX2 or baseline otherwise; exp by a degree-6 polynomial).
 * No [Nq, Nk] matrix exists: per thread two [BQ, BK] tiles and O(Nq)
 * row statistics per head.
 *
 * Forward: for each query tile, running max m and sum l per row; for
 * each key tile S = scale Q K^T, masked entries excluded, m' = max(m,
 * rowmax S), P = exp(S - m'), l = exp(m - m') l + rowsum P, O = exp(m -
 * m') O + P V; at the end O /= l and lse = m + log l.
 * Backward: D = rowsum(dO * O); for each key tile (outer) and query tile
 * (inner): P = exp(S - lse) recomputed, dV += P^T dO, dP = dO V^T,
 * dS = P (dP - D) (0 where masked), dQ += scale dS K, dK += scale dS^T Q.
 *
 * Fully masked query rows keep the op's definition exactly: the attention
 * op sets masked logits to the most negative finite value, so such a row
 * has equal logits and uniform weights 1/Nk: O is the mean of V over all
 * keys, lse is -inf (attention_lse's flag), the row adds dO / Nk to every
 * dV row and nothing to dQ and dK (its logits are constant).
 *
 * Threads: OpenMP over batch * heads (dynamic); a head is computed by one
 * thread in a fixed order, and oneDNN runs sgemm single-threaded inside
 * the parallel region, so the results do not depend on the thread count
 * (tests/test_attention_fused.c checks 1 vs 2 threads bit for bit). No
 * atomics: dQ of a head accumulates over key tiles in ascending order,
 * dK and dV rows of a key tile are owned by the key loop. */
#include "codegen/attention_internal.h"
#include "codegen/fast_internal.h"
#include "codegen/ref_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BQ = 128, BK = 128 };

typedef hg_attn attn;

/* ------------------------------------------------------------ row math */

/* exp(x) in f32 for x <= 88 (the polynomial of attention_internal.h);
 * 0 below HG_EXP_LO (and for x = -inf). Relative error ~2 ulp.
 * Branch-free, so the row loops below vectorise. */
static inline float exp_f(float x) {
    float xc = x < HG_EXP_LO ? HG_EXP_LO : (x > HG_EXP_HI ? HG_EXP_HI : x);
    float fn = (xc * HG_EXP_LOG2E + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = xc - fn * HG_EXP_LN2_HI - fn * HG_EXP_LN2_LO;
    float p = HG_EXP_P0;
    p = p * r + HG_EXP_P1;
    p = p * r + HG_EXP_P2;
    p = p * r + HG_EXP_P3;
    p = p * r + HG_EXP_P4;
    p = p * r + HG_EXP_P5;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)fn + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return x < HG_EXP_LO ? 0.0f : p * two_n;
}

/* One row of a forward tile: s[0:nc] holds q.k (unscaled); mk[j * ms] the
 * mask. Updates the row's running max *m and sum *l, leaves P in s and
 * returns the factor exp(m_old - m_new) for the row's accumulated O. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static float fwd_row(float *restrict s, int64_t nc, const float *restrict mk, int64_t ms,
                     float scale, float *m, float *l) {
    float mx = *m;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < nc; j++) {
        float x = mk[j * ms] != 0.0f ? s[j] * scale : -INFINITY;
        s[j] = x;
        mx = x > mx ? x : mx;
    }
    if (mx == -INFINITY) { /* no key kept so far */
        for (int64_t j = 0; j < nc; j++) s[j] = 0.0f;
        return 1.0f;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < nc; j++) {
        float p = exp_f(s[j] - mx);
        s[j] = p;
        sum += p;
    }
    float alpha = exp_f(*m - mx);
    *l = alpha * *l + sum;
    *m = mx;
    return alpha;
}

/* One row of a backward tile: s holds scale q.k, dp (if non-NULL) dO.V;
 * P = exp(s - lse) (1/Nk for a fully masked row, lse = -inf) into s, and
 * dS = P (dP - d) (0 where masked or the row is fully masked) into dp. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void bwd_row(float *restrict s, float *restrict dp, int64_t nc, const float *restrict mk,
                    int64_t ms, float lse, float d, float uniform) {
    if (lse == -INFINITY) {
        for (int64_t j = 0; j < nc; j++) s[j] = uniform;
        if (dp)
            for (int64_t j = 0; j < nc; j++) dp[j] = 0.0f;
        return;
    }
#pragma omp simd
    for (int64_t j = 0; j < nc; j++) {
        int keep = mk[j * ms] != 0.0f;
        float p = keep ? exp_f(s[j] - lse) : 0.0f;
        s[j] = p;
        if (dp) dp[j] = keep ? p * (dp[j] - d) : 0.0f;
    }
}

/* C = alpha op(A) op(B) + beta C, row-major (dnnl_sgemm). */
static int gemm(char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return 0;
    if (K == 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return 0;
    }
    return dnnl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) != dnnl_success;
}

void hg_attn_fwd_begin(const attn *a, int64_t nr, float *m, float *l, float *acc) {
    for (int64_t i = 0; i < nr; i++) m[i] = -INFINITY, l[i] = 0.0f;
    if (a->out_o) memset(acc, 0, (size_t)(nr * a->Dv) * sizeof *acc);
}

void hg_attn_fwd_end(const attn *a, int64_t bh, int64_t i0, int64_t nr, const float *m,
                     const float *l, const float *acc) {
    int64_t Dv = a->Dv, Nk = a->Nk;
    const float *V = a->v + bh * Nk * Dv;
    for (int64_t i = 0; i < nr; i++) {
        int masked = l[i] == 0.0f; /* no key kept: uniform weights */
        if (a->out_lse) a->out_lse[bh * a->Nq + i0 + i] = masked ? -INFINITY : m[i] + logf(l[i]);
        if (!a->out_o) continue;
        float *o = a->out_o + (bh * a->Nq + i0 + i) * Dv;
        for (int64_t c = 0; c < Dv; c++) {
            if (!masked) {
                o[c] = acc[i * Dv + c] / l[i];
                continue;
            }
            double sum = 0; /* mean of V over all keys */
            for (int64_t j = 0; j < Nk; j++) sum += V[j * Dv + c];
            o[c] = Nk ? (float)(sum / (double)Nk) : 0.0f;
        }
    }
}

/* ------------------------------------------------------------ forward */

/* Head bh: out_o (if set) and out_lse (if set). s: [BQ * BK] scratch;
 * acc: [BQ * Dv]; m, l: [BQ]. Returns nonzero on a oneDNN failure. */
static int fwd_head(const attn *a, int64_t bh, float *s, float *acc, float *m, float *l) {
    int64_t b = bh / a->H, h = bh % a->H, D = a->D, Dv = a->Dv, Nk = a->Nk;
    const float *Q = a->q + bh * a->Nq * D, *K = a->k + bh * Nk * D, *V = a->v + bh * Nk * Dv;
    int err = 0;
    for (int64_t i0 = 0; i0 < a->Nq; i0 += BQ) {
        int64_t nr = a->Nq - i0 < BQ ? a->Nq - i0 : BQ;
        hg_attn_fwd_begin(a, nr, m, l, acc);
        for (int64_t j0 = 0; j0 < Nk; j0 += BK) {
            int64_t nc = Nk - j0 < BK ? Nk - j0 : BK;
            err |= gemm('N', 'T', nr, nc, D, 1.0f, Q + i0 * D, D, K + j0 * D, D, 0.0f, s, nc);
            for (int64_t i = 0; i < nr; i++) {
                float alpha = fwd_row(s + i * nc, nc, hg_attn_mask_row(a, b, h, i0 + i) + j0 * a->mst[3],
                                      a->mst[3], a->scale, &m[i], &l[i]);
                if (a->out_o && alpha != 1.0f)
                    for (int64_t c = 0; c < Dv; c++) acc[i * Dv + c] *= alpha;
            }
            if (a->out_o) err |= gemm('N', 'N', nr, Dv, nc, 1.0f, s, nc, V + j0 * Dv, Dv, 1.0f, acc, Dv);
        }
        hg_attn_fwd_end(a, bh, i0, nr, m, l, acc);
    }
    return err;
}

/* ----------------------------------------------------------- backward */

/* Head bh: dq, dk, dv (those set). s, dp: [BQ * BK]; drow: [Nq]. */
static int bwd_head(const attn *a, int64_t bh, float *s, float *dp, float *drow) {
    int64_t b = bh / a->H, h = bh % a->H, D = a->D, Dv = a->Dv, Nq = a->Nq, Nk = a->Nk;
    const float *Q = a->q + bh * Nq * D, *K = a->k + bh * Nk * D, *V = a->v + bh * Nk * Dv;
    const float *O = a->o + bh * Nq * Dv, *dO = a->dout + bh * Nq * Dv, *lse = a->lse + bh * Nq;
    float *dQ = a->dq ? a->dq + bh * Nq * D : NULL, *dK = a->dk ? a->dk + bh * Nk * D : NULL;
    float *dV = a->dv ? a->dv + bh * Nk * Dv : NULL;
    int need_ds = dQ || dK, err = 0;
    float uniform = Nk ? 1.0f / (float)Nk : 0.0f;
    for (int64_t i = 0; i < Nq; i++) {
        float d = 0.0f;
#pragma omp simd reduction(+ : d)
        for (int64_t c = 0; c < Dv; c++) d += dO[i * Dv + c] * O[i * Dv + c];
        drow[i] = d;
    }
    if (dQ) memset(dQ, 0, (size_t)(Nq * D) * sizeof *dQ);
    if (dK) memset(dK, 0, (size_t)(Nk * D) * sizeof *dK);
    if (dV) memset(dV, 0, (size_t)(Nk * Dv) * sizeof *dV);
    for (int64_t j0 = 0; j0 < Nk; j0 += BK) {
        int64_t nc = Nk - j0 < BK ? Nk - j0 : BK;
        for (int64_t i0 = 0; i0 < Nq; i0 += BQ) {
            int64_t nr = Nq - i0 < BQ ? Nq - i0 : BQ;
            err |= gemm('N', 'T', nr, nc, D, a->scale, Q + i0 * D, D, K + j0 * D, D, 0.0f, s, nc);
            if (need_ds)
                err |= gemm('N', 'T', nr, nc, Dv, 1.0f, dO + i0 * Dv, Dv, V + j0 * Dv, Dv, 0.0f, dp, nc);
            for (int64_t i = 0; i < nr; i++)
                bwd_row(s + i * nc, need_ds ? dp + i * nc : NULL, nc,
                        hg_attn_mask_row(a, b, h, i0 + i) + j0 * a->mst[3], a->mst[3], lse[i0 + i],
                        drow[i0 + i], uniform);
            if (dV) err |= gemm('T', 'N', nc, Dv, nr, 1.0f, s, nc, dO + i0 * Dv, Dv, 1.0f, dV + j0 * Dv, Dv);
            if (dQ) err |= gemm('N', 'N', nr, D, nc, a->scale, dp, nc, K + j0 * D, D, 1.0f, dQ + i0 * D, D);
            if (dK) err |= gemm('T', 'N', nc, D, nr, a->scale, dp, nc, Q + i0 * D, D, 1.0f, dK + j0 * D, D);
        }
    }
    return err;
}

/* 1 when the vector tile kernels (attention_tile.c) run a: the host has
 * AVX-512F, the head dims fit, and the environment does not ask for the
 * portable path (HG_ATTENTION_PORTABLE=1: tests compare the two paths). */
static int use_tile(const attn *a) {
    const char *e = getenv("HG_ATTENTION_PORTABLE");
    return !(e && e[0] == '1') && hg_attn_tile_ok(a);
}

/* Runs the forward (backward = 0) or the backward over every head. */
static hg_status run_heads(const attn *a_in, int backward) {
    int64_t nbh = a_in->B * a_in->H;
    int failed = 0, dnnl_failed = 0, tile = use_tile(a_in);
    if (nbh == 0) return hg_ok();
    attn tiled = *a_in;
    const attn *a = &tiled;
    uint16_t *bits = NULL;
    if (tile) {
        bits = malloc(sizeof *bits * (size_t)(hg_attn_tile_mask_words(a) + 1));
        if (!bits) return hg_error(HG_ERR_NOMEM, "fused attention mask bits");
        hg_attn_tile_mask_bits(a, bits);
        tiled.mbits = bits;
    }
    size_t tile_bytes = tile ? ((size_t)hg_attn_tile_scratch(a, backward) * sizeof(float) + 63) / 64 * 64 : 64;
#pragma omp parallel
    {
        float *s = NULL, *t = NULL, *acc = NULL;
        if (tile) {
            s = aligned_alloc(64, tile_bytes);
            t = acc = s;
        } else {
            s = malloc(sizeof(float) * BQ * BK), t = malloc(sizeof(float) * BQ * BK);
            acc = malloc(sizeof(float) * (size_t)(BQ * (a->Dv + 2) + a->Nq + 1));
        }
        if (!s || !t || !acc) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t bh = 0; bh < nbh; bh++) {
            if (!s || !t || !acc) continue;
            if (tile) {
                if (backward) hg_attn_tile_bwd_head(a, bh, s);
                else hg_attn_tile_fwd_head(a, bh, s);
                continue;
            }
            int e = backward ? bwd_head(a, bh, s, t, acc)
                             : fwd_head(a, bh, s, acc, acc + BQ * a->Dv, acc + BQ * (a->Dv + 1));
            if (e) {
#pragma omp atomic write
                dnnl_failed = 1;
            }
        }
        free(s);
        if (!tile) {
            free(t);
            free(acc);
        }
    }
    free(bits);
    if (failed) return hg_error(HG_ERR_NOMEM, "fused attention scratch");
    if (dnnl_failed) return hg_error(HG_ERR_UNSUPPORTED, "fused attention: oneDNN sgemm failed");
    return hg_ok();
}

/* The shapes and inputs of an attention-family node (q, k, v, mask and,
 * for attention_grad, o, lse, do). */
static void attn_of(const hg_node *n, const hg_tensor *const *in, attn *a) {
    memset(a, 0, sizeof *a);
    a->B = in[0]->shape.dim[0], a->H = in[0]->shape.dim[1], a->Nq = in[0]->shape.dim[2];
    a->D = in[0]->shape.dim[3], a->Nk = in[1]->shape.dim[2], a->Dv = in[2]->shape.dim[3];
    hg_ref_mask_strides(in[3]->shape, a->mst);
    a->scale = (float)n->attrs.scale;
    a->q = in[0]->data, a->k = in[1]->data, a->v = in[2]->data, a->mask = in[3]->data;
    if (n->op == HG_OP_attention_grad) a->o = in[4]->data, a->lse = in[5]->data, a->dout = in[6]->data;
}

static int all_f32(const hg_node *n, const hg_tensor *const *in) {
    for (int i = 0; i < n->n_in; i++)
        if (in[i]->dtype != HG_F32) return 0;
    return n->dtype == HG_F32;
}

hg_status hg_fused_attention_node(const hg_node *n, const hg_tensor *const *in, hg_tensor *out) {
    if (!all_f32(n, in)) { /* the reference kernels want a zero-filled output */
        memset(out->data, 0, hg_shape_numel(out->shape) * hg_dtype_size(out->dtype));
        return n->op == HG_OP_attention ? hg_ref_composite(n, in, out)
                                        : hg_ref_attention_aux(n, in, out);
    }
    attn a;
    attn_of(n, in, &a);
    switch (n->op) {
    case HG_OP_attention: a.out_o = out->data; return run_heads(&a, 0);
    case HG_OP_attention_lse: a.out_lse = out->data; return run_heads(&a, 0);
    case HG_OP_attention_grad:
        if (n->attrs.axis == 0) a.dq = out->data;
        else if (n->attrs.axis == 1) a.dk = out->data;
        else a.dv = out->data;
        return run_heads(&a, 1);
    default: return hg_error(HG_ERR_INVALID, "not an attention op");
    }
}

/* ------------------------------------------------- the MULTI kernel */

int hg_fused_attention_multi_ok(const hg_graph *g, const hg_kernel *k) {
    if (k->kind != HG_KERNEL_MULTI || k->anchor == HG_NONE) return 0;
    hg_op a = g->nodes[k->anchor].op;
    return a == HG_OP_attention || a == HG_OP_attention_grad;
}

/* A member's view, or NULL when the plan gives it no storage (internal to
 * the kernel: nothing outside reads it, so it need not be computed). */
static hg_tensor *member_view(const hg_fast_impl *impl, hg_tensor *vals, hg_value v) {
    return impl->plan->kind[v] == HG_MP_INTERNAL ? NULL : &vals[v];
}

hg_status hg_fused_attention_multi(const hg_fast_impl *impl, hg_tensor *vals) {
    const hg_graph *g = impl->g;
    const hg_kernel *k = impl->kernel;
    const hg_node *an = &g->nodes[k->anchor];
    const hg_tensor *in[7];
    for (int i = 0; i < an->n_in; i++) in[i] = &vals[an->in[i]];
    if (!all_f32(an, in)) { /* f64: the reference kernels, member by member */
        for (int i = 0; i < k->n_members; i++) {
            hg_value v = k->members[i];
            if (!member_view(impl, vals, v)) continue;
            memset(vals[v].data, 0, hg_shape_numel(vals[v].shape) * hg_dtype_size(vals[v].dtype));
            HG_TRY(hg_ref_eval_node(g, v, hg_ref_kernel_of(g->nodes[v].op), vals));
        }
        return hg_ok();
    }
    attn a;
    attn_of(an, in, &a);
    for (int i = 0; i < k->n_members; i++) {
        hg_value v = k->members[i];
        hg_tensor *t = member_view(impl, vals, v);
        if (!t) continue;
        const hg_node *nd = &g->nodes[v];
        if (nd->op == HG_OP_attention) a.out_o = t->data;
        else if (nd->op == HG_OP_attention_lse) a.out_lse = t->data;
        else if (nd->attrs.axis == 0) a.dq = t->data;
        else if (nd->attrs.axis == 1) a.dk = t->data;
        else a.dv = t->data;
    }
    return hg_status_prefix(run_heads(&a, an->op == HG_OP_attention_grad), "node %%%d (%s)",
                            (int)k->anchor, hg_op_table[an->op].name);
}
