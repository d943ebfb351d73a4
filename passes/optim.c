/* Optimizers as graph builders (SPEC 5): learning-rate schedules computed
 * in the graph from the step-counter state, gradient clipping, AdamW and
 * SGD with momentum appending state updates. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "passes/passes.h"

void hg_optim_config_default(hg_optim_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = HG_OPTIM_ADAMW;
    cfg->schedule = HG_LR_WARMUP_COSINE;
    cfg->lr = 3e-4;
    cfg->warmup_steps = 5000;
    cfg->total_steps = 301000;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->eps = 1e-8;
    cfg->weight_decay = 1e-4;
    cfg->momentum = 0.0;
    cfg->clip = HG_CLIP_ELEMENTWISE;
    cfg->clip_value = 0.5;
}

hg_status hg_optim_config_check(const hg_optim_config *c) {
    if (!c) return hg_error(HG_ERR_INVALID, "optimizer config is NULL");
    if (c->kind != HG_OPTIM_ADAMW && c->kind != HG_OPTIM_SGD)
        return hg_error(HG_ERR_INVALID, "optimizer kind %d unknown", (int)c->kind);
    if (!(c->lr >= 0) || !isfinite(c->lr))
        return hg_error(HG_ERR_INVALID, "optimizer lr %g must be finite and >= 0", c->lr);
    if (c->schedule == HG_LR_WARMUP_COSINE) {
        if (c->warmup_steps < 0 || c->total_steps <= c->warmup_steps)
            return hg_error(HG_ERR_INVALID,
                            "warmup-cosine schedule needs total_steps (%lld) > warmup_steps (%lld) >= 0",
                            (long long)c->total_steps, (long long)c->warmup_steps);
    } else if (c->schedule != HG_LR_CONSTANT) {
        return hg_error(HG_ERR_INVALID, "learning-rate schedule %d unknown", (int)c->schedule);
    }
    if (c->kind == HG_OPTIM_ADAMW) {
        if (!(c->beta1 >= 0 && c->beta1 < 1)) return hg_error(HG_ERR_INVALID, "AdamW beta1 %g not in [0, 1)", c->beta1);
        if (!(c->beta2 >= 0 && c->beta2 < 1)) return hg_error(HG_ERR_INVALID, "AdamW beta2 %g not in [0, 1)", c->beta2);
        if (!(c->eps > 0)) return hg_error(HG_ERR_INVALID, "AdamW eps %g must be > 0", c->eps);
    } else if (!(c->momentum >= 0 && c->momentum < 1)) {
        return hg_error(HG_ERR_INVALID, "SGD momentum %g not in [0, 1)", c->momentum);
    }
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        return hg_error(HG_ERR_INVALID, "weight_decay %g must be finite and >= 0", c->weight_decay);
    if (c->clip != HG_CLIP_NONE && c->clip != HG_CLIP_ELEMENTWISE && c->clip != HG_CLIP_GLOBAL_NORM)
        return hg_error(HG_ERR_INVALID, "clipping kind %d unknown", (int)c->clip);
    if (c->clip != HG_CLIP_NONE && !(c->clip_value > 0 && isfinite(c->clip_value)))
        return hg_error(HG_ERR_INVALID, "clip_value %g must be finite and > 0", c->clip_value);
    return hg_ok();
}

static void set_err(hg_graph *g, hg_status s) {
    if (g->err.code == HG_OK) g->err = s;
}

hg_value hg_optim_lr(hg_graph *g, const hg_optim_config *cfg, hg_value step) {
    if (!g || g->err.code || step == HG_NONE) return HG_NONE;
    hg_status st = hg_optim_config_check(cfg);
    if (st.code) {
        set_err(g, st);
        return HG_NONE;
    }
    if (hg_value_dtype(g, step) != HG_I32 || hg_value_shape(g, step).rank != 0) {
        set_err(g, hg_error(HG_ERR_INVALID, "hg_optim_lr: step %%%d must be an i32 scalar", (int)step));
        return HG_NONE;
    }
    if (cfg->schedule == HG_LR_CONSTANT) return hg_scalar(g, HG_F64, cfg->lr);
    double peak = cfg->lr, W = (double)cfg->warmup_steps, D = (double)cfg->total_steps;
    hg_value k = hg_cast(g, step, HG_F64);
    /* peak 0.5 (1 + cos(pi min(k - W, D - W) / (D - W))) */
    hg_value t = hg_binary(g, HG_OP_minimum, hg_add_s(g, k, -W), hg_scalar(g, HG_F64, D - W));
    t = hg_div(g, hg_mul_s(g, t, M_PI), hg_scalar(g, HG_F64, D - W));
    hg_value cosine = hg_mul_s(g, hg_add_s(g, hg_unary(g, HG_OP_cos, t), 1.0), peak * 0.5);
    if (cfg->warmup_steps == 0) return cosine;
    /* peak k / W for k < W */
    hg_value warm = hg_div(g, hg_mul_s(g, k, peak), hg_scalar(g, HG_F64, W));
    hg_value in_warmup = hg_binary(g, HG_OP_lt, k, hg_scalar(g, HG_F64, W));
    return hg_where(g, in_warmup, warm, cosine);
}

