/* The graph kinds (DESIGN.md): `loss`, `train` (SPEC 3.2 + SPEC 5),
 * `score` (SPEC 4), `sample-step` and `sample-decode` (SPEC 3.5) and
 * `nelbo` (SPEC 3.6), built by hg_model_build. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "models/vdm_internal.h"
#include "passes/passes.h"

void hg_model_opts_default(hg_model_opts *o, const hg_config *c) {
    memset(o, 0, sizeof *o);
    hg_norm_identity(&o->norm, c->n_features, 1000.0);
    o->nelbo_steps = 50;
    o->nelbo_terms_per_call = 0;
}

void hg_model_free(hg_model *m) {
    if (!m) return;
    hg_mb_free(&m->mb);
    hg_graph_free(m->g);
    m->g = NULL;
}

/* The optimiser of SPEC 5 from the config. */
void hg_model_optim_config(const hg_config *c, hg_optim_config *oc) {
    hg_optim_config_default(oc);
    oc->lr = c->learning_rate;
    oc->warmup_steps = c->warmup_steps;
    oc->total_steps = c->n_train_steps;
    oc->weight_decay = c->weight_decay;
    if (c->grad_clip <= 0) oc->clip = HG_CLIP_NONE;
    else oc->clip = c->grad_clip_global_norm ? HG_CLIP_GLOBAL_NORM : HG_CLIP_ELEMENTWISE;
    oc->clip_value = c->grad_clip > 0 ? c->grad_clip : 1.0;
}

static hg_value cond_input(hg_mb *mb, const hg_config *c, int64_t B) {
    if (c->n_cond == 0) return HG_NONE;
    return hg_input(mb->g, "cond", mb->dtype, hg_shape_of(2, B, (int64_t)c->n_cond));
}

/* [B, ...] -> [M*B, ...] repeating the batch M times (term-major). */
static hg_value tile_batch(hg_graph *g, hg_value x, int64_t M) {
    if (x == HG_NONE) return HG_NONE;
    hg_shape s = hg_value_shape(g, x);
    hg_shape s1, s2, s3;
    s1.rank = s.rank + 1;
    s1.dim[0] = 1;
    for (int i = 0; i < s.rank; i++) s1.dim[i + 1] = s.dim[i];
    s2 = s1;
    s2.dim[0] = M;
    s3 = s;
    s3.dim[0] = M * s.dim[0];
    return hg_reshape(g, hg_broadcast_to(g, hg_reshape(g, x, s1), s2), s3);
}

static hg_status build_loss(hg_mb *mb, const hg_config *c, const hg_model_opts *o, int64_t B,
                            hg_vdm_loss_out *lo) {
    hg_graph *g = mb->g;
    int64_t N = c->n_particles, F = c->n_features;
    hg_value x = hg_input(g, "x", mb->dtype, hg_shape_of(3, B, N, F));
    hg_value theta = cond_input(mb, c, B);
    hg_value mask = hg_input(g, "mask", mb->dtype, hg_shape_of(2, B, N));
    HG_TRY(hg_vdm_loss(mb, c, &o->norm, x, theta, mask, lo));
    hg_set_output(g, "loss", lo->loss);
    hg_set_output(g, "loss_diff", lo->diff);
    hg_set_output(g, "loss_klz", lo->klz);
    hg_set_output(g, "loss_recon", lo->recon);
    hg_set_output(g, "t", lo->t);
    return hg_graph_status(g);
}

/* Replaces m's graph by g (a transformed copy of it): node ids changed, so
 * every parameter and RNG input is found again by name. */
static hg_status adopt_graph(hg_model *m, hg_graph *g, const char *kind) {
    hg_graph_free(m->g);
    m->g = g;
    m->mb.g = g;
    for (int i = 0; i < m->mb.n_params; i++) {
        m->mb.params[i].node = hg_find_state(g, m->mb.params[i].path);
        if (m->mb.params[i].node == HG_NONE)
            return hg_error(HG_ERR_INVALID, "%s graph lost parameter %s", kind, m->mb.params[i].path);
    }
    m->mb.seed = hg_find_input(g, "seed");
    m->mb.step = hg_find_input(g, "step");
    m->mb.replica = hg_find_input(g, "replica");
    return hg_ok();
}

static hg_status build_train(hg_model *m, const hg_config *c, const hg_model_opts *o, int64_t B) {
    hg_vdm_loss_out lo;
    HG_TRY(build_loss(&m->mb, c, o, B, &lo));
    hg_optim_config oc;
    hg_model_optim_config(c, &oc);
    hg_value *ps = malloc((size_t)(m->mb.n_params ? m->mb.n_params : 1) * sizeof *ps);
    if (!ps) return hg_error(HG_ERR_NOMEM, "train graph");
    for (int i = 0; i < m->mb.n_params; i++) ps[i] = m->mb.params[i].node;
    hg_graph *tg = NULL;
    hg_status s = hg_train_step_graph(m->g, lo.loss, m->mb.n_params, ps, &oc, &tg);
    free(ps);
    HG_TRY(hg_status_prefix(s, "train graph"));
    return adopt_graph(m, tg, "train");
}

