/* The LLVM JIT (issue 11 part 3; DESIGN.md "Data flow": schedule ->
 * codegen): the fusion groups of a schedule (passes/schedule.h kernels of
 * kind HG_KERNEL_LOOP and HG_KERNEL_ROW, and OP kernels of one elementwise
 * or reduction node) compiled to machine code for the host CPU with the
 * LLVM 19 C API and ORC LLJIT.
 *
 * Each kernel becomes one LLVM function: a loop nest over the kernel's
 * iteration space with its inputs broadcast by strides, every member's
 * formula (ir/elementwise.def, the formula table the reference kernels
 * expand too) and every output stored, optionally a trailing sum / mean /
 * max reduction (codegen/jit/jit_loop.c); a ROW kernel becomes a loop over
 * rows with statistics passes and a final pass over each row
 * (codegen/jit/jit_row.c: softmax / layer_norm with their prologue and
 * epilogue; the reference's formulas with the statistics in double, the
 * result within 1 ulp of it). The module is optimised with
 * default<O3> for a target machine of the host CPU name and features
 * ("prefer-vector-width"="512" on AVX-512), with noalias pointers, emitted
 * as an object file and linked by LLJIT. Transcendentals are this
 * module's own polynomials (jit_vmath.c), so they vectorise.
 *
 * Numbers (f32 kernels against the reference, which evaluates every float
 * formula in double and rounds once): exact for + - * / sqrt, comparisons,
 * selects, floor/round, casts, floor_mod; the vector math errors in ulps
 * of f32, max over every 1021st of the 2^32 patterns plus special values
 * (tests/test_jit_vmath.c; bench/jit_vmath_sweep.sh runs all 2^32):
 *   exp 0.89  expm1 1.44  log 0.81  log1p 2.34  tanh 2.23  erf 1.02
 *   sin 0.50  cos 0.50 (|x| < 2^50; beyond, in [-1, 1] but not accurate)
 *   pow 0.50  sigmoid 2.01  softplus 2.60  rsqrt 1.48  gelu_tanh 0.50
 *   (gelu_tanh is evaluated in f64; where the reference's own 1 + tanh
 *   cancels, x < -5, it is compared with an absolute 2^-51 |x|)
 * (sigmoid, softplus, rsqrt are formulas of those plus f32 roundings).
 * f64 kernels: + - * / etc. exact, exp/log/tanh... within 8 units of
 * 2^-52 relative (gelu_tanh 64), erf/sin/cos/pow not compiled. Random ops
 * are drawn inline (Philox vectorised, jit_random.c): the reference's numbers exactly.
 * Reductions accumulate in double like the reference but in a vectorised
 * order (sums may differ from the reference by one f32 rounding).
 *
 * Threads: hg_jit_run splits the outermost loop of a kernel across OpenMP
 * threads; a reduction is never split and every element is computed by the
 * same instructions whatever the split, so results are bit-identical for
 * any thread count.
 *
 * Caches: kernels with equal signatures (structure, shapes, dtypes;
 * jit_sig.c) compile once per process (while any program is alive); the
 * object code of a program's new kernels is cached on disk in
 * $XDG_CACHE_HOME/halograph (default ~/.cache/halograph), keyed by the
 * kernels' signatures and the host CPU name and features, with a header
 * and checksum (jit_cache.c): a corrupt, truncated or foreign file is
 * recompiled and replaced, never executed.
 */
#ifndef HG_JIT_H
#define HG_JIT_H

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "passes/passes.h"

typedef struct hg_jit_program hg_jit_program;

typedef struct {
    /* Directory of the on-disk cache: NULL = the default
     * ($XDG_CACHE_HOME/halograph, else $HOME/.cache/halograph), "" = no
     * disk cache. */
    const char *cache_dir;
    /* The CPU feature string in the cache key: NULL = the host's (always,
     * except in the cache tests, which pass another string to check that
     * code cached for one CPU is not used on another). */
    const char *key_features;
} hg_jit_options;

/* What one hg_jit_compile did. */
typedef struct {
    int n_kernels;      /* kernels compiled by the JIT (hg_jit_has) */
    int n_memory;       /* ... found compiled in this process */
    int n_new;          /* ... in the object built or loaded for this program */
    int disk_hit;       /* the object came from the disk cache */
    /* MATMUL kernels (hg_jit_backend_compile only): epilogue members run
     * as oneDNN post-ops / by the reference kernels after their matmul
     * (hg_fast_epilogue_counts). */
    int n_post_ops, n_post_ref;
    /* ROW kernels run by a oneDNN primitive (hg_jit_backend_compile only) */
    int n_dnnl_rows;
    double seconds;     /* wall time of hg_jit_compile */
    char cache_file[4200]; /* the object's cache file ("" if none) */
    char cache_error[512]; /* why the object could not be cached ("" if it was) */
} hg_jit_stats;

