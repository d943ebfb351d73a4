/* Schedules (passes/schedule.h): the reference schedule (one kernel per
 * node), kernel input/output sets, the schedule checker and the printer.
 * Fusion groups are made by passes/fuse.c. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

const char *hg_kernel_kind_name(hg_kernel_kind k) {
    static const char *const names[HG_NUM_KERNEL_KINDS] = {"op", "loop", "row", "matmul",
                                                           "multi"};
    return (unsigned)k < HG_NUM_KERNEL_KINDS ? names[k] : "?";
}

static int is_leaf(const hg_graph *g, hg_value v) {
    return (hg_op_table[g->nodes[v].op].flags & HG_OPF_LEAF) != 0;
}

char *hg_schedule_needed(const hg_graph *g) {
    int n = g->n_nodes;
    char *needed = calloc(n > 0 ? n : 1, 1);
    if (!needed) return NULL;
    for (int i = 0; i < g->n_outputs; i++) needed[g->outputs[i].value] = 1;
    for (int i = 0; i < g->n_updates; i++) {
        needed[g->updates[i].value] = 1;
        needed[g->updates[i].state] = 1;
    }
    for (int i = n - 1; i >= 0; i--) {
        if (!needed[i]) continue;
        for (int j = 0; j < g->nodes[i].n_in; j++) needed[g->nodes[i].in[j]] = 1;
    }
    return needed;
}

void hg_schedule_free(hg_schedule *s) {
    if (!s) return;
    for (int i = 0; i < s->n_kernels; i++) {
        free(s->kernels[i].members);
        free(s->kernels[i].inputs);
        free(s->kernels[i].outputs);
    }
    free(s->kernels);
    free(s->kernel_of);
    memset(s, 0, sizeof *s);
}

/* 1 if v is a member of k (members ascending). */
static int is_member(const hg_kernel *k, hg_value v) {
    int lo = 0, hi = k->n_members - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (k->members[mid] == v) return 1;
        if (k->members[mid] < v) lo = mid + 1;
        else hi = mid - 1;
    }
    return 0;
}

static int cmp_value(const void *a, const void *b) {
    hg_value x = *(const hg_value *)a, y = *(const hg_value *)b;
    return (x > y) - (x < y);
}

/* Sorts v[0..n) and removes duplicates; returns the new length. */
static int sort_unique(hg_value *v, int n) {
    qsort(v, n, sizeof *v, cmp_value);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || v[m - 1] != v[i]) v[m++] = v[i];
    return m;
}

/* 1 if member v is read outside k by a needed node, or is a graph output
 * or an update value. */
static int escapes(const hg_graph *g, const char *needed, const hg_kernel *k, hg_value v) {
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i].value == v) return 1;
    for (int i = 0; i < g->n_updates; i++)
        if (g->updates[i].value == v) return 1;
    for (int u = v + 1; u < g->n_nodes; u++) {
        if (!needed[u] || is_member(k, u)) continue;
        for (int j = 0; j < g->nodes[u].n_in; j++)
            if (g->nodes[u].in[j] == v) return 1;
    }
    return 0;
}

hg_status hg_kernel_fill_io(const hg_graph *g, const char *needed, hg_kernel *k) {
    free(k->inputs);
    free(k->outputs);
    k->inputs = k->outputs = NULL;
    k->n_inputs = k->n_outputs = 0;
    int cap = 0;
    for (int i = 0; i < k->n_members; i++) cap += g->nodes[k->members[i]].n_in;
    k->inputs = malloc(sizeof(hg_value) * (cap > 0 ? cap : 1));
    k->outputs = malloc(sizeof(hg_value) * (k->n_members > 0 ? k->n_members : 1));
    if (!k->inputs || !k->outputs) return hg_error(HG_ERR_NOMEM, "schedule: kernel io lists");
    for (int i = 0; i < k->n_members; i++) {
        const hg_node *nd = &g->nodes[k->members[i]];
        for (int j = 0; j < nd->n_in; j++)
            if (!is_member(k, nd->in[j])) k->inputs[k->n_inputs++] = nd->in[j];
        if (escapes(g, needed, k, k->members[i])) k->outputs[k->n_outputs++] = k->members[i];
    }
    k->n_inputs = sort_unique(k->inputs, k->n_inputs);
    return hg_ok();
}

