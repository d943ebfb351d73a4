/* hg_onnx_export (codegen/onnx.h): graph walk, interface (inputs, noise
 * inputs, initializers, outputs) with doc strings, model assembly and the
 * atomic write. The op lowerings are in codegen/onnx_lower*.c. */
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/onnx_internal.h"
#include "passes/passes.h"
#include "ir/ir.h"

#ifndef HG_VERSION
#define HG_VERSION "unknown"
#endif

void hg_onnx_options_default(hg_onnx_options *o) { memset(o, 0, sizeof *o); }

void hg_onnx_noise_name(int stream, char *buf, size_t n) {
    snprintf(buf, n, "noise_%d", stream);
}

int hg_onnx_add_noise_outputs(hg_graph *g) {
    int added = 0;
    int n = g->n_nodes;
    for (hg_value v = 0; v < n; v++) {
        const hg_node *nd = &g->nodes[v];
        if (!(hg_op_table[nd->op].flags & HG_OPF_RANDOM)) continue;
        char name[HG_NAME_MAX];
        hg_onnx_noise_name(nd->attrs.stream, name, sizeof name);
        if (hg_set_output(g, name, v)) return -1;
        added++;
    }
    return added;
}

/* ------------------------------------------------------------ doc strings */

static const struct {
    const char *name, *doc;
} known_docs[] = {
    {"z", "noisy latent z_t of the diffusion (SPEC 3), axes [batch B, point N, feature D]; "
          "normalised units (each feature standardised with the train-split mean and std, SPEC 1)"},
    {"gamma", "log-SNR gamma(t) = log(alpha^2 / sigma^2) of each cloud (SPEC 3.1), axis [batch B]; "
              "dimensionless"},
    {"cond", "conditioning theta (SPEC 3.3), axes [batch B, parameter C]: the raw cosmological "
             "parameters in config order (e.g. Omega_m, sigma_8), dimensionless"},
    {"mask", "point mask, axes [batch B, point N]: 1 = real halo, 0 = padding"},
    {"t", "diffusion time of the current step, scalar in [0, 1] (dimensionless)"},
    {"s", "diffusion time of the step to go to (s < t), scalar in [0, 1] (dimensionless)"},
    {"x", "halo features, axes [batch B, point N, feature F]: normalised units "
          "((x - mean + 1e-7) / (std + 1e-7) per feature, SPEC 1) of positions (Mpc/h), "
          "velocities (km/s) and log10 mass (Msun/h)"},
    {"seed", "random seed (i32 scalar); the model's random draws are the noise_* inputs, so "
             "only non-random uses of it remain"},
    {"step", "step counter (i32 scalar): sampling step index, or NELBO chunk index k "
             "(recon and prior terms count when k = 0)"},
    {"replica", "replica index (i32 scalar) of the random counter"},
    {"e_hat", "predicted noise epsilon_hat of the score network (SPEC 4), axes [batch B, point N, "
              "feature D]; normalised units, like z"},
    {"z_next", "z_s after one ancestral sampling step from t to s (SPEC 3.5), axes [batch B, "
               "point N, feature D]; normalised units"},
    {"nelbo", "negative evidence lower bound per cloud (SPEC 3.6), axis [batch B]; nats (masked "
              "sums over points and features, not divided by the number of points)"},
    {"nelbo_recon", "reconstruction part of the NELBO per cloud (SPEC 3.6), axis [batch B]; nats"},
    {"nelbo_klz", "prior (KL of z_1) part of the NELBO per cloud (SPEC 3.6), axis [batch B]; nats"},
    {"nelbo_diff", "diffusion part of the NELBO per cloud (SPEC 3.6), axis [batch B]; nats"},
    {"loss", "batch loss (SPEC 3.2), scalar; nats per point"},
    {"loss_diff", "diffusion part of the batch loss (SPEC 3.2), scalar; nats per point"},
    {"loss_klz", "prior part of the batch loss (SPEC 3.2), scalar; nats per point"},
    {"loss_recon", "reconstruction part of the batch loss (SPEC 3.2), scalar; nats per point"},
    {"x_phys", "decoded halo features in physical units, axes [batch B, point N, feature F]: "
               "positions Mpc/h wrapped into [0, L), velocities km/s, log10 mass Msun/h"},
};

