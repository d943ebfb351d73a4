/* The formulas of ir/elementwise.def, through their C expansion
 * (ir/elementwise.h: hg_ew_f_OP, hg_ew_s_OP, hg_ew_i_OP, hg_ew_b_OP),
 * against formulas written here independently, at chosen points: zeros of
 * both signs, subnormals, huge and tiny values, +-inf, NaN, halfway
 * points, and the i32 extremes. Exact ops must agree bit for bit (any NaN
 * equals any NaN; the sign of zero counts); sigmoid, softplus and
 * gelu_tanh are checked against long double evaluations within 4 ulp
 * (gelu_tanh for x < 0: within |x| 2^-52, the cancellation in 1 + tanh). */
#include "ir/elementwise.h"
#include "tests/hg_test.h"

#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

HG_LABELS(fast)

static const double PTS[] = {
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.0, -7.0, 0.1,
    -0.3, 1e-310, -1e-310, 1e-300, 1e-20, 1e300, -1e300, 20.0, -20.0, 40.0,
    -40.0, 710.0, -745.0, 4503599627370497.0, 0.49999999999999994, INFINITY,
    -INFINITY, NAN};
#define NP (int)(sizeof PTS / sizeof PTS[0])

static const int32_t IPTS[] = {0, 1, -1, 2, -3, 7, -7, 46341, -46341, 65536,
                               INT32_MAX, INT32_MIN, INT32_MIN + 1};
#define NI (int)(sizeof IPTS / sizeof IPTS[0])

/* ------------------------------------------------ the formulas under test */

/* The .def's float formula of op at (x, y) (c: where's condition): 1 and
 * *r when op has one. Comparisons give 0/1. */
static int def_f(hg_op op, int c, double x, double y, double *r) {
    switch (op) {
#define HG_EW_UNARY(o, F, I, B) HG_EWC_IF(F, case HG_OP_##o: *r = hg_ew_f_##o(x); return 1;)
#define HG_EW_BINARY(o, F, I, B) HG_EWC_IF(F, case HG_OP_##o: *r = hg_ew_f_##o(x, y); return 1;)
#define HG_EW_COMPARE HG_EW_BINARY
#define HG_EW_SELECT(o, F, I, B) HG_EWC_IF(F, case HG_OP_##o: *r = hg_ew_f_##o(c, x, y); return 1;)
#include "ir/elementwise.def"
    default: return 0;
    }
}

/* The f32-operand evaluation (hg_ew_s_OP), rounded to f32. */
static int def_s(hg_op op, int c, float x, float y, float *r) {
    switch (op) {
#define HG_EW_UNARY(o, F, I, B) HG_EWC_IF(F, case HG_OP_##o: *r = (float)hg_ew_s_##o(x); return 1;)
#define HG_EW_BINARY(o, F, I, B) HG_EWC_IF(F, case HG_OP_##o: *r = (float)hg_ew_s_##o(x, y); return 1;)
#define HG_EW_COMPARE HG_EW_BINARY
#define HG_EW_SELECT(o, F, I, B) HG_EWC_IF(F, case HG_OP_##o: *r = (float)hg_ew_s_##o(c, x, y); return 1;)
#include "ir/elementwise.def"
    default: return 0;
    }
}

static int def_i(hg_op op, int c, int32_t x, int32_t y, int32_t *r) {
    switch (op) {
#define HG_EW_UNARY(o, F, I, B) HG_EWC_IF(I, case HG_OP_##o: *r = hg_ew_i_##o(x); return 1;)
#define HG_EW_BINARY(o, F, I, B) HG_EWC_IF(I, case HG_OP_##o: *r = hg_ew_i_##o(x, y); return 1;)
#define HG_EW_COMPARE HG_EW_BINARY
#define HG_EW_SELECT(o, F, I, B) HG_EWC_IF(I, case HG_OP_##o: *r = hg_ew_i_##o(c, x, y); return 1;)
#include "ir/elementwise.def"
    default: return 0;
    }
}

static int def_b(hg_op op, int c, int x, int y, int *r) {
    switch (op) {
#define HG_EW_UNARY(o, F, I, B) HG_EWC_IF(B, case HG_OP_##o: *r = hg_ew_b_##o(x); return 1;)
#define HG_EW_BINARY(o, F, I, B) HG_EWC_IF(B, case HG_OP_##o: *r = hg_ew_b_##o(x, y); return 1;)
#define HG_EW_COMPARE HG_EW_BINARY
#define HG_EW_SELECT(o, F, I, B) HG_EWC_IF(B, case HG_OP_##o: *r = hg_ew_b_##o(c, x, y); return 1;)
#include "ir/elementwise.def"
    default: return 0;
    }
}