/* The io sets of kernels ks[0..nk) from owner[v] (the kernel holding node
 * v, -1 for none), in one pass over the graph's edges: input w of a needed
 * node u is an input of u's kernel and an output of w's kernel when the
 * two kernels differ; graph outputs and update values are outputs. */
static hg_status fill_all_io(const hg_graph *g, const char *needed, const int *owner, int nk,
                             hg_kernel *ks) {
    int *cin = calloc((size_t)nk + 1, sizeof *cin), *cout = calloc((size_t)nk + 1, sizeof *cout);
    if (!cin || !cout) {
        free(cin);
        free(cout);
        return hg_error(HG_ERR_NOMEM, "schedule: io counts");
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int u = 0; u < g->n_nodes; u++) {
            if (!needed[u]) continue;
            const hg_node *nd = &g->nodes[u];
            for (int j = 0; j < nd->n_in; j++) {
                hg_value w = nd->in[j];
                int ku = owner[u], kw = owner[w];
                if (ku == kw) continue;
                if (ku >= 0 && pass == 0) cin[ku]++;
                if (ku >= 0 && pass == 1) ks[ku].inputs[ks[ku].n_inputs++] = w;
                if (kw >= 0 && pass == 0) cout[kw]++;
                if (kw >= 0 && pass == 1) ks[kw].outputs[ks[kw].n_outputs++] = w;
            }
        }
        for (int i = 0; i < g->n_outputs + g->n_updates; i++) {
            hg_value v = i < g->n_outputs ? g->outputs[i].value : g->updates[i - g->n_outputs].value;
            int kv = owner[v];
            if (kv >= 0 && pass == 0) cout[kv]++;
            if (kv >= 0 && pass == 1) ks[kv].outputs[ks[kv].n_outputs++] = v;
        }
        for (int k = 0; pass == 0 && k < nk; k++) {
            free(ks[k].inputs);
            free(ks[k].outputs);
            ks[k].n_inputs = ks[k].n_outputs = 0;
            ks[k].inputs = malloc(sizeof(hg_value) * (size_t)(cin[k] + 1));
            ks[k].outputs = malloc(sizeof(hg_value) * (size_t)(cout[k] + 1));
            if (!ks[k].inputs || !ks[k].outputs) {
                free(cin);
                free(cout);
                return hg_error(HG_ERR_NOMEM, "schedule: kernel io lists");
            }
        }
    }
    for (int k = 0; k < nk; k++) {
        ks[k].n_inputs = sort_unique(ks[k].inputs, ks[k].n_inputs);
        ks[k].n_outputs = sort_unique(ks[k].outputs, ks[k].n_outputs);
    }
    free(cin);
    free(cout);
    return hg_ok();
}

hg_status hg_schedule_fill_io(const hg_graph *g, hg_schedule *s) {
    char *needed = hg_schedule_needed(g);
    if (!needed) return hg_error(HG_ERR_NOMEM, "schedule: needed[]");
    hg_status st = fill_all_io(g, needed, s->kernel_of, s->n_kernels, s->kernels);
    free(needed);
    return st;
}

static hg_status alloc_schedule(const hg_graph *g, int cap, hg_schedule *s) {
    memset(s, 0, sizeof *s);
    s->n_nodes = g->n_nodes;
    s->kernels = calloc(cap > 0 ? cap : 1, sizeof *s->kernels);
    s->kernel_of = malloc(sizeof(int) * (g->n_nodes > 0 ? g->n_nodes : 1));
    if (!s->kernels || !s->kernel_of) {
        hg_schedule_free(s);
        return hg_error(HG_ERR_NOMEM, "schedule: %d kernels", cap);
    }
    for (int i = 0; i < g->n_nodes; i++) s->kernel_of[i] = -1;
    return hg_ok();
}

