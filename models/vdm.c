/* The variational diffusion model (SPEC 3): noise schedules, conditioning
 * embedding, optional encoder/decoder, the batch loss with its three parts
 * and the ancestral step. */
#include <math.h>
#include <string.h>

#include "models/models.h"
#include "models/vdm_internal.h"

#define HG_NET_UNITS 1024

static hg_value to_scalar(hg_graph *g, hg_value x) { return hg_reshape(g, x, hg_shape_scalar()); }

/* learned_net hidden activation s = sigmoid(-|W2| u + b2), u = 2 (t - 0.5):
 * t [n, 1] -> [n, 1024]; also returns |W2| [1, 1024] and |W3| [1024, 1]. */
static hg_value net_hidden(hg_mb *mb, hg_value t2, hg_value *aw2, hg_value *aw3) {
    hg_graph *g = mb->g;
    hg_value w2 = hg_mb_param(mb, "l2/kernel", hg_shape_of(2, (int64_t)1, (int64_t)HG_NET_UNITS),
                              HG_INIT_NORMAL, 0.01, 1, HG_NET_UNITS);
    hg_value b2 = hg_mb_param(mb, "l2/bias", hg_shape_of(1, (int64_t)HG_NET_UNITS), HG_INIT_ZEROS,
                              0, 1, HG_NET_UNITS);
    hg_value w3 = hg_mb_param(mb, "l3/kernel", hg_shape_of(2, (int64_t)HG_NET_UNITS, (int64_t)1),
                              HG_INIT_NORMAL, 0.01, HG_NET_UNITS, 1);
    *aw2 = hg_unary(g, HG_OP_abs, w2);
    *aw3 = hg_unary(g, HG_OP_abs, w3);
    hg_value u = hg_mul_s(g, hg_add_s(g, t2, -0.5), 2.0);
    hg_value pre = hg_add(g, hg_neg(g, hg_matmul(g, u, *aw2, 0, 0)), b2);
    return hg_sigmoid(g, pre);
}

/* l1 parameters of learned_net: |w1| and b1 as scalars. */
static void net_l1(hg_mb *mb, const hg_config *c, hg_value *aw1, hg_value *b1) {
    hg_graph *g = mb->g;
    hg_value w = hg_mb_param(mb, "l1/kernel", hg_shape_of(2, (int64_t)1, (int64_t)1), HG_INIT_CONST,
                             c->gamma_min - c->gamma_max, 1, 1);
    hg_value b = hg_mb_param(mb, "l1/bias", hg_shape_of(1, (int64_t)1), HG_INIT_CONST, c->gamma_max,
                             1, 1);
    *aw1 = to_scalar(g, hg_unary(g, HG_OP_abs, w));
    *b1 = to_scalar(g, b);
}

static void lin_params(hg_mb *mb, const hg_config *c, hg_value *aw, hg_value *b) {
    hg_graph *g = mb->g;
    hg_value w = hg_mb_param(mb, "w", hg_shape_of(1, (int64_t)1), HG_INIT_CONST,
                             c->gamma_min - c->gamma_max, 1, 1);
    hg_value bb = hg_mb_param(mb, "b", hg_shape_of(1, (int64_t)1), HG_INIT_CONST, c->gamma_max, 1, 1);
    *aw = to_scalar(g, hg_unary(g, HG_OP_abs, w));
    *b = to_scalar(g, bb);
}

hg_value hg_vdm_gamma(hg_mb *mb, const hg_config *c, hg_value t) {
    hg_graph *g = mb->g;
    if (t == HG_NONE || g->err.code != HG_OK) return HG_NONE;
    hg_shape ts = hg_value_shape(g, t);
    if (c->noise_schedule == HG_SCHED_LINEAR)
        return hg_add_s(g, hg_mul_s(g, t, c->gamma_min - c->gamma_max), c->gamma_max);
    hg_value r;
    hg_mb_push(mb, "vdm");
    hg_mb_push(mb, "gamma");
    if (c->noise_schedule == HG_SCHED_LEARNED_LINEAR) {
        hg_value aw, b;
        lin_params(mb, c, &aw, &b);
        r = hg_sub(g, b, hg_mul(g, aw, t));
    } else {
        int64_t n = hg_shape_numel(ts);
        hg_value t2 = hg_reshape(g, t, hg_shape_of(2, n, (int64_t)1));
        hg_value aw1, b1, aw2, aw3;
        net_l1(mb, c, &aw1, &b1);
        hg_value l1 = hg_sub(g, b1, hg_mul(g, aw1, t2));
        hg_value s = net_hidden(mb, t2, &aw2, &aw3);
        hg_value v = hg_mul_s(g, hg_add_s(g, s, -0.5), 2.0);
        hg_value l3 = hg_mul_s(g, hg_matmul(g, v, aw3, 0, 0), 1.0 / HG_NET_UNITS);
        r = hg_reshape(g, hg_add(g, l1, l3), ts);
    }
    hg_mb_pop(mb);
    hg_mb_pop(mb);
    return r;
}

