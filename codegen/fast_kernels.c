/* The one place the fast backend picks the kernel of a one-node kernel
 * (codegen/fast.h hg_fast_kernel_of): plug an optimised kernel for an op
 * in here (same contract as the reference kernels); everything else runs
 * the reference kernel. The f32 matmul's oneDNN primitive is chosen at
 * compile time in fast_run.c (it needs per-node state). */
#include "codegen/fast.h"
#include "codegen/ref_internal.h"

hg_node_kernel hg_fast_kernel_of(hg_op op) {
    if ((unsigned)op >= HG_NUM_OPS) return NULL;
    return hg_ref_kernel_of(op);
}

/* Ops whose kernel assigns every output element (elementwise, random, the
 * strided copies, iota, cast, and the row-wise softmax and layer_norm),
 * so their arena output needs no zero fill. The accumulating kernels
 * (matmul, reductions, scatter_*, attention) and those that skip elements
 * (gather's out-of-range rows, pad, knn) get a zero-filled output. A
 * kernel that stopped writing every element would show in the
 * differential tests, whose later runs see the previous run's values. */
int hg_fast_overwrites(hg_op op) {
    unsigned fl = hg_op_table[op].flags;
    if (fl & (HG_OPF_ELEMENTWISE | HG_OPF_RANDOM)) return 1;
    switch (op) {
    case HG_OP_transpose: case HG_OP_broadcast_to: case HG_OP_slice: case HG_OP_concat:
    case HG_OP_iota: case HG_OP_cast: case HG_OP_softmax: case HG_OP_layer_norm:
        return 1;
    default:
        return 0;
    }
}
