/* Dead code elimination and local simplification (splat-constant folding,
 * x*1 / x+0 removal, CSE). Both build a new graph; node ids change and a
 * map old -> new is returned. Random stream ids are copied unchanged. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/elementwise.h"
#include "passes/passes.h"

/* Appends a copy of node `src` (from another graph) with inputs `in`. */
static hg_value copy_node(hg_graph *o, const hg_node *src, const hg_value *in) {
    switch (src->op) {
    case HG_OP_constant:
        return hg_constant(o, src->dtype, src->shape, src->data);
    case HG_OP_input:
        return hg_input(o, src->attrs.name, src->dtype, src->shape);
    case HG_OP_state:
        return hg_state(o, src->attrs.name, src->dtype, src->shape);
    default:
        return hg_add_node(o, src->op, src->dtype, src->shape, src->n_in, in, &src->attrs);
    }
}

/* Outputs and updates of g re-pointed through map into o. */
static hg_status copy_interface(const hg_graph *g, hg_graph *o, const hg_value *map) {
    for (int i = 0; i < g->n_outputs; i++)
        hg_set_output(o, g->outputs[i].name, map[g->outputs[i].value]);
    for (int i = 0; i < g->n_updates; i++)
        hg_set_update(o, map[g->updates[i].state], map[g->updates[i].value]);
    o->next_stream = o->next_stream > g->next_stream ? o->next_stream : g->next_stream;
    return hg_graph_status(o);
}

hg_status hg_dce(const hg_graph *g, hg_graph **out, hg_value *map) {
    *out = NULL;
    HG_TRY(hg_status_prefix(hg_graph_status(g), "hg_dce: graph has an error"));
    int n = g->n_nodes;
    char *live = calloc((size_t)n + 1, 1);
    hg_value *m = malloc(((size_t)n + 1) * sizeof *m);
    hg_graph *o = hg_graph_new();
    if (!live || !m || !o) {
        free(live);
        free(m);
        hg_graph_free(o);
        return hg_error(HG_ERR_NOMEM, "hg_dce: out of memory");
    }
    for (int i = 0; i < g->n_outputs; i++) live[g->outputs[i].value] = 1;
    for (int i = 0; i < g->n_updates; i++) live[g->updates[i].state] = live[g->updates[i].value] = 1;
    for (int i = n - 1; i >= 0; i--) {
        const hg_node *nd = &g->nodes[i];
        if (nd->op == HG_OP_input || nd->op == HG_OP_state) live[i] = 1;
        if (!live[i]) continue;
        for (int k = 0; k < nd->n_in; k++) live[nd->in[k]] = 1;
    }
    for (int i = 0; i < n; i++) {
        m[i] = HG_NONE;
        if (!live[i]) continue;
        hg_value in[HG_MAX_INPUTS];
        for (int k = 0; k < g->nodes[i].n_in; k++) in[k] = m[g->nodes[i].in[k]];
        m[i] = copy_node(o, &g->nodes[i], in);
        if (m[i] == HG_NONE) break;
    }
    hg_status st = hg_graph_status(o);
    if (st.code == HG_OK) st = copy_interface(g, o, m);
    free(live);
    if (st.code != HG_OK) {
        free(m);
        hg_graph_free(o);
        return hg_status_prefix(st, "hg_dce");
    }
    if (map) memcpy(map, m, (size_t)n * sizeof *map);
    free(m);
    *out = o;
    return hg_ok();
}

/* ------------------------------------------------------------ simplify */

typedef struct {
    hg_graph *o;
    /* per node of o */
    char *is_splat;
    double *splat;
    hg_value *splat_scalar; /* the rank-0 constant a splat broadcasts */
    int cap;
    /* CSE hash table over node ids of o */
    hg_value *tab;
    int tab_cap, tab_n;
} simp;

