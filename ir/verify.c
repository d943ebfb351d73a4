/* The IR verifier: checks a graph held in memory (built by the builder,
 * parsed from text, or rewritten by a pass) against the rules of ir/ir.h.
 * Every message has the form "node %N (op): what is wrong"; outputs and
 * updates are named "output \"name\"" and "update #i". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

/* Length of a name field, or -1 when it is not NUL-terminated. */
static int name_len(const char *s) {
    const char *z = memchr(s, 0, HG_NAME_MAX);
    return z ? (int)(z - s) : -1;
}

static const char *op_name(hg_op op) {
    return (op >= 0 && op < HG_NUM_OPS) ? hg_op_table[op].name : "?";
}

#define NODE_ERR(i, n, ...)                                                   \
    hg_status_prefix(hg_error(HG_ERR_INVALID, __VA_ARGS__), "node %%%d (%s)", \
                     (i), op_name((n)->op))

/* Structure every node must have whatever its op: known op and dtype, sane
 * rank and dims, arity, inputs defined before use. */
static hg_status check_structure(const hg_graph *g, int i) {
    const hg_node *n = &g->nodes[i];
    if ((int)n->op < 0 || n->op >= HG_NUM_OPS)
        return hg_error(HG_ERR_INVALID, "node %%%d (?): unknown op code %d", i, (int)n->op);
    if ((int)n->dtype < 0 || n->dtype >= HG_NUM_DTYPES)
        return NODE_ERR(i, n, "unknown dtype code %d", (int)n->dtype);
    if (n->shape.rank < 0 || n->shape.rank > HG_MAX_RANK)
        return NODE_ERR(i, n, "rank %d outside [0, %d]", n->shape.rank, HG_MAX_RANK);
    for (int d = 0; d < n->shape.rank; d++)
        if (n->shape.dim[d] < 0)
            return NODE_ERR(i, n, "dimension %d is negative (%lld)", d,
                            (long long)n->shape.dim[d]);
    int arity = hg_op_table[n->op].arity;
    if (arity >= 0 && n->n_in != arity)
        return NODE_ERR(i, n, "has %d inputs, the op takes %d", n->n_in, arity);
    if (arity < 0 && (n->n_in < 1 || n->n_in > HG_MAX_INPUTS))
        return NODE_ERR(i, n, "has %d inputs, the op takes 1..%d", n->n_in, HG_MAX_INPUTS);
    for (int k = 0; k < n->n_in; k++) {
        hg_value v = n->in[k];
        if (v < 0 || v >= g->n_nodes)
            return NODE_ERR(i, n, "input %d is %%%d, not a node of the graph", k, (int)v);
        if (v >= i)
            return NODE_ERR(i, n, "input %d is %%%d, used before its definition", k, (int)v);
    }
    return hg_ok();
}

