/* The reference interpreter's driver: checks the fed inputs and states,
 * evaluates the nodes in definition order with the kernels of
 * ref_elementwise.c, ref_reduce.c, ref_matmul.c, ref_shape.c, ref_knn.c,
 * ref_composite.c and ref_random.c, frees every intermediate buffer after
 * its last use, and only after the whole graph ran stores the outputs and
 * writes the state updates (so a failed call changes nothing). */
#include "codegen/codegen.h"
#include "codegen/ref_internal.h"

#include <omp.h>
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
    default:
        return NULL;
    }
}

hg_status hg_ref_lookup_leaf(const hg_tensor_map *m, const char *kind,
                             const hg_node *nd, hg_value v, hg_tensor **out) {
    hg_tensor *t = m ? hg_map_get(m, nd->attrs.name) : NULL;
    if (!t)
        return hg_error(HG_ERR_INVALID, "node %%%d: %s \"%s\" missing", (int)v,
                        kind, nd->attrs.name);
    if (t->dtype != nd->dtype || !hg_shape_eq(t->shape, nd->shape)) {
        char want[96], got[96];
        hg_shape_str(nd->shape, want, sizeof want);
        hg_shape_str(t->shape, got, sizeof got);
        return hg_error(HG_ERR_INVALID,
                        "node %%%d: %s \"%s\": expected %s%s, got %s%s", (int)v,
                        kind, nd->attrs.name, hg_dtype_name(nd->dtype), want,
                        hg_dtype_name(t->dtype), got);
    }
    if (hg_shape_numel(t->shape) > 0 && !t->data)
        return hg_error(HG_ERR_INVALID, "node %%%d: %s \"%s\" has no data",
                        (int)v, kind, nd->attrs.name);
    *out = t;
    return hg_ok();
}

/* A non-owning view of existing data. */
static hg_tensor view(hg_dtype t, hg_shape s, void *data) {
    hg_tensor r;
    r.dtype = t;
    r.shape = s;
    r.data = data;
    r.owned = 0;
    return r;
}

typedef struct {
    const hg_graph *g;
    hg_tensor *vals;  /* one per node; owned for computed nodes */
    int *last_use;    /* last node reading the value; n_nodes = kept */
    char *needed;     /* reachable from an output or update */
} run_ctx;

static void ctx_free(run_ctx *c) {
    if (c->vals)
        for (int i = 0; i < c->g->n_nodes; i++) hg_tensor_free(&c->vals[i]);
    free(c->vals);
    free(c->last_use);
    free(c->needed);
}

/* Marks the nodes the outputs and updates depend on, and each value's last
 * reader (values read by outputs/updates are kept to the end). */
static void liveness(run_ctx *c) {
    const hg_graph *g = c->g;
    int n = g->n_nodes;
    for (int i = 0; i < n; i++) c->last_use[i] = -1;
    for (int i = 0; i < g->n_outputs; i++) {
        c->needed[g->outputs[i].value] = 1;
        c->last_use[g->outputs[i].value] = n;
    }
    for (int i = 0; i < g->n_updates; i++) {
        c->needed[g->updates[i].value] = 1;
        c->last_use[g->updates[i].value] = n;
    }
    for (int i = n - 1; i >= 0; i--) {
        if (!c->needed[i]) continue;
        const hg_node *nd = &g->nodes[i];
        for (int j = 0; j < nd->n_in; j++) {
            hg_value v = nd->in[j];
            c->needed[v] = 1;
            if (c->last_use[v] < i) c->last_use[v] = i;
        }
    }
}

