/* Minimal test harness. A test file defines cases with HG_TEST(name); each
 * case becomes one ctest test (tests/CMakeLists.txt reads the HG_TEST lines).
 * A file whose text contains the line "HG_LABELS(fast)" is in the fast subset
 * that CI also runs under AddressSanitizer + UBSan. */
#ifndef HG_TEST_H
#define HG_TEST_H

#include <math.h>
#include <stdio.h>
#include "ir/ir.h"
#include "passes/schedule.h"

typedef void (*hg_test_fn)(void);
void hg_test_register(const char *name, hg_test_fn fn);
extern int hg_test_failed; /* set by the check macros */

#define HG_LABELS(x)
#define HG_TEST(name)                                                         \
    static void name(void);                                                   \
    __attribute__((constructor)) static void hg_reg_##name(void) {            \
        hg_test_register(#name, name);                                        \
    }                                                                         \
    static void name(void)

#define HG_FAIL(...)                                                          \
    do {                                                                      \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                       \
        fprintf(stderr, __VA_ARGS__);                                         \
        fprintf(stderr, "\n");                                                \
        hg_test_failed = 1;                                                   \
        return;                                                               \
    } while (0)

#define HG_CHECK(cond)                                                        \
    do { if (!(cond)) HG_FAIL("check failed: %s", #cond); } while (0)

/* |a - b| <= tol (absolute); NaN fails. */
#define HG_CHECK_NEAR(a, b, tol)                                              \
    do {                                                                      \
        double hg_a_ = (double)(a), hg_b_ = (double)(b);                      \
        if (!(fabs(hg_a_ - hg_b_) <= (tol)))                                  \
            HG_FAIL("%s = %.17g, expected %s = %.17g (tol %g)", #a, hg_a_,    \
                    #b, hg_b_, (double)(tol));                                \
    } while (0)

/* relative: |a - b| <= tol * max(1, |b|) */
#define HG_CHECK_REL(a, b, tol)                                               \
    do {                                                                      \
        double hg_a_ = (double)(a), hg_b_ = (double)(b);                      \
        double hg_m_ = fabs(hg_b_) > 1 ? fabs(hg_b_) : 1;                     \
        if (!(fabs(hg_a_ - hg_b_) <= (tol) * hg_m_))                          \
            HG_FAIL("%s = %.17g, expected %s = %.17g (rel tol %g)", #a,       \
                    hg_a_, #b, hg_b_, (double)(tol));                         \
    } while (0)

#define HG_CHECK_OK(expr)                                                     \
    do {                                                                      \
        hg_status hg_s_ = (expr);                                             \
        if (hg_s_.code != HG_OK)                                              \
            HG_FAIL("%s failed: %s", #expr, hg_s_.msg);                       \
    } while (0)

/* The status is an error whose message contains `sub`. */
#define HG_CHECK_ERR(expr, sub)                                               \
    do {                                                                      \
        hg_status hg_s_ = (expr);                                             \
        if (hg_s_.code == HG_OK) HG_FAIL("%s succeeded, expected error", #expr); \
        if (!strstr(hg_s_.msg, (sub)))                                        \
            HG_FAIL("%s: message \"%s\" lacks \"%s\"", #expr, hg_s_.msg, (sub)); \
    } while (0)

/* Directory for scratch files of this test (created; under the build dir). */
const char *hg_test_tmpdir(void);
/* "<hg_test_tmpdir()>/<name>" in one of 8 static buffers used in turn: valid
 * until the 8th call after this one. Aborts when the path exceeds 1023 bytes. */
char *hg_test_path(const char *name);
/* Path of the source tree (for data/ and configs/). */
const char *hg_test_srcdir(void);

/* ---- Op-test harness (tests/test_ops_*.c): one graph whose values are run
 * one at a time through the reference interpreter (codegen/codegen.h).
 * Usage: hg_test_ctx c = hg_test_ctx_new(); build on c.g;
 * t = hg_test_run1(&c, v); check t; ...; hg_test_ctx_free(&c). */
typedef struct {
    hg_graph *g;       /* owned; build the test graph on it */
    hg_tensor_map out; /* outputs of the latest hg_test_run1 */
    int n;             /* outputs added so far (named y0, y1, ...) */
} hg_test_ctx;

hg_test_ctx hg_test_ctx_new(void);
void hg_test_ctx_free(hg_test_ctx *c);
/* Makes v a new output "y<n>" of c->g, verifies the graph and runs it with
 * hg_ref_run (no state, no inputs). Returns v's tensor, owned by c->out and
 * valid until the next run or hg_test_ctx_free; NULL after printing the
 * error to stderr when verification or the run fails. */
const hg_tensor *hg_test_run1(hg_test_ctx *c, hg_value v);
/* Constant vectors [n] in c->g from n host values (copied). */
hg_value hg_test_vec64(hg_test_ctx *c, int n, const double *v);
hg_value hg_test_vec32(hg_test_ctx *c, int n, const float *v);

/* Shapes from integer dims of any integer type (cast to int64_t here, as
 * hg_shape_of's varargs need). */
#define HG_S1(a) hg_shape_of(1, (int64_t)(a))
#define HG_S2(a, b) hg_shape_of(2, (int64_t)(a), (int64_t)(b))
#define HG_S3(a, b, c) hg_shape_of(3, (int64_t)(a), (int64_t)(b), (int64_t)(c))

/* ---- Hand-made schedules (passes/schedule.h) for executor/profiler tests.
 * Kernel i has kind kinds[i] and the n_members[i] next node ids of
 * `members` (ascending within a kernel); inputs/outputs come from
 * hg_kernel_fill_io, space is the first member's shape (LOOP) or the
 * anchor's, reduce the last member of a LOOP when it is sum/mean/max,
 * anchor the first matmul/softmax/layer_norm member (MATMUL/ROW) or the
 * first member (MULTI), name "op" for one node, else "<kind>:<op>_<op>..".
 * *out is checked with hg_schedule_check. Errors: the checker's. */
hg_status hg_test_schedule(const hg_graph *g, int n_kernels, const hg_kernel_kind *kinds,
                           const int *n_members, const hg_value *members, hg_schedule *out);

#endif
