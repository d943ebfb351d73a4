/* halograph kernel profiler: a sub-header of the runtime module
 * (runtime/runtime.h; DESIGN.md "runtime/: profiler + trace writer").
 *
 * Per kernel of a program: call count, total / mean / min / max wall time,
 * FLOPs (SPEC 7 convention, ir/ir.h hg_node_flops), bytes moved
 * (hg_node_bytes), achieved GFLOP/s and GB/s and share of the step; a
 * table sorted by time, and a Chrome trace event file (JSON, "traceEvents"
 * with "B"/"E" events, one track per OS thread) that opens in Perfetto or
 * chrome://tracing.
 *
 * Kernels: one per kernel of the program's schedule (passes/schedule.h),
 * listing its member nodes so a fused kernel can be traced back to the
 * model's ops (hg_profile_init_schedule). On `ref` and `fast` every kernel
 * is one node. hg_profile_init (no schedule) makes one kernel per non-leaf
 * node; hg_profile_fuse merges nodes into one kernel by hand.
 *
 * Cost: profiling off costs nothing (no hooks attached: the interpreter's
 * only test is `hooks != NULL`, outside the kernels). Profiling on costs a
 * clock read and a few stores per kernel (plus a trace record with
 * HG_PROFILE_TRACE); bench/profile_overhead.sh measures it.
 *
 * Use from a program (3 lines):
 *     hg_profile prof;
 *     HG_TRY(hg_profile_init_schedule(&prof, hg_program_graph(prog),
 *                                     hg_program_schedule(prog), 0));
 *     hg_exec_hooks h = hg_profile_hooks(&prof); hg_program_set_hooks(prog, &h);
 *     ... run steps (optionally between hg_profile_step_begin / _end) ...
 *     hg_profile_print(&prof, stdout, 0); hg_profile_free(&prof);
 *
 * Threads: the hook may be called from several threads at once (it locks an
 * OpenMP critical section); each event records the OS thread id (gettid,
 * looked up once per thread) of the thread that ran the node's host loop,
 * which becomes its trace track.
 */
#ifndef HG_PROFILE_H
#define HG_PROFILE_H

#include <stdint.h>
#include <stdio.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

/* hg_profile_init flags */
#define HG_PROFILE_TRACE 1u /* keep one event per kernel call for the trace file */
/* hg_profile_rows / hg_profile_print flags */
#define HG_PROFILE_BY_SHAPE 2u /* aggregate kernels of identical signature */

/* Threads whose OS id is cached (gettid is a system call, costly in some
 * sandboxes); further threads ask the kernel on every event. */
#define HG_PROFILE_MAX_THREADS 256

/* Most trace events kept (24 bytes each); later ones are counted as dropped. */
#define HG_PROFILE_MAX_EVENTS ((int64_t)1 << 23)

/* One kernel of the program. */
typedef struct {
    char name[64];       /* op name ("matmul"); fused kernels: the given name */
    char shape[96];      /* output dtype and shape "f32[4,16]" (last member's) */
    char sig[384];       /* op, input and output shapes: the HG_PROFILE_BY_SHAPE key */
    int n_members;
    hg_value *members;   /* node ids of the graph, ascending; owned */
    int64_t flops;       /* per call: sum over members (SPEC 7) */
    int64_t bytes;       /* per call: sum over members (naive, unfused); a
                            schedule's fusion group: its inputs + outputs */
    int64_t calls;
    double total_s, min_s, max_s; /* wall seconds */
} hg_profile_kernel;

/* One kernel call kept for the trace. kernel -1 marks a step span. */
typedef struct {
    int32_t kernel;
    int32_t tid;   /* OS thread id */
    double t0;     /* seconds since the profile's origin */
    double dur;    /* seconds */
} hg_profile_event;

typedef struct {
    const hg_graph *g;          /* not owned; must outlive the profile */
    unsigned flags;
    hg_profile_kernel *kernels;
    int n_kernels;
    int *kernel_of_node;        /* [g->n_nodes]: kernel index, -1 for leaves */
    hg_profile_event *events;
    int64_t n_events, cap_events, dropped_events;
    int64_t steps;              /* completed hg_profile_step_end calls */
    double step_total_s;        /* their summed wall time */
    double step_t0;             /* start of the open step */
    int64_t step_event;         /* event index of the open step, or -1 */
    double origin;              /* omp_get_wtime() at init */
    int pid;
    int n_threads;              /* cached thread ids: pthread_self() -> OS tid */
    unsigned long thread_self[HG_PROFILE_MAX_THREADS];
    int32_t thread_tid[HG_PROFILE_MAX_THREADS];
} hg_profile;

/* Starts a profile of graph g (verified; the graph the hooks will be called
 * with, e.g. hg_program_graph(p)): one kernel per non-leaf node, members =
 * {node}, FLOPs and bytes from hg_node_flops / hg_node_bytes. flags:
 * HG_PROFILE_TRACE keeps events for hg_profile_write_trace.
 * Errors: HG_ERR_INVALID (NULL graph, graph holding a builder error),
 * HG_ERR_NOMEM. On error *p is empty (hg_profile_free is still safe). */