hg_value hg_vdm_gamma_dt(hg_mb *mb, const hg_config *c, hg_value t) {
    hg_graph *g = mb->g;
    if (t == HG_NONE || g->err.code != HG_OK) return HG_NONE;
    hg_shape ts = hg_value_shape(g, t);
    if (c->noise_schedule == HG_SCHED_LINEAR)
        return hg_fill(g, mb->dtype, ts, c->gamma_min - c->gamma_max);
    hg_value r;
    hg_mb_push(mb, "vdm");
    hg_mb_push(mb, "gamma");
    if (c->noise_schedule == HG_SCHED_LEARNED_LINEAR) {
        hg_value aw, b;
        lin_params(mb, c, &aw, &b);
        r = hg_broadcast_to(g, hg_neg(g, aw), ts);
    } else {
        /* d/dt [-|w1| t + b1 + (|W3| . 2 (s - 1/2)) / 1024] with
         * s = sigmoid(-|W2| 2 (t - 1/2) + b2): ds/dt = -2 |W2| s (1 - s). */
        int64_t n = hg_shape_numel(ts);
        hg_value t2 = hg_reshape(g, t, hg_shape_of(2, n, (int64_t)1));
        hg_value aw1, b1, aw2, aw3;
        net_l1(mb, c, &aw1, &b1);
        hg_value s = net_hidden(mb, t2, &aw2, &aw3);
        hg_value ds = hg_mul(g, hg_mul(g, s, hg_add_s(g, hg_neg(g, s), 1.0)), aw2);
        hg_value dl3 = hg_mul_s(g, hg_matmul(g, ds, aw3, 0, 0), -4.0 / HG_NET_UNITS);
        r = hg_reshape(g, hg_sub(g, dl3, aw1), ts);
    }
    hg_mb_pop(mb);
    hg_mb_pop(mb);
    return r;
}

int hg_vdm_cond_width(const hg_config *c) {
    if (c->n_cond == 0) return 0;
    return c->embed_context ? c->d_context_embedding : c->n_cond;
}

int hg_vdm_latent_width(const hg_config *c) {
    return c->use_encdec ? c->encdec_d_embedding : c->n_features;
}

hg_value hg_vdm_embed_cond(hg_mb *mb, const hg_config *c, hg_value theta) {
    if (c->n_cond == 0 || theta == HG_NONE) return HG_NONE;
    if (!c->embed_context) return theta;
    return hg_dense(mb, "cond_embed", theta, c->d_context_embedding, 1, HG_INIT_LECUN_NORMAL);
}

hg_value hg_vdm_encode(hg_mb *mb, const hg_config *c, hg_value x, hg_value cemb) {
    if (!c->use_encdec) return x;
    hg_mb_push(mb, "encoder");
    hg_value h = hg_dense(mb, "embed", x, c->encdec_d_embedding, 1, HG_INIT_LECUN_NORMAL);
    h = hg_resnet_cond(mb, "resnet", h, cemb, c->encdec_d_hidden, c->encdec_n_layers);
    hg_mb_pop(mb);
    return h;
}

hg_value hg_vdm_decode(hg_mb *mb, const hg_config *c, hg_value z, hg_value cemb) {
    if (!c->use_encdec) return z;
    hg_mb_push(mb, "decoder");
    hg_value h = hg_resnet_cond(mb, "resnet", z, cemb, c->encdec_d_hidden, c->encdec_n_layers);
    h = hg_dense(mb, "out", h, c->n_features, 1, HG_INIT_LECUN_NORMAL);
    hg_mb_pop(mb);
    return h;
}

void hg_norm_identity(hg_norm *n, int n_features, double box) {
    memset(n, 0, sizeof *n);
    n->n_features = n_features;
    for (int i = 0; i < HG_DS_MAX_FEATURES; i++) n->std[i] = 1.0;
    n->box = box;
}

/* [B] -> [B, 1, 1] */
static hg_value per_cloud(hg_graph *g, hg_value v) {
    int64_t B = hg_value_shape(g, v).dim[0];
    return hg_reshape(g, v, hg_shape_of(3, B, (int64_t)1, (int64_t)1));
}