static uint64_t mix(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

static uint64_t node_hash(const hg_node *nd) {
    uint64_t h = 1469598103934665603ull;
    h = mix(h, &nd->op, sizeof nd->op);
    h = mix(h, &nd->dtype, sizeof nd->dtype);
    h = mix(h, &nd->shape.rank, sizeof nd->shape.rank);
    h = mix(h, nd->shape.dim, (size_t)nd->shape.rank * sizeof nd->shape.dim[0]);
    h = mix(h, nd->in, (size_t)nd->n_in * sizeof nd->in[0]);
    h = mix(h, &nd->attrs, sizeof nd->attrs);
    if (nd->data)
        h = mix(h, nd->data, (size_t)hg_shape_numel(nd->shape) * hg_dtype_size(nd->dtype));
    return h;
}

static int node_same(const hg_node *a, const hg_node *b) {
    if (a->op != b->op || a->dtype != b->dtype || !hg_shape_eq(a->shape, b->shape) ||
        a->n_in != b->n_in || memcmp(a->in, b->in, (size_t)a->n_in * sizeof a->in[0]) ||
        memcmp(&a->attrs, &b->attrs, sizeof a->attrs))
        return 0;
    if (!a->data != !b->data) return 0;
    return !a->data ||
           !memcmp(a->data, b->data, (size_t)hg_shape_numel(a->shape) * hg_dtype_size(a->dtype));
}

static int cse_eligible(hg_op op) {
    return op != HG_OP_input && op != HG_OP_state && !(hg_op_table[op].flags & HG_OPF_RANDOM);
}

static int grow(simp *s, int need) {
    if (need < s->cap) return 0;
    int cap = s->cap ? s->cap : 64;
    while (cap <= need) cap *= 2;
    char *a = realloc(s->is_splat, (size_t)cap);
    if (!a) return -1;
    s->is_splat = a;
    double *b = realloc(s->splat, (size_t)cap * sizeof *b);
    if (!b) return -1;
    s->splat = b;
    hg_value *c = realloc(s->splat_scalar, (size_t)cap * sizeof *c);
    if (!c) return -1;
    s->splat_scalar = c;
    for (int i = s->cap; i < cap; i++) s->is_splat[i] = 0;
    s->cap = cap;
    return 0;
}

static int tab_insert(simp *s, hg_value v) {
    if (2 * (s->tab_n + 1) > s->tab_cap) {
        int cap = s->tab_cap ? 2 * s->tab_cap : 256;
        hg_value *t = malloc((size_t)cap * sizeof *t);
        if (!t) return -1;
        for (int i = 0; i < cap; i++) t[i] = HG_NONE;
        for (int i = 0; i < s->tab_cap; i++) {
            if (s->tab[i] == HG_NONE) continue;
            uint64_t h = node_hash(&s->o->nodes[s->tab[i]]) & (uint64_t)(cap - 1);
            while (t[h] != HG_NONE) h = (h + 1) & (uint64_t)(cap - 1);
            t[h] = s->tab[i];
        }
        free(s->tab);
        s->tab = t;
        s->tab_cap = cap;
    }
    uint64_t h = node_hash(&s->o->nodes[v]) & (uint64_t)(s->tab_cap - 1);
    while (s->tab[h] != HG_NONE) h = (h + 1) & (uint64_t)(s->tab_cap - 1);
    s->tab[h] = v;
    s->tab_n++;
    return 0;
}

/* If the node just appended (the last of o) equals an earlier one, drop it
 * and return the earlier id; else register it. */
static hg_value dedup(simp *s, hg_value v) {
    hg_graph *o = s->o;
    if (v == HG_NONE || v != o->n_nodes - 1) return v;
    const hg_node *nd = &o->nodes[v];
    if (!cse_eligible(nd->op)) return v;
    if (s->tab_cap) {
        uint64_t mask = (uint64_t)(s->tab_cap - 1), h = node_hash(nd) & mask;
        for (; s->tab[h] != HG_NONE; h = (h + 1) & mask) {
            if (node_same(&o->nodes[s->tab[h]], nd)) {
                free(o->nodes[v].data);
                o->n_nodes--;
                return s->tab[h];
            }
        }
    }
    if (tab_insert(s, v)) {
        o->err = hg_error(HG_ERR_NOMEM, "hg_simplify: out of memory");
        return HG_NONE;
    }
    return v;
}

static double round_to(hg_dtype t, double v) { return t == HG_F32 ? (double)(float)v : v; }

/* A splat of value v (already representable in t) with dtype t, shape sh. */
static hg_value emit_splat(simp *s, hg_dtype t, hg_shape sh, double v) {
    hg_value c = dedup(s, hg_scalar(s->o, t, v));
    if (c == HG_NONE || grow(s, s->o->n_nodes)) return HG_NONE;
    s->is_splat[c] = 1, s->splat[c] = v, s->splat_scalar[c] = c;
    if (sh.rank == 0) return c;
    hg_value b = dedup(s, hg_broadcast_to(s->o, c, sh));
    if (b == HG_NONE || grow(s, s->o->n_nodes)) return HG_NONE;
    s->is_splat[b] = 1, s->splat[b] = v, s->splat_scalar[b] = c;
    return b;
}

/* All elements of a float constant equal (and not NaN): 1 and *v. */
static int constant_splat(const hg_node *nd, double *v) {
    if (!hg_dtype_is_float(nd->dtype)) return 0;
    int64_t n = hg_shape_numel(nd->shape);
    if (n < 1) return 0;
    hg_tensor t = {nd->dtype, nd->shape, nd->data, 0};
    double a = hg_tensor_get(&t, 0);
    if (isnan(a)) return 0;
    for (int64_t i = 1; i < n; i++) {
        double b = hg_tensor_get(&t, i);
        if (b != a || signbit(b) != signbit(a)) return 0;
    }
    *v = a;
    return 1;
}

static int splat_is(const simp *s, hg_value v, double x) {
    return v != HG_NONE && v < s->cap && s->is_splat[v] && s->splat[v] == x;
}

/* Folds unary/binary float ops whose IEEE result is the correctly rounded
 * double result (hg_ew_f32_exact: at most one rounding), with the formula
 * of ir/elementwise.def: 1 and *r on success. */
static int fold(hg_op op, double a, double b, double *r) {
    if (!hg_ew_f32_exact[op]) return 0;
    switch (op) {
#define FOLD1(op, F, I, B) HG_EWC_IF(F, case HG_OP_##op: *r = hg_ew_f_##op(a); return 1;)
#define FOLD2(op, F, I, B) HG_EWC_IF(F, case HG_OP_##op: *r = hg_ew_f_##op(a, b); return 1;)
#define HG_EW_UNARY FOLD1
#define HG_EW_BINARY FOLD2
#define HG_EW_COMPARE(op, F, I, B)
#define HG_EW_SELECT(op, F, I, B)
#include "ir/elementwise.def"
#undef FOLD1
#undef FOLD2
    default: return 0;
    }
}

/* The simplified replacement of old node nd (inputs already mapped to in). */
static hg_value simplify_node(simp *s, const hg_node *nd, const hg_value *in) {
    hg_graph *o = s->o;
    hg_op op = nd->op;
    double v;
    if (op == HG_OP_constant && constant_splat(nd, &v)) return emit_splat(s, nd->dtype, nd->shape, v);
    if (op == HG_OP_reshape || op == HG_OP_broadcast_to) {
        hg_value x = in[0];
        if (hg_shape_eq(o->nodes[x].shape, nd->shape)) return x;
        if (s->is_splat[x]) return emit_splat(s, nd->dtype, nd->shape, s->splat[x]);
        if (o->nodes[x].op == op) {
            hg_value inner = o->nodes[x].in[0];
            if (hg_shape_eq(o->nodes[inner].shape, nd->shape)) return inner;
            return dedup(s, hg_add_node(o, op, nd->dtype, nd->shape, 1, &inner, &nd->attrs));
        }
    }
    if (op == HG_OP_cast && o->nodes[in[0]].dtype == nd->dtype) return in[0];
    if (op == HG_OP_neg && o->nodes[in[0]].op == HG_OP_neg) return o->nodes[in[0]].in[0];
    if (hg_dtype_is_float(nd->dtype) && (hg_op_table[op].flags & HG_OPF_ELEMENTWISE) &&
        (nd->n_in == 1 || nd->n_in == 2)) {
        int all = 1;
        for (int k = 0; k < nd->n_in; k++) all &= s->is_splat[in[k]];
        double r;
        if (all && fold(op, s->splat[in[0]], nd->n_in == 2 ? s->splat[in[1]] : 0.0, &r))
            return emit_splat(s, nd->dtype, nd->shape, round_to(nd->dtype, r));
        if (nd->n_in == 2) {
            hg_value a = in[0], b = in[1];
            int a_full = hg_shape_eq(o->nodes[a].shape, nd->shape) && o->nodes[a].dtype == nd->dtype;
            int b_full = hg_shape_eq(o->nodes[b].shape, nd->shape) && o->nodes[b].dtype == nd->dtype;
            if ((op == HG_OP_mul && splat_is(s, b, 1.0)) || (op == HG_OP_div && splat_is(s, b, 1.0)) ||
                (op == HG_OP_add && splat_is(s, b, 0.0)) || (op == HG_OP_sub && splat_is(s, b, 0.0))) {
                if (a_full) return a;
            }
            if ((op == HG_OP_mul && splat_is(s, a, 1.0)) || (op == HG_OP_add && splat_is(s, a, 0.0))) {
                if (b_full) return b;
            }
        }
    }
    return dedup(s, copy_node(o, nd, in));
}

hg_status hg_simplify(const hg_graph *g, hg_graph **out, hg_value *map) {
    *out = NULL;
    HG_TRY(hg_status_prefix(hg_graph_status(g), "hg_simplify: graph has an error"));
    int n = g->n_nodes;
    simp s;
    memset(&s, 0, sizeof s);
    s.o = hg_graph_new();
    hg_value *m = malloc(((size_t)n + 1) * sizeof *m);
    hg_status st = hg_ok();
    if (!s.o || !m || grow(&s, n + 1)) st = hg_error(HG_ERR_NOMEM, "hg_simplify: out of memory");
    for (int i = 0; i < n && st.code == HG_OK; i++) {
        const hg_node *nd = &g->nodes[i];
        hg_value in[HG_MAX_INPUTS];
        for (int k = 0; k < nd->n_in; k++) in[k] = m[nd->in[k]];
        m[i] = simplify_node(&s, nd, in);
        if (m[i] == HG_NONE || grow(&s, s.o->n_nodes + 1)) {
            st = hg_graph_status(s.o);
            if (st.code == HG_OK) st = hg_error(HG_ERR_NOMEM, "hg_simplify: out of memory");
        }
    }
    if (st.code == HG_OK) st = copy_interface(g, s.o, m);
    hg_graph *res = NULL;
    hg_value *m2 = NULL;
    if (st.code == HG_OK) {
        m2 = malloc(((size_t)s.o->n_nodes + 1) * sizeof *m2);
        st = m2 ? hg_dce(s.o, &res, m2) : hg_error(HG_ERR_NOMEM, "hg_simplify: out of memory");
    }
    if (st.code == HG_OK && map)
        for (int i = 0; i < n; i++) map[i] = m[i] == HG_NONE ? HG_NONE : m2[m[i]];
    free(m);
    free(m2);
    free(s.is_splat);
    free(s.splat);
    free(s.splat_scalar);
    free(s.tab);
    hg_graph_free(s.o);
    if (st.code != HG_OK) return hg_status_prefix(st, "hg_simplify");
    *out = res;
    return hg_ok();
}
