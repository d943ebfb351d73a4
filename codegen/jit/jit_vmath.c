/* Vector math for the JIT (jit_internal.h): the transcendental F_
 * primitives of ir/elementwise.def as straight-line LLVM IR (fma, selects,
 * integer bit operations, llvm.roundeven / llvm.floor), so the loop
 * vectoriser turns one element's code into 16-lane AVX-512 code. LLVM's own
 * llvm.exp.v16f32 would become 16 scalar libm calls.
 *
 * Methods (written for halograph; the classic ones of Cody & Waite and
 * Cephes, coefficients below derived here):
 *   exp    n = rint(x log2 e), r = x - n ln2 (two-part ln2, fma), e^r by
 *          its Taylor series (degree 7 in f32, 13 in f64: truncation
 *          below 2^-27 resp. 2^-57 on |r| <= ln2/2), times 2^n applied as
 *          two exact powers of two (so results down to the denormals
 *          round once).
 *   expm1  the same reduction; e^r - 1 = r + r^2 P(r) (Taylor to degree 8
 *          / 14), then 2^n (e^r - 1) + (2^n - 1) written as
 *          2 (2^(n-1) (e^r - 1) + (2^(n-1) - 1/2)).
 *   log    x = m 2^k with m in [sqrt(1/2), sqrt(2)) (denormals scaled by
 *          2^23 / 2^52 first), f = m - 1, s = f / (2 + f), log m =
 *          2 atanh(s) = f - (f^2/2 - s (f^2/2 + z Q(z))), z = s^2 <= 0.0295,
 *          Q the atanh series (5 / 11 terms), plus k ln2 (two-part).
 *   log1p  u = 1 + x; x when u == 1, else log(u) x / (u - 1) (the
 *          rounding error of u cancels to first order).
 *   tanh   sign(x) e / (e + 2), e = expm1(2|x|), |x| clamped at 20 / 40
 *          (where tanh rounds to 1).
 *   erf    (f32) |x| < 1: x P(x^2) = x + x (P(x^2) - 1), P minimax of
 *          degree 6; 1 <= |x| < 4:
 *          1 - exp(-x^2 + G(|x| - 2.5)), G minimax of degree 7 fitted to
 *          log erfc(a) + a^2 (bench/jit_erf_fit.py prints both); 1 beyond.
 *   sin, cos (f32) in f64: n = rint(x 2/pi), r = x - n pi/2 (three-part
 *          pi/2 with fma), Taylor series of sin / cos on |r| <= pi/4 to
 *          degree 13 / 14, quadrant n mod 4. Accurate while the reduction
 *          is (|x| < 2^50, see the figures); beyond, the result stays in
 *          [-1, 1] but is not the sine of x (no Payne-Hanek reduction).
 *   pow    (f32) exp(y log|x|) in f64 with the f64 exp and log above, then
 *          the C99 Annex F special cases by selects (negative x with
 *          integer y, zeros, infinities, pow(x, 0) = pow(1, y) = 1).
 *
 * Accuracy: the maximum error in f32 ulps (of the correctly rounded
 * result; denormal ulp 2^-149) against the f64 C library evaluated on the
 * f32 input, over every 61st f32 bit pattern plus special values
 * (tests/test_jit_vmath.c) and over all 2^32 patterns
 * (bench/jit_vmath_sweep.sh): see the table in codegen/jit/jit.h.
 */
#include "codegen/jit/jit_internal.h"

/* ---------------------------------------------------------------- helpers */

#define T_ LLVMTypeOf(x)
#define K(v) hg_jb_fk(b, T_, (v))

static LLVMValueRef fadd(hg_jb *b, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFAdd(b->B, x, y, ""); }
static LLVMValueRef fsub(hg_jb *b, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFSub(b->B, x, y, ""); }
static LLVMValueRef fmul(hg_jb *b, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFMul(b->B, x, y, ""); }
static LLVMValueRef fdiv(hg_jb *b, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFDiv(b->B, x, y, ""); }
static LLVMValueRef sel(hg_jb *b, LLVMValueRef c, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildSelect(b->B, c, x, y, ""); }
static LLVMValueRef fcmp(hg_jb *b, LLVMRealPredicate p, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFCmp(b->B, p, x, y, ""); }
static LLVMValueRef isnan_(hg_jb *b, LLVMValueRef x) { return fcmp(b, LLVMRealUNO, x, x); }
static LLVMValueRef fabs_(hg_jb *b, LLVMValueRef x) { return hg_jb_intr1(b, "llvm.fabs", x); }
static int is64(hg_jb *b, LLVMValueRef x) { return LLVMTypeOf(x) == b->f64; }