static hg_status build_grad(hg_model *m, const hg_config *c, const hg_model_opts *o, int64_t B) {
    hg_vdm_loss_out lo;
    HG_TRY(build_loss(&m->mb, c, o, B, &lo));
    int n = m->mb.n_params;
    hg_value *ps = malloc((size_t)(n ? n : 1) * 2 * sizeof *ps);
    if (!ps) return hg_error(HG_ERR_NOMEM, "grad graph");
    for (int i = 0; i < n; i++) ps[i] = m->mb.params[i].node;
    hg_status s = hg_grad(m->g, lo.loss, n, ps, ps + n);
    for (int i = 0; i < n && s.code == HG_OK; i++) {
        char name[HG_NAME_MAX + 8];
        snprintf(name, sizeof name, "grad/%s", m->mb.params[i].path);
        hg_set_output(m->g, name, ps[n + i]);
    }
    free(ps);
    HG_TRY(s);
    hg_graph *sg = NULL;
    HG_TRY(hg_simplify(m->g, &sg, NULL));
    return adopt_graph(m, sg, "grad");
}

hg_status hg_model_build_update(const hg_config *c, const hg_model *grad, hg_graph **out) {
    *out = NULL;
    if (!grad || strcmp(grad->kind, "grad"))
        return hg_error(HG_ERR_INVALID, "update graph: needs a \"grad\" model");
    int n = grad->mb.n_params;
    hg_optim_config oc;
    hg_model_optim_config(c, &oc);
    hg_graph *g = hg_graph_new();
    hg_value *v = malloc((size_t)(n ? n : 1) * 3 * sizeof *v);
    if (!g || !v) {
        hg_graph_free(g);
        free(v);
        return hg_error(HG_ERR_NOMEM, "update graph");
    }
    for (int i = 0; i < n; i++) {
        const hg_node *p = hg_node_at(grad->g, grad->mb.params[i].node);
        char name[HG_NAME_MAX + 8];
        snprintf(name, sizeof name, "grad/%s", grad->mb.params[i].path);
        v[i] = hg_state(g, grad->mb.params[i].path, p->dtype, p->shape);
        v[n + i] = hg_input(g, name, p->dtype, p->shape);
    }
    hg_status s = hg_graph_status(g);
    if (s.code == HG_OK) s = hg_clip_gradients(g, &oc, n, v + n, v + 2 * n);
    if (s.code == HG_OK) s = hg_optim_apply(g, &oc, n, v, v + 2 * n);
    if (s.code == HG_OK) s = hg_graph_status(g);
    if (s.code == HG_OK) s = hg_verify(g);
    free(v);
    if (s.code) {
        hg_graph_free(g);
        return hg_status_prefix(s, "update graph");
    }
    *out = g;
    return s;
}

static hg_status build_score(hg_mb *mb, const hg_config *c, const hg_model_opts *o, int64_t B) {
    hg_graph *g = mb->g;
    int64_t N = c->n_particles, D = hg_vdm_latent_width(c);
    hg_value z = hg_input(g, "z", mb->dtype, hg_shape_of(3, B, N, D));
    hg_value gm = hg_input(g, "gamma", mb->dtype, hg_shape_of(1, B));
    hg_value theta = cond_input(mb, c, B);
    hg_value mask = hg_input(g, "mask", mb->dtype, hg_shape_of(2, B, N));
    hg_value cemb = hg_vdm_embed_cond(mb, c, theta);
    hg_score_in in;
    hg_vdm_score_in(&in, z, gm, cemb, mask, &o->norm);
    hg_set_output(g, "e_hat", hg_score(mb, c, &in));
    return hg_graph_status(g);
}

static hg_status build_sample_step(hg_mb *mb, const hg_config *c, const hg_model_opts *o,
                                   int64_t B) {
    hg_graph *g = mb->g;
    int64_t N = c->n_particles, D = hg_vdm_latent_width(c);
    hg_shape zs = hg_shape_of(3, B, N, D);
    hg_value z = hg_input(g, "z", mb->dtype, zs);
    hg_value t = hg_input(g, "t", mb->dtype, hg_shape_scalar());
    hg_value s = hg_input(g, "s", mb->dtype, hg_shape_scalar());
    hg_value theta = cond_input(mb, c, B);
    hg_value mask = hg_input(g, "mask", mb->dtype, hg_shape_of(2, B, N));
    hg_value cemb = hg_vdm_embed_cond(mb, c, theta);
    hg_value gt = hg_vdm_gamma(mb, c, t);
    hg_value gs = hg_vdm_gamma(mb, c, s);
    hg_score_in in;
    hg_vdm_score_in(&in, z, hg_broadcast_to(g, gt, hg_shape_of(1, B)), cemb, mask, &o->norm);
    hg_value eh = hg_score(mb, c, &in);
    hg_value eps = hg_random_normal(g, mb->dtype, zs, mb->seed, mb->step, mb->replica);
    hg_set_output(g, "z_next", hg_vdm_ancestral_step(g, z, gt, gs, eh, eps));
    return hg_graph_status(g);
}

