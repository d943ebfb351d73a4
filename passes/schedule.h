/* Schedules: a graph as an ordered list of kernels (a sub-header of the
 * passes module, included by passes/passes.h; DESIGN.md "Data flow":
 * ... fuse ─ schedule ─ memplan ──► program).
 *
 * A kernel is one unit of work a backend runs: one node (the reference
 * interpreter's schedule, hg_schedule_nodes), or a fusion group made by
 * hg_fuse (passes/fuse.c): a loop nest of elementwise ops with at most one
 * trailing reduction, a row-wise group around softmax/layer_norm, a matmul
 * with a fused epilogue, or several nodes one backend routine computes
 * together (a fused attention backward computes dq, dk and dv at once).
 *
 * Vocabulary (used in every field comment below):
 *   member   a node the kernel computes;
 *   input    a value read by some member that is not a member (leaves
 *            included): the kernel's external inputs;
 *   output   a member whose value is read by a node outside the kernel, or
 *            is a graph output or an update value: only outputs get arena
 *            space (hg_memplan_schedule); every other member is internal
 *            (lives in registers or kernel scratch only).
 *
 * Order: kernels are in execution order; every input of a kernel is a leaf
 * or an output of an earlier kernel. Leaves (constant, input, state) are in
 * no kernel. Nodes no graph output or update depends on are in no kernel
 * (exactly the nodes the reference interpreter skips); an updated state is
 * needed even when nothing reads it.
 */
#ifndef HG_SCHEDULE_H
#define HG_SCHEDULE_H

#include "ir/ir.h"

typedef enum {
    /* One node, run by the backend's kernel for its op (matmul, gather,
     * knn, reshape, ...). members = {node}; space = the node's shape. */
    HG_KERNEL_OP = 0,
    /* Fusion group over one iteration space `space`: every member except
     * `reduce` is elementwise-class (HG_OPF_ELEMENTWISE, broadcast_to,
     * cast, random_*) with output shape == space; its inputs broadcast
     * (numpy rules) into space. `reduce` (HG_NONE or the last member) is a
     * sum/mean/max over a contiguous run of leading or trailing axes (or
     * all axes) whose input is a member of shape == space. */
    HG_KERNEL_LOOP,
    /* Row-wise group: `anchor` is a softmax or layer_norm over the last axis
     * of `space` (its shape); the other members are elementwise-class ops of
     * shape == space before it (prologue, feeding it) or after it
     * (epilogue, e.g. the scale and shift of a layer norm). */
    HG_KERNEL_ROW,
    /* `anchor` is a matmul, the first member; the other members are its
     * epilogue: a chain of elementwise-class ops of the matmul's shape
     * (bias add, residual add, scale, gelu_tanh), each reading the previous
     * member exactly once and otherwise values from outside (broadcast).
     * Only the last member is an output. space = the matmul's shape. */
    HG_KERNEL_MATMUL,
    /* Several nodes computed together by one backend routine chosen by the
     * op of `anchor` (e.g. the attention backward: its dq, dk, dv nodes). */
    HG_KERNEL_MULTI,
    HG_NUM_KERNEL_KINDS
} hg_kernel_kind;

/* Name of a kernel kind: "op", "loop", "row", "matmul", "multi". */
const char *hg_kernel_kind_name(hg_kernel_kind k);

typedef struct {
    hg_kernel_kind kind;
    int n_members;
    hg_value *members; /* ascending node ids; owned */
    int n_inputs;
    hg_value *inputs;  /* ascending, unique; owned */
    int n_outputs;
    hg_value *outputs; /* ascending, unique, a subset of members; owned */
    hg_shape space;    /* iteration space (see the kinds) */
    hg_value reduce;   /* LOOP: the trailing reduction member, else HG_NONE */
    hg_value anchor;   /* ROW / MATMUL / MULTI: the anchor node, else HG_NONE */
    char name[64];     /* for the profiler: the op for OP kernels, else e.g.
                          "loop:sub_exp_sum" (member ops, truncated) */
} hg_kernel;

typedef struct {
    int n_nodes;        /* of the graph the schedule was made for */
    int n_kernels;
    hg_kernel *kernels; /* execution order; owned */
    int *kernel_of;     /* [n_nodes]: the kernel computing node v, -1 for leaves
                           and nodes not needed; owned */
} hg_schedule;

/* The reference schedule of g (which must verify): one HG_KERNEL_OP
 * kernel per needed non-leaf node, in definition order. *out is filled
 * (caller frees with hg_schedule_free). Errors: HG_ERR_INVALID if g holds a
 * builder error; HG_ERR_NOMEM. */
hg_status hg_schedule_nodes(const hg_graph *g, hg_schedule *out);

