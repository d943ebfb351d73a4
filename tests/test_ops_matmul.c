/* Reference interpreter: matmul with transposes and batch broadcasting vs
 * a naive triple loop written here; thread-count bit-identity; throughput. */
#include "codegen/codegen.h"
#include "tests/hg_test.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

HG_LABELS(fast)

/* Naive matmul in double, written here: a[.., M, K] (or [.., K, M]) etc.,
 * with explicit batch index maps. */
static double at2(const double *m, int64_t rows, int64_t cols, int trans,
                  int64_t i, int64_t j) {
    /* element (i, j) of the logical matrix; stored [rows, cols] or transposed */
    return trans ? m[j * cols + i] : m[i * cols + j];
}

static void fill_det(double *v, int64_t n, double seed) {
    for (int64_t i = 0; i < n; i++) v[i] = sin(seed + 0.37 * (double)i) * 2.0;
}

HG_TEST(matmul_2x3_by_3x2_hand) {
    hg_test_ctx c = hg_test_ctx_new();
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12};
    hg_value va = hg_constant(c.g, HG_F32, HG_S2(2, 3), a);
    hg_value vb = hg_constant(c.g, HG_F32, HG_S2(3, 2), b);
    const hg_tensor *t = hg_test_run1(&c, hg_matmul(c.g, va, vb, 0, 0));
    HG_CHECK(t && t->shape.dim[0] == 2 && t->shape.dim[1] == 2);
    /* [[58, 64], [139, 154]] */
    HG_CHECK(hg_tensor_get(t, 0) == 58 && hg_tensor_get(t, 1) == 64);
    HG_CHECK(hg_tensor_get(t, 2) == 139 && hg_tensor_get(t, 3) == 154);
    /* a^T (3x2) @ a (2x3) = [[17,22,27],[22,29,36],[27,36,45]] */
    t = hg_test_run1(&c, hg_matmul(c.g, va, va, 1, 0));
    HG_CHECK(t && t->shape.dim[0] == 3 && t->shape.dim[1] == 3);
    const double w[9] = {17, 22, 27, 22, 29, 36, 27, 36, 45};
    for (int i = 0; i < 9; i++) HG_CHECK(hg_tensor_get(t, i) == w[i]);
    /* a @ a^T = [[14, 32], [32, 77]] */
    t = hg_test_run1(&c, hg_matmul(c.g, va, va, 0, 1));
    HG_CHECK(t && hg_tensor_get(t, 0) == 14 && hg_tensor_get(t, 1) == 32 &&
             hg_tensor_get(t, 3) == 77);
    hg_test_ctx_free(&c);
}

/* a [ba..., M, K] (trans: [.., K, M]) @ b [bb..., K, N] vs the naive loop,
 * with batch dims broadcast: a batch [2, 1], b batch [3]. */
static int check_batched(int ta, int tb, int64_t M, int64_t K, int64_t N) {
    hg_test_ctx c = hg_test_ctx_new();
    int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    int64_t na = 2 * ar * ac, nb = 3 * br * bc;
    double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    fill_det(a, na, 0.1);
    fill_det(b, nb, 1.3);
    hg_value va = hg_constant(c.g, HG_F64, hg_shape_make(4, (int64_t[]){2, 1, ar, ac}), a);
    hg_value vb = hg_constant(c.g, HG_F64, hg_shape_make(3, (int64_t[]){3, br, bc}), b);
    const hg_tensor *t = hg_test_run1(&c, hg_matmul(c.g, va, vb, ta, tb));
    int bad = !t || t->shape.rank != 4 || t->shape.dim[0] != 2 || t->shape.dim[1] != 3 ||
              t->shape.dim[2] != M || t->shape.dim[3] != N;
    for (int64_t p = 0; p < 2 && !bad; p++)
        for (int64_t q = 0; q < 3 && !bad; q++)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double s = 0;
                    for (int64_t k = 0; k < K; k++)
                        s += at2(a + p * ar * ac, ar, ac, ta, i, k) *
                             at2(b + q * br * bc, br, bc, tb, k, j);
                    double got = hg_tensor_get(t, ((p * 3 + q) * M + i) * N + j);
                    if (fabs(got - s) > 1e-12 * (1 + fabs(s))) {
                        fprintf(stderr, "ta=%d tb=%d [%lld,%lld,%lld,%lld]: %g vs %g\n", ta, tb,
                                (long long)p, (long long)q, (long long)i, (long long)j, got, s);
                        bad = 1;
                        break;
                    }
                }
    free(a);
    free(b);
    hg_test_ctx_free(&c);
    return bad;
}

HG_TEST(matmul_transposes_and_batch_broadcast_f64) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            HG_CHECK(!check_batched(ta, tb, 5, 7, 9));
            HG_CHECK(!check_batched(ta, tb, 13, 33, 520)); /* K remainder, N > one block */
        }
}