/* Attribute ranges the shape rule may not look at. */
static hg_status check_attrs(const hg_graph *g, int i) {
    const hg_node *n = &g->nodes[i];
    const hg_attrs *a = &n->attrs;
    const hg_node *x = n->n_in > 0 ? &g->nodes[n->in[0]] : NULL;
    int xr = x ? x->shape.rank : 0;
    switch (n->op) {
    case HG_OP_constant:
        if (n->data == NULL && hg_shape_numel(n->shape) > 0)
            return NODE_ERR(i, n, "constant has no data");
        break;
    case HG_OP_input:
    case HG_OP_state: {
        int len = name_len(a->name);
        if (len < 0) return NODE_ERR(i, n, "name is not NUL-terminated");
        if (len == 0) return NODE_ERR(i, n, "empty name");
        break;
    }
    case HG_OP_sum:
    case HG_OP_mean:
    case HG_OP_max: {
        if (a->naxes < 0 || a->naxes > xr)
            return NODE_ERR(i, n, "naxes %d outside [0, %d] (input rank)", a->naxes, xr);
        for (int k = 0; k < a->naxes; k++) {
            if (a->axes[k] < 0 || a->axes[k] >= xr)
                return NODE_ERR(i, n, "axes[%d] = %lld outside [0, %d)", k,
                                (long long)a->axes[k], xr);
            for (int j = 0; j < k; j++)
                if (a->axes[j] == a->axes[k])
                    return NODE_ERR(i, n, "axis %lld repeated in axes", (long long)a->axes[k]);
        }
        if (a->keepdims != 0 && a->keepdims != 1)
            return NODE_ERR(i, n, "keepdims = %d, expected 0 or 1", a->keepdims);
        break;
    }
    case HG_OP_matmul:
        if ((a->trans_a != 0 && a->trans_a != 1) || (a->trans_b != 0 && a->trans_b != 1))
            return NODE_ERR(i, n, "trans_a = %d, trans_b = %d, expected 0 or 1", a->trans_a,
                            a->trans_b);
        break;
    case HG_OP_transpose: {
        int seen[HG_MAX_RANK] = {0};
        for (int k = 0; k < xr; k++) {
            if (a->perm[k] < 0 || a->perm[k] >= xr)
                return NODE_ERR(i, n, "perm[%d] = %lld outside [0, %d)", k,
                                (long long)a->perm[k], xr);
            if (seen[a->perm[k]]++)
                return NODE_ERR(i, n, "perm is not a permutation (%lld repeated)",
                                (long long)a->perm[k]);
        }
        break;
    }
    case HG_OP_slice:
        if (n->shape.rank != xr)
            return NODE_ERR(i, n, "output rank %d differs from input rank %d", n->shape.rank, xr);
        for (int k = 0; k < xr; k++) {
            if (a->steps[k] < 1)
                return NODE_ERR(i, n, "steps[%d] = %lld, must be >= 1", k, (long long)a->steps[k]);
            if (a->starts[k] < 0)
                return NODE_ERR(i, n, "starts[%d] = %lld is negative", k, (long long)a->starts[k]);
            int64_t m = n->shape.dim[k];
            if (m > 0 && a->starts[k] + (m - 1) * a->steps[k] >= x->shape.dim[k])
                return NODE_ERR(i, n,
                                "slice out of bounds on axis %d: start %lld + (%lld - 1) * "
                                "step %lld >= %lld",
                                k, (long long)a->starts[k], (long long)m,
                                (long long)a->steps[k], (long long)x->shape.dim[k]);
        }
        break;
    case HG_OP_concat:
    case HG_OP_gather:
        if (a->axis < 0 || a->axis >= xr)
            return NODE_ERR(i, n, "axis %d outside [0, %d)", a->axis, xr);
        break;
    case HG_OP_scatter_add:
    case HG_OP_scatter_max:
        if (a->size < 0) return NODE_ERR(i, n, "size %lld is negative", (long long)a->size);
        if (a->axis < 0 || a->axis >= n->shape.rank)
            return NODE_ERR(i, n, "axis %d outside [0, %d)", a->axis, n->shape.rank);
        break;
    case HG_OP_iota:
        if (a->axis < 0 || a->axis >= n->shape.rank)
            return NODE_ERR(i, n, "axis %d outside [0, %d)", a->axis, n->shape.rank);
        break;
    case HG_OP_pad:
        for (int k = 0; k < xr; k++)
            if (a->pad_lo[k] < 0 || a->pad_hi[k] < 0)
                return NODE_ERR(i, n, "pad_lo[%d] = %lld, pad_hi[%d] = %lld, must be >= 0", k,
                                (long long)a->pad_lo[k], k, (long long)a->pad_hi[k]);
        break;
    case HG_OP_knn: {
        int64_t npts = xr == 3 ? x->shape.dim[1] : -1;
        if (a->k < 1) return NODE_ERR(i, n, "k = %d, must be >= 1", a->k);
        if (npts >= 0 && a->k > npts)
            return NODE_ERR(i, n, "k = %d exceeds the number of points %lld", a->k,
                            (long long)npts);
        if (!isfinite(a->box) || a->box < 0)
            return NODE_ERR(i, n, "box = %g, must be finite and >= 0", a->box);
        break;
    }
    case HG_OP_layer_norm:
        if (!isfinite(a->eps) || a->eps <= 0)
            return NODE_ERR(i, n, "eps = %g, must be finite and > 0", a->eps);
        break;
    case HG_OP_attention:
    case HG_OP_attention_lse:
    case HG_OP_attention_grad:
        if (!isfinite(a->scale))
            return NODE_ERR(i, n, "scale = %g, must be finite", a->scale);
        break;
    case HG_OP_random_uniform:
    case HG_OP_random_normal:
        if (a->stream < 0) return NODE_ERR(i, n, "stream %d is negative", a->stream);
        if (a->stream >= g->next_stream)
            return NODE_ERR(i, n, "stream %d >= the graph's next_stream %d", a->stream,
                            g->next_stream);
        break;
    default:
        break;
    }
    return hg_ok();
}

