/* Internals of the LLVM JIT (the files of codegen/jit/), shared by its files only.
 *
 *   jit_ir.c       IR-building helpers (constants, intrinsics, loops)
 *   jit_vmath.c    vector math: exp, log, log1p, expm1, tanh, erf, sin,
 *                  cos, pow as straight-line IR that the loop vectoriser
 *                  widens (no libm calls)
 *   jit_ew.c       elementwise formulas: ir/elementwise.def expanded into IR
 *   jit_loop.c     the HG_KERNEL_LOOP emitter (loop nest, broadcasts,
 *                  trailing/leading reductions)
 *   jit_sig.c      kernel signatures (structure + shapes + dtypes as text),
 *                  their hash, and which kernels the JIT supports
 *   jit_llvm.c     target machine, O3 pipeline, object emission, LLJIT
 *   jit_cache.c    the on-disk object cache
 *   jit_row.c      the HG_KERNEL_ROW emitter (softmax / layer_norm rows
 *                  with prologue and epilogue)
 *   jit_dnnl_row.c ROW kernels oneDNN's primitives compute faster
 *   jit_program.c  compiling the kernels of a schedule, running one
 *   jit_backend.c  the `jit` backend on top of fast
 */
#ifndef HG_JIT_INTERNAL_H
#define HG_JIT_INTERNAL_H

#include <llvm-c/Core.h>
#include <stdint.h>

#include "codegen/jit/jit.h"

/* ------------------------------------------------------------ IR helpers */

typedef struct {
    LLVMContextRef C;
    LLVMModuleRef M;
    LLVMBuilderRef B;
    LLVMValueRef fn; /* the function being built */
    LLVMTypeRef f32, f64, i1, i8, i32, i64, ptr, vd;
} hg_jb;

/* Initialises the type fields of b from b->C. */
void hg_jb_types(hg_jb *b);
/* Constant of type t (a float type) or integer constant of type t. */
LLVMValueRef hg_jb_fk(hg_jb *b, LLVMTypeRef t, double v);
LLVMValueRef hg_jb_ik(LLVMTypeRef t, int64_t v);
/* A call of overloaded intrinsic `name` (e.g. "llvm.fma") on type t. */
LLVMValueRef hg_jb_intr(hg_jb *b, const char *name, LLVMTypeRef t,
                        LLVMValueRef *args, int n);
LLVMValueRef hg_jb_intr1(hg_jb *b, const char *name, LLVMValueRef a);
LLVMValueRef hg_jb_intr2(hg_jb *b, const char *name, LLVMValueRef a, LLVMValueRef c);
LLVMValueRef hg_jb_fma(hg_jb *b, LLVMValueRef a, LLVMValueRef c, LLVMValueRef d);
/* Horner: c[0] + x (c[1] + x (c[2] + ...)), n coefficients, with fma. */
LLVMValueRef hg_jb_poly(hg_jb *b, LLVMValueRef x, const double *c, int n);
/* The integer type of the same width as float type t (i32 / i64). */
LLVMTypeRef hg_jb_int_of(hg_jb *b, LLVMTypeRef t);

/* A counted loop for (i = 0; i < n; i++) (n an i64 value; zero trips
 * allowed). hg_jb_loop_begin positions the builder in the body and returns
 * the induction variable; hg_jb_loop_end closes it (builder after the loop). */
typedef struct {
    LLVMBasicBlockRef head, body, exit;
    LLVMValueRef iv, start, end;
    int no_vectorize; /* set before hg_jb_loop_end: llvm.loop.vectorize.enable false */
} hg_jb_loop;
LLVMValueRef hg_jb_loop_begin(hg_jb *b, hg_jb_loop *l, LLVMValueRef start,
                              LLVMValueRef end, const char *name);
void hg_jb_loop_end(hg_jb *b, hg_jb_loop *l);

/* ------------------------------------------------------------ vector math
 *
 * Every function takes and returns a value of float type (f32 or f64) and
 * emits only straight-line IR (fma, selects, bit operations, llvm.floor /
 * llvm.roundeven / llvm.sqrt): the loop vectoriser widens it to 16 (f32) or
 * 8 (f64) lanes. Accuracy (max ulp against the f64 C library, measured by
 * tests/test_jit_vmath.c and bench/jit_vmath_sweep.sh) is stated in
 * jit_vmath.c. f64 versions exist for exp, expm1, log, log1p and tanh
 * (used where an f32 formula is evaluated in f64, see jit_ew.c); erf, sin,
 * cos and pow are f32 only (sin/cos/pow compute internally in f64). */
