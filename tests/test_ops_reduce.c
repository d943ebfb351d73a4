/* Reference interpreter: sum, mean, max over axes, keepdims, empty and
 * NaN/Inf cases, against hand-computed values. */
#include "codegen/codegen.h"
#include "tests/hg_test.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

HG_LABELS(fast)

HG_TEST(sum_mean_max_axes) {
    hg_test_ctx c = hg_test_ctx_new();
    /* x[2,3] = [[1,2,3],[4,5,6]] */
    const double x[6] = {1, 2, 3, 4, 5, 6};
    hg_value vx = hg_constant(c.g, HG_F64, HG_S2(2, 3), x);
    int ax0[1] = {0}, ax1[1] = {1}, axm1[1] = {-1};
    const hg_tensor *t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax0, 0));
    HG_CHECK(t && t->shape.rank == 1 && t->shape.dim[0] == 3);
    HG_CHECK(hg_tensor_get(t, 0) == 5 && hg_tensor_get(t, 1) == 7 && hg_tensor_get(t, 2) == 9);
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax1, 1));
    HG_CHECK(t && t->shape.rank == 2 && t->shape.dim[0] == 2 && t->shape.dim[1] == 1);
    HG_CHECK(hg_tensor_get(t, 0) == 6 && hg_tensor_get(t, 1) == 15);
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_mean, vx, 1, axm1, 0));
    HG_CHECK(t && hg_tensor_get(t, 0) == 2 && hg_tensor_get(t, 1) == 5);
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_max, vx, 1, ax0, 0));
    HG_CHECK(t && hg_tensor_get(t, 0) == 4 && hg_tensor_get(t, 2) == 6);
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_max, vx, 0, NULL, 0)); /* all axes */
    HG_CHECK(t && t->shape.rank == 0 && hg_tensor_get(t, 0) == 6);
    t = hg_test_run1(&c, hg_sum_all(c.g, vx));
    HG_CHECK(t && t->shape.rank == 0 && hg_tensor_get(t, 0) == 21);
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_mean, vx, 0, NULL, 1));
    HG_CHECK(t && t->shape.rank == 2 && t->shape.dim[0] == 1 && hg_tensor_get(t, 0) == 3.5);
    hg_test_ctx_free(&c);
}

HG_TEST(reduce_middle_and_outer_axes_rank3) {
    hg_test_ctx c = hg_test_ctx_new();
    /* x[i,j,k] = 100 i + 10 j + k, shape [2,3,4] */
    float x[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) x[(i * 3 + j) * 4 + k] = 100 * i + 10 * j + k;
    hg_value vx = hg_constant(c.g, HG_F32, hg_shape_make(3, (int64_t[]){2, 3, 4}), x);
    int ax1[1] = {1}, ax02[2] = {0, 2};
    const hg_tensor *t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax1, 0));
    HG_CHECK(t && t->shape.rank == 2 && t->shape.dim[0] == 2 && t->shape.dim[1] == 4);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++) /* sum_j = 300 i + 30 + 3 k */
            HG_CHECK(hg_tensor_get(t, i * 4 + k) == 300 * i + 30 + 3 * k);
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_max, vx, 2, ax02, 1));
    HG_CHECK(t && t->shape.rank == 3 && t->shape.dim[1] == 3);
    for (int j = 0; j < 3; j++) HG_CHECK(hg_tensor_get(t, j) == 100 + 10 * j + 3);
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_mean, vx, 2, ax02, 0)); /* mean over i,k = 50 + 10 j + 1.5 */
    HG_CHECK(t);
    for (int j = 0; j < 3; j++) HG_CHECK_NEAR(hg_tensor_get(t, j), 51.5 + 10 * j, 1e-5);
    hg_test_ctx_free(&c);
}

