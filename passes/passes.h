/* halograph passes: graph-to-graph transformations on the IR of ir/ir.h.
 *
 *   autodiff     hg_grad: reverse mode, one VJP rule per differentiable op
 *   simplify     hg_dce, hg_simplify: dead code elimination, folding of
 *                splat (all-equal) constants, x*1 / x+0 removal
 *   decompose    hg_decompose: composite ops -> primitive ops
 *   optimizers   AdamW (SPEC 5), SGD with momentum, gradient clipping,
 *                learning-rate schedules computed in the graph
 *   train step   hg_train_step_graph: one graph = forward + backward +
 *                clipping + update (DESIGN.md "Training step = one graph")
 *
 * Every pass keeps random-op stream ids (attrs.stream) unchanged, so a
 * transformed graph draws exactly the same random numbers.
 */
#ifndef HG_PASSES_H
#define HG_PASSES_H

#include "ir/ir.h"
#include "passes/schedule.h"

/* ============================================================= autodiff */

/* Reverse-mode automatic differentiation (DESIGN.md "Autodiff is
 * graph-to-graph"). Appends to `g` the nodes computing the gradient of
 * `loss` with respect to each of wrt[0..n_wrt), and stores their ids in
 * grads[0..n_wrt) (grads[i] has the dtype and shape of wrt[i]).
 *
 * loss:  a float value. A rank-0 loss is the usual case; for a loss of
 *        any other shape the gradient of sum(loss) is returned (the seed
 *        cotangent is all ones).
 * wrt:   any float values of g (typically `input` or `state` leaves; an
 *        intermediate value gets the gradient through its uses downstream
 *        of it). A wrt value on which loss does not depend (or only through
 *        non-differentiable ops) gets zeros (a broadcast of a scalar 0).
 *
 * Rules (one per op flagged HG_OPF_DIFF, see hg_grad_has_rule):
 *  - broadcasting binary ops, where, matmul batch dims and broadcast_to
 *    sum the gradient over broadcast axes and reshape it to the input shape;
 *  - max reduction, maximum, minimum, scatter_max: the gradient goes to the
 *    elements equal to the maximum (minimum); TIES SHARE IT EQUALLY (k tied
 *    maxima each get 1/k; maximum(x, y) with x == y gives half to each);
 *  - floor_mod(x, y): d/dx = 1, d/dy = -floor(x / y) (almost everywhere);
 *  - floor, round: gradient 0 (nothing is propagated);
 *  - abs: sign(x) (0 at x = 0);
 *  - pow(x, y): d/dx = y x^(y-1), d/dy = x^y log(x) where x > 0, else 0;
 *  - cast: float->float casts pass the gradient (cast back to the input
 *    dtype); casts to or from i32/bool cut it;
 *  - gather <-> scatter_add are each other's adjoint (out-of-range
 *    indices get / give 0);
 *  - layer_norm, softmax: VJPs built from primitive and composite
 *    differentiable ops;
 *  - attention: an attention_lse node and one attention_grad node per
 *    needed input (the mask gets no gradient); attention_lse and
 *    attention_grad are differentiated through their decomposition
 *    (hg_decompose_node), so attention has a second derivative.
 * Ops without HG_OPF_DIFF pass no gradient: stop_gradient, knn,
 * comparisons, logical ops, sign, iota, random_*; i32/bool values never
 * carry gradients.
 *
 * Higher order: the appended nodes use only differentiable ops plus
 * piecewise-constant ones (comparisons, sign, casts of bool) whose
 * derivative is zero almost everywhere, so hg_grad can be applied to a
 * gradient (SPEC 3.2: the continuous-time loss contains d gamma / d t).
 * Several contributions to one value are summed with `add`; the backward
 * part has O(size of the forward part) nodes.
 *
 * Errors: HG_ERR_INVALID if loss or a wrt value is out of range or not
 * float, or the graph already holds a builder error; the sticky error of
 * g if a builder call fails (grads are then unspecified). */
hg_status hg_grad(hg_graph *g, hg_value loss, int n_wrt, const hg_value *wrt,
                  hg_value *grads);

/* 1 if hg_grad has a VJP rule for `op`, else 0. Every op flagged
 * HG_OPF_DIFF in hg_op_table must have one (tests/test_grad.c checks). */
int hg_grad_has_rule(hg_op op);

