/* Internals of the fast backend (codegen/fast_*.c). */
#ifndef HG_FAST_INTERNAL_H
#define HG_FAST_INTERNAL_H

#include <dnnl.h>

#include "codegen/fast.h"

/* A oneDNN matmul primitive of one f32 matmul node and its memory objects
 * (data handles set per call). prim NULL: not created (the reference
 * kernel runs). */
typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} hg_fast_mm;

/* fast_dnnl.c: builds the primitive of f32 matmul node v of g on engine
 * eng; leaves mm->prim NULL when oneDNN refuses. */
void hg_fast_mm_create(const hg_graph *g, hg_value v, dnnl_engine_t eng, hg_fast_mm *mm);
/* Runs it on stream strm with data pointers a, b (inputs) and c (output);
 * waits for the stream. Errors: HG_ERR_UNSUPPORTED naming node v. */
hg_status hg_fast_mm_run(hg_value v, const hg_fast_mm *mm, dnnl_stream_t strm, void *a,
                         void *b, void *c);
void hg_fast_mm_destroy(hg_fast_mm *mm);

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