/* dtype and shape equal to what the op's shape rule infers. */
static hg_status check_inferred(const hg_graph *g, int i) {
    const hg_node *n = &g->nodes[i];
    hg_dtype dt = n->dtype;
    hg_shape sh = n->shape;
    char msg[400] = "";
    if (hg_infer(g, n->op, n->n_in, n->in, &n->attrs, &dt, &sh, msg, sizeof msg) != 0)
        return NODE_ERR(i, n, "%s", msg[0] ? msg : "shape rule rejects the node");
    if (dt != n->dtype)
        return NODE_ERR(i, n, "dtype %s, the shape rule gives %s", hg_dtype_name(n->dtype),
                        hg_dtype_name(dt));
    if (!hg_shape_eq(sh, n->shape)) {
        char b1[128], b2[128];
        return NODE_ERR(i, n, "shape %s, the shape rule gives %s",
                        hg_shape_str(n->shape, b1, sizeof b1), hg_shape_str(sh, b2, sizeof b2));
    }
    return hg_ok();
}

/* Names unique per kind (inputs among inputs, states among states) and
 * random stream ids unique: sort the leaves by (kind, key, id) and look at
 * neighbours, O(n log n). Reports the duplicate with the smallest id. */
typedef struct {
    int kind; /* 0 input, 1 state, 2 random */
    int id;
    int stream;
    const char *name;
} uniq_key;

static int cmp_uniq(const void *pa, const void *pb) {
    const uniq_key *a = pa, *b = pb;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    int c = a->kind == 2 ? (a->stream > b->stream) - (a->stream < b->stream)
                         : strcmp(a->name, b->name);
    if (c) return c;
    return (a->id > b->id) - (a->id < b->id);
}

static hg_status check_unique(const hg_graph *g) {
    int m = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        hg_op op = g->nodes[i].op;
        m += op == HG_OP_input || op == HG_OP_state || op == HG_OP_random_uniform ||
             op == HG_OP_random_normal;
    }
    if (m < 2) return hg_ok();
    uniq_key *k = malloc((size_t)m * sizeof *k);
    if (!k) return hg_error(HG_ERR_NOMEM, "verify: out of memory");
    m = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const hg_node *n = &g->nodes[i];
        int kind = n->op == HG_OP_input ? 0 : n->op == HG_OP_state ? 1
                 : (n->op == HG_OP_random_uniform || n->op == HG_OP_random_normal) ? 2 : -1;
        if (kind >= 0) k[m++] = (uniq_key){kind, i, n->attrs.stream, n->attrs.name};
    }
    qsort(k, (size_t)m, sizeof *k, cmp_uniq);
    int dup = -1, first = -1;
    for (int j = 1, start = 0; j < m; j++) {
        if (k[j].kind != k[start].kind ||
            (k[j].kind == 2 ? k[j].stream != k[start].stream : strcmp(k[j].name, k[start].name))) {
            start = j;
            continue;
        }
        if (dup < 0 || k[j].id < dup) {
            dup = k[j].id;
            first = k[start].id;
        }
    }
    free(k);
    if (dup < 0) return hg_ok();
    const hg_node *n = &g->nodes[dup];
    if (n->op == HG_OP_input || n->op == HG_OP_state)
        return NODE_ERR(dup, n, "name \"%s\" already used by %s %%%d", n->attrs.name,
                        op_name(n->op), first);
    return NODE_ERR(dup, n, "stream %d already used by %%%d", n->attrs.stream, first);
}

