/* The shared executor (codegen/exec.h): the plan (liveness over the
 * schedule's kernels, the leaves to bind), binding, the kernel loop with
 * hooks, and the commit of outputs and state updates. */
#include "codegen/exec.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int is_leaf(const hg_graph *g, hg_value v) {
    return (hg_op_table[g->nodes[v].op].flags & HG_OPF_LEAF) != 0;
}

void hg_exec_plan_free(hg_exec_plan *p) {
    if (!p) return;
    free(p->needed);
    free(p->last_kernel);
    free(p->borrowed);
    free(p->leaves);
    memset(p, 0, sizeof *p);
}

hg_status hg_exec_plan_make(const hg_graph *g, const hg_schedule *s, hg_exec_plan *p) {
    memset(p, 0, sizeof *p);
    if (!g || !s) return hg_error(HG_ERR_INVALID, "exec: graph or schedule is NULL");
    HG_TRY(hg_graph_status(g));
    if (s->n_nodes != g->n_nodes)
        return hg_error(HG_ERR_INVALID, "exec: schedule made for %d nodes, graph has %d",
                        s->n_nodes, g->n_nodes);
    int n = g->n_nodes;
    p->g = g;
    p->s = s;
    p->needed = hg_schedule_needed(g);
    p->last_kernel = malloc(((size_t)n + 1) * sizeof *p->last_kernel);
    p->borrowed = calloc((size_t)n + 1, 1);
    p->leaves = malloc(((size_t)n + 1) * sizeof *p->leaves);
    if (!p->needed || !p->last_kernel || !p->borrowed || !p->leaves) {
        hg_exec_plan_free(p);
        return hg_error(HG_ERR_NOMEM, "exec: plan of %d nodes", n);
    }
    for (int v = 0; v < n; v++) {
        p->last_kernel[v] = -1;
        const hg_node *nd = &g->nodes[v];
        if (is_leaf(g, v)) {
            p->borrowed[v] = 1;
            if (p->needed[v]) p->leaves[p->n_leaves++] = v;
        } else if ((nd->op == HG_OP_reshape || nd->op == HG_OP_stop_gradient) &&
                   p->borrowed[nd->in[0]]) {
            p->borrowed[v] = 1;
        }
    }
    for (int k = 0; k < s->n_kernels; k++)
        for (int i = 0; i < s->kernels[k].n_inputs; i++)
            p->last_kernel[s->kernels[k].inputs[i]] = k;
    for (int i = 0; i < g->n_outputs; i++) p->last_kernel[g->outputs[i].value] = s->n_kernels;
    for (int i = 0; i < g->n_updates; i++) p->last_kernel[g->updates[i].value] = s->n_kernels;
    return hg_ok();
}

/* The tensor fed for leaf node v under its name in m (`kind` "input" or
 * "state" for messages), checked against the node's dtype and shape. */
static hg_status lookup_leaf(const hg_tensor_map *m, const char *kind, const hg_graph *g,
                             hg_value v, hg_tensor **out) {
    const hg_node *nd = &g->nodes[v];
    hg_tensor *t = m ? hg_map_get(m, nd->attrs.name) : NULL;
    if (!t)
        return hg_error(HG_ERR_INVALID, "node %%%d: %s \"%s\" missing", (int)v, kind,
                        nd->attrs.name);
    if (t->dtype != nd->dtype || !hg_shape_eq(t->shape, nd->shape)) {
        char want[96], got[96];
        hg_shape_str(nd->shape, want, sizeof want);
        hg_shape_str(t->shape, got, sizeof got);
        return hg_error(HG_ERR_INVALID, "node %%%d: %s \"%s\": expected %s%s, got %s%s", (int)v,
                        kind, nd->attrs.name, hg_dtype_name(nd->dtype), want,
                        hg_dtype_name(t->dtype), got);
    }
    if (hg_shape_numel(t->shape) > 0 && !t->data)
        return hg_error(HG_ERR_INVALID, "node %%%d: %s \"%s\" has no data", (int)v, kind,
                        nd->attrs.name);
    *out = t;
    return hg_ok();
}

/* Points every needed leaf's entry at its data (non-owning views). */
static hg_status bind(const hg_exec_plan *p, hg_tensor *vals, hg_tensor_map *state,
                      const hg_tensor_map *inputs) {
    const hg_graph *g = p->g;
    for (int i = 0; i < p->n_leaves; i++) {
        hg_value v = p->leaves[i];
        const hg_node *nd = &g->nodes[v];
        void *data = nd->data;
        if (nd->op != HG_OP_constant) {
            int is_in = nd->op == HG_OP_input;
            hg_tensor *t = NULL;
            HG_TRY(lookup_leaf(is_in ? inputs : state, is_in ? "input" : "state", g, v, &t));
            data = t->data;
        }
        vals[v].dtype = nd->dtype;
        vals[v].shape = nd->shape;
        vals[v].data = data;
        vals[v].owned = 0;
    }
    return hg_ok();
}

