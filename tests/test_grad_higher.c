/* Higher-order autodiff: hg_grad applied to a gradient (SPEC 3.2 needs
 * d gamma / dt inside a differentiated loss). */
#include <stdlib.h>

#include "codegen/codegen.h"
#include "passes/passes.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

static const double xs[4] = {0.3, -1.2, 0.8, 2.0};

/* d/dw sum_j tanh(w x_j)^2, written out analytically. */
static double d1(double w) {
    double s = 0;
    for (int j = 0; j < 4; j++) {
        double t = tanh(w * xs[j]);
        s += 2 * t * (1 - t * t) * xs[j];
    }
    return s;
}

static double run_scalar(const hg_graph *g, double w, const char *out_name) {
    hg_tensor_map st, in, out;
    hg_map_init(&st);
    hg_map_init(&in);
    hg_map_init(&out);
    hg_tensor *t;
    double r = NAN;
    if (hg_map_alloc(&in, "w", HG_F64, hg_shape_scalar(), &t).code == HG_OK) {
        hg_tensor_set(t, 0, w);
        if (hg_ref_run(g, &st, &in, &out, NULL).code == HG_OK)
            r = hg_tensor_get(hg_map_get(&out, out_name), 0);
    }
    hg_map_free(&st);
    hg_map_free(&in);
    hg_map_free(&out);
    return r;
}

HG_TEST(second_order_tanh) {
    hg_graph *g = hg_graph_new();
    hg_value w = hg_input(g, "w", HG_F64, hg_shape_scalar());
    hg_value x = hg_constant(g, HG_F64, hg_shape_of(1, (int64_t)4), xs);
    hg_value f = hg_sum_all(g, hg_square(g, hg_tanh(g, hg_mul(g, w, x))));
    hg_value g1, g2;
    HG_CHECK_OK(hg_grad(g, f, 1, &w, &g1));
    HG_CHECK_OK(hg_grad(g, hg_sum_all(g, g1), 1, &w, &g2));
    hg_set_output(g, "g1", g1);
    hg_set_output(g, "g2", g2);
    HG_CHECK_OK(hg_verify(g));
    const double ws[3] = {0.7, -0.4, 1.3};
    for (int k = 0; k < 3; k++) {
        double w0 = ws[k], h = 1e-5;
        HG_CHECK_REL(run_scalar(g, w0, "g1"), d1(w0), 1e-13);
        double fd = (d1(w0 + h) - d1(w0 - h)) / (2 * h);
        double closed = 0;
        for (int j = 0; j < 4; j++) {
            double t = tanh(w0 * xs[j]);
            closed += 2 * xs[j] * xs[j] * (1 - t * t) * (1 - 3 * t * t);
        }
        double got = run_scalar(g, w0, "g2");
        HG_CHECK_REL(got, fd, 1e-7);
        HG_CHECK_REL(got, closed, 1e-12);
    }
    hg_graph_free(g);
}

/* Third derivative of sum(sin(x)) is -cos(x); of softplus it is
 * sigma'(x)(1 - 2 sigma(x)). */
HG_TEST(third_order) {
    hg_graph *g = hg_graph_new();
    hg_value w = hg_input(g, "w", HG_F64, hg_shape_scalar());
    hg_value f = hg_add(g, hg_unary(g, HG_OP_sin, w), hg_unary(g, HG_OP_softplus, w));
    hg_value d = f;
    for (int k = 0; k < 3; k++) HG_CHECK_OK(hg_grad(g, d, 1, &w, &d));
    hg_set_output(g, "d3", d);
    for (double w0 = -1.5; w0 < 2; w0 += 0.7) {
        double s = 1 / (1 + exp(-w0));
        HG_CHECK_REL(run_scalar(g, w0, "d3"), -cos(w0) + s * (1 - s) * (1 - 2 * s), 1e-13);
    }
    hg_graph_free(g);
}
