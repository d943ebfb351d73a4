/* ROW kernels run by oneDNN 2.6 primitives instead of the JIT (jit.h
 * hg_jit_dnnl_row; issue 11 item 4: measured by bench/row.sh, where
 * oneDNN's f32 layer normalization and softmax forward beat the JIT's ROW
 * kernel on the demo shapes, whose statistics run in double).
 *
 * Only the shapes a primitive computes alone are taken, all f32 over the
 * last axis, the anchor's input read from memory (no prologue) and one
 * output:
 *   layer_norm                            forward_inference
 *   layer_norm(x) * s + b, s and b [C]    forward_inference, use_scale |
 *     (the normalised value internal)       use_shift (the sampling graph's
 *                                           LN; in training the VJP reads
 *                                           the normalised value: JIT)
 * Softmax stays on the JIT although oneDNN's softmax forward is faster
 * (bench/row.sh): oneDNN 2.6 returns 0, not NaN, on a row holding a NaN
 * (tests/test_jit_row.c found it), and the reference's NaN rows are the
 * semantics. Numbers: oneDNN computes mean and variance in f32 (error to
 * the reference below 1e-5 max(|ref|, 1), checked by
 * tests/test_jit_row.c; not 1 ulp per element as the JIT); rows with NaN
 * or inf give NaN as in the reference. Each row is computed by one
 * thread, so the result does not depend on the thread count (tested). */
#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/fast.h"
#include "codegen/jit/jit_internal.h"

struct hg_jit_dnnl_row {
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, scale, shift; /* handles set per run */
    int x_in, s_in, b_in;                 /* kernel input positions (-1: none) */
};

static int input_pos(const hg_kernel *k, hg_value v) {
    for (int i = 0; i < k->n_inputs; i++)
        if (k->inputs[i] == v) return i;
    return -1;
}

/* The other operand of binary node n when one operand is t, else HG_NONE. */
static hg_value other(const hg_node *n, hg_value t) {
    if (n->n_in != 2) return HG_NONE;
    return n->in[0] == t ? n->in[1] : n->in[1] == t ? n->in[0] : HG_NONE;
}

/* A [C] f32 kernel input of kernel k, else -1. */
static int param_pos(const hg_graph *g, const hg_kernel *k, hg_value v, int64_t C) {
    if (v == HG_NONE || hg_value_dtype(g, v) != HG_F32) return -1;
    hg_shape s = hg_value_shape(g, v);
    if (s.rank != 1 || s.dim[0] != C) return -1;
    return input_pos(k, v);
}

int hg_jit_dnnl_row_match(const hg_graph *g, const hg_kernel *k, int *x_in, int *s_in,
                          int *b_in) {
    *x_in = *s_in = *b_in = -1;
    if (k->kind != HG_KERNEL_ROW || k->n_outputs != 1 || k->space.rank < 1 ||
        hg_shape_numel(k->space) == 0)
        return 0;
    const hg_node *an = hg_node_at(g, k->anchor);
    if (an->dtype != HG_F32 || hg_value_dtype(g, an->in[0]) != HG_F32) return 0;
    *x_in = input_pos(k, an->in[0]);
    if (*x_in < 0 || !hg_shape_eq(hg_value_shape(g, an->in[0]), k->space)) return 0;
    if (an->op != HG_OP_layer_norm) return 0; /* softmax: see the file comment */
    if (k->n_members == 1) return 1;
    if (k->n_members != 3) return 0;
    /* members ascend: anchor, mul(anchor, s), add(mul, b) */
    const hg_node *m = hg_node_at(g, k->members[1]), *a = hg_node_at(g, k->members[2]);
    if (k->members[0] != k->anchor || m->op != HG_OP_mul || a->op != HG_OP_add) return 0;
    if (k->outputs[0] != k->members[2]) return 0;
    int64_t C = k->space.dim[k->space.rank - 1];
    *s_in = param_pos(g, k, other(m, k->anchor), C);
    *b_in = param_pos(g, k, other(a, k->members[1]), C);
    return *s_in >= 0 && *b_in >= 0;
}