/* x * 2^n for an integral float n with x 2^n representable or rounding
 * once (n in [-2 emax, 2 emax]): two exact power-of-two factors. */
static LLVMValueRef scale2(hg_jb *b, LLVMValueRef x, LLVMValueRef n) {
    int d = is64(b, x);
    LLVMTypeRef it = hg_jb_int_of(b, T_);
    LLVMValueRef ni = LLVMBuildFPToSI(b->B, n, it, "");
    LLVMValueRef n1 = LLVMBuildAShr(b->B, ni, hg_jb_ik(it, 1), "");
    LLVMValueRef n2 = LLVMBuildSub(b->B, ni, n1, "");
    LLVMValueRef bias = hg_jb_ik(it, d ? 1023 : 127), sh = hg_jb_ik(it, d ? 52 : 23);
    LLVMValueRef p1 = LLVMBuildBitCast(b->B, LLVMBuildShl(b->B, LLVMBuildAdd(b->B, n1, bias, ""), sh, ""), T_, "");
    LLVMValueRef p2 = LLVMBuildBitCast(b->B, LLVMBuildShl(b->B, LLVMBuildAdd(b->B, n2, bias, ""), sh, ""), T_, "");
    return fmul(b, fmul(b, x, p1), p2);
}

/* Cody-Waite: n = rint(x log2 e), r = x - n ln2. */
static LLVMValueRef reduce_ln2(hg_jb *b, LLVMValueRef x, LLVMValueRef *n) {
    int d = is64(b, x);
    double hi = d ? 6.93147180369123816490e-01 : 0.693359375;
    double lo = d ? 1.90821492927058770002e-10 : -2.12194440e-4;
    *n = hg_jb_intr1(b, "llvm.roundeven", fmul(b, x, K(1.4426950408889634)));
    LLVMValueRef nn = LLVMBuildFNeg(b->B, *n, "");
    LLVMValueRef r = hg_jb_fma(b, nn, K(hi), x);
    return hg_jb_fma(b, nn, K(lo), r);
}

static LLVMValueRef clamp(hg_jb *b, LLVMValueRef x, double lo, double hi) {
    /* maxnum/minnum return the non-NaN operand: the result is never NaN */
    LLVMValueRef y = hg_jb_intr2(b, "llvm.maxnum", x, K(lo));
    return hg_jb_intr2(b, "llvm.minnum", y, K(hi));
}

/* 1/k! for k = 0..16 */
static const double inv_fact[17] = {
    1.0, 1.0, 0.5, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
    1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600,
    1.0 / 6227020800.0, 1.0 / 87178291200.0, 1.0 / 1307674368000.0,
    1.0 / 20922789888000.0};

/* ------------------------------------------------------------------ exp */

LLVMValueRef hg_jv_exp(hg_jb *b, LLVMValueRef x) {
    int d = is64(b, x);
    LLVMValueRef xc = clamp(b, x, d ? -746.0 : -104.0, d ? 710.0 : 89.0), n;
    LLVMValueRef r = reduce_ln2(b, xc, &n);
    LLVMValueRef p = hg_jb_poly(b, r, inv_fact, d ? 14 : 8);
    LLVMValueRef y = scale2(b, p, n);
    return sel(b, isnan_(b, x), x, y);
}

LLVMValueRef hg_jv_expm1(hg_jb *b, LLVMValueRef x) {
    int d = is64(b, x);
    LLVMValueRef xc = clamp(b, x, d ? -40.0 : -30.0, d ? 710.0 : 89.0), n;
    LLVMValueRef r = reduce_ln2(b, xc, &n);
    LLVMValueRef q = hg_jb_poly(b, r, inv_fact + 2, d ? 13 : 7);
    LLVMValueRef em = hg_jb_fma(b, fmul(b, r, r), q, r); /* e^r - 1 */
    LLVMValueRef s = scale2(b, K(1.0), fsub(b, n, K(1.0))); /* 2^(n-1) */
    LLVMValueRef y = fmul(b, K(2.0), hg_jb_fma(b, s, em, fsub(b, s, K(0.5))));
    y = sel(b, fcmp(b, LLVMRealOEQ, x, K(0.0)), x, y); /* keeps -0 */
    return sel(b, isnan_(b, x), x, y);
}

