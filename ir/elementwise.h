/* The C expansion of ir/elementwise.def, for the reference kernels
 * (codegen/ref_elementwise.c), constant folding (passes/simplify.c) and the
 * formula tests: one static inline
 * function per (op, dtype class) whose slot is defined,
 *
 *   hg_ew_f_OP(double X[, double Y])    the FLOAT formula in double
 *   hg_ew_s_OP(float X[, float Y])      the FLOAT formula with f32
 *                                       operands (see hg_ew_f32_exact)
 *   hg_ew_i_OP(int32_t X[, int32_t Y])  the INT formula
 *   hg_ew_b_OP(int X[, int Y])          the BOOL formula (masks are 0/1)
 *
 * returning double / float / int32_t for arithmetic ops and int (0/1) for
 * comparisons and bool results; where: hg_ew_f_where(int C, double X,
 * double Y) etc.; cast: hg_ew_cast_FROM_TO(X) for the classes FLOAT
 * (double), INT (int32_t), BOOL (int), e.g. int32_t
 * hg_ew_cast_FLOAT_INT(double X).
 *
 * Primitives (their semantics: ir/elementwise.def). F_ primitives are
 * written type-generically: + - * / on two float operands compute in
 * float, everything else (constants, libm functions) in double. A float
 * formula evaluated on f32 operands through hg_ew_s_OP therefore equals
 * the double evaluation rounded once to f32 only when the formula does at
 * most one rounding operation: hg_ew_f32_exact[op] says so, computed from
 * the formula itself (below); the kernels use hg_ew_s_OP only for those
 * ops. (An exact operation applied to f32-representable values gives an
 * f32-representable value; one + - * / or sqrt of f32 values computed in
 * double and rounded to f32 is the f32 operation, since 53 >= 2 * 24 + 2.) */
#ifndef HG_IR_ELEMENTWISE_H
#define HG_IR_ELEMENTWISE_H

#include <math.h>
#include <stdint.h>

#include "ir/ir.h"

/* Round half to even (SPEC 4.2, ONNX Round; the F_RINT primitive); keeps
 * the sign of zero, NaN and infinities pass through. Independent of the FP
 * rounding mode. */
static inline double hg_round_half_even(double x) {
    if (!(x < 4503599627370496.0 && x > -4503599627370496.0))
        return x; /* |x| >= 2^52 (already an integer), NaN, inf */
    double r = __builtin_floor(x), d = x - r; /* both exact */
    if (d > 0.5 || (d == 0.5 && ((int64_t)r & 1))) r += 1.0;
    return r == 0 ? __builtin_copysign(0.0, x) : r;
}

/* ------------------------------------- which formulas are f32-exact
 * hg_ew_f32_exact[op] = 1 when op's FLOAT formula, evaluated on f32
 * operands through hg_ew_s_OP and rounded to f32, is bit-identical to the
 * double evaluation rounded once. The formula is expanded with every
 * primitive returning the class of its value: 0 exact (f32-representable
 * when the operands are), 1 one rounding of exact values, 2 anything else.
 * + - * / sqrt of exact operands give 1; neg, abs, floor, rint, fmod,
 * copysign and selects keep their operands' class; a comparison, a select
 * condition or a let value T of a rounded value, a constant that is not an
 * f32 value, and every transcendental give 2. Exact iff the class is <= 1. */

