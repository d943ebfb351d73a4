/* Reference matmul (ir.h op table): a[..., M, K] (or [..., K, M] with
 * trans_a) times b[..., K, N] (or [..., N, K] with trans_b) -> [..., M, N],
 * batch dims broadcast numpy-style.
 *
 * Each output element is sum_k a(m, k) b(k, n) accumulated in the dtype in
 * ascending k (no FMA contraction at the project's -march=x86-64-v2), so
 * the result is the same for any blocking and thread count. The kernel is
 * i-k-j with a contiguous, vectorised inner loop over a column block of C
 * and k unrolled by 4 without reassociation; B is packed to row-major
 * [K, N] first when transposed. OpenMP over (batch, block of rows). */
#include "codegen/ref_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NB 512 /* columns of C per block (stays in L1 with one row) */
#define MB 8   /* rows per parallel task */

/* The kernels are also compiled for AVX2 (8 floats per vector), chosen at
 * load time on CPUs that have it (GCC function multiversioning). AVX2 alone
 * has no fused multiply-add, so every product is still rounded before its
 * add and the results are bit-identical to the baseline x86-64-v2 code. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define GEMM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GEMM_CLONES
#endif

/* Two rows of C at a time share the loads of B; per element the sum is
 * still c + a0 b0 + a1 b1 + ... in ascending k, left to right. */