/* ------------------------------------------------ independent formulas */

static double sigmoid_ld(double x) {
    long double v = (long double)x;
    return (double)(1.0L / (1.0L + expl(-v)));
}

static double softplus_ld(double x) {
    if (isnan(x)) return x;
    long double v = (long double)x;
    if (x < 0) return (double)log1pl(expl(v));
    if (x < 1e4) return (double)logl(1.0L + expl(v));
    return x; /* e^-x below the last bit */
}

static double gelu_ld(double x) {
    long double v = (long double)x;
    long double c = sqrtl(2.0L / 3.14159265358979323846264338327950288L);
    return (double)(0.5L * v * (1.0L + tanhl(c * (v + 0.044715L * v * v * v))));
}

/* floor_mod by floor division in long double, for finite x and y (exact
 * for the points it is called on: |x / y| < 2^20, short mantissas). */
static double floor_mod_hand(double x, double y) {
    if (isnan(x) || isnan(y) || isinf(x) || y == 0) return NAN;
    long double q = floorl((long double)x / (long double)y);
    long double r = (long double)x - q * (long double)y;
    if (r == 0) return copysign(0.0, y);
    return (double)r;
}

/* The float result the op must give (comparisons 0/1); *tol_ulp 0 for
 * bit-exact, else the allowed ulps. */
static double hand_f(hg_op op, int c, double x, double y, int *tol_ulp) {
    *tol_ulp = 0;
    switch (op) {
    case HG_OP_neg: return -x;
    case HG_OP_abs: return fabs(x);
    case HG_OP_sign: return isnan(x) ? x : x == 0 ? 0.0 : copysign(1.0, x);
    case HG_OP_exp: return exp(x);
    case HG_OP_log: return log(x);
    case HG_OP_log1p: return log1p(x);
    case HG_OP_expm1: return expm1(x);
    case HG_OP_sqrt: return sqrt(x);
    case HG_OP_rsqrt: return 1.0 / sqrt(x);
    case HG_OP_square: return x * x;
    case HG_OP_reciprocal: return 1.0 / x;
    case HG_OP_sin: return sin(x);
    case HG_OP_cos: return cos(x);
    case HG_OP_tanh: return tanh(x);
    case HG_OP_erf: return erf(x);
    case HG_OP_floor: return floor(x);
    case HG_OP_round: return nearbyint(x); /* default mode: ties to even */
    case HG_OP_sigmoid: *tol_ulp = 4; return sigmoid_ld(x);
    case HG_OP_softplus: *tol_ulp = 4; return softplus_ld(x);
    case HG_OP_gelu_tanh: *tol_ulp = 4; return gelu_ld(x);
    case HG_OP_add: return x + y;
    case HG_OP_sub: return x - y;
    case HG_OP_mul: return x * y;
    case HG_OP_div: return x / y;
    case HG_OP_pow: return pow(x, y);
    case HG_OP_maximum:
        return isnan(x) || isnan(y) ? NAN : y > x ? y : x;
    case HG_OP_minimum:
        return isnan(x) || isnan(y) ? NAN : y < x ? y : x;
    case HG_OP_eq: return x == y;
    case HG_OP_ne: return !(x == y);
    case HG_OP_lt: return x < y;
    case HG_OP_le: return x <= y;
    case HG_OP_gt: return y < x;
    case HG_OP_ge: return y <= x;
    case HG_OP_where: return c ? x : y;
    default: return NAN;
    }
}

/* Bit-exact (any NaN = any NaN) or within tol ulps of want. */
static int agrees(double got, double want, int tol) {
    if (isnan(want) || isnan(got)) return isnan(want) && isnan(got);
    if (tol == 0) return memcmp(&got, &want, sizeof got) == 0;
    if (got == want) return 1;
    if (isinf(want) || isinf(got)) return 0;
    double ulp = nextafter(fabs(want), INFINITY) - fabs(want);
    return fabs(got - want) <= tol * ulp;
}

static int agrees_f32(float got, float want) {
    if (want != want || got != got) return want != want && got != got;
    return memcmp(&got, &want, sizeof got) == 0;
}

static int arity(hg_op op) { return hg_op_table[op].arity; }