hg_status hg_clip_gradients(hg_graph *g, const hg_optim_config *cfg, int n,
                            const hg_value *grads, hg_value *clipped) {
    HG_TRY(hg_optim_config_check(cfg));
    HG_TRY(hg_graph_status(g));
    for (int i = 0; i < n; i++) {
        if (grads[i] < 0 || grads[i] >= g->n_nodes || !hg_dtype_is_float(g->nodes[grads[i]].dtype))
            return hg_error(HG_ERR_INVALID, "clip: gradient %d (%%%d) is not a float value", i,
                            (int)grads[i]);
    }
    double c = cfg->clip_value;
    if (cfg->clip == HG_CLIP_ELEMENTWISE) {
        for (int i = 0; i < n; i++) {
            hg_dtype t = hg_value_dtype(g, grads[i]);
            hg_value lo = hg_binary(g, HG_OP_maximum, grads[i], hg_scalar(g, t, -c));
            clipped[i] = hg_binary(g, HG_OP_minimum, lo, hg_scalar(g, t, c));
        }
    } else if (cfg->clip == HG_CLIP_GLOBAL_NORM) {
        hg_value ss = hg_scalar(g, HG_F64, 0.0);
        for (int i = 0; i < n; i++) {
            hg_value part = hg_sum_all(g, hg_square(g, grads[i]));
            if (hg_value_dtype(g, part) != HG_F64) part = hg_cast(g, part, HG_F64);
            ss = i == 0 ? part : hg_add(g, ss, part);
        }
        hg_value norm = hg_sqrt(g, ss);
        hg_value cv = hg_scalar(g, HG_F64, c);
        hg_value scale = hg_div(g, cv, hg_binary(g, HG_OP_maximum, norm, cv));
        for (int i = 0; i < n; i++) {
            hg_dtype t = hg_value_dtype(g, grads[i]);
            hg_value s = t == HG_F64 ? scale : hg_cast(g, scale, t);
            clipped[i] = hg_mul(g, grads[i], s);
        }
    } else {
        for (int i = 0; i < n; i++) clipped[i] = grads[i];
    }
    return hg_status_prefix(hg_graph_status(g), "clip");
}

/* f64 scalar s cast to dtype t, cached per dtype. */
static hg_value as_dtype(hg_graph *g, hg_value s, hg_dtype t, hg_value *cache) {
    if (t == HG_F64) return s;
    if (cache[t] == HG_NONE) cache[t] = hg_cast(g, s, t);
    return cache[t];
}

static hg_value moment_state(hg_graph *g, const char *kind, const hg_node *p, hg_status *st) {
    char name[HG_NAME_MAX + 16];
    snprintf(name, sizeof name, "opt/%s/%s", kind, p->attrs.name);
    if (strlen(name) >= HG_NAME_MAX) {
        *st = hg_error(HG_ERR_INVALID, "optimizer: state name \"%s\" is too long (max %d)", name,
                       HG_NAME_MAX - 1);
        return HG_NONE;
    }
    if (hg_find_state(g, name) != HG_NONE) {
        *st = hg_error(HG_ERR_INVALID, "optimizer: state \"%s\" already exists", name);
        return HG_NONE;
    }
    return hg_state(g, name, p->dtype, p->shape);
}

