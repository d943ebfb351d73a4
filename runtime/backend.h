/* Backends: one interface every way of running a graph implements, and the
 * registry that lists them (a sub-header of the program executor,
 * runtime/program.h; DESIGN.md "Data flow", "Key decisions: backends").
 *
 * A backend turns a verified graph into a compiled program in two steps,
 * both driven by hg_program_compile:
 *   1. schedule(g, &s): how the backend groups the graph's nodes into
 *      kernels (passes/schedule.h). `ref` and `fast` use the reference
 *      schedule (hg_schedule_nodes: one kernel per needed node); a fusing
 *      backend (`jit`) uses hg_fuse.
 *   2. compile(g, s, &prog): everything done once per program (memory
 *      plan, arena, oneDNN primitives, machine code).
 * Then run(prog, ...) any number of times, and free(prog). Every run goes
 * through the shared executor (codegen/exec.h): inputs and state bound by
 * name with dtype/shape checks, kernels run in schedule order with the
 * hooks called once per KERNEL, outputs and state updates committed only
 * after every kernel succeeded (nothing in `state` changes on error).
 *
 * The registry is a static const table (runtime/backend.c), like the op
 * table: hg_program_backends(), the CLI help of every command with
 * --backend and the backend-list test all read it, so adding a backend is
 * one table row.
 */
#ifndef HG_BACKEND_H
#define HG_BACKEND_H

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "passes/passes.h"

/* The backend of every command and of hg_program_compile(g, NULL, ...):
 * the jit (its differential tests against ref: tests/test_fast_backend.c
 * jit_*, tests/test_jit_*.c). */
#define HG_BACKEND_DEFAULT "jit"

typedef struct {
    const char *name;    /* "ref", "fast": the --backend value */
    const char *summary; /* one line for help texts, e.g. "the reference
                            interpreter (the oracle)" */
    /* Fills *out with this backend's schedule of g (g verified by the
     * caller). The caller frees it with hg_schedule_free. Errors:
     * HG_ERR_NOMEM; HG_ERR_INVALID for a graph holding a builder error. */
    hg_status (*schedule)(const hg_graph *g, hg_schedule *out);
    /* Compiles g (verified) with schedule s (which passes
     * hg_schedule_check for g) into *out (opaque to the caller, released
     * with `free`). g and s are BORROWED: the program executor keeps both
     * alive and unchanged until `free`. Errors: the backend's (e.g.
     * HG_ERR_NOMEM for the arena, HG_ERR_UNSUPPORTED for an op or kernel
     * it cannot run). */
    hg_status (*compile)(const hg_graph *g, const hg_schedule *s, void **out);
    /* Runs a compiled program once: the contract of hg_program_run
     * (runtime/program.h); hooks may be NULL. Not reentrant per program. */
    hg_status (*run)(void *prog, hg_tensor_map *state, const hg_tensor_map *inputs,
                     hg_tensor_map *outputs, const hg_exec_hooks *hooks);
    void (*free)(void *prog); /* NULL-safe */
    /* 1 if this backend can run a node of op `op` whose output dtype is
     * `dtype` (any dtype the verifier accepts for the op, for the
     * backends that run every op). */
    int (*supports)(hg_op op, hg_dtype dtype);
    /* 1 if the backend runs composite op `op` (layer_norm, softmax,
     * attention) as such; 0 if it wants it decomposed into primitive ops
     * first: hg_program_compile then replaces its copy of the graph by
     * hg_decompose_some(g, keeps_composite) before scheduling. */
    int (*keeps_composite)(hg_op op);
} hg_backend;

/* The registry, in the order help texts list the backends. */
int hg_backend_count(void);
/* Backend i (0 <= i < hg_backend_count()), else NULL. */
const hg_backend *hg_backend_at(int i);
/* The backend named `name` (NULL means HG_BACKEND_DEFAULT), or NULL if
 * no backend has that name. */
const hg_backend *hg_backend_find(const char *name);

#endif