static const char *known_doc(const char *name) {
    for (size_t i = 0; i < sizeof known_docs / sizeof known_docs[0]; i++)
        if (!strcmp(known_docs[i].name, name)) return known_docs[i].doc;
    return NULL;
}

static const char *extra_doc(const hg_onnx_options *o, const char *name) {
    for (int i = 0; i < o->n_docs; i++)
        if (o->doc_names[i] && o->doc_texts[i] && !strcmp(o->doc_names[i], name))
            return o->doc_texts[i];
    return NULL;
}

/* "f32[2,640,7]: text" for a named value. */
static char *doc_for(hg_ox *x, const hg_onnx_options *o, const char *name, hg_dtype t,
                     hg_shape s, const char *fallback) {
    char sh[128];
    hg_shape_str(s, sh, sizeof sh);
    const char *k = known_doc(name), *e = extra_doc(o, name);
    return ox_printf(x, "%s%s: %s%s%s", hg_dtype_name(t), sh, k ? k : fallback, e ? ". " : "",
                     e ? e : "");
}

/* ------------------------------------------------------------ interface */

static Onnx__ValueInfoProto *value_info(hg_ox *x, const char *name, hg_dtype t, hg_shape s,
                                        const char *doc) {
    Onnx__ValueInfoProto *vi = ox_alloc(x, sizeof *vi);
    Onnx__TypeProto *tp = ox_alloc(x, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ox_alloc(x, sizeof *tt);
    Onnx__TensorShapeProto *sp = ox_alloc(x, sizeof *sp);
    Onnx__TensorShapeProto__Dimension **dims =
        ox_alloc(x, (size_t)(s.rank ? s.rank : 1) * sizeof *dims);
    if (x->err.code != HG_OK) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sp);
    for (int i = 0; i < s.rank; i++) {
        dims[i] = ox_alloc(x, sizeof **dims);
        if (!dims[i]) return NULL;
        onnx__tensor_shape_proto__dimension__init(dims[i]);
        dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dims[i]->dim_value = s.dim[i];
    }
    sp->dim = dims;
    sp->n_dim = (size_t)s.rank;
    tt->has_elem_type = 1;
    tt->elem_type = ox_elem_type(t);
    tt->shape = sp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = ox_strdup(x, name);
    vi->type = tp;
    vi->doc_string = doc ? ox_strdup(x, doc) : NULL;
    return x->err.code == HG_OK ? vi : NULL;
}

static void add_io(hg_ox *x, int output, const char *name, hg_dtype t, hg_shape s,
                   const char *doc) {
    Onnx__ValueInfoProto *vi = value_info(x, name, t, s, doc);
    if (!vi) return;
    Onnx__ValueInfoProto ***arr = output ? &x->outputs : &x->inputs;
    size_t *n = output ? &x->n_outputs : &x->n_inputs;
    size_t *cap = output ? &x->cap_outputs : &x->cap_inputs;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        Onnx__ValueInfoProto **a = realloc(*arr, c * sizeof *a);
        if (!a) {
            ox_fail(x, HG_ERR_NOMEM, "onnx export: out of memory");
            return;
        }
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = vi;
}

/* Live nodes: those the outputs and updates depend on. */
static unsigned char *liveness(const hg_graph *g) {
    unsigned char *live = calloc((size_t)g->n_nodes + 1, 1);
    if (!live) return NULL;
    for (int i = 0; i < g->n_outputs; i++) live[g->outputs[i].value] = 1;
    for (int i = 0; i < g->n_updates; i++) live[g->updates[i].value] = 1;
    for (hg_value v = g->n_nodes - 1; v >= 0; v--)
        if (live[v])
            for (int i = 0; i < g->nodes[v].n_in; i++) live[g->nodes[v].in[i]] = 1;
    return live;
}

