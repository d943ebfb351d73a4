/* The JIT's vector math (codegen/jit/jit_vmath.c) against the f64 C
 * library: each f32 function compiled as a one-op LOOP kernel and run over
 * every STRIDE-th f32 bit pattern (default 1021: 4.2M inputs per function;
 * HG_JIT_SWEEP_STRIDE=1 sweeps all 2^32, bench/jit_vmath_sweep.sh) plus the
 * special values (NaN, +-inf, +-0, denormals, overflow/underflow
 * thresholds). The error is in ulps of the correctly rounded f32 result
 * (tests/jit_util.h jt_ulp); each function must stay within its bound
 * below, and special values must match C99 Annex F (as the bound allows,
 * and NaN exactly where the library gives NaN). With HG_JIT_SWEEP_REPORT
 * set, the worst input of each function is printed. */
#include "tests/hg_test.h"

#include <stdint.h>
#include <stdio.h>

#include "tests/jit_util.h"

HG_LABELS(fast)

#define CHUNK (1 << 20)

typedef struct {
    hg_op op;
    double (*ref)(double);
    double max_ulp; /* bound checked by the test */
    /* an element also passes with |got - want| <= abs_per_x |x|: the
     * rounding error of the reference's own double formula (gelu_tanh:
     * 1 + tanh(u) cancels for x < -5) */
    double abs_per_x;
} fn_case;

static double sigmoid_r(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double softplus_r(double x) { return isnan(x) ? x : fmax(x, 0) + log1p(exp(-fabs(x))); }
static double gelu_r(double x) {
    return 0.5 * x * (1 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
}
static double rsqrt_r(double x) { return 1 / sqrt(x); }

static const fn_case cases[] = {
    {HG_OP_exp, exp, 1.0, 0},         {HG_OP_expm1, expm1, 1.5, 0},
    {HG_OP_log, log, 1.0, 0},         {HG_OP_log1p, log1p, 2.5, 0},
    {HG_OP_tanh, tanh, 2.5, 0},       {HG_OP_erf, erf, 2.0, 0},
    {HG_OP_sigmoid, sigmoid_r, 2.5, 0}, {HG_OP_softplus, softplus_r, 3.0, 0},
    {HG_OP_gelu_tanh, gelu_r, 1.0, 0x1p-51}, {HG_OP_rsqrt, rsqrt_r, 1.5, 0},
};

static const float specials[] = {
    NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1.4e-45f, -1.4e-45f, 1.17549435e-38f,
    -1.17549435e-38f, 5.9e-39f, 3.4028235e38f, -3.4028235e38f, 88.7228317f, 88.7228394f,
    -87.3365479f, -103.278931f, -103.972084f, -104.0f, 89.0f, 1.0f, -1.0f, 0.5f, -0.5f,
    9.0f, -9.0f, 20.0f, 3.92f, 4.0f, -4.0f, 1e-20f, -1e-20f, 0.34657359f, -0.34657359f,
    1.5707964f, 3.1415927f, 6.2831855f, 1e6f, -1e6f, 16777216.0f, 1e30f, -1.0000001f,
    -0.99999994f, 1e-8f, -1e-8f};
#define N_SPECIAL ((int)(sizeof specials / sizeof specials[0]))

static uint64_t sweep_stride(void) {
    const char *s = getenv("HG_JIT_SWEEP_STRIDE");
    long v = s ? strtol(s, NULL, 10) : 0;
    return v >= 1 ? (uint64_t)v : 1021;
}

/* Max error of kernel y = op(x) over the sweep; the worst input in *worst. */
static hg_status sweep_unary(hg_op op, double (*ref)(double), double abs_per_x,
                             double *max_err, float *worst, float *worst_got) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)CHUNK));
    hg_value y = hg_unary(g, op, x);
    hg_set_output(g, "y", y);
    HG_TRY(hg_graph_status(g));
    hg_schedule s;
    HG_TRY(jt_schedule(g, &y, 1, HG_NONE, &s));
    hg_jit_options opt = {"", NULL};
    hg_jit_program *p;
    HG_TRY(hg_jit_compile(g, &s, NULL, &opt, &p));
    float *in = malloc(sizeof(float) * CHUNK), *out = malloc(sizeof(float) * CHUNK);
    uint64_t stride = sweep_stride(), total = ((uint64_t)1 << 32) / stride + N_SPECIAL;
    *max_err = 0;
    for (uint64_t base = 0; base < total; base += CHUNK) {
        int64_t n = 0;
        for (; n < CHUNK && base + (uint64_t)n < total; n++) {
            uint64_t i = base + (uint64_t)n;
            if (i < N_SPECIAL) {
                in[n] = specials[i];
            } else {
                uint32_t bits = (uint32_t)((i - N_SPECIAL) * stride);
                memcpy(&in[n], &bits, 4);
            }
        }
        for (int64_t j = n; j < CHUNK; j++) in[j] = 0;
        void *ptrs[2] = {out, in};
        hg_jit_run(p, 0, ptrs);
        for (int64_t j = 0; j < n; j++) {
            double want = ref((double)in[j]);
            double e = jt_ulp(out[j], want);
            if (abs_per_x > 0 && fabs(out[j] - want) <= abs_per_x * fabs(in[j])) e = 0;
            if (e > *max_err || (e != e)) {
                *max_err = e;
                *worst = in[j];
                *worst_got = out[j];
            }
        }
    }
    free(in);
    free(out);
    hg_jit_free(p);
    hg_schedule_free(&s);
    hg_graph_free(g);
    return hg_ok();
}

