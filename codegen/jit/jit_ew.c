/* Elementwise formulas as LLVM IR (jit_internal.h): ir/elementwise.def
 * expanded with its primitives (F_, I_, M_) mapped to IR, plus
 * broadcast_to (identity: the loop nest broadcasts) and cast.
 *
 * Precision: a float formula is evaluated in its dtype (f32 formulas in
 * f32, with the vector math of jit_vmath.c), except for the ops in
 * `in_f64` below, whose formula cancels in f32 (gelu_tanh: 1 + tanh(u)
 * for u << 0): their f32 formula runs in f64 and is rounded once, as the
 * reference does for every float formula. F_FMOD is LLVM's frem (exact,
 * C fmod; it lowers to a libm call per element, not vectorised). */
#include <math.h>

#include "codegen/jit/jit_internal.h"

LLVMTypeRef hg_jit_reg_type(hg_jb *b, hg_dtype t) {
    switch (t) {
    case HG_F32: return b->f32;
    case HG_F64: return b->f64;
    case HG_I32: return b->i32;
    default: return b->i1;
    }
}

static int in_f64(hg_op op) { return op == HG_OP_gelu_tanh; }

/* ------------------------------------------------------------ primitives */

typedef struct {
    hg_jb *b;
    LLVMTypeRef ft; /* the float working type */
} ew_ctx;

static LLVMValueRef p_fk(ew_ctx *c, double v) { return LLVMConstReal(c->ft, v); }
static LLVMValueRef p_f2(ew_ctx *c, LLVMOpcode op, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildBinOp(c->b->B, op, x, y, "");
}
static LLVMValueRef p_fc(ew_ctx *c, LLVMRealPredicate p, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildFCmp(c->b->B, p, x, y, "");
}
static LLVMValueRef p_ic(ew_ctx *c, LLVMIntPredicate p, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildICmp(c->b->B, p, x, y, "");
}
static LLVMValueRef p_sel(ew_ctx *c, LLVMValueRef m, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildSelect(c->b->B, m, x, y, "");
}
/* truncated remainder with I_REM(a, 0) = I_REM(INT32_MIN, -1) = 0 */
static LLVMValueRef p_irem(ew_ctx *c, LLVMValueRef x, LLVMValueRef y) {
    hg_jb *b = c->b;
    LLVMValueRef z = p_ic(c, LLVMIntEQ, y, hg_jb_ik(b->i32, 0));
    LLVMValueRef ov = LLVMBuildAnd(b->B, p_ic(c, LLVMIntEQ, x, hg_jb_ik(b->i32, INT32_MIN)),
                                   p_ic(c, LLVMIntEQ, y, hg_jb_ik(b->i32, -1)), "");
    LLVMValueRef bad = LLVMBuildOr(b->B, z, ov, "");
    LLVMValueRef r = LLVMBuildSRem(b->B, x, p_sel(c, bad, hg_jb_ik(b->i32, 1), y), "");
    return p_sel(c, bad, hg_jb_ik(b->i32, 0), r);
}

