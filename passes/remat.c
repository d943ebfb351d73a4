/* Rematerialisation of unary elementwise values (passes.h, hg_remat):
 * a value y = f(x) whose input x stays live until a far-away user u of y
 * anyway (the backward pass of a training step: the weight gradient of
 * the matmul after an activation reads y, the activation's VJP reads x)
 * is recomputed just before u instead of being kept from the forward pass
 * to the backward pass. No value lives longer than before; y's buffer
 * lives only from the copy to its last far user. Source: issue 12 item 4
 * (the edge-MLP activations of the graph network are most of its arena). */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

/* y qualifies: unary elementwise, not random, at least min_numel elements. */
static int candidate(const hg_node *nd, int64_t min_numel) {
    unsigned f = hg_op_table[nd->op].flags;
    return (f & HG_OPF_ELEMENTWISE) && !(f & (HG_OPF_RANDOM | HG_OPF_LEAF)) && nd->n_in == 1 &&
           hg_shape_numel(nd->shape) >= min_numel;
}

hg_status hg_remat(const hg_graph *g, int min_distance, int64_t min_numel, hg_graph **out,
                   int *n_copies) {
    *out = NULL;
    if (n_copies) *n_copies = 0;
    HG_TRY(hg_status_prefix(hg_graph_status(g), "hg_remat: graph has an error"));
    int n = g->n_nodes;
    /* last[v]: the last node reading v; n when v is an output or update */
    int *last = malloc(((size_t)n + 1) * 3 * sizeof *last);
    hg_graph *o = hg_graph_new();
    if (!last || !o) {
        free(last);
        hg_graph_free(o);
        return hg_error(HG_ERR_NOMEM, "hg_remat: out of memory");
    }
    int *m = last + n + 1, *copy = m + n + 1; /* ids in o; copy[y]: the recomputed y or -1 */
    for (int v = 0; v < n; v++) last[v] = -1, copy[v] = -1;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) last[g->nodes[i].in[k]] = i;
    for (int i = 0; i < g->n_outputs; i++) last[g->outputs[i].value] = n;
    for (int i = 0; i < g->n_updates; i++) last[g->updates[i].value] = last[g->updates[i].state] = n;
    int copies = 0;
    for (int i = 0; i < n; i++) {
        const hg_node *nd = &g->nodes[i];
        hg_value in[HG_MAX_INPUTS];
        for (int k = 0; k < nd->n_in; k++) {
            hg_value y = nd->in[k];
            const hg_node *yn = &g->nodes[y];
            if (copy[y] < 0 && last[y] < n && i - y > min_distance && candidate(yn, min_numel) &&
                last[yn->in[0]] >= i) { /* x is live at i anyway */
                hg_value xin = m[yn->in[0]];
                copy[y] = hg_add_node(o, yn->op, yn->dtype, yn->shape, 1, &xin, &yn->attrs);
                copies++;
            }
            in[k] = copy[y] >= 0 ? copy[y] : m[y];
        }
        if (nd->op == HG_OP_constant) m[i] = hg_constant(o, nd->dtype, nd->shape, nd->data);
        else if (nd->op == HG_OP_input) m[i] = hg_input(o, nd->attrs.name, nd->dtype, nd->shape);
        else if (nd->op == HG_OP_state) m[i] = hg_state(o, nd->attrs.name, nd->dtype, nd->shape);
        else m[i] = hg_add_node(o, nd->op, nd->dtype, nd->shape, nd->n_in, in, &nd->attrs);
        if (m[i] == HG_NONE) break;
    }
    hg_status st = hg_graph_status(o);
    for (int i = 0; st.code == HG_OK && i < g->n_outputs; i++)
        if (hg_set_output(o, g->outputs[i].name, m[g->outputs[i].value])) st = hg_graph_status(o);
    for (int i = 0; st.code == HG_OK && i < g->n_updates; i++)
        if (hg_set_update(o, m[g->updates[i].state], m[g->updates[i].value])) st = hg_graph_status(o);
    if (o->next_stream < g->next_stream) o->next_stream = g->next_stream;
    free(last);
    if (st.code != HG_OK) {
        hg_graph_free(o);
        return hg_status_prefix(st, "hg_remat");
    }
    if (n_copies) *n_copies = copies;
    *out = o;
    return hg_ok();
}