static hg_status eval_node(run_ctx *c, hg_value v, hg_tensor_map *state,
                           const hg_tensor_map *inputs) {
    const hg_node *nd = &c->g->nodes[v];
    hg_tensor *t = NULL;
    switch (nd->op) {
    case HG_OP_constant:
        c->vals[v] = view(nd->dtype, nd->shape, nd->data);
        return hg_ok();
    case HG_OP_input:
        HG_TRY(hg_ref_lookup_leaf(inputs, "input", nd, v, &t));
        c->vals[v] = view(t->dtype, t->shape, t->data);
        return hg_ok();
    case HG_OP_state:
        HG_TRY(hg_ref_lookup_leaf(state, "state", nd, v, &t));
        c->vals[v] = view(t->dtype, t->shape, t->data);
        return hg_ok();
    default:
        break;
    }
    hg_ref_kernel k = hg_ref_kernel_of(nd->op);
    if (!k)
        return hg_error(HG_ERR_UNSUPPORTED, "node %%%d: op %d has no kernel",
                        (int)v, (int)nd->op);
    const hg_tensor *ins[HG_MAX_INPUTS];
    for (int j = 0; j < nd->n_in; j++) ins[j] = &c->vals[nd->in[j]];
    HG_TRY(hg_tensor_alloc(&c->vals[v], nd->dtype, nd->shape));
    hg_status s = k(nd, ins, &c->vals[v]);
    if (s.code != HG_OK)
        return hg_status_prefix(s, "node %%%d (%s)", (int)v,
                                hg_op_table[nd->op].name);
    return hg_ok();
}

/* Outputs into `outputs`, then updates into `state`; copies are made
 * first so nothing is written unless every allocation succeeded, and a
 * state update reading another state sees its old value. */
static hg_status commit(run_ctx *c, hg_tensor_map *state,
                        hg_tensor_map *outputs) {
    const hg_graph *g = c->g;
    int no = g->n_outputs, nu = g->n_updates;
    hg_tensor *tmp = calloc((size_t)(no + nu) + 1, sizeof *tmp);
    if (!tmp) return hg_error(HG_ERR_NOMEM, "ref: output copies");
    hg_status s = hg_ok();
    for (int i = 0; i < no + nu && s.code == HG_OK; i++) {
        hg_value v = i < no ? g->outputs[i].value : g->updates[i - no].value;
        s = hg_tensor_copy(&tmp[i], &c->vals[v]);
    }
    if (s.code == HG_OK && no > 0 && !outputs)
        s = hg_error(HG_ERR_INVALID, "ref: graph has outputs but no output map");
    if (s.code == HG_OK) {
        for (int i = 0; i < no && s.code == HG_OK; i++)
            s = hg_map_put(outputs, g->outputs[i].name, &tmp[i]);
        for (int i = 0; i < nu && s.code == HG_OK; i++) {
            const hg_node *sn = &g->nodes[g->updates[i].state];
            hg_tensor *dst = hg_map_get(state, sn->attrs.name);
            /* present and matching: checked when the state node ran */
            memcpy(dst->data, tmp[no + i].data, hg_tensor_bytes(dst));
        }
    }
    for (int i = 0; i < no + nu; i++) hg_tensor_free(&tmp[i]);
    free(tmp);
    return s;
}

hg_status hg_ref_run(const hg_graph *g, hg_tensor_map *state,
                     const hg_tensor_map *inputs, hg_tensor_map *outputs,
                     const hg_ref_hooks *hooks) {
    if (!g) return hg_error(HG_ERR_INVALID, "ref: graph is NULL");
    HG_TRY(hg_graph_status(g));
    run_ctx c = {g, NULL, NULL, NULL};
    int n = g->n_nodes;
    c.vals = calloc((size_t)n + 1, sizeof *c.vals);
    c.last_use = malloc(((size_t)n + 1) * sizeof *c.last_use);
    c.needed = calloc((size_t)n + 1, 1);
    if (!c.vals || !c.last_use || !c.needed) {
        ctx_free(&c);
        return hg_error(HG_ERR_NOMEM, "ref: %d nodes", n);
    }
    liveness(&c);
    /* every updated state must be fed, even if nothing reads it */
    for (int i = 0; i < g->n_updates; i++) c.needed[g->updates[i].state] = 1;

    hg_status s = hg_ok();
    for (int v = 0; v < n && s.code == HG_OK; v++) {
        if (!c.needed[v]) continue;
        double t0 = hooks && hooks->node_done ? omp_get_wtime() : 0;
        s = eval_node(&c, v, state, inputs);
        if (s.code != HG_OK) break;
        if (hooks && hooks->node_done)
            hooks->node_done(hooks->user, g, v, omp_get_wtime() - t0);
        const hg_node *nd = &g->nodes[v];
        for (int j = 0; j < nd->n_in; j++) {
            hg_value u = nd->in[j];
            if (c.last_use[u] == v) hg_tensor_free(&c.vals[u]);
        }
    }
    if (s.code == HG_OK) s = commit(&c, state, outputs);
    ctx_free(&c);
    return s;
}