#define F_K(v) p_fk(c, (v))
#define F_NEG(a) LLVMBuildFNeg(c->b->B, (a), "")
#define F_ABS(a) hg_jb_intr1(c->b, "llvm.fabs", (a))
#define F_ADD(a, y) p_f2(c, LLVMFAdd, (a), (y))
#define F_SUB(a, y) p_f2(c, LLVMFSub, (a), (y))
#define F_MUL(a, y) p_f2(c, LLVMFMul, (a), (y))
#define F_DIV(a, y) p_f2(c, LLVMFDiv, (a), (y))
#define F_SQRT(a) hg_jb_intr1(c->b, "llvm.sqrt", (a))
#define F_FLOOR(a) hg_jb_intr1(c->b, "llvm.floor", (a))
#define F_RINT(a) hg_jb_intr1(c->b, "llvm.roundeven", (a))
#define F_FMOD(a, y) p_f2(c, LLVMFRem, (a), (y))
#define F_COPYSIGN(a, y) hg_jb_intr2(c->b, "llvm.copysign", (a), (y))
#define F_EXP(a) hg_jv_exp(c->b, (a))
#define F_LOG(a) hg_jv_log(c->b, (a))
#define F_LOG1P(a) hg_jv_log1p(c->b, (a))
#define F_EXPM1(a) hg_jv_expm1(c->b, (a))
#define F_TANH(a) hg_jv_tanh(c->b, (a))
#define F_ERF(a) hg_jv_erf(c->b, (a))
#define F_SIN(a) hg_jv_sin(c->b, (a))
#define F_COS(a) hg_jv_cos(c->b, (a))
#define F_POW(a, y) hg_jv_pow(c->b, (a), (y))
#define F_EQ(a, y) p_fc(c, LLVMRealOEQ, (a), (y))
#define F_NE(a, y) p_fc(c, LLVMRealUNE, (a), (y))
#define F_LT(a, y) p_fc(c, LLVMRealOLT, (a), (y))
#define F_LE(a, y) p_fc(c, LLVMRealOLE, (a), (y))
#define F_GT(a, y) p_fc(c, LLVMRealOGT, (a), (y))
#define F_GE(a, y) p_fc(c, LLVMRealOGE, (a), (y))
#define F_ISNAN(a) p_fc(c, LLVMRealUNO, (a), (a))
#define F_SEL(m, a, y) p_sel(c, (m), (a), (y))
#define I_K(v) hg_jb_ik(c->b->i32, (v))
#define I_NEG(a) LLVMBuildNeg(c->b->B, (a), "")
#define I_ADD(a, y) LLVMBuildAdd(c->b->B, (a), (y), "")
#define I_SUB(a, y) LLVMBuildSub(c->b->B, (a), (y), "")
#define I_MUL(a, y) LLVMBuildMul(c->b->B, (a), (y), "")
#define I_REM(a, y) p_irem(c, (a), (y))
#define I_EQ(a, y) p_ic(c, LLVMIntEQ, (a), (y))
#define I_NE(a, y) p_ic(c, LLVMIntNE, (a), (y))
#define I_LT(a, y) p_ic(c, LLVMIntSLT, (a), (y))
#define I_LE(a, y) p_ic(c, LLVMIntSLE, (a), (y))
#define I_GT(a, y) p_ic(c, LLVMIntSGT, (a), (y))
#define I_GE(a, y) p_ic(c, LLVMIntSGE, (a), (y))
#define I_SEL(m, a, y) p_sel(c, (m), (a), (y))
#define M_NOT(a) LLVMBuildNot(c->b->B, (a), "")
#define M_AND(a, y) LLVMBuildAnd(c->b->B, (a), (y), "")
#define M_OR(a, y) LLVMBuildOr(c->b->B, (a), (y), "")
#define M_XOR(a, y) LLVMBuildXor(c->b->B, (a), (y), "")
#define M_SEL(m, a, y) p_sel(c, (m), (a), (y))

/* class of an operand dtype: 0 float, 1 i32, 2 bool */
static int dclass(hg_dtype t) { return hg_dtype_is_float(t) ? 0 : t == HG_I32 ? 1 : 2; }

/* The formula of op on operands X, Y, C (class cls), or NULL. */
static LLVMValueRef formula(ew_ctx *c, hg_op op, int cls, LLVMValueRef X,
                            LLVMValueRef Y, LLVMValueRef C) {
    LLVMValueRef T = NULL;
    (void)T;
    (void)Y;
    (void)C;
    switch (op) {
#define HG_EW_NONE NULL
#define HG_EW_DEF(e) (e)
#define HG_EW_LET(t, e) (T = (t), (e))
#include "codegen/jit/jit_ew_cases.inc"
    default:
        return NULL;
    }
}

