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

#endif