/* ------------------------------------------------------------- tests */

HG_TEST(every_elementwise_op_has_one_entry) {
    int n[HG_NUM_OPS] = {0}, kind_ok[HG_NUM_OPS] = {0};
#define HG_EW_UNARY(o, F, I, B) n[HG_OP_##o]++; kind_ok[HG_OP_##o] = arity(HG_OP_##o) == 1;
#define HG_EW_BINARY(o, F, I, B) n[HG_OP_##o]++; kind_ok[HG_OP_##o] = arity(HG_OP_##o) == 2;
#define HG_EW_COMPARE HG_EW_BINARY
#define HG_EW_SELECT(o, F, I, B) n[HG_OP_##o]++; kind_ok[HG_OP_##o] = arity(HG_OP_##o) == 3;
#include "ir/elementwise.def"
    for (int op = 0; op < HG_NUM_OPS; op++) {
        int ew = (hg_op_table[op].flags & HG_OPF_ELEMENTWISE) != 0;
        if (n[op] != ew)
            HG_FAIL("op %s: %d entries in elementwise.def, expected %d", hg_op_table[op].name, n[op], ew);
        if (ew && !kind_ok[op]) HG_FAIL("op %s: entry kind does not match arity", hg_op_table[op].name);
    }
}

HG_TEST(float_formulas_match_hand_formulas) {
    HG_CHECK(fegetround() == FE_TONEAREST);
    int checked = 0;
    for (int op = 0; op < HG_NUM_OPS; op++) {
        if (!(hg_op_table[op].flags & HG_OPF_ELEMENTWISE)) continue;
        int logical = op == HG_OP_logical_and || op == HG_OP_logical_or || op == HG_OP_logical_not;
        double r;
        int has = def_f((hg_op)op, 0, 1.0, 1.0, &r);
        if (has == logical) HG_FAIL("op %s: float formula %s", hg_op_table[op].name, has ? "defined" : "missing");
        if (!has) continue;
        int nx = NP, ny = arity((hg_op)op) >= 2 ? NP : 1;
        for (int c = 0; c < (op == HG_OP_where ? 2 : 1); c++)
            for (int i = 0; i < nx; i++)
                for (int j = 0; j < ny; j++) {
                    double x = PTS[i], y = PTS[j];
                    if (op == HG_OP_floor_mod) continue; /* below */
                    int tol;
                    double want = hand_f((hg_op)op, c, x, y, &tol);
                    def_f((hg_op)op, c, x, y, &r);
                    /* gelu_tanh: 1 + tanh(z) cancels for x << 0 (the
                     * reference formula): |error| <= |x| 2^-52 there */
                    int ok = agrees(r, want, tol) ||
                             (op == HG_OP_gelu_tanh && x < 0 && fabs(r - want) <= fabs(x) * 0x1p-52);
                    if (!ok)
                        HG_FAIL("%s(%.17g, %.17g) = %.17g, expected %.17g", hg_op_table[op].name, x, y, r, want);
                    checked++;
                }
    }
    HG_CHECK(checked > 10000);
}

