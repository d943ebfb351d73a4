/* IR-building helpers of the JIT (jit_internal.h): constants, intrinsic
 * calls, Horner polynomials, counted loops. */
#include <string.h>

#include <llvm-c/DebugInfo.h>

#include "codegen/jit/jit_internal.h"

void hg_jb_types(hg_jb *b) {
    b->f32 = LLVMFloatTypeInContext(b->C);
    b->f64 = LLVMDoubleTypeInContext(b->C);
    b->i1 = LLVMInt1TypeInContext(b->C);
    b->i8 = LLVMInt8TypeInContext(b->C);
    b->i32 = LLVMInt32TypeInContext(b->C);
    b->i64 = LLVMInt64TypeInContext(b->C);
    b->ptr = LLVMPointerTypeInContext(b->C, 0);
    b->vd = LLVMVoidTypeInContext(b->C);
}

LLVMValueRef hg_jb_fk(hg_jb *b, LLVMTypeRef t, double v) {
    (void)b;
    return LLVMConstReal(t, v);
}

LLVMValueRef hg_jb_ik(LLVMTypeRef t, int64_t v) {
    return LLVMConstInt(t, (unsigned long long)v, 1);
}

LLVMTypeRef hg_jb_int_of(hg_jb *b, LLVMTypeRef t) {
    return t == b->f64 ? b->i64 : b->i32;
}

LLVMValueRef hg_jb_intr(hg_jb *b, const char *name, LLVMTypeRef t,
                        LLVMValueRef *args, int n) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(b->M, id, &t, 1);
    LLVMTypeRef ft = LLVMIntrinsicGetType(b->C, id, &t, 1);
    return LLVMBuildCall2(b->B, ft, fn, args, (unsigned)n, "");
}

LLVMValueRef hg_jb_intr1(hg_jb *b, const char *name, LLVMValueRef a) {
    return hg_jb_intr(b, name, LLVMTypeOf(a), &a, 1);
}

LLVMValueRef hg_jb_intr2(hg_jb *b, const char *name, LLVMValueRef a, LLVMValueRef c) {
    LLVMValueRef args[2] = {a, c};
    return hg_jb_intr(b, name, LLVMTypeOf(a), args, 2);
}

LLVMValueRef hg_jb_fma(hg_jb *b, LLVMValueRef a, LLVMValueRef c, LLVMValueRef d) {
    LLVMValueRef args[3] = {a, c, d};
    return hg_jb_intr(b, "llvm.fma", LLVMTypeOf(a), args, 3);
}

LLVMValueRef hg_jb_poly(hg_jb *b, LLVMValueRef x, const double *c, int n) {
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef r = hg_jb_fk(b, t, c[n - 1]);
    for (int i = n - 2; i >= 0; i--) r = hg_jb_fma(b, r, x, hg_jb_fk(b, t, c[i]));
    return r;
}

LLVMValueRef hg_jb_loop_begin(hg_jb *b, hg_jb_loop *l, LLVMValueRef start,
                              LLVMValueRef end, const char *name) {
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(b->B);
    l->head = LLVMAppendBasicBlockInContext(b->C, b->fn, name);
    l->body = LLVMAppendBasicBlockInContext(b->C, b->fn, "body");
    l->exit = LLVMAppendBasicBlockInContext(b->C, b->fn, "exit");
    l->start = start;
    l->end = end;
    LLVMBuildBr(b->B, l->head);
    LLVMPositionBuilderAtEnd(b->B, l->head);
    l->iv = LLVMBuildPhi(b->B, b->i64, name);
    LLVMAddIncoming(l->iv, &start, &pre, 1);
    LLVMValueRef more = LLVMBuildICmp(b->B, LLVMIntSLT, l->iv, end, "");
    LLVMBuildCondBr(b->B, more, l->body, l->exit);
    LLVMPositionBuilderAtEnd(b->B, l->body);
    return l->iv;
}

/* Loop metadata {self, {"llvm.loop.vectorize.enable", i1 false}} on latch
 * branch br (the self-reference through a temporary node: the C API has no
 * distinct nodes; a uniqued node that becomes self-referential is made
 * distinct by LLVM). */
static void set_no_vectorize(hg_jb *b, LLVMValueRef br) {
    static const char key[] = "llvm.loop.vectorize.enable";
    LLVMMetadataRef tmp = LLVMTemporaryMDNode(b->C, NULL, 0);
    LLVMMetadataRef kv[2] = {LLVMMDStringInContext2(b->C, key, sizeof key - 1),
                             LLVMValueAsMetadata(LLVMConstInt(b->i1, 0, 0))};
    LLVMMetadataRef ops[2] = {tmp, LLVMMDNodeInContext2(b->C, kv, 2)};
    LLVMMetadataRef id = LLVMMDNodeInContext2(b->C, ops, 2);
    LLVMMetadataReplaceAllUsesWith(tmp, id);
    LLVMSetMetadata(br, LLVMGetMDKindIDInContext(b->C, "llvm.loop", 9), LLVMMetadataAsValue(b->C, id));
}

void hg_jb_loop_end(hg_jb *b, hg_jb_loop *l) {
    LLVMValueRef next = LLVMBuildNSWAdd(b->B, l->iv, hg_jb_ik(b->i64, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(b->B);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMValueRef br = LLVMBuildBr(b->B, l->head);
    if (l->no_vectorize) set_no_vectorize(b, br);
    LLVMPositionBuilderAtEnd(b->B, l->exit);
}