hg_status hg_optim_apply(hg_graph *g, const hg_optim_config *cfg, int n,
                         const hg_value *params, const hg_value *grads) {
    HG_TRY(hg_optim_config_check(cfg));
    HG_TRY(hg_graph_status(g));
    for (int i = 0; i < n; i++) {
        const hg_node *p = hg_node_at(g, params[i]);
        if (!p || p->op != HG_OP_state || !hg_dtype_is_float(p->dtype))
            return hg_error(HG_ERR_INVALID, "optimizer: parameter %d (%%%d) is not a float state node",
                            i, (int)params[i]);
        const hg_node *gr = hg_node_at(g, grads[i]);
        if (!gr || gr->dtype != p->dtype || !hg_shape_eq(gr->shape, p->shape))
            return hg_error(HG_ERR_INVALID, "optimizer: gradient of \"%s\" has the wrong dtype/shape",
                            p->attrs.name);
        for (int u = 0; u < g->n_updates; u++)
            if (g->updates[u].state == params[i])
                return hg_error(HG_ERR_INVALID, "optimizer: parameter \"%s\" already has an update",
                                p->attrs.name);
    }
    hg_value step = hg_find_state(g, "opt/step");
    if (step == HG_NONE) step = hg_state(g, "opt/step", HG_I32, hg_shape_scalar());
    else if (g->nodes[step].dtype != HG_I32 || g->nodes[step].shape.rank != 0)
        return hg_error(HG_ERR_INVALID, "optimizer: state \"opt/step\" must be an i32 scalar");
    hg_value lr = hg_optim_lr(g, cfg, step);
    hg_value kp1 = hg_add_s(g, hg_cast(g, step, HG_F64), 1.0);
    hg_value bc1 = HG_NONE, bc2 = HG_NONE;
    if (cfg->kind == HG_OPTIM_ADAMW) {
        /* 1 - b^(k+1) */
        hg_value one = hg_scalar(g, HG_F64, 1.0);
        bc1 = hg_sub(g, one, hg_binary(g, HG_OP_pow, hg_scalar(g, HG_F64, cfg->beta1), kp1));
        bc2 = hg_sub(g, one, hg_binary(g, HG_OP_pow, hg_scalar(g, HG_F64, cfg->beta2), kp1));
    }
    hg_value lr_c[HG_NUM_DTYPES], bc1_c[HG_NUM_DTYPES], bc2_c[HG_NUM_DTYPES];
    for (int t = 0; t < HG_NUM_DTYPES; t++) lr_c[t] = bc1_c[t] = bc2_c[t] = HG_NONE;
    hg_status st = hg_ok();
    for (int i = 0; i < n && st.code == HG_OK; i++) {
        hg_node p = g->nodes[params[i]];
        hg_value pv = params[i], gv = grads[i];
        hg_value lr_t = as_dtype(g, lr, p.dtype, lr_c);
        hg_value pnew;
        if (cfg->kind == HG_OPTIM_ADAMW) {
            hg_value m = moment_state(g, "m", &p, &st);
            hg_value v = st.code ? HG_NONE : moment_state(g, "v", &p, &st);
            if (st.code) break;
            hg_value m1 = hg_add(g, hg_mul_s(g, m, cfg->beta1), hg_mul_s(g, gv, 1.0 - cfg->beta1));
            hg_value v1 = hg_add(g, hg_mul_s(g, v, cfg->beta2),
                                 hg_mul_s(g, hg_square(g, gv), 1.0 - cfg->beta2));
            hg_value mh = hg_div(g, m1, as_dtype(g, bc1, p.dtype, bc1_c));
            hg_value vh = hg_div(g, v1, as_dtype(g, bc2, p.dtype, bc2_c));
            hg_value u = hg_div(g, mh, hg_add_s(g, hg_sqrt(g, vh), cfg->eps));
            if (cfg->weight_decay != 0) u = hg_add(g, u, hg_mul_s(g, pv, cfg->weight_decay));
            pnew = hg_sub(g, pv, hg_mul(g, lr_t, u));
            hg_set_update(g, m, m1);
            hg_set_update(g, v, v1);
        } else {
            hg_value gg = cfg->weight_decay != 0 ? hg_add(g, gv, hg_mul_s(g, pv, cfg->weight_decay)) : gv;
            if (cfg->momentum > 0) {
                hg_value m = moment_state(g, "m", &p, &st);
                if (st.code) break;
                gg = hg_add(g, hg_mul_s(g, m, cfg->momentum), gg);
                hg_set_update(g, m, gg);
            }
            pnew = hg_sub(g, pv, hg_mul(g, lr_t, gg));
        }
        hg_set_update(g, pv, pnew);
        st = hg_graph_status(g);
    }
    if (st.code == HG_OK) {
        hg_set_update(g, step, hg_add(g, step, hg_scalar(g, HG_I32, 1.0)));
        st = hg_graph_status(g);
    }
    return hg_status_prefix(st, "optimizer");
}
