/* AVX-512 tile kernels of the fused attention (FlashAttention-2, Dao 2023,
 * Algorithms 1 and 2; the algorithm and its semantics are described once,
 * in codegen/attention_fused.c). Compiled with target attributes and run
 * only when the host has AVX-512F (hg_attn_tile_ok: __builtin_cpu_supports),
 * so the library still runs on any x86-64-v2 host (the portable path).
 *
 * Every tile product is one register-blocked micro-kernel
 *   C[R, 16 NV] (+)= sum_k A(r, k) B[k, 0:16 NV]
 * (A read element by element with row stride ars and k stride aks and
 * broadcast, B rows as NV vectors, R x NV accumulators in registers, R <=
 * RB(NV) so at most 24 of the 32 zmm registers hold C). With K^T (and
 * V^T) laid out key-contiguous once per head (forward) or per key tile
 * (backward), the six products of the algorithm are all of that form:
 *   S = Q K^T, dP = dO V^T     (A row-major, B = K^T / V^T tile)
 *   O += P V, dQ += dS K       (A = P / dS row-major)
 *   dV += P^T dO, dK += dS^T Q (A = P / dS read transposed)
 * The online softmax works on 16-key vectors with a vector exp (the
 * polynomial of attention_internal.h) and the mask as a lane mask.
 * Results differ from the portable path by rounding only (other
 * summation order); for a given input they do not depend on the thread
 * count (one head, one thread, fixed order). */
#include "codegen/attention_internal.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512dq,fma")))

enum { BQ = 48, BK = 128, DMAX = 64 };

int hg_attn_tile_ok(const hg_attn *a) {
    if (a->D % 16 || a->Dv % 16 || a->D > DMAX || a->Dv > DMAX || a->D == 0 || a->Dv == 0) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

int64_t hg_attn_tile_scratch(const hg_attn *a, int backward) {
    if (backward) /* K^T, V^T tiles, S and dP tiles, D rows */
        return (a->D + a->Dv) * BK + 2 * BQ * BK + round16(a->Nq) + 64;
    /* K^T of the head, S tile, O accumulator, m, l */
    return a->D * round16(a->Nk) + BQ * BK + BQ * a->Dv + 2 * BQ + 64;
}

/* ------------------------------------------------------- vector math */

/* exp of 16 lanes, the scalar exp_f of attention_fused.c lane by lane
 * (0 below HG_EXP_LO, including -inf). */
TGT static inline __m512 exp16(__m512 x) {
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(HG_EXP_LO)), _mm512_set1_ps(HG_EXP_HI));
    __m512 fn = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(HG_EXP_LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(HG_EXP_LN2_HI), xc);
    r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(HG_EXP_LN2_LO), r);
    __m512 p = _mm512_set1_ps(HG_EXP_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HG_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HG_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HG_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HG_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HG_EXP_P5));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i n = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fn), _mm512_set1_epi32(127)), 23);
    __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(HG_EXP_LO), _CMP_GE_OQ);
    return _mm512_maskz_mul_ps(live, p, _mm512_castsi512_ps(n));
}

/* Lanes of keys j0 .. j0 + n - 1 (n <= 16) the mask row mk (stride ms)
 * keeps. */
TGT static inline __mmask16 keep16(const float *mk, int64_t ms, int64_t n) {
    __mmask16 tail = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
    if (ms == 1)
        return _mm512_mask_cmp_ps_mask(tail, _mm512_maskz_loadu_ps(tail, mk), _mm512_setzero_ps(),
                                       _CMP_NEQ_UQ);
    if (ms == 0) return mk[0] != 0.0f ? tail : 0;
    unsigned bits = 0;
    for (int64_t j = 0; j < n; j++) bits |= (unsigned)(mk[j * ms] != 0.0f) << j;
    return (__mmask16)bits;
}

static int64_t mask_rows(const hg_attn *a) {
    return (a->mst[0] ? a->B : 1) * (a->mst[1] ? a->H : 1) * (a->mst[2] ? a->Nq : 1);
}

int64_t hg_attn_tile_mask_words(const hg_attn *a) { return mask_rows(a) * (round16(a->Nk) / 16); }

TGT void hg_attn_tile_mask_bits(const hg_attn *a, uint16_t *bits) {
    int64_t nh = a->mst[1] ? a->H : 1, nq = a->mst[2] ? a->Nq : 1, W = round16(a->Nk) / 16;
    int64_t rows = mask_rows(a), ms = a->mst[3];
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *mk = hg_attn_mask_row(a, r / (nh * nq), r / nq % nh, r % nq);
        for (int64_t w = 0; w < W; w++)
            bits[r * W + w] = keep16(mk + 16 * w * ms, ms, a->Nk - 16 * w < 16 ? a->Nk - 16 * w : 16);
    }
}

