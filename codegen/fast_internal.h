/* Internals of the fast backend (codegen/fast_*.c). */
#ifndef HG_FAST_INTERNAL_H
#define HG_FAST_INTERNAL_H

#include <dnnl.h>

#include "codegen/fast.h"

/* Most epilogue steps one matmul primitive takes as post-ops. */
#define HG_FAST_MAX_POST 8

/* A oneDNN matmul primitive of one f32 matmul node, or of a MATMUL kernel
 * (passes/schedule.h: the matmul and its epilogue chain of add, mul and
 * gelu_tanh as oneDNN post-ops: a binary post-op per add/mul, reading the
 * member's other input broadcast into the matmul's shape, an eltwise
 * post-op per gelu_tanh), and its memory objects (data handles set per
 * call). prim NULL: not created (the reference kernel runs). n_post: the
 * epilogue members taken as post-ops (0 for a plain matmul); n_bin of them
 * are binary, reading value bin_src[i] through memory object bin[i]. */
typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
    int n_post, n_bin;
    int bin_index[HG_FAST_MAX_POST]; /* post-op index of binary i */
    hg_value bin_src[HG_FAST_MAX_POST];
    dnnl_memory_t bin[HG_FAST_MAX_POST];
} hg_fast_mm;

/* fast_dnnl.c: builds the primitive of f32 matmul node v of g on engine
 * eng with the epilogue members epi[0..n_epi) (each reads the previous
 * step, the first reads v; n_epi 0: a plain matmul) as post-ops; leaves
 * mm->prim NULL when oneDNN refuses or a step is not expressible as a
 * post-op (an operand broadcast oneDNN's descriptor cannot state, a dtype
 * other than f32, more than HG_FAST_MAX_POST steps). */
void hg_fast_mm_create(const hg_graph *g, hg_value v, const hg_value *epi, int n_epi,
                       dnnl_engine_t eng, hg_fast_mm *mm);
/* Runs it on stream strm with data pointers a, b (inputs), c (output: the
 * last epilogue member's, or v's) and vals[bin_src[i]].data for the binary
 * post-ops; waits for the stream. Errors: HG_ERR_UNSUPPORTED naming node v. */
hg_status hg_fast_mm_run(hg_value v, const hg_fast_mm *mm, dnnl_stream_t strm, void *a,
                         void *b, void *c, const hg_tensor *vals);
void hg_fast_mm_destroy(hg_fast_mm *mm);

/* layer_norm_fast.c: the layer_norm kernel hg_fast_kernel_of picks (f32
 * vectorised, same formula and double sums as the reference in another
 * addition order; f64 delegates to the reference). Reference kernel
 * contract (codegen/ref_internal.h). */
hg_status hg_fast_layer_norm_node(const hg_node *n, const hg_tensor *const *in, hg_tensor *out);

/* attention_fused.c: FlashAttention-2 kernels (f32; other dtypes run the
 * reference kernels). hg_fused_attention_node is the one-node kernel of
 * attention, attention_lse and attention_grad (the reference kernel
 * contract, codegen/ref_internal.h; it writes every output element).
 * hg_fused_attention_multi is the implementation record's function of an
 * HG_KERNEL_MULTI kernel that hg_fused_attention_multi_ok accepts (anchor
 * attention with its attention_lse, or attention_grad nodes of one
 * attention: passes/attention_group.c): one pass computes every member
 * that has storage in the plan. Errors: HG_ERR_NOMEM (scratch: two
 * [128, 128] tiles and O(Nq) per thread), HG_ERR_UNSUPPORTED when oneDNN's
 * sgemm fails. */
hg_status hg_fused_attention_node(const hg_node *n, const hg_tensor *const *in, hg_tensor *out);
int hg_fused_attention_multi_ok(const hg_graph *g, const hg_kernel *k);
hg_status hg_fused_attention_multi(const hg_fast_impl *impl, hg_tensor *vals);

#endif