HG_TEST(floor_mod_points) {
    /* worked by hand: x - y floor(x / y), the sign of y */
    static const double cases[][3] = {
        {7, 3, 1}, {-7, 3, 2}, {7, -3, -2}, {-7, -3, -1}, {6, 3, 0.0},
        {-6, 3, 0.0}, {6, -3, -0.0}, {-6, -3, -0.0}, {5.5, 2, 1.5},
        {-5.5, 2, 0.5}, {0.0, 5, 0.0}, {-0.0, 5, 0.0}, {0.0, -5, -0.0},
        {3, INFINITY, 3}, {-3, INFINITY, INFINITY}, {3, -INFINITY, -INFINITY},
        {-3, -INFINITY, -3}, {1, 0.0, NAN}, {INFINITY, 3, NAN}, {NAN, 1, NAN},
        {1, NAN, NAN}, {-1e-310, 1, 1.0}, {1e-310, -1, -1.0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double r;
        HG_CHECK(def_f(HG_OP_floor_mod, 0, cases[i][0], cases[i][1], &r));
        if (!agrees(r, cases[i][2], 0))
            HG_FAIL("floor_mod(%g, %g) = %.17g, expected %.17g", cases[i][0], cases[i][1], r, cases[i][2]);
        if (!isnan(cases[i][2]) && !isinf(cases[i][1]))
            HG_CHECK(agrees(floor_mod_hand(cases[i][0], cases[i][1]), cases[i][2], 0));
    }
    /* small-quotient grid against floor division */
    for (int i = -40; i <= 40; i++)
        for (int j = -9; j <= 9; j++) {
            if (j == 0) continue;
            double x = i * 0.75, y = j * 0.5, r;
            def_f(HG_OP_floor_mod, 0, x, y, &r);
            if (!agrees(r, floor_mod_hand(x, y), 0))
                HG_FAIL("floor_mod(%g, %g) = %.17g, expected %.17g", x, y, r, floor_mod_hand(x, y));
        }
}

HG_TEST(f32_evaluation_where_exact) {
    /* The ops whose formula does one rounding (or none): evaluated on f32
     * operands they must give the f32 rounding of the double formula. */
    static const hg_op one_rounding[] = {
        HG_OP_neg, HG_OP_abs, HG_OP_sign, HG_OP_sqrt, HG_OP_square,
        HG_OP_reciprocal, HG_OP_floor, HG_OP_round, HG_OP_add, HG_OP_sub,
        HG_OP_mul, HG_OP_div, HG_OP_maximum, HG_OP_minimum, HG_OP_floor_mod,
        HG_OP_eq, HG_OP_ne, HG_OP_lt, HG_OP_le, HG_OP_gt, HG_OP_ge, HG_OP_where};
    int expect[HG_NUM_OPS] = {0};
    for (size_t k = 0; k < sizeof one_rounding / sizeof one_rounding[0]; k++) expect[one_rounding[k]] = 1;
    for (int op = 0; op < HG_NUM_OPS; op++) {
        if (!(hg_op_table[op].flags & HG_OPF_ELEMENTWISE)) continue;
        if (hg_ew_f32_exact[op] != expect[op])
            HG_FAIL("hg_ew_f32_exact[%s] = %d, expected %d", hg_op_table[op].name, hg_ew_f32_exact[op], expect[op]);
    }
    static const float FP[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.5f, -2.5f, 3.0f, -7.0f, 0.1f,
                               1e-45f, -1e-40f, 1e-20f, 3e38f, -3e38f, 16777217.0f, 0.4999999702f,
                               1.00000012f, INFINITY, -INFINITY, NAN};
    int nf = (int)(sizeof FP / sizeof FP[0]);
    for (size_t k = 0; k < sizeof one_rounding / sizeof one_rounding[0]; k++) {
        hg_op op = one_rounding[k];
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < nf; i++)
                for (int j = 0; j < (arity(op) >= 2 ? nf : 1); j++) {
                    float r;
                    double d;
                    HG_CHECK(def_s(op, c, FP[i], FP[j], &r));
                    def_f(op, c, FP[i], FP[j], &d);
                    if (!agrees_f32(r, (float)d))
                        HG_FAIL("%s f32(%.9g, %.9g) = %.9g, double formula %.9g", hg_op_table[op].name,
                                FP[i], FP[j], r, (float)d);
                }
    }
}

static int32_t wrap(int64_t v) { return (int32_t)(uint32_t)((uint64_t)v & 0xffffffffu); }

/* floor division remainder in int64 (y != 0) */
static int64_t floor_mod_i(int64_t x, int64_t y) {
    int64_t q = x / y;
    if (x % y != 0 && ((x < 0) != (y < 0))) q--;
    return x - q * y;
}

