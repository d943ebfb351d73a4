/* Exponential moving average of the parameters (SPEC 5 option
 * `training.ema_decay`; models/drivers.h): kept in the training state under
 * "ema/<path>", updated on the host after every update, used in place of
 * the parameters by the run's readers when the option is on. */
#include <stdio.h>
#include <string.h>

#include "models/drivers.h"

/* dst[HG_NAME_MAX] = "ema/" + path; HG_ERR_INVALID if that is too long. */
static hg_status ema_name(char *dst, const char *path) {
    int n = snprintf(dst, HG_NAME_MAX, "%s%s", HG_EMA_PREFIX, path);
    if (n < 0 || n >= HG_NAME_MAX)
        return hg_error(HG_ERR_INVALID, "ema: parameter path %s is too long for an ema/ name", path);
    return hg_ok();
}

hg_status hg_ema_init(const hg_mb *mb, hg_tensor_map *state) {
    for (int i = 0; i < mb->n_params; i++) {
        const char *path = mb->params[i].path;
        const hg_tensor *p = hg_map_get(state, path);
        if (!p) return hg_error(HG_ERR_INVALID, "ema: parameter %s is not in the state", path);
        hg_tensor copy;
        HG_TRY(hg_tensor_copy(&copy, p));
        char name[HG_NAME_MAX];
        HG_TRY(ema_name(name, path));
        HG_TRY(hg_map_put(state, name, &copy));
    }
    return hg_ok();
}

hg_status hg_ema_update(const hg_mb *mb, double decay, hg_tensor_map *state) {
    for (int i = 0; i < mb->n_params; i++) {
        const char *path = mb->params[i].path;
        char name[HG_NAME_MAX];
        HG_TRY(ema_name(name, path));
        const hg_tensor *p = hg_map_get(state, path);
        hg_tensor *e = hg_map_get(state, name);
        if (!p || !e || p->dtype != HG_F32 || e->dtype != HG_F32 || !hg_shape_eq(p->shape, e->shape))
            return hg_error(HG_ERR_INVALID, "ema: %s and %s missing or not matching f32 tensors", path, name);
        const float *pv = p->data;
        float *ev = e->data;
        int64_t n = hg_shape_numel(p->shape);
        for (int64_t j = 0; j < n; j++) ev[j] = (float)(decay * (double)ev[j] + (1.0 - decay) * (double)pv[j]);
    }
    return hg_ok();
}

hg_status hg_ema_apply(const hg_mb *mb, hg_tensor_map *state, const char *where) {
    for (int i = 0; i < mb->n_params; i++) {
        const char *path = mb->params[i].path;
        char name[HG_NAME_MAX];
        HG_TRY(ema_name(name, path));
        const hg_tensor *e = hg_map_get(state, name);
        hg_tensor *p = hg_map_get(state, path);
        if (!e)
            return hg_error(HG_ERR_INVALID,
                            "%s: training.ema_decay is on but the checkpoint has no %s (trained without EMA?)",
                            where, name);
        if (!p || e->dtype != p->dtype || !hg_shape_eq(e->shape, p->shape))
            return hg_error(HG_ERR_INVALID, "%s: %s does not match parameter %s", where, name, path);
        memcpy(p->data, e->data, hg_tensor_bytes(p));
    }
    return hg_ok();
}