LLVMValueRef hg_jv_exp(hg_jb *b, LLVMValueRef x);
LLVMValueRef hg_jv_expm1(hg_jb *b, LLVMValueRef x);
LLVMValueRef hg_jv_log(hg_jb *b, LLVMValueRef x);
LLVMValueRef hg_jv_log1p(hg_jb *b, LLVMValueRef x);
LLVMValueRef hg_jv_tanh(hg_jb *b, LLVMValueRef x);
LLVMValueRef hg_jv_erf(hg_jb *b, LLVMValueRef x);
LLVMValueRef hg_jv_sin(hg_jb *b, LLVMValueRef x);
LLVMValueRef hg_jv_cos(hg_jb *b, LLVMValueRef x);
LLVMValueRef hg_jv_pow(hg_jb *b, LLVMValueRef x, LLVMValueRef y);
/* 1 when the function of `op` (an F_ transcendental) exists for type t. */
int hg_jv_has(hg_jb *b, hg_op op, LLVMTypeRef t);

/* ------------------------------------------------------------ elementwise */

/* Register type of a value of dtype t: float, double, i32, i1 (bool). */
LLVMTypeRef hg_jit_reg_type(hg_jb *b, hg_dtype t);
/* Emits node n's elementwise-class formula (HG_OPF_ELEMENTWISE ops from
 * ir/elementwise.def, broadcast_to, cast) on operand registers a[]
 * (types from hg_jit_reg_type of the operands' dtypes); in_dt[] are the
 * operand dtypes. Returns NULL when unsupported (then hg_jit_ew_supported
 * said so). */
LLVMValueRef hg_jit_ew_emit(hg_jb *b, const hg_node *n, const hg_dtype *in_dt,
                            LLVMValueRef *a);
/* 1 when hg_jit_ew_emit handles node n (op and dtypes). */
int hg_jit_ew_supported(const hg_graph *g, const hg_node *n);

/* ------------------------------------------------------------ kernels */

/* Every compiled kernel has this ABI:
 *   void k(int64_t begin, int64_t end, void *const *ptrs)
 * ptrs = the kernel's outputs (k->outputs order) then its inputs
 * (k->inputs order), dense row-major buffers of their nodes' dtypes and
 * shapes. It computes the part [begin, end) of its parallel extent
 * (hg_jit_extent); disjoint parts may run concurrently. */
typedef void (*hg_jit_fn)(int64_t begin, int64_t end, void *const *ptrs);

/* The parallel extent of kernel k (number of independent units) and the
 * elements each unit touches (for chunking). */
void hg_jit_extent(const hg_graph *g, const hg_kernel *k, int64_t *units,
                   int64_t *unit_elems);

/* Emits kernel k of g as function `name` into b->M (b->C, b->M set).
 * alias[o] (NULL: none) is the input index whose buffer output o shares
 * (in place: same shape and element size), or -1: the function then
 * accesses both through ONE pointer, so no noalias is claimed between
 * them. Errors: HG_ERR_UNSUPPORTED naming the member that cannot be
 * emitted. */
hg_status hg_jit_emit_loop(hg_jb *b, const hg_graph *g, const hg_kernel *k, const int *alias,
                           const char *name);

/* Emits ROW kernel k of g (a softmax / layer_norm anchor over the last
 * axis of k->space with elementwise prologue and epilogue members,
 * passes/schedule.h HG_KERNEL_ROW) as function `name` (jit_row.c); the
 * ABI, alias[] and errors as hg_jit_emit_loop, the parallel extent is the
 * rows. */
hg_status hg_jit_emit_row(hg_jb *b, const hg_graph *g, const hg_kernel *k, const int *alias,
                          const char *name);
/* 1 when hg_jit_emit_row compiles ROW kernel k: a float softmax or
 * layer_norm anchor and every other member an elementwise-class op with
 * an LLVM formula (hg_jit_ew_supported; random ops are not ROW members). */
int hg_jit_row_supported(const hg_graph *g, const hg_kernel *k);

/* Shared by the kernel emitters (defined in jit_loop.c). */
/* Element strides st[0..space.rank) of a value of shape s broadcast into
 * space (numpy rules: 0 along broadcast dims, row-major otherwise). */
void hg_jit_bcast_strides(hg_shape space, hg_shape s, int64_t *st);
/* Element `off` (i64) of buffer base of dtype t: load to / store from its
 * register type (bool stored as i8 0/1), aligned to the element size. */
LLVMValueRef hg_jit_load(hg_jb *b, LLVMValueRef base, hg_dtype t, LLVMValueRef off);
void hg_jit_store(hg_jb *b, LLVMValueRef base, hg_dtype t, LLVMValueRef off, LLVMValueRef v);
/* Declares the kernel ABI wrapper `name(i64 begin, i64 end, ptr ptrs)` and
 * an always-inlined inner function taking the np pointers as noalias
 * arguments; returns the inner function with the builder at its entry and
 * b->fn set to it, inner_ptrs[0..np) its pointer parameters (its
 * parameters 0 and 1 are begin and end). */
