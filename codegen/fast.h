/* The "fast" backend (DESIGN.md "Key decisions: backends", "Memory is
 * planned, not allocated"): a verified graph and its schedule compiled once
 * with a memory plan (passes.h hg_memplan) and ONE arena, allocated and
 * pre-faulted at compile time and reused by every run, then run through
 * the shared executor (codegen/exec.h, views mode).
 *
 * A compiled program holds one IMPLEMENTATION RECORD per kernel of the
 * schedule (hg_fast_impl: a function pointer, its private data and views
 * of the kernel's inputs and outputs in the arena). Compilation fills
 * every record with fast's own implementation: for a one-node kernel the
 * kernel hg_fast_kernel_of(op) picks (codegen/fast_kernels.c: the
 * reference kernels unless an optimised one is plugged in there), and for
 * an f32 matmul a oneDNN 2.6 matmul primitive created at compile time
 * (batch broadcasting and transposes as strided memory descriptors; one
 * oneDNN refuses falls back to the reference kernel); for a kernel of
 * several members, each member's one-node implementation in ascending
 * node order. A backend built on fast (the `jit`) then REPLACES the
 * records of the kernels it compiled (hg_fast_set_impl) and leaves the
 * rest to fast.
 *
 * Numbers: every op except f32 matmul (and its post-ops) and f32
 * layer_norm is bit-identical to the reference interpreter. oneDNN sums a
 * matmul in another order (blocked, with FMA), and the layer_norm kernel
 * sums its rows' double partial sums in another order, so their results,
 * and everything computed from them, differ by rounding: tests/test_fast_backend.c checks every output and updated
 * state of every model graph kind against the reference with
 * |fast - ref| <= 1e-4 max(|ref|, 0.1 max|ref over the tensor|) in f32.
 *
 * Threads: OpenMP for the reference kernels and oneDNN (omp_set_num_threads).
 * A compiled hg_fast is not reentrant: one run at a time (it owns the arena).
 */
#ifndef HG_FAST_H
#define HG_FAST_H

#include "codegen/codegen.h"
#include "passes/passes.h"

typedef struct hg_fast hg_fast;
typedef struct hg_fast_impl hg_fast_impl;

/* Computes the kernel of `impl` from the views in impl->in into the views
 * in impl->out (vals is the program's whole value table, indexed by node
 * id, for implementations that read members or node inputs in node
 * order). An arena output is NOT zero-filled by the caller. Errors name
 * the node: "node %12 (exp): ...". */
typedef hg_status (*hg_fast_fn)(const hg_fast_impl *impl, hg_tensor *vals);

struct hg_fast_impl {
    hg_fast_fn run;
    void *data;                    /* the implementation's; freed with free_data */
    void (*free_data)(void *data); /* may be NULL */
    const hg_graph *g;             /* borrowed from the program */
    const hg_kernel *kernel;       /* its schedule kernel (borrowed) */
    int index;                     /* kernel index in the schedule */
    hg_tensor *const *in;  /* [kernel->n_inputs]: views in kernel->inputs order;
                              data valid during run (leaves rebound per run) */
    hg_tensor *const *out; /* [kernel->n_outputs]: arena views, kernel->outputs order */
    const hg_mem_plan *plan;       /* the program's memory plan */
};

/* Compiles g (which must pass hg_verify, checked here) with schedule s
 * (which must pass hg_schedule_check for g; hg_program_compile checks it)
 * for the fast backend: memory plan,
 * arena (plan.arena_bytes, 64-byte aligned, transparent huge pages from
 * 8 MiB on; touched once before the first run's first kernel so that no
 * kernel page-faults), oneDNN engine and stream, and one implementation record
 * per kernel. g and s are BORROWED: they must stay alive and unchanged
 * until hg_fast_free (the program executor passes its own copies).
 * The memory plan is made over nodes (hg_memplan), so the schedule's
 * kernels must run the nodes in definition order (the members of kernel
 * k all precede those of kernel k+1); a reordering schedule needs a plan
 * over the schedule. Errors: the verifier's message;
 * HG_ERR_UNSUPPORTED for a reordering schedule, an op without a kernel,
 * or if oneDNN cannot create a CPU engine or stream; HG_ERR_NOMEM. */