hg_status hg_schedule_nodes(const hg_graph *g, hg_schedule *out) {
    memset(out, 0, sizeof *out);
    HG_TRY(hg_graph_status(g));
    char *needed = hg_schedule_needed(g);
    if (!needed) return hg_error(HG_ERR_NOMEM, "schedule: needed[]");
    hg_status st = alloc_schedule(g, g->n_nodes, out);
    for (int v = 0; st.code == HG_OK && v < g->n_nodes; v++) {
        if (!needed[v] || is_leaf(g, v)) continue;
        hg_kernel *k = &out->kernels[out->n_kernels];
        k->kind = HG_KERNEL_OP;
        k->reduce = k->anchor = HG_NONE;
        k->space = g->nodes[v].shape;
        snprintf(k->name, sizeof k->name, "%s", hg_op_table[g->nodes[v].op].name);
        k->members = malloc(sizeof(hg_value));
        if (!k->members) {
            st = hg_error(HG_ERR_NOMEM, "schedule: kernel of node %%%d", v);
            break;
        }
        k->members[0] = v;
        k->n_members = 1;
        out->kernel_of[v] = out->n_kernels++;
    }
    if (st.code == HG_OK) st = fill_all_io(g, needed, out->kernel_of, out->n_kernels, out->kernels);
    free(needed);
    if (st.code != HG_OK) hg_schedule_free(out);
    return st;
}

/* ------------------------------------------------------------ checker */

static int is_elementwise_class(hg_op op) {
    unsigned f = hg_op_table[op].flags;
    return (f & (HG_OPF_ELEMENTWISE | HG_OPF_RANDOM)) || op == HG_OP_broadcast_to ||
           op == HG_OP_cast;
}

static int is_reduce(hg_op op) { return op == HG_OP_sum || op == HG_OP_mean || op == HG_OP_max; }

/* A contiguous run of leading or trailing axes of a rank-`rank` input
 * (all axes included). */
static int reduce_axes_edge(const hg_node *r, int rank) {
    int na = r->attrs.naxes;
    if (na == 0 || na == rank) return 1;
    char on[HG_MAX_RANK] = {0};
    for (int i = 0; i < na; i++) {
        int64_t a = r->attrs.axes[i] < 0 ? r->attrs.axes[i] + rank : r->attrs.axes[i];
        if (a < 0 || a >= rank) return 0;
        on[a] = 1;
    }
    int lead = 1, trail = 1;
    for (int i = 0; i < na; i++) {
        lead &= on[i];
        trail &= on[rank - 1 - i];
    }
    return lead || trail;
}

static hg_status check_loop(const hg_graph *g, int ki, const hg_kernel *k) {
    if (k->reduce != HG_NONE && (!is_member(k, k->reduce) || k->members[k->n_members - 1] != k->reduce))
        return hg_error(HG_ERR_INVALID, "kernel %d (loop): reduce %%%d is not the last member", ki,
                        k->reduce);
    for (int i = 0; i < k->n_members; i++) {
        hg_value v = k->members[i];
        const hg_node *nd = &g->nodes[v];
        if (v == k->reduce) {
            if (!is_reduce(nd->op))
                return hg_error(HG_ERR_INVALID,
                                "kernel %d (loop): reduce node %%%d is not the last member "
                                "or not sum/mean/max", ki, v);
            if (!is_member(k, nd->in[0]) || !hg_shape_eq(g->nodes[nd->in[0]].shape, k->space))
                return hg_error(HG_ERR_INVALID,
                                "kernel %d (loop): reduce node %%%d does not read a member "
                                "of the iteration space", ki, v);
            if (!reduce_axes_edge(nd, k->space.rank))
                return hg_error(HG_ERR_INVALID,
                                "kernel %d (loop): reduce node %%%d is not over leading or "
                                "trailing axes", ki, v);
            continue;
        }
        if (!is_elementwise_class(nd->op) || !hg_shape_eq(nd->shape, k->space))
            return hg_error(HG_ERR_INVALID,
                            "kernel %d (loop): node %%%d (%s) is not elementwise over the "
                            "iteration space", ki, v, hg_op_table[nd->op].name);
    }
    return hg_ok();
}

