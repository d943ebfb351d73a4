/* Reference interpreter: reshape, transpose, slice, concat, pad,
 * broadcast_to, iota, cast, gather, scatter_add, scatter_max against
 * hand-computed values. */
#include "codegen/codegen.h"
#include "tests/hg_test.h"

#include <stdint.h>
#include <string.h>

HG_LABELS(fast)

HG_TEST(reshape_and_transpose) {
    hg_test_ctx c = hg_test_ctx_new();
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    hg_value vx = hg_constant(c.g, HG_F32, HG_S3(2, 3, 4), x);
    const hg_tensor *t = hg_test_run1(&c, hg_reshape(c.g, vx, HG_S2(6, 4)));
    HG_CHECK(t && t->shape.rank == 2 && t->shape.dim[0] == 6);
    for (int i = 0; i < 24; i++) HG_CHECK(hg_tensor_get(t, i) == i);
    int perm[3] = {2, 0, 1}; /* out[k, i, j] = x[i, j, k] */
    t = hg_test_run1(&c, hg_transpose(c.g, vx, perm));
    HG_CHECK(t && t->shape.dim[0] == 4 && t->shape.dim[1] == 2 && t->shape.dim[2] == 3);
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                HG_CHECK(hg_tensor_get(t, (k * 2 + i) * 3 + j) == (i * 3 + j) * 4 + k);
    /* i32 and bool move as bytes */
    const int32_t xi[6] = {1, 2, 3, 4, 5, 6};
    int p2[2] = {1, 0};
    t = hg_test_run1(&c, hg_transpose(c.g, hg_constant(c.g, HG_I32, HG_S2(2, 3), xi), p2));
    HG_CHECK(t && t->dtype == HG_I32);
    const int32_t wi[6] = {1, 4, 2, 5, 3, 6};
    for (int i = 0; i < 6; i++) HG_CHECK(((const int32_t *)t->data)[i] == wi[i]);
    hg_test_ctx_free(&c);
}

HG_TEST(slice_with_steps_and_slice_axis) {
    hg_test_ctx c = hg_test_ctx_new();
    double x[20];
    for (int i = 0; i < 20; i++) x[i] = i; /* [4,5]: x[i,j] = 5 i + j */
    hg_value vx = hg_constant(c.g, HG_F64, HG_S2(4, 5), x);
    hg_attrs at;
    memset(&at, 0, sizeof at);
    at.starts[0] = 1; at.starts[1] = 0;
    at.steps[0] = 2; at.steps[1] = 3;
    hg_value s = hg_add_node(c.g, HG_OP_slice, HG_F64, HG_S2(2, 2), 1, &vx, &at);
    const hg_tensor *t = hg_test_run1(&c, s);
    HG_CHECK(t);
    /* rows 1, 3; cols 0, 3 */
    HG_CHECK(hg_tensor_get(t, 0) == 5 && hg_tensor_get(t, 1) == 8);
    HG_CHECK(hg_tensor_get(t, 2) == 15 && hg_tensor_get(t, 3) == 18);
    t = hg_test_run1(&c, hg_slice_axis(c.g, vx, -1, 2, 2));
    HG_CHECK(t && t->shape.dim[0] == 4 && t->shape.dim[1] == 2);
    for (int i = 0; i < 4; i++)
        HG_CHECK(hg_tensor_get(t, 2 * i) == 5 * i + 2 && hg_tensor_get(t, 2 * i + 1) == 5 * i + 3);
    hg_test_ctx_free(&c);
}

HG_TEST(concat_axes_and_dtypes) {
    hg_test_ctx c = hg_test_ctx_new();
    const float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    hg_value va = hg_constant(c.g, HG_F32, HG_S2(2, 2), a);
    hg_value vb = hg_constant(c.g, HG_F32, HG_S2(2, 1), b);
    hg_value xs[3] = {va, vb, va};
    const hg_tensor *t = hg_test_run1(&c, hg_concat(c.g, 3, xs, 1));
    HG_CHECK(t && t->shape.dim[0] == 2 && t->shape.dim[1] == 5);
    const double w[10] = {1, 2, 5, 1, 2, 3, 4, 6, 3, 4};
    for (int i = 0; i < 10; i++) HG_CHECK(hg_tensor_get(t, i) == w[i]);
    hg_value ys[2] = {va, hg_constant(c.g, HG_F32, HG_S2(1, 2), b)};
    t = hg_test_run1(&c, hg_concat(c.g, 2, ys, 0));
    HG_CHECK(t && t->shape.dim[0] == 3);
    const double w0[6] = {1, 2, 3, 4, 5, 6};
    for (int i = 0; i < 6; i++) HG_CHECK(hg_tensor_get(t, i) == w0[i]);
    const uint8_t p[2] = {1, 0}, q[1] = {1};
    hg_value zs[2] = {hg_constant(c.g, HG_BOOL, HG_S1(2), p), hg_constant(c.g, HG_BOOL, HG_S1(1), q)};
    t = hg_test_run1(&c, hg_concat(c.g, 2, zs, 0));
    HG_CHECK(t && t->dtype == HG_BOOL && ((const uint8_t *)t->data)[1] == 0 &&
             ((const uint8_t *)t->data)[2] == 1);
    hg_test_ctx_free(&c);
}

