/* Dense tensors and name -> tensor maps. */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

size_t hg_tensor_bytes(const hg_tensor *t) {
    return (size_t)hg_shape_numel(t->shape) * hg_dtype_size(t->dtype);
}

hg_status hg_tensor_alloc(hg_tensor *t, hg_dtype dtype, hg_shape shape) {
    t->dtype = dtype;
    t->shape = shape;
    size_t n = hg_tensor_bytes(t);
    t->data = calloc(n ? n : 1, 1);
    t->owned = 1;
    if (!t->data) {
        t->owned = 0;
        return hg_error(HG_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    }
    return hg_ok();
}

void hg_tensor_free(hg_tensor *t) {
    if (t->owned) free(t->data);
    t->data = NULL;
    t->owned = 0;
}

hg_status hg_tensor_copy(hg_tensor *dst, const hg_tensor *src) {
    HG_TRY(hg_tensor_alloc(dst, src->dtype, src->shape));
    memcpy(dst->data, src->data, hg_tensor_bytes(src));
    return hg_ok();
}

double hg_tensor_get(const hg_tensor *t, int64_t i) {
    switch (t->dtype) {
    case HG_F32: return ((const float *)t->data)[i];
    case HG_F64: return ((const double *)t->data)[i];
    case HG_I32: return ((const int32_t *)t->data)[i];
    case HG_BOOL: return ((const uint8_t *)t->data)[i];
    default: return 0;
    }
}

void hg_tensor_set(hg_tensor *t, int64_t i, double v) {
    switch (t->dtype) {
    case HG_F32: ((float *)t->data)[i] = (float)v; break;
    case HG_F64: ((double *)t->data)[i] = v; break;
    case HG_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case HG_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
    default: break;
    }
}

void hg_map_init(hg_tensor_map *m) {
    m->e = NULL;
    m->n = m->cap = 0;
}

void hg_map_free(hg_tensor_map *m) {
    for (int i = 0; i < m->n; i++) hg_tensor_free(&m->e[i].t);
    free(m->e);
    hg_map_init(m);
}

hg_tensor *hg_map_get(const hg_tensor_map *m, const char *name) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->e[i].name, name)) return &m->e[i].t;
    return NULL;
}

static hg_status slot(hg_tensor_map *m, const char *name, hg_tensor **out) {
    if (strlen(name) >= HG_NAME_MAX)
        return hg_error(HG_ERR_INVALID, "tensor name too long: %.60s...", name);
    hg_tensor *t = hg_map_get(m, name);
    if (t) {
        hg_tensor_free(t);
        *out = t;
        return hg_ok();
    }
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 16;
        hg_map_entry *e = realloc(m->e, (size_t)cap * sizeof *e);
        if (!e) return hg_error(HG_ERR_NOMEM, "out of memory growing tensor map");
        m->e = e;
        m->cap = cap;
    }
    hg_map_entry *e = &m->e[m->n++];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    *out = &e->t;
    return hg_ok();
}

hg_status hg_map_put(hg_tensor_map *m, const char *name, hg_tensor *t) {
    hg_tensor *dst;
    HG_TRY(slot(m, name, &dst));
    *dst = *t;
    t->data = NULL;
    t->owned = 0;
    return hg_ok();
}

hg_status hg_map_alloc(hg_tensor_map *m, const char *name, hg_dtype dtype,
                       hg_shape shape, hg_tensor **out) {
    hg_tensor *dst;
    HG_TRY(slot(m, name, &dst));
    hg_status s = hg_tensor_alloc(dst, dtype, shape);
    if (s.code) {
        /* leave an empty but valid entry */
        dst->dtype = dtype;
        dst->shape = hg_shape_scalar();
        return s;
    }
    if (out) *out = dst;
    return hg_ok();
}
