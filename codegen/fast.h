/* The "fast" backend (DESIGN.md "Two backends, one contract", "Memory is
 * planned, not allocated"): a verified graph compiled once with a memory
 * plan (passes.h hg_memplan) and ONE arena, allocated and pre-faulted at
 * compile time and reused by every run; each node runs the reference
 * kernel of its op (codegen/ref_internal.h) on arena views, except f32
 * matmul, which runs a oneDNN 2.6 matmul primitive created at compile time
 * (batch broadcasting and transposes expressed as strided memory
 * descriptors; a matmul oneDNN refuses falls back to the reference kernel).
 *
 * Numbers: every op except f32 matmul is bit-identical to hg_ref_run.
 * oneDNN sums a matmul in another order (blocked, with FMA), so matmul
 * results, and everything computed from them, differ from the reference
 * by rounding: tests/test_fast_backend.c checks every output and updated
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

/* Compiles g (which must pass hg_verify, checked here) for the fast
 * backend: memory plan, arena (plan.arena_bytes, 64-byte aligned, touched
 * once so later runs do not page-fault), oneDNN engine, stream and one
 * matmul primitive per f32 matmul node. g is BORROWED: it must stay alive
 * and unchanged until hg_fast_free (the program executor passes its own
 * copy). Errors: the verifier's message; HG_ERR_NOMEM (arena, plan);
 * HG_ERR_UNSUPPORTED if oneDNN cannot create a CPU engine or stream. */
hg_status hg_fast_compile(const hg_graph *g, hg_fast **out);

/* Runs the compiled graph once; the contract of hg_ref_run (codegen.h):
 * inputs/state by name with the nodes' dtypes and shapes (all checked
 * before any kernel runs), outputs stored under their names (owned copies),
 * state updates written in place after the whole graph ran; hooks (may be
 * NULL) get node_done after every needed node as in the reference,
 * leaves and aliases (reshape, stop_gradient) included (no kernel, time ~0). Nothing in `state` or
 * `outputs` changes when an error is returned. Errors: HG_ERR_INVALID
 * naming a missing or mismatched input/state ("node %N: input \"x\"
 * missing", as the reference), kernel errors prefixed with the node,
 * HG_ERR_UNSUPPORTED for a oneDNN execution failure, HG_ERR_NOMEM. */
hg_status hg_fast_run(hg_fast *f, hg_tensor_map *state, const hg_tensor_map *inputs,
                      hg_tensor_map *outputs, const hg_ref_hooks *hooks);

/* The memory plan the program runs with (read-only; valid until free). */
const hg_mem_plan *hg_fast_plan(const hg_fast *f);
/* Matmul nodes run by oneDNN / by the reference kernel (f64, empty, or
 * refused by oneDNN). */
void hg_fast_matmul_counts(const hg_fast *f, int *n_dnnl, int *n_ref);

void hg_fast_free(hg_fast *f);

#endif