/* ------------------------------------------------------------------ log */

LLVMValueRef hg_jv_log(hg_jb *b, LLVMValueRef x) {
    int d = is64(b, x);
    LLVMTypeRef it = hg_jb_int_of(b, T_);
    double tiny = d ? 2.2250738585072014e-308 : 1.17549435e-38;
    LLVMValueRef den = fcmp(b, LLVMRealOLT, x, K(tiny));
    LLVMValueRef xs = sel(b, den, fmul(b, x, K(d ? 4503599627370496.0 : 8388608.0)), x);
    LLVMValueRef eadj = sel(b, den, K(d ? -52.0 : -23.0), K(0.0));
    LLVMValueRef bits = LLVMBuildBitCast(b->B, xs, it, "");
    LLVMValueRef sq = hg_jb_ik(it, d ? 0x3fe6a09e667f3bcdLL : 0x3f3504f3LL); /* sqrt(1/2) */
    LLVMValueRef sh = hg_jb_ik(it, d ? 52 : 23);
    LLVMValueRef k = LLVMBuildAShr(b->B, LLVMBuildSub(b->B, bits, sq, ""), sh, "");
    LLVMValueRef mb = LLVMBuildSub(b->B, bits, LLVMBuildShl(b->B, k, sh, ""), "");
    LLVMValueRef m = LLVMBuildBitCast(b->B, mb, T_, "");
    LLVMValueRef f = fsub(b, m, K(1.0));
    LLVMValueRef s = fdiv(b, f, fadd(b, f, K(2.0)));
    LLVMValueRef z = fmul(b, s, s);
    static const double q[11] = {2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9, 2.0 / 11, 2.0 / 13,
                                 2.0 / 15, 2.0 / 17, 2.0 / 19, 2.0 / 21, 2.0 / 23};
    LLVMValueRef R = fmul(b, z, hg_jb_poly(b, z, q, d ? 11 : 5));
    /* log(1 + f) = 2s + s R = f - (f^2/2 - s (f^2/2 + R)): f exact, the
     * rest a small correction */
    LLVMValueRef hf = fmul(b, fmul(b, K(0.5), f), f);
    LLVMValueRef lm = fsub(b, f, hg_jb_fma(b, LLVMBuildFNeg(b->B, s, ""), fadd(b, hf, R), hf));
    LLVMValueRef e = fadd(b, LLVMBuildSIToFP(b->B, k, T_, ""), eadj);
    double hi = d ? 6.93147180369123816490e-01 : 0.693359375;
    double lo = d ? 1.90821492927058770002e-10 : -2.12194440e-4;
    LLVMValueRef y = hg_jb_fma(b, e, K(hi), hg_jb_fma(b, e, K(lo), lm));
    y = sel(b, fcmp(b, LLVMRealOEQ, x, K(1.0 / 0.0)), x, y);
    y = sel(b, fcmp(b, LLVMRealOEQ, x, K(0.0)), K(-1.0 / 0.0), y);
    return sel(b, fcmp(b, LLVMRealULT, x, K(0.0)), K(0.0 / 0.0), y); /* < 0 or NaN */
}

LLVMValueRef hg_jv_log1p(hg_jb *b, LLVMValueRef x) {
    LLVMValueRef u = fadd(b, x, K(1.0));
    LLVMValueRef y = fmul(b, hg_jv_log(b, u), fdiv(b, x, fsub(b, u, K(1.0))));
    y = sel(b, fcmp(b, LLVMRealOEQ, u, K(1.0)), x, y);
    return sel(b, fcmp(b, LLVMRealOEQ, x, K(1.0 / 0.0)), x, y);
}

/* ----------------------------------------------------------------- tanh */

