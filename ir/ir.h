/* halograph IR: dtypes, shapes, the op table, graphs, the builder API,
 * tensors and named tensor maps, the verifier and the text format.
 *
 * A graph is a list of SSA nodes in definition order (node i may only read
 * nodes < i). Every node has one output with a static dtype and shape.
 * Leaves are `constant` (data held by the graph), `input` (fed per call,
 * by name) and `state` (a named persistent buffer: parameters, optimizer
 * moments, counters). A graph has named outputs, and declares some values
 * as the new value of a state (DESIGN.md "State is explicit"): the runtime
 * writes them back after the call.
 *
 * Builder errors are sticky: the first error is recorded in the graph
 * (hg_graph_status), the failing call returns HG_NONE, and every builder
 * call given HG_NONE returns HG_NONE, so model code can build a whole
 * graph and check once.
 */
#ifndef HG_IR_H
#define HG_IR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------- status */

typedef enum {
    HG_OK = 0,
    HG_ERR_INVALID,     /* bad argument, shape, config or graph */
    HG_ERR_IO,          /* file missing, unreadable, truncated, not writable */
    HG_ERR_FORMAT,      /* file readable but malformed */
    HG_ERR_NUMERIC,     /* NaN / Inf where a finite number is required */
    HG_ERR_UNSUPPORTED, /* valid request this build/backend cannot do */
    HG_ERR_NOMEM,
    HG_ERR_INTERRUPTED
} hg_code;

/* Result of every fallible library function: code 0 = success, otherwise
 * msg says what went wrong and where. Returned by value; no ownership. */
typedef struct {
    hg_code code;
    char msg[512];
} hg_status;

/* hg_ok(): the success status. hg_error(): a failure status with a
 * printf-formatted message (truncated to fit). */