HG_TEST(pad_lo_hi_value) {
    hg_test_ctx c = hg_test_ctx_new();
    const double x[4] = {1, 2, 3, 4};
    hg_value vx = hg_constant(c.g, HG_F64, HG_S2(2, 2), x);
    int64_t lo[2] = {1, 0}, hi[2] = {0, 2};
    const hg_tensor *t = hg_test_run1(&c, hg_pad(c.g, vx, lo, hi, -1.5));
    HG_CHECK(t && t->shape.dim[0] == 3 && t->shape.dim[1] == 4);
    const double w[12] = {-1.5, -1.5, -1.5, -1.5, 1, 2, -1.5, -1.5, 3, 4, -1.5, -1.5};
    for (int i = 0; i < 12; i++) HG_CHECK(hg_tensor_get(t, i) == w[i]);
    hg_test_ctx_free(&c);
}

HG_TEST(broadcast_to_and_iota) {
    hg_test_ctx c = hg_test_ctx_new();
    const float x[3] = {1, 2, 3};
    hg_value vx = hg_constant(c.g, HG_F32, HG_S2(3, 1), x);
    const hg_tensor *t = hg_test_run1(&c, hg_broadcast_to(c.g, vx, HG_S3(2, 3, 2)));
    HG_CHECK(t && hg_shape_numel(t->shape) == 12);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++) HG_CHECK(hg_tensor_get(t, (i * 3 + j) * 2 + k) == x[j]);
    t = hg_test_run1(&c, hg_iota(c.g, HG_I32, HG_S3(2, 3, 2), 1));
    HG_CHECK(t && t->dtype == HG_I32);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++) HG_CHECK(hg_tensor_get(t, (i * 3 + j) * 2 + k) == j);
    t = hg_test_run1(&c, hg_iota(c.g, HG_F64, HG_S2(2, 4), 1));
    HG_CHECK(t && t->dtype == HG_F64 && hg_tensor_get(t, 7) == 3 && hg_tensor_get(t, 4) == 0);
    hg_test_ctx_free(&c);
}

HG_TEST(cast_truncates_and_bools) {
    hg_test_ctx c = hg_test_ctx_new();
    const float x[6] = {2.7f, -2.7f, 0.0f, NAN, 3e9f, -0.5f};
    hg_value vx = hg_constant(c.g, HG_F32, HG_S1(6), x);
    const hg_tensor *t = hg_test_run1(&c, hg_cast(c.g, vx, HG_I32));
    HG_CHECK(t && t->dtype == HG_I32);
    const int32_t w[6] = {2, -2, 0, 0, INT32_MAX, 0};
    for (int i = 0; i < 6; i++) HG_CHECK(((const int32_t *)t->data)[i] == w[i]);
    t = hg_test_run1(&c, hg_cast(c.g, vx, HG_BOOL));
    HG_CHECK(t && t->dtype == HG_BOOL);
    const uint8_t wb[6] = {1, 1, 0, 1, 1, 1};
    for (int i = 0; i < 6; i++) HG_CHECK(((const uint8_t *)t->data)[i] == wb[i]);
    const uint8_t b[2] = {0, 1};
    t = hg_test_run1(&c, hg_cast(c.g, hg_constant(c.g, HG_BOOL, HG_S1(2), b), HG_F64));
    HG_CHECK(t && hg_tensor_get(t, 0) == 0.0 && hg_tensor_get(t, 1) == 1.0);
    t = hg_test_run1(&c, hg_cast(c.g, vx, HG_F64));
    HG_CHECK(t && hg_tensor_get(t, 0) == (double)2.7f);
    t = hg_test_run1(&c, hg_stop_gradient(c.g, vx));
    HG_CHECK(t && memcmp(t->data, x, sizeof x) == 0);
    hg_test_ctx_free(&c);
}

HG_TEST(gather_batched_with_minus_one) {
    hg_test_ctx c = hg_test_ctx_new();
    /* x[b, n, r] = 100 b + 10 n + r, shape [2, 3, 2]; idx [2, 4] along axis 1 */
    float x[12];
    for (int b = 0; b < 2; b++)
        for (int n = 0; n < 3; n++)
            for (int r = 0; r < 2; r++) x[(b * 3 + n) * 2 + r] = 100 * b + 10 * n + r;
    const int32_t idx[8] = {2, 0, -1, 2, 1, 3, 1, 0}; /* 3 is out of range too */
    hg_value vx = hg_constant(c.g, HG_F32, HG_S3(2, 3, 2), x);
    hg_value vi = hg_constant(c.g, HG_I32, HG_S2(2, 4), idx);
    const hg_tensor *t = hg_test_run1(&c, hg_gather(c.g, vx, vi, 1));
    HG_CHECK(t && t->shape.rank == 3 && t->shape.dim[0] == 2 && t->shape.dim[1] == 4 &&
             t->shape.dim[2] == 2);
    for (int b = 0; b < 2; b++)
        for (int e = 0; e < 4; e++)
            for (int r = 0; r < 2; r++) {
                int j = idx[b * 4 + e];
                double want = (j >= 0 && j < 3) ? 100 * b + 10 * j + r : 0;
                HG_CHECK(hg_tensor_get(t, (b * 4 + e) * 2 + r) == want);
            }
    /* axis 0, unbatched, with a 2-d index: out[e0, e1, r] = y[idx[e0,e1], r] */
    const double y[6] = {1, 2, 3, 4, 5, 6}; /* [3,2] */
    const int32_t id2[4] = {2, -1, 0, 0};
    t = hg_test_run1(&c, hg_gather(c.g, hg_constant(c.g, HG_F64, HG_S2(3, 2), y),
                          hg_constant(c.g, HG_I32, HG_S2(2, 2), id2), 0));
    HG_CHECK(t && t->shape.rank == 3 && t->shape.dim[2] == 2);
    const double w[8] = {5, 6, 0, 0, 1, 2, 1, 2};
    for (int i = 0; i < 8; i++) HG_CHECK(hg_tensor_get(t, i) == w[i]);
    hg_test_ctx_free(&c);
}