LLVMValueRef hg_jv_tanh(hg_jb *b, LLVMValueRef x) {
    double lim = is64(b, x) ? 40.0 : 20.0;
    LLVMValueRef a = fabs_(b, x);
    a = sel(b, fcmp(b, LLVMRealOGT, a, K(lim)), K(lim), a); /* NaN stays */
    LLVMValueRef e = hg_jv_expm1(b, fmul(b, a, K(2.0)));
    LLVMValueRef r = fdiv(b, e, fadd(b, e, K(2.0)));
    return hg_jb_intr2(b, "llvm.copysign", r, x);
}

/* ------------------------------------------------------------------ erf */

/* bench/jit_erf_fit.py */
static const double erf_a[7] = {1.12837911, -0.37612626, 0.112835854, -0.026853811,
                                0.00518832728, -0.000801019196, 7.85385564e-05};
static const double erf_b[8] = {-1.55681527, -0.352680624, 0.0561081581, -0.0108534992,
                                0.00216652337, -0.000430914428, 6.18169433e-05,
                                -2.16867629e-05};

LLVMValueRef hg_jv_erf(hg_jb *b, LLVMValueRef x) {
    LLVMValueRef a = fabs_(b, x);
    /* x P(z) = x + x ((P(0) - 1) + z P1(z)): the leading x exact */
    double a1[7];
    a1[0] = 0.1283791670955126; /* 2/sqrt(pi) - 1 */
    for (int i = 1; i < 7; i++) a1[i] = erf_a[i];
    LLVMValueRef ya = hg_jb_fma(b, a, hg_jb_poly(b, fmul(b, a, a), a1, 7), a);
    LLVMValueRef ac = sel(b, fcmp(b, LLVMRealOGT, a, K(4.0)), K(4.0), a);
    LLVMValueRef g = hg_jb_poly(b, fsub(b, ac, K(2.5)), erf_b, 8);
    LLVMValueRef e = hg_jv_exp(b, hg_jb_fma(b, LLVMBuildFNeg(b->B, ac, ""), ac, g));
    LLVMValueRef yb = fsub(b, K(1.0), e);
    LLVMValueRef y = sel(b, fcmp(b, LLVMRealOLT, a, K(1.0)), ya, yb);
    y = sel(b, fcmp(b, LLVMRealOGE, a, K(4.0)), K(1.0), y);
    y = hg_jb_intr2(b, "llvm.copysign", y, x);
    return sel(b, isnan_(b, x), x, y);
}

/* ------------------------------------------------------------- sin, cos */

/* sin (want_cos 0) or cos of f32 x, computed in f64. */
static LLVMValueRef sin_or_cos(hg_jb *b, LLVMValueRef x32, int want_cos) {
    LLVMValueRef x = LLVMBuildFPExt(b->B, x32, b->f64, "");
    LLVMValueRef n = hg_jb_intr1(b, "llvm.roundeven", fmul(b, x, K(0.6366197723675814)));
    LLVMValueRef nn = LLVMBuildFNeg(b->B, n, "");
    LLVMValueRef r = hg_jb_fma(b, nn, K(1.5707963267948966), x);
    r = hg_jb_fma(b, nn, K(6.123233995736766e-17), r);
    r = hg_jb_fma(b, nn, K(-1.4973849048591698e-33), r);
    r = clamp(b, r, -1.0, 1.0); /* a no-op below 2^50 (|r| < 0.87); keeps [-1, 1] beyond */
    LLVMValueRef z = fmul(b, r, r);
    static const double s[7] = {1.0, -1.0 / 6, 1.0 / 120, -1.0 / 5040, 1.0 / 362880,
                                -1.0 / 39916800, 1.0 / 6227020800.0};
    static const double c[8] = {1.0, -0.5, 1.0 / 24, -1.0 / 720, 1.0 / 40320,
                                -1.0 / 3628800, 1.0 / 479001600, -1.0 / 87178291200.0};
    LLVMValueRef sv = fmul(b, r, hg_jb_poly(b, z, s, 7));
    LLVMValueRef cv = hg_jb_poly(b, z, c, 8);
    /* quadrant q = n mod 4 in [0, 4), exact (n a multiple of 4 beyond 2^53) */
    LLVMValueRef q = fsub(b, n, fmul(b, K(4.0), hg_jb_intr1(b, "llvm.floor", fmul(b, n, K(0.25)))));
    if (want_cos) q = fadd(b, q, K(1.0)); /* cos x = sin(x + pi/2) */
    LLVMValueRef even = fcmp(b, LLVMRealOEQ, hg_jb_intr1(b, "llvm.floor", fmul(b, q, K(0.5))),
                            fmul(b, q, K(0.5)));
    /* q even: sin-like; odd: cos-like */
    LLVMValueRef v = sel(b, even, sv, cv);
    LLVMValueRef qm = fsub(b, q, fmul(b, K(4.0), hg_jb_intr1(b, "llvm.floor", fmul(b, q, K(0.25)))));
    LLVMValueRef neg = fcmp(b, LLVMRealOGE, qm, K(2.0));
    v = sel(b, neg, LLVMBuildFNeg(b->B, v, ""), v);
    LLVMValueRef y = LLVMBuildFPTrunc(b->B, v, b->f32, "");
    /* sin keeps -0; inf and NaN give NaN (x - x) */
    x = x32;
    if (!want_cos) y = sel(b, fcmp(b, LLVMRealOEQ, x, K(0.0)), x, y);
    return sel(b, fcmp(b, LLVMRealUEQ, fabs_(b, x), K(1.0 / 0.0)), fsub(b, x, x), y);
}