void hg_jit_dnnl_row_free(void *p) {
    hg_jit_dnnl_row *d = p;
    if (!d) return;
    dnnl_memory_t ms[4] = {d->src, d->dst, d->scale, d->shift};
    for (int i = 0; i < 4; i++)
        if (ms[i]) dnnl_memory_destroy(ms[i]);
    if (d->prim) dnnl_primitive_destroy(d->prim);
    if (d->strm) dnnl_stream_destroy(d->strm);
    if (d->eng) dnnl_engine_destroy(d->eng);
    free(d);
}

hg_status hg_jit_dnnl_row_create(const hg_graph *g, const hg_kernel *k, hg_jit_dnnl_row **out) {
    *out = NULL;
    int x_in, s_in, b_in;
    if (!hg_jit_dnnl_row_match(g, k, &x_in, &s_in, &b_in))
        return hg_error(HG_ERR_UNSUPPORTED, "jit: kernel %s: not a oneDNN row shape", k->name);
    hg_jit_dnnl_row *d = calloc(1, sizeof *d);
    if (!d) return hg_error(HG_ERR_NOMEM, "jit: oneDNN row");
    d->x_in = x_in;
    d->s_in = s_in;
    d->b_in = b_in;
    const hg_node *an = hg_node_at(g, k->anchor);
    int64_t C = k->space.dim[k->space.rank - 1];
    dnnl_dims_t dd = {hg_shape_numel(k->space) / (C ? C : 1), C}, cd = {C};
    dnnl_memory_desc_t md, cmd;
    dnnl_primitive_desc_t pd = NULL;
    int ok = dnnl_engine_create(&d->eng, dnnl_cpu, 0) == dnnl_success &&
             dnnl_stream_create(&d->strm, d->eng, dnnl_stream_default_flags) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&md, 2, dd, dnnl_f32, dnnl_ab) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&cmd, 1, cd, dnnl_f32, dnnl_a) == dnnl_success;
    if (ok) {
        dnnl_layer_normalization_desc_t ld;
        unsigned fl = s_in >= 0 ? dnnl_use_scale | dnnl_use_shift : 0;
        ok = dnnl_layer_normalization_forward_desc_init(&ld, dnnl_forward_inference, &md, NULL,
                                                        (float)an->attrs.eps, fl) == dnnl_success &&
             dnnl_primitive_desc_create(&pd, &ld, NULL, d->eng, NULL) == dnnl_success;
    }
    ok = ok && dnnl_primitive_create(&d->prim, pd) == dnnl_success &&
         dnnl_memory_create(&d->src, &md, d->eng, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&d->dst, &md, d->eng, DNNL_MEMORY_NONE) == dnnl_success;
    if (ok && s_in >= 0)
        ok = dnnl_memory_create(&d->scale, &cmd, d->eng, DNNL_MEMORY_NONE) == dnnl_success &&
             dnnl_memory_create(&d->shift, &cmd, d->eng, DNNL_MEMORY_NONE) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (!ok) {
        hg_jit_dnnl_row_free(d);
        return hg_error(HG_ERR_UNSUPPORTED, "jit: kernel %s: oneDNN primitive not created",
                        k->name);
    }
    *out = d;
    return hg_ok();
}

hg_status hg_jit_dnnl_row_run(const hg_jit_dnnl_row *d, void *const *ptrs, int n_outputs) {
    void *x = ptrs[n_outputs + d->x_in], *y = ptrs[0];
    int ok = dnnl_memory_set_data_handle(d->src, x) == dnnl_success &&
             dnnl_memory_set_data_handle(d->dst, y) == dnnl_success;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, d->src}, {DNNL_ARG_DST, d->dst}};
    int n = 2;
    if (d->s_in >= 0) {
        ok = ok && dnnl_memory_set_data_handle(d->scale, ptrs[n_outputs + d->s_in]) == dnnl_success &&
             dnnl_memory_set_data_handle(d->shift, ptrs[n_outputs + d->b_in]) == dnnl_success;
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCALE, d->scale};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SHIFT, d->shift};
    }
    ok = ok && dnnl_primitive_execute(d->prim, d->strm, n, args) == dnnl_success &&
         dnnl_stream_wait(d->strm) == dnnl_success;
    return ok ? hg_ok() : hg_error(HG_ERR_UNSUPPORTED, "jit: oneDNN row primitive failed");
}