hg_value hg_vdm_ancestral_step(hg_graph *g, hg_value z_t, hg_value g_t, hg_value g_s,
                               hg_value e_hat, hg_value eps) {
    hg_value a = hg_sigmoid(g, g_s);
    hg_value b = hg_sigmoid(g, g_t);
    hg_value k = hg_neg(g, hg_unary(g, HG_OP_expm1, hg_sub(g, g_t, g_s)));
    hg_value sig_t = hg_sqrt(g, hg_sigmoid(g, hg_neg(g, g_t)));
    hg_value mean = hg_mul(g, hg_sqrt(g, hg_div(g, a, b)),
                           hg_sub(g, z_t, hg_mul(g, hg_mul(g, sig_t, k), e_hat)));
    /* 1 - a = sigmoid(-g_s) exactly; 1 - sigmoid(g_s) would cancel in f32
     * near t = 0 (gamma 14: 1 - a = 8e-7, a few percent off) */
    hg_value sd = hg_sqrt(g, hg_mul(g, hg_sigmoid(g, hg_neg(g, g_s)), k));
    return hg_add(g, mean, hg_mul(g, sd, eps));
}

/* Masked sum over points and features: L [B, N, D], m [B, N] -> [B]. */
hg_value hg_vdm_masked_sum(hg_graph *g, hg_value L, hg_value m) {
    hg_shape ms = hg_value_shape(g, m);
    hg_value m3 = hg_reshape(g, m, hg_shape_of(3, ms.dim[0], ms.dim[1], (int64_t)1));
    static const int ax[2] = {1, 2};
    return hg_reduce(g, HG_OP_sum, hg_mul(g, L, m3), 2, ax, 0);
}

/* Pieces of SPEC 3.2 shared by the loss and the NELBO. */
hg_value hg_vdm_recon_elem(hg_mb *mb, const hg_config *c, hg_value x, hg_value f, hg_value cemb,
                           hg_value e0) {
    hg_graph *g = mb->g;
    hg_value g0 = hg_vdm_gamma(mb, c, hg_scalar(g, mb->dtype, 0.0));
    hg_value al = hg_sqrt(g, hg_sigmoid(g, g0));
    hg_value sg = hg_sqrt(g, hg_sigmoid(g, hg_neg(g, g0)));
    hg_value z0 = hg_add(g, hg_mul(g, al, f), hg_mul(g, sg, e0));
    hg_value xh = hg_vdm_decode(mb, c, hg_div(g, z0, al), cemb);
    double ns = c->noise_scale;
    hg_value r = hg_mul_s(g, hg_square(g, hg_mul_s(g, hg_sub(g, x, xh), 1.0 / ns)), 0.5);
    return hg_add_s(g, r, log(ns) + 0.5 * log(2.0 * M_PI));
}

hg_value hg_vdm_klz_elem(hg_mb *mb, const hg_config *c, hg_value f) {
    hg_graph *g = mb->g;
    hg_value g1 = hg_vdm_gamma(mb, c, hg_scalar(g, mb->dtype, 1.0));
    /* v1 = sigmoid(-g1); written without cancellation (v1 is close to 1):
     * 1 - v1 = sigmoid(g1), v1 - log v1 - 1 = softplus(g1) - sigmoid(g1)
     * (-log sigmoid(-g1) = softplus(g1)). The naive f32 form loses ~1e-4
     * relative accuracy at the default gamma_min = -8. */
    hg_value one_m = hg_sigmoid(g, g1);
    hg_value cst = hg_sub(g, hg_unary(g, HG_OP_softplus, g1), one_m);
    return hg_mul_s(g, hg_add(g, hg_mul(g, one_m, hg_square(g, f)), cst), 0.5);
}

/* Diffusion loss elementwise at times t [B'] for f [B', N, D]. */
hg_value hg_vdm_diff_elem(hg_mb *mb, const hg_config *c, const hg_norm *norm, hg_value f,
                          hg_value t, hg_value e, hg_value cemb, hg_value mask) {
    hg_graph *g = mb->g;
    hg_value gt = hg_vdm_gamma(mb, c, t);
    hg_value gt3 = per_cloud(g, gt);
    hg_value zt = hg_add(g, hg_mul(g, hg_sqrt(g, hg_sigmoid(g, gt3)), f),
                         hg_mul(g, hg_sqrt(g, hg_sigmoid(g, hg_neg(g, gt3))), e));
    hg_score_in in;
    hg_vdm_score_in(&in, zt, gt, cemb, mask, norm);
    hg_value eh = hg_score(mb, c, &in);
    hg_value mse = hg_square(g, hg_sub(g, e, eh));
    if (c->timesteps == 0) {
        hg_value dg = per_cloud(g, hg_vdm_gamma_dt(mb, c, t));
        return hg_mul(g, hg_mul_s(g, dg, -0.5), mse);
    }
    double T = c->timesteps;
    hg_value gs = per_cloud(g, hg_vdm_gamma(mb, c, hg_add_s(g, t, -1.0 / T)));
    hg_value w = hg_mul_s(g, hg_unary(g, HG_OP_expm1, hg_sub(g, gs, gt3)), 0.5 * T);
    return hg_mul(g, w, mse);
}