/* Sums `x` over the axes along which it was broadcast to reach its shape
 * from `target` (numpy rules: leading extra axes, and axes where target has
 * extent 1), then reshapes to `target`. Returns x itself if the shapes are
 * equal. Used by the VJP rules; sticky errors as the builders. */
hg_value hg_unbroadcast(hg_graph *g, hg_value x, hg_shape target);

/* ========================================================= simplify */

/* Dead code elimination. Builds in *out a new compacted graph holding the
 * nodes of g that the outputs and state updates need, plus every `input`
 * and `state` leaf (so the graph's interface does not change), in the same
 * relative order. Node ids change: if map is non-NULL it receives, for each
 * node id of g (map has g->n_nodes entries), its id in *out or HG_NONE if
 * it was removed. Outputs, updates, attributes, constant data and random
 * stream ids (and next_stream) are kept. g is not modified.
 * Errors: HG_ERR_INVALID if g holds a builder error; HG_ERR_NOMEM. */
hg_status hg_dce(const hg_graph *g, hg_graph **out, hg_value *map);

/* Local simplification followed by hg_dce. Rewrites, applied in one
 * forward sweep:
 *  - splat constants: a constant whose elements are all equal, and
 *    broadcast_to/reshape of a splat, become broadcast_to(scalar constant)
 *    (or the scalar itself); unary and binary arithmetic ops on splats of
 *    the same value fold to a splat computed in double and rounded to the
 *    dtype, only for ops whose IEEE result is the correctly rounded one
 *    (neg, sqrt, square, reciprocal, add, sub, mul, div, maximum, minimum),
 *    so folding never changes a value;
 *  - x * 1, 1 * x, x / 1, x + 0, 0 + x, x - 0 -> x when x already has the
 *    result's dtype and shape (exact up to the sign of a zero result:
 *    -0 + 0 is +0; x * 0 is NOT folded because inf * 0 = NaN);
 *  - neg(neg(x)) -> x; reshape(reshape(x)) -> reshape(x); reshape or
 *    broadcast_to to x's own shape -> x; broadcast_to(broadcast_to(x)) ->
 *    broadcast_to(x); cast to x's own dtype -> x;
 *  - common subexpressions: two non-random, non-leaf nodes with the same
 *    op, dtype, shape, inputs and attributes are merged (constants with
 *    equal bytes too).
 * Random ops are never merged or removed when live; their stream ids are
 * kept. map as in hg_dce (ids of g -> ids of *out, HG_NONE if removed).
 * Errors: as hg_dce. */
hg_status hg_simplify(const hg_graph *g, hg_graph **out, hg_value *map);

/* ======================================================== decompose */

/* Appends to g the decomposition of one composite op (HG_OPF_COMPOSITE)
 * into primitive ops, applied to inputs in[] of g with attributes attrs,
 * and returns its value (dtype and shape of the composite op's output):
 *  - layer_norm(x):  xc = x - mean(x), var = mean(xc^2) (last axis,
 *    population variance), xc * rsqrt(var + eps);
 *  - softmax(x):     e = exp(x - max(x)), e / sum(e) (last axis);
 *  - attention(q, k, v, mask): softmax(where(mask != 0, scale q k^T,
 *    lowest finite value of the dtype)) v, with the softmax as above.
 * Sticky errors as the builders; HG_NONE (and the error "... is not a
 * composite op") for any other op. */
hg_value hg_decompose_node(hg_graph *g, hg_op op, const hg_value *in, const hg_attrs *attrs);

/* Copies g into a new graph *out (caller frees) with every composite node
 * replaced by hg_decompose_node; every other node, the outputs, updates
 * and random stream ids are kept. map as in hg_dce (ids of g -> ids of
 * *out; a composite node maps to its decomposition's result). g is not
 * modified. Errors: HG_ERR_INVALID if g holds a builder error; HG_ERR_NOMEM. */
hg_status hg_decompose(const hg_graph *g, hg_graph **out, hg_value *map);
/* hg_decompose of the composite nodes whose op `keep` refuses (keep(op)
 * == 0; keep NULL: every composite node), e.g. a backend's
 * keeps_composite (runtime/backend.h); the kept composite nodes are
 * copied. Errors: as hg_decompose. */
hg_status hg_decompose_some(const hg_graph *g, int (*keep)(hg_op op), hg_graph **out,
                            hg_value *map);

