/* The `jit` backend (jit.h): hg_fuse's LOOP and ROW groups compiled by
 * the JIT (ROW groups of a shape a oneDNN primitive computes alone run by
 * oneDNN, faster: jit_dnnl_row.c), MATMUL groups run by fast as oneDNN
 * primitives with post-ops, everything else run by the fast backend it is
 * built on. */
#include <stdlib.h>
#include <string.h>

#include "codegen/fast.h"
#include "codegen/jit/jit_internal.h"

struct hg_jit_backend {
    hg_fast *f;
    hg_jit_program *p;
    hg_jit_stats stats;
};

/* An epilogue operand shape oneDNN takes as a binary post-op of an output
 * of shape s in every matmul layout (fast_dnnl.c operand_md): s itself, or
 * broadcast over every dim but the last (bias, scale). */
static int post_operand_ok(hg_shape u, hg_shape s) {
    if (hg_shape_eq(u, s)) return 1;
    for (int d = 0; d < u.rank - 1; d++)
        if (u.dim[d] != 1) return 0;
    return u.rank <= s.rank;
}

/* MATMUL kernels (fast's oneDNN primitive with the epilogue as post-ops):
 * an f32 matmul, then add/mul with operands post_operand_ok, gelu_tanh. */
static int can_matmul(const hg_graph *g, const hg_node *n) {
    if (n->dtype != HG_F32) return 0;
    for (int j = 0; j < n->n_in; j++)
        if (hg_value_dtype(g, n->in[j]) != HG_F32) return 0;
    switch (n->op) {
    case HG_OP_matmul: case HG_OP_gelu_tanh: return 1;
    case HG_OP_add: case HG_OP_mul:
        for (int j = 0; j < n->n_in; j++)
            if (!post_operand_ok(hg_value_shape(g, n->in[j]), n->shape)) return 0;
        return 1;
    default: return 0;
    }
}

/* can_fuse of hg_fuse: node v can be a member of a LOOP kernel (compiled
 * by the JIT) or of a MATMUL kernel (run by fast as one oneDNN primitive). */
static int can_fuse(void *user, hg_kernel_kind kind, const hg_graph *g, hg_value v) {
    (void)user;
    const hg_node *n = hg_node_at(g, v);
    if (kind == HG_KERNEL_MATMUL) return can_matmul(g, n);
    if (kind == HG_KERNEL_ROW) { /* jit_row.c: float anchors, ew formulas around them */
        if (n->op == HG_OP_softmax || n->op == HG_OP_layer_norm)
            return hg_dtype_is_float(n->dtype) && hg_value_dtype(g, n->in[0]) == n->dtype;
        return hg_jit_ew_supported(g, n);
    }
    if (kind != HG_KERNEL_LOOP) return 0;
    switch (n->op) {
    case HG_OP_sum: case HG_OP_mean: case HG_OP_max:
    case HG_OP_random_uniform: case HG_OP_random_normal:
        return hg_dtype_is_float(n->dtype);
    default:
        return hg_jit_ew_supported(g, n);
    }
}

hg_status hg_jit_schedule(const hg_graph *g, hg_schedule *out) {
    hg_fuse_opts o;
    hg_fuse_opts_default(&o);
    o.kinds = HG_FUSE_ALL_KINDS;
    o.can_fuse = can_fuse;
    return hg_fuse(g, &o, out);
}

/* fast implementation record of a compiled kernel. */
static hg_status run_compiled(const hg_fast_impl *impl, hg_tensor *vals) {
    (void)vals;
    const hg_jit_backend *b = impl->data;
    const hg_kernel *k = impl->kernel;
    int n = k->n_outputs + k->n_inputs;
    void *stack[128], **ptrs = n <= 128 ? stack : malloc(sizeof(void *) * (size_t)n);
    if (!ptrs) return hg_error(HG_ERR_NOMEM, "jit: kernel %d", impl->index);
    for (int o = 0; o < k->n_outputs; o++) ptrs[o] = impl->out[o]->data;
    for (int i = 0; i < k->n_inputs; i++) ptrs[k->n_outputs + i] = impl->in[i]->data;
    hg_jit_run(b->p, impl->index, ptrs);
    if (ptrs != stack) free(ptrs);
    return hg_ok();
}

