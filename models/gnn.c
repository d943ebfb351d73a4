/* The graph score network (SPEC 4.2): node and edge embeddings, message
 * passing steps on the k-NN graph of models/gnn_graph.c (edge update,
 * attention with a segment-max-shifted softmax over the edges of each
 * receiver, aggregation, node update with a skip connection, one layer
 * norm shared by nodes and edges per step), and the decoder. */
#include <stdarg.h>
#include <stdio.h>

#include "models/gnn.h"
#include "models/models.h"

static hg_value fail(hg_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static hg_value fail(hg_graph *g, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hg_status s = hg_verror(HG_ERR_INVALID, fmt, ap);
    va_end(ap);
    if (g->err.code == HG_OK) g->err = s;
    return HG_NONE;
}

/* MLP([H] * n_mlp + [out]) under `name`. */
static hg_value mlp(hg_mb *mb, const hg_config *c, const char *name, hg_value x, int64_t out) {
    int64_t w[65];
    int n = c->num_mlp_layers;
    for (int i = 0; i < n; i++) w[i] = c->hidden_size;
    w[n] = out;
    return hg_mlp(mb, name, x, n + 1, w);
}

/* Softmax of logits a [B, E, 1] over the kept edges sharing a receiver,
 * shifted by the per-receiver maximum (segment max, no gradient through the
 * shift); dropped edges get weight 0. */
static hg_value segment_softmax(hg_graph *g, hg_value a, const hg_gnn_edges *ed, int64_t N) {
    hg_value mx = hg_stop_gradient(g, hg_scatter_max(g, a, ed->receivers, 1, N)); /* [B, N, 1] */
    hg_value sh = hg_sub(g, a, hg_gather(g, mx, ed->receivers, 1));
    hg_dtype t = hg_value_dtype(g, a);
    sh = hg_where(g, ed->keep, sh, hg_scalar(g, t, 0.0)); /* no exp overflow on dropped edges */
    hg_value w = hg_mul(g, hg_exp(g, sh), ed->keep_f);
    hg_value den = hg_gather(g, hg_scatter_add(g, w, ed->receivers, 1, N), ed->receivers, 1);
    /* kept edges: den >= 1 (the maximum's own term); dropped: 0 / 1 */
    den = hg_add(g, den, hg_sub(g, hg_scalar(g, t, 1.0), ed->keep_f));
    return hg_div(g, w, den);
}

/* SPEC 4.2 (declared in models.h). z [B, N, F >= 3], mask [B, N], cc
 * [B, d_cc] (HG_NONE: no global feature) -> e_hat = z - decoder(n)
 * [B, N, F]. Parameter paths under "score/": node_embed, edge_embed,
 * step_<s>/{edge_mlp, attention, node_mlp, norm}, decoder (MLP layers
 * dense_<l>/{kernel, bias}). The LayerNorm is shared by nodes and edges
 * within a step and each step has its own, which is what the reference's
 * published 637,373 parameters imply (tests/test_gnn.c
 * param_count_reference_run). Errors are sticky in mb->g. */
hg_value hg_gnn_score(hg_mb *mb, const hg_config *c, const hg_score_in *in, hg_value cc) {
    hg_graph *g = mb->g;
    if (g->err.code != HG_OK || in->z == HG_NONE || in->mask == HG_NONE) return HG_NONE;
    hg_shape zs = hg_value_shape(g, in->z);
    if (zs.rank != 3 || zs.dim[2] < 3)
        return fail(g, "graph score: z must be [B, N, F >= 3]");
    if (c->hidden_size < 1 || c->latent_size < 1 || c->num_mlp_layers < 0 ||
        c->num_mlp_layers > 64 || c->message_passing_steps < 0)
        return fail(g, "graph score: hidden_size %d, latent_size %d, num_mlp_layers %d, "
                       "message_passing_steps %d out of range",
                    c->hidden_size, c->latent_size, c->num_mlp_layers, c->message_passing_steps);
    if (c->use_pbc && !(in->box > 0))
        return fail(g, "graph score: use_pbc needs a box side > 0, got %g", in->box);
    int64_t B = zs.dim[0], N = zs.dim[1], F = zs.dim[2], D = c->latent_size;

    hg_gnn_edges ed;
    if (hg_gnn_edges_build(g, in->z, in->mask, c->k, in->mean, in->std,
                           c->use_pbc ? in->box : 0.0, &ed).code != HG_OK)
        return HG_NONE;
    int64_t E = ed.n_edges;

    /* global features g = cc broadcast to every edge and node */
    hg_value gE = HG_NONE, gN = HG_NONE;
    if (cc != HG_NONE) {
        hg_shape cs = hg_value_shape(g, cc);
        if (cs.rank != 2 || cs.dim[0] != B)
            return fail(g, "graph score: cc must be [B, d_cc] with B = %lld", (long long)B);
        hg_value c3 = hg_reshape(g, cc, hg_shape_of(3, B, (int64_t)1, cs.dim[1]));
        gE = hg_broadcast_to(g, c3, hg_shape_of(3, B, E, cs.dim[1]));
        gN = hg_broadcast_to(g, c3, hg_shape_of(3, B, N, cs.dim[1]));
    }

    hg_mb_push(mb, "score");
    hg_value n = mlp(mb, c, "node_embed", in->z, D);       /* [B, N, D] */
    hg_value e = mlp(mb, c, "edge_embed", ed.features, D); /* [B, E, D] */
    for (int s = 0; s < c->message_passing_steps; s++) {
        hg_mb_push(mb, "step_%d", s);
        hg_value ns = hg_gather(g, n, ed.senders, 1); /* [B, E, D], 0 on dropped edges */
        hg_value nr = hg_gather(g, n, ed.receivers, 1);
        hg_value parts[4];
        int np = 0;
        parts[np++] = e;
        if (c->relative_updates) {
            parts[np++] = hg_sub(g, ns, nr);
        } else {
            parts[np++] = ns;
            parts[np++] = nr;
        }
        if (gE != HG_NONE) parts[np++] = gE;
        e = mlp(mb, c, "edge_mlp", hg_concat(g, np, parts, 2), D);
        if (c->attention) {
            np = 0;
            parts[np++] = e;
            parts[np++] = ns;
            parts[np++] = nr;
            if (gE != HG_NONE) parts[np++] = gE;
            hg_value a = hg_gelu(g, hg_dense(mb, "attention", hg_concat(g, np, parts, 2), 1, 1,
                                             HG_INIT_LECUN_NORMAL)); /* [B, E, 1] */
            e = hg_mul(g, e, segment_softmax(g, a, &ed, N));
        }
        hg_value recv = hg_scatter_add(g, e, ed.receivers, 1, N); /* [B, N, D] */
        np = 0;
        parts[np++] = n;
        parts[np++] = recv;
        if (gN != HG_NONE) parts[np++] = gN;
        n = hg_add(g, n, mlp(mb, c, "node_mlp", hg_concat(g, np, parts, 2), D));
        if (c->layer_norm) {
            n = hg_layer_norm_p(mb, "norm", n);
            /* the edges after the last step feed nothing */
            if (s + 1 < c->message_passing_steps) e = hg_layer_norm_p(mb, "norm", e);
        }
        hg_mb_pop(mb);
    }
    hg_value out = mlp(mb, c, "decoder", n, F);
    hg_mb_pop(mb);
    return hg_sub(g, in->z, out);
}