/* ======================================================== remat */

/* Copies g into a new graph *out (caller frees) in which every unary
 * elementwise, non-random value y = f(x) of at least min_numel elements
 * whose input x is still live at a user u of y more than min_distance
 * nodes after y is recomputed (a copy of y's node, inserted just before
 * the first such u; u and every later user of y read the copy). No value
 * lives longer; y's own lifetime ends at its last earlier user. Typical
 * case: an activation read by the next matmul and, in the backward pass,
 * by that matmul's weight gradient next to the activation's VJP, which
 * reads x. Values (and their bits) are those of g; outputs, updates and
 * random streams are kept. *n_copies (may be NULL): how many copies.
 * Errors: HG_ERR_INVALID if g holds a builder error; HG_ERR_NOMEM. */
hg_status hg_remat(const hg_graph *g, int min_distance, int64_t min_numel, hg_graph **out,
                   int *n_copies);
/* The settings the planning backends (runtime/program.c) and dump-ir's
 * fused/scheduled stages use: only forward-to-backward lifetimes of large
 * values are cut (64 nodes apart, at least 64K elements). */
#define HG_REMAT_MIN_DISTANCE 64
#define HG_REMAT_MIN_NUMEL ((int64_t)1 << 16)

/* ======================================================== optimizers */

typedef enum { HG_OPTIM_ADAMW = 0, HG_OPTIM_SGD } hg_optim_kind;
typedef enum { HG_CLIP_NONE = 0, HG_CLIP_ELEMENTWISE, HG_CLIP_GLOBAL_NORM } hg_clip_kind;
typedef enum { HG_LR_CONSTANT = 0, HG_LR_WARMUP_COSINE } hg_lr_kind;

/* Optimizer configuration (SPEC 5). */
typedef struct {
    hg_optim_kind kind;
    /* learning rate: `lr` is the constant rate or the cosine peak */
    hg_lr_kind schedule;
    double lr;
    int64_t warmup_steps; /* W (warmup-cosine); 0 = no warmup */
    int64_t total_steps;  /* D = n_train_steps (warmup-cosine), D > W */
    /* AdamW */
    double beta1, beta2, eps;
    double weight_decay; /* AdamW: decoupled; SGD: coupled (g + wd p) */
    /* SGD */
    double momentum; /* 0 = plain SGD (no momentum state) */
    /* clipping, applied to the raw gradients before the optimizer */
    hg_clip_kind clip;
    double clip_value; /* c: elementwise bound or maximum global norm */
} hg_optim_config;

/* The SPEC 5 reference configuration: AdamW, b1 0.9, b2 0.999, eps 1e-8,
 * wd 1e-4, elementwise clipping at 0.5, warmup-cosine with peak 3e-4,
 * W = 5000, D = 301000. */
void hg_optim_config_default(hg_optim_config *cfg);

/* Checks ranges (lr >= 0, 0 <= beta < 1, eps > 0, wd >= 0, 0 <= momentum
 * < 1, clip_value > 0 when clipping, D > W >= 0 for warmup-cosine).
 * HG_ERR_INVALID naming the field. */
hg_status hg_optim_config_check(const hg_optim_config *cfg);

/* Appends the learning rate lr(k) as an f64 rank-0 value computed from
 * `step`, an i32 rank-0 value holding k = number of updates already
 * applied (SPEC 5): constant: lr; warmup-cosine: peak k / W for k < W,
 * else peak 0.5 (1 + cos(pi min(k - W, D - W) / (D - W))). So lr(0) = 0
 * with warmup. Returns HG_NONE with the sticky error set on bad input. */
hg_value hg_optim_lr(hg_graph *g, const hg_optim_config *cfg, hg_value step);

/* Appends clipped gradients: clipped[i] for grads[i] (same dtype/shape).
 * HG_CLIP_ELEMENTWISE: min(max(g, -c), c). HG_CLIP_GLOBAL_NORM: with
 * n = sqrt(sum_i sum(g_i^2)) accumulated in f64, g * c / max(n, c) (so
 * nothing changes when n <= c). HG_CLIP_NONE: clipped[i] = grads[i].
 * Errors: HG_ERR_INVALID (bad config or values), sticky builder errors. */
