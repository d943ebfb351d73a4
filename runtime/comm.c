/* runtime/comm.h: MPI collectives with a timeout that names the missing
 * rank, or the one-process case when MPI is absent or not launched. */
#include "runtime/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HG_HAVE_MPI
#include <mpi.h>
#endif

int hg_comm_is_fatal(hg_status s) {
    return s.code != HG_OK && !strncmp(s.msg, HG_COMM_FATAL, sizeof HG_COMM_FATAL - 1);
}

void hg_comm_shard(int64_t n, int rank, int size, int64_t *start, int64_t *count) {
    if (size < 1) size = 1;
    int64_t q = n / size, r = n % size;
    *count = q + (rank < r ? 1 : 0);
    *start = (int64_t)rank * q + (rank < r ? rank : r);
}

hg_status hg_comm_agree(const hg_comm *c, hg_status s, const char *what) {
    if (!c || c->size < 2) return s;
    int32_t v = s.code ? c->size - c->rank : 0;
    HG_TRY(hg_comm_max_i32(c, &v, what));
    if (!v) return s;
    int k = c->size - v;
    int32_t code = c->rank == k ? (int32_t)s.code : 0;
    HG_TRY(hg_comm_max_i32(c, &code, what));
    if (s.code) return s;
    return hg_error((hg_code)code, "rank %d failed in the %s (its message above)", k, what);
}

static void rows_of(int64_t n_rows, int64_t unit, int rank, int size, int64_t *r0, int64_t *r1) {
    int64_t nu = (n_rows + unit - 1) / unit, u0, un;
    hg_comm_shard(nu, rank, size, &u0, &un);
    *r0 = u0 * unit < n_rows ? u0 * unit : n_rows;
    *r1 = (u0 + un) * unit < n_rows ? (u0 + un) * unit : n_rows;
}

void hg_comm_my_rows(const hg_comm *c, int64_t n_rows, int64_t unit, int64_t *r0, int64_t *r1) {
    rows_of(n_rows, unit, c ? c->rank : 0, c && c->size > 1 ? c->size : 1, r0, r1);
}

hg_status hg_comm_gather_rows(const hg_comm *c, void *base, int64_t n_rows, int64_t unit, int64_t row_bytes,
                              const char *what) {
    if (!c || c->size < 2) return hg_ok();
    int64_t *counts = malloc(sizeof *counts * (size_t)c->size), r0 = 0, r1 = 0, mine0 = 0;
    if (!counts) return hg_error(HG_ERR_NOMEM, "%s", what);
    for (int r = 0; r < c->size; r++) {
        rows_of(n_rows, unit, r, c->size, &r0, &r1);
        counts[r] = (r1 - r0) * row_bytes;
        if (r == c->rank) mine0 = r0;
    }
    hg_status s = hg_comm_gather(c, (char *)base + mine0 * row_bytes, counts, base, what);
    free(counts);
    return s;
}

#ifndef HG_HAVE_MPI

int hg_comm_available(void) { return 0; }

hg_status hg_comm_init(hg_comm *c) {
    memset(c, 0, sizeof *c);
    c->size = 1;
    c->timeout_s = HG_COMM_TIMEOUT_DEFAULT;
    return hg_ok();
}
void hg_comm_finalize(hg_comm *c) { (void)c; }
void hg_comm_abort(const hg_comm *c, int code) {
    (void)c;
    exit(code);
}
hg_status hg_comm_sum_f32(const hg_comm *c, float *buf, int64_t n, const char *what) { return hg_ok(); }
hg_status hg_comm_sum_f64(const hg_comm *c, double *buf, int64_t n, const char *what) { return hg_ok(); }
hg_status hg_comm_max_i32(const hg_comm *c, int32_t *v, const char *what) { return hg_ok(); }
hg_status hg_comm_gather(const hg_comm *c, const void *mine, const int64_t *counts, void *all,
                         const char *what) {
    if (all != mine) memmove(all, mine, (size_t)counts[0]);
    return hg_ok();
}
hg_status hg_comm_bcast(const hg_comm *c, void *buf, int64_t n, const char *what) { return hg_ok(); }

#else

int hg_comm_available(void) { return 1; }

#define TAG_ARRIVED 7301
#define TAG_PING 7302
#define TAG_PONG 7303

static int launched_by_mpi(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE");
}

hg_status hg_comm_init(hg_comm *c) {
    memset(c, 0, sizeof *c);
    c->size = 1;
    c->timeout_s = HG_COMM_TIMEOUT_DEFAULT;
    if (!launched_by_mpi()) return hg_ok();
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return hg_error(HG_ERR_IO, "MPI_Init failed");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->active = 1;
    return hg_ok();
}