/* The bit row of query i of head (b, h). */
static const uint16_t *bit_row(const hg_attn *a, int64_t b, int64_t h, int64_t i) {
    int64_t nh = a->mst[1] ? a->H : 1, nq = a->mst[2] ? a->Nq : 1, W = round16(a->Nk) / 16;
    return a->mbits + (((a->mst[0] ? b : 0) * nh + (a->mst[1] ? h : 0)) * nq + (a->mst[2] ? i : 0)) * W;
}

/* -------------------------------------------------------- micro-kernel */

/* C[r, 0:16 NV] (+ C when acc) = sum_{k < K} A[r ars + k aks] B[k ldb + 0:16 NV]
 * for r < R <= RB. Rows R .. RB - 1 repeat row R - 1 (not stored), so the
 * loop body has no branch. */
#define MICRO(NV, RB)                                                                              \
    TGT static void micro_##NV(int64_t R, int64_t K, const float *A, int64_t ars, int64_t aks,     \
                               const float *B, int64_t ldb, float *C, int64_t ldc, int acc) {      \
        __m512 c[RB][NV];                                                                          \
        const float *ar[RB];                                                                       \
        _Pragma("GCC unroll 16") for (int r = 0; r < RB; r++) {                                    \
            ar[r] = A + (r < R ? r : R - 1) * ars;                                                 \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) c[r][v] =                         \
                acc && r < R ? _mm512_loadu_ps(C + r * ldc + 16 * v) : _mm512_setzero_ps();        \
        }                                                                                          \
        for (int64_t k = 0; k < K; k++) {                                                          \
            __m512 b[NV];                                                                          \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) b[v] =                            \
                _mm512_loadu_ps(B + k * ldb + 16 * v);                                             \
            _Pragma("GCC unroll 16") for (int r = 0; r < RB; r++) {                                \
                __m512 x = _mm512_set1_ps(ar[r][k * aks]);                                         \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) c[r][v] =                     \
                    _mm512_fmadd_ps(x, b[v], c[r][v]);                                             \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 16") for (int r = 0; r < RB; r++) if (r < R)                           \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                   \
                _mm512_storeu_ps(C + r * ldc + 16 * v, c[r][v]);                                   \
    }
MICRO(1, 12)
MICRO(2, 12)
MICRO(3, 8)
MICRO(4, 6)
#undef MICRO

/* C[M, 0:16 nv] (+)= A B as above for any M and nv: column blocks of 4
 * vectors (the last one narrower), row blocks of RB. */
TGT static void tile_gemm(int64_t M, int64_t nv, int64_t K, const float *A, int64_t ars,
                          int64_t aks, const float *B, int64_t ldb, float *C, int64_t ldc, int acc) {
    for (int64_t v0 = 0; v0 < nv; v0 += 4) {
        int64_t w = nv - v0 < 4 ? nv - v0 : 4, rb = w == 4 ? 6 : w == 3 ? 8 : 12;
        const float *Bv = B + 16 * v0;
        float *Cv = C + 16 * v0;
        for (int64_t r0 = 0; r0 < M; r0 += rb) {
            int64_t R = M - r0 < rb ? M - r0 : rb;
            const float *Ar = A + r0 * ars;
            float *Cr = Cv + r0 * ldc;
            switch (w) {
            case 1: micro_1(R, K, Ar, ars, aks, Bv, ldb, Cr, ldc, acc); break;
            case 2: micro_2(R, K, Ar, ars, aks, Bv, ldb, Cr, ldc, acc); break;
            case 3: micro_3(R, K, Ar, ars, aks, Bv, ldb, Cr, ldc, acc); break;
            default: micro_4(R, K, Ar, ars, aks, Bv, ldb, Cr, ldc, acc); break;
            }
        }
    }
}

/* dst[c, j] = src[j, c] for j < n (rows of ld columns), c < D; columns n
 * .. round16(n) - 1 of dst set to 0. dst has ldd columns. */
static void transpose(const float *src, int64_t n, int64_t D, float *dst, int64_t ldd) {
    int64_t np = round16(n);
    for (int64_t j = 0; j < n; j++) /* src rows read in order, D sequential write streams */
        for (int64_t c = 0; c < D; c++) dst[c * ldd + j] = src[j * D + c];
    for (int64_t c = 0; c < D; c++)
        for (int64_t j = n; j < np; j++) dst[c * ldd + j] = 0.0f;
}

/* ------------------------------------------------------------ forward */

