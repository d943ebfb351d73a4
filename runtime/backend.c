/* The backend registry (runtime/backend.h): one row per backend, adapting
 * each backend's compile/run/free to the interface. */
#include <string.h>

#include "codegen/fast.h"
#include "codegen/jit/jit.h"
#include "runtime/backend.h"

/* ---------------------------------------------------------------- ref */

static hg_status ref_compile(const hg_graph *g, const hg_schedule *s, void **out) {
    hg_ref_program *p = NULL;
    hg_status st = hg_ref_compile(g, s, &p);
    *out = p;
    return st;
}

static hg_status ref_run(void *prog, hg_tensor_map *state, const hg_tensor_map *inputs,
                         hg_tensor_map *outputs, const hg_exec_hooks *hooks) {
    return hg_ref_program_run(prog, state, inputs, outputs, hooks);
}

static void ref_free(void *prog) { hg_ref_program_free(prog); }

/* The reference kernels define every dtype the verifier accepts. */
static int ref_supports(hg_op op, hg_dtype dtype) {
    return (unsigned)dtype < HG_NUM_DTYPES && hg_ref_supports(op);
}

/* layer_norm, softmax and attention have reference kernels. */
static int keeps_all_composites(hg_op op) {
    return (unsigned)op < HG_NUM_OPS && (hg_op_table[op].flags & HG_OPF_COMPOSITE) != 0;
}

/* --------------------------------------------------------------- fast */

/* fast and jit run attention's backward (and jit also its forward with the
 * lse rows) as one kernel (passes/attention_group.c); fast's node memory
 * plan needs definition order (in_order). */
static hg_status group_attention(const hg_graph *g, int in_order, hg_schedule *out) {
    hg_status st = hg_attention_group(g, in_order, out);
    if (st.code != HG_OK) hg_schedule_free(out);
    return st;
}

static hg_status fast_schedule(const hg_graph *g, hg_schedule *out) {
    HG_TRY(hg_schedule_nodes(g, out));
    return group_attention(g, 1, out);
}

static hg_status fast_compile(const hg_graph *g, const hg_schedule *s, void **out) {
    hg_fast *f = NULL;
    hg_status st = hg_fast_compile(g, s, &f);
    *out = f;
    return st;
}

static hg_status fast_run(void *prog, hg_tensor_map *state, const hg_tensor_map *inputs,
                          hg_tensor_map *outputs, const hg_exec_hooks *hooks) {
    return hg_fast_run(prog, state, inputs, outputs, hooks);
}

static void fast_free(void *prog) { hg_fast_free(prog); }

static int fast_supports(hg_op op, hg_dtype dtype) {
    return (unsigned)dtype < HG_NUM_DTYPES && (unsigned)op < HG_NUM_OPS &&
           ((hg_op_table[op].flags & HG_OPF_LEAF) || hg_fast_kernel_of(op) != NULL);
}

/* ---------------------------------------------------------------- jit */

static hg_status jit_schedule(const hg_graph *g, hg_schedule *out) {
    HG_TRY(hg_jit_schedule(g, out));
    return group_attention(g, 0, out);
}

static hg_status jit_compile(const hg_graph *g, const hg_schedule *s, void **out) {
    hg_jit_backend *b = NULL;
    hg_status st = hg_jit_backend_compile(g, s, &b);
    *out = b;
    return st;
}

static hg_status jit_run(void *prog, hg_tensor_map *state, const hg_tensor_map *inputs,
                         hg_tensor_map *outputs, const hg_exec_hooks *hooks) {
    return hg_jit_backend_run(prog, state, inputs, outputs, hooks);
}

static void jit_free(void *prog) { hg_jit_backend_free(prog); }

/* ----------------------------------------------------------- registry */

static const hg_backend backend_table[] = {
    {"ref", "the reference interpreter (the oracle; slowest)", hg_schedule_nodes, ref_compile,
     ref_run, ref_free, ref_supports, keeps_all_composites},
    {"fast", "planned arena + oneDNN matmul (matches ref within 1e-4)", fast_schedule,
     fast_compile, fast_run, fast_free, fast_supports, keeps_all_composites},
    {"jit", "fusion groups compiled with LLVM, on the fast backend", jit_schedule,
     jit_compile, jit_run, jit_free, fast_supports, keeps_all_composites},
};

int hg_backend_count(void) { return (int)(sizeof backend_table / sizeof backend_table[0]); }

const hg_backend *hg_backend_at(int i) {
    return i >= 0 && i < hg_backend_count() ? &backend_table[i] : NULL;
}

const hg_backend *hg_backend_find(const char *name) {
    if (!name) name = HG_BACKEND_DEFAULT;
    for (int i = 0; i < hg_backend_count(); i++)
        if (!strcmp(backend_table[i].name, name)) return &backend_table[i];
    return NULL;
}
