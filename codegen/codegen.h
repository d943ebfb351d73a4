/* halograph code generation: the reference interpreter (the oracle every
 * faster backend is tested against) and, later, the JIT and ONNX writer. */
#ifndef HG_CODEGEN_H
#define HG_CODEGEN_H

#include "ir/ir.h"

/* Optional per-node callback (the profiler hangs here; kernels never branch
 * on it). `seconds` is the wall time of that node's kernel. */
typedef struct {
    void (*node_done)(void *user, const hg_graph *g, hg_value node, double seconds);
    void *user;
} hg_ref_hooks;

/* Runs a verified graph with the reference interpreter.
 * inputs:  one tensor per `input` node, by name, dtype and shape exactly as
 *          the node's (extra entries are ignored).
 * state:   one tensor per `state` node, by name; after the call every
 *          declared update has been written into it (in place).
 * outputs: each graph output is stored under its name (replacing).
 * hooks:   may be NULL.
 * Threads: OpenMP (omp_set_num_threads); results are bit-identical for any
 * thread count (no reduction is split between threads).
 * Errors: HG_ERR_INVALID naming a missing/mismatched input or state;
 * HG_ERR_NOMEM. Nothing in `state` changes when an error is returned. */
hg_status hg_ref_run(const hg_graph *g, hg_tensor_map *state,
                     const hg_tensor_map *inputs, hg_tensor_map *outputs,
                     const hg_ref_hooks *hooks);

#endif