LLVMValueRef hg_jit_open_kernel(hg_jb *b, const char *name, int np, LLVMValueRef *inner_ptrs);

/* ------------------------------------------- ROW kernels run by oneDNN */

/* jit_dnnl_row.c: a oneDNN primitive for a ROW kernel of a shape it
 * computes alone (see the file). */
typedef struct hg_jit_dnnl_row hg_jit_dnnl_row;
/* 1 when ROW kernel k of g is such a shape: an f32 layer_norm over the
 * last axis reading kernel input *x_in, alone, or followed by * s + b with s, b kernel inputs *s_in, *b_in of shape [C]
 * (else -1); one output. */
int hg_jit_dnnl_row_match(const hg_graph *g, const hg_kernel *k, int *x_in, int *s_in,
                          int *b_in);
/* Creates the primitive (own engine and stream) for kernel k, which must
 * match. Errors: HG_ERR_UNSUPPORTED when oneDNN refuses, HG_ERR_NOMEM. */
hg_status hg_jit_dnnl_row_create(const hg_graph *g, const hg_kernel *k, hg_jit_dnnl_row **out);
/* Runs it on the kernel's buffers (ptrs as hg_jit_run: outputs, then
 * inputs). Errors: HG_ERR_UNSUPPORTED when oneDNN fails. */
hg_status hg_jit_dnnl_row_run(const hg_jit_dnnl_row *d, void *const *ptrs, int n_outputs);
void hg_jit_dnnl_row_free(void *d);

/* Element `flat` (i64, row-major index) of random op n (random_uniform or
 * random_normal, float dtype) drawn inline (jit_random.c): exactly
 * hg_rng_uniform / hg_rng_normal rounded to n's dtype. seed, step,
 * replica: the i32 input values. prefix: the kernel function's name (the
 * vector variants of the Box-Muller call are named after it). */
LLVMValueRef hg_jit_emit_random(hg_jb *b, const hg_node *n, LLVMValueRef seed, LLVMValueRef step,
                                LLVMValueRef replica, LLVMValueRef flat, const char *prefix);

/* Canonical text of kernel k (ops, attributes, dtypes, shapes, member and
 * input references by position, the in-place aliases as for
 * hg_jit_emit_loop): two kernels with equal signatures compute the same
 * function of their ptrs. malloc'd; NULL on OOM. */
char *hg_jit_signature(const hg_graph *g, const hg_kernel *k, const int *alias);
/* FNV-1a 64 of n bytes, continued from h (start with HG_FNV_INIT). */
#define HG_FNV_INIT 0xcbf29ce484222325ull
uint64_t hg_jit_fnv(uint64_t h, const void *p, size_t n);

/* --------------------------------------------------------------- LLVM */

typedef struct hg_jit_session hg_jit_session;
/* The process's JIT session (created on first use, reference-counted:
 * every hg_jit_session_get is matched by hg_jit_session_put). */
hg_status hg_jit_session_get(hg_jit_session **out);
void hg_jit_session_put(hg_jit_session *s);
/* Host CPU name and feature string the code is compiled for. */
const char *hg_jit_session_cpu(const hg_jit_session *s);
const char *hg_jit_session_features(const hg_jit_session *s);
/* Sets the module's triple and data layout, adds the target attributes to
 * every function definition, verifies, runs default<O3> and emits an
 * object file: *obj (malloc'd, caller frees), *n bytes. Consumes M. */
hg_status hg_jit_session_codegen(hg_jit_session *s, LLVMModuleRef M, char **obj,
                                 size_t *n);
/* Adds an object file (copied) in a fresh JITDylib and looks up the n
 * symbols names[] into addrs[]. Errors: HG_ERR_FORMAT for an object LLVM
 * cannot link or a missing symbol. */
hg_status hg_jit_session_load(hg_jit_session *s, const char *obj, size_t n,
                              int n_sym, char *const *names, void **addrs);
/* In-process kernel cache: the address of the kernel whose signature is
 * sig, or NULL; hg_jit_session_remember records one (sig copied). Both lock. */
void *hg_jit_session_lookup(hg_jit_session *s, const char *sig);
hg_status hg_jit_session_remember(hg_jit_session *s, const char *sig, void *addr);

/* --------------------------------------------------------------- cache */

/* Reads the cached object of key (a 64-bit hash, hex file name) from dir:
 * *obj malloc'd on a hit (1 returned), 0 on a miss or a file that fails the
 * header, length or checksum check (then it is ignored and will be
 * rewritten). */
int hg_jit_cache_read(const char *dir, uint64_t key, const char *key_text,
                      char **obj, size_t *n);
/* Writes the object atomically (temp file + rename). Errors: HG_ERR_IO. */
hg_status hg_jit_cache_write(const char *dir, uint64_t key, const char *key_text,
                             const char *obj, size_t n);

#endif
