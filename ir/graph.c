/* Graph storage: nodes, named outputs, state updates, sticky errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

hg_graph *hg_graph_new(void) {
    hg_graph *g = calloc(1, sizeof *g);
    if (g) g->err = hg_ok();
    return g;
}

void hg_graph_free(hg_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) free(g->nodes[i].data);
    free(g->nodes);
    free(g->outputs);
    free(g->updates);
    free(g);
}

hg_graph *hg_graph_clone(const hg_graph *g) {
    hg_graph *c = hg_graph_new();
    if (!c) return NULL;
    *c = *g;
    c->nodes = malloc((size_t)(g->cap_nodes ? g->cap_nodes : 1) * sizeof *c->nodes);
    c->outputs = malloc((size_t)(g->cap_outputs ? g->cap_outputs : 1) * sizeof *c->outputs);
    c->updates = malloc((size_t)(g->cap_updates ? g->cap_updates : 1) * sizeof *c->updates);
    if (!c->nodes || !c->outputs || !c->updates) {
        free(c->nodes); free(c->outputs); free(c->updates); free(c);
        return NULL;
    }
    if (g->n_nodes) memcpy(c->nodes, g->nodes, (size_t)g->n_nodes * sizeof *c->nodes);
    if (g->n_outputs) memcpy(c->outputs, g->outputs, (size_t)g->n_outputs * sizeof *c->outputs);
    if (g->n_updates) memcpy(c->updates, g->updates, (size_t)g->n_updates * sizeof *c->updates);
    int ok = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i].data) continue;
        size_t n = (size_t)hg_shape_numel(g->nodes[i].shape) * hg_dtype_size(g->nodes[i].dtype);
        c->nodes[i].data = malloc(n ? n : 1);
        if (!c->nodes[i].data) ok = 0;
        else memcpy(c->nodes[i].data, g->nodes[i].data, n);
    }
    if (!ok) {
        hg_graph_free(c);
        return NULL;
    }
    return c;
}

hg_status hg_graph_status(const hg_graph *g) { return g->err; }

const hg_node *hg_node_at(const hg_graph *g, hg_value v) {
    return (v >= 0 && v < g->n_nodes) ? &g->nodes[v] : NULL;
}

hg_shape hg_value_shape(const hg_graph *g, hg_value v) {
    const hg_node *n = hg_node_at(g, v);
    return n ? n->shape : hg_shape_scalar();
}

hg_dtype hg_value_dtype(const hg_graph *g, hg_value v) {
    const hg_node *n = hg_node_at(g, v);
    return n ? n->dtype : HG_F32;
}

static void set_err(hg_graph *g, const char *fmt, const char *a, const char *b) {
    if (g->err.code == HG_OK) g->err = hg_error(HG_ERR_INVALID, fmt, a, b);
}

hg_value hg_add_node(hg_graph *g, hg_op op, hg_dtype dtype, hg_shape shape,
                     int n_in, const hg_value *in, const hg_attrs *attrs) {
    if (!g) return HG_NONE;
    if (g->err.code != HG_OK) return HG_NONE;
    hg_attrs zero;
    if (!attrs) {
        memset(&zero, 0, sizeof zero);
        attrs = &zero;
    }
    for (int i = 0; i < n_in; i++)
        if (in[i] == HG_NONE) return HG_NONE; /* an earlier error */
    char msg[400];
    hg_dtype dt = dtype;
    hg_shape sh = shape;
    const char *opname = (unsigned)op < HG_NUM_OPS ? hg_op_table[op].name : "?";
    if (n_in > HG_MAX_INPUTS) {
        set_err(g, "node %%%s (%s): too many inputs", "?", opname);
        return HG_NONE;
    }
    if (hg_infer(g, op, n_in, in, attrs, &dt, &sh, msg, sizeof msg)) {
        char id[24];
        snprintf(id, sizeof id, "%d", g->n_nodes);
        if (g->err.code == HG_OK)
            g->err = hg_error(HG_ERR_INVALID, "node %%%s (%s): %s", id, opname, msg);
        return HG_NONE;
    }
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
        hg_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            g->err = hg_error(HG_ERR_NOMEM, "out of memory growing graph");
            return HG_NONE;
        }
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    hg_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->dtype = dt;
    n->shape = sh;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) n->in[i] = in[i];
    n->attrs = *attrs;
    if ((op == HG_OP_random_uniform || op == HG_OP_random_normal) && attrs->stream >= g->next_stream)
        g->next_stream = attrs->stream + 1;
    return g->n_nodes++;
}

hg_value hg_constant(hg_graph *g, hg_dtype t, hg_shape s, const void *data) {
    hg_value v = hg_add_node(g, HG_OP_constant, t, s, 0, NULL, NULL);
    if (v == HG_NONE) return v;
    size_t n = (size_t)hg_shape_numel(s) * hg_dtype_size(t);
    void *d = malloc(n ? n : 1);
    if (!d) {
        g->err = hg_error(HG_ERR_NOMEM, "out of memory for a constant of %zu bytes", n);
        g->n_nodes--;
        return HG_NONE;
    }
    if (n) memcpy(d, data, n);
    g->nodes[v].data = d;
    return v;
}