static hg_status check_outputs(const hg_graph *g) {
    if (g->n_outputs < 0 || (g->n_outputs > 0 && !g->outputs))
        return hg_error(HG_ERR_INVALID, "graph: bad output list");
    for (int o = 0; o < g->n_outputs; o++) {
        const hg_output *out = &g->outputs[o];
        int len = name_len(out->name);
        if (len < 0) return hg_error(HG_ERR_INVALID, "output #%d: name is not NUL-terminated", o);
        if (len == 0) return hg_error(HG_ERR_INVALID, "output #%d: empty name", o);
        if (out->value < 0 || out->value >= g->n_nodes)
            return hg_error(HG_ERR_INVALID, "output \"%s\": %%%d is not a node of the graph",
                            out->name, (int)out->value);
        for (int p = 0; p < o; p++)
            if (!strcmp(g->outputs[p].name, out->name))
                return hg_error(HG_ERR_INVALID, "output \"%s\": name used twice", out->name);
    }
    return hg_ok();
}

static hg_status check_updates(const hg_graph *g) {
    if (g->n_updates < 0 || (g->n_updates > 0 && !g->updates))
        return hg_error(HG_ERR_INVALID, "graph: bad update list");
    for (int u = 0; u < g->n_updates; u++) {
        hg_value s = g->updates[u].state, v = g->updates[u].value;
        if (s < 0 || s >= g->n_nodes)
            return hg_error(HG_ERR_INVALID, "update #%d: state %%%d is not a node of the graph",
                            u, (int)s);
        const hg_node *sn = &g->nodes[s];
        if (sn->op != HG_OP_state)
            return hg_error(HG_ERR_INVALID, "update #%d: node %%%d (%s) is not a state", u,
                            (int)s, op_name(sn->op));
        if (v < 0 || v >= g->n_nodes)
            return hg_error(HG_ERR_INVALID,
                            "update #%d of state \"%s\": value %%%d is not a node of the graph",
                            u, sn->attrs.name, (int)v);
        const hg_node *vn = &g->nodes[v];
        if (vn->dtype != sn->dtype || !hg_shape_eq(vn->shape, sn->shape)) {
            char b1[128], b2[128];
            return hg_error(HG_ERR_INVALID,
                            "update #%d of state \"%s\" (%%%d, %s%s): value %%%d is %s%s", u,
                            sn->attrs.name, (int)s, hg_dtype_name(sn->dtype),
                            hg_shape_str(sn->shape, b1, sizeof b1), (int)v,
                            hg_dtype_name(vn->dtype), hg_shape_str(vn->shape, b2, sizeof b2));
        }
        for (int p = 0; p < u; p++)
            if (g->updates[p].state == s)
                return hg_error(HG_ERR_INVALID, "update #%d: state \"%s\" (%%%d) updated twice",
                                u, sn->attrs.name, (int)s);
    }
    return hg_ok();
}

hg_status hg_verify(const hg_graph *g) {
    if (!g) return hg_error(HG_ERR_INVALID, "graph is NULL");
    if (g->err.code != HG_OK)
        return hg_status_prefix(g->err, "graph has a builder error");
    if (g->n_nodes < 0 || (g->n_nodes > 0 && !g->nodes))
        return hg_error(HG_ERR_INVALID, "graph: bad node list");
    if (g->next_stream < 0)
        return hg_error(HG_ERR_INVALID, "graph: next_stream %d is negative", g->next_stream);
    for (int i = 0; i < g->n_nodes; i++) {
        HG_TRY(check_structure(g, i));
        HG_TRY(check_attrs(g, i));
        HG_TRY(check_inferred(g, i));
    }
    HG_TRY(check_unique(g));
    HG_TRY(check_outputs(g));
    HG_TRY(check_updates(g));
    return hg_ok();
}