/* One row of a forward tile (s: q.k of keys 0 .. nc - 1, unscaled, row of
 * the tile padded to a multiple of 16): as fwd_row of attention_fused.c;
 * lanes nc .. round16(nc) - 1 get P = 0. Returns exp(m_old - m_new). */
TGT static float fwd_row16(float *s, int64_t nc, const uint16_t *mk, float scale, float *m, float *l) {
    __m512 vmx = _mm512_set1_ps(*m), vs = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < nc; j += 16) {
        __mmask16 keep = mk[j / 16];
        __m512 x = _mm512_mask_mul_ps(ninf, keep, _mm512_loadu_ps(s + j), vs);
        _mm512_storeu_ps(s + j, x);
        vmx = _mm512_max_ps(vmx, x);
    }
    float mx = _mm512_reduce_max_ps(vmx);
    if (mx == -INFINITY) { /* no key kept so far */
        for (int64_t j = 0; j < nc; j += 16) _mm512_storeu_ps(s + j, _mm512_setzero_ps());
        return 1.0f;
    }
    __m512 vsum = _mm512_setzero_ps(), vm = _mm512_set1_ps(mx);
    for (int64_t j = 0; j < nc; j += 16) {
        __m512 p = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j), vm));
        _mm512_storeu_ps(s + j, p);
        vsum = _mm512_add_ps(vsum, p);
    }
    float alpha = _mm512_cvtss_f32(exp16(_mm512_set1_ps(*m - mx)));
    *l = alpha * *l + _mm512_reduce_add_ps(vsum);
    *m = mx;
    return alpha;
}

TGT void hg_attn_tile_fwd_head(const hg_attn *a, int64_t bh, float *scratch) {
    int64_t b = bh / a->H, h = bh % a->H, D = a->D, Dv = a->Dv, Nk = a->Nk, Nkp = round16(Nk);
    const float *Q = a->q + bh * a->Nq * D, *K = a->k + bh * Nk * D, *V = a->v + bh * Nk * Dv;
    float *kt = scratch, *s = kt + D * Nkp, *acc = s + BQ * BK, *m = acc + BQ * Dv, *l = m + BQ;
    transpose(K, Nk, D, kt, Nkp);
    for (int64_t i0 = 0; i0 < a->Nq; i0 += BQ) {
        int64_t nr = a->Nq - i0 < BQ ? a->Nq - i0 : BQ;
        hg_attn_fwd_begin(a, nr, m, l, acc);
        for (int64_t j0 = 0; j0 < Nk; j0 += BK) {
            int64_t nc = Nk - j0 < BK ? Nk - j0 : BK;
            tile_gemm(nr, round16(nc) / 16, D, Q + i0 * D, D, 1, kt + j0, Nkp, s, BK, 0);
            for (int64_t i = 0; i < nr; i++) {
                float alpha = fwd_row16(s + i * BK, nc, bit_row(a, b, h, i0 + i) + j0 / 16, a->scale, &m[i], &l[i]);
                if (a->out_o && alpha != 1.0f) {
                    __m512 va = _mm512_set1_ps(alpha);
                    for (int64_t c = 0; c < Dv; c += 16)
                        _mm512_storeu_ps(acc + i * Dv + c, _mm512_mul_ps(va, _mm512_loadu_ps(acc + i * Dv + c)));
                }
            }
            if (a->out_o) tile_gemm(nr, Dv / 16, nc, s, BK, 1, V + j0 * Dv, Dv, acc, Dv, 1);
        }
        hg_attn_fwd_end(a, bh, i0, nr, m, l, acc);
    }
}

/* ----------------------------------------------------------- backward */

/* One row of a backward tile: s holds q.k (unscaled), dp (if non-NULL)
 * dO.v; P = exp(scale s - lse) (1/Nk for a fully masked row, lse = -inf)
 * into s, and scale dS = scale P (dP - d) (0 where masked or the row is
 * fully masked) into dp. Lanes nc .. round16(nc) - 1 get 0. */
TGT static void bwd_row16(float *s, float *dp, int64_t nc, const uint16_t *mk, float scale, float lse,
                          float d, float uniform) {
    if (lse == -INFINITY) {
        for (int64_t j = 0; j < nc; j += 16) {
            __mmask16 tail = nc - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (nc - j)) - 1);
            _mm512_storeu_ps(s + j, _mm512_maskz_mov_ps(tail, _mm512_set1_ps(uniform)));
            if (dp) _mm512_storeu_ps(dp + j, _mm512_setzero_ps());
        }
        return;
    }
    __m512 vs = _mm512_set1_ps(scale), vl = _mm512_set1_ps(lse), vd = _mm512_set1_ps(d);
    for (int64_t j = 0; j < nc; j += 16) {
        __mmask16 keep = mk[j / 16];
        __m512 p = _mm512_maskz_mov_ps(keep, exp16(_mm512_fmsub_ps(_mm512_loadu_ps(s + j), vs, vl)));
        _mm512_storeu_ps(s + j, p);
        if (dp)
            _mm512_storeu_ps(dp + j, _mm512_mul_ps(_mm512_mul_ps(p, vs),
                                                   _mm512_sub_ps(_mm512_loadu_ps(dp + j), vd)));
    }
}