/* Checks that s is a valid schedule of g: n_nodes matches; every needed
 * non-leaf node is a member of exactly one kernel and kernel_of agrees;
 * no leaf and no unneeded node is a member; members, inputs and outputs
 * ascending and unique; inputs and outputs exactly as defined above; every
 * input is a leaf or an output of an earlier kernel; the kind's shape rules
 * (OP: space = the node's shape; LOOP members of shape space, reduce last,
 * over leading or trailing axes, reading a member; ROW and MATMUL anchors
 * of the right op with space = the anchor's shape, the MATMUL chain; reduce
 * set only for LOOP, anchor only for ROW/MATMUL/MULTI). Message names the
 * kernel and node:
 * "kernel 3 (loop): node %12 ...". */
hg_status hg_schedule_check(const hg_graph *g, const hg_schedule *s);

/* needed[v] (n_nodes entries, caller frees) = 1 when node v is computed:
 * a graph output or update value depends on it, or it is an updated state
 * (the reference interpreter's rule). NULL when out of memory. */
char *hg_schedule_needed(const hg_graph *g);

/* Fills k->inputs and k->outputs (replacing them) from k->members, which
 * must be set and ascending, for graph g with needed[] as above: a
 * consumer that is not needed does not make a member an output. Used by
 * hg_fuse and every builder of schedules. Errors: HG_ERR_NOMEM. */
hg_status hg_kernel_fill_io(const hg_graph *g, const char *needed, hg_kernel *k);

/* Fills the inputs and outputs of every kernel of s (replacing them) from
 * the members and s->kernel_of, which must be set: the same sets as
 * hg_kernel_fill_io per kernel, in one pass over the graph's edges (the
 * per-kernel function scans the nodes after each member). Errors:
 * HG_ERR_NOMEM. */
hg_status hg_schedule_fill_io(const hg_graph *g, hg_schedule *s);

/* Prints the schedule as text, one kernel per line:
 *   kernel 4 loop f32[8,640,128] members %12 %13 %15 inputs %3 %11 outputs %15
 * Errors: HG_ERR_IO on a write error. */
hg_status hg_schedule_print(const hg_graph *g, const hg_schedule *s, FILE *f);

void hg_schedule_free(hg_schedule *s);

/* ---------------------------------------------------------- attention */

/* Merges the attention kernels of s (a valid schedule of g, e.g. from
 * hg_schedule_nodes or hg_fuse) into HG_KERNEL_MULTI kernels, in place
 * (passes/attention_group.c): the attention_grad nodes of one attention
 * (same seven inputs and scale) into one kernel anchored on the lowest
 * node id, and, unless in_order, each attention node with the
 * attention_lse node of the same inputs and scale. in_order: only kernels
 * adjacent in s merge, so the schedule still runs nodes in definition
 * order. The result passes hg_schedule_check. Errors: HG_ERR_NOMEM (s is
 * then still a valid schedule only if no kernel was merged yet: free it). */
hg_status hg_attention_group(const hg_graph *g, int in_order, hg_schedule *s);

/* ------------------------------------------------------------- fusion */

/* Options of hg_fuse. `kinds`: bit (1u << kind) set for each fusion-group
 * kind that may form (HG_KERNEL_LOOP, HG_KERNEL_ROW, HG_KERNEL_MATMUL);
 * 0 gives the reference schedule. `can_fuse` (NULL: yes to every node the
 * rules admit) asks the backend whether it can compute node v of g inside
 * a kernel of `kind` (a LOOP/ROW member, a ROW anchor, a MATMUL anchor or
 * epilogue member); it decides by op and dtype (v's and its inputs'), e.g.
 * a JIT that emits only float loops answers 0 for i32/bool nodes. A node
 * refused for every kind becomes an HG_KERNEL_OP kernel. `user` is passed
 * through. */
typedef struct {
    unsigned kinds;
    int (*can_fuse)(void *user, hg_kernel_kind kind, const hg_graph *g, hg_value v);
    void *user;
} hg_fuse_opts;

#define HG_FUSE_ALL_KINDS                                                     \
    ((1u << HG_KERNEL_LOOP) | (1u << HG_KERNEL_ROW) | (1u << HG_KERNEL_MATMUL))

/* kinds = HG_FUSE_ALL_KINDS, can_fuse = NULL, user = NULL. */
void hg_fuse_opts_default(hg_fuse_opts *o);

/* Groups the needed nodes of g (which must verify) into kernels: LOOP,
 * ROW and MATMUL fusion groups by the rules in passes/fuse.c's header
 * comment, every other node an HG_KERNEL_OP kernel; kernels in a valid
 * execution order (hg_schedule_check accepts *out). opts NULL: defaults.
 * *out is filled (caller frees with hg_schedule_free). Errors:
 * HG_ERR_INVALID if g holds a builder error; HG_ERR_NOMEM. */
hg_status hg_fuse(const hg_graph *g, const hg_fuse_opts *opts, hg_schedule *out);

#endif
