/* Reference interpreter: unary, binary, comparison, logical ops and where,
 * with broadcasting, against values worked out by hand / closed form. */
#include "codegen/codegen.h"
#include "tests/hg_test.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

HG_LABELS(fast)

/* ------------------------------------------------------------- unary */

HG_TEST(unary_closed_form_f64) {
    hg_test_ctx c = hg_test_ctx_new();
    const double x[4] = {-2.0, -0.5, 0.25, 3.0};
    hg_value vx = hg_test_vec64(&c, 4, x);
    struct { hg_op op; double want[4]; } cases[] = {
        {HG_OP_neg, {2.0, 0.5, -0.25, -3.0}},
        {HG_OP_abs, {2.0, 0.5, 0.25, 3.0}},
        {HG_OP_sign, {-1, -1, 1, 1}},
        {HG_OP_square, {4.0, 0.25, 0.0625, 9.0}},
        {HG_OP_reciprocal, {-0.5, -2.0, 4.0, 1.0 / 3.0}},
        {HG_OP_floor, {-2, -1, 0, 3}},
        {HG_OP_exp, {0.1353352832366127, 0.6065306597126334, 1.2840254166877414, 20.085536923187668}},
        {HG_OP_tanh, {-0.9640275800758169, -0.46211715726000974, 0.24491866240370913, 0.9950547536867305}},
        {HG_OP_sigmoid, {0.11920292202211755, 0.3775406687981454, 0.5621765008857981, 0.9525741268224334}},
        {HG_OP_softplus, {0.1269280110429725, 0.4740769841801067, 0.8259394198788436, 3.048587351573742}},
        {HG_OP_erf, {-0.9953222650189527, -0.5204998778130465, 0.2763263901682369, 0.9999779095030014}},
        {HG_OP_sin, {-0.9092974268256817, -0.479425538604203, 0.24740395925452294, 0.1411200080598672}},
        {HG_OP_cos, {-0.4161468365471424, 0.8775825618903728, 0.9689124217106447, -0.9899924966004454}},
        {HG_OP_expm1, {-0.8646647167633873, -0.3934693402873666, 0.2840254166877415, 19.085536923187668}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hg_tensor *t = hg_test_run1(&c, hg_unary(c.g, cases[i].op, vx));
        HG_CHECK(t && t->dtype == HG_F64);
        for (int j = 0; j < 4; j++) {
            if (!(fabs(hg_tensor_get(t, j) - cases[i].want[j]) <= 1e-14 * fmax(1, fabs(cases[i].want[j]))))
                HG_FAIL("%s(%g) = %.17g, want %.17g", hg_op_table[cases[i].op].name,
                        x[j], hg_tensor_get(t, j), cases[i].want[j]);
        }
    }
    /* gelu_tanh from its formula: 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))) */
    const hg_tensor *t = hg_test_run1(&c, hg_gelu(c.g, vx));
    HG_CHECK(t);
    for (int j = 0; j < 4; j++) {
        double a = x[j];
        double want = 0.5 * a * (1 + tanh(sqrt(2 / M_PI) * (a + 0.044715 * a * a * a)));
        HG_CHECK_NEAR(hg_tensor_get(t, j), want, 1e-15);
    }
    hg_test_ctx_free(&c);
}

HG_TEST(unary_positive_domain_f32) {
    hg_test_ctx c = hg_test_ctx_new();
    const float x[3] = {0.25f, 1.0f, 4.0f};
    hg_value vx = hg_test_vec32(&c, 3, x);
    struct { hg_op op; double want[3]; } cases[] = {
        {HG_OP_sqrt, {0.5, 1.0, 2.0}},
        {HG_OP_rsqrt, {2.0, 1.0, 0.5}},
        {HG_OP_log, {-1.3862943611198906, 0.0, 1.3862943611198906}},
        {HG_OP_log1p, {0.22314355131420976, 0.6931471805599453, 1.6094379124341003}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hg_tensor *t = hg_test_run1(&c, hg_unary(c.g, cases[i].op, vx));
        HG_CHECK(t && t->dtype == HG_F32);
        for (int j = 0; j < 3; j++)
            HG_CHECK_REL(hg_tensor_get(t, j), cases[i].want[j], 1.2e-7);
    }
    hg_test_ctx_free(&c);
}

HG_TEST(round_half_to_even) {
    hg_test_ctx c = hg_test_ctx_new();
    const double x[10] = {0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 2.5000001, -0.0, 1e300};
    const double want[10] = {0, 2, 2, -0.0, -2, -2, 0, 3, -0.0, 1e300};
    const hg_tensor *t = hg_test_run1(&c, hg_unary(c.g, HG_OP_round, hg_test_vec64(&c, 10, x)));
    HG_CHECK(t);
    for (int j = 0; j < 10; j++) {
        double y = hg_tensor_get(t, j);
        HG_CHECK(y == want[j]);
        HG_CHECK(signbit(y) == signbit(want[j])); /* -0.5 -> -0 */
    }
    const float xf[4] = {0.5f, 1.5f, 2.5f, -3.5f};
    t = hg_test_run1(&c, hg_unary(c.g, HG_OP_round, hg_test_vec32(&c, 4, xf)));
    HG_CHECK(t);
    HG_CHECK(hg_tensor_get(t, 0) == 0 && hg_tensor_get(t, 1) == 2);
    HG_CHECK(hg_tensor_get(t, 2) == 2 && hg_tensor_get(t, 3) == -4);
    hg_test_ctx_free(&c);
}

HG_TEST(stable_sigmoid_softplus_extremes) {
    hg_test_ctx c = hg_test_ctx_new();
    const float x[4] = {-1000.0f, 1000.0f, -100.0f, 100.0f};
    hg_value vx = hg_test_vec32(&c, 4, x);
    const hg_tensor *t = hg_test_run1(&c, hg_sigmoid(c.g, vx));
    HG_CHECK(t);
    HG_CHECK(hg_tensor_get(t, 0) == 0.0 && hg_tensor_get(t, 1) == 1.0);
    /* sigmoid(-100) = e^-100 / (1 + e^-100) ~ 3.72e-44: an f32 subnormal, not NaN */
    HG_CHECK(!isnan(hg_tensor_get(t, 2)) && hg_tensor_get(t, 2) >= 0);
    t = hg_test_run1(&c, hg_unary(c.g, HG_OP_softplus, vx));
    HG_CHECK(t);
    HG_CHECK(hg_tensor_get(t, 0) == 0.0);
    HG_CHECK(hg_tensor_get(t, 1) == 1000.0); /* not inf */
    HG_CHECK(hg_tensor_get(t, 3) == 100.0);
    hg_test_ctx_free(&c);
}

HG_TEST(nan_inf_propagation) {
    hg_test_ctx c = hg_test_ctx_new();
    const double a[4] = {NAN, 1.0, INFINITY, -INFINITY};
    const double b[4] = {1.0, NAN, 1.0, 2.0};
    hg_value va = hg_test_vec64(&c, 4, a), vb = hg_test_vec64(&c, 4, b);
    const hg_tensor *t = hg_test_run1(&c, hg_binary(c.g, HG_OP_maximum, va, vb));
    HG_CHECK(t);
    HG_CHECK(isnan(hg_tensor_get(t, 0)) && isnan(hg_tensor_get(t, 1)));
    HG_CHECK(hg_tensor_get(t, 2) == INFINITY && hg_tensor_get(t, 3) == 2.0);
    t = hg_test_run1(&c, hg_binary(c.g, HG_OP_minimum, va, vb));
    HG_CHECK(t);
    HG_CHECK(isnan(hg_tensor_get(t, 0)) && isnan(hg_tensor_get(t, 1)));
    HG_CHECK(hg_tensor_get(t, 2) == 1.0 && hg_tensor_get(t, 3) == -INFINITY);
    t = hg_test_run1(&c, hg_add(c.g, va, vb));
    HG_CHECK(t);
    HG_CHECK(isnan(hg_tensor_get(t, 0)) && hg_tensor_get(t, 2) == INFINITY);
    t = hg_test_run1(&c, hg_exp(c.g, va));
    HG_CHECK(t);
    HG_CHECK(isnan(hg_tensor_get(t, 0)) && hg_tensor_get(t, 2) == INFINITY &&
             hg_tensor_get(t, 3) == 0.0);
    t = hg_test_run1(&c, hg_binary(c.g, HG_OP_eq, va, va)); /* NaN != NaN */
    HG_CHECK(t && t->dtype == HG_BOOL);
    HG_CHECK(hg_tensor_get(t, 0) == 0 && hg_tensor_get(t, 1) == 1);
    t = hg_test_run1(&c, hg_unary(c.g, HG_OP_sign, va));
    HG_CHECK(t && isnan(hg_tensor_get(t, 0)) && hg_tensor_get(t, 3) == -1);
    hg_test_ctx_free(&c);
}

/* ------------------------------------------------------------ binary */

HG_TEST(binary_f32_f64) {
    hg_test_ctx c = hg_test_ctx_new();
    const double a[3] = {6.0, -3.0, 2.0}, b[3] = {4.0, 2.0, 0.5};
    hg_value va = hg_test_vec64(&c, 3, a), vb = hg_test_vec64(&c, 3, b);
    struct { hg_op op; double want[3]; } cases[] = {
        {HG_OP_add, {10, -1, 2.5}}, {HG_OP_sub, {2, -5, 1.5}},
        {HG_OP_mul, {24, -6, 1}},   {HG_OP_div, {1.5, -1.5, 4}},
        {HG_OP_pow, {1296, 9, 1.4142135623730951}},
        {HG_OP_maximum, {6, 2, 2}}, {HG_OP_minimum, {4, -3, 0.5}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hg_tensor *t = hg_test_run1(&c, hg_binary(c.g, cases[i].op, va, vb));
        HG_CHECK(t);
        for (int j = 0; j < 3; j++) HG_CHECK_NEAR(hg_tensor_get(t, j), cases[i].want[j], 1e-15);
    }
    /* f32: 0.1f + 0.2f is the f32 sum, not the double one rounded */
    const float fa[2] = {0.1f, 16777216.0f}, fb[2] = {0.2f, 1.0f};
    const hg_tensor *t = hg_test_run1(&c, hg_add(c.g, hg_test_vec32(&c, 2, fa), hg_test_vec32(&c, 2, fb)));
    HG_CHECK(t && t->dtype == HG_F32);
    volatile float s0 = fa[0] + fb[0];
    HG_CHECK(((const float *)t->data)[0] == s0);
    HG_CHECK(((const float *)t->data)[1] == 16777216.0f); /* 2^24 + 1 rounds to even */
    hg_test_ctx_free(&c);
}

HG_TEST(floor_mod_signs) {
    hg_test_ctx c = hg_test_ctx_new();
    const double a[6] = {7, -7, 7, -7, 6, -6}, b[6] = {3, 3, -3, -3, 3, 3};
    const double want[6] = {1, 2, -2, -1, 0, 0};
    const hg_tensor *t = hg_test_run1(&c, hg_binary(c.g, HG_OP_floor_mod, hg_test_vec64(&c, 6, a), hg_test_vec64(&c, 6, b)));
    HG_CHECK(t);
    for (int j = 0; j < 6; j++) HG_CHECK(hg_tensor_get(t, j) == want[j]);
    const double fa[2] = {5.5, -5.5}, fb[2] = {2.0, 2.0};
    t = hg_test_run1(&c, hg_binary(c.g, HG_OP_floor_mod, hg_test_vec64(&c, 2, fa), hg_test_vec64(&c, 2, fb)));
    HG_CHECK(t);
    HG_CHECK(hg_tensor_get(t, 0) == 1.5 && hg_tensor_get(t, 1) == 0.5);
    const int32_t ia[4] = {7, -7, 7, -7}, ib[4] = {3, 3, -3, -3};
    hg_value xa = hg_constant(c.g, HG_I32, HG_S1(4), ia), xb = hg_constant(c.g, HG_I32, HG_S1(4), ib);
    t = hg_test_run1(&c, hg_binary(c.g, HG_OP_floor_mod, xa, xb));
    HG_CHECK(t && t->dtype == HG_I32);
    const int32_t iw[4] = {1, 2, -2, -1};
    for (int j = 0; j < 4; j++) HG_CHECK(((const int32_t *)t->data)[j] == iw[j]);
    hg_test_ctx_free(&c);
}

HG_TEST(int32_arithmetic) {
    hg_test_ctx c = hg_test_ctx_new();
    const int32_t a[4] = {5, -3, 0, 2147483647}, b[4] = {-2, 4, 0, 1};
    hg_value xa = hg_constant(c.g, HG_I32, HG_S1(4), a), xb = hg_constant(c.g, HG_I32, HG_S1(4), b);
    struct { hg_value v; int32_t want[4]; } cases[] = {
        {hg_add(c.g, xa, xb), {3, 1, 0, INT32_MIN}}, /* wraps */
        {hg_sub(c.g, xa, xb), {7, -7, 0, 2147483646}},
        {hg_mul(c.g, xa, xb), {-10, -12, 0, 2147483647}},
        {hg_binary(c.g, HG_OP_maximum, xa, xb), {5, 4, 0, 2147483647}},
        {hg_binary(c.g, HG_OP_minimum, xa, xb), {-2, -3, 0, 1}},
        {hg_neg(c.g, xa), {-5, 3, 0, -2147483647}},
        {hg_unary(c.g, HG_OP_abs, xa), {5, 3, 0, 2147483647}},
        {hg_unary(c.g, HG_OP_sign, xa), {1, -1, 0, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hg_tensor *t = hg_test_run1(&c, cases[i].v);
        HG_CHECK(t && t->dtype == HG_I32);
        for (int j = 0; j < 4; j++) {
            if (((const int32_t *)t->data)[j] != cases[i].want[j])
                HG_FAIL("case %zu elem %d: %d want %d", i, j,
                        ((const int32_t *)t->data)[j], cases[i].want[j]);
        }
    }
    hg_test_ctx_free(&c);
}

/* -------------------------------------------------------- broadcasting */

HG_TEST(broadcast_col_plus_row) {
    hg_test_ctx c = hg_test_ctx_new();
    const float col[3] = {10, 20, 30}, row[4] = {1, 2, 3, 4};
    hg_value a = hg_constant(c.g, HG_F32, HG_S2(3, 1), col);
    hg_value b = hg_constant(c.g, HG_F32, HG_S2(1, 4), row);
    const hg_tensor *t = hg_test_run1(&c, hg_add(c.g, a, b));
    HG_CHECK(t && t->shape.rank == 2 && t->shape.dim[0] == 3 && t->shape.dim[1] == 4);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) HG_CHECK(hg_tensor_get(t, i * 4 + j) == col[i] + row[j]);
    /* [4] - [3,1]: rank extension on the left */
    t = hg_test_run1(&c, hg_sub(c.g, hg_constant(c.g, HG_F32, HG_S1(4), row), a));
    HG_CHECK(t && t->shape.dim[0] == 3 && t->shape.dim[1] == 4);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) HG_CHECK(hg_tensor_get(t, i * 4 + j) == row[j] - col[i]);
    hg_test_ctx_free(&c);
}

HG_TEST(broadcast_scalar_and_rank0) {
    hg_test_ctx c = hg_test_ctx_new();
    const double x[5] = {1, 2, 3, 4, 5};
    hg_value s = hg_scalar(c.g, HG_F64, 0.5);
    const hg_tensor *t = hg_test_run1(&c, hg_mul(c.g, s, hg_test_vec64(&c, 5, x)));
    HG_CHECK(t && t->shape.rank == 1 && t->shape.dim[0] == 5);
    for (int j = 0; j < 5; j++) HG_CHECK(hg_tensor_get(t, j) == 0.5 * x[j]);
    /* rank 0 op rank 0 */
    t = hg_test_run1(&c, hg_sub(c.g, s, hg_scalar(c.g, HG_F64, 2.0)));
    HG_CHECK(t && t->shape.rank == 0 && hg_tensor_get(t, 0) == -1.5);
    /* rank 0 unary */
    t = hg_test_run1(&c, hg_exp(c.g, hg_scalar(c.g, HG_F64, 0.0)));
    HG_CHECK(t && t->shape.rank == 0 && hg_tensor_get(t, 0) == 1.0);
    hg_test_ctx_free(&c);
}

HG_TEST(broadcast_large_middle_axis) {
    /* [2,1,3] * [1,5000,1]: crosses the parallel block size */
    hg_test_ctx c = hg_test_ctx_new();
    const double a[6] = {1, 2, 3, 4, 5, 6};
    static double b[5000];
    for (int i = 0; i < 5000; i++) b[i] = i;
    hg_value va = hg_constant(c.g, HG_F64, hg_shape_make(3, (int64_t[]){2, 1, 3}), a);
    hg_value vb = hg_constant(c.g, HG_F64, hg_shape_make(3, (int64_t[]){1, 5000, 1}), b);
    const hg_tensor *t = hg_test_run1(&c, hg_mul(c.g, va, vb));
    HG_CHECK(t && hg_shape_numel(t->shape) == 30000);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 5000; j++)
            for (int k = 0; k < 3; k++)
                if (hg_tensor_get(t, (i * 5000 + j) * 3 + k) != a[i * 3 + k] * j)
                    HG_FAIL("at %d %d %d", i, j, k);
    hg_test_ctx_free(&c);
}

/* ------------------------------------------- comparisons, logical, where */

HG_TEST(comparisons_and_logical) {
    hg_test_ctx c = hg_test_ctx_new();
    const double a[3] = {1, 2, 3}, b[3] = {2, 2, 2};
    hg_value va = hg_test_vec64(&c, 3, a), vb = hg_test_vec64(&c, 3, b);
    struct { hg_op op; int want[3]; } cases[] = {
        {HG_OP_eq, {0, 1, 0}}, {HG_OP_ne, {1, 0, 1}}, {HG_OP_lt, {1, 0, 0}},
        {HG_OP_le, {1, 1, 0}}, {HG_OP_gt, {0, 0, 1}}, {HG_OP_ge, {0, 1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hg_tensor *t = hg_test_run1(&c, hg_binary(c.g, cases[i].op, va, vb));
        HG_CHECK(t && t->dtype == HG_BOOL);
        for (int j = 0; j < 3; j++)
            HG_CHECK(((const uint8_t *)t->data)[j] == cases[i].want[j]);
    }
    const int32_t ia[2] = {-1, 5}, ib[2] = {-1, 4};
    const hg_tensor *t = hg_test_run1(&c, hg_binary(c.g, HG_OP_gt, hg_constant(c.g, HG_I32, HG_S1(2), ia),
                                           hg_constant(c.g, HG_I32, HG_S1(2), ib)));
    HG_CHECK(t && ((const uint8_t *)t->data)[0] == 0 && ((const uint8_t *)t->data)[1] == 1);
    const uint8_t p[4] = {0, 0, 1, 1}, q[4] = {0, 1, 0, 1};
    hg_value vp = hg_constant(c.g, HG_BOOL, HG_S1(4), p), vq = hg_constant(c.g, HG_BOOL, HG_S1(4), q);
    const int and_w[4] = {0, 0, 0, 1}, or_w[4] = {0, 1, 1, 1}, not_w[4] = {1, 1, 0, 0};
    const hg_tensor *ta = hg_test_run1(&c, hg_binary(c.g, HG_OP_logical_and, vp, vq));
    HG_CHECK(ta);
    for (int j = 0; j < 4; j++) HG_CHECK(((const uint8_t *)ta->data)[j] == and_w[j]);
    ta = hg_test_run1(&c, hg_binary(c.g, HG_OP_logical_or, vp, vq));
    HG_CHECK(ta);
    for (int j = 0; j < 4; j++) HG_CHECK(((const uint8_t *)ta->data)[j] == or_w[j]);
    ta = hg_test_run1(&c, hg_unary(c.g, HG_OP_logical_not, vp));
    HG_CHECK(ta);
    for (int j = 0; j < 4; j++) HG_CHECK(((const uint8_t *)ta->data)[j] == not_w[j]);
    hg_test_ctx_free(&c);
}

HG_TEST(where_broadcast_all_three) {
    hg_test_ctx c = hg_test_ctx_new();
    const uint8_t cond[3] = {1, 0, 1};              /* [3,1] */
    const float x[4] = {1, 2, 3, 4};                /* [4]   */
    const float y = -7.0f;                          /* rank 0 */
    hg_value vc = hg_constant(c.g, HG_BOOL, HG_S2(3, 1), cond);
    hg_value vx = hg_constant(c.g, HG_F32, HG_S1(4), x);
    hg_value vy = hg_constant(c.g, HG_F32, hg_shape_scalar(), &y);
    const hg_tensor *t = hg_test_run1(&c, hg_where(c.g, vc, vx, vy));
    HG_CHECK(t && t->dtype == HG_F32 && t->shape.dim[0] == 3 && t->shape.dim[1] == 4);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            HG_CHECK(hg_tensor_get(t, i * 4 + j) == (cond[i] ? x[j] : y));
    /* i32 payload */
    const int32_t xi[3] = {1, 2, 3}, yi[3] = {-1, -2, -3};
    t = hg_test_run1(&c, hg_where(c.g, hg_constant(c.g, HG_BOOL, HG_S1(3), cond),
                         hg_constant(c.g, HG_I32, HG_S1(3), xi), hg_constant(c.g, HG_I32, HG_S1(3), yi)));
    HG_CHECK(t && t->dtype == HG_I32);
    HG_CHECK(((const int32_t *)t->data)[0] == 1 && ((const int32_t *)t->data)[1] == -2 &&
             ((const int32_t *)t->data)[2] == 3);
    hg_test_ctx_free(&c);
}
