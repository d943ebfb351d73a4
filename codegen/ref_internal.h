/* Internals of the reference interpreter (codegen/ref_*.c): one kernel entry
 * per op family, called by the driver ref_run.c.
 *
 * Every kernel has the same contract: `n` is the node (op, attributes,
 * output dtype/shape), `in[i]` the evaluated inputs in the node's order with
 * exactly the dtypes/shapes the verifier accepted, and `out` an owned,
 * zero-filled tensor of the node's dtype and shape already allocated by the
 * driver. Kernels never change their inputs, and parallelise only over
 * independent output elements, so results are bit-identical for any OpenMP
 * thread count. Errors: HG_ERR_UNSUPPORTED for a dtype the op does not
 * define, HG_ERR_NOMEM for scratch allocations.
 */
#ifndef HG_REF_INTERNAL_H
#define HG_REF_INTERNAL_H

#include "codegen/codegen.h"
#include "ir/ir.h"

typedef hg_node_kernel hg_ref_kernel;

/* ref_elementwise.c: unary, binary, comparison, logical ops and where, with
 * numpy broadcasting; the formulas of ir/elementwise.def (f32/f64 computed
 * in double and rounded to the dtype; i32 wrapping modulo 2^32). */
hg_status hg_ref_elementwise(const hg_node *n, const hg_tensor *const *in,
                             hg_tensor *out);
/* ref_reduce.c: sum, mean, max (accumulated in double for floats). */
hg_status hg_ref_reduce(const hg_node *n, const hg_tensor *const *in,
                        hg_tensor *out);
/* ref_matmul.c: matmul with transposes and batch broadcasting. */
hg_status hg_ref_matmul(const hg_node *n, const hg_tensor *const *in,
                        hg_tensor *out);
/* ref_shape.c: reshape, transpose, broadcast_to, slice, concat, pad,
 * gather, scatter_add, scatter_max, iota, cast, stop_gradient. */
hg_status hg_ref_shape(const hg_node *n, const hg_tensor *const *in,
                       hg_tensor *out);
/* ref_knn.c: knn (SPEC 4.2). */
hg_status hg_ref_knn(const hg_node *n, const hg_tensor *const *in,
                     hg_tensor *out);
/* ref_composite.c: layer_norm, softmax, attention. */
hg_status hg_ref_composite(const hg_node *n, const hg_tensor *const *in,
                           hg_tensor *out);
/* ref_attention.c: attention_lse and attention_grad (materialising, in
 * double: the oracle of the fused kernels, codegen/attention_fused.c). */
hg_status hg_ref_attention_aux(const hg_node *n, const hg_tensor *const *in,
                               hg_tensor *out);
/* Element strides of an attention mask of shape ms aligned to
 * [B, H, Nq, Nk] (0 along broadcast axes). */
void hg_ref_mask_strides(hg_shape ms, int64_t *st);

/* ref_random.c: random_uniform, random_normal. */
hg_status hg_ref_random(const hg_node *n, const hg_tensor *const *in,
                        hg_tensor *out);

/* ---- shared helpers (ref_run.c), also used by the fast backend (fast_*.c) */

/* The kernel above that evaluates op, chosen by the op table's flags
 * (elementwise, reduce, random) or the op itself; NULL for leaves (input,
 * state, constant) and ops no kernel implements. */
hg_ref_kernel hg_ref_kernel_of(hg_op op);
/* Evaluates node v of g with kernel k: in[] from vals[] (the node's
 * inputs), out = vals[v] (allocated and filled as the kernel's contract
 * asks by the caller). Kernel errors are prefixed "node %v (op)". */
hg_status hg_ref_eval_node(const hg_graph *g, hg_value v, hg_node_kernel k, hg_tensor *vals);

/* ---- shared helpers (ref_matmul.c) */

/* C[m, 0:N] += sum_k A(m, k) B[k, 0:N] for rows m in [0, M), with A(m, k) =
 * a[m * a_rs + k * a_cs] and B row-major [K, N] (contiguous), C row-major
 * [M, N]. The k sum runs in ascending order, accumulated in the dtype, so
 * the result does not depend on blocking or threads. Single-threaded. */
void hg_ref_gemm_f32(int64_t M, int64_t N, int64_t K, const float *a,
                     int64_t a_rs, int64_t a_cs, const float *b, float *c);
void hg_ref_gemm_f64(int64_t M, int64_t N, int64_t K, const double *a,
                     int64_t a_rs, int64_t a_cs, const double *b, double *c);

/* ---- shared helpers (ref_shape.c) */

/* Row-major element strides of shape s (strides[rank-1] = 1). */
void hg_ref_strides(hg_shape s, int64_t *strides);

#endif
