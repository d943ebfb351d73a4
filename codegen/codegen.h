/* halograph code generation: the reference interpreter (the oracle every
 * faster backend is tested against), the shared executor every backend
 * runs through (codegen/exec.h), the fast backend (codegen/fast.h) and the
 * ONNX writer (codegen/onnx.h). */
#ifndef HG_CODEGEN_H
#define HG_CODEGEN_H

#include "codegen/exec.h"
#include "ir/ir.h"
#include "passes/schedule.h"

/* A kernel computing one node: `n` is the node (op, attributes, output
 * dtype/shape), in[i] its evaluated inputs in the node's order, `out` a
 * tensor of the node's dtype and shape to fill (the contract of the
 * reference kernels, codegen/ref_internal.h). */
typedef hg_status (*hg_node_kernel)(const hg_node *n, const hg_tensor *const *in,
                                    hg_tensor *out);

/* The reference interpreter as a backend (runtime/backend.h "ref"):
 * compiles g (verified by the caller) with schedule s (checked by the
 * caller; any kind of kernel: members are evaluated one by one in
 * ascending node order) into *out; g and s are BORROWED until
 * hg_ref_program_free. Errors: HG_ERR_UNSUPPORTED naming a node whose op
 * has no kernel; HG_ERR_NOMEM. */
typedef struct hg_ref_program hg_ref_program;
hg_status hg_ref_compile(const hg_graph *g, const hg_schedule *s, hg_ref_program **out);
/* Runs it once: the contract of hg_exec_run (codegen/exec.h), heap mode. */
hg_status hg_ref_program_run(hg_ref_program *p, hg_tensor_map *state,
                             const hg_tensor_map *inputs, hg_tensor_map *outputs,
                             const hg_exec_hooks *hooks);
void hg_ref_program_free(hg_ref_program *p);
/* 1 if the reference interpreter has a kernel for op (leaves included). */
int hg_ref_supports(hg_op op);

/* Runs a verified graph once with the reference interpreter, node by node
 * (the reference schedule, hg_schedule_nodes): compile + run + free.
 * inputs:  one tensor per `input` node, by name, dtype and shape exactly as
 *          the node's (extra entries are ignored).
 * state:   one tensor per `state` node, by name; after the call every
 *          declared update has been written into it (in place).
 * outputs: each graph output is stored under its name (replacing).
 * hooks:   may be NULL; kernel_done once per node (one kernel per node).
 * Threads: OpenMP (omp_set_num_threads); results are bit-identical for any
 * thread count (no reduction is split between threads).
 * Errors: HG_ERR_INVALID naming a missing/mismatched input or state;
 * HG_ERR_NOMEM. Nothing in `state` changes when an error is returned. */
hg_status hg_ref_run(const hg_graph *g, hg_tensor_map *state,
                     const hg_tensor_map *inputs, hg_tensor_map *outputs,
                     const hg_exec_hooks *hooks);

#endif