/* 1 when the JIT compiles kernel k of g: a LOOP kernel whose members all
 * have an LLVM formula for their dtypes (elementwise ops of
 * ir/elementwise.def, broadcast_to, cast, random_* in floats) with a float
 * sum/mean/max as reduction, or an OP kernel of one such node, or a ROW
 * kernel of a float softmax / layer_norm whose other members have LLVM
 * formulas (no random ops). Others (MATMUL, MULTI kernels, other OP
 * kernels, i32 reductions, f64 erf/sin/cos/pow) are left to the caller. */
int hg_jit_supports(const hg_graph *g, const hg_kernel *k);

/* Compiles every kernel of s (a schedule of g) that hg_jit_supports
 * accepts; opt may be NULL (defaults). plan (may be NULL: no buffer is
 * shared) is the memory plan the kernels will run with: an output planned
 * in place in the block of one of its kernel's inputs is compiled to read
 * and write through one pointer. g, s and plan are read during the call
 * only. *out is freed with hg_jit_free. The disk cache never fails a
 * compile: a bad file is a miss, a directory that cannot be written leaves
 * the object uncached (stats.cache_error says why). Errors:
 * HG_ERR_UNSUPPORTED when LLVM fails (message from LLVM), HG_ERR_NOMEM. */
hg_status hg_jit_compile(const hg_graph *g, const hg_schedule *s, const hg_mem_plan *plan,
                         const hg_jit_options *opt, hg_jit_program **out);

/* 1 when kernel `kernel` (index into the schedule) was compiled. */
int hg_jit_has(const hg_jit_program *p, int kernel);

/* Runs compiled kernel `kernel` on buffers: ptrs = its outputs in
 * k->outputs order, then its inputs in k->inputs order, dense row-major of
 * the nodes' dtypes and shapes. Buffers overlap only as the plan given to
 * hg_jit_compile says (in place: equal pointers). OpenMP threads (omp_get_max_threads) over the outermost
 * loop. Not checked: the caller passes valid buffers. */
void hg_jit_run(const hg_jit_program *p, int kernel, void *const *ptrs);

void hg_jit_program_stats(const hg_jit_program *p, hg_jit_stats *out);

/* The default cache directory into buf ("" if neither XDG_CACHE_HOME nor
 * HOME is set). */
void hg_jit_default_cache_dir(char *buf, size_t n);

void hg_jit_free(hg_jit_program *p);

/* ------------------------------------------------- the `jit` backend
 *
 * The fast backend (codegen/fast.h: arena, oneDNN matmul, reference
 * kernels) with the JIT's compiled kernels replacing fast's
 * implementation of every kernel hg_jit_supports; runtime/backend.c
 * registers it as "jit". */

/* The jit backend's schedule of g (verified by the caller): hg_fuse with
 * LOOP groups of the members the JIT can emit (can_fuse: elementwise
 * formulas of ir/elementwise.def for the dtypes, casts, broadcasts,
 * float random ops, float sum/mean/max as the trailing reduction), ROW
 * groups (a float softmax / layer_norm whose input has its dtype, with
 * prologue and epilogue members of those elementwise formulas) and
 * MATMUL groups fast runs as one oneDNN primitive (an f32 matmul and its
 * epilogue of f32 add/mul, whose other operand is of the matmul's shape or
 * broadcast over every dim but the last, and gelu_tanh); other nodes are
 * OP kernels run by fast. Errors: hg_fuse's. */
hg_status hg_jit_schedule(const hg_graph *g, hg_schedule *out);

typedef struct hg_jit_backend hg_jit_backend;
/* Compiles g with schedule s (borrowed until free, as hg_fast_compile):
 * fast with the memory plan over the schedule (hg_fast_compile_fused),
 * then hg_jit_compile with that plan and the default cache. Errors:
 * those of both; HG_ERR_UNSUPPORTED naming a kernel with internal members
 * the JIT does not compile. */
hg_status hg_jit_backend_compile(const hg_graph *g, const hg_schedule *s, hg_jit_backend **out);
/* As hg_jit_backend_compile; dnnl_rows 1 (what hg_jit_backend_compile
 * passes): the ROW kernels oneDNN's layer normalization forward primitive
 * computes alone (an f32 layer_norm reading its input from memory, alone
 * or followed by * s + b with s, b of shape [C], one output) run as that
 * primitive, which bench/row.sh
 * measured faster; 0: every ROW kernel runs the JIT's code (the tests and
 * the bench use it to measure and check the JIT's kernel). */
hg_status hg_jit_backend_compile_ex(const hg_graph *g, const hg_schedule *s, int dnnl_rows,
                                    hg_jit_backend **out);
/* hg_fast_run's contract. */
hg_status hg_jit_backend_run(hg_jit_backend *b, hg_tensor_map *state, const hg_tensor_map *inputs,
                             hg_tensor_map *outputs, const hg_exec_hooks *hooks);
/* What compiling the program did (compile time, cache use). */
const hg_jit_stats *hg_jit_backend_stats(const hg_jit_backend *b);
void hg_jit_backend_free(hg_jit_backend *b);

#endif