/* MATMUL: the anchor first, then a chain, each step reading the previous
 * member and no other member; only the last member is an output. */
static hg_status check_matmul_chain(const hg_graph *g, int ki, const hg_kernel *k) {
    if (k->members[0] != k->anchor)
        return hg_error(HG_ERR_INVALID, "kernel %d (matmul): anchor %%%d is not the first member",
                        ki, k->anchor);
    for (int i = 1; i < k->n_members; i++) {
        const hg_node *nd = &g->nodes[k->members[i]];
        int prev = 0, other = 0;
        for (int j = 0; j < nd->n_in; j++) {
            if (nd->in[j] == k->members[i - 1]) prev++;
            else if (is_member(k, nd->in[j])) other = 1;
        }
        if (prev != 1 || other)
            return hg_error(HG_ERR_INVALID,
                            "kernel %d (matmul): epilogue node %%%d does not read the previous "
                            "member exactly once (and no other member)", ki, k->members[i]);
    }
    if (k->n_outputs != 1 || k->outputs[0] != k->members[k->n_members - 1])
        return hg_error(HG_ERR_INVALID, "kernel %d (matmul): an output other than the last member",
                        ki);
    return hg_ok();
}

/* Shape rules of one kernel's kind. */
static hg_status check_kind(const hg_graph *g, int ki, const hg_kernel *k) {
    const char *kn = hg_kernel_kind_name(k->kind);
    if (k->kind != HG_KERNEL_LOOP && k->reduce != HG_NONE)
        return hg_error(HG_ERR_INVALID, "kernel %d (%s): reduce set outside a loop kernel", ki, kn);
    if ((k->kind == HG_KERNEL_OP || k->kind == HG_KERNEL_LOOP) && k->anchor != HG_NONE)
        return hg_error(HG_ERR_INVALID, "kernel %d (%s): anchor set", ki, kn);
    switch (k->kind) {
    case HG_KERNEL_OP:
        if (k->n_members != 1)
            return hg_error(HG_ERR_INVALID, "kernel %d (op): %d members, expected 1", ki,
                            k->n_members);
        if (!hg_shape_eq(k->space, g->nodes[k->members[0]].shape))
            return hg_error(HG_ERR_INVALID, "kernel %d (op): space is not the node's shape", ki);
        return hg_ok();
    case HG_KERNEL_LOOP:
        return check_loop(g, ki, k);
    case HG_KERNEL_ROW:
    case HG_KERNEL_MATMUL:
    case HG_KERNEL_MULTI: {
        if (k->anchor == HG_NONE || !is_member(k, k->anchor))
            return hg_error(HG_ERR_INVALID, "kernel %d (%s): anchor is not a member", ki, kn);
        hg_op a = g->nodes[k->anchor].op;
        if (k->kind == HG_KERNEL_ROW && a != HG_OP_softmax && a != HG_OP_layer_norm)
            return hg_error(HG_ERR_INVALID, "kernel %d (row): anchor %%%d is %s", ki, k->anchor,
                            hg_op_table[a].name);
        if (k->kind == HG_KERNEL_MATMUL && a != HG_OP_matmul)
            return hg_error(HG_ERR_INVALID, "kernel %d (matmul): anchor %%%d is %s", ki,
                            k->anchor, hg_op_table[a].name);
        if (k->kind == HG_KERNEL_MULTI) return hg_ok();
        if (!hg_shape_eq(k->space, g->nodes[k->anchor].shape))
            return hg_error(HG_ERR_INVALID, "kernel %d (%s): space is not the anchor's shape", ki,
                            kn);
        for (int i = 0; i < k->n_members; i++) {
            hg_value v = k->members[i];
            if (v == k->anchor) continue;
            if (!is_elementwise_class(g->nodes[v].op) ||
                !hg_shape_eq(g->nodes[v].shape, g->nodes[k->anchor].shape))
                return hg_error(HG_ERR_INVALID,
                                "kernel %d (%s): node %%%d (%s) is not elementwise over the "
                                "anchor's shape", ki, kn, v, hg_op_table[g->nodes[v].op].name);
        }
        return k->kind == HG_KERNEL_MATMUL ? check_matmul_chain(g, ki, k) : hg_ok();
    }
    default:
        return hg_error(HG_ERR_INVALID, "kernel %d: unknown kind %d", ki, (int)k->kind);
    }
}

