/* The module builder (models.h): hierarchical parameter paths, parameter
 * state nodes, and their initialisation from the counter-based RNG
 * (SPEC 4 initialisers). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"

hg_status hg_mb_init(hg_mb *mb, hg_graph *g, hg_dtype dtype) {
    memset(mb, 0, sizeof *mb);
    if (!g) return hg_error(HG_ERR_INVALID, "hg_mb_init: no graph");
    if (!hg_dtype_is_float(dtype))
        return hg_error(HG_ERR_INVALID, "hg_mb_init: dtype %s is not a float type",
                        hg_dtype_name(dtype));
    mb->g = g;
    mb->dtype = dtype;
    hg_shape sc = hg_shape_scalar();
    mb->seed = hg_find_input(g, "seed");
    if (mb->seed == HG_NONE) mb->seed = hg_input(g, "seed", HG_I32, sc);
    mb->step = hg_find_input(g, "step");
    if (mb->step == HG_NONE) mb->step = hg_input(g, "step", HG_I32, sc);
    mb->replica = hg_find_input(g, "replica");
    if (mb->replica == HG_NONE) mb->replica = hg_input(g, "replica", HG_I32, sc);
    return hg_graph_status(g);
}

void hg_mb_free(hg_mb *mb) {
    free(mb->params);
    mb->params = NULL;
    mb->n_params = mb->cap_params = 0;
}

void hg_mb_push(hg_mb *mb, const char *fmt, ...) {
    char comp[HG_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(comp, sizeof comp, fmt, ap);
    va_end(ap);
    size_t n = strlen(mb->prefix);
    if (n + strlen(comp) + 2 > sizeof mb->prefix) {
        /* Too deep: record a sticky error in the graph; push a marker so
         * that the matching pop keeps the prefix balanced. */
        if (mb->g && mb->g->err.code == HG_OK)
            mb->g->err = hg_error(HG_ERR_INVALID, "parameter path too long: %s/%s",
                                  mb->prefix, comp);
        comp[0] = 0;
        comp[1] = 0;
        if (n + 2 > sizeof mb->prefix) return;
    }
    if (n) {
        mb->prefix[n] = '/';
        strcpy(mb->prefix + n + 1, comp);
    } else {
        strcpy(mb->prefix, comp);
    }
}

void hg_mb_pop(hg_mb *mb) {
    char *sl = strrchr(mb->prefix, '/');
    if (sl) *sl = 0;
    else mb->prefix[0] = 0;
}

hg_value hg_mb_param(hg_mb *mb, const char *name, hg_shape shape, hg_init init,
                     double a, int64_t fan_in, int64_t fan_out) {
    hg_graph *g = mb->g;
    if (g->err.code != HG_OK) return HG_NONE;
    char path[HG_NAME_MAX];
    int w = mb->prefix[0] ? snprintf(path, sizeof path, "%s/%s", mb->prefix, name)
                          : snprintf(path, sizeof path, "%s", name);
    if (w < 0 || w >= (int)sizeof path) {
        g->err = hg_error(HG_ERR_INVALID, "parameter path too long: %s/%s", mb->prefix, name);
        return HG_NONE;
    }
    for (int i = 0; i < mb->n_params; i++) {
        if (strcmp(mb->params[i].path, path)) continue;
        if (!hg_shape_eq(mb->params[i].shape, shape)) {
            char b1[64], b2[64];
            g->err = hg_error(HG_ERR_INVALID, "parameter %s requested with shape %s, exists as %s",
                              path, hg_shape_str(shape, b1, sizeof b1),
                              hg_shape_str(mb->params[i].shape, b2, sizeof b2));
            return HG_NONE;
        }
        return mb->params[i].node;
    }
    hg_value v = hg_state(g, path, mb->dtype, shape);
    if (v == HG_NONE) return HG_NONE;
    if (mb->n_params == mb->cap_params) {
        int cap = mb->cap_params ? 2 * mb->cap_params : 32;
        hg_param *p = realloc(mb->params, (size_t)cap * sizeof *p);
        if (!p) {
            g->err = hg_error(HG_ERR_NOMEM, "parameter list");
            return HG_NONE;
        }
        mb->params = p;
        mb->cap_params = cap;
    }
    hg_param *p = &mb->params[mb->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s", path);
    p->shape = shape;
    p->init = init;
    p->a = a;
    p->fan_in = fan_in;
    p->fan_out = fan_out;
    p->node = v;
    return v;
}

int64_t hg_mb_param_count(const hg_mb *mb) {
    int64_t n = 0;
    for (int i = 0; i < mb->n_params; i++) n += hg_shape_numel(mb->params[i].shape);
    return n;
}

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* The jax truncated-normal correction: the sd of a standard normal
 * truncated to [-2, 2]. */
#define HG_TRUNC_SD 0.87962566103423978

hg_status hg_mb_init_params(const hg_mb *mb, uint32_t seed, hg_tensor_map *state) {
    for (int i = 0; i < mb->n_params; i++) {
        const hg_param *p = &mb->params[i];
        uint32_t stream = 0x40000000u | (fnv1a(p->path) & 0x3fffffffu);
        hg_tensor *t;
        HG_TRY(hg_map_alloc(state, p->path, mb->dtype, p->shape, &t));
        int64_t n = hg_shape_numel(p->shape);
        for (int64_t j = 0; j < n; j++) {
            double v = 0;
            switch (p->init) {
            case HG_INIT_ZEROS: v = 0; break;
            case HG_INIT_ONES: v = 1; break;
            case HG_INIT_CONST: v = p->a; break;
            case HG_INIT_NORMAL:
                v = p->a * hg_rng_normal(seed, stream, 0, 0, (uint64_t)j);
                break;
            case HG_INIT_XAVIER_UNIFORM: {
                double lim = sqrt(6.0 / (double)(p->fan_in + p->fan_out));
                v = lim * (2.0 * hg_rng_uniform(seed, stream, 0, 0, (uint64_t)j) - 1.0);
                break;
            }
            case HG_INIT_LECUN_NORMAL: {
                if (p->fan_in <= 0)
                    return hg_error(HG_ERR_INVALID, "parameter %s: fan_in %lld", p->path,
                                    (long long)p->fan_in);
                double sd = sqrt(1.0 / (double)p->fan_in) / HG_TRUNC_SD;
                double x = 0;
                for (uint32_t attempt = 0;; attempt++) {
                    x = hg_rng_normal(seed, stream, attempt, 0, (uint64_t)j);
                    if (fabs(x) <= 2.0) break;
                }
                v = sd * x;
                break;
            }
            }
            hg_tensor_set(t, j, v);
        }
    }
    return hg_ok();
}
