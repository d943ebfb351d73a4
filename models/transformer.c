/* Score networks, shared prefix (SPEC 4: t-embedding of the log-SNR and
 * the conditioning MLP), the set transformer (SPEC 4.1, with the induced
 * attention and adanorm options) and the dispatch hg_score. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"

/* Constant vector of n doubles converted to dtype t (F32 or F64). */
static hg_value const_vec(hg_graph *g, hg_dtype t, int64_t n, const double *v) {
    void *buf = malloc((size_t)n * hg_dtype_size(t));
    if (!buf) {
        if (g->err.code == HG_OK) g->err = hg_error(HG_ERR_NOMEM, "constant vector");
        return HG_NONE;
    }
    for (int64_t i = 0; i < n; i++) {
        if (t == HG_F32) ((float *)buf)[i] = (float)v[i];
        else ((double *)buf)[i] = v[i];
    }
    hg_value r = hg_constant(g, t, hg_shape_of(1, n), buf);
    free(buf);
    return r;
}

hg_value hg_score_cond(hg_mb *mb, const hg_config *c, const hg_score_in *in) {
    hg_graph *g = mb->g;
    if (in->gamma_t == HG_NONE || g->err.code != HG_OK) return HG_NONE;
    int d = c->d_t_embedding, h = d / 2;
    if (h < 2) {
        g->err = hg_error(HG_ERR_INVALID, "score: d_t_embedding %d < 4", d);
        return HG_NONE;
    }
    int64_t B = hg_value_shape(g, in->gamma_t).dim[0];
    double *fr = malloc((size_t)h * sizeof *fr);
    if (!fr) {
        g->err = hg_error(HG_ERR_NOMEM, "score: t-embedding");
        return HG_NONE;
    }
    for (int k = 0; k < h; k++) fr[k] = 1000.0 * exp(-(double)k * log(10000.0) / (h - 1));
    hg_value freq = const_vec(g, mb->dtype, h, fr);
    free(fr);
    /* arg[b, k] = 1000 g_b freq_k */
    hg_value gb = hg_reshape(g, in->gamma_t, hg_shape_of(2, B, (int64_t)1));
    hg_value arg = hg_mul(g, gb, freq);
    hg_value parts[3];
    int np = 0;
    parts[np++] = hg_unary(g, HG_OP_sin, arg);
    parts[np++] = hg_unary(g, HG_OP_cos, arg);
    if (d % 2) parts[np++] = hg_fill(g, mb->dtype, hg_shape_of(2, B, (int64_t)1), 0.0);
    if (in->cond != HG_NONE) parts[np++] = in->cond;
    hg_value cc = hg_concat(g, np, parts, 1);
    if (cc == HG_NONE) return HG_NONE;
    int64_t dcc = hg_value_shape(g, cc).dim[1];
    int64_t w[3] = {4 * dcc, 4 * dcc, dcc};
    hg_mb_push(mb, "score");
    cc = hg_mlp(mb, "cond_mlp", cc, 3, w);
    hg_mb_pop(mb);
    return cc;
}

/* [B, D] -> [B, 1, D] */
static hg_value expand_mid(hg_graph *g, hg_value x) {
    hg_shape s = hg_value_shape(g, x);
    return hg_reshape(g, x, hg_shape_of(3, s.dim[0], (int64_t)1, s.dim[1]));
}

/* LN (learned) or, with adanorm, LN0(h) (1 + a) + b with
 * [a, b] = split(gelu(Dense(2 d)(cc))). */
static hg_value norm(hg_mb *mb, const hg_config *c, const char *name, hg_value h, hg_value cc) {
    hg_graph *g = mb->g;
    if (!c->adanorm) return hg_layer_norm_p(mb, name, h);
    int64_t d = hg_value_shape(g, h).dim[2];
    hg_mb_push(mb, "%s", name);
    hg_value ab = hg_gelu(g, hg_dense(mb, "ada", cc, 2 * d, 1, HG_INIT_LECUN_NORMAL));
    hg_mb_pop(mb);
    ab = expand_mid(g, ab); /* [B, 1, 2d] */
    hg_value a = hg_slice_axis(g, ab, 2, 0, d), b = hg_slice_axis(g, ab, 2, d, d);
    hg_value ln = hg_layer_norm(g, h, 1e-6);
    return hg_add(g, hg_mul(g, ln, hg_add_s(g, a, 1.0)), b);
}