static hg_status check_ascending(int ki, const char *what, const hg_value *v, int n, int nn) {
    for (int i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= nn)
            return hg_error(HG_ERR_INVALID, "kernel %d: %s %d out of range", ki, what, v[i]);
        if (i > 0 && v[i] <= v[i - 1])
            return hg_error(HG_ERR_INVALID, "kernel %d: %s not ascending and unique at %%%d", ki,
                            what, v[i]);
    }
    return hg_ok();
}

/* Inputs and outputs of kernel k equal the expected sets t (computed by
 * fill_all_io from the members). */
static hg_status check_io(int ki, const hg_kernel *k, const hg_kernel *t) {
    if (t->n_inputs != k->n_inputs ||
        memcmp(t->inputs, k->inputs, sizeof(hg_value) * (size_t)t->n_inputs) != 0)
        return hg_error(HG_ERR_INVALID, "kernel %d (%s): inputs differ from the members' reads",
                        ki, hg_kernel_kind_name(k->kind));
    if (t->n_outputs != k->n_outputs ||
        memcmp(t->outputs, k->outputs, sizeof(hg_value) * (size_t)t->n_outputs) != 0)
        return hg_error(HG_ERR_INVALID,
                        "kernel %d (%s): outputs differ from the members read outside it", ki,
                        hg_kernel_kind_name(k->kind));
    return hg_ok();
}

static hg_status check_kernel(const hg_graph *g, const hg_schedule *s, const char *needed,
                              const hg_kernel *expect, int ki) {
    const hg_kernel *k = &s->kernels[ki];
    int n = g->n_nodes;
    if (k->n_members < 1) return hg_error(HG_ERR_INVALID, "kernel %d: no members", ki);
    HG_TRY(check_ascending(ki, "members", k->members, k->n_members, n));
    HG_TRY(check_ascending(ki, "inputs", k->inputs, k->n_inputs, n));
    HG_TRY(check_ascending(ki, "outputs", k->outputs, k->n_outputs, n));
    for (int i = 0; i < k->n_members; i++) {
        hg_value v = k->members[i];
        if (!needed[v] || is_leaf(g, v))
            return hg_error(HG_ERR_INVALID, "kernel %d: node %%%d is a leaf or not needed", ki, v);
        if (s->kernel_of[v] != ki)
            return hg_error(HG_ERR_INVALID, "kernel %d: node %%%d has kernel_of %d", ki, v,
                            s->kernel_of[v]);
    }
    HG_TRY(check_io(ki, k, &expect[ki]));
    for (int i = 0; i < k->n_inputs; i++) {
        hg_value v = k->inputs[i];
        if (is_leaf(g, v)) continue;
        int kv = s->kernel_of[v];
        if (kv < 0 || kv >= ki)
            return hg_error(HG_ERR_INVALID, "kernel %d: input %%%d is computed by kernel %d, "
                            "not an earlier one", ki, v, kv);
        const hg_kernel *src = &s->kernels[kv];
        int found = 0;
        for (int j = 0; j < src->n_outputs && !found; j++) found = src->outputs[j] == v;
        if (!found)
            return hg_error(HG_ERR_INVALID, "kernel %d: input %%%d is internal to kernel %d", ki,
                            v, kv);
    }
    return check_kind(g, ki, k);
}

/* The io sets every kernel of s should have: t[k] (members shared with
 * s, io lists owned by t), from an owner map built from the members. */
