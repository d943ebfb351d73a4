/* halograph program executor: a graph compiled for one backend, run many
 * times against a state store (DESIGN.md "Data flow": ... ──► program ──► run).
 *
 * Backends (runtime/backend.h: the interface and the registry):
 *   "ref"  the reference interpreter (codegen/codegen.h): the oracle that
 *          defines the numbers.
 *   "fast" codegen/fast.h: a memory plan (passes.h hg_memplan) over one
 *          arena allocated at compile time and reused by every run, the
 *          reference kernels, and oneDNN primitives for f32 matmul (cached
 *          per node at compile time). Tolerance against "ref": every op
 *          but f32 matmul is bit-identical; results downstream of a matmul
 *          agree to |fast - ref| <= 1e-4 max(|ref|, 0.1 max|ref| over the
 *          tensor) in f32 (tests/test_fast_backend.c, every model graph).
 *          A program of this backend runs one call at a time.
 * Every backend runs through the shared executor (codegen/exec.h).
 *
 * A program owns a private copy of its graph and its schedule, so the
 * caller may free or change the graph after compiling. Drivers
 * (models/drivers.h) compile each graph kind once and run it many times.
 */
#ifndef HG_PROGRAM_H
#define HG_PROGRAM_H

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "runtime/backend.h"

typedef struct hg_program hg_program;

/* Comma-separated list of the registered backend names, in registry order
 * ("ref,fast,jit"). */
const char *hg_program_backends(void);

/* Compiles graph g for `backend` (NULL means HG_BACKEND_DEFAULT). g is
 * verified (hg_verify) and copied; composite nodes the backend does not
 * keep (hg_backend.keeps_composite) are decomposed in the copy (so
 * hg_program_graph may have other node ids than g); the backend's
 * schedule of the copy is
 * made (hg_backend.schedule) and checked (hg_schedule_check), then the
 * backend compiles both ("fast" plans memory, allocates the arena and
 * creates the oneDNN primitives here). *out is owned by the caller
 * (hg_program_free). Errors: HG_ERR_INVALID for an unknown backend (the message lists the
 * available ones) or a graph that fails verification (the verifier's
 * message); HG_ERR_NOMEM. */
hg_status hg_program_compile(const hg_graph *g, const char *backend, hg_program **out);

/* Runs the program once.
 * inputs:  one tensor per `input` node of the graph, by name, with the
 *          node's dtype and shape (extra entries are ignored).
 * state:   one tensor per `state` node, by name; declared updates are
 *          written in place after the call.
 * outputs: every graph output is stored under its name (replacing).
 * Errors: as hg_exec_run (codegen/exec.h; missing or mismatched input/state: HG_ERR_INVALID
 * naming it; HG_ERR_NOMEM). On error `state` is unchanged. */
hg_status hg_program_run(hg_program *p, hg_tensor_map *state, const hg_tensor_map *inputs,
                         hg_tensor_map *outputs);

/* Attaches per-kernel hooks (the profiler's hook point: kernel_done after
 * every kernel of the program's schedule with its wall time); NULL
 * detaches. The struct is copied. */
void hg_program_set_hooks(hg_program *p, const hg_exec_hooks *hooks);

/* The program's own graph (read-only; valid until hg_program_free). */
const hg_graph *hg_program_graph(const hg_program *p);
/* The program's schedule (read-only; valid until hg_program_free): the
 * kernels the hooks and the profiler report (hg_profile_init_schedule). */
const hg_schedule *hg_program_schedule(const hg_program *p);
/* The backend name the program was compiled for. */
const char *hg_program_backend(const hg_program *p);
/* Wall time hg_program_compile took for p (schedule, check, the backend's
 * compile: for `jit` the LLVM compilation or the disk-cache load), s. */
double hg_program_compile_seconds(const hg_program *p);
/* The process CPU time (all threads, clock()) of the same compile, s: the
 * figure to read on a loaded machine, where wall time includes waiting
 * for a core. */
double hg_program_compile_cpu_seconds(const hg_program *p);

void hg_program_free(hg_program *p);

#endif
