/* Minimal test harness. A test file defines cases with HG_TEST(name); each
 * case becomes one ctest test (tests/CMakeLists.txt reads the HG_TEST lines).
 * A file whose text contains the line "HG_LABELS(fast)" is in the fast subset
 * that CI also runs under AddressSanitizer + UBSan. */
#ifndef HG_TEST_H
#define HG_TEST_H

#include <math.h>
#include <stdio.h>
#include "ir/ir.h"

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
/* Path of the source tree (for data/ and configs/). */
const char *hg_test_srcdir(void);

#endif