hg_value hg_fill(hg_graph *g, hg_dtype t, hg_shape s, double value) {
    if (!g || g->err.code) return HG_NONE;
    hg_tensor tmp;
    if (hg_tensor_alloc(&tmp, t, s).code) {
        g->err = hg_error(HG_ERR_NOMEM, "out of memory for a constant");
        return HG_NONE;
    }
    int64_t n = hg_shape_numel(s);
    for (int64_t i = 0; i < n; i++) hg_tensor_set(&tmp, i, value);
    hg_value v = hg_constant(g, t, s, tmp.data);
    hg_tensor_free(&tmp);
    return v;
}

hg_value hg_scalar(hg_graph *g, hg_dtype t, double value) {
    return hg_fill(g, t, hg_shape_scalar(), value);
}

static hg_value named_leaf(hg_graph *g, hg_op op, const char *name, hg_dtype t, hg_shape s) {
    if (!g || g->err.code) return HG_NONE;
    if (!name || !name[0] || strlen(name) >= HG_NAME_MAX) {
        set_err(g, "%s name is empty or too long: \"%s\"", hg_op_table[op].name, name ? name : "");
        return HG_NONE;
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == op && !strcmp(g->nodes[i].attrs.name, name)) {
            set_err(g, "duplicate %s name \"%s\"", hg_op_table[op].name, name);
            return HG_NONE;
        }
    hg_attrs a;
    memset(&a, 0, sizeof a);
    strcpy(a.name, name);
    return hg_add_node(g, op, t, s, 0, NULL, &a);
}

hg_value hg_input(hg_graph *g, const char *name, hg_dtype t, hg_shape s) {
    return named_leaf(g, HG_OP_input, name, t, s);
}

hg_value hg_state(hg_graph *g, const char *name, hg_dtype t, hg_shape s) {
    return named_leaf(g, HG_OP_state, name, t, s);
}

static hg_value find_leaf(const hg_graph *g, hg_op op, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == op && !strcmp(g->nodes[i].attrs.name, name)) return i;
    return HG_NONE;
}

hg_value hg_find_input(const hg_graph *g, const char *name) { return find_leaf(g, HG_OP_input, name); }
hg_value hg_find_state(const hg_graph *g, const char *name) { return find_leaf(g, HG_OP_state, name); }

hg_value hg_find_output(const hg_graph *g, const char *name) {
    for (int i = 0; i < g->n_outputs; i++)
        if (!strcmp(g->outputs[i].name, name)) return g->outputs[i].value;
    return HG_NONE;
}

int hg_set_output(hg_graph *g, const char *name, hg_value v) {
    if (!g || g->err.code) return -1;
    if (v < 0 || v >= g->n_nodes) {
        set_err(g, "output \"%s\": %s", name, "undefined value");
        return -1;
    }
    if (!name[0] || strlen(name) >= HG_NAME_MAX) {
        set_err(g, "output name \"%s\" is empty or too long%s", name, "");
        return -1;
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (!strcmp(g->outputs[i].name, name)) {
            g->outputs[i].value = v;
            return 0;
        }
    if (g->n_outputs == g->cap_outputs) {
        int cap = g->cap_outputs ? 2 * g->cap_outputs : 8;
        hg_output *o = realloc(g->outputs, (size_t)cap * sizeof *o);
        if (!o) {
            g->err = hg_error(HG_ERR_NOMEM, "out of memory");
            return -1;
        }
        g->outputs = o;
        g->cap_outputs = cap;
    }
    strcpy(g->outputs[g->n_outputs].name, name);
    g->outputs[g->n_outputs++].value = v;
    return 0;
}

int hg_set_update(hg_graph *g, hg_value state, hg_value value) {
    if (!g || g->err.code) return -1;
    if (state < 0 || state >= g->n_nodes || g->nodes[state].op != HG_OP_state) {
        char id[24];
        snprintf(id, sizeof id, "%%%d", (int)state);
        set_err(g, "update target %s is not a state node%s", id, "");
        return -1;
    }
    if (value < 0 || value >= g->n_nodes) {
        set_err(g, "update of state \"%s\": undefined value%s", g->nodes[state].attrs.name, "");
        return -1;
    }
    if (g->nodes[value].dtype != g->nodes[state].dtype ||
        !hg_shape_eq(g->nodes[value].shape, g->nodes[state].shape)) {
        set_err(g, "update of state \"%s\": value dtype/shape differ from the state's%s",
                g->nodes[state].attrs.name, "");
        return -1;
    }
    for (int i = 0; i < g->n_updates; i++)
        if (g->updates[i].state == state) {
            g->updates[i].value = value;
            return 0;
        }
    if (g->n_updates == g->cap_updates) {
        int cap = g->cap_updates ? 2 * g->cap_updates : 16;
        hg_update *u = realloc(g->updates, (size_t)cap * sizeof *u);
        if (!u) {
            g->err = hg_error(HG_ERR_NOMEM, "out of memory");
            return -1;
        }
        g->updates = u;
        g->cap_updates = cap;
    }
    g->updates[g->n_updates].state = state;
    g->updates[g->n_updates++].value = value;
    return 0;
}