HG_TEST(empty_reductions) {
    hg_test_ctx c = hg_test_ctx_new();
    hg_value vx = hg_fill(c.g, HG_F32, HG_S2(3, 0), 1.0);
    int ax1[1] = {1}, ax0[1] = {0};
    const hg_tensor *t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax1, 0));
    HG_CHECK(t && t->shape.dim[0] == 3);
    for (int i = 0; i < 3; i++) HG_CHECK(hg_tensor_get(t, i) == 0.0);
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_max, vx, 1, ax1, 0));
    HG_CHECK(t);
    for (int i = 0; i < 3; i++) HG_CHECK(hg_tensor_get(t, i) == -INFINITY);
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_mean, vx, 1, ax1, 0));
    HG_CHECK(t);
    for (int i = 0; i < 3; i++) HG_CHECK(isnan(hg_tensor_get(t, i)));
    /* reducing the non-empty axis of an empty tensor: empty output */
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax0, 0));
    HG_CHECK(t && t->shape.rank == 1 && t->shape.dim[0] == 0);
    hg_test_ctx_free(&c);
}

HG_TEST(max_propagates_nan_and_inf) {
    hg_test_ctx c = hg_test_ctx_new();
    const double x[6] = {1, NAN, 3, -INFINITY, -INFINITY, INFINITY};
    hg_value vx = hg_constant(c.g, HG_F64, HG_S2(2, 3), x);
    int ax1[1] = {1};
    const hg_tensor *t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_max, vx, 1, ax1, 0));
    HG_CHECK(t && isnan(hg_tensor_get(t, 0)) && hg_tensor_get(t, 1) == INFINITY);
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax1, 0));
    HG_CHECK(t && isnan(hg_tensor_get(t, 0)) && isnan(hg_tensor_get(t, 1))); /* -inf + inf */
    const double y[3] = {-INFINITY, -INFINITY, -5};
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_max, hg_test_vec64(&c, 3, y), 0, NULL, 0));
    HG_CHECK(t && hg_tensor_get(t, 0) == -5);
    hg_test_ctx_free(&c);
}

HG_TEST(sum_f32_accurate_and_thread_independent) {
    /* 1e6 copies of 0.1f: exact sum 1e6 * (double)0.1f; a naive f32
     * accumulation would be off by ~1% */
    hg_test_ctx c = hg_test_ctx_new();
    int n = 1000000;
    hg_value vx = hg_fill(c.g, HG_F32, HG_S2(2, n / 2), 0.1);
    const hg_tensor *t = hg_test_run1(&c, hg_sum_all(c.g, vx));
    HG_CHECK(t);
    double want = (double)n * (double)0.1f;
    HG_CHECK_REL(hg_tensor_get(t, 0), want, 1e-7);
    int ax1[1] = {1};
    hg_value r = hg_reduce(c.g, HG_OP_sum, vx, 1, ax1, 0);
    omp_set_num_threads(1);
    t = hg_test_run1(&c, r);
    HG_CHECK(t);
    float a0 = ((const float *)t->data)[0], a1 = ((const float *)t->data)[1];
    omp_set_num_threads(2);
    t = hg_test_run1(&c, r);
    HG_CHECK(t && ((const float *)t->data)[0] == a0 && ((const float *)t->data)[1] == a1);
    hg_test_ctx_free(&c);
}

HG_TEST(int32_sum_max) {
    hg_test_ctx c = hg_test_ctx_new();
    const int32_t x[4] = {3, -7, 11, 2};
    hg_value vx = hg_constant(c.g, HG_I32, HG_S1(4), x);
    const hg_tensor *t = hg_test_run1(&c, hg_sum_all(c.g, vx));
    HG_CHECK(t && t->dtype == HG_I32 && ((const int32_t *)t->data)[0] == 9);
    t = hg_test_run1(&c, hg_reduce(c.g, HG_OP_max, vx, 0, NULL, 0));
    HG_CHECK(t && ((const int32_t *)t->data)[0] == 11);
    hg_test_ctx_free(&c);
}