/* h + Dense(d)(gelu(Dense(d_mlp)(norm(h)))) under "mlp". */
static hg_value mlp_block(hg_mb *mb, const hg_config *c, const char *ln_name, hg_value h,
                          hg_value cc) {
    hg_graph *g = mb->g;
    int64_t d = hg_value_shape(g, h).dim[2];
    hg_value x = norm(mb, c, ln_name, h, cc);
    int64_t w[2] = {c->d_mlp, d};
    return hg_add(g, h, hg_mlp(mb, "mlp", x, 2, w));
}

/* Pre-LN multihead attention block: q + MHA(LN_q(q), LN_kv(kv), mask), then
 * the MLP sub-block (SPEC 4.1, the PMA/MAB blocks of induced attention). */
static hg_value mab(hg_mb *mb, const hg_config *c, const char *name, hg_value q, hg_value kv,
                    hg_value mask) {
    hg_graph *g = mb->g;
    hg_mb_push(mb, "%s", name);
    hg_value lq = hg_layer_norm_p(mb, "ln_q", q);
    hg_value lkv = hg_layer_norm_p(mb, "ln_kv", kv);
    hg_value h = hg_add(g, q, hg_mha(mb, "mha", lq, lkv, mask, c->d_model, c->n_heads));
    h = mlp_block(mb, c, "ln_mlp", h, HG_NONE);
    hg_mb_pop(mb);
    return h;
}

hg_value hg_transformer_score(hg_mb *mb, const hg_config *c, const hg_score_in *in, hg_value cc) {
    hg_graph *g = mb->g;
    if (in->z == HG_NONE || cc == HG_NONE || g->err.code != HG_OK) return HG_NONE;
    if (c->adanorm && c->induced_attention) {
        g->err = hg_error(HG_ERR_INVALID, "transformer: adanorm supports self-attention only");
        return HG_NONE;
    }
    hg_shape zs = hg_value_shape(g, in->z);
    int64_t B = zs.dim[0], N = zs.dim[1], F = zs.dim[2], d = c->d_model;
    /* masks: pairs m_i m_j [B, 1, N, N]; keys m_j [B, 1, 1, N] */
    hg_value mq = hg_reshape(g, in->mask, hg_shape_of(4, B, (int64_t)1, N, (int64_t)1));
    hg_value mk = hg_reshape(g, in->mask, hg_shape_of(4, B, (int64_t)1, (int64_t)1, N));
    hg_value pair_mask = hg_mul(g, mq, mk);

    hg_mb_push(mb, "score");
    hg_value h = hg_dense(mb, "embed", in->z, d, 1, HG_INIT_LECUN_NORMAL);
    hg_value cp = HG_NONE;
    if (!c->adanorm) cp = expand_mid(g, hg_dense(mb, "cond_proj", cc, d, 1, HG_INIT_LECUN_NORMAL));
    for (int l = 0; l < c->n_layers; l++) {
        hg_mb_push(mb, "layer_%d", l);
        if (cp != HG_NONE) h = hg_add(g, h, cp);
        if (!c->induced_attention) {
            hg_value x = norm(mb, c, "ln_0", h, cc);
            h = hg_add(g, h, hg_mha(mb, "mha", x, x, pair_mask, d, c->n_heads));
            h = mlp_block(mb, c, "ln_1", h, cc);
        } else {
            hg_mb_push(mb, "pma");
            hg_value seeds = hg_mb_param(mb, "inducing_points",
                                         hg_shape_of(2, (int64_t)c->n_inducing_points, d),
                                         HG_INIT_NORMAL, 1.0 / sqrt((double)d), d, d);
            hg_mb_pop(mb);
            hg_value sq = hg_broadcast_to(
                g, hg_reshape(g, seeds, hg_shape_of(3, (int64_t)1, (int64_t)c->n_inducing_points, d)),
                hg_shape_of(3, B, (int64_t)c->n_inducing_points, d));
            hg_value I = mab(mb, c, "pma", sq, h, mk);
            h = mab(mb, c, "mab", h, I, HG_NONE);
        }
        hg_mb_pop(mb);
    }
    h = norm(mb, c, "ln_out", h, cc);
    hg_value out = hg_dense(mb, "out", h, F, 1, HG_INIT_ZEROS);
    hg_mb_pop(mb);
    return hg_add(g, in->z, out);
}

hg_value hg_score(hg_mb *mb, const hg_config *c, const hg_score_in *in) {
    hg_value cc = hg_score_cond(mb, c, in);
    if (c->score == HG_SCORE_GRAPH) return hg_gnn_score(mb, c, in, cc);
    return hg_transformer_score(mb, c, in, cc);
}