HG_TEST(int32_formulas_match_hand_formulas) {
    /* which ops define i32, written here from the op documentation (ir.h) */
    static const hg_op int_ops[] = {HG_OP_neg, HG_OP_abs, HG_OP_sign, HG_OP_square, HG_OP_add,
                                    HG_OP_sub, HG_OP_mul, HG_OP_maximum, HG_OP_minimum,
                                    HG_OP_floor_mod, HG_OP_eq, HG_OP_ne, HG_OP_lt, HG_OP_le,
                                    HG_OP_gt, HG_OP_ge, HG_OP_where};
    int expect[HG_NUM_OPS] = {0};
    for (size_t k = 0; k < sizeof int_ops / sizeof int_ops[0]; k++) expect[int_ops[k]] = 1;
    for (int op = 0; op < HG_NUM_OPS; op++) {
        if (!(hg_op_table[op].flags & HG_OPF_ELEMENTWISE)) continue;
        int32_t r;
        int has = def_i((hg_op)op, 0, 1, 1, &r);
        if (has != expect[op]) HG_FAIL("op %s: i32 formula %s", hg_op_table[op].name, has ? "defined" : "missing");
        if (!has) continue;
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < NI; i++)
                for (int j = 0; j < NI; j++) {
                    int64_t x = IPTS[i], y = IPTS[j];
                    int64_t w;
                    switch (op) {
                    case HG_OP_neg: w = wrap(-x); break;
                    case HG_OP_abs: w = wrap(x < 0 ? -x : x); break;
                    case HG_OP_sign: w = x > 0 ? 1 : x < 0 ? -1 : 0; break;
                    case HG_OP_square: w = wrap(x * x); break;
                    case HG_OP_add: w = wrap(x + y); break;
                    case HG_OP_sub: w = wrap(x - y); break;
                    case HG_OP_mul: w = wrap(x * y); break;
                    case HG_OP_maximum: w = x > y ? x : y; break;
                    case HG_OP_minimum: w = x < y ? x : y; break;
                    case HG_OP_floor_mod: w = y == 0 ? 0 : wrap(floor_mod_i(x, y)); break;
                    case HG_OP_eq: w = x == y; break;
                    case HG_OP_ne: w = x != y; break;
                    case HG_OP_lt: w = x < y; break;
                    case HG_OP_le: w = x <= y; break;
                    case HG_OP_gt: w = x > y; break;
                    case HG_OP_ge: w = x >= y; break;
                    default: w = c ? x : y; break; /* where */
                    }
                    def_i((hg_op)op, c, (int32_t)x, (int32_t)y, &r);
                    if (r != w)
                        HG_FAIL("%s i32(%lld, %lld) = %d, expected %lld", hg_op_table[op].name,
                                (long long)x, (long long)y, r, (long long)w);
                }
    }
    /* worked by hand */
    int32_t r;
    def_i(HG_OP_square, 0, 46341, 0, &r);
    HG_CHECK(r == -2147479015); /* 46341^2 = 2147488281 = 2^31 + 4633 */
    def_i(HG_OP_square, 0, INT32_MIN, 0, &r);
    HG_CHECK(r == 0);
    def_i(HG_OP_floor_mod, 0, INT32_MIN, -1, &r);
    HG_CHECK(r == 0);
    def_i(HG_OP_floor_mod, 0, -7, 3, &r);
    HG_CHECK(r == 2);
    def_i(HG_OP_floor_mod, 0, 5, INT32_MIN, &r);
    HG_CHECK(r == -2147483643);
}

HG_TEST(bool_formulas_match_hand_formulas) {
    static const hg_op bool_ops[] = {HG_OP_eq, HG_OP_ne, HG_OP_logical_and, HG_OP_logical_or,
                                     HG_OP_logical_not, HG_OP_where};
    int expect[HG_NUM_OPS] = {0};
    for (size_t k = 0; k < sizeof bool_ops / sizeof bool_ops[0]; k++) expect[bool_ops[k]] = 1;
    for (int op = 0; op < HG_NUM_OPS; op++) {
        if (!(hg_op_table[op].flags & HG_OPF_ELEMENTWISE)) continue;
        int r;
        int has = def_b((hg_op)op, 0, 1, 1, &r);
        if (has != expect[op]) HG_FAIL("op %s: bool formula %s", hg_op_table[op].name, has ? "defined" : "missing");
        if (!has) continue;
        for (int c = 0; c < 2; c++)
            for (int x = 0; x < 2; x++)
                for (int y = 0; y < 2; y++) {
                    int w;
                    switch (op) {
                    case HG_OP_eq: w = x == y; break;
                    case HG_OP_ne: w = x != y; break;
                    case HG_OP_logical_and: w = x & y; break;
                    case HG_OP_logical_or: w = x | y; break;
                    case HG_OP_logical_not: w = 1 - x; break;
                    default: w = c ? x : y; break;
                    }
                    def_b((hg_op)op, c, x, y, &r);
                    if (r != w) HG_FAIL("%s bool(%d, %d, %d) = %d, expected %d", hg_op_table[op].name, c, x, y, r, w);
                }
    }
}

