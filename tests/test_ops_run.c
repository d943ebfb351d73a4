/* Reference interpreter driver: inputs/states by name with errors naming
 * them, state updates applied after the whole graph, hooks, liveness. */
#include "codegen/codegen.h"
#include "tests/hg_test.h"

#include <stdint.h>
#include <string.h>

HG_LABELS(fast)

static inline hg_shape S1(int64_t a) { return hg_shape_make(1, (int64_t[]){a}); }
static inline hg_shape S2(int64_t a, int64_t b) { return hg_shape_make(2, (int64_t[]){a, b}); }

static void count_hook(void *user, const hg_graph *g, const hg_schedule *s, int kernel,
                       double seconds) {
    int *n = user;
    if (seconds >= 0 && kernel >= 0 && kernel < s->n_kernels && s->n_nodes == g->n_nodes) n[0]++;
}

HG_TEST(inputs_by_name_and_errors) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, S2(2, 3));
    hg_value y = hg_input(g, "y", HG_F32, S1(3));
    hg_set_output(g, "z", hg_add(g, x, y));
    HG_CHECK_OK(hg_verify(g));
    hg_tensor_map in, out;
    hg_map_init(&in);
    hg_map_init(&out);
    hg_tensor *tx, *ty;
    HG_CHECK_OK(hg_map_alloc(&in, "x", HG_F32, S2(2, 3), &tx));
    HG_CHECK_ERR(hg_ref_run(g, NULL, &in, &out, NULL), "input \"y\" missing");
    HG_CHECK_OK(hg_map_alloc(&in, "y", HG_F32, S1(4), &ty));
    HG_CHECK_ERR(hg_ref_run(g, NULL, &in, &out, NULL), "expected f32[3], got f32[4]");
    HG_CHECK_OK(hg_map_alloc(&in, "y", HG_F64, S1(3), &ty));
    HG_CHECK_ERR(hg_ref_run(g, NULL, &in, &out, NULL), "got f64[3]");
    HG_CHECK(out.n == 0); /* nothing stored on error */
    HG_CHECK_OK(hg_map_alloc(&in, "y", HG_F32, S1(3), &ty));
    tx = hg_map_get(&in, "x");
    for (int i = 0; i < 6; i++) ((float *)tx->data)[i] = (float)i;
    for (int i = 0; i < 3; i++) ((float *)ty->data)[i] = 10.0f * (float)i;
    HG_CHECK_OK(hg_map_alloc(&in, "unused", HG_I32, S1(1), &ty)); /* extra entries ignored */
    HG_CHECK_OK(hg_ref_run(g, NULL, &in, &out, NULL));
    const hg_tensor *z = hg_map_get(&out, "z");
    HG_CHECK(z && hg_tensor_get(z, 4) == 4 + 10 && hg_tensor_get(z, 2) == 2 + 20);
    hg_map_free(&in);
    hg_map_free(&out);
    hg_graph_free(g);
}

HG_TEST(state_updates_after_whole_graph) {
    /* counter s (f64[2]); output "old" = s, update s <- s + 1, and a swap
     * of two states a <- b, b <- a: every read sees the value before the call */
    hg_graph *g = hg_graph_new();
    hg_value s = hg_state(g, "s", HG_F64, S1(2));
    hg_value a = hg_state(g, "a", HG_F32, S1(1));
    hg_value b = hg_state(g, "b", HG_F32, S1(1));
    hg_set_output(g, "old", s);
    hg_set_output(g, "double", hg_mul_s(g, s, 2.0));
    hg_set_update(g, s, hg_add_s(g, s, 1.0));
    hg_set_update(g, a, b);
    hg_set_update(g, b, a);
    HG_CHECK_OK(hg_verify(g));
    hg_tensor_map st, out;
    hg_map_init(&st);
    hg_map_init(&out);
    hg_tensor *ts, *ta, *tb;
    HG_CHECK_OK(hg_map_alloc(&st, "s", HG_F64, S1(2), &ts));
    ((double *)ts->data)[0] = 5;
    ((double *)ts->data)[1] = -1;
    HG_CHECK_OK(hg_map_alloc(&st, "a", HG_F32, S1(1), &ta));
    HG_CHECK_OK(hg_map_alloc(&st, "b", HG_F32, S1(1), &tb));
    ((float *)hg_map_get(&st, "a")->data)[0] = 1;
    ((float *)hg_map_get(&st, "b")->data)[0] = 2;
    int calls = 0;
    hg_exec_hooks hooks = {count_hook, &calls};
    HG_CHECK_OK(hg_ref_run(g, &st, NULL, &out, &hooks));
    HG_CHECK(calls == 2); /* one per kernel: the mul and the add (leaves run no kernel) */
    ts = hg_map_get(&st, "s");
    HG_CHECK(((double *)ts->data)[0] == 6 && ((double *)ts->data)[1] == 0);
    HG_CHECK(hg_tensor_get(hg_map_get(&out, "old"), 0) == 5);
    HG_CHECK(hg_tensor_get(hg_map_get(&out, "double"), 1) == -2);
    HG_CHECK(((float *)hg_map_get(&st, "a")->data)[0] == 2);
    HG_CHECK(((float *)hg_map_get(&st, "b")->data)[0] == 1);
    HG_CHECK_OK(hg_ref_run(g, &st, NULL, &out, NULL));
    HG_CHECK(((double *)hg_map_get(&st, "s")->data)[0] == 7);
    HG_CHECK(hg_tensor_get(hg_map_get(&out, "old"), 0) == 6);
    /* a missing state: error naming it, and nothing changes */
    hg_tensor_map st2;
    hg_map_init(&st2);
    HG_CHECK_OK(hg_map_alloc(&st2, "s", HG_F64, S1(2), &ts));
    HG_CHECK_OK(hg_map_alloc(&st2, "a", HG_F32, S1(1), &ta));
    HG_CHECK_ERR(hg_ref_run(g, &st2, NULL, &out, NULL), "state \"b\" missing");
    HG_CHECK(((double *)hg_map_get(&st2, "s")->data)[0] == 0);
    hg_map_free(&st2);
    hg_map_free(&st);
    hg_map_free(&out);
    hg_graph_free(g);
}

HG_TEST(dead_nodes_not_evaluated_and_buffers_freed) {
    /* a chain of 200 adds on a 1 MB tensor only keeps a few buffers alive
     * (checked under ASan/LSan for leaks); an unused branch reading an
     * absent input is not evaluated */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, S1(1 << 18));
    hg_value unused = hg_input(g, "not_fed", HG_F32, S1(1));
    (void)hg_exp(g, unused);
    hg_value v = x;
    for (int i = 0; i < 200; i++) v = hg_add_s(g, v, 1.0);
    hg_set_output(g, "y", v);
    HG_CHECK_OK(hg_verify(g));
    hg_tensor_map in, out;
    hg_map_init(&in);
    hg_map_init(&out);
    hg_tensor *tx;
    HG_CHECK_OK(hg_map_alloc(&in, "x", HG_F32, S1(1 << 18), &tx));
    HG_CHECK_OK(hg_ref_run(g, NULL, &in, &out, NULL));
    const hg_tensor *y = hg_map_get(&out, "y");
    HG_CHECK(y && hg_tensor_get(y, 12345) == 200 && hg_tensor_get(y, (1 << 18) - 1) == 200);
    hg_map_free(&in);
    hg_map_free(&out);
    hg_graph_free(g);
}