hg_status hg_fast_compile(const hg_graph *g, const hg_schedule *s, hg_fast **out);
/* As hg_fast_compile, with the memory plan over the schedule
 * (hg_memplan_schedule: any valid order; values internal to a kernel get
 * no storage, in-place outputs per its rules): for a backend built on fast
 * that overrides the kernels with internal members (the jit). fast's own
 * implementation of such a kernel fails at run time (HG_ERR_UNSUPPORTED,
 * naming the member without storage). */
hg_status hg_fast_compile_fused(const hg_graph *g, const hg_schedule *s, hg_fast **out);

/* Kernels of the program (= the schedule's) and the record of kernel k
 * (0 <= k < count; NULL otherwise), to inspect or override. */
int hg_fast_n_kernels(const hg_fast *f);
const hg_fast_impl *hg_fast_impl_at(const hg_fast *f, int k);
/* Replaces the implementation of kernel k: run (non-NULL), its data and
 * the function freeing it (called on replacement and by hg_fast_free);
 * the previous record's data is freed now. Views are kept. Errors:
 * HG_ERR_INVALID for k out of range or run NULL (data is then not
 * taken: the caller still owns it). */
hg_status hg_fast_set_impl(hg_fast *f, int k, hg_fast_fn run, void *data,
                           void (*free_data)(void *data));

/* Runs the compiled program once through the shared executor: the
 * contract of hg_exec_run (codegen/exec.h) and hg_program_run: inputs and
 * state by name with the nodes' dtypes and shapes (all checked before any
 * kernel runs), outputs stored under their names (owned copies), state
 * updates written in place after the whole graph ran; hooks (may be NULL)
 * get kernel_done after every kernel, aliases (reshape, stop_gradient)
 * included (time ~0). Nothing in `state` changes when an error is
 * returned. Errors: HG_ERR_INVALID naming a missing or mismatched
 * input/state ("node %N: input \"x\" missing", as the reference), kernel
 * errors prefixed with the node, HG_ERR_UNSUPPORTED for a oneDNN
 * execution failure, HG_ERR_NOMEM. */
hg_status hg_fast_run(hg_fast *f, hg_tensor_map *state, const hg_tensor_map *inputs,
                      hg_tensor_map *outputs, const hg_exec_hooks *hooks);

/* The memory plan the program runs with (read-only; valid until free). */
const hg_mem_plan *hg_fast_plan(const hg_fast *f);
/* Matmul nodes run by oneDNN / by the reference kernel (f64, empty, or
 * refused by oneDNN). */
void hg_fast_matmul_counts(const hg_fast *f, int *n_dnnl, int *n_ref);
/* Epilogue members of MATMUL kernels (passes/schedule.h) computed as oneDNN
 * post-ops of their matmul's primitive / one by one by the reference
 * kernels after it (oneDNN refused a post-op: an operand broadcast its
 * descriptors cannot state, an f64 or empty matmul). */
void hg_fast_epilogue_counts(const hg_fast *f, int *n_post, int *n_ref);

void hg_fast_free(hg_fast *f);

/* The one place fast picks the kernel of a one-node kernel of op `op`
 * (codegen/fast_kernels.c): an optimised kernel where one exists (e.g. a
 * fused attention), else the reference kernel (hg_ref_kernel_of). Same
 * contract as the reference kernels (codegen/ref_internal.h), except that
 * the output is zero-filled only when hg_fast_overwrites(op) is 0. NULL
 * for leaves and ops without a kernel. (The f32 matmul's oneDNN primitive
 * is chosen at compile time, since it needs per-node state.) */
hg_node_kernel hg_fast_kernel_of(hg_op op);
/* 1 if the kernel hg_fast_kernel_of(op) assigns every output element, so
 * its arena output needs no zero fill. */
int hg_fast_overwrites(hg_op op);

#endif