HG_TEST(special_values_worked_by_hand) {
    /* a few results stated in the op documentation, independent of libm */
    double r;
    def_f(HG_OP_sign, 0, -0.0, 0, &r);
    HG_CHECK(r == 0 && !signbit(r));
    def_f(HG_OP_round, 0, -0.5, 0, &r);
    HG_CHECK(r == 0 && signbit(r));
    def_f(HG_OP_round, 0, 2.5, 0, &r);
    HG_CHECK(r == 2);
    def_f(HG_OP_round, 0, -3.5, 0, &r);
    HG_CHECK(r == -4);
    def_f(HG_OP_maximum, 0, -0.0, 0.0, &r);
    HG_CHECK(r == 0 && signbit(r)); /* ties give x */
    def_f(HG_OP_maximum, 0, NAN, 1.0, &r);
    HG_CHECK(isnan(r));
    def_f(HG_OP_minimum, 0, 1.0, NAN, &r);
    HG_CHECK(isnan(r));
    def_f(HG_OP_sigmoid, 0, 0.0, 0, &r);
    HG_CHECK(r == 0.5);
    def_f(HG_OP_sigmoid, 0, -1000.0, 0, &r);
    HG_CHECK(r == 0);
    def_f(HG_OP_sigmoid, 0, 1000.0, 0, &r);
    HG_CHECK(r == 1);
    def_f(HG_OP_softplus, 0, 0.0, 0, &r);
    HG_CHECK_NEAR(r, 0.69314718055994530942, 1e-16);
    def_f(HG_OP_softplus, 0, 1e300, 0, &r);
    HG_CHECK(r == 1e300);
    def_f(HG_OP_softplus, 0, -INFINITY, 0, &r);
    HG_CHECK(r == 0);
    def_f(HG_OP_gelu_tanh, 0, 0.0, 0, &r);
    HG_CHECK(r == 0);
    def_f(HG_OP_gelu_tanh, 0, INFINITY, 0, &r);
    HG_CHECK(r == INFINITY);
    def_f(HG_OP_ne, 0, NAN, NAN, &r);
    HG_CHECK(r == 1);
    def_f(HG_OP_eq, 0, -0.0, 0.0, &r);
    HG_CHECK(r == 1);
}

HG_TEST(cast_formulas_worked_by_hand) {
    static const struct { double x; int32_t want; } fi[] = {
        {NAN, 0}, {2.9, 2}, {-2.9, -2}, {-0.0, 0}, {0.999999, 0},
        {2147483646.9, 2147483646}, {2147483647.0, INT32_MAX}, {2147483647.5, INT32_MAX},
        {-2147483647.5, -2147483647}, {-2147483648.0, INT32_MIN}, {-2147483648.9, INT32_MIN},
        {1e300, INT32_MAX}, {-1e300, INT32_MIN}, {INFINITY, INT32_MAX}, {-INFINITY, INT32_MIN}};
    for (size_t i = 0; i < sizeof fi / sizeof fi[0]; i++)
        if (hg_ew_cast_FLOAT_INT(fi[i].x) != fi[i].want)
            HG_FAIL("cast f->i32(%.17g) = %d, expected %d", fi[i].x, hg_ew_cast_FLOAT_INT(fi[i].x), fi[i].want);
    HG_CHECK(hg_ew_cast_FLOAT_BOOL(NAN) == 1 && hg_ew_cast_FLOAT_BOOL(-0.0) == 0);
    HG_CHECK(hg_ew_cast_FLOAT_BOOL(1e-310) == 1 && hg_ew_cast_FLOAT_BOOL(-INFINITY) == 1);
    HG_CHECK(hg_ew_cast_INT_FLOAT(16777217) == 16777217.0);
    HG_CHECK(hg_ew_cast_INT_FLOAT(INT32_MIN) == -2147483648.0);
    HG_CHECK(hg_ew_cast_INT_BOOL(0) == 0 && hg_ew_cast_INT_BOOL(INT32_MIN) == 1);
    HG_CHECK(hg_ew_cast_BOOL_FLOAT(1) == 1.0 && hg_ew_cast_BOOL_FLOAT(0) == 0.0 && !signbit(hg_ew_cast_BOOL_FLOAT(0)));
    HG_CHECK(hg_ew_cast_BOOL_INT(1) == 1 && hg_ew_cast_BOOL_INT(0) == 0);
    HG_CHECK(hg_ew_cast_FLOAT_FLOAT(-0.0) == 0 && signbit(hg_ew_cast_FLOAT_FLOAT(-0.0)));
    HG_CHECK(hg_ew_cast_INT_INT(-5) == -5 && hg_ew_cast_BOOL_BOOL(1) == 1);
    /* f64 -> f32 is the rounding of the store alone */
    HG_CHECK((float)hg_ew_cast_FLOAT_FLOAT(0.1) == 0.1f);
}