hg_status hg_clip_gradients(hg_graph *g, const hg_optim_config *cfg, int n,
                            const hg_value *grads, hg_value *clipped);

/* Appends one optimizer update of the parameters params[0..n) (each a
 * float `state` node named by its parameter path) with gradients
 * grads[0..n) (already clipped), and declares the state updates:
 *   - step counter: i32 rank-0 state "opt/step" (created if absent), k;
 *     updated to k + 1;
 *   - AdamW (SPEC 5): states "opt/m/<path>", "opt/v/<path>";
 *     m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
 *     mh = m / (1 - b1^(k+1)), vh = v / (1 - b2^(k+1)),
 *     p <- p - lr(k) (mh / (sqrt(vh) + eps) + wd p);
 *   - SGD: with momentum mu > 0 a state "opt/m/<path>":
 *     m = mu m + (g + wd p), p <- p - lr(k) m; without: p <- p - lr(k) (g + wd p).
 * Scalars (lr, bias corrections) are computed in f64 and cast to each
 * parameter's dtype. Errors: HG_ERR_INVALID if a parameter is not a float
 * state node, has a path too long for "opt/m/" + path, or already has an
 * update; sticky builder errors. */
hg_status hg_optim_apply(hg_graph *g, const hg_optim_config *cfg, int n,
                         const hg_value *params, const hg_value *grads);

/* ======================================================== train step */

/* Builds the training-step graph (DESIGN.md "Training step = one graph",
 * SPEC 5): a copy of `model` extended with hg_grad of `loss` w.r.t. the
 * parameters params[0..n_params) (float `state` nodes of model), clipping
 * per cfg->clip, the optimizer update of parameters and optimizer state
 * (hg_optim_apply) and the step-counter increment; output "loss" is set to
 * `loss` and every output already declared in `model` (e.g. "loss_diff",
 * "loss_klz", "loss_recon") is kept. The result is simplified (hg_simplify,
 * which also removes dead forward values) and stored in *out (caller frees
 * with hg_graph_free). `model` is not modified. One execution of *out does
 * forward, backward, clipping and update; the runtime writes the new
 * parameter and optimizer state in place.
 * Errors: HG_ERR_INVALID for a bad loss (not float rank 0), parameter or
 * config (hg_optim_config_check); HG_ERR_NOMEM. */
hg_status hg_train_step_graph(const hg_graph *model, hg_value loss, int n_params,
                              const hg_value *params, const hg_optim_config *cfg,
                              hg_graph **out);

/* Adds to `state` the initial optimizer state a training-step graph
 * expects: every `state` node of `g` whose name starts with "opt/" and that
 * is not yet in the map gets a zero tensor of its dtype and shape
 * (moments 0, "opt/step" 0). Entries already present are left alone (so a
 * resumed checkpoint keeps its values). Errors: HG_ERR_NOMEM. */
hg_status hg_optim_init_state(const hg_graph *g, hg_tensor_map *state);

/* ==================================================== memory planning */

/* How a value of a memory plan gets its storage. */
typedef enum {
    HG_MP_UNUSED = 0, /* not needed by any output or update: never computed */
    HG_MP_EXTERNAL,   /* constant/input/state leaf: the caller's buffer */
    HG_MP_OWN,        /* a fresh block of the arena */
    HG_MP_INPLACE,    /* takes the block of an input that dies at this node */
    HG_MP_ALIAS,      /* reshape/stop_gradient: the input's storage, no copy */
    HG_MP_INTERNAL    /* computed inside a fusion group, read by no other kernel:
                         no storage (registers or kernel scratch) */
} hg_mp_kind;

