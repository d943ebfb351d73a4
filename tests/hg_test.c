/* Test runner: `test_x` runs every case, `test_x NAME` runs one. */
#include "tests/hg_test.h"

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

const char *hg_test_tmpdir(void) {
    static char dir[1024];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/tmp-%d", HG_BINARY_DIR, (int)getpid());
        mkdir(dir, 0755);
    }
    return dir;
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
