/* Samples-file round trip and errors, --bins parsing (models/eval_io.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hg_test.h"
#include "models/eval.h"

HG_LABELS(fast)

HG_TEST(samples_round_trip) {
    hg_eval_samples s = {.m = 2, .n = 3, .f = 7, .c = 2, .box_size = 500, .redshift = 0.5};
    float x[2 * 3 * 7], c[4] = {0.3f, 0.8f, 0.25f, 0.9f};
    for (int i = 0; i < 42; i++) x[i] = (float)i * 1.5f;
    s.samples = x;
    s.cond = c;
    strcpy(s.cond_names[0], "Omega_m");
    strcpy(s.cond_names[1], "sigma_8");
    char path[1024];
    snprintf(path, sizeof path, "%s/samples.h5", hg_test_tmpdir());
    HG_CHECK_OK(hg_eval_samples_save(path, &s));
    hg_eval_samples r;
    HG_CHECK_OK(hg_eval_samples_load(path, &r));
    HG_CHECK(r.m == 2 && r.n == 3 && r.f == 7 && r.c == 2);
    HG_CHECK(memcmp(r.samples, x, sizeof x) == 0 && memcmp(r.cond, c, sizeof c) == 0);
    HG_CHECK(!strcmp(r.cond_names[1], "sigma_8"));
    HG_CHECK(r.box_size == 500 && r.redshift == 0.5);
    hg_eval_samples_free(&r);
    HG_CHECK_ERR(hg_eval_samples_load("/nonexistent/s.h5", &r), "cannot open");
    /* a result file written by the writer is not a samples file */
    snprintf(path, sizeof path, "%s/other.h5", hg_test_tmpdir());
    hg_eval_writer w;
    HG_CHECK_OK(hg_eval_writer_open(&w, path));
    int64_t d = 3;
    double v[3] = {1, 2, 3};
    hg_eval_write_f64(&w, "xi0/true", 1, &d, v);
    HG_CHECK_OK(hg_eval_writer_close(&w));
    HG_CHECK_ERR(hg_eval_samples_load(path, &r), "missing dataset samples");
}

HG_TEST(parse_linspace) {
    double *e;
    int n;
    HG_CHECK_OK(hg_eval_parse_linspace("0.5:120:60", &e, &n));
    HG_CHECK(n == 60);
    HG_CHECK_NEAR(e[0], 0.5, 0);
    HG_CHECK_NEAR(e[1], 0.5 + 119.5 / 59, 1e-12);
    HG_CHECK_NEAR(e[59], 120, 0);
    free(e);
    HG_CHECK_ERR(hg_eval_parse_linspace("5:1:3", &e, &n), "LO < HI");
    HG_CHECK_ERR(hg_eval_parse_linspace("1:5", &e, &n), "not LO:HI:N");
    HG_CHECK_ERR(hg_eval_parse_linspace("1:5:1", &e, &n), "2 <= N");
    HG_CHECK_ERR(hg_eval_parse_linspace("1:5:x", &e, &n), "not LO:HI:N");
}