#define DEF_GEMM(T, SUF)                                                      \
    GEMM_CLONES void hg_ref_gemm_##SUF(int64_t M, int64_t N, int64_t K, const T *a,       \
                           int64_t a_rs, int64_t a_cs, const T *b, T *c) {    \
        for (int64_t jb = 0; jb < N; jb += NB) {                              \
            int64_t nb = N - jb < NB ? N - jb : NB;                           \
            int64_t i = 0;                                                    \
            for (; i + 2 <= M; i += 2) {                                      \
                T *restrict c0 = c + i * N + jb;                              \
                T *restrict c1 = c0 + N;                                      \
                const T *ar0 = a + i * a_rs, *ar1 = ar0 + a_rs;               \
                int64_t k = 0;                                                \
                for (; k + 4 <= K; k += 4) {                                  \
                    T x0 = ar0[k * a_cs], x1 = ar0[(k + 1) * a_cs];           \
                    T x2 = ar0[(k + 2) * a_cs], x3 = ar0[(k + 3) * a_cs];     \
                    T y0 = ar1[k * a_cs], y1 = ar1[(k + 1) * a_cs];           \
                    T y2 = ar1[(k + 2) * a_cs], y3 = ar1[(k + 3) * a_cs];     \
                    const T *restrict b0 = b + k * N + jb;                    \
                    const T *restrict b1 = b0 + N;                            \
                    const T *restrict b2 = b1 + N;                            \
                    const T *restrict b3 = b2 + N;                            \
                    _Pragma("omp simd")                                       \
                    for (int64_t j = 0; j < nb; j++) {                        \
                        T s = c0[j], t = c1[j];                               \
                        s += x0 * b0[j];                                      \
                        t += y0 * b0[j];                                      \
                        s += x1 * b1[j];                                      \
                        t += y1 * b1[j];                                      \
                        s += x2 * b2[j];                                      \
                        t += y2 * b2[j];                                      \
                        s += x3 * b3[j];                                      \
                        t += y3 * b3[j];                                      \
                        c0[j] = s;                                            \
                        c1[j] = t;                                            \
                    }                                                         \
                }                                                             \
                for (; k < K; k++) {                                          \
                    T x0 = ar0[k * a_cs], y0 = ar1[k * a_cs];                 \
                    const T *restrict b0 = b + k * N + jb;                    \
                    _Pragma("omp simd")                                       \
                    for (int64_t j = 0; j < nb; j++) {                        \
                        c0[j] += x0 * b0[j];                                  \
                        c1[j] += y0 * b0[j];                                  \
                    }                                                         \
                }                                                             \
            }                                                                 \
            for (; i < M; i++) {                                              \
                T *restrict cr = c + i * N + jb;                              \
                const T *ar = a + i * a_rs;                                   \
                int64_t k = 0;                                                \
                for (; k + 4 <= K; k += 4) {                                  \
                    T a0 = ar[k * a_cs], a1 = ar[(k + 1) * a_cs];             \
                    T a2 = ar[(k + 2) * a_cs], a3 = ar[(k + 3) * a_cs];       \
                    const T *restrict b0 = b + k * N + jb;                    \
                    const T *restrict b1 = b0 + N;                            \
                    const T *restrict b2 = b1 + N;                            \
                    const T *restrict b3 = b2 + N;                            \
                    _Pragma("omp simd")                                       \
                    for (int64_t j = 0; j < nb; j++) {                        \
                        T s = cr[j];                                          \
                        s += a0 * b0[j];                                      \
                        s += a1 * b1[j];                                      \
                        s += a2 * b2[j];                                      \
                        s += a3 * b3[j];                                      \
                        cr[j] = s;                                            \
                    }                                                         \
                }                                                             \
                for (; k < K; k++) {                                          \
                    T a0 = ar[k * a_cs];                                      \
                    const T *restrict b0 = b + k * N + jb;                    \
                    _Pragma("omp simd")                                       \
                    for (int64_t j = 0; j < nb; j++) cr[j] += a0 * b0[j];     \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }

DEF_GEMM(float, f32)
DEF_GEMM(double, f64)
#undef DEF_GEMM

/* Element strides of a's/b's batch dims aligned to the output's batch
 * dims (0 where broadcast or absent). */
static void batch_strides(hg_shape s, hg_shape os, int64_t mat, int64_t *st) {
    int ob = os.rank - 2, ib = s.rank - 2;
    int64_t step = mat;
    for (int d = ob - 1; d >= 0; d--) {
        int id = d - (ob - ib);
        if (id >= 0 && s.dim[id] != 1) {
            st[d] = step;
            step *= s.dim[id];
        } else {
            st[d] = 0;
            if (id >= 0) step *= s.dim[id];
        }
    }
}

hg_status hg_ref_matmul(const hg_node *n, const hg_tensor *const *in,
                        hg_tensor *out) {
    const hg_tensor *A = in[0], *Bt = in[1];
    hg_dtype t = out->dtype;
    if (!hg_dtype_is_float(t) || A->dtype != t || Bt->dtype != t)
        return hg_error(HG_ERR_UNSUPPORTED, "matmul of %s",
                        hg_dtype_name(A->dtype));
    hg_shape os = out->shape;
    int ra = A->shape.rank, rb = Bt->shape.rank;
    if (ra < 2 || rb < 2 || os.rank < 2)
        return hg_error(HG_ERR_INVALID, "matmul needs rank >= 2");
    int64_t M = os.dim[os.rank - 2], N = os.dim[os.rank - 1];
    int64_t K = n->attrs.trans_a ? A->shape.dim[ra - 2] : A->shape.dim[ra - 1];
    size_t es = hg_dtype_size(t);
    int ob = os.rank - 2;
    int64_t nbatch = 1;
    for (int d = 0; d < ob; d++) nbatch *= os.dim[d];
    if (nbatch * M * N == 0) return hg_ok();
    int64_t ast[HG_MAX_RANK], bst[HG_MAX_RANK];
    batch_strides(A->shape, os, M * K, ast);
    batch_strides(Bt->shape, os, K * N, bst);

    /* B as row-major [K, N] per batch */
    const char *bdata = Bt->data;
    char *packed = NULL;
    if (n->attrs.trans_b && K > 0) {
        int64_t nb_mats = hg_shape_numel(Bt->shape) / (K * N);
        packed = malloc((size_t)(nb_mats * K * N) * es);
        if (!packed) return hg_error(HG_ERR_NOMEM, "matmul: packing B");
#pragma omp parallel for schedule(static) if (nb_mats * K * N > 65536)
        for (int64_t m = 0; m < nb_mats; m++) {
            const char *src = bdata + (size_t)(m * K * N) * es; /* [N, K] */
            char *dst = packed + (size_t)(m * K * N) * es;      /* [K, N] */
            for (int64_t j = 0; j < N; j++)
                for (int64_t k = 0; k < K; k++)
                    memcpy(dst + (size_t)(k * N + j) * es,
                           src + (size_t)(j * K + k) * es, es);
        }
        bdata = packed;
    }
    int64_t a_rs = n->attrs.trans_a ? 1 : K, a_cs = n->attrs.trans_a ? M : 1;
    int64_t row_blocks = (M + MB - 1) / MB, units = nbatch * row_blocks;
#pragma omp parallel for schedule(dynamic, 1) if (units > 1 && M * N * K > 32768)
    for (int64_t u = 0; u < units; u++) {
        int64_t bi = u / row_blocks, i0 = (u % row_blocks) * MB;
        int64_t mb = M - i0 < MB ? M - i0 : MB;
        int64_t ao = 0, bo = 0, rem = bi;
        for (int d = ob - 1; d >= 0; d--) {
            int64_t id = rem % os.dim[d];
            rem /= os.dim[d];
            ao += id * ast[d];
            bo += id * bst[d];
        }
        int64_t co = bi * M * N + i0 * N;
        if (t == HG_F32)
            hg_ref_gemm_f32(mb, N, K, (const float *)A->data + ao + i0 * a_rs,
                            a_rs, a_cs, (const float *)bdata + bo,
                            (float *)out->data + co);
        else
            hg_ref_gemm_f64(mb, N, K, (const double *)A->data + ao + i0 * a_rs,
                            a_rs, a_cs, (const double *)bdata + bo,
                            (double *)out->data + co);
    }
    free(packed);
    return hg_ok();
}