hg_status hg_profile_init(hg_profile *p, const hg_graph *g, unsigned flags);
/* Starts a profile of graph g run with schedule s (e.g.
 * hg_program_schedule(p); checked against g's node count): one kernel per
 * schedule kernel, in schedule order (profile kernel i = schedule kernel
 * i), named by the schedule kernel's name, members = its members, FLOPs
 * the sum over the members, bytes the sum over the members for a
 * one-member kernel and, for a fusion group, its inputs read once plus
 * its outputs written once (what a fused kernel moves). Errors: as hg_profile_init, and
 * HG_ERR_INVALID for a schedule of another graph. */
hg_status hg_profile_init_schedule(hg_profile *p, const hg_graph *g, const hg_schedule *s,
                                   unsigned flags);
void hg_profile_free(hg_profile *p);
/* Zeroes the counts, times, steps and events (kernels are kept), e.g.
 * after warm-up iterations. */
void hg_profile_reset(hg_profile *p);

/* Declares a fused kernel named `name` made of nodes members[0..n) (each a
 * non-leaf node not yet fused): their per-node kernels are replaced by one
 * whose FLOPs and bytes are the sums and whose member list is the sorted
 * node ids; a hook call for any member node records for the fused kernel
 * (a fusing backend reports once per call, e.g. for its last member).
 * Returns the kernel index in *index (may be NULL). Must precede recording.
 * Errors: HG_ERR_INVALID (empty list, node out of range, a leaf, a node
 * already fused), HG_ERR_NOMEM. */
hg_status hg_profile_fuse(hg_profile *p, const char *name, int n, const hg_value *members,
                          int *index);

/* The hooks to pass to hg_ref_run / hg_program_set_hooks (user = p). The
 * kernel_done hook records one call of the profile kernel holding the
 * schedule kernel's members (its first member's kernel: the same kernel
 * for a profile made by hg_profile_init_schedule with that schedule, or
 * by hg_profile_fuse of the same members). */
hg_exec_hooks hg_profile_hooks(hg_profile *p);
/* Records one call of kernel k that took `seconds` and ended now (for
 * backends calling the profiler directly). */
void hg_profile_record(hg_profile *p, int k, double seconds);

/* Brackets one step (one program run): the step's wall time is the
 * denominator of "share of the step", and the trace gets a "step" span
 * around its kernels. Optional: without steps the share is of the summed
 * kernel time. */
void hg_profile_step_begin(hg_profile *p);
void hg_profile_step_end(hg_profile *p);

/* A row of the table: one kernel, or (HG_PROFILE_BY_SHAPE) every kernel of
 * one signature (op, input and output shapes, per-call FLOPs and bytes). */
typedef struct {
    int kernel;          /* first (lowest-index) kernel of the row */
    int n_kernels;       /* kernels aggregated in the row */
    int64_t calls;
    double total_s;
    double mean_s;       /* total_s / calls (0 without calls) */
    int64_t flops, bytes;/* totals over all calls */
    double gflops;       /* flops / total_s / 1e9 (0 when total_s is 0) */
    double gbytes;       /* bytes / total_s / 1e9: GB/s */
    double share;        /* total_s / step time (or / all kernel time) */
} hg_profile_row;

/* The rows of kernels called at least once, sorted by total time
 * (descending; ties by kernel index). *rows is malloc'd (caller frees).
 * Errors: HG_ERR_NOMEM. */
hg_status hg_profile_rows(const hg_profile *p, unsigned flags, hg_profile_row **rows, int *n);

/* Prints the summary (steps, step time, kernel time, time outside the
 * kernels) and the table sorted by time to f; max_rows > 0 limits the rows
 * (the rest summed in one line). Columns: rank, total ms, share %, calls,
 * mean us, GFLOP/s, GB/s, MFLOP/call, kernel, output shape, members (node
 * ids; by shape: instances and the first one). Errors: HG_ERR_NOMEM,
 * HG_ERR_IO (write failure). */
hg_status hg_profile_print(const hg_profile *p, FILE *f, unsigned flags, int max_rows);

/* Writes the Chrome trace event file: {"traceEvents": [...],
 * "displayTimeUnit": "ms"}, with process/thread name metadata ("M") and,
 * per OS thread (tid), properly nested "B"/"E" pairs: a "step" span (cat
 * "step") per recorded step, and one span per kernel call (name = kernel
 * name, cat "kernel", ts in microseconds since init, args: node ids
 * (members), shape, flops, bytes). Requires HG_PROFILE_TRACE.
 * Errors: HG_ERR_INVALID without HG_PROFILE_TRACE; HG_ERR_IO naming the
 * path (the file is written to "<path>.tmp" then renamed). */
hg_status hg_profile_write_trace(const hg_profile *p, const char *path);

#endif