#define X 0
#define Y 0
#define C 0
#define T 0
#define HG_EWX_MAX(a, b) ((a) > (b) ? (a) : (b))
#define HG_EWX_RND(a, b) ((a) || (b) ? 2 : 1)
#define HG_EWX_TST(a, b) ((a) || (b) ? 2 : 0)
#define F_K(c) ((double)(float)(c) == (double)(c) ? 0 : 2)
#define F_NEG(a) (a)
#define F_ABS(a) (a)
#define F_ADD(a, b) HG_EWX_RND(a, b)
#define F_SUB(a, b) HG_EWX_RND(a, b)
#define F_MUL(a, b) HG_EWX_RND(a, b)
#define F_DIV(a, b) HG_EWX_RND(a, b)
#define F_SQRT(a) HG_EWX_RND(a, 0)
#define F_FLOOR(a) (a)
#define F_RINT(a) (a)
#define F_FMOD(a, b) ((a) || (b) ? 2 : 0)
#define F_COPYSIGN(a, b) ((a) || (b) ? 2 : 0)
#define F_EXP(a) 2
#define F_LOG(a) 2
#define F_LOG1P(a) 2
#define F_EXPM1(a) 2
#define F_TANH(a) 2
#define F_ERF(a) 2
#define F_SIN(a) 2
#define F_COS(a) 2
#define F_POW(a, b) 2
#define F_EQ(a, b) HG_EWX_TST(a, b)
#define F_NE(a, b) HG_EWX_TST(a, b)
#define F_LT(a, b) HG_EWX_TST(a, b)
#define F_LE(a, b) HG_EWX_TST(a, b)
#define F_GT(a, b) HG_EWX_TST(a, b)
#define F_GE(a, b) HG_EWX_TST(a, b)
#define F_ISNAN(a) HG_EWX_TST(a, 0)
#define F_SEL(m, a, b) ((m) ? 2 : HG_EWX_MAX(a, b))
#define M_NOT(a) (a)
#define M_AND(a, b) HG_EWX_MAX(a, b)
#define M_OR(a, b) HG_EWX_MAX(a, b)
#define M_XOR(a, b) HG_EWX_MAX(a, b)
#define HG_EW_NONE 2
#define HG_EW_DEF(e) (e)
#define HG_EW_LET(t, e) ((t) ? 2 : (e))
#define HG_EWX_ROW(op, F, I, B) [HG_OP_##op] = (F) <= 1,
#define HG_EW_UNARY HG_EWX_ROW
#define HG_EW_BINARY HG_EWX_ROW
#define HG_EW_COMPARE HG_EWX_ROW
#define HG_EW_SELECT HG_EWX_ROW
static const unsigned char hg_ew_f32_exact[HG_NUM_OPS] = {
#include "ir/elementwise.def"
};
#undef HG_EWX_ROW
#undef HG_EW_NONE
#undef HG_EW_DEF
#undef HG_EW_LET
#undef X
#undef Y
#undef C
#undef T
#undef HG_EWX_MAX
#undef HG_EWX_RND
#undef HG_EWX_TST
#include "ir/elementwise_undef.h"

/* ------------------------------------------------ float primitives (C) */

#define F_K(c) ((double)(c))
#define F_NEG(a) (-(a))
#define F_ABS(a) fabs(a)
#define F_ADD(a, b) ((a) + (b))
#define F_SUB(a, b) ((a) - (b))
#define F_MUL(a, b) ((a) * (b))
#define F_DIV(a, b) ((a) / (b))
#define F_SQRT(a) sqrt(a)
#define F_FLOOR(a) floor(a)
#define F_RINT(a) hg_round_half_even(a)
#define F_FMOD(a, b) fmod(a, b)
#define F_COPYSIGN(a, b) copysign(a, b)
#define F_EXP(a) exp(a)
#define F_LOG(a) log(a)
#define F_LOG1P(a) log1p(a)
#define F_EXPM1(a) expm1(a)
#define F_TANH(a) tanh(a)
#define F_ERF(a) erf(a)
#define F_SIN(a) sin(a)
#define F_COS(a) cos(a)
#define F_POW(a, b) pow(a, b)
#define F_EQ(a, b) ((a) == (b))
#define F_NE(a, b) ((a) != (b))
#define F_LT(a, b) ((a) < (b))
#define F_LE(a, b) ((a) <= (b))
#define F_GT(a, b) ((a) > (b))
#define F_GE(a, b) ((a) >= (b))
#define F_ISNAN(a) (isnan(a) != 0)
#define F_SEL(m, a, b) ((m) ? (a) : (b))

/* ---------------------------------------------- integer primitives (C)
 * int32_t operands; wrapping arithmetic through uint32_t (the conversion
 * back to int32_t is modulo 2^32 in GCC and Clang). */

#define I_K(c) ((int32_t)(c))
#define I_NEG(a) ((int32_t)(0u - (uint32_t)(a)))
#define I_ADD(a, b) ((int32_t)((uint32_t)(a) + (uint32_t)(b)))
#define I_SUB(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)))
#define I_MUL(a, b) ((int32_t)((uint32_t)(a) * (uint32_t)(b)))
#define I_REM(a, b) hg_ew_irem(a, b)
#define I_EQ(a, b) ((a) == (b))
#define I_NE(a, b) ((a) != (b))
#define I_LT(a, b) ((a) < (b))
#define I_LE(a, b) ((a) <= (b))
#define I_GT(a, b) ((a) > (b))
#define I_GE(a, b) ((a) >= (b))
#define I_SEL(m, a, b) ((m) ? (a) : (b))

/* ------------------------------------------------- mask primitives (C) */

#define M_NOT(a) (!(a))
#define M_AND(a, b) ((a) && (b))
#define M_OR(a, b) ((a) || (b))
#define M_XOR(a, b) (!(a) != !(b))
#define M_SEL(m, a, b) ((m) ? (a) : (b))

/* --------------------------------------------------- conversions (C) */

#define F_TOI(a) ((int32_t)(a))
#define I_TOF(a) ((double)(a))
#define M_TOF(a) ((a) ? 1.0 : 0.0)
#define M_TOI(a) ((int32_t)((a) ? 1 : 0))

/* C %, defined for b = 0 (-> 0) and INT32_MIN % -1 (-> 0). */
static inline int32_t hg_ew_irem(int32_t a, int32_t b) {
    return b == 0 || b == -1 ? 0 : a % b;
}