static hg_status expected_io(const hg_graph *g, const hg_schedule *s, const char *needed,
                             hg_kernel **t_out) {
    int n = g->n_nodes, nk = s->n_kernels;
    hg_kernel *t = calloc((size_t)nk + 1, sizeof *t);
    int *owner = malloc(sizeof(int) * ((size_t)n + 1));
    if (!t || !owner) {
        free(t);
        free(owner);
        return hg_error(HG_ERR_NOMEM, "schedule check");
    }
    for (int v = 0; v < n; v++) owner[v] = -1;
    for (int k = 0; k < nk; k++) {
        t[k].kind = s->kernels[k].kind;
        for (int i = 0; i < s->kernels[k].n_members; i++) {
            hg_value v = s->kernels[k].members[i];
            if (v >= 0 && v < n && owner[v] < 0) owner[v] = k; /* duplicates: checked later */
        }
    }
    hg_status st = fill_all_io(g, needed, owner, nk, t);
    free(owner);
    *t_out = t;
    return st;
}

static void free_expected(hg_kernel *t, int nk) {
    for (int k = 0; t && k < nk; k++) {
        free(t[k].inputs);
        free(t[k].outputs);
    }
    free(t);
}

hg_status hg_schedule_check(const hg_graph *g, const hg_schedule *s) {
    HG_TRY(hg_graph_status(g));
    if (s->n_nodes != g->n_nodes)
        return hg_error(HG_ERR_INVALID, "schedule made for %d nodes, graph has %d", s->n_nodes,
                        g->n_nodes);
    char *needed = hg_schedule_needed(g);
    if (!needed) return hg_error(HG_ERR_NOMEM, "schedule check");
    hg_kernel *expect = NULL;
    hg_status st = expected_io(g, s, needed, &expect);
    for (int ki = 0; ki < s->n_kernels && st.code == HG_OK; ki++)
        st = check_kernel(g, s, needed, expect, ki);
    for (int v = 0; v < g->n_nodes && st.code == HG_OK; v++) {
        int want = needed[v] && !is_leaf(g, v);
        if (want && s->kernel_of[v] < 0)
            st = hg_error(HG_ERR_INVALID, "node %%%d (%s) is needed but in no kernel", v,
                          hg_op_table[g->nodes[v].op].name);
        else if (!want && s->kernel_of[v] >= 0)
            st = hg_error(HG_ERR_INVALID, "node %%%d is a leaf or not needed but in kernel %d", v,
                          s->kernel_of[v]);
        else if (want && (s->kernel_of[v] >= s->n_kernels ||
                          !is_member(&s->kernels[s->kernel_of[v]], v)))
            st = hg_error(HG_ERR_INVALID, "node %%%d: kernel_of %d does not hold it", v,
                          s->kernel_of[v]);
    }
    free_expected(expect, s->n_kernels);
    free(needed);
    return st;
}

/* ------------------------------------------------------------ printer */

static int print_list(FILE *f, const char *what, const hg_value *v, int n) {
    int r = fprintf(f, " %s", what);
    for (int i = 0; i < n && r >= 0; i++) r = fprintf(f, " %%%d", v[i]);
    return r;
}

hg_status hg_schedule_print(const hg_graph *g, const hg_schedule *s, FILE *f) {
    for (int i = 0; i < s->n_kernels; i++) {
        const hg_kernel *k = &s->kernels[i];
        char sh[96];
        hg_value last = k->members[k->n_members - 1];
        hg_shape_str(k->space, sh, sizeof sh);
        int r = fprintf(f, "kernel %d %s %s %s%s name=\"%s\"", i, hg_kernel_kind_name(k->kind),
                        hg_dtype_name(g->nodes[last].dtype), sh, "", k->name);
        if (r >= 0) r = print_list(f, "members", k->members, k->n_members);
        if (r >= 0) r = print_list(f, "inputs", k->inputs, k->n_inputs);
        if (r >= 0) r = print_list(f, "outputs", k->outputs, k->n_outputs);
        if (r >= 0) r = fputc('\n', f);
        if (r < 0) return hg_error(HG_ERR_IO, "schedule: write error");
    }
    return hg_ok();
}