hg_status hg_ok(void);
hg_status hg_error(hg_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
hg_status hg_verror(hg_code code, const char *fmt, va_list ap);
/* Prefixes "what: " to a failed status's message (no-op on success). */
hg_status hg_status_prefix(hg_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define HG_TRY(expr)                                                          \
    do {                                                                      \
        hg_status hg_try_s_ = (expr);                                         \
        if (hg_try_s_.code != HG_OK) return hg_try_s_;                        \
    } while (0)

/* ------------------------------------------------------ text input files */

/* The size limit of every text input (YAML config, CSV / whitespace table,
 * graph text, run files): 64 MiB. */
#define HG_TEXT_MAX_BYTES ((size_t)64 << 20)

/* Reads the whole text file `path` into *out (malloc'd, NUL-terminated;
 * *len bytes, len may be NULL). Regular files larger than max are refused
 * before reading; other files (FIFO, character device) are read up to max
 * bytes, then refused; a NUL byte is refused where it is read (so
 * /dev/zero and /dev/urandom fail at once); a FIFO without a writer reads
 * as empty instead of blocking. Errors: HG_ERR_IO (cannot open or read, a
 * directory), HG_ERR_FORMAT (too large, NUL byte), HG_ERR_NOMEM; each
 * message starts with the path. */
hg_status hg_read_text_file(const char *path, size_t max, char **out, size_t *len);

/* ---------------------------------------------------------- dtype, shape */

typedef enum { HG_F32 = 0, HG_F64, HG_I32, HG_BOOL, HG_NUM_DTYPES } hg_dtype;

#define HG_MAX_RANK 6

typedef struct {
    int rank;
    int64_t dim[HG_MAX_RANK];
} hg_shape;

const char *hg_dtype_name(hg_dtype t);          /* "f32", "f64", "i32", "bool" */
int hg_dtype_parse(const char *s, hg_dtype *out);/* 0 ok, -1 unknown */
size_t hg_dtype_size(hg_dtype t);               /* 4, 8, 4, 1 */
int hg_dtype_is_float(hg_dtype t);

hg_shape hg_shape_make(int rank, const int64_t *dims);
hg_shape hg_shape_of(int rank, ...); /* hg_shape_of(2, (int64_t)3, (int64_t)4); dims are int64_t */
hg_shape hg_shape_scalar(void);
int64_t hg_shape_numel(hg_shape s);             /* 1 for rank 0 */
int hg_shape_eq(hg_shape a, hg_shape b);
/* numpy broadcasting of a and b; 0 ok, -1 incompatible. */
int hg_shape_broadcast(hg_shape a, hg_shape b, hg_shape *out);
/* Writes "[2,3,4]" into buf (always NUL-terminated). */
char *hg_shape_str(hg_shape s, char *buf, size_t n);

/* --------------------------------------------------------------- the ops */

/* Op flags. */
#define HG_OPF_ELEMENTWISE 1u  /* output[i] depends only on inputs[i] (after broadcast) */
#define HG_OPF_DIFF 2u         /* differentiable: autodiff needs a VJP rule */
#define HG_OPF_LEAF 4u         /* constant / input / state */
#define HG_OPF_RANDOM 8u       /* draws from the counter-based RNG */
#define HG_OPF_COMPOSITE 16u   /* has a decomposition into primitive ops */
#define HG_OPF_REDUCE 32u

/* The op table: one X-macro list. HG_OP(name, arity, flags): arity -1 means
 * variadic (1..HG_MAX_INPUTS). Semantics (x, y: inputs in order; `axes`,
 * `k`, ... are attributes of hg_attrs documented per op):
 *
 * leaves
 *   constant            data held in the node (hg_node.data), dtype/shape of the node
 *   input               attrs.name; fed per call
 *   state               attrs.name; persistent named buffer
 * elementwise ops: the scalar formula of each, for each dtype class
 * (float, i32, bool), is ir/elementwise.def (the dtypes it leaves out are
 * not defined; float math is computed in double and rounded once, i32
 * wraps modulo 2^32):
 * unary (float; neg, abs, sign, square also i32, wrapping: square(x) =
 *   mul(x, x), so square(46341) = -2147479015)
 *   neg abs sign exp log log1p expm1 sqrt rsqrt square reciprocal sin cos
 *   tanh sigmoid softplus gelu_tanh erf floor round
 *   gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *   round is half-to-even; sign(+-0) = +0
 * binary, numpy broadcasting, same dtype both sides (float; add, sub, mul,
 *   maximum, minimum, floor_mod also i32; floor_mod(x, 0) = 0 on i32)
 *   add sub mul div pow maximum minimum floor_mod
 *   floor_mod(x, y) = x - y floor(x / y) (result has the sign of y)
 *   maximum/minimum propagate NaN
 * comparisons (numpy broadcasting, output bool)  eq ne lt le gt ge
 *   (float, i32; eq and ne also bool)
 * logical (bool)  logical_and logical_or logical_not
 * where(c bool, x, y)  broadcasting of all three; x, y of any dtype
 * reductions  sum mean max (attrs.axes[naxes], attrs.keepdims);
 *   naxes = 0 means all axes. Empty reduction: sum 0, mean NaN, max -inf.
 * matmul(a, b)  attrs.trans_a, attrs.trans_b: the last two dims are the
 *   matrix; leading (batch) dims broadcast numpy-style. a[..., M, K] (or
 *   [..., K, M] if trans_a) times b[..., K, N] (or [..., N, K]) -> [..., M, N]
 * reshape(x)        to the node's shape (same numel)
 * transpose(x)      attrs.perm[rank]: out.dim[i] = x.dim[perm[i]]
 * broadcast_to(x)   numpy broadcast of x to the node's shape
 * slice(x)          attrs.starts[rank], attrs.steps[rank] (>= 1), out dims = node shape:
 *                   out[i...] = x[starts + i*steps ...]
 * concat(x...)      attrs.axis
 * pad(x)            attrs.pad_lo[rank], attrs.pad_hi[rank] (>= 0), attrs.value fills
 * gather(x, idx)    take along axis a = attrs.axis with a batched index:
 *                   x[b_0..b_{a-1}, n, r...], idx i32 [b_0..b_{a-1}, e_0..e_{m-1}]
 *                   -> out[b..., e..., r...] = x[b..., idx[b..., e...], r...];
 *                   an index outside [0, x.dim[a]) (e.g. -1) gives 0.
 * scatter_add(src, idx)  the adjoint of gather: attrs.axis a, attrs.size n:
 *                   src[b..., e..., r...], idx i32 [b..., e...]
 *                   -> out[b..., n, r...] with out[b, idx[b,e], r] += src[b, e, r];
 *                   indices outside [0, n) are dropped (segment sum).
 * scatter_max(src, idx)  as scatter_add with max; a segment that receives
 *                   nothing is 0 (not -inf) (segment max).
 * iota              attrs.axis: out[...] = index along that axis (node dtype/shape)
 * cast(x)           to the node's dtype (float->i32 truncates toward 0; bool is 0/1)
 * stop_gradient(x)  identity; autodiff passes no gradient through it
 * knn(pos, mask)    pos float [B, N, 3], mask float [B, N] (1 = real point) ->
 *                   i32 [B, N, k], attrs.k, attrs.box (> 0: periodic box side L,
 *                   0: no periodic boundary conditions). SPEC 4.2: positions are
 *                   first wrapped into [0, L) (periodic case); dr = (p_i - p_j) + 1e-5,
 *                   periodic dr -= round_half_even(dr / L) L; d2 = |dr|^2;
 *                   out[b, i, :] = the k indices j with smallest d2 (self
 *                   included, ties by lower j), ascending d2. If point i is
 *                   padded, or fewer than k real points exist, the missing
 *                   entries (and all entries of a padded i) are -1.
 * layer_norm(x)     over the last axis, attrs.eps: (x - mean) / sqrt(var + eps),
 *                   population variance; no scale/bias (compose with mul/add)
 * softmax(x)        over the last axis, max-shifted
 * attention(q, k, v, mask)  q[B, H, Nq, D], k[B, H, Nk, D], v[B, H, Nk, Dv],
 *                   mask (same float dtype) broadcastable to [B, H, Nq, Nk],
 *                   nonzero = attend; logits = q.k * attrs.scale, masked logits
 *                   set to the most negative finite value of the dtype; softmax
 *                   over keys -> [B, H, Nq, Dv]
 * attention_lse(q, k, v, mask)  the same inputs and attrs.scale ->
 *                   [B, H, Nq]: the log-sum-exp over keys of each query
 *                   row's masked logits, what the backward needs of the
 *                   forward (FlashAttention-2); a fully masked row (every
 *                   mask entry 0) gives -inf, the flag for "uniform
 *                   softmax" (its logits are all equal, as in attention)
 * attention_grad(q, k, v, mask, o, lse, do)  o = attention(q, k, v, mask),
 *                   lse = attention_lse(q, k, v, mask), do the cotangent of
 *                   o ([B, H, Nq, Dv]); attrs.axis 0, 1, 2 selects dq, dk
 *                   or dv (shape of q, k or v): the VJP of attention
 *                   (passes/vjp_composite.c has the formulas). The three
 *                   nodes of one attention read the same inputs and are
 *                   computed by one kernel (passes/attention_group.c)
 * random_uniform(seed, step, replica)  i32 scalars -> U[0, 1) of the node's
 *                   float dtype/shape; attrs.stream
 * random_normal(seed, step, replica)   N(0, 1), Box-Muller; attrs.stream
 *   Philox4x32-10 with key (seed, stream) and counter (low word of
 *   element / 4, step, replica, high word of element / 4); lane element % 4
 *   of the block (see hg_rng_uniform / hg_rng_normal below).
 */
#define HG_OP_LIST(X)                                                         \
    X(constant, 0, HG_OPF_LEAF)                                               \
    X(input, 0, HG_OPF_LEAF)                                                  \
    X(state, 0, HG_OPF_LEAF)                                                  \
    X(neg, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(abs, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(sign, 1, HG_OPF_ELEMENTWISE)                                            \
    X(exp, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(log, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(log1p, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                             \
    X(expm1, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                             \
    X(sqrt, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                              \
    X(rsqrt, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                             \
    X(square, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                            \
    X(reciprocal, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                        \
    X(sin, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(cos, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(tanh, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                              \
    X(sigmoid, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                           \
    X(softplus, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                          \
    X(gelu_tanh, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                         \
    X(erf, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(floor, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                             \
    X(round, 1, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                             \
    X(add, 2, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(sub, 2, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(mul, 2, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(div, 2, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(pow, 2, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                               \
    X(maximum, 2, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                           \
    X(minimum, 2, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                           \
    X(floor_mod, 2, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                         \
    X(eq, 2, HG_OPF_ELEMENTWISE)                                              \
    X(ne, 2, HG_OPF_ELEMENTWISE)                                              \
    X(lt, 2, HG_OPF_ELEMENTWISE)                                              \
    X(le, 2, HG_OPF_ELEMENTWISE)                                              \
    X(gt, 2, HG_OPF_ELEMENTWISE)                                              \
    X(ge, 2, HG_OPF_ELEMENTWISE)                                              \
    X(logical_and, 2, HG_OPF_ELEMENTWISE)                                     \
    X(logical_or, 2, HG_OPF_ELEMENTWISE)                                      \
    X(logical_not, 1, HG_OPF_ELEMENTWISE)                                     \
    X(where, 3, HG_OPF_ELEMENTWISE | HG_OPF_DIFF)                             \
    X(sum, 1, HG_OPF_REDUCE | HG_OPF_DIFF)                                    \
    X(mean, 1, HG_OPF_REDUCE | HG_OPF_DIFF)                                   \
    X(max, 1, HG_OPF_REDUCE | HG_OPF_DIFF)                                    \
    X(matmul, 2, HG_OPF_DIFF)                                                 \
    X(reshape, 1, HG_OPF_DIFF)                                                \
    X(transpose, 1, HG_OPF_DIFF)                                              \
    X(broadcast_to, 1, HG_OPF_DIFF)                                           \
    X(slice, 1, HG_OPF_DIFF)                                                  \
    X(concat, -1, HG_OPF_DIFF)                                                \
    X(pad, 1, HG_OPF_DIFF)                                                    \
    X(gather, 2, HG_OPF_DIFF)                                                 \
    X(scatter_add, 2, HG_OPF_DIFF)                                            \
    X(scatter_max, 2, HG_OPF_DIFF)                                            \
    X(iota, 0, 0)                                                             \
    X(cast, 1, HG_OPF_DIFF)                                                   \
    X(stop_gradient, 1, 0)                                                    \
    X(knn, 2, 0)                                                              \
    X(layer_norm, 1, HG_OPF_DIFF | HG_OPF_COMPOSITE)                          \
    X(softmax, 1, HG_OPF_DIFF | HG_OPF_COMPOSITE)                             \
    X(attention, 4, HG_OPF_DIFF | HG_OPF_COMPOSITE)                           \
    X(attention_lse, 4, HG_OPF_DIFF | HG_OPF_COMPOSITE)                       \
    X(attention_grad, 7, HG_OPF_DIFF | HG_OPF_COMPOSITE)                      \
    X(random_uniform, 3, HG_OPF_RANDOM)                                       \
    X(random_normal, 3, HG_OPF_RANDOM)

typedef enum {
#define HG_OP_ENUM(name, arity, flags) HG_OP_##name,
    HG_OP_LIST(HG_OP_ENUM)
#undef HG_OP_ENUM
    HG_NUM_OPS
} hg_op;

/* ----- per-op traits (ir/op_traits.def, one row per op) */

/* The attributes (hg_attrs fields) an op reads; the text format carries
 * exactly these, printed in this order. */
typedef enum {
    HG_ATTR_NAME, HG_ATTR_DATA, HG_ATTR_AXES, HG_ATTR_KEEPDIMS, HG_ATTR_TRANS_A,
    HG_ATTR_TRANS_B, HG_ATTR_PERM, HG_ATTR_STARTS, HG_ATTR_STEPS, HG_ATTR_AXIS,
    HG_ATTR_SIZE, HG_ATTR_PAD_LO, HG_ATTR_PAD_HI, HG_ATTR_VALUE, HG_ATTR_K,
    HG_ATTR_BOX, HG_ATTR_EPS, HG_ATTR_SCALE, HG_ATTR_STREAM, HG_NUM_ATTRS
} hg_attr;
#define HG_ATTR_BIT(a) (1u << HG_ATTR_##a)

/* Sets of dtypes (bit t = dtype t). */
#define HG_DTS(t) (1u << (t))
#define HG_DTS_FLOAT (HG_DTS(HG_F32) | HG_DTS(HG_F64))
#define HG_DTS_I32 HG_DTS(HG_I32)
#define HG_DTS_BOOL HG_DTS(HG_BOOL)
#define HG_DTS_ANY (HG_DTS_FLOAT | HG_DTS_I32 | HG_DTS_BOOL)

/* FLOP rules of the cost model (hg_node_flops), k = flops_k:
 *   NONE       0
 *   OUT        k per output element
 *   IN         k per element of input 0
 *   MEAN       1 per input element + 1 per output element
 *   MATMUL     k M N K per batch matrix (k = 2: a multiply-add)
 *   ATTENTION  2 B H Nq Nk (D + Dv) + k B H Nq Nk
 *   KNN        k per candidate pair, B N N pairs */
typedef enum {
    HG_FLOPS_NONE = 1, HG_FLOPS_OUT, HG_FLOPS_IN, HG_FLOPS_MEAN,
    HG_FLOPS_MATMUL, HG_FLOPS_ATTENTION, HG_FLOPS_KNN
} hg_flop_rule;

/* Byte rules (hg_node_bytes): NONE 0 (leaves); IO every input read once
 * plus the output written once. */
typedef enum { HG_BYTES_NONE = 1, HG_BYTES_IO } hg_byte_rule;

/* Fusibility classes, read by the fusion pass:
 *   ELEMENTWISE  out[i] is a function of the inputs at the broadcast index
 *                i (the elementwise ops, cast, stop_gradient) or of i
 *                alone (iota, random_*: the Philox counter is a function
 *                of the element index)
 *   BROADCAST    broadcast_to: an index remap that repeats elements
 *   SHAPE        reshape transpose slice concat pad: other index remaps
 *   REDUCE       sum mean max over attrs.axes
 *   ROW          layer_norm softmax: a function of each last-axis row
 *   MATMUL       matmul (epilogues may fuse into it)
 *   OPAQUE       everything else (leaves, gather, scatter_*, knn,
 *                attention): a kernel of its own */
typedef enum {
    HG_FUSE_ELEMENTWISE = 1, HG_FUSE_BROADCAST, HG_FUSE_SHAPE, HG_FUSE_REDUCE,
    HG_FUSE_ROW, HG_FUSE_MATMUL, HG_FUSE_OPAQUE
} hg_fuse_class;

/* One row of the op table: HG_OP_LIST gives name, arity, flags;
 * ir/op_traits.def the rest (a zero rule means the op has no traits row,
 * which the tests reject). */
typedef struct {
    const char *name;
    int arity;      /* -1: variadic */
    unsigned flags; /* HG_OPF_* */
    unsigned attrs; /* HG_ATTR_BIT set: the attributes the op reads */
    /* HG_DTS set: the dtypes the op is defined for, of its data: the
     * output for leaves, iota and random_*; the branches x, y (inputs 1,
     * 2) for where; input 0 otherwise. Elementwise ops: the dtype classes
     * whose slot ir/elementwise.def defines. */
    unsigned dtypes;
    int writes_all; /* its kernel assigns every output element (an arena
                     * output needs no zero fill first) */
    hg_flop_rule flops;
    int flops_k;
    hg_byte_rule bytes;
    hg_fuse_class fuse;
} hg_op_info;

/* The op table (the project's one global). Indexed by hg_op. */
extern const hg_op_info hg_op_table[HG_NUM_OPS];
/* Op by name; -1 if unknown. */
int hg_op_from_name(const char *name);

/* ------------------------------------------------------------ the graph */

#define HG_MAX_INPUTS 16
#define HG_NAME_MAX 128

typedef int32_t hg_value; /* node id; HG_NONE for "no value / error" */
#define HG_NONE ((hg_value)-1)

/* Attributes; which fields an op uses is given in the op table comment. */
typedef struct {
    int naxes;
    int64_t axes[HG_MAX_RANK]; /* reductions */
    int keepdims;
    int64_t perm[HG_MAX_RANK];   /* transpose */
    int64_t starts[HG_MAX_RANK]; /* slice */
    int64_t steps[HG_MAX_RANK];  /* slice */
    int64_t pad_lo[HG_MAX_RANK]; /* pad */
    int64_t pad_hi[HG_MAX_RANK]; /* pad */
    double value;                /* pad fill */
    int axis;                    /* concat, gather, scatter_*, iota */
    int64_t size;                /* scatter_* output size along axis */
    int trans_a, trans_b;        /* matmul */
    int k;                       /* knn */
    double box;                  /* knn periodic box side (0 = none) */
    double eps;                  /* layer_norm */
    double scale;                /* attention logit scale */
    int stream;                  /* random_*: builder-assigned stream id */
    char name[HG_NAME_MAX];      /* input, state */
} hg_attrs;

typedef struct {
    hg_op op;
    hg_dtype dtype;
    hg_shape shape;
    int n_in;
    hg_value in[HG_MAX_INPUTS];
    hg_attrs attrs;
    void *data; /* constant payload (numel * dtype size bytes), owned by the graph */
    int line;   /* source line when parsed from text, else 0 */
} hg_node;

typedef struct {
    char name[HG_NAME_MAX];
    hg_value value;
} hg_output;

/* A state update: after a call, state `state` takes the value `value`. */
typedef struct {
    hg_value state;
    hg_value value;
} hg_update;

typedef struct hg_graph {
    hg_node *nodes;
    int n_nodes, cap_nodes;
    hg_output *outputs;
    int n_outputs, cap_outputs;
    hg_update *updates;
    int n_updates, cap_updates;
    int next_stream; /* next random stream id */
    hg_status err;   /* first builder error (sticky) */
} hg_graph;

/* Graph lifetime. hg_graph_new returns NULL only when out of memory. */
hg_graph *hg_graph_new(void);
void hg_graph_free(hg_graph *g);
/* Deep copy (nodes, constant data, outputs, updates); NULL on OOM. */
hg_graph *hg_graph_clone(const hg_graph *g);
/* The sticky builder error (HG_OK if none). */
hg_status hg_graph_status(const hg_graph *g);
const hg_node *hg_node_at(const hg_graph *g, hg_value v); /* NULL if out of range */
hg_shape hg_value_shape(const hg_graph *g, hg_value v);
hg_dtype hg_value_dtype(const hg_graph *g, hg_value v);

/* Low-level: append a node after checking arity, dtypes and attributes
 * with hg_infer. `dtype`/`shape` are the output for ops whose output is not
 * determined by the inputs (leaves, reshape, broadcast_to, slice, iota,
 * cast, random_*); for every other op they are ignored and the inferred
 * result is used (the parser checks a stated type separately).
 * Returns the new id, or HG_NONE with the sticky error set. The parser and
 * passes use it; models use the typed helpers below. */
hg_value hg_add_node(hg_graph *g, hg_op op, hg_dtype dtype, hg_shape shape,
                     int n_in, const hg_value *in, const hg_attrs *attrs);
/* The op's shape rule: 0 ok, -1 with msg set. For ops whose output is not
 * determined by the inputs (leaves, reshape, broadcast_to, slice, iota,
 * cast, random_*), *dtype and *shape hold the requested output on entry and
 * are checked against the inputs and attributes; for all other ops they are
 * outputs. */
int hg_infer(const hg_graph *g, hg_op op, int n_in, const hg_value *in,
             const hg_attrs *attrs, hg_dtype *dtype, hg_shape *shape,
             char *msg, size_t msgn);

/* ----- leaves */
/* Constant tensor; data (numel * size bytes) is copied. */
hg_value hg_constant(hg_graph *g, hg_dtype t, hg_shape s, const void *data);
/* Constant filled with one value (converted to t). */
hg_value hg_fill(hg_graph *g, hg_dtype t, hg_shape s, double value);
hg_value hg_scalar(hg_graph *g, hg_dtype t, double value); /* rank 0 */
hg_value hg_input(hg_graph *g, const char *name, hg_dtype t, hg_shape s);
hg_value hg_state(hg_graph *g, const char *name, hg_dtype t, hg_shape s);
/* Finds the input/state node of that name; HG_NONE if none. */
hg_value hg_find_input(const hg_graph *g, const char *name);
hg_value hg_find_state(const hg_graph *g, const char *name);

/* ----- graph outputs and state updates */
/* Adds (or replaces) a named output. 0 ok, -1 (sticky error set). */
int hg_set_output(hg_graph *g, const char *name, hg_value v);
hg_value hg_find_output(const hg_graph *g, const char *name); /* HG_NONE if absent */
/* Declares `value` the new value of state node `state` (same dtype/shape). */
int hg_set_update(hg_graph *g, hg_value state, hg_value value);

/* ----- typed builders (sticky errors; HG_NONE in -> HG_NONE out) */
hg_value hg_unary(hg_graph *g, hg_op op, hg_value x);
hg_value hg_binary(hg_graph *g, hg_op op, hg_value x, hg_value y);
hg_value hg_neg(hg_graph *g, hg_value x);
hg_value hg_exp(hg_graph *g, hg_value x);
hg_value hg_log(hg_graph *g, hg_value x);
hg_value hg_sqrt(hg_graph *g, hg_value x);
hg_value hg_square(hg_graph *g, hg_value x);
hg_value hg_sigmoid(hg_graph *g, hg_value x);
hg_value hg_tanh(hg_graph *g, hg_value x);
hg_value hg_gelu(hg_graph *g, hg_value x); /* gelu_tanh */
hg_value hg_add(hg_graph *g, hg_value x, hg_value y);
hg_value hg_sub(hg_graph *g, hg_value x, hg_value y);
hg_value hg_mul(hg_graph *g, hg_value x, hg_value y);
hg_value hg_div(hg_graph *g, hg_value x, hg_value y);
/* x (op) scalar constant of x's dtype */
hg_value hg_add_s(hg_graph *g, hg_value x, double s);
hg_value hg_mul_s(hg_graph *g, hg_value x, double s);
hg_value hg_where(hg_graph *g, hg_value c, hg_value x, hg_value y);
/* Reductions over `axes` (naxes = 0: all axes; negative axes count from the end). */
hg_value hg_reduce(hg_graph *g, hg_op op, hg_value x, int naxes,
                   const int *axes, int keepdims);
hg_value hg_sum_all(hg_graph *g, hg_value x); /* rank-0 sum */
hg_value hg_matmul(hg_graph *g, hg_value a, hg_value b, int trans_a, int trans_b);
hg_value hg_reshape(hg_graph *g, hg_value x, hg_shape s);
hg_value hg_transpose(hg_graph *g, hg_value x, const int *perm);
hg_value hg_broadcast_to(hg_graph *g, hg_value x, hg_shape s);
/* Slice with step 1: starts[rank], sizes[rank]. */
hg_value hg_slice(hg_graph *g, hg_value x, const int64_t *starts, const int64_t *sizes);
/* Slice of one axis [start, start + size) (negative axis from the end). */
hg_value hg_slice_axis(hg_graph *g, hg_value x, int axis, int64_t start, int64_t size);
hg_value hg_concat(hg_graph *g, int n, const hg_value *xs, int axis);
hg_value hg_pad(hg_graph *g, hg_value x, const int64_t *lo, const int64_t *hi, double value);
hg_value hg_gather(hg_graph *g, hg_value x, hg_value idx, int axis);
hg_value hg_scatter_add(hg_graph *g, hg_value src, hg_value idx, int axis, int64_t size);
hg_value hg_scatter_max(hg_graph *g, hg_value src, hg_value idx, int axis, int64_t size);
hg_value hg_iota(hg_graph *g, hg_dtype t, hg_shape s, int axis);
hg_value hg_cast(hg_graph *g, hg_value x, hg_dtype t);
hg_value hg_stop_gradient(hg_graph *g, hg_value x);
hg_value hg_knn(hg_graph *g, hg_value pos, hg_value mask, int k, double box);
hg_value hg_layer_norm(hg_graph *g, hg_value x, double eps);
hg_value hg_softmax(hg_graph *g, hg_value x);
hg_value hg_attention(hg_graph *g, hg_value q, hg_value k, hg_value v,
                      hg_value mask, double scale);
/* attention_lse (see the op list): [B, H, Nq] log-sum-exp rows. */
hg_value hg_attention_lse(hg_graph *g, hg_value q, hg_value k, hg_value v,
                          hg_value mask, double scale);
/* attention_grad: in = {q, k, v, mask, o, lse, do}; axis 0/1/2 = dq/dk/dv. */
hg_value hg_attention_grad(hg_graph *g, const hg_value *in, int axis, double scale);
/* Random tensors; a fresh stream id is assigned from g->next_stream. */
hg_value hg_random_uniform(hg_graph *g, hg_dtype t, hg_shape s, hg_value seed,
                           hg_value step, hg_value replica);
hg_value hg_random_normal(hg_graph *g, hg_dtype t, hg_shape s, hg_value seed,
                          hg_value step, hg_value replica);

/* ----- verifier, text format */

/* Checks every node: op known, arity, input ids defined before use (so the
 * graph is acyclic), dtypes and shapes equal to what the shape rule infers,
 * attributes in range, names non-empty and unique per kind, outputs and
 * updates valid, random stream ids unique. Message: "node %N (op): what". */
hg_status hg_verify(const hg_graph *g);

/* Text format, one node per line:
 *   %3 = add f32[2,3] %1 %2
 *   %0 = input f32[2,3] name="x"
 *   %5 = sum f32[3] %4 axes=[0] keepdims=0
 *   output "loss" %7
 *   update %2 %9
 * Printing then parsing gives an identical graph (floats printed exactly). */
hg_status hg_print(const hg_graph *g, FILE *f);
/* The same text as a malloc'd string (caller frees); NULL on OOM. */
char *hg_print_string(const hg_graph *g);
/* Parses text into a new graph (caller frees with hg_graph_free) and
 * verifies it. Errors name the line: "LINE: node %N: message". */
hg_status hg_parse(const char *text, hg_graph **out);
hg_status hg_parse_file(const char *path, hg_graph **out);

/* ------------------------------------------------------ cost model */

/* FLOPs of one execution of node v, SPEC 7 convention: 2 per multiply-add
 * in matmul/attention contractions, 1 per elementwise operation (a
 * transcendental, and gelu_tanh, count 1). The rule of each op is its
 * op_traits.def row (hg_flop_rule): elementwise, where, random ops: 1 per
 * output element; sum/max: 1 per input element; mean: 1 per input + 1 per
 * output element; matmul: 2 M N K per batch matrix; scatter_*: 1 per
 * source element; layer_norm: 7 per element (mean, centre, square,
 * variance, eps+rsqrt amortised, scale); softmax: 5 per element (max,
 * subtract, exp, sum, divide); attention: 2 B H Nq Nk (D + Dv) for the two
 * contractions + 7 B H Nq Nk (scale, mask, softmax); knn: 9 per candidate
 * pair (3 sub, 3 wrap, 3 mul-add) over all B N N pairs; data movement
 * (leaves, reshape, transpose, broadcast_to, slice, concat, pad, gather,
 * iota, cast, stop_gradient): 0. */
int64_t hg_node_flops(const hg_graph *g, hg_value v);
/* Bytes a naive kernel moves for node v: every input read once plus the
 * output written once (leaves: 0). */
int64_t hg_node_bytes(const hg_graph *g, hg_value v);

/* ------------------------------------------- counter-based RNG (Philox) */

/* Philox4x32-10 (Salmon et al., SC'11): one block of 4 random words from a
 * 2-word key and a 4-word counter. */
void hg_philox4x32_10(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]);
/* Its round constants: multipliers M0, M1 and key (Weyl) increments W0, W1
 * (the paper's Table 2; also emitted by the JIT, codegen/jit/jit_random.c). */
#define HG_PHILOX_M0 0xD2511F53u
#define HG_PHILOX_M1 0xCD9E8D57u
#define HG_PHILOX_W0 0x9E3779B9u
#define HG_PHILOX_W1 0xBB67AE85u
/* The draws of the random ops (element e of a tensor, see the op table):
 * key (seed, stream), counter (e / 4 low word, step, replica, e / 4 high
 * word), word w = out[e % 4].
 * uniform: (w >> 8) * 2^-24 in [0, 1).
 * normal: lanes (0,1) use words (0,1), lanes (2,3) words (2,3):
 *   u1 = ((w_a >> 8) + 1) 2^-24 in (0, 1], u2 = (w_b >> 8) 2^-24,
 *   r = sqrt(-2 log u1); first lane r cos(2 pi u2), second r sin(2 pi u2).
 * Computed in double; the op rounds to its dtype. */
double hg_rng_uniform(uint32_t seed, uint32_t stream, uint32_t step,
                      uint32_t replica, uint64_t element);
double hg_rng_normal(uint32_t seed, uint32_t stream, uint32_t step,
                     uint32_t replica, uint64_t element);
/* The Box-Muller step of hg_rng_normal from its two words (w_a, w_b) of
 * the block: r cos(2 pi u2) when second is 0, r sin(2 pi u2) otherwise
 * (double, libm's log/sqrt/cos/sin; the JIT calls it per element so that
 * its draws are the reference's bits). */
double hg_rng_box_muller(uint32_t wa, uint32_t wb, int32_t second);

/* ------------------------------------------------------ tensors and maps */

/* A dense row-major tensor. `data` is owned by the tensor when `owned`. */
typedef struct {
    hg_dtype dtype;
    hg_shape shape;
    void *data;
    int owned;
} hg_tensor;

/* Allocates a zero-filled owned tensor; status HG_ERR_NOMEM on failure. */
hg_status hg_tensor_alloc(hg_tensor *t, hg_dtype dtype, hg_shape shape);
void hg_tensor_free(hg_tensor *t); /* frees data if owned; t becomes empty */
size_t hg_tensor_bytes(const hg_tensor *t);
/* Owned deep copy. */
hg_status hg_tensor_copy(hg_tensor *dst, const hg_tensor *src);
/* Element i converted to double / stored from double (any dtype). */
double hg_tensor_get(const hg_tensor *t, int64_t i);
void hg_tensor_set(hg_tensor *t, int64_t i, double v);

/* A name -> tensor map (graph inputs, outputs, the state store). Entries
 * keep insertion order; the map owns its tensors. */
typedef struct {
    char name[HG_NAME_MAX];
    hg_tensor t;
} hg_map_entry;

typedef struct {
    hg_map_entry *e;
    int n, cap;
} hg_tensor_map;

void hg_map_init(hg_tensor_map *m);
void hg_map_free(hg_tensor_map *m); /* frees every tensor */
/* Pointer to the tensor of that name, or NULL. */
hg_tensor *hg_map_get(const hg_tensor_map *m, const char *name);
/* Inserts or replaces; takes ownership of *t's data (t is emptied). */
hg_status hg_map_put(hg_tensor_map *m, const char *name, hg_tensor *t);
/* Inserts or replaces with a zero-filled tensor; returns it via *out. */
hg_status hg_map_alloc(hg_tensor_map *m, const char *name, hg_dtype dtype,
                       hg_shape shape, hg_tensor **out);

#include "ir/atomic.h"

#endif