/* Whether op's slot for class cls is defined (the def's NONE rule). */
static int slot_defined(hg_op op, int cls) {
    switch (op) {
#define HG_EW_NONE 0
#define HG_EW_DEF(e) 1
#define HG_EW_LET(t, e) 1
#include "codegen/jit/jit_ew_cases.inc"
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ cast */

static LLVMValueRef emit_cast(hg_jb *b, LLVMValueRef x, hg_dtype from, hg_dtype to) {
    if (from == to) return x;
    LLVMTypeRef tt = hg_jit_reg_type(b, to);
    if (to == HG_BOOL) {
        if (hg_dtype_is_float(from))
            return LLVMBuildFCmp(b->B, LLVMRealUNE, x, LLVMConstReal(LLVMTypeOf(x), 0), "");
        return LLVMBuildICmp(b->B, LLVMIntNE, x, hg_jb_ik(LLVMTypeOf(x), 0), "");
    }
    if (from == HG_BOOL)
        return hg_dtype_is_float(to) ? LLVMBuildUIToFP(b->B, x, tt, "")
                                     : LLVMBuildZExt(b->B, x, tt, "");
    if (from == HG_I32) return LLVMBuildSIToFP(b->B, x, tt, "");
    if (to == HG_I32) { /* saturating, NaN -> 0: the reference's rule */
        LLVMTypeRef ovl[2] = {b->i32, LLVMTypeOf(x)};
        unsigned id = LLVMLookupIntrinsicID("llvm.fptosi.sat", 15);
        LLVMValueRef fn = LLVMGetIntrinsicDeclaration(b->M, id, ovl, 2);
        return LLVMBuildCall2(b->B, LLVMIntrinsicGetType(b->C, id, ovl, 2), fn, &x, 1, "");
    }
    return to == HG_F32 ? LLVMBuildFPTrunc(b->B, x, tt, "") : LLVMBuildFPExt(b->B, x, tt, "");
}

/* ------------------------------------------------------------------ API */

static int uses_f32_only_math(hg_op op) {
    return op == HG_OP_erf || op == HG_OP_sin || op == HG_OP_cos || op == HG_OP_pow;
}

int hg_jit_ew_supported(const hg_graph *g, const hg_node *n) {
    if (n->op == HG_OP_broadcast_to || n->op == HG_OP_cast) return 1;
    if (!(hg_op_table[n->op].flags & HG_OPF_ELEMENTWISE)) return 0;
    hg_dtype t = hg_value_dtype(g, n->in[n->op == HG_OP_where ? 1 : 0]);
    if (!slot_defined(n->op, dclass(t))) return 0;
    if (t == HG_F64 && uses_f32_only_math(n->op)) return 0;
    return 1;
}

LLVMValueRef hg_jit_ew_emit(hg_jb *b, const hg_node *n, const hg_dtype *in_dt,
                            LLVMValueRef *a) {
    if (n->op == HG_OP_broadcast_to) return a[0];
    if (n->op == HG_OP_cast) return emit_cast(b, a[0], in_dt[0], n->dtype);
    int w = n->op == HG_OP_where;
    hg_dtype t = in_dt[w];
    ew_ctx ctx = {b, hg_jit_reg_type(b, t)}, *c = &ctx;
    LLVMValueRef X = a[w], Y = n->n_in > 1 + w ? a[1 + w] : NULL, C = w ? a[0] : NULL;
    int promote = t == HG_F32 && in_f64(n->op);
    if (promote) {
        ctx.ft = b->f64;
        X = LLVMBuildFPExt(b->B, X, b->f64, "");
        if (Y) Y = LLVMBuildFPExt(b->B, Y, b->f64, "");
    }
    LLVMValueRef r = formula(c, n->op, dclass(t), X, Y, C);
    if (r && promote) r = LLVMBuildFPTrunc(b->B, r, b->f32, "");
    return r;
}