/* fast implementation record of a ROW kernel run by oneDNN. */
static hg_status run_dnnl_row(const hg_fast_impl *impl, hg_tensor *vals) {
    (void)vals;
    const hg_kernel *k = impl->kernel;
    void *ptrs[HG_MAX_INPUTS + 8];
    int n = k->n_outputs + k->n_inputs;
    if (n > (int)(sizeof ptrs / sizeof ptrs[0]))
        return hg_error(HG_ERR_UNSUPPORTED, "jit: kernel %d: %d buffers", impl->index, n);
    for (int o = 0; o < k->n_outputs; o++) ptrs[o] = impl->out[o]->data;
    for (int i = 0; i < k->n_inputs; i++) ptrs[k->n_outputs + i] = impl->in[i]->data;
    return hg_status_prefix(hg_jit_dnnl_row_run(impl->data, ptrs, k->n_outputs), "kernel %d (%s)",
                            impl->index, k->name);
}

hg_status hg_jit_backend_compile(const hg_graph *g, const hg_schedule *s, hg_jit_backend **out) {
    return hg_jit_backend_compile_ex(g, s, 1, out);
}

hg_status hg_jit_backend_compile_ex(const hg_graph *g, const hg_schedule *s, int dnnl_rows,
                                    hg_jit_backend **out) {
    *out = NULL;
    hg_jit_backend *b = calloc(1, sizeof *b);
    if (!b) return hg_error(HG_ERR_NOMEM, "jit: backend");
    hg_status st = hg_fast_compile_fused(g, s, &b->f);
    if (st.code == HG_OK) st = hg_jit_compile(g, s, hg_fast_plan(b->f), NULL, &b->p);
    for (int k = 0; st.code == HG_OK && k < s->n_kernels; k++) {
        const hg_kernel *kr = &s->kernels[k];
        int xi, si, bi;
        if (dnnl_rows && hg_jit_dnnl_row_match(g, kr, &xi, &si, &bi)) {
            hg_jit_dnnl_row *d = NULL;
            st = hg_jit_dnnl_row_create(g, kr, &d);
            if (st.code == HG_OK) {
                st = hg_fast_set_impl(b->f, k, run_dnnl_row, d, hg_jit_dnnl_row_free);
                if (st.code != HG_OK) hg_jit_dnnl_row_free(d);
                b->stats.n_dnnl_rows++;
                continue;
            }
            if (!hg_jit_has(b->p, k)) break;
            st = hg_ok(); /* oneDNN refused: the JIT's kernel runs */
        }
        if (hg_jit_has(b->p, k)) {
            st = hg_fast_set_impl(b->f, k, run_compiled, b, NULL);
            continue;
        }
        if (kr->n_members > kr->n_outputs && kr->kind != HG_KERNEL_MATMUL)
            st = hg_error(HG_ERR_UNSUPPORTED,
                          "jit: kernel %d (%s): a fusion group the JIT cannot compile", k,
                          kr->name);
    }
    if (st.code != HG_OK) {
        hg_jit_backend_free(b);
        return st;
    }
    int n_dnnl_rows = b->stats.n_dnnl_rows;
    hg_jit_program_stats(b->p, &b->stats);
    b->stats.n_dnnl_rows = n_dnnl_rows;
    hg_fast_epilogue_counts(b->f, &b->stats.n_post_ops, &b->stats.n_post_ref);
    *out = b;
    return hg_ok();
}

hg_status hg_jit_backend_run(hg_jit_backend *b, hg_tensor_map *state, const hg_tensor_map *inputs,
                             hg_tensor_map *outputs, const hg_exec_hooks *hooks) {
    return hg_fast_run(b->f, state, inputs, outputs, hooks);
}

const hg_jit_stats *hg_jit_backend_stats(const hg_jit_backend *b) { return &b->stats; }

void hg_jit_backend_free(hg_jit_backend *b) {
    if (!b) return;
    hg_fast_free(b->f);
    hg_jit_free(b->p);
    free(b);
}