static void leaf_state(hg_ox *x, hg_value v) {
    const hg_node *n = &x->g->nodes[v];
    const hg_tensor *t = x->state ? hg_map_get(x->state, n->attrs.name) : NULL;
    char a[64], b[64];
    if (!t) {
        ox_fail(x, HG_ERR_INVALID, "state \"%s\" is missing from the state map", n->attrs.name);
        return;
    }
    if (t->dtype != n->dtype || !hg_shape_eq(t->shape, n->shape)) {
        ox_fail(x, HG_ERR_INVALID, "state \"%s\": tensor is %s%s, the graph needs %s%s",
                n->attrs.name, hg_dtype_name(t->dtype), hg_shape_str(t->shape, a, sizeof a),
                hg_dtype_name(n->dtype), hg_shape_str(n->shape, b, sizeof b));
        return;
    }
    /* a NaN or Inf weight would export a model that silently computes
     * garbage in every runtime: refuse it, naming the tensor and element */
    if (hg_dtype_is_float(t->dtype)) {
        int64_t ne = hg_shape_numel(t->shape);
        for (int64_t i = 0; i < ne; i++) {
            double w = hg_tensor_get(t, i);
            if (!isfinite(w)) {
                ox_fail(x, HG_ERR_NUMERIC, "state \"%s\": element %lld is %g: weights must be finite",
                        n->attrs.name, (long long)i, w);
                return;
            }
        }
    }
    x->names[v] = (char *)ox_init_ref(x, n->attrs.name, n->dtype, n->shape, t->data);
}

/* ------------------------------------------------------- name uniqueness */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every graph input, initializer and node output must be a distinct name. */
static void check_unique(hg_ox *x) {
    size_t n = x->n_inputs + x->n_inits;
    for (size_t i = 0; i < x->n_nodes; i++) n += x->nodes[i]->n_output;
    const char **all = malloc((n ? n : 1) * sizeof *all);
    if (!all) {
        ox_fail(x, HG_ERR_NOMEM, "onnx export: out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < x->n_inputs; i++) all[k++] = x->inputs[i]->name;
    for (size_t i = 0; i < x->n_inits; i++) all[k++] = x->inits[i]->name;
    for (size_t i = 0; i < x->n_nodes; i++)
        for (size_t j = 0; j < x->nodes[i]->n_output; j++) all[k++] = x->nodes[i]->output[j];
    qsort(all, k, sizeof *all, cmp_str);
    for (size_t i = 1; i < k; i++)
        if (!strcmp(all[i], all[i - 1])) {
            ox_fail(x, HG_ERR_INVALID,
                    "onnx export: the name \"%s\" is used twice (graph input, parameter, "
                    "output or noise input names must be distinct)", all[i]);
            break;
        }
    free(all);
}

/* ------------------------------------------------------------ the model */

typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0) return;
    if (b->n + (size_t)len + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 1024;
        while (c < b->n + (size_t)len + 1) c *= 2;
        char *p = realloc(b->s, c);
        if (!p) return;
        b->s = p;
        b->cap = c;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)len + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)len;
}

static char *model_doc(hg_ox *x, const hg_onnx_options *o, int n_params, int64_t n_scalars) {
    sbuf b = {0};
    if (o->model_doc) sb_add(&b, "%s\n\n", o->model_doc);
    sb_add(&b,
           "Exported by halograph %s (ONNX opset %d, IR version %d). Every op is lowered to "
           "standard ONNX ops and computes the values of halograph's reference interpreter "
           "(codegen/onnx.h). Parameters: %d initializers named by their parameter paths "
           "(%lld scalars). Random draws are the explicit noise_<stream> inputs, so the graph is "
           "deterministic.\n\nInputs:\n",
           HG_VERSION, HG_ONNX_OPSET, HG_ONNX_IR_VERSION, n_params, (long long)n_scalars);
    for (size_t i = 0; i < x->n_inputs; i++)
        sb_add(&b, "  %s  %s\n", x->inputs[i]->name,
               x->inputs[i]->doc_string ? x->inputs[i]->doc_string : "");
    sb_add(&b, "Outputs:\n");
    for (size_t i = 0; i < x->n_outputs; i++)
        sb_add(&b, "  %s  %s\n", x->outputs[i]->name,
               x->outputs[i]->doc_string ? x->outputs[i]->doc_string : "");
    char *r = b.s ? ox_strdup(x, b.s) : NULL;
    free(b.s);
    return r;
}