void hg_vdm_score_in(hg_score_in *in, hg_value z, hg_value gamma_t, hg_value cemb,
                     hg_value mask, const hg_norm *norm) {
    memset(in, 0, sizeof *in);
    in->z = z;
    in->gamma_t = gamma_t;
    in->cond = cemb;
    in->mask = mask;
    for (int i = 0; i < 3; i++) {
        in->mean[i] = norm->mean[i];
        in->std[i] = norm->std[i];
    }
    in->box = norm->box;
}

/* Discretise t (SPEC 3.2 discrete time): ceil(t T) / T = -floor(-t T) / T. */
hg_value hg_vdm_discretise(hg_graph *g, const hg_config *c, hg_value t) {
    if (c->timesteps == 0) return t;
    double T = c->timesteps;
    return hg_mul_s(g, hg_neg(g, hg_unary(g, HG_OP_floor, hg_mul_s(g, t, -T))), 1.0 / T);
}

hg_status hg_vdm_loss(hg_mb *mb, const hg_config *c, const hg_norm *norm, hg_value x,
                      hg_value theta, hg_value mask, hg_vdm_loss_out *out) {
    hg_graph *g = mb->g;
    memset(out, 0, sizeof *out);
    HG_TRY(hg_graph_status(g));
    hg_shape xs = hg_value_shape(g, x);
    if (xs.rank != 3) return hg_error(HG_ERR_INVALID, "vdm loss: x must be [B, N, F]");
    int64_t B = xs.dim[0], N = xs.dim[1];
    int64_t D = hg_vdm_latent_width(c);
    /* a data-parallel shard draws the noise of the whole batch (Bt rows)
     * and takes its rows: the same numbers as one process (models.h) */
    int64_t Bt = mb->rows_total > 0 ? mb->rows_total : B, off = mb->rows_total > 0 ? mb->rows_offset : 0;
    hg_shape zsh = hg_shape_of(3, Bt, N, D);
    hg_value cemb = hg_vdm_embed_cond(mb, c, theta);
    hg_value f = hg_vdm_encode(mb, c, x, cemb);
    /* 1. reconstruction */
    hg_value e0 = hg_random_normal(g, mb->dtype, zsh, mb->seed, mb->step, mb->replica);
    if (Bt != B) e0 = hg_slice_axis(g, e0, 0, off, B);
    hg_value Lrec = hg_vdm_recon_elem(mb, c, x, f, cemb, e0);
    /* 2. prior */
    hg_value Lklz = hg_vdm_klz_elem(mb, c, f);
    /* 3. diffusion */
    hg_value t;
    if (c->antithetic_time_sampling) {
        hg_value t0 = hg_random_uniform(g, mb->dtype, hg_shape_scalar(), mb->seed, mb->step,
                                        mb->replica);
        hg_value row = hg_mul_s(g, hg_iota(g, mb->dtype, hg_shape_of(1, Bt), 0), 1.0 / (double)Bt);
        t = hg_binary(g, HG_OP_floor_mod, hg_add(g, t0, row), hg_scalar(g, mb->dtype, 1.0));
    } else {
        t = hg_random_uniform(g, mb->dtype, hg_shape_of(1, Bt), mb->seed, mb->step, mb->replica);
    }
    if (Bt != B) t = hg_slice_axis(g, t, 0, off, B);
    t = hg_vdm_discretise(g, c, t);
    hg_value e = hg_random_normal(g, mb->dtype, zsh, mb->seed, mb->step, mb->replica);
    if (Bt != B) e = hg_slice_axis(g, e, 0, off, B);
    hg_value Ldif = hg_vdm_diff_elem(mb, c, norm, f, t, e, cemb, mask);
    /* 4. masked per-cloud parts and batch means */
    static const int ax1[1] = {1};
    hg_value msum = hg_reduce(g, HG_OP_sum, mask, 1, ax1, 0);
    hg_value parts[3] = {Ldif, Lklz, Lrec};
    hg_value res[3];
    for (int i = 0; i < 3; i++) {
        hg_value pb = hg_div(g, hg_vdm_masked_sum(g, parts[i], mask), msum);
        res[i] = hg_reduce(g, HG_OP_mean, pb, 0, NULL, 0);
    }
    out->diff = res[0];
    out->klz = res[1];
    out->recon = res[2];
    out->loss = hg_add(g, hg_add(g, res[0], res[1]), res[2]);
    out->t = t;
    return hg_graph_status(g);
}
