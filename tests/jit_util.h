/* Helpers of the JIT tests (tests/test_jit_*.c): one-kernel schedules made
 * by hand, running them through hg_jit_* on tensors, ulp distances. */
#ifndef HG_TEST_JIT_UTIL_H
#define HG_TEST_JIT_UTIL_H

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/jit/jit.h"
#include "passes/passes.h"

/* A schedule with the single LOOP kernel of members mem[0..n) (ascending)
 * and reduction `reduce` (HG_NONE or the last member), inputs/outputs from
 * hg_kernel_fill_io. Space: the reduce input's shape, else the last
 * member's. */
static inline hg_status jt_schedule(const hg_graph *g, const hg_value *mem, int n,
                                    hg_value reduce, hg_schedule *s) {
    memset(s, 0, sizeof *s);
    s->n_nodes = g->n_nodes;
    s->n_kernels = 1;
    s->kernels = calloc(1, sizeof *s->kernels);
    s->kernel_of = malloc(sizeof(int) * (size_t)g->n_nodes);
    hg_kernel *k = s->kernels;
    k->kind = HG_KERNEL_LOOP;
    k->n_members = n;
    k->members = malloc(sizeof(hg_value) * (size_t)n);
    memcpy(k->members, mem, sizeof(hg_value) * (size_t)n);
    k->reduce = reduce;
    k->anchor = HG_NONE;
    hg_value sv = reduce != HG_NONE ? hg_node_at(g, reduce)->in[0] : mem[n - 1];
    k->space = hg_value_shape(g, sv);
    snprintf(k->name, sizeof k->name, "loop:test");
    for (int i = 0; i < g->n_nodes; i++) s->kernel_of[i] = -1;
    for (int i = 0; i < n; i++) s->kernel_of[mem[i]] = 0;
    char *needed = hg_schedule_needed(g);
    hg_status st = hg_kernel_fill_io(g, needed, k);
    free(needed);
    return st;
}

/* Data pointer of leaf v: the constant's data or the tensor fed under the
 * input's name. */
static inline void *jt_leaf(const hg_graph *g, const hg_tensor_map *in, hg_value v) {
    const hg_node *n = hg_node_at(g, v);
    if (n->op == HG_OP_constant) return n->data;
    hg_tensor *t = hg_map_get(in, n->attrs.name);
    return t ? t->data : NULL;
}

/* Runs kernel 0 of s (compiled in p) with inputs from `in` (every kernel
 * input a leaf) into freshly allocated tensors outs[o] (k->outputs order). */
static inline hg_status jt_run(const hg_graph *g, const hg_schedule *s, const hg_jit_program *p,
                               const hg_tensor_map *in, hg_tensor *outs) {
    const hg_kernel *k = &s->kernels[0];
    void *ptrs[64];
    for (int o = 0; o < k->n_outputs; o++) {
        HG_TRY(hg_tensor_alloc(&outs[o], hg_value_dtype(g, k->outputs[o]),
                               hg_value_shape(g, k->outputs[o])));
        ptrs[o] = outs[o].data;
    }
    for (int i = 0; i < k->n_inputs; i++) ptrs[k->n_outputs + i] = jt_leaf(g, in, k->inputs[i]);
    hg_jit_run(p, 0, ptrs);
    return hg_ok();
}

/* Error of f32 `got` against the exact `want` in ulps of the f32 rounding of
 * want (denormal ulp 2^-149); 0 when both are NaN or equal infinities; an
 * f32 infinity counts as 2^128. */
static inline double jt_ulp(float got, double want) {
    if (isnan(want) || isnan(got)) return isnan(want) && isnan(got) ? 0 : INFINITY;
    float w = (float)want;
    if (isinf(w) && got == w) return 0;
    double g = isinf(got) ? copysign(ldexp(1.0, 128), got) : got;
    double a = fabs(isinf(w) ? ldexp(1.0, 128) : want);
    int e;
    frexp(a, &e);
    double u = a < FLT_MIN ? ldexp(1.0, -149) : ldexp(1.0, e - 24);
    if (isinf(want)) return isinf(got) && (got > 0) == (want > 0) ? 0 : INFINITY;
    return fabs(g - want) / u;
}

#endif