HG_TEST(vmath_unary_ulp) {
    int report = getenv("HG_JIT_SWEEP_REPORT") != NULL, failed = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double err = 0;
        float worst = 0, got = 0;
        HG_CHECK_OK(sweep_unary(cases[c].op, cases[c].ref, cases[c].abs_per_x, &err, &worst, &got));
        if (report)
            printf("%-10s max %.3f ulp at x = %.9g (%a): got %.9g, want %.9g\n",
                   hg_op_table[cases[c].op].name, err, worst, worst, got,
                   cases[c].ref((double)worst));
        if (!(err <= cases[c].max_ulp) && ++failed)
            fprintf(stderr, "%s: %.3f ulp at x = %.9g (%a): got %.9g, want %.17g (bound %.1f)\n",
                    hg_op_table[cases[c].op].name, err, worst, worst, got,
                    cases[c].ref((double)worst), cases[c].max_ulp);
    }
    HG_CHECK(failed == 0);
}

/* sin, cos: within the bound for |x| < 2^50, in [-1, 1] (or NaN for inf,
 * NaN) everywhere. */
HG_TEST(vmath_sincos_ulp) {
    int report = getenv("HG_JIT_SWEEP_REPORT") != NULL;
    hg_op ops[2] = {HG_OP_sin, HG_OP_cos};
    double (*refs[2])(double) = {sin, cos};
    for (int c = 0; c < 2; c++) {
        hg_graph *g = hg_graph_new();
        hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)CHUNK));
        hg_value y = hg_unary(g, ops[c], x);
        hg_set_output(g, "y", y);
        hg_schedule s;
        HG_CHECK_OK(jt_schedule(g, &y, 1, HG_NONE, &s));
        hg_jit_options opt = {"", NULL};
        hg_jit_program *p;
        HG_CHECK_OK(hg_jit_compile(g, &s, NULL, &opt, &p));
        float *in = malloc(sizeof(float) * CHUNK), *out = malloc(sizeof(float) * CHUNK);
        uint64_t stride = sweep_stride(), total = ((uint64_t)1 << 32) / stride + N_SPECIAL;
        double err = 0, err_big = 0;
        float worst = 0;
        int bad_range = 0;
        for (uint64_t base = 0; base < total; base += CHUNK) {
            int64_t n = 0;
            for (; n < CHUNK && base + (uint64_t)n < total; n++) {
                uint64_t i = base + (uint64_t)n;
                uint32_t bits = (uint32_t)((i - N_SPECIAL) * stride);
                if (i < N_SPECIAL) in[n] = specials[i];
                else memcpy(&in[n], &bits, 4);
            }
            for (int64_t j = n; j < CHUNK; j++) in[j] = 0;
            void *ptrs[2] = {out, in};
            hg_jit_run(p, 0, ptrs);
            for (int64_t j = 0; j < n; j++) {
                double e = jt_ulp(out[j], refs[c]((double)in[j]));
                if (fabsf(in[j]) < 0x1p50f) {
                    if (e > err) {
                        err = e;
                        worst = in[j];
                    }
                } else if (e > err_big) {
                    err_big = e;
                }
                if (isfinite(in[j]) && !(fabsf(out[j]) <= 1.0f)) bad_range = 1;
                if (!isfinite(in[j]) && !isnan(out[j])) bad_range = 1;
            }
        }
        if (report)
            printf("%-10s max %.3f ulp for |x| < 2^50 (at %.9g), %.3g ulp beyond\n",
                   hg_op_table[ops[c]].name, err, worst, err_big);
        free(in);
        free(out);
        hg_jit_free(p);
        hg_schedule_free(&s);
        hg_graph_free(g);
        HG_CHECK(!bad_range);
        if (!(err <= 1.0)) HG_FAIL("%s: %.3f ulp at %.9g", hg_op_table[ops[c]].name, err, worst);
    }
}