static hg_value const_feat(hg_graph *g, hg_dtype t, int64_t F, const double *v) {
    double buf8[HG_DS_MAX_FEATURES];
    float buf4[HG_DS_MAX_FEATURES];
    for (int64_t i = 0; i < F; i++) {
        buf8[i] = v[i];
        buf4[i] = (float)v[i];
    }
    return hg_constant(g, t, hg_shape_of(1, F), t == HG_F32 ? (void *)buf4 : (void *)buf8);
}

static hg_status build_sample_decode(hg_mb *mb, const hg_config *c, const hg_model_opts *o,
                                     int64_t B) {
    hg_graph *g = mb->g;
    int64_t N = c->n_particles, D = hg_vdm_latent_width(c), F = c->n_features;
    hg_value z = hg_input(g, "z", mb->dtype, hg_shape_of(3, B, N, D));
    hg_value theta = cond_input(mb, c, B);
    hg_input(g, "mask", mb->dtype, hg_shape_of(2, B, N)); /* interface symmetry; unused */
    hg_value cemb = hg_vdm_embed_cond(mb, c, theta);
    hg_value g0 = hg_vdm_gamma(mb, c, hg_scalar(g, mb->dtype, 0.0));
    hg_value x = hg_vdm_decode(mb, c, hg_div(g, z, hg_sqrt(g, hg_sigmoid(g, g0))), cemb);
    hg_set_output(g, "x", x);
    /* un-normalise: x (std + 1e-7) + mean - 1e-7, then wrap positions */
    double sd[HG_DS_MAX_FEATURES], mu[HG_DS_MAX_FEATURES];
    for (int64_t f = 0; f < F; f++) {
        sd[f] = o->norm.std[f] + 1e-7;
        mu[f] = o->norm.mean[f] - 1e-7;
    }
    hg_value xp = hg_add(g, hg_mul(g, x, const_feat(g, mb->dtype, F, sd)),
                         const_feat(g, mb->dtype, F, mu));
    if (o->norm.box > 0) {
        hg_value pos = hg_binary(g, HG_OP_floor_mod, hg_slice_axis(g, xp, 2, 0, 3),
                                 hg_scalar(g, mb->dtype, o->norm.box));
        if (F > 3) {
            hg_value parts[2] = {pos, hg_slice_axis(g, xp, 2, 3, F - 3)};
            xp = hg_concat(g, 2, parts, 2);
        } else {
            xp = pos;
        }
    }
    hg_set_output(g, "x_phys", xp);
    return hg_graph_status(g);
}

