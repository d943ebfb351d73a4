/* Random ops as LLVM IR (jit_internal.h): the draw of element e of
 * random_uniform / random_normal (ir.h, the op table and hg_rng_uniform /
 * hg_rng_normal) computed inline from the flat element index, so a fused
 * LOOP kernel draws exactly the reference's numbers and the loop
 * vectoriser can run the draws 16 elements at a time.
 *
 * Philox4x32-10 of key (seed, stream) and counter (e/4 low word, step,
 * replica, e/4 high word) is ten rounds of two 32x32->64 multiplies
 * (zext + mul i64: vpmuludq once vectorised), xors and key increments,
 * recomputed per element (each element needs one word of its block).
 *
 * uniform: word w = out[e % 4], (w >> 8) * 2^-24, computed directly in the
 * node's dtype: w >> 8 < 2^24 converts exactly to f32 and the product by a
 * power of two is exact, so it equals the reference's double value
 * rounded to the dtype.
 *
 * normal: the pair of words of the element's lane pair goes through
 * hg_rng_box_muller (ir.h; libm's double log/sqrt/cos/sin, the reference's
 * very formula) called per element. So the loop still vectorises, the
 * call site names vector variants (the "vector-function-abi-variant"
 * attribute, LLVM's internal "_ZGV_LLVM_N<VF>vvv" mangling) that this
 * file defines in the module: <VF x i32> x 3 -> <VF x double>, one scalar
 * call per lane. The scalar function is declared memory(none) nounwind
 * willreturn: hg_rng_box_muller's arguments keep log and sin/cos in their
 * domain (u1 in (0, 1], finite angles), so they never touch errno. */
#include <stdio.h>
#include <string.h>

#include "codegen/jit/jit_internal.h"

#define N_VARIANTS 4
static const int variant_vf[N_VARIANTS] = {2, 4, 8, 16};

static LLVMTypeRef box_muller_type(hg_jb *b) {
    LLVMTypeRef a[3] = {b->i32, b->i32, b->i32};
    return LLVMFunctionType(b->f64, a, 3, 0);
}

static void add_enum_attr(hg_jb *b, LLVMValueRef f, const char *kind, uint64_t val) {
    unsigned id = LLVMGetEnumAttributeKindForName(kind, strlen(kind));
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(b->C, id, val));
}

/* Declares hg_rng_box_muller once per module. */
static LLVMValueRef box_muller_decl(hg_jb *b) {
    LLVMValueRef f = LLVMGetNamedFunction(b->M, "hg_rng_box_muller");
    if (f) return f;
    f = LLVMAddFunction(b->M, "hg_rng_box_muller", box_muller_type(b));
    add_enum_attr(b, f, "memory", 0); /* memory(none) */
    add_enum_attr(b, f, "nounwind", 0);
    add_enum_attr(b, f, "willreturn", 0);
    return f;
}

/* Defines `name`: <vf x i32> wa, wb, second -> <vf x double>, lane by
 * lane through the scalar function. External linkage, so that the
 * optimiser keeps it until the vectoriser has looked for it. */
static void define_variant(hg_jb *b, LLVMValueRef scalar, const char *name, int vf) {
    if (LLVMGetNamedFunction(b->M, name)) return;
    LLVMTypeRef vi = LLVMVectorType(b->i32, (unsigned)vf), vd = LLVMVectorType(b->f64, (unsigned)vf);
    LLVMTypeRef a[3] = {vi, vi, vi};
    LLVMValueRef f = LLVMAddFunction(b->M, name, LLVMFunctionType(vd, a, 3, 0));
    add_enum_attr(b, f, "nounwind", 0);
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(b->B);
    LLVMPositionBuilderAtEnd(b->B, LLVMAppendBasicBlockInContext(b->C, f, "entry"));
    LLVMValueRef r = LLVMGetUndef(vd);
    for (int l = 0; l < vf; l++) {
        LLVMValueRef lane = hg_jb_ik(b->i32, l), args[3];
        for (int j = 0; j < 3; j++)
            args[j] = LLVMBuildExtractElement(b->B, LLVMGetParam(f, (unsigned)j), lane, "");
        LLVMValueRef d = LLVMBuildCall2(b->B, box_muller_type(b), scalar, args, 3, "");
        r = LLVMBuildInsertElement(b->B, r, d, lane, "");
    }
    LLVMBuildRet(b->B, r);
    LLVMPositionBuilderAtEnd(b->B, saved);
}

/* Call of hg_rng_box_muller with its vector variants named (prefix: the
 * kernel's function name, unique in the JIT's symbol space). */