static hg_status write_model(hg_ox *x, const hg_onnx_options *o, int n_params,
                             int64_t n_scalars, const char *path) {
    Onnx__GraphProto graph;
    onnx__graph_proto__init(&graph);
    graph.name = (char *)(o->graph_name ? o->graph_name : "halograph");
    graph.node = x->nodes;
    graph.n_node = x->n_nodes;
    graph.initializer = x->inits;
    graph.n_initializer = x->n_inits;
    graph.input = x->inputs;
    graph.n_input = x->n_inputs;
    graph.output = x->outputs;
    graph.n_output = x->n_outputs;
    char *doc = model_doc(x, o, n_params, n_scalars);
    graph.doc_string = doc;

    Onnx__OperatorSetIdProto op;
    onnx__operator_set_id_proto__init(&op);
    op.domain = "";
    op.has_version = 1;
    op.version = HG_ONNX_OPSET;
    Onnx__OperatorSetIdProto *ops[1] = {&op};
    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    m.has_ir_version = 1;
    m.ir_version = HG_ONNX_IR_VERSION;
    m.n_opset_import = 1;
    m.opset_import = ops;
    m.producer_name = "halograph";
    m.producer_version = HG_VERSION;
    m.domain = "org.halograph";
    m.has_model_version = 1;
    m.model_version = 1;
    m.doc_string = doc;
    m.graph = &graph;
    if (x->err.code != HG_OK) return x->err;

    size_t n = onnx__model_proto__get_packed_size(&m);
    if (n > (size_t)INT32_MAX)
        return hg_error(HG_ERR_UNSUPPORTED,
                        "onnx export: the model is %zu bytes, over protobuf's 2 GiB limit", n);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return hg_error(HG_ERR_NOMEM, "onnx export: %zu bytes for the model", n);
    size_t packed = onnx__model_proto__pack(&m, buf);
    hg_status s = hg_atomic_write(path, buf, packed);
    free(buf);
    return hg_status_prefix(s, "onnx export");
}

static void ox_free(hg_ox *x) {
    for (size_t i = 0; i < x->n_allocs; i++) free(x->allocs[i]);
    free(x->allocs);
    free(x->nodes);
    free(x->inits);
    free(x->inputs);
    free(x->outputs);
    free(x->names);
}