/* Heap mode: allocates every member of kernel k (zero-filled). */
static hg_status alloc_members(const hg_exec_plan *p, int k, hg_tensor *vals) {
    const hg_kernel *kr = &p->s->kernels[k];
    for (int i = 0; i < kr->n_members; i++) {
        hg_value v = kr->members[i];
        const hg_node *nd = &p->g->nodes[v];
        HG_TRY(hg_status_prefix(hg_tensor_alloc(&vals[v], nd->dtype, nd->shape), "node %%%d",
                                (int)v));
    }
    return hg_ok();
}

/* Heap mode: frees kernel k's internal members (never read outside it)
 * and the non-leaf inputs it read last. */
static void release_after(const hg_exec_plan *p, int k, hg_tensor *vals) {
    const hg_kernel *kr = &p->s->kernels[k];
    for (int i = 0, o = 0; i < kr->n_members; i++) {
        hg_value v = kr->members[i];
        while (o < kr->n_outputs && kr->outputs[o] < v) o++;
        if (o == kr->n_outputs || kr->outputs[o] != v) hg_tensor_free(&vals[v]);
    }
    for (int i = 0; i < kr->n_inputs; i++) {
        hg_value v = kr->inputs[i];
        if (p->last_kernel[v] == k && !is_leaf(p->g, v)) hg_tensor_free(&vals[v]);
    }
}

/* Outputs (owned copies) into `outputs`, then updates into `state`. Every
 * allocation happens first; an update value whose storage may be a
 * caller's buffer (borrowed) is copied first too, so every update sees the
 * old values whatever the order of the updates. */
static hg_status commit(const hg_exec_plan *p, hg_tensor *vals, hg_tensor_map *state,
                        hg_tensor_map *outputs) {
    const hg_graph *g = p->g;
    int no = g->n_outputs, nu = g->n_updates;
    if (no > 0 && !outputs)
        return hg_error(HG_ERR_INVALID, "exec: graph has outputs but no output map");
    hg_tensor *tmp = calloc((size_t)(no + nu) + 1, sizeof *tmp);
    if (!tmp) return hg_error(HG_ERR_NOMEM, "exec: output copies");
    hg_status s = hg_ok();
    for (int i = 0; i < no + nu && s.code == HG_OK; i++) {
        hg_value v = i < no ? g->outputs[i].value : g->updates[i - no].value;
        if (i >= no && !p->borrowed[v]) continue; /* private storage: copied below */
        s = hg_tensor_copy(&tmp[i], &vals[v]);
    }
    if (s.code == HG_OK) {
        for (int i = 0; i < no && s.code == HG_OK; i++)
            s = hg_map_put(outputs, g->outputs[i].name, &tmp[i]);
        for (int i = 0; i < nu && s.code == HG_OK; i++) {
            const hg_node *sn = &g->nodes[g->updates[i].state];
            hg_tensor *dst = hg_map_get(state, sn->attrs.name); /* checked by bind */
            hg_value v = g->updates[i].value;
            const hg_tensor *src = p->borrowed[v] ? &tmp[no + i] : &vals[v];
            size_t nb = hg_tensor_bytes(dst);
            if (nb) memcpy(dst->data, src->data, nb);
        }
    }
    for (int i = 0; i < no + nu; i++) hg_tensor_free(&tmp[i]);
    free(tmp);
    return s;
}

static void free_heap(const hg_exec_plan *p, hg_tensor *vals) {
    for (int v = 0; v < p->g->n_nodes; v++)
        if (vals[v].owned) hg_tensor_free(&vals[v]);
        else memset(&vals[v], 0, sizeof vals[v]);
}

hg_status hg_exec_run(const hg_exec_plan *p, const hg_exec_backend *b, hg_tensor *vals,
                      hg_tensor_map *state, const hg_tensor_map *inputs,
                      hg_tensor_map *outputs, const hg_exec_hooks *hooks) {
    if (!p || !p->g || !b || !vals) return hg_error(HG_ERR_INVALID, "exec: no program");
    const hg_schedule *s = p->s;
    int timed = hooks && hooks->kernel_done;
    hg_status st = bind(p, vals, state, inputs);
    for (int k = 0; k < s->n_kernels && st.code == HG_OK; k++) {
        double t0 = timed ? omp_get_wtime() : 0;
        if (b->heap) st = alloc_members(p, k, vals);
        if (st.code == HG_OK) st = b->run_kernel(b->self, p, k, vals);
        if (st.code != HG_OK) break;
        if (timed) hooks->kernel_done(hooks->user, p->g, s, k, omp_get_wtime() - t0);
        if (b->heap) release_after(p, k, vals);
    }
    if (st.code == HG_OK) st = commit(p, vals, state, outputs);
    if (b->heap) free_heap(p, vals);
    return st;
}