HG_TEST(matmul_f32_vs_naive_and_thread_count) {
    hg_test_ctx c = hg_test_ctx_new();
    int64_t M = 67, K = 130, N = 45;
    float *a = malloc(M * K * sizeof *a), *b = malloc(K * N * sizeof *b);
    for (int64_t i = 0; i < M * K; i++) a[i] = (float)sin(0.1 * i);
    for (int64_t i = 0; i < K * N; i++) b[i] = (float)cos(0.07 * i);
    hg_value va = hg_constant(c.g, HG_F32, HG_S2(M, K), a);
    hg_value vb = hg_constant(c.g, HG_F32, HG_S2(K, N), b);
    hg_value mm = hg_matmul(c.g, va, vb, 0, 0);
    omp_set_num_threads(1);
    const hg_tensor *t = hg_test_run1(&c, mm);
    HG_CHECK(t);
    float *one = malloc(M * N * sizeof *one);
    memcpy(one, t->data, M * N * sizeof *one);
    omp_set_num_threads(2);
    t = hg_test_run1(&c, mm);
    HG_CHECK(t);
    HG_CHECK(memcmp(one, t->data, M * N * sizeof *one) == 0); /* bit-identical */
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            float sf = 0; /* ascending-k f32 accumulation: the documented order */
            for (int64_t k = 0; k < K; k++) {
                s += (double)a[i * K + k] * b[k * N + j];
                volatile float p = a[i * K + k] * b[k * N + j];
                sf = sf + p;
            }
            HG_CHECK_NEAR(one[i * N + j], s, 1e-4 * (1 + fabs(s)));
            HG_CHECK(one[i * N + j] == sf);
        }
    free(a);
    free(b);
    free(one);
    hg_test_ctx_free(&c);
}

HG_TEST(matmul_empty_k_is_zero) {
    hg_test_ctx c = hg_test_ctx_new();
    hg_value va = hg_fill(c.g, HG_F32, HG_S2(2, 0), 1.0);
    hg_value vb = hg_fill(c.g, HG_F32, HG_S2(0, 3), 1.0);
    const hg_tensor *t = hg_test_run1(&c, hg_matmul(c.g, va, vb, 0, 0));
    HG_CHECK(t && t->shape.dim[0] == 2 && t->shape.dim[1] == 3);
    for (int i = 0; i < 6; i++) HG_CHECK(hg_tensor_get(t, i) == 0);
    hg_test_ctx_free(&c);
}

HG_TEST(matmul_throughput_transformer_size) {
    /* [8*640, 128] @ [128, 128] (one dense layer of the 128-wide
     * transformer on 8 x 640 points); prints GFLOP/s, checks one row. */
    hg_test_ctx c = hg_test_ctx_new();
    int64_t M = 8 * 640, K = 128, N = 128;
    hg_value va = hg_input(c.g, "a", HG_F32, HG_S2(M, K));
    hg_value vb = hg_input(c.g, "b", HG_F32, HG_S2(K, N));
    hg_set_output(c.g, "y", hg_matmul(c.g, va, vb, 0, 0));
    HG_CHECK_OK(hg_verify(c.g));
    hg_tensor_map in;
    hg_map_init(&in);
    hg_tensor *ta, *tb;
    HG_CHECK_OK(hg_map_alloc(&in, "a", HG_F32, HG_S2(M, K), &ta));
    HG_CHECK_OK(hg_map_alloc(&in, "b", HG_F32, HG_S2(K, N), &tb));
    for (int64_t i = 0; i < M * K; i++) ((float *)ta->data)[i] = (float)((i % 17) - 8) * 0.125f;
    for (int64_t i = 0; i < K * N; i++) ((float *)tb->data)[i] = (float)((i % 13) - 6) * 0.25f;
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = omp_get_wtime();
        HG_CHECK_OK(hg_ref_run(c.g, NULL, &in, &c.out, NULL));
        double dt = omp_get_wtime() - t0;
        if (dt < best) best = dt;
    }
    printf("matmul [%lld,%lld]x[%lld,%lld] f32: %.2f GFLOP/s (%d threads)\n", (long long)M,
           (long long)K, (long long)K, (long long)N, 2.0 * M * N * K / best * 1e-9,
           omp_get_max_threads());
    const hg_tensor *y = hg_map_get(&c.out, "y");
    HG_CHECK(y);
    int64_t i = 777;
    for (int64_t j = 0; j < N; j++) {
        double s = 0; /* small multiples of 1/32: exact in f32 */
        for (int64_t k = 0; k < K; k++)
            s += (double)((float *)ta->data)[i * K + k] * ((float *)tb->data)[k * N + j];
        HG_CHECK(((const float *)y->data)[i * N + j] == (float)s);
    }
    hg_map_free(&in);
    hg_test_ctx_free(&c);
}
