/* Test runner: `test_x` runs every case, `test_x NAME` runs one. */
#include "tests/hg_test.h"

#include "codegen/codegen.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HG_MAX_CASES 512

static struct { const char *name; hg_test_fn fn; } cases[HG_MAX_CASES];
static int n_cases;
int hg_test_failed;

void hg_test_register(const char *name, hg_test_fn fn) {
    if (n_cases < HG_MAX_CASES) {
        cases[n_cases].name = name;
        cases[n_cases].fn = fn;
        n_cases++;
    }
}

const char *hg_test_srcdir(void) { return HG_SOURCE_DIR; }

char *hg_test_path(const char *name) {
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    if (snprintf(p, sizeof buf[0], "%s/%s", hg_test_tmpdir(), name) >= (int)sizeof buf[0]) {
        fprintf(stderr, "hg_test_path: path for \"%s\" too long\n", name);
        abort();
    }
    return p;
}

const char *hg_test_tmpdir(void) {
    static char dir[1024];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/tmp-%d", HG_BINARY_DIR, (int)getpid());
        mkdir(dir, 0755);
    }
    return dir;
}

hg_test_ctx hg_test_ctx_new(void) {
    hg_test_ctx c = {hg_graph_new(), {0}, 0};
    hg_map_init(&c.out);
    return c;
}

void hg_test_ctx_free(hg_test_ctx *c) {
    hg_map_free(&c->out);
    hg_graph_free(c->g);
}

const hg_tensor *hg_test_run1(hg_test_ctx *c, hg_value v) {
    char name[32];
    snprintf(name, sizeof name, "y%d", c->n++);
    hg_set_output(c->g, name, v);
    hg_status s = hg_verify(c->g);
    if (s.code == HG_OK) s = hg_ref_run(c->g, NULL, NULL, &c->out, NULL);
    if (s.code != HG_OK) {
        fprintf(stderr, "run: %s\n", s.msg);
        return NULL;
    }
    return hg_map_get(&c->out, name);
}

hg_value hg_test_vec64(hg_test_ctx *c, int n, const double *v) {
    return hg_constant(c->g, HG_F64, HG_S1(n), v);
}

hg_value hg_test_vec32(hg_test_ctx *c, int n, const float *v) {
    return hg_constant(c->g, HG_F32, HG_S1(n), v);
}

int main(int argc, char **argv) {
    int ran = 0, failed = 0;
    for (int i = 0; i < n_cases; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) continue;
        hg_test_failed = 0;
        cases[i].fn();
        ran++;
        if (hg_test_failed) {
            failed++;
            fprintf(stderr, "FAIL %s\n", cases[i].name);
        } else {
            printf("ok   %s\n", cases[i].name);
        }
    }
    if (ran == 0) {
        fprintf(stderr, "no test case named %s\n", argc > 1 ? argv[1] : "(any)");
        return 1;
    }
    return failed ? 1 : 0;
}

/* ------------------------------------------------ hand-made schedules */

static int test_is_reduce(hg_op op) { return op == HG_OP_sum || op == HG_OP_mean || op == HG_OP_max; }

hg_status hg_test_schedule(const hg_graph *g, int n_kernels, const hg_kernel_kind *kinds,
                           const int *n_members, const hg_value *members, hg_schedule *out) {
    memset(out, 0, sizeof *out);
    char *needed = hg_schedule_needed(g);
    out->n_nodes = g->n_nodes;
    out->kernels = calloc((size_t)n_kernels + 1, sizeof *out->kernels);
    out->kernel_of = malloc(((size_t)g->n_nodes + 1) * sizeof *out->kernel_of);
    if (!needed || !out->kernels || !out->kernel_of) {
        free(needed);
        hg_schedule_free(out);
        return hg_error(HG_ERR_NOMEM, "test schedule");
    }
    for (int v = 0; v < g->n_nodes; v++) out->kernel_of[v] = -1;
    hg_status st = hg_ok();
    const hg_value *m = members;
    for (int i = 0; i < n_kernels && st.code == HG_OK; i++, out->n_kernels++) {
        hg_kernel *k = &out->kernels[i];
        k->kind = kinds[i];
        k->n_members = n_members[i];
        k->members = malloc(sizeof(hg_value) * (size_t)n_members[i]);
        if (!k->members) {
            st = hg_error(HG_ERR_NOMEM, "test schedule");
            break;
        }
        memcpy(k->members, m, sizeof(hg_value) * (size_t)n_members[i]);
        m += n_members[i];
        k->reduce = k->anchor = HG_NONE;
        hg_value last = k->members[k->n_members - 1];
        if (k->kind == HG_KERNEL_LOOP && test_is_reduce(g->nodes[last].op)) k->reduce = last;
        for (int j = 0; j < k->n_members && k->anchor == HG_NONE; j++) {
            hg_op op = g->nodes[k->members[j]].op;
            if ((k->kind == HG_KERNEL_MATMUL && op == HG_OP_matmul) ||
                (k->kind == HG_KERNEL_ROW && (op == HG_OP_softmax || op == HG_OP_layer_norm)) ||
                k->kind == HG_KERNEL_MULTI)
                k->anchor = k->members[j];
        }
        k->space = g->nodes[k->anchor != HG_NONE ? k->anchor : k->members[0]].shape;
        if (k->n_members == 1)
            snprintf(k->name, sizeof k->name, "%s", hg_op_table[g->nodes[last].op].name);
        else {
            size_t len = (size_t)snprintf(k->name, sizeof k->name, "%s:", hg_kernel_kind_name(k->kind));
            for (int j = 0; j < k->n_members && len < sizeof k->name; j++)
                len += (size_t)snprintf(k->name + len, sizeof k->name - len, "%s%s", j ? "_" : "",
                                        hg_op_table[g->nodes[k->members[j]].op].name);
        }
        for (int j = 0; j < k->n_members; j++) out->kernel_of[k->members[j]] = i;
        st = hg_kernel_fill_io(g, needed, k);
    }
    free(needed);
    if (st.code == HG_OK) st = hg_schedule_check(g, out);
    if (st.code != HG_OK) hg_schedule_free(out);
    return st;
}
