/* The one place the fast backend picks the kernel of a one-node kernel
 * (codegen/fast.h hg_fast_kernel_of): plug an optimised kernel for an op
 * in here (same contract as the reference kernels); everything else runs
 * the reference kernel. The f32 matmul's oneDNN primitive is chosen at
 * compile time in fast_run.c (it needs per-node state). */
#include "codegen/fast_internal.h"
#include "codegen/ref_internal.h"

hg_node_kernel hg_fast_kernel_of(hg_op op) {
    if ((unsigned)op >= HG_NUM_OPS) return NULL;
    switch (op) {
    case HG_OP_layer_norm: return hg_fast_layer_norm_node; /* layer_norm_fast.c */
    case HG_OP_attention: case HG_OP_attention_lse: case HG_OP_attention_grad:
        return hg_fused_attention_node; /* FlashAttention-2, attention_fused.c */
    default:
        return hg_ref_kernel_of(op);
    }
}

/* Ops whose kernel assigns every output element need no zero fill of
 * their arena output: the op table's writes_all (ir/op_traits.def). A
 * kernel that stopped writing every element would show in the
 * differential tests, whose later runs see the previous run's values. */
int hg_fast_overwrites(hg_op op) {
    if (hg_fast_kernel_of(op) == hg_fused_attention_node) return 1;
    return hg_op_table[op].writes_all;
}
