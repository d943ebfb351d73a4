/* ONNX writer helpers (codegen/onnx_internal.h): arena, names, nodes,
 * attributes and initializers of the model under construction. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/onnx_internal.h"

/* ------------------------------------------------------------------ arena */

void *ox_alloc(hg_ox *x, size_t n) {
    if (x->err.code != HG_OK) return NULL;
    if (x->n_allocs == x->cap_allocs) {
        size_t cap = x->cap_allocs ? 2 * x->cap_allocs : 256;
        void **a = realloc(x->allocs, cap * sizeof *a);
        if (!a) {
            ox_fail(x, HG_ERR_NOMEM, "onnx export: out of memory");
            return NULL;
        }
        x->allocs = a;
        x->cap_allocs = cap;
    }
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        ox_fail(x, HG_ERR_NOMEM, "onnx export: out of memory (%zu bytes)", n);
        return NULL;
    }
    x->allocs[x->n_allocs++] = p;
    return p;
}

char *ox_strdup(hg_ox *x, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = ox_alloc(x, n);
    if (p) memcpy(p, s, n);
    return p;
}

char *ox_printf(hg_ox *x, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = ox_alloc(x, (size_t)n + 1);
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

const char *ox_fail(hg_ox *x, hg_code code, const char *fmt, ...) {
    if (x->err.code == HG_OK) {
        va_list ap;
        va_start(ap, fmt);
        x->err = hg_verror(code, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

/* Appends p to a growable pointer array; 0 ok, -1 OOM (error set). */
static int push(hg_ox *x, void ***arr, size_t *n, size_t *cap, void *p) {
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void **a = realloc(*arr, c * sizeof *a);
        if (!a) {
            ox_fail(x, HG_ERR_NOMEM, "onnx export: out of memory");
            return -1;
        }
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

/* ------------------------------------------------------------------ names */

const char *ox_tmp(hg_ox *x, const char *hint) {
    const char *base = "tmp";
    char buf[64];
    if (x->cur >= 0 && x->cur < x->g->n_nodes) {
        snprintf(buf, sizeof buf, "n%d_%s", (int)x->cur,
                 hg_op_table[x->g->nodes[x->cur].op].name);
        base = buf;
    }
    return ox_printf(x, "%s/%s%d", base, hint, x->tmp++);
}

int32_t ox_elem_type(hg_dtype t) {
    switch (t) {
    case HG_F32: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    case HG_F64: return ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    case HG_I32: return ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    case HG_BOOL: return ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
    default: return ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED;
    }
}

const char *ox_in(hg_ox *x, hg_value v, int i) {
    return x->names[x->g->nodes[v].in[i]];
}

/* ------------------------------------------------------------------ nodes */

const char *ox_node(hg_ox *x, const char *op, const char *out, int n_in,
                    const char *const *in) {
    if (x->err.code != HG_OK) return NULL;
    for (int i = 0; i < n_in; i++)
        if (!in[i])
            return ox_fail(x, HG_ERR_INVALID, "onnx export: %s has a missing input %d",
                           op, i);
    Onnx__NodeProto *nd = ox_alloc(x, sizeof *nd);
    if (!nd) return NULL;
    onnx__node_proto__init(nd);
    nd->op_type = ox_strdup(x, op);
    nd->domain = ox_strdup(x, "");
    const char *o = out ? ox_strdup(x, out) : ox_tmp(x, op);
    nd->input = ox_alloc(x, (size_t)(n_in ? n_in : 1) * sizeof(char *));
    nd->output = ox_alloc(x, sizeof(char *));
    if (x->err.code != HG_OK) return NULL;
    for (int i = 0; i < n_in; i++) nd->input[i] = ox_strdup(x, in[i]);
    nd->n_input = (size_t)n_in;
    nd->output[0] = (char *)o;
    nd->n_output = 1;
    nd->name = ox_printf(x, "%s", o);
    if (x->err.code != HG_OK) return NULL;
    if (push(x, (void ***)&x->nodes, &x->n_nodes, &x->cap_nodes, nd)) return NULL;
    x->last = nd;
    return o;
}

const char *ox_op1(hg_ox *x, const char *op, const char *a) {
    const char *in[1] = {a};
    return a ? ox_node(x, op, NULL, 1, in) : NULL;
}

const char *ox_op2(hg_ox *x, const char *op, const char *a, const char *b) {
    const char *in[2] = {a, b};
    return a && b ? ox_node(x, op, NULL, 2, in) : NULL;
}

const char *ox_op3(hg_ox *x, const char *op, const char *a, const char *b, const char *c) {
    const char *in[3] = {a, b, c};
    return a && b && c ? ox_node(x, op, NULL, 3, in) : NULL;
}

static Onnx__AttributeProto *new_attr(hg_ox *x, const char *name,
                                      Onnx__AttributeProto__AttributeType type) {
    if (x->err.code != HG_OK || !x->last) return NULL;
    Onnx__AttributeProto *a = ox_alloc(x, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = ox_strdup(x, name);
    a->has_type = 1;
    a->type = type;
    Onnx__NodeProto *nd = x->last;
    Onnx__AttributeProto **arr = ox_alloc(x, (nd->n_attribute + 1) * sizeof *arr);
    if (!arr) return NULL;
    if (nd->n_attribute) memcpy(arr, nd->attribute, nd->n_attribute * sizeof *arr);
    arr[nd->n_attribute++] = a;
    nd->attribute = arr; /* the old array stays in the arena */
    return a;
}

void ox_attr_i(hg_ox *x, const char *name, int64_t v) {
    Onnx__AttributeProto *a = new_attr(x, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (!a) return;
    a->has_i = 1;
    a->i = v;
}

void ox_attr_f(hg_ox *x, const char *name, float v) {
    Onnx__AttributeProto *a = new_attr(x, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (!a) return;
    a->has_f = 1;
    a->f = v;
}

void ox_attr_s(hg_ox *x, const char *name, const char *v) {
    Onnx__AttributeProto *a = new_attr(x, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    if (!a) return;
    char *s = ox_strdup(x, v);
    if (!s) return;
    a->has_s = 1;
    a->s.data = (uint8_t *)s;
    a->s.len = strlen(s);
}

void ox_attr_ints(hg_ox *x, const char *name, int n, const int64_t *v) {
    Onnx__AttributeProto *a = new_attr(x, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (!a) return;
    int64_t *p = ox_alloc(x, (size_t)(n ? n : 1) * sizeof *p);
    if (!p) return;
    if (n) memcpy(p, v, (size_t)n * sizeof *p);
    a->ints = p;
    a->n_ints = (size_t)n;
}

/* ----------------------------------------------------------- initializers */

static const char *init_raw(hg_ox *x, const char *name, int32_t elem, int rank,
                            const int64_t *dims, const void *data, size_t bytes) {
    if (x->err.code != HG_OK) return NULL;
    Onnx__TensorProto *t = ox_alloc(x, sizeof *t);
    if (!t) return NULL;
    onnx__tensor_proto__init(t);
    t->name = name ? ox_strdup(x, name) : (char *)ox_tmp(x, "c");
    t->has_data_type = 1;
    t->data_type = elem;
    t->dims = ox_alloc(x, (size_t)(rank ? rank : 1) * sizeof *t->dims);
    if (x->err.code != HG_OK) return NULL;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    t->n_dims = (size_t)rank;
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = (uint8_t *)data;
    if (push(x, (void ***)&x->inits, &x->n_inits, &x->cap_inits, t)) return NULL;
    return t->name;
}

const char *ox_init_ref(hg_ox *x, const char *name, hg_dtype t, hg_shape s,
                        const void *data) {
    size_t bytes = (size_t)hg_shape_numel(s) * hg_dtype_size(t);
    return init_raw(x, name, ox_elem_type(t), s.rank, s.dim, data, bytes);
}

const char *ox_init_copy(hg_ox *x, const char *name, hg_dtype t, hg_shape s,
                         const void *data) {
    size_t bytes = (size_t)hg_shape_numel(s) * hg_dtype_size(t);
    void *p = ox_alloc(x, bytes);
    if (!p) return NULL;
    if (bytes) memcpy(p, data, bytes);
    return init_raw(x, name, ox_elem_type(t), s.rank, s.dim, p, bytes);
}

const char *ox_scalar(hg_ox *x, hg_dtype t, double v) {
    union {
        float f;
        double d;
        int32_t i;
        uint8_t b;
    } u;
    switch (t) {
    case HG_F32: u.f = (float)v; break;
    case HG_F64: u.d = v; break;
    case HG_I32: u.i = (int32_t)v; break;
    default: u.b = v != 0; break;
    }
    return ox_init_copy(x, NULL, t, hg_shape_scalar(), &u);
}

const char *ox_i64s(hg_ox *x, int n, const int64_t *v) {
    int64_t d = n;
    int64_t *p = ox_alloc(x, (size_t)(n ? n : 1) * sizeof *p);
    if (!p) return NULL;
    if (n) memcpy(p, v, (size_t)n * sizeof *p);
    return init_raw(x, NULL, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, &d, p,
                    (size_t)n * sizeof *p);
}

const char *ox_i64(hg_ox *x, int64_t v) {
    int64_t *p = ox_alloc(x, sizeof *p);
    if (!p) return NULL;
    *p = v;
    return init_raw(x, NULL, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, NULL, p, sizeof *p);
}

const char *ox_i64_tensor(hg_ox *x, hg_shape s, const int64_t *v) {
    size_t n = (size_t)hg_shape_numel(s);
    int64_t *p = ox_alloc(x, (n ? n : 1) * sizeof *p);
    if (!p) return NULL;
    if (n) memcpy(p, v, n * sizeof *p);
    return init_raw(x, NULL, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, s.rank, s.dim, p,
                    n * sizeof *p);
}

/* ----------------------------------------------------------- compositions */

const char *ox_reshape(hg_ox *x, const char *a, hg_shape s) {
    return ox_op2(x, "Reshape", a, ox_i64s(x, s.rank, s.dim));
}

const char *ox_cast_onnx(hg_ox *x, const char *a, int32_t elem_type) {
    const char *r = ox_op1(x, "Cast", a);
    ox_attr_i(x, "to", elem_type);
    return r;
}

const char *ox_cast(hg_ox *x, const char *a, hg_dtype t) {
    return ox_cast_onnx(x, a, ox_elem_type(t));
}
