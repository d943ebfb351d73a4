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