HG_TEST(scatter_add_segment_sum) {
    hg_test_ctx c = hg_test_ctx_new();
    /* batched: src [2, 4, 1], idx [2, 4] -> out [2, 3, 1] */
    const double src[8] = {1, 2, 4, 8, 16, 32, 64, 128};
    const int32_t idx[8] = {0, 2, 0, -1, 1, 1, 5, 2};
    const hg_tensor *t = hg_test_run1(&c, hg_scatter_add(c.g, hg_constant(c.g, HG_F64, HG_S3(2, 4, 1), src),
                                                hg_constant(c.g, HG_I32, HG_S2(2, 4), idx), 1, 3));
    HG_CHECK(t && t->shape.rank == 3 && t->shape.dim[1] == 3);
    const double w[6] = {5, 0, 2, 0, 48, 128};
    for (int i = 0; i < 6; i++) HG_CHECK(hg_tensor_get(t, i) == w[i]);
    /* f32, axis 0, rows */
    const float s2[6] = {1, 2, 3, 4, 5, 6}; /* [3, 2] */
    const int32_t i2[3] = {1, 1, -1};
    t = hg_test_run1(&c, hg_scatter_add(c.g, hg_constant(c.g, HG_F32, HG_S2(3, 2), s2),
                               hg_constant(c.g, HG_I32, HG_S1(3), i2), 0, 2));
    HG_CHECK(t && t->dtype == HG_F32 && t->shape.dim[0] == 2);
    const double w2[4] = {0, 0, 4, 6};
    for (int i = 0; i < 4; i++) HG_CHECK(hg_tensor_get(t, i) == w2[i]);
    hg_test_ctx_free(&c);
}

HG_TEST(scatter_max_empty_segment_zero) {
    hg_test_ctx c = hg_test_ctx_new();
    const float src[5] = {-3, -1, -7, 2, NAN};
    const int32_t idx[5] = {0, 0, 2, -1, 3};
    const hg_tensor *t = hg_test_run1(&c, hg_scatter_max(c.g, hg_constant(c.g, HG_F32, HG_S1(5), src),
                                                hg_constant(c.g, HG_I32, HG_S1(5), idx), 0, 4));
    HG_CHECK(t && t->shape.dim[0] == 4);
    HG_CHECK(hg_tensor_get(t, 0) == -1); /* max of negatives, not 0 */
    HG_CHECK(hg_tensor_get(t, 1) == 0);  /* empty segment */
    HG_CHECK(hg_tensor_get(t, 2) == -7);
    HG_CHECK(isnan(hg_tensor_get(t, 3)));
    hg_test_ctx_free(&c);
}

HG_TEST(gather_scatter_adjoint_identity) {
    /* <gather(x, idx), y> == <x, scatter_add(y, idx)> */
    hg_test_ctx c = hg_test_ctx_new();
    double x[5] = {0.5, -1, 2, 3.25, 4}, y[7] = {1, -2, 3, 0.5, 7, -1, 2};
    const int32_t idx[7] = {4, 0, 0, -1, 2, 4, 1};
    hg_value vi = hg_constant(c.g, HG_I32, HG_S1(7), idx);
    const hg_tensor *t = hg_test_run1(&c, hg_gather(c.g, hg_test_vec64(&c, 5, x), vi, 0));
    HG_CHECK(t);
    double lhs = 0, rhs = 0;
    for (int e = 0; e < 7; e++) lhs += hg_tensor_get(t, e) * y[e];
    t = hg_test_run1(&c, hg_scatter_add(c.g, hg_test_vec64(&c, 7, y), vi, 0, 5));
    HG_CHECK(t);
    for (int i = 0; i < 5; i++) rhs += x[i] * hg_tensor_get(t, i);
    HG_CHECK_NEAR(lhs, rhs, 1e-12);
    HG_CHECK_NEAR(lhs, 4 * 1 + 0.5 * -2 + 0.5 * 3 + 2 * 7 + 4 * -1 + -1 * 2, 1e-12);
    hg_test_ctx_free(&c);
}
