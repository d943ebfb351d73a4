/* Checkpoint cases too slow for the sanitizer subset (> 1 s): atomicity
 * under SIGKILL (runtime/checkpoint.c, atomic.c) and h5py reading a written
 * dataset and checkpoint through /usr/bin/python3 tests/h5py_check.py. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "tests/checkpoint_fixture.h"
#include "tests/hg_test.h"

/* Reads a checkpoint's step and the first kernel value; -1 on failure. */
static int64_t step_of(const char *p, float *k0) {
    hg_checkpoint c;
    hg_checkpoint_init(&c);
    hg_status s = hg_checkpoint_load(p, NULL, NULL, &c);
    int64_t st = -1;
    if (s.code == HG_OK) {
        st = c.step;
        *k0 = ((float *)hg_map_get(&c.state, "score/layer_0/mha/query/kernel")->data)[0];
    } else {
        fprintf(stderr, "load: %s\n", s.msg);
    }
    hg_checkpoint_free(&c);
    return st;
}

/* Saves `ck` at p in a child process with HG_FAULT_INJECT=fault (the
 * writer's fault-injection point, runtime/atomic.c); returns the wait
 * status and the child's pid. */
static int save_in_child(const char *p, const hg_checkpoint *ck, const char *fault, pid_t *pid) {
    fflush(stdout);
    *pid = fork();
    if (*pid == 0) {
        setenv("HG_FAULT_INJECT", fault, 1);
        hg_status s = hg_checkpoint_save(p, ck);
        _exit(s.code == HG_OK ? 0 : 2);
    }
    int st = 0;
    waitpid(*pid, &st, 0);
    return st;
}

static int64_t file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* A writer killed at any moment of its write (fault injection instead of a
 * race against the clock): mid-way through the temporary file, and after
 * its fsync just before the rename. The old checkpoint stays intact, the
 * temporary file is the only trace, and hg_atomic_remove_stale (run by
 * train on start) removes it once the process is gone. A write failing
 * with ENOSPC returns the error and leaves nothing. */
HG_TEST(killed_write_leaves_previous_checkpoint) {
    const char *p = hg_test_path("atomic.h5");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", p);
    *strrchr(dir, '/') = 0;
    hg_checkpoint old;
    hg_checkpoint_init(&old);
    make_state(&old, 1.0f);
    HG_CHECK_OK(hg_checkpoint_save(p, &old));
    hg_checkpoint_free(&old);
    int64_t old_size = file_size(p);
    /* the new checkpoint: 4 MB more than the old one */
    hg_checkpoint big;
    hg_checkpoint_init(&big);
    make_state(&big, 2.0f);
    hg_tensor *t;
    for (int i = 0; i < 4; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "opt/v/big_%d", i);
        hg_map_alloc(&big.state, nm, HG_F32, hg_shape_of(1, (int64_t)1 << 18), &t);
        for (int64_t j = 0; j < ((int64_t)1 << 18); j++) ((float *)t->data)[j] = (float)j;
    }
    const char *faults[2] = {"kill@1000000:atomic.h5", "kill-before-rename:atomic.h5"};
    for (int k = 0; k < 2; k++) {
        pid_t pid;
        int st = save_in_child(p, &big, faults[k], &pid);
        HG_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)pid);
        int64_t tmp_size = file_size(tmp);
        if (k == 0) HG_CHECK(tmp_size == 1000000); /* killed after exactly 1e6 bytes */
        else HG_CHECK(tmp_size > old_size + 4000000); /* complete, not renamed */
        float k0 = 0;
        HG_CHECK(step_of(p, &k0) == 1000); /* the old checkpoint, intact */
        HG_CHECK(k0 == 1.0f * (float)(0 - 5) / 7);
        HG_CHECK(file_size(p) == old_size);
        int removed = -1;
        HG_CHECK_OK(hg_atomic_remove_stale(dir, &removed));
        HG_CHECK(removed == 1);
        HG_CHECK(access(tmp, F_OK) != 0);
    }
    /* a temporary file of a live process (this one's parent: alive) is kept */
    char live[1100];
    snprintf(live, sizeof live, "%s.tmp.%ld", p, (long)getppid());
    FILE *lf = fopen(live, "w");
    HG_CHECK(lf != NULL);
    if (lf) fclose(lf);
    int removed = -1;
    HG_CHECK_OK(hg_atomic_remove_stale(dir, &removed));
    HG_CHECK(removed == 0 && access(live, F_OK) == 0);
    unlink(live);
    /* disk full in the middle of the write: an error naming the file and the
     * cause, the old file intact, no temporary file */
    pid_t pid;
    int st = save_in_child(p, &big, "enospc@1000000:atomic.h5", &pid);
    HG_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)pid);
    HG_CHECK(access(tmp, F_OK) != 0);
    float k0 = 0;
    HG_CHECK(step_of(p, &k0) == 1000);
    setenv("HG_FAULT_INJECT", "enospc@1000:atomic.h5", 1);
    hg_status s = hg_checkpoint_save(p, &big);
    unsetenv("HG_FAULT_INJECT");
    HG_CHECK(s.code == HG_ERR_IO && strstr(s.msg, "atomic.h5") && strstr(s.msg, "No space left on device"));
    HG_CHECK(step_of(p, &k0) == 1000);
    /* and a complete write still works afterwards */
    HG_CHECK_OK(hg_checkpoint_save(p, &big));
    HG_CHECK(step_of(p, &k0) == 2000);
    hg_checkpoint_free(&big);
}