static hg_status build_nelbo(hg_mb *mb, const hg_config *c, const hg_model_opts *o, int64_t B) {
    hg_graph *g = mb->g;
    int64_t N = c->n_particles, F = c->n_features, D = hg_vdm_latent_width(c);
    int64_t S = o->nelbo_steps > 0 ? o->nelbo_steps : 50;
    int64_t M = o->nelbo_terms_per_call > 0 ? o->nelbo_terms_per_call : S;
    if (M > S || S % M)
        return hg_error(HG_ERR_INVALID, "nelbo: terms per call %lld must divide steps %lld",
                        (long long)M, (long long)S);
    hg_value x = hg_input(g, "x", mb->dtype, hg_shape_of(3, B, N, F));
    hg_value theta = cond_input(mb, c, B);
    hg_value mask = hg_input(g, "mask", mb->dtype, hg_shape_of(2, B, N));
    hg_value cemb = hg_vdm_embed_cond(mb, c, theta);
    hg_value f = hg_vdm_encode(mb, c, x, cemb);
    /* recon and prior terms count once: in the call with step (chunk) 0 */
    hg_value first = hg_cast(g, hg_binary(g, HG_OP_eq, mb->step, hg_scalar(g, HG_I32, 0)), mb->dtype);
    hg_value e0 = hg_random_normal(g, mb->dtype, hg_shape_of(3, B, N, D), mb->seed, mb->step,
                                   mb->replica);
    hg_value rec = hg_mul(g, hg_vdm_masked_sum(g, hg_vdm_recon_elem(mb, c, x, f, cemb, e0), mask),
                          first);
    hg_value klz = hg_mul(g, hg_vdm_masked_sum(g, hg_vdm_klz_elem(mb, c, f), mask), first);
    /* diffusion terms i = step M + j, j < M, at t = i / S, batched as M*B clouds */
    hg_value j = hg_iota(g, mb->dtype, hg_shape_of(1, M), 0);
    hg_value i0 = hg_mul_s(g, hg_cast(g, mb->step, mb->dtype), (double)M);
    hg_value tj = hg_mul_s(g, hg_add(g, j, i0), 1.0 / (double)S);
    hg_value t = hg_reshape(g, hg_broadcast_to(g, hg_reshape(g, tj, hg_shape_of(2, M, (int64_t)1)),
                                               hg_shape_of(2, M, B)),
                            hg_shape_of(1, M * B));
    t = hg_vdm_discretise(g, c, t);
    hg_value e = hg_reshape(g, hg_random_normal(g, mb->dtype, hg_shape_of(4, M, B, N, D), mb->seed,
                                                mb->step, mb->replica),
                            hg_shape_of(3, M * B, N, D));
    hg_value mrep = tile_batch(g, mask, M);
    hg_value Ld = hg_vdm_diff_elem(mb, c, &o->norm, tile_batch(g, f, M), t, e,
                                   tile_batch(g, cemb, M), mrep);
    hg_value ds = hg_reshape(g, hg_vdm_masked_sum(g, Ld, mrep), hg_shape_of(2, M, B));
    static const int ax0[1] = {0};
    hg_value dif = hg_mul_s(g, hg_reduce(g, HG_OP_sum, ds, 1, ax0, 0), 1.0 / (double)S);
    hg_set_output(g, "nelbo", hg_add(g, hg_add(g, rec, klz), dif));
    hg_set_output(g, "nelbo_recon", rec);
    hg_set_output(g, "nelbo_klz", klz);
    hg_set_output(g, "nelbo_diff", dif);
    return hg_graph_status(g);
}

hg_status hg_model_build(const hg_config *c, const char *kind, int batch, hg_dtype dtype,
                         const hg_model_opts *opts, hg_model *out) {
    memset(out, 0, sizeof *out);
    HG_TRY(hg_config_validate(c, "config"));
    if (batch < 1) return hg_error(HG_ERR_INVALID, "model: batch size %d < 1", batch);
    hg_model_opts def;
    if (!opts) {
        hg_model_opts_default(&def, c);
        opts = &def;
    }
    if (c->score == HG_SCORE_GRAPH && !(opts->norm.box > 0))
        return hg_error(HG_ERR_INVALID, "model: the graph score network needs the box side (norm.box > 0)");
    static const char *kinds[] = {"loss", "train", "score", "sample-step", "sample-decode", "nelbo", "grad"};
    int ki = -1;
    for (int i = 0; i < 7; i++)
        if (kind && !strcmp(kind, kinds[i])) ki = i;
    if (ki < 0)
        return hg_error(HG_ERR_INVALID,
                        "model: unknown graph kind '%s' (loss, train, score, sample-step, "
                        "sample-decode, nelbo, grad)", kind ? kind : "(null)");
    if (opts->batch_total && (opts->batch_offset < 0 || opts->batch_offset + batch > opts->batch_total))
        return hg_error(HG_ERR_INVALID, "model: shard rows %d..%d outside the batch of %d", opts->batch_offset,
                        opts->batch_offset + batch, opts->batch_total);
    HG_TRY(hg_status_prefix(hg_model_check_size(c, batch, ki <= 1 || ki == 6, 0), "config"));
    out->g = hg_graph_new();
    if (!out->g) return hg_error(HG_ERR_NOMEM, "model graph");
    snprintf(out->kind, sizeof out->kind, "%s", kind);
    out->batch = batch;
    hg_status s = hg_mb_init(&out->mb, out->g, dtype);
    out->mb.rows_total = opts->batch_total;
    out->mb.rows_offset = opts->batch_offset;
    if (s.code == HG_OK) {
        hg_vdm_loss_out lo;
        switch (ki) {
        case 0: s = build_loss(&out->mb, c, opts, batch, &lo); break;
        case 1: s = build_train(out, c, opts, batch); break;
        case 2: s = build_score(&out->mb, c, opts, batch); break;
        case 3: s = build_sample_step(&out->mb, c, opts, batch); break;
        case 4: s = build_sample_decode(&out->mb, c, opts, batch); break;
        case 5: s = build_nelbo(&out->mb, c, opts, batch); break;
        default: s = build_grad(out, c, opts, batch); break;
        }
    }
    if (s.code == HG_OK) s = hg_graph_status(out->g);
    if (s.code == HG_OK) s = hg_verify(out->g);
    if (s.code != HG_OK) {
        hg_model_free(out);
        return hg_status_prefix(s, "%s graph", kind);
    }
    return s;
}