TGT void hg_attn_tile_bwd_head(const hg_attn *a, int64_t bh, float *scratch) {
    int64_t b = bh / a->H, h = bh % a->H, D = a->D, Dv = a->Dv, Nq = a->Nq, Nk = a->Nk;
    const float *Q = a->q + bh * Nq * D, *K = a->k + bh * Nk * D, *V = a->v + bh * Nk * Dv;
    const float *O = a->o + bh * Nq * Dv, *dO = a->dout + bh * Nq * Dv, *lse = a->lse + bh * Nq;
    float *dQ = a->dq ? a->dq + bh * Nq * D : NULL, *dK = a->dk ? a->dk + bh * Nk * D : NULL;
    float *dV = a->dv ? a->dv + bh * Nk * Dv : NULL;
    float *kt = scratch, *vt = kt + D * BK, *s = vt + Dv * BK, *dp = s + BQ * BK, *drow = dp + BQ * BK;
    int need_ds = dQ || dK;
    float uniform = Nk ? 1.0f / (float)Nk : 0.0f;
    for (int64_t i = 0; i < Nq; i++) {
        __m512 acc = _mm512_setzero_ps();
        for (int64_t c = 0; c < Dv; c += 16)
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(dO + i * Dv + c), _mm512_loadu_ps(O + i * Dv + c), acc);
        drow[i] = _mm512_reduce_add_ps(acc);
    }
    if (dQ) memset(dQ, 0, (size_t)(Nq * D) * sizeof *dQ);
    for (int64_t j0 = 0; j0 < Nk; j0 += BK) {
        int64_t nc = Nk - j0 < BK ? Nk - j0 : BK, nv = round16(nc) / 16;
        transpose(K + j0 * D, nc, D, kt, BK);
        if (need_ds) transpose(V + j0 * Dv, nc, Dv, vt, BK);
        for (int64_t i0 = 0; i0 < Nq; i0 += BQ) {
            int64_t nr = Nq - i0 < BQ ? Nq - i0 : BQ, first = i0 == 0;
            tile_gemm(nr, nv, D, Q + i0 * D, D, 1, kt, BK, s, BK, 0);
            if (need_ds) tile_gemm(nr, nv, Dv, dO + i0 * Dv, Dv, 1, vt, BK, dp, BK, 0);
            for (int64_t i = 0; i < nr; i++)
                bwd_row16(s + i * BK, need_ds ? dp + i * BK : NULL, nc,
                          bit_row(a, b, h, i0 + i) + j0 / 16, a->scale, lse[i0 + i], drow[i0 + i],
                          uniform);
            /* dV and dK rows of this key tile start at the first query
             * tile (acc = 0), so they need no zeroing */
            if (dV) tile_gemm(nc, Dv / 16, nr, s, 1, BK, dO + i0 * Dv, Dv, dV + j0 * Dv, Dv, !first);
            if (dQ) tile_gemm(nr, D / 16, nc, dp, BK, 1, K + j0 * D, D, dQ + i0 * D, D, 1);
            if (dK) tile_gemm(nc, D / 16, nr, dp, 1, BK, Q + i0 * D, D, dK + j0 * D, D, !first);
        }
        if (Nq == 0) { /* no query: dK and dV rows are 0 */
            if (dV) memset(dV + j0 * Dv, 0, (size_t)(nc * Dv) * sizeof *dV);
            if (dK) memset(dK + j0 * D, 0, (size_t)(nc * D) * sizeof *dK);
        }
    }
}

#else /* not x86-64 with GNU C: the portable path only */

int hg_attn_tile_ok(const hg_attn *a) { return 0; }
int64_t hg_attn_tile_mask_words(const hg_attn *a) { return 0; }
void hg_attn_tile_mask_bits(const hg_attn *a, uint16_t *bits) {}
int64_t hg_attn_tile_scratch(const hg_attn *a, int backward) { return 0; }
void hg_attn_tile_fwd_head(const hg_attn *a, int64_t bh, float *scratch) {}
void hg_attn_tile_bwd_head(const hg_attn *a, int64_t bh, float *scratch) {}

#endif