LLVMValueRef hg_jv_sin(hg_jb *b, LLVMValueRef x) { return sin_or_cos(b, x, 0); }
LLVMValueRef hg_jv_cos(hg_jb *b, LLVMValueRef x) { return sin_or_cos(b, x, 1); }

/* ------------------------------------------------------------------ pow */

LLVMValueRef hg_jv_pow(hg_jb *b, LLVMValueRef x, LLVMValueRef y) {
    LLVMValueRef ax = fabs_(b, x);
    LLVMValueRef ld = hg_jv_log(b, LLVMBuildFPExt(b->B, ax, b->f64, ""));
    LLVMValueRef t = fmul(b, LLVMBuildFPExt(b->B, y, b->f64, ""), ld);
    LLVMValueRef r = LLVMBuildFPTrunc(b->B, hg_jv_exp(b, t), b->f32, "");
    LLVMValueRef yint = fcmp(b, LLVMRealOEQ, hg_jb_intr1(b, "llvm.floor", y), y);
    LLVMValueRef yh = fmul(b, y, K(0.5));
    LLVMValueRef yodd = LLVMBuildAnd(b->B, yint,
                                     fcmp(b, LLVMRealONE, hg_jb_intr1(b, "llvm.floor", yh), yh), "");
    LLVMValueRef xneg = LLVMBuildICmp(b->B, LLVMIntSLT, LLVMBuildBitCast(b->B, x, b->i32, ""),
                                      hg_jb_ik(b->i32, 0), "");
    r = sel(b, LLVMBuildAnd(b->B, xneg, yodd, ""), LLVMBuildFNeg(b->B, r, ""), r);
    LLVMValueRef fin_neg = LLVMBuildAnd(b->B, fcmp(b, LLVMRealOLT, x, K(0.0)),
                                        fcmp(b, LLVMRealOGT, x, K(-1.0 / 0.0)), "");
    r = sel(b, LLVMBuildAnd(b->B, fin_neg, LLVMBuildNot(b->B, yint, ""), ""), K(0.0 / 0.0), r);
    LLVMValueRef one = LLVMBuildOr(
        b->B, fcmp(b, LLVMRealOEQ, y, K(0.0)),
        LLVMBuildOr(b->B, fcmp(b, LLVMRealOEQ, x, K(1.0)),
                    LLVMBuildAnd(b->B, fcmp(b, LLVMRealOEQ, ax, K(1.0)),
                                 fcmp(b, LLVMRealOEQ, fabs_(b, y), K(1.0 / 0.0)), ""), ""), "");
    return sel(b, one, K(1.0), r);
}

int hg_jv_has(hg_jb *b, hg_op op, LLVMTypeRef t) {
    switch (op) {
    case HG_OP_exp: case HG_OP_expm1: case HG_OP_log: case HG_OP_log1p: case HG_OP_tanh:
        return t == b->f32 || t == b->f64;
    case HG_OP_erf: case HG_OP_sin: case HG_OP_cos: case HG_OP_pow:
        return t == b->f32;
    default:
        return 0;
    }
}
