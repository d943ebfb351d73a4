/* The shared executor (a sub-header of codegen/codegen.h; DESIGN.md "Data
 * flow"): the part of running a program that is the same for every
 * backend. It binds the fed inputs and states by name (dtype and shape
 * checked against the leaf nodes), runs the schedule's kernels in order
 * through the backend's per-kernel callback, frees or keeps values by
 * liveness, calls the hooks once per kernel, and commits the outputs and
 * the state updates only after every kernel succeeded.
 *
 * Storage comes in two modes (hg_exec_backend.heap):
 *   heap   (ref) the executor allocates every member of a kernel,
 *          zero-filled, just before the kernel runs, frees the kernel's
 *          internal members right after it, and frees every other value
 *          after the last kernel reading it;
 *   views  (fast, and every backend built on it) the backend owns the
 *          storage: vals[] holds its views (arena offsets) for every
 *          computed value, set once at compile time; the executor only
 *          points the leaves at the caller's tensors before each run.
 */
#ifndef HG_EXEC_H
#define HG_EXEC_H

#include "ir/ir.h"
#include "passes/schedule.h"

/* Optional per-kernel callback (the profiler hangs here; kernels never
 * branch on it). `kernel` indexes s->kernels; `seconds` is its wall time
 * (kernels run one after the other, so the times add up to the run). */
typedef struct {
    void (*kernel_done)(void *user, const hg_graph *g, const hg_schedule *s, int kernel,
                        double seconds);
    void *user;
} hg_exec_hooks;

/* Liveness and binding facts of one (graph, schedule), computed once per
 * program by hg_exec_plan_make. Arrays have g->n_nodes entries.
 *   needed[v]       v is computed or bound (hg_schedule_needed);
 *   last_kernel[v]  the last kernel reading v as an input; s->n_kernels
 *                   for graph outputs and update values (kept to the
 *                   commit); -1 if no kernel reads it;
 *   borrowed[v]     v's storage may be a caller's buffer: leaves, and
 *                   reshape/stop_gradient of a borrowed value (a views
 *                   backend aliases them); the commit copies such update
 *                   values before writing any state;
 *   leaves          the needed leaves (constant, input, state), ascending:
 *                   what a run binds. */
typedef struct {
    const hg_graph *g;    /* borrowed */
    const hg_schedule *s; /* borrowed */
    char *needed;
    int *last_kernel;
    char *borrowed;
    int n_leaves;
    hg_value *leaves;
} hg_exec_plan;

/* Makes the plan of schedule s of graph g (the caller has verified g and
 * checked s). g and s are borrowed and must outlive the plan.
 * Errors: HG_ERR_INVALID (graph error, schedule made for another graph),
 * HG_ERR_NOMEM. On error *p is empty (hg_exec_plan_free is safe). */
hg_status hg_exec_plan_make(const hg_graph *g, const hg_schedule *s, hg_exec_plan *p);
void hg_exec_plan_free(hg_exec_plan *p);

/* How a backend runs one kernel. */
typedef struct {
    /* Computes kernel k (p->s->kernels[k]): reads vals[] of its inputs,
     * writes vals[] of its outputs (and, in heap mode, may use the
     * pre-allocated internal members). The executor adds no prefix to
     * its errors: they name the node ("node %12 (exp): ..."). */
    hg_status (*run_kernel)(void *self, const hg_exec_plan *p, int k, hg_tensor *vals);
    void *self;
    int heap; /* 1: heap storage mode, 0: views mode (see above) */
} hg_exec_backend;

/* Runs the plan once.
 * vals:    [g->n_nodes] value table: heap mode, all empty on entry and on
 *          return (the executor frees what it allocated, also on error);
 *          views mode, the backend's views (leaf entries are overwritten).
 * inputs:  one tensor per needed `input` node, by name, with the node's
 *          dtype and shape (extra entries ignored); may be NULL if none.
 * state:   one tensor per needed `state` node, by name; after a
 *          successful call every declared update has been written into
 *          it in place (an update reading another state sees its old
 *          value).
 * outputs: every graph output stored under its name (an owned copy,
 *          replacing); may be NULL only for a graph without outputs.
 * hooks:   may be NULL; kernel_done after every kernel.
 * All leaves are bound and checked before any kernel runs.
 * Errors: HG_ERR_INVALID naming a missing or mismatched leaf
 * ("node %3: input \"x\" missing", "node %3: state \"w\": expected
 * f32[4], got f32[5]", "... has no data"), or outputs but no output map;
 * the kernel's error; HG_ERR_NOMEM. On error nothing in `state` changes
 * (and `outputs` is unchanged unless storing into it ran out of memory). */
hg_status hg_exec_run(const hg_exec_plan *p, const hg_exec_backend *b, hg_tensor *vals,
                      hg_tensor_map *state, const hg_tensor_map *inputs,
                      hg_tensor_map *outputs, const hg_exec_hooks *hooks);

#endif