/* A memory plan (DESIGN.md "Memory is planned, not allocated"): liveness
 * over a schedule's kernels, one arena, a byte offset per kernel output.
 * Time is counted in steps: kernel k of the schedule runs at step k for
 * hg_memplan_schedule; hg_memplan labels the reference schedule's kernels
 * by their node id instead (as it always has), so there a step is a node
 * id. n_steps is the end of the run (n_kernels, resp. n_nodes). All arrays
 * have n_nodes entries, indexed by value id.
 *   needed[v]    1 if v is computed (an output/update depends on it, or v
 *                is an updated state);
 *   last_use[v]  the step of the last kernel reading v, n_steps if v is a
 *                graph output or an update value (kept to the end of the
 *                run), v's own step if nothing outside its kernel reads it
 *                (a leaf's step: its node id for hg_memplan, 0 for
 *                hg_memplan_schedule); -1 if not needed;
 *   kind[v]      hg_mp_kind;
 *   block[v]     the arena block holding v (-1: none, i.e. external,
 *                internal or unused, or an alias of an external value);
 *   root[v]      for an alias, the non-alias value whose storage it shares
 *                (follows chains of reshape/stop_gradient); v otherwise;
 *   offset[v]    byte offset of v in the arena (64-byte aligned), -1 when
 *                block[v] is -1;
 *   bytes[v]     numel * dtype size of v.
 * Blocks: n_blocks of them, block_offset/block_size (aligned to 64 bytes)
 * and the lifetime [block_start, block_end] in steps: block_start is the
 * step defining its first value, block_end the largest last_use of the
 * values stored in it. Two blocks whose lifetimes intersect never overlap
 * in the arena; values sharing a block are the in-place chain and the
 * aliases of its values, each of which is dead (last use <= the next one's
 * definition) before the next one is written.
 * Totals: arena_bytes, the peak (the arena size, max offset + size);
 * sum_bytes, the sum of the 64-aligned sizes of every kernel output that
 * is not an alias (what allocating each separately would take);
 * live_bytes_max, the largest sum of block sizes live at one step (a lower
 * bound for any placement of these blocks); n_inplace, n_alias counts. */
typedef struct {
    int n_nodes;
    int n_steps;
    char *needed;
    int *last_use;
    unsigned char *kind;
    int *block;
    int *root;
    int64_t *offset;
    int64_t *bytes;
    int n_blocks;
    int64_t *block_offset, *block_size;
    int *block_start, *block_end;
    int64_t arena_bytes, sum_bytes, live_bytes_max;
    int n_inplace, n_alias;
} hg_mem_plan;

#define HG_MEMPLAN_ALIGN 64

/* Plans the memory of schedule s of graph g (g must verify, s must pass
 * hg_schedule_check): only kernel outputs get storage; values internal to
 * a kernel are HG_MP_INTERNAL. Liveness in kernel order (a value lives
 * from its kernel's step to the last kernel reading it). Storage:
 *  - reshape and stop_gradient (OP kernels) alias their input (no copy);
 *    leaves and aliases of leaves are never written, no block holds a leaf;
 *  - in place: an output may take the block of one of its kernel's inputs
 *    when every value in that block has its last use at this kernel, the
 *    aligned sizes are equal, and every input of the kernel stored in that
 *    block has the output's dtype and shape (so it is read at exactly the
 *    element index the output is written at). Allowed for
 *      OP kernels of an HG_OPF_ELEMENTWISE op (the node's own inputs);
 *      LOOP kernels: the outputs of shape `space` other than the reduction;
 *      ROW kernels: the anchor and the members reading it (directly or
 *      through members), i.e. what the row's last pass writes;
 *    never for MATMUL kernels (the matmul reads whole rows and columns of
 *    its operands), MULTI kernels, or ROW members before the anchor. The
 *    contract this puts on a backend: a LOOP kernel reads all its inputs at
 *    element i before it writes any output at element i; a ROW kernel
 *    writes the anchor and the members after it in its last pass over a
 *    row, element j after every read of element j of that row of every
 *    input; neither marks two pointers into one block noalias;
 *  - block offsets by greedy best fit in decreasing order of size (ties:
 *    earlier definition first): each block goes into the smallest gap
 *    between the blocks already placed whose lifetimes intersect its own,
 *    else above the highest of them.
 * *out is filled (caller frees with hg_memplan_free). Errors:
 * HG_ERR_INVALID if g holds a builder error or s was made for another
 * graph; HG_ERR_NOMEM. */
hg_status hg_memplan_schedule(const hg_graph *g, const hg_schedule *s, hg_mem_plan *out);

/* The plan of the reference schedule (hg_schedule_nodes) of g, with steps
 * labelled by node id (see hg_mem_plan): in-place reuse for an op flagged
 * HG_OPF_ELEMENTWISE as above, aliases for reshape and stop_gradient.
 * Errors: HG_ERR_INVALID if g holds a builder error; HG_ERR_NOMEM. */
hg_status hg_memplan(const hg_graph *g, hg_mem_plan *out);
void hg_memplan_free(hg_mem_plan *p);

#endif