/* pow over x = every STRIDE*64-th pattern times a set of exponents,
 * including the special cases of Annex F. */
HG_TEST(vmath_pow_ulp) {
    static const float ys[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.0f, 3.0f, -3.0f, 0.5f, -0.5f,
                               2.5f, -2.5f, 10.3f, -7.7f, 1e-3f, 100.0f, 1e10f, -1e10f,
                               INFINITY, -INFINITY, NAN, 16777217.0f, 0.3333333f};
    int ny = (int)(sizeof ys / sizeof ys[0]);
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)CHUNK));
    hg_value yv = hg_input(g, "y", HG_F32, hg_shape_of(1, (int64_t)1));
    hg_value z = hg_binary(g, HG_OP_pow, x, yv);
    hg_set_output(g, "z", z);
    hg_schedule s;
    HG_CHECK_OK(jt_schedule(g, &z, 1, HG_NONE, &s));
    hg_jit_options opt = {"", NULL};
    hg_jit_program *p;
    HG_CHECK_OK(hg_jit_compile(g, &s, NULL, &opt, &p));
    float *in = malloc(sizeof(float) * CHUNK), *out = malloc(sizeof(float) * CHUNK);
    uint64_t stride = sweep_stride() * 64;
    int64_t n = 0;
    for (uint64_t i = 0; n < CHUNK && i < ((uint64_t)1 << 32) / stride; i++, n++) {
        uint32_t bits = (uint32_t)(i * stride);
        memcpy(&in[n], &bits, 4);
    }
    for (int i = 0; i < N_SPECIAL && n < CHUNK; i++) in[n++] = specials[i];
    for (int64_t j = n; j < CHUNK; j++) in[j] = 1;
    double err = 0;
    float wx = 0, wy = 0, wgot = 0;
    for (int k = 0; k < ny; k++) {
        void *ptrs[3] = {out, in, (void *)&ys[k]};
        hg_jit_run(p, 0, ptrs);
        for (int64_t j = 0; j < n; j++) {
            double e = jt_ulp(out[j], pow((double)in[j], (double)ys[k]));
            if (e > err || e != e) {
                err = e;
                wx = in[j];
                wy = ys[k];
                wgot = out[j];
            }
        }
    }
    if (getenv("HG_JIT_SWEEP_REPORT"))
        printf("%-10s max %.3f ulp at pow(%.9g, %.9g)\n", "pow", err, wx, wy);
    free(in);
    free(out);
    hg_jit_free(p);
    hg_schedule_free(&s);
    hg_graph_free(g);
    if (!(err <= 1.0))
        HG_FAIL("pow: %.3f ulp at pow(%.9g, %.9g): got %.9g want %.17g", err, wx, wy, wgot,
                pow((double)wx, (double)wy));
}
