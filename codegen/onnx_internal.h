/* Internals of the ONNX writer (codegen/onnx*.c): the model under
 * construction and small helpers that append nodes, attributes and
 * initializers. Every protobuf-c struct and string is allocated from the
 * context's arena (freed at once by ox_free); tensor payloads of state and
 * constant tensors point into the caller's memory (not copied). */
#ifndef HG_ONNX_INTERNAL_H
#define HG_ONNX_INTERNAL_H

#include <stdint.h>

#include "codegen/onnx.h"
#include "ir/ir.h"
#include "onnx/onnx.pb-c.h"

typedef struct {
    const hg_graph *g;
    const hg_tensor_map *state;
    char **names; /* [n_nodes]: ONNX value name of each hg node (NULL: not lowered) */

    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    Onnx__ValueInfoProto **inputs;
    size_t n_inputs, cap_inputs;
    Onnx__ValueInfoProto **outputs;
    size_t n_outputs, cap_outputs;

    void **allocs; /* arena */
    size_t n_allocs, cap_allocs;

    Onnx__NodeProto *last; /* node the ox_attr_* calls attach to */
    hg_value cur;          /* hg node being lowered (names of temporaries) */
    int tmp;               /* counter of temporaries */
    hg_status err;         /* first error (sticky); helpers return NULL after it */
} hg_ox;

/* Arena allocation (zeroed); NULL (and x->err set) on OOM. */
void *ox_alloc(hg_ox *x, size_t n);
char *ox_strdup(hg_ox *x, const char *s);
char *ox_printf(hg_ox *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the first error. Returns NULL (for `return ox_fail(...)`). */
const char *ox_fail(hg_ox *x, hg_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A fresh value name "<node name>/<hint><counter>". */
const char *ox_tmp(hg_ox *x, const char *hint);
/* ONNX element type of a halograph dtype. */
int32_t ox_elem_type(hg_dtype t);

/* Appends node `op` with inputs in[0..n_in) (a NULL input, left by an
 * earlier failed helper, makes this call fail too) and one output `out`
 * (NULL: a fresh temporary).
 * Returns the output name, or NULL after an error. x->last = the node. */
const char *ox_node(hg_ox *x, const char *op, const char *out, int n_in,
                    const char *const *in);
/* Shorthands with 1, 2, 3 inputs. */
const char *ox_op1(hg_ox *x, const char *op, const char *a);
const char *ox_op2(hg_ox *x, const char *op, const char *a, const char *b);
const char *ox_op3(hg_ox *x, const char *op, const char *a, const char *b, const char *c);

/* Attributes of x->last. */
void ox_attr_i(hg_ox *x, const char *name, int64_t v);
void ox_attr_f(hg_ox *x, const char *name, float v);
void ox_attr_s(hg_ox *x, const char *name, const char *v);
void ox_attr_ints(hg_ox *x, const char *name, int n, const int64_t *v);

/* Initializer `name` (NULL: fresh temporary) of dtype t and shape s from
 * data (numel * size bytes, referenced, not copied: it must outlive the
 * serialisation). Returns its name. */
const char *ox_init_ref(hg_ox *x, const char *name, hg_dtype t, hg_shape s,
                        const void *data);
/* The same with the payload copied into the arena. */
const char *ox_init_copy(hg_ox *x, const char *name, hg_dtype t, hg_shape s,
                         const void *data);
/* Rank-0 constant of dtype t holding v. */
const char *ox_scalar(hg_ox *x, hg_dtype t, double v);
/* int64 constants: rank 1 of n values, or rank 0. */
const char *ox_i64s(hg_ox *x, int n, const int64_t *v);
const char *ox_i64(hg_ox *x, int64_t v);
/* An int64 initializer of any shape (values copied). */
const char *ox_i64_tensor(hg_ox *x, hg_shape s, const int64_t *v);

/* Common compositions. */
const char *ox_reshape(hg_ox *x, const char *a, hg_shape s);
const char *ox_cast(hg_ox *x, const char *a, hg_dtype t);
const char *ox_cast_onnx(hg_ox *x, const char *a, int32_t elem_type);

/* Lowers hg node v (its inputs already have names); sets x->names[v].
 * onnx_lower.c: elementwise, reductions, shape ops, composites, leaves;
 * onnx_lower_index.c: gather, scatter_add, scatter_max, knn. */
void ox_lower_node(hg_ox *x, hg_value v);
void ox_lower_gather(hg_ox *x, hg_value v);
void ox_lower_scatter(hg_ox *x, hg_value v);
void ox_lower_knn(hg_ox *x, hg_value v);

/* Name of node v's input i. */
const char *ox_in(hg_ox *x, hg_value v, int i);

#endif
