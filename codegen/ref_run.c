/* The reference interpreter's driver: the kernel of each op
 * (ref_elementwise.c, ref_reduce.c, ref_matmul.c, ref_shape.c, ref_knn.c,
 * ref_composite.c, ref_random.c) run through the shared executor
 * (codegen/exec.h) in heap mode: every kernel's members evaluated one by
 * one in ascending node order into freshly allocated, zero-filled
 * tensors, each freed after its last reading kernel; outputs and state
 * updates committed only after the whole schedule ran (so a failed call
 * changes nothing). */
#include "codegen/codegen.h"
#include "codegen/ref_internal.h"

#include <stdlib.h>
#include <string.h>

hg_ref_kernel hg_ref_kernel_of(hg_op op) {
    unsigned fl = hg_op_table[op].flags;
    if (fl & HG_OPF_ELEMENTWISE) return hg_ref_elementwise;
    if (fl & HG_OPF_REDUCE) return hg_ref_reduce;
    if (fl & HG_OPF_RANDOM) return hg_ref_random;
    switch (op) {
    case HG_OP_matmul:
        return hg_ref_matmul;
    case HG_OP_reshape: case HG_OP_transpose: case HG_OP_broadcast_to:
    case HG_OP_slice: case HG_OP_concat: case HG_OP_pad: case HG_OP_gather:
    case HG_OP_scatter_add: case HG_OP_scatter_max: case HG_OP_iota:
    case HG_OP_cast: case HG_OP_stop_gradient:
        return hg_ref_shape;
    case HG_OP_knn:
        return hg_ref_knn;
    case HG_OP_layer_norm: case HG_OP_softmax: case HG_OP_attention:
        return hg_ref_composite;
    case HG_OP_attention_lse: case HG_OP_attention_grad:
        return hg_ref_attention_aux;
    default:
        return NULL;
    }
}

int hg_ref_supports(hg_op op) {
    return (unsigned)op < HG_NUM_OPS &&
           ((hg_op_table[op].flags & HG_OPF_LEAF) || hg_ref_kernel_of(op) != NULL);
}

hg_status hg_ref_eval_node(const hg_graph *g, hg_value v, hg_node_kernel k, hg_tensor *vals) {
    const hg_node *nd = &g->nodes[v];
    const hg_tensor *ins[HG_MAX_INPUTS];
    for (int j = 0; j < nd->n_in; j++) ins[j] = &vals[nd->in[j]];
    hg_status s = k(nd, ins, &vals[v]);
    if (s.code != HG_OK)
        return hg_status_prefix(s, "node %%%d (%s)", (int)v, hg_op_table[nd->op].name);
    return hg_ok();
}

struct hg_ref_program {
    hg_exec_plan plan;
    hg_node_kernel *kernel_of_node; /* [n_nodes]: the kernel of each member */
};

static hg_status run_kernel(void *self, const hg_exec_plan *p, int k, hg_tensor *vals) {
    const hg_ref_program *rp = self;
    const hg_kernel *kr = &p->s->kernels[k];
    for (int i = 0; i < kr->n_members; i++) {
        hg_value v = kr->members[i];
        HG_TRY(hg_ref_eval_node(p->g, v, rp->kernel_of_node[v], vals));
    }
    return hg_ok();
}

void hg_ref_program_free(hg_ref_program *p) {
    if (!p) return;
    hg_exec_plan_free(&p->plan);
    free(p->kernel_of_node);
    free(p);
}

hg_status hg_ref_compile(const hg_graph *g, const hg_schedule *s, hg_ref_program **out) {
    *out = NULL;
    hg_ref_program *p = calloc(1, sizeof *p);
    if (!p) return hg_error(HG_ERR_NOMEM, "ref: program");
    hg_status st = hg_exec_plan_make(g, s, &p->plan);
    if (st.code == HG_OK) {
        p->kernel_of_node = calloc((size_t)g->n_nodes + 1, sizeof *p->kernel_of_node);
        if (!p->kernel_of_node) st = hg_error(HG_ERR_NOMEM, "ref: %d nodes", g->n_nodes);
    }
    for (int k = 0; k < s->n_kernels && st.code == HG_OK; k++)
        for (int i = 0; i < s->kernels[k].n_members && st.code == HG_OK; i++) {
            hg_value v = s->kernels[k].members[i];
            p->kernel_of_node[v] = hg_ref_kernel_of(g->nodes[v].op);
            if (!p->kernel_of_node[v])
                st = hg_error(HG_ERR_UNSUPPORTED, "node %%%d: op %s has no kernel", (int)v,
                              hg_op_table[g->nodes[v].op].name);
        }
    if (st.code != HG_OK) {
        hg_ref_program_free(p);
        return st;
    }
    *out = p;
    return hg_ok();
}

hg_status hg_ref_program_run(hg_ref_program *p, hg_tensor_map *state,
                             const hg_tensor_map *inputs, hg_tensor_map *outputs,
                             const hg_exec_hooks *hooks) {
    if (!p) return hg_error(HG_ERR_INVALID, "ref: program is NULL");
    hg_tensor *vals = calloc((size_t)p->plan.g->n_nodes + 1, sizeof *vals);
    if (!vals) return hg_error(HG_ERR_NOMEM, "ref: %d values", p->plan.g->n_nodes);
    hg_exec_backend b = {run_kernel, p, 1};
    hg_status st = hg_exec_run(&p->plan, &b, vals, state, inputs, outputs, hooks);
    free(vals);
    return st;
}

hg_status hg_ref_run(const hg_graph *g, hg_tensor_map *state, const hg_tensor_map *inputs,
                     hg_tensor_map *outputs, const hg_exec_hooks *hooks) {
    if (!g) return hg_error(HG_ERR_INVALID, "ref: graph is NULL");
    HG_TRY(hg_graph_status(g));
    hg_schedule s;
    HG_TRY(hg_status_prefix(hg_schedule_nodes(g, &s), "ref"));
    hg_ref_program *p = NULL;
    hg_status st = hg_ref_compile(g, &s, &p);
    if (st.code == HG_OK) st = hg_ref_program_run(p, state, inputs, outputs, hooks);
    hg_ref_program_free(p);
    hg_schedule_free(&s);
    return st;
}