/* ------------------------------------------- generating the functions
 * A slot becomes a tuple (defined?, let, formula); HG_EWC_FN emits the
 * function `sig` when the slot is defined, with T = the let value. */

#define HG_EWC_CAT(a, b) HG_EWC_CAT_(a, b)
#define HG_EWC_CAT_(a, b) a##b
#define HG_EWC_0(d, t, e) d
#define HG_EWC_1(d, t, e) t
#define HG_EWC_2(d, t, e) e
#define HG_EWC_FN(slot, W, R, sig)                                            \
    HG_EWC_FN_(HG_EWC_0 slot, W, R, sig, HG_EWC_1 slot, HG_EWC_2 slot)
#define HG_EWC_FN_(d, W, R, sig, t, e) HG_EWC_CAT(HG_EWC_FN_, d)(W, R, sig, t, e)
#define HG_EWC_FN_HG_EWC_NO(W, R, sig, t, e)
#define HG_EWC_FN_HG_EWC_YES(W, R, sig, t, e)                                 \
    static inline R sig {                                                     \
        const W T = (t);                                                      \
        (void)T;                                                              \
        return (R)(e);                                                        \
    }

/* HG_EWC_IF(slot, tokens...): the tokens when the slot is defined. */
#define HG_EWC_IF(slot, ...) HG_EWC_IF_(HG_EWC_0 slot, __VA_ARGS__)
#define HG_EWC_IF_(d, ...) HG_EWC_CAT(HG_EWC_IF_, d)(__VA_ARGS__)
#define HG_EWC_IF_HG_EWC_YES(...) __VA_ARGS__
#define HG_EWC_IF_HG_EWC_NO(...)

#define HG_EW_NONE (HG_EWC_NO, 0, 0)
#define HG_EW_DEF(e) (HG_EWC_YES, 0, e)
#define HG_EW_LET(t, e) (HG_EWC_YES, t, e)

#define HG_EW_UNARY(op, F, I, B)                                              \
    HG_EWC_FN(F, double, double, hg_ew_f_##op(double X))                      \
    HG_EWC_FN(F, float, float, hg_ew_s_##op(float X))                         \
    HG_EWC_FN(I, int32_t, int32_t, hg_ew_i_##op(int32_t X))                   \
    HG_EWC_FN(B, int, int, hg_ew_b_##op(int X))
#define HG_EW_BINARY(op, F, I, B)                                             \
    HG_EWC_FN(F, double, double, hg_ew_f_##op(double X, double Y))            \
    HG_EWC_FN(F, float, float, hg_ew_s_##op(float X, float Y))                \
    HG_EWC_FN(I, int32_t, int32_t, hg_ew_i_##op(int32_t X, int32_t Y))        \
    HG_EWC_FN(B, int, int, hg_ew_b_##op(int X, int Y))
#define HG_EW_COMPARE(op, F, I, B)                                            \
    HG_EWC_FN(F, double, int, hg_ew_f_##op(double X, double Y))               \
    HG_EWC_FN(F, float, int, hg_ew_s_##op(float X, float Y))                  \
    HG_EWC_FN(I, int32_t, int, hg_ew_i_##op(int32_t X, int32_t Y))            \
    HG_EWC_FN(B, int, int, hg_ew_b_##op(int X, int Y))
#define HG_EW_SELECT(op, F, I, B)                                             \
    HG_EWC_FN(F, double, double, hg_ew_f_##op(int C, double X, double Y))     \
    HG_EWC_FN(F, float, float, hg_ew_s_##op(int C, float X, float Y))         \
    HG_EWC_FN(I, int32_t, int32_t, hg_ew_i_##op(int C, int32_t X, int32_t Y)) \
    HG_EWC_FN(B, int, int, hg_ew_b_##op(int C, int X, int Y))
/* cast: hg_ew_cast_FROM_TO(X), FLOAT = double, INT = int32_t, BOOL = int */
#define HG_EWC_T_FLOAT double
#define HG_EWC_T_INT int32_t
#define HG_EWC_T_BOOL int
#define HG_EW_CAST(from, to, S)                                               \
    HG_EWC_FN(S, int, HG_EWC_T_##to, hg_ew_cast_##from##_##to(HG_EWC_T_##from X))
#include "ir/elementwise.def"


/* The primitives are only for the expansions above. */
#include "ir/elementwise_undef.h"
#undef I_K
#undef I_NEG
#undef I_ADD
#undef I_SUB
#undef I_MUL
#undef I_REM
#undef I_EQ
#undef I_NE
#undef I_LT
#undef I_LE
#undef I_GT
#undef I_GE
#undef I_SEL
#undef M_SEL
#undef F_TOI
#undef I_TOF
#undef M_TOF
#undef M_TOI

#endif