static LLVMValueRef call_box_muller(hg_jb *b, const char *prefix, LLVMValueRef *args) {
    LLVMValueRef scalar = box_muller_decl(b);
    char list[1024] = "";
    size_t used = 0;
    for (int i = 0; i < N_VARIANTS; i++) {
        char vname[300];
        snprintf(vname, sizeof vname, "%s.box_muller.v%d", prefix, variant_vf[i]);
        define_variant(b, scalar, vname, variant_vf[i]);
        used += (size_t)snprintf(list + used, sizeof list - used, "%s_ZGV_LLVM_N%dvvv_hg_rng_box_muller(%s)",
                                 i ? "," : "", variant_vf[i], vname);
    }
    LLVMValueRef c = LLVMBuildCall2(b->B, box_muller_type(b), scalar, args, 3, "");
    const char *key = "vector-function-abi-variant";
    LLVMAddCallSiteAttribute(c, LLVMAttributeFunctionIndex,
                             LLVMCreateStringAttribute(b->C, key, (unsigned)strlen(key), list,
                                                       (unsigned)strlen(list)));
    return c;
}

static LLVMValueRef hi32(hg_jb *b, LLVMValueRef p) {
    return LLVMBuildTrunc(b->B, LLVMBuildLShr(b->B, p, hg_jb_ik(b->i64, 32), ""), b->i32, "");
}

LLVMValueRef hg_jit_emit_random(hg_jb *b, const hg_node *n, LLVMValueRef seed, LLVMValueRef step,
                                LLVMValueRef replica, LLVMValueRef flat, const char *prefix) {
    LLVMBuilderRef B = b->B;
    LLVMValueRef blk = LLVMBuildLShr(B, flat, hg_jb_ik(b->i64, 2), "");
    LLVMValueRef c[4] = {LLVMBuildTrunc(B, blk, b->i32, ""), step, replica, hi32(b, blk)};
    LLVMValueRef k0 = seed, k1 = LLVMConstInt(b->i32, (uint32_t)n->attrs.stream, 0);
    LLVMValueRef m0 = LLVMConstInt(b->i64, HG_PHILOX_M0, 0), m1 = LLVMConstInt(b->i64, HG_PHILOX_M1, 0);
    LLVMValueRef w0 = LLVMConstInt(b->i32, HG_PHILOX_W0, 0), w1 = LLVMConstInt(b->i32, HG_PHILOX_W1, 0);
    for (int r = 0; r < 10; r++) {
        LLVMValueRef p0 = LLVMBuildMul(B, LLVMBuildZExt(B, c[0], b->i64, ""), m0, "");
        LLVMValueRef p1 = LLVMBuildMul(B, LLVMBuildZExt(B, c[2], b->i64, ""), m1, "");
        LLVMValueRef n0 = LLVMBuildXor(B, LLVMBuildXor(B, hi32(b, p1), c[1], ""), k0, "");
        LLVMValueRef n2 = LLVMBuildXor(B, LLVMBuildXor(B, hi32(b, p0), c[3], ""), k1, "");
        c[0] = n0;
        c[1] = LLVMBuildTrunc(B, p1, b->i32, "");
        c[2] = n2;
        c[3] = LLVMBuildTrunc(B, p0, b->i32, "");
        k0 = LLVMBuildAdd(B, k0, w0, "");
        k1 = LLVMBuildAdd(B, k1, w1, "");
    }
    LLVMValueRef lane = LLVMBuildTrunc(B, LLVMBuildAnd(B, flat, hg_jb_ik(b->i64, 3), ""), b->i32, "");
    LLVMValueRef bit0 = LLVMBuildAnd(B, lane, hg_jb_ik(b->i32, 1), "");
    LLVMValueRef hi_pair = LLVMBuildICmp(B, LLVMIntUGE, lane, hg_jb_ik(b->i32, 2), "");
    LLVMValueRef wa = LLVMBuildSelect(B, hi_pair, c[2], c[0], "");
    LLVMValueRef wb = LLVMBuildSelect(B, hi_pair, c[3], c[1], "");
    LLVMTypeRef ft = n->dtype == HG_F32 ? b->f32 : b->f64;
    if (n->op == HG_OP_random_uniform) {
        LLVMValueRef odd = LLVMBuildICmp(B, LLVMIntNE, bit0, hg_jb_ik(b->i32, 0), "");
        LLVMValueRef w = LLVMBuildSelect(B, odd, wb, wa, "");
        w = LLVMBuildLShr(B, w, hg_jb_ik(b->i32, 8), "");
        return LLVMBuildFMul(B, LLVMBuildUIToFP(B, w, ft, ""), LLVMConstReal(ft, 1.0 / 16777216.0), "");
    }
    LLVMValueRef args[3] = {wa, wb, bit0};
    LLVMValueRef d = call_box_muller(b, prefix, args);
    return ft == b->f32 ? LLVMBuildFPTrunc(B, d, b->f32, "") : d;
}