void hg_comm_finalize(hg_comm *c) {
    if (c && c->active) {
        MPI_Finalize();
        c->active = 0;
    }
}

void hg_comm_abort(const hg_comm *c, int code) {
    fflush(stdout);
    fflush(stderr);
    if (c && c->active) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static hg_status mpi_err(int rc, const char *what) {
    char s[MPI_MAX_ERROR_STRING];
    int n = 0;
    MPI_Error_string(rc, s, &n);
    s[n < MPI_MAX_ERROR_STRING ? n : MPI_MAX_ERROR_STRING - 1] = 0;
    return hg_error(HG_ERR_IO, HG_COMM_FATAL "%s: %s", what, s);
}

/* A rank other than 0 answers rank 0's "are you alive" (see finish). */
static void answer_ping(void) {
    int flag = 0, v;
    MPI_Iprobe(0, TAG_PING, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    if (!flag) return;
    MPI_Recv(&v, 1, MPI_INT, 0, TAG_PING, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Send(&v, 1, MPI_INT, 0, TAG_PONG, MPI_COMM_WORLD);
}

/* Polls req until done or the deadline; naps (up to 1 ms) once the wait
 * is longer than a millisecond, so waiting ranks leave the cores to the
 * ranks still computing. Ranks other than 0 answer pings meanwhile. */
static int poll_until(MPI_Request *req, double deadline, int *rc) {
    double t0 = now_s();
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    for (;;) {
        int done = 0;
        *rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (*rc != MPI_SUCCESS || done) return 1;
        if (rank != 0) answer_ping();
        double t = now_s();
        if (t > deadline) return 0;
        if (t - t0 > 1e-3) {
            struct timespec ts = {0, t - t0 > 0.1 ? 1000000 : 100000};
            nanosleep(&ts, NULL);
        }
    }
}

/* Every rank but 0 tells rank 0 it arrived at this collective; rank 0
 * waits for all of them until the timeout and names the missing ones. */
static hg_status arrive(const hg_comm *c, const char *what) {
    if (c->rank != 0) {
        int one = 1;
        int rc = MPI_Send(&one, 1, MPI_INT, 0, TAG_ARRIVED, MPI_COMM_WORLD);
        return rc == MPI_SUCCESS ? hg_ok() : mpi_err(rc, what);
    }
    int P = c->size;
    MPI_Request *rq = malloc(sizeof *rq * (size_t)P);
    int *tok = malloc(sizeof *tok * (size_t)P), *got = calloc((size_t)P, sizeof *got);
    if (!rq || !tok || !got) {
        free(rq), free(tok), free(got);
        return hg_error(HG_ERR_NOMEM, "%s", what);
    }
    hg_status s = hg_ok();
    for (int r = 1; r < P && s.code == HG_OK; r++) {
        int rc = MPI_Irecv(&tok[r], 1, MPI_INT, r, TAG_ARRIVED, MPI_COMM_WORLD, &rq[r]);
        if (rc != MPI_SUCCESS) s = mpi_err(rc, what);
    }
    double deadline = now_s() + c->timeout_s;
    int missing = 0;
    for (int r = 1; r < P && s.code == HG_OK; r++) {
        int rc;
        if (!poll_until(&rq[r], deadline, &rc)) missing++;
        else if (rc != MPI_SUCCESS) s = mpi_err(rc, what);
        else got[r] = 1;
    }
    if (s.code == HG_OK && missing) {
        char list[256] = "";
        size_t u = 0;
        for (int r = 1; r < P; r++)
            if (!got[r] && u + 16 < sizeof list) u += (size_t)snprintf(list + u, sizeof list - u, "%s%d", u ? ", " : "", r);
        s = hg_error(HG_ERR_IO, HG_COMM_FATAL "rank%s %s did not reach the %s within %g s (hung or dead)", missing > 1 ? "s" : "",
                     list, what, c->timeout_s);
    }
    free(rq), free(tok), free(got);
    return s;
}

/* Rank 0, a collective late although every rank arrived: pings every
 * rank (the live ones answer from their poll loop within a second) and
 * names the silent ones in buf. Returns their count. */
static int silent_ranks(const hg_comm *c, char *buf, size_t n) {
    int P = c->size, silent = 0;
    MPI_Request *rq = malloc(sizeof *rq * (size_t)P * 2);
    int *v = malloc(sizeof *v * (size_t)P * 2);
    size_t u = 0;
    buf[0] = 0;
    if (!rq || !v) {
        free(rq), free(v);
        return 0;
    }
    for (int r = 1; r < P; r++) {
        v[r] = r;
        MPI_Isend(&v[r], 1, MPI_INT, r, TAG_PING, MPI_COMM_WORLD, &rq[r]);
        MPI_Irecv(&v[P + r], 1, MPI_INT, r, TAG_PONG, MPI_COMM_WORLD, &rq[P + r]);
    }
    double deadline = now_s() + 1.0;
    for (int r = 1; r < P; r++) {
        int rc;
        if (!poll_until(&rq[P + r], deadline, &rc) && u + 16 < n) {
            u += (size_t)snprintf(buf + u, n - u, "%s%d", silent ? ", " : "", r);
            silent++;
        }
    }
    free(rq), free(v); /* the job ends next: pending requests are not waited for */
    return silent;
}

/* Waits for a collective; ranks other than 0 wait 1.5x the timeout, so
 * that rank 0 (which can ask who is silent) reports first. */
static hg_status finish(const hg_comm *c, MPI_Request *req, const char *what) {
    double t = c->rank == 0 ? c->timeout_s : 1.5 * c->timeout_s;
    int rc;
    if (!poll_until(req, now_s() + t, &rc)) {
        char who[256];
        int k = c->rank == 0 ? silent_ranks(c, who, sizeof who) : 0;
        if (k)
            return hg_error(HG_ERR_IO, HG_COMM_FATAL "rank%s %s did not complete the %s within %g s and %s not answer (hung or dead)",
                            k > 1 ? "s" : "", who, what, t, k > 1 ? "do" : "does");
        return hg_error(HG_ERR_IO, HG_COMM_FATAL "the %s did not complete within %g s: rank 0 or another rank is hung or dead",
                        what, t);
    }
    return rc == MPI_SUCCESS ? hg_ok() : mpi_err(rc, what);
}

static hg_status allreduce(const hg_comm *c, void *buf, int64_t n, MPI_Datatype t, MPI_Op op, const char *what) {
    if (!c || !c->active || c->size < 2) return hg_ok();
    if (n > 0x7fffffff) return hg_error(HG_ERR_INVALID, "%s: %lld values exceed one MPI message", what, (long long)n);
    HG_TRY(arrive(c, what));
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, t, op, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_err(rc, what);
    return finish(c, &req, what);
}

hg_status hg_comm_sum_f32(const hg_comm *c, float *buf, int64_t n, const char *what) {
    return allreduce(c, buf, n, MPI_FLOAT, MPI_SUM, what);
}
hg_status hg_comm_sum_f64(const hg_comm *c, double *buf, int64_t n, const char *what) {
    return allreduce(c, buf, n, MPI_DOUBLE, MPI_SUM, what);
}
hg_status hg_comm_max_i32(const hg_comm *c, int32_t *v, const char *what) {
    return allreduce(c, v, 1, MPI_INT32_T, MPI_MAX, what);
}

hg_status hg_comm_gather(const hg_comm *c, const void *mine, const int64_t *counts, void *all,
                         const char *what) {
    if (!c || !c->active || c->size < 2) {
        if (all != mine) memmove(all, mine, (size_t)counts[0]);
        return hg_ok();
    }
    int P = c->size;
    int *cnt = malloc(sizeof *cnt * (size_t)P * 2);
    if (!cnt) return hg_error(HG_ERR_NOMEM, "%s", what);
    int *disp = cnt + P;
    int64_t off = 0;
    for (int r = 0; r < P; r++) {
        if (counts[r] > 0x7fffffff || off > 0x7fffffff) {
            free(cnt);
            return hg_error(HG_ERR_INVALID, "%s: more than 2 GiB to gather", what);
        }
        cnt[r] = (int)counts[r];
        disp[r] = (int)off;
        off += counts[r];
    }
    hg_status s = arrive(c, what);
    if (s.code == HG_OK) {
        MPI_Request req;
        int rc = MPI_Igatherv(c->rank == 0 && mine == all ? MPI_IN_PLACE : mine, cnt[c->rank], MPI_BYTE, all, cnt, disp, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
        s = rc != MPI_SUCCESS ? mpi_err(rc, what) : finish(c, &req, what);
    }
    free(cnt);
    return s;
}

hg_status hg_comm_bcast(const hg_comm *c, void *buf, int64_t n, const char *what) {
    if (!c || !c->active || c->size < 2) return hg_ok();
    if (n > 0x7fffffff) return hg_error(HG_ERR_INVALID, "%s: more than 2 GiB to broadcast", what);
    HG_TRY(arrive(c, what));
    MPI_Request req;
    int rc = MPI_Ibcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_err(rc, what);
    return finish(c, &req, what);
}

#endif