static hg_status export_graph(const hg_graph *g, const hg_tensor_map *state,
                              const hg_onnx_options *opt, const char *path) {
    hg_onnx_options def;
    hg_onnx_options_default(&def);
    const hg_onnx_options *o = opt ? opt : &def;

    hg_ox x;
    memset(&x, 0, sizeof x);
    x.g = g;
    x.state = state;
    x.cur = HG_NONE;
    x.err = hg_ok();
    x.names = calloc((size_t)g->n_nodes + 1, sizeof *x.names);
    unsigned char *live = liveness(g);
    if (!x.names || !live) {
        free(live);
        ox_free(&x);
        return hg_error(HG_ERR_NOMEM, "onnx export: out of memory");
    }
    int n_params = 0;
    int64_t n_scalars = 0;
    for (hg_value v = 0; v < g->n_nodes && x.err.code == HG_OK; v++) {
        const hg_node *n = &g->nodes[v];
        x.cur = v;
        x.tmp = 0;
        if (n->op == HG_OP_input) {
            x.names[v] = ox_strdup(&x, n->attrs.name);
            char fb[64];
            snprintf(fb, sizeof fb, "graph input");
            add_io(&x, 0, n->attrs.name, n->dtype, n->shape,
                   doc_for(&x, o, n->attrs.name, n->dtype, n->shape, fb));
        } else if (!live[v]) {
            continue;
        } else if (n->op == HG_OP_state) {
            leaf_state(&x, v);
            n_params++;
            n_scalars += hg_shape_numel(n->shape);
        } else if (hg_op_table[n->op].flags & HG_OPF_RANDOM) {
            char name[HG_NAME_MAX];
            hg_onnx_noise_name(n->attrs.stream, name, sizeof name);
            x.names[v] = ox_strdup(&x, name);
            const char *what = n->op == HG_OP_random_normal
                                   ? "standard normal draws" : "uniform draws in [0, 1)";
            char *fb = ox_printf(&x,
                                 "%s of halograph's %s node (stream %d); halograph draws element "
                                 "e from Philox4x32-10 keyed (seed, %d) at counter (low word of e / 4, "
                                 "step, replica, high word of e / 4) (ir/ir.h hg_rng_%s); "
                                 "dimensionless",
                                 what, hg_op_table[n->op].name, n->attrs.stream, n->attrs.stream,
                                 n->op == HG_OP_random_normal ? "normal" : "uniform");
            if (fb) add_io(&x, 0, name, n->dtype, n->shape, doc_for(&x, o, name, n->dtype, n->shape, fb));
        } else {
            ox_lower_node(&x, v);
        }
        if (x.err.code != HG_OK)
            x.err = hg_status_prefix(x.err, "onnx export: node %%%d (%s)", (int)v,
                                     hg_op_table[n->op].name);
    }
    free(live);
    x.cur = HG_NONE;
    for (int i = 0; i < g->n_outputs && x.err.code == HG_OK; i++) {
        const hg_output *out = &g->outputs[i];
        const hg_node *n = &g->nodes[out->value];
        const char *in[1] = {x.names[out->value]};
        ox_node(&x, "Identity", out->name, 1, in);
        add_io(&x, 1, out->name, n->dtype, n->shape,
               doc_for(&x, o, out->name, n->dtype, n->shape, "graph output"));
    }
    for (int i = 0; i < g->n_updates && x.err.code == HG_OK; i++) {
        const hg_node *st = &g->nodes[g->updates[i].state];
        char *name = ox_printf(&x, "update/%s", st->attrs.name);
        const char *in[1] = {x.names[g->updates[i].value]};
        ox_node(&x, "Identity", name, 1, in);
        char *fb = ox_printf(&x, "new value of the state \"%s\" after the call", st->attrs.name);
        if (name && fb) add_io(&x, 1, name, st->dtype, st->shape, doc_for(&x, o, name, st->dtype, st->shape, fb));
    }
    if (x.err.code == HG_OK) check_unique(&x);
    hg_status s = x.err.code == HG_OK ? write_model(&x, o, n_params, n_scalars, path) : x.err;
    ox_free(&x);
    return s;
}

/* The attention backward (attention_lse, attention_grad) has no ONNX
 * operator: those nodes are lowered through their decomposition into
 * primitive ops (passes/decompose.c), every other composite op keeps its
 * own lowering (onnx_lower.c). */
static int keeps_in_onnx(hg_op op) {
    return op != HG_OP_attention_lse && op != HG_OP_attention_grad;
}

hg_status hg_onnx_export(const hg_graph *g, const hg_tensor_map *state,
                         const hg_onnx_options *opt, const char *path) {
    if (!g || !path) return hg_error(HG_ERR_INVALID, "onnx export: no graph or no path");
    HG_TRY(hg_status_prefix(hg_verify(g), "onnx export"));
    int any = 0;
    for (int v = 0; v < g->n_nodes; v++) any |= !keeps_in_onnx(g->nodes[v].op);
    if (!any) return export_graph(g, state, opt, path);
    hg_graph *d = NULL;
    HG_TRY(hg_status_prefix(hg_decompose_some(g, keeps_in_onnx, &d, NULL), "onnx export"));
    hg_status s = export_graph(d, state, opt, path);
    hg_graph_free(d);
    return s;
}