HG_TEST(h5py_reads_dataset_and_checkpoint) {
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("skipped: /usr/bin/python3 not found\n");
        return;
    }
    /* dataset: imported from tiny files made here */
    float h[2 * 3 * 7];
    for (int i = 0; i < 2 * 3; i++) {
        float *r = h + i * 7;
        r[0] = (float)i;
        r[1] = (float)(2 * i);
        r[2] = 9.5f;
        r[3] = r[4] = r[5] = (float)(i - 3);
        r[6] = (float)(1e14 * (10 - i));
    }
    hg_tensor t = {HG_F32, hg_shape_of(3, (int64_t)2, (int64_t)3, (int64_t)7), h, 0};
    HG_CHECK_OK(hg_npy_write(hg_test_path("p.npy"), &t));
    FILE *f = fopen(hg_test_path("p.csv"), "w");
    fputs("Omega_m,sigma_8\n0.3,0.8\n0.25,0.9\n", f);
    fclose(f);
    hg_import_options o;
    hg_import_options_default(&o);
    o.halos_path = hg_test_path("p.npy");
    o.cosmology_path = hg_test_path("p.csv");
    o.box_size = 10;
    o.split[0] = 0.5;
    o.split[1] = 0.5;
    o.split[2] = 0;
    hg_dataset ds;
    hg_dataset_init(&ds);
    HG_CHECK_OK(hg_import(&o, &ds));
    HG_CHECK_OK(hg_dataset_save(hg_test_path("p.h5"), &ds));
    hg_dataset_free(&ds);
    hg_checkpoint ck;
    hg_checkpoint_init(&ck);
    make_state(&ck, 1.0f);
    HG_CHECK_OK(hg_checkpoint_save(hg_test_path("pck.h5"), &ck));
    hg_checkpoint_free(&ck);
    char cmd[4096];
    /* sum of the kernel: sum_{i=0..11} (i - 5) / 7 = 6 / 7 */
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/tests/h5py_check.py %s --expect-attr box_size=10 --expect-sum cosmology=2.25 >&2",
             hg_test_srcdir(), hg_test_path("p.h5"));
    int rc = system(cmd);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        printf("skipped: h5py not installed for /usr/bin/python3\n");
        return;
    }
    HG_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/tests/h5py_check.py %s --expect-attr step=1000 --expect-attr seed=52 "
             "--expect-sum state/score/layer_0/mha/query/kernel=%.17g --expect-sum state/opt/count=100 "
             "--expect-sum norm/mean=264.75 >&2",
             hg_test_srcdir(), hg_test_path("pck.h5"), 6.0 / 7.0);
    rc = system(cmd);
    HG_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
}
